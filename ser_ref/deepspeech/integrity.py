"""An integrity hash over the arrays of an exported .npz, and the one check every loader runs.

    digest = sha256( for each key in sorted order, "integrity_sha256" excluded:
                     key, dtype.str, shape, the array's C-order bytes )

The hash is over what ``np.load`` returns, not the zip container, so it catches an edited array
even when the file's recorded ``source_sha256`` still names the original model.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..errors import WeightsError

INTEGRITY_KEY = "integrity_sha256"


def arrays_digest(arrays) -> str:
    """sha256 hex digest of a mapping of arrays (every key but ``INTEGRITY_KEY``).

    >>> a = {"x": np.arange(3, dtype=np.int8)}
    >>> arrays_digest(a) == arrays_digest({"x": np.arange(3, dtype=np.int8)})
    True
    >>> arrays_digest(a) == arrays_digest({"x": np.arange(3, dtype=np.int16)})
    False
    """
    h = hashlib.sha256()
    for key in sorted(k for k in arrays if k != INTEGRITY_KEY):
        a = np.ascontiguousarray(np.asarray(arrays[key]))
        header = f"{key}\0{a.dtype.str}\0{a.shape}\0".encode("utf-8")
        h.update(len(header).to_bytes(8, "little") + header)
        h.update(a.tobytes())
    return h.hexdigest()


def with_digest(arrays: dict) -> dict:
    """``arrays`` plus its ``INTEGRITY_KEY`` entry (what the exporter writes)."""
    out = {k: v for k, v in arrays.items() if k != INTEGRITY_KEY}
    out[INTEGRITY_KEY] = np.array(arrays_digest(out), dtype=np.str_)
    return out


def verify_arrays(arrays, path) -> None:
    """WeightsError naming ``path`` unless the recorded integrity hash matches the arrays.

    ``arrays`` is an open ``np.load`` result (or any mapping); every array is read once.
    """
    keys = list(arrays.keys()) if hasattr(arrays, "keys") else list(arrays.files)
    if INTEGRITY_KEY not in keys:
        raise WeightsError(f"{path}: weight file has no integrity hash ({INTEGRITY_KEY}); it predates "
                           f"this exporter or was rewritten by hand: export the model again")
    recorded = str(arrays[INTEGRITY_KEY])
    actual = arrays_digest({k: arrays[k] for k in keys})
    if recorded != actual:
        raise WeightsError(f"{path}: integrity hash mismatch (recorded {recorded[:12]}..., arrays hash to "
                           f"{actual[:12]}...): the file was altered or is corrupt")


def verify_file(path) -> None:
    """``verify_arrays`` on the .npz at ``path`` (WeightsError naming it if unreadable or altered)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            verify_arrays(z, path)
    except WeightsError:
        raise
    except Exception as exc:  # BadZipFile, EOFError, OSError, ValueError from a bad file
        raise WeightsError(f"{path}: corrupt or unreadable weight file ({type(exc).__name__}: {exc})") from exc
