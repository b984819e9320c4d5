"""sha256 of files and bytes: the identity of audio, weights and model files.

A low module of its own, so that the readers of model files (``deepspeech/``) and the feature
cache (``feature_cache.py``) both use it without importing each other.
"""
from __future__ import annotations

import hashlib


def bytes_sha256(data: bytes) -> str:
    """Hex sha256 of ``data``.

    >>> bytes_sha256(b"abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(data).hexdigest()


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of the file at ``path``, read ``chunk`` bytes at a time.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "wb").write(b"abc")
    >>> file_sha256(p) == bytes_sha256(b"abc")
    True
    """
    from .regular import open_regular

    h = hashlib.sha256()
    with open_regular(path) as f:  # a FIFO or device is refused, never read for ever
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
