"""The one experiment runner: every system of a list, trained and tested on every split of a list.

    run(entries, splits, data, executor, out=...) -> {entry key: probabilities (n, 4), NaN where untested}

Splits come from ``ser_ref.evaluation.splits`` (LOSO, cross-corpus); systems from ``ser_ref.evaluation.systems``. One task
per (split, feature kind) goes to the executor (serial, process pool or Dask: ``executors``); it loads
the split's features once, standardises them with the training utterances' statistics once, and
trains every system of that kind. Dense1+Dense2, Dense1+LSTM2 and every chunk length of the
Figure 3 sweep get the one Dense1 the task trained for them (``nn.Dense1``): the hand-off is
explicit and exact, so each row equals a fit that trained its own Dense1.

Several seeds: entries whose settings differ only in the seed (and whose keys differ:
``seeds.seeded_entries``) go to separate tasks, one per (split, kind, seed), each training with its
own seed; so an entry's numbers do not depend on the other seeds of the run.

Checkpoints: each finished (entry, split) is written atomically to
``<out>/folds/<key>/<split index>-<split name>.json`` with a tag hashing the entry's settings and the
data; a re-run finds it and skips the work, with identical numbers. A checkpoint that cannot be
read, or holds the wrong shape or non-finite numbers, is discarded with a warning and recomputed.

Normalisation (``data.norm_groups``): None leaves the features as they are (the systems still
standardise with training statistics); otherwise every group (speaker or corpus) is z-scored with
its own mean and standard deviation before the task trains anything, see ``normalize_by_group``.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..files import atomic
from ..errors import MACHINE_ERRNOS, SerRefError, machine_error
from . import feature_kinds, systems
from .splits import fold_seed
from .systems import N_CLASSES, Settings, make


@dataclass(frozen=True)
class Entry:
    """One row of results: ``system`` with ``settings``, stored under ``key`` (e.g. dense1+lstm2@5)."""

    key: str
    system: str
    settings: Settings


@dataclass
class Dataset:
    """Labels, speakers and features of every utterance taking part (all indexed alike).

    features: {feature kind the systems read: its column}, e.g. {"egemaps": (n, 88) array, "layer1":
    n .npy paths} (``feature_kinds``: per-frame kinds are paths, the others stacked vectors); digest pins
    the features' identity; norm_groups: None, or one group name per utterance for ``normalize_by_group``.
    ``evaluation.dataset.build_dataset`` makes one from corpus items, with ``items`` (the corpus items
    taking part) and ``corpus_digest`` (the part of the digest that pins the files).
    """

    y: np.ndarray
    speakers: np.ndarray
    features: dict
    digest: str
    norm_groups: np.ndarray | None = None
    items: list | None = None
    corpus_digest: str = ""


def digest(obj) -> str:
    """16 hex digits of sha256 over the canonical JSON of ``obj``.

    >>> digest(["a", 1]) == digest(["a", 1]) != digest(["a", 2]), len(digest({}))
    (True, 16)
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- normalisation
def normalize_by_group(X, groups):
    """z = (x - mu_g) / sigma_g with mu_g, sigma_g over group g's rows (its frames, for per-utterance
    arrays); no labels are used. A feature constant within a group gets sigma_g = 1.

    >>> normalize_by_group(np.array([[1.0], [3.0], [10.0]]), np.array(["a", "a", "b"])).ravel().tolist()
    [-1.0, 1.0, 0.0]
    """
    groups = np.asarray(groups)
    per_utt = not isinstance(X, np.ndarray)
    out = list(X) if per_utt else np.array(X, dtype=np.float64)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        rows = np.concatenate([np.asarray(X[i], np.float64) for i in idx]) if per_utt else out[idx]
        mu, sd = rows.mean(0), rows.std(0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        if per_utt:
            for i in idx:
                out[i] = ((np.asarray(X[i], np.float64) - mu) / sd).astype(np.float32)
        else:
            out[idx] = (out[idx] - mu) / sd
    return out


# ------------------------------------------------------------------------------- one task
def split_task(entries, kind, X, y, speakers, train_idx, test_idx, seed, norm_groups=None):
    """Train and test every entry (all reading features ``kind``) on one split.

    Top-level and plain-data, so any executor can run it. Returns {key: (probabilities, seconds)};
    each entry's seconds include an equal share of reading the features and computing the statistics,
    and a two-stage entry's an equal share of the Dense1 it was handed.
    """
    train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
    y, speakers = np.asarray(y), np.asarray(speakers)
    t0 = time.perf_counter()
    X_train, X_test = _load(kind, X, train_idx, test_idx, norm_groups)
    fit_args = (X_train, y[train_idx], speakers[train_idx])
    stats = _train_stats(kind, X_train)
    t1 = time.perf_counter()
    dense1 = _shared_dense1(entries, seed, fit_args, stats)
    two_stage = {e.key: systems.get(e.system).two_stage for e in entries}
    dense1_share = (time.perf_counter() - t1) / max(sum(two_stage.values()), 1)
    shared = (t1 - t0) / len(entries)
    out = {}
    for e in entries:
        t = time.perf_counter()
        model = make(e.system, seed, e.settings)
        if two_stage[e.key]:
            model.fit(*fit_args, stats=stats, dense1=dense1[_dense1_key(e)])
        elif stats is not None:
            model.fit(*fit_args, stats=stats)
        else:
            model.fit(*fit_args)
        proba = np.asarray(model.predict_proba(X_test), dtype=np.float64)
        out[e.key] = (proba, time.perf_counter() - t + shared + (dense1_share if two_stage[e.key] else 0.0))
    return out


def _dense1_key(entry):
    """Dense1 depends on the seed and the networks' settings, not on the chunk length or stage two."""
    return entry.settings.device, repr(entry.settings.nn_config)


def _shared_dense1(entries, seed, fit_args, stats):
    """One fitted Dense1 per distinct network setting among the two-stage entries."""
    out = {}
    for e in entries:
        if systems.get(e.system).two_stage and _dense1_key(e) not in out:
            out[_dense1_key(e)] = make(e.system, seed, e.settings).make_dense1().fit(*fit_args, stats=stats)
    return out


def _load(kind, X, train_idx, test_idx, norm_groups):
    """The split's training and test features, whole in memory (read once for every system)."""
    if kind is None:
        return np.zeros((len(train_idx), 0)), np.zeros((len(test_idx), 0))
    idx = np.concatenate([train_idx, test_idx])
    feats = feature_kinds.get(kind).take(X, idx)
    if norm_groups is not None:
        feats = normalize_by_group(feats, np.asarray(norm_groups)[idx])
    n = len(train_idx)
    return feats[:n], feats[n:]


def _train_stats(kind, X_train):
    """The kind's statistics of the training features (the networks' standardisation of layer-1
    frames), computed once per task and handed to every system; None where the kind has none."""
    stats = None if kind is None else feature_kinds.get(kind).stats
    return None if stats is None else stats(X_train)


# ------------------------------------------------------------------------------- checkpoints
def checkpoint_path(out: Path, key: str, split) -> Path:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in split.name.replace("->", "-to-"))
    return Path(out) / "folds" / key / f"{split.index:03d}-{name}.json"


def read_checkpoint(path: Path, tag: str, n_test: int):
    """(probabilities, seconds) of a finished (entry, split), or None to compute it.

    A checkpoint of other settings or data (another tag) is simply recomputed; one that is unreadable
    or malformed is discarded with a warning naming it."""
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        if saved.get("tag") != tag:
            return None
        proba = np.asarray(saved["proba"], dtype=np.float64)
        if proba.shape != (n_test, N_CLASSES) or not np.all(np.isfinite(proba)):
            raise ValueError(f"probabilities of shape {proba.shape}, expected ({n_test}, {N_CLASSES}), all finite")
        seconds = float(saved.get("seconds", 0.0))
        if not math.isfinite(seconds):
            raise ValueError("non-finite seconds")
    except OSError as exc:
        if exc.errno in MACHINE_ERRNOS:  # the machine's fault (EIO, EACCES, ...): stop, do not recompute
            raise machine_error(exc, "fold checkpoints", path) from exc
        warn(f"fold checkpoint {path} is unreadable ({exc}); discarding it and recomputing")
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        warn(f"fold checkpoint {path} is corrupt ({type(exc).__name__}: {exc}); discarding it and recomputing")
        return None
    return proba, seconds


def _write_checkpoint(path, tag, split, proba, seconds):
    atomic.write_json(path, {"tag": tag, "speaker": split.name, "seconds": seconds,
                             "test_idx": np.asarray(split.test_idx).tolist(), "proba": np.asarray(proba).tolist()})


# ------------------------------------------------------------------------------- the runner
def entry_tag(entry: Entry, data: Dataset) -> str:
    """What a checkpoint must match: the entry's key and settings and the data's digest."""
    return digest([entry.key, asdict(entry.settings), data.digest])


def run(entries, splits, data: Dataset, executor, *, out: Path | None = None, timings: dict | None = None,
        desc: str = "folds", say=print, per_split: bool = False) -> dict:
    """Every entry on every split; returns {key: (n, 4) probabilities}, rows of untested utterances NaN
    (splits whose test sets overlap, as cross-corpus pairs do: ``per_split=True`` returns
    {key: {split name: (n_test, 4) probabilities}} instead).

    ``out``: folder for checkpoints (None: none written or read). ``timings`` gains
    ``fold-seconds:<key>``, the worker seconds of each entry summed over splits (resumed ones included).
    """
    from tqdm.auto import tqdm

    timings = {} if timings is None else timings
    results = {e.key: {} for e in entries}
    pending = []
    for kind, seed, group in _task_groups(entries):
        for split in splits:
            todo = []
            for e in group:
                tag, path = entry_tag(e, data), None if out is None else checkpoint_path(out, e.key, split)
                saved = None if path is None else read_checkpoint(path, tag, len(split.test_idx))
                if saved is not None:
                    _store(results, timings, e.key, split, *saved)
                else:
                    todo.append((e, path, tag))
            if todo:
                fut = executor.submit(split_task, [e for e, _, _ in todo], kind,
                                      None if kind is None else data.features[kind], data.y, data.speakers,
                                      split.train_idx, split.test_idx, fold_seed(seed, split.index),
                                      data.norm_groups)
                pending.append((split, todo, fut))
    if pending:
        n_runs = sum(len(t) for _, t, _ in pending)
        n_seeds = len({e.settings.seed for e in entries})
        per_seed = f"{len(entries) // n_seeds} systems x {n_seeds} seeds" if n_seeds > 1 else f"{len(entries)} systems"
        say(f"training {n_runs} (system, split) runs in {len(pending)} tasks ({per_seed} x "
            f"{len(splits)} splits, finished ones skipped)")
    done = set()
    try:
        for k, (split, todo, fut) in enumerate(tqdm(pending, desc=desc, unit="task")):
            _finish(results, timings, split, todo, fut.result())
            done.add(k)
    except BaseException:
        # keep what other workers finished meanwhile, so a resumed run does not redo it
        for k, (split, todo, fut) in enumerate(pending):
            if k not in done and fut.done() and not fut.cancelled() and fut.exception() is None:
                _finish(results, timings, split, todo, fut.result())
            elif not fut.done():
                fut.cancel()
        raise
    return results if per_split else {k: _assemble(v, splits, len(data.y)) for k, v in results.items()}


def _task_groups(entries):
    """(kind, seed, entries) for each feature kind (``_kind_order``) and, within it, each seed in the
    order given: one task per group and split, as every entry of a task trains with the task's seed."""
    for kind in _kind_order(entries):
        of_kind = [e for e in entries if systems.get(e.system).reads == kind]
        for seed in dict.fromkeys(e.settings.seed for e in of_kind):
            yield kind, seed, [e for e in of_kind if e.settings.seed == seed]


def _kind_order(entries) -> list:
    """The feature kinds in registration order (the slow tasks are submitted first, so none is left
    last), then None (systems that read nothing); a system reading an unknown kind stops the run."""
    order = [*feature_kinds.KINDS, None]
    for e in entries:
        if systems.get(e.system).reads not in order:
            raise SerRefError(f"system {e.system!r} reads feature kind {systems.get(e.system).reads!r}, "
                              f"which is not registered ({', '.join(feature_kinds.KINDS)})")
    return order


def _assemble(by_split, splits, n):
    """One (n, 4) array from splits whose test sets are disjoint (LOSO folds)."""
    out = np.full((n, 4), np.nan)
    tested = np.zeros(n, dtype=int)
    for split in splits:
        out[split.test_idx] = by_split[split.name]
        tested[split.test_idx] += 1
    if tested.max(initial=0) > 1:
        raise ValueError("splits test some utterances twice: use run(..., per_split=True)")
    return out


def _finish(results, timings, split, todo, task_out):
    for e, path, tag in todo:
        proba, seconds = task_out[e.key]
        if path is not None:
            _write_checkpoint(path, tag, split, proba, seconds)
        _store(results, timings, e.key, split, proba, seconds)


def _store(results, timings, key, split, proba, seconds):
    results[key][split.name] = proba
    # worker seconds summed over splits: what each system costs, whatever the parallelism or resumes
    timings[f"fold-seconds:{key}"] = timings.get(f"fold-seconds:{key}", 0.0) + seconds
