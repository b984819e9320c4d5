"""Where optional outside material lives: the shared model and corpora.

Environment variables win; otherwise the ``../shared`` folder beside the repository root is
used when present. Nothing here downloads anything: see ``ser_ref.deepspeech.fetch`` for that.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]  # ser_ref/files/locations.py -> the checkout
SHARED = REPO_ROOT.parent / "shared"
WEIGHTS_DIR = REPO_ROOT / "weights"


def _first_existing(env_var: str, fallback: Path) -> Path | None:
    value = os.environ.get(env_var)
    if value:
        p = Path(value).expanduser()
        return p if p.exists() else None
    return fallback if fallback.exists() else None


def shared_model_path() -> Path | None:
    """The DeepSpeech-architecture .tflite from $SER_REF_MODEL or ../shared, or None.

    Examples
    --------
    >>> p = shared_model_path()
    >>> p is None or p.suffix in (".tflite", ".npz")
    True
    """
    return _first_existing("SER_REF_MODEL", SHARED / "models" / "armspeech-0.1.4" / "model.tflite")


def ravdess_root() -> Path | None:
    """The 4-class 16 kHz RAVDESS copy from $SER_REF_RAVDESS or ../shared, or None."""
    return _first_existing("SER_REF_RAVDESS", SHARED / "corpora" / "ravdess-4class-16k")


def cache_dir() -> Path:
    """Root of on-disk caches (exported weights, features): $SER_REF_CACHE or ~/.cache/ser_ref.

    Examples
    --------
    >>> import os
    >>> old = os.environ.get("SER_REF_CACHE"); os.environ["SER_REF_CACHE"] = "/tmp/my-cache"
    >>> cache_dir()
    PosixPath('/tmp/my-cache')
    >>> _ = os.environ.pop("SER_REF_CACHE") if old is None else os.environ.update(SER_REF_CACHE=old)
    """
    value = os.environ.get("SER_REF_CACHE")
    p = Path(value).expanduser() if value else Path.home() / ".cache" / "ser_ref"
    _check_folder_path(p, f"SER_REF_CACHE={value}" if value else "the cache folder")
    return p


def _check_folder_path(p: Path, what: str) -> None:
    """A UsageError when ``p`` or a folder above it is a file (the OS would only say "File exists"
    or "Not a directory" later, at the first write).

    >>> _check_folder_path(Path("/no/such/folder/yet"), "demo")
    """
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise UsageError(f"{what}: {q} is a file, not a folder; point it at a folder (or unset it "
                                 "for ~/.cache/ser_ref)")
            return
