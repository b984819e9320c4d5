"""The URDU corpus (Latif et al. 2018): natural speech from Urdu television talk shows.

Layout: ``Angry/``, ``Happy/``, ``Neutral/``, ``Sad/`` holding ``SGX_FYY_EZZ.wav``: ``S`` + gender
(M/F) + speaker number, the speaker's file number, the emotion letter (A, H, N, S) and its running
number. Speaker = gender + number (``urduSM1``). The folder and the letter must agree.

Emotion is almost fully confounded with speaker in this corpus (26 of its 29 speakers occur in one
class only), so LOSO inside it measures little: it serves as an unseen test corpus.
"""
from __future__ import annotations

from pathlib import Path

from .items import Item, LoadReport
from .named import _decode_all

URDU_FOLDERS = {"Angry": "anger", "Happy": "happiness", "Sad": "sadness", "Neutral": "neutral"}
URDU_LETTERS = {"A": "anger", "H": "happiness", "S": "sadness", "N": "neutral"}
URDU_PATTERN = r"S([MF])(\d+)_F(\d+)_([AHNS])(\d+)\.wav"


def load(root: Path, report: LoadReport, *, check_audio: bool = True):
    """Every <Emotion>/S<G><N>_F<k>_<E><m>.wav under ``root`` (16 kHz or any rate: audio.py resamples)."""

    def decode(p, m):
        gender, number, _, letter, _ = m.groups()
        label = URDU_LETTERS[letter]
        if URDU_FOLDERS.get(p.parent.name) != label:
            return None  # the folder and the name disagree about the emotion
        return Item(p, f"urduS{gender}{number}", label, gender=gender.lower())

    return _decode_all(root, report, "urdu", URDU_PATTERN, decode, check_audio)
