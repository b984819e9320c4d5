"""``python -m ser_ref.cross_corpus``: train on one corpus, test on another, for every ordered pair.

    python -m ser_ref.cross_corpus --corpus ravdess=DIR --corpus urdu=DIR [--corpus synthetic] \\
        [--systems rf-egemaps,dense,...] [--normalize none|speaker|corpus] [--cells all|cross] \
        [--quick] [--jobs N] [--out DIR]

For corpora A != B every system is trained on all of A and tested on all of B; the diagonal (A, A) is
the within-corpus LOSO result (``ser_ref.evaluation.cross_corpus_matrix``), left out ("not run") with
``--cells cross``, which costs one training per ordered pair instead of one per speaker. Outputs: matrix.md,
matrix.json (one entry per train, test, system), one heatmap per system, manifest.json,
problems.json; resumable like reproduce (same --out). See docs/cross-corpus.md for the protocol and
the normalisation options. ``--seeds a,b,c`` trains every system once per seed (features once); each
entry's numbers are the first seed's, with ``per_seed`` and the mean ± sd over the seeds beside them.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..evaluation import cross_corpus_matrix as matrix
from ..evaluation import protocol_card
from ..evaluation.systems import SYSTEMS, check_names
from ..files import atomic, locations
from . import common
from .common import say

NORMALIZE = ("none", "speaker", "corpus")


def parse_args(argv=None):
    ap = common.parser("cross_corpus", "Cross-corpus evaluation: train on corpus A, test on corpus B, "
                                       "for every ordered pair; within-corpus LOSO on the diagonal.")
    ap.add_argument("--corpus", action="append", default=[], metavar="NAME=ROOT",
                    help="a corpus and its root (at least two; 'synthetic' alone is generated in the cache)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated (default {','.join(SYSTEMS)})")
    ap.add_argument("--normalize", choices=NORMALIZE, default="none",
                    help="none; speaker: z-score each speaker with its own statistics (uses the test speakers' "
                         "unlabelled audio); corpus: z-score each corpus with its own statistics")
    ap.add_argument("--cells", choices=matrix.CELLS, default="all",
                    help="all: every cell; cross: only train on one corpus and test on another, leaving out "
                         "the within-corpus leave-one-speaker-out diagonal (much cheaper)")
    common.add_model(ap)
    common.add_features(ap)
    common.add_seeds(ap)
    common.add_quick(ap, "reduced settings (100 trees, short training)")
    common.add_jobs(ap)
    common.add_scheduler(ap)
    common.add_out(ap, "output folder (default results/cross-corpus-<timestamp>)")
    return common.parse(ap, argv)


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


def build_dataset(args, loaded, layer, executor, timings):
    """Features of every corpus (cached), concatenated: (Dataset, corpus name per utterance, problems)."""
    from ..evaluation import dataset
    from ..evaluation.runner import Dataset, digest
    from ..evaluation.table2 import table2_specs

    parts, problems = {}, {}
    for name, (items, report) in loaded.items():
        specs = table2_specs(layer, layer=args.features)  # --features: the networks on that layer
        parts[name], problems[name] = dataset.build_dataset(items, specs, executor=executor,
                                                            cache_root=locations.cache_dir(), timings=timings)
        probs = problems[name]
        probs.update(report.problems(probs["n_used"], probs["n_left_out"]))  # every entry counted
    y = np.concatenate([d.y for d in parts.values()])
    speakers = np.concatenate([np.array([f"{name}:{s}" for s in d.speakers]) for name, d in parts.items()])
    corpus = np.concatenate([np.full(len(d.y), name) for name, d in parts.items()])
    groups = {"none": None, "speaker": speakers, "corpus": corpus}[args.normalize]
    features = dataset.concatenate_features([d.features for d in parts.values()])
    digests = {name: d.digest for name, d in parts.items()}
    return Dataset(y, speakers, features, digest([digests, args.normalize]), groups), corpus, problems


def main(argv=None) -> int:
    """The command: one line per error on stderr (a traceback with --debug); exit 0 done, 2 bad
    input or argument, 3 a fault of the machine, 130 interrupted (finished splits kept)."""
    return common.cli_main(_run, argv, prog="cross_corpus")


def _run(argv) -> int:
    try:
        return _main(parse_args(argv), argv)
    except KeyboardInterrupt:
        print("\ninterrupted: finished splits are saved; re-run the same command with the same --out to resume.",
              file=sys.stderr)
        return 130


def _main(args, argv) -> int:
    from ..deepspeech import load_layer1
    from ..evaluation.executors import make_executor, stop
    from ..evaluation import seeds
    from ..evaluation.runner import Entry, run as run_splits

    t_start, timings = time.perf_counter(), {}
    systems = check_names(s.strip() for s in args.systems.split(",") if s.strip())
    if not systems:
        raise SerRefError("--systems: name at least one system")
    corpora = parse_corpora(args.corpus)
    run = common.run_settings("cross_corpus", args, argv, corpus=None)  # the corpora: NAME=ROOT pairs
    loaded = matrix.load_corpora(corpora, run.seed, run.quick)  # every bad corpus stops here, before any output
    notes = matrix.check_classes(loaded)
    names = list(loaded)
    out = common.output_folder(run.out, "cross-corpus")
    with common.locked_output(out):  # the lock held, a finished folder reopened
        say(f"Output folder: {out}  (re-run with --out {out} to resume)")
        for n, (items, report) in loaded.items():
            say(f"{n}: {len(items)} utterances, {len({i.speaker for i in items})} speakers. {report.summary()}")

        layer = load_layer1(run.model, verbose=True)
        executor = make_executor(run.jobs, run.scheduler)
        try:
            dataset, corpus, problems = build_dataset(args, loaded, layer, executor, timings)
            problems["class_notes"] = notes
            atomic.write_json(out / "problems.json", problems)
            settings = run.fold_settings()
            cells = matrix.make_splits(corpus, dataset.speakers, names, args.cells)
            t = time.perf_counter()
            by_seed = seeds.seeded_entries([Entry(k, k, settings) for k in systems], run.seeds)
            results = run_splits(seeds.flat(by_seed), [s for splits in cells.values() for s in splits], dataset,
                                 executor, out=out, timings=timings, desc="splits", say=say, per_split=True)
        except BaseException:
            stop(executor)  # SIGINT, SIGTERM or a fault: the queued tasks are not waited for
            raise
        timings["training (wall)"] = time.perf_counter() - t
        executor.shutdown()

        by_seed = {s: {k: results[e.key] for k, e in of_seed.items()} for s, of_seed in by_seed.items()}
        entries = matrix.matrix_entries(cells, by_seed[run.seed], dataset.y, corpus, systems, run.seed)
        entries = matrix.add_seed_columns(entries, cells, by_seed, dataset.y)
        md = matrix.matrix_markdown(entries, names, systems, args.normalize)
        atomic.write_text(out / "matrix.md", md)
        atomic.write_json(out / "matrix.json", entries, sort_keys=False)
        notes = matrix.heatmaps(out, entries, names, systems)
        timings["total"] = time.perf_counter() - t_start
        man = matrix.manifest(run, settings, loaded, dataset, layer, timings)
        man["notes"] = notes
        protocol_card.write(out, protocol_card.card(run, [s for c in cells.values() for s in c], dataset, layer, loaded,
                                                    normalize=args.normalize))
        atomic.write_json(out / "manifest.json", man)  # last: the mark of a complete folder
        say("\n" + md + "\n".join(notes))
        say(f"wrote {out}/matrix.md, matrix.json, heatmap-*.png, manifest.json, problems.json, protocol.json, protocol.md")
        return 0


if __name__ == "__main__":
    sys.exit(main())
