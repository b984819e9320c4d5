"""The ser_ref.gpu kernels and their host code, run on the CPU by tests/_cuda_emulator.py (g++),
against the NumPy references. This checks indexing, argument plumbing and the math of every
kernel where no GPU is lent; tests/test_gpu_*.py check the real thing on a device."""
from __future__ import annotations

import numpy as np
import pytest

from _cuda_emulator import GXX, fake_cupy
from ser_ref import dispatch
from ser_ref.deepspeech import Layer1, context_windows
from ser_ref.forest.random_forest import RandomForest
from ser_ref.gpu import _cuda, layer1, lstm, random_forest, softmax_ce, tf_mfcc
from ser_ref.frontend.tf_mfcc import mfcc_reference
from ser_ref.nn import lstm as lstm_ref
from ser_ref.nn import softmax_ce as ce_ref

pytestmark = pytest.mark.skipif(GXX is None, reason="g++ is needed to emulate the CUDA kernels on the CPU")


@pytest.fixture
def emu(monkeypatch):
    fake = fake_cupy()
    for mod in (_cuda, tf_mfcc, layer1, lstm, softmax_ce, random_forest):
        monkeypatch.setattr(mod, "cupy", lambda: fake)
    _cuda._module.cache_clear()
    yield fake
    _cuda._module.cache_clear()


def test_mfcc_batch(emu, rng):
    sigs = [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in (512, 1700, 2900)]
    feats, n_frames = tf_mfcc.mfcc_batch(sigs)
    for k, s in enumerate(sigs):
        ref = mfcc_reference(s)
        assert n_frames[k] == len(ref)
        np.testing.assert_allclose(feats[k, : n_frames[k]], ref, rtol=1e-6, atol=1e-5)
        assert not feats[k, n_frames[k]:].any()
    ref = mfcc_reference(sigs[2], step_ms=10, n_mfcc=13)
    np.testing.assert_allclose(tf_mfcc.mfcc(sigs[2], step_ms=10, n_mfcc=13), ref, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode", ["float", "tflite-int8"])
def test_layer1_batch(emu, rng, mode):
    H = 8
    layer = Layer1(rng.integers(-127, 128, size=(494, H)).astype(np.int8), 0.0129,
                   rng.normal(0, 0.5, H).astype(np.float32))
    lens = [6, 2]
    F = np.full((2, 6, 26), 1e3, np.float32)  # padding past n_frames must never be read
    for k, n in enumerate(lens):
        F[k, :n] = 4 * rng.standard_normal((n, 26))
    W = layer.W if mode == "float" else layer.W_q
    got = layer1.layer1_batch(F, W, layer.b, n_frames=lens, mode=mode, w_scale=layer.w_scale)
    ref = np.concatenate([layer(context_windows(F[k, :n]), mode=mode) for k, n in enumerate(lens)])
    # int8: exact (integer sums); float: the BLAS may block the GEMM differently for different shapes
    same = np.testing.assert_array_equal if mode != "float" else (
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5))
    same(got, ref)
    X = rng.standard_normal((3, 494)).astype(np.float32)
    X[1] = 0  # the m = 0 row of the int8 mode
    same(layer1.layer1_forward(X, W, layer.b, mode=mode, w_scale=layer.w_scale), layer(X, mode=mode))
    np.testing.assert_array_equal(layer1.context_windows(F[0, :5], n_frames=None), context_windows(F[0, :5]))


LSTM_TOL = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=2e-5, atol=2e-6)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("persistent", [False, True])
def test_lstm(emu, rng, dtype, activation, masked, persistent):
    B, T, n_in, H = 3, 5, 4, 3
    x = rng.standard_normal((B, T, n_in)).astype(dtype)
    W, U, b = (a.astype(dtype) for a in (rng.normal(0, 0.5, (n_in, 4 * H)), rng.normal(0, 0.5, (H, 4 * H)),
                                          rng.normal(0, 0.2, 4 * H)))
    mask = (np.arange(T)[None] < np.array([[5], [2], [4]])).astype(dtype) if masked else None
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    tol = LSTM_TOL[dtype]
    h_ref, c_ref = lstm_ref.lstm_forward_reference(x, W, U, b, activation, mask)
    h, cache = lstm.lstm_forward(x, W, U, b, activation, mask, persistent=persistent)
    assert h.dtype == dtype and all(c.dtype == dtype for c in cache[5:])
    np.testing.assert_allclose(h, h_ref, **tol)
    for c, r in zip(cache[5:], c_ref[5:]):  # gates, c', hs, cs: the caches hold the same arrays
        np.testing.assert_allclose(c, r, **tol)
    grads_ref = lstm_ref.lstm_backward_reference(dh, c_ref)
    # every forward's cache with every backward: this path's, the other fused path's, the reference's
    for fused_cache, other in ((cache, persistent), (cache, not persistent), (c_ref, persistent)):
        for g, r in zip(lstm.lstm_backward(dh, fused_cache, persistent=other), grads_ref):
            np.testing.assert_allclose(g, r, **tol)
    assert lstm.lstm_backward(dh, cache, need_dx=False, persistent=persistent)[0] is None


def test_lstm_refuses_mixed_dtypes(emu, rng):
    """The kernels read every pointer as real_t: float32 x with float64 weights must not reach them."""
    from ser_ref.errors import BackendError

    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    W, U, b = rng.normal(size=(4, 8)), rng.normal(size=(2, 8)), rng.normal(size=8)
    with pytest.raises(BackendError, match="lstm_forward: .*x float32, W float64"):
        lstm.lstm_forward(x, W, U, b)
    h, cache = lstm.lstm_forward(x, *(a.astype(np.float32) for a in (W, U, b)))
    with pytest.raises(BackendError, match="lstm_backward: .*dh float64, x float32"):
        lstm.lstm_backward(np.ones(h.shape), cache)


def test_softmax_ce_refuses_labels_out_of_range(emu, rng):
    """The reference refuses labels outside [0, K) (NumPy would wrap y = -1 to the last class);
    the kernel, which indexes unchecked, would read out of bounds: the GPU entry points refuse them too."""
    from ser_ref.nn.validation import NNInputError

    z = rng.standard_normal((5, 4))
    for y in (np.array([0, 1, 4, 2, 3]), np.array([0, -1, 2, 2, 3])):
        for fn in (ce_ref.softmax_cross_entropy_forward, softmax_ce.softmax_cross_entropy_forward,
                   softmax_ce.softmax_cross_entropy_fused):
            with pytest.raises(NNInputError, match=r"labels y must lie in \[0, 4\)"):
                fn(z, y)
    with pytest.raises(NNInputError, match="integer class indices"):
        softmax_ce.softmax_cross_entropy_forward(z, np.zeros(5))
    _, cache = softmax_ce.softmax_cross_entropy_forward(z, np.array([0, 1, 2, 3, 3]))
    with pytest.raises(NNInputError, match=r"labels y must lie in \[0, 4\)"):
        softmax_ce.softmax_cross_entropy_backward((cache[0], np.array([0, 1, 2, 3, 9]), *cache[2:]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_ce(emu, rng, dtype):
    z = (5 * rng.standard_normal((40, 4))).astype(dtype)
    z[0] = [800, -800, 0, 1]
    y, w = rng.integers(0, 4, 40), rng.uniform(0.5, 2, 40).astype(dtype)
    L_ref, c_ref = ce_ref.softmax_cross_entropy_forward(z, y, w)
    L, cache = softmax_ce.softmax_cross_entropy_forward(z, y, w)
    tol = dict(rtol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(L), float(L_ref), **tol)
    np.testing.assert_allclose(softmax_ce.softmax_cross_entropy_backward(cache, 0.7),
                               ce_ref.softmax_cross_entropy_backward(c_ref, 0.7), **tol)
    L2, dz = softmax_ce.softmax_cross_entropy_fused(z, y, w)
    np.testing.assert_allclose(float(L2), float(L_ref), **tol)
    np.testing.assert_allclose(dz, ce_ref.softmax_cross_entropy_backward(c_ref), **tol)


def test_forest(emu, rng):
    X = rng.standard_normal((200, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 2] > 0.3)
    rf = RandomForest(n_trees=7, max_depth=6, seed=1).fit(X, y)
    Xt = rng.standard_normal((60, 6)).astype(np.float32)
    np.testing.assert_array_equal(random_forest.predict_proba(Xt, *rf.trees_), rf.predict_proba(Xt))
    on_device = random_forest.trees_to_device(rf.trees_)
    np.testing.assert_array_equal(random_forest.predict_proba(Xt, *on_device), rf.predict_proba(Xt))


def test_dispatch_hands_every_op_to_its_kernel(emu, rng, monkeypatch):
    """With the arrays (or the device) on the GPU, each op of ser_ref.dispatch reaches the gpu module
    named in its table, with its arguments in the right places, and agrees with the CPU function."""
    from ser_ref.runtime import backend

    monkeypatch.setattr(backend, "array_module", lambda *arrays: emu)
    monkeypatch.setattr(backend, "get_xp", lambda device="cpu": emu if device == "gpu" else np)
    table = dispatch.mirrors()
    x = rng.standard_normal((2, 4, 3))
    assert all(dispatch.for_arrays(op, x) is gpu for op, (cpu, gpu) in table.items())
    assert dispatch.for_device("forest_predict_proba", "gpu") is random_forest.predict_proba

    sig = (0.3 * rng.standard_normal(2000)).astype(np.float32)
    np.testing.assert_allclose(dispatch.mfcc(sig, step_ms=10), mfcc_reference(sig, step_ms=10), rtol=1e-6, atol=1e-5)
    layer = Layer1(rng.integers(-127, 128, size=(494, 5)).astype(np.int8), 0.0129, rng.normal(0, 0.5, 5).astype(np.float32))
    X = rng.standard_normal((3, 494)).astype(np.float32)
    np.testing.assert_array_equal(dispatch.layer1(layer, X, "tflite-int8"), layer(X, mode="tflite-int8"))
    W, U, b = rng.normal(0, 0.5, (3, 8)), rng.normal(0, 0.5, (2, 8)), rng.normal(0, 0.2, 8)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], float)
    h, cache = dispatch.lstm_forward(x, W, U, b, "relu", mask)
    h_ref, c_ref = lstm_ref.lstm_forward_reference(x, W, U, b, "relu", mask)
    np.testing.assert_allclose(h, h_ref, **LSTM_TOL[np.float64])
    for g, r in zip(dispatch.lstm_backward(np.ones_like(h), cache, False)[1:],
                    lstm_ref.lstm_backward_reference(np.ones_like(h), c_ref)[1:]):
        np.testing.assert_allclose(g, r, **LSTM_TOL[np.float64])
    z, y, w = rng.standard_normal((6, 4)), rng.integers(0, 4, 6), rng.uniform(0.5, 2, 6)
    L, cache = dispatch.softmax_cross_entropy_forward(z, y, w)
    L_ref, c_ref = ce_ref.softmax_cross_entropy_forward(z, y, w)
    np.testing.assert_allclose(float(L), float(L_ref), rtol=1e-12)
    np.testing.assert_allclose(dispatch.softmax_cross_entropy_backward(cache, 0.5),
                               ce_ref.softmax_cross_entropy_backward(c_ref, 0.5), rtol=1e-12)
    Xf = rng.standard_normal((40, 3)).astype(np.float32)
    rf = RandomForest(n_trees=4, max_depth=4, seed=2).fit(Xf, (Xf[:, 0] > 0).astype(int))
    np.testing.assert_array_equal(dispatch.forest_predict_proba(Xf, *rf.trees_, device="gpu"), rf.predict_proba(Xf))


def test_bench_gpu_rows_run(emu, monkeypatch, rng):
    """Every GPU row of bench/bench_gpu.py runs (on the emulator, at toy sizes) without failing, so
    a GPU session does not spend device time finding a typo in the benchmark."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu_under_test", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setitem(sys.modules, "cupy", emu)
    monkeypatch.setattr(bench, "HAS_GPU", True)
    monkeypatch.setattr(bench, "sync_gpu", lambda: None)
    monkeypatch.setattr(bench, "UTT_S", 0.06)
    b = bench.Bench(repeats=1, cpu_budget=60)
    bench.bench_mfcc(b, [2], rng)
    bench.bench_layer1(b, [3], rng)
    bench.bench_lstm(b, [(2, 3, 4, 5)], rng)
    bench.bench_dense1(b, [4], rng)
    bench.bench_softmax(b, [8], rng)
    bench.bench_forest(b, [5], rng, n_trees=3)
    bench.add_ratios(b.rows)
    bench.table(b.rows)
    gpu_rows = [r for r in b.rows if r["backend"].startswith("cupy") or r["backend"].startswith("cuBLAS")]
    assert len(gpu_rows) >= 15
    failed = [(r["stage"], r["backend"], r.get("skipped")) for r in gpu_rows if "seconds" not in r]
    assert not failed


@pytest.mark.parametrize("mode", ["float", "tflite-int8"])
def test_deepspeech_features_batch_gpu_path(emu, rng, monkeypatch, mode):
    """The batched GPU feature path (one MFCC batch, windows gathered in the layer-1 kernel) equals
    the per-utterance CPU path."""
    from ser_ref.runtime import backend

    monkeypatch.setattr(backend, "get_xp", lambda device="cpu": emu if device == "gpu" else np)
    H = 8
    layer = Layer1(rng.integers(-127, 128, size=(494, H)).astype(np.int8), 0.0129,
                   rng.normal(0, 0.5, H).astype(np.float32))
    sigs = [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in (700, 2100, 3300)]
    got = dispatch.deepspeech_features_batch(sigs, layer, mode=mode, device="gpu")
    ref = dispatch.deepspeech_features_batch(sigs, layer, mode=mode, device="cpu")
    assert [g.shape for g in got] == [r.shape for r in ref]
    for g, r in zip(got, ref):
        # the MFCC differ by float32 rounding (cuFFT vs pocketfft), which int8 quantisation can amplify
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=2e-2 if mode != "float" else 1e-4)


def test_corpus_layer1_extraction_on_device_matches_cpu(emu, rng, monkeypatch, tmp_path):
    """The layer-1 kind's extraction with device "gpu" batches on the device and caches apart from the CPU's."""
    import soundfile as sf

    from ser_ref.runtime import backend
    from ser_ref.evaluation import feature_kinds
    from ser_ref.evaluation.executors import SerialExecutor

    monkeypatch.setattr(backend, "get_xp", lambda device="cpu": emu if device == "gpu" else np)
    H = 8
    layer = Layer1(rng.integers(-127, 128, size=(494, H)).astype(np.int8), 0.0129,
                   rng.normal(0, 0.5, H).astype(np.float32))
    monkeypatch.setattr(feature_kinds, "_layer1", lambda weights: layer)
    paths = []
    for k, n in enumerate((900, 2500, 1600)):
        paths.append(tmp_path / f"u{k}.wav")
        sf.write(paths[-1], (0.3 * rng.standard_normal(n) * 32767).astype(np.int16), 16000, subtype="PCM_16")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk" * 100)
    params = {"weights": "w.npz", "weights_sha256": "x", "step_ms": 20, "mode": "float"}
    kind = feature_kinds.KINDS["layer1"]
    (cpu,), cpu_err = kind.extract(paths, [{**params, "device": "cpu"}], tmp_path / "c", SerialExecutor())
    (gpu,), gpu_err = kind.extract(paths + [bad], [{**params, "device": "gpu"}], tmp_path / "c", None)
    assert not cpu_err and len(gpu_err) == 1 and "bad.wav" in gpu_err[0] and gpu[-1] == ""
    assert set(cpu).isdisjoint(gpu[:3])  # the device is part of the cache key
    for c, g in zip(cpu, gpu):
        np.testing.assert_allclose(np.load(g), np.load(c), rtol=1e-4, atol=1e-4)


def test_an_all_bad_batch_on_the_device_is_counted_not_fatal(emu, rng, monkeypatch, tmp_path):
    """A batch whose files are all bad (the last one of a corpus, say) leaves them out with their
    names; it used to reach gpu.tf_mfcc.mfcc_batch([]) and abort the whole run."""
    from ser_ref.runtime import backend
    from ser_ref.evaluation import feature_kinds

    monkeypatch.setattr(backend, "get_xp", lambda device="cpu": emu if device == "gpu" else np)
    layer = Layer1(rng.integers(-127, 128, size=(494, 8)).astype(np.int8), 0.0129,
                   rng.normal(0, 0.5, 8).astype(np.float32))
    monkeypatch.setattr(feature_kinds, "_layer1", lambda weights: layer)
    assert dispatch.deepspeech_features_batch([], layer, device="gpu") == []
    bad = [tmp_path / "empty.wav", tmp_path / "junk.wav"]
    bad[0].write_bytes(b"")
    bad[1].write_bytes(b"junk" * 100)
    params = {"weights": "w.npz", "weights_sha256": "x", "step_ms": 20, "mode": "float", "device": "gpu"}
    (npys,), errors = feature_kinds.KINDS["layer1"].extract(bad, [params], tmp_path / "c", None)
    assert npys == ["", ""] and len(errors) == 2
    assert "empty.wav" in errors[0] and "junk.wav" in errors[1]
