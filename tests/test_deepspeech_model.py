"""The whole DeepSpeech model: every layer against the interpreter's own tensors (streamed call by
call, as the runtime does), the float mode against float64, exact int8 sums, the interpreter's
LOGISTIC / TANH, gate order and forget bias, export + integrity hash, bad graphs, the CLI."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ser_ref.frontend.audio import load_audio
from ser_ref.deepspeech import DeepSpeech, export_model
from ser_ref.deepspeech.ctc import greedy_decode
from ser_ref.deepspeech.npz_export import _graph
from ser_ref.deepspeech.layer1 import Layer1
from ser_ref.deepspeech.tflite_lstm import LSTMWeights, lstm_tflite_int8
from ser_ref.deepspeech.tflite_file import read_tflite
from ser_ref.deepspeech.tflite_math import CHUNK, exact_int_matmul, logistic_tflite, tanh_tflite
from ser_ref.errors import WeightsError
from ser_ref.commands.transcribe import main as transcribe_main

PAIRS = (("layer1", "Minimum"), ("layer2", "Minimum_1"), ("layer3", "Minimum_2"), ("layer4", "h"),
         ("layer5", "Minimum_3"), ("probs", "logits"))


@pytest.fixture(scope="module")
def model(model_path):
    return DeepSpeech.from_model(model_path)


@pytest.fixture(scope="module")
def graph(model_path):
    return read_tflite(model_path)


def stream_interpreter(ip, graph, windows):
    """The runtime's loop: 16 windows per invoke, (c, h) carried from new_state_* to previous_state_*.
    The last call's padding rows hold garbage (the runtime leaves stale data there); only the real
    rows are read back. Returns every layer's tensor and the per-step LSTM h."""
    idx = ip.ser_ref_index
    steps_h = [op for op in graph.operators if op.op == "CONCATENATION" and len(op.inputs) == 16]
    h_names = [graph.tensors[i].name for i in steps_h[0].inputs]
    c = np.zeros((1, 2048), np.float32)
    h = np.zeros((1, 2048), np.float32)
    out = {name: [] for _, name in PAIRS}
    for i in range(0, len(windows), 16):
        k = min(16, len(windows) - i)
        buf = np.full((16, 494), 7.5, np.float32)
        buf[:k] = windows[i:i + k]
        ip.set_tensor(idx["input_node"], buf.reshape(1, 16, 19, 26))
        ip.set_tensor(idx["previous_state_c"], c)
        ip.set_tensor(idx["previous_state_h"], h)
        ip.invoke()
        for _, name in PAIRS[:-1] + PAIRS[-1:]:
            if name != "h":
                out[name].append(ip.get_tensor(idx[name])[:k].copy())
        out["h"].append(np.concatenate([ip.get_tensor(idx[n]) for n in h_names])[:k])
        c, h = ip.get_tensor(idx["new_state_c"]).copy(), ip.get_tensor(idx["new_state_h"]).copy()
    return {k: np.concatenate(v) for k, v in out.items()}


def speech_windows(model, path, frames=None):
    w = np.ascontiguousarray(model.windows(load_audio(path)), dtype=np.float32)
    return w if frames is None else w[:frames]


def generated_windows(model, rng, seconds=1.5):
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (t % 0.4 < 0.25) + 0.02 * rng.standard_normal(t.size)
    return np.ascontiguousarray(model.windows(x), dtype=np.float32)


def assert_matches_interpreter(model, ip, graph, w):
    ref = stream_interpreter(ip, graph, w)
    ours = model.forward(w, mode="tflite-int8")
    for mine, theirs in PAIRS[:-1]:
        np.testing.assert_array_equal(ours[mine], ref[theirs], err_msg=mine)
    np.testing.assert_allclose(ours["probs"], ref["logits"], atol=1e-6, rtol=0)
    assert greedy_decode(ours["probs"], model.alphabet) == greedy_decode(ref["logits"], model.alphabet)
    # the carried state is the runtime's after the last real frame (c from its cell, h = last output)
    np.testing.assert_array_equal(ours["state"][1], ref["h"][-1])
    return ours, ref


# ---------- every layer against the interpreter ----------

def test_int8_every_layer_on_real_speech(model, interpreter, graph, ravdess_files):
    w = speech_windows(model, ravdess_files[3])          # 157 frames: 9 full calls + a partial one
    assert len(w) % 16
    ours, ref = assert_matches_interpreter(model, interpreter, graph, w)
    # the float formula is a different arithmetic, as documented: it drifts from the interpreter
    fl = model.forward(w, mode="float")
    assert 1e-3 < np.abs(fl["layer4"] - ref["h"]).max() < 2


def test_int8_every_layer_on_a_generated_signal(model, interpreter, graph, rng):
    assert_matches_interpreter(model, interpreter, graph, generated_windows(model, rng))


@pytest.mark.slow
def test_int8_every_layer_on_many_utterances(model, interpreter, graph, ravdess_files):
    for f in ravdess_files[:: max(1, len(ravdess_files) // 24)]:
        assert_matches_interpreter(model, interpreter, graph, speech_windows(model, f))


def test_gate_order_and_forget_bias_are_the_graphs(model, interpreter, graph, ravdess_files):
    """The order read off the graph reproduces the interpreter; any other order, or a forget bias
    of 1 (TensorFlow's LSTMCell default, which this graph does not add), does not."""
    w = speech_windows(model, ravdess_files[5], frames=32)
    ref = stream_interpreter(interpreter, graph, w)["h"]
    h3 = model.forward(w, mode="tflite-int8", layers=("layer3",))["layer3"]
    gates = [g for g, _ in sorted(model.lstm.gate_index.items(), key=lambda kv: kv[1])]
    assert gates == ["input", "candidate", "forget", "output"]
    good, _ = lstm_tflite_int8([h3], model.lstm)
    np.testing.assert_array_equal(good[:, 0], ref)
    swapped = LSTMWeights(model.W_q[4], model.w_scale[4], model.b4, ["forget", "candidate", "input", "output"])
    assert np.abs(lstm_tflite_int8([h3], swapped)[0][:, 0] - ref).max() > 1e-2
    b = model.b4.copy()
    b[2 * 2048:3 * 2048] += 1
    biased = LSTMWeights(model.W_q[4], model.w_scale[4], b, gates)
    assert np.abs(lstm_tflite_int8([h3], biased)[0][:, 0] - ref).max() > 1e-3


def test_streaming_with_carried_state_equals_one_pass(model, ravdess_files):
    w = speech_windows(model, ravdess_files[7], frames=48)
    whole = model.forward(w, mode="tflite-int8")
    first = model.forward(w[:16], mode="tflite-int8")
    rest = model.forward(w[16:], mode="tflite-int8", state=first["state"])
    np.testing.assert_array_equal(np.concatenate([first["layer4"], rest["layer4"]]), whole["layer4"])
    np.testing.assert_array_equal(rest["state"][0], whole["state"][0])


def test_forward_batch_equals_forward(model, ravdess_files, rng):
    ws = [speech_windows(model, f, frames=n) for f, n in zip(ravdess_files[:3], (40, 17, 29))]
    ws.append(generated_windows(model, rng, seconds=0.5))
    batch = model.forward_batch(ws, mode="tflite-int8", batch_size=3)
    for w, b in zip(ws, batch):
        one = model.forward(w, mode="tflite-int8")
        for k in ("layer1", "layer4", "layer5", "probs"):
            np.testing.assert_array_equal(b[k], one[k])   # exact arithmetic: grouping cannot matter
        np.testing.assert_array_equal(b["state"][1], one["state"][1])
    fb = model.forward_batch(ws, mode="float")
    for w, b in zip(ws, fb):
        np.testing.assert_allclose(b["layer5"], model.forward(w, mode="float")["layer5"], atol=1e-4, rtol=0)


# ---------- float mode against float64 ----------

def _float64_reference(model, x):
    d = {}
    clip = lambda v: np.minimum(np.maximum(v, 0), 20)  # noqa: E731
    h = x.astype(np.float64)
    for k, name in ((1, "layer1"), (2, "layer2"), (3, "layer3")):
        h = d[name] = clip(h @ getattr(model, f"W{k}").astype(np.float64) + getattr(model, f"b{k}"))
    W4, b4 = model.W4.astype(np.float64), model.b4.astype(np.float64)
    c = np.zeros(2048)
    hp = np.zeros(2048)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    hs = []
    for t in range(len(h)):
        z = np.concatenate([h[t], hp]) @ W4 + b4
        i, g, f, o = np.split(z, 4)       # the graph's order, spelled out independently
        c = sig(f) * c + sig(i) * np.tanh(g)
        hp = sig(o) * np.tanh(c)
        hs.append(hp)
    d["layer4"] = np.array(hs)
    d["layer5"] = clip(d["layer4"] @ model.W5.astype(np.float64) + model.b5)
    z = d["layer5"] @ model.W6.astype(np.float64) + model.b6
    e = np.exp(z - z.max(axis=1, keepdims=True))
    d["probs"] = e / e.sum(axis=1, keepdims=True)
    return d


def test_float_mode_vs_float64(model, ravdess_files, rng):
    for w in (speech_windows(model, ravdess_files[2], frames=40), rng.normal(0, 8, (12, 494)).astype(np.float32)):
        ref = _float64_reference(model, w)
        ours = model.forward(w, mode="float")
        for k in ("layer1", "layer2", "layer3", "layer4", "layer5", "probs"):
            scale = max(1.0, float(np.abs(ref[k]).max()))
            np.testing.assert_allclose(ours[k], ref[k], atol=2e-5 * scale, rtol=0, err_msg=k)


# ---------- the interpreter's arithmetic ----------

def test_exact_int_sums_beyond_float32(rng):
    """Sums over 4096 int8 products reach past 2^24; the result must equal the int64 sum, where a
    plain float32 GEMM does not."""
    q = rng.integers(100, 128, size=(6, 4096)).astype(np.float32)
    W = rng.integers(100, 128, size=(4096, 3)).astype(np.float32)
    W[:, 1] *= -1
    q[0] = rng.integers(-3, 4, size=4096)   # a small row takes the one-GEMM path
    exact = q.astype(np.int64) @ W.astype(np.int64)
    assert np.abs(exact).max() > 2 ** 24 * 3
    np.testing.assert_array_equal(exact_int_matmul(q, W, 127), exact.astype(np.float64))
    assert not np.array_equal((q @ W).astype(np.float64), exact.astype(np.float64))
    assert CHUNK * 127 * 127 < 2 ** 24


def test_activations_are_close_to_the_functions(rng):
    x = np.concatenate([rng.normal(0, 4, 20000), np.linspace(-30, 30, 2001), [0.0, -110, 110]]).astype(np.float32)
    np.testing.assert_allclose(logistic_tflite(x), 1 / (1 + np.exp(-x.astype(np.float64))), atol=3e-7, rtol=0)
    np.testing.assert_allclose(tanh_tflite(x), np.tanh(x.astype(np.float64)), atol=5e-7, rtol=0)
    assert logistic_tflite(np.float32([-200]))[0] == 0 and tanh_tflite(np.float32([50]))[0] == 1


# ---------- export, integrity, bad graphs ----------

def test_export_round_trip_and_integrity(model, model_path, tmp_path):
    npz = export_model(model_path, tmp_path / "all.npz")
    loaded = DeepSpeech.from_weights(npz)
    for k in range(1, 7):
        np.testing.assert_array_equal(getattr(loaded, f"W{k}"), getattr(model, f"W{k}"))
        np.testing.assert_array_equal(getattr(loaded, f"b{k}"), getattr(model, f"b{k}"))
    with np.load(npz) as z:
        d = dict(z)
    assert d["W4_q"].shape == (4096, 8192) and d["W6_q"].shape == (2048, 41)
    d["b1"] = d["b1"] + np.float32(0.5)              # altered, recorded hashes kept
    np.savez(tmp_path / "altered.npz", **d)
    for cls in (DeepSpeech, Layer1):
        with pytest.raises(WeightsError, match="altered.npz: integrity hash mismatch"):
            cls.from_weights(tmp_path / "altered.npz")
    del d["integrity_sha256"]
    np.savez(tmp_path / "nohash.npz", **d)
    with pytest.raises(WeightsError, match="nohash.npz: weight file has no integrity hash"):
        DeepSpeech.from_weights(tmp_path / "nohash.npz")
    del d["W4_q"]
    np.savez(tmp_path / "old.npz", **d)
    with pytest.raises(WeightsError, match=r"old.npz: not a ser_ref DeepSpeech weight file \(missing \['W4_q'\]"):
        DeepSpeech.from_weights(tmp_path / "old.npz")


def _without(m, pred):
    g = copy.copy(m)
    g.operators = [op for op in m.operators if not pred(op)]
    return g


def _retyped(m, pred, new):
    g = copy.copy(m)
    g.operators = [dataclasses.replace(op, op=new) if pred(op) else op for op in m.operators]
    return g


@pytest.mark.parametrize("case, message", [
    ("no_softmax", "layer 6 .* not followed by a SOFTMAX"),
    ("no_split", "layer 4 is not an LSTM: expected one SPLIT"),
    ("tanh_gates", "layer 4 is not an LSTM"),
    ("no_layer6", "no single FULLY_CONNECTED op .layer 6"),
    ("no_state_input", "no graph input named 'previous_state_h'"),
])
def test_bad_graphs_name_what_is_missing(graph, case, message):
    first_split = next(op for op in graph.operators if op.op == "SPLIT")
    t = graph.tensors
    g = {
        "no_softmax": lambda: _without(graph, lambda op: op.op == "SOFTMAX"),
        "no_split": lambda: _without(graph, lambda op: op.index == first_split.index),
        "tanh_gates": lambda: _retyped(graph, lambda op: op.op == "LOGISTIC", "TANH"),
        "no_layer6": lambda: _without(graph, lambda op: op.op == "FULLY_CONNECTED" and t[op.outputs[0]].shape[-1] == 41),
        "no_state_input": lambda: dataclasses.replace(graph, inputs=[i for i in graph.inputs
                                                                    if t[i].name != "previous_state_h"]),
    }[case]()
    with pytest.raises(WeightsError, match=message):
        _graph(g)


def test_wrong_shapes_are_weights_errors(model_path):
    from ser_ref.deepspeech.npz_export import export_arrays

    d = export_arrays(model_path)
    d["W6_q"], d["b6"] = d["W6_q"][:, :30], d["b6"][:30]
    with pytest.raises(WeightsError, match="layer 4 weights .* layer 6"):
        DeepSpeech(d, "x.npz")


# ---------- transcripts ----------

def test_transcribe_cli(model, ravdess_files, tmp_path, capsys, monkeypatch, model_path):
    import soundfile as sf

    monkeypatch.setenv("SER_REF_MODEL", str(model_path))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    rc = transcribe_main([str(ravdess_files[0]), str(bad)])
    out, err = capsys.readouterr()
    assert rc == 1 and "bad.wav" in err
    line = out.strip().split("\t")
    assert line[0] == str(ravdess_files[0])
    assert line[1] == model.transcribe(load_audio(ravdess_files[0])) and line[1].strip()
    # a 44.1 kHz copy gives text too (resampled to the model's rate)
    x = load_audio(ravdess_files[0])
    sf.write(tmp_path / "a44.wav", np.interp(np.arange(0, len(x), 16000 / 44100), np.arange(len(x)), x), 44100)
    assert transcribe_main([str(tmp_path / "a44.wav")]) == 0


# ---------- the layer study's features and CLI ----------

def test_layer_features_cached_per_layer(model_path, ravdess_files, tmp_path):
    """One pass caches all five layers under kind "deepspeech" keyed by layer (the layer study's
    specs, computed together); a single layer computes the same arrays; the reproduce option parses."""
    from types import SimpleNamespace

    from ser_ref.evaluation import feature_cache, feature_kinds
    from ser_ref.evaluation.dataset import FeatureSpec
    from ser_ref.commands.reproduce import parse_args

    kind = feature_kinds.KINDS["deepspeech"]
    npz = export_model(model_path, tmp_path / "w.npz")
    weights = SimpleNamespace(source=str(npz), metadata={"file_sha256": "x"})  # as a loaded Layer1 says
    layers = ["layer1", "layer2", "layer3", "layer4", "layer5"]
    params = [FeatureSpec.deepspeech(weights, step_ms=20, mode="tflite-int8", device=None, layer=k).params for k in layers]
    npys, err = feature_cache.cached_features(str(ravdess_files[1]), kind, params, tmp_path / "cache")
    assert err is None and len(set(npys)) == 5
    ds = DeepSpeech.from_weights(npz)
    ref = ds.forward(ds.windows(load_audio(ravdess_files[1])), mode="tflite-int8")
    for k in (1, 3):
        np.testing.assert_array_equal(np.load(npys[k]), ref[layers[k]])
        np.testing.assert_array_equal(feature_kinds.compute(ravdess_files[1], "deepspeech", params[k]), ref[layers[k]])
    assert parse_args(["--features", "layer4"]).features == "layer4"
    with pytest.raises(SystemExit):
        parse_args(["--features", "layer6"])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVE")
    npys, err = feature_cache.cached_features(str(bad), kind, params, tmp_path / "cache")
    assert npys == [] and "bad.wav" in err


@pytest.mark.slow
def test_layers_cli_on_the_synthetic_corpus(tmp_path, model_path, monkeypatch):
    import json

    from ser_ref.commands.layers import main as layers_main

    monkeypatch.setenv("SER_REF_MODEL", str(model_path))
    assert layers_main(["--corpus", "synthetic", "--quick", "--jobs", "1", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "layers.json").read_text())
    assert not Path(res["model"]).is_absolute(), res["model"]   # no path of this machine in a results file
    for model in ("dense", "forest"):
        assert sorted(res[model]) == ["layer1", "layer2", "layer3", "layer4", "layer5"]
        assert res[model]["layer1"]["mcnemar_p_vs_layer1"] is None
        assert 0 <= res[model]["layer3"]["mcnemar_p_vs_layer1"] <= 1
        lo, hi = res[model]["layer2"]["accuracy_ci"]
        assert lo <= res[model]["layer2"]["accuracy"] <= hi
    assert "| layer5 |" in (tmp_path / "layers.md").read_text()
    card = json.loads((tmp_path / "protocol.json").read_text())
    assert card["speaker_disjoint"] is True and card["protocol"] == "leave-one-speaker-out"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["args"]["out"] == "<out>" and "git_commit" in manifest


def test_float_lstm_matmul_does_not_depend_on_thread_count(rng):
    from ser_ref.runtime.blas_threads import single_threaded_blas
    from ser_ref.deepspeech.tflite_lstm import det_matmul

    A = rng.normal(size=(37, 2048)).astype(np.float32)
    B = rng.normal(size=(2048, 8192)).astype(np.float32)
    shared = det_matmul(A, B)                 # blocks over our threads (where BLAS can be switched)
    with single_threaded_blas():
        alone = det_matmul(A, B)              # the same blocks, one after another
    np.testing.assert_array_equal(shared, alone)
    np.testing.assert_allclose(shared, A.astype(np.float64) @ B, atol=1e-3, rtol=0)


def test_quantising_the_halves_equals_quantising_the_concatenated_row(rng):
    """The LSTM's row [x_t, h] is quantised as one row; quantising each half with the row's maximum
    (how lstm_tflite_int8 reuses the x half) gives the same int8 values, whichever half holds it."""
    from ser_ref.deepspeech.layer1 import quantize_rows
    from ser_ref.deepspeech.tflite_lstm import _quantize_given_max

    x = rng.uniform(0, 2, (50, 2048)).astype(np.float32)
    x[:10] *= 0.3                                  # rows where h holds the maximum
    h = rng.uniform(-1, 1, (50, 2048)).astype(np.float32)
    q, m = quantize_rows(np.concatenate([x, h], axis=1))
    assert (np.abs(x).max(1) < m).sum() >= 10
    np.testing.assert_array_equal(np.concatenate([_quantize_given_max(x, m), _quantize_given_max(h, m)], axis=1), q)
