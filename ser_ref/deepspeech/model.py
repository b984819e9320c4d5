"""The whole DeepSpeech acoustic model: windows -> layers 1-6 -> per-frame character probabilities.

    h1 = min(relu(x  @ W1 + b1), 20)          x a 494-value context window (``windows.py``)
    h2 = min(relu(h1 @ W2 + b2), 20)
    h3 = min(relu(h2 @ W3 + b3), 20)
    h4 = LSTM(h3)                             2048 cells (``lstm.py``)
    h5 = min(relu(h4 @ W5 + b5), 20)
    probs = softmax(h5 @ W6 + b6)             len(alphabet) + 1 classes, the blank last
Modes "float" (dequantised weights, float32) and "tflite-int8" (the interpreter's hybrid kernels,
``layer1.py`` / ``tflite_math.py``). Layers 1-3 and 5 go through layer 1's public kernels.

Streaming. The runtime (DeepSpeech's native client) feeds ``n_steps`` = 16 windows per call and
carries (c, h) from ``new_state_*`` to the next call's ``previous_state_*``. Dense layers work
row by row and the LSTM's carried state is exactly its recurrence, so the calls change nothing:
running a whole utterance at once is the same computation. The last call holds fewer than 16 real
windows; the runtime copies only those into ``input_node`` (the other rows keep whatever the
previous call left there) and reads back only their rows of ``logits``. Padding rows come after
the real ones and every layer is causal or row-wise, so they cannot reach a real frame; here they
are simply not computed. ``"state"`` is (c, h) after the last real frame (the runtime's
``new_state_*`` after a partial call has also run over the padding rows; nothing reads it then).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import WeightsError
from ..files.hashing import file_sha256 as sha256_file
from .ctc import greedy_decode
from .integrity import verify_arrays
from .layer1 import MODES, Layer1, ModeError, augment_bias, dense_int8_tflite_fast, dense_relu_clip_fast
from .tflite_lstm import LSTMWeights, lstm_float, lstm_tflite_int8
from .tflite_math import EXACT_F32_INT, hybrid_fc, softmax_rows

f32 = np.float32
LAYERS = ("layer1", "layer2", "layer3", "layer4", "layer5")
REQUIRED_KEYS = tuple(f"{p}{k}" for k in range(1, 7) for p in ("W", "b") if not (p == "W" and k > 1)) + tuple(
    f"W{k}_{s}" for k in range(1, 7) for s in ("q", "scale")) + (
    "clip", "lstm_gates", "n_steps", "sample_rate", "win_len_ms", "win_step_ms", "alphabet", "source_sha256")


def _dense_int8_exact(x, Wf, w_scale, b, clip, w_max):
    """Layer 1's hybrid kernel (``dense_int8_tflite_fast``) where its float32 GEMM is provably
    exact (sum_j |q_j| max|W| <= 2^24, from q_j <= 127 |x_j| / m + 1/2), the exact sum elsewhere."""
    x = np.ascontiguousarray(x, dtype=f32)
    if x.shape[0] == 0:
        return np.zeros((0, Wf.shape[1]), f32)
    ax = np.abs(x)
    m = ax.max(axis=1)
    bound = (127 * ax.sum(axis=1, dtype=np.float64) / np.where(m == 0, 1, m) * (1 + 1e-6) + x.shape[1] / 2) * w_max
    risky = bound > EXACT_F32_INT
    out = dense_int8_tflite_fast(x, Wf, w_scale, b, clip)
    if risky.any():
        out[risky] = np.clip(hybrid_fc(x[risky], Wf, w_scale, b, w_max), 0, f32(clip))
    return out


class DeepSpeech:
    """A DeepSpeech 0.9.x / Coqui STT acoustic model: ``W1``...``W6`` float32 [in, out], ``b1``...``b6``.

    ``forward(windows, mode)`` -> {"layer1".."layer5": (frames, 2048), "probs", "state": (c, h)};
    ``transcribe(signal)`` -> greedy CTC text.
    """

    def __init__(self, arrays: dict, source: str = "<arrays>"):
        self.source = source
        self.layer1 = Layer1(arrays["W1_q"], float(arrays["W1_scale"]), arrays["b1"], clip=float(arrays["clip"]),
                             source=source, metadata=self._metadata(arrays))
        self.metadata = self.layer1.metadata
        self.alphabet = self.metadata["alphabet"]
        self.clip = self.layer1.clip
        self.n_steps = int(arrays["n_steps"])
        if not (np.isfinite(self.clip) and self.clip > 0) or self.metadata["sample_rate"] != 16000:
            raise WeightsError(f"{source}: clip {self.clip} must be finite and > 0 and the sample rate 16000 Hz "
                               f"(the MFCC's), got {self.metadata['sample_rate']}")
        H = self.layer1.hidden
        self.W_q, self.w_scale, self.w_max = {}, {}, {}
        for k in range(1, 7):
            self.W_q[k] = np.asarray(arrays[f"W{k}_q"])
            self.w_scale[k] = f32(arrays[f"W{k}_scale"])
            self.w_max[k] = int(np.abs(self.W_q[k]).max())
            b = np.asarray(arrays[f"b{k}"], dtype=f32)
            if self.W_q[k].dtype != np.int8 or b.shape != (self.W_q[k].shape[1],):
                raise WeightsError(f"{source}: layer {k} needs int8 weights [in, out] and a bias [out], got "
                                   f"{self.W_q[k].dtype} {self.W_q[k].shape} and {b.shape}")
            if not (np.isfinite(self.w_scale[k]) and self.w_scale[k] > 0) or not np.all(np.isfinite(b)):
                raise WeightsError(f"{source}: layer {k} has a non-finite or non-positive scale / bias")
            setattr(self, f"b{k}", b)
            if k != 4:
                setattr(self, f"W{k}", self.layer1.W if k == 1 else self.W_q[k].astype(f32) * self.w_scale[k])
        if self.W_q[4].shape != (2 * H, 4 * H) or self.W_q[6].shape != (H, len(self.alphabet) + 1):
            raise WeightsError(f"{source}: layer 4 weights {self.W_q[4].shape} / layer 6 {self.W_q[6].shape} do "
                               f"not fit {H} cells and {len(self.alphabet)} labels")
        self.lstm = LSTMWeights(self.W_q[4], self.w_scale[4], self.b4, [str(g) for g in arrays["lstm_gates"]])
        self.W4 = self.lstm.W  # one 128 MiB copy, shared
        self._Wq_f = {k: self.W_q[k].astype(f32) for k in (2, 3, 5, 6)}
        self._Wb = {k: augment_bias(getattr(self, f"W{k}"), getattr(self, f"b{k}")) for k in (2, 3, 5)}

    @staticmethod
    def _metadata(d) -> dict:
        return {"sample_rate": int(d["sample_rate"]), "win_len_ms": int(d["win_len_ms"]),
                "win_step_ms": int(d["win_step_ms"]), "alphabet": [str(a) for a in d["alphabet"]],
                "source_sha256": str(d["source_sha256"])}

    @classmethod
    def from_model(cls, path) -> "DeepSpeech":
        """Read every layer straight from a DeepSpeech .tflite file (nothing written to disk).

        >>> from ser_ref.files import locations
        >>> p = locations.shared_model_path()
        >>> p is None or len(DeepSpeech.from_model(p).alphabet) + 1 == DeepSpeech.from_model(p).W6.shape[1]
        True
        """
        from .npz_export import export_arrays

        return cls(export_arrays(path), str(path))

    @classmethod
    def from_weights(cls, path) -> "DeepSpeech":
        """Load an .npz written by ``export_model``; its integrity hash is verified (WeightsError)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in REQUIRED_KEYS if k not in z.files]
                if missing:
                    raise WeightsError(f"{path}: not a ser_ref DeepSpeech weight file (missing {missing}; "
                                       f"files from before format 2 hold layer 1-3, 5 only: export again)")
                verify_arrays(z, path)
                d = {k: z[k] for k in z.files}
        except WeightsError:
            raise
        except Exception as exc:  # BadZipFile, EOFError, OSError, ValueError from a bad file
            raise WeightsError(f"{path}: corrupt or unreadable weight file ({type(exc).__name__}: {exc})") from exc
        model = cls(d, str(path))
        model.metadata["file_sha256"] = sha256_file(path)  # the bytes loaded: what caches key on
        return model

    # ---------- the layers ----------

    def _dense(self, k: int, x, mode: str):
        if mode == "float":
            return dense_relu_clip_fast(np.ascontiguousarray(x, dtype=f32), self._Wb[k], self.clip)
        return _dense_int8_exact(x, self._Wq_f[k], self.w_scale[k], getattr(self, f"b{k}"), self.clip, self.w_max[k])

    def _logits(self, h5, mode: str):
        if mode == "float":
            return h5 @ self.W6 + self.b6
        return hybrid_fc(h5, self._Wq_f[6], self.w_scale[6], self.b6, self.w_max[6])

    def _group(self, windows: list, mode: str, state, keep) -> list:
        """One group of utterances, longest first, through every layer."""
        n = [len(w) for w in windows]
        bounds = np.cumsum([0] + n)
        X = np.concatenate([np.asarray(w, dtype=f32) for w in windows])
        h1 = self.layer1(X, mode=mode)
        h2 = self._dense(2, h1, mode)
        h3 = self._dense(3, h2, mode)
        seqs = [h3[bounds[i]:bounds[i + 1]] for i in range(len(n))]
        run = lstm_float if mode == "float" else lstm_tflite_int8
        hs, (c, h) = run(seqs, self.lstm, state)
        h4 = np.concatenate([hs[:n[i], i] for i in range(len(n))])
        h5 = self._dense(5, h4, mode)
        probs = softmax_rows(self._logits(h5, mode))
        layers = {"layer1": h1, "layer2": h2, "layer3": h3, "layer4": h4, "layer5": h5, "probs": probs}
        out = []
        for i in range(len(n)):
            d = {k: v[bounds[i]:bounds[i + 1]] for k, v in layers.items() if k in keep}
            d["state"] = (c[i].copy(), h[i].copy())
            out.append(d)
        return out

    def forward_batch(self, windows_list, mode: str = "float", *, batch_size: int = 64,
                      layers=LAYERS) -> list:
        """``forward`` of many utterances; utterances of similar length share each LSTM step.

        ``layers`` limits which of "layer1".."layer5" are returned ("probs" and "state" always are).
        """
        if mode not in MODES:
            raise ModeError(f"DeepSpeech mode must be one of {MODES}, got {mode!r}")
        keep = set(layers) | {"probs"}
        wins = [self._check(w) for w in windows_list]
        order = sorted(range(len(wins)), key=lambda i: (-len(wins[i]), i))
        out = [None] * len(wins)
        for g in range(0, len(order), batch_size):
            idx = order[g:g + batch_size]
            for i, d in zip(idx, self._group([wins[i] for i in idx], mode, None, keep)):
                out[i] = d
        return out

    def forward(self, windows, mode: str = "float", *, state=None, layers=LAYERS) -> dict:
        """windows (frames, 494) -> {"layer1".."layer5": (frames, 2048) float32, "probs": (frames,
        n_labels + 1), "state": (c, h) after the last frame}. ``state`` continues a stream.

        >>> import numpy as np
        >>> from ser_ref.files import locations
        >>> p = locations.shared_model_path()
        >>> p is None or DeepSpeech.from_model(p).forward(np.zeros((3, 494), np.float32))["probs"].shape == (3, 41)
        True
        """
        if mode not in MODES:
            raise ModeError(f"DeepSpeech mode must be one of {MODES}, got {mode!r}")
        w = self._check(windows)
        if state is not None:
            state = tuple(np.asarray(s, dtype=f32).reshape(1, -1) for s in state)
        return self._group([w], mode, state, set(layers) | {"probs"})[0]

    def _check(self, windows):
        x = np.asarray(windows)
        if x.ndim != 2 or x.shape[1] != self.W1.shape[0] or x.shape[0] < 1:
            raise WeightsError(f"DeepSpeech expects windows of shape (frames >= 1, {self.W1.shape[0]}), got {x.shape}")
        return x

    # ---------- audio in, text out ----------

    def windows(self, signal, sample_rate: int = 16000):
        """The model's input for a signal: MFCC at its own window / step, then 19-frame windows."""
        from ..frontend.audio import resample
        from ..frontend.tf_mfcc import mfcc
        from .windows import context_windows

        x = resample(np.asarray(signal), sample_rate, 16000) if sample_rate != 16000 else signal
        return context_windows(mfcc(x, 16000, win_ms=self.metadata["win_len_ms"], step_ms=self.metadata["win_step_ms"]))

    def transcribe(self, signal, sample_rate: int = 16000, mode: str = "tflite-int8") -> str:
        """Greedy CTC transcript of a mono signal (floats in [-1, 1])."""
        return greedy_decode(self.forward(self.windows(signal, sample_rate), mode, layers=())["probs"], self.alphabet)
