"""Emotion corpora as lists of ``Item`` for the four classes of the paper.

``load(name, root, **options)`` dispatches to one loader per corpus:

    iemocap    SessionN/sentences/wav/<dialog>/<utt>.wav + SessionN/dialog/EmoEvaluation/<dialog>.txt
    ravdess    Actor_NN/03-01-EE-II-SS-RR-AA.wav
    emodb      wav/03a01Fa.wav
    emovo      f1/rab-f1-b1.wav
    cremad     1001_DFA_ANG_XX.wav
    urdu       Angry/SM1_F10_A010.wav (Latif et al. 2018; natural talk-show speech)
    synthetic  the generated corpus of ``ser_ref.corpora.synthetic`` (manifest.json + WAVs)

Every entry under the root is accounted for (``walk.walk`` lists them, links followed with loop
protection) and goes into exactly one of: used; left out with a reason (not a regular file, a
broken link, unreadable as audio, a name that almost fits the corpus pattern, a duplicate of an
utterance used); ignored with a reason (not audio, hidden, outside the four classes, annotations).
``load_with_report`` returns the ``LoadReport`` that counts all three and checks that they add up.
A missing root, audio names that do not fit the pattern at all, or nothing usable raise
CorpusError with counts and example file names. Nothing is dropped silently.
"""
from __future__ import annotations

import logging

from ..errors import CorpusError
from .items import LABELS, Item, LoadReport, check_root, fail_on_bad_names

__all__ = ["LABELS", "NAMES", "Item", "LoadReport", "check_root", "fail_on_bad_names", "load", "load_with_report"]

NAMES = ("iemocap", "ravdess", "emodb", "emovo", "cremad", "urdu", "synthetic")  # what load() accepts
log = logging.getLogger("ser_ref.corpora")


def load_with_report(name: str, root, **options) -> tuple[list[Item], LoadReport]:
    """(items, report) for corpus ``name`` under ``root``; items sorted by path.

    Examples
    --------
    >>> import tempfile
    >>> from ser_ref.corpora import synthetic
    >>> root = synthetic.generate(tempfile.mkdtemp(), n_speakers=2, n_per_emotion=1)
    >>> items, report = load_with_report("synthetic", root)
    >>> len(items), sorted({it.label for it in items}), report.kept, report.ignored
    (8, ['anger', 'happiness', 'neutral', 'sadness'], 8, {'the corpus manifest (read for the labels)': ['manifest.json']})
    """
    from . import iemocap, named, synthetic, urdu

    loaders = {"iemocap": iemocap.load, "ravdess": named.load_ravdess, "emodb": named.load_emodb,
               "emovo": named.load_emovo, "cremad": named.load_cremad, "synthetic": synthetic.load,
               "urdu": urdu.load}
    if name not in loaders:
        raise CorpusError(f"unknown corpus {name!r}; expected one of {sorted(loaders)}")
    root = check_root(root, name)
    report = LoadReport(name, root)
    items = sorted(loaders[name](root, report, **options), key=lambda it: str(it.path))
    report.kept = len(items)
    report.check_accounting(items)
    if not items:
        raise CorpusError(f"{name}: no usable {'/'.join(LABELS)} utterances under {root}. {report.summary()}")
    log.info(report.summary())
    return items, report


def load(name: str, root, **options) -> list[Item]:
    """The corpus's items of the four classes; skipped files are logged with counts.

    Examples
    --------
    >>> load("emodb", "/no/such/folder")
    Traceback (most recent call last):
    ...
    ser_ref.errors.CorpusError: emodb: corpus root /no/such/folder does not exist or is not a folder
    """
    return load_with_report(name, root, **options)[0]
