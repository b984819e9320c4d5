"""``python -m ser_ref.train``: one Table 2 system trained on every speaker of a corpus, saved as one .npz.

    python -m ser_ref.train --corpus ravdess --system dense --model-out dense.npz
    python -m ser_ref.predict --model-file dense.npz my_recording.wav

The code and defaults are those of one ``reproduce`` fold (``saved_model.fit_system``), with every
speaker in the training set: the same cached features, forest size, network settings and seed (fold
seed = --seed). What the file holds: ``ser_ref.evaluation.saved_model``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..evaluation.saved_model import TRAINABLE, fit_system, model_meta
from ..evaluation import systems
from ..evaluation.systems import Settings
from . import common
from .common import say


def parse_args(argv=None):
    ap = common.parser("train", "Train one Table 2 system on all speakers of a corpus and save it.")
    common.add_corpus(ap, required=True)
    common.add_root(ap, "corpus root (RAVDESS also from $SER_REF_RAVDESS or ../shared)")
    ap.add_argument("--system", choices=TRAINABLE, required=True)
    ap.add_argument("--model-out", type=Path, required=True, dest="model_out", help="the .npz to write")
    common.add_model(ap)
    common.add_step_ms(ap)
    common.add_mode(ap)
    ap.add_argument("--chunk-len", type=common.int_in(1, common.MAX_CHUNK, "--chunk-len"), default=Settings.chunk_len,
                    dest="chunk_len", help="chunk length of the two-stage systems, in frames (default %(default)s)")
    common.add_seed(ap, "the fold seed of the forest or the network")
    common.add_device(ap)
    common.add_quick(ap, "reproduce --quick's sizes (fewer trees, shorter training)")
    common.add_jobs(ap, "worker processes for the features")
    ap.add_argument("--leave-out", default="", dest="leave_out",
                    help="speakers to keep out of training, comma-separated (e.g. to explain one of theirs later)")
    args = common.parse(ap, argv)
    if args.model_out.is_dir():
        ap.error(f"--model-out {args.model_out}: is a folder; give the .npz file to write")
    return args


def feature_spec(system: str, layer, step_ms: int, mode: str, device: str):
    """The features a system reads, as reproduce caches them (``evaluation.dataset.FeatureSpec``).

    Examples
    --------
    >>> feature_spec("rf-egemaps", None, 20, "float", "cpu")
    FeatureSpec(kind='egemaps', layer=None, weights=None, weights_sha256=None, step_ms=None, mode=None, device=None)
    """
    from ..evaluation.dataset import FeatureSpec

    if systems.get(system).reads == "egemaps":
        return FeatureSpec("egemaps")
    return FeatureSpec.deepspeech(layer, step_ms=step_ms, mode=mode, device=device)


def _without_speakers(items, leave_out: str):
    drop = {s.strip() for s in leave_out.split(",") if s.strip()}
    unknown = drop - {it.speaker for it in items}
    if unknown:
        raise SerRefError(f"--leave-out: no speaker {', '.join(sorted(unknown))} in the corpus; its speakers are "
                          f"{', '.join(sorted({it.speaker for it in items}))}")
    kept = [it for it in items if it.speaker not in drop]
    if not kept:
        raise SerRefError("--leave-out: that leaves no speaker to train on")
    return kept, drop


def _main(args) -> int:
    from ..corpora import LABELS
    from ..corpora.opening import open_corpus
    from ..evaluation import feature_kinds
    from ..evaluation.dataset import build_dataset
    from ..evaluation.executors import make_executor, stop
    from ..files import locations

    run = common.run_settings("train", args)
    t0 = time.perf_counter()
    items, report = open_corpus(run.corpus, run.root, seed=run.seed, quick=run.quick)
    items, left_out = _without_speakers(items, args.leave_out)
    say(f"{len(items)} utterances, {len(set(i.speaker for i in items))} speakers. {report.summary()}")
    layer = None
    if args.system != "rf-egemaps":
        from ..deepspeech import load_layer1

        layer = load_layer1(run.model, verbose=True)
    spec, reads = feature_spec(args.system, layer, run.step_ms, run.mode, run.device), systems.get(args.system).reads
    executor = make_executor(run.jobs, None)
    try:
        data, problems = build_dataset(items, {reads: spec}, executor=executor, cache_root=locations.cache_dir())
    except BaseException:
        stop(executor)  # SIGINT, SIGTERM or a fault: the queued files are not waited for
        raise
    executor.shutdown()
    for line in problems["feature_errors"]:
        say(f"warning: {line}")
    if problems["n_left_out"]:
        say(f"warning: {problems['n_left_out']} files left out")
    items, y, speakers = data.items, data.y, data.speakers
    feats = feature_kinds.get(spec.kind).take(data.features[reads], np.arange(len(y)))
    settings = run.fold_settings(chunk_len=args.chunk_len)
    say(f"training {args.system} on {len(items)} utterances of {len(set(speakers))} speakers")
    model = fit_system(args.system, feats, y, speakers, run.seed, settings)
    meta = model_meta(args.system, run, settings, spec, layer, items, n_left_out=problems["n_left_out"],
                      speakers_left_out=left_out, seconds=time.perf_counter() - t0)
    model.save(args.model_out, meta)
    say(f"wrote {args.model_out} ({args.system}, classes {', '.join(LABELS)})")
    return 0


main = common.command("train", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
