"""Corpus loaders on generated trees of each corpus's shape, on real RAVDESS, and the synthetic corpus."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_ref import corpora
from ser_ref.corpora import LABELS, synthetic
from ser_ref.errors import CorpusError


def _wav(path: Path, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.random.default_rng(seed).normal(0, 0.1, 1600).astype(np.float32), 16000)


# ------------------------------------------------------------------------------------------ IEMOCAP
EVAL_01F = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[6.2901 - 8.2357]\tSes01F_impro01_F000\tang\t[2.5000, 2.5000, 2.5000]
C-E2:\tAnger;\t()
C-E3:\tAnger; Frustration;\t()
C-E4:\tAnger;\t()
C-F1:\tNeutral state;\t(self)
A-E3:\tval 3; act 2; dom  2;\t()

[10.0 - 12.0]\tSes01F_impro01_M000\thap\t[3.0, 3.0, 3.0]
C-E2:\tHappiness;\t()
C-E3:\tExcited;\t()
C-E4:\tHappiness;\t()

[13.0 - 14.0]\tSes01F_impro01_M001\tsad\t[3.0, 3.0, 3.0]
C-E2:\tSadness;\t()
C-E3:\tSadness;\t()

[15.0 - 16.0]\tSes01F_impro01_F001\txxx\t[3.0, 3.0, 3.0]
C-E2:\tSadness;\t()
C-E3:\tAnger;\t()

[17.0 - 18.0]\tSes01F_impro01_F002\texc\t[3.0, 3.0, 3.0]
C-E2:\tExcited;\t()
C-E3:\tExcited; Happiness;\t()
"""

EVAL_SCRIPT = """[1.0 - 2.0]\tSes01F_script01_1_F000\tneu\t[2.5, 2.5, 2.5]
C-E2:\tNeutral state;\t()
C-E3:\tNeutral state;\t()
"""

EVAL_02M = """[1.0 - 2.0]\tSes02M_impro03_F000\tneu\t[2.5, 2.5, 2.5]
C-E1:\tNeutral state;\t()
C-E5:\tNeutral state;\t()
"""


@pytest.fixture
def iemocap_root(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    for session, dialog, text in [("Session1", "Ses01F_impro01", EVAL_01F),
                                  ("Session1", "Ses01F_script01_1", EVAL_SCRIPT),
                                  ("Session2", "Ses02M_impro03", EVAL_02M)]:
        ev = root / session / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        ev.parent.mkdir(parents=True, exist_ok=True)
        ev.write_text(text)
        for line in text.splitlines():
            if line.startswith("["):
                utt = line.split("\t")[1]
                _wav(root / session / "sentences" / "wav" / dialog / f"{utt}.wav")
    _wav(root / "Session2" / "sentences" / "wav" / "Ses02M_impro03" / "Ses02M_impro03_M999.wav")
    (root / "Session2" / "dialog" / "EmoEvaluation" / "._Ses02M_impro03.txt").write_bytes(b"\x00\x05\x16\x07")
    return root


def test_iemocap_unanimous_improvised(iemocap_root):
    items, report = corpora.load_with_report("iemocap", iemocap_root)
    got = {it.path.stem: (it.label, it.speaker, it.session, it.improvised, it.gender) for it in items}
    assert got == {
        "Ses01F_impro01_F000": ("anger", "Ses01F", 1, True, "f"),  # self-rating C-F1 is not an evaluator
        "Ses01F_impro01_M001": ("sadness", "Ses01M", 1, True, "m"),
        "Ses02M_impro03_F000": ("neutral", "Ses02F", 2, True, "f"),
    }
    sk = {reason: sorted(Path(r).name for r in rels) for reason, rels in report.ignored.items()}
    assert sk == {"evaluators not unanimous": ["Ses01F_impro01_M000.wav"],
                  "category no majority": ["Ses01F_impro01_F001.wav"],
                  "category excited": ["Ses01F_impro01_F002.wav"], "scripted": ["Ses01F_script01_1_F000.wav"],
                  "no EmoEvaluation entry": ["Ses02M_impro03_M999.wav"],
                  "annotations (read for the labels)": ["Ses01F_impro01.txt", "Ses01F_script01_1.txt",
                                                        "Ses02M_impro03.txt"],
                  "hidden (a name starting with '.'; never opened)": ["._Ses02M_impro03.txt"]}
    assert report.left_out == {} and "used 3 of 12 entries" in report.summary()


def test_iemocap_rule_options(iemocap_root):
    majority = {it.path.stem: it.label for it in corpora.load("iemocap", iemocap_root, agreement="majority")}
    assert majority["Ses01F_impro01_M000"] == "happiness" and len(majority) == 4
    merged = {it.path.stem: it.label for it in corpora.load("iemocap", iemocap_root, merge_excited=True)}
    # with excited = happiness, M000 becomes unanimous and F002 (exc) is kept as happiness
    assert merged["Ses01F_impro01_M000"] == "happiness" and merged["Ses01F_impro01_F002"] == "happiness"
    everything = corpora.load("iemocap", iemocap_root, improvised_only=False)
    assert any(it.improvised is False and it.label == "neutral" for it in everything)
    with pytest.raises(CorpusError, match="agreement"):
        corpora.load("iemocap", iemocap_root, agreement="most")


def test_iemocap_errors(iemocap_root, tmp_path):
    (iemocap_root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav").unlink()
    with pytest.raises(CorpusError, match="1 annotated utterances have no wav file.*F000"):
        corpora.load("iemocap", iemocap_root)
    with pytest.raises(CorpusError, match="no Session"):
        corpora.load("iemocap", tmp_path / "IEMOCAP_full_release" / "Session1")
    with pytest.raises(CorpusError, match="does not exist"):
        corpora.load("iemocap", tmp_path / "nowhere")
    (iemocap_root / "Session2/dialog/EmoEvaluation/Ses02M_impro03.txt").write_text("garbage\n")
    with pytest.raises(CorpusError, match="no utterance header"):
        corpora.load("iemocap", iemocap_root)


# ------------------------------------------------------------------------------- file-name corpora
def test_ravdess_names(tmp_path):
    for name in ["03-01-05-01-01-01-01.wav", "03-01-02-01-01-01-01.wav", "03-02-03-01-01-01-01.wav"]:
        _wav(tmp_path / "Actor_01" / name)
    _wav(tmp_path / "Actor_02" / "03-01-01-01-02-02-02.wav")
    items, report = corpora.load_with_report("ravdess", tmp_path)
    assert [(it.speaker, it.label, it.gender) for it in items] == [("ravdess01", "anger", "m"),
                                                                  ("ravdess02", "neutral", "f")]
    assert report.skipped == {"emotion calm": ["Actor_01/03-01-02-01-01-01-01.wav"],
                              "song": ["Actor_01/03-02-03-01-01-01-01.wav"]}
    assert len(corpora.load("ravdess", tmp_path, calm_as_neutral=True)) == 3
    _wav(tmp_path / "Actor_02" / "03-01-05-01-01-01-01.wav")  # actor 01's name in actor 02's folder
    _wav(tmp_path / "Actor_02" / "notes.wav")
    with pytest.raises(CorpusError, match=r"1 file names .* do not fit.*notes\.wav"):
        corpora.load("ravdess", tmp_path)
    (tmp_path / "Actor_02" / "notes.wav").unlink()
    with pytest.raises(CorpusError, match=r"1 files .* contradicts their name .*Actor_02/03-01-05-01-01-01-01\.wav "
                                          r"\(folder Actor_02, but the name says actor 01: expected Actor_01\)"):
        corpora.load("ravdess", tmp_path)


def test_emodb_emovo_cremad_names(tmp_path):
    for name in ["03a01Wa.wav", "08b02Ta.wav", "16a05Lb.wav", "11a04Fd.wav", "09b03Nc.wav"]:
        _wav(tmp_path / "emodb" / "wav" / name)
    emodb = corpora.load("emodb", tmp_path / "emodb")
    assert sorted((it.speaker, it.label, it.gender) for it in emodb) == [
        ("emodb03", "anger", "m"), ("emodb08", "sadness", "f"), ("emodb09", "neutral", "f"), ("emodb11", "happiness", "m")]

    for spk, name in [("f1", "rab-f1-b1.wav"), ("m2", "gio-m2-l3.wav"), ("m2", "dis-m2-n1.wav")]:
        _wav(tmp_path / "emovo" / spk / name)
    emovo, report = corpora.load_with_report("emovo", tmp_path / "emovo")
    assert [(it.speaker, it.label) for it in emovo] == [("emovof1", "anger"), ("emovom2", "happiness")]
    assert report.skipped == {"emotion disgust": ["m2/dis-m2-n1.wav"]}

    for name in ["1001_DFA_ANG_XX.wav", "1002_IEO_SAD_HI.wav", "1003_TIE_FEA_LO.wav"]:
        _wav(tmp_path / "cremad" / "AudioWAV" / name)
    (tmp_path / "cremad" / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,C,N\n")
    cremad = corpora.load("cremad", tmp_path / "cremad")
    assert [(it.speaker, it.label, it.gender) for it in cremad] == [("cremad1001", "anger", "m"),
                                                                    ("cremad1002", "sadness", None)]
    _wav(tmp_path / "cremad" / "AudioWAV" / "1004_DFA_ANGRY_XX.wav")
    with pytest.raises(CorpusError, match="1004_DFA_ANGRY_XX"):
        corpora.load("cremad", tmp_path / "cremad")


def test_unreadable_and_empty(tmp_path):
    (tmp_path / "Actor_01").mkdir()
    with pytest.raises(CorpusError, match=r"no audio files \(\.wav, \.flac, \.ogg\)"):
        corpora.load("ravdess", tmp_path)
    (tmp_path / "Actor_01" / "03-01-05-01-01-01-01.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(CorpusError, match=r"no usable.*left out 1 \(cannot be read as audio \(Format not "
                                          r"recognised\.\); e\.g\. 'Actor_01/03-01-05-01-01-01-01\.wav'\)"):
        corpora.load("ravdess", tmp_path)
    (tmp_path / "Actor_01" / "03-01-05-01-01-01-01.wav").unlink()
    _wav(tmp_path / "Actor_01" / "03-01-06-01-01-01-01.wav")  # fear only: nothing of the 4 classes
    with pytest.raises(CorpusError, match="no usable.*ignored 1 \\(emotion fear"):
        corpora.load("ravdess", tmp_path)
    with pytest.raises(CorpusError, match="unknown corpus"):
        corpora.load("iemocap5", tmp_path)


def test_real_ravdess(ravdess_root):
    items, report = corpora.load_with_report("ravdess", ravdess_root)
    # the shared copy's README: 24 actors, 28 files each: neutral 96, happy/sad/angry 192 each
    assert len(items) == 672 and report.left_out == {}
    assert report.ignored == {"not audio (by name and content: .md)": ["README.md"]}
    assert len({it.speaker for it in items}) == 24
    counts = {lab: sum(it.label == lab for it in items) for lab in LABELS}
    assert counts == {"anger": 192, "happiness": 192, "sadness": 192, "neutral": 96}


# ---------------------------------------------------------------------------------------- synthetic
def test_synthetic_deterministic_and_resumable(tmp_path):
    a = synthetic.generate(tmp_path / "a", n_speakers=2, n_per_emotion=2, seed=5)
    b = synthetic.generate(tmp_path / "b", n_speakers=2, n_per_emotion=2, seed=5)
    items = corpora.load("synthetic", a)
    assert len(items) == 16 and {it.speaker for it in items} == {"syn01", "syn02"}
    assert {it.label for it in items} == set(LABELS)
    for it in items:
        assert it.path.read_bytes() == (b / it.path.relative_to(a)).read_bytes()
    victim = items[3].path
    before = victim.read_bytes()
    victim.unlink()
    synthetic.generate(a, n_speakers=2, n_per_emotion=2, seed=5)  # resumes: writes the missing file
    assert victim.read_bytes() == before
    other = synthetic.generate(tmp_path / "c", n_speakers=2, n_per_emotion=2, seed=6)
    assert (other / items[0].path.relative_to(a)).read_bytes() != items[0].path.read_bytes()
    with pytest.raises(CorpusError, match="already holds"):
        synthetic.generate(a, n_speakers=3, n_per_emotion=2, seed=5)
    victim.unlink()
    with pytest.raises(CorpusError, match="1 files listed"):
        corpora.load("synthetic", a)
    with pytest.raises(CorpusError, match="no manifest"):
        corpora.load("synthetic", tmp_path)


def _file_hashes(root: Path) -> dict:
    import hashlib

    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(root.rglob("*"))
            if f.is_file()}


def test_synthetic_syllable_option_leaves_the_default_corpus_as_it_was(tmp_path):
    """The call without the option and the call naming (7, 11), the range the generator always drew
    from, write the same bytes, manifest.json included; another range makes longer utterances, is
    recorded in the manifest and is not mistaken for the default corpus on resume."""
    plain = _file_hashes(synthetic.generate(tmp_path / "plain", n_speakers=2, n_per_emotion=1, seed=3))
    named = _file_hashes(synthetic.generate(tmp_path / "named", n_speakers=2, n_per_emotion=1, seed=3,
                                            syllables=(7, 11)))
    assert len(plain) == 9 and plain == named
    long_root = synthetic.generate(tmp_path / "long", n_speakers=2, n_per_emotion=1, seed=3, syllables=(14, 20))
    short, long = (np.mean([sf.info(str(f)).duration for f in r.rglob("*.wav")])
                   for r in (tmp_path / "plain", long_root))
    assert 1.5 * short < long  # about twice the syllables: about twice as long
    import json

    assert json.loads((long_root / "manifest.json").read_text())["params"]["syllables"] == [14, 20]
    assert synthetic.generate(long_root, n_speakers=2, n_per_emotion=1, seed=3, syllables=(14, 20)) == long_root
    with pytest.raises(CorpusError, match="already holds"):
        synthetic.generate(long_root, n_speakers=2, n_per_emotion=1, seed=3)
    with pytest.raises(CorpusError, match="syllables must be"):
        synthetic.generate(tmp_path / "bad", syllables=(3, 2))


def test_synthetic_follows_the_acoustic_correlates(tmp_path):
    """Anger louder and faster than sadness (shorter), higher zero-crossing (flatter tilt) than sadness."""
    from ser_ref.frontend.audio import load_audio

    root = synthetic.generate(tmp_path, n_speakers=4, n_per_emotion=3, seed=0)
    stats = {lab: [] for lab in LABELS}
    for it in corpora.load("synthetic", root):
        x = load_audio(it.path).astype(np.float64)
        loud = x[np.abs(x) > 0.1 * np.abs(x).max()]
        zcr = np.mean(np.abs(np.diff(np.sign(loud))) > 0)
        stats[it.label].append((np.sqrt(np.mean(loud**2)), len(x) / 16000, zcr))
    mean = {lab: np.mean(v, axis=0) for lab, v in stats.items()}
    assert mean["anger"][0] > mean["neutral"][0] > mean["sadness"][0]    # loudness
    assert mean["anger"][1] < mean["neutral"][1] < mean["sadness"][1]    # duration (rate)
    assert mean["anger"][2] > mean["sadness"][2]                         # brighter spectrum
