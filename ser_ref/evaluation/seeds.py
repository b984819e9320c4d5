"""Several seeds: each seed's runner entries, and the spread of a metric over the seeds.

A run with seeds ``(s0, s1, ...)`` computes the features once and trains every entry once per seed.
The first seed's entries keep the keys a one-seed run gives them, so their checkpoints
(``<out>/folds/<key>/``), tags and numbers are those of ``--seed s0``; every other seed's key gains
``@seed<s>`` (``seed_key``), so each (system, split, seed) has a checkpoint of its own and an
interrupted multi-seed run resumes.

The spread (``mean_sd``) is the mean and the sample standard deviation (ddof = 1) over the seeds;
with one seed the standard deviation is None (null in JSON): one value has no spread to estimate,
and 0 would claim there is none.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np


def seed_key(key: str, seed: int, seeds) -> str:
    """The result key of entry ``key`` at ``seed`` in a run of ``seeds``: the first seed's is ``key``.

    >>> seed_key("dense", 0, (0, 7)), seed_key("dense", 7, (0, 7)), seed_key("dense1+lstm2@10", 3, (3,))
    ('dense', 'dense@seed7', 'dense1+lstm2@10')
    """
    return key if seed == seeds[0] else f"{key}@seed{seed}"


def seeded_entries(entries, seeds) -> dict:
    """{seed: {key: the entry at that seed}}: each entry's settings with the seed, under ``seed_key``.

    >>> from ser_ref.evaluation.runner import Entry
    >>> from ser_ref.evaluation.systems import Settings
    >>> by_seed = seeded_entries([Entry("lstm", "lstm", Settings(seed=1))], (1, 5))
    >>> [(s, e.key, e.settings.seed) for s, es in by_seed.items() for e in es.values()]
    [(1, 'lstm', 1), (5, 'lstm@seed5', 5)]
    """
    return {s: {e.key: replace(e, key=seed_key(e.key, s, seeds), settings=replace(e.settings, seed=s))
                for e in entries} for s in seeds}


def flat(by_seed: dict) -> list:
    """Every entry of ``seeded_entries``, seed by seed: what ``runner.run`` is given.

    >>> flat({0: {"a": 1, "b": 2}, 5: {"a": 3, "b": 4}})
    [1, 2, 3, 4]
    """
    return [e for entries in by_seed.values() for e in entries.values()]


def mean_sd(values) -> tuple[float, float | None]:
    """The mean and the sample standard deviation (ddof = 1) of one metric over seeds; None for one seed.

    >>> mean_sd([0.5, 0.7])
    (0.6, 0.1414213562373095)
    >>> mean_sd([0.5])
    (0.5, None)
    """
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else None)


def spread(per_seed: dict, names=("accuracy", "ua")) -> dict:
    """``<name>_mean`` and ``<name>_sd`` over ``per_seed`` ({seed: {name: value}}) for each of ``names``.

    >>> spread({"0": {"accuracy": 0.5, "ua": 0.4}, "1": {"accuracy": 0.7, "ua": 0.4}})
    {'accuracy_mean': 0.6, 'accuracy_sd': 0.1414213562373095, 'ua_mean': 0.4, 'ua_sd': 0.0}
    """
    out = {}
    for name in names:
        out[f"{name}_mean"], out[f"{name}_sd"] = mean_sd([m[name] for m in per_seed.values()])
    return out


def pm(mean: float, sd: float | None) -> str:
    """"mean ± sd" in %, one decimal; the mean alone where there is no sd (one seed).

    >>> pm(0.6, 0.01414), pm(0.5, None)
    ('60.0 ± 1.4', '50.0')
    """
    return f"{100 * mean:.1f}" if sd is None else f"{100 * mean:.1f} ± {100 * sd:.1f}"


def close_seeds_warning(seeds, n_splits: int) -> str | None:
    """A warning when two seeds lie closer than the number of splits: split i of seed s trains with
    model seed s + i (``splits.fold_seed``), so seed s + d's split i reuses seed s's split i + d seed
    (on other training data); seeds at least ``n_splits`` apart share none.

    >>> close_seeds_warning((0, 100, 200), 24) is None
    True
    >>> close_seeds_warning((0, 1), 24)[:40]
    'seeds 0 and 1 lie closer than the 24 spl'
    """
    s = sorted(seeds)
    close = [(a, b) for a, b in zip(s, s[1:]) if b - a < n_splits]
    if not close:
        return None
    a, b = close[0]
    return (f"seeds {a} and {b} lie closer than the {n_splits} splits: split i of seed {b} reuses the model seed "
            f"of split i + {b - a} of seed {a} (split seed = seed + split index), on other training data; seeds "
            f"{n_splits} or more apart (e.g. 0,{n_splits},{2 * n_splits}) share none")
