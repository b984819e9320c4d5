"""Corpora whose labels live in the file names: RAVDESS, EmoDB, EMOVO, CREMA-D.

Each loader decodes every audio file (.wav, .flac, .ogg, any case) under the root with the corpus's
pattern. A name that does not fit is an error (CorpusError listing them), and so is a file in a
folder that contradicts its name; a name that fits but carries an emotion outside the four classes
is skipped and counted in the report.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import soundfile as sf

from .items import LABELS, Item, LoadReport, fail_on_bad_names
from ..errors import CorpusError


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")  # what soundfile reads; the patterns see the name as .wav


def wav_files(root: Path, corpus: str) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise CorpusError(f"{corpus}: no audio files ({', '.join(AUDIO_SUFFIXES)}) under {root}")
    return files


class Misplaced(str):
    """decode's answer for a name that fits the pattern in a folder that contradicts it."""


def check_readable(paths, corpus: str) -> None:
    """Every file opens as audio (header only): unreadable ones are listed in one error.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.wav"; _ = p.write_text("text")
    >>> check_readable([p], "emodb")
    Traceback (most recent call last):
    ...
    ser_ref.errors.CorpusError: emodb: 1 files cannot be read as audio (e.g. x.wav (...))
    """
    bad = []
    for p in paths:
        try:
            info = sf.info(str(p))
            if info.frames == 0:
                bad.append(f"{p.name} (no samples)")
        except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError for corrupt files
            bad.append(f"{p.name} ({type(exc).__name__})")
    if bad:
        raise CorpusError(f"{corpus}: {len(bad)} files cannot be read as audio (e.g. {', '.join(bad[:5])})")


def _decode_all(root, report: LoadReport, corpus, pattern, decode, check_audio=True):
    """Apply decode(path, match) -> Item | str (a skip reason) to every wav; bad names raise."""
    items, bad, misplaced = [], [], []
    for p in wav_files(root, corpus):
        m = re.fullmatch(pattern, p.stem + ".wav")
        out = decode(p, m) if m else None
        if out is None:
            bad.append(str(p.relative_to(root)))
        elif isinstance(out, Misplaced):
            misplaced.append(f"{p.relative_to(root)} ({out})")
        elif isinstance(out, str):
            report.skip(out, p.name)
        else:
            items.append(out)
    fail_on_bad_names(bad, corpus, root, pattern)
    if misplaced:
        raise CorpusError(f"{corpus}: {len(misplaced)} files under {root} sit in a folder that contradicts their "
                          f"name (e.g. {', '.join(misplaced[:5])})")
    if check_audio:
        check_readable([it.path for it in items], corpus)
    return items


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
            return Misplaced(f"folder {p.parent.name}, but the name says actor {actor}: expected Actor_{actor}")
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
            return Misplaced(f"folder {p.parent.name}, but the name says speaker {spk}")
        label = EMOVO_EMOTIONS[emo]
        if label not in LABELS:
            return f"emotion {label}"
        return Item(p, f"emovo{spk}", label, gender=spk[0])

    return _decode_all(root, report, "emovo", EMOVO_PATTERN, decode, check_audio)


# ------------------------------------------------------------------------------------------ CREMA-D
CREMAD_EMOTIONS = {"ANG": "anger", "HAP": "happiness", "SAD": "sadness", "NEU": "neutral",
                   "DIS": "disgust", "FEA": "fear"}
CREMAD_PATTERN = r"(1\d\d\d)_([A-Z]{3})_(ANG|HAP|SAD|NEU|DIS|FEA)_(LO|MD|HI|XX|X)\.wav"


def _cremad_genders(root: Path) -> dict:
    """ActorID -> 'm'/'f' from VideoDemographics.csv when it sits under the root (else unknown)."""
    found = sorted(root.rglob("VideoDemographics.csv"))
    if not found:
        return {}
    with open(found[0], newline="") as f:
        return {row["ActorID"].strip(): row["Sex"].strip()[:1].lower() for row in csv.DictReader(f)}


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
    genders = _cremad_genders(root)

    def decode(p, m):
        actor, _, emo, _ = m.groups()
        label = CREMAD_EMOTIONS[emo]
        if label not in LABELS:
            return f"emotion {label}"
        return Item(p, f"cremad{actor}", label, gender=genders.get(actor))

    return _decode_all(root, report, "cremad", CREMAD_PATTERN, decode, check_audio)
