"""Corpora whose labels live in the file names: RAVDESS, EmoDB, EMOVO, CREMA-D.

Each loader classifies every regular file the walk found under the root (``LoadReport.files``):

* a name that fits the corpus's pattern (.wav, .flac, .ogg, any case) is used, or ignored when its
  emotion is outside the four classes; a file in a folder that contradicts its name stops the run
  (CorpusError), unless the folder's name differs from the expected one only in case or whitespace
  (left out);
* a name that almost fits (``walk.near_miss``: case, whitespace, a newline, an extra or another
  audio suffix) is left out with the reason;
* an audio name that does not fit at all stops the run (CorpusError listing them: a wrong root or
  corpus); any other name is ignored as not audio, unless its content is audio (left out);
* a used file whose header cannot be read as audio is left out with libsndfile's cause, and of
  the files of one utterance in several formats or folders one is used (.wav first, then .flac,
  .ogg, then path order), the others left out as duplicates.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import soundfile as sf

from .items import LABELS, Item, LoadReport, fail_on_bad_names
from ..errors import CorpusError
from ..files.regular import read_regular_text
from .walk import AUDIO_SUFFIXES, is_audio_name, looks_like_audio, near_miss

MAX_TABLE_BYTES = 16 << 20  # a corpus's metadata table (CREMA-D's demographics: 3 KB)
DUPLICATE = "duplicate: the same utterance as a file used (another format or folder; see duplicates)"


class Misplaced(str):
    """decode's answer for a name that fits the pattern in a folder that contradicts it; ``expected``
    is the folder the name asks for (None when any folder would do)."""

    def __new__(cls, text: str, expected: str | None = None):
        out = super().__new__(cls, text)
        out.expected = expected
        return out


def readable_problem(path) -> str | None:
    """None if ``path`` opens as audio with samples (header only), else the cause in words.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.wav"; _ = p.write_text("text")
    >>> readable_problem(p)
    'cannot be read as audio (Format not recognised.)'
    """
    from ..files.regular import open_regular
    from ..frontend.audio import soundfile_cause

    try:
        with open_regular(path) as f:
            if os.fstat(f.fileno()).st_size == 0:
                return "an empty file (0 bytes)"
            info = sf.info(f)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError for corrupt files
        return f"cannot be read as audio ({soundfile_cause(exc)})"
    return None if info.frames > 0 else "no samples (empty audio)"


def _loose(name: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "", name).strip().casefold()


def _classify_other(e, report: LoadReport, corpus: str, pattern: str, bad: list) -> None:
    """A file whose name does not fit the pattern: a near miss is left out, an audio name that does
    not fit at all goes to ``bad`` (the run stops), anything else is ignored as not audio."""
    why = near_miss(e.path.name, lambda n, ic: re.fullmatch(pattern, n, re.IGNORECASE if ic else 0) is not None)
    if why:
        report.leave_out(f"name almost fits {corpus}'s pattern: {why}", e.rel)
    elif is_audio_name(e.path.name):
        bad.append(e.rel)
    elif looks_like_audio(e.path):
        report.leave_out(f"audio by content, but the name fits no {corpus} utterance", e.rel)
    else:
        report.ignore(f"not audio (by name and content: {Path(e.path.name).suffix or 'no suffix'})", e.rel)


def _utterance_key(it: Item) -> str:
    return Path(it.path.name).stem


def drop_duplicates(items, report: LoadReport) -> list:
    """One file per utterance (same name stem): .wav first, then .flac, .ogg, then path order; the
    others are left out as duplicates (``report.duplicates`` says of which file)."""
    rank = {s: i for i, s in enumerate(AUDIO_SUFFIXES)}
    order = sorted(items, key=lambda it: (_utterance_key(it), rank[it.path.suffix.lower()], report.rel(it.path)))
    out, first = [], {}
    for it in order:
        key = _utterance_key(it)
        if key in first:
            report.leave_out(DUPLICATE, report.rel(it.path))
            report.duplicates[report.rel(it.path)] = report.rel(first[key].path)
        else:
            first[key] = it
            out.append(it)
    return out


def _decode_all(root, report: LoadReport, corpus, pattern, decode, check_audio=True):
    """Classify every regular file (see the module doc) with decode(path, match) -> Item | str (a
    reason to ignore it) | Misplaced | None (the name does not fit); returns the items used."""
    items, bad, misplaced = [], [], []
    files = report.files()
    for e in files:
        m = re.fullmatch(pattern, Path(e.path.name).stem + ".wav") if is_audio_name(e.path.name) else None
        out = decode(e.path, m) if m else None
        if isinstance(out, Item):
            items.append(out)
        elif isinstance(out, Misplaced):
            if out.expected is not None and _loose(e.path.parent.name) == _loose(out.expected):
                report.leave_out(f"folder name almost fits {corpus}'s pattern (case or whitespace): "
                                 f"the name asks for folder {out.expected}", e.rel)
            else:
                misplaced.append(f"{e.rel} ({out})")
        elif isinstance(out, str):
            report.ignore(out, e.rel)
        elif m:
            bad.append(e.rel)  # fits the pattern's shape, but not its values (an unknown speaker...)
        else:
            _classify_other(e, report, corpus, pattern, bad)
    if not items and not report.left_out and not any(is_audio_name(e.path.name) for e in files):
        raise CorpusError(f"{corpus}: no audio files ({', '.join(AUDIO_SUFFIXES)}) under {root}")
    fail_on_bad_names(bad, corpus, root, pattern)
    if misplaced:
        raise CorpusError(f"{corpus}: {len(misplaced)} files under {root} sit in a folder that contradicts their "
                          f"name (e.g. {', '.join(misplaced[:5])})")
    if check_audio:
        problems = [(it, readable_problem(it.path)) for it in items]
        for it, why in problems:
            if why:
                report.leave_out(why, report.rel(it.path))
        items = [it for it, why in problems if why is None]
    return drop_duplicates(items, report)


# ------------------------------------------------------------------------------------------ RAVDESS
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness", "05": "anger",
                    "06": "fear", "07": "disgust", "08": "surprise"}
RAVDESS_PATTERN = r"(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.wav"


def load_ravdess(root: Path, report: LoadReport, *, calm_as_neutral: bool = False, check_audio: bool = True):
    """Actor_NN/MM-VV-EE-II-SS-RR-AA.wav: modality, vocal channel (01 speech, 02 song), emotion,
    intensity, statement, repetition, actor (odd = male). Song and the 4 other emotions are skipped;
    ``calm_as_neutral`` merges calm (02) into neutral.

    Examples
    --------
    >>> import numpy as np
    >>> import tempfile, soundfile as sf
    >>> from ser_ref.corpora import LoadReport
    >>> root = Path(tempfile.mkdtemp()); (root / "Actor_01").mkdir()
    >>> for name in ("03-01-05-01-01-01-01.wav", "03-01-07-01-01-01-01.wav"):   # angry; disgust is skipped
    ...     sf.write(root / "Actor_01" / name, np.full(800, 0.1), 16000)
    >>> report = LoadReport("ravdess", root)
    >>> [(it.speaker, it.label) for it in load_ravdess(root, report)], sorted(report.skipped)
    ([('ravdess01', 'anger')], ['emotion disgust'])
    """

    def decode(p, m):
        _, channel, emo, _, _, _, actor = m.groups()
        if p.parent.name != f"Actor_{actor}":
            return Misplaced(f"folder {p.parent.name}, but the name says actor {actor}: expected Actor_{actor}",
                             f"Actor_{actor}")
        if channel != "01":
            return "song"
        label = RAVDESS_EMOTIONS[emo]
        if label == "calm" and calm_as_neutral:
            label = "neutral"
        if label not in LABELS:
            return f"emotion {label}"
        return Item(p, f"ravdess{actor}", label, gender="m" if int(actor) % 2 else "f")

    return _decode_all(root, report, "ravdess", RAVDESS_PATTERN, decode, check_audio)


# -------------------------------------------------------------------------------------------- EmoDB
EMODB_EMOTIONS = {"W": "anger", "F": "happiness", "T": "sadness", "N": "neutral",
                  "L": "boredom", "E": "disgust", "A": "fear"}
EMODB_SPEAKERS = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f",
                  "14": "f", "15": "m", "16": "f"}
EMODB_PATTERN = r"(\d\d)([abc]\d\d)([WLEAFTN])([a-z])\.wav"


def load_emodb(root: Path, report: LoadReport, *, check_audio: bool = True):
    """wav/SSTTTEV.wav: speaker (2 digits), text (a01..b10), emotion letter (W anger, F happiness,
    T sadness, N neutral; L boredom, E disgust, A fear are skipped), version letter.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from ser_ref.corpora import LoadReport
    >>> root = Path(tempfile.mkdtemp()); (root / "wav").mkdir()
    >>> for name in ("03a01Wa.wav", "03a01La.wav"):              # anger; boredom is skipped
    ...     sf.write(root / "wav" / name, np.full(800, 0.1), 16000)
    >>> [(it.speaker, it.label) for it in load_emodb(root, LoadReport("emodb", root))]
    [('emodb03', 'anger')]
    """

    def decode(p, m):
        spk, _, emo, _ = m.groups()
        if spk not in EMODB_SPEAKERS:
            return None
        label = EMODB_EMOTIONS[emo]
        if label not in LABELS:
            return f"emotion {label}"
        return Item(p, f"emodb{spk}", label, gender=EMODB_SPEAKERS[spk])

    return _decode_all(root, report, "emodb", EMODB_PATTERN, decode, check_audio)


# -------------------------------------------------------------------------------------------- EMOVO
EMOVO_EMOTIONS = {"rab": "anger", "gio": "happiness", "tri": "sadness", "neu": "neutral",
                  "dis": "disgust", "pau": "fear", "sor": "surprise"}
EMOVO_PATTERN = r"(rab|gio|tri|neu|dis|pau|sor)-([fm][123])-([bdlns]\d)\.wav"


def load_emovo(root: Path, report: LoadReport, *, check_audio: bool = True):
    """<speaker>/EEE-<speaker>-SS.wav: rab anger, gio joy, tri sadness, neu neutral (dis, pau, sor
    skipped); speakers f1..f3, m1..m3 (the folder must match).

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from ser_ref.corpora import LoadReport
    >>> root = Path(tempfile.mkdtemp()); (root / "f1").mkdir()
    >>> sf.write(root / "f1" / "tri-f1-b1.wav", np.full(800, 0.1), 16000)
    >>> [(it.speaker, it.label, it.gender) for it in load_emovo(root, LoadReport("emovo", root))]
    [('emovof1', 'sadness', 'f')]
    """

    def decode(p, m):
        emo, spk, _ = m.groups()
        if p.parent.name.lower() != spk:
            return Misplaced(f"folder {p.parent.name}, but the name says speaker {spk}", spk)
        label = EMOVO_EMOTIONS[emo]
        if label not in LABELS:
            return f"emotion {label}"
        return Item(p, f"emovo{spk}", label, gender=spk[0])

    return _decode_all(root, report, "emovo", EMOVO_PATTERN, decode, check_audio)


# ------------------------------------------------------------------------------------------ CREMA-D
CREMAD_EMOTIONS = {"ANG": "anger", "HAP": "happiness", "SAD": "sadness", "NEU": "neutral",
                   "DIS": "disgust", "FEA": "fear"}
CREMAD_PATTERN = r"(1\d\d\d)_([A-Z]{3})_(ANG|HAP|SAD|NEU|DIS|FEA)_(LO|MD|HI|XX|X)\.wav"


def _cremad_genders(report: LoadReport) -> dict:
    """ActorID -> 'm'/'f' from VideoDemographics.csv when it sits under the root (else unknown); the
    table is ignored as an entry (read for the genders, not an utterance)."""
    found = [e for e in report.files() if e.path.name == "VideoDemographics.csv"]
    for e in found:
        report.ignore("speaker demographics (read for the genders)", e.rel)
    if not found:
        return {}
    text = read_regular_text(found[0].path, MAX_TABLE_BYTES, "demographics table")
    return {row["ActorID"].strip(): row["Sex"].strip()[:1].lower() for row in csv.DictReader(io.StringIO(text))}


def load_cremad(root: Path, report: LoadReport, *, check_audio: bool = True):
    """AAAA_SSS_EEE_LL.wav: actor 1001..1091, sentence code, emotion (ANG, HAP, SAD, NEU kept; DIS,
    FEA skipped), intensity level. Gender comes from VideoDemographics.csv if present.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from ser_ref.corpora import LoadReport
    >>> root = Path(tempfile.mkdtemp())
    >>> sf.write(root / "1001_DFA_HAP_XX.wav", np.full(800, 0.1), 16000)
    >>> [(it.speaker, it.label) for it in load_cremad(root, LoadReport("cremad", root))]
    [('cremad1001', 'happiness')]
    """
    genders = _cremad_genders(report)

    def decode(p, m):
        actor, _, emo, _ = m.groups()
        label = CREMAD_EMOTIONS[emo]
        if label not in LABELS:
            return f"emotion {label}"
        return Item(p, f"cremad{actor}", label, gender=genders.get(actor))

    return _decode_all(root, report, "cremad", CREMAD_PATTERN, decode, check_audio)
