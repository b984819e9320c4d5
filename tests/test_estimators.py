"""Every estimator follows scikit-learn's conventions: the constructor only stores its arguments (a bad
device, config or size is refused by fit, not before), get_params / set_params read the constructor's
signature, what fit learns ends in an underscore, an unfitted estimator raises NotFittedError, and an
estimator rebuilt from get_params and fitted alike predicts the same bytes."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from ser_ref.errors import BackendError, NotFittedError, SerRefError
from ser_ref.evaluation.systems import ForestOnFunctionals, Majority
from ser_ref.forest.random_forest import RandomForest
from ser_ref.nn import Dense1, Dense1Dense2, Dense1LSTM2, FrameDense, NNInputError, UtteranceLSTM
from ser_ref.runtime.params import param_names

TINY = {"epochs": 2, "patience": 0, "max_frames": 8, "frame_batch_size": 32, "batch_size": 4, "max_len": 12}
NETS = {FrameDense: {"hidden": 6}, UtteranceLSTM: {"units": 3}, Dense1: {"hidden": 6},
        Dense1Dense2: {"hidden": 6, "chunk_len": 4}, Dense1LSTM2: {"hidden": 6, "units": 3, "chunk_len": 4}}
# (class, constructor arguments other than the defaults); the networks read utterances, the rest rows
ESTIMATORS = [(cls, {"seed": 3, "config": TINY, **kw}) for cls, kw in NETS.items()] + [
    (RandomForest, {"n_trees": 4, "max_depth": 3, "seed": 3, "n_jobs": 1}),
    (ForestOnFunctionals, {"n_trees": 4, "max_depth": 3, "seed": 3}),
    (Majority, {}),
]
IDS = [cls.__name__ for cls, _ in ESTIMATORS]


@pytest.fixture(scope="module")
def data():
    """16 utterances of 4 speakers: (frames, 5) arrays for the networks, their means as rows for the rest."""
    rng = np.random.default_rng(0)
    y = np.arange(16) % 4
    feats = [(rng.normal(size=(int(rng.integers(10, 30)), 5)) + y[i]).astype(np.float32) for i in range(16)]
    return feats, np.stack([f.mean(0) for f in feats]), y, np.repeat(list("abcd"), 4)


def _fit(est, data):
    feats, rows, y, speakers = data
    if isinstance(est, RandomForest):
        return est.fit(rows, y)
    return est.fit(feats if isinstance(est, tuple(NETS)) else rows, y, speakers)


def _proba(est, data):
    feats, rows, _, _ = data
    return est.predict_proba(feats if isinstance(est, tuple(NETS)) else rows)


@pytest.mark.parametrize("cls,kw", ESTIMATORS, ids=IDS)
def test_get_params_are_the_constructor_arguments_as_given(cls, kw):
    est = cls(**kw)
    params = est.get_params()
    signature = [] if cls.__init__ is object.__init__ else list(inspect.signature(cls.__init__).parameters)[1:]
    assert list(params) == signature
    assert all(params[k] is v for k, v in kw.items())  # stored unchanged, not converted or resolved
    twin = cls(**params)
    assert twin.get_params() == params
    assert cls().set_params(**params).get_params() == params
    assert not any(k.endswith("_") for k in vars(est))  # nothing learned before fit


@pytest.mark.parametrize("cls,kw", [e for e in ESTIMATORS if e[0] is not Majority], ids=IDS[:-1])
def test_device_is_a_constructor_parameter_checked_by_fit(cls, kw, data):
    est = cls(**kw, device="cuda")  # a typo must not quietly mean the CPU, and is not the constructor's to check
    assert est.get_params()["device"] == "cuda"
    with pytest.raises(BackendError, match=r"device must be one of \('cpu', 'gpu'\), got 'cuda'"):
        _fit(est, data)
    assert not hasattr(est, "n_features_in_") and not hasattr(est, "forest_")


@pytest.mark.parametrize("cls", list(NETS), ids=[c.__name__ for c in NETS])
def test_a_network_constructor_does_no_work(cls, data):
    """Bad config, sizes and activations are stored as given and named by fit."""
    bad = {"config": {"nonsense": 1}, "n_classes": 1, "seed": -1}
    if "hidden" in param_names(cls):
        bad["hidden"] = 0
    if "units" in param_names(cls):
        bad.update(units=2.5, activation="sigmoid")
    if "chunk_len" in param_names(cls):
        bad["chunk_len"] = 0
    for name, value in bad.items():
        est = cls(**{"config": TINY, **NETS[cls], name: value})
        assert getattr(est, name) is value
        with pytest.raises(NNInputError, match=name):
            _fit(est, data)
        assert not hasattr(est, "n_features_in_")


@pytest.mark.parametrize("cls,kw", ESTIMATORS, ids=IDS)
def test_an_unfitted_estimator_refuses_to_predict(cls, kw, data):
    with pytest.raises(NotFittedError, match=f"this {cls.__name__} is not fitted yet: call fit"):
        _proba(cls(**kw), data)


@pytest.mark.parametrize("cls,kw", ESTIMATORS, ids=IDS)
def test_a_clone_from_get_params_predicts_the_same_bytes(cls, kw, data):
    est = _fit(cls(**kw), data)
    clone = _fit(type(est)(**est.get_params()), data)
    assert _proba(clone, data).tobytes() == _proba(est, data).tobytes()


@pytest.mark.parametrize("cls,kw", ESTIMATORS, ids=IDS)
def test_set_params_refuses_an_unknown_name_and_changes_nothing(cls, kw):
    est = cls(**kw)
    before = est.get_params()
    changes = {**{k: None for k in list(before)[:1]}, "devise": "gpu"}  # a good name before the typo
    with pytest.raises(SerRefError, match=f"^{cls.__name__} has no parameter 'devise'"):
        est.set_params(**changes)
    assert est.get_params() == before


def test_set_params_takes_effect_at_the_next_fit(data):
    a = _fit(FrameDense(seed=1, config=TINY, hidden=6), data)
    b = _fit(FrameDense(seed=2, config=TINY, hidden=6), data).set_params(seed=1)
    assert _proba(a, data).tobytes() != _proba(b, data).tobytes()  # still the seed-2 fit
    assert _proba(a, data).tobytes() == _proba(_fit(b, data), data).tobytes()


def test_fitted_attributes_end_in_an_underscore(data):
    assert _fit(Majority(), data).label_ == 0
    forest = _fit(ForestOnFunctionals(n_trees=3, device="cpu"), data).forest_
    assert isinstance(forest, RandomForest) and forest.get_params()["device"] == "cpu"
    for cls, kw in NETS.items():
        est = _fit(cls(config=TINY, **kw), data)
        learned = set(vars(est)) - set(param_names(cls))
        assert learned and all(k.endswith("_") for k in learned), (cls.__name__, sorted(learned))
        for name in ("net_", "dense2_", "lstm2_"):
            if hasattr(est, name):
                net = getattr(est, name)
                assert {"params_", "history_"} <= set(vars(net))
