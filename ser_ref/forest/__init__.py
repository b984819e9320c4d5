"""The paper's baseline classifier: a random forest of CART trees, with its RNG, sort and threads."""
