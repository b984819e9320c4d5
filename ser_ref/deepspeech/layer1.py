"""DeepSpeech layer 1: h = min(relu(x @ W1 + b1), 20), x a 494-value context window.

Two modes:
    "float"        the paper's math with the dequantised weights W1 = w_scale * W1_q
    "tflite-int8"  what the TFLite interpreter's hybrid FULLY_CONNECTED kernel computes; it
                   quantises every input row to int8 on the fly, so it differs from "float" by up
                   to ~1 on speech. Per row x (all in float32, as the C++ kernel):
                       m = max_j |x_j|
                       q_j = clip(round_half_away_from_zero(x_j * (127 / m)), -127, 127)
                       s = (m / 127) * w_scale
                       y = float(q @ W1_q) * s + b        (the product scaled and rounded, then
                                                           the bias added: one float32 sum, the
                                                           same bits as the kernel's bias-first +=)
                       h = min(max(y, 0), 20)
                   (a row of zeros gives q = 0 and s = w_scale, as the kernel does)
The int8 dot products are exact in a float32 GEMM: |sum| <= 494 * 127 * 127 < 2^24.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numba
import numpy as np

from ..runtime.backend import array_module
from ..runtime.blas_threads import blas_threads, single_threaded_blas
from ..runtime.core_pool import run_shares
from ..errors import MACHINE_ERRNOS, SerRefError, WeightsError, machine_error
from .integrity import verify_file

MODES = ("float", "tflite-int8")


class ModeError(SerRefError, ValueError):
    """An unknown layer-1 mode."""


REQUIRED_KEYS = ("W1", "b1", "W1_q", "W1_scale", "clip", "sample_rate", "win_len_ms", "win_step_ms",
                 "alphabet", "source_sha256")


def dense_relu_clip(x, W, b, clip: float = 20.0):
    """min(relu(x @ W + b), clip): the reference, exactly as the equation reads.

    Examples
    --------
    >>> dense_relu_clip(np.array([[1.0, 2.0]]), np.array([[10.0, -1.0], [10.0, 0.0]]), np.zeros(2))
    array([[20.,  0.]], dtype=float32)
    """
    xp = array_module(x)
    return xp.minimum(xp.maximum(x @ W + b, 0), clip).astype(xp.float32)


def augment_bias(W, b):
    """[W; b] (n_in + 1, n_out): with a 1 appended to every input row, x1 @ Wb = x @ W + b.

    Examples
    --------
    >>> W, b, x = np.ones((2, 3)), np.arange(3.0), np.array([[1.0, 2.0]])
    >>> np.hstack([x, [[1.0]]]) @ augment_bias(W, b)
    array([[3., 4., 5.]])
    """
    xp = array_module(W)
    return xp.concatenate([W, b[None, :]]).astype(xp.float32)


@numba.njit(nogil=True, cache=True)
def _relu_clip_inplace(y, clip):
    """y = min(max(y, 0), clip) over a C-contiguous block, in the calling thread."""
    flat = y.reshape(-1)
    for i in range(flat.size):
        flat[i] = min(max(flat[i], np.float32(0)), clip)


def _over_cores(rows_fn, n: int, rows: int, min_rows_per_thread: int, *args):
    """rows_fn(lo, hi, *args) over [0, n) in fixed blocks [0, rows), [rows, 2 rows), ... each one
    single-threaded GEMM; whole blocks are shared out over one thread per core.

    Why fixed blocks: a multi-threaded OpenBLAS GEMM rounds differently from a single-threaded one
    (up to ~6e-5 on layer 1), so the bits would depend on --jobs and OPENBLAS_NUM_THREADS. Here every
    block's shape and BLAS thread count depend on n alone; the thread count only decides which core
    computes which block. (Where NumPy's OpenBLAS cannot be switched, BLAS keeps its own threads.)
    """
    n_blocks = -(-n // rows)
    with single_threaded_blas() as before:
        k = min(before or 1, n_blocks, max(1, n // min_rows_per_thread))
        if k <= 1:
            rows_fn(0, n, *args)
            return
        bounds = [min(n, rows * (n_blocks * j // k)) for j in range(k + 1)]
        run_shares(rows_fn, [(bounds[j], bounds[j + 1], *args) for j in range(k)])


def _rows_through_layer(lo: int, hi: int, x, Wb, out, clip, rows: int):
    """out[lo:hi] = min(relu([x, 1] @ Wb), clip), ``rows`` rows at a time.

    The block copy of x is needed anyway (a strided window view is not a BLAS operand: its rows
    overlap, and matmul would fall back to a slow loop); the 1 column appended there makes the
    bias free, and the clip runs while the block's output is still in this core's cache.
    """
    n_in = x.shape[1]
    block = np.empty((min(rows, hi - lo), n_in + 1), dtype=np.float32)
    block[:, n_in] = 1
    for i in range(lo, hi, rows):
        m = min(rows, hi - i)
        block[:m, :n_in] = x[i:i + m]
        y = out[i:i + m]
        np.matmul(block[:m], Wb, out=y)
        _relu_clip_inplace(y, clip)


def dense_relu_clip_fast(x, Wb, clip: float = 20.0, rows: int = 1024, min_rows_per_thread: int = 256):
    """min(relu(x @ W + b), clip) with the bias folded into the GEMM (``augment_bias``).

    On the CPU the rows go in fixed blocks of ``rows``, each through a single-threaded GEMM and an
    in-cache clip, the blocks shared out over one thread per core (``ser_ref.runtime.blas_threads`` says
    why). The blocks depend on n alone, so the bits are the same whatever the thread count, --jobs
    or OPENBLAS_NUM_THREADS; they may differ in the last float32 bits from one multi-threaded GEMM.
    NumPy only: ``Layer1`` sends CuPy windows to ``ser_ref.gpu.layer1``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, W, b = rng.normal(size=(300, 494)), rng.normal(size=(494, 16)), rng.normal(size=16)
    >>> fast = dense_relu_clip_fast(x.astype(np.float32), augment_bias(W, b))
    >>> bool(np.allclose(fast, dense_relu_clip(x, W, b), atol=1e-4))
    True
    """
    n = x.shape[0]
    out = np.empty((n, Wb.shape[1]), dtype=np.float32)
    _over_cores(_rows_through_layer, n, rows, min_rows_per_thread, x, Wb, out, np.float32(clip), rows)
    return out


def quantize_rows(x):
    """Per-row symmetric int8 quantisation of TFLite's hybrid kernels -> (q as float32, m).

    m = max|x| per row; q = clip(round_half_away(x * (127 / m)), -127, 127) computed from the
    float32 product exactly like the C++ (rounding done in float64, where x + 0.5 is exact).

    Examples
    --------
    >>> q, m = quantize_rows(np.array([[0.5, -1.0, 0.25]]))
    >>> q, m
    (array([[  64., -127.,   32.]], dtype=float32), array([1.], dtype=float32))
    """
    xp = array_module(x)
    x = x.astype(xp.float32, copy=False)
    m = xp.max(xp.abs(x), axis=1)
    safe = xp.where(m == 0, xp.float32(1), m)
    v = (x * (xp.float32(127) / safe)[:, None]).astype(xp.float64)
    q = xp.clip(xp.sign(v) * xp.floor(xp.abs(v) + 0.5), -127, 127).astype(xp.float32)
    q[m == 0] = 0
    return q, m


def dense_int8_tflite(x, W_q, w_scale, b, clip: float = 20.0, rows: int = 8192):
    """TFLite's hybrid FULLY_CONNECTED (+ fused ReLU, + MINIMUM clip); see the module doc.

    ``W_q`` holds the int8 values (as int8, or already as float32 to spare the conversion). Rows go
    through in blocks; within a block every step is in place, in the kernel's float32 order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W_q = rng.integers(-127, 128, (494, 4), dtype=np.int8)
    >>> x = rng.normal(size=(3, 494)).astype(np.float32)
    >>> h = dense_int8_tflite(x, W_q, 0.01, np.zeros(4, np.float32))
    >>> float(np.abs(h - dense_relu_clip(x, W_q * np.float32(0.01), np.zeros(4))).max()) < 0.5  # x quantised to int8
    True
    """
    xp = array_module(x)
    Wf = W_q.astype(xp.float32, copy=False)
    b = b.astype(xp.float32, copy=False)
    n = x.shape[0]
    out = xp.empty((n, Wf.shape[1]), dtype=xp.float32)
    step = rows if xp is np else max(1, n)
    for i in range(0, n, step):
        q, m = quantize_rows(x[i:i + step])
        s = (xp.where(m == 0, xp.float32(1), m / xp.float32(127)) * xp.float32(w_scale)).astype(xp.float32)
        y = out[i:i + step]
        xp.matmul(q, Wf, out=y)       # exact integers (q is a fresh contiguous array)
        y *= s[:, None]               # float(q @ W_q) * s, rounded to float32 ...
        y += b                        # ... then b + that, rounded: the C++ order
        xp.clip(y, 0, xp.float32(clip), out=y)
    return out


@numba.njit(nogil=True, cache=True)
def _quantize_into(x, q, s, w_scale):
    """``quantize_rows`` fused with the block copy: q[r] = the int8 values of x[r] (as float32),
    s[r] = (m / 127) * w_scale (w_scale for a zero row). Same float32 / float64 steps as the
    reference, so the same bits."""
    for r in range(x.shape[0]):
        m = np.float32(0)
        for j in range(x.shape[1]):
            m = max(m, abs(np.float32(x[r, j])))
        if m == 0:
            q[r, :] = 0
            s[r] = w_scale
            continue
        inv = np.float32(127) / m
        for j in range(x.shape[1]):
            v = np.float64(np.float32(x[r, j]) * inv)
            a = min(np.floor(abs(v) + 0.5), 127.0)
            q[r, j] = np.float32(a if v >= 0 else -a)
        s[r] = (m / np.float32(127)) * w_scale


@numba.njit(nogil=True, cache=True)
def _scale_bias_clip(y, s, b, clip):
    """y = min(max(b + y * s_row, 0), clip), each step rounded to float32 like the C++."""
    for r in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[r, j] = min(max(b[j] + y[r, j] * s[r], np.float32(0)), clip)


def _int8_rows(lo: int, hi: int, x, Wf, w_scale, b, out, clip, rows: int):
    """out[lo:hi] = the hybrid kernel on x[lo:hi], ``rows`` rows at a time, in this thread."""
    q = np.empty((min(rows, hi - lo), x.shape[1]), dtype=np.float32)
    s = np.empty(q.shape[0], dtype=np.float32)
    for i in range(lo, hi, rows):
        m = min(rows, hi - i)
        _quantize_into(x[i:i + m], q[:m], s[:m], w_scale)
        y = out[i:i + m]
        np.matmul(q[:m], Wf, out=y)  # exact integers
        _scale_bias_clip(y, s[:m], b, clip)


def dense_int8_tflite_fast(x, W_q, w_scale, b, clip: float = 20.0, rows: int = 1024,
                           min_rows_per_thread: int = 256):
    """``dense_int8_tflite`` (NumPy only) with quantisation, GEMM and epilogue fused per block and
    the rows shared out over the cores like ``dense_relu_clip_fast``. Bit-identical to the
    reference: the integer GEMM is exact whatever the blocking, and the rest is elementwise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W_q = rng.integers(-127, 128, (494, 4), dtype=np.int8)
    >>> x, b = rng.normal(size=(600, 494)).astype(np.float32), np.zeros(4, np.float32)
    >>> bool(np.array_equal(dense_int8_tflite_fast(x, W_q.astype(np.float32), 0.01, b), dense_int8_tflite(x, W_q, 0.01, b)))
    True
    """
    Wf = np.asarray(W_q).astype(np.float32, copy=False)
    n = x.shape[0]
    out = np.empty((n, Wf.shape[1]), dtype=np.float32)
    _over_cores(_int8_rows, n, rows, min_rows_per_thread, x, Wf, np.float32(w_scale),
                np.asarray(b, dtype=np.float32), out, np.float32(clip), rows)
    return out


class Layer1:
    """Layer 1 of a DeepSpeech model: W (494, H) float32, b (H,), W_q int8 (494, H), w_scale.

    ``layer(windows, mode="float" | "tflite-int8")`` -> (frames, H) float32 for NumPy windows; CuPy
    windows go through ``ser_ref.dispatch.layer1`` (``gpu/layer1.py``), to which the weights follow
    once (``weights_on``) and stay.
    """

    def __init__(self, W_q, w_scale, b, *, clip: float = 20.0, metadata: dict | None = None,
                 source: str = "<arrays>"):
        W_q = np.asarray(W_q)
        b = np.asarray(b, dtype=np.float32)
        if W_q.dtype != np.int8 or W_q.ndim != 2 or W_q.shape[0] != 494:
            raise WeightsError(f"{source}: layer 1 needs int8 weights of shape (494, H), got "
                               f"{W_q.dtype} {W_q.shape}")
        if b.shape != (W_q.shape[1],):
            raise WeightsError(f"{source}: layer 1 bias has shape {b.shape}, expected ({W_q.shape[1]},)")
        if not (np.isfinite(w_scale) and w_scale > 0) or not np.all(np.isfinite(b)):
            raise WeightsError(f"{source}: layer 1 has a non-finite or non-positive scale / bias")
        if not (np.isfinite(clip) and clip > 0):
            raise WeightsError(f"{source}: layer 1 clip must be a positive finite number, got {clip!r}")
        self.W_q = W_q
        self.w_scale = np.float32(w_scale)
        self.W = W_q.astype(np.float32) * self.w_scale
        self.b = b
        self.clip = float(clip)
        self.metadata = dict(metadata or {})
        self.source = source
        self._device_cache = {}

    @property
    def hidden(self) -> int:
        return self.W.shape[1]

    @classmethod
    def from_weights(cls, path) -> "Layer1":
        """Load an .npz written by ``ser_ref.deepspeech.export_model`` (clear error if it is not one).

        ``metadata["file_sha256"]`` is the sha256 of the bytes read here (what caches key on);
        ``metadata["source_sha256"]`` the one of the .tflite they were exported from.

        Examples
        --------
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "w.npz"); np.savez(p, W1=np.ones(2))
        >>> Layer1.from_weights(p)
        Traceback (most recent call last):
        ...
        ser_ref.errors.WeightsError: ...w.npz: not a ser_ref layer-1 weight file (missing [...])
        """
        path = Path(path)
        if path.is_dir():
            raise WeightsError(f"{path}: is a folder, not a weight file (.npz or .tflite)")
        from ..files.regular import MAX_MODEL_BYTES, NotRegularFile, TooLarge, read_regular

        try:
            data = read_regular(path, MAX_MODEL_BYTES, "weight file")  # never a FIFO, never unbounded
        except (NotRegularFile, TooLarge) as exc:
            raise WeightsError(str(exc)) from None
        except OSError as exc:  # EIO, EACCES: the machine's; anything else: the file's
            if exc.errno in MACHINE_ERRNOS:
                raise machine_error(exc, "reading the weights", path) from exc
            raise WeightsError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                missing = [k for k in REQUIRED_KEYS if k not in z.files]
                if missing:
                    raise WeightsError(f"{path}: not a ser_ref layer-1 weight file (missing {missing})")
                d = {k: z[k] for k in REQUIRED_KEYS}
        except WeightsError:
            raise
        except Exception as exc:  # BadZipFile, EOFError, OSError, ValueError from a bad file
            raise WeightsError(f"{path}: corrupt or unreadable weight file ({type(exc).__name__}: {exc})") from exc
        layer = cls._from_arrays(d, str(path))
        layer.metadata["file_sha256"] = hashlib.sha256(data).hexdigest()
        # W1 is stored for readers without ser_ref; it must agree with scale * W1_q
        if d["W1"].shape != layer.W.shape or not np.array_equal(d["W1"], layer.W):
            raise WeightsError(f"{path}: W1 disagrees with W1_scale * W1_q (file altered or corrupt)")
        verify_file(path)
        return layer

    @classmethod
    def from_model(cls, path) -> "Layer1":
        """Read layer 1 straight from a DeepSpeech .tflite file (nothing written to disk).

        Examples
        --------
        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x.tflite"); open(p, "wb").write(b"not a model")
        11
        >>> Layer1.from_model(p)
        Traceback (most recent call last):
        ...
        ser_ref.errors.WeightsError: ...x.tflite: not a TFLite model (missing 'TFL3' identifier)
        """
        from .npz_export import export_arrays

        return cls._from_arrays(export_arrays(path), str(path))

    @classmethod
    def _from_arrays(cls, d: dict, source: str) -> "Layer1":
        from ..frontend.audio import SAMPLE_RATE

        if int(d["sample_rate"]) != SAMPLE_RATE:
            raise WeightsError(f"{source}: the model expects {int(d['sample_rate'])} Hz audio, but the MFCC "
                               f"front end and load_audio use {SAMPLE_RATE} Hz")
        meta = {"sample_rate": int(d["sample_rate"]), "win_len_ms": int(d["win_len_ms"]),
                "win_step_ms": int(d["win_step_ms"]), "alphabet": [str(a) for a in d["alphabet"]],
                "source_sha256": str(d["source_sha256"])}
        return cls(d["W1_q"], float(d["W1_scale"]), d["b1"], clip=float(d["clip"]), source=source,
                   metadata=meta)

    def _augmented(self, xp, W, b):
        key = ("Wb", xp.__name__)
        if key not in self._device_cache:
            self._device_cache[key] = augment_bias(W, b)
        return self._device_cache[key]

    def int8_as_float(self, xp, W_q):
        """The int8 weights W_q as float32 on ``xp`` (exact: |W_q| <= 127), converted once per backend."""
        key = ("W_q float32", xp.__name__)
        if key not in self._device_cache:
            self._device_cache[key] = W_q.astype(xp.float32)
        return self._device_cache[key]

    def weights_on(self, xp):
        """(W, b, W_q) as arrays of ``xp`` (NumPy: the originals; CuPy: device copies, made once).

        >>> import numpy as np
        >>> layer = Layer1(np.ones((494, 2), np.int8), np.float32(0.01), np.zeros(2, np.float32))
        >>> layer.weights_on(np)[0] is layer.W
        True
        """
        if xp is np:
            return self.W, self.b, self.W_q
        key = ("weights", xp.__name__)
        if key not in self._device_cache:
            self._device_cache[key] = (xp.asarray(self.W), xp.asarray(self.b), xp.asarray(self.W_q))
        return self._device_cache[key]

    def check_windows(self, x) -> None:
        """A WeightsError unless ``x`` is (frames, 494): the windows this layer takes.

        >>> Layer1(np.ones((494, 2), np.int8), 0.01, np.zeros(2, np.float32)).check_windows(np.zeros((3, 26)))
        Traceback (most recent call last):
        ...
        ser_ref.errors.WeightsError: layer 1 expects windows of shape (frames, 494), got (3, 26)
        """
        if x.ndim != 2 or x.shape[1] != self.W.shape[0]:
            raise WeightsError(f"layer 1 expects windows of shape (frames, {self.W.shape[0]}), got {x.shape}")

    def __call__(self, windows, mode: str = "float"):
        x = np.asarray(windows)
        self.check_windows(x)
        W, b, W_q = self.weights_on(np)
        if mode == "float":
            return dense_relu_clip_fast(x, self._augmented(np, W, b), self.clip)
        if mode == "tflite-int8":
            return dense_int8_tflite_fast(x, self.int8_as_float(np, W_q), self.w_scale, b, self.clip)
        raise ModeError(f"layer 1 mode must be one of {MODES}, got {mode!r}")
