"""Per-file features, computed once and cached on disk by content.

    key = sha256( sha256(file bytes), kind, parameters, weights sha256 )
    file = <cache>/features/<kind>/<key[:2]>/<key>.npy

Keying on the audio's bytes (not its path) means a renamed or copied corpus reuses the cache, and an
edited file or changed parameter never reuses a stale one. Every write is atomic, so an interrupted
run resumes with exactly the features it would have computed.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import SerRefError

KINDS = ("layer1", "egemaps", "deepspeech")
# Part of every cache key: bump a kind's number when a code change alters its numbers, so that no
# run ever mixes features computed by two versions of the code.
# layer1 2: files of >= 512 frames go through per-core single-threaded GEMMs (float32 rounding differs)
FEATURE_VERSIONS = {"layer1": 2, "egemaps": 1, "deepspeech": 1}  # deepspeech: params["layer"] = layer1..5


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(content_sha: str, kind: str, params: dict) -> str:
    blob = json.dumps([content_sha, kind, FEATURE_VERSIONS.get(kind, 0), params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@lru_cache(maxsize=2)
def _layer1(weights_path: str):
    from .deepspeech import Layer1

    return Layer1.from_weights(weights_path)


def compute(path, kind: str, params: dict) -> np.ndarray:
    """The features of one file, uncached: layer-1 frames (frames, 2048) or eGeMAPS (88,).

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
    from .audio import load_audio

    x = load_audio(path)
    if kind == "layer1":
        from .deepspeech import deepspeech_features

        layer = _layer1(params["weights"])
        return deepspeech_features(x, layer, step_ms=params["step_ms"], mode=params["mode"])
    if kind == "deepspeech":  # the whole model; params["layer"] picks the layer (deepspeech/features.py)
        from .deepspeech.features import layer_features

        return layer_features(x, params, (params["layer"],))[params["layer"]]
    if kind == "egemaps":
        from .egemaps import egemaps

        return egemaps(x, 16000)
    raise ValueError(f"unknown feature kind {kind!r}; expected one of {KINDS}")


def _named(path, exc) -> str:
    """The error's message, led by the file's path unless it already names it."""
    msg = str(exc)
    return msg if str(path) in msg else f"{path}: {msg}"


def cache_path(path, kind: str, params: dict, cache_root) -> Path:
    """Where the features of ``path`` under ``params`` live (a weights file counts by its sha256).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); open(p, "wb").write(b"RIFF")
    4
    >>> q = cache_path(p, "egemaps", {}, "/cache")
    >>> q.parent.parent.as_posix(), q.parent.name == q.stem[:2], q == cache_path(p, "egemaps", {}, "/cache")
    ('/cache/features/egemaps', True, True)
    """
    key_params = {k: v for k, v in params.items() if k != "weights"}
    key = cache_key(file_sha256(path), kind, key_params)
    return Path(cache_root) / "features" / kind / key[:2] / f"{key}.npy"


def _save(target: Path, feats) -> None:
    with atomic_path(target, suffix=".npy") as tmp:
        np.save(tmp, np.asarray(feats, dtype=np.float32))


def cached_features(path, kind: str, params: dict, cache_root) -> tuple[str, str | None]:
    """Compute (or find) the features of ``path``: returns (npy path, None) or ("", error message).

    Top-level and picklable: it is what executors run. Errors come back as values so that one bad
    file is reported with its name instead of aborting the whole stage.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.wav"); open(p, "w").write("not audio")
    9
    >>> npy, error = cached_features(p, "egemaps", {}, tempfile.mkdtemp())     # errors come back as values
    >>> npy, error.startswith(p + ": unreadable or not audio")
    ('', True)
    """
    try:
        out = cache_path(path, kind, params, cache_root)
        if not out.exists():
            _save(out, compute(path, kind, params))
        return str(out), None
    except (SerRefError, OSError, ValueError) as exc:
        return "", _named(path, exc)


def _layer1_on_device(paths, params: dict, cache_root, desc: str, batch: int = 64):
    """Layer-1 features of the uncached files, computed in batches on the GPU in this process
    (one transfer per batch; see ``deepspeech_features_batch``)."""
    from tqdm.auto import tqdm

    from .audio import load_audio
    from .deepspeech import deepspeech_features_batch

    npys, errors, todo = [""] * len(paths), [], []
    for i, p in enumerate(paths):
        try:
            target = cache_path(p, "layer1", params, cache_root)
        except OSError as exc:
            errors.append(_named(p, exc))
            continue
        if target.exists():
            npys[i] = str(target)
        else:
            todo.append((i, p, target))
    layer = _layer1(params["weights"])
    for start in tqdm(range(0, len(todo), batch), desc=desc, unit="batch", leave=False):
        ok, signals = [], []
        for i, p, target in todo[start:start + batch]:
            try:
                signals.append(load_audio(p))
                ok.append((i, target))
            except (SerRefError, OSError) as exc:
                errors.append(_named(p, exc))
        feats = deepspeech_features_batch(signals, layer, step_ms=params["step_ms"], mode=params["mode"],
                                          device="gpu")
        for (i, target), f in zip(ok, feats):
            _save(target, f)
            npys[i] = str(target)
    return npys, errors


def extract_all(paths, kind: str, params: dict, cache_root, executor, *, desc: str | None = None):
    """``cached_features`` for every path through ``executor`` (layer 1 with device "gpu": batched
    on the GPU in this process instead).

    Returns (npy paths in input order with "" for failures, list of error messages).

    Examples
    --------
    >>> import os, tempfile
    >>> from ser_ref.executors import SerialExecutor
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.wav"); open(p, "w").write("not audio")
    9
    >>> npys, errors = extract_all([p], "egemaps", {}, tempfile.mkdtemp(), SerialExecutor())
    >>> npys, len(errors), "notes.wav: unreadable" in errors[0]
    ([''], 1, True)
    """
    from tqdm.auto import tqdm

    desc = desc or f"features:{kind}"
    if kind == "layer1" and params.get("device", "cpu") == "gpu":
        return _layer1_on_device(paths, params, cache_root, desc)
    futures = [executor.submit(cached_features, str(p), kind, params, str(cache_root)) for p in paths]
    results = [f.result() for f in tqdm(futures, desc=desc, unit="file", leave=False)]
    return [r[0] for r in results], [r[1] for r in results if r[1]]
