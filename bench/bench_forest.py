"""Random forest fit/predict time: ser_ref.forest.random_forest.RandomForest against scikit-learn, same data, same run.

    python bench/bench_forest.py                  # 1300 x 88, 4 classes, 1000 trees, depth 10
    python bench/bench_forest.py --quick          # 200 trees, one repeat

Data: a seeded matrix shaped like eGeMAPS on IEMOCAP (1300 utterances x 88 functionals, 4 classes):
24 informative features (class means apart by ~1 sd), 64 noise features, values rounded to 3
decimals so there are ties as in real functionals. Both libraries get the same rows; the held-out
rows give the accuracy of each (a sanity check, not the point). Timings are the minimum over
--repeats runs, interleaved so that load from other processes hits both alike; ser_ref's Numba
compile happens in a warm-up before timing (its cost is reported apart). Writes
bench/results/forest-cpu.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import machine  # noqa: E402

from ser_ref.files import atomic  # noqa: E402
from ser_ref.forest.random_forest import RandomForest  # noqa: E402


def data(n=1300, d=88, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, 2 * n)
    means = rng.normal(0, 0.5, (n_classes, d))
    means[:, 24:] = 0.0  # 64 features carry nothing
    X = np.round(means[y] + rng.normal(size=(2 * n, d)), 3).astype(np.float32)
    return X[:n], y[:n], X[n:], y[n:]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", type=int, default=1000)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="200 trees, 1 repeat")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "forest-cpu.json"))
    args = ap.parse_args()
    if args.quick:
        args.trees, args.repeats = 200, 1
    from sklearn import __version__ as skv
    from sklearn.ensemble import RandomForestClassifier

    Xtr, ytr, Xte, yte = data()
    import numba

    info = machine(sklearn=skv, numba=numba.__version__, numba_threads=numba.config.NUMBA_NUM_THREADS)
    t_compile, _ = timed(lambda: RandomForest(n_trees=4, max_depth=args.depth).fit(Xtr, ytr).predict(Xte))

    systems = {
        "ser_ref (all cores)": lambda: RandomForest(n_trees=args.trees, max_depth=args.depth, seed=0),
        "ser_ref (n_jobs=1)": lambda: RandomForest(n_trees=args.trees, max_depth=args.depth, seed=0, n_jobs=1),
        "sklearn (n_jobs=1)": lambda: RandomForestClassifier(n_estimators=args.trees, max_depth=args.depth,
                                                             random_state=0, n_jobs=1),
        "sklearn (n_jobs=-1)": lambda: RandomForestClassifier(n_estimators=args.trees, max_depth=args.depth,
                                                              random_state=0, n_jobs=-1),
    }
    fit = {k: [] for k in systems}
    pred = {k: [] for k in systems}
    acc = {}
    for r in range(args.repeats):
        for name, make in systems.items():
            model = make()
            t, _ = timed(lambda: model.fit(Xtr, ytr))
            fit[name].append(t)
            t, p = timed(lambda: model.predict(Xte))
            pred[name].append(t)
            acc[name] = float(np.mean(np.asarray(p) == yte))
            print(f"repeat {r}: {name:22s} fit {fit[name][-1]:7.3f} s  predict {pred[name][-1]:6.3f} s  "
                  f"held-out accuracy {acc[name]:.3f}", flush=True)
    best_fit = {k: min(v) for k, v in fit.items()}
    best_pred = {k: min(v) for k, v in pred.items()}
    ratios = {
        f"fit ser_ref(all) / {sk}": best_fit["ser_ref (all cores)"] / best_fit[sk]
        for sk in ("sklearn (n_jobs=1)", "sklearn (n_jobs=-1)")
    } | {
        f"predict ser_ref(all) / {sk}": best_pred["ser_ref (all cores)"] / best_pred[sk]
        for sk in ("sklearn (n_jobs=1)", "sklearn (n_jobs=-1)")
    } | {
        "fit ser_ref(n_jobs=1) / sklearn(n_jobs=1)": best_fit["ser_ref (n_jobs=1)"] / best_fit["sklearn (n_jobs=1)"],
    }
    print(f"\nser_ref Numba compile/load (not in the timings): {t_compile:.2f} s")
    for k, v in ratios.items():
        print(f"{k:45s} {v:5.2f}x   (target: fit <= 0.5x, predict <= 1.0x)")
    result = {
        "benchmark": "random forest fit/predict, ser_ref vs scikit-learn",
        "command": "python " + " ".join(sys.argv),
        "data": {"n_train": len(ytr), "n_test": len(yte), "n_features": Xtr.shape[1], "n_classes": 4,
                 "kind": "seeded Gaussian classes, 24 informative + 64 noise features, rounded to 1e-3"},
        "settings": {"n_trees": args.trees, "max_depth": args.depth, "max_features": "sqrt", "repeats": args.repeats},
        "machine": info | {"load_average_at_end": list(os.getloadavg())},
        "compile_s": t_compile,
        "fit_s": fit, "predict_s": pred, "fit_best_s": best_fit, "predict_best_s": best_pred,
        "heldout_accuracy": acc, "ratios": ratios,
    }
    atomic.write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
