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


def feature_settings(system: str, layer, step_ms: int, mode: str, device: str) -> tuple[str, dict]:
    """(kind, parameters) of the features a system reads, as reproduce caches them.

    Examples
    --------
    >>> feature_settings("rf-egemaps", None, 20, "float", "cpu")
    ('egemaps', {})
    """
    if system == "rf-egemaps":
        return "egemaps", {}
    return "layer1", {"weights": layer.source, "weights_sha256": layer.metadata.get("file_sha256", ""),
                      "step_ms": step_ms, "mode": mode, "device": device}


def corpus_features(items, kind: str, params: dict, executor):
    """(items kept, their features, error lines): a file that fails is left out and named.

    Examples
    --------
    >>> import tempfile
    >>> from ser_ref.corpora import Item
    >>> from ser_ref.evaluation.executors import SerialExecutor
    >>> corpus_features([Item(Path("/no/a.wav"), "s1", "anger")], "egemaps", {}, SerialExecutor())
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: no usable utterances: every file failed, e.g. [...]
    """
    from ..files import locations
    from ..evaluation.feature_cache import extract_all, load_many

    npys, errors = extract_all([str(it.path) for it in items], kind, params, locations.cache_dir(), executor,
                               desc=kind)
    keep = [i for i, p in enumerate(npys) if p]
    if not keep:
        raise SerRefError(f"no usable utterances: every file failed, e.g. {errors[:3]}")
    if kind == "egemaps":  # one small vector per file, stacked: nothing to map
        feats = np.stack([np.load(npys[i]) for i in keep])
    else:
        feats = load_many([npys[i] for i in keep])
    return [items[i] for i in keep], feats, errors


def _without_speakers(items, leave_out: str):
    drop = {s.strip() for s in leave_out.split(",") if s.strip()}
    unknown = drop - {it.speaker for it in items}
    if unknown:
        raise SerRefError(f"--leave-out: no speaker {', '.join(sorted(unknown))} in the corpus")
    kept = [it for it in items if it.speaker not in drop]
    if not kept:
        raise SerRefError("--leave-out: that leaves no speaker to train on")
    return kept, drop


def _main(args) -> int:
    from ..corpora import LABELS
    from ..corpora.opening import open_corpus
    from ..evaluation.executors import make_executor

    run = common.run_settings("train", args)
    t0 = time.perf_counter()
    items, report = open_corpus(run.corpus, run.root, seed=run.seed, quick=run.quick)
    items, left_out = _without_speakers(items, args.leave_out)
    say(f"{len(items)} utterances, {len(set(i.speaker for i in items))} speakers. {report.summary()}")
    layer = None
    if args.system != "rf-egemaps":
        from ..deepspeech import load_layer1

        layer = load_layer1(run.model, verbose=True)
    kind, params = feature_settings(args.system, layer, run.step_ms, run.mode, run.device)
    executor = make_executor(run.jobs, None)
    try:
        items, feats, errors = corpus_features(items, kind, params, executor)
    finally:
        executor.shutdown()
    for line in errors:
        say(f"warning: {line}")
    if errors:
        say(f"warning: {len(errors)} files left out")
    y = np.array([LABELS.index(it.label) for it in items])
    speakers = np.array([it.speaker for it in items])
    settings = run.fold_settings(chunk_len=args.chunk_len)
    say(f"training {args.system} on {len(items)} utterances of {len(set(speakers))} speakers")
    model = fit_system(args.system, feats, y, speakers, run.seed, settings)
    meta = model_meta(args.system, run, settings, kind, params, layer, items, n_left_out=len(errors),
                      speakers_left_out=left_out, seconds=time.perf_counter() - t0)
    model.save(args.model_out, meta)
    say(f"wrote {args.model_out} ({args.system}, classes {', '.join(LABELS)})")
    return 0


main = common.command("train", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
