"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A reader (or a resumed run) therefore sees either the old file or the complete new one, never a
half-written file, even when the process is killed mid-write. ``folder_lock`` keeps two runs out of
one output folder. A results folder is complete when its ``manifest.json`` is there: every run
writes it last (``folder_state``, ``reopen``, ``require_complete``).
"""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import FolderInUseError, SerRefError, machine_error


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, else delete it.

    ``suffix`` keeps an extension that a writer insists on (``np.savez`` appends ".npz").
    A failed write (full disk, read-only or forbidden folder) is a MachineError naming ``path``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    ...     print(target.exists())           # nothing at the target until the block succeeds
    False
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    except OSError as exc:
        raise machine_error(exc, "cannot write here", path) from exc
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results should be as readable as any file
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise machine_error(exc, "writing failed", path) from exc
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj, *, sort_keys: bool = True) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=sort_keys, default=str) + "\n")


def save_npz(path, **arrays) -> None:
    """``np.savez`` made atomic.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> p = Path(tempfile.mkdtemp()) / "a.npz"; save_npz(p, w=np.ones(2))
    >>> np.load(p)["w"]
    array([1., 1.])
    """
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock file's {"pid", "host", "started"}, or None when it is torn (a writer killed
    between creating and filling it) and older than a few seconds."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        try:
            fresh = time.time() - path.stat().st_mtime < 10
        except OSError:
            return None
        return {"pid": -1, "host": "?", "started": "now"} if fresh else None


def _take(path: Path) -> bool:
    """Create the lock file with this process's pid and host; False if it exists already."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise machine_error(exc, "--out: the output folder must be writable", path) from exc
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me) + "\n")
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise machine_error(exc, "--out: the output folder must be writable", path) from exc
    return True


@contextmanager
def folder_lock(folder, name: str = ".ser_ref.lock"):
    """Hold ``folder``/``name`` (pid and host inside) for the block; a second holder is refused at
    once with a FolderInUseError naming the live run; a lock left by a dead run on this host is said
    and taken over. Creating the file also proves the folder writable before any work.

    >>> import tempfile
    >>> with folder_lock(tempfile.mkdtemp()) as lock: lock.name
    '.ser_ref.lock'
    """
    path = Path(folder) / name
    while not _take(path):
        held = _holder(path)
        here = held is not None and held.get("host") == socket.gethostname()
        if held is None or (here and held.get("pid", -1) > 0 and not _alive(int(held["pid"]))):
            print(f"warning: {path}: stale lock of a run that is gone ({held}); taking it over",
                  file=sys.stderr, flush=True)
            path.unlink(missing_ok=True)
            continue
        raise FolderInUseError(f"{folder}: in use by the run of pid {held.get('pid')} on {held.get('host')} "
                               f"(started {held.get('started')}; lock file {path}). Wait for it, choose another "
                               f"--out, or delete the lock file if that run is surely gone")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ complete or not
MARKER = "manifest.json"   # what every run writes last into its output folder
_BOOKKEEPING = {".ser_ref.lock"}


def folder_state(folder, marker: str = MARKER) -> str:
    """"complete" (the marker is there), "incomplete" (other files but no marker: a run stopped
    before its report ended) or "empty" (nothing, or nothing but the lock).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); s0 = folder_state(d)
    >>> _ = (d / "table2.md").write_text("| a |"); s1 = folder_state(d)
    >>> _ = (d / MARKER).write_text("{}"); s0, s1, folder_state(d)
    ('empty', 'incomplete', 'complete')
    """
    folder = Path(folder)
    if (folder / marker).is_file():
        return "complete"
    try:
        names = {p.name for p in folder.iterdir()} - _BOOKKEEPING
    except (FileNotFoundError, NotADirectoryError):
        return "empty"
    return "incomplete" if names else "empty"


def reopen(folder, marker: str = MARKER) -> str:
    """A run starts work in ``folder`` (its lock held): the state it found (``folder_state``), and
    the marker of an earlier finished run taken away, so that a run stopped in its turn (a full disk,
    a kill) never leaves new tables beside an old manifest, looking finished.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / MARKER).write_text("{}")
    >>> reopen(d), folder_state(d)
    ('complete', 'empty')
    """
    state = folder_state(folder, marker)
    if state == "complete":
        try:
            (Path(folder) / marker).unlink()
        except OSError as exc:
            raise machine_error(exc, "--out: the output folder must be writable", Path(folder) / marker) from exc
    return state


def require_complete(folder, marker: str = MARKER) -> Path:
    """``folder``, for a reader of results: a folder without its marker is refused with one line.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "table2.md").write_text("| a |")
    >>> require_complete(d)
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: ...: incomplete: no manifest.json (the run that wrote it stopped before its report ended; re-run it with the same --out to finish)
    """
    state = folder_state(folder, marker)
    if state != "complete":
        why = "no such folder or nothing in it" if state == "empty" else f"incomplete: no {marker}"
        raise SerRefError(f"{folder}: {why} (the run that wrote it stopped before its report ended; re-run it "
                          "with the same --out to finish)")
    return Path(folder)
