"""The model file run by the TFLite interpreter (ai-edge-litert): the oracle of MFCC and layer 1.

The interpreter is built without the default XNNPACK delegate (whose hybrid FULLY_CONNECTED quantises
inputs asymmetrically) and keeps every intermediate tensor so that ``Minimum`` (layer 1's output)
can be read back.
"""
from __future__ import annotations

import numpy as np


def make_interpreter(model_path):
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
    assert n % 16 == 0
    out = {name: [] for name in names}
    for i in range(0, n, 16):
        ip.set_tensor(idx["input_node"], np.ascontiguousarray(windows[i:i + 16], dtype=np.float32).reshape(1, 16, 19, 26))
        ip.invoke()
        for name in names:
            out[name].append(ip.get_tensor(idx[name]).copy())
    return {name: np.concatenate(v) for name, v in out.items()}
