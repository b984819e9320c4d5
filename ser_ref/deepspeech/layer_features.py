"""signal -> MFCC -> context windows -> layer 1: the paper's 2048 DeepSpeech features per frame;
and any of layers 1-5 of the whole model (``layer_features``); cached per layer by the "deepspeech" feature
kind (``ser_ref.evaluation.feature_kinds``), which this package does not import."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..frontend.tf_mfcc import mfcc
from .layer1 import Layer1
from .windows import context_windows


def deepspeech_features(signal, layer: Layer1 | None = None, *, sample_rate: int = 16000,
                        step_ms: float = 20, mode: str = "float"):
    """h_t = min(relu(window_t(mfcc(signal)) @ W1 + b1), 20) -> (frames, 2048) float32.

    The MFCC use the model's 32 ms window; ``step_ms`` 20 is the model's frame rate, 10 the paper's.
    ``layer`` defaults to ``load_layer1()`` (cached after the first call).

    Examples
    --------
    >>> from ser_ref.deepspeech import Layer1
    >>> rng = np.random.default_rng(0)
    >>> layer = Layer1(rng.integers(-127, 128, (494, 8), dtype=np.int8), 0.01, np.zeros(8, np.float32))
    >>> h = deepspeech_features(rng.normal(size=16000).astype(np.float32), layer)
    >>> h.shape, float(h.min()) >= 0, float(h.max()) <= 20
    ((49, 8), True, True)
    """
    if layer is None:
        from .load import load_layer1

        layer = load_layer1()
    win_ms = layer.metadata.get("win_len_ms", 32)
    return layer(context_windows(mfcc(signal, sample_rate, win_ms=win_ms, step_ms=step_ms)), mode=mode)


def deepspeech_features_batch(signals, layer: Layer1, *, step_ms: float = 20, mode: str = "float") -> list:
    """``deepspeech_features`` of many signals -> list of (frames_i, H) float32 NumPy arrays, one at a time.

    ``ser_ref.dispatch.deepspeech_features_batch(..., device="gpu")`` computes the same on the GPU,
    the whole batch at once (``gpu/layer1.py``).

    Examples
    --------
    >>> from ser_ref.deepspeech import Layer1
    >>> rng = np.random.default_rng(0)
    >>> layer = Layer1(rng.integers(-127, 128, (494, 8), dtype=np.int8), 0.01, np.zeros(8, np.float32))
    >>> xs = [rng.normal(size=n).astype(np.float32) for n in (8000, 16000)]
    >>> [h.shape for h in deepspeech_features_batch(xs, layer)]
    [(24, 8), (49, 8)]
    """
    return [deepspeech_features(x, layer, step_ms=step_ms, mode=mode) for x in signals]


LAYER_KINDS = ("layer1", "layer2", "layer3", "layer4", "layer5")


@lru_cache(maxsize=2)
def _model(weights_path: str):
    from .model import DeepSpeech

    return DeepSpeech.from_weights(weights_path)


# frames per pass through the whole model: a multiple of layer 1's 1024-row GEMM blocks and of the
# LSTM's 16-step blocks, so a long utterance in passes gives the bits of one pass
STREAM_FRAMES = 1024


def layer_features(signal, params: dict, layers=LAYER_KINDS, *, block: int | None = STREAM_FRAMES) -> dict:
    """{layer: (frames, 2048)} of the whole model on one signal, one forward pass for all of them.

    ``params``: "weights" (an exported .npz), "step_ms", "mode" (see ``DeepSpeech.forward``). The
    windows go through in passes of ``block`` frames, the LSTM's state carried from one to the next,
    so memory holds one pass's five layers besides the layers asked for (None: one pass).
    """
    model = _model(str(params["weights"]))
    win_ms = model.metadata["win_len_ms"]
    w = context_windows(mfcc(signal, 16000, win_ms=win_ms, step_ms=params["step_ms"]))
    if block is not None and block % 1024:
        raise ValueError(f"layer_features: block must be a multiple of 1024 frames, got {block}")
    out, state, step = {}, None, block or len(w)
    for i in range(0, len(w), step):
        part = model.forward(w[i:i + step], mode=params["mode"], state=state, layers=tuple(layers))
        state = part["state"]
        for k in layers:
            if k not in out:
                out[k] = np.empty((len(w), part[k].shape[1]), dtype=part[k].dtype)
            out[k][i:i + step] = part[k]
    return out


def layer_features_batch(signals, params: dict, layers=LAYER_KINDS) -> list[dict]:
    """``layer_features`` of many signals: one {layer: (frames_i, 2048)} per signal, the same arrays.

    In mode "tflite-int8", whose products are exact integer sums (a frame's values do not depend on
    the other rows of a product), signals of at most STREAM_FRAMES frames go through
    ``DeepSpeech.forward_batch`` together, so that each LSTM step reads W4 once for all of them
    instead of once per signal (12 RAVDESS files: 2.9x fewer CPU-seconds). Longer signals
    (streamed, to bound memory) and mode "float" (whose float32 products would see other rows) go
    through ``layer_features`` one at a time.

    >>> layer_features_batch([], {"weights": "w.npz", "step_ms": 20, "mode": "tflite-int8"})
    []
    """
    out: list = [None] * len(signals)
    if signals and params["mode"] == "tflite-int8":
        model = _model(str(params["weights"]))
        win_ms = model.metadata["win_len_ms"]
        wins = {i: context_windows(mfcc(s, 16000, win_ms=win_ms, step_ms=params["step_ms"]))
                for i, s in enumerate(signals)}
        short = [i for i, w in wins.items() if 0 < len(w) <= STREAM_FRAMES]
        for i, d in zip(short, model.forward_batch([wins[i] for i in short], params["mode"],
                                                   batch_size=max(1, len(short)), layers=tuple(layers))):
            out[i] = {k: d[k] for k in layers}
    return [o if o is not None else layer_features(s, params, layers) for o, s in zip(out, signals)]
