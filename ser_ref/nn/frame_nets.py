"""Frame-level networks: an mlp that decides every frame on its own, and Table 2's 'Dense'.

    FrameNet     x_t -> [dense -> relu]* -> dense -> log softmax, trained on frames that carry their
                 utterance's label (Frame Dense and Dense1: 2048 -> 204 -> 4; Dense2: chunk_len x 4 -> 4)
    FrameDense   a FrameNet on the standardised frames; log P(c | utt) = log softmax_c(mean_t log P(c | x_t))
"""
from __future__ import annotations

import numpy as np

from ..runtime.backend import to_host
from .estimator import UtteranceClassifier, mean_logprob
from .nets import mlp_init, mlp_logits, mlp_loss_grads
from .softmax_ce import log_softmax, softmax_cross_entropy_forward
from .training import fit_adam, split_by_speaker

_PREDICT_ROWS = 8192  # frames per forward pass at prediction time (bounds memory, not results)


def shuffled_batches(idx, size, rng):
    """``idx`` in a random order, cut into batches of ``size`` (the last one shorter)."""
    perm = rng.permutation(idx)  # along the first axis
    return [perm[s:s + size] for s in range(0, len(perm), size)]


def _concat_float32(feats):
    """A new float32 array with the frames of all utterances (a copy even for a single one)."""
    empty = np.empty((0, feats[0].shape[1]), np.float32)
    return np.concatenate([np.asarray(f, dtype=np.float32) for f in feats] + [empty])


class FrameNet:
    """A per-frame mlp of layer ``sizes``; ``prep`` transforms a float32 batch in place (standardises).
    ``fit`` learns ``params_`` and ``history_``."""

    def __init__(self, sizes, cfg, xp, prep=None):
        self.sizes, self.cfg, self.xp = sizes, cfg, xp
        self.prep = prep if prep is not None else (lambda X: X)

    @classmethod
    def restored(cls, params, cfg, xp, prep=None) -> "FrameNet":
        """The net around saved ``params`` (W0, b0, W1, ...), its sizes read from their shapes."""
        n = sum(1 for k in params if k.startswith("W"))
        net = cls([params["W0"].shape[0]] + [params[f"W{k}"].shape[1] for k in range(n)], cfg, xp, prep)
        net.params_, net.history_ = params, []
        return net

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
            return (to_batch(b) for b in shuffled_batches(draw(tr, r), cfg.frame_batch_size, r))

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
        self.params_, self.history_ = fit_adam(params, epoch_batches, loss_grads, val_loss, cfg, rng)
        return self

    def frame_logprobs(self, feats):
        """log P(class | frame) for every frame of every utterance, concatenated (host float32).

        Utterances go through in blocks of about _PREDICT_ROWS frames, so memory stays bounded."""
        out, block, rows = [], [], 0
        for k, f in enumerate(feats):
            block.append(f)
            rows += f.shape[0]
            if rows >= _PREDICT_ROWS or k == len(feats) - 1:
                z, _ = mlp_logits(self.params_, self.xp.asarray(self.prep(_concat_float32(block))))
                out.append(to_host(log_softmax(z)))
                block, rows = [], 0
        return np.concatenate(out)


class FrameDense(UtteranceClassifier):
    """Table 2 'Dense': 2048 -> hidden relu -> n_classes softmax per frame; utterance = mean log-prob.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(16) % 4
    >>> feats = [rng.normal(2 * c, 1, size=(30, 6)).astype(np.float32) for c in y]   # class c sits at 2c
    >>> m = FrameDense(hidden=8, config={"epochs": 40, "lr": 0.01, "patience": 0}).fit(feats, y)
    >>> m.predict_proba(feats[:2]).shape, float(np.mean(m.predict(feats) == y)) > 0.9
    ((2, 4), True)
    """

    system = "dense"

    def __init__(self, *, n_classes=4, seed=0, device="cpu", config=None, hidden=204):
        super().__init__(n_classes=n_classes, seed=seed, device=device, config=config)
        self.hidden = hidden

    def fit(self, feats, y, groups=None, stats=None):
        d, y, rng = self._begin_fit(feats, y, groups, stats)
        self.net_ = FrameNet([d, self.hidden, self.n_classes], self.config_, self.xp_, self.standardize)
        self.net_.fit(feats, y, groups, self._class_weights(y), rng)
        return self._end_fit(d, self.net_.history_)

    def _utterance_logprobs(self, feats):
        return mean_logprob(self.net_.frame_logprobs(feats), [f.shape[0] for f in feats])

    def _subnets(self):
        return {"net": self.net_}

    def _restore(self, arrays, source):
        self.net_ = FrameNet.restored(self._net_params(arrays, "net", source), self.config_, self.xp_, self.standardize)
