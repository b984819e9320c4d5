"""The cross-corpus matrix: every system trained on all of corpus A and tested on all of corpus B, for
every ordered pair, with within-corpus leave-one-speaker-out on the diagonal (docs/cross-corpus.md).

``load_corpora`` opens the corpora, ``check_classes`` refuses pairs without a class in common,
``make_splits`` gives the runner its splits, ``matrix_entries`` one result per (train, test, system)
(``add_seed_columns``: and its spread over several seeds),
``matrix_markdown`` and ``heatmaps`` report them, ``manifest`` pins what produced them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..files import atomic


def load_corpora(corpora, seed: int, quick: bool):
    """{name: (items, load report)} of [(name, root)]; a missing root or a corpus without four-class
    items stops here (``corpora.opening.open_corpus``: the synthetic one without a root is generated).

    >>> load_corpora([("emodb", "/no/such/emodb")], 0, True)
    Traceback (most recent call last):
    ...
    ser_ref.errors.CorpusError: emodb: corpus root /no/such/emodb does not exist or is not a folder
    """
    from ..corpora.opening import open_corpus

    return {name: open_corpus(name, root, seed=seed, quick=quick) for name, root in corpora}


def check_classes(loaded) -> list[str]:
    """Pairs with no class in common are an error; pairs that share only some classes are noted.

    >>> from ser_ref.corpora import Item
    >>> a = [Item(Path("1.wav"), "s1", "anger"), Item(Path("2.wav"), "s1", "sadness")]
    >>> check_classes({"A": (a, None), "B": (a[:1], None)})
    ["B->A: A's classes ['sadness'] never occur in B"]
    """
    labels = {n: {it.label for it in items} for n, (items, _) in loaded.items()}
    notes = []
    for a in labels:
        for b in labels:
            if a == b:
                continue
            common = labels[a] & labels[b]
            if not common:
                raise SerRefError(f"corpora {a} ({', '.join(sorted(labels[a]))}) and {b} "
                                  f"({', '.join(sorted(labels[b]))}) have no emotion class in common")
            if labels[b] - labels[a]:
                notes.append(f"{a}->{b}: {b}'s classes {sorted(labels[b] - labels[a])} never occur in {a}")
    return notes


CELLS = ("all", "cross")  # every cell; or only train-on-A, test-on-B (no within-corpus LOSO)


def make_splits(corpus, speakers, names, cells: str = "all"):
    """LOSO inside each corpus (the diagonal; left out with ``cells="cross"``) and one split per
    ordered pair of corpora.

    >>> corpus, speakers = np.array(["A", "A", "B", "B"]), np.array(["s1", "s2", "s3", "s4"])
    >>> {k: [s.name for s in v] for k, v in make_splits(corpus, speakers, ["A", "B"]).items()}
    {('A', 'A'): ['s1', 's2'], ('A', 'B'): ['A->B'], ('B', 'B'): ['s3', 's4'], ('B', 'A'): ['B->A']}
    >>> list(make_splits(corpus, speakers, ["A", "B"], cells="cross"))
    [('A', 'B'), ('B', 'A')]
    """
    from .splits import cross_corpus, loso

    cells_of = {}
    for a in names:
        if cells == "all":
            cells_of[(a, a)] = loso(speakers, np.flatnonzero(corpus == a))
        for b in names:
            if b != a:
                cells_of[(a, b)] = [cross_corpus(corpus, a, b)]
    return cells_of


def matrix_entries(cells, results, y, corpus, systems, seed):
    """One dict per (train, test, system): accuracy, UA, 95 % CIs, n_test, McNemar p vs the forest.

    >>> corpus, y = np.array(["A", "A", "B", "B"]), np.array([0, 1, 0, 1])
    >>> cells = {k: v for k, v in make_splits(corpus, np.array(["a1", "a2", "b1", "b2"]), ["A", "B"]).items()
    ...          if k == ("A", "B")}
    >>> e, = matrix_entries(cells, {"dense": {"A->B": np.eye(4)[[0, 0]]}}, y, corpus, ["dense"], 0)
    >>> e["train"], e["test"], e["accuracy"], e["n_test"]
    ('A', 'B', 0.5, 2)
    """
    from .metrics import bootstrap_ci, mcnemar, metrics

    out = []
    for (a, b), splits in cells.items():
        idx = np.concatenate([s.test_idx for s in splits])
        preds = {k: np.argmax(np.concatenate([results[k][s.name] for s in splits]), axis=1) for k in systems}
        for k in systems:
            m = metrics(y[idx], preds[k])
            rf = preds.get("rf-egemaps")
            out.append({
                "train": a, "test": b, "system": k, "protocol": "loso" if a == b else "cross-corpus",
                "accuracy": m["accuracy"], "ua": m["ua"],
                "accuracy_ci": list(bootstrap_ci(y[idx], preds[k], "accuracy", seed=seed)),
                "ua_ci": list(bootstrap_ci(y[idx], preds[k], "ua", seed=seed)),
                "n_test": int(len(idx)),
                "mcnemar_p_vs_rf": None if rf is None or k == "rf-egemaps" else float(mcnemar(y[idx], preds[k], rf)),
                "confusion": m["confusion"],
            })
    return out


def add_seed_columns(entries, cells, results_by_seed, y) -> list:
    """Each entry of ``matrix_entries`` (the first seed's) gains ``per_seed`` ({seed: {accuracy, ua}})
    and the mean and sample sd over the seeds (``seeds.spread``; sd None for one seed).
    ``results_by_seed``: {seed: {system: {split name: probabilities}}}.

    >>> corpus, y = np.array(["A", "A", "B", "B"]), np.array([0, 1, 0, 1])
    >>> cells = {("A", "B"): make_splits(corpus, np.array(["a1", "a2", "b1", "b2"]), ["A", "B"])[("A", "B")]}
    >>> by_seed = {0: {"dense": {"A->B": np.eye(4)[[0, 0]]}}, 4: {"dense": {"A->B": np.eye(4)[[0, 1]]}}}
    >>> e, = add_seed_columns(matrix_entries(cells, by_seed[0], y, corpus, ["dense"], 0), cells, by_seed, y)
    >>> e["per_seed"]["4"]["accuracy"], e["accuracy_mean"], e["accuracy"]
    (1.0, 0.75, 0.5)
    """
    from .metrics import metrics
    from .seeds import spread

    for e in entries:
        splits = cells[(e["train"], e["test"])]
        idx = np.concatenate([s.test_idx for s in splits])
        per_seed = {}
        for seed, results in results_by_seed.items():
            m = metrics(y[idx], np.argmax(np.concatenate([results[e["system"]][s.name] for s in splits]), axis=1))
            per_seed[str(seed)] = {"accuracy": m["accuracy"], "ua": m["ua"]}
        e.update(per_seed=per_seed, **spread(per_seed))
    return entries


def matrix_markdown(entries, names, systems, normalize) -> str:
    """One table per system: rows = training corpus, columns = test corpus, accuracy (UA) in %;
    "not run" where a cell was not asked for (``--cells cross`` leaves out the diagonal).

    >>> e = {"train": "A", "test": "A", "system": "dense", "accuracy": 0.5, "ua": 0.25, "mcnemar_p_vs_rf": 0.01}
    >>> matrix_markdown([e], ["A"], ["dense"], "none").splitlines()[-3]
    '| A | 50.0 (25.0)* |'
    >>> matrix_markdown([{**e, "test": "B"}], ["A", "B"], ["dense"], "none").splitlines()[-4]
    '| A | not run | 50.0 (25.0)* |'
    """
    from .seeds import pm
    from .table2 import ROW_TITLES

    cell = {(e["train"], e["test"], e["system"]): e for e in entries}
    lines = [f"Cross-corpus accuracy (UA) in %, normalisation: {normalize}. Rows: training corpus; columns: "
             "test corpus; diagonal: within-corpus leave-one-speaker-out.\n"]
    n_seeds = len(entries[0].get("per_seed", {})) if entries else 0
    if n_seeds > 1:
        lines.append(f"Seeds {', '.join(entries[0]['per_seed'])}: each cell is the first seed's accuracy (UA), "
                     f"then [accuracy mean ± sd over the {n_seeds} seeds].\n")
    for k in systems:
        lines += [f"**{ROW_TITLES.get(k, k)}**\n", "| train \\ test | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        for a in names:
            row = []
            for b in names:
                e = cell.get((a, b, k))
                if e is None:
                    row.append("not run")
                    continue
                p = e["mcnemar_p_vs_rf"]
                star = "" if p is None or p >= 0.05 else "*"
                spread = f" [{pm(e['accuracy_mean'], e['accuracy_sd'])}]" if n_seeds > 1 else ""
                row.append(f"{100 * e['accuracy']:.1f} ({100 * e['ua']:.1f}){star}{spread}")
            lines.append(f"| {a} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append("\\* McNemar p < 0.05 against the Random Forest on the same train/test pair.")
    return "\n".join(lines) + "\n"


def heatmaps(out: Path, entries, names, systems) -> list[str]:
    """heatmap-<system>.png per system (accuracy %); a note instead when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["matplotlib not installed (pip install 'ser_ref[plot]'): heatmaps skipped"]
    from .table2 import ROW_TITLES

    cell = {(e["train"], e["test"], e["system"]): e["accuracy"] for e in entries}
    for k in systems:  # NaN: a cell not run (blank in the picture)
        A = np.array([[100 * cell.get((a, b, k), np.nan) for b in names] for a in names])
        _heatmap(plt, out / f"heatmap-{k.replace('+', '_')}.png", A, names, ROW_TITLES.get(k, k))
    return []


def _heatmap(plt, path: Path, A, names, title: str) -> None:
    """One system's matrix: accuracy % in every cell on a 0-100 colour bar, the within-corpus (LOSO)
    diagonal outlined, the train -> test cells plain."""
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2.6, 1.0 * len(names) + 1.9))
    im = ax.imshow(A, cmap="viridis", vmin=0, vmax=100)
    for (i, j), v in np.ndenumerate(A):
        if np.isnan(v):
            ax.text(j, i, "not run", ha="center", va="center", color="0.4", fontsize=9)
            continue
        ax.text(j, i, f"{v:.1f}" + ("\n(LOSO)" if i == j else ""), ha="center", va="center",
                color="w" if v < 60 else "k", fontsize=10 if i == j else 9)
    for i in range(len(names)):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="orangered", lw=2.5))
    bar = fig.colorbar(im, ax=ax, label="accuracy (%)", shrink=0.85)
    bar.ax.axhline(25, color="w", lw=1.5)  # chance with four balanced classes
    bar.ax.text(1.1, 25, " chance", transform=bar.ax.get_yaxis_transform(), va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("test corpus")
    ax.set_ylabel("training corpus")
    ax.set_title(f"{title}: accuracy %\n(outlined: within the corpus, leave-one-speaker-out)", fontsize=10)
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def manifest(run, settings, loaded, dataset, layer, timings) -> dict:
    """cross_corpus's manifest.json: ``report.run_manifest`` plus the corpora and the data digest."""
    from .report import data_recipe, portable_path, run_manifest

    return run_manifest(run, settings, layer, timings,
                        corpora={n: {"root": portable_path(r.root, run.out), "n_files": r.kept,
                                     "data_recipe": data_recipe(n, items, run.out)} for n, (items, r) in loaded.items()},
                        data_digest=dataset.digest)
