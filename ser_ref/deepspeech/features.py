"""signal -> MFCC -> context windows -> layer 1: the paper's 2048 DeepSpeech features per frame."""
from __future__ import annotations

from ..mfcc import mfcc
from .layer1 import Layer1
from .windows import context_windows


def deepspeech_features(signal, layer: Layer1 | None = None, *, sample_rate: int = 16000,
                        step_ms: float = 20, mode: str = "float"):
    """h_t = min(relu(window_t(mfcc(signal)) @ W1 + b1), 20) -> (frames, 2048) float32.

    The MFCC use the model's 32 ms window; ``step_ms`` 20 is the model's frame rate, 10 the paper's.
    ``layer`` defaults to ``load_layer1()`` (cached after the first call).
    """
    if layer is None:
        from .load import load_layer1

        layer = load_layer1()
    win_ms = layer.metadata.get("win_len_ms", 32)
    return layer(context_windows(mfcc(signal, sample_rate, win_ms=win_ms, step_ms=step_ms)), mode=mode)
