"""Export every layer of a DeepSpeech 0.9.x / Coqui STT .tflite file to an .npz.

Layers are found by graph structure, never by the converter's generated names:
    layer 1   the FULLY_CONNECTED op whose input 0 is ``input_node``
    layer 2   the FULLY_CONNECTED op fed by layer 1's MINIMUM (clip at 20)
    layer 3   the FULLY_CONNECTED op fed by layer 2's MINIMUM
    layer 4   the LSTM, unrolled over the steps of one call: per step CONCATENATION [x_t, h_{t-1}]
              -> FULLY_CONNECTED (one weight tensor shared by every step) -> SPLIT into 4 gates
              -> LOGISTIC / TANH / MUL / ADD; the first step reads ``previous_state_h`` / ``_c``
              (``lstm.py`` says which split output is which gate and how that is found)
    layer 5   the other RELU FULLY_CONNECTED op followed by a MINIMUM (it reads the LSTM's output)
    layer 6   the FULLY_CONNECTED op fed by layer 5's MINIMUM, followed by the SOFTMAX
Weights are int8 with one scale and zero point 0: real = scale * q. They are stored [out, in] in the
file and written [in, out] here so that every layer reads ``x @ W``.

Written keys: W1 (494, H) float32, b1, W1_q int8 (494, H), W1_scale, clip; W{2..6}_q, W{k}_scale, b{k}
(W4_q (2 H, 4 H), W6_q (H, n_labels + 1)); lstm_gates (the gate held by each quarter of W4's columns),
n_steps (windows per call); metadata (sample_rate, win_len_ms, win_step_ms, alphabet, language,
source_sha256, source_name); integrity_sha256 (``integrity.py``) over all of them.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..files.atomic import save_npz
from ..errors import WeightsError
from ..files.hashing import file_sha256 as sha256_file
from .integrity import with_digest
from .lstm_graph import find_lstm
from .tflite_file import TFLiteModel, read_tflite

FORMAT_VERSION = 2
N_CONTEXT_INPUT = 494  # 19 context frames x 26 MFCC


def _dense(m: TFLiteModel, op, name: str, activation: str = "RELU") -> dict:
    """int8 weights (transposed to [in, out]), scale and float bias of one FULLY_CONNECTED op."""
    w_t, b_t = m.tensors[op.inputs[1]], m.tensors[op.inputs[2]]
    if w_t.type != 9 or w_t.scale is None or w_t.scale.size != 1:
        raise WeightsError(f"{m.path}: {name} weights {w_t.name!r} are not int8 with one per-tensor "
                           f"scale (type {w_t.type}); only dynamic-range quantised models are supported")
    if w_t.zero_point is not None and np.any(w_t.zero_point != 0):
        raise WeightsError(f"{m.path}: {name} weights have a non-zero zero point {w_t.zero_point}")
    q = m.array(w_t)
    b = m.array(b_t).astype(np.float32)
    if q.ndim != 2 or b.shape != (q.shape[0],):
        raise WeightsError(f"{m.path}: {name} has weights {q.shape} and bias {b.shape}, not [out, in] and [out]")
    if op.activation != activation:
        raise WeightsError(f"{m.path}: {name} has fused activation {op.activation}, expected {activation}")
    return {"q": np.ascontiguousarray(q.T), "scale": np.float32(w_t.scale[0]), "b": b}


def _clip_after(m: TFLiteModel, op, name: str):
    """The MINIMUM op that consumes ``op``'s output, and its constant (20 in DeepSpeech)."""
    mins = [c for c in m.consumers(op.outputs[0]) if c.op == "MINIMUM"]
    if len(mins) != 1:
        raise WeightsError(f"{m.path}: {name} output is not followed by one MINIMUM op")
    const = [m.tensors[i] for i in mins[0].inputs if i != op.outputs[0]]
    value = m.array(const[0]).ravel()
    if value.size != 1:
        raise WeightsError(f"{m.path}: {name} MINIMUM constant has {value.size} values, expected 1")
    return mins[0], float(value[0])


def find_layers(m: TFLiteModel) -> dict:
    """{1: op, 2: op, 3: op, 5: op} FULLY_CONNECTED ops of the dense layers, found by structure.

    Examples
    --------
    >>> from ser_ref.files import locations
    >>> p = locations.shared_model_path()
    >>> p is None or sorted(find_layers(read_tflite(p))) == [1, 2, 3, 5]
    True
    """
    inp = [i for i in m.inputs if m.tensors[i].name == "input_node"]
    if not inp:
        raise WeightsError(f"{m.path}: no graph input named 'input_node': not a DeepSpeech model")
    fcs = [op for op in m.operators if op.op == "FULLY_CONNECTED"]
    first = [op for op in fcs if op.inputs[0] == inp[0]]
    if len(first) != 1:
        raise WeightsError(f"{m.path}: expected one FULLY_CONNECTED op fed by input_node, found {len(first)}")
    layers = {1: first[0]}
    for k in (2, 3):
        clip_op, _ = _clip_after(m, layers[k - 1], f"layer {k - 1}")
        nxt = [op for op in fcs if op.inputs[0] == clip_op.outputs[0]]
        if len(nxt) != 1:
            raise WeightsError(f"{m.path}: no single FULLY_CONNECTED op after layer {k - 1}")
        layers[k] = nxt[0]
    chain = {op.index for op in layers.values()}
    fifth = [op for op in fcs if op.index not in chain and op.activation == "RELU"
             and any(c.op == "MINIMUM" for c in m.consumers(op.outputs[0]))]
    if len(fifth) != 1:
        raise WeightsError(f"{m.path}: expected one RELU+MINIMUM layer after the LSTM, found {len(fifth)}")
    layers[5] = fifth[0]
    return layers


def _string_tensor(raw: bytes) -> bytes:
    """First string of a TFLite STRING tensor: int32 count, int32 offsets[count + 1], bytes."""
    count = struct.unpack_from("<i", raw, 0)[0]
    if count < 1:
        return b""
    start, end = struct.unpack_from("<ii", raw, 4)
    return raw[start:end]


def parse_alphabet(blob: bytes) -> list:
    """DeepSpeech's serialised alphabet: u16 count, then per label u16 key, u16 length, UTF-8 bytes.

    Examples
    --------
    >>> import struct
    >>> blob = struct.pack("<H", 2) + struct.pack("<HH", 0, 1) + b" " + struct.pack("<HH", 1, 1) + b"a"
    >>> parse_alphabet(blob)
    [' ', 'a']
    """
    n = struct.unpack_from("<H", blob, 0)[0]
    labels, pos = [""] * n, 2
    for _ in range(n):
        key, length = struct.unpack_from("<HH", blob, pos)
        pos += 4
        if key >= n:
            raise WeightsError(f"alphabet label key {key} out of range ({n} labels)")
        labels[key] = blob[pos:pos + length].decode("utf-8")
        pos += length
    return labels


def read_metadata(m: TFLiteModel) -> dict:
    """metadata_* graph outputs (RESHAPEs of constants in DeepSpeech exports) as Python values.

    Examples
    --------
    >>> from ser_ref.files import locations
    >>> p = locations.shared_model_path()
    >>> p is None or read_metadata(read_tflite(p))["win_len_ms"] == 32
    True
    """
    out = {}
    for i in m.outputs:
        t = m.tensors[i]
        if not t.name.startswith("metadata_"):
            continue
        src = t
        if not m.raw(t):  # the exported graph copies a constant through a RESHAPE
            prod = m.producer(i)
            if prod is None or not m.raw(m.tensors[prod.inputs[0]]):
                continue
            src = m.tensors[prod.inputs[0]]
        key = t.name[len("metadata_"):]
        out[key] = _string_tensor(m.raw(src)) if src.type == 5 else int(m.array(src).ravel()[0])
    for key in ("sample_rate", "feature_win_len", "feature_win_step", "alphabet"):
        if key not in out:
            raise WeightsError(f"{m.path}: model lacks the metadata_{key} tensor")
    return {
        "sample_rate": out["sample_rate"],
        "win_len_ms": out["feature_win_len"],
        "win_step_ms": out["feature_win_step"],
        "alphabet": parse_alphabet(out["alphabet"]),
        "language": out.get("language", b"").decode("utf-8", errors="replace"),
    }


def find_head(m: TFLiteModel, layer5) -> object:
    """Layer 6: the FULLY_CONNECTED op fed by layer 5's MINIMUM, no activation, then a SOFTMAX."""
    clip_op, _ = _clip_after(m, layer5, "layer 5")
    nxt = [op for op in m.operators if op.op == "FULLY_CONNECTED" and op.inputs[0] == clip_op.outputs[0]]
    if len(nxt) != 1:
        raise WeightsError(f"{m.path}: no single FULLY_CONNECTED op (layer 6, the logits) after layer 5")
    if not any(c.op == "SOFTMAX" for c in m.consumers(nxt[0].outputs[0])):
        raise WeightsError(f"{m.path}: layer 6 (the logits) is not followed by a SOFTMAX")
    return nxt[0]


def _graph(m: TFLiteModel):
    """(dense layers {1, 2, 3, 5, 6: op}, the LSTM description) found by structure."""
    layers = find_layers(m)
    x_clip, _ = _clip_after(m, layers[3], "layer 3")
    lstm = find_lstm(m, x_clip.outputs[0])
    layers[6] = find_head(m, layers[5])
    return layers, lstm


def _check_shapes(path, arrays: dict, n_labels: int) -> None:
    n_in, hidden = arrays["W1_q"].shape
    if n_in != N_CONTEXT_INPUT:
        raise WeightsError(f"{path}: layer 1 takes {n_in} inputs, expected {N_CONTEXT_INPUT} "
                           f"(19 context frames x 26 MFCC)")
    expected = {2: (hidden, hidden), 3: (hidden, hidden), 4: (2 * hidden, 4 * hidden), 5: (hidden, hidden),
                6: (hidden, n_labels + 1)}
    for k, shape in expected.items():
        if arrays[f"W{k}_q"].shape != shape:
            raise WeightsError(f"{path}: layer {k} weights {arrays[f'W{k}_q'].shape}, expected {shape}"
                               + (f" ({n_labels} alphabet labels + blank)" if k == 6 else ""))


def export_arrays(model_path) -> dict:
    """Everything ``export_model`` writes, as a dict of arrays (nothing touches the disk).

    Examples
    --------
    >>> from ser_ref.files import locations
    >>> p = locations.shared_model_path()
    >>> p is None or export_arrays(p)["W1_q"].shape == (494, 2048)
    True
    """
    model_path = Path(model_path)
    m = read_tflite(model_path)
    try:
        layers, lstm = _graph(m)
        meta = read_metadata(m)
    except WeightsError:
        raise
    except (IndexError, KeyError, ValueError, struct.error) as exc:  # a graph that parses but is not sane
        raise WeightsError(f"{model_path}: malformed DeepSpeech graph ({type(exc).__name__}: {exc})") from exc
    arrays = {"format_version": np.int32(FORMAT_VERSION)}
    clip = None
    for k, op in sorted({**layers, 4: lstm["op"]}.items()):
        d = _dense(m, op, f"layer {k}", "RELU" if k in (1, 2, 3, 5) else "NONE")
        if k in (1, 2, 3, 5):
            _, c = _clip_after(m, op, f"layer {k}")
            clip = c if clip is None else clip
        arrays[f"W{k}_q"], arrays[f"W{k}_scale"], arrays[f"b{k}"] = d["q"], d["scale"], d["b"]
    _check_shapes(model_path, arrays, len(meta["alphabet"]))
    arrays["W1"] = arrays["W1_q"].astype(np.float32) * arrays["W1_scale"]
    arrays["clip"] = np.float32(clip)
    arrays["lstm_gates"] = np.array(lstm["gates"], dtype=np.str_)
    arrays["n_steps"] = np.int32(lstm["n_steps"])
    arrays["sample_rate"] = np.int32(meta["sample_rate"])
    arrays["win_len_ms"] = np.int32(meta["win_len_ms"])
    arrays["win_step_ms"] = np.int32(meta["win_step_ms"])
    arrays["alphabet"] = np.array(meta["alphabet"], dtype=np.str_)
    arrays["language"] = np.array(meta["language"], dtype=np.str_)
    arrays["source_sha256"] = np.array(sha256_file(model_path), dtype=np.str_)
    arrays["source_name"] = np.array(model_path.name, dtype=np.str_)
    return with_digest(arrays)


def export_model(model_path, out_path) -> Path:
    """Read ``model_path`` (.tflite), write ``out_path`` (.npz) atomically; returns ``out_path``.

    A failure anywhere leaves no file (or the previous one) at ``out_path``.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.tflite"); open(p, "wb").write(b"TFL")
    3
    >>> export_model(p, os.path.join(d, "x.npz"))
    Traceback (most recent call last):
    ...
    ser_ref.errors.WeightsError: ...x.tflite: not a TFLite model (missing 'TFL3' identifier)
    >>> os.path.exists(os.path.join(d, "x.npz"))      # a failure leaves no file behind
    False
    """
    arrays = export_arrays(model_path)
    save_npz(out_path, **arrays)
    return Path(out_path)
