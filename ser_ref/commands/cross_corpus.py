"""``python -m ser_ref.cross_corpus``: train on one corpus, test on another, for every ordered pair.

    python -m ser_ref.cross_corpus --corpus ravdess=DIR --corpus urdu=DIR [--corpus synthetic] \\
        [--systems rf-egemaps,dense,...] [--normalize none|speaker|corpus] [--quick] [--jobs N] [--out DIR]

For corpora A != B every system is trained on all of A and tested on all of B; the diagonal (A, A) is
the within-corpus LOSO result. Outputs: matrix.md, matrix.json (one entry per train, test, system),
one heatmap per system, manifest.json, problems.json; resumable like reproduce (same --out).
See docs/cross-corpus.md for the protocol and the normalisation options.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..files import atomic, locations
from ..errors import SerRefError, cli_main
from ..evaluation.systems import SYSTEMS, Settings, check_names

NORMALIZE = ("none", "speaker", "corpus")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ser_ref.cross_corpus",
                                 description="Cross-corpus evaluation: train on corpus A, test on corpus B, "
                                             "for every ordered pair; within-corpus LOSO on the diagonal.")
    ap.add_argument("--corpus", action="append", default=[], metavar="NAME=ROOT",
                    help="a corpus and its root (at least two; 'synthetic' alone is generated in the cache)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated (default {','.join(SYSTEMS)})")
    ap.add_argument("--normalize", choices=NORMALIZE, default="none",
                    help="none; speaker: z-score each speaker with its own statistics (uses the test speakers' "
                         "unlabelled audio); corpus: z-score each corpus with its own statistics")
    ap.add_argument("--model", type=Path, help="DeepSpeech .tflite or exported .npz (default: fetched once)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="reduced settings (100 trees, short training)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores; 1: in-process)")
    ap.add_argument("--scheduler", help="HOST:PORT of a Dask scheduler")
    ap.add_argument("--out", type=Path, help="output folder (default results/cross-corpus-<timestamp>)")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the manifest's command line
    return args


def parse_corpora(specs) -> list[tuple[str, Path | None]]:
    """[(name, root)] from NAME=ROOT strings; every bad spec is one SerRefError naming it.

    >>> parse_corpora(["ravdess=/data/rav", "synthetic"])
    [('ravdess', PosixPath('/data/rav')), ('synthetic', None)]
    """
    from ..corpora import NAMES as known

    out, seen = [], set()
    for spec in specs:
        name, _, root = spec.partition("=")
        name = name.strip()
        if name not in known:
            raise SerRefError(f"--corpus {spec}: unknown corpus {name!r}; expected one of {', '.join(known)}")
        if name in seen:
            raise SerRefError(f"--corpus {name} is given twice; name each corpus once")
        seen.add(name)
        if not root.strip() and name != "synthetic":
            raise SerRefError(f"--corpus {spec}: no root; write --corpus {name}=/path/to/{name}")
        out.append((name, Path(root).expanduser() if root.strip() else None))
    if len(out) < 2:
        raise SerRefError(f"--corpus: give at least two corpora (NAME=ROOT), got {len(out)}")
    return out


def load_corpora(corpora, seed: int, quick: bool):
    """{name: (items, load report)}; a missing root or a corpus without four-class items stops here."""
    from .. import corpora as loaders

    out = {}
    for name, root in corpora:
        if name == "synthetic" and root is None:
            from ..corpora import synthetic

            tag = "quick" if quick else "default"
            root = locations.cache_dir() / "corpora" / f"synthetic-{tag}-seed{seed}"
            synthetic.generate(root, seed=seed, **({"n_speakers": 4, "n_per_emotion": 3} if quick else {}))
        out[name] = loaders.load_with_report(name, root)
    return out


def check_classes(loaded) -> list[str]:
    """Pairs with no class in common are an error; pairs that share only some classes are noted."""
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


def build_dataset(args, loaded, layer, executor, timings):
    """Features of every corpus (cached), concatenated: (Dataset, corpus name per utterance, problems)."""
    from ..evaluation import dataset
    from ..evaluation.runner import Dataset, digest
    from ..evaluation.table2 import table2_specs

    parts, problems = {}, {}
    for name, (items, report) in loaded.items():
        parts[name], problems[name] = dataset.build_dataset(items, table2_specs(layer), executor=executor,
                                                            cache_root=locations.cache_dir(), timings=timings)
        problems[name]["corpus"], problems[name]["skipped_by_loader"] = report.summary(), report.skipped
    y = np.concatenate([d.y for d in parts.values()])
    speakers = np.concatenate([np.array([f"{name}:{s}" for s in d.speakers]) for name, d in parts.items()])
    corpus = np.concatenate([np.full(len(d.y), name) for name, d in parts.items()])
    groups = {"none": None, "speaker": speakers, "corpus": corpus}[args.normalize]
    features = dataset.concatenate_features([d.features for d in parts.values()])
    digests = {name: d.digest for name, d in parts.items()}
    return Dataset(y, speakers, features, digest([digests, args.normalize]), groups), corpus, problems


def make_splits(corpus, speakers, names):
    """LOSO inside each corpus (the diagonal) and one split per ordered pair of corpora."""
    from ..evaluation.splits import cross_corpus, loso

    cells = {}
    for a in names:
        cells[(a, a)] = loso(speakers, np.flatnonzero(corpus == a))
        for b in names:
            if b != a:
                cells[(a, b)] = [cross_corpus(corpus, a, b)]
    return cells


def matrix_entries(cells, results, y, corpus, systems, seed):
    """One dict per (train, test, system): accuracy, UA, 95 % CIs, n_test, McNemar p vs the forest."""
    from ..evaluation.metrics import bootstrap_ci, mcnemar, metrics

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


def matrix_markdown(entries, names, systems, normalize) -> str:
    """One table per system: rows = training corpus, columns = test corpus, accuracy (UA) in %."""
    from ..evaluation.table2 import ROW_TITLES

    cell = {(e["train"], e["test"], e["system"]): e for e in entries}
    lines = [f"Cross-corpus accuracy (UA) in %, normalisation: {normalize}. Rows: training corpus; columns: "
             "test corpus; diagonal: within-corpus leave-one-speaker-out.\n"]
    for k in systems:
        lines += [f"**{ROW_TITLES.get(k, k)}**\n", "| train \\ test | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        for a in names:
            row = []
            for b in names:
                e = cell[(a, b, k)]
                p = e["mcnemar_p_vs_rf"]
                star = "" if p is None or p >= 0.05 else "*"
                row.append(f"{100 * e['accuracy']:.1f} ({100 * e['ua']:.1f}){star}")
            lines.append(f"| {a} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append("\\* McNemar p < 0.05 against the Random Forest on the same train/test pair.")
    return "\n".join(lines) + "\n"


def heatmaps(out: Path, entries, names, systems) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["matplotlib not installed (pip install 'ser_ref[plot]'): heatmaps skipped"]
    from ..evaluation.table2 import ROW_TITLES

    cell = {(e["train"], e["test"], e["system"]): e["accuracy"] for e in entries}
    for k in systems:
        A = np.array([[100 * cell[(a, b, k)] for b in names] for a in names])
        fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 1.0 * len(names) + 1.5))
        ax.imshow(A, cmap="viridis", vmin=0, vmax=100)
        for (i, j), v in np.ndenumerate(A):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="w" if v < 60 else "k")
        ax.set_xticks(range(len(names)), names)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("test corpus")
        ax.set_ylabel("training corpus")
        ax.set_title(f"{ROW_TITLES.get(k, k)}: accuracy %")
        fig.tight_layout()
        with atomic.atomic_path(out / f"heatmap-{k.replace('+', '_')}.png", suffix=".png") as tmp:
            fig.savefig(tmp)
        plt.close(fig)
    return []


def manifest(args, settings, loaded, dataset, layer, timings) -> dict:
    """cross_corpus's manifest.json: ``report.run_manifest`` plus the corpora and the data digest."""
    from ..evaluation.report import run_manifest

    return run_manifest("cross_corpus", args, settings, layer, timings,
                        corpora={n: {"root": str(r.root), "n_files": r.kept} for n, (_, r) in loaded.items()},
                        data_digest=dataset.digest)


def say(msg: str) -> None:
    print(msg, flush=True)


def main(argv=None) -> int:
    """The command: one line per error on stderr (a traceback with --debug); exit 0 done, 2 bad
    input or argument, 3 a fault of the machine, 130 interrupted (finished splits kept)."""
    return cli_main(_run, argv, prog="cross_corpus")


def _run(argv) -> int:
    try:
        return _main(parse_args(argv))
    except KeyboardInterrupt:
        print("\ninterrupted: finished splits are saved; re-run the same command with the same --out to resume.",
              file=sys.stderr)
        return 130


def _main(args) -> int:
    from ..deepspeech import load_layer1
    from ..evaluation.executors import make_executor
    from ..evaluation.runner import Entry, run

    t_start, timings = time.perf_counter(), {}
    systems = check_names(s.strip() for s in args.systems.split(",") if s.strip())
    if not systems:
        raise SerRefError("--systems: name at least one system")
    corpora = parse_corpora(args.corpus)
    loaded = load_corpora(corpora, args.seed, args.quick)  # every bad corpus stops here, before any output
    notes = check_classes(loaded)
    names = list(loaded)
    out = args.out or Path("results") / f"cross-corpus-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    say(f"Output folder: {out}  (re-run with --out {out} to resume)")
    for n, (items, report) in loaded.items():
        say(f"{n}: {len(items)} utterances, {len({i.speaker for i in items})} speakers. {report.summary()}")

    layer = load_layer1(args.model, verbose=True)
    executor = make_executor(args.jobs, args.scheduler)
    dataset, corpus, problems = build_dataset(args, loaded, layer, executor, timings)
    problems["class_notes"] = notes
    atomic.write_json(out / "problems.json", problems)
    settings = (Settings.quick if args.quick else Settings)(seed=args.seed)
    cells = make_splits(corpus, dataset.speakers, names)
    t = time.perf_counter()
    entries = [Entry(k, k, settings) for k in systems]
    results = run(entries, [s for splits in cells.values() for s in splits], dataset, executor, out=out,
                  timings=timings, desc="splits", say=say, per_split=True)
    timings["training (wall)"] = time.perf_counter() - t
    executor.shutdown()

    matrix = matrix_entries(cells, results, dataset.y, corpus, systems, args.seed)
    md = matrix_markdown(matrix, names, systems, args.normalize)
    atomic.write_text(out / "matrix.md", md)
    atomic.write_json(out / "matrix.json", matrix, sort_keys=False)
    notes = heatmaps(out, matrix, names, systems)
    timings["total"] = time.perf_counter() - t_start
    man = manifest(args, settings, loaded, dataset, layer, timings)
    man["notes"] = notes
    atomic.write_json(out / "manifest.json", man)
    say("\n" + md + "\n".join(notes))
    say(f"wrote {out}/matrix.md, matrix.json, heatmap-*.png, manifest.json, problems.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
