"""The experiment runner: every system on every split equals a plain loop of fresh fits; checkpoints
resume to identical numbers and a corrupt one is discarded with a warning; split generators and
per-group normalisation do what their definitions say."""
from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from ser_ref.evaluation import runner, splits, systems
from ser_ref.errors import SerRefError
from ser_ref.evaluation.executors import SerialExecutor
from ser_ref.evaluation.runner import Dataset, Entry

D = 16
TINY = systems.Settings(rf_trees=20, chunk_len=6,
                        nn_config={"epochs": 2, "patience": 0, "max_frames": 8, "max_len": 30})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """18 utterances of 3 speakers: per-utterance frames saved as .npy (layer 1) and functionals."""
    rng = np.random.default_rng(3)
    folder = tmp_path_factory.mktemp("feats")
    y = np.tile(np.arange(4), 6)[:18]
    speakers = np.repeat(["s1", "s2", "s3"], 6)
    paths = []
    for i in range(18):
        frames = rng.normal(size=(int(rng.integers(10, 30)), D)) + y[i]
        np.save(folder / f"{i}.npy", frames.astype(np.float32))
        paths.append(str(folder / f"{i}.npy"))
    egemaps = rng.normal(size=(18, 8)) + y[:, None]
    return Dataset(y, speakers, {"egemaps": egemaps, "layer1": paths}, "tiny")


ENTRIES = [Entry(s, s, TINY) for s in systems.SYSTEMS] + [Entry("dense1+lstm2@3", "dense1+lstm2", TINY.with_chunk(3))]


def plain_loop(data, entries, folds):
    """The textbook loop: a fresh model per (entry, fold), each training its own Dense1."""
    out = {}
    for e in entries:
        proba = np.full((len(data.y), 4), np.nan)
        for f in folds:
            X = data.features.get(systems.get(e.system).reads)
            if X is None:
                X = np.zeros((len(data.y), 1))
            if isinstance(X, list):
                X = [np.load(p) for p in X]
            take = (lambda idx: [X[i] for i in idx]) if isinstance(X, list) else (lambda idx: X[idx])
            proba[f.test_idx] = systems.fit_predict(e.system, take(f.train_idx), data.y[f.train_idx],
                                                    take(f.test_idx), splits.fold_seed(0, f.index), e.settings,
                                                    groups=data.speakers[f.train_idx])
        out[e.key] = proba
    return out


def test_runner_equals_a_plain_loop_of_fresh_fits(dataset, tmp_path):
    folds = splits.loso(dataset.speakers)
    got = runner.run(ENTRIES, folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)
    want = plain_loop(dataset, ENTRIES, folds)
    for e in ENTRIES:
        np.testing.assert_array_equal(got[e.key], want[e.key], err_msg=e.key)


@pytest.mark.parametrize("mapped", [True, False])
def test_layer1_features_are_the_files_mapped_or_read_into_one_block(dataset, mapped, monkeypatch):
    """A task maps its split's files read-only (plain ndarrays: np.memmap indexes slowly), or, where
    the open-file limit is too low for one mapping each, reads them into one block; either way the
    values are the files' and the cached files cannot change through them."""
    from ser_ref.evaluation import feature_cache

    monkeypatch.setattr(feature_cache, "room_for_open_files", lambda n: mapped)
    paths = dataset.features["layer1"]
    train, test = runner._load("layer1", paths, np.arange(12), np.arange(12, 18), None)
    feats = train + test
    for a, p in zip(feats, paths):
        assert type(a) is np.ndarray
        np.testing.assert_array_equal(a, np.load(p))
    if mapped:
        assert not any(a.flags.writeable for a in feats)
    else:
        assert len({id(a.base) for a in feats}) == 1
        feats[0][:] = 0
        assert np.load(paths[0]).any()


def test_resume_and_a_corrupt_checkpoint(dataset, tmp_path, capsys):
    folds = splits.loso(dataset.speakers)
    timings = {}
    first = runner.run(ENTRIES, folds, dataset, SerialExecutor(), out=tmp_path, timings=timings, say=lambda m: None)
    assert set(timings) == {f"fold-seconds:{e.key}" for e in ENTRIES}
    files = sorted((tmp_path / "folds").rglob("*.json"))
    assert len(files) == len(ENTRIES) * len(folds)
    files[0].unlink()                                   # as if killed before this one finished
    files[1].write_text('{"tag": "')                    # a torn write
    saved = json.loads(files[2].read_text())
    saved["proba"][0][0] = float("nan")                 # a checkpoint holding a NaN
    files[2].write_text(json.dumps(saved))
    again = runner.run(ENTRIES, folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)
    err = capsys.readouterr().err
    for f in files[1:3]:
        assert f"fold checkpoint {f} is corrupt" in err and "recomputing" in err
    assert str(files[0]) not in err  # a missing checkpoint is no fault
    for e in ENTRIES:
        np.testing.assert_array_equal(again[e.key], first[e.key])


def test_checkpoints_of_other_settings_are_not_reused(dataset, tmp_path):
    folds = splits.loso(dataset.speakers)
    e = [Entry("rf-egemaps", "rf-egemaps", TINY)]
    a = runner.run(e, folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)["rf-egemaps"]
    other = [Entry("rf-egemaps", "rf-egemaps", systems.Settings(rf_trees=3))]
    b = runner.run(other, folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)["rf-egemaps"]
    c = runner.run(other, folds, dataset, SerialExecutor(), say=lambda m: None)["rf-egemaps"]
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(b, c)


def test_overlapping_test_sets_need_per_split(dataset):
    corpora = np.array(["a"] * 6 + ["b"] * 12)
    cross = [splits.cross_corpus(corpora, "a", "b"), *splits.loso(dataset.speakers, np.flatnonzero(corpora == "b"))]
    e = [Entry("majority", "majority", TINY)]
    with pytest.raises(ValueError, match="per_split=True"):
        runner.run(e, cross, dataset, SerialExecutor(), say=lambda m: None)
    got = runner.run(e, cross, dataset, SerialExecutor(), say=lambda m: None, per_split=True)["majority"]
    assert set(got) == {"a->b", "s2", "s3"}
    majority_of_a = np.bincount(dataset.y[:6], minlength=4).argmax()
    assert np.all(got["a->b"].argmax(1) == majority_of_a) and got["a->b"].shape == (12, 4)


def test_split_generators():
    spk = np.array(["b", "a", "c", "a", "b"])
    folds = splits.loso(spk)
    assert [(f.name, f.index) for f in folds] == [("a", 0), ("b", 1), ("c", 2)]
    assert np.array_equal(np.sort(np.concatenate([f.test_idx for f in folds])), np.arange(5))
    for f in folds:
        assert set(spk[f.test_idx]) == {f.name} and f.name not in set(spk[f.train_idx])
    sub = splits.loso(spk, [0, 1, 3])  # speakers a and b only, indices into the full array
    assert [(f.name, f.train_idx.tolist(), f.test_idx.tolist()) for f in sub] == [("a", [0], [1, 3]), ("b", [1, 3], [0])]
    with pytest.raises(SerRefError, match="no utterances of corpus 'z'"):
        splits.cross_corpus(["x", "y"], "x", "z")
    with pytest.raises(SerRefError, match="both 'x'"):
        splits.cross_corpus(["x", "y"], "x", "x")


def test_normalize_by_group_matches_the_definition(rng):
    groups = np.array(["p", "q", "p", "q", "q"])
    X = rng.normal(size=(5, 3)) * [1, 10, 100] + [5, -3, 0]
    Z = runner.normalize_by_group(X, groups)
    for g in "pq":
        rows = X[groups == g]
        np.testing.assert_allclose(Z[groups == g], (rows - rows.mean(0)) / rows.std(0))
    frames = [rng.normal(3, 2, size=(int(rng.integers(4, 9)), 2)) for _ in range(5)]
    Zf = runner.normalize_by_group(frames, groups)
    for g in "pq":
        stacked = np.concatenate([Zf[i] for i in np.flatnonzero(groups == g)])
        np.testing.assert_allclose(stacked.mean(0), 0, atol=1e-6)
        np.testing.assert_allclose(stacked.std(0), 1, atol=1e-5)


def test_registry_rejects_an_unknown_name_and_majority_is_the_rule():
    with pytest.raises(SerRefError, match="unknown system 'svm'"):
        systems.make("svm")
    p = systems.fit_predict("majority", np.zeros((5, 1)), np.array([3, 1, 1, 3, 3]), np.zeros((2, 1)))
    assert p.tolist() == [[0, 0, 0, 1]] * 2
    tie = systems.fit_predict("majority", np.zeros((4, 1)), np.array([2, 1, 2, 1]), np.zeros((1, 1)))
    assert tie.argmax() == 1  # ties go to the lower class index


def test_a_machine_fault_reading_a_checkpoint_stops_the_run(dataset, tmp_path, monkeypatch):
    from ser_ref.errors import MachineError

    folds = splits.loso(dataset.speakers)
    runner.run(ENTRIES[:1], folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)
    real = Path.read_text

    def eio(self, *a, **k):
        if self.suffix == ".json" and "folds" in self.parts:
            raise OSError(errno.EIO, "Input/output error", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", eio)
    with pytest.raises(MachineError, match="Input/output error .*fold checkpoints"):
        runner.run(ENTRIES[:1], folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)
