"""A corpus opened by name, as a run opens it: the synthetic one generated (once) under the cache
folder, RAVDESS also found without a root (``locations.ravdess_root``), every other from its root;
and what an opened corpus lacks for leave-one-speaker-out (``corpus_problems``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np  # noqa: F401  (the examples use it)

from ..errors import UsageError, machine_error
from ..files import locations
from . import LABELS, LoadReport, load_with_report

QUICK_SIZE = {"n_speakers": 4, "n_per_emotion": 3}  # the synthetic corpus of --quick


def synthetic_root(seed: int, quick: bool) -> Path:
    """Where the generated corpus of this seed and size lives in the cache.

    >>> synthetic_root(3, True).name
    'synthetic-quick-seed3'
    """
    return locations.cache_dir() / "corpora" / f"synthetic-{'quick' if quick else 'default'}-seed{seed}"


def open_corpus(name: str, root=None, *, seed: int = 0, quick: bool = False) -> tuple[list, LoadReport]:
    """(items, load report) of corpus ``name``. The synthetic one, without ``root``, is generated in
    the cache (``seed`` and ``quick`` fix it); with ``root`` it is read and never written.

    Examples
    --------
    >>> open_corpus("emodb")
    Traceback (most recent call last):
    ...
    ser_ref.errors.UsageError: --corpus emodb needs --root DIR pointing at your copy of the corpus
    """
    if name == "synthetic" and root is None:
        from . import synthetic

        root = synthetic_root(seed, quick)
        try:
            synthetic.generate(root, seed=seed, **(QUICK_SIZE if quick else {}))
        except OSError as exc:
            raise machine_error(exc, "synthetic corpus in the cache") from exc
    if root is None and name == "ravdess":
        root = locations.ravdess_root()
    if root is None:
        raise UsageError(f"--corpus {name} needs --root DIR pointing at your copy of the corpus")
    return load_with_report(name, root)


def corpus_problems(speakers, y) -> list[str]:
    """Speakers left without any utterance of a class (their UA is undefined for it).

    Examples
    --------
    >>> corpus_problems(np.array(["s1", "s1", "s2"]), np.array([0, 1, 2]))[0]
    'speaker s1: no utterances of sadness, neutral'
    """
    out = []
    for s in sorted(set(speakers)):
        have = set(y[speakers == s].tolist())
        missing = [LABELS[c] for c in range(len(LABELS)) if c not in have]
        if missing:
            out.append(f"speaker {s}: no utterances of {', '.join(missing)}")
    return out
