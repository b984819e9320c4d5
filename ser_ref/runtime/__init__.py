"""The machine under the math: the array backend (CPU or GPU) and BLAS thread control."""
