"""The arithmetic of bench/bench_scaling.py (growth exponents, projections, fold extrapolation) and the
folds it hands reproduce, without running the benchmark."""
from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_scaling_under_test", ROOT / "bench" / "bench_scaling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docstring_examples(bench):
    failed, tried = doctest.testmod(bench, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried >= 8 and failed == 0


@pytest.mark.parametrize("b", [0.5, 1.0, 1.1, 2.0])
def test_a_known_power_law_gives_its_exponent_back(bench, b):
    n = np.array([672.0, 2688.0, 10752.0, 40000.0])
    f = bench.fit_power_law(n, 0.37 * n ** b)
    assert f["exponent"] == pytest.approx(b, abs=1e-9) and f["coefficient"] == pytest.approx(0.37, rel=1e-9)
    assert f["rms_log_residual"] < 1e-9


def test_noise_moves_the_exponent_by_the_least_squares_amount(bench):
    """Multiplicative noise e^{+d}, e^{-d}, e^{+d} at n, 4n, 16n, worked by hand: log n is centred
    (-1, 0, 1) log 4, the noise (d, -d, d) is orthogonal to it, so the least-squares slope is exactly b;
    the intercept moves by the noise's mean d / 3 and the residuals are (2, -4, 2) d / 3."""
    d, b = 0.2, 1.05
    n = np.array([672.0, 2688.0, 10752.0])
    f = bench.fit_power_law(n, 2.0 * n ** b * np.exp([d, -d, d]))
    assert f["exponent"] == pytest.approx(b, abs=1e-12)
    assert f["coefficient"] == pytest.approx(2.0 * np.exp(d / 3), rel=1e-12)
    assert f["rms_log_residual"] == pytest.approx(np.sqrt(np.mean(np.array([2, -4, 2]) ** 2)) * d / 3, rel=1e-9)


def test_one_size_has_no_exponent(bench):
    with pytest.raises(ValueError, match="two different sizes"):
        bench.fit_power_law([672, 672], [1.0, 2.0])


def test_projection_by_hand(bench):
    """Features: c n^b with CPU divided among N workers; training: scaled by (folds / 24) ** b_s and
    divided among min(N, folds); reports: serial, the same everywhere."""
    fits = {"layer1": {"wall": {"exponent": 1.0, "coefficient": 0.05}, "cpu": {"exponent": 1.0, "coefficient": 0.1},
                       "parallel": True},
            "train:lstm": {"wall": {"exponent": 1.2, "coefficient": 0.001}, "cpu": {"exponent": 1.2,
                                                                                   "coefficient": 0.002},
                           "parallel": True},
            "reports": {"wall": {"exponent": 1.0, "coefficient": 0.001}, "cpu": {"exponent": 1.0,
                                                                               "coefficient": 0.001},
                        "parallel": False}}
    n, folds = 100_000, 10
    p = bench.project(fits, n, workers=(1, 4, 32), folds=folds, measured_folds=24,
                      speaker_fits={"train:lstm": {"exponent": 1.5}}, overhead=0.1)
    scale = (10 / 24) ** 1.5
    assert p["this_machine_s"]["layer1"] == pytest.approx(0.05 * n)
    assert p["this_machine_s"]["train:lstm"] == pytest.approx(0.001 * n ** 1.2 * scale)
    assert p["workers"]["4"]["layer1"] == pytest.approx(0.1 * n / 4 * 1.1)
    assert p["workers"]["32"]["train:lstm"] == pytest.approx(0.002 * n ** 1.2 * scale / folds * 1.1)  # 10 tasks
    assert p["workers"]["32"]["reports"] == p["this_machine_s"]["reports"] == pytest.approx(100.0)
    assert p["workers_total_s"]["1"] == pytest.approx(sum(p["workers"]["1"].values()))


def test_sizes_and_fold_extrapolation(bench):
    assert [bench.per_emotion(s, 24) * 4 * 24 for s in (1, 4, 16)] == [672, 2688, 10752]
    assert bench.extrapolate(1.5, 24, 3) == 12.0
    res = {"stage": "train:dense", "wall_s": 2.0, "cpu_s": 3.0, "folds_measured": 2, "folds_total": 24}
    bench._extrapolate_stage(res)
    assert (res["wall_s_all_folds"], res["cpu_s_all_folds"], res["extrapolated"]) == (24.0, 36.0, True)
    feat = {"stage": "layer1", "wall_s": 2.0, "cpu_s": 3.0}
    bench._extrapolate_stage(feat)
    assert (feat["wall_s_all_folds"], feat["extrapolated"]) == (2.0, False)


def test_the_emobox_folds_are_the_first_loso_folds(bench, tmp_path):
    """What the Dask check hands reproduce (--folds FOLDER) tests and trains on exactly the utterances
    of the first K leave-one-speaker-out splits the stage measurement runs."""
    from ser_ref.corpora import load_with_report, synthetic
    from ser_ref.evaluation import fold_files
    from ser_ref.evaluation.splits import loso

    root = synthetic.generate(tmp_path / "c", n_speakers=3, n_per_emotion=1)
    items, _ = load_with_report("synthetic", root)
    folds = fold_files.splits(fold_files.read(bench.emobox_folds(root, tmp_path / "folds", 2)), items)
    want = loso(np.array([it.speaker for it in items]))[:2]
    assert len(folds) == 2
    for got, ref in zip(folds, want):
        assert sorted(got.test_idx.tolist()) == sorted(ref.test_idx.tolist())
        assert sorted(got.train_idx.tolist()) == sorted(ref.train_idx.tolist())


def test_regrouping_merges_consecutive_speakers(bench, tmp_path):
    from ser_ref.corpora import Item

    items = [Item(Path(f"{s}.wav"), s, "anger") for s in ("syn01", "syn02", "syn03", "syn04")]
    assert [it.speaker for it in bench._regroup(items, 2, 4)] == ["grp01", "grp01", "grp02", "grp02"]


def test_a_recorded_stage_is_read_back_not_run_again(bench, tmp_path):
    """An interrupted --out run resumes: a stage with a record is not started (this spec would fail in a
    child process: there is no such stage)."""
    record = bench.record_path(tmp_path / "stages", "train:dense")
    record.parent.mkdir()
    record.write_text('{"stage": "train:dense", "wall_s": 1.5}')
    assert record.name == "train-dense.json"
    assert bench.measured(record, lambda: bench.run_stage({"stage": "no-such-stage"}, {})) == \
        ({"stage": "train:dense", "wall_s": 1.5}, True)


@pytest.mark.parametrize("recorded", [(), ("egemaps",), ("egemaps", "layer1")])
def test_resuming_measures_features_from_an_empty_cache_or_not_at_all(bench, tmp_path, monkeypatch, recorded):
    """A size whose feature stages are not both recorded loses its cache and measures both again (a
    feature stage is timed from an empty cache); with both recorded, only the stages after them run."""
    work, ran = tmp_path / "size-1", []
    (work / "cache").mkdir(parents=True)
    (work / "cache" / "left-by-a-cut-run.npy").write_bytes(b"x")
    for stage in recorded:
        (work / "stages").mkdir(exist_ok=True)
        (work / "stages" / f"{stage}.json").write_text(
            f'{{"stage": "{stage}", "wall_s": 9.0, "cpu_s": 9.0, "max_rss_mb": 1.0, "workers_max_rss_mb": null}}')

    def fake_run_stage(spec, env):
        ran.append((spec["stage"], sorted(p.name for p in (work / "cache").glob("*"))))
        return {"stage": spec["stage"], "wall_s": 1.0, "cpu_s": 1.0, "max_rss_mb": 1.0, "workers_max_rss_mb": None}

    monkeypatch.setattr(bench, "run_stage", fake_run_stage)
    monkeypatch.setattr(bench, "corpus", lambda w, size, args: (tmp_path / "no-audio", {}))
    (tmp_path / "no-audio").mkdir()
    args = bench.parse(["--sizes", "1", "--systems", "dense", "--no-figure3", "--sweep", "0"])
    with pytest.warns(RuntimeWarning):  # no audio here: the mean duration of nothing
        res = bench.measure_size(1.0, args, work)
    features = [s for s, _ in ran if s in bench.FEATURE_STAGES]
    if len(recorded) < 2:
        assert features == ["egemaps", "layer1"] and ran[0][1] == []   # the cut run's cache is gone
    else:
        assert features == [] and (work / "cache" / "left-by-a-cut-run.npy").is_file()
    assert [s for s, _ in ran if s not in bench.FEATURE_STAGES] == ["train:dense", "reports"]
    assert sorted(p.stem for p in (work / "stages").glob("*.json")) == ["corpus", "egemaps", "layer1", "reports",
                                                                     "train-dense"]
    assert res["stages"]["train:dense"]["wall_s"] == 1.0


@pytest.mark.parametrize("stage, gone", [("train:dense", {"dense"}), ("figure3", {"dense1+lstm2@5", "dense1+lstm2@10"}),
                                         ("reports", set())])
def test_a_training_stage_starts_without_its_own_fold_checkpoints(bench, tmp_path, monkeypatch, stage, gone):
    """A stage cut short leaves checkpoints that reproduce's resume would read instead of training: the
    stage measured again starts without them, and leaves every other stage's."""
    import json
    from types import SimpleNamespace

    names = {"dense", "dense1+lstm2", "dense1+lstm2@5", "dense1+lstm2@10", "rf-egemaps"}
    for name in names:
        (tmp_path / "run" / "folds" / name).mkdir(parents=True)
        (tmp_path / "run" / "folds" / name / "000-syn01.json").write_text("{}")
    left = {}

    def fake_run(cmd, **kw):
        left["names"] = {p.name for p in (tmp_path / "run" / "folds").iterdir()}
        return SimpleNamespace(returncode=0, stdout=json.dumps({"stage": stage}) + "\n", stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    bench.run_stage({"stage": stage, "run_dir": str(tmp_path / "run")}, {})
    assert left["names"] == names - gone


def test_a_second_run_on_the_same_out_folder_is_refused_before_any_work(bench, tmp_path):
    from ser_ref.files.atomic import folder_lock

    with folder_lock(tmp_path):   # this live process holds the work folder
        with pytest.raises(SystemExit, match="--out .*in use by the run of pid"):
            bench.main(["--sizes", "0.05,0.1", "--speakers", "4", "--folds", "2", "--quick", "--jobs", "1",
                        "--systems", "dense", "--sweep", "0", "--out", str(tmp_path)])
    assert [p.name for p in tmp_path.iterdir()] == []   # no corpus, no stage, and the lock given back
