"""``python -m ser_ref.predict --model-file FILE.npz FILES... [--json]``: a trained model on your own audio.

Per file it prints the decision and P(class | utterance) for the four classes (with ``--json``, one
object per line: ``path``, ``label``, ``probabilities`` {class: p}). Each file goes through exactly
the feature code the model was trained on (``feature_cache.compute``: the same audio checks, MFCC step,
layer-1 mode or eGeMAPS). The model file is refused, with one line naming it, when it is corrupt, of
another format version, or was trained on layer-1 features of DeepSpeech weights other than the
ones in use. A file that cannot be used is named with its problem, the others are still predicted,
and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..files.modelfile import ModelFileError


@dataclass
class Trained:
    """A trained model with what predicting needs: its meta data and the feature settings."""

    model: object
    meta: dict
    kind: str          # "egemaps" or "layer1"
    params: dict       # the feature_cache.compute parameters

    @property
    def classes(self) -> list:
        return list(self.meta["class_names"])


def check_weights(path, meta: dict, layer) -> None:
    """Refuse a model whose layer-1 features came from other DeepSpeech weights than ``layer``'s.

    >>> from types import SimpleNamespace
    >>> layer = SimpleNamespace(metadata={"file_sha256": "b" * 64}, source="w.npz")
    >>> check_weights("m.npz", {"features": {"weights_sha256": "a" * 64, "weights_source": "x.npz"}}, layer)
    Traceback (most recent call last):
    ...
    ser_ref.files.modelfile.ModelFileError: m.npz: trained on layer 1 of DeepSpeech weights sha256 aaaaaaaaaaaa... (x.npz), ...
    """
    want = meta["features"].get("weights_sha256")
    have = layer.metadata.get("file_sha256", "")
    if want != have:
        raise ModelFileError(
            f"{path}: trained on layer 1 of DeepSpeech weights sha256 {str(want)[:12]}... "
            f"({meta['features'].get('weights_source')}), but the weights in use ({layer.source}) have sha256 "
            f"{have[:12]}...; pass --model with the weights it was trained on")


def load_trained(path, model=None, device: str = "cpu", verbose: bool = False) -> Trained:
    """The model in ``path`` (written by ``python -m ser_ref.train``) ready to predict.

    ``model`` is the DeepSpeech weights (as reproduce's --model; default: the usual search), loaded
    only for a network and checked against the sha256 the file records.

    Examples
    --------
    >>> import os, tempfile
    >>> from ser_ref.forest.random_forest import RandomForest
    >>> X = np.random.default_rng(0).normal(size=(40, 88)); y = np.arange(40) % 4
    >>> p = os.path.join(tempfile.mkdtemp(), "rf.npz")
    >>> RandomForest(n_trees=5).fit(X, y).save(p, meta={"class_names": ["a", "h", "s", "n"],
    ...                                                  "features": {"kind": "egemaps"}})
    >>> t = load_trained(p)
    >>> t.kind, t.classes
    ('egemaps', ['a', 'h', 's', 'n'])
    >>> RandomForest(n_trees=5).fit(X, y).save(p)          # a bare forest, not from python -m ser_ref.train
    >>> load_trained(p)
    Traceback (most recent call last):
    ...
    ser_ref.files.modelfile.ModelFileError: ...rf.npz: a bare random-forest file, not one written by python -m ser_ref.train
    """
    from ..files.modelfile import read

    arrays, meta = read(path)
    if "features" not in meta or "class_names" not in meta:
        raise ModelFileError(f"{path}: a bare {meta['model_kind']} file, not one written by python -m ser_ref.train")
    f = meta["features"]
    if meta["model_kind"] == "random-forest":
        from ..forest.random_forest import RandomForest

        net = RandomForest.from_saved(arrays, meta, path, device)
    else:
        from ..nn.persist import model_from_arrays

        net = model_from_arrays(arrays, meta["network"], device=device, source=str(path))
    if f["kind"] == "egemaps":
        return Trained(net, meta, "egemaps", {})
    from ..deepspeech import load_layer1

    layer = load_layer1(model, verbose=verbose)
    check_weights(path, meta, layer)
    params = {"weights": layer.source, "step_ms": f["step_ms"], "mode": f["mode"]}
    return Trained(net, meta, "layer1", params)


def feature_version_note(path, trained: Trained) -> str | None:
    """A line when the model's features came from another version of the feature code than this
    one (``feature_cache.FEATURE_VERSIONS``): its numbers may then differ a little from training's.

    Examples
    --------
    >>> feature_version_note("m.npz", Trained(None, {"features": {"version": 0}}, "egemaps", {})).split(",")[0]
    'm.npz: trained on egemaps features of code version 0'
    """
    from ..evaluation.feature_cache import FEATURE_VERSIONS

    have, want = FEATURE_VERSIONS[trained.kind], trained.meta["features"].get("version")
    if want == have:
        return None
    return f"{path}: trained on {trained.kind} features of code version {want}, this ser_ref computes version {have}"


def features_of(trained: Trained, audio_path):
    """The file's features under the model's settings: (frames, 2048) layer 1 or (88,) eGeMAPS.

    Examples
    --------
    >>> import os, tempfile, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(p, 0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000), 16000)
    >>> features_of(Trained(None, {}, "egemaps", {}), p).shape
    (88,)
    """
    from ..evaluation.feature_cache import compute

    return compute(str(audio_path), trained.kind, trained.params)


def probabilities(trained: Trained, feats) -> np.ndarray:
    """P(class | utterance) (n_classes,) of one utterance's features.

    Examples
    --------
    >>> from ser_ref.forest.random_forest import RandomForest
    >>> X = np.random.default_rng(0).normal(size=(40, 88)); y = np.arange(40) % 4
    >>> t = Trained(RandomForest(n_trees=5).fit(X, y), {"class_names": list("ahsn")}, "egemaps", {})
    >>> p = probabilities(t, X[0])
    >>> p.shape, round(float(p.sum()), 6)
    ((4,), 1.0)
    """
    if trained.kind == "egemaps":
        return trained.model.predict_proba(np.asarray(feats)[None])[0]
    return trained.model.predict_proba([feats])[0]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ser_ref.predict",
                                 description="Label your own recordings with a model from python -m ser_ref.train.")
    ap.add_argument("--model-file", type=Path, required=True, dest="model_file", help="the trained .npz")
    ap.add_argument("files", nargs="+", type=Path, help="audio files (any rate or channel count soundfile reads)")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--model", type=Path, help="DeepSpeech .tflite or exported .npz (default: as reproduce)")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    return ap.parse_args(argv)


def _line(path, label, probs, classes, as_json: bool) -> str:
    if as_json:
        return json.dumps({"path": str(path), "label": label,
                           "probabilities": {c: round(float(p), 6) for c, p in zip(classes, probs)}})
    return f"{path}\t{label}\t" + "  ".join(f"{c}={p:.3f}" for c, p in zip(classes, probs))


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        trained = load_trained(args.model_file, args.model, args.device)
    except SerRefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    note = feature_version_note(args.model_file, trained)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    failed = 0
    for path in args.files:
        try:
            p = probabilities(trained, features_of(trained, path))
        except (SerRefError, OSError) as exc:
            msg = str(exc)
            print(f"error: {msg if str(path) in msg else f'{path}: {msg}'}", file=sys.stderr)
            failed += 1
            continue
        print(_line(path, trained.classes[int(np.argmax(p))], p, trained.classes, args.json), flush=True)
    if failed:
        print(f"error: {failed} of {len(args.files)} files could not be used", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
