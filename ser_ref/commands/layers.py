"""``python -m ser_ref.layers --corpus NAME [--root DIR] [--quick]``: which DeepSpeech layer carries emotion.

For each of layers 1-5 of the whole model (``DeepSpeech``, mode tflite-int8 by default: the
runtime's own arithmetic, exact and so independent of batching and threads), under
leave-one-speaker-out:
    dense   the paper's frame-level Dense model (Table 2's "Dense" row) on the layer's frames
    forest  the CART forest on utterance-level [mean, std] over frames (4096 values)
Writes layers.md, layers.json and layers.png: accuracy and UA with 95 % bootstrap CIs per layer,
and McNemar's p of each layer against layer 1 for the same model. Features are cached per layer.
The Dense rows go through the one runner (``runner.run``), the forest rows through ``evaluate.run_loso``\nwith the registry's forest (``systems``).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..files import atomic, locations
from ..deepspeech.layer_features import LAYER_KINDS
from ..errors import SerRefError
from .reproduce import CORPORA, load_corpus, say


def pooled_stats(npy: str) -> np.ndarray:
    """[mean, std] over an utterance's frames: (2 * 2048,) float64."""
    f = np.load(npy).astype(np.float64)
    return np.concatenate([f.mean(0), f.std(0)])


def _dense_predictions(npys, y, speakers, folds, executor, settings, layer):
    """The paper's frame-level Dense model under ``folds``, through the one runner (no checkpoints)."""
    from ..evaluation.runner import Dataset, Entry, digest, run

    data = Dataset(y=y, speakers=speakers, features={"layer1": npys}, digest=digest([layer, list(npys)]))
    probas = run([Entry("dense", "dense", settings)], folds, data, executor, desc=f"dense on {layer}", say=say)
    return probas["dense"].argmax(1)


def _row(res, y, pred, ref_pred, seed):
    from ..evaluation.metrics import bootstrap_ci, mcnemar

    return {"accuracy": res["accuracy"], "ua": res["ua"],
            "accuracy_ci": bootstrap_ci(y, pred, "accuracy", seed=seed), "ua_ci": bootstrap_ci(y, pred, "ua", seed=seed),
            "mcnemar_p_vs_layer1": None if ref_pred is None else mcnemar(y, ref_pred, pred)}


def study(items, weights, args, executor) -> dict:
    from ..evaluation.dataset import FeatureSpec, build_dataset
    from ..evaluation.metrics import loso_folds, metrics, run_loso
    from ..evaluation.systems import Settings, fit_predict_labels

    # every layer of one pass per file; keyed without a device, as this study's cache always was
    specs = {k: FeatureSpec.deepspeech(weights, step_ms=20, mode=args.mode, device=None, layer=k) for k in LAYER_KINDS}
    t = time.perf_counter()
    data, problems = build_dataset(items, specs, executor=executor, cache_root=locations.cache_dir())
    say(f"features of {problems['n_used']} of {len(items)} files in {time.perf_counter() - t:.0f} s "
        f"({problems['n_left_out']} left out)")
    y, speakers = data.y, data.speakers
    folds = loso_folds(speakers)
    settings = Settings(seed=args.seed, nn_config="quick" if args.quick else {})
    n_trees = 50 if args.quick else 300
    out = {"n_used": problems["n_used"], "n_items": len(items), "errors": problems["feature_errors"], "mode": args.mode,
           "model": str(weights.source), "model_sha256": specs["layer1"].weights_sha256, "dense": {}, "forest": {}}
    ref = {}
    for layer in LAYER_KINDS:
        npys = data.features[layer]
        t = time.perf_counter()
        pred = _dense_predictions(npys, y, speakers, folds, executor, settings, layer)
        out["dense"][layer] = _row(metrics(y, pred), y, pred, ref.get("dense"), args.seed)
        ref.setdefault("dense", pred)
        X = np.stack([pooled_stats(p) for p in npys])
        fit = functools.partial(fit_predict_labels, name="rf-egemaps", settings=Settings(rf_trees=n_trees))
        # the forest of Table 2's baseline, here on pooled layer statistics; in this process, on every
        # core (a pool worker once hit a Numba thread-count clash here)
        res = run_loso(fit, X, y, speakers, executor="serial", standardize=False, seed=args.seed)
        out["forest"][layer] = _row(res.pooled, y, res.y_pred, ref.get("forest"), args.seed)
        ref.setdefault("forest", res.y_pred)
        say(f"{layer}: dense acc {out['dense'][layer]['accuracy']:.3f}, forest acc "
            f"{out['forest'][layer]['accuracy']:.3f} ({time.perf_counter() - t:.0f} s)")
    return out


def table_md(res: dict, corpus: str) -> str:
    lines = [f"# Which DeepSpeech layer carries emotion ({corpus}, LOSO, {res['n_used']} of {res['n_items']} "
             f"utterances, mode {res['mode']})", "",
             "| layer | Dense acc [95 % CI] | Dense UA [95 % CI] | p vs layer 1 | Forest acc [95 % CI] | "
             "Forest UA [95 % CI] | p vs layer 1 |", "|---|---|---|---|---|---|---|"]
    fmt = lambda r, k: f"{100 * r[k]:.1f} [{100 * r[k + '_ci'][0]:.1f}, {100 * r[k + '_ci'][1]:.1f}]"  # noqa: E731
    pv = lambda r: "-" if r["mcnemar_p_vs_layer1"] is None else f"{r['mcnemar_p_vs_layer1']:.3g}"  # noqa: E731
    for layer in LAYER_KINDS:
        d, f = res["dense"][layer], res["forest"][layer]
        lines.append(f"| {layer} | {fmt(d, 'accuracy')} | {fmt(d, 'ua')} | {pv(d)} | {fmt(f, 'accuracy')} | "
                     f"{fmt(f, 'ua')} | {pv(f)} |")
    lines += ["", f"Model: {Path(res['model']).name} (weights file sha256 {res['model_sha256'][:12]}). Dense: the paper's "
              "frame-level Dense model; Forest: CART forest on utterance [mean, std] of the layer's frames."]
    return "\n".join(lines) + "\n"


def figure(res: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    x = np.arange(1, 6)
    for ax, metric in zip(axes, ("accuracy", "ua")):
        for model, off in (("dense", -0.08), ("forest", 0.08)):
            rows = [res[model][k] for k in LAYER_KINDS]
            v = np.array([100 * r[metric] for r in rows])
            ci = np.array([[100 * r[metric + "_ci"][0], 100 * r[metric + "_ci"][1]] for r in rows])
            ax.errorbar(x + off, v, yerr=[v - ci[:, 0], ci[:, 1] - v], marker="o", capsize=3, label=model)
        ax.set_xticks(x, [f"layer {k}" for k in x])
        ax.set_title(metric.upper() if metric == "ua" else "accuracy")
        ax.set_ylabel("%")
        ax.axhline(25, color="grey", lw=0.8, ls=":")
        ax.legend()
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ser_ref.layers", description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=CORPORA, default="synthetic")
    ap.add_argument("--root", type=Path)
    ap.add_argument("--model", type=Path, help="DeepSpeech .tflite or exported .npz (e.g. the English 0.9.3 model)")
    ap.add_argument("--mode", choices=("float", "tflite-int8"), default="tflite-int8")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    from ..deepspeech import load_layer1
    from ..evaluation.executors import make_executor

    try:
        items, report = load_corpus(args)
        say(f"{len(items)} utterances. {report.summary()}")
        out = args.out or Path("results") / f"layers-{args.corpus}-{time.strftime('%Y%m%d-%H%M%S')}"
        out.mkdir(parents=True, exist_ok=True)
        weights = load_layer1(args.model, verbose=True)   # an exported .npz holding every layer
        executor = make_executor(args.jobs, None)
        try:
            res = study(items, weights, args, executor)
        finally:
            executor.shutdown()
    except SerRefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    atomic.write_json(out / "layers.json", res)
    atomic.write_text(out / "layers.md", table_md(res, args.corpus))
    drew = figure(res, out / "layers.png")
    say(table_md(res, args.corpus))
    say(f"wrote {out}/layers.md, layers.json" + (", layers.png" if drew else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
