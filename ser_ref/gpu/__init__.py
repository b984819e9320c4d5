"""GPU fast paths (CuPy + hand-written CUDA kernels) for the hot stages of ser_ref.

One module per kernel family; each kernel's CUDA source sits beside the docstring with its
equation, and its NumPy reference is the CPU module named in that docstring (the fast path is an
optimisation of the reference, never a second truth: tests/test_gpu_*.py compare them).

    ser_ref.gpu.tf_mfcc        mfcc(signal, ...), mfcc_batch(signals, ...)       <- ser_ref.frontend.tf_mfcc
    ser_ref.gpu.layer1         context_windows, layer1_forward, layer1_batch,     <- ser_ref.deepspeech
                               apply_layer1, deepspeech_features_batch
    ser_ref.gpu.lstm           lstm_forward, lstm_backward (fused cell kernels)   <- ser_ref.nn.lstm
    ser_ref.gpu.softmax_ce     fused softmax cross-entropy forward/backward      <- ser_ref.nn.softmax_ce
    ser_ref.gpu.random_forest  predict_proba on flat tree arrays                 <- ser_ref.forest.cart

These modules import their references and ``_cuda``; nothing outside ``gpu/`` imports them but
``ser_ref.dispatch``, which picks the CPU function or the kernel for each call (and tests and bench).
Everything here imports without CuPy; CuPy is imported (through ser_ref.runtime.backend) only when a
kernel is first launched, and a missing CuPy or GPU gives a BackendError.
"""


def ALL_SOURCES():
    """Every kernel source, instantiated for each float type it supports: [(name, code)].

    >>> sorted({name.split(".")[0] for name, _ in ALL_SOURCES()})
    ['forest', 'layer1', 'lstm', 'softmax_ce', 'tf_mfcc']
    """
    from . import layer1, lstm, random_forest, softmax_ce, tf_mfcc

    out = []
    for mod in (tf_mfcc, layer1, lstm, softmax_ce, random_forest):
        out.extend(mod.cuda_sources())
    return out
