"""Greedy CTC decoding: the best label per frame, repeats collapsed, blanks dropped.

    labels_t = argmax_k probs[t, k];  keep labels_t where labels_t != labels_{t-1} and != blank
The blank is the last class (index len(alphabet)), as in DeepSpeech's output layer.
"""
from __future__ import annotations

import numpy as np


def greedy_decode(probs, alphabet) -> str:
    """Text of the greedy path through (frames, len(alphabet) + 1) class scores.

    >>> p = np.eye(3)[[0, 0, 2, 0, 1, 1, 2]]        # a a _ a b b _   (blank = 2)
    >>> greedy_decode(p, ["a", "b"])
    'aab'
    """
    best = np.asarray(probs).argmax(axis=1)
    if best.size == 0:
        return ""
    blank = len(alphabet)
    keep = np.r_[True, best[1:] != best[:-1]] & (best != blank)
    return "".join(alphabet[k] for k in best[keep])
