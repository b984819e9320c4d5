"""float32 GEMM speed of NumPy's OpenBLAS under each kernel family, same shapes, same run.

    python bench/bench_blas_kernels.py [--cores Haswell,SkylakeX] [--repeats 5]

OpenBLAS picks its kernel family once, when it loads (from the CPU, or from $OPENBLAS_CORETYPE);
the family sets both the speed of every matrix product and its last bits (docs/reliability.md).
Each contender is a fresh Python process with one BLAS thread: first the environment as it is
(the reference: what ``python -m ser_ref.reproduce`` runs here), then OpenBLAS's own choice
(OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE both unset), then each family of --cores (L2_SIZE unset).
Shapes are the networks' products: the utterance LSTM's input projection and its dW, and the
Frame Dense net's first layer forward and dW. The child reports the kernels OpenBLAS actually
loaded: a name it maps to another family (Zen -> Haswell) or a family the CPU cannot run is
replaced silently, and the table says so.
Prints GFLOP/s and the ratio to the reference; writes bench/results/blas-kernels-cpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_info import machine  # noqa: E402
from ser_ref.files.atomic import write_json  # noqa: E402

# (name, m, k, n, transpose A): C (m, n) = A (m, k) B (k, n)
SHAPES = (("lstm x W", 3200, 2048, 80, False), ("lstm dW = x^T dZ", 2048, 3200, 80, True),
          ("dense x W0", 256, 2048, 204, False), ("dense dW0 = x^T dH", 2048, 256, 204, True))

CHILD = r"""
import json, statistics, sys, time
import numpy as np
from ser_ref.runtime.blas_threads import corename, single_threaded_blas
shapes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
out = {"kernels": corename(), "gflops": {}}
with single_threaded_blas():
    for name, m, k, n, trans in shapes:
        a = rng.normal(size=(k, m) if trans else (m, k)).astype(np.float32)
        a = a.T if trans else a
        b = rng.normal(size=(k, n)).astype(np.float32)
        a @ b
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(5):
                a @ b
            times.append((time.perf_counter() - t) / 5)
        out["gflops"][name] = 2 * m * k * n / statistics.median(times) / 1e9
print(json.dumps(out))
"""


def contender(env_changes: dict, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    shapes = json.dumps([list(s) for s in SHAPES])
    res = subprocess.run([sys.executable, "-c", CHILD, shapes, str(repeats)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cores", default="Haswell,SkylakeX", help="kernel families to force, comma-separated")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    unset = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    runs = [("environment as is", {}), ("OpenBLAS's own choice", unset)]
    runs += [(f"OPENBLAS_CORETYPE={c}", {**unset, "OPENBLAS_CORETYPE": c}) for c in args.cores.split(",") if c]
    env_now = {k: os.environ.get(k) for k in unset}
    results = []
    for label, changes in runs:
        r = contender(changes, args.repeats)
        wanted = changes.get("OPENBLAS_CORETYPE")
        r["label"], r["asked"] = label, wanted
        results.append(r)
    ref = results[0]
    print(f"environment: {env_now}; one BLAS thread on every side; load average {os.getloadavg()}")
    print(f"{'contender':32s} {'kernels':10s} " + " ".join(f"{s[0]:>20s}" for s in SHAPES))
    for r in results:
        cells = " ".join(f"{r['gflops'][s[0]]:7.1f} ({r['gflops'][s[0]] / ref['gflops'][s[0]]:4.2f}x)".rjust(20)
                         for s in SHAPES)
        swapped = r["asked"] and (r["kernels"] or "").lower() != r["asked"].lower()
        note = f"  (asked for {r['asked']}, OpenBLAS loaded {r['kernels']})" if swapped else ""
        print(f"{r['label']:32s} {str(r['kernels']):10s} {cells}{note}")
    print("GFLOP/s (ratio to the environment as is)")
    out = ROOT / "bench" / "results" / "blas-kernels-cpu.json"
    write_json(out, {"machine": machine(), "environment": env_now, "threads": 1, "repeats": args.repeats,
                     "shapes": [list(s) for s in SHAPES], "results": results})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
