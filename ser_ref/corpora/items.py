"""What every corpus loader makes and shares: the four ``LABELS``, an ``Item`` per utterance, the
``LoadReport`` of what was kept and skipped, and the checks of a corpus root and its file names.
``ser_ref.corpora`` hands them on; the loaders (iemocap, named, synthetic, urdu) import them from here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError

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
    """What a loader kept and what it skipped, by reason, with example file names."""

    corpus: str
    root: Path
    kept: int = 0
    skipped: dict = field(default_factory=dict)  # reason -> list of file names

    def skip(self, reason: str, name: str) -> None:
        self.skipped.setdefault(reason, []).append(name)

    def summary(self) -> str:
        parts = [f"{self.corpus} at {self.root}: kept {self.kept}"]
        for reason, names in sorted(self.skipped.items()):
            parts.append(f"skipped {len(names)} ({reason}; e.g. {', '.join(names[:3])})")
        return "; ".join(parts)


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
