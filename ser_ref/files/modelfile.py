"""Trained models on disk: one .npz of plain arrays, a format version and an integrity hash.

    file      = np.savez(arrays + {__kind__, __format__, __meta__, __sha256__})   (no pickle)
    __meta__  = JSON text: the model's settings and whatever the trainer adds (class names, ...)
    __sha256__ = sha256 over every other entry, in name order, of  name | dtype | shape | bytes

Reading checks, in this order, and refuses with one line naming the file: that it is a readable
.npz without pickled objects, that it is a ser_ref model file, that its format version is this
code's, that the hash matches (a flipped bit, a truncated or edited file), and that the model is of
the kind the caller asked for.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from .atomic import save_npz
from ..errors import WeightsError

FORMAT_VERSION = 1
_RESERVED = ("__kind__", "__format__", "__meta__", "__sha256__")


class ModelFileError(WeightsError):
    """A trained-model file that is corrupt, foreign, of another format version or another kind."""


def content_sha256(arrays: dict) -> str:
    """sha256 over the entries in name order: name, dtype, shape and the C-order bytes of each.

    >>> a = {"w": np.arange(3.0)}
    >>> content_sha256(a) == content_sha256({"w": np.arange(3.0)})
    True
    >>> content_sha256(a) == content_sha256({"w": np.array([0.0, 1.0, 2.5])})
    False
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write(path, kind: str, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` and ``meta`` (JSON-able) as a ser_ref model file of ``kind``, atomically.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> write(p, "demo", {"w": np.ones(2)}, {"classes": ["a", "b"]})
    >>> arrays, meta = read(p, kind="demo")
    >>> arrays["w"].tolist(), meta["classes"]
    ([1.0, 1.0], ['a', 'b'])
    """
    bad = [k for k in arrays if k in _RESERVED]
    if bad:
        raise ValueError(f"array names {bad} are reserved")
    entries = {k: np.asarray(v) for k, v in arrays.items()}
    if any(a.dtype == object for a in entries.values()):
        raise ValueError("model files hold plain numeric or string arrays only (no objects)")
    entries["__kind__"] = np.array(kind)
    entries["__format__"] = np.array(FORMAT_VERSION, dtype=np.int64)
    entries["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
    entries["__sha256__"] = np.array(content_sha256(entries))
    save_npz(path, **entries)


def read(path, kind: str | None = None) -> tuple[dict, dict]:
    """(arrays, meta) of a model file written by ``write``; ModelFileError naming the file otherwise.

    ``meta['model_kind']`` is the kind the file holds.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> write(p, "demo", {"w": np.ones(2)}, {})
    >>> read(p, kind="forest")
    Traceback (most recent call last):
    ...
    ser_ref.files.modelfile.ModelFileError: ...m.npz: holds a 'demo' model, expected 'forest'
    """
    from .regular import kind_of

    path = Path(path)
    if not path.is_file():
        what = f"not a regular file but {kind_of(path.stat().st_mode)}" if path.exists() else "model file not found"
        raise ModelFileError(f"{path}: {what}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: corrupt or not a ser_ref model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            entries = {k: z[k] for k in z.files}
    except Exception as exc:  # BadZipFile, EOFError, ValueError (pickled objects), OSError
        raise ModelFileError(f"{path}: corrupt or not a ser_ref model file ({type(exc).__name__}: {exc})") from exc
    missing = [k for k in _RESERVED if k not in entries]
    if missing:
        raise ModelFileError(f"{path}: not a ser_ref model file (missing {', '.join(missing)})")
    version = int(entries["__format__"])
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model file format version {version}, this ser_ref reads version "
                             f"{FORMAT_VERSION} (retrain with python -m ser_ref.train)")
    stored = str(entries.pop("__sha256__"))
    if content_sha256(entries) != stored:
        raise ModelFileError(f"{path}: integrity hash mismatch (file corrupt or altered)")
    found = str(entries.pop("__kind__"))
    if kind is not None and found != kind:
        raise ModelFileError(f"{path}: holds a {found!r} model, expected {kind!r}")
    meta = json.loads(str(entries.pop("__meta__")))
    entries.pop("__format__")
    meta["model_kind"] = found
    return entries, meta
