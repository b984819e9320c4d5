"""DeepSpeech transfer half: the .tflite reader and exporter, context windows, layer 1 (float and
bit-exact int8), the model resolution / fetch path, the CLI, and every bad-input path."""
from __future__ import annotations

import io
import os
import shutil
import tarfile

import numpy as np
import pytest

from conftest import needs
from ser_ref.files import locations
from ser_ref.frontend.audio import load_audio
from ser_ref.runtime.backend import gpu_available
from ser_ref.deepspeech import Layer1, context_windows, deepspeech_features, export_model, load_layer1
from ser_ref.deepspeech import fetch as fetch_mod
from ser_ref.deepspeech import load as load_mod
from ser_ref.commands.export import main as cli_main
from ser_ref.deepspeech.npz_export import export_arrays, parse_alphabet
from ser_ref.deepspeech.layer1 import (ModeError, augment_bias, dense_int8_tflite, dense_int8_tflite_fast,
                                      dense_relu_clip, dense_relu_clip_fast, quantize_rows)
from ser_ref.deepspeech.tflite_file import read_tflite
from ser_ref.errors import AudioError, WeightsError
from ser_ref.frontend.tf_mfcc import mfcc


@pytest.fixture(scope="module")
def arrays(model_path):
    return export_arrays(model_path)


@pytest.fixture(scope="module")
def layer(model_path):
    return Layer1.from_model(model_path)


@pytest.fixture
def npz(model_path, tmp_path):
    return export_model(model_path, tmp_path / "w.npz")


# ---------- context windows ----------

@pytest.mark.parametrize("T", [1, 5, 19, 40])
def test_context_window_layout(T, rng):
    x = rng.normal(size=(T, 26)).astype(np.float32)
    w = context_windows(x)
    assert w.shape == (T, 494)
    for t in range(T):
        for j in range(19):
            s = t + j - 9
            expect = x[s] if 0 <= s < T else np.zeros(26, np.float32)
            np.testing.assert_array_equal(w[t, j * 26:(j + 1) * 26], expect)


def test_context_windows_is_a_view(rng):
    w = context_windows(rng.normal(size=(50, 26)).astype(np.float32))
    assert w.strides == (26 * 4, 4) and not w.flags.writeable
    assert np.shares_memory(w[0], w[1])


@pytest.mark.parametrize("bad", [np.zeros((0, 26)), np.zeros(26), np.zeros((2, 3, 4))])
def test_context_windows_bad_shape(bad):
    with pytest.raises(AudioError, match="context_windows"):
        context_windows(bad)


# ---------- the .tflite reader against the tflite flatbuffer bindings ----------

def test_reader_matches_tflite_bindings(model_path):
    tfl = needs("tflite")
    raw = model_path.read_bytes()
    g = tfl.Model.GetRootAsModel(raw, 0).Subgraphs(0)
    m = read_tflite(model_path)
    assert len(m.tensors) == g.TensorsLength() and len(m.operators) == g.OperatorsLength()
    for t in m.tensors:
        ref = g.Tensors(t.index)
        assert t.name == ref.Name().decode() and t.type == ref.Type() and t.buffer == ref.Buffer()
        assert t.shape == tuple(ref.ShapeAsNumpy().tolist() if ref.ShapeLength() else ())
        q = ref.Quantization()
        if q is not None and q.ScaleLength():
            np.testing.assert_array_equal(t.scale, q.ScaleAsNumpy())
    for op in m.operators:
        ref = g.Operators(op.index)
        assert op.inputs == ref.InputsAsNumpy().tolist() and op.outputs == ref.OutputsAsNumpy().tolist()
    w = m.tensor("layer_1/weights/transpose")
    model = tfl.Model.GetRootAsModel(raw, 0)
    np.testing.assert_array_equal(m.array(w).view(np.uint8).ravel(), model.Buffers(w.buffer).DataAsNumpy())


# ---------- exporter ----------

def test_export_round_trip(model_path, npz, layer):
    loaded = Layer1.from_weights(npz)
    np.testing.assert_array_equal(loaded.W, layer.W)
    np.testing.assert_array_equal(loaded.b, layer.b)
    np.testing.assert_array_equal(loaded.W_q, layer.W_q)
    meta = dict(loaded.metadata)
    import hashlib

    assert meta.pop("file_sha256") == hashlib.sha256(npz.read_bytes()).hexdigest()  # the bytes loaded
    assert loaded.w_scale == layer.w_scale and meta == layer.metadata
    assert loaded.W.shape == (494, 2048) and loaded.W.dtype == np.float32 and loaded.b.shape == (2048,)
    with np.load(npz) as z:
        for k in (2, 3, 5):
            assert z[f"W{k}_q"].shape == (2048, 2048) and z[f"W{k}_q"].dtype == np.int8
            assert z[f"W{k}_scale"] > 0 and z[f"b{k}"].shape == (2048,)


def test_export_matches_bindings_and_metadata(model_path, arrays, layer, interpreter):
    tfl = needs("tflite")
    import hashlib

    raw = model_path.read_bytes()
    model = tfl.Model.GetRootAsModel(raw, 0)
    g = model.Subgraphs(0)
    by_name = {g.Tensors(i).Name().decode(): g.Tensors(i) for i in range(g.TensorsLength())}
    for k in (1, 2, 3, 5):
        t = by_name[f"layer_{k}/weights/transpose"]
        q = model.Buffers(t.Buffer()).DataAsNumpy().view(np.int8).reshape(t.ShapeAsNumpy())
        np.testing.assert_array_equal(arrays[f"W{k}_q"], q.T)  # found by structure, checked by name
        assert arrays[f"W{k}_scale"] == t.Quantization().ScaleAsNumpy()[0]
    # W = scale * q, the dequantisation rule (zero point 0)
    np.testing.assert_array_equal(layer.W, layer.W_q.astype(np.float32) * layer.w_scale)
    # metadata against what the interpreter itself outputs
    idx = interpreter.ser_ref_index
    for key, name in (("sample_rate", "metadata_sample_rate"), ("win_len_ms", "metadata_feature_win_len"),
                      ("win_step_ms", "metadata_feature_win_step")):
        assert layer.metadata[key] == int(interpreter.get_tensor(idx[name])[0])
    assert (layer.metadata["sample_rate"], layer.metadata["win_len_ms"], layer.metadata["win_step_ms"]) == (16000, 32, 20)
    assert layer.metadata["source_sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(layer.metadata["alphabet"]) == 40 and layer.metadata["alphabet"][0] == " "


def test_parse_alphabet():
    labels = ["a", " ", "ß"]
    blob = len(labels).to_bytes(2, "little")
    for key, lab in enumerate(labels):
        b = lab.encode()
        blob += key.to_bytes(2, "little") + len(b).to_bytes(2, "little") + b
    assert parse_alphabet(blob) == labels


# ---------- layer 1: float ----------

def test_float_mode_vs_float64(layer, rng):
    x = rng.normal(0, 8, size=(300, 494)).astype(np.float32)
    ref = np.minimum(np.maximum(x.astype(np.float64) @ layer.W.astype(np.float64) + layer.b, 0), 20)
    rel = np.abs(layer(x) - ref).max() / np.abs(ref).max()
    assert rel <= 1e-4
    assert 0 < (ref == 20).mean() < 1 and 0 < (ref == 0).mean() < 1  # both clips exercised


def test_blocked_fast_path_matches_reference(layer, rng):
    m = rng.normal(0, 6, size=(77, 26)).astype(np.float32)
    w = context_windows(m)  # a strided view with overlapping rows, as the pipeline passes it
    ref = dense_relu_clip(np.ascontiguousarray(w), layer.W, layer.b, 20.0)
    for rows in (1, 10, 77, 1000):  # blocks with remainders, one block, larger than the input
        np.testing.assert_allclose(dense_relu_clip_fast(w, augment_bias(layer.W, layer.b), 20.0, rows),
                                   ref, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("n", [1, 255, 256, 511, 512, 1500, 4099])
def test_threaded_fast_path_matches_float64(n):
    """Rows shared out over threads (each a single-threaded GEMM + in-cache clip) or kept in one
    block loop: every split and block size gives the float64 equation's answer. Random weights of
    the model's shape, so this runs without the model file."""
    from ser_ref.runtime.blas_threads import blas_threads

    rng = np.random.default_rng(n)
    W = rng.normal(0, 0.05, size=(494, 2048)).astype(np.float32)
    b = rng.normal(0, 1, size=2048).astype(np.float32)
    w = context_windows(rng.normal(0, 6, size=(n, 26)).astype(np.float32))
    ref = np.minimum(np.maximum(np.ascontiguousarray(w).astype(np.float64) @ W.astype(np.float64) + b, 0), 20)
    before = blas_threads()
    Wb = augment_bias(W, b)
    for rows, per_thread in ((1024, 256), (100, 50), (7, 1), (1024, 10 ** 9)):
        got = dense_relu_clip_fast(w, Wb, 20.0, rows, per_thread)
        assert got.dtype == np.float32 and got.shape == (n, 2048)
        np.testing.assert_allclose(got, ref, atol=2e-5, rtol=1e-5)
    assert blas_threads() == before  # the BLAS thread count is put back
    if n >= 512:
        assert 0 < (ref == 20).mean() < 1 and 0 < (ref == 0).mean() < 1  # both clips exercised


def test_threaded_fast_path_is_deterministic(rng):
    W = rng.normal(0, 0.05, size=(494, 2048)).astype(np.float32)
    Wb = augment_bias(W, rng.normal(0, 1, size=2048).astype(np.float32))
    w = context_windows(rng.normal(0, 6, size=(3000, 26)).astype(np.float32))
    np.testing.assert_array_equal(dense_relu_clip_fast(w, Wb), dense_relu_clip_fast(w, Wb))


# ---------- layer 1: int8, bit-exact against the interpreter ----------

def test_round_half_away_from_zero():
    x = np.array([[127.0, 0.5, -0.5, 1.5, -2.5, 0.49999997, 126.5]], np.float32)
    q, m = quantize_rows(x)
    np.testing.assert_array_equal(q[0], [127, 1, -1, 2, -3, 0, 127])
    assert m[0] == 127
    q0, m0 = quantize_rows(np.zeros((1, 5), np.float32))
    assert not q0.any() and m0[0] == 0


@pytest.mark.parametrize("n", [1, 5, 300, 700, 2500])
def test_int8_fast_path_bit_identical_to_reference(n):
    """The fused, per-core int8 path against ``dense_int8_tflite`` (the kernel's steps as array
    operations): the same bits, on rows with ties at .5 after scaling, zero rows and both clips.
    Random int8 weights, so this runs without the model file."""
    rng = np.random.default_rng(n)
    W_q = rng.integers(-127, 128, size=(494, 2048)).astype(np.int8)
    b = rng.normal(0, 2, size=2048).astype(np.float32)
    w_scale = np.float32(0.0037)
    x = context_windows(rng.normal(0, 6, size=(n, 26)).astype(np.float32))
    x = np.array(x)  # a writable copy
    x[:: 7] = 0  # zero rows: q = 0, s = w_scale
    if n > 2:  # a row where x * (127 / m) lands exactly on .5: m = 127, x = k + 0.5
        x[1] = 0
        x[1, 0], x[1, 1:20] = 127, np.arange(19) + np.float32(0.5)
    ref = dense_int8_tflite(x, W_q, w_scale, b, 20.0)
    for rows, per_thread in ((1024, 256), (33, 10), (1024, 10 ** 9)):
        np.testing.assert_array_equal(dense_int8_tflite_fast(x, W_q, w_scale, b, 20.0, rows, per_thread), ref)
    if n >= 300:
        assert 0 < (ref == 20).mean() < 1 and 0 < (ref == 0).mean() < 1


def test_int8_bit_exact_on_random_windows(layer, interpreter, rng):
    from ser_ref.audit.oracles import model_layers

    x = rng.normal(0, 10, size=(32, 494)).astype(np.float32)
    x[3] = 0  # an all-zero row (the utterance edge): scale 1, q = 0 -> bias only
    x[5, :200] = 0
    ref = model_layers(interpreter, x)["Minimum"]
    np.testing.assert_array_equal(layer(x, mode="tflite-int8"), ref)


def test_int8_bit_exact_on_real_speech_and_layers_2_3(npz, layer, interpreter, ravdess_files):
    from ser_ref.audit.oracles import model_layers

    w = context_windows(mfcc(load_audio(ravdess_files[3])))
    w = w[: (len(w) // 16) * 16][:64]
    ref = model_layers(interpreter, w, ("Minimum", "Minimum_2"))
    h1 = layer(w, mode="tflite-int8")
    np.testing.assert_array_equal(h1, ref["Minimum"])
    # the float formula differs from the interpreter, as documented (input quantisation)
    assert 0.05 < np.abs(layer(w) - ref["Minimum"]).max() < 3
    # layers 2 and 3 of the export, chained with the same kernel, reproduce the model's Minimum_2
    with np.load(npz) as z:
        h = h1
        for k in (2, 3):
            h = dense_int8_tflite(h, z[f"W{k}_q"], z[f"W{k}_scale"], z[f"b{k}"], float(z["clip"]))
    np.testing.assert_allclose(h, ref["Minimum_2"], atol=1e-5, rtol=0)


def test_int8_bit_exact_on_synthetic_voices(layer, interpreter, voices):
    from ser_ref.audit.oracles import model_layers

    for x in voices:
        w = context_windows(mfcc(x))
        w = w[: (len(w) // 16) * 16]
        np.testing.assert_array_equal(layer(w, mode="tflite-int8"), model_layers(interpreter, w)["Minimum"])


@pytest.mark.slow
def test_int8_bit_exact_on_many_files(layer, interpreter, ravdess_files):
    from ser_ref.audit.oracles import model_layers

    for f in ravdess_files[:: max(1, len(ravdess_files) // 8)]:
        w = context_windows(mfcc(load_audio(f)))
        w = w[: (len(w) // 16) * 16]
        np.testing.assert_array_equal(layer(w, mode="tflite-int8"), model_layers(interpreter, w)["Minimum"])


def test_bad_mode_and_shape(layer):
    with pytest.raises(ModeError, match="mode"):
        layer(np.zeros((2, 494), np.float32), mode="int4")
    with pytest.raises(WeightsError, match="494"):
        layer(np.zeros((2, 26), np.float32))


# ---------- deepspeech_features ----------

def _windows_by_hand(F, n_context=9):
    """Row t = frames t-9 .. t+9 of F side by side, zero outside the utterance (a plain loop)."""
    T, C = F.shape
    out = np.zeros((T, (2 * n_context + 1) * C), np.float64)
    for t in range(T):
        for j in range(2 * n_context + 1):
            s = t + j - n_context
            if 0 <= s < T:
                out[t, j * C:(j + 1) * C] = F[s]
    return out


@pytest.mark.parametrize("step_ms", [20, 10])
def test_deepspeech_features_chain(layer, interpreter, rng, step_ms):
    """signal -> MFCC -> windows -> layer 1 against references built apart from deepspeech_features:
    the loop MFCC reference, hand-built windows, float64 min(relu(xW + b), 20) for the float mode,
    and the interpreter's Minimum tensor for the int8 mode (on the same MFCC, bit-exact)."""
    from ser_ref.audit.oracles import model_layers
    from ser_ref.frontend.tf_mfcc import mfcc_reference

    x = rng.normal(0, 0.1, 16000).astype(np.float32)
    n = 1 + (16000 - 512) // (16 * step_ms)
    h = deepspeech_features(x, layer, step_ms=step_ms)
    assert h.shape == (n, 2048) and h.dtype == np.float32
    win = _windows_by_hand(mfcc_reference(x, step_ms=step_ms).astype(np.float64))
    exact = np.minimum(np.maximum(win @ layer.W.astype(np.float64) + layer.b, 0.0), 20.0)
    assert np.abs(h - exact).max() <= 1e-4 * np.abs(exact).max()
    h8 = deepspeech_features(x, layer, step_ms=step_ms, mode="tflite-int8")
    m = n // 16 * 16
    ref8 = model_layers(interpreter, _windows_by_hand(mfcc(x, step_ms=step_ms))[:m].astype(np.float32))["Minimum"]
    np.testing.assert_array_equal(h8[:m], ref8)


# ---------- bad weight files ----------

def _assert_no_leftovers(folder, name):
    assert not (folder / name).exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(f".{name}.")], "temporary file left behind"


def test_corrupt_truncated_foreign_model(model_path, tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(WeightsError, match="junk.tflite.*not a TFLite"):
        export_model(junk, tmp_path / "out.npz")
    _assert_no_leftovers(tmp_path, "out.npz")
    short = tmp_path / "short.tflite"
    short.write_bytes(model_path.read_bytes()[: 2_000_000])
    with pytest.raises(WeightsError, match="short.tflite"):
        export_model(short, tmp_path / "out.npz")
    _assert_no_leftovers(tmp_path, "out.npz")
    with pytest.raises(WeightsError, match="not found|cannot read"):
        Layer1.from_model(tmp_path / "missing.tflite")


def test_random_bytes_behind_a_valid_identifier_raise_weights_error(model_path, tmp_path):
    rng = np.random.default_rng(7)
    head = model_path.read_bytes()[:200_000]
    for trial in range(30):
        if trial % 2:  # pure noise with the TFL3 identifier
            data = bytearray(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
            data[4:8] = b"TFL3"
        else:  # the real header with a few bytes flipped in the table region
            data = bytearray(head)
            for pos in rng.integers(8, 4096, 8):
                data[pos] ^= 0xFF
        p = tmp_path / f"bad{trial}.tflite"
        p.write_bytes(bytes(data))
        try:
            export_arrays(p)
        except WeightsError as exc:
            assert str(p) in str(exc)
        else:
            pytest.fail(f"trial {trial}: corrupt file accepted")


def test_corrupt_truncated_foreign_npz(npz, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(os.urandom(1000))
    with pytest.raises(WeightsError, match="bad.npz"):
        Layer1.from_weights(bad)
    bad.write_bytes(npz.read_bytes()[:100_000])
    with pytest.raises(WeightsError, match="bad.npz"):
        Layer1.from_weights(bad)
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(WeightsError, match="missing"):
        Layer1.from_weights(tmp_path / "foreign.npz")
    with np.load(npz) as z:
        d = dict(z)
    d["W1"] = d["W1"] * 1.01
    np.savez(tmp_path / "altered.npz", **d)
    with pytest.raises(WeightsError, match="disagrees"):
        Layer1.from_weights(tmp_path / "altered.npz")
    d = dict(np.load(npz))
    d["W1_q"] = d["W1_q"][:400]
    d["W1"] = d["W1"][:400]
    np.savez(tmp_path / "shape.npz", **d)
    with pytest.raises(WeightsError, match="494"):
        Layer1.from_weights(tmp_path / "shape.npz")


# ---------- fetch (with a local stand-in for the registry) ----------

def _sdist(tmp_path, member, payload):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    p = tmp_path / "armspeech-0.1.4.tar.gz"
    p.write_bytes(buf.getvalue())
    return p


def test_fetch_verifies_both_hashes(tmp_path):
    import hashlib

    payload = b"TFL3-not-really-a-model"
    sdist = _sdist(tmp_path, fetch_mod.MEMBER, payload)
    good = dict(sdist_sha256=hashlib.sha256(sdist.read_bytes()).hexdigest(),
                model_sha256=hashlib.sha256(payload).hexdigest())
    download = lambda dest, log: shutil.copy(sdist, dest / sdist.name)  # noqa: E731
    out = tmp_path / "m" / "model.tflite"
    fetch_mod.fetch_model(out, download=download, log=lambda *a: None, **good)
    assert out.read_bytes() == payload
    out.unlink()
    with pytest.raises(WeightsError, match="sha256 .* does not match"):
        fetch_mod.fetch_model(out, download=download, log=lambda *a: None, **{**good, "sdist_sha256": "0" * 64})
    with pytest.raises(WeightsError, match="sha256 .* does not match"):
        fetch_mod.fetch_model(out, download=download, log=lambda *a: None, **{**good, "model_sha256": "0" * 64})
    _assert_no_leftovers(out.parent, out.name)
    with pytest.raises(WeightsError, match="no member"):
        fetch_mod.fetch_model(out, download=download, log=lambda *a: None, **good, member="x/model.tflite")


def test_the_session_model_has_the_pinned_hash(model_path):
    """The model every test uses (../shared's copy or the registry download) is byte for byte the
    one fetch.py pins, so the oracle checks ran on the file the main job runs on."""
    if os.environ.get("SER_REF_MODEL"):
        pytest.skip(f"SER_REF_MODEL={os.environ['SER_REF_MODEL']} names another model on purpose")
    assert fetch_mod.sha256_file(model_path) == fetch_mod.MODEL_SHA256


def test_fetch_hashes_are_the_documented_ones():
    """fetch.py's pins are the ones docs/frontend.md states and, where ../shared is present, the
    ones its provenance note SOURCE.md gives."""
    texts = [(locations.REPO_ROOT / "docs" / "frontend.md").read_text()]
    source = locations.SHARED / "models" / "armspeech-0.1.4" / "SOURCE.md"
    texts += [source.read_text()] if source.exists() else []
    for text in texts:
        assert fetch_mod.SDIST_SHA256 in text and fetch_mod.MODEL_SHA256 in text and fetch_mod.MEMBER in text


# ---------- load_layer1 resolution order ----------

@pytest.fixture
def clean_load(monkeypatch):
    monkeypatch.setattr(load_mod, "_loaded", {})
    monkeypatch.delenv("SER_REF_MODEL", raising=False)


def test_load_explicit_tflite_exports_once(model_path, tmp_path, clean_load, capsys):
    a = load_layer1(model_path, weights_dir=tmp_path)
    written = list(tmp_path.glob("*.npz"))
    assert len(written) == 1 and "exporting" in capsys.readouterr().out
    load_mod._loaded.clear()
    b = load_layer1(model_path, weights_dir=tmp_path)
    assert "cached export" in capsys.readouterr().out
    np.testing.assert_array_equal(a.W, b.W)
    c = load_layer1(written[0], weights_dir=tmp_path, verbose=False)
    np.testing.assert_array_equal(a.W, c.W)


def _copying_fetch(model_path, calls):
    """A stand-in for the registry download: records each target in ``calls`` and copies the model there."""
    def fetch(out, log):
        calls.append(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_path, out)
        return out
    return fetch


def test_load_env_then_cache_then_fetch(model_path, npz, tmp_path, clean_load, monkeypatch):
    monkeypatch.setenv("SER_REF_MODEL", str(tmp_path / "nope.tflite"))
    with pytest.raises(WeightsError, match="SER_REF_MODEL"):
        load_layer1(weights_dir=tmp_path, verbose=False)
    monkeypatch.setenv("SER_REF_MODEL", str(npz))
    assert load_layer1(weights_dir=tmp_path, verbose=False).W.shape == (494, 2048)
    # no env, no ../shared: a cached registry export is used; without it the registry is fetched
    monkeypatch.delenv("SER_REF_MODEL")
    monkeypatch.setattr(load_mod.locations, "shared_model_path", lambda: None)
    calls = []
    fake_fetch = _copying_fetch(model_path, calls)

    wd = tmp_path / "weights"
    first = load_layer1(weights_dir=wd, verbose=False, fetch=fake_fetch)
    assert len(calls) == 1 and (wd / load_mod.REGISTRY_NPZ).exists()
    load_mod._loaded.clear()
    again = load_layer1(weights_dir=wd, verbose=False, fetch=fake_fetch)
    assert len(calls) == 1
    np.testing.assert_array_equal(first.W, again.W)


def test_model_tflite_is_found_as_the_main_job_finds_it(model_path, tmp_path, monkeypatch):
    """$SER_REF_MODEL (a .tflite, else an error naming it), ../shared, else the registry download in
    weights/cache: reused when its sha256 is the pinned one, fetched again when it is not."""
    monkeypatch.setenv("SER_REF_MODEL", str(tmp_path / "absent.tflite"))
    with pytest.raises(WeightsError, match="absent.tflite: file not found"):
        load_mod.model_tflite()
    (tmp_path / "w.npz").write_bytes(b"x")
    monkeypatch.setenv("SER_REF_MODEL", str(tmp_path / "w.npz"))
    with pytest.raises(WeightsError, match="w.npz: not a .tflite"):
        load_mod.model_tflite()
    monkeypatch.setenv("SER_REF_MODEL", str(model_path))
    assert load_mod.model_tflite() == model_path
    monkeypatch.delenv("SER_REF_MODEL")
    monkeypatch.setattr(load_mod.locations, "shared_model_path", lambda: None)
    calls = []
    fake_fetch = _copying_fetch(model_path, calls)

    wd = tmp_path / "weights"
    cached = wd / load_mod.REGISTRY_TFLITE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"a truncated download")
    found = load_mod.model_tflite(weights_dir=wd, fetch=fake_fetch, log=lambda *a: None)
    assert found == cached and calls == [cached]
    assert load_mod.model_tflite(weights_dir=wd, fetch=fake_fetch, log=lambda *a: None) == cached
    assert len(calls) == 1  # the verified file is reused


# ---------- CLI ----------

def test_cli_export(model_path, tmp_path, capsys):
    out = tmp_path / "cli.npz"
    assert cli_main(["export", "--model", str(model_path), "--out", str(out)]) == 0
    assert out.exists() and "layer 5" in capsys.readouterr().out
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"nope")
    assert cli_main(["export", "--model", str(bad), "--out", str(tmp_path / "x.npz")]) == 2
    assert "not a TFLite" in capsys.readouterr().err and not (tmp_path / "x.npz").exists()


# ---------- GPU ----------

@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")
def test_gpu_matches_cpu(layer, rng):
    import cupy

    from ser_ref import dispatch

    x = rng.normal(0, 8, size=(100, 494)).astype(np.float32)
    for mode in ("float", "tflite-int8"):
        g = cupy.asnumpy(dispatch.layer1(layer, cupy.asarray(x), mode))
        np.testing.assert_allclose(g, layer(x, mode=mode), atol=1e-4, rtol=1e-5)
    m = rng.normal(size=(30, 26)).astype(np.float32)
    np.testing.assert_array_equal(cupy.asnumpy(context_windows(cupy.asarray(m))), context_windows(m))
