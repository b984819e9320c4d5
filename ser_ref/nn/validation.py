"""Input validation shared by the nn modules: bad shapes and labels fail early, by name."""
from __future__ import annotations

import numpy as np

from ..errors import SerRefError


class NNInputError(SerRefError, ValueError):
    """Arrays handed to a layer or model that have the wrong shape, dtype, or values."""


def check_ndim(a, ndim: int, name: str):
    if getattr(a, "ndim", None) != ndim:
        raise NNInputError(f"{name} must be a {ndim}-d array, got shape {getattr(a, 'shape', type(a))}")


def check_features(feats, name: str = "feats") -> int:
    """A non-empty list of (T_i, D) finite float arrays with T_i >= 1 and a common D; returns D.

    Examples
    --------
    >>> check_features([np.zeros((3, 5)), np.zeros((7, 5))])
    5
    >>> check_features([np.zeros((3, 5)), np.zeros((7, 4))])
    Traceback (most recent call last):
    ...
    ser_ref.nn.validation.NNInputError: feats[1] has 4 features, feats[0] has 5
    """
    if not isinstance(feats, (list, tuple)) or len(feats) == 0:
        raise NNInputError(f"{name} must be a non-empty list of (T_i, D) arrays, got {type(feats).__name__}")
    dim = None
    for i, f in enumerate(feats):
        if getattr(f, "ndim", None) != 2:
            raise NNInputError(f"{name}[{i}] must be a 2-d (T, D) array, got shape {getattr(f, 'shape', None)}")
        if f.shape[0] < 1:
            raise NNInputError(f"{name}[{i}] has no frames (shape {f.shape})")
        if dim is None:
            dim = f.shape[1]
        elif f.shape[1] != dim:
            raise NNInputError(f"{name}[{i}] has {f.shape[1]} features, {name}[0] has {dim}")
        if not np.all(np.isfinite(f)):
            raise NNInputError(f"{name}[{i}] holds NaN or inf")
    return dim


def check_labels(y, n: int, n_classes: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise NNInputError(f"{name} must be a 1-d array of {n} labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise NNInputError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise NNInputError(f"{name} must lie in [0, {n_classes}), got values {y.min()}..{y.max()}")
    return y.astype(np.int64)


def check_lstm_args(x, W, U, b, mask):
    """x (B, T, n_in), W (n_in, 4H), U (H, 4H), b (4H,), mask None or (B, T); returns (B, T, n_in, H).

    Examples
    --------
    >>> check_lstm_args(np.zeros((2, 5, 3)), np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8), None)
    (2, 5, 3, 2)
    """
    check_ndim(x, 3, "x")
    B, T, n_in = x.shape
    H = U.shape[0]
    if W.shape != (n_in, 4 * H) or U.shape != (H, 4 * H) or b.shape != (4 * H,):
        raise NNInputError(f"lstm: x {x.shape}, W {W.shape}, U {U.shape}, b {b.shape} do not fit "
                           f"W (n_in, 4H), U (H, 4H), b (4H,)")
    if mask is not None and mask.shape != (B, T):
        raise NNInputError(f"lstm: mask {mask.shape} must be (batch, T) = {(B, T)}")
    return B, T, n_in, H
