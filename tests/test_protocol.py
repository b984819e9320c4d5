"""``python -m ser_ref.protocol check`` and ``reproduce --folds``: fold files written here, clean (by
speaker) and leaky (by utterance), in EmoBox's layout and as CSV, on a generated corpus (always) and on
the shared RAVDESS and URDU copies (when present); the speakers each fold should share are worked out
here from the fold assignment, never read back from the command."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ser_ref import corpora
from ser_ref.commands import protocol, reproduce
from ser_ref.corpora import synthetic
from ser_ref.evaluation import fold_files
from ser_ref.evaluation.runner import Dataset
from ser_ref.evaluation.splits import loso
from test_fold_files import by_speaker, by_utterance, write_folds


def expected_overlap(items, folds) -> dict:
    """{fold K: sorted speakers with utterances both in fold K's test and in its train}."""
    speakers = [it.speaker for it in items]
    out = {}
    for k in sorted(set(folds)):
        test = {s for s, f in zip(speakers, folds) if f == k}
        train = {s for s, f in zip(speakers, folds) if f != k}
        out[k] = sorted(test & train)
    return out


def run_check(capsys, corpus, root, folds_path):
    code = protocol.main(["check", "--corpus", corpus, "--root", str(root), str(folds_path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_report(code, out, overlap: dict):
    """Exit 0 when no fold shares a speaker, else 1; per fold its line names exactly the shared speakers."""
    assert code == (1 if any(overlap.values()) else 0)
    for k, shared in overlap.items():
        assert f"fold_{k}: " in out
        line = next(l for l in out.splitlines() if l.startswith(f"fold_{k}: "))
        assert line.endswith("speakers in train and test: " + (", ".join(shared) or "none")), line
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith("NOT speaker-independent: " if any(overlap.values()) else "speaker-independent: ")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = synthetic.generate(tmp_path_factory.mktemp("syn") / "corpus", n_speakers=4, n_per_emotion=2, seed=3)
    return root, corpora.load("synthetic", root)


# --------------------------------------------------------------------------- the check command
@pytest.mark.parametrize("layout", ["emobox", "csv"])
@pytest.mark.parametrize("kind", ["clean", "leaky"])
def test_check_on_a_generated_corpus(tmp_path, capsys, generated, layout, kind):
    root, items = generated
    folds = by_speaker(items, 2) if kind == "clean" else by_utterance(items, 3, seed=1)
    path = write_folds(tmp_path / "folds", layout, items, folds, name="synthetic")
    code, out, err = run_check(capsys, "synthetic", root, path)
    overlap = expected_overlap(items, folds)
    assert any(overlap.values()) == (kind == "leaky")
    assert_report(code, out, overlap)
    assert "not in the corpus" not in out and "disagree" not in out and err == ""


def test_check_names_unmatched_files_and_disagreeing_labels(tmp_path, capsys, generated):
    root, items = generated
    first, second = items[0], next(it for it in items if it.label != items[0].label)
    path = tmp_path / "f.csv"
    path.write_text("path,split,label\n"
                    f"{first.path.name},train,{first.label}\n"
                    f"{second.path.name},test,{first.label}\n"      # the corpus says otherwise
                    "nowhere/missing.wav,test,anger\n")
    code, out, _ = run_check(capsys, "synthetic", root, path)
    assert code == (1 if first.speaker == second.speaker else 0)
    assert f"not in the corpus: 1 (e.g. {path}:4: nowhere/missing.wav)" in out
    assert f"fold says '{first.label}', corpus {second.label}" in out


def test_check_writes_json(tmp_path, capsys, generated):
    root, items = generated
    folds = by_utterance(items, 2)
    path = write_folds(tmp_path / "folds", "csv", items, folds)
    assert protocol.main(["check", "--corpus", "synthetic", "--root", str(root), str(path),
                          "--json", str(tmp_path / "c.json")]) == 1
    got = json.loads((tmp_path / "c.json").read_text())
    assert got["speaker_disjoint"] is False
    assert [f["overlap"] for f in got["folds"]] == list(expected_overlap(items, folds).values())


@pytest.mark.parametrize("corpus", ["ravdess", "urdu"])
@pytest.mark.parametrize("layout", ["emobox", "csv"])
def test_check_on_the_shared_corpora(tmp_path, capsys, corpus, layout):
    from ser_ref.files import locations

    root = locations.ravdess_root() if corpus == "ravdess" else locations.SHARED / "corpora" / "urdu-4class-16k"
    if root is None or not Path(root).is_dir():
        pytest.skip(f"no {corpus.upper()} corpus in ../shared/corpora")
    items = corpora.load(corpus, root)
    for kind, folds in (("clean", by_speaker(items, 5)), ("leaky", by_utterance(items, 5))):
        path = write_folds(tmp_path / kind, layout, items, folds, name=corpus)
        code, out, _ = run_check(capsys, corpus, root, path)
        assert_report(code, out, expected_overlap(items, folds))
        assert code == (kind == "leaky")


# ------------------------------------------------------------------------------ malformed files
def _emobox(tmp_path, test_text: str) -> tuple[Path, Path]:
    d = tmp_path / "folds" / "fold_1"
    d.mkdir(parents=True)
    (d / "x_train_fold_1.jsonl").write_text('{"wav": "a/1.wav", "emo": "Sad"}\n')
    (d / "x_test_fold_1.jsonl").write_text(test_text)
    return tmp_path / "folds", d / "x_test_fold_1.jsonl"


@pytest.mark.parametrize("case", ["bad json", "missing wav", "csv without fold"])
def test_a_malformed_fold_file_is_one_line_and_exit_2(tmp_path, capsys, generated, case):
    root, _ = generated
    if case == "bad json":
        folds, bad = _emobox(tmp_path, '{"wav": "b/1.wav", "emo": "Sad"}\n{"wav": "b/2.wav"\n')
        where = f"{bad}:2: "
    elif case == "missing wav":
        folds, bad = _emobox(tmp_path, '{"path": "b/1.wav", "emo": "Sad"}\n')
        where = f"{bad}:1: "
    else:
        folds = tmp_path / "f.csv"
        folds.write_text("path,speaker\na.wav,x\n")
        where = f"{folds}:1: "
    code, out, err = run_check(capsys, "synthetic", root, folds)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("protocol: error: " + where), err
    # reproduce refuses the same file before any work, with the same line
    with pytest.raises(SystemExit) as exc:
        reproduce.main(["--folds", str(folds), "--out", str(tmp_path / "never")])
    assert exc.value.code == 2
    assert where in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (tmp_path / "never").exists()


# ----------------------------------------------------------------------------- runs on fold files
def _dataset(items):
    y = np.array([corpora.LABELS.index(it.label) for it in items])
    return Dataset(y, np.array([it.speaker for it in items]), {}, "digest", items=list(items))


def test_one_fold_per_speaker_is_leave_one_speaker_out(tmp_path, generated):
    """Folds numbered as the sorted speakers give LOSO's splits exactly (indices, order and so seeds)."""
    _, items = generated
    data = _dataset(items)
    path = write_folds(tmp_path / "f", "csv", items, by_speaker(items, 4))
    got, pinned = fold_files.protocol_splits(path, data)
    want = loso(data.speakers)
    assert [s.index for s in got] == [s.index for s in want]
    for g, w in zip(got, want):
        assert np.array_equal(g.train_idx, w.train_idx) and np.array_equal(g.test_idx, w.test_idx)
    assert pinned.digest != data.digest   # checkpoints of LOSO (or of other folds) are not reused
    other = write_folds(tmp_path / "g", "csv", items, by_utterance(items, 4))
    assert fold_files.protocol_splits(other, data)[1].digest != pinned.digest


def test_a_file_tested_in_two_folds_is_refused(tmp_path, generated):
    _, items = generated
    path = tmp_path / "f.csv"
    rows = [f"{it.path.name},{1 + k % 2}" for k, it in enumerate(items)] + [f"{items[0].path.name},2"]
    path.write_text("path,fold\n" + "\n".join(rows) + "\n")
    with pytest.raises(fold_files.SerRefError, match=rf"^{path}: 1 files are tested in more than one fold"):
        fold_files.protocol_splits(path, _dataset(items))


def test_utterances_tested_by_a_single_split():
    items = [corpora.Item(Path(f"s{k % 3}/u{k}.wav"), f"s{k % 3}", "anger") for k in range(9)]
    spec = fold_files.FoldSpec("split", tuple(fold_files.Entry("f:1", f"u{k}.wav") for k in (0, 1, 3, 4)),
                               tuple(fold_files.Entry("f:2", f"u{k}.wav") for k in (8, 2, 5)))
    split_list = fold_files.splits([spec], items)
    assert fold_files.utterances_tested(split_list, len(items)).tolist() == [2, 5, 8]


@pytest.fixture(scope="module")
def quick_items(cache):
    from ser_ref.corpora.opening import open_corpus

    return open_corpus("synthetic", None, seed=0, quick=True)[0]


def test_reproduce_on_leaky_folds_is_stamped(tmp_path, quick_items, model_path):
    folds = by_utterance(quick_items, 2, seed=4)
    path = write_folds(tmp_path / "folds", "emobox", quick_items, folds, name="synthetic")
    out = tmp_path / "out"
    assert reproduce.main(["--quick", "--jobs", "1", "--model", str(model_path), "--folds", str(path),
                           "--out", str(out)]) == 0
    overlap = expected_overlap(quick_items, folds)
    stamp = "NOT speaker-independent: " + "; ".join(f"speakers {', '.join(v)} in train and test of fold_{k}"
                                                    for k, v in overlap.items() if v)
    assert (out / "table2.md").read_text().splitlines()[0].startswith(stamp)
    card = json.loads((out / "protocol.json").read_text())
    assert card["speaker_disjoint"] is False and card["stamp"] == stamp
    assert [f["overlap"] for f in card["folds"]] == list(overlap.values())
    assert card["protocol"] == "the folds of folds"
    assert card["normalisation"]["statistics_see"].startswith("training utterances only, which include")
    table = json.loads((out / "table2.json").read_text())
    assert table["n_utterances"] == len(quick_items)    # every utterance tested once
    manifest = json.loads((out / "manifest.json").read_text())
    assert str(tmp_path) not in json.dumps(manifest) and manifest["args"]["folds"] == "<elsewhere>/folds"


def test_reproduce_on_a_clean_train_test_split(tmp_path, quick_items, model_path):
    speakers = sorted({it.speaker for it in quick_items})
    test = set(speakers[-2:])
    path = tmp_path / "split.csv"
    path.write_text("path,split\n" + "".join(f"{it.path.parent.name}/{it.path.name},"
                                             f"{'test' if it.speaker in test else 'train'}\n" for it in quick_items))
    out = tmp_path / "out"
    assert reproduce.main(["--quick", "--jobs", "1", "--model", str(model_path), "--folds", str(path),
                           "--out", str(out)]) == 0
    card = json.loads((out / "protocol.json").read_text())
    assert card["speaker_disjoint"] is True and card["stamp"] is None
    assert card["folds"] == [{"name": "split", "n_train": sum(it.speaker not in test for it in quick_items),
                              "n_test": sum(it.speaker in test for it in quick_items),
                              "train_speakers": speakers[:-2], "test_speakers": speakers[-2:], "overlap": []}]
    assert not (out / "table2.md").read_text().startswith("NOT")
    table = json.loads((out / "table2.json").read_text())
    assert table["n_utterances"] == card["folds"][0]["n_test"]   # reported on the tested part only
    for r in table["rows"].values():
        assert sum(map(sum, r["confusion"])) == table["n_utterances"]


def test_a_fifo_named_as_the_fold_file_is_refused_without_blocking(tmp_path, capsys):
    import os

    from ser_ref.commands import protocol

    fifo = tmp_path / "folds.csv"
    os.mkfifo(fifo)
    assert protocol.main(["check", "--corpus", "synthetic", str(fifo)]) == 2  # returns: never opened
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "folds.csv: a FIFO (named pipe), not a fold folder or CSV file" in err[0], err
