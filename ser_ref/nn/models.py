"""The four architectures of the paper's Table 2, as small fit/predict classes.

    FrameDense     2048 -> 204 relu -> 4 softmax per frame; utterance = mean frame log-probability
    UtteranceLSTM  LSTM(20, relu) over the utterance's frames -> dense softmax on the last state
    Dense1         the first stage of the two below: a FrameDense net trained on one half of the
                   training speakers, with its frame probabilities on the other half
    Dense1Dense2   Dense1's per-frame probabilities on the other half, cut into chunks of chunk_len
                   frames (chunk_len x 4 inputs), train a dense softmax (Dense2); utterance = mean
                   chunk log-probability
    Dense1LSTM2    as Dense1Dense2 with LSTM(20, relu) -> dense softmax over each chunk's sequence

A fitted ``Dense1`` can be handed to ``fit(..., dense1=...)`` of both two-stage models and of every
chunk length: Dense1 does not depend on the chunk length, and the hand-off carries the random
generator's state after Dense1, so the result is bit-identical to a fit that trains its own Dense1.

Utterance aggregation everywhere: log P(c | utt) = mean over its frames (or chunks) of
log P(c | frame), renormalised by a softmax, i.e. a normalised geometric mean of the
probabilities. The reasons for this and every other choice are in docs/training-choices.md.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..backend import get_xp, to_host
from .activations import CELL_ACTIVATIONS
from .validation import check_features, check_labels, NNInputError
from .nets import (lstm_clf_init, lstm_clf_logits, lstm_clf_loss_grads, mlp_init, mlp_logits,
                   mlp_loss_grads)
from .softmax_ce import log_softmax, softmax_cross_entropy_forward
from .train import (chunk_sequence, class_weight_vector, fit_adam, resolve_config,
                    split_by_speaker, standardizer)

_PREDICT_ROWS = 8192  # frames per forward pass at prediction time (bounds memory, not results)


def _mean_logprob_per_group(logp, counts):
    """Utterance log-probabilities: mean of its rows' log-probabilities, renormalised (log softmax)."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mean = np.add.reduceat(logp.astype(np.float64), starts, axis=0) / np.asarray(counts)[:, None]
    return log_softmax(mean)


def _concat_float32(feats):
    """A new float32 array with the frames of all utterances (a copy even for a single one)."""
    return np.concatenate([np.asarray(f, dtype=np.float32) for f in feats] + [np.empty((0, feats[0].shape[1]), np.float32)])


def _batches(idx, size, rng):
    perm = rng.permutation(idx)  # along the first axis
    return [perm[s:s + size] for s in range(0, len(perm), size)]


# ---------------------------------------------------------------- frame-level mlp (Frame Dense, Dense1)
class _FrameNet:
    """A per-frame mlp trained on frames that carry their utterance's label."""

    def __init__(self, sizes, cfg, xp, prep=None):
        self.sizes, self.cfg, self.xp = sizes, cfg, xp
        self.prep = prep if prep is not None else (lambda X: X)  # in-place feature transform
        self.params = None
        self.history = []

    def fit(self, feats, y, groups, cw, rng):
        cfg, xp = self.cfg, self.xp
        tr, va = split_by_speaker(y, groups, cfg.val_fraction, rng)
        lens = np.array([f.shape[0] for f in feats])
        frame_w = cw.astype(np.float32)

        def draw(utts, r):
            """(utterance, frame) pairs: up to max_frames random frames of each utterance."""
            us, fs = [], []
            for u in utts:
                k = lens[u] if self.cfg.max_frames is None else min(lens[u], self.cfg.max_frames)
                fs.append(r.choice(lens[u], k, replace=False) if k < lens[u] else np.arange(k))
                us.append(np.full(k, u))
            return np.stack([np.concatenate(us), np.concatenate(fs)], axis=1)

        def to_batch(pairs):
            # frames are gathered per batch (and standardised there), so no corpus-sized copy is made
            X = self.prep(np.stack([feats[u][f] for u, f in pairs.tolist()]).astype(np.float32, copy=False))
            lab = y[pairs[:, 0]]
            return (xp.asarray(X), xp.asarray(lab), xp.asarray(frame_w[lab]))

        def epoch_batches(r):
            return (to_batch(b) for b in _batches(draw(tr, r), cfg.frame_batch_size, r))

        def loss_grads(p, batch):
            return mlp_loss_grads(p, *batch)

        val_loss = None
        if len(va):
            vidx = draw(va, np.random.default_rng(rng.integers(2**63)))
            vbatch = to_batch(vidx)

            def val_loss(p):
                z, _ = mlp_logits(p, vbatch[0])
                return softmax_cross_entropy_forward(z, vbatch[1], vbatch[2])[0]

        params = {k: xp.asarray(v) for k, v in mlp_init(rng, self.sizes).items()}
        self.params, self.history = fit_adam(params, epoch_batches, loss_grads, val_loss, cfg, rng)
        return self

    def frame_logprobs(self, feats):
        """log P(class | frame) for every frame of every utterance, concatenated (host float32).

        Utterances go through in blocks of about _PREDICT_ROWS frames, so memory stays bounded."""
        out, block, rows = [], [], 0
        for k, f in enumerate(feats):
            block.append(f)
            rows += f.shape[0]
            if rows >= _PREDICT_ROWS or k == len(feats) - 1:
                z, _ = mlp_logits(self.params, self.xp.asarray(self.prep(_concat_float32(block))))
                out.append(to_host(log_softmax(z)))
                block, rows = [], 0
        return np.concatenate(out)


# ---------------------------------------------------------------- sequence classifier (LSTM, LSTM2)
class _SeqNet:
    """LSTM -> dense softmax on the last state, over padded batches of variable-length sequences."""

    def __init__(self, n_in, units, n_classes, activation, cfg, xp, max_len=None, prep=None):
        self.n_in, self.units, self.n_classes = n_in, units, n_classes
        self.prep = prep if prep is not None else (lambda X: X)  # in-place transform of a padded batch
        self.activation, self.xp, self.max_len = activation, xp, max_len
        self.cfg = replace(cfg, lr=cfg.lstm_lr) if cfg.lstm_lr is not None else cfg
        self.params = None
        self.history = []

    def _crop(self, s, r):
        L = self.max_len
        if L is None or s.shape[0] <= L:
            return s
        start = (s.shape[0] - L) // 2 if r is None else r.integers(0, s.shape[0] - L + 1)
        return s[start:start + L]

    def _padded(self, seqs, r=None):
        """(batch, T_max, D) float32 with each sequence transformed in place and zero padding, and
        the (batch, T_max) mask (None when nothing is padded)."""
        seqs = [self._crop(s, r) for s in seqs]
        lens = [s.shape[0] for s in seqs]
        x = np.zeros((len(seqs), max(lens), seqs[0].shape[1]), dtype=np.float32)
        m = np.zeros((len(seqs), max(lens)), dtype=np.float32)
        for k, s in enumerate(seqs):
            x[k, :lens[k]] = s
            self.prep(x[k, :lens[k]])  # on the real frames only: the padding stays exactly zero
            m[k, :lens[k]] = 1
        return self.xp.asarray(x), (None if m.all() else self.xp.asarray(m))

    def fit(self, seqs, y, groups, cw, rng):
        cfg, xp = self.cfg, self.xp
        tr, va = split_by_speaker(y, groups, cfg.val_fraction, rng)
        w_all = cw.astype(np.float32)[y]

        def epoch_batches(r):
            for b in _batches(tr, cfg.batch_size, r):
                x, m = self._padded([seqs[i] for i in b], r)
                yield x, m, xp.asarray(y[b]), xp.asarray(w_all[b])

        def loss_grads(p, batch):
            x, m, yb, wb = batch
            return lstm_clf_loss_grads(p, x, yb, wb, mask=m, activation=self.activation)

        val_loss = None
        if len(va):
            vb = [(b, *self._padded([seqs[i] for i in b])) for b in np.array_split(va, -(-len(va) // 64))]

            def val_loss(p):
                z = [to_host(lstm_clf_logits(p, x, m, self.activation)[0]) for _, x, m in vb]
                z = np.concatenate(z)
                vi = np.concatenate([b for b, _, _ in vb])
                return softmax_cross_entropy_forward(z.astype(np.float64), y[vi], w_all[vi].astype(np.float64))[0]

        init = lstm_clf_init(rng, self.n_in, self.units, self.n_classes)
        params = {k: xp.asarray(v) for k, v in init.items()}
        self.params, self.history = fit_adam(params, epoch_batches, loss_grads, val_loss, cfg, rng)
        return self

    def logprobs(self, seqs):
        """log P(class | sequence) for each sequence (host float32), in batches of similar length."""
        order = np.argsort([s.shape[0] for s in seqs], kind="stable")
        out = np.empty((len(seqs), self.n_classes), dtype=np.float32)
        for b in np.array_split(order, max(1, -(-len(seqs) // 64))):
            x, m = self._padded([seqs[i] for i in b])
            z, _ = lstm_clf_logits(self.params, x, m, self.activation)
            out[b] = to_host(log_softmax(z))
        return out


# ---------------------------------------------------------------- public models
class _UtteranceModel:
    """fit(feats, y, groups) / predict_proba(feats) / predict(feats) for the four architectures."""

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None):
        if int(n_classes) < 2:
            raise NNInputError(f"n_classes must be >= 2, got {n_classes!r}")
        self.n_classes, self.seed, self.device = int(n_classes), int(seed), device
        self.config = resolve_config(config)
        self.xp = get_xp(device)
        self.mu = self.sd = None
        self.n_features = None
        self.fitted = False

    def _prepare_fit(self, feats, y, groups, stats=None):
        """Checked labels and the seeded generator; ``stats``: ``standardizer(feats)`` if the caller
        already has it (several models of one fold share it), else it is computed here."""
        self.fitted = False
        self.n_features = check_features(feats)
        y = check_labels(y, len(feats), self.n_classes)
        if groups is not None and len(groups) != len(feats):
            raise NNInputError(f"groups must hold one speaker per utterance ({len(feats)}), got {len(groups)}")
        rng = np.random.default_rng(self.seed)
        if self.config.standardize:
            self.mu, self.sd = stats if stats is not None else standardizer(feats)
        return feats, y, rng

    def _standardize(self, X):
        """In place on a float32 array we own: X = (X - mean) / std over the last axis."""
        if self.mu is not None:
            X -= self.mu
            X /= self.sd
        return X

    def _prepare_predict(self, feats):
        if not self.fitted:
            raise NNInputError(f"{type(self).__name__} must be fitted before predicting")
        d = check_features(feats)
        if d != self.n_features:
            raise NNInputError(f"feats have {d} features, the model was fitted on {self.n_features}")
        return feats

    def _class_weights(self, y):
        return class_weight_vector(y, self.n_classes, self.config.class_weights)

    def predict_proba(self, feats):
        """P(class | utterance), (n_utt, n_classes), rows summing to 1."""
        return np.exp(self._utterance_logprobs(self._prepare_predict(feats)))

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


class FrameDense(_UtteranceModel):
    """Table 2 'Dense': 2048 -> hidden relu -> n_classes softmax per frame; utterance = mean log-prob.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(16) % 4; speakers = np.repeat(['s1', 's2', 's3', 's4'], 4)
    >>> feats = [(rng.normal(size=(30, 6)) + 2 * c).astype(np.float32) for c in y]   # class c sits at 2c
    >>> cfg = {'epochs': 40, 'lr': 0.01, 'patience': 0, 'max_frames': 16, 'frame_batch_size': 32, 'batch_size': 4}
    >>> m = FrameDense(hidden=8, config=cfg).fit(feats, y, groups=speakers)
    >>> m.predict_proba(feats[:2]).shape, float(np.mean(m.predict(feats) == y)) > 0.9
    ((2, 4), True)
    """

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.hidden = int(hidden)

    def fit(self, feats, y, groups=None, stats=None):
        feats, y, rng = self._prepare_fit(feats, y, groups, stats)
        sizes = [self.n_features, self.hidden, self.n_classes]
        self.net = _FrameNet(sizes, self.config, self.xp, self._standardize).fit(feats, y, groups, self._class_weights(y), rng)
        self.history = self.net.history
        self.fitted = True
        return self

    def _utterance_logprobs(self, feats):
        return _mean_logprob_per_group(self.net.frame_logprobs(feats), [f.shape[0] for f in feats])


class UtteranceLSTM(_UtteranceModel):
    """Table 2 'LSTM': LSTM(units, activation) over the frames -> dense softmax on the last state.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(16) % 4; speakers = np.repeat(['s1', 's2', 's3', 's4'], 4)
    >>> feats = [(rng.normal(size=(30, 6)) + 2 * c).astype(np.float32) for c in y]   # class c sits at 2c
    >>> cfg = {'epochs': 40, 'lr': 0.01, 'patience': 0, 'max_frames': 16, 'frame_batch_size': 32, 'batch_size': 4}
    >>> m = UtteranceLSTM(units=4, config=cfg).fit(feats, y, groups=speakers)
    >>> P = m.predict_proba(feats)
    >>> P.shape, bool(np.allclose(P.sum(axis=1), 1))
    ((16, 4), True)
    """

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, units=20, activation="relu"):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.units, self.activation = int(units), activation
        if activation not in CELL_ACTIVATIONS:
            raise NNInputError(f"activation must be one of {CELL_ACTIVATIONS}, got {activation!r}")

    def fit(self, feats, y, groups=None, stats=None):
        feats, y, rng = self._prepare_fit(feats, y, groups, stats)
        self.net = _SeqNet(self.n_features, self.units, self.n_classes, self.activation, self.config,
                           self.xp, max_len=self.config.max_len, prep=self._standardize)
        self.net.fit(feats, y, groups, self._class_weights(y), rng)
        self.history = self.net.history
        self.fitted = True
        return self

    def _utterance_logprobs(self, feats):
        return self.net.logprobs(feats).astype(np.float64)


class Dense1(_UtteranceModel):
    """Stage one of Dense1+Dense2 and Dense1+LSTM2, trained once and handed to both.

    fit() splits the training speakers into halves A and B (``split_by_speaker(y, groups, 0.5)``),
    trains a FrameDense net on A, and keeps its frame probabilities P(class | frame) on every
    utterance of B (the second stage's training input) and the generator's state afterwards.

    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(12, 6)).astype(np.float32) for _ in range(8)]
    >>> y, spk = np.arange(8) % 4, np.repeat(["a", "b"], 4)
    >>> d1 = Dense1(config={"epochs": 1}, hidden=5).fit(feats, y, spk)
    >>> p1 = Dense1LSTM2(config={"epochs": 1}, hidden=5, chunk_len=4).fit(feats, y, spk, dense1=d1)
    >>> p2 = Dense1LSTM2(config={"epochs": 1}, hidden=5, chunk_len=4).fit(feats, y, spk)
    >>> bool(np.array_equal(p1.predict_proba(feats), p2.predict_proba(feats)))
    True
    """

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.hidden = int(hidden)

    def fit(self, feats, y, groups=None, stats=None):
        feats, y, rng = self._prepare_fit(feats, y, groups, stats)
        a, b = split_by_speaker(y, groups, 0.5, rng)
        if len(b) == 0:
            raise NNInputError("Dense1 needs at least 2 training speakers (or 2 utterances per class) to "
                               "train Dense1 and the second net on different halves")
        ga = None if groups is None else np.asarray(groups)[a]
        sizes = [self.n_features, self.hidden, self.n_classes]
        self.net = _FrameNet(sizes, self.config, self.xp, self._standardize).fit(
            [feats[i] for i in a], y[a], ga, self._class_weights(y[a]), rng)
        self.rng_state = rng.bit_generator.state  # what the second stage draws from next
        self.half_b = b
        self.probs_b = self.frame_probs([feats[i] for i in b])
        self.trained_on = _fingerprint(feats, y, groups)
        self.history = self.net.history
        self.fitted = True
        return self

    def frame_probs(self, feats):
        """P(class | frame) of each utterance: a list of (frames, n_classes) arrays."""
        P = np.exp(self.net.frame_logprobs(feats))
        return np.split(P, np.cumsum([f.shape[0] for f in feats])[:-1])

    def _utterance_logprobs(self, feats):
        return _mean_logprob_per_group(self.net.frame_logprobs(feats), [f.shape[0] for f in feats])


def _fingerprint(feats, y, groups):
    """What identifies a training set cheaply: frame counts, labels, speakers."""
    return ([int(f.shape[0]) for f in feats], np.asarray(y).tolist(),
            None if groups is None else [str(g) for g in groups])


class _TwoStage(_UtteranceModel):
    """Dense1 on half A of the training speakers; a chunk classifier on Dense1's output for half B."""

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204, chunk_len=20):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.hidden, self.chunk_len = int(hidden), int(chunk_len)
        if self.chunk_len < 1:
            raise NNInputError(f"chunk_len must be >= 1, got {chunk_len!r}")

    def make_dense1(self) -> Dense1:
        """An unfitted Dense1 with this model's seed and settings (fit it once, hand it to many)."""
        return Dense1(n_classes=self.n_classes, seed=self.seed, device=self.device, config=self.config,
                      hidden=self.hidden)

    def _check_dense1(self, dense1, feats, y, groups):
        mine, theirs = self.make_dense1(), dense1
        for attr in ("n_classes", "seed", "device", "config", "hidden"):
            if getattr(mine, attr) != getattr(theirs, attr):
                raise NNInputError(f"the Dense1 handed to {type(self).__name__} has {attr}="
                                   f"{getattr(theirs, attr)!r}, this model has {getattr(mine, attr)!r}")
        if not theirs.fitted or theirs.trained_on != _fingerprint(feats, y, groups):
            raise NNInputError(f"the Dense1 handed to {type(self).__name__} was not fitted on these utterances")

    def _chunks(self, probs):
        """Each utterance's frame probabilities cut into (n_chunks, chunk_len, K) chunks."""
        return [chunk_sequence(p, self.chunk_len) for p in probs]

    def fit(self, feats, y, groups=None, stats=None, dense1: Dense1 | None = None):
        """Train Dense1 (or take the fitted ``dense1`` of these same utterances) and the second net."""
        if dense1 is None:
            dense1 = self.make_dense1().fit(feats, y, groups, stats)
        self._check_dense1(dense1, feats, y, groups)
        self.fitted = False
        self.n_features, self.mu, self.sd = dense1.n_features, dense1.mu, dense1.sd
        y = np.asarray(y)
        rng = np.random.default_rng(self.seed)
        rng.bit_generator.state = dense1.rng_state
        self.dense1, b = dense1, dense1.half_b
        chunks = self._chunks(dense1.probs_b)
        n_chunks = np.array([len(c) for c in chunks])
        gb = None if groups is None else np.asarray(groups)[b]
        self._fit_second(np.concatenate(chunks), np.repeat(y[b], n_chunks),
                         None if gb is None else np.repeat(gb, n_chunks), rng)
        self.history = {"dense1": dense1.history, "second": self.second_history}
        self.fitted = True
        return self

    def _utterance_logprobs(self, feats):
        chunks = self._chunks(self.dense1.frame_probs(feats))
        return _mean_logprob_per_group(self._chunk_logprobs(np.concatenate(chunks)), [len(c) for c in chunks])


class Dense1Dense2(_TwoStage):
    """Table 2 'Dense1+Dense2': Dense2 is a dense softmax on the flattened chunk_len x K probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(16) % 4; speakers = np.repeat(['s1', 's2', 's3', 's4'], 4)
    >>> feats = [(rng.normal(size=(30, 6)) + 2 * c).astype(np.float32) for c in y]   # class c sits at 2c
    >>> cfg = {'epochs': 40, 'lr': 0.01, 'patience': 0, 'max_frames': 16, 'frame_batch_size': 32, 'batch_size': 4}
    >>> m = Dense1Dense2(hidden=8, chunk_len=5, config=cfg).fit(feats, y, groups=speakers)
    >>> m.predict_proba(feats).shape
    (16, 4)
    """

    def _fit_second(self, C, yc, gc, rng):
        net = _FrameNet([C.shape[1] * C.shape[2], self.n_classes], _chunk_cfg(self.config), self.xp)
        flat = [c.reshape(1, -1) for c in C]  # one "utterance" of one frame per chunk
        net.fit(flat, yc, gc, self._class_weights(yc), rng)
        self.dense2, self.second_history = net, net.history

    def _chunk_logprobs(self, C):
        return self.dense2.frame_logprobs([C.reshape(len(C), -1)])


class Dense1LSTM2(_TwoStage):
    """Table 2 'Dense1+LSTM2': LSTM(units, relu) -> dense softmax over each chunk of probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(16) % 4; speakers = np.repeat(['s1', 's2', 's3', 's4'], 4)
    >>> feats = [(rng.normal(size=(30, 6)) + 2 * c).astype(np.float32) for c in y]   # class c sits at 2c
    >>> cfg = {'epochs': 40, 'lr': 0.01, 'patience': 0, 'max_frames': 16, 'frame_batch_size': 32, 'batch_size': 4}
    >>> m = Dense1LSTM2(hidden=8, units=4, chunk_len=5, config=cfg).fit(feats, y, groups=speakers)
    >>> m.predict(feats).shape
    (16,)
    """

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204, units=20,
                 chunk_len=20, activation="relu"):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config, hidden=hidden,
                         chunk_len=chunk_len)
        self.units, self.activation = int(units), activation
        if activation not in CELL_ACTIVATIONS:
            raise NNInputError(f"activation must be one of {CELL_ACTIVATIONS}, got {activation!r}")

    def _fit_second(self, C, yc, gc, rng):
        self.lstm2 = _SeqNet(C.shape[2], self.units, self.n_classes, self.activation, self.config, self.xp)
        self.lstm2.fit(list(C), yc, gc, self._class_weights(yc), rng)
        self.second_history = self.lstm2.history

    def _chunk_logprobs(self, C):
        return self.lstm2.logprobs(list(C))


def _chunk_cfg(cfg):
    """Dense2 sees one row per chunk: every chunk is used (no frame sampling), batch_size chunks a step."""
    return replace(cfg, max_frames=None, frame_batch_size=cfg.batch_size)


MODELS = {"dense": FrameDense, "lstm": UtteranceLSTM, "dense1+dense2": Dense1Dense2, "dense1+lstm2": Dense1LSTM2}
