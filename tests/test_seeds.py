"""Several seeds (``--seeds``): each seed's numbers are a fresh run's at that seed, the first seed's are
the one-seed run's, the spread is the closed-form mean and sample sd, and a multi-seed run resumes to
byte-identical reports whatever --jobs or where it was interrupted."""
from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest

from ser_ref.commands import reproduce
from ser_ref.evaluation import runner, seeds, splits, systems
from ser_ref.evaluation.executors import SerialExecutor
from ser_ref.evaluation.runner import Dataset, Entry

TINY = systems.Settings(rf_trees=20, chunk_len=6,
                        nn_config={"epochs": 2, "patience": 0, "max_frames": 8, "max_len": 30})
NEW_KEYS = {"per_seed", "accuracy_mean", "accuracy_sd", "ua_mean", "ua_sd"}


# ------------------------------------------------------------------------------- the spread
def test_mean_and_sd_are_the_closed_form_sample_values():
    a, b = 0.5, 0.75
    assert seeds.mean_sd([a, b]) == pytest.approx(((a + b) / 2, abs(a - b) / math.sqrt(2)), abs=1e-15)
    v = [0.61, 0.55, 0.58, 0.66, 0.52]
    m = sum(v) / 5
    mean, sd = seeds.mean_sd(v)
    assert mean == pytest.approx(m, abs=1e-15)
    assert sd == pytest.approx(math.sqrt(sum((x - m) ** 2 for x in v) / 4), abs=1e-15)
    assert sd == pytest.approx(statistics.stdev(v), abs=1e-15)   # the standard library's sample sd
    assert seeds.mean_sd([0.3, 0.3, 0.3]) == (pytest.approx(0.3), 0.0)
    assert seeds.mean_sd([0.42]) == (0.42, None)   # one seed: no spread to estimate


def test_seed_keys_leave_the_first_seed_as_a_one_seed_run_has_it():
    entries = [Entry("dense", "dense", TINY), Entry("dense1+lstm2@3", "dense1+lstm2", TINY.with_chunk(3))]
    by_seed = seeds.seeded_entries(entries, (7, 2))
    assert [e.key for e in by_seed[7].values()] == ["dense", "dense1+lstm2@3"]
    assert [e.key for e in by_seed[2].values()] == ["dense@seed2", "dense1+lstm2@3@seed2"]
    s = by_seed[2]["dense1+lstm2@3"].settings
    assert (s.seed, s.chunk_len, s.rf_trees, s.nn_config) == (2, 3, TINY.rf_trees, TINY.nn_config)
    assert by_seed[7]["dense"].settings.seed == 7


# ------------------------------------------------------------------------------- the runner
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """18 utterances of 3 speakers: per-utterance frames saved as .npy (layer 1) and functionals."""
    rng = np.random.default_rng(5)
    folder = tmp_path_factory.mktemp("feats")
    y = np.tile(np.arange(4), 6)[:18]
    paths = []
    for i in range(18):
        np.save(folder / f"{i}.npy", (rng.normal(size=(int(rng.integers(10, 30)), 16)) + y[i]).astype(np.float32))
        paths.append(str(folder / f"{i}.npy"))
    return Dataset(y, np.repeat(["s1", "s2", "s3"], 6), {"egemaps": rng.normal(size=(18, 8)) + y[:, None],
                                                         "layer1": paths}, "tiny")


def test_each_seed_of_a_multi_seed_run_is_a_plain_loop_at_that_seed(dataset, tmp_path):
    """Fold i of seed s trains with seed s + i, whatever other seeds share the run and its tasks."""
    entries = [Entry(s, s, TINY) for s in ("rf-egemaps", "dense", "dense1+dense2")]
    by_seed = seeds.seeded_entries(entries, (0, 9))
    folds = splits.loso(dataset.speakers)
    got = runner.run(seeds.flat(by_seed), folds, dataset, SerialExecutor(), out=tmp_path, say=lambda m: None)
    for s, of_seed in by_seed.items():
        for name, e in of_seed.items():
            want = np.full((18, 4), np.nan)
            for f in folds:
                X = dataset.features[systems.get(name).reads]
                take = (lambda idx: [np.load(X[i]) for i in idx]) if isinstance(X, list) else (lambda idx: X[idx])
                want[f.test_idx] = systems.fit_predict(name, take(f.train_idx), dataset.y[f.train_idx],
                                                       take(f.test_idx), s + f.index, TINY,
                                                       groups=dataset.speakers[f.train_idx])
            np.testing.assert_array_equal(got[e.key], want, err_msg=f"{name} at seed {s}")
    assert not np.array_equal(got["dense"], got["dense@seed9"])
    assert len(list((tmp_path / "folds").rglob("*.json"))) == len(entries) * 2 * len(folds)


# ------------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def corpus(cache):
    """The quick synthetic corpus of seed 0, as a folder: runs of other seeds read the same files."""
    from ser_ref.corpora.opening import open_corpus

    open_corpus("synthetic", None, seed=0, quick=True)
    return cache / "corpora" / "synthetic-quick-seed0"


def _args(out, model_path, corpus, *more):
    return ["--quick", "--corpus", "synthetic", "--root", str(corpus), "--out", str(out), "--model", str(model_path),
            *more]


REPORTS = ("table2.json", "figure3.json", "table2.md")


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, model_path, corpus):
    out = tmp_path_factory.mktemp("two-seeds")
    assert reproduce.main(_args(out, model_path, corpus, "--seeds", "3,5", "--jobs", "2")) == 0
    return out


def _reports(out) -> dict:
    return {name: (out / name).read_bytes() for name in REPORTS}


def test_multi_seed_reports(two_seeds):
    table = json.loads((two_seeds / "table2.json").read_text())
    assert table["seeds"] == [3, 5]
    for name, r in table["rows"].items():
        assert list(r["per_seed"]) == ["3", "5"]
        assert {k: r[k] for k in ("accuracy", "ua", "macro_f1")} == r["per_seed"]["3"], name
        for m in ("accuracy", "ua"):
            v = [r["per_seed"][s][m] for s in ("3", "5")]
            assert r[f"{m}_mean"] == pytest.approx(statistics.fmean(v), abs=1e-15)
            assert r[f"{m}_sd"] == pytest.approx(statistics.stdev(v), abs=1e-15)
    fig3 = json.loads((two_seeds / "figure3.json").read_text())
    assert fig3["seeds"] == [3, 5]
    for c, v in fig3["chunk_len"].items():
        assert v["per_seed"]["3"] == {"accuracy": v["accuracy"], "ua": v["ua"]}, c
        assert v["accuracy_mean"] == pytest.approx(statistics.fmean(s["accuracy"] for s in v["per_seed"].values()))
    lstm2 = table["rows"]["dense1+lstm2"]["per_seed"]["5"]["accuracy"]
    assert fig3["chunk_len"]["20"]["per_seed"]["5"]["accuracy"] == lstm2   # the row at the default length
    md = (two_seeds / "table2.md").read_text()
    rf = table["rows"]["rf-egemaps"]
    assert "Seeds 3, 5" in md and seeds.pm(rf["accuracy_mean"], rf["accuracy_sd"]) in md


def test_an_interrupted_multi_seed_run_resumes_byte_identical_and_jobs_1_agrees_with_jobs_2(
        two_seeds, model_path, corpus, tmp_path, monkeypatch):
    """Interrupted (Ctrl-C) after a few finished (system, split, seed) tasks at --jobs 1, then resumed:
    the reports are byte for byte those of the uninterrupted --jobs 2 run."""
    finish, calls = runner._finish, []

    def interrupted(*a):
        finish(*a)
        calls.append(1)
        if len(calls) == 9:
            raise KeyboardInterrupt

    args = _args(tmp_path, model_path, corpus, "--seeds", "3,5", "--jobs", "1")
    monkeypatch.setattr(runner, "_finish", interrupted)
    assert reproduce.main(args) == 130
    monkeypatch.undo()
    saved = {p.relative_to(tmp_path / "folds") for p in (tmp_path / "folds").rglob("*.json")}
    everything = {p.relative_to(two_seeds / "folds") for p in (two_seeds / "folds").rglob("*.json")}
    assert 0 < len(saved) < len(everything) and saved <= everything
    assert reproduce.main(args) == 0
    assert _reports(tmp_path) == _reports(two_seeds)


def test_lost_checkpoints_of_any_seed_are_recomputed_identically(two_seeds, model_path, corpus):
    before = _reports(two_seeds)
    for f in sorted((two_seeds / "folds").rglob("*.json"))[1::3]:
        f.unlink()
    assert reproduce.main(_args(two_seeds, model_path, corpus, "--seeds", "3,5", "--jobs", "2")) == 0
    assert _reports(two_seeds) == before


def test_one_seed_forms_agree_and_a_multi_seed_run_extends_a_one_seed_run(two_seeds, model_path, corpus,
                                                                           tmp_path):
    """``--seed 3`` and ``--seeds 3`` write identical reports; their row keys are the first seed's of
    ``--seeds 3,5``; a ``--seeds 3,5`` run into ``--seed 3``'s folder reuses its checkpoints as they are."""
    one, listed = tmp_path / "one", tmp_path / "listed"
    assert reproduce.main(_args(one, model_path, corpus, "--seed", "3", "--jobs", "2")) == 0
    assert reproduce.main(_args(listed, model_path, corpus, "--seeds", "3", "--jobs", "2")) == 0
    assert _reports(one) == _reports(listed)
    table = json.loads((one / "table2.json").read_text())
    assert table["seeds"] == [3]
    both = json.loads((two_seeds / "table2.json").read_text())
    for name, r in table["rows"].items():
        assert r["accuracy_sd"] is None and r["accuracy_mean"] == r["accuracy"] and list(r["per_seed"]) == ["3"]
        assert {k: v for k, v in r.items() if k not in NEW_KEYS} == \
            {k: v for k, v in both["rows"][name].items() if k not in NEW_KEYS}, name
    fig3 = json.loads((one / "figure3.json").read_text())
    assert set(fig3) == {"corpus", "model", "chunk_len"}   # a one-seed Figure 3 has no seed keys
    assert all(set(v) == {"accuracy", "ua", "accuracy_ci95_speaker", "ua_ci95_speaker"}
               for v in fig3["chunk_len"].values())

    stamps = {p: p.stat().st_mtime_ns for p in (one / "folds").rglob("*.json")}
    assert reproduce.main(_args(one, model_path, corpus, "--seeds", "3,5", "--jobs", "2")) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert _reports(one) == _reports(two_seeds)


def test_seed_and_seeds_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--seed", "1", "--seeds", "1,2"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--seeds", "1,2,1"])
    assert "1 given more than once" in capsys.readouterr().err


# ------------------------------------------------------------------------------- the layer study
def test_layer_study_seeds_are_one_seed_studies_side_by_side(dataset):
    """Each seed's numbers in a several-seed layer study are the one-seed study's at that seed; the
    rows' other keys are the first seed's."""
    from ser_ref.deepspeech.layer_features import LAYER_KINDS
    from ser_ref.evaluation.layer_study import evaluate_layers, table_md

    npys = {layer: dataset.features["layer1"] for layer in LAYER_KINDS}
    study = lambda seed, seeds=None: evaluate_layers(npys, dataset.y, dataset.speakers, SerialExecutor(),  # noqa: E731
                                                     seed=seed, quick=True, say=lambda m: None, seeds=seeds)
    both, first, second = study(2, (2, 6)), study(2), study(6)
    for model in ("dense", "forest"):
        for layer in LAYER_KINDS:
            r = both[model][layer]
            assert {k: v for k, v in r.items() if k not in NEW_KEYS} == \
                {k: v for k, v in first[model][layer].items() if k not in NEW_KEYS}, (model, layer)
            assert r["per_seed"]["6"] == {k: second[model][layer][k] for k in ("accuracy", "ua")}
            assert r["accuracy_sd"] == pytest.approx(statistics.stdev([r["accuracy"], r["per_seed"]["6"]["accuracy"]]))
            assert first[model][layer]["accuracy_sd"] is None
    res = {"n_used": 18, "n_items": 18, "mode": "float", "model": "m.npz", "model_sha256": "0" * 64}
    r = both["dense"]["layer3"]
    assert seeds.pm(r["ua_mean"], r["ua_sd"]) in table_md({**res, **both}, "tiny")
    assert "±" not in table_md({**res, **first}, "tiny")
