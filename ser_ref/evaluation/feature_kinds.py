"""The feature kinds by name: what the cache computes for each, and how the runner holds and reads it.

    KINDS["layer1"]      DeepSpeech layer 1, per frame (frames, 2048): the paper's features
    KINDS["egemaps"]     the 88 eGeMAPS functionals, one vector per utterance (88,)
    KINDS["deepspeech"]  any of layers 1-5 of the whole model, per frame; params["layer"] picks it
    register(FeatureKind(...))      a new kind, in this one place: its compute function is all the
                                    cache needs, ``per_frame`` and ``stats`` all the runner needs
    compute(path, kind, params)     one file's features, uncached (what predict uses)

The kinds are the only code that knows both the generic cache (``feature_cache``) and the feature
code (``deepspeech``, ``egemaps``); neither of those imports this module. The runner submits
kinds in registration order, so the slow ones (layer 1) come first and no slow task is left last.
Worker processes see the kinds registered when their modules are imported.

>>> [k for k in KINDS], KINDS["egemaps"].per_frame, KINDS["layer1"].per_frame
(['layer1', 'egemaps', 'deepspeech'], False, True)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import AudioError, UsageError, WeightsError
from . import feature_cache


@dataclass(frozen=True)
class FeatureKind:
    """One kind of features. The functions are top-level (executors pickle them by name).

    compute(audio, params) -> features      audio: (n,) float32 at 16 kHz, as ``frontend.audio`` decodes
    per_frame     (frames, d) per utterance, held as .npy paths and mapped when read; else one (d,)
                  vector per utterance, held stacked (n, d)
    version       part of every cache key: bump it when a code change alters the numbers
    label         the progress bars' name
    stats(X_train) -> statistics a task computes once from its training features and hands to every
                  system's ``fit(..., stats=...)`` (None: fit(X, y, groups) as it is)
    compute_together(audio, params_list) -> list   several parameter sets in one pass (e.g. layers of
                  one model); None: ``compute`` for each
    compute_batch(audios, params_list) -> [list per signal]   several signals (and parameter sets) in
                  one pass, with the values ``compute_many`` gives each signal alone; the cache then
                  hands each executor task ``batch_files`` files (None: one file per task)
    on_gpu(kind, paths, params, cache_root, desc) -> (npys, errors)   for params["device"] == "gpu": all
                  files in this process, batched on the device, instead of one executor task per file

    >>> KINDS["layer1"].collect(("a.npy", "b.npy")), KINDS["egemaps"].take(np.eye(3), [2, 0]).tolist()
    (['a.npy', 'b.npy'], [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    """

    name: str
    compute: Callable
    per_frame: bool
    version: int = 0
    label: str = ""
    stats: Callable | None = None
    compute_together: Callable | None = None
    on_gpu: Callable | None = None
    compute_batch: Callable | None = None
    batch_files: int = 1

    def compute_many(self, audio, params_list) -> list:
        """The features of one signal under each parameter set (what the cache calls)."""
        if self.compute_together is not None:
            return self.compute_together(audio, params_list)
        return [self.compute(audio, params) for params in params_list]

    def extract(self, paths, params_list, cache_root, executor, *, desc: str | None = None):
        """The cached features of every path under each parameter set: (npys[j][i], "" where file i
        failed; one error message per failed file), see ``feature_cache.extract_all``."""
        if self.on_gpu is not None and params_list and all(p.get("device") == "gpu" for p in params_list):
            found = [self.on_gpu(self, paths, params, cache_root, desc or self.label) for params in params_list]
            return [npys for npys, _ in found], [e for _, errors in found for e in errors]
        return feature_cache.extract_all(paths, self, params_list, cache_root, executor, desc=desc or self.label)

    def collect(self, npys):
        """The column a Dataset holds for these cached files: their paths (per-frame kinds, mapped
        when a task reads them) or their vectors stacked (n, d)."""
        if self.per_frame:
            return list(npys)
        return np.stack([np.load(p) for p in npys])

    def take(self, X, idx):
        """Rows ``idx`` of a column, whole in memory: per-frame files mapped read-only (``load_many``:
        ~2 s of page faults less per task than reading them), vectors indexed."""
        if self.per_frame:
            return feature_cache.load_many([X[i] for i in idx])
        return np.asarray(X)[idx]


KINDS: dict[str, FeatureKind] = {}


def register(kind: FeatureKind) -> FeatureKind:
    """Make ``kind`` known to the cache, the dataset step and the runner by its name.

    >>> register(FeatureKind("egemaps", compute=len, per_frame=False))
    Traceback (most recent call last):
    ...
    ValueError: feature kind 'egemaps' is registered already
    """
    if kind.name in KINDS:
        raise ValueError(f"feature kind {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> FeatureKind:
    """The registered kind ``name``, or one UsageError naming the known ones.

    >>> get("mfcc")
    Traceback (most recent call last):
    ...
    ser_ref.errors.UsageError: unknown feature kind 'mfcc'; expected one of layer1, egemaps, deepspeech
    """
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(f"unknown feature kind {name!r}; expected one of {', '.join(KINDS)}") from None


def compute(path, kind: str, params: dict, audio=None) -> np.ndarray:
    """The features of one file, uncached: layer-1 frames (frames, 2048) or eGeMAPS (88,).

    ``audio``: the file's decoded signal when the caller has it already (else it is read here).

    Examples
    --------
    >>> import os, tempfile, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> t = np.arange(8000) / 16000; sf.write(p, 0.3 * np.sin(2 * np.pi * 200 * t), 16000)
    >>> compute(p, "egemaps", {}).shape
    (88,)
    >>> compute(p + ".missing", "egemaps", {})
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: ...tone.wav.missing: file not found
    """
    from ..frontend.audio import load_audio

    found = get(kind)
    return found.compute(load_audio(path) if audio is None else audio, params)


# ------------------------------------------------------------------------------- layer 1
@lru_cache(maxsize=2)
def _layer1(weights_path: str):
    from ..deepspeech import Layer1

    return Layer1.from_weights(weights_path)


def _layer1_of(params: dict):
    """Layer 1 of ``params["weights"]``, which must still be the file the run keyed its cache on."""
    layer = _layer1(params["weights"])
    want, got = params.get("weights_sha256", ""), layer.metadata.get("file_sha256", "")
    # reproduce keys on the file's bytes; a caller that keyed on the source model's hash is held to that
    if want and got and want not in (got, layer.metadata.get("source_sha256")):
        raise WeightsError(f"{params['weights']}: changed during the run (sha256 {got[:12]}..., the run "
                           f"started with {want[:12]}...)")
    return layer


def _layer1_features(audio, params: dict) -> np.ndarray:
    from ..deepspeech import deepspeech_features

    return deepspeech_features(audio, _layer1_of(params), step_ms=params["step_ms"], mode=params["mode"])


def _layer1_on_device(kind, paths, params: dict, cache_root, desc: str, batch: int = 64):
    """Layer-1 features of the uncached files, computed in batches on the GPU in this process
    (one transfer per batch; see ``deepspeech_features_batch``)."""
    from tqdm.auto import tqdm

    from ..frontend.audio import decode_audio
    from ..dispatch import deepspeech_features_batch

    npys, errors, todo = [""] * len(paths), [], []
    for i, p in enumerate(paths):
        try:
            (target,), data = feature_cache.locate(p, kind, [params], cache_root)
        except AudioError as exc:
            errors.append(feature_cache.error_naming(p, exc))
            continue
        if feature_cache.is_cached(target, kind):
            npys[i] = str(target)
        else:
            todo.append((i, p, target, data))
    layer = _layer1_of(params)
    for start in tqdm(range(0, len(todo), batch), desc=desc, unit="batch", leave=False):
        ok, signals = [], []
        for i, p, target, data in todo[start:start + batch]:
            try:
                signals.append(decode_audio(data, str(p)))
                ok.append((i, p, target))
            except AudioError as exc:
                errors.append(feature_cache.error_naming(p, exc))
        feats = deepspeech_features_batch(signals, layer, step_ms=params["step_ms"], mode=params["mode"],
                                          device="gpu")
        for (i, p, target), f in zip(ok, feats):
            try:
                feature_cache.store_features(target, f, kind, str(p))
                npys[i] = str(target)
            except AudioError as exc:
                errors.append(feature_cache.error_naming(p, exc))
    return npys, errors


def _frame_stats(X_train):
    """The networks' standardisation statistics of the training frames (``nn.training.standardizer``)."""
    from ..nn.training import standardizer

    return standardizer(X_train)


# ------------------------------------------------------------------------------- the whole model
def _model_layer(audio, params: dict) -> np.ndarray:
    from ..deepspeech.layer_features import layer_features

    return layer_features(audio, params, (params["layer"],))[params["layer"]]


def _model_layers(audio, params_list) -> list:
    """Several layers in one forward pass per distinct (weights, step, mode)."""
    return _model_layers_batch([audio], params_list)[0]


def _model_layers_batch(audios, params_list) -> list:
    """[the layers of ``params_list`` of each signal]: one forward pass per distinct (weights, step,
    mode), the signals together where that gives the same values (``layer_features_batch``)."""
    from ..deepspeech.layer_features import layer_features_batch

    passes: dict[str, list[int]] = {}
    for j, params in enumerate(params_list):
        rest = {k: v for k, v in params.items() if k != "layer"}
        passes.setdefault(json.dumps(rest, sort_keys=True, default=str), []).append(j)
    out = [[None] * len(params_list) for _ in audios]
    for js in passes.values():
        found = layer_features_batch(list(audios), params_list[js[0]], [params_list[j]["layer"] for j in js])
        for i, layers in enumerate(found):
            for j in js:
                out[i][j] = layers[params_list[j]["layer"]]
    return out


# ------------------------------------------------------------------------------- eGeMAPS
def _egemaps(audio, params: dict) -> np.ndarray:
    from ..egemaps import egemaps

    return egemaps(audio, 16000)


# deepspeech's batch_files: 32 files per task read W4 once per LSTM step for all of them (RAVDESS: about
# 3x fewer CPU-seconds than one at a time), and 672 files still make 21 tasks to share out.
# Versions: layer1 2: files of >= 512 frames go through per-core single-threaded GEMMs (float32
# rounding differs); layer1 3: every file in fixed blocks of single-threaded GEMMs (bits independent
# of --jobs / threads); deepspeech 2: its layers' GEMMs in the same fixed single-threaded blocks.
register(FeatureKind("layer1", _layer1_features, per_frame=True, version=3, label="layer 1", stats=_frame_stats,
                     on_gpu=_layer1_on_device))
register(FeatureKind("egemaps", _egemaps, per_frame=False, version=1, label="eGeMAPS"))
register(FeatureKind("deepspeech", _model_layer, per_frame=True, version=2, label="DeepSpeech", stats=_frame_stats,
                     compute_together=_model_layers, compute_batch=_model_layers_batch, batch_files=32))
