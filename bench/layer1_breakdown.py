"""Where layer 1's time goes beyond the GEMM: the numbers behind docs/frontend.md's layer-1 notes.

    python bench/layer1_breakdown.py [--frames 30000] [--repeats 5]

All on the same (frames, 494) x (494, 2048) shape, random windows, best of ``--repeats`` interleaved
runs (after one warm-up, 0.25 s of quiet before each, as in bench_frontend.py):
    gemm            A @ W with a contiguous A and a new output, as bench_frontend.py's bound
    gemm_into       the same into a preallocated output (no page faults on a fresh array)
    clip_alone      the ReLU/clip pass (one thread, as each worker runs it) over that output, alone
    gemm_then_clip  the GEMM and the same pass right after it (OpenBLAS's threads still spinning)
    window_copy     copying the strided window view into a contiguous block
    float_rows_R    dense_relu_clip_fast with blocks of R rows per thread
    two_threads_no_switch  the same two-thread split without making BLAS single-threaded
Ratios are gemm time / contender time. Writes bench/results/layer1-breakdown-cpu.json.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench_frontend import CPU, best, machine
from ser_ref.files.atomic import write_json
from ser_ref.deepspeech import context_windows
from ser_ref.deepspeech.layer1 import _relu_clip_inplace, _rows_through_layer, augment_bias, dense_relu_clip_fast

OUT = Path(__file__).resolve().parent / "results" / "layer1-breakdown-cpu.json"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    n, H = args.frames, 2048
    M = rng.normal(0, 5, (n, 26)).astype(np.float32)
    W = rng.normal(0, 0.05, (494, H)).astype(np.float32)
    Wb = augment_bias(W, rng.normal(0, 1, H).astype(np.float32))
    windows = context_windows(M)
    A = np.ascontiguousarray(windows)
    out = np.empty((n, H), np.float32)
    block = np.empty_like(A)
    clip = np.float32(20)

    def two_threads_no_switch():
        y = np.empty((n, H), np.float32)
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(_rows_through_layer, lo, hi, windows, Wb, y, clip, 1024)
                      for lo, hi in ((0, n // 2), (n // 2, n))]:
                f.result()

    fns = {"gemm": lambda: A @ W,
           "gemm_into": lambda: np.matmul(A, W, out=out),
           "clip_alone": lambda: _relu_clip_inplace(out, clip),
           "gemm_then_clip": lambda: (np.matmul(A, W, out=out), _relu_clip_inplace(out, clip)),
           "window_copy": lambda: np.copyto(block, windows)}
    for rows in (256, 512, 1024, 2048):
        fns[f"float_rows_{rows}"] = lambda rows=rows: dense_relu_clip_fast(windows, Wb, 20.0, rows)
    fns["two_threads_no_switch"] = two_threads_no_switch
    t = best(fns, args.repeats)
    rows = {name: {"ms": 1e3 * s, "ratio_gemm_to_this": t["gemm"] / s, "cpu_seconds": CPU[name]}
            for name, s in t.items()}
    result = {"bench": "layer1-breakdown", "device": "cpu", "shape": [n, 494, H], "repeats": args.repeats,
              "machine": machine(), "results": rows,
              "command": "python bench/layer1_breakdown.py " + " ".join(argv or sys.argv[1:])}
    write_json(args.out, result)
    for name, r in rows.items():
        print(f"{name:24s} {r['ms']:8.1f} ms   gemm/this {r['ratio_gemm_to_this']:.3f}")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
