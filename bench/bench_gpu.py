"""CPU vs GPU: every hot stage on every available backend, at two or three sizes, in one run.

    python bench/bench_gpu.py [--quick] [--repeats 5] [--cpu-budget 20] [--stages ...] [--reproduce quick|full] [--out JSON]

Stages (each row: time, throughput, GFLOP/s where it is a GEMM, ratio to the CPU path, to every
reference library measured in the same run, and to the device's measured ceiling):

    mfcc      batch of 3.5 s utterances          numpy (ser_ref.frontend.tf_mfcc.mfcc_reference), numba (ser_ref.frontend.tf_mfcc.mfcc),
                                                 cupy-generic (the reference on CuPy), cupy-fused
                                                 (ser_ref.gpu.tf_mfcc), librosa, torch
    layer1    context windows + layer 1, float and tflite-int8; numpy, cupy-generic, cupy-fused, torch
    lstm      one training step (forward + backward) of LSTM(tanh); numpy, cupy-generic, cupy-fused, torch
    dense1    one Dense1 training step 2048 -> 204 relu -> 4 + softmax-CE; numpy, cupy-generic, torch
    softmax   softmax-CE forward + backward; numpy, cupy-generic, cupy-fused, torch
    forest    predict_proba of a 200-tree forest on 88 features; numba, cupy-fused, scikit-learn
    ceiling   large GEMM (float32, no TF32) and large copy on the CPU (NumPy) and the GPU (cuBLAS, CuPy)

Backends that are not installed, or a GPU that is absent, give rows marked "skipped" with the
reason. A CPU backend is skipped at a size when its time at the previous size projects past
--cpu-budget seconds. Writes bench/results/<device>.json (device = the GPU's name, or
cpu-<model> on a machine without one) with the machine described, after every stage (with
"complete": false and the stages still pending until the last), so a run stopped at a time limit
keeps what it finished. bench/gpu_check.sh runs it on a lent GPU machine (docs/gpu.md).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ser_ref import dispatch  # noqa: E402
from ser_ref.files.atomic import write_json  # noqa: E402
from ser_ref.runtime.backend import gpu_available  # noqa: E402

SR = 16000
UTT_S = 3.5  # a typical RAVDESS utterance
HAS_GPU = gpu_available()


# ---------------------------------------------------------------- environment
def _optional(name):
    try:
        return __import__(name)
    except Exception:
        return None


torch = _optional("torch")
TORCH_CUDA = bool(torch is not None and torch.cuda.is_available())


def machine() -> dict:
    from machine_info import machine as describe

    m = describe(numpy=np.__version__, gpu=None, torch=getattr(torch, "__version__", None), torch_cuda=TORCH_CUDA)
    if HAS_GPU:
        import cupy as cp

        props = cp.cuda.runtime.getDeviceProperties(0)
        m["gpu"] = {"name": props["name"].decode(), "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
                    "sm_count": props["multiProcessorCount"], "cc": f"{props['major']}.{props['minor']}",
                    "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
                    "driver": cp.cuda.runtime.driverGetVersion(), "cupy": cp.__version__,
                    "tf32": os.environ.get("CUPY_TF32", "0")}
    return m


def device_slug(m: dict) -> str:
    name = m["gpu"]["name"] if m["gpu"] else f"cpu-{m['cpu_model']}"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ---------------------------------------------------------------- timing
def sync_gpu():
    import cupy as cp

    cp.cuda.Device().synchronize()


def sync_torch():
    if TORCH_CUDA:
        torch.cuda.synchronize()


def timed(fn, repeats: int, sync=None, warm: bool = True) -> float:
    """Median wall time of fn() (after one warm-up call that compiles kernels / plans FFTs)."""
    sync = sync or (lambda: None)
    if warm:
        fn()
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Bench:
    """Collects rows; knows which backends exist and the CPU time budget."""

    def __init__(self, repeats, cpu_budget):
        self.repeats, self.cpu_budget = repeats, cpu_budget
        self.rows = []
        self._last_cpu = {}  # (stage, backend) -> (work, seconds) of the previous size

    def run(self, stage, size, work, backend, fn, *, gpu=False, unit, flops=None, nbytes=None,
            needs=None, reference=False, sync=None, warm=True):
        row = {"stage": stage, "size": size, "backend": backend, "device": "gpu" if gpu else "cpu",
               "reference_lib": reference, "unit": unit, "work": work}
        if needs is not None:
            row["skipped"] = needs
        elif fn is None:
            row["skipped"] = "no GPU (CuPy with a CUDA device) on this machine" if gpu else "not available"
        elif not gpu:
            prev = self._last_cpu.get((stage, backend))
            if prev and prev[1] * work / prev[0] > self.cpu_budget:
                row["skipped"] = f"projected {prev[1] * work / prev[0]:.0f} s > --cpu-budget {self.cpu_budget:g} s"
        if "skipped" not in row:
            repeats = self.repeats if gpu else max(1, min(self.repeats, 3))
            warm = warm and (gpu or (stage, backend) not in self._last_cpu)  # CPU: warm at the first size only
            try:
                t = timed(fn, repeats, sync or (sync_gpu if gpu else None), warm)
            except Exception as exc:  # a backend that fails is reported, never silently dropped
                row["skipped"] = f"failed: {type(exc).__name__}: {exc}"[:300]
            else:
                row.update(seconds=t, throughput=work / t)
                if flops:
                    row["gflops"] = flops / t / 1e9
                if nbytes:
                    row["gbytes_per_s"] = nbytes / t / 1e9
                if not gpu:
                    self._last_cpu[(stage, backend)] = (work, t)
        self.rows.append(row)
        print(format_row(row), flush=True)
        return row


def format_row(r) -> str:
    head = f"{r['stage']:<8} {r['size']:<22} {r['backend']:<16}"
    if "skipped" in r:
        return f"{head} skipped: {r['skipped']}"
    extra = f"{r['gflops']:9.1f} GFLOP/s" if "gflops" in r else " " * 17
    return f"{head} {r['seconds'] * 1e3:11.3f} ms {r['throughput']:14.4g} {r['unit']:<12}{extra}"


# ---------------------------------------------------------------- inputs
def speech_signals(n, rng):
    """n utterances of UTT_S seconds: real RAVDESS speech when the corpus is there, noise otherwise."""
    from ser_ref.files import locations
    from ser_ref.frontend.audio import load_audio

    root = locations.ravdess_root()
    L = int(UTT_S * SR)
    pool = []
    if root is not None:
        for p in sorted(root.glob("Actor_*/*.wav"))[:32]:
            x = load_audio(p)
            pool.append(np.resize(x, L).astype(np.float32))
    if not pool:
        pool = [(0.1 * rng.standard_normal(L)).astype(np.float32) for _ in range(8)]
    return [pool[k % len(pool)] for k in range(n)]


# ---------------------------------------------------------------- stages
def bench_ceilings(b: Bench):
    n = 2048
    A = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b.run("ceiling", f"gemm {n}^3 f32", 2 * n**3, "numpy", lambda: A @ A, unit="flop/s", flops=2 * n**3)
    big = np.ones(64 << 20, np.float32)
    out = np.empty_like(big)
    b.run("ceiling", "copy 256 MiB", 2 * big.nbytes, "numpy", lambda: np.copyto(out, big), unit="B/s",
          nbytes=2 * big.nbytes)
    n = 8192
    if HAS_GPU:
        import cupy as cp

        Ag = cp.random.standard_normal((n, n), dtype=cp.float32)
        bigg = cp.ones(512 << 20, cp.float32)
        outg = cp.empty_like(bigg)
        gemm, copy = (lambda: Ag @ Ag), (lambda: cp.copyto(outg, bigg))
    else:
        gemm = copy = None
    b.run("ceiling", f"gemm {n}^3 f32", 2 * n**3, "cupy (cuBLAS)", gemm, gpu=True, unit="flop/s", flops=2 * n**3)
    b.run("ceiling", "copy 2 GiB", 2 * (2 << 30), "cupy", copy, gpu=True, unit="B/s", nbytes=2 * (2 << 30))


def _torch_mfcc_fn(sigs, device):
    """The same MFCC math in PyTorch (float64 FFT, the reference's filterbank and DCT matrices)."""
    from ser_ref.frontend import tf_mfcc as ref

    win, step, n_fft = 512, 320, 512
    H = ref.tf_mel_filterbank(n_fft // 2 + 1, SR, 40, 20.0, 8000.0)
    Ht = torch.tensor(H, device=device)
    Dt = torch.tensor(ref.dct_matrix(40, 26), device=device)
    w = torch.tensor(ref.hann_window(win), device=device)
    x = torch.tensor(np.stack(sigs), device=device)

    def run():
        frames = x.unfold(1, win, step).double() * w
        P = torch.fft.rfft(frames, n=n_fft, dim=-1).abs().square().float().double()
        return (torch.log(torch.clamp(P.sqrt() @ Ht, min=1e-12)) @ Dt).float()

    return run


def bench_mfcc(b: Bench, sizes, rng):
    from ser_ref.frontend.tf_mfcc import mfcc, mfcc_reference

    librosa = _optional("librosa")
    for n in sizes:
        sigs = speech_signals(n, rng)
        size, work = f"{n} x {UTT_S} s", n * UTT_S
        kw = dict(unit="audio s/s")
        b.run("mfcc", size, work, "numpy", lambda: [mfcc_reference(s) for s in sigs], **kw)
        b.run("mfcc", size, work, "numba", lambda: [mfcc(s) for s in sigs], **kw)
        b.run("mfcc", size, work, "librosa", (lambda: [librosa.feature.mfcc(
            y=s, sr=SR, n_mfcc=26, n_fft=512, hop_length=320, n_mels=40, fmin=20, fmax=8000, center=False)
            for s in sigs]) if librosa else None, needs=None if librosa else "librosa not installed",
            reference=True, **kw)
        b.run("mfcc", size, work, "torch-cpu", _torch_mfcc_fn(sigs, "cpu") if torch else None,
              needs=None if torch else "torch not installed", reference=True, **kw)
        if HAS_GPU:
            import cupy as cp

            from ser_ref.gpu.tf_mfcc import mfcc_batch

            dev = [cp.asarray(s) for s in sigs]
            batch, lengths = cp.asarray(np.stack(sigs)), np.full(n, len(sigs[0]))
            generic, fused = (lambda: [mfcc_reference(s) for s in dev]), (lambda: mfcc_batch(sigs))
            resident = lambda: mfcc_batch(batch, lengths=lengths)  # noqa: E731
        else:
            generic = fused = resident = None
        b.run("mfcc", size, work, "cupy-generic", generic, gpu=True, **kw)
        # from host audio (validation, packing and the transfer included) and from a batch already on the device
        b.run("mfcc", size, work, "cupy-fused", fused, gpu=True, nbytes=4 * n * UTT_S * SR, **kw)
        b.run("mfcc", size, work, "cupy-fused-resident", resident, gpu=True, nbytes=4 * n * UTT_S * SR, **kw)
        b.run("mfcc", size, work, "torch-cuda", _torch_mfcc_fn(sigs, "cuda") if TORCH_CUDA else None, gpu=True,
              needs=None if TORCH_CUDA else "torch with CUDA not available", reference=True, sync=sync_torch, **kw)


def bench_layer1(b: Bench, sizes, rng):
    from ser_ref.deepspeech import Layer1, context_windows

    H = 2048
    layer = Layer1(rng.integers(-127, 128, size=(494, H)).astype(np.int8), 0.0129,
                   rng.normal(0, 0.5, H).astype(np.float32))
    for R in sizes:
        F = (4 * rng.standard_normal((R, 26))).astype(np.float32)
        flops = 2 * R * 494 * H
        for mode in ("float", "tflite-int8"):
            st, size = f"layer1-{'f32' if mode == 'float' else 'int8'}", f"{R} frames"
            kw = dict(unit="frames/s", flops=flops)
            b.run(st, size, R, "numpy", lambda: layer(context_windows(F), mode=mode), **kw)
            if torch is not None and mode == "float":
                for dev in ("cpu", "cuda"):
                    ok = dev == "cpu" or TORCH_CUDA
                    fn = None
                    if ok:
                        Ft = torch.tensor(context_windows(F).copy(), device=dev)
                        Wt, bt = torch.tensor(layer.W, device=dev), torch.tensor(layer.b, device=dev)
                        fn = (lambda Ft=Ft, Wt=Wt, bt=bt: torch.clamp(torch.relu(Ft @ Wt + bt), max=20.0))
                    b.run(st, size, R, f"torch-{dev}", fn, gpu=dev == "cuda", reference=True,
                          needs=None if ok else "torch with CUDA not available", sync=sync_torch, **kw)
            if HAS_GPU:
                import cupy as cp

                from ser_ref.gpu.layer1 import layer1_batch

                Fd = cp.asarray(F)
                Wd = cp.asarray(layer.W if mode == "float" else layer.W_q.astype(np.float32))
                bd = cp.asarray(layer.b)
                Xd = cp.asarray(context_windows(F).copy())
                generic = lambda: dispatch.layer1(layer, context_windows(Fd), mode)  # noqa: E731
                fused = lambda: layer1_batch(Fd, Wd, bd, mode=mode, w_scale=layer.w_scale)  # noqa: E731
                gemm = lambda: Xd @ Wd  # noqa: E731  the cuBLAS rate for the same shape
            else:
                generic = fused = gemm = None
            b.run(st, size, R, "cupy-generic", generic, gpu=True, **kw)
            b.run(st, size, R, "cupy-fused", fused, gpu=True, **kw)
            b.run(st, size, R, "cuBLAS same shape", gemm, gpu=True, reference=True, **kw)


def bench_lstm(b: Bench, sizes, rng):
    from ser_ref.nn import lstm as ref

    for (B, T, n_in, Hd) in sizes:
        size, work = f"B{B} T{T} in{n_in} H{Hd}", B * T
        x = rng.standard_normal((B, T, n_in)).astype(np.float32)
        W = (0.1 * rng.standard_normal((n_in, 4 * Hd))).astype(np.float32)
        U = (0.1 * rng.standard_normal((Hd, 4 * Hd))).astype(np.float32)
        bias = np.zeros(4 * Hd, np.float32)
        dh = rng.standard_normal((B, T, Hd)).astype(np.float32)
        # forward: 2 T B (n_in + H) 4H, backward about twice that
        flops = 3 * 2 * B * T * (n_in + Hd) * 4 * Hd
        kw = dict(unit="frames/s", flops=flops)

        def step(mod, arrs, **kw):
            h, cache = mod.lstm_forward(*arrs[:4], "tanh", **kw)
            return mod.lstm_backward(arrs[4], cache, **kw)

        b.run("lstm", size, work, "numpy", lambda: step(ref, (x, W, U, bias, dh)), **kw)
        for dev in ("cpu", "cuda"):
            ok = torch is not None and (dev == "cpu" or TORCH_CUDA)
            fn = None
            if ok:
                lstm_t = torch.nn.LSTM(n_in, Hd, batch_first=True).to(dev)
                xt = torch.tensor(x, device=dev, requires_grad=True)
                dht = torch.tensor(dh, device=dev)

                def fn(lstm_t=lstm_t, xt=xt, dht=dht):
                    out, _ = lstm_t(xt)
                    out.backward(dht)
            b.run("lstm", size, work, f"torch-{dev}", fn, gpu=dev == "cuda", reference=True, sync=sync_torch,
                  needs=None if ok else f"torch{' with CUDA' if dev == 'cuda' else ''} not available", **kw)
        if HAS_GPU:
            import cupy as cp

            from ser_ref.gpu import lstm as fused_mod

            d = tuple(cp.asarray(a) for a in (x, W, U, bias, dh))
            generic = lambda: step(dispatch, d)  # noqa: E731  what the library runs on CuPy arrays
            stepwise = lambda: step(fused_mod, d, persistent=False)  # noqa: E731
            persistent = (lambda: step(fused_mod, d, persistent=True)) if Hd <= 256 else None
        else:
            generic = stepwise = persistent = None
        b.run("lstm", size, work, "cupy-generic", generic, gpu=True, **kw)
        # the default (ser_ref.gpu.lstm picks persistent for H <= PERSISTENT_MAX_H) is one of these two
        b.run("lstm", size, work, "cupy-fused-stepwise", stepwise, gpu=True, **kw)
        b.run("lstm", size, work, "cupy-fused-persistent", persistent, gpu=True, **kw)


def bench_dense1(b: Bench, sizes, rng):
    from ser_ref.nn.nets import mlp_init, mlp_loss_grads

    p = mlp_init(rng, [2048, 204, 4])
    for N in sizes:
        x = rng.standard_normal((N, 2048)).astype(np.float32)
        y = rng.integers(0, 4, N)
        size, flops = f"{N} frames", 3 * 2 * N * (2048 * 204 + 204 * 4)
        kw = dict(unit="frames/s", flops=flops)
        b.run("dense1", size, N, "numpy", lambda: mlp_loss_grads(p, x, y), **kw)
        for dev in ("cpu", "cuda"):
            ok = torch is not None and (dev == "cpu" or TORCH_CUDA)
            fn = None
            if ok:
                net = torch.nn.Sequential(torch.nn.Linear(2048, 204), torch.nn.ReLU(), torch.nn.Linear(204, 4)).to(dev)
                xt, yt = torch.tensor(x, device=dev), torch.tensor(y, device=dev)

                def fn(net=net, xt=xt, yt=yt):
                    net.zero_grad()
                    torch.nn.functional.cross_entropy(net(xt), yt).backward()
            b.run("dense1", size, N, f"torch-{dev}", fn, gpu=dev == "cuda", reference=True, sync=sync_torch,
                  needs=None if ok else f"torch{' with CUDA' if dev == 'cuda' else ''} not available", **kw)
        if HAS_GPU:
            import cupy as cp

            pd = {k: cp.asarray(v) for k, v in p.items()}
            xd, yd = cp.asarray(x), cp.asarray(y)
            generic = lambda: mlp_loss_grads(pd, xd, yd)  # noqa: E731
        else:
            generic = None
        b.run("dense1", size, N, "cupy-generic", generic, gpu=True, **kw)


def bench_softmax(b: Bench, sizes, rng):
    from ser_ref.nn import softmax_ce as ref

    def step(mod, z, y):
        _, cache = mod.softmax_cross_entropy_forward(z, y)
        return mod.softmax_cross_entropy_backward(cache)

    for N in sizes:
        z = rng.standard_normal((N, 4)).astype(np.float32)
        y = rng.integers(0, 4, N)
        size, kw = f"{N} x 4", dict(unit="rows/s", nbytes=N * (4 * 4 * 2 + 8))
        b.run("softmax", size, N, "numpy", lambda: step(ref, z, y), **kw)
        for dev in ("cpu", "cuda"):
            ok = torch is not None and (dev == "cpu" or TORCH_CUDA)
            fn = None
            if ok:
                zt = torch.tensor(z, device=dev, requires_grad=True)
                yt = torch.tensor(y, device=dev)
                fn = (lambda zt=zt, yt=yt: torch.nn.functional.cross_entropy(zt, yt).backward())
            b.run("softmax", size, N, f"torch-{dev}", fn, gpu=dev == "cuda", reference=True, sync=sync_torch,
                  needs=None if ok else f"torch{' with CUDA' if dev == 'cuda' else ''} not available", **kw)
        if HAS_GPU:
            import cupy as cp

            from ser_ref.gpu import softmax_ce as fused_mod

            zd, yd = cp.asarray(z), cp.asarray(y)
            generic, fused = (lambda: step(dispatch, zd, yd)), (lambda: fused_mod.softmax_cross_entropy_fused(zd, yd))
        else:
            generic = fused = None
        b.run("softmax", size, N, "cupy-generic", generic, gpu=True, **kw)
        b.run("softmax", size, N, "cupy-fused", fused, gpu=True, **kw)


def bench_forest(b: Bench, sizes, rng, n_trees=200):
    from ser_ref.forest.random_forest import RandomForest

    n_train, n_feat = 672, 88  # the RAVDESS 4-class corpus on eGeMAPS
    Xtr = rng.standard_normal((n_train, n_feat)).astype(np.float32)
    ytr = (Xtr[:, :4].argmax(1) + (Xtr[:, 4] > 1)) % 4
    rf = RandomForest(n_trees=n_trees, max_depth=None, seed=0).fit(Xtr, ytr)
    sk = _optional("sklearn.ensemble")
    if sk is not None:
        from sklearn.ensemble import RandomForestClassifier

        skf = RandomForestClassifier(n_estimators=n_trees, random_state=0, n_jobs=-1).fit(Xtr, ytr)
    for N in sizes:
        X = rng.standard_normal((N, n_feat)).astype(np.float32)
        size, kw = f"{N} x {n_feat}, {n_trees} trees", dict(unit="samples/s")
        b.run("forest", size, N, "numba", lambda: rf.predict_proba(X), **kw)
        b.run("forest", size, N, "sklearn", (lambda: skf.predict_proba(X)) if sk else None, reference=True,
              needs=None if sk else "scikit-learn not installed", **kw)
        if HAS_GPU:
            import cupy as cp

            from ser_ref.gpu.random_forest import predict_proba, trees_to_device

            flat, Xd = trees_to_device(rf.trees_), cp.asarray(X)
            fused = lambda: predict_proba(Xd, *flat)  # noqa: E731
        else:
            fused = None
        b.run("forest", size, N, "cupy-fused", fused, gpu=True, **kw)


def bench_reproduce(b: Bench, how: str):
    """End-to-end wall time of python -m ser_ref.reproduce on the RAVDESS corpus, CPU and GPU."""
    import tempfile

    for device in ("cpu", "gpu"):
        cmd = [sys.executable, "-m", "ser_ref.commands.reproduce", "--corpus", "ravdess", "--device", device]
        cmd += ["--quick"] if how == "quick" else []
        row = {"stage": "reproduce", "size": f"ravdess {how}", "backend": f"ser_ref --device {device}",
               "device": device, "unit": "runs/s", "work": 1, "command": " ".join(cmd[1:])}
        if device == "gpu" and not HAS_GPU:
            row["skipped"] = "no GPU (CuPy with a CUDA device) on this machine"
        else:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                res = subprocess.run(cmd + ["--out", tmp], cwd=ROOT, capture_output=True, text=True)
                t = time.perf_counter() - t0
            if res.returncode != 0:
                row["skipped"] = f"failed (rc {res.returncode}): {res.stderr[-300:]}"
            else:
                row.update(seconds=t, throughput=1 / t)
        b.rows.append(row)
        print(format_row(row), flush=True)


# ---------------------------------------------------------------- ratios
def add_ratios(rows):
    """vs: this row's speed over each other backend's in the same stage and size (>1: this one is faster);
    ceiling: GEMM rows against the measured GEMM rate of their device, others against its copy rate.
    Sets these keys on the rows in place (again on each call) and returns the rows."""
    ok = [r for r in rows if "seconds" in r]
    ceil = {}
    for r in ok:
        if r["stage"] == "ceiling":
            key = ("gemm" if "gflops" in r else "copy", r["device"])
            ceil[key] = r.get("gflops") or r.get("gbytes_per_s")
    cpu_path = {"numpy", "numba"}
    for r in ok:
        peers = [p for p in ok if p["stage"] == r["stage"] and p["size"] == r["size"] and p is not r]
        r["vs"] = {p["backend"]: p["seconds"] / r["seconds"] for p in peers}
        # the CPU path is what ser_ref runs by default: Numba where a stage has it, else NumPy
        base = sorted((p for p in peers if p["backend"] in cpu_path), key=lambda p: p["backend"] != "numba")
        if base:
            r["x_cpu_path"], r["cpu_path"] = base[0]["seconds"] / r["seconds"], base[0]["backend"]
        if r["stage"] != "ceiling":
            if "gflops" in r and ("gemm", r["device"]) in ceil:
                r["frac_of_ceiling"] = r["gflops"] / ceil[("gemm", r["device"])]
            elif "gbytes_per_s" in r and ("copy", r["device"]) in ceil:
                r["frac_of_ceiling"] = r["gbytes_per_s"] / ceil[("copy", r["device"])]
    return rows


def table(rows) -> str:
    lines = [f"{'stage':<12} {'size':<24} {'backend':<18} {'time':>12} {'throughput':>22} {'GFLOP/s':>9} "
             f"{'x CPU':>8} {'x best ref':>10} {'ceiling':>8}"]
    for r in rows:
        head = f"{r['stage']:<12} {r['size']:<24} {r['backend']:<18}"
        if "skipped" in r:
            lines.append(f"{head} skipped: {r['skipped']}")
            continue
        refs = [v for k, v in r.get("vs", {}).items()
                if any(p["backend"] == k and p.get("reference_lib") for p in rows if p["stage"] == r["stage"])]
        gf = f"{r['gflops']:9.1f}" if "gflops" in r else " " * 9
        xc = f"{r['x_cpu_path']:8.2f}" if "x_cpu_path" in r else " " * 8
        xr = f"{min(refs):10.2f}" if refs and not r.get("reference_lib") else " " * 10
        ce = f"{100 * r['frac_of_ceiling']:7.1f}%" if "frac_of_ceiling" in r else " " * 8
        lines.append(f"{head} {r['seconds'] * 1e3:9.2f} ms {r['throughput']:12.4g} {r['unit']:<9} {gf} {xc} {xr} {ce}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cpu-budget", type=float, default=20.0, help="seconds a CPU backend may take per size")
    ap.add_argument("--stages", default="ceiling,mfcc,layer1,lstm,dense1,softmax,forest")
    ap.add_argument("--reproduce", choices=("quick", "full"), help="also time python -m ser_ref.reproduce")
    ap.add_argument("--out", type=Path, help="JSON path (default bench/results/<device>.json)")
    args = ap.parse_args(argv)
    n_sizes = 2 if args.quick else 3
    rng = np.random.default_rng(0)
    m = machine()
    print(f"machine: {m['cpu_model']} x{m['cpu_count']}; GPU: {m['gpu']['name'] if m['gpu'] else 'none'}; "
          f"torch {m['torch']} (cuda {m['torch_cuda']})")
    if not HAS_GPU:
        print("no GPU: every cupy row is skipped (CPU rows still run)")
    b = Bench(args.repeats, args.cpu_budget)
    stages = {
        "ceiling": lambda: bench_ceilings(b),
        "mfcc": lambda: bench_mfcc(b, [16, 128, 1024][:n_sizes], rng),
        "layer1": lambda: bench_layer1(b, [2048, 16384, 131072][:n_sizes], rng),
        "lstm": lambda: bench_lstm(b, [(32, 40, 4, 20), (256, 100, 26, 20), (256, 200, 2048, 128)][:n_sizes], rng),
        "dense1": lambda: bench_dense1(b, [2048, 16384, 65536][:n_sizes], rng),
        "softmax": lambda: bench_softmax(b, [4096, 65536, 1 << 20][:n_sizes], rng),
        "forest": lambda: bench_forest(b, [672, 10000, 100000][:n_sizes], rng),
    }
    cmd = ("python bench/bench_gpu.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    out = args.out or ROOT / "bench" / "results" / f"{device_slug(m)}.json"
    names = args.stages.split(",")
    for i, name in enumerate(names):
        run_stage(b, name, stages[name])
        # after every stage: a run stopped by a time limit still leaves the stages it finished
        save(out, cmd, m, b.rows, complete=False, pending=names[i + 1:])
    if args.reproduce:
        bench_reproduce(b, args.reproduce)
    print(f"\n$ {cmd}\n{table(add_ratios(b.rows))}")
    save(out, cmd, m, b.rows, complete=True, pending=[])
    print(f"wrote {out}")


def run_stage(b: Bench, name: str, stage) -> None:
    """One stage; an error in its set-up (not in a timed row, which Bench.run reports) becomes a row
    saying so, and the next stage still runs."""
    try:
        stage()
    except Exception as exc:
        row = {"stage": name, "size": "-", "backend": "-", "device": "-", "unit": "-", "work": 0,
               "skipped": f"stage failed: {type(exc).__name__}: {exc}"[:300]}
        b.rows.append(row)
        print(format_row(row), flush=True)


def save(out, cmd, m, rows, *, complete: bool, pending) -> None:
    """The results JSON; ``complete`` is False (and ``pending`` names the stages not run) while the run is
    still going, which is what a run killed at a time limit leaves behind."""
    rows = add_ratios(rows)
    write_json(out, {"command": cmd, "machine": m, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "gpu_rows_skipped": not HAS_GPU, "complete": complete, "pending_stages": pending,
                     "rows": rows, "table": table(rows)})


if __name__ == "__main__":
    main()
