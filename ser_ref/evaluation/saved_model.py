"""A Table 2 system trained on every speaker of a corpus, saved as one .npz, and read back to predict.

Training is one ``reproduce`` fold (``fit_system``) with every speaker in the training set. The file
(``ser_ref.files.modelfile``: plain arrays, a format version, an integrity hash) holds the
parameters, the standardisation statistics, the class names, the feature settings and the sha256
of the DeepSpeech weights layer 1 was computed with (``model_meta``), which ``load_trained`` checks
before a file is predicted with exactly the feature code the model was trained on (``features_of``).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..files.modelfile import ModelFileError
from . import systems
from .systems import Settings

TRAINABLE = tuple(s for s in systems.SYSTEMS if s != "majority")


# ---------------------------------------------------------------------------------- training
def fit_system(system: str, features, y, speakers, seed: int, settings: Settings):
    """The fitted model of one system, built by the registry (``systems.make``) as a reproduce fold builds it.

    ``features``: (n, 88) eGeMAPS for "rf-egemaps", else one (frames, 2048) layer-1 array per utterance.

    >>> X = np.random.default_rng(0).normal(size=(24, 88)); y = np.arange(24) % 4
    >>> rf = fit_system("rf-egemaps", X, y, np.arange(24) % 3, 0, Settings(rf_trees=5))
    >>> rf.predict_proba(X).shape
    (24, 4)
    """
    if system not in TRAINABLE:
        raise SerRefError(f"unknown system {system!r}; expected one of {TRAINABLE}")
    model = systems.make(system, seed, settings).fit(features if system == "rf-egemaps" else list(features), y,
                                                     groups=speakers)
    return model.forest_ if system == "rf-egemaps" else model  # the forest itself carries save/load


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


def model_meta(system: str, run, settings: Settings, spec, layer, items, *,
               n_left_out: int, speakers_left_out, seconds: float) -> dict:
    """What a saved model records beside its arrays (``run``: the ``RunSettings`` of the training run;
    ``spec``: the ``FeatureSpec`` of the features it was trained on).

    >>> from ser_ref.corpora import Item
    >>> from ser_ref.evaluation.run_settings import RunSettings
    >>> items = [Item(Path("a.wav"), "s1", "anger"), Item(Path("b.wav"), "s2", "sadness")]
    >>> from ser_ref.evaluation.dataset import FeatureSpec
    >>> m = model_meta("rf-egemaps", RunSettings("train", corpus="demo"), Settings(), FeatureSpec("egemaps"), None, items,
    ...                n_left_out=0, speakers_left_out=[], seconds=1.0)
    >>> m["features"]["kind"], m["corpus"]["speakers"], m["class_names"][0]
    ('egemaps', ['s1', 's2'], 'anger')
    """
    from .. import __version__
    from ..corpora import LABELS
    from .feature_kinds import get

    return {
        "ser_ref_version": __version__,
        "system": system,
        "class_names": list(LABELS),
        "features": {"kind": spec.kind, "version": get(spec.kind).version, "step_ms": run.step_ms, "mode": run.mode,
                     "weights_sha256": spec.weights_sha256,
                     "weights_source": None if layer is None else Path(layer.source).name},
        "corpus": {"name": run.corpus, "n_utterances": len(items), "n_left_out": n_left_out,
                   "speakers_left_out": sorted(speakers_left_out),
                   "speakers": sorted({it.speaker for it in items}), "file_list_sha256": file_list_sha256(items)},
        "seed": run.seed,
        "settings": asdict(settings),
        "train_seconds": round(seconds, 1),
    }


# -------------------------------------------------------------------------------- predicting
@dataclass
class Trained:
    """A trained model with what predicting needs: its meta data and the feature settings."""

    model: object
    meta: dict
    kind: str          # "egemaps" or "layer1"
    params: dict       # the feature_kinds.compute parameters

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
    from .dataset import FeatureSpec

    return Trained(net, meta, "layer1", FeatureSpec.deepspeech(layer, step_ms=f["step_ms"], mode=f["mode"]).params)


def feature_version_note(path, trained: Trained) -> str | None:
    """A line when the model's features came from another version of the feature code than this
    one (``feature_kinds.KINDS[kind].version``): its numbers may then differ a little from training's.

    Examples
    --------
    >>> feature_version_note("m.npz", Trained(None, {"features": {"version": 0}}, "egemaps", {})).split(",")[0]
    'm.npz: trained on egemaps features of code version 0'
    """
    from .feature_kinds import get

    have, want = get(trained.kind).version, trained.meta["features"].get("version")
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
    from .feature_kinds import compute

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
