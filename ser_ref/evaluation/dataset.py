"""The dataset step: corpus items and feature specifications -> the runner's Dataset and a problems report.

    spec = FeatureSpec.deepspeech(layer, step_ms=20, mode="float", device="cpu")   # the paper's layer 1
    data, problems = build_dataset(items, {"egemaps": FeatureSpec("egemaps"), "layer1": spec},
                                   executor=executor, cache_root=locations.cache_dir())

``specs`` maps each feature kind the systems read (``systems.get(name).reads``) to the features that
fill it: reproduce's ``--features layer3`` fills "layer1" with layer 3 of the whole model. Every
command that needs features comes through here; the features themselves come from the content-keyed
cache (``feature_cache``), computed by their kind (``feature_kinds``) on ``executor``.

Faults: a file's own fault (unreadable, truncated, absurd audio, non-finite features) leaves the file
out, named in ``problems["feature_errors"]`` and counted; a fault of the machine (a full or read-only
cache) raises MachineError; no usable file at all is a SerRefError.

The digest pins the data: the sorted "file name:cache stem" of every file taking part, the stem being
that of the features computed with model weights (else of the first spec), which hashes the audio's
bytes and the parameters; then that spec's weights sha256, step, mode and (whole-model) layer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..corpora.opening import corpus_problems
from ..errors import SerRefError
from . import feature_kinds
from .runner import Dataset, digest


@dataclass(frozen=True)
class FeatureSpec:
    """Which features: a registered kind and its parameters (None: not a parameter of this kind).

    kind            "layer1", "egemaps", "deepspeech" or another registered kind (``feature_kinds``)
    layer           the whole model's "layer1".."layer5" (kind "deepspeech")
    weights         the weight file loaded (where the features come from; not part of the cache key)
    weights_sha256  that file's sha256 (its identity in the cache key)
    step_ms, mode   MFCC step (20 or 10) and the layers' arithmetic ("float" or "tflite-int8")
    device          where the features are computed ("cpu", "gpu")

    >>> FeatureSpec("egemaps").params
    {}
    """

    kind: str
    layer: str | None = None
    weights: str | None = None
    weights_sha256: str | None = None
    step_ms: int | None = None
    mode: str | None = None
    device: str | None = None

    @classmethod
    def deepspeech(cls, weights, *, step_ms: int, mode: str, device: str | None = "cpu",
                   layer: str | None = None) -> "FeatureSpec":
        """DeepSpeech features of the loaded ``weights`` (a ``Layer1``): layer 1 (kind "layer1", the
        paper's path, computed on ``device``) or, with ``layer``, that layer of the whole model (kind
        "deepspeech", always computed on the CPU; ``device`` None keys it without a device, as the
        layer study's cache is). Keyed on the weight file actually loaded (its bytes), not on the
        hash recorded inside it.

        >>> from types import SimpleNamespace
        >>> w = SimpleNamespace(source="w.npz", metadata={"file_sha256": "ab12"})
        >>> FeatureSpec.deepspeech(w, step_ms=20, mode="float", device="gpu").params
        {'weights': 'w.npz', 'weights_sha256': 'ab12', 'step_ms': 20, 'mode': 'float', 'device': 'gpu'}
        >>> FeatureSpec.deepspeech(w, step_ms=20, mode="float", device="gpu", layer="layer3").params["device"]
        'cpu'
        """
        common = dict(weights=weights.source, weights_sha256=weights.metadata.get("file_sha256", ""),
                      step_ms=step_ms, mode=mode)
        if layer is None:
            return cls("layer1", device=device, **common)
        return cls("deepspeech", layer=layer, device=None if device is None else "cpu", **common)

    @property
    def params(self) -> dict:
        """The kind's parameters (what ``feature_kinds`` computes with and the cache keys on)."""
        named = ((f.name, getattr(self, f.name)) for f in fields(self) if f.name != "kind")
        return {name: value for name, value in named if value is not None}

    @property
    def label(self) -> str:
        return self.layer or feature_kinds.get(self.kind).label or self.kind


def build_dataset(items, specs: dict, *, executor, cache_root, timings: dict | None = None):
    """(Dataset, problems) of the corpus ``items`` with the features ``specs`` ({kind read: FeatureSpec}).

    Features are cached (``cache_root``) and computed on ``executor``; specs that differ only in
    ``layer`` are computed together (one pass of the model per file). ``timings`` gains
    "features:<names>" seconds. ``problems``: n_items, n_used, n_left_out, feature_errors (one line
    per failed file, sorted), speakers_missing_classes.

    Examples
    --------
    >>> import os, tempfile, soundfile as sf
    >>> from ser_ref.corpora import Item
    >>> from ser_ref.evaluation.executors import SerialExecutor
    >>> d = tempfile.mkdtemp(); good, junk = os.path.join(d, "good.wav"), os.path.join(d, "junk.wav")
    >>> sf.write(good, 0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000), 16000)
    >>> open(junk, "w").write("not audio")
    9
    >>> items = [Item(Path(good), "s1", "anger"), Item(Path(junk), "s1", "sadness")]
    >>> data, problems = build_dataset(items, {"egemaps": FeatureSpec("egemaps")}, executor=SerialExecutor(),
    ...                                cache_root=tempfile.mkdtemp())
    >>> data.features["egemaps"].shape, data.y.tolist(), problems["n_left_out"], len(problems["feature_errors"])
    ((1, 88), [0], 1, 1)
    """
    from ..corpora import LABELS

    items = list(items)
    paths = [str(it.path) for it in items]
    npys, errors = {}, []
    for names in _passes(specs):
        t = time.perf_counter()
        kind = feature_kinds.get(specs[names[0]].kind)
        found, failed = kind.extract(paths, [specs[n].params for n in names], cache_root, executor,
                                     desc=", ".join(specs[n].label for n in names))
        npys.update(zip(names, found))
        errors += failed
        if timings is not None:
            key = "features:" + "+".join(names)  # summed: cross_corpus builds one dataset per corpus
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t
    keep = [i for i in range(len(items)) if all(npys[n][i] for n in specs)]
    if not keep:
        raise SerRefError(f"no usable utterances: every file failed, e.g. {errors[:3]}")
    kept = [items[i] for i in keep]
    y = np.array([LABELS.index(it.label) for it in kept])
    speakers = np.array([it.speaker for it in kept])
    features = {n: feature_kinds.get(spec.kind).collect([npys[n][i] for i in keep]) for n, spec in specs.items()}
    anchor = next((n for n, spec in specs.items() if spec.weights is not None), next(iter(specs)))
    # A cache file's stem hashes the audio's bytes and the parameters: name + stem pins the corpus.
    files = digest(sorted(Path(paths[i]).name + ":" + Path(npys[anchor][i]).stem for i in keep))
    a = specs[anchor]
    data = Dataset(y, speakers, features, digest([files, a.weights_sha256, a.step_ms, a.mode] + ([a.layer] if a.layer else [])),
                   items=kept, corpus_digest=files)
    problems = {"n_items": len(paths), "n_used": len(keep), "n_left_out": len(paths) - len(keep),
                "feature_errors": sorted(set(errors)), "speakers_missing_classes": corpus_problems(speakers, y)}
    return data, problems


def _passes(specs: dict) -> list[list[str]]:
    """The names of ``specs`` grouped into one extraction each: specs equal but for ``layer``.

    >>> _passes({"a": FeatureSpec("deepspeech", layer="layer1"), "b": FeatureSpec("egemaps"),
    ...          "c": FeatureSpec("deepspeech", layer="layer2")})
    [['a', 'c'], ['b']]
    """
    groups: dict[FeatureSpec, list[str]] = {}
    for name, spec in specs.items():
        groups.setdefault(replace(spec, layer=None), []).append(name)
    return list(groups.values())


def concatenate_features(columns: list[dict]) -> dict:
    """The features of several datasets (the same names) as one, utterances in order: per-frame
    columns (lists of paths) joined, stacked vectors concatenated.

    >>> f = concatenate_features([{"egemaps": np.zeros((1, 2)), "layer1": ["a"]}, {"egemaps": np.ones((2, 2)), "layer1": ["b", "c"]}])
    >>> f["egemaps"].shape, f["layer1"]
    ((3, 2), ['a', 'b', 'c'])
    """
    out = {}
    for name in columns[0]:
        parts = [c[name] for c in columns]
        out[name] = [x for p in parts for x in p] if isinstance(parts[0], list) else np.concatenate(parts)
    return out
