"""The one place that chooses between a CPU function and the GPU kernel that mirrors it.

Every op that ``ser_ref.gpu`` mirrors is one row of ``mirrors()``: the CPU function (the reference's
fast path, in the math modules) and the GPU kernel that compute it, with the same arguments.

    op                               CPU                                         GPU (ser_ref.gpu)
    mfcc                             frontend.tf_mfcc.mfcc                       tf_mfcc.mfcc
    layer1                           deepspeech.layer1.Layer1.__call__           layer1.apply_layer1
    deepspeech_features_batch        deepspeech.layer_features (one at a time)   layer1.deepspeech_features_batch
    lstm_forward, lstm_backward      nn.lstm                                     lstm
    softmax_cross_entropy_forward,   nn.softmax_ce                               softmax_ce
      softmax_cross_entropy_backward
    forest_predict_proba             forest.cart.predict_proba                   random_forest.predict_proba

A call goes to the GPU when its arrays are CuPy arrays (``runtime.backend.array_module``) or, for an
op that starts from host data, when its ``device`` is "gpu" (``runtime.backend.get_xp``, which
checks the name and that a GPU answers). The math modules import nothing of ``gpu/``, the ``gpu``
modules import their references, and this module, above both, is the only one that imports both;
the estimators and the feature step call it. The table is built at its first use, so importing
this module (every estimator does) loads no kernel module and no stage it does not need.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .runtime import backend


@lru_cache(maxsize=None)
def mirrors() -> dict:
    """{op: (CPU function, GPU kernel)}: the table of the module docstring.

    >>> cpu, gpu = mirrors()["lstm_forward"]
    >>> cpu.__module__, gpu.__module__
    ('ser_ref.nn.lstm', 'ser_ref.gpu.lstm')
    """
    from .deepspeech import layer_features
    from .deepspeech.layer1 import Layer1
    from .forest import cart
    from .frontend import tf_mfcc
    from .gpu import layer1 as gpu_layer1
    from .gpu import lstm as gpu_lstm
    from .gpu import random_forest as gpu_forest
    from .gpu import softmax_ce as gpu_softmax_ce
    from .gpu import tf_mfcc as gpu_tf_mfcc
    from .nn import lstm, softmax_ce

    return {
        "mfcc": (tf_mfcc.mfcc, gpu_tf_mfcc.mfcc),
        "layer1": (Layer1.__call__, gpu_layer1.apply_layer1),
        "deepspeech_features_batch": (layer_features.deepspeech_features_batch,
                                      gpu_layer1.deepspeech_features_batch),
        "lstm_forward": (lstm.lstm_forward, gpu_lstm.lstm_forward),
        "lstm_backward": (lstm.lstm_backward, gpu_lstm.lstm_backward),
        "softmax_cross_entropy_forward": (softmax_ce.softmax_cross_entropy_forward,
                                          gpu_softmax_ce.softmax_cross_entropy_forward),
        "softmax_cross_entropy_backward": (softmax_ce.softmax_cross_entropy_backward,
                                           gpu_softmax_ce.softmax_cross_entropy_backward),
        "forest_predict_proba": (cart.predict_proba, gpu_forest.predict_proba),
    }


def for_arrays(op: str, *arrays):
    """The function that computes ``op`` where ``arrays`` live: the CPU one for NumPy, the kernel for CuPy.

    >>> for_arrays("mfcc", np.zeros(512, np.float32)).__module__
    'ser_ref.frontend.tf_mfcc'
    """
    return mirrors()[op][backend.array_module(*arrays) is not np]


def for_device(op: str, device: str):
    """The function that computes ``op`` on ``device`` ("cpu" or "gpu"; anything else is a BackendError).

    >>> for_device("forest_predict_proba", "cpu").__module__
    'ser_ref.forest.cart'
    >>> for_device("forest_predict_proba", "cuda")
    Traceback (most recent call last):
    ...
    ser_ref.errors.BackendError: device must be one of ('cpu', 'gpu'), got 'cuda'
    """
    return mirrors()[op][backend.get_xp(device) is not np]


def mfcc(signal, sample_rate: int = 16000, **options):
    """``frontend.tf_mfcc.mfcc`` of a NumPy signal, ``gpu.tf_mfcc.mfcc`` of a CuPy one (same options).

    >>> mfcc(np.random.default_rng(0).normal(size=16000).astype(np.float32)).shape
    (49, 26)
    """
    return for_arrays("mfcc", signal)(signal, sample_rate, **options)


def layer1(layer, windows, mode: str = "float"):
    """``layer(windows, mode)`` for NumPy windows; the GEMM + fused epilogue of ``gpu.layer1`` for CuPy ones.

    >>> from ser_ref.deepspeech import Layer1
    >>> layer = Layer1(np.ones((494, 3), np.int8), 0.01, np.zeros(3, np.float32))
    >>> layer1(layer, np.ones((2, 494), np.float32))
    array([[4.94, 4.94, 4.94],
           [4.94, 4.94, 4.94]], dtype=float32)
    """
    return for_arrays("layer1", windows)(layer, windows, mode)


def deepspeech_features_batch(signals, layer, *, step_ms: float = 20, mode: str = "float", device: str = "cpu"):
    """Layer-1 features (a list of (frames_i, H) NumPy arrays) of many host signals, computed on ``device``:
    one utterance at a time on the CPU, one transfer and one batched MFCC + layer-1 pass per call on the GPU.

    >>> from ser_ref.deepspeech import Layer1
    >>> layer = Layer1(np.ones((494, 3), np.int8), 0.01, np.zeros(3, np.float32))
    >>> x = np.random.default_rng(0).normal(size=8000).astype(np.float32)
    >>> [h.shape for h in deepspeech_features_batch([x], layer)]
    [(24, 3)]
    """
    return for_device("deepspeech_features_batch", device)(signals, layer, step_ms=step_ms, mode=mode)


def lstm_forward(x, W, U, b, activation="tanh", mask=None):
    """``nn.lstm.lstm_forward`` (compiled loop) for NumPy x, the fused cell kernels of ``gpu.lstm`` for CuPy.

    >>> h, cache = lstm_forward(np.ones((1, 2, 3)), np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8))
    >>> h.shape
    (1, 2, 2)
    """
    return for_arrays("lstm_forward", x)(x, W, U, b, activation, mask)


def lstm_backward(dh, cache, need_dx: bool = True):
    """``nn.lstm.lstm_backward`` for NumPy dh, ``gpu.lstm.lstm_backward`` for CuPy (any forward's cache).

    >>> h, cache = lstm_forward(np.ones((1, 2, 3)), np.zeros((3, 8)), np.zeros((2, 8)), np.zeros(8))
    >>> [g.shape for g in lstm_backward(np.ones_like(h), cache)]
    [(1, 2, 3), (3, 8), (2, 8), (8,)]
    """
    return for_arrays("lstm_backward", dh)(dh, cache, need_dx)


def softmax_cross_entropy_forward(z, y, w=None):
    """``nn.softmax_ce.softmax_cross_entropy_forward`` for NumPy logits, the fused kernel for CuPy ones.

    >>> loss, cache = softmax_cross_entropy_forward(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(float(loss), 6) == round(float(np.log(4)), 6)
    True
    """
    return for_arrays("softmax_cross_entropy_forward", z)(z, y, w)


def softmax_cross_entropy_backward(cache, dloss=1.0):
    """``nn.softmax_ce.softmax_cross_entropy_backward`` where the forward's cache lives.

    >>> _, cache = softmax_cross_entropy_forward(np.zeros((1, 4)), np.array([2]))
    >>> softmax_cross_entropy_backward(cache)
    array([[ 0.25,  0.25, -0.75,  0.25]])
    """
    return for_arrays("softmax_cross_entropy_backward", cache[0])(cache, dloss)


def forest_predict_proba(X, roots, feature, threshold, left, right, value, *, device: str = "cpu"):
    """P(c | x) of the flat trees (``forest.cart.Trees``) on ``device``: Numba on the CPU, one CUDA
    thread per sample on the GPU (a CuPy array then; the trees and X may be NumPy or CuPy).

    >>> from ser_ref.forest import cart
    >>> X = np.array([[0.0], [1.0]], np.float32)
    >>> trees = cart.grow_forest(X, np.array([0, 1]), 2, np.arange(1, dtype=np.uint64), bootstrap=False)
    >>> forest_predict_proba(X, *trees)
    array([[1., 0.],
           [0., 1.]])
    """
    return for_device("forest_predict_proba", device)(X, roots, feature, threshold, left, right, value)
