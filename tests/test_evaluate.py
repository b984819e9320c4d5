"""LOSO folds, metrics against scikit-learn, bootstrap CI, McNemar, run_loso, RF vs sklearn on real speech."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
from conftest import needs
from scipy import stats

from ser_ref.evaluation import metrics as evaluate, systems
from ser_ref.errors import SerRefError

MAJORITY = partial(systems.fit_predict_labels, name="majority")


def test_loso_folds_partition(rng):
    speakers = rng.choice(["a", "b", "c", "d"], 50)
    folds = evaluate.loso_folds(speakers)
    assert [f.test_speaker for f in folds] == ["a", "b", "c", "d"]
    tested = np.concatenate([f.test_idx for f in folds])
    assert np.array_equal(np.sort(tested), np.arange(50))  # every utterance tested exactly once
    for f in folds:
        assert np.all(speakers[f.test_idx] == f.test_speaker)
        assert not np.any(speakers[f.train_idx] == f.test_speaker)
        assert len(f.train_idx) + len(f.test_idx) == 50
    with pytest.raises(SerRefError, match="at least 2 speakers"):
        evaluate.loso_folds(["a", "a"])


@pytest.mark.parametrize("trial", range(5))
def test_metrics_match_sklearn(trial):
    skm = needs("sklearn.metrics")
    rng = np.random.default_rng(trial)
    y = rng.integers(0, 4, 200)
    p = np.where(rng.random(200) < 0.5, y, rng.integers(0, 4, 200))
    m = evaluate.metrics(y, p)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert m["ua"] == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert m["wa"] == pytest.approx(m["accuracy"])  # sum_c (n_c/N) recall_c collapses to accuracy
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert np.array_equal(m["confusion"], skm.confusion_matrix(y, p, labels=range(4)))


def test_metrics_skip_absent_classes():
    # class 3 never occurs: UA averages the three present recalls (1, 1/2, 0)
    m = evaluate.metrics(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 3]))
    assert m["ua"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["accuracy"] == pytest.approx(0.5)
    with pytest.raises(SerRefError, match="y_pred"):
        evaluate.metrics(np.array([0, 1]), np.array([0, 4]))


def test_bootstrap_ci_is_close_to_the_normal_interval(rng):
    y = rng.integers(0, 4, 2000)
    p = np.where(rng.random(2000) < 0.6, y, (y + 1) % 4)
    acc = np.mean(y == p)
    lo, hi = evaluate.bootstrap_ci(y, p, "accuracy", n_boot=400, seed=1)
    half = 1.96 * np.sqrt(acc * (1 - acc) / len(y))  # Wald interval of a binomial proportion
    assert lo < acc < hi
    assert lo == pytest.approx(acc - half, abs=0.006) and hi == pytest.approx(acc + half, abs=0.006)
    assert evaluate.bootstrap_ci(y, p, "ua", n_boot=50, seed=3) == evaluate.bootstrap_ci(y, p, "ua", n_boot=50, seed=3)


def test_mcnemar_exact_and_chi2(rng):
    y = np.zeros(40, int)
    a = np.zeros(40, int)
    b = np.zeros(40, int)
    b[:7] = 1   # a right, b wrong on 7
    a[7:9] = 1  # a wrong, b right on 2
    assert evaluate.mcnemar(y, a, b) == pytest.approx(stats.binomtest(2, 9, 0.5).pvalue)
    assert evaluate.mcnemar(y, a, b) == pytest.approx(evaluate.mcnemar(y, b, a))
    assert evaluate.mcnemar(y, a, a) == 1.0
    # large counts: the chi^2 approximation is close to the exact binomial test
    y = np.zeros(400, int)
    a, b = np.zeros(400, int), np.zeros(400, int)
    b[:60] = 1
    a[60:100] = 1
    assert evaluate.mcnemar(y, a, b) == pytest.approx(stats.binomtest(40, 100, 0.5).pvalue, rel=0.15)


def check_standardized(X_train, y_train, X_test, seed):
    """A fit_predict that asserts the training features arrive standardised on training rows only."""
    assert np.allclose(X_train.mean(0), 0, atol=1e-9) and np.allclose(X_train.std(0), 1)
    return np.full(len(X_test), seed % 4)


def test_run_loso_standardizes_on_train_only_and_keeps_order(rng):
    speakers = np.repeat(["s1", "s2", "s3"], [5, 7, 6])
    X = rng.normal(size=(18, 3)) + np.arange(18)[:, None]  # the test speaker shifts the mean
    y = rng.integers(0, 4, 18)
    res = evaluate.run_loso(check_standardized, X, y, speakers, executor="serial", seed=10)
    # fold i predicts its seed (10 + i) % 4 for the test speaker: checks order and seeds
    assert np.array_equal(res.y_pred, np.repeat([2, 3, 0], [5, 7, 6]))
    assert [f["test_speaker"] for f in res.folds] == ["s1", "s2", "s3"]
    assert res.pooled["accuracy"] == pytest.approx(np.mean(res.y_pred == y))
    assert res.per_speaker["s2"]["accuracy"] == pytest.approx(np.mean(y[5:12] == 3))


def frames_fit_predict(X_train, y_train, X_test, seed):
    frames = np.concatenate(X_train)
    assert np.allclose(frames.mean(0), 0, atol=1e-5) and np.allclose(frames.std(0), 1, atol=1e-4)
    return np.array([int(a.shape[0]) % 4 for a in X_test])


def test_run_loso_on_per_utterance_arrays_with_a_caller_executor(rng):
    X = [rng.normal(5, 3, size=(int(rng.integers(3, 9)), 4)) for _ in range(12)]
    y = rng.integers(0, 4, 12)
    speakers = np.repeat(["a", "b", "c"], 4)
    with ThreadPoolExecutor(2) as ex:
        res = evaluate.run_loso(frames_fit_predict, X, y, speakers, executor=ex)
    assert np.array_equal(res.y_pred, [a.shape[0] % 4 for a in X])


def test_run_loso_default_process_pool_majority(rng):
    speakers = np.repeat(["a", "b", "c"], 10)
    y = np.array([0] * 6 + [1] * 4 + [2] * 10 + [0] * 7 + [3] * 3)
    res = evaluate.run_loso(MAJORITY, np.zeros((30, 2)), y, speakers)
    # without a: 0 x7 vs 2 x10 -> 2; without b: 0 x13 -> 0; without c: 0 x6, 2 x10 -> 2
    assert np.array_equal(res.y_pred, np.repeat([2, 0, 2], 10))


def test_run_loso_rejects_bad_input(rng):
    with pytest.raises(SerRefError, match="equal length"):
        evaluate.run_loso(MAJORITY, np.zeros((4, 2)), [0, 1, 2], ["a", "b", "a", "b"],
                          executor="serial")

    def short(X_train, y_train, X_test, seed):
        return np.zeros(1, int)

    with pytest.raises(SerRefError, match="1 predictions"):
        evaluate.run_loso(short, np.zeros((4, 2)), [0, 1, 2, 3], ["a", "b", "a", "b"], executor="serial")


# ---------------------------------------------------------------- the forest against scikit-learn
def sklearn_fit_predict(X_train, y_train, X_test, seed, n_trees=1000):
    from sklearn.ensemble import RandomForestClassifier

    rf = RandomForestClassifier(n_estimators=n_trees, max_depth=10, random_state=seed, n_jobs=-1)
    return rf.fit(X_train, y_train).predict(X_test)


def ours_fit_predict(X_train, y_train, X_test, seed, n_trees=1000):
    return systems.fit_predict_labels(X_train, y_train, X_test, seed, "rf-egemaps", systems.Settings(rf_trees=n_trees))


def ravdess_features(root, n_actors=24):
    from _hand_mfcc import corpus_matrix

    from ser_ref import corpora

    items = corpora.load("ravdess", root)
    actors = sorted({it.speaker for it in items})[:n_actors]
    return corpus_matrix([it for it in items if it.speaker in actors])


def _agreement(X, y, speakers, n_trees):
    ours = evaluate.run_loso(partial(ours_fit_predict, n_trees=n_trees), X, y, speakers, executor="serial")
    theirs = evaluate.run_loso(partial(sklearn_fit_predict, n_trees=n_trees), X, y, speakers, executor="serial")
    return ours.pooled["accuracy"], theirs.pooled["accuracy"]


def test_forest_matches_sklearn_on_real_speech_quick(ravdess_root):
    """12 RAVDESS actors, 300 trees: the quick version of the slow 1.5-point check over 24 actors (looser: fewer
    trees and utterances mean more seed noise)."""
    needs("sklearn")
    ours, theirs = _agreement(*ravdess_features(ravdess_root, 12), 300)
    assert ours > 0.4 and abs(ours - theirs) <= 0.025, (ours, theirs)


@pytest.mark.slow
def test_forest_matches_sklearn_on_real_speech_loso(ravdess_root):
    """All 24 RAVDESS actors, 1000 trees, depth 10: pooled LOSO accuracy within 1.5 points."""
    needs("sklearn")
    ours, theirs = _agreement(*ravdess_features(ravdess_root), 1000)
    assert abs(ours - theirs) <= 0.015, (ours, theirs)
