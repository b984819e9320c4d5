"""Sequence networks: an LSTM that decides a whole sequence from its last state, and Table 2's 'LSTM'.

    SequenceNet    x_1..x_T -> LSTM(units, activation) -> h_T -> dense -> log softmax, over padded
                   batches of variable-length sequences (the LSTM model on frames; LSTM2 on chunks)
    UtteranceLSTM  a SequenceNet over the utterance's standardised frames (cropped to TrainConfig.max_len)
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..runtime.backend import to_host
from .estimator import UtteranceClassifier
from .frame_nets import shuffled_batches
from .nets import lstm_clf_init, lstm_clf_logits, lstm_clf_loss_grads
from .softmax_ce import log_softmax, softmax_cross_entropy_forward
from .training import fit_adam, split_by_speaker


class SequenceNet:
    """LSTM -> dense softmax on the last state; ``prep`` transforms each sequence's frames in place.
    ``fit`` learns ``params_`` and ``history_`` (with TrainConfig.lstm_lr, where set, as the rate)."""

    def __init__(self, n_in, units, n_classes, activation, cfg, xp, max_len=None, prep=None):
        self.n_in, self.units, self.n_classes = n_in, units, n_classes
        self.prep = prep if prep is not None else (lambda X: X)
        self.activation, self.xp, self.max_len, self.cfg = activation, xp, max_len, cfg

    @classmethod
    def restored(cls, params, activation, cfg, xp, max_len=None, prep=None) -> "SequenceNet":
        """The net around saved ``params`` (W, U, b, Wo, bo), its sizes read from their shapes."""
        net = cls(params["W"].shape[0], params["U"].shape[0], params["Wo"].shape[1], activation, cfg, xp,
                  max_len=max_len, prep=prep)
        net.params_, net.history_ = params, []
        return net

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
        if min(lens) == max(lens):  # nothing to pad (LSTM2's chunks; utterances cropped to max_len)
            x = np.stack(seqs).astype(np.float32, copy=False)
            return self.xp.asarray(self.prep(x)), None
        # np.empty and zeroing only the padding: np.zeros would write the whole 26 MB batch once more
        x = np.empty((len(seqs), max(lens), seqs[0].shape[1]), dtype=np.float32)
        m = np.zeros((len(seqs), max(lens)), dtype=np.float32)
        for k, s in enumerate(seqs):
            x[k, :lens[k]] = s
            self.prep(x[k, :lens[k]])  # on the real frames only: the padding stays exactly zero
            x[k, lens[k]:] = 0
            m[k, :lens[k]] = 1
        return self.xp.asarray(x), (None if m.all() else self.xp.asarray(m))

    def fit(self, seqs, y, groups, cw, rng):
        cfg, xp = self.cfg, self.xp
        if cfg.lstm_lr is not None:
            cfg = replace(cfg, lr=cfg.lstm_lr)
        tr, va = split_by_speaker(y, groups, cfg.val_fraction, rng)
        w_all = cw.astype(np.float32)[y]

        def epoch_batches(r):
            for b in shuffled_batches(tr, cfg.batch_size, r):
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
        self.params_, self.history_ = fit_adam(params, epoch_batches, loss_grads, val_loss, cfg, rng)
        return self

    def logprobs(self, seqs):
        """log P(class | sequence) for each sequence (host float32), in batches of similar length."""
        order = np.argsort([s.shape[0] for s in seqs], kind="stable")
        out = np.empty((len(seqs), self.n_classes), dtype=np.float32)
        for b in np.array_split(order, max(1, -(-len(seqs) // 64))):
            x, m = self._padded([seqs[i] for i in b])
            z, _ = lstm_clf_logits(self.params_, x, m, self.activation)
            out[b] = to_host(log_softmax(z))
        return out


class UtteranceLSTM(UtteranceClassifier):
    """Table 2 'LSTM': LSTM(units, activation) over the frames -> dense softmax on the last state.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> feats = [rng.normal(size=(int(T), 3)).astype(np.float32) for T in rng.integers(5, 20, size=8)]
    >>> P = UtteranceLSTM(units=4, config="quick").fit(feats, np.arange(8) % 4).predict_proba(feats)
    >>> P.shape, bool(np.allclose(P.sum(axis=1), 1))
    ((8, 4), True)
    """

    system = "lstm"

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, units=20, activation="relu"):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.units, self.activation = units, activation

    def fit(self, feats, y, groups=None, stats=None):
        d, y, rng = self._begin_fit(feats, y, groups, stats)
        self.net_ = SequenceNet(d, self.units, self.n_classes, self.activation, self.config_, self.xp_,
                                max_len=self.config_.max_len, prep=self.standardize)
        self.net_.fit(feats, y, groups, self._class_weights(y), rng)
        return self._end_fit(d, self.net_.history_)

    def _utterance_logprobs(self, feats):
        return self.net_.logprobs(feats).astype(np.float64)

    def _subnets(self):
        return {"net": self.net_}

    def _restore(self, arrays, source):
        self.net_ = SequenceNet.restored(self._net_params(arrays, "net", source), self.activation, self.config_,
                                         self.xp_, max_len=self.config_.max_len, prep=self.standardize)
