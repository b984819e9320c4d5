"""``python -m ser_ref.reproduce``: the paper's Table 2 and Figure 3, end to end, under LOSO.

Stages: corpus -> audio checks -> cached features (eGeMAPS for the RF row, DeepSpeech layer 1 for the
neural rows) -> every Table 2 row under leave-one-speaker-out -> the Figure 3 chunk-length sweep ->
reports. Each finished fold is written atomically to ``<out>/folds``, so an interrupted run re-run
with the same ``--out`` resumes where it stopped and gives identical numbers.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..files import atomic, locations
from ..errors import SerRefError, UsageError, cli_main, machine_error
from ..evaluation.table2 import ROWS, Settings, sweep_key, table2_entries, table2_specs

CORPORA = ("synthetic", "iemocap", "ravdess", "emodb", "emovo", "cremad", "urdu")  # corpora.NAMES, synthetic first
FIG3_CHUNKS = (5, 10, 20, 40, 80)
FIG3_CHUNKS_QUICK = (10, 20)
IEMOCAP_HINT = (
    "The paper's setting: python -m ser_ref.reproduce --corpus iemocap --root /path/to/IEMOCAP_full_release "
    "--model deepspeech-0.9.3-models.tflite --step-ms 20"
)


MAX_JOBS = 256
MAX_CHUNK = 500  # frames: 10 s at the model's 20 ms step, far above the paper's 80
MAX_SEED = 2**32 - 1


def _int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in [lo, hi], else argparse's own one-line usage error."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer ({what})") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range: {what} must be in [{lo}, {hi}]")
        return v
    return parse


def _chunk_list(text: str) -> tuple[int, ...]:
    """--chunks "5,10,20": distinct frame counts in [1, MAX_CHUNK]."""
    one = _int_in(1, MAX_CHUNK, "a chunk length in frames")
    values = tuple(one(t.strip()) for t in text.split(","))
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"{', '.join(map(str, twice))} given more than once")
    return values


def _scheduler(text: str) -> str:
    if "://" in text:  # tcp://, tls://, inproc://: Dask's own addresses, checked when connecting
        return text
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. tcp://10.0.0.5:8786 or node1:8786)")
    return text


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m ser_ref.reproduce",
        description="Table 2 and Figure 3 of Andova et al. (2020) under leave-one-speaker-out evaluation.",
        epilog=IEMOCAP_HINT)
    ap.add_argument("--corpus", choices=CORPORA, default=None,
                    help="default: synthetic, a generated corpus that needs no download (labelled SYNTHETIC in "
                         "every report; generated in the cache, never in a folder of yours)")
    ap.add_argument("--root", type=Path, help="corpus root (needs --corpus; not needed for synthetic)")
    ap.add_argument("--model", type=Path, help="DeepSpeech .tflite or exported .npz (default: fetched once)")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                    help="array backend of the neural networks (gpu needs the 'gpu' extra and a CUDA device)")
    ap.add_argument("--step-ms", type=int, choices=(20, 10), default=20, dest="step_ms",
                    help="MFCC frame step: 20 ms as the model was trained, or 10 ms as the paper's text says")
    ap.add_argument("--seed", type=_int_in(0, MAX_SEED, "--seed"), default=0,
                    help=f"in [0, {MAX_SEED}]: fixes the synthetic corpus, the forests and the networks")
    ap.add_argument("--out", type=Path, help="output folder (default results/<corpus>-<timestamp>)")
    ap.add_argument("--quick", action="store_true", help="a reduced but complete pipeline (used by CI)")
    ap.add_argument("--jobs", type=_int_in(1, MAX_JOBS, "--jobs"), default=None,
                    help=f"worker processes in [1, {MAX_JOBS}] (default: all cores; 1: in-process)")
    ap.add_argument("--scheduler", type=_scheduler, help="HOST:PORT of a Dask scheduler to run folds and features on")
    ap.add_argument("--mode", choices=("float", "tflite-int8"), default="float", help="layer-1 arithmetic")
    ap.add_argument("--features", choices=("layer1", "layer2", "layer3", "layer4", "layer5"), default=None,
                    help="the neural rows on this layer of the whole DeepSpeech model (default: the paper's "
                         "layer-1 path); the feature cache is keyed by layer")
    ap.add_argument("--chunks", type=_chunk_list,
                    help=f"Figure 3 chunk lengths, distinct, comma-separated, each in [1, {MAX_CHUNK}] frames "
                         "(default 5,10,20,40,80)")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    _check_paths(ap, args)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the manifest's command line
    return args


def _check_paths(ap, args) -> None:
    """Argument checks that need the file system, before any work (argparse-style errors)."""
    if args.root is not None and args.corpus is None:
        ap.error("--root needs --corpus NAME (one of " + ", ".join(CORPORA) + "); the synthetic corpus "
                 "is generated in the cache and never written into a folder of yours")
    args.corpus = args.corpus or "synthetic"
    if args.model is not None:
        if not args.model.exists():
            ap.error(f"--model {args.model}: file not found")
        if not args.model.is_file():
            ap.error(f"--model {args.model}: is a folder; give the .tflite or .npz file itself")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        ap.error(f"--out {args.out}: exists and is not a folder")


def say(msg: str) -> None:
    print(msg, flush=True)


def load_corpus(args):
    """Items of the chosen corpus; the synthetic one is generated (once) under the cache folder,
    or read (never written) from ``--root``.

    Examples
    --------
    >>> load_corpus(parse_args(["--corpus", "emodb"]))
    Traceback (most recent call last):
    ...
    ser_ref.errors.UsageError: --corpus emodb needs --root DIR pointing at your copy of the corpus
    """
    from .. import corpora

    if args.corpus == "synthetic":
        from ..corpora import synthetic

        if args.root is not None:
            return corpora.load_with_report("synthetic", args.root)
        size = {"n_speakers": 4, "n_per_emotion": 3} if args.quick else {}
        tag = "quick" if args.quick else "default"
        root = locations.cache_dir() / "corpora" / f"synthetic-{tag}-seed{args.seed}"
        try:
            synthetic.generate(root, seed=args.seed, **size)
        except OSError as exc:
            raise machine_error(exc, "synthetic corpus in the cache") from exc
        return corpora.load_with_report("synthetic", root)
    root = args.root
    if root is None and args.corpus == "ravdess":
        root = locations.ravdess_root()
    if root is None:
        raise UsageError(f"--corpus {args.corpus} needs --root DIR pointing at your copy of the corpus")
    return corpora.load_with_report(args.corpus, root)


def check_cache_writable() -> Path:
    """The feature cache must take files before any work: a probe file written and removed."""
    root = locations.cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-probe-{os.getpid()}"  # per process: runs may share a cache
        atomic.write_bytes(probe, b"")
        probe.unlink(missing_ok=True)
    except OSError as exc:
        raise machine_error(exc, "the feature cache ($SER_REF_CACHE) must be writable", exc.filename or root) from exc
    return root


def main(argv=None) -> int:
    """The command: one line per error on stderr (a traceback with --debug); exit 0 done, 2 bad
    input or argument, 3 a fault of the machine, 130 interrupted (finished work kept)."""
    return cli_main(_run, argv, prog="reproduce")


def _run(argv) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        return _main(args, t_start, timings)
    except KeyboardInterrupt:
        print("\ninterrupted: finished folds and features are saved; re-run the same command "
              "with the same --out to resume.", file=sys.stderr)
        return 130


def _output_folder(args) -> Path:
    out = args.out or Path("results") / f"{args.corpus}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise machine_error(exc, "--out: the output folder cannot be created", exc.filename or out) from exc
    return out


def _main(args, t_start, timings) -> int:
    from ..runtime.backend import get_xp

    if args.device == "gpu":
        get_xp("gpu")  # fail before any work if the GPU cannot be used
    if args.corpus == "synthetic":
        say("Corpus: SYNTHETIC (generated source-filter voices; not the paper's IEMOCAP). " + IEMOCAP_HINT)
    t = time.perf_counter()
    items, load_report = load_corpus(args)  # a missing or empty corpus stops here, before any output
    timings["corpus"] = time.perf_counter() - t
    say(f"{len(items)} utterances, {len(set(i.speaker for i in items))} speakers. {load_report.summary()}")
    out = _output_folder(args)
    check_cache_writable()
    with atomic.folder_lock(out):  # a second run into the same --out refuses at once; also a write probe
        say(f"Output folder: {out}  (re-run with --out {out} to resume)")
        return _work(args, items, load_report, out, t_start, timings)


def _work(args, items, load_report, out: Path, t_start, timings) -> int:
    from ..deepspeech import load_layer1
    from ..evaluation.executors import make_executor, stop

    layer = load_layer1(args.model, verbose=True)
    executor = make_executor(args.jobs, args.scheduler)
    try:
        return _stages(args, items, load_report, out, layer, executor, t_start, timings)
    except BaseException:
        stop(executor)  # workers go at once (a SIGINT or a machine fault must not wait for them)
        raise


def _stages(args, items, load_report, out: Path, layer, executor, t_start, timings) -> int:
    from ..evaluation import metrics, report
    from ..evaluation.dataset import build_dataset
    from ..evaluation.runner import run

    specs = table2_specs(layer, step_ms=args.step_ms, mode=args.mode, device=args.device, layer=args.features)
    data, problems = build_dataset(items, specs, executor=executor, cache_root=locations.cache_dir(), timings=timings)
    problems["corpus"], problems["skipped_by_loader"] = load_report.summary(), load_report.skipped
    atomic.write_json(out / "problems.json", problems)
    for line in problems["feature_errors"] + problems["speakers_missing_classes"]:
        say(f"warning: {line}")
    if problems["n_used"] < problems["n_items"]:
        say(f"warning: {problems['n_items'] - problems['n_used']} of {problems['n_items']} files left out "
            f"(listed in {out / 'problems.json'})")
    y, speakers = data.y, data.speakers
    names = sorted({str(s) for s in speakers})  # str: a NumPy string would print as np.str_('...')
    if len(names) < 2:
        raise SerRefError(f"{args.corpus}: leave-one-speaker-out needs at least 2 speakers; the usable files "
                          f"hold only {', '.join(names)}")
    folds = metrics.loso_folds(speakers)
    settings = Settings(seed=args.seed, device=args.device,
                        rf_trees=100 if args.quick else 1000, rf_depth=10,
                        nn_config="quick" if args.quick else {})
    chunks = args.chunks or (FIG3_CHUNKS_QUICK if args.quick else FIG3_CHUNKS)
    t = time.perf_counter()
    probas = run(table2_entries(settings, chunks), folds, data, executor, out=out, timings=timings, desc="LOSO folds",
                 say=say)
    timings["training (wall)"] = time.perf_counter() - t
    executor.shutdown()

    fig3 = {c: probas[sweep_key(c, settings)] for c in chunks}
    timings["total"] = time.perf_counter() - t_start
    manifest = report.manifest(args, settings, data.items, data.corpus_digest, layer, timings)
    summary = report.write_all(out, args.corpus, y, speakers, {r: probas[r] for r in ROWS}, fig3,
                               manifest, problems, seed=args.seed)
    say("")
    say(summary)
    say(f"\nwrote {out}/table2.md, table2.json, figure3.json (+ .png with matplotlib), per_speaker.csv, manifest.json")
    if args.corpus == "synthetic":
        say(IEMOCAP_HINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
