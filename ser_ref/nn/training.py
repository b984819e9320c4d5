"""Training choices shared by the four models: the configuration, the speaker splits, class
weights, feature standardisation, chunking, and the Adam loop with early stopping.
docs/training-choices.md gives the reason for every default."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence, Union

import numpy as np
from numba import njit

from .validation import NNInputError
from .optim import adam_init, adam_step, add_weight_decay, clip_grad_norm


@dataclass(frozen=True)
class TrainConfig:
    """Everything the paper leaves open. Defaults: see docs/training-choices.md.

    epochs            most passes over the training data (early stopping usually ends sooner)
    lr                Adam learning rate of the dense nets (Keras default)
    lstm_lr           Adam learning rate of the LSTM nets (None = lr): lower, because a relu LSTM's
                      forward pass explodes after too large a step (docs/training-choices.md)
    batch_size        utterances or chunks per step for the sequence nets and Dense2
    frame_batch_size  frames per step for the frame-level nets (Frame Dense, Dense1)
    weight_decay      L2 coefficient on weight matrices (not biases)
    clip_norm         global gradient-norm clip (a relu LSTM can explode); 0 = off
    patience          epochs without a better validation loss before stopping; 0 = no early stop
    val_fraction      share of the training speakers held out for early stopping; 0 = none
    class_weights     "balanced" (n / (K n_k)), None (all 1), or one weight per class
    max_frames        frames drawn at random per utterance per epoch for the frame-level nets
                      (None = all); also caps the frames per utterance used for validation
    max_len           longest sequence fed to the utterance LSTM (None = whole utterance);
                      longer ones are cropped at random in training and centrally in prediction
                      (a relu LSTM's state can grow without bound over long sequences)
    standardize       z-score every feature with the training frames' mean and std
    """
    epochs: int = 40
    lr: float = 1e-3
    lstm_lr: Optional[float] = 3e-4
    batch_size: int = 32
    frame_batch_size: int = 256
    weight_decay: float = 1e-4
    clip_norm: float = 5.0
    patience: int = 5
    val_fraction: float = 0.15
    class_weights: Union[str, None, Sequence[float]] = "balanced"
    max_frames: Optional[int] = 48
    max_len: Optional[int] = 100
    standardize: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "frame_batch_size"):
            if int(getattr(self, name)) < 1:
                raise NNInputError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 <= self.val_fraction < 1:
            raise NNInputError(f"TrainConfig.val_fraction must be in [0, 1), got {self.val_fraction!r}")
        for name in ("lr", "lstm_lr"):
            v = getattr(self, name)
            if (v is not None or name == "lr") and not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise NNInputError(f"TrainConfig.{name} must be a positive number, got {v!r}")
        for name in ("max_frames", "max_len"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                raise NNInputError(f"TrainConfig.{name} must be None or >= 1, got {v!r}")


DEFAULT = TrainConfig()
QUICK = TrainConfig(epochs=12, patience=3, max_frames=24, max_len=100)


def resolve_config(config) -> TrainConfig:
    """None -> DEFAULT, "quick" -> QUICK, a dict -> DEFAULT with those fields, a TrainConfig as is.

    Examples
    --------
    >>> resolve_config(None) is DEFAULT, resolve_config("quick").epochs, resolve_config({"lr": 0.01}).lr
    (True, 12, 0.01)
    """
    if config is None or config == "default":
        return DEFAULT
    if config == "quick":
        return QUICK
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        try:
            return replace(DEFAULT, **config)
        except TypeError as exc:
            raise NNInputError(f"config: {exc}") from exc
    raise NNInputError(f"config must be None, 'quick', a dict or a TrainConfig, got {type(config).__name__}")


# ---------------------------------------------------------------- splits
def split_by_speaker(y, groups, fraction, rng):
    """Indices (keep, held) with about ``fraction`` of the speakers in ``held``; whole speakers only.

    Without speakers (groups None) the split is stratified per class over utterances. Returns an
    empty ``held`` when fraction is 0 or there are too few speakers/utterances to spare one.

    Examples
    --------
    >>> y = np.zeros(8, int); groups = np.repeat(["a", "b", "c", "d"], 2)
    >>> keep, held = split_by_speaker(y, groups, 0.25, np.random.default_rng(0))
    >>> len(keep), len(held), len(set(groups[held])), bool(set(groups[held]).isdisjoint(groups[keep]))
    (6, 2, 1, True)
    """
    y = np.asarray(y)
    n = len(y)
    idx = np.arange(n)
    if fraction <= 0:
        return idx, idx[:0]
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise NNInputError(f"groups must hold one speaker per utterance ({n}), got shape {groups.shape}")
        speakers = np.unique(groups)
        if len(speakers) < 2:
            return idx, idx[:0]
        n_held = min(len(speakers) - 1, max(1, int(round(fraction * len(speakers)))))
        held_spk = rng.permutation(speakers)[:n_held]
        held = np.isin(groups, held_spk)
        return idx[~held], idx[held]
    held = np.zeros(n, dtype=bool)
    for c in np.unique(y):
        members = rng.permutation(idx[y == c])
        k = int(round(fraction * len(members)))
        held[members[:min(k, len(members) - 1)]] = True
    return idx[~held], idx[held]


def class_weight_vector(y, n_classes, spec):
    """Per-class loss weights: "balanced" n / (K n_k) (0 for an absent class), None all ones, or given.

    Examples
    --------
    >>> class_weight_vector(np.array([0, 0, 0, 1]), 3, "balanced")     # n / (K n_k); 0 for an absent class
    array([0.44444444, 1.33333333, 0.        ])
    """
    if spec is None:
        return np.ones(n_classes)
    if isinstance(spec, str):
        if spec != "balanced":
            raise NNInputError(f"class_weights must be 'balanced', None or {n_classes} numbers, got {spec!r}")
        counts = np.bincount(y, minlength=n_classes).astype(float)
        return np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    w = np.asarray(spec, dtype=float)
    if w.shape != (n_classes,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise NNInputError(f"class_weights must be {n_classes} non-negative numbers, got {spec!r}")
    return w


# ---------------------------------------------------------------- features
def standardizer(feats):
    """(mean, std) over all frames of ``feats``, sums in float64; a constant feature gets std 1.

    Examples
    --------
    >>> mu, sd = standardizer([np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 5.0]])])
    >>> mu, np.round(sd, 6)                # a constant feature gets std 1
    (array([2., 5.], dtype=float32), array([1.632993, 1.      ], dtype=float32))
    """
    n = sum(f.shape[0] for f in feats)
    mu = sum(f.sum(axis=0, dtype=np.float64) for f in feats) / n
    # centred before squaring (no cancellation), one float32 pass per utterance,
    # summed across utterances in float64
    m32 = mu.astype(np.float32)
    ss = sum(np.square(f - m32).sum(axis=0, dtype=np.float64) for f in feats)
    sd = np.sqrt(ss / n)
    sd[sd < 1e-6] = 1.0
    return mu.astype(np.float32), sd.astype(np.float32)


def standardize_inplace(X, mu, sd):
    """X = (X - mu) / sd over the last axis, in place; returns X.

    One compiled pass for C-contiguous NumPy arrays of mu's dtype, rounding exactly as the two array
    operations ``X -= mu; X /= sd`` (which every other array takes, CuPy's included): the bits are the
    same either way. Why: a batch of the utterance LSTM is 26 MB, and the two operations are memory-
    bound passes that cost as much as a third of the batch's input product.

    Examples
    --------
    >>> X = np.array([[1.0, 4.0], [3.0, 8.0]], dtype=np.float32)
    >>> standardize_inplace(X, np.float32([2, 6]), np.float32([1, 2]))
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    """
    if (isinstance(X, np.ndarray) and X.ndim >= 1 and X.flags.c_contiguous and X.dtype == mu.dtype == sd.dtype
            and X.dtype in (np.float32, np.float64) and mu.shape == sd.shape == X.shape[-1:]):
        _standardize_rows(X.reshape(-1, X.shape[-1]), mu, sd)
    else:
        X -= mu
        X /= sd
    return X


@njit(cache=True, error_model="numpy")  # IEEE division, so the inner loop vectorises
def _standardize_rows(X, mu, sd):
    for t in range(X.shape[0]):
        for d in range(X.shape[1]):
            X[t, d] = (X[t, d] - mu[d]) / sd[d]


def chunk_sequence(p, chunk_len):
    """Cut a (T, K) sequence into (n_chunks, chunk_len, K) non-overlapping chunks.

    Chunks start at 0, L, 2L, ...; when L does not divide T the last chunk is the final L frames
    (overlapping the one before) so no frame is dropped; a sequence shorter than L is padded by
    repeating its last frame.

    Examples
    --------
    >>> chunk_sequence(np.arange(5.0)[:, None], 2)[:, :, 0]     # the last chunk overlaps: no frame dropped
    array([[0., 1.],
           [2., 3.],
           [3., 4.]])
    """
    T = p.shape[0]
    L = int(chunk_len)
    if T < L:
        p = np.concatenate([p, np.repeat(p[-1:], L - T, axis=0)], axis=0)
        T = L
    starts = list(range(0, T - L + 1, L))
    if starts[-1] + L < T:
        starts.append(T - L)
    return np.stack([p[s:s + L] for s in starts])


# ---------------------------------------------------------------- loop
def fit_adam(params: dict, epoch_batches: Callable, loss_grads: Callable, val_loss: Optional[Callable],
             cfg: TrainConfig, rng) -> tuple[dict, list]:
    """Adam over the batches of each epoch; returns (the parameters of the best validation epoch, history).

    Per step: g = dL/dp (+ L2 decay), clipped to cfg.clip_norm, then Adam. After each epoch the
    validation loss decides early stopping: ``patience`` epochs without improvement end training
    and the best epoch's parameters are kept. Without validation the last parameters are kept.
    A non-finite loss also ends training (the best parameters so far are returned).

    Examples
    --------
    >>> from ser_ref.nn.nets import mlp_init, mlp_loss_grads
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 2)).astype(np.float32); y = (x[:, 0] > 0).astype(int)
    >>> cfg = TrainConfig(epochs=30, patience=0, weight_decay=0.0, lr=0.05)
    >>> params, history = fit_adam(mlp_init(rng, [2, 2]), lambda r: [(x, y)], lambda p, b: mlp_loss_grads(p, *b), None, cfg, rng)
    >>> len(history), history[-1]["train_loss"] < history[0]["train_loss"] / 2
    (30, True)
    """
    state = adam_init(params)
    best, best_val, bad, history = None, math.inf, 0, []
    for epoch in range(cfg.epochs):
        losses = []
        for batch in epoch_batches(rng):
            loss, grads = loss_grads(params, batch)
            loss = float(loss)
            if not math.isfinite(loss):
                history.append({"epoch": epoch, "train_loss": loss, "stopped": "non-finite loss"})
                return (best if best is not None else params), history
            losses.append(loss)
            add_weight_decay(grads, params, cfg.weight_decay)
            clip_grad_norm(grads, cfg.clip_norm)
            adam_step(params, grads, state, cfg.lr)
        rec = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else math.nan}
        if val_loss is not None:
            v = float(val_loss(params))
            rec["val_loss"] = v
            if v < best_val:
                best_val, best, bad = v, {k: a.copy() for k, a in params.items()}, 0
            else:
                bad += 1
        history.append(rec)
        if val_loss is not None and cfg.patience and bad >= cfg.patience:
            break
    return (best if best is not None else params), history
