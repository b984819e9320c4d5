"""The protocol card (``evaluation.protocol_card``) and the manifests' provenance (``evaluation.report``:
git state, portable paths, data recipe): every field is checked against what the test itself made
(splits, groups, files of known rates, a git repository of its own), never against a copy of the output."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from ser_ref.corpora import LABELS, Item, LoadReport, synthetic
from ser_ref.evaluation import protocol_card as pc
from ser_ref.evaluation import report
from ser_ref.evaluation.runner import Dataset
from ser_ref.evaluation.splits import Split, cross_corpus, loso
from ser_ref.files.locations import REPO_ROOT


def test_loso_folds_are_disjoint_and_each_tests_one_speaker():
    speakers = np.array(["c", "a", "b", "a", "c", "b", "a"])
    folds = pc.fold_records(loso(speakers), speakers)
    assert [f["test_speakers"] for f in folds] == [["a"], ["b"], ["c"]]
    for f in folds:
        assert f["overlap"] == [] and f["train_speakers"] == sorted({"a", "b", "c"} - set(f["test_speakers"]))
        assert f["n_test"] == int(np.sum(speakers == f["name"])) and f["n_train"] + f["n_test"] == len(speakers)
    assert pc.leak_line(folds) is None and pc.protocol_name(folds) == "leave-one-speaker-out"


def test_a_leaky_split_names_its_shared_speakers():
    speakers = np.array(["a", "a", "b", "b", "c"])
    split = Split("fold_2", 0, np.array([0, 2, 4]), np.array([1, 3]))  # a and b on both sides
    folds = pc.fold_records([split], speakers)
    assert folds[0]["overlap"] == ["a", "b"] and folds[0]["test_speakers"] == ["a", "b"]
    assert pc.leak_line(folds) == "NOT speaker-independent: speakers a, b in train and test of fold_2"


@pytest.mark.parametrize("groups, see, seen", [
    (None, "training speakers only", False),
    ("speaker", "each test speaker's own unlabelled audio", True),
    ("corpus", "the whole corpus", True),
])
def test_what_the_normalisation_statistics_see(groups, see, seen):
    speakers = np.array(["A:s1", "A:s1", "A:s2", "B:s3", "B:s4"])
    corpus = np.array([s.split(":")[0] for s in speakers])
    norm = {"speaker": speakers, "corpus": corpus, None: None}[groups]
    folds = pc.fold_records(loso(speakers, np.flatnonzero(corpus == "A")) + [cross_corpus(corpus, "A", "B")], speakers)
    got = pc.normalisation(norm, speakers, folds)
    assert got["statistics_see"] == see and got["test_audio_seen"] is seen
    assert pc.protocol_name(folds) == "2 leave-one-speaker-out splits and 1 other splits"


def test_normalisation_under_leaky_folds_says_so():
    speakers = np.array(["a", "a", "b", "b"])
    folds = pc.fold_records([Split("k", 0, np.array([0, 2]), np.array([1, 3]))], speakers)
    assert "include utterances of test speakers" in pc.normalisation(None, speakers, folds)["statistics_see"]


def _layer(sha, language="", alphabet=("a",), source="w.npz"):
    return SimpleNamespace(source=source, metadata={"source_sha256": sha, "file_sha256": "f" * 64, "language": language,
                                                    "alphabet": list(alphabet), "win_len_ms": 32})


def test_model_language_from_metadata_then_known_hashes_then_unknown():
    from ser_ref.deepspeech.fetch import MODEL_SHA256

    tag = pc.model_record(_layer("0" * 64, "en-Latn-US", "abc'"))
    assert (tag["language"], tag["language_from"], tag["origin"].startswith("unknown")) == ("en-Latn-US",
                                                                                           "model metadata", True)
    template = "<language the model was trained on - IETF BCP 47 language tag ...>"
    known = pc.model_record(_layer(MODEL_SHA256, template, ("ա", "բ")))
    assert (known["language"], known["language_from"], known["alphabet_script"]) == ("hy", "known hash", "ARMENIAN")
    assert "armspeech 0.1.4" in known["origin"] and "DeepSpeech 0.9.3" in known["origin"]
    unknown = pc.model_record(_layer("1" * 64, template))
    assert (unknown["language"], unknown["alphabet_script"]) == ("unknown", "LATIN")


def test_the_shared_model_is_recognised_by_its_hash(model_path):
    """The real model's metadata_language holds the exporter's template, not a tag: the hash decides."""
    from ser_ref.deepspeech import load_layer1

    layer = load_layer1(model_path, verbose=False)
    m = pc.model_record(layer)
    assert m["sha256"] == hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    if m["sha256"] != pc.MODEL_SHA256:
        pytest.skip("SER_REF_MODEL is another model")
    assert m["metadata_language"].startswith("<") and m["language"] == "hy" and m["alphabet_script"] == "ARMENIAN"


def test_sample_rates_channels_and_the_resampling_applied(tmp_path):
    rates = {"a.wav": (44100, 2), "b.wav": (16000, 1), "c.wav": (16000, 1), "d.wav": (22050, 1)}
    for name, (sr, ch) in rates.items():
        sf.write(tmp_path / name, np.zeros((sr // 10, ch)), sr)
    formats = pc.audio_formats(tmp_path / n for n in rates)
    assert formats == {"sample_rates": {"16000": 2, "22050": 1, "44100": 1}, "channels": {"1": 3, "2": 1},
                       "unreadable": 0}
    lines = pc.resampling(formats)
    assert lines[0] == "16000 Hz: none" and lines[-1] == "2 channels: averaged to mono"
    for sr, line in ((22050, lines[1]), (44100, lines[2])):
        ratio = Fraction(16000, sr)   # resample_poly's up/down: the reduced ratio
        assert line.endswith(f"up {ratio.numerator}, down {ratio.denominator})"), line


def test_corpus_record_counts_classes_and_files_left_out(tmp_path):
    items = [Item(tmp_path / f"s/{k}.wav", "s", LABELS[k % 4]) for k in range(8)]
    for it in items:
        it.path.parent.mkdir(exist_ok=True)
        sf.write(it.path, np.zeros(1600), 16000)
    report_ = LoadReport("ravdess", tmp_path)
    for name in ("x1.wav", "x2.wav", "x3.wav"):
        report_.skip("emotion calm", name)
    report_.skip("song", "y.wav")
    used = items[:5]   # the features of items 5, 6, 7 failed
    r = pc.corpus_record("ravdess", items, report_, used)
    assert r["n_files"] == 8 and r["n_used"] == 5
    assert r["classes"]["left_out_by_loader"] == {"emotion calm": 3, "song": 1}
    assert r["classes"]["left_out_by_features"] == {LABELS[k % 4]: 1 for k in (5, 6, 7)}
    assert r["classes"]["used_by_label"] == {c: sum(it.label == c for it in used) for c in LABELS}
    assert r["classes"]["corpus_labels"] == {"01": "neutral", "03": "happiness", "04": "sadness", "05": "anger"}
    assert r["file_list_sha256"] == pc.file_list_sha256(used) != pc.file_list_sha256(items)


def test_seeds_read_the_run():
    assert pc.seeds(SimpleNamespace(seed=7)) == [7]
    assert pc.seeds(SimpleNamespace(seed=0, seeds=(3, 1))) == [3, 1]


def test_the_card_and_its_stamp(tmp_path):
    root = synthetic.generate(tmp_path / "syn", n_speakers=3, n_per_emotion=1)
    from ser_ref import corpora

    items, load_report = corpora.load_with_report("synthetic", root)
    speakers = np.array([it.speaker for it in items])
    y = np.array([LABELS.index(it.label) for it in items])
    data = Dataset(y, speakers, {}, "d", items=items)
    leaky = Split("fold_1", 0, np.arange(0, len(y), 2), np.arange(1, len(y), 2))
    run = SimpleNamespace(seed=2, step_ms=10, folds=tmp_path / "f.csv")
    card = pc.card(run, [leaky], data, _layer("1" * 64), {"synthetic": (items, load_report)})
    assert card["speaker_disjoint"] is False and card["seeds"] == [2]
    assert card["mfcc"] == {"step_ms": 10, "window_ms": 32}
    assert card["folds"][0]["overlap"] == sorted(set(speakers[leaky.train_idx]) & set(speakers[leaky.test_idx]))
    assert pc.write(tmp_path, card) == [card["stamp"]]   # the stamp goes to the caller's table (report.write_all)
    assert json.loads((tmp_path / "protocol.json").read_text())["speaker_disjoint"] is False
    assert json.loads((tmp_path / "protocol.json").read_text()) == json.loads(json.dumps(card))
    assert "**NOT speaker-independent" in (tmp_path / "protocol.md").read_text()


# ------------------------------------------------------------------------------------ manifests
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="no git binary")


def _git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


@needs_git
def test_git_state_of_a_checkout_clean_and_dirty(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "ser_ref").mkdir()
    (repo / "docs").mkdir()
    (repo / "ser_ref" / "a.py").write_text("x = 1\n")
    (repo / "docs" / "table.json").write_text("{}\n")
    _git(repo, "add", "ser_ref/a.py", "docs/table.json")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = _git(repo, "rev-parse", "HEAD")
    assert report.git_state(repo) == {"git_commit": head, "git_dirty": False, "git_reason": None}
    (repo / "untracked.txt").write_text("results are not the code\n")
    assert report.git_state(repo)["git_dirty"] is False
    (repo / "docs" / "table.json").write_text('{"a run": "wrote its results into the checkout"}\n')
    assert report.git_state(repo)["git_dirty"] is False
    (repo / "ser_ref" / "a.py").write_text("x = 2\n")
    assert report.git_state(repo) == {"git_commit": head, "git_dirty": True, "git_reason": None}
    # a package folder inside some repository (a wheel installed in a venv there) is not a checkout
    (repo / "site-packages").mkdir()
    inner = report.git_state(repo / "site-packages")
    assert inner["git_commit"] is None and inner["git_dirty"] is None and "not run from a git checkout" in inner["git_reason"]


def test_git_state_without_git_or_outside_a_checkout(tmp_path):
    assert report.git_state(tmp_path, git="no-such-git")["git_reason"] == "no git binary on PATH (no-such-git)"
    state = report.git_state(tmp_path)
    assert state["git_commit"] is None and state["git_reason"]


def test_portable_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_REF_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert report.portable_path(REPO_ROOT / "docs" / "results") == "docs/results"
    assert report.portable_path(REPO_ROOT.parent / "shared" / "m.tflite") == "../shared/m.tflite"
    assert report.portable_path(out, out) == "<out>" and report.portable_path(out / "folds" / "a", out) == "<out>/folds/a"
    assert report.portable_path(tmp_path / "cache" / "corpora" / "x") == "<cache>/corpora/x"
    assert report.portable_path("/srv/data/IEMOCAP") == "<elsewhere>/IEMOCAP"


def test_data_recipe_of_a_generated_corpus(tmp_path):
    from ser_ref import corpora

    root = synthetic.generate(tmp_path / "syn", n_speakers=2, n_per_emotion=1, seed=5)
    (root / "README.md").write_text("how this corpus was made\n")
    recipe = report.data_recipe("synthetic", corpora.load("synthetic", root))
    assert recipe["generated"]["seed"] == 5 and recipe["generated"]["n_speakers"] == 2
    assert recipe["documented_by"] == {"README.md": hashlib.sha256(b"how this corpus was made\n").hexdigest()}
    assert recipe["root"] == "<elsewhere>/syn"


@needs_git
def test_a_manifest_names_no_absolute_path_and_records_the_commit(tmp_path):
    from ser_ref.evaluation.run_settings import RunSettings
    from ser_ref.evaluation.systems import Settings

    out, model = tmp_path / "out", tmp_path / "w.npz"
    argv = ("--out", str(out), "--model", str(model), "--scheduler", "tcp://10.0.0.5:8786")
    run = RunSettings("reproduce", argv=argv, arguments=(("out", str(out)), ("model", str(model))), out=out,
                      model=model)
    m = report.run_manifest(run, Settings(), SimpleNamespace(source=str(model), metadata={}), {})
    assert str(tmp_path) not in json.dumps(m)
    assert m["command"] == "python -m ser_ref.reproduce --out '<out>' --model '<elsewhere>/w.npz' --scheduler " \
                           "tcp://10.0.0.5:8786"
    assert m["args"] == {"out": "<out>", "model": "<elsewhere>/w.npz"}
    if (REPO_ROOT / ".git").exists():
        assert m["git_commit"] == _git(REPO_ROOT, "rev-parse", "HEAD") and isinstance(m["git_dirty"], bool)
