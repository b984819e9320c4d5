"""Speed of ser_ref.egemaps against openSMILE's C++ extractor on the same files, same run.

    python bench/bench_egemaps.py [--n 60]

Reports seconds of compute per second of audio for both (warm: Numba functions already
compiled), their ratio (target <= 1.0), the split between the spectral part and the voice part,
and the Numba start-up cost separately: a fresh interpreter's first egemaps() call with the
on-disk Numba cache (normal use) and with an empty cache directory (true compile time).
The timing runs twice, in child processes: with the BLAS thread pool at its default and pinned
to 1 thread (OPENBLAS/OMP/MKL_NUM_THREADS=1): the per-frame matrix products are small, and on
a shared 2-core machine a threaded BLAS spends more time synchronising than computing.
Writes bench/results/egemaps-cpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from machine_info import machine  # noqa: E402

from ser_ref.files.atomic import write_json  # noqa: E402
from ser_ref.frontend.audio import load_audio  # noqa: E402
from ser_ref.files.locations import ravdess_root  # noqa: E402

_FIRST_CALL = r"""
import time, numpy as np
t0 = time.perf_counter()
from ser_ref.egemaps import egemaps
t1 = time.perf_counter()
x = (0.1 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32)
egemaps(x)
t2 = time.perf_counter()
egemaps(x)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def first_call(cache_dir: str | None) -> dict:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL], capture_output=True, text=True,
                         env=env, cwd=str(REPO), check=True).stdout.split()
    imp, first, second = map(float, out)
    return {"import_s": imp, "first_call_s": first, "warm_call_s": second,
            "startup_overhead_s": first - second}


_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60, help="number of RAVDESS files")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.child:
        return parent(args.n)
    root = ravdess_root()
    if root is None:
        print("no RAVDESS corpus", file=sys.stderr)
        return 2
    files = sorted(root.glob("Actor_*/*.wav"))[:: max(1, 672 // args.n)][:args.n]
    signals = [load_audio(f) for f in files]
    audio_s = sum(len(x) for x in signals) / 16000.0

    from ser_ref.egemaps import egemaps, extract, spectral_llds

    egemaps(signals[0])  # compile / load the Numba cache outside the timing
    t = time.perf_counter()
    for x in signals:
        egemaps(x)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    for x in signals:
        spectral_llds(x)
    spec = time.perf_counter() - t
    t = time.perf_counter()
    for x in signals:
        extract._voice_llds(x)
    voice = time.perf_counter() - t

    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    smile.process_signal(signals[0], 16000)
    t = time.perf_counter()
    for x in signals:
        smile.process_signal(x, 16000)
    ref = time.perf_counter() - t

    print(json.dumps({
        "n_files": len(files), "audio_seconds": audio_s,
        "ser_ref_s_per_audio_s": ours / audio_s,
        "opensmile_s_per_audio_s": ref / audio_s,
        "ratio_ser_ref_over_opensmile": ours / ref,
        "target_ratio_le_1": bool(ours / ref <= 1.0),
        "split_s_per_audio_s": {"spectral": spec / audio_s, "voice": voice / audio_s},
    }))
    return 0


def parent(n: int) -> int:
    runs = {}
    for label, blas in (("blas_default", None), ("blas_1_thread", "1")):
        env = dict(os.environ)
        for v in _BLAS_VARS:
            env.pop(v, None)
            if blas is not None:
                env[v] = blas
        out = subprocess.run([sys.executable, __file__, "--child", "--n", str(n)], capture_output=True,
                             text=True, env=env, check=True).stdout
        runs[label] = json.loads(out.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as empty:
        cold = first_call(empty)
    cached = first_call(None)
    result = {"machine": machine(), "runs": runs,
              "numba_startup": {"empty_cache": cold, "with_cache": cached},
              "note": "single process per run; warm timings exclude Numba compilation"}
    print(json.dumps(result, indent=2))
    write_json(REPO / "bench" / "results" / "egemaps-cpu.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
