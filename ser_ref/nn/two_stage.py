"""The two-stage networks of Table 2: Dense1 on half A of the training speakers, a second net on half B.

    Dense1        a FrameDense (2048 -> 204 -> 4 per frame) trained on half A; its output on half B is
                  P(c | frame) for every frame, a (T, 4) sequence per utterance
    chunks        each such sequence cut into chunk_len-frame chunks (chunk_sequence), (chunk_len, 4) each
    Dense1Dense2  Dense2: a dense softmax on each chunk flattened to chunk_len x 4 inputs
    Dense1LSTM2   LSTM2: LSTM(units, relu) -> dense softmax over each chunk as a sequence of 4-vectors
    utterance     log P(c | utt) = log softmax_c(mean over its chunks of log P(c | chunk))

Dense1 depends on neither the second stage nor the chunk length, so one fitted Dense1 is handed to
``fit(..., dense1=...)`` of both models and every chunk length (ser_ref.evaluation.runner does, once per fold). It
carries the random generator's state after its own training, so a handed Dense1 gives the numbers,
bit for bit, of a fit that trains its own.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .validation import NNInputError
from .estimator import UtteranceClassifier, mean_logprob
from .frame_nets import FrameDense, FrameNet
from .sequence_nets import SequenceNet
from .training import chunk_sequence, resolve_config, split_by_speaker


class Dense1(FrameDense):
    """Stage one of Dense1+Dense2 and Dense1+LSTM2: a FrameDense trained on half A, kept with its
    frame probabilities on half B (``probs_b_``, the second stage's input) and the generator's state.

    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(12, 6)).astype(np.float32) for _ in range(8)]
    >>> y, spk = np.arange(8) % 4, np.repeat(["a", "b"], 4)
    >>> d1 = Dense1(config={"epochs": 1}, hidden=5).fit(feats, y, spk)
    >>> p1 = Dense1LSTM2(config={"epochs": 1}, hidden=5, chunk_len=4).fit(feats, y, spk, dense1=d1)
    >>> p2 = Dense1LSTM2(config={"epochs": 1}, hidden=5, chunk_len=4).fit(feats, y, spk)
    >>> bool(np.array_equal(p1.predict_proba(feats), p2.predict_proba(feats)))
    True
    """

    system = None  # stage one only: saved inside the two-stage model that uses it

    def fit(self, feats, y, groups=None, stats=None):
        """Halves A and B of the speakers (``split_by_speaker(y, groups, 0.5)``); the frame net on A."""
        d, y, rng = self._begin_fit(feats, y, groups, stats)
        a, b = split_by_speaker(y, groups, 0.5, rng)
        if len(b) == 0:
            raise NNInputError("Dense1 needs at least 2 training speakers (or 2 utterances per class) to "
                               "train Dense1 and the second net on different halves")
        ga = None if groups is None else np.asarray(groups)[a]
        self.net_ = FrameNet([d, self.hidden, self.n_classes], self.config_, self.xp_, self.standardize)
        self.net_.fit([feats[i] for i in a], y[a], ga, self._class_weights(y[a]), rng)
        self.rng_state_ = rng.bit_generator.state  # what the second stage draws from next
        self.half_b_ = b
        self.probs_b_ = self.frame_probs([feats[i] for i in b])
        self.trained_on_ = training_set_id(feats, y, groups)
        return self._end_fit(d, self.net_.history_)

    def frame_probs(self, feats):
        """P(class | frame) of each utterance: a list of (frames, n_classes) arrays."""
        P = np.exp(self.net_.frame_logprobs(feats))
        return np.split(P, np.cumsum([f.shape[0] for f in feats])[:-1])


def training_set_id(feats, y, groups):
    """What identifies a training set cheaply (frame counts, labels, speakers): a handed Dense1 must match."""
    return ([int(f.shape[0]) for f in feats], np.asarray(y).tolist(),
            None if groups is None else [str(g) for g in groups])


def dense1_for(model) -> Dense1:
    """An unfitted Dense1 with a two-stage model's seed and settings (fit it once, hand it to many)."""
    return Dense1(n_classes=model.n_classes, seed=model.seed, device=model.device, config=model.config,
                  hidden=model.hidden)


def _check_handed(model, dense1, feats, y, groups):
    mine, name = dense1_for(model).get_params(), type(model).__name__
    theirs = dense1.get_params()
    for params in (mine, theirs):  # "quick" and QUICK are one config
        params["config"] = resolve_config(params["config"])
    for attr in ("n_classes", "seed", "device", "config", "hidden"):
        if mine[attr] != theirs[attr]:
            raise NNInputError(f"the Dense1 handed to {name} has {attr}={theirs[attr]!r}, "
                               f"this model has {mine[attr]!r}")
    if getattr(dense1, "trained_on_", None) != training_set_id(feats, y, groups):  # unfitted or loaded: None
        raise NNInputError(f"the Dense1 handed to {name} was not fitted on these utterances")


def chunked(probs, chunk_len):
    """Every utterance's (T, K) frame probabilities cut into chunks and stacked: (all chunks
    (n, chunk_len, K), the number of chunks of each utterance)."""
    chunks = [chunk_sequence(p, chunk_len) for p in probs]
    return np.concatenate(chunks), np.array([len(c) for c in chunks])


def second_stage_input(model, feats, y, groups, stats=None, dense1=None):
    """(Dense1, its chunks of half B (n, chunk_len, K), their labels, their speakers, the generator).

    ``dense1`` None: Dense1 is trained here; else it must have the model's settings and have been
    fitted on these same utterances. The generator goes on from where Dense1's training left it."""
    if dense1 is None:
        dense1 = dense1_for(model).fit(feats, y, groups, stats)
    _check_handed(model, dense1, feats, y, groups)
    b = dense1.half_b_
    C, n_chunks = chunked(dense1.probs_b_, model.chunk_len)
    rng = np.random.default_rng(model.seed)
    rng.bit_generator.state = dense1.rng_state_
    gc = None if groups is None else np.repeat(np.asarray(groups)[b], n_chunks)
    return dense1, C, np.repeat(np.asarray(y)[b], n_chunks), gc, rng


def restored_dense1(model, arrays, source) -> Dense1:
    """A two-stage model's Dense1 around its saved ``dense1/`` parameters (the caller sets mu_, sd_)."""
    dense1 = dense1_for(model)
    dense1._resolve()
    dense1.net_ = FrameNet.restored(model._net_params(arrays, "dense1", source), dense1.config_, dense1.xp_,
                                    dense1.standardize)
    return dense1


def dense2_config(cfg):
    """Dense2 sees one row per chunk: every chunk is used (no frame sampling), batch_size chunks a step."""
    return replace(cfg, max_frames=None, frame_batch_size=cfg.batch_size)


class TwoStage(UtteranceClassifier):
    """What Dense1+Dense2 and Dense1+LSTM2 share: Dense1 (``dense1_``, which standardises the frames)
    and a second net ``<second>_`` on its chunks of probabilities."""

    second = None  # the second net's name: "dense2" or "lstm2"

    def make_dense1(self) -> Dense1:
        return dense1_for(self)

    def _subnets(self):
        return {"dense1": self.dense1_.net_, self.second: getattr(self, self.second + "_")}

    def _standardiser(self):
        return self.dense1_

    def _restore(self, arrays, source):
        self.dense1_ = restored_dense1(self, arrays, source)
        setattr(self, self.second + "_", self._second_net(self._net_params(arrays, self.second, source)))

    def _second_net(self, params):
        """The second net around its saved ``params``."""
        raise NotImplementedError


class Dense1Dense2(TwoStage):
    """Table 2 'Dense1+Dense2': Dense2 is a dense softmax on the flattened chunk_len x K probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> y, spk = np.arange(16) % 4, np.repeat(["a", "b", "c", "d"], 4)
    >>> feats = [rng.normal(c, 1, size=(23, 5)).astype(np.float32) for c in y]
    >>> m = Dense1Dense2(hidden=8, chunk_len=5, config="quick").fit(feats, y, spk)
    >>> m.dense2_.params_["W0"].shape       # one input per (frame of the chunk, class): 5 x 4
    (20, 4)
    """

    system, second = "dense1+dense2", "dense2"

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204, chunk_len=20):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.hidden, self.chunk_len = hidden, chunk_len

    def fit(self, feats, y, groups=None, stats=None, dense1: Dense1 | None = None):
        """Dense1 (trained here, or the fitted ``dense1`` of these same utterances), then Dense2."""
        self._begin()
        dense1, C, yc, gc, rng = second_stage_input(self, feats, y, groups, stats, dense1)
        flat = [c.reshape(1, -1) for c in C]  # one "utterance" of one frame per chunk
        dense2 = FrameNet([flat[0].shape[1], self.n_classes], dense2_config(self.config_), self.xp_)
        self.dense1_, self.dense2_ = dense1, dense2.fit(flat, yc, gc, self._class_weights(yc), rng)
        return self._end_fit(dense1.n_features_in_, {"dense1": dense1.history_, "second": dense2.history_})

    def _utterance_logprobs(self, feats):
        C, n_chunks = chunked(self.dense1_.frame_probs(feats), self.chunk_len)
        return mean_logprob(self.dense2_.frame_logprobs([C.reshape(len(C), -1)]), n_chunks)

    def _second_net(self, params):
        return FrameNet.restored(params, self.config_, self.xp_)


class Dense1LSTM2(TwoStage):
    """Table 2 'Dense1+LSTM2': LSTM(units, relu) -> dense softmax over each chunk of probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> feats = [rng.normal(size=(int(T), 5)).astype(np.float32) for T in rng.integers(3, 30, size=12)]
    >>> m = Dense1LSTM2(hidden=8, units=3, chunk_len=5, config="quick")
    >>> m.fit(feats, np.arange(12) % 4, np.repeat(["a", "b", "c"], 4)).lstm2_.params_["W"].shape   # 4 gates x 3 units
    (4, 12)
    """

    system, second = "dense1+lstm2", "lstm2"

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204, units=20,
                 chunk_len=20, activation="relu"):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.hidden, self.chunk_len = hidden, chunk_len
        self.units, self.activation = units, activation

    def fit(self, feats, y, groups=None, stats=None, dense1: Dense1 | None = None):
        """Dense1 (trained here, or the fitted ``dense1`` of these same utterances), then LSTM2."""
        self._begin()
        dense1, C, yc, gc, rng = second_stage_input(self, feats, y, groups, stats, dense1)
        lstm2 = SequenceNet(C.shape[2], self.units, self.n_classes, self.activation, self.config_, self.xp_)
        self.dense1_, self.lstm2_ = dense1, lstm2.fit(list(C), yc, gc, self._class_weights(yc), rng)
        return self._end_fit(dense1.n_features_in_, {"dense1": dense1.history_, "second": lstm2.history_})

    def _utterance_logprobs(self, feats):
        C, n_chunks = chunked(self.dense1_.frame_probs(feats), self.chunk_len)
        return mean_logprob(self.lstm2_.logprobs(list(C)), n_chunks)

    def _second_net(self, params):
        # LSTM2 reads probabilities, not frames: nothing to standardise, and its chunks are never cropped
        return SequenceNet.restored(params, self.activation, self.config_, self.xp_)
