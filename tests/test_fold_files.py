"""Other toolkits' fold files (EmoBox jsonl folders, CSV): read, matched to a corpus by file name,
checked for speakers in train and test, turned into splits the runner uses; malformed files are one
error line naming the file and line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ser_ref import corpora
from ser_ref.commands.common import cli_main
from ser_ref.corpora import LABELS, Item
from ser_ref.errors import SerRefError
from ser_ref.evaluation import fold_files, systems
from ser_ref.evaluation.executors import SerialExecutor
from ser_ref.evaluation.runner import Dataset, Entry, run

EMOBOX_LABEL = {"anger": "Angry", "happiness": "Happy", "sadness": "Sad", "neutral": "Neutral"}


def generated_items(n_speakers=6, per_speaker=8):
    return [Item(Path(f"corpus/spk{s}/spk{s}_utt{k:02d}.wav"), f"spk{s}", LABELS[k % 4])
            for s in range(n_speakers) for k in range(per_speaker)]


def by_speaker(items, n_folds):
    """Clean folds: fold K tests on every utterance of speakers K, K + n_folds, ... (sorted)."""
    names = sorted({it.speaker for it in items})
    return [names.index(it.speaker) % n_folds + 1 for it in items]


def by_utterance(items, n_folds, seed=0):
    """Leaky folds: utterances dealt to folds at random, whatever their speaker."""
    return list(np.random.default_rng(seed).permutation(len(items)) % n_folds + 1)


def write_emobox(root: Path, items, folds, name="corpus", prefix="downloads/corpus") -> Path:
    for k in sorted(set(folds)):
        d = root / f"fold_{k}"
        d.mkdir(parents=True)
        for part, keep in (("train", lambda f: f != k), ("test", lambda f: f == k)):
            lines = [json.dumps({"key": f"{name}-{Path(it.path).stem}", "wav": f"{prefix}/{it.path.parent.name}/"
                                 f"{it.path.name}", "emo": EMOBOX_LABEL[it.label], "sample_rate": 16000})
                     for it, f in zip(items, folds) if keep(f)]
            (d / f"{name}_{part}_fold_{k}.jsonl").write_text("\n".join(lines) + "\n")
        (d / f"{name}_test_fold_{k}.json").write_text("{}")  # EmoBox also ships .json copies: ignored
    return root


def write_csv(path: Path, items, folds) -> Path:
    rows = ["path,fold,label"] + [f"{it.path.parent.name}/{it.path.name},{f},{it.label}" for it, f in zip(items, folds)]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_folds(folder: Path, layout: str, items, folds, name="corpus") -> Path:
    """The folds in EmoBox's layout (a folder) or as one path,fold,label CSV."""
    if layout == "emobox":
        return write_emobox(folder, items, folds, name=name, prefix=f"downloads/{name}")
    return write_csv(folder.with_suffix(".csv"), items, folds)


def assert_partition(split_list, n):
    """Every utterance tested exactly once, trained on in every other fold."""
    tested = np.concatenate([s.test_idx for s in split_list])
    assert np.array_equal(np.sort(tested), np.arange(n))
    for s in split_list:
        assert np.array_equal(np.sort(np.concatenate([s.train_idx, s.test_idx])), np.arange(n))


# ------------------------------------------------------------------------ generated item lists
@pytest.mark.parametrize("layout", ["emobox", "csv"])
def test_clean_folds_are_speaker_disjoint(tmp_path, layout):
    items = generated_items()
    folds = by_speaker(items, 3)
    specs = fold_files.read(write_folds(tmp_path / "f", layout, items, folds))
    assert [s.name for s in specs] == ["fold_1", "fold_2", "fold_3"]
    report = fold_files.check(specs, items)
    assert report.speaker_disjoint
    for f, k in zip(report.folds, (1, 2, 3)):
        assert f.overlap == [] and f.unmatched == [] and f.label_disagreements == [] and f.files_in_both == []
        assert f.test_speakers == [f"spk{k - 1}", f"spk{k + 2}"]
        assert f.n_test == 16 and f.n_train == 32
    assert report.lines()[-1].startswith("speaker-independent")
    split_list = fold_files.splits(specs, items)
    assert_partition(split_list, len(items))
    speakers = np.array([it.speaker for it in items])
    for s in split_list:
        assert not set(speakers[s.train_idx]) & set(speakers[s.test_idx])


@pytest.mark.parametrize("layout", ["emobox", "csv"])
def test_leaky_folds_name_the_shared_speakers(tmp_path, layout):
    items = generated_items()
    folds = by_utterance(items, 4)
    specs = fold_files.read(write_folds(tmp_path / "f", layout, items, folds))
    report = fold_files.check(specs, items)
    assert not report.speaker_disjoint
    speakers = np.array([it.speaker for it in items])
    for f, k in zip(report.folds, (1, 2, 3, 4)):
        in_test = {s for s, g in zip(speakers, folds) if g == k}
        in_train = {s for s, g in zip(speakers, folds) if g != k}
        assert f.overlap == sorted(in_test & in_train) != []
    assert report.lines()[-1].startswith("NOT speaker-independent: speakers ")
    assert report.as_dict()["speaker_disjoint"] is False
    assert_partition(fold_files.splits(specs, items), len(items))


def test_unmatched_other_emotions_label_disagreements_and_files_in_both(tmp_path):
    items = generated_items(2, 4)
    path = tmp_path / "f.csv"
    path.write_text("path,split,emo\n"
                    "spk0/spk0_utt00.wav,train,Angry\n"       # right
                    "spk0/spk0_utt01.wav,train,Sad\n"         # corpus: happiness
                    "spk1/spk1_utt00.wav,test,ang\n"
                    "spk0/spk0_utt00.wav,test,anger\n"        # also in train
                    "spk9/missing.wav,test,neutral\n"         # not in the corpus
                    "spk1/spk1_utt09.wav,test,Fearful\n")     # another emotion, left out
    f = fold_files.check(fold_files.read(path), items).folds[0]
    assert f.name == "split" and f.overlap == ["spk0"]
    assert f.files_in_both == [f"{path}:5: spk0/spk0_utt00.wav"]
    assert f.unmatched == [f"{path}:6: spk9/missing.wav"]
    assert f.other_classes == [{"file": f"{path}:7: spk1/spk1_utt09.wav", "label": "Fearful"}]
    assert f.label_disagreements == [{"file": f"{path}:3: spk0/spk0_utt01.wav", "fold_label": "Sad",
                                      "corpus_label": "happiness"}]
    text = "\n".join(fold_files.ProtocolCheck([f]).lines())
    assert "not in the corpus: 1" in text and "left out as other emotions: 1 files (labels Fearful)" in text
    assert "fold says 'Sad', corpus happiness" in text


def test_matching_by_longer_path_and_by_stem():
    items = [Item(Path("a/x/u.wav"), "s1", "anger"), Item(Path("b/x/u.wav"), "s2", "anger"),
             Item(Path("c/v.flac"), "s3", "sadness")]
    index = fold_files._Index(items)
    assert index.find(fold_files.Entry("f:1", "data/b/x/u.wav")) == 1
    assert index.find(fold_files.Entry("f:2", "C:\\corpus\\a\\x\\u.wav")) == 0
    assert index.find(fold_files.Entry("f:3", "v.wav")) == 2           # converted copy
    assert index.find(fold_files.Entry("f:4", "w.wav")) is None
    with pytest.raises(SerRefError, match=r"^f:5: x/u.wav matches 2 corpus files"):
        index.find(fold_files.Entry("f:5", "x/u.wav"))


def test_splits_run_through_the_runner(tmp_path):
    """A fold file's splits train and test like any others: the runner equals fresh fits per fold."""
    items = generated_items(4, 12)
    rng = np.random.default_rng(1)
    y = np.array([LABELS.index(it.label) for it in items])
    data = Dataset(y, np.array([it.speaker for it in items]), {"egemaps": rng.normal(size=(len(y), 5)) + y[:, None]},
                   "fold-files")
    split_list = fold_files.splits(fold_files.read(write_csv(tmp_path / "f.csv", items, by_speaker(items, 2))), items)
    settings = systems.Settings(rf_trees=10)
    got = run([Entry("rf-egemaps", "rf-egemaps", settings)], split_list, data, SerialExecutor(), say=lambda m: None)
    for s in split_list:
        want = systems.fit_predict("rf-egemaps", data.features["egemaps"][s.train_idx], y[s.train_idx],
                                   data.features["egemaps"][s.test_idx], s.index, settings,
                                   groups=data.speakers[s.train_idx])
        assert np.array_equal(got["rf-egemaps"][s.test_idx], want)


def test_a_fold_with_nothing_matched_is_an_error(tmp_path):
    items = generated_items(2, 4)
    path = tmp_path / "f.csv"
    path.write_text("path,split\nspk0/spk0_utt00.wav,train\nelse/where.wav,test\n")
    with pytest.raises(SerRefError, match="split: none of its 1 test files"):
        fold_files.splits(fold_files.read(path), items)


# -------------------------------------------------------------------------------- malformed
def _one_line(exc_info, where: str):
    msg = str(exc_info.value)
    assert "\n" not in msg and msg.startswith(where), msg
    return msg


def _emobox_with(tmp_path, test_lines):
    d = tmp_path / "folds" / "fold_1"
    d.mkdir(parents=True)
    (d / "x_train_fold_1.jsonl").write_text('{"wav": "a/1.wav", "emo": "Sad"}\n')
    (d / "x_test_fold_1.jsonl").write_text("\n".join(test_lines) + "\n")
    return tmp_path / "folds", d / "x_test_fold_1.jsonl"


@pytest.mark.parametrize("lines, line_no, what", [
    (['{"wav": "b/1.wav", "emo": "Sad"}', '{"wav": "b/2.wav", "emo": "Sad"'], 2, "not valid JSON"),
    (['{"wav": "b/1.wav"}', "", '{"path": "b/2.wav", "emo": "Sad"}'], 3, "no 'wav' path"),
    (['["b/1.wav", "Sad"]'], 1, "expected a JSON object"),
])
def test_malformed_jsonl_is_one_line_naming_file_and_line(tmp_path, lines, line_no, what):
    folder, bad = _emobox_with(tmp_path, lines)
    with pytest.raises(SerRefError) as exc:
        fold_files.read(folder)
    assert what in _one_line(exc, f"{bad}:{line_no}: ")


@pytest.mark.parametrize("text, where, what", [
    ("path,speaker\na.wav,x\n", ":1: ", "needs the columns path and fold"),
    ("wav,fold\na.wav,1\n", ":1: ", "needs the columns path and fold"),
    ("path,split\na.wav,train\nb.wav,valid\n", ":3: ", "split must be train or test, got 'valid'"),
    ("path,fold\na.wav,1\n,2\n", ":3: ", "empty path"),
    ("path,fold\na.wav,1\nb.wav\n", ":3: ", "1 fields, the header has 2"),
    ("path,fold\n", "", "no rows under the header"),
])
def test_malformed_csv_is_one_line_naming_file_and_line(tmp_path, text, where, what):
    path = tmp_path / "folds.csv"
    path.write_text(text)
    with pytest.raises(SerRefError) as exc:
        fold_files.read(path)
    assert what in _one_line(exc, f"{path}{where}")


def test_emobox_folder_problems_are_named(tmp_path):
    with pytest.raises(SerRefError, match="no fold_K/ folders"):
        fold_files.read(tmp_path)
    (tmp_path / "fold_1").mkdir()
    (tmp_path / "fold_1" / "x_train_fold_1.jsonl").write_text("")
    with pytest.raises(SerRefError, match=r"fold_1: expected one file \*_test_fold_1.jsonl, found 0"):
        fold_files.read(tmp_path)


def test_a_command_prints_the_error_as_one_line(tmp_path, capsys):
    folder, bad = _emobox_with(tmp_path, ["{not json"])
    assert cli_main(lambda argv: fold_files.read(folder), [], prog="ser_ref.protocol") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:1: not valid JSON" in err


# ---------------------------------------------------------------------------- shared corpora
def _shared(name):
    from ser_ref.files import locations

    root = locations.ravdess_root() if name == "ravdess" else locations.SHARED / "corpora" / "urdu-4class-16k"
    if root is None or not Path(root).is_dir():
        pytest.skip(f"no {name.upper()} corpus in ../shared/corpora")
    return corpora.load(name, root)


@pytest.mark.parametrize("corpus", ["ravdess", "urdu"])
@pytest.mark.parametrize("layout", ["emobox", "csv"])
def test_shared_corpus_clean_and_leaky_folds(tmp_path, corpus, layout):
    items = _shared(corpus)
    n_speakers = len({it.speaker for it in items})
    for kind, folds in (("clean", by_speaker(items, 4)), ("leaky", by_utterance(items, 4))):
        specs = fold_files.read(write_folds(tmp_path / kind, layout, items, folds, name=corpus))
        report = fold_files.check(specs, items)
        assert all(f.unmatched == [] and f.label_disagreements == [] for f in report.folds)
        assert sum(f.n_test for f in report.folds) == len(items)
        assert report.speaker_disjoint == (kind == "clean")
        if kind == "clean":
            assert sum(len(f.test_speakers) for f in report.folds) == n_speakers
        else:
            assert all(len(f.overlap) > n_speakers // 2 for f in report.folds)
        assert_partition(fold_files.splits(specs, items), len(items))


def test_shared_ravdess_emobox_style_folds_with_every_emotion(tmp_path):
    """EmoBox lists all eight RAVDESS emotions; the 4-class copy holds four: the rest are reported as
    other emotions, not as unmatched, and EmoBox's spelling of the four labels agrees with the corpus."""
    items = _shared("ravdess")
    d = tmp_path / "ravdess" / "fold_1"
    d.mkdir(parents=True)
    test_actors = {f"Actor_0{k}" for k in (1, 2, 3, 4)}  # by folder: the speaker names are the loader's
    train = [it for it in items if it.path.parent.name not in test_actors]
    test = [it for it in items if it.path.parent.name in test_actors]
    extra = [{"wav": f"downloads/ravdess/Actor_01/03-01-02-01-01-0{k}-01.wav", "emo": "Calm"} for k in (1, 2)]
    rows = lambda its: [{"wav": f"downloads/ravdess/{it.path.parent.name}/{it.path.name}",  # noqa: E731
                         "emo": EMOBOX_LABEL[it.label]} for it in its]
    (d / "ravdess_train_fold_1.jsonl").write_text("\n".join(json.dumps(r) for r in rows(train)) + "\n")
    (d / "ravdess_test_fold_1.jsonl").write_text("\n".join(json.dumps(r) for r in rows(test) + extra) + "\n")
    f = fold_files.check(fold_files.read(tmp_path / "ravdess"), items).folds[0]
    assert f.overlap == [] and f.unmatched == [] and f.label_disagreements == []
    assert [e["label"] for e in f.other_classes] == ["Calm", "Calm"]
    assert f.n_test == len(test) and f.n_train == len(train) and len(f.test_speakers) == 4
