"""What the four networks of Table 2 share: the scikit-learn surface and the training statistics.

    x <- (x - mu_) / sd_                       every feature z-scored with the training frames' mean and std
    w_c = n / (K n_c)                          the loss weight of class c ("balanced", TrainConfig.class_weights)
    log P(c | utt) = log softmax_c( mean_t log P(c | x_t) )   an utterance from its frames' (or chunks')
                                               decisions: a normalised geometric mean of the probabilities
    predict(feats) = argmax_c P(c | utt)

Constructor arguments are stored as given; what ``fit`` learns ends in an underscore (``n_features_in_``,
``mu_``, ``sd_``, ``history_`` and the sub-networks ``net_``, ``dense1_``, ``dense2_``, ``lstm2_``), so a
model is fitted exactly when it has ``n_features_in_``. docs/training-choices.md gives every reason.
"""
from __future__ import annotations

import numpy as np

from ..runtime.backend import get_xp
from ..errors import NotFittedError
from .validation import NNInputError, check_features, check_labels
from .softmax_ce import log_softmax
from .training import class_weight_vector, resolve_config, standardize_inplace, standardizer


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


class UtteranceClassifier:
    """fit(feats, y, groups) -> self; predict_proba(feats) -> (n_utt, n_classes); predict; save; load.

    ``feats`` is a list of (frames, features) arrays, one per utterance; ``groups`` their speakers
    (whole speakers are held out for early stopping). A subclass trains its nets in ``fit`` between
    ``_begin_fit`` and ``_end_fit`` and gives ``_utterance_logprobs``.
    """

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None):
        if int(n_classes) < 2:
            raise NNInputError(f"n_classes must be >= 2, got {n_classes!r}")
        self.n_classes, self.seed, self.device = int(n_classes), int(seed), device
        self.config = resolve_config(config)
        self.xp = get_xp(device)

    def _begin_fit(self, feats, y, groups, stats=None):
        """(n_features, checked labels, the seeded generator), with mu_ and sd_ set; ``stats``:
        ``standardizer(feats)`` if the caller already has it (the models of one fold share it)."""
        self.__dict__.pop("n_features_in_", None)  # a fit that fails leaves the model unfitted
        n_features = check_features(feats)
        y = check_labels(y, len(feats), self.n_classes)
        if groups is not None and len(groups) != len(feats):
            raise NNInputError(f"groups must hold one speaker per utterance ({len(feats)}), got {len(groups)}")
        rng = np.random.default_rng(self.seed)
        self.mu_, self.sd_ = None, None
        if self.config.standardize:
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
        return class_weight_vector(y, self.n_classes, self.config.class_weights)

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

    def save(self, path, meta=None):
        """Write the fitted model to one .npz of plain arrays (``ser_ref.nn.persist.save_model``)."""
        from .persist import save_model

        save_model(self, path, meta)

    @classmethod
    def load(cls, path, device="cpu"):
        """The model ``save`` wrote (``ser_ref.nn.persist.load_model``), checked to be a ``cls``."""
        from .persist import load_model

        model = load_model(path, device)
        if not isinstance(model, cls):
            raise NNInputError(f"{path}: holds a {type(model).__name__}, not a {cls.__name__}")
        return model
