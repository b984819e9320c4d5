"""Speaker-level uncertainty: the cluster bootstrap over speakers and the exact sign-flip test
(closed forms, brute-force enumeration, scipy's permutation test, McNemar as a special case)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from ser_ref.errors import SerRefError
from ser_ref.evaluation import metrics as evaluate


def _labels(rng, n, right=0.6):
    y = rng.integers(0, 4, n)
    return y, np.where(rng.random(n) < right, y, rng.integers(0, 4, n))


# --------------------------------------------------------------------------- cluster bootstrap
@pytest.mark.parametrize("metric", ["accuracy", "ua"])
@pytest.mark.parametrize("seed", [0, 7])
def test_one_utterance_per_speaker_is_the_utterance_bootstrap(metric, seed):
    """Each speaker one utterance: resampling speakers is resampling utterances, draw for draw."""
    rng = np.random.default_rng(seed)
    y, p = _labels(rng, 150)
    speakers = [f"spk{k:03d}" for k in rng.permutation(150)]  # names not in input order
    utt = evaluate.bootstrap_ci(y, p, metric, n_boot=300, seed=seed)
    spk = evaluate.speaker_bootstrap_ci(y, p, speakers, metric, n_boot=300, seed=seed)
    assert spk == utt


@pytest.mark.parametrize("metric", ["accuracy", "ua"])
def test_identical_speakers_give_a_zero_width_interval(metric):
    """Every speaker with the same labels and predictions: every resample is the same corpus scaled."""
    y1, p1 = np.array([0, 1, 2, 3, 3, 1]), np.array([0, 2, 2, 3, 1, 1])
    y, p = np.tile(y1, 9), np.tile(p1, 9)
    speakers = np.repeat(np.arange(9), len(y1))
    lo, hi = evaluate.speaker_bootstrap_ci(y, p, speakers, metric, n_boot=200)
    assert lo == hi == evaluate.metrics(y1, p1)[metric]
    u_lo, u_hi = evaluate.bootstrap_ci(y, p, metric, n_boot=200)
    assert u_hi > u_lo  # the utterance bootstrap sees spread that the speakers do not have


def test_speaker_resamples_are_whole_speakers():
    """The counting shortcut against the definition: concatenate the drawn speakers' utterances."""
    rng = np.random.default_rng(3)
    speakers = rng.choice(list("qwertyuiop"), 120)
    y, p = _labels(rng, 120)
    names, _ = evaluate.speaker_confusions(y, p, speakers)
    groups = [np.flatnonzero(speakers == s) for s in names]
    draw = np.random.default_rng(11)
    values = []
    for _ in range(200):
        idx = np.concatenate([groups[s] for s in draw.integers(0, len(groups), len(groups))])
        values.append(evaluate.metrics(y[idx], p[idx])["ua"])
    expected = tuple(float(v) for v in np.quantile(values, [0.025, 0.975]))
    assert evaluate.speaker_bootstrap_ci(y, p, speakers, "ua", n_boot=200, seed=11) == pytest.approx(expected,
                                                                                                       abs=1e-15)


def test_speaker_confusions_partition_the_confusion_matrix():
    rng = np.random.default_rng(5)
    speakers = rng.choice(["x", "a", "m"], 60)
    y, p = _labels(rng, 60)
    names, C = evaluate.speaker_confusions(y, p, speakers)
    assert names.tolist() == list(dict.fromkeys(speakers))  # first appearance
    assert np.array_equal(C.sum(0), evaluate.confusion(y, p))
    for s, c in zip(names, C):
        assert np.array_equal(c, evaluate.confusion(y[speakers == s], p[speakers == s]))
    with pytest.raises(SerRefError, match="speakers"):
        evaluate.speaker_confusions(y, p, speakers[:-1])


def test_cluster_interval_matches_the_speakers_standard_error():
    """Many speakers of equal size: the pooled accuracy is the mean of the speakers' accuracies, so
    the interval's half-width is close to 1.96 sd_s / sqrt(S) (sd over speakers)."""
    rng = np.random.default_rng(8)
    S, n = 300, 20
    acc_s = rng.beta(4, 3, S)
    y = np.zeros(S * n, int)
    p = (rng.random((S, n)) >= acc_s[:, None]).astype(int).ravel()
    speakers = np.repeat(np.arange(S), n)
    per_speaker = (p.reshape(S, n) == 0).mean(1)
    lo, hi = evaluate.speaker_bootstrap_ci(y, p, speakers, n_boot=2000, seed=1, n_classes=2)
    half = 1.96 * per_speaker.std() / np.sqrt(S)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.12)
    assert lo < per_speaker.mean() < hi


def test_bad_metric_is_named():
    with pytest.raises(SerRefError, match="metric"):
        evaluate.speaker_bootstrap_ci([0, 1], [0, 1], ["a", "b"], "recall")


# --------------------------------------------------------------------------------- sign flip
@pytest.mark.parametrize("D, p", [
    ([1, 2, 3], 2 / 8),     # all positive, distinct: only all + and all - reach |6|
    ([3, 1, 1], 2 / 8),
    ([1, 1, 1], 2 / 8),
    ([1, 1, 0], 4 / 8),     # a zero difference flips to itself
    ([1, 1, -1], 8 / 8),    # every sum has |.| >= 1
    ([2, -2], 1.0),         # T = 0
    ([5], 1.0),             # one speaker: both signs reach |5|
    ([4, 1, 1, 1], 2 / 16),  # 4 +-1 +-1 +-1 in {7, 5, 5, 5, 3, 3, 3, 1} and the negatives: |.| >= 7 twice
])
def test_sign_flip_hand_cases(D, p):
    assert evaluate.sign_flip_p(np.array(D)) == p


def _enumerate(D):
    T = abs(sum(D))
    hits = sum(abs(sum(e * d for e, d in zip(eps, D))) >= T for eps in itertools.product((-1, 1), repeat=len(D)))
    return hits / 2 ** len(D)


@pytest.mark.parametrize("trial", range(12))
def test_sign_flip_equals_brute_force_enumeration(trial):
    rng = np.random.default_rng(trial)
    D = rng.integers(-6, 9, rng.integers(1, 13))
    assert evaluate.sign_flip_p(D) == _enumerate(D.tolist())


@pytest.mark.parametrize("trial", range(4))
def test_sign_flip_equals_scipy_permutation_test(trial):
    rng = np.random.default_rng(100 + trial)
    D = rng.integers(-3, 8, 11)
    ref = stats.permutation_test((D,), np.sum, permutation_type="samples", n_resamples=np.inf,
                                 alternative="two-sided").pvalue
    assert evaluate.sign_flip_p(D) == pytest.approx(ref, rel=1e-12)


def test_sign_flip_is_exact_for_many_speakers():
    # D = (1, ..., 1), S = 40: only the two constant sign vectors reach |40|
    assert evaluate.sign_flip_p(np.ones(40, np.int64)) == 2.0 ** -39


@pytest.mark.parametrize("trial", range(6))
def test_one_utterance_per_speaker_is_mcnemars_exact_test(trial):
    rng = np.random.default_rng(trial)
    y, a = _labels(rng, 40, right=0.7)
    b = np.where(rng.random(40) < 0.5, y, a)
    p = evaluate.speaker_sign_flip(y, a, b, np.arange(40))
    assert p == pytest.approx(evaluate.mcnemar(y, a, b, exact_below=10 ** 9), rel=1e-12)


def test_speaker_sign_flip_counts_per_speaker():
    rng = np.random.default_rng(4)
    speakers = rng.choice(["s1", "s2", "s3", "s4", "s5"], 80)
    y, a = _labels(rng, 80)
    b = _labels(rng, 80)[1]
    D = [int(np.sum(a[speakers == s] == y[speakers == s]) - np.sum(b[speakers == s] == y[speakers == s]))
         for s in ["s1", "s2", "s3", "s4", "s5"]]
    assert evaluate.speaker_sign_flip(y, a, b, speakers) == _enumerate(D)
    assert evaluate.speaker_sign_flip(y, a, b, speakers) == evaluate.speaker_sign_flip(y, b, a, speakers)
    assert evaluate.speaker_sign_flip(y, a, a, speakers) == 1.0


def test_speaker_sign_flip_checks_its_input():
    with pytest.raises(SerRefError, match="equal length"):
        evaluate.speaker_sign_flip([0, 1], [0, 1], [1, 1], ["a"])
    with pytest.raises(SerRefError, match="integer"):
        evaluate.sign_flip_p(np.array([0.5, 1.0]))


# ------------------------------------------------------------------------------------ reports
def _run(rng, S=12, n=20):
    """Speakers that differ: speaker s's utterances are right with its own probability."""
    speakers = np.repeat([f"actor{s:02d}" for s in range(S)], n)
    y = rng.integers(0, 4, S * n)
    acc_s = np.repeat(rng.uniform(0.2, 0.95, S), n)
    pred = lambda: np.where(rng.random(S * n) < acc_s, y, (y + 1) % 4)  # noqa: E731
    return y, speakers, {"rf-egemaps": np.eye(4)[pred()], "dense": np.eye(4)[pred()]}


def test_write_all_adds_speaker_intervals_beside_the_utterance_ones(tmp_path):
    import json

    from ser_ref.evaluation import report

    y, speakers, probas = _run(np.random.default_rng(2))
    problems = {"n_used": len(y), "n_items": len(y)}
    report.write_all(tmp_path, "ravdess", y, speakers, probas, {20: probas["dense"]}, {}, problems, seed=3)
    rows = json.loads((tmp_path / "table2.json").read_text())["rows"]
    rf, dense = (np.argmax(probas[k], 1) for k in ("rf-egemaps", "dense"))
    assert rows["dense"]["accuracy_ci95"] == list(evaluate.bootstrap_ci(y, dense, "accuracy", seed=3))
    assert rows["dense"]["mcnemar_p_vs_rf"] == evaluate.mcnemar(y, dense, rf)
    for name, r in rows.items():
        for m in ("accuracy", "ua"):
            lo, hi = r[f"{m}_ci95_speaker"]
            assert lo <= r[m] <= hi
            assert hi - lo > r[f"{m}_ci95"][1] - r[f"{m}_ci95"][0]  # speakers differ: the wider interval
    assert rows["rf-egemaps"]["p_speaker_vs_rf"] is None
    D = [int(np.sum((dense == y)[speakers == s]) - np.sum((rf == y)[speakers == s])) for s in np.unique(speakers)]
    assert rows["dense"]["p_speaker_vs_rf"] == _enumerate(D)
    line = next(ln for ln in (tmp_path / "table2.md").read_text().splitlines() if ln.startswith("| Dense"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    r = rows["dense"]
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    assert cells[2] == (f"{pct(r['accuracy'])} [{pct(r['accuracy_ci95'][0])}, {pct(r['accuracy_ci95'][1])}] "
                        f"[{pct(r['accuracy_ci95_speaker'][0])}, {pct(r['accuracy_ci95_speaker'][1])}]")
    assert cells[-1] == f"{r['p_speaker_vs_rf']:.3g}"


# --------------------------------------------------------------------------------- simulation
def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "speaker_coverage.py"
    spec = importlib.util.spec_from_file_location("speaker_coverage_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coverage_simulation_target_and_toy_run():
    from scipy import integrate
    from scipy.special import expit, logit

    bench = _bench()
    f = lambda z: expit(logit(0.6) + 1.0 * z) * stats.norm.pdf(z)  # noqa: E731
    assert bench.population_accuracy(0.6, 1.0) == pytest.approx(integrate.quad(f, -12, 12)[0], rel=1e-10)
    res = bench.run(S=8, n=5, sigmas=(0.0, 2.0), taus=(0.0,), reps=4, n_boot=20, test_reps=4)
    assert [r["sigma"] for r in res["intervals"]] == [0.0, 2.0]
    assert all(0 <= v <= 1 for r in res["intervals"] for v in r["coverage"].values())
    assert "| 2.0 |" in bench.markdown(res)


def test_the_layer_study_rows_carry_both_levels():
    """A layer-study row: with one utterance per speaker its speaker interval is its utterance
    interval and its speaker p is McNemar's exact p (the two levels coincide); with speakers of
    many utterances that differ in accuracy, the speaker interval is the wider."""
    from ser_ref.evaluation.layer_study import layer_row

    rng = np.random.default_rng(11)
    y, p = _labels(rng, 120)
    _, ref = _labels(rng, 120, right=0.4)
    res = evaluate.metrics(y, p)
    one = layer_row(res, y, p, ref, 3, [f"s{k}" for k in range(120)])
    assert one["accuracy_ci95_speaker"] == list(one["accuracy_ci"])
    assert one["ua_ci95_speaker"] == list(one["ua_ci"])
    b = int(np.sum((p == y) & (ref != y)))
    c = int(np.sum((p != y) & (ref == y)))
    assert one["p_speaker_vs_layer1"] == pytest.approx(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
    assert layer_row(res, y, p, None, 3, np.arange(120))["p_speaker_vs_layer1"] is None

    speakers = np.repeat(np.arange(6), 20)
    p6 = np.where(rng.random(120) < np.repeat([0.2, 0.4, 0.5, 0.7, 0.8, 0.95], 20), y, (y + 1) % 4)
    six = layer_row(evaluate.metrics(y, p6), y, p6, ref, 3, speakers)
    width = lambda v: v[1] - v[0]  # noqa: E731
    assert width(six["accuracy_ci95_speaker"]) > width(six["accuracy_ci"])
