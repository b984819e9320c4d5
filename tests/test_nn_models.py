"""Model-level checks of ser_ref.nn: the four architectures learn a separable generated problem,
stay at chance on shuffled labels, are deterministic per seed, and reject bad input by name;
the training helpers (splits, chunks, class weights, early stopping) do what they promise."""
from __future__ import annotations

import numpy as np
import pytest

from ser_ref.runtime.backend import gpu_available
from ser_ref.errors import NotFittedError
from ser_ref.nn import MODELS, QUICK, NNInputError, TrainConfig
from ser_ref.nn.training import chunk_sequence, class_weight_vector, fit_adam, split_by_speaker

K, D = 4, 24


def make_corpus(seed, n_speakers, per_speaker=12, sep=1.0, means_seed=7):
    """Utterances of 25..70 frames whose frames scatter (sd 2) around a class mean, plus a speaker offset.
    The class means come from ``means_seed`` so train and test corpora share them."""
    means = np.random.default_rng(means_seed).normal(size=(K, D)) * sep
    rng = np.random.default_rng(seed)
    feats, y, g = [], [], []
    for s in range(n_speakers):
        offset = rng.normal(size=D) * 0.3
        for u in range(per_speaker):
            c = u % K
            T = int(rng.integers(25, 71))
            feats.append((means[c] + offset + 2 * rng.normal(size=(T, D))).astype(np.float32))
            y.append(c)
            g.append(f"spk{seed}_{s}")
    return feats, np.array(y), np.array(g)


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(1, 8), make_corpus(2, 5)


SMALL = {"dense": {"hidden": 32}, "lstm": {"units": 12}, "dense1+dense2": {"hidden": 32, "chunk_len": 10},
         "dense1+lstm2": {"hidden": 32, "units": 12, "chunk_len": 10}}


@pytest.mark.parametrize("name", list(MODELS))
def test_learns_separable_problem(corpus, name):
    (F, y, g), (Ft, yt, _) = corpus
    # 72 utterances make only 3 steps an epoch: the LSTM nets get the dense nets' learning rate
    m = MODELS[name](seed=0, config={"lstm_lr": 1e-3}, **SMALL[name]).fit(F, y, g)
    acc = (m.predict(Ft) == yt).mean()
    assert acc >= 0.9, f"{name}: held-out speaker accuracy {acc:.2f} on a separable problem"
    P = m.predict_proba(Ft)
    assert P.shape == (len(Ft), K)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_shuffled_labels_stay_at_chance(corpus, name):
    (F, y, g), (Ft, yt, _) = corpus
    y_shuffled = np.random.default_rng(3).permutation(y)
    m = MODELS[name](seed=0, **SMALL[name]).fit(F, y_shuffled, g)
    acc = (m.predict(Ft) == yt).mean()
    assert acc <= 0.5, f"{name}: accuracy {acc:.2f} on 60 utterances with shuffled training labels (chance 0.25)"


@pytest.mark.parametrize("name", list(MODELS))
def test_same_seed_same_numbers(corpus, name):
    (F, y, g), (Ft, _, _) = corpus
    cfg = TrainConfig(epochs=3)
    p1 = MODELS[name](seed=5, config=cfg, **SMALL[name]).fit(F, y, g).predict_proba(Ft)
    p2 = MODELS[name](seed=5, config=cfg, **SMALL[name]).fit(F, y, g).predict_proba(Ft)
    p3 = MODELS[name](seed=6, config=cfg, **SMALL[name]).fit(F, y, g).predict_proba(Ft)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_works_without_speakers_and_with_quick_config(corpus):
    (F, y, _), (Ft, yt, _) = corpus
    for name, cls in MODELS.items():
        m = cls(seed=0, config=QUICK, **SMALL[name]).fit(F, y)
        assert m.predict(Ft).shape == yt.shape


def test_bad_input_is_named(corpus):
    (F, y, g), _ = corpus
    m = MODELS["dense"](hidden=8)
    with pytest.raises(NNInputError, match="y must"):
        m.fit(F, y[:-1], g)
    with pytest.raises(NNInputError, match=r"y must lie in \[0, 4\)"):
        m.fit(F, y + 1, g)
    with pytest.raises(NNInputError, match="integer"):
        m.fit(F, y.astype(float), g)
    with pytest.raises(NNInputError, match="non-empty list"):
        m.fit([], y, g)
    bad = list(F)
    bad[3] = bad[3].copy()
    bad[3][0, 0] = np.nan
    with pytest.raises(NNInputError, match=r"feats\[3\] holds NaN"):
        m.fit(bad, y, g)
    with pytest.raises(NNInputError, match=r"feats\[1\] has 5 features"):
        m.fit([F[0], F[1][:, :5]], y[:2], g[:2])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        m.predict(F)
    with pytest.raises(NNInputError, match="groups"):
        m.fit(F, y, g[:-1])
    m.fit(F, y, g)
    with pytest.raises(NNInputError, match="features"):
        m.predict([f[:, :10] for f in F])
    with pytest.raises(NNInputError, match="lr"):
        TrainConfig(lr=-1)
    with pytest.raises(NNInputError, match="config"):
        MODELS["lstm"](config={"epochs": 3, "nonsense": 1}).fit(F, y, g)
    with pytest.raises(NNInputError, match="activation"):
        MODELS["lstm"](activation="sigmoid").fit(F, y, g)
    with pytest.raises(NNInputError, match="class_weights"):
        MODELS["dense"](config={"class_weights": [1, 2]}).fit(F, y, g)


@pytest.mark.parametrize("name", list(MODELS))
def test_unfitted_model_refuses_to_predict_or_save(corpus, tmp_path, name):
    """Fitted is having ``n_features_in_`` (scikit-learn's convention): none before fit, the data's after."""
    (F, y, g), _ = corpus
    m = MODELS[name](seed=0, config=TrainConfig(epochs=1), **SMALL[name])
    with pytest.raises(NotFittedError, match=f"this {type(m).__name__} is not fitted yet: call fit"):
        m.predict_proba(F)
    with pytest.raises(NotFittedError, match="before save"):
        m.save(tmp_path / "m.npz")
    assert m.fit(F, y, g).n_features_in_ == D


def test_split_by_speaker_holds_out_whole_speakers():
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(4), 30)
    groups = np.repeat(np.arange(12), 10)
    keep, held = split_by_speaker(y, groups, 0.25, rng)
    assert set(groups[keep]).isdisjoint(groups[held])
    assert len(set(groups[held])) == 3 and len(keep) + len(held) == len(y)
    keep, held = split_by_speaker(y, None, 0.25, rng)  # no speakers: stratified per class
    assert np.bincount(y[held]).tolist() == [8, 8, 8, 8]
    keep, held = split_by_speaker(y, np.zeros(len(y)), 0.25, rng)  # one speaker: nothing to hold out
    assert len(held) == 0


def test_class_weights_balance_the_loss():
    y = np.array([0] * 6 + [1] * 2 + [2] * 4)
    w = class_weight_vector(y, 4, "balanced")
    totals = np.bincount(y, weights=w[y], minlength=4)
    np.testing.assert_allclose(totals[:3], totals[0])  # each present class weighs the same in total
    assert w[3] == 0


@pytest.mark.parametrize("T,L", [(40, 20), (45, 20), (7, 20), (20, 20), (1, 3)])
def test_chunks_cover_every_frame(T, L):
    p = np.arange(T * 2, dtype=float).reshape(T, 2)
    c = chunk_sequence(p, L)
    assert c.shape[1:] == (L, 2) and c.shape[0] == max(1, -(-T // L))
    covered = {tuple(r) for r in c.reshape(-1, 2)}
    assert covered == {tuple(r) for r in p}
    np.testing.assert_array_equal(c[0, :min(T, L)], p[:min(T, L)])


def test_early_stopping_keeps_the_best_epoch():
    """Validation loss falls for 3 epochs then rises: the returned parameters are those after epoch 3."""
    params = {"W": np.zeros(1)}
    seen = []

    def loss_grads(p, batch):
        return 0.0, {"W": -np.ones(1)}  # Adam moves W up by about lr each step

    def val_loss(p):
        seen.append(p["W"][0])
        return (p["W"][0] - 3 * 0.1) ** 2

    cfg = TrainConfig(epochs=20, lr=0.1, patience=2, weight_decay=0, clip_norm=0)
    best, hist = fit_adam(params, lambda r: [None], loss_grads, val_loss, cfg, np.random.default_rng(0))
    assert len(hist) == 5  # 3 improving epochs + 2 of patience
    assert best["W"][0] == pytest.approx(seen[2]) and best["W"][0] == pytest.approx(0.3, abs=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="no CUDA device (needs CuPy and a GPU)")
def test_numpy_and_cupy_agree(corpus):
    import cupy

    from ser_ref.nn import dense_forward, lstm_backward, lstm_forward
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 9, 6)).astype(np.float32)
    W, U, b = (rng.normal(size=s).astype(np.float32) * 0.3 for s in [(6, 32), (8, 32), (32,)])
    mask = (np.arange(9)[None] < np.array([9, 5, 2, 1])[:, None]).astype(np.float32)
    dh = rng.normal(size=(4, 9, 8)).astype(np.float32)
    for act in ("tanh", "relu"):
        h, c = lstm_forward(x, W, U, b, act, mask)
        hg, cg = lstm_forward(*(cupy.asarray(a) for a in (x, W, U, b)), act, cupy.asarray(mask))
        np.testing.assert_allclose(h, hg.get(), rtol=1e-4, atol=1e-5)
        for a, ag in zip(lstm_backward(dh, c), lstm_backward(cupy.asarray(dh), cg)):
            np.testing.assert_allclose(a, ag.get(), rtol=1e-4, atol=1e-4)
    y, c = dense_forward(x[0], W, b)
    yg, cg = dense_forward(cupy.asarray(x[0]), cupy.asarray(W), cupy.asarray(b))
    np.testing.assert_allclose(y, yg.get(), rtol=1e-5, atol=1e-5)
    (F, yl, g), (Ft, _, _) = corpus
    for name, cls in MODELS.items():
        cfg = TrainConfig(epochs=2)
        pc = cls(seed=0, config=cfg, **SMALL[name]).fit(F, yl, g).predict_proba(Ft)
        pg = cls(seed=0, config=cfg, device="gpu", **SMALL[name]).fit(F, yl, g).predict_proba(Ft)
        np.testing.assert_allclose(pc, pg, atol=2e-3)


def test_a_handed_dense1_is_exact(corpus):
    """One fitted Dense1 handed to both two-stage models at two chunk lengths gives the numbers of
    fits that train their own Dense1 from scratch."""
    from ser_ref.nn import Dense1

    (F, y, g), (Ft, _, _) = corpus
    cfg = TrainConfig(epochs=3)
    kw = {"dense1+dense2": {}, "dense1+lstm2": {"units": 6}}
    dense1 = Dense1(seed=1, config=cfg, hidden=16).fit(F, y, g)
    for name in ("dense1+dense2", "dense1+lstm2"):
        for L in (5, 10):
            handed = MODELS[name](seed=1, config=cfg, hidden=16, chunk_len=L, **kw[name]).fit(F, y, g, dense1=dense1)
            fresh = MODELS[name](seed=1, config=cfg, hidden=16, chunk_len=L, **kw[name]).fit(F, y, g)
            np.testing.assert_array_equal(handed.predict_proba(Ft), fresh.predict_proba(Ft))
    with pytest.raises(NNInputError, match="seed=1, this model has 2"):
        MODELS["dense1+lstm2"](seed=2, config=cfg, hidden=16, units=6).fit(F, y, g, dense1=dense1)
    with pytest.raises(NNInputError, match="not fitted on these utterances"):
        MODELS["dense1+lstm2"](seed=1, config=cfg, hidden=16, units=6).fit(F[1:], y[1:], g[1:], dense1=dense1)
