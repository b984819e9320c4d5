"""A minimal reader of TensorFlow Lite model files (FlatBuffers, schema v3), in plain Python.

Only what the exporter needs: tensors (name, shape, type, buffer, int8 scale / zero point),
operators (op name, inputs, outputs, fused activation) and the raw constant buffers. Writing it by
hand keeps the `tflite` bindings out of the core dependencies; tests check it against them.

FlatBuffers in four rules (all little-endian):
    root table   : uint32 at byte 0 is the offset of the root table
    table at p   : int32 at p is soffset; the vtable sits at p - soffset and holds
                   [uint16 vtable_bytes, uint16 table_bytes, uint16 field_offset[i]...];
                   field i lives at p + field_offset[i] (0 = absent, use the default)
    reference    : a uint32 at q pointing forward to q + value (tables, vectors, strings)
    vector at v  : uint32 length, then the elements (strings: bytes, not NUL-counted)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import WeightsError

# TensorType enum of schema.fbs -> numpy dtype (STRING=5 is kept as raw bytes)
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 5: None,
                6: np.bool_, 7: np.int16, 9: np.int8}
# The BuiltinOperator codes the DeepSpeech graph uses (schema.fbs); others print as "BUILTIN_<n>"
BUILTIN_OPS = {0: "ADD", 2: "CONCATENATION", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 18: "MUL",
               22: "RESHAPE", 25: "SOFTMAX", 28: "TANH", 32: "CUSTOM", 45: "STRIDED_SLICE",
               49: "SPLIT", 57: "MINIMUM"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}
FULLY_CONNECTED_OPTIONS = 8  # BuiltinOptions union tag of FullyConnectedOptions


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple
    type: int
    buffer: int
    scale: np.ndarray | None = None       # per-tensor (or per-channel) quantisation scale
    zero_point: np.ndarray | None = None


@dataclass
class Operator:
    index: int
    op: str                 # "FULLY_CONNECTED", ... or the custom code ("Mfcc")
    inputs: list
    outputs: list
    activation: str = "NONE"  # fused activation (FULLY_CONNECTED only)


@dataclass
class TFLiteModel:
    path: str
    version: int
    tensors: list
    operators: list
    inputs: list
    outputs: list
    data: bytes = field(repr=False)
    buffer_spans: list = field(repr=False)  # (start, length) of each buffer's bytes in `data`

    def tensor(self, name: str) -> Tensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise WeightsError(f"{self.path}: no tensor named {name!r}")

    def raw(self, t: Tensor) -> bytes:
        start, n = self.buffer_spans[t.buffer]
        return self.data[start:start + n]

    def array(self, t: Tensor) -> np.ndarray:
        """The constant values of tensor ``t`` (error if it has none or its type is unknown).

        Examples
        --------
        >>> from ser_ref.files import locations
        >>> p = locations.shared_model_path()
        >>> m = p and read_tflite(p)
        >>> p is None or any(m.array(t).dtype == np.int8 for t in m.tensors if t.type == 9 and m.raw(t))
        True
        """
        raw = self.raw(t)
        dtype = TENSOR_TYPES.get(t.type)
        if dtype is None:
            raise WeightsError(f"{self.path}: tensor {t.name!r} has type {t.type}, not a numeric array")
        n = int(np.prod(t.shape)) if t.shape else 1
        if len(raw) != n * np.dtype(dtype).itemsize:
            raise WeightsError(f"{self.path}: tensor {t.name!r} shape {t.shape} needs "
                               f"{n * np.dtype(dtype).itemsize} bytes, its buffer holds {len(raw)}")
        return np.frombuffer(raw, dtype=dtype).reshape(t.shape).copy()

    def producer(self, tensor_index: int) -> Operator | None:
        for op in self.operators:
            if tensor_index in op.outputs:
                return op
        return None

    def consumers(self, tensor_index: int) -> list:
        return [op for op in self.operators if tensor_index in op.inputs]


class _Reader:
    """Bounds-checked access to a FlatBuffer: any out-of-range read is a WeightsError."""

    def __init__(self, data: bytes, path: str):
        self.data, self.path = data, path

    def _unpack(self, fmt: str, pos: int):
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise WeightsError(f"{self.path}: truncated or corrupt TFLite file (read at byte {pos} "
                               f"of {len(self.data)})")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def field(self, table: int, i: int) -> int:
        """Absolute position of field ``i`` of the table at ``table``, or 0 when absent."""
        vtable = table - self._unpack("<i", table)
        vt_bytes = self._unpack("<H", vtable)
        if 4 + 2 * i >= vt_bytes:
            return 0
        off = self._unpack("<H", vtable + 4 + 2 * i)
        return table + off if off else 0

    def scalar(self, table: int, i: int, fmt: str, default=0):
        p = self.field(table, i)
        return self._unpack(fmt, p) if p else default

    def ref(self, table: int, i: int) -> int:
        p = self.field(table, i)
        return p + self._unpack("<I", p) if p else 0

    def vector(self, table: int, i: int) -> tuple[int, int]:
        """(start of elements, length) of vector field ``i`` ((0, 0) when absent)."""
        v = self.ref(table, i)
        if not v:
            return 0, 0
        n = self._unpack("<I", v)
        if v + 4 + n > len(self.data):  # every element takes at least one byte
            raise WeightsError(f"{self.path}: truncated or corrupt TFLite file (vector of {n} at byte {v})")
        return v + 4, n

    def tables(self, table: int, i: int) -> list:
        start, n = self.vector(table, i)
        if start + 4 * n > len(self.data):
            raise WeightsError(f"{self.path}: truncated or corrupt TFLite file (table vector past the end)")
        return [start + 4 * k + self._unpack("<I", start + 4 * k) for k in range(n)]

    def numbers(self, table: int, i: int, dtype) -> np.ndarray:
        start, n = self.vector(table, i)
        size = n * np.dtype(dtype).itemsize
        if start + size > len(self.data):
            raise WeightsError(f"{self.path}: truncated or corrupt TFLite file (vector past the end)")
        return np.frombuffer(self.data, dtype=dtype, count=n, offset=start) if n else np.zeros(0, dtype)

    def string(self, table: int, i: int) -> str:
        start, n = self.vector(table, i)
        return self.data[start:start + n].decode("utf-8", errors="replace") if n else ""


def read_tflite(path) -> TFLiteModel:
    """Parse a .tflite file. Foreign, truncated or corrupt files raise WeightsError naming the file.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.tflite"); open(p, "wb").write(bytes(16))
    16
    >>> read_tflite(p)
    Traceback (most recent call last):
    ...
    ser_ref.errors.WeightsError: ...m.tflite: not a TFLite model (missing 'TFL3' identifier)
    """
    from ..files.regular import MAX_MODEL_BYTES, NotRegularFile, TooLarge, read_regular

    path = Path(path)
    try:
        data = read_regular(path, MAX_MODEL_BYTES, "model file")
    except (NotRegularFile, TooLarge) as exc:
        raise WeightsError(str(exc)) from None
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read model file ({exc})") from exc
    # file identifier "TFL3" at bytes 4..8 marks a TFLite flatbuffer
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise WeightsError(f"{path}: not a TFLite model (missing 'TFL3' identifier)")
    r = _Reader(data, str(path))
    try:
        return _parse(r, path, data)
    except WeightsError:
        raise
    except (struct.error, ValueError, IndexError, KeyError) as exc:
        raise WeightsError(f"{path}: corrupt TFLite file ({exc})") from exc


def _parse(r: _Reader, path: Path, data: bytes) -> TFLiteModel:
    model = r._unpack("<I", 0)
    version = r.scalar(model, 0, "<I")
    # Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers
    op_names = []
    for oc in r.tables(model, 1):
        # OperatorCode: 0 deprecated_builtin_code (int8), 1 custom_code, 3 builtin_code (int32)
        code = max(r.scalar(oc, 0, "<b"), r.scalar(oc, 3, "<i"))
        op_names.append(r.string(oc, 1) if code == 32 else BUILTIN_OPS.get(code, f"BUILTIN_{code}"))
    spans = []
    for b in r.tables(model, 4):
        # Buffer: 0 data [ubyte]; 1 offset, 2 size (uint64) for models over 2 GB
        start, n = r.vector(b, 0)
        if not n and r.scalar(b, 1, "<Q"):
            start, n = r.scalar(b, 1, "<Q"), r.scalar(b, 2, "<Q")
        if start + n > len(data):
            raise WeightsError(f"{path}: truncated TFLite file (buffer ends at byte {start + n}, "
                               f"file has {len(data)})")
        spans.append((start, n))
    subgraphs = r.tables(model, 2)
    if len(subgraphs) < 1:
        raise WeightsError(f"{path}: TFLite file has no subgraph")
    g = subgraphs[0]
    tensors = []
    for k, t in enumerate(r.tables(g, 0)):
        # Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization (1 max, 2 scale, 3 zero_point)
        q = r.ref(t, 4)
        scale = r.numbers(q, 2, np.float32).copy() if q else None
        zp = r.numbers(q, 3, np.int64).copy() if q else None
        buf = r.scalar(t, 2, "<I")
        if buf >= len(spans):
            raise WeightsError(f"{path}: tensor {k} refers to buffer {buf} of {len(spans)}")
        tensors.append(Tensor(k, r.string(t, 3), tuple(int(d) for d in r.numbers(t, 0, np.int32)),
                              r.scalar(t, 1, "<b"), buf,
                              scale if scale is not None and scale.size else None,
                              zp if zp is not None and zp.size else None))
    operators = []
    for k, o in enumerate(r.tables(g, 3)):
        # Operator: 0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options
        name = op_names[r.scalar(o, 0, "<I")]
        act = "NONE"
        if r.scalar(o, 3, "<B") == FULLY_CONNECTED_OPTIONS:
            act = ACTIVATIONS.get(r.scalar(r.ref(o, 4), 0, "<b"), "OTHER")
        operators.append(Operator(k, name, r.numbers(o, 1, np.int32).tolist(),
                                  r.numbers(o, 2, np.int32).tolist(), act))
    return TFLiteModel(str(path), version, tensors, operators, r.numbers(g, 1, np.int32).tolist(),
                       r.numbers(g, 2, np.int32).tolist(), data, spans)
