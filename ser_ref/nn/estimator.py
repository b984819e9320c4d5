"""What the four networks of Table 2 share: the scikit-learn surface and the training statistics.

    x <- (x - mu_) / sd_                       every feature z-scored with the training frames' mean and std
    w_c = n / (K n_c)                          the loss weight of class c ("balanced", TrainConfig.class_weights)
    log P(c | utt) = log softmax_c( mean_t log P(c | x_t) )   an utterance from its frames' (or chunks')
                                               decisions: a normalised geometric mean of the probabilities
    predict(feats) = argmax_c P(c | utt)

Constructor arguments are stored as given (``get_params`` / ``set_params`` read them, as in scikit-learn)
and checked by ``fit``, which also resolves ``device`` into the array module ``xp_`` and ``config`` into
the TrainConfig ``config_``; what ``fit`` learns ends in an underscore (``n_features_in_``, ``mu_``, ``sd_``,
``history_`` and the sub-networks ``net_``, ``dense1_``, ``dense2_``, ``lstm2_``), so a model is fitted
exactly when it has ``n_features_in_``. docs/training-choices.md gives every reason.

A model saves itself to one .npz of plain arrays (``ser_ref.files.modelfile``, kind "network"):
    settings     the model's name (``system``), its parameters but the device, and the TrainConfig
                 (max_len crops the LSTM's input at prediction time)
    mu, sd       the standardisation statistics of the training frames (x - mu) / sd (Dense1's
                 in the two-stage models)
    nets         every sub-network's parameters, named <net>/<parameter>: net/W0 (Frame Dense,
                 LSTM), dense1/W0 and dense2/W0 or lstm2/W (the two-stage models)
``load`` rebuilds a model of its own class; ``ser_ref.nn.persist`` loads any of them by the name it records.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..files import modelfile
from ..runtime.backend import get_xp, to_host
from ..runtime.params import Params, check_whole
from ..errors import NotFittedError
from .activations import check_activation
from .validation import NNInputError, check_features, check_labels
from .softmax_ce import log_softmax
from .training import TrainConfig, class_weight_vector, resolve_config, standardize_inplace, standardizer

KIND = "network"  # the model file's kind (ser_ref.files.modelfile)
# the parameters a model file records (all but device and config, which is recorded resolved), in this order
SETTINGS = ("n_classes", "seed", "hidden", "units", "chunk_len", "activation")
LOWEST = {"n_classes": 2, "seed": 0, "hidden": 1, "units": 1, "chunk_len": 1}  # the integer parameters' bounds


def mean_logprob(logp, counts):
    """Utterance log-probabilities from their rows': log softmax of the mean, ``counts`` rows each.

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])      # utterance 1: rows 0-1, utterance 2: row 2
    >>> np.exp(mean_logprob(np.log(P), [2, 1])).round(3)
    array([[0.75, 0.25],
           [0.2 , 0.8 ]])
    """
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mean = np.add.reduceat(logp.astype(np.float64), starts, axis=0) / np.asarray(counts)[:, None]
    return log_softmax(mean)


def _config_meta(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    if isinstance(d["class_weights"], (tuple, list, np.ndarray)):
        d["class_weights"] = [float(w) for w in d["class_weights"]]
    return d


class UtteranceClassifier(Params):
    """fit(feats, y, groups) -> self; predict_proba(feats) -> (n_utt, n_classes); predict; save; load.

    ``feats`` is a list of (frames, features) arrays, one per utterance; ``groups`` their speakers
    (whole speakers are held out for early stopping). A subclass trains its nets in ``fit`` between
    ``_begin_fit`` (or ``_begin``) and ``_end_fit``, and gives ``_utterance_logprobs``, ``_subnets``
    and ``_restore``.
    """

    system = None  # the model's name in ser_ref.nn.models.MODELS, which a saved file records

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None):
        self.n_classes, self.seed, self.device, self.config = n_classes, seed, device, config

    def _resolve(self):
        """Check the parameters; ``xp_`` (numpy or cupy) from ``device`` and ``config_`` from ``config``."""
        params = self.get_params()
        for name, low in LOWEST.items():
            if name in params:
                check_whole(params[name], name, low, error=NNInputError)
        if "activation" in params:
            check_activation(params["activation"])
        self.config_ = resolve_config(self.config)
        self.xp_ = get_xp(self.device)

    def _begin(self):
        """A fit starts: the model is unfitted until it ends, its parameters checked and resolved."""
        self.__dict__.pop("n_features_in_", None)  # a fit that fails leaves the model unfitted
        self._resolve()

    def _begin_fit(self, feats, y, groups, stats=None):
        """(n_features, checked labels, the seeded generator), with mu_ and sd_ set; ``stats``:
        ``standardizer(feats)`` if the caller already has it (the models of one fold share it)."""
        self._begin()
        n_features = check_features(feats)
        y = check_labels(y, len(feats), self.n_classes)
        if groups is not None and len(groups) != len(feats):
            raise NNInputError(f"groups must hold one speaker per utterance ({len(feats)}), got {len(groups)}")
        rng = np.random.default_rng(self.seed)
        self.mu_, self.sd_ = None, None
        if self.config_.standardize:
            self.mu_, self.sd_ = stats if stats is not None else standardizer(feats)
        return n_features, y, rng

    def _end_fit(self, n_features, history):
        self.n_features_in_, self.history_ = n_features, history
        return self

    def standardize(self, X):
        """In place on a float32 array we own: X = (X - mu_) / sd_ over the last axis."""
        if self.mu_ is not None:
            standardize_inplace(X, self.mu_, self.sd_)
        return X

    def _class_weights(self, y):
        return class_weight_vector(y, self.n_classes, self.config_.class_weights)

    def predict_proba(self, feats):
        """P(class | utterance), (n_utt, n_classes), rows summing to 1."""
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(feats, y) before predicting")
        d = check_features(feats)
        if d != self.n_features_in_:
            raise NNInputError(f"feats have {d} features, the model was fitted on {self.n_features_in_}")
        return np.exp(self._utterance_logprobs(feats))

    def predict(self, feats):
        """The most probable class of each utterance, (n_utt,)."""
        return np.argmax(self.predict_proba(feats), axis=1)

    # ------------------------------------------------------------ persistence (ser_ref.files.modelfile)
    def _subnets(self) -> dict:
        """{name: fitted FrameNet or SequenceNet}: what a file stores as name/<parameter>."""
        raise NotImplementedError

    def _standardiser(self):
        """Who holds mu_ and sd_: the model, or a two-stage model's Dense1."""
        return self

    def _restore(self, arrays: dict, source: str) -> None:
        """Rebuild the sub-networks from a file's ``arrays`` (``_net_params`` picks each one's)."""
        raise NotImplementedError

    def _net_params(self, arrays: dict, name: str, source: str) -> dict:
        """Sub-network ``name``'s saved parameters (name/<parameter>) on this model's device."""
        params = {k.split("/", 1)[1]: self.xp_.asarray(v) for k, v in arrays.items() if k.startswith(name + "/")}
        if not params:
            raise modelfile.ModelFileError(f"{source}: the {self.system} model has no {name} parameters")
        return params

    def to_arrays(self) -> tuple[dict, dict]:
        """(arrays, settings) of the fitted model: what ``from_arrays`` needs to rebuild it.

        Examples
        --------
        >>> from ser_ref.nn import FrameDense
        >>> rng = np.random.default_rng(0)
        >>> feats = [rng.normal(size=(9, 5)) for _ in range(8)]
        >>> m = FrameDense(hidden=4, config={"epochs": 1}).fit(feats, np.arange(8) % 4)
        >>> arrays, settings = m.to_arrays()
        >>> sorted(arrays), settings["system"], settings["hidden"]
        (['mu', 'net/W0', 'net/W1', 'net/b0', 'net/b1', 'sd'], 'dense', 4)
        """
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(feats, y) before save")
        if self.system is None:
            raise TypeError(f"not one of the models in ser_ref.nn.MODELS: {type(self).__name__}")
        arrays = {}
        standardised = self._standardiser()
        if standardised.mu_ is not None:
            arrays["mu"], arrays["sd"] = standardised.mu_, standardised.sd_
        for name, net in self._subnets().items():
            for k, v in net.params_.items():
                arrays[f"{name}/{k}"] = to_host(v)
        params = self.get_params()
        settings = {"system": self.system, "n_features": self.n_features_in_, "config": _config_meta(self.config_),
                    **{k: params[k] if k == "activation" else int(params[k]) for k in SETTINGS if k in params}}
        return arrays, settings

    @classmethod
    def from_arrays(cls, arrays: dict, settings: dict, device: str = "cpu", source: str = "<arrays>"):
        """The fitted model ``to_arrays`` described, on ``device`` ("cpu" or "gpu").

        Examples
        --------
        >>> from ser_ref.nn import FrameDense, UtteranceLSTM
        >>> feats = [np.random.default_rng(k).normal(size=(9, 5)) for k in range(8)]
        >>> arrays, settings = UtteranceLSTM(units=3, config={"epochs": 1}).fit(feats, np.arange(8) % 4).to_arrays()
        >>> UtteranceLSTM.from_arrays(arrays, settings).net_.params_["W"].shape     # 5 inputs, 4 gates x 3 units
        (5, 12)
        >>> FrameDense.from_arrays(arrays, settings, source="m.npz")
        Traceback (most recent call last):
        ...
        ser_ref.nn.validation.NNInputError: m.npz: holds a 'lstm' network, not a FrameDense ('dense')
        """
        if settings["system"] != cls.system:
            raise NNInputError(f"{source}: holds a {settings['system']!r} network, "
                               f"not a {cls.__name__} ({cls.system!r})")
        cfg = dict(settings["config"])
        if isinstance(cfg.get("class_weights"), list):
            cfg["class_weights"] = tuple(cfg["class_weights"])
        model = cls(device=device, config=TrainConfig(**cfg), **{k: settings[k] for k in SETTINGS if k in settings})
        model._resolve()
        model._restore(arrays, source)
        standardised = model._standardiser()
        standardised.mu_ = standardised.sd_ = None
        if "mu" in arrays:
            standardised.mu_, standardised.sd_ = arrays["mu"].astype(np.float32), arrays["sd"].astype(np.float32)
        standardised.n_features_in_ = model.n_features_in_ = int(settings["n_features"])
        return model

    def save(self, path, meta=None):
        """Write the fitted model (plus ``meta``) to one .npz of plain arrays.

        >>> import os, tempfile
        >>> from ser_ref.nn import FrameDense
        >>> rng = np.random.default_rng(0)
        >>> feats = [rng.normal(size=(30, 8)).astype(np.float32) + (i % 2) for i in range(8)]
        >>> m = FrameDense(n_classes=2, hidden=4, config="quick").fit(feats, np.arange(8) % 2)
        >>> p = os.path.join(tempfile.mkdtemp(), "dense.npz"); m.save(p)
        >>> bool(np.array_equal(FrameDense.load(p).predict_proba(feats), m.predict_proba(feats)))
        True
        """
        arrays, settings = self.to_arrays()
        modelfile.write(path, KIND, arrays, {**(meta or {}), "network": settings})

    @classmethod
    def load(cls, path, device="cpu"):
        """The model ``save`` wrote, checked to be a ``cls``, on ``device``."""
        arrays, meta = modelfile.read(path, kind=KIND)
        return cls.from_arrays(arrays, meta["network"], device, source=str(path))
