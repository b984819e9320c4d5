"""What every corpus loader makes and shares: the four ``LABELS``, an ``Item`` per utterance, the
``LoadReport`` of what was used, left out and ignored, and the checks of a corpus root and its file names.
``ser_ref.corpora`` hands them on; the loaders (iemocap, named, synthetic, urdu) import them from here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError
from .walk import LEFT_OUT, walk

LABELS = ("anger", "happiness", "sadness", "neutral")  # class index = position


@dataclass(frozen=True)
class Item:
    path: Path
    speaker: str
    label: str
    session: int | None = None
    improvised: bool | None = None
    gender: str | None = None


@dataclass
class LoadReport:
    """What a loader used, left out and ignored under its root, by reason, with paths relative to it.

    ``entries`` is every entry the walk found (walked when the report is made); those the walk could
    not use as files are left out or ignored at once. ``left_out`` and ``ignored`` map a reason to the
    relative paths it covers; ``duplicates`` maps a duplicate's path to the one used.
    """

    corpus: str
    root: Path
    kept: int = 0
    entries: list | None = None
    left_out: dict = field(default_factory=dict)
    ignored: dict = field(default_factory=dict)
    duplicates: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.entries is None:
            self.entries = walk(self.root)
        for e in self.entries:  # what the walk found unusable as a file: said here, never opened
            if e.problem:
                (self.leave_out if e.bucket == LEFT_OUT else self.ignore)(e.problem, e.rel)

    @property
    def skipped(self) -> dict:
        """The ignored entries by reason (the name problems.json has always used)."""
        return self.ignored

    def skip(self, reason: str, rel: str) -> None:
        self.ignore(reason, rel)

    def ignore(self, reason: str, rel: str) -> None:
        self.ignored.setdefault(reason, []).append(rel)

    def leave_out(self, reason: str, rel: str) -> None:
        self.left_out.setdefault(reason, []).append(rel)

    def rel(self, path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def files(self) -> list:
        """The regular files the walk found (``walk.Entry``) not yet left out or ignored, in path order:
        what a loader classifies."""
        done = {r for which in (self.left_out, self.ignored) for rels in which.values() for r in rels}
        return [e for e in self.entries if e.problem is None and e.rel not in done]

    def count(self, which: dict) -> int:
        return sum(len(v) for v in which.values())

    def check_accounting(self, items) -> None:
        """Every entry used, left out or ignored exactly once; anything else is a bug of the loader."""
        seen = [self.rel(it.path) for it in items]
        for which in (self.left_out, self.ignored):
            seen += [r for rels in which.values() for r in rels]
        want = sorted(e.rel for e in self.entries)
        if sorted(seen) != want:
            from collections import Counter

            extra, missing = Counter(seen) - Counter(want), Counter(want) - Counter(seen)
            raise RuntimeError(f"{self.corpus}: the loader's accounting does not add up (a bug: please report "
                               f"it): unaccounted {sorted(missing)[:5]}, counted twice or unknown {sorted(extra)[:5]}")

    def summary(self) -> str:
        parts = [f"{self.corpus} at {self.root}: used {self.kept} of {len(self.entries)} entries"]
        for word, which in (("left out", self.left_out), ("ignored", self.ignored)):
            for reason, rels in sorted(which.items()):
                parts.append(f"{word} {len(rels)} ({reason}; e.g. {', '.join(map(repr, rels[:3]))})")
        return "; ".join(parts)

    def problems(self, n_used: int, n_failed: int = 0) -> dict:
        """The loader's part of problems.json: every entry under the root counted, as used (``n_used``
        after the feature stage), left out (by the loader, plus ``n_failed`` files whose features
        failed) or ignored, and every left-out and ignored path with its reason."""
        return {"corpus": self.summary(), "skipped_by_loader": self.ignored,
                "entries_under_root": len(self.entries), "used": n_used,
                "left_out": self.count(self.left_out) + n_failed, "ignored": self.count(self.ignored),
                "left_out_by_loader": self.left_out, "duplicates": self.duplicates}


def check_root(root, corpus: str) -> Path:
    if root is None:
        raise CorpusError(f"{corpus}: no corpus root given (root=None); pass the folder of your copy")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusError(f"{corpus}: corpus root {root} does not exist or is not a folder")
    return root


def fail_on_bad_names(bad: list[str], corpus: str, root: Path, pattern: str) -> None:
    """Names that do not fit the corpus's pattern are an error, not something to skip quietly.

    Examples
    --------
    >>> fail_on_bad_names(["x.wav"], "ravdess", Path("/data"), "Actor_NN/03-01-EE-II-SS-RR-AA.wav")
    Traceback (most recent call last):
    ...
    ser_ref.errors.CorpusError: ravdess: 1 file names under /data do not fit Actor_NN/03-01-EE-II-SS-RR-AA.wav (e.g. x.wav)
    """
    if bad:
        raise CorpusError(f"{corpus}: {len(bad)} file names under {root} do not fit {pattern} "
                          f"(e.g. {', '.join(bad[:5])})")
