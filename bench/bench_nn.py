"""Training-step time of ser_ref.nn against PyTorch on the CPU, same shapes, same run.

    python bench/bench_nn.py [--batch 32] [--frames 300] [--features 2048] [--repeats 5]

Frame Dense: one step (forward + backward of the weighted softmax-CE) on batch*frames frames of
`features` dims through 2048 -> 204 relu -> 4. LSTM: one step of LSTM(20) -> dense softmax on the
last state over a (batch, frames, features) batch (tanh, PyTorch's only cell; ours with relu as well).
LSTM time loop: forward + backward of LSTM(20, relu) alone at the paper's two shapes (the utterance
LSTM on 100 frames of layer 1; LSTM2 on 20-frame chunks of 4 probabilities), the compiled loop
(nn/lstm_loop.py) against the NumPy reference loop of nn/lstm.py. Adam: one update of the Dense
net's 2048 x 204 weights, compiled pass against the array formula (bit-identical results).
PyTorch runs with all cores and with one thread; the faster is the reference. Medians of --repeats
rounds in which every contender is timed in turn (load changes hit all alike).
Prints our time / PyTorch's time and writes bench/results/nn-cpu.json with the machine described.
Also measures the peak memory (tracemalloc) of a FrameDense fit on a corpus-sized feature list.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_info import machine  # noqa: E402
from ser_ref.files.atomic import write_json  # noqa: E402
from ser_ref.nn import FrameDense, TrainConfig  # noqa: E402
from ser_ref.nn.lstm import lstm_backward, lstm_backward_reference, lstm_forward, lstm_forward_reference
from ser_ref.nn.nets import lstm_clf_init, lstm_clf_loss_grads, mlp_init, mlp_loss_grads  # noqa: E402
from ser_ref.nn.optim import adam_init, adam_step, adam_update_arrays  # noqa: E402


def interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, timed in turn round after round (after one warm-up round), so
    that a change in the machine's load during the run hits every contender alike. ``fns`` maps a name
    to a zero-argument function."""
    times = {k: [] for k in fns}
    for r in range(repeats + 1):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            if r:
                times[k].append(time.perf_counter() - t)
    return {f"{k}_s": statistics.median(v) for k, v in times.items()}


def with_threads(torch, threads, step):
    def run():
        torch.set_num_threads(threads)
        # PyTorch's own cure for subnormal slowdowns (ours flushes by hand). It sets the CPU's
        # flush-to-zero mode for the whole process, NumPy included, so it is on only for PyTorch's turn.
        torch.set_flush_denormal(True)
        try:
            step()
        finally:
            torch.set_flush_denormal(False)
    return run


def torch_variants(torch, step) -> dict:
    """PyTorch with all cores and with one thread: on a shared, loaded machine OpenMP threads can lose
    more than they gain, so the faster of the two is the reference."""
    if torch is None:
        return {}
    return {f"torch_{n}thr": with_threads(torch, n, step) for n in sorted({os.cpu_count(), 1}, reverse=True)}


def reference(out: dict) -> None:
    torch_times = [v for k, v in out.items() if k.startswith("torch_")]
    if torch_times:
        out["torch_s"] = min(torch_times)


def bench_dense(args, rng, torch):
    N, D, Hd, K = args.batch * args.frames, args.features, 204, 4
    x = rng.normal(size=(N, D)).astype(np.float32)
    y = rng.integers(0, K, N)
    w = np.ones(N, dtype=np.float32)
    p = mlp_init(rng, [D, Hd, K])
    fns = {"ours": lambda: mlp_loss_grads(p, x, y, w)}
    if torch is not None:
        net = torch.nn.Sequential(torch.nn.Linear(D, Hd), torch.nn.ReLU(), torch.nn.Linear(Hd, K))
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def step():
            net.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(xt), yt).backward()
        fns.update(torch_variants(torch, step))
    out = {"shape": f"{N} frames x {D} -> {Hd} relu -> {K}", **interleaved(fns, args.repeats)}
    reference(out)
    if "torch_s" in out:
        out["ratio"] = out["ours_s"] / out["torch_s"]
    return out


def bench_lstm(args, rng, torch):
    B, T, D, H, K = args.batch, args.frames, args.features, 20, 4
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    y = rng.integers(0, K, B)
    w = np.ones(B, dtype=np.float32)
    p = lstm_clf_init(rng, D, H, K)
    fns = {f"ours_{act}": (lambda act=act: lstm_clf_loss_grads(p, x, y, w, activation=act)) for act in ("tanh", "relu")}
    if torch is not None:
        lstm, lin = torch.nn.LSTM(D, H, batch_first=True), torch.nn.Linear(H, K)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def step():
            lstm.zero_grad(set_to_none=True)
            lin.zero_grad(set_to_none=True)
            h, _ = lstm(xt)
            torch.nn.functional.cross_entropy(lin(h[:, -1]), yt).backward()
        fns.update(torch_variants(torch, step))
    out = {"shape": f"({B}, {T}, {D}) -> LSTM({H}) -> {K}", **interleaved(fns, args.repeats)}
    reference(out)
    if "torch_s" in out:
        out["ratio_tanh"] = out["ours_tanh_s"] / out["torch_s"]
        out["ratio_relu"] = out["ours_relu_s"] / out["torch_s"]
    return out


def bench_lstm_loop(args, rng):
    """The compiled time loop against the NumPy reference loop, same inputs, same run (one thread
    each: the loops are serial, and BLAS is pinned by the caller's environment if at all)."""
    out = {}
    for name, (B, T, D) in {"utterance_lstm": (32, 100, 2048), "lstm2_chunks": (32, 20, 4)}.items():
        H = 20
        x = rng.normal(size=(B, T, D)).astype(np.float32)
        W = (rng.normal(size=(D, 4 * H)) / np.sqrt(D)).astype(np.float32)
        U = (rng.normal(size=(H, 4 * H)) * 0.3).astype(np.float32)
        b = np.zeros(4 * H, np.float32)
        dh = rng.normal(size=(B, T, H)).astype(np.float32)

        def step(fwd, bwd):
            return lambda: bwd(dh, fwd(x, W, U, b, "relu")[1], need_dx=False)
        t = interleaved({"compiled": step(lstm_forward, lstm_backward),
                         "reference": step(lstm_forward_reference, lstm_backward_reference)}, args.repeats)
        out[name] = {"shape": f"({B}, {T}, {D}) -> LSTM({H}, relu)", **t,
                     "ratio": t["compiled_s"] / t["reference_s"]}
    return out


def bench_adam(args, rng):
    shape = (2048, 204)
    p = {"W0": rng.normal(size=shape).astype(np.float32)}
    g = {"W0": rng.normal(size=shape).astype(np.float32)}
    state = adam_init(p)
    m, v = state["m"]["W0"], state["v"]["W0"]
    t = interleaved({"compiled": lambda: adam_step(p, g, state),
                     "arrays": lambda: adam_update_arrays(p["W0"], g["W0"], m, v, 0.9, 0.999, 1e-3, 1e-7)},
                    args.repeats * 5)
    return {"shape": f"{shape[0]} x {shape[1]} float32", **t, "ratio": t["compiled_s"] / t["arrays_s"]}


def bench_memory(rng, n_utt=240, frames=100, D=2048):
    """Peak traced memory of FrameDense.fit (1 epoch) over a corpus-sized float32 feature list."""
    feats = [rng.normal(size=(frames, D)).astype(np.float32) for _ in range(n_utt)]
    y = np.arange(n_utt) % 4
    groups = np.arange(n_utt) // 10
    corpus = sum(f.nbytes for f in feats)
    tracemalloc.start()
    FrameDense(config=TrainConfig(epochs=1)).fit(feats, y, groups)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"corpus": f"{n_utt} utterances x {frames} frames x {D} float32", "corpus_MB": corpus / 2**20,
            "fit_peak_extra_MB": peak / 2**20, "extra_over_corpus": peak / corpus}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--features", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "nn-cpu.json"))
    args = ap.parse_args()
    try:
        import torch
        torch.set_num_threads(os.cpu_count())
    except ImportError:
        torch = None
        print("torch is not installed: only our own times (pip install torch==2.13.0)")
    rng = np.random.default_rng(0)
    res = {"machine": machine(numpy=np.__version__), "torch": None if torch is None else torch.__version__,
           "torch_threads": None if torch is None else torch.get_num_threads(), "repeats": args.repeats,
           "command": "python " + " ".join(sys.argv)}
    res["dense_step"] = bench_dense(args, rng, torch)
    print("frame dense step:", {k: round(v, 4) if isinstance(v, float) else v for k, v in res["dense_step"].items()})
    res["lstm_step"] = bench_lstm(args, rng, torch)
    print("lstm step:       ", {k: round(v, 4) if isinstance(v, float) else v for k, v in res["lstm_step"].items()})
    res["lstm_loop"] = bench_lstm_loop(args, rng)
    for k, v in res["lstm_loop"].items():
        print(f"lstm loop {k}:", {a: round(c, 5) if isinstance(c, float) else c for a, c in v.items()})
    res["adam_step"] = bench_adam(args, rng)
    print("adam step:       ", {k: round(v, 5) if isinstance(v, float) else v for k, v in res["adam_step"].items()})
    if not args.no_memory:
        res["memory"] = bench_memory(rng)
        print("memory:          ", {k: round(v, 2) if isinstance(v, float) else v for k, v in res["memory"].items()})
    res["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    write_json(args.out, res)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
