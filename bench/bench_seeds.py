"""What several seeds cost: a k-seed reproduce against a one-seed reproduce, from the same warm feature cache.

    python bench/bench_seeds.py                              # RAVDESS (../shared), seeds 0,1,2,3,4; ~30 min
    python bench/bench_seeds.py --corpus synthetic --quick   # the generated corpus: a minute, to try the script

Runs, one after the other, into fresh output folders (no checkpoints to resume from):

    1. ``reproduce --seed S0``                 (the one-seed run; it also warms the cache if it was cold)
    2. ``reproduce --seeds S0,S1,...``         (every system trained once per seed)

and reads each run's manifest (``wall_time_s``: "features:*" and "training (wall)"). That the k-seed
run computed no features is checked on the cache itself: no feature file was written or rewritten
under the cache during it (every file a cache hit), and its feature stage's seconds are stated beside
the training's. The ratio k-seed / one-seed training wall time is the cost of the seeds (ideally k:
the features are shared, the training is not). Thread count, load average and the machine are recorded
with it. Writes bench/results/seeds-<corpus>[-quick].json.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ser_ref.evaluation.report import machine  # noqa: E402
from ser_ref.files import atomic, locations  # noqa: E402


def cache_files(cache: Path) -> dict:
    """{feature file: (size, mtime)} under the cache's features folder: a run that adds or rewrites
    none computed no features."""
    root = cache / "features"
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()} \
        if root.is_dir() else {}


def reproduce(args, out: Path, seed_args: list[str]) -> dict:
    """One reproduce run in a subprocess: its wall seconds, the cache files it wrote, its manifest's times."""
    cmd = [sys.executable, "-m", "ser_ref.reproduce", "--corpus", args.corpus, "--out", str(out), *seed_args]
    cmd += ["--root", str(args.root)] if args.root else []
    cmd += ["--quick"] if args.quick else []
    cmd += ["--jobs", str(args.jobs)] if args.jobs else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cache = locations.cache_dir()
    before, load0, t = cache_files(cache), os.getloadavg(), time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = cache_files(cache)
    written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    times = json.loads((out / "manifest.json").read_text())["wall_time_s"]
    shown = " ".join(["python -m ser_ref.reproduce", *cmd[3:]]).replace(str(out), "<out>")
    if args.root:
        shown = shown.replace(str(args.root), os.path.relpath(args.root, ROOT))
    return {"command": shown,
            "wall_s": round(wall, 1), "load_avg_before": load0, "load_avg_after": os.getloadavg(),
            "features_s": round(sum(v for k, v in times.items() if k.startswith("features:")), 2),
            "training_wall_s": times["training (wall)"], "total_s": times["total"],
            "feature_files_written": len(written), "feature_files_in_cache": len(after),
            "table2": {r: v["accuracy"] for r, v in json.loads((out / "table2.json").read_text())["rows"].items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="ravdess")
    ap.add_argument("--root", type=Path, default=None, help="default: the corpus as the project finds it")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.root is None and args.corpus == "ravdess":
        args.root = locations.ravdess_root()
    seeds = args.seeds.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-seeds-") as tmp:
        one = reproduce(args, Path(tmp) / "one", ["--seed", seeds[0]])
        several = reproduce(args, Path(tmp) / "several", ["--seeds", args.seeds])
    # the k-seed run reads every feature from the cache the one-seed run left warm
    assert several["feature_files_written"] == 0, f"{several['feature_files_written']} feature files recomputed"
    assert several["table2"] == one["table2"], "the first seed's numbers differ from the one-seed run's"
    ratio = several["training_wall_s"] / one["training_wall_s"]
    res = {"corpus": args.corpus, "quick": args.quick, "seeds": [int(s) for s in seeds],
           "jobs": args.jobs or os.cpu_count(), "cpu_count": os.cpu_count(),
           # evaluation.executors: a worker process runs one BLAS thread; --jobs 1 trains in this process
           "blas_threads_per_worker": 1 if args.jobs != 1 else None,
           "blas_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")},
           "machine": machine(),
           "one_seed": one, "several_seeds": several,
           "training_ratio": round(ratio, 3), "total_ratio": round(several["total_s"] / one["total_s"], 3),
           "per_seed_training_s": round(several["training_wall_s"] / len(seeds), 1),
           "note": (f"{len(seeds)} seeds cost {ratio:.2f} x the one-seed run's training wall time (ideal: "
                    f"{len(seeds)}); the {len(seeds)}-seed run wrote no feature file (its feature stage: "
                    f"{several['features_s']} s of reading the cache, against {several['training_wall_s']:.0f} s "
                    "of training). Load averages: the machine's (shared with other work), before and after each "
                    "run.")}
    name = f"seeds-{args.corpus}{'-quick' if args.quick else ''}.json"
    atomic.write_json(ROOT / "bench" / "results" / name, res, sort_keys=False)
    print(json.dumps({k: res[k] for k in ("training_ratio", "total_ratio", "note")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
