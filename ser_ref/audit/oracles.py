"""Runners for the reference implementations the audit and the tests compare against.

Each imports its library lazily; a missing one raises ``Skip`` (an ImportError) with the install hint.
"""
from __future__ import annotations

import numpy as np


class Skip(ImportError):
    """A check cannot run here (its oracle or its data is missing); the message says why."""


def require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise Skip(f"oracle '{module}' not installed (pip install 'ser_ref[audit]'): {exc}") from exc


def tflite_interpreter(model_path):
    """The model file under the TFLite interpreter, reference kernels only, intermediates kept.

    The default XNNPACK delegate quantises a hybrid FULLY_CONNECTED's inputs asymmetrically, which is
    not the reference kernel the int8 mode emulates; preserving all tensors lets ``Minimum`` (layer 1's
    output) be read back.
    """
    require("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ip = Interpreter(model_path=str(model_path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                     experimental_preserve_all_tensors=True)
    ip.allocate_tensors()
    ip.ser_ref_index = {d["name"]: d["index"] for d in ip.get_tensor_details()}
    return ip


def model_mfcc(ip, signal, starts):
    """The model's own ``mfccs`` for the 512-sample windows starting at ``starts`` (one invoke each)."""
    idx = ip.ser_ref_index
    rows = []
    for s in starts:
        ip.set_tensor(idx["input_samples"], np.ascontiguousarray(signal[s:s + 512], dtype=np.float32))
        ip.invoke()
        rows.append(ip.get_tensor(idx["mfccs"]).ravel().copy())
    return np.array(rows)


def model_layers(ip, windows, names=("Minimum",)):
    """Intermediate tensors (default layer 1's ``Minimum``) for (16k, 494) windows, 16 rows per invoke."""
    idx = ip.ser_ref_index
    n = windows.shape[0]
    if n % 16:
        raise ValueError(f"the model takes 16 windows per invoke; got {n}")
    out = {name: [] for name in names}
    for i in range(0, n, 16):
        ip.set_tensor(idx["input_node"],
                      np.ascontiguousarray(windows[i:i + 16], dtype=np.float32).reshape(1, 16, 19, 26))
        ip.invoke()
        for name in names:
            out[name].append(ip.get_tensor(idx[name]).copy())
    return {name: np.concatenate(v) for name, v in out.items()}


def opensmile_egemaps(sources, sample_rate: int = 16000) -> np.ndarray:
    """openSMILE's eGeMAPS v02 functionals (n, 88), in EGEMAPS_NAMES order, of each source: a file
    path or a mono signal at ``sample_rate``."""
    opensmile = require("opensmile")
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)

    def one(src):
        if isinstance(src, np.ndarray):
            return smile.process_signal(src, sample_rate)
        return smile.process_file(str(src))

    return np.stack([one(s).to_numpy()[0] for s in sources])


def torch_lstm(W, U, b):
    """A ``torch.nn.LSTM`` holding ser_ref's LSTM weights: torch stores W (n, 4H) transposed, in the
    same gate order (input, forget, candidate, output), with the bias split in two (b_hh = 0)."""
    torch = require("torch")
    n, H4 = W.shape
    m = torch.nn.LSTM(n, H4 // 4, batch_first=True)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(W.T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(U.T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(b))
        m.bias_hh_l0.zero_()
    return m


def numeric_grad(f, a, eps: float = 1e-6):
    """Central differences (f(a + eps e_i) - f(a - eps e_i)) / 2 eps of the scalar f() for every
    entry i of ``a`` (perturbed in place and restored)."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def rel_err(a, b) -> float:
    """||a - b|| / (||a|| + ||b||): scale-free, 0 for identical arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))
