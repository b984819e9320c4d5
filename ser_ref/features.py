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

KINDS = ("layer1", "egemaps")


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(content_sha: str, kind: str, params: dict) -> str:
    blob = json.dumps([content_sha, kind, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@lru_cache(maxsize=2)
def _layer1(weights_path: str):
    from .deepspeech import Layer1

    return Layer1.from_weights(weights_path)


def compute(path, kind: str, params: dict) -> np.ndarray:
    """The features of one file, uncached: layer-1 frames (frames, 2048) or eGeMAPS (88,)."""
    from .audio import load_audio

    x = load_audio(path)
    if kind == "layer1":
        from .deepspeech import deepspeech_features

        layer = _layer1(params["weights"])
        return deepspeech_features(x, layer, step_ms=params["step_ms"], mode=params["mode"])
    if kind == "egemaps":
        from .egemaps import egemaps

        return egemaps(x, 16000)
    raise ValueError(f"unknown feature kind {kind!r}; expected one of {KINDS}")


def cached_features(path, kind: str, params: dict, cache_root) -> tuple[str, str | None]:
    """Compute (or find) the features of ``path``: returns (npy path, None) or ("", error message).

    Top-level and picklable: it is what executors run. Errors come back as values so that one bad
    file is reported with its name instead of aborting the whole stage. ``params`` holds only
    what changes the numbers (a weights file is represented by its sha256 in the key).
    """
    try:
        key_params = {k: v for k, v in params.items() if k != "weights"}
        key = cache_key(file_sha256(path), kind, key_params)
        out = Path(cache_root) / "features" / kind / key[:2] / f"{key}.npy"
        if not out.exists():
            feats = compute(path, kind, params).astype(np.float32, copy=False)
            with atomic_path(out, suffix=".npy") as tmp:
                np.save(tmp, feats)
        return str(out), None
    except (SerRefError, OSError, ValueError) as exc:
        return "", f"{path}: {exc}"


def extract_all(paths, kind: str, params: dict, cache_root, executor, *, desc: str | None = None):
    """``cached_features`` for every path through ``executor``.

    Returns (npy paths in input order with "" for failures, list of error messages).
    """
    from tqdm.auto import tqdm

    futures = [executor.submit(cached_features, str(p), kind, params, str(cache_root)) for p in paths]
    results = []
    for f in tqdm(futures, desc=desc or f"features:{kind}", unit="file", leave=False):
        results.append(f.result())
    npys = [r[0] for r in results]
    errors = [r[1] for r in results if r[1]]
    return npys, errors
