"""Leave-one-speaker-out (LOSO) evaluation, its metrics, confidence intervals and McNemar's test.

Protocol: for every speaker s, train on all other speakers and test on s. Every statistic the
model sees (here: feature standardisation) is fitted on the training speakers only. Each utterance
is tested exactly once, so pooled metrics are computed over all utterances' test predictions.
See docs/evaluation.md for the definitions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..errors import SerRefError
from .executors import SerialExecutor, make_executor
from .splits import Split, loso

Fold = Split  # a LOSO fold is a split whose name is the test speaker

METRICS = ("accuracy", "ua", "wa", "macro_f1")


@dataclass
class LosoResult:
    """Predictions in input order, metrics per fold (= per test speaker) and pooled over all utterances."""

    y_true: np.ndarray
    y_pred: np.ndarray
    speakers: np.ndarray
    folds: list = field(default_factory=list)          # [{"test_speaker", "n", **metrics}] in fold order
    per_speaker: dict = field(default_factory=dict)    # speaker -> metrics of its utterances
    pooled: dict = field(default_factory=dict)         # metrics over every utterance
    fold_mean: dict = field(default_factory=dict)      # unweighted mean of the folds' scalar metrics


def loso_folds(speakers) -> list[Split]:
    """One fold per distinct speaker (sorted), testing on that speaker and training on the rest
    (``splits.loso``).

    Examples
    --------
    >>> [(f.test_speaker, f.test_idx.tolist()) for f in loso_folds(["b", "a", "b"])]
    [('a', [1]), ('b', [0, 2])]
    """
    return loso(speakers)


def confusion(y_true, y_pred, n_classes: int = 4) -> np.ndarray:
    """C[i, j] = #{utterances with true class i predicted as j}.

    Examples
    --------
    >>> confusion([0, 0, 1, 2], [0, 1, 1, 2], n_classes=3)
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def metrics(y_true, y_pred, n_classes: int = 4) -> dict:
    """accuracy, ua, wa, macro_f1 and the confusion matrix (as nested lists).

    With C the confusion matrix, N = sum C, n_c = sum_j C[c, j] and recall_c = C[c, c] / n_c:
        accuracy = sum_c C[c, c] / N
        ua       = (1/K') sum_{c: n_c > 0} recall_c            (unweighted average recall)
        wa       = sum_c (n_c / N) recall_c                    (= accuracy; the SER field's name)
        F1_c     = 2 C[c, c] / (n_c + sum_i C[i, c]),  macro_f1 = (1/K') sum_{c: n_c > 0} F1_c
    Classes absent from y_true (K' < K) are left out of the averages rather than counted as 0.

    Examples
    --------
    >>> m = metrics([0, 0, 0, 1], [0, 0, 0, 0], n_classes=2)     # always class 0
    >>> m["accuracy"], m["ua"], round(m["macro_f1"], 4)           # UA exposes it: (1 + 0) / 2
    (0.75, 0.5, 0.4286)
    """
    return metrics_from_confusion(confusion(y_true, y_pred, n_classes))


def metrics_from_confusion(C) -> dict:
    """``metrics`` of the utterances counted in the confusion matrix C (integer counts, K x K): the
    resampling intervals sum counts instead of relabelling utterances.

    Examples
    --------
    >>> m = metrics_from_confusion(np.array([[3, 0], [1, 0]]))   # the example of ``metrics``
    >>> m["accuracy"], m["ua"]
    (0.75, 0.5)
    """
    C = np.asarray(C).astype(np.float64)
    N = C.sum()
    n_true, n_pred, hit = C.sum(1), C.sum(0), np.diag(C)
    present = n_true > 0
    recall = hit[present] / n_true[present]
    f1 = 2 * hit[present] / (n_true[present] + n_pred[present])
    return {
        "accuracy": float(hit.sum() / N),
        "ua": float(recall.mean()),
        "wa": float((n_true[present] / N * recall).sum()),
        "macro_f1": float(f1.mean()),
        "confusion": C.astype(int).tolist(),
    }


def bootstrap_ci(y_true, y_pred, metric: str = "accuracy", n_boot: int = 1000, seed: int = 0,
                 n_classes: int = 4, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval: resample the N utterances with replacement n_boot times and
    take the (1-level)/2 and (1+level)/2 quantiles of the metric over the resamples.

    Examples
    --------
    >>> y = np.arange(200) % 4; pred = np.where(np.arange(200) % 5 == 0, (y + 1) % 4, y)   # 80 % right
    >>> lo, hi = bootstrap_ci(y, pred, n_boot=200)
    >>> bool(lo < 0.8 < hi), bool(hi - lo < 0.15)
    (True, True)
    """
    return bootstrap_cis(y_true, y_pred, (metric,), n_boot, seed, n_classes, level)[metric]


def bootstrap_cis(y_true, y_pred, names=("accuracy", "ua"), n_boot: int = 1000, seed: int = 0,
                  n_classes: int = 4, level: float = 0.95) -> dict:
    """{metric: ``bootstrap_ci``} for each of ``names``, all from the one set of resamples that
    ``bootstrap_ci`` draws with this seed (so each interval is the one it gives alone).

    Examples
    --------
    >>> y = np.arange(200) % 4; pred = np.where(np.arange(200) % 5 == 0, (y + 1) % 4, y)
    >>> cis = bootstrap_cis(y, pred, ("accuracy", "ua"), n_boot=200)
    >>> cis["ua"] == bootstrap_ci(y, pred, "ua", n_boot=200), sorted(cis)
    (True, ['accuracy', 'ua'])
    """
    for metric in names:
        if metric not in METRICS:
            raise SerRefError(f"metric must be one of {METRICS}, got {metric!r}")
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    cell = y_true * n_classes + y_pred  # checked once: each resample's confusion is a count of cells
    rng = np.random.default_rng(seed)
    values = {metric: np.empty(n_boot) for metric in names}
    for b in range(n_boot):
        i = rng.integers(0, len(y_true), len(y_true))
        m = metrics_from_confusion(np.bincount(cell[i], minlength=n_classes * n_classes).reshape(n_classes, n_classes))
        for metric in names:
            values[metric][b] = m[metric]
    return {metric: tuple(float(q) for q in np.quantile(v, [(1 - level) / 2, (1 + level) / 2]))
            for metric, v in values.items()}


def mcnemar(y_true, pred_a, pred_b, exact_below: int = 25) -> float:
    """Two-sided p-value of McNemar's test that systems a and b have the same error rate.

    b = #{a right, b wrong}, c = #{a wrong, b right}. Under H0 each discordant utterance is a fair
    coin: p = min(1, 2 P(Binom(b + c, 1/2) <= min(b, c))) when b + c < exact_below, else the
    continuity-corrected chi^2 = (|b - c| - 1)^2 / (b + c) on 1 degree of freedom.

    Examples
    --------
    >>> y = np.zeros(10, int)
    >>> mcnemar(y, y, np.ones(10, int))         # a is right on all 10 where b is wrong: 2 / 2^10
    0.001953125
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not (y_true.shape == pred_a.shape == pred_b.shape) or y_true.ndim != 1:
        raise SerRefError(f"mcnemar: y_true, pred_a, pred_b must be 1-D of equal length, got "
                          f"{y_true.shape}, {pred_a.shape}, {pred_b.shape}")
    ra, rb = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
    if b + c == 0:
        return 1.0
    if b + c < exact_below:
        return float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
    return float(stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1))


# ------------------------------------------------------------------------------ speaker level
def speaker_confusions(y_true, y_pred, speakers, n_classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(names, C): the S speakers in order of first appearance and C[s], the K x K confusion matrix
    of speaker s's utterances, so that sum_s C[s] = confusion(y_true, y_pred).

    First appearance, not sorted names: with one utterance per speaker, speaker s is utterance s,
    and ``speaker_bootstrap_ci`` then draws the very resamples of ``bootstrap_ci``.

    Examples
    --------
    >>> names, C = speaker_confusions([0, 1, 1], [0, 1, 0], ["b", "a", "b"], n_classes=2)
    >>> names.tolist(), C[0].tolist(), C[1].tolist()
    (['b', 'a'], [[1, 0], [1, 0]], [[0, 0], [0, 1]])
    """
    y_true, y_pred = _labels(y_true, y_pred, n_classes)
    speakers = np.asarray(speakers).astype(str)
    if speakers.shape != y_true.shape:
        raise SerRefError(f"speakers: expected one per utterance, {y_true.shape}, got shape {speakers.shape}")
    names, first, code = np.unique(speakers, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    S, K = len(names), n_classes
    cell = (rank[code] * K + y_true) * K + y_pred
    return names[order], np.bincount(cell, minlength=S * K * K).reshape(S, K, K)


def speaker_bootstrap_ci(y_true, y_pred, speakers, metric: str = "accuracy", n_boot: int = 1000, seed: int = 0,
                         n_classes: int = 4, level: float = 0.95) -> tuple[float, float]:
    """Cluster (speaker) bootstrap percentile interval: resample the S speakers with replacement,
    keep every utterance of each speaker drawn, and take the (1-level)/2 and (1+level)/2
    quantiles of the pooled metric over the n_boot resamples.

    With C_s the confusion matrix of speaker s and w_s the number of times resample b drew s,
    the resample's confusion matrix is C^(b) = sum_s w_s C_s; for accuracy

        acc^(b) = sum_s w_s hits_s / sum_s w_s n_s,

    a ratio over whole speakers, so its spread is that of the speakers, not of the utterances.
    Draw b is ``rng.integers(0, S, S)`` of ``default_rng(seed)``, the call of ``bootstrap_ci``:
    with one utterance per speaker (in input order) the two intervals are identical.

    Examples
    --------
    >>> spk = np.repeat(np.arange(8), 25); y = np.zeros(200, int)
    >>> pred = np.where(np.arange(200) % 25 < 5 * (spk % 5), 0, 1)   # speakers right 0 .. 80 % of the time
    >>> lo, hi = speaker_bootstrap_ci(y, pred, spk, n_classes=2)
    >>> ulo, uhi = bootstrap_ci(y, pred, n_classes=2)
    >>> bool(lo < 0.325 < hi), bool(hi - lo > 2 * (uhi - ulo))        # the speakers' spread is wider
    (True, True)
    """
    return speaker_bootstrap_cis(y_true, y_pred, speakers, (metric,), n_boot, seed, n_classes, level)[metric]


def speaker_bootstrap_cis(y_true, y_pred, speakers, names=("accuracy", "ua"), n_boot: int = 1000, seed: int = 0,
                          n_classes: int = 4, level: float = 0.95) -> dict:
    """{metric: ``speaker_bootstrap_ci``} for each of ``names``, all from the one set of speaker
    resamples that ``speaker_bootstrap_ci`` draws with this seed (so each interval is the one it
    gives alone; ``bootstrap_cis`` is the utterance twin).

    Examples
    --------
    >>> spk = np.repeat(np.arange(8), 25); y = np.arange(200) % 4
    >>> pred = np.where(np.arange(200) % 25 < 3 * (spk % 8), y, (y + 1) % 4)
    >>> cis = speaker_bootstrap_cis(y, pred, spk, n_boot=200)
    >>> cis["ua"] == speaker_bootstrap_ci(y, pred, spk, "ua", n_boot=200), sorted(cis)
    (True, ['accuracy', 'ua'])
    """
    for metric in names:
        if metric not in METRICS:
            raise SerRefError(f"metric must be one of {METRICS}, got {metric!r}")
    _, C = speaker_confusions(y_true, y_pred, speakers, n_classes)
    S = len(C)
    flat = C.reshape(S, -1)
    rng = np.random.default_rng(seed)
    values = {metric: np.empty(n_boot) for metric in names}
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, S, S), minlength=S)
        m = metrics_from_confusion((w @ flat).reshape(n_classes, n_classes))
        for metric in names:
            values[metric][b] = m[metric]
    return {metric: tuple(float(q) for q in np.quantile(v, [(1 - level) / 2, (1 + level) / 2]))
            for metric, v in values.items()}


def speaker_sign_flip(y_true, pred_a, pred_b, speakers) -> float:
    """Two-sided p-value of the exact sign-flip (permutation) test that systems a and b are equally
    accurate, with the speaker as the unit.

    D_s = #{a right} - #{b right} on speaker s's utterances = b_s - c_s (McNemar's discordant
    counts within speaker s), T = sum_s D_s (= N x the pooled accuracy difference). Under H0
    the two systems' predictions are exchangeable within each speaker, so each D_s is as likely to
    be -D_s: p = 2^-S #{eps in {-1, 1}^S : |sum_s eps_s D_s| >= |T|}. The distribution of the sum is
    computed exactly by convolving the S two-point distributions {-|D_s|, +|D_s|} on the integers
    (no sampling; float64 holds every probability k 2^-S exactly up to 52 speakers with D_s != 0).
    With one utterance per speaker it is McNemar's exact test.

    Examples
    --------
    >>> y = np.zeros(6, int); spk = [0, 0, 1, 1, 2, 2]
    >>> speaker_sign_flip(y, [0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1], spk)   # D = (2, 2, 1): only all + or all -
    0.25
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    speakers = np.asarray(speakers).astype(str)
    if not (y_true.shape == pred_a.shape == pred_b.shape == speakers.shape) or y_true.ndim != 1:
        raise SerRefError(f"speaker_sign_flip: y_true, pred_a, pred_b, speakers must be 1-D of equal length, got "
                          f"{y_true.shape}, {pred_a.shape}, {pred_b.shape}, {speakers.shape}")
    _, code = np.unique(speakers, return_inverse=True)
    D = np.bincount(code, weights=(pred_a == y_true).astype(np.int64) - (pred_b == y_true))
    return sign_flip_p(np.rint(D).astype(np.int64))


def sign_flip_p(D) -> float:
    """Exact two-sided p of the sign-flip test on integers D_1..D_S: the share of the 2^S sign
    vectors eps with |sum eps_s D_s| >= |sum D_s|.

    P(sum = k) is built one D_s at a time: P_s(k) = (P_{s-1}(k - |D_s|) + P_{s-1}(k + |D_s|)) / 2.

    Examples
    --------
    >>> sign_flip_p([1, 2, 3]), sign_flip_p([1, 1, 0]), sign_flip_p([1, 1, -1])   # 2/8, 4/8, 8/8
    (0.25, 0.5, 1.0)
    """
    D = np.asarray(D)
    if D.ndim != 1 or not np.issubdtype(D.dtype, np.integer):
        raise SerRefError(f"sign_flip_p: D must be a 1-D integer array, got {D.dtype} of shape {D.shape}")
    T = abs(int(D.sum()))
    a = np.abs(D[D != 0])
    M = int(a.sum())
    if T == 0:
        return 1.0
    p = np.zeros(2 * M + 1)
    p[M] = 1.0
    for v in a:
        q = np.zeros_like(p)
        q[v:] += p[:-v]
        q[:-v] += p[v:]
        p = 0.5 * q
    k = np.abs(np.arange(-M, M + 1))
    return float(min(1.0, p[k >= T].sum()))


# ------------------------------------------------------------------------------------------ folds
def standardize(train, test):
    """z = (x - mu) / sigma with mu, sigma over the training rows (frames, for per-utterance arrays);
    constant features get sigma = 1.

    Examples
    --------
    >>> tr, te = standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    >>> tr.ravel(), te.ravel()                  # mean 1, std 1 from the training rows only
    (array([-1.,  1.]), array([3.]))
    """
    if isinstance(train, np.ndarray):
        mu, sd = train.mean(0), train.std(0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        return (train - mu) / sd, (test - mu) / sd
    frames = np.concatenate([np.asarray(a, np.float64) for a in train], axis=0)
    mu, sd = frames.mean(0), frames.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return [((a - mu) / sd).astype(np.float32) for a in train], [((a - mu) / sd).astype(np.float32) for a in test]


def _take(X, idx):
    return X[idx] if isinstance(X, np.ndarray) else [X[i] for i in idx]


def _run_fold(fit_predict, X_train, y_train, X_test, seed, do_standardize):
    if do_standardize:
        X_train, X_test = standardize(X_train, X_test)
    return np.asarray(fit_predict(X_train, y_train, X_test, seed))


def run_loso(fit_predict, X, y, speakers, *, executor=None, standardize=True, seed: int = 0,
             n_classes: int = 4) -> LosoResult:
    """Train and test ``fit_predict(X_train, y_train, X_test, seed) -> y_pred`` on every LOSO fold.

    The in-memory LOSO loop for any callable (an oracle such as scikit-learn's forest, or
    ``functools.partial(systems.fit_predict_labels, name=...)``); the systems of the registry on
    cached features, with checkpoints, go through ``ser_ref.evaluation.runner.run`` instead.

    ``X``: (n, d) array or a list of n per-utterance (frames, d) arrays. Folds are submitted to
    ``executor`` (any concurrent.futures.Executor; default a spawned process pool over all cores,
    shut down afterwards; "serial" runs them here). Fold i gets seed ``seed + i``.

    Examples
    --------
    >>> X = np.arange(12.0)[:, None]; y = np.array([0, 1] * 6); spk = np.repeat(["a", "b", "c"], 4)
    >>> from functools import partial
    >>> from ser_ref.evaluation.systems import fit_predict_labels
    >>> res = run_loso(partial(fit_predict_labels, name="majority"), X, y, spk, executor="serial")
    >>> [f["test_speaker"] for f in res.folds], res.pooled["ua"]
    (['a', 'b', 'c'], 0.5)
    """
    y = np.asarray(y)
    speakers = np.asarray(speakers).astype(str)
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise SerRefError(f"X: expected (n, d) or a list of per-utterance arrays, got shape {X.shape}")
    elif not isinstance(X, (list, tuple)):
        raise SerRefError(f"X: expected an ndarray or a list of arrays, got {type(X).__name__}")
    if not (len(X) == len(y) == len(speakers)):
        raise SerRefError(f"X, y, speakers must have equal length, got {len(X)}, {len(y)}, {len(speakers)}")
    folds = loso_folds(speakers)
    own = executor is None
    if own:  # spawned workers with one BLAS/Numba thread each: the folds share out the cores
        executor = make_executor(min(len(folds), os.cpu_count() or 1))
    elif executor == "serial":
        executor = SerialExecutor()
    try:
        futures = [executor.submit(_run_fold, fit_predict, _take(X, f.train_idx), y[f.train_idx],
                                   _take(X, f.test_idx), seed + i, standardize) for i, f in enumerate(folds)]
        y_pred = np.full(len(y), -1, dtype=np.int64)
        for f, fut in zip(folds, futures):
            pred = np.asarray(fut.result()).reshape(-1)
            if pred.shape != f.test_idx.shape:
                raise SerRefError(f"fit_predict returned {pred.shape[0]} predictions for speaker "
                                  f"{f.test_speaker}'s {len(f.test_idx)} test utterances")
            y_pred[f.test_idx] = pred
    finally:
        if own:
            executor.shutdown()
    return summarize(y, y_pred, speakers, folds, n_classes)


def summarize(y_true, y_pred, speakers, folds, n_classes: int = 4) -> LosoResult:
    """Per-fold, per-speaker and pooled metrics of LOSO predictions given in input order.

    Examples
    --------
    >>> spk = np.array(["a", "a", "b", "b"])
    >>> res = summarize(np.array([0, 1, 0, 1]), np.array([0, 1, 1, 1]), spk, loso_folds(spk), n_classes=2)
    >>> res.per_speaker["a"]["accuracy"], res.per_speaker["b"]["accuracy"], res.pooled["accuracy"]
    (1.0, 0.5, 0.75)
    """
    res = LosoResult(np.asarray(y_true), np.asarray(y_pred), np.asarray(speakers).astype(str))
    for f in folds:
        m = metrics(res.y_true[f.test_idx], res.y_pred[f.test_idx], n_classes)
        res.folds.append({"test_speaker": f.test_speaker, "n": int(len(f.test_idx)), **m})
        res.per_speaker[f.test_speaker] = m
    res.pooled = metrics(res.y_true, res.y_pred, n_classes)
    res.fold_mean = {k: float(np.mean([fo[k] for fo in res.folds])) for k in METRICS}
    return res


def _labels(y_true, y_pred, n_classes):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise SerRefError(f"y_true and y_pred must be non-empty 1-D of equal length, got {y_true.shape}, {y_pred.shape}")
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(v.dtype, np.integer) or v.min() < 0 or v.max() >= n_classes:
            raise SerRefError(f"{name}: labels must be integers in [0, {n_classes}), got {np.unique(v)[:8]}")
    return y_true.astype(np.int64), y_pred.astype(np.int64)
