"""Which DeepSpeech layer carries emotion: layers 1-5 of the whole model under leave-one-speaker-out.

For each layer, two models:
    dense   the paper's frame-level Dense model (Table 2's "Dense" row) on the layer's frames, through
            the one runner (``runner.run``)
    forest  the CART forest of the registry (``systems``) on utterance-level [mean, std] over frames
            (4096 values), through ``metrics.run_loso``
with accuracy and UA, their 95 % bootstrap CIs resampling utterances and resampling speakers, and the
p of each layer against layer 1 for the same model, McNemar's over utterances and the sign-flip test's
over speakers (``evaluate_layers``); ``table_md`` and ``figure`` report them. With several seeds, every
model is trained once per seed and each row gains ``per_seed`` and the mean and sd over the seeds.
"""
from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path

import numpy as np

from ..deepspeech.layer_features import LAYER_KINDS
from ..files import atomic


def pooled_stats(npy: str) -> np.ndarray:
    """[mean, std] over an utterance's frames: (2 * 2048,) float64.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "f.npy"); np.save(p, np.array([[1.0, 2.0], [3.0, 2.0]], np.float32))
    >>> pooled_stats(p).tolist()
    [2.0, 2.0, 1.0, 0.0]
    """
    f = np.load(npy).astype(np.float64)
    return np.concatenate([f.mean(0), f.std(0)])


def dense_predictions(npys, y, speakers, folds, executor, settings, layer, say=print, seeds=None) -> dict:
    """{seed: labels} of the paper's frame-level Dense model under ``folds``, at each of ``seeds``
    (default: the settings' seed), through the one runner (no checkpoints)."""
    from .runner import Dataset, Entry, digest, run
    from .seeds import flat, seeded_entries

    data = Dataset(y=y, speakers=speakers, features={"layer1": npys}, digest=digest([layer, list(npys)]))
    by_seed = seeded_entries([Entry("dense", "dense", settings)], seeds or (settings.seed,))
    probas = run(flat(by_seed), folds, data, executor, desc=f"dense on {layer}", say=say)
    return {s: probas[e["dense"].key].argmax(1) for s, e in by_seed.items()}


def layer_row(res, y, pred, ref_pred, seed, speakers) -> dict:
    """accuracy, UA, their 95 % CIs resampling utterances and speakers, and the p-values against layer
    1's predictions (None for layer 1): McNemar over utterances, the sign-flip test over speakers."""
    from .metrics import bootstrap_cis, mcnemar, speaker_sign_flip
    from .report import speaker_intervals

    ci = bootstrap_cis(y, pred, ("accuracy", "ua"), seed=seed)  # one set of resamples for both
    return {"accuracy": res["accuracy"], "ua": res["ua"], "accuracy_ci": ci["accuracy"], "ua_ci": ci["ua"],
            **speaker_intervals(y, pred, speakers, seed),
            "mcnemar_p_vs_layer1": None if ref_pred is None else mcnemar(y, ref_pred, pred),
            "p_speaker_vs_layer1": None if ref_pred is None else speaker_sign_flip(y, pred, ref_pred, speakers)}


def seed_row(row: dict, y, preds_by_seed: dict) -> dict:
    """``row`` (the first seed's) with ``per_seed`` ({seed: {accuracy, ua}}) and the mean and sample
    sd over the seeds (``seeds.spread``; sd None for one seed).

    >>> y = np.array([0, 1, 2, 3])
    >>> r = seed_row({"accuracy": 1.0}, y, {0: y, 7: np.array([0, 1, 2, 0])})
    >>> r["per_seed"]["7"], r["accuracy_mean"]
    ({'accuracy': 0.75, 'ua': 0.75}, 0.875)
    """
    from .metrics import metrics
    from .seeds import spread

    per_seed = {}
    for s, pred in preds_by_seed.items():
        m = metrics(y, pred)
        per_seed[str(s)] = {"accuracy": m["accuracy"], "ua": m["ua"]}
    return {**row, "per_seed": per_seed, **spread(per_seed)}


def evaluate_layers(npys_by_layer: dict, y, speakers, executor, *, seed: int, quick: bool, say=print,
                    seeds=None, timings: dict | None = None) -> dict:
    """{"dense": {layer: row}, "forest": {layer: row}} (``layer_row``) for every layer of ``LAYER_KINDS``;
    ``npys_by_layer[layer]`` holds one cached feature file per utterance. ``seeds`` (default: ``seed``
    alone; ``seed`` is their first): each model is trained once per seed; a row's numbers, CIs and
    p-values are the first seed's, and ``seed_row`` adds every seed's and their mean and sd.
    ``timings`` gains the wall seconds of each stage: "dense:<layer>", "pooled:<layer>" (the
    utterances' [mean, std]), "forest:<layer>" and "metrics:<layer>" (rows, intervals, p-values)."""
    from .metrics import loso_folds, metrics, run_loso
    from .systems import Settings, fit_predict_labels

    seeds = seeds or (seed,)
    folds = loso_folds(speakers)
    settings = Settings(seed=seed, nn_config="quick" if quick else {})
    n_trees = 50 if quick else 300
    clock = _Clock(timings)
    out, ref = {"dense": {}, "forest": {}}, {}
    for layer in LAYER_KINDS:
        npys = npys_by_layer[layer]
        t = time.perf_counter()
        with clock(f"dense:{layer}"):
            dense = dense_predictions(npys, y, speakers, folds, executor, settings, layer, say, seeds)
        pred = dense[seed]
        with clock(f"metrics:{layer}"):
            row = layer_row(metrics(y, pred), y, pred, ref.get("dense"), seed, speakers)
            out["dense"][layer] = seed_row(row, y, dense)
        ref.setdefault("dense", pred)
        with clock(f"pooled:{layer}"):
            X = np.stack([pooled_stats(p) for p in npys])
        fit = functools.partial(fit_predict_labels, name="rf-egemaps", settings=Settings(rf_trees=n_trees))
        # the forest of Table 2's baseline, here on pooled layer statistics; in this process, on every
        # core (a pool worker once hit a Numba thread-count clash here)
        with clock(f"forest:{layer}"):
            forest = {s: run_loso(fit, X, y, speakers, executor="serial", standardize=False, seed=s) for s in seeds}
        res = forest[seed]
        with clock(f"metrics:{layer}"):
            row = layer_row(res.pooled, y, res.y_pred, ref.get("forest"), seed, speakers)
            out["forest"][layer] = seed_row(row, y, {s: r.y_pred for s, r in forest.items()})
        ref.setdefault("forest", res.y_pred)
        say(f"{layer}: dense acc {out['dense'][layer]['accuracy']:.3f}, forest acc "
            f"{out['forest'][layer]['accuracy']:.3f} ({time.perf_counter() - t:.0f} s)")
    return out


class _Clock:
    """``with clock(name):`` adds the block's wall seconds to ``timings[name]`` (None: times nothing)."""

    def __init__(self, timings: dict | None):
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            if self.timings is not None:
                self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t


def stage_summary(timings: dict) -> str:
    """One line of the wall seconds per stage, each stage's layers summed (the per-layer seconds stay
    in ``timings``).

    >>> stage_summary({"features:layer1+layer2": 50.0, "dense:layer1": 30.0, "dense:layer2": 31.0, "report": 2.0})
    'time per stage: features 50 s, dense 61 s, report 2 s'
    """
    totals: dict[str, float] = {}
    for name, seconds in timings.items():
        stage = name.split(":", 1)[0]
        totals[stage] = totals.get(stage, 0.0) + seconds
    return "time per stage: " + ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in totals.items())


def table_md(res: dict, corpus: str) -> str:
    """layers.md: one row per layer, Dense and Forest accuracy / UA with CIs and McNemar's p (and the
    mean ± sd over the seeds, where there are several)."""
    from .seeds import pm

    lines = [f"# Which DeepSpeech layer carries emotion ({corpus}, LOSO, {res['n_used']} of {res['n_items']} "
             f"utterances, mode {res['mode']})", "",
             "| layer | Dense acc [utt.] [spk.] | Dense UA [utt.] [spk.] | p vs layer 1 (utt. / spk.) | "
             "Forest acc [utt.] [spk.] | Forest UA [utt.] [spk.] | p vs layer 1 (utt. / spk.) |",
             "|---|---|---|---|---|---|---|"]
    n_seeds = len(res["dense"][LAYER_KINDS[0]].get("per_seed", {}))
    if n_seeds > 1:
        lines[1:1] = ["", f"Seeds {', '.join(res['dense'][LAYER_KINDS[0]]['per_seed'])}: each value, CI and p is the "
                      f"first seed's; after the ';' the mean ± sd over the {n_seeds} seeds."]
    lines[1:1] = ["", "95 % CIs from the bootstrap over utterances [utt.] and over speakers [spk.], the unit that "
                  "leave-one-speaker-out generalises to; p: McNemar over utterances / sign-flip over speakers."]
    ci = lambda v: "" if v is None else f" [{100 * v[0]:.1f}, {100 * v[1]:.1f}]"  # noqa: E731
    fmt = lambda r, k: (f"{100 * r[k]:.1f}{ci(r[k + '_ci'])}{ci(r.get(k + '_ci95_speaker'))}"  # noqa: E731
                        + (f"; {pm(r[k + '_mean'], r[k + '_sd'])}" if n_seeds > 1 else ""))
    pv = lambda r: ("-" if r["mcnemar_p_vs_layer1"] is None else  # noqa: E731
                    f"{r['mcnemar_p_vs_layer1']:.3g} / {r.get('p_speaker_vs_layer1', float('nan')):.3g}")
    for layer in LAYER_KINDS:
        d, f = res["dense"][layer], res["forest"][layer]
        lines.append(f"| {layer} | {fmt(d, 'accuracy')} | {fmt(d, 'ua')} | {pv(d)} | {fmt(f, 'accuracy')} | "
                     f"{fmt(f, 'ua')} | {pv(f)} |")
    lines += ["", f"Model: {Path(res['model']).name} (weights file sha256 {res['model_sha256'][:12]}). Dense: the paper's "
              "frame-level Dense model; Forest: CART forest on utterance [mean, std] of the layer's frames."]
    return "\n".join(lines) + "\n"


def _seed_points(ax, x, rows, metric) -> None:
    """Each seed's value as a small grey point beside the first seed's, where there are several seeds."""
    for xi, r in zip(x, rows):
        if len(r.get("per_seed", {})) > 1:
            v = [100 * m[metric] for m in r["per_seed"].values()]
            ax.plot([xi] * len(v), v, ".", color="grey", alpha=0.7, zorder=1)


def figure(res: dict, path: Path) -> bool:
    """layers.png: accuracy and UA per layer with CIs (False when matplotlib is not installed)."""
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
            _seed_points(ax, x + off, rows, metric)
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
