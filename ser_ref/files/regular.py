"""Reading user input safely: only regular files are opened, and never more than a stated size.

A FIFO, socket or device named like an input would otherwise block a read for ever (a FIFO with no
writer) or never end (``/dev/zero``). Every path is opened with ``O_NONBLOCK`` (which makes opening a
FIFO return at once instead of waiting for a writer; it changes nothing for a regular file), then
``fstat`` on the open descriptor says what it is: the answer cannot change between the check and
the read. Symbolic links are followed, as any reader would.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path  # noqa: F401  (the examples use it)

from ..errors import SerRefError

MAX_MODEL_BYTES = 2 << 30  # a model or weight file (DeepSpeech 0.9.3's .tflite: 46 MiB)

# what a st_mode that is not a regular file is, in words
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class NotRegularFile(SerRefError, ValueError):
    """An input path that is a FIFO, socket, device or folder: never opened for reading."""


class TooLarge(SerRefError, ValueError):
    """An input file larger than its reader's stated limit."""


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words.

    >>> kind_of(os.stat(".").st_mode), kind_of(stat.S_IFIFO), kind_of(stat.S_IFREG)
    ('a folder', 'a FIFO (named pipe)', 'a regular file')
    """
    for test, words in _KINDS:
        if test(mode):
            return words
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def open_regular(path):
    """A binary file object for ``path`` if it is a regular file (links followed), else NotRegularFile;
    never blocks on a FIFO. OSError (missing, forbidden) passes through for the caller to word.

    >>> import tempfile
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "pipe"); os.mkfifo(p)
    >>> open_regular(p)
    Traceback (most recent call last):
    ...
    ser_ref.files.regular.NotRegularFile: ...pipe: not a regular file but a FIFO (named pipe); not opened
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{path}: not a regular file but {kind_of(mode)}; not opened")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path, limit: int, what: str = "input file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (TooLarge beyond, said before
    reading when the size is known, and checked while reading in case the file grows).

    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x"); _ = open(p, "wb").write(b"abc")
    >>> read_regular(p, 3)
    b'abc'
    >>> read_regular(p, 2, "notes file")
    Traceback (most recent call last):
    ...
    ser_ref.files.regular.TooLarge: ...x: 3 bytes, larger than the 2 bytes limit of one notes file
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise TooLarge(f"{path}: {_bytes(size)}, larger than the {_bytes(limit)} limit of one {what}")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path}: larger than the {_bytes(limit)} limit of one {what} (it grew while read)")
    return data


def read_regular_text(path, limit: int, what: str = "text file") -> str:
    """``read_regular`` decoded as UTF-8 (undecodable bytes replaced).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_text("hello")
    >>> read_regular_text(p, 100)
    'hello'
    """
    return read_regular(path, limit, what).decode("utf-8", errors="replace")


def _bytes(n: int) -> str:
    """n bytes in words.

    >>> _bytes(3), _bytes(5 << 20), _bytes(1 << 30)
    ('3 bytes', '5 MiB', '1 GiB')
    """
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"
