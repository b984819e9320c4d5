"""``python -m ser_ref.reproduce``: the paper's Table 2 and Figure 3, end to end, under LOSO.

Stages: corpus -> audio checks -> cached features (eGeMAPS for the RF row, DeepSpeech layer 1 for the
neural rows) -> every Table 2 row under leave-one-speaker-out -> the Figure 3 chunk-length sweep ->
reports. Each finished fold is written atomically to ``<out>/folds``, so an interrupted run re-run
with the same ``--out`` resumes where it stopped and gives identical numbers.

``--seeds a,b,c`` trains every system once per seed on the features computed once (one checkpoint
per system, fold and seed: ``evaluation.seeds``); the tables give the first seed's numbers, as
``--seed a`` would, and beside them the mean ± sd over the seeds.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..corpora import NAMES
from ..corpora.opening import open_corpus
from ..errors import SerRefError
from ..evaluation.feature_cache import check_cache_writable
from ..evaluation.table2 import FIG3_CHUNKS, FIG3_CHUNKS_QUICK, ROWS, sweep_key, table2_entries, table2_specs
from ..files import atomic, locations
from . import common
from .common import say

IEMOCAP_HINT = (
    "The paper's setting: python -m ser_ref.reproduce --corpus iemocap --root /path/to/IEMOCAP_full_release "
    "--model deepspeech-0.9.3-models.tflite --step-ms 20"
)


def parse_args(argv=None):
    ap = common.parser("reproduce", "Table 2 and Figure 3 of Andova et al. (2020) under leave-one-speaker-out "
                                    "evaluation.", epilog=IEMOCAP_HINT)
    common.add_corpus(ap, "default: synthetic, a generated corpus that needs no download (labelled SYNTHETIC in "
                          "every report; generated in the cache, never in a folder of yours)", default=None)
    common.add_root(ap, "corpus root (needs --corpus; not needed for synthetic)")
    common.add_model(ap, "DeepSpeech .tflite or exported .npz (default: fetched once)")
    common.add_device(ap, "array backend of the neural networks (gpu needs the 'gpu' extra and a CUDA device)")
    common.add_step_ms(ap)
    common.add_seeds(ap, "fixes the synthetic corpus, the forests and the networks (with --seeds: the first seed "
                         "fixes the corpus and the intervals)")
    common.add_out(ap, "output folder (default results/<corpus>-<timestamp>)")
    common.add_quick(ap, "a reduced but complete pipeline (used by CI)")
    common.add_jobs(ap)
    common.add_scheduler(ap)
    common.add_mode(ap)
    common.add_folds(ap)
    common.add_features(ap)
    ap.add_argument("--chunks", type=common.int_list(1, common.MAX_CHUNK, "a chunk length in frames"),
                    help=f"Figure 3 chunk lengths, distinct, comma-separated, each in [1, {common.MAX_CHUNK}] frames "
                         "(default 5,10,20,40,80)")
    args = common.parse(ap, argv)
    if args.root is not None and args.corpus is None:
        ap.error("--root needs --corpus NAME (one of " + ", ".join(NAMES) + "); the synthetic corpus "
                 "is generated in the cache and never written into a folder of yours")
    args.corpus = args.corpus or "synthetic"
    return args




def main(argv=None) -> int:
    """The command: one line per error on stderr (a traceback with --debug); exit 0 done, 2 bad
    input or argument, 3 a fault of the machine, 130 interrupted (finished work kept)."""
    return common.cli_main(_run, argv, prog="reproduce")


def _run(argv) -> int:
    run = common.run_settings("reproduce", parse_args(argv), argv)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        return _main(run, t_start, timings)
    except KeyboardInterrupt:
        print("\ninterrupted: finished folds and features are saved; re-run the same command "
              "with the same --out to resume.", file=sys.stderr)
        return 130


def _main(run, t_start, timings) -> int:
    from ..runtime.backend import get_xp

    if run.device == "gpu":
        get_xp("gpu")  # fail before any work if the GPU cannot be used
    if run.is_synthetic:
        say("Corpus: SYNTHETIC (generated source-filter voices; not the paper's IEMOCAP). " + IEMOCAP_HINT)
    t = time.perf_counter()
    # a missing or empty corpus stops here, before any output
    items, load_report = open_corpus(run.corpus, run.root, seed=run.seed, quick=run.quick)
    timings["corpus"] = time.perf_counter() - t
    say(f"{len(items)} utterances, {len(set(i.speaker for i in items))} speakers. {load_report.summary()}")
    out = common.output_folder(run.out, run.corpus)
    check_cache_writable()
    with common.locked_output(out):  # the lock held, a finished folder reopened
        say(f"Output folder: {out}  (re-run with --out {out} to resume)")
        return _work(run, items, load_report, out, t_start, timings)


def _work(run, items, load_report, out: Path, t_start, timings) -> int:
    from ..deepspeech import load_layer1
    from ..evaluation.executors import make_executor, stop

    layer = load_layer1(run.model, verbose=True)
    executor = make_executor(run.jobs, run.scheduler)
    try:
        return _stages(run, items, load_report, out, layer, executor, t_start, timings)
    except BaseException:
        stop(executor)  # workers go at once (a SIGINT or a machine fault must not wait for them)
        raise


def _stages(run, items, load_report, out: Path, layer, executor, t_start, timings) -> int:
    from ..evaluation import fold_files, protocol_card, report, seeds
    from ..evaluation.dataset import build_dataset
    from ..evaluation.runner import run as run_entries

    specs = table2_specs(layer, step_ms=run.step_ms, mode=run.mode, device=run.device, layer=run.features)
    data, problems = build_dataset(items, specs, executor=executor, cache_root=locations.cache_dir(), timings=timings)
    problems.update(load_report.problems(problems["n_used"], problems["n_left_out"]))  # every entry counted
    atomic.write_json(out / "problems.json", problems)
    for line in problems["feature_errors"] + problems["speakers_missing_classes"]:
        say(f"warning: {line}")
    if problems["n_used"] < problems["n_items"]:
        say(f"warning: {problems['n_items'] - problems['n_used']} of {problems['n_items']} files left out "
            f"(listed in {out / 'problems.json'})")
    y, speakers = data.y, data.speakers
    names = sorted({str(s) for s in speakers})  # str: a NumPy string would print as np.str_('...')
    if len(names) < 2:
        raise SerRefError(f"{run.corpus}: leave-one-speaker-out needs at least 2 speakers; the usable files "
                          f"hold only {', '.join(names)}")
    folds, data = fold_files.protocol_splits(run.folds, data)  # LOSO unless --folds
    settings = run.fold_settings()
    chunks = run.chunks or (FIG3_CHUNKS_QUICK if run.quick else FIG3_CHUNKS)
    by_seed = seeds.seeded_entries(table2_entries(settings, chunks), run.seeds)
    if (close := seeds.close_seeds_warning(run.seeds, len(folds))) is not None:
        say(f"note: {close}")
    t = time.perf_counter()
    probas = run_entries(seeds.flat(by_seed), folds, data, executor, out=out, timings=timings,
                         desc="LOSO folds", say=say)
    timings["training (wall)"] = time.perf_counter() - t
    executor.shutdown()
    if run.folds is not None:  # a single train/test split tests part of the corpus: report on that part
        keep = fold_files.utterances_tested(folds, len(y))
        y, speakers, probas = y[keep], speakers[keep], {k: p[keep] for k, p in probas.items()}

    results = {s: ({r: probas[entries[r].key] for r in ROWS},
                   {c: probas[entries[sweep_key(c, settings)].key] for c in chunks}) for s, entries in by_seed.items()}
    timings["total"] = time.perf_counter() - t_start
    manifest = report.manifest(run, settings, data.items, data.corpus_digest, layer, timings)
    stamp = protocol_card.write(out, protocol_card.card(run, folds, data, layer, {run.corpus: (items, load_report)},
                                                        problems))
    # the manifest, written last by write_all, marks the folder complete: the card goes first
    summary = report.write_all(out, run.corpus, y, speakers, *results[run.seed], manifest, problems, seed=run.seed,
                               by_seed=results, stamp=stamp[0] if stamp else None)
    say("")
    say("\n".join(stamp + [summary]))
    say(f"\nwrote {out}/table2.md, table2.json, figure3.json (+ .png with matplotlib), per_speaker.csv, manifest.json, "
        "protocol.json, protocol.md")
    if run.is_synthetic:
        say(IEMOCAP_HINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
