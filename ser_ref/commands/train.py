"""``python -m ser_ref.train``: one Table 2 system trained on every speaker of a corpus, saved as one .npz.

    python -m ser_ref.train --corpus ravdess --system dense --model-out dense.npz
    python -m ser_ref.predict --model-file dense.npz my_recording.wav

The code and defaults are those of one ``reproduce`` fold (``fit_system``), with every speaker in
the training set: the same cached features, forest size, network settings and seed (fold seed =
--seed). The file (``ser_ref.files.modelfile``: plain arrays, a format version, an integrity hash) holds
the parameters, the standardisation statistics, the class names, the feature settings and the
sha256 of the DeepSpeech weights layer 1 was computed with, which ``predict`` checks.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import SerRefError, command
from ..evaluation import systems
from ..evaluation.systems import Settings

SYSTEMS = tuple(s for s in systems.SYSTEMS if s != "majority")


def parse_args(argv=None):
    from .reproduce import CORPORA

    ap = argparse.ArgumentParser(prog="python -m ser_ref.train",
                                 description="Train one Table 2 system on all speakers of a corpus and save it.")
    ap.add_argument("--corpus", choices=CORPORA, required=True)
    ap.add_argument("--root", type=Path, help="corpus root (RAVDESS also from $SER_REF_RAVDESS or ../shared)")
    ap.add_argument("--system", choices=SYSTEMS, required=True)
    ap.add_argument("--model-out", type=Path, required=True, dest="model_out", help="the .npz to write")
    ap.add_argument("--model", type=Path, help="DeepSpeech .tflite or exported .npz (default: as reproduce)")
    ap.add_argument("--step-ms", type=int, choices=(20, 10), default=20, dest="step_ms")
    ap.add_argument("--mode", choices=("float", "tflite-int8"), default="float", help="layer-1 arithmetic")
    ap.add_argument("--chunk-len", type=int, default=Settings.chunk_len, dest="chunk_len",
                    help="chunk length of the two-stage systems (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--quick", action="store_true", help="reproduce --quick's sizes (fewer trees, shorter training)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for the features (default: all cores)")
    ap.add_argument("--leave-out", default="", dest="leave_out",
                    help="speakers to keep out of training, comma-separated (e.g. to explain one of theirs later)")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return ap.parse_args(argv)


def system_settings(args) -> Settings:
    """The settings reproduce gives every fold (``reproduce._main``), for these arguments.

    Examples
    --------
    >>> s = system_settings(parse_args(["--corpus", "ravdess", "--system", "dense", "--model-out", "m.npz"]))
    >>> s.rf_trees, s.rf_depth, s.chunk_len, s.nn_config          # reproduce's full-run settings
    (1000, 10, 20, {})
    """
    make = Settings.quick if args.quick else Settings
    return make(seed=args.seed, device=args.device, chunk_len=args.chunk_len)


def fit_system(system: str, features, y, speakers, seed: int, settings: Settings):
    """The fitted model of one system, built by the registry (``systems.make``) as a reproduce fold builds it.

    ``features``: (n, 88) eGeMAPS for "rf-egemaps", else one (frames, 2048) layer-1 array per utterance.

    >>> X = np.random.default_rng(0).normal(size=(24, 88)); y = np.arange(24) % 4
    >>> rf = fit_system("rf-egemaps", X, y, np.arange(24) % 3, 0, Settings(rf_trees=5))
    >>> rf.predict_proba(X).shape
    (24, 4)
    """
    if system not in SYSTEMS:
        raise SerRefError(f"unknown system {system!r}; expected one of {SYSTEMS}")
    model = systems.make(system, seed, settings).fit(features if system == "rf-egemaps" else list(features), y,
                                                     groups=speakers)
    return model.forest_ if system == "rf-egemaps" else model  # the forest itself carries save/load


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
    return kept


def file_list_sha256(items) -> str:
    """sha256 of the sorted 'speaker/label/file name' lines: which utterances the model saw.

    Examples
    --------
    >>> from ser_ref.corpora import Item
    >>> a, b = Item(Path("x/1.wav"), "s1", "anger"), Item(Path("y/2.wav"), "s2", "sadness")
    >>> file_list_sha256([a, b]) == file_list_sha256([b, a])      # the order of the list does not count
    True
    """
    lines = sorted(f"{it.speaker}/{it.label}/{Path(it.path).name}" for it in items)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _main(args) -> int:
    from ..corpora import LABELS
    from ..evaluation.executors import make_executor
    from ..evaluation.feature_cache import FEATURE_VERSIONS
    from .reproduce import load_corpus, say

    t0 = time.perf_counter()
    items, report = load_corpus(args)
    items = _without_speakers(items, args.leave_out)
    say(f"{len(items)} utterances, {len(set(i.speaker for i in items))} speakers. {report.summary()}")
    layer = None
    if args.system != "rf-egemaps":
        from ..deepspeech import load_layer1

        layer = load_layer1(args.model, verbose=True)
    kind, params = feature_settings(args.system, layer, args.step_ms, args.mode, args.device)
    executor = make_executor(args.jobs, None)
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
    settings = system_settings(args)
    say(f"training {args.system} on {len(items)} utterances of {len(set(speakers))} speakers")
    model = fit_system(args.system, feats, y, speakers, args.seed, settings)
    meta = {
        "ser_ref_version": __version__,
        "system": args.system,
        "class_names": list(LABELS),
        "features": {"kind": kind, "version": FEATURE_VERSIONS[kind], "step_ms": args.step_ms, "mode": args.mode,
                     "weights_sha256": params.get("weights_sha256"),
                     "weights_source": None if layer is None else Path(layer.source).name},
        "corpus": {"name": args.corpus, "n_utterances": len(items), "n_left_out": len(errors),
                   "speakers_left_out": sorted({s.strip() for s in args.leave_out.split(",") if s.strip()}),
                   "speakers": sorted(set(speakers.tolist())), "file_list_sha256": file_list_sha256(items)},
        "seed": args.seed,
        "settings": asdict(settings),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    model.save(args.model_out, meta)
    say(f"wrote {args.model_out} ({args.system}, classes {', '.join(LABELS)})")
    return 0


main = command("train", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
