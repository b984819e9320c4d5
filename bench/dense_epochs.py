"""Why Dense grows faster than its data in bench_scaling: epochs to early stopping and seconds per epoch,
fold 0 of each size's synthetic corpus, from the benchmark's own caches (a one-off diagnosis, in-process
with the default BLAS threads, not part of bench_scaling's measurement).

    python bench/dense_epochs.py WORK 1,4,16 | tail -1 > bench/results/dense-epochs-scaling.json

WORK: the --out folder of ``python bench/bench_scaling.py --folds 2 --dask --out WORK``.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ser_ref.corpora import load_with_report
from ser_ref.deepspeech import load_layer1
from ser_ref.evaluation.dataset import build_dataset
from ser_ref.evaluation.executors import SerialExecutor
from ser_ref.evaluation.table2 import table2_specs
from ser_ref.evaluation.splits import loso
from ser_ref.evaluation import runner
from ser_ref.evaluation.systems import Settings, make

if len(sys.argv) != 3:
    raise SystemExit("usage: python bench/dense_epochs.py WORK SIZES (e.g. 1,4,16)")
work, out = Path(sys.argv[1]), {}
missing = [s for s in sys.argv[2].split(",") if not (work / f"size-{s}" / "corpus" / "manifest.json").is_file()]
if missing:
    raise SystemExit(f"dense_epochs: {work}: no measured corpus of size {', '.join(missing)} "
                     "(WORK is bench_scaling's --out folder)")
specs = table2_specs(load_layer1(None, verbose=False))
for size in sys.argv[2].split(","):
    d = work / f"size-{size}"
    items, _ = load_with_report("synthetic", d / "corpus")
    data, _ = build_dataset(items, {"layer1": specs["layer1"]}, executor=SerialExecutor(), cache_root=d / "cache")
    f = loso(data.speakers)[0]
    X = data.features["layer1"]
    Xtr, Xte = runner._load("layer1", X, f.train_idx, f.test_idx, None)
    stats = runner._train_stats("layer1", Xtr)
    t = time.perf_counter()
    m = make("dense", 0, Settings(seed=0)).fit(Xtr, data.y[f.train_idx], data.speakers[f.train_idx], stats=stats)
    s = time.perf_counter() - t
    ep = len(m.history_)
    out[size] = {"n_train": int(len(f.train_idx)), "epochs": ep, "fit_s": round(s, 2), "s_per_epoch": round(s / ep, 3),
                 "s_per_epoch_per_1k_utt": round(1000 * s / ep / len(f.train_idx), 4),
                 "stopped": m.history_[-1].get("stopped")}
    print(size, out[size], flush=True)
print(json.dumps(out))
