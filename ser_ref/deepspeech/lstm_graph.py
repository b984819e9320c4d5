"""Find DeepSpeech's LSTM (layer 4) in a TFLite graph by structure and read off its gate order.

The converter unrolls the cell over the steps of one call. The first step reads the graph inputs
``previous_state_h`` / ``previous_state_c`` (the names the runtime feeds, like ``input_node``):

    z = FULLY_CONNECTED(CONCATENATION[x_0, previous_state_h])     (1, 4 H), no activation
    z_a, z_b, z_c, z_d = SPLIT(z)                                 four (1, H) quarters
    c_1 = MUL(LOGISTIC(z_f), previous_state_c) + MUL(LOGISTIC(z_i), TANH(z_g))
    h_1 = MUL(LOGISTIC(z_o), TANH(c_1))

so the quarters are told apart by where they go: the forget gate's sigmoid multiplies the previous
c; the candidate goes through a TANH; the input gate's sigmoid multiplies that TANH; the output
gate's sigmoid multiplies TANH(c_1). A forget bias would show as an ADD between the SPLIT and the
forget gate's LOGISTIC; DeepSpeech's cuDNN-compatible cell has none (its bias is in ``b4``), and a
graph that adds one is refused rather than guessed at.
"""
from __future__ import annotations

from ..errors import WeightsError
from .tflite_file import TFLiteModel

GATES = ("input", "candidate", "forget", "output")


def _graph_input(m: TFLiteModel, name: str) -> int:
    for i in m.inputs:
        if m.tensors[i].name == name:
            return i
    raise WeightsError(f"{m.path}: no graph input named {name!r}: layer 4 is not DeepSpeech's LSTM")


def _only(m: TFLiteModel, ops: list, what: str):
    if len(ops) != 1:
        raise WeightsError(f"{m.path}: layer 4 is not an LSTM: expected one {what}, found {len(ops)}")
    return ops[0]


def _consumer(m: TFLiteModel, tensor: int, op_name: str, what: str):
    return _only(m, [c for c in m.consumers(tensor) if c.op == op_name], what)


def _mul_partner(m: TFLiteModel, tensor: int, what: str) -> int:
    """The other input of the one MUL that reads ``tensor``."""
    mul = _consumer(m, tensor, "MUL", what)
    others = [i for i in mul.inputs if i != tensor]
    return others[0] if others else tensor


def _gate_order(m: TFLiteModel, split, c_prev: int) -> tuple:
    """The gate of each SPLIT output, in output order (see the module doc)."""
    role = {}
    sig_of = {}
    for k, t in enumerate(split.outputs):
        kinds = [c.op for c in m.consumers(t)]
        if kinds == ["TANH"]:
            role[k] = "candidate"
        elif kinds == ["LOGISTIC"]:
            sig_of[k] = m.consumers(t)[0].outputs[0]
        else:
            raise WeightsError(f"{m.path}: layer 4 is not an LSTM: gate {k} feeds {kinds or 'nothing'} "
                               f"(expected one LOGISTIC or TANH; an added forget bias is not supported)")
    if list(role.values()) != ["candidate"] or len(sig_of) != 3:
        raise WeightsError(f"{m.path}: layer 4 is not an LSTM: expected 3 sigmoid gates and 1 tanh candidate")
    g_tanh = _consumer(m, split.outputs[[k for k in role][0]], "TANH", "candidate TANH").outputs[0]
    for k, s in sig_of.items():
        partner = _mul_partner(m, s, f"MUL after gate {k}")
        if partner == c_prev:
            role[k] = "forget"
        elif partner == g_tanh:
            role[k] = "input"
        elif m.producer(partner) is not None and m.producer(partner).op == "TANH":
            role[k] = "output"
    if sorted(role.values()) != sorted(GATES):
        raise WeightsError(f"{m.path}: layer 4 is not an LSTM: could not tell its gates apart ({role})")
    return tuple(role[k] for k in range(4))


def find_lstm(m: TFLiteModel, x_source: int) -> dict:
    """{"op": the first step's FULLY_CONNECTED, "gates": gate per quarter, "n_steps": steps per call}.

    ``x_source`` is layer 3's output tensor; the concatenation's other half must derive from it.
    """
    h_prev, c_prev = _graph_input(m, "previous_state_h"), _graph_input(m, "previous_state_c")
    concat = _consumer(m, h_prev, "CONCATENATION", "CONCATENATION reading previous_state_h")
    if len(concat.inputs) != 2 or concat.inputs[1] != h_prev:
        raise WeightsError(f"{m.path}: layer 4 is not an LSTM: the first step concatenates "
                           f"{len(concat.inputs)} tensors, expected [x_t, previous_state_h]")
    src, hops = concat.inputs[0], 0
    while src != x_source and hops < 3:  # x_0 = STRIDED_SLICE(RESHAPE(layer 3's output))
        prod = m.producer(src)
        if prod is None or prod.op not in ("STRIDED_SLICE", "RESHAPE"):
            break
        src, hops = prod.inputs[0], hops + 1
    if src != x_source:
        raise WeightsError(f"{m.path}: layer 4 does not read layer 3's output")
    fc = _consumer(m, concat.outputs[0], "FULLY_CONNECTED", "FULLY_CONNECTED after the first concatenation")
    if fc.activation != "NONE":
        raise WeightsError(f"{m.path}: layer 4 FULLY_CONNECTED has fused activation {fc.activation}, expected NONE")
    split = _consumer(m, fc.outputs[0], "SPLIT", "SPLIT of the gate pre-activations")
    if len(split.outputs) != 4:
        raise WeightsError(f"{m.path}: layer 4 is not an LSTM: its SPLIT has {len(split.outputs)} outputs, not 4")
    gates = _gate_order(m, split, c_prev)
    n_steps = sum(1 for op in m.operators if op.op == "FULLY_CONNECTED" and op.inputs[1] == fc.inputs[1])
    return {"op": fc, "gates": gates, "n_steps": n_steps}
