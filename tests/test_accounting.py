"""Every entry under a corpus root is accounted for, and no input hangs a command (issue 25, items 1-2).

Each class of entry is made here on a small RAVDESS- or EmoDB-shaped tree: names that almost fit
(trailing space, newline, extra suffix, letter case, another format), a linked speaker folder, a link
loop, a broken link, a FIFO, the same utterance in two formats, an unreadable file, a README. The
loader must put each in exactly one of used / left out / ignored with its reason, and the counts
must add up to the number of entries. The commands that read a corpus or a file (reproduce, audit,
predict) run in a subprocess with a timeout on a tree holding a FIFO named like an utterance.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_ref import corpora
from ser_ref.corpora import synthetic
from ser_ref.corpora.walk import near_miss, walk
from ser_ref.errors import AudioError

REPO = Path(__file__).resolve().parent.parent
ANGRY = "03-01-05-01-01-01-{actor}.wav"


def _wav(path: Path, seed: int = 0, fmt: str | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(seed).normal(0, 0.1, 1600).astype(np.float32)
    sf.write(str(path), x, 16000, format=fmt)


def _where(report, rel: str) -> tuple[str, str]:
    """(bucket, reason) of one entry, or ("used", "")."""
    for bucket, which in (("left out", report.left_out), ("ignored", report.ignored)):
        for reason, rels in which.items():
            if rel in rels:
                return bucket, reason
    return "used", ""


def _assert_adds_up(items, report):
    n_left, n_ign = report.count(report.left_out), report.count(report.ignored)
    assert len(items) + n_left + n_ign == len(report.entries) == len(walk(report.root))


def test_near_misses_are_left_out_with_their_reason(tmp_path):
    a1 = tmp_path / "Actor_01"
    _wav(a1 / ANGRY.format(actor="01"))
    for name in ["03-01-04-01-01-01-01.wav ", " 03-01-03-01-01-01-01.wav", "03-01-01-01-01-01-01.wav\n",
                 "03-01-05-02-01-01-01.wav.bak", "03-01-05-01-02-01-01.mp3", "03-01-05-02-02-01-01"]:
        _wav(a1 / name, fmt="WAV")
    (a1 / "notes.txt").write_text("recorded in one session")
    (tmp_path / "README.md").write_text("RAVDESS, 4 classes")
    items, report = corpora.load_with_report("ravdess", tmp_path)
    assert [it.path.name for it in items] == [ANGRY.format(actor="01")]
    why = {rel: _where(report, rel) for rel in (e.rel for e in report.entries)}
    assert why["Actor_01/03-01-04-01-01-01-01.wav "] == (
        "left out", "name almost fits ravdess's pattern: leading or trailing whitespace in the name")
    assert why["Actor_01/ 03-01-03-01-01-01-01.wav"][1].endswith("leading or trailing whitespace in the name")
    assert why["Actor_01/03-01-01-01-01-01-01.wav\n"][1].endswith("a newline or control character in the name")
    assert why["Actor_01/03-01-05-02-01-01-01.wav.bak"][1].endswith("an extra suffix after the audio suffix")
    assert why["Actor_01/03-01-05-01-02-01-01.mp3"][1].endswith("format .mp3 is not read (only .wav, .flac, .ogg; "
                                                                "convert it)")
    assert why["Actor_01/03-01-05-02-02-01-01"][1].endswith("no audio suffix (.wav, .flac, .ogg)")
    assert why["Actor_01/notes.txt"] == ("ignored", "not audio (by name and content: .txt)")
    assert why["README.md"] == ("ignored", "not audio (by name and content: .md)")
    _assert_adds_up(items, report)


def test_letter_case_is_a_near_miss(tmp_path):
    _wav(tmp_path / "wav" / "03a01Wa.wav")
    _wav(tmp_path / "wav" / "03A01wA.wav")
    items, report = corpora.load_with_report("emodb", tmp_path)
    assert [it.path.name for it in items] == ["03a01Wa.wav"]
    assert report.left_out == {"name almost fits emodb's pattern: letter case differs from the corpus pattern":
                               ["wav/03A01wA.wav"]}
    # a folder whose name differs from the expected one only in case: left out, not a stop
    _wav(tmp_path / "rav" / "actor_02" / ANGRY.format(actor="02"))
    _wav(tmp_path / "rav" / "Actor_01" / ANGRY.format(actor="01"))
    items, report = corpora.load_with_report("ravdess", tmp_path / "rav")
    assert [it.speaker for it in items] == ["ravdess01"]
    assert list(report.left_out.values()) == [[f"actor_02/{ANGRY.format(actor='02')}"]]


def test_linked_folders_are_followed_and_loops_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "Actor_02"
    _wav(elsewhere / ANGRY.format(actor="02"))
    root = tmp_path / "ravdess"
    _wav(root / "Actor_01" / ANGRY.format(actor="01"))
    (root / "Actor_02").symlink_to(elsewhere, target_is_directory=True)  # a linked speaker folder
    (root / "Actor_01" / "loop").symlink_to(root, target_is_directory=True)
    (root / "Actor_01" / "gone.wav").symlink_to(tmp_path / "no-such-file.wav")
    items, report = corpora.load_with_report("ravdess", root)
    assert [it.speaker for it in items] == ["ravdess01", "ravdess02"]  # the linked folder's file is used
    assert _where(report, "Actor_01/loop") == ("ignored", "a link to a folder already searched (a loop, or a "
                                                          "second link to it)")
    assert _where(report, "Actor_01/gone.wav") == ("left out", "a broken link (its target does not exist)")
    _assert_adds_up(items, report)


def test_one_utterance_in_two_formats_is_used_once(tmp_path):
    _wav(tmp_path / "Actor_01" / ANGRY.format(actor="01"), seed=1)
    _wav(tmp_path / "Actor_01" / ANGRY.format(actor="01").replace(".wav", ".flac"), seed=1)
    _wav(tmp_path / "Actor_01" / "03-01-04-01-01-01-01.ogg", seed=2)
    items, report = corpora.load_with_report("ravdess", tmp_path)
    assert [it.path.name for it in items] == ["03-01-04-01-01-01-01.ogg", ANGRY.format(actor="01")]
    flac = "Actor_01/03-01-05-01-01-01-01.flac"
    assert _where(report, flac)[1].startswith("duplicate: the same utterance as a file used")
    assert report.duplicates == {flac: "Actor_01/03-01-05-01-01-01-01.wav"}
    _assert_adds_up(items, report)


def test_unreadable_files_are_left_out_and_said_in_words(tmp_path):
    _wav(tmp_path / "Actor_01" / ANGRY.format(actor="01"))
    (tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav").write_bytes(b"not audio at all")
    (tmp_path / "Actor_01" / "03-01-03-01-01-01-01.wav").write_bytes(b"")
    items, report = corpora.load_with_report("ravdess", tmp_path)
    assert len(items) == 1
    assert report.left_out == {
        "cannot be read as audio (Format not recognised.)": ["Actor_01/03-01-04-01-01-01-01.wav"],
        "an empty file (0 bytes)": ["Actor_01/03-01-03-01-01-01-01.wav"]}
    assert "LibsndfileError" not in report.summary()
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav"
        _wav(locked)
        locked.chmod(0)
        _, report = corpora.load_with_report("ravdess", tmp_path)
        assert _where(report, "Actor_01/03-01-01-01-01-01-01.wav") == ("left out", "cannot be read (Permission denied)")


def test_a_fifo_is_left_out_before_any_read(tmp_path):
    _wav(tmp_path / "Actor_01" / ANGRY.format(actor="01"))
    os.mkfifo(tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav")  # no writer: any read would block for ever
    items, report = corpora.load_with_report("ravdess", tmp_path)
    assert len(items) == 1
    assert report.left_out == {"not a regular file but a FIFO (named pipe)": ["Actor_01/03-01-04-01-01-01-01.wav"]}
    with pytest.raises(AudioError, match="not a regular file but a FIFO"):
        from ser_ref.frontend.audio import load_audio
        load_audio(tmp_path / "Actor_01" / "03-01-04-01-01-01-01.wav")


def test_iemocap_near_miss_and_fifo(tmp_path):
    root = tmp_path / "IEMOCAP"
    ev = root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    ev.parent.mkdir(parents=True)
    ev.write_text("[1.0 - 2.0]\tSes01F_impro01_F000\tang\t[2.5, 2.5, 2.5]\nC-E2:\tAnger;\t()\n"
                  "[3.0 - 4.0]\tSes01F_impro01_M000\tsad\t[2.5, 2.5, 2.5]\nC-E2:\tSadness;\t()\n"
                  "[5.0 - 6.0]\tSes01F_impro01_M001\tneu\t[2.5, 2.5, 2.5]\nC-E2:\tNeutral state;\t()\n")
    wavs = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01"
    _wav(wavs / "Ses01F_impro01_F000.wav")
    _wav(wavs / "Ses01F_impro01_M000.wav ", fmt="WAV")  # an annotated utterance's name with a trailing space
    os.mkfifo(wavs / "Ses01F_impro01_M001.wav")
    _wav(root / "Session1" / "dialog" / "wav" / "Ses01F_impro01.wav")  # the whole dialogue: not read
    items, report = corpora.load_with_report("iemocap", root)
    assert [it.path.name for it in items] == ["Ses01F_impro01_F000.wav"]
    rel = "Session1/sentences/wav/Ses01F_impro01/"
    assert report.left_out == {
        "name almost fits an annotated utterance: leading or trailing whitespace in the name":
            [rel + "Ses01F_impro01_M000.wav "],
        "not a regular file but a FIFO (named pipe)": [rel + "Ses01F_impro01_M001.wav"]}
    assert _where(report, "Session1/dialog/wav/Ses01F_impro01.wav")[0] == "ignored"
    _assert_adds_up(items, report)


def test_near_miss_leaves_other_names_alone():
    fits = lambda n, ic: n.lower() == "a.wav" if ic else n == "a.wav"  # noqa: E731
    assert near_miss("a.wav", fits) is None          # fits as it is
    assert near_miss("a.txt", fits) is None          # a transcript named like an utterance: not audio
    assert near_miss("b.wav ", fits) is None         # nothing like any utterance
    assert near_miss("A.FLAC", fits) == "letter case differs from the corpus pattern"


# ------------------------------------------------------------------ commands: nothing hangs on a FIFO
def _ravdess_tree(root: Path, n_actors: int = 4, per_class: int = 2):
    """A RAVDESS-shaped corpus of the synthetic corpus's voices (16-bit, 16 kHz)."""
    codes = {"neutral": "01", "happiness": "03", "sadness": "04", "anger": "05"}
    for s in range(n_actors):
        for label, code in codes.items():
            for k in range(per_class):
                name = f"03-01-{code}-01-0{k + 1}-01-{s + 1:02d}.wav"
                path = root / f"Actor_{s + 1:02d}" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(path), synthetic.utterance(s, label, k), 16000, subtype="PCM_16")
    return root


def _run(args, tmp_path, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(REPO), "SER_REF_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(tmp_path))


def test_reproduce_counts_every_entry_and_a_fifo_does_not_hang(tmp_path, model_path):
    root = _ravdess_tree(tmp_path / "ravdess")
    os.mkfifo(root / "Actor_01" / "03-01-05-02-01-01-01.wav")        # a FIFO named like an utterance
    _wav(root / "Actor_02" / "03-01-05-01-01-02-02.wav ", fmt="WAV")  # a trailing space
    (root / "README.md").write_text("a corpus")
    out = tmp_path / "out"
    r = _run(["ser_ref.reproduce", "--corpus", "ravdess", "--root", str(root), "--quick", "--jobs", "1",
              "--model", str(model_path), "--out", str(out), "--chunks", "20"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    problems = json.loads((out / "problems.json").read_text())
    assert (problems["entries_under_root"], problems["used"], problems["left_out"], problems["ignored"]) == (35, 32, 2, 1)
    assert problems["left_out_by_loader"]["not a regular file but a FIFO (named pipe)"] == [
        "Actor_01/03-01-05-02-01-01-01.wav"]
    first = (out / "table2.md").read_text().splitlines()[0]
    assert first == "32 of 35 entries under the corpus root used; 2 left out, 1 ignored, see problems.json."


def test_audit_and_predict_do_not_hang_on_a_fifo(tmp_path):
    root = tmp_path / "ravdess"
    _wav(root / "Actor_01" / ANGRY.format(actor="01"))
    _wav(root / "Actor_02" / ANGRY.format(actor="02"))
    fifo = root / "Actor_01" / "03-01-04-01-01-01-01.wav"
    os.mkfifo(fifo)
    r = _run(["ser_ref.audit", "--corpus", "ravdess", "--root", str(root), "--only", "nn_gradients"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    from ser_ref.forest.random_forest import RandomForest

    model = tmp_path / "rf.npz"
    X, y = np.random.default_rng(0).normal(size=(40, 88)), np.arange(40) % 4
    RandomForest(n_trees=5).fit(X, y).save(model, meta={"class_names": ["anger", "happiness", "sadness", "neutral"],
                                                        "features": {"kind": "egemaps"}})
    good = root / "Actor_01" / ANGRY.format(actor="01")
    r = _run(["ser_ref.predict", "--model-file", str(model), str(fifo), str(good)], tmp_path, timeout=120)
    assert r.returncode == 1 and r.stdout.count("\n") == 1, r.stderr       # the good file is labelled
    assert f"error: {fifo}: not a regular file but a FIFO (named pipe); not opened" in r.stderr


def test_model_files_that_are_fifos_are_refused_at_once(tmp_path):
    from ser_ref.deepspeech.layer1 import Layer1
    from ser_ref.deepspeech.tflite_file import read_tflite
    from ser_ref.errors import WeightsError
    from ser_ref.files import modelfile
    from ser_ref.files.hashing import file_sha256
    from ser_ref.files.regular import NotRegularFile

    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    with pytest.raises(WeightsError, match="not a regular file but a FIFO"):
        read_tflite(fifo)
    with pytest.raises(WeightsError, match="not a regular file but a FIFO"):
        Layer1.from_weights(fifo)
    with pytest.raises(modelfile.ModelFileError, match="not a regular file but a FIFO"):
        modelfile.read(fifo)
    with pytest.raises(NotRegularFile):
        file_sha256(fifo)


def test_reads_are_bounded(tmp_path, monkeypatch):
    from ser_ref.frontend import audio

    p = tmp_path / "big.wav"
    _wav(p)
    monkeypatch.setattr(audio, "MAX_FILE_BYTES", 1000)
    with pytest.raises(AudioError, match=r"big\.wav: 3\.2 KiB, larger than the 1000 bytes limit of one audio file"):
        audio.load_audio(p)
    monkeypatch.setattr(audio, "MAX_FILE_BYTES", 1 << 30)
    monkeypatch.setattr(audio, "MAX_SECONDS", 0.05)  # the header promises 0.1 s: refused before decoding
    with pytest.raises(AudioError, match="longer than the"):
        audio.load_audio(p)
