"""Split generators: which utterances train and which test, for every kind of evaluation.

A ``Split`` is (name, index, train indices, test indices) over one dataset's utterances; the runner
(``ser_ref.evaluation.runner``) trains and tests every system on every split it is given, whatever made it.

    loso(speakers)             one split per speaker s (sorted): train on every other speaker, test on s
    cross_corpus(corpora, a, b) train on every utterance of corpus a, test on every utterance of corpus b

The model seed of a split is ``run seed + split.index`` (``fold_seed``), so LOSO fold i gets seed + i
whatever executor runs it, and a resumed run recomputes a missing split with the very same seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SerRefError


@dataclass(frozen=True)
class Split:
    """Train on ``train_idx``, test on ``test_idx``; ``name`` names the held-out part in reports."""

    name: str
    index: int
    train_idx: np.ndarray
    test_idx: np.ndarray

    @property
    def test_speaker(self) -> str:  # the LOSO reading of the name
        return self.name


def fold_seed(seed: int, index: int) -> int:
    """Split i's model seed: seed + i, independent of execution order (parallel = serial = resumed)."""
    return seed + index


def loso(speakers, subset=None) -> list[Split]:
    """One split per distinct speaker (sorted), testing on that speaker and training on the rest.

    ``subset``: indices of the utterances taking part (default all); the splits index the full array.

    >>> [(s.name, s.train_idx.tolist(), s.test_idx.tolist()) for s in loso(["b", "a", "b"])]
    [('a', [0, 2], [1]), ('b', [1], [0, 2])]
    """
    speakers = np.asarray(speakers).astype(str)
    if speakers.ndim != 1 or speakers.size == 0:
        raise SerRefError(f"speakers: expected a non-empty 1-D sequence, got shape {speakers.shape}")
    idx = np.arange(len(speakers)) if subset is None else np.asarray(subset)
    names = np.unique(speakers[idx])
    if len(names) < 2:
        raise SerRefError(f"speakers: LOSO needs at least 2 speakers, got {[str(n) for n in names]}")
    return [Split(str(s), i, idx[speakers[idx] != s], idx[speakers[idx] == s]) for i, s in enumerate(names)]


def cross_corpus(corpora, train: str, test: str, index: int = 0) -> Split:
    """Train on all of corpus ``train``, test on all of corpus ``test`` (``corpora``: one name per utterance).

    >>> s = cross_corpus(["x", "y", "x"], "x", "y")
    >>> s.name, s.train_idx.tolist(), s.test_idx.tolist()
    ('x->y', [0, 2], [1])
    """
    corpora = np.asarray(corpora).astype(str)
    if train == test:
        raise SerRefError(f"cross_corpus: train and test corpus are both {train!r}; use loso for one corpus")
    tr, te = np.flatnonzero(corpora == train), np.flatnonzero(corpora == test)
    for name, part in ((train, tr), (test, te)):
        if part.size == 0:
            raise SerRefError(f"cross_corpus: no utterances of corpus {name!r}")
    return Split(f"{train}->{test}", index, tr, te)
