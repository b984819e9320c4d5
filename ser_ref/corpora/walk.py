"""Every entry under a corpus root, listed once, and what each name is: the walk the loaders classify.

``walk(root)`` lists every file under the root, and every folder it could not search, exactly once.
Links are followed (a linked speaker folder is searched like any other; Python 3.11's ``rglob``
would skip it) with loop protection: a folder reached a second time, through a link loop or a
second link to it, is listed with that reason and not searched again. Nothing is opened here; a
FIFO, socket or device, a broken link and a folder that cannot be listed are said for what they are.
Hidden entries (a name starting with '.': .DS_Store, macOS '._' resource forks, .git) are listed,
never opened or searched.

``near_miss(name, fits)`` says why a name that almost fits a corpus's pattern (letter case,
whitespace, a newline, an extra suffix, another or no audio suffix) is not read as it is.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from ..files.regular import kind_of, open_regular

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")  # what the loaders read (any case)
# audio formats that are not read: a file of one of these named like an utterance is left out, not ignored
OTHER_AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".wma", ".opus", ".oga", ".aif", ".aiff", ".aifc", ".au", ".snd",
                        ".caf", ".w64", ".rf64", ".wv", ".voc", ".sd2", ".mp4", ".webm", ".amr", ".3gp")
# the first bytes of the audio containers soundfile (and common tools) write
AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b".snd", b"caff", b"ID3")
LEFT_OUT, IGNORED = "left out", "ignored"
HIDDEN = "hidden (a name starting with '.'; never opened)"


@dataclass(frozen=True)
class Entry:
    """One entry under the root: ``rel`` its '/'-separated path there, ``problem`` None for a regular
    file, else why it cannot be read as one, and ``bucket`` ("left out" / "ignored") where it goes."""

    rel: str
    path: Path
    problem: str | None = None
    bucket: str | None = None


def _stat_problem(path: str) -> tuple[os.stat_result | None, str | None]:
    """(stat, None), or (None, what is wrong) for a broken link, a link loop or a forbidden path."""
    try:
        return os.stat(path), None
    except FileNotFoundError:
        return None, "a broken link (its target does not exist)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "a link loop (too many levels of links)"
        return None, f"cannot be examined ({exc.strerror or exc})"


def walk(root) -> list[Entry]:
    """Every file under ``root`` (links followed, each folder searched once), sorted by path.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "a").mkdir(); _ = (root / "a" / "x.wav").write_bytes(b"")
    >>> (root / "b").symlink_to(root / "a"); (root / "a" / "up").symlink_to(root)      # a second link, a loop
    >>> os.mkfifo(root / "pipe.wav"); _ = (root / ".DS_Store").write_bytes(b"")
    >>> for e in walk(root): print(e.rel, "|", e.bucket, "|", e.problem)
    .DS_Store | ignored | hidden (a name starting with '.'; never opened)
    a/up | ignored | a link to a folder already searched (a loop, or a second link to it)
    a/x.wav | None | None
    b | ignored | a link to a folder already searched (a loop, or a second link to it)
    pipe.wav | left out | not a regular file but a FIFO (named pipe)
    """
    root = Path(root)
    seen = {_key(os.stat(root))}
    out, stack = [], [(root, "")]
    while stack:
        folder, rel = stack.pop()
        try:
            children = sorted(os.scandir(folder), key=lambda d: d.name)
        except OSError as exc:
            out.append(Entry(rel or ".", folder, f"a folder that cannot be searched ({exc.strerror or exc})", LEFT_OUT))
            continue
        subfolders = []
        for child in children:
            crel = f"{rel}/{child.name}" if rel else child.name
            path = folder / child.name
            if child.name.startswith("."):
                out.append(Entry(crel, path, HIDDEN, IGNORED))
                continue
            st, problem = _stat_problem(str(path))
            if problem:
                out.append(Entry(crel, path, problem, LEFT_OUT))
            elif stat.S_ISDIR(st.st_mode):
                if _key(st) in seen:
                    out.append(Entry(crel, path, "a link to a folder already searched (a loop, or a second link "
                                                 "to it)", IGNORED))
                else:
                    seen.add(_key(st))
                    subfolders.append((path, crel))
            elif not stat.S_ISREG(st.st_mode):
                out.append(Entry(crel, path, f"not a regular file but {kind_of(st.st_mode)}", LEFT_OUT))
            else:
                out.append(Entry(crel, path))
        stack.extend(reversed(subfolders))
    return sorted(out, key=lambda e: e.rel)


def _key(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def is_audio_name(name: str) -> bool:
    """Whether the loaders read a file of this name (by its suffix, any case).

    >>> is_audio_name("a.WAV"), is_audio_name("a.wav "), is_audio_name("a.mp3")
    (True, False, False)
    """
    return Path(name).suffix.lower() in AUDIO_SUFFIXES


def looks_like_audio(path) -> bool:
    """Whether a regular file's first bytes are an audio container's (12 bytes read, nothing else).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "notes"; _ = p.write_bytes(b"RIFF\\x00\\x00\\x00\\x00WAVE")
    >>> looks_like_audio(p), looks_like_audio(p.parent)
    (True, False)
    """
    try:
        with open_regular(path) as f:
            head = f.read(12)
    except (OSError, ValueError):
        return False
    return head.startswith(AUDIO_MAGIC)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXTRA = re.compile(r"(.*?(?:" + "|".join(re.escape(s) for s in AUDIO_SUFFIXES) + r"))(.+)", re.IGNORECASE)


def near_miss(name: str, fits) -> str | None:
    """Why ``name`` almost fits a corpus's pattern (None if it fits as it is, or not even nearly).

    ``fits(candidate, ignore_case)`` says whether a name ending in .wav fits the pattern. A name is
    a near miss when it fits after removing control characters (a newline), outer whitespace or an
    extra suffix after the audio suffix (x.wav.bak, x.wav~), after ignoring letter case, or with
    .wav for another audio suffix or none.

    Examples
    --------
    >>> fits = lambda n, ic: re.fullmatch(r"\\d\\da\\d\\dW[a-z]\\.wav", n, re.I if ic else 0) is not None
    >>> near_miss("03a01Wa.wav", fits) is None, near_miss("notes.txt", fits) is None
    (True, True)
    >>> near_miss("03a01Wa.wav ", fits)
    'leading or trailing whitespace in the name'
    >>> near_miss("03a01wa.wav.bak", fits)
    'an extra suffix after the audio suffix; letter case differs from the corpus pattern'
    >>> near_miss("03a01Wa.wav\\n", fits), near_miss("03a01Wa.mp3", fits)
    ('a newline or control character in the name', 'format .mp3 is not read (only .wav, .flac, .ogg; convert it)')
    """
    reasons, n = [], name
    if _CONTROL.search(n):
        reasons.append("a newline or control character in the name")
        n = _CONTROL.sub("", n)
    if n != n.strip():
        reasons.append("leading or trailing whitespace in the name")
        n = n.strip()
    extra = _EXTRA.fullmatch(n)
    if extra and not is_audio_name(n):
        reasons.append("an extra suffix after the audio suffix")
        n = extra.group(1)
    stem, suffix = os.path.splitext(n)
    if suffix.lower() in OTHER_AUDIO_SUFFIXES:
        reasons.append(f"format {suffix.lower()} is not read (only {', '.join(AUDIO_SUFFIXES)}; convert it)")
    elif suffix == "":
        reasons.append(f"no audio suffix ({', '.join(AUDIO_SUFFIXES)})")
    elif suffix.lower() not in AUDIO_SUFFIXES:
        return None  # another kind of file named like an utterance (a transcript, notes): not audio
    if fits(stem + ".wav", False):
        return "; ".join(reasons) or None
    if fits(stem + ".wav", True):
        return "; ".join(reasons + ["letter case differs from the corpus pattern"])
    return None
