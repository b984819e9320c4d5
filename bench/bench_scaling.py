"""How the cost of ``reproduce`` grows with the corpus: synthetic corpora at 1x, 4x and 16x RAVDESS, stage by stage.

    python bench/bench_scaling.py                                  # 1x, 4x, 16x, every LOSO fold: many hours
    python bench/bench_scaling.py --folds 2                        # 2 of the 24 folds per training stage, x12
    python bench/bench_scaling.py --folds 2 --dask                 # ... then the Dask path at the largest size
    python bench/bench_scaling.py --sizes 0.05,0.1 --speakers 4 --folds 2 --quick --jobs 1 \\
        --systems rf-egemaps,dense --sweep 0 --out /tmp/scaling-smoke      # a smoke test: ~1 min of CPU

The corpora are the synthetic generator's (``ser_ref.corpora.synthetic``), with RAVDESS-like lengths
(``--syllables 13,18``: ~3.7 s, RAVDESS's 4-class files average 3.7 s) and a fixed number of speakers
(``--speakers``, 24 as RAVDESS), so that size x means 672 x utterances and the growth measured is the
data's, not the number of folds'. Each size gets its own corpus, feature cache (``SER_REF_CACHE`` set
to a folder under the work folder, never the user's) and output folder.

Stages, each in a fresh child process (``--child``): ``egemaps`` and ``layer1`` (the features, from an
empty cache), ``train:<system>`` for every Table 2 system (alone: the two-stage systems each train their
own Dense1 here, where reproduce shares one), ``figure3`` (Dense1+LSTM2 at Figure 3's other chunk
lengths) and ``reports`` (metrics, bootstrap intervals, McNemar, the files of ``report.write_all``).
Per stage: wall time, CPU time (the child and its worker processes, reaped: ``getrusage``), peak RSS
of the child and of each of its workers (VmHWM, read before the pool ends: ``hwm_mb``), and the
feature cache's size on disk.
``--folds K`` trains and reports on the first K LOSO folds only; the training and report stages' wall
and CPU time are then multiplied by (folds / K) (``*_all_folds``) and marked ``extrapolated``.

The growth exponent of every stage is a least-squares line through (log utterances, log seconds)
(``fit_power_law``). A second, smaller measurement (``--sweep``) keeps the ``--sweep-size`` corpus
fixed and merges its speakers into S groups (S dividing ``--speakers``), so that the training stages
run S LOSO folds on the same utterances: their growth with the number of speakers.
``project`` turns both into seconds at IEMOCAP (~10,000 utterances) and MSP-Podcast (~100,000) sizes
on this machine and on N Dask workers.

``--dask``: at ``--dask-size`` (default the largest size) a ``distributed.LocalCluster`` of 2 worker
processes is started here, ``python -m ser_ref.reproduce`` runs once with ``--jobs 2`` and once with
``--scheduler`` at that cluster (same corpus, same warm cache unless ``--dask-cold``, the first K folds
as an EmoBox fold folder under ``--folds K``), and table2.json, figure3.json and per_speaker.csv must
be byte-identical; the difference in wall time is the scheduler's overhead, stated per task.

With ``--out`` the work folder keeps each stage's measurement (``stages/<stage>.json``) as it finishes;
the same command again resumes at the first stage not measured (a feature stage cut short starts that
size's features again from an empty cache).

Writes bench/results/scaling-cpu.json and docs/figures/scaling-cpu.png when the sizes are 1, 4 and 16
with 24 speakers and without ``--quick``; any other run writes scaling.json and scaling.png under
``--out`` (or ``--json``).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RAVDESS_UTTERANCES = 672          # 24 actors x 4 classes x 7 (the 4-class files of RAVDESS speech)
RAVDESS_LIKE_SYLLABLES = (13, 18)  # ~3.7 s per utterance, RAVDESS's 4-class mean (corpora.synthetic)
TARGETS = {"IEMOCAP": 10_000, "MSP-Podcast": 100_000}
TARGET_FOLDS = {"IEMOCAP": 10, "MSP-Podcast": 1}  # LOSO over IEMOCAP's 10 speakers; MSP-Podcast's one given split
FULL_SIZES = (1.0, 4.0, 16.0)
FEATURE_STAGES = ("egemaps", "layer1")
MB = 2 ** 20


# ------------------------------------------------------------------------------------ the arithmetic
def fit_power_law(n, t) -> dict:
    """The least-squares line log t = log c + b log n: t ~ c n^b, with b the growth exponent.

    Examples
    --------
    >>> f = fit_power_law([672, 2688, 10752], [3 * n ** 1.5 for n in (672, 2688, 10752)])
    >>> round(f["exponent"], 6), round(f["coefficient"], 6)
    (1.5, 3.0)
    """
    x, y = np.log(np.asarray(n, float)), np.log(np.asarray(t, float))
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError(f"a growth exponent needs at least two different sizes, got {list(n)}")
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    return {"exponent": float(b), "coefficient": float(np.exp(a)), "n_points": int(x.size),
            "rms_log_residual": float(np.sqrt(np.mean(resid ** 2)))}


def at(fit: dict, n: float) -> float:
    """The fitted power law's value at ``n``.

    >>> at({"exponent": 2.0, "coefficient": 0.5}, 10)
    50.0
    """
    return float(fit["coefficient"] * n ** fit["exponent"])


def project(fits: dict, n: float, *, workers=(1,), folds: int | None = None, measured_folds: int = 24,
            speaker_fits: dict | None = None, jobs: int = 2, overhead: float = 0.0) -> dict:
    """Seconds of each stage at ``n`` utterances: on this machine (the wall-time fit, as measured with
    ``jobs`` processes) and on each number of Dask workers in ``workers`` (one process each).

    ``fits``: {stage: {"wall": fit, "cpu": fit, "parallel": bool}} over utterances at ``measured_folds``
    speakers. A training stage's folds are ``folds`` (default the measured number); its time is scaled by
    (folds / measured_folds) ** b, b the stage's exponent in speakers (``speaker_fits``; 1 where not
    measured). On N workers a parallel stage takes its CPU seconds / min(N, tasks) (tasks: the files for
    the features, the folds for the training, as one fold is one task) times (1 + ``overhead``, the
    scheduler's measured share); a stage that is not parallel keeps its wall time.

    Examples
    --------
    >>> lin = {"exponent": 1.0, "coefficient": 0.01}
    >>> fits = {"layer1": {"wall": lin, "cpu": {"exponent": 1.0, "coefficient": 0.02}, "parallel": True},
    ...         "train:dense": {"wall": lin, "cpu": lin, "parallel": True}}
    >>> p = project(fits, 10_000, workers=(1, 8), folds=12, measured_folds=24)
    >>> p["this_machine_s"], p["workers"]["8"]["layer1"], p["workers"]["8"]["train:dense"]
    ({'layer1': 100.0, 'train:dense': 50.0}, 25.0, 6.25)
    """
    folds = measured_folds if folds is None else folds
    here, on = {}, {str(w): {} for w in workers}
    for stage, f in fits.items():
        scale, tasks = 1.0, n
        if stage not in FEATURE_STAGES and stage != "reports":
            b = (speaker_fits or {}).get(stage, {}).get("exponent", 1.0)
            scale, tasks = (folds / measured_folds) ** b, folds
        here[stage] = at(f["wall"], n) * scale
        for w in workers:
            on[str(w)][stage] = (at(f["cpu"], n) * scale / min(w, tasks) * (1 + overhead) if f["parallel"]
                                 else here[stage])
    totals = {str(w): sum(v.values()) for w, v in on.items()}
    return {"n_utterances": n, "folds": folds, "this_machine_s": here, "this_machine_total_s": sum(here.values()),
            "this_machine_jobs": jobs, "workers": on, "workers_total_s": totals}


def per_emotion(size: float, speakers: int) -> int:
    """Utterances per speaker and emotion for a corpus of ``size`` x RAVDESS over ``speakers`` speakers.

    >>> per_emotion(1, 24), per_emotion(16, 24), per_emotion(0.05, 4)
    (7, 112, 2)
    """
    return max(1, round(size * RAVDESS_UTTERANCES / (4 * speakers)))


def extrapolate(measured: float, folds_total: int, folds_measured: int) -> float:
    """A training stage's seconds over every fold from those over the first folds (folds cost alike:
    the synthetic speakers all have the same number of utterances).

    >>> extrapolate(3.0, 24, 2)
    36.0
    """
    return measured * folds_total / folds_measured


# ------------------------------------------------------------------------------------ one stage (child)
def _usage():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


def hwm_mb(pid="self") -> float | None:
    """A process's peak resident memory in MiB (VmHWM of /proc/<pid>/status; Linux), None where unknown.

    Why not ``getrusage``'s ru_maxrss: it survives exec, so a child started by fork/vfork + exec reports
    at least its parent's memory at the fork; VmHWM belongs to the address space and starts again at exec.

    >>> import sys
    >>> sys.platform != "linux" or hwm_mb() > 1
    True
    """
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith("VmHWM:")), None)
    return None if line is None else int(line.split()[1]) / 1024


def _workers_hwm(executor) -> list[float]:
    """The peak memory of each worker process of a local pool (none for the in-process executor)."""
    return [m for m in (hwm_mb(pid) for pid in list(getattr(executor, "_processes", None) or {})) if m is not None]


def _regroup(items, groups: int, speakers: int):
    """The items with their speakers merged into ``groups`` groups of consecutive speakers: the same
    utterances (and cached features), fewer and larger LOSO folds."""
    from dataclasses import replace

    names = sorted({it.speaker for it in items})
    per = speakers // groups
    to = {s: f"grp{i // per + 1:02d}" for i, s in enumerate(names)}
    return [replace(it, speaker=to[it.speaker]) for it in items]


def child(spec: dict) -> dict:
    """Run one stage as ``spec`` says and measure it; what ``--child`` prints."""
    from ser_ref.corpora import load_with_report
    from ser_ref.deepspeech import load_layer1
    from ser_ref.evaluation.dataset import build_dataset
    from ser_ref.evaluation.executors import SerialExecutor, make_executor
    from ser_ref.evaluation.table2 import FIG3_CHUNKS, FIG3_CHUNKS_QUICK, table2_entries, table2_specs
    from ser_ref.files import locations

    stage, cache = spec["stage"], locations.cache_dir()
    items, _ = load_with_report("synthetic", Path(spec["root"]))
    if spec.get("groups"):
        items = _regroup(items, spec["groups"], spec["speakers"])
    layer = load_layer1(spec.get("model"), verbose=False)
    specs = table2_specs(layer)
    quiet = lambda *a, **k: None  # noqa: E731
    if stage in FEATURE_STAGES:
        _warm_up(stage, specs[stage])
        t0, self0, kids0 = _usage()
        executor = make_executor(spec["jobs"])
        build_dataset(items, {stage: specs[stage]}, executor=executor, cache_root=cache)
        workers = _workers_hwm(executor)
        executor.shutdown(wait=True)
        end, extra = _usage(), {}
    else:
        from ser_ref.evaluation.runner import run as run_entries
        from ser_ref.evaluation.splits import loso
        from ser_ref.evaluation.systems import Settings

        data, _ = build_dataset(items, specs, executor=SerialExecutor(), cache_root=cache)  # all from the cache
        folds = loso(data.speakers)
        measured = folds[:spec["folds"]] if spec.get("folds") else folds
        settings = (Settings.quick if spec["quick"] else Settings)(seed=0)
        entries = table2_entries(settings, FIG3_CHUNKS_QUICK if spec["quick"] else FIG3_CHUNKS)
        out = Path(spec["run_dir"])
        t0, self0, kids0 = _usage()
        if stage == "reports":
            extra = _reports(entries, measured, data, out, spec)
            end, workers = _usage(), []
        else:
            chosen = [e for e in entries if ("@" in e.key if stage == "figure3" else e.key == stage[len("train:"):])]
            executor = make_executor(spec["jobs"])
            run_entries(chosen, measured, data, executor, out=out, say=quiet, desc=stage)
            workers = _workers_hwm(executor)
            executor.shutdown(wait=True)
            end = _usage()
            extra = {"largest_training_set_mb": round(_largest_training_set(data, measured) / MB, 1)}
        extra.update(folds_measured=len(measured), folds_total=len(folds))
    t1, self1, kids1 = end
    return {"stage": stage, "wall_s": round(t1 - t0, 3), "cpu_s": round(self1 - self0 + kids1 - kids0, 3),
            "cpu_workers_s": round(kids1 - kids0, 3), "max_rss_mb": round(hwm_mb() or 0.0, 1),
            "workers_max_rss_mb": round(max(workers), 1) if workers else None,
            "workers_rss_mb": [round(m, 1) for m in workers],
            "n_utterances": len(items), "n_speakers": len({it.speaker for it in items}), **extra}


def _warm_up(stage: str, spec) -> None:
    """The stage's features of half a second of one synthetic voice, uncached, before the clock starts:
    this process's Numba functions are loaded from their on-disk cache (or compiled, the first time in a
    checkout) outside the measurement. Worker processes (--jobs > 1) still load theirs inside it."""
    from ser_ref.corpora.synthetic import utterance
    from ser_ref.evaluation import feature_kinds

    feature_kinds.get(spec.kind).compute(utterance(0, "anger")[:8000], spec.params)


def _largest_training_set(data, folds) -> int:
    """Bytes of layer-1 frames in the largest training set among ``folds`` (what one task maps)."""
    sizes = np.array([os.path.getsize(p) for p in data.features["layer1"]])
    return int(max(sizes[f.train_idx].sum() for f in folds))


def _reports(entries, folds, data, out: Path, spec: dict) -> dict:
    """The report stage of reproduce on the folds and systems trained: every row read back from its
    checkpoints, restricted to the utterances tested, through ``report.write_all`` (the McNemar tests
    are against the forest, so it needs rf-egemaps)."""
    from ser_ref.evaluation import fold_files, report
    from ser_ref.evaluation.executors import SerialExecutor
    from ser_ref.evaluation.runner import run as run_entries

    trained = [e for e in entries if ("@" in e.key and spec["figure3"]) or e.key in spec["systems"]]
    if "rf-egemaps" not in spec["systems"]:
        return {"skipped": "the reports test every row against rf-egemaps, which this run did not train"}
    probas = run_entries(trained, folds, data, SerialExecutor(), out=out, say=lambda *a, **k: None, desc="reports")
    keep = fold_files.utterances_tested(folds, len(data.y))
    y, speakers, probas = data.y[keep], data.speakers[keep], {k: p[keep] for k, p in probas.items()}
    rows = {k: p for k, p in probas.items() if "@" not in k}
    fig3 = {int(k.split("@")[1]): p for k, p in probas.items() if "@" in k}
    if "dense1+lstm2" in rows:  # Figure 3's default chunk length is the Table 2 row
        fig3[next(e.settings.chunk_len for e in entries if e.key == "dense1+lstm2")] = rows["dense1+lstm2"]
    problems = {"n_items": len(data.y), "n_used": len(data.y), "n_left_out": 0, "feature_errors": [],
                "speakers_missing_classes": []}
    report.write_all(out / "report", "synthetic", y, speakers, rows, fig3, {}, problems, seed=0)
    return {"rows_reported": sorted(rows), "figure3_chunks": sorted(fig3)}


# ------------------------------------------------------------------------------------ the parent
def stage_names(systems, with_figure3: bool = True) -> list[str]:
    """The stages of a run, in reproduce's order.

    >>> stage_names(["majority", "dense"])
    ['egemaps', 'layer1', 'train:majority', 'train:dense', 'figure3', 'reports']
    """
    return [*FEATURE_STAGES, *(f"train:{s}" for s in systems), *(["figure3"] if with_figure3 else []), "reports"]


def disk_bytes(folder: Path) -> tuple[int, int]:
    """(bytes of the files, bytes they occupy on disk) under ``folder``."""
    files = [p.stat() for p in Path(folder).rglob("*") if p.is_file()] if Path(folder).is_dir() else []
    return sum(s.st_size for s in files), sum(s.st_blocks * 512 for s in files)


def measured(record: Path, measure) -> tuple[dict, bool]:
    """(the measurement in ``record``, True) when an earlier run made it, else (``measure()``, False)
    with the result written to ``record`` (atomically): an interrupted ``--out`` run resumes at the
    stage it was in."""
    from ser_ref.files.atomic import write_json

    if record.is_file():
        return json.loads(record.read_text()), True
    res = measure()
    write_json(record, res, sort_keys=False)
    return res, False


def record_path(folder: Path, stage: str) -> Path:
    """Where a stage's measurement is kept ("train:dense" -> train-dense.json: no colon in a file name)."""
    return folder / f"{stage.replace(':', '-')}.json"


def run_stage(spec: dict, env: dict) -> dict:
    """One stage in a fresh child process; its measurement, plus the wall time seen from here.

    A training stage starts without fold checkpoints of its own in ``run_dir`` (a stage cut short
    leaves some, and reproduce's resume would read them back instead of training: no time measured)."""
    stage, folds = spec["stage"], Path(spec.get("run_dir") or "/nonexistent") / "folds"
    if stage.startswith("train:") or stage == "figure3":
        for d in (folds.iterdir() if folds.is_dir() else ()):
            if ("@" in d.name) if stage == "figure3" else d.name == stage.removeprefix("train:"):
                shutil.rmtree(d)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"stage {spec['stage']} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = round(time.perf_counter() - t, 3)
    return res


def corpus(work: Path, size: float, args) -> tuple[Path, dict]:
    """The synthetic corpus of ``size`` under ``work`` (generated once), and what making it took."""
    from ser_ref.corpora import synthetic

    root = work / "corpus"
    there = (root / "manifest.json").is_file()  # then generate only checks it: no time of its making
    t = time.perf_counter()
    synthetic.generate(root, n_speakers=args.speakers, n_per_emotion=per_emotion(size, args.speakers), seed=0,
                       syllables=args.syllables)
    return root, {"generate_wall_s": None if there else round(time.perf_counter() - t, 2),
                  "n_per_emotion": per_emotion(size, args.speakers)}


def measure_size(size: float, args, work: Path) -> dict:
    """Every stage on the corpus of ``size``, from an empty feature cache."""
    import soundfile as sf

    root, made = corpus(work, size, args)
    cache = work / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SER_REF_CACHE": str(cache)}
    records = work / "stages"
    made, _ = measured(records / "corpus.json", lambda: made)  # a resumed run keeps the first run's time
    if not all(record_path(records, s).is_file() for s in FEATURE_STAGES):
        # a feature stage is measured from an empty cache: one cut short starts the features again
        shutil.rmtree(cache, ignore_errors=True)
        for s in FEATURE_STAGES:
            record_path(records, s).unlink(missing_ok=True)

    def measure(spec):
        before = disk_bytes(cache)
        res = run_stage(spec, env)
        if spec["stage"] in FEATURE_STAGES:
            after = disk_bytes(cache)
            res["cache_mb"], res["cache_on_disk_mb"] = (round((a - b) / MB, 2) for a, b in zip(after, before))
        return _extrapolate_stage(res)

    stages = {}
    for stage in args.stages:
        spec = {"stage": stage, "root": str(root), "jobs": args.jobs, "folds": args.folds, "quick": args.quick,
                "run_dir": str(work / "run"), "model": args.model, "speakers": args.speakers,
                "systems": args.systems, "figure3": "figure3" in args.stages}
        res, before = measured(record_path(records, stage), lambda: measure(spec))
        stages[stage] = res
        print(f"  {size:g}x {stage:<22} " + ("measured before (resumed)" if before else
              f"wall {res['wall_s']:8.1f} s  cpu {res['cpu_s']:8.1f} s  rss {res['max_rss_mb']:7.0f} MB  "
              f"workers {res['workers_max_rss_mb'] or '-'} MB"), flush=True)
    durations = [sf.info(str(p)).duration for p in sorted(root.rglob("*.wav"))]
    return {"size": size, "n_utterances": len(durations), "n_speakers": args.speakers,
            "mean_duration_s": round(float(np.mean(durations)), 3), "hours_of_audio": round(sum(durations) / 3600, 3),
            **made, "stages": stages}


def _extrapolate_stage(res: dict) -> dict:
    """A stage measured on some folds (training, reports) gains ``wall_s_all_folds`` / ``cpu_s_all_folds``;
    a feature stage's are its own. Returns ``res``, changed in place."""
    k, total = res.get("folds_measured"), res.get("folds_total")
    scale = res["stage"] not in FEATURE_STAGES and k is not None
    for key in ("wall_s", "cpu_s"):
        res[f"{key}_all_folds"] = round(extrapolate(res[key], total, k), 3) if scale else res[key]
    res["extrapolated"] = bool(scale and k < total)
    return res


def warm_cache(root: Path, cache: Path, args) -> dict:
    """Every feature of the corpus at ``root`` in ``cache`` (computed unless there already; not a
    measurement); the environment of a child that uses that cache."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SER_REF_CACHE": str(cache)}
    for stage in FEATURE_STAGES:
        run_stage({"stage": stage, "root": str(root), "jobs": args.jobs, "model": args.model, "quick": args.quick,
                   "speakers": args.speakers}, env)
    return env


def speaker_sweep(args, work: Path) -> dict:
    """The training stages on one corpus (``--sweep-size``) with its speakers merged into each of
    ``--sweep`` groups: growth with the number of LOSO folds at a fixed amount of data."""
    root, _ = corpus(work, args.sweep_size, args)
    env = warm_cache(root, work / "cache", args)
    runs = {}
    training = [s for s in args.stages if s not in FEATURE_STAGES and s != "reports"]
    for groups in args.sweep:
        runs[str(groups)] = {}
        for stage in training:
            spec = {"stage": stage, "root": str(root), "jobs": args.jobs, "folds": args.folds, "quick": args.quick,
                    "run_dir": str(work / f"run-{groups}"), "model": args.model, "groups": groups,
                    "speakers": args.speakers, "systems": args.systems, "figure3": "figure3" in args.stages}
            res, _ = measured(record_path(work / f"stages-{groups}-speakers", stage),
                              lambda: _extrapolate_stage(run_stage(spec, env)))
            runs[str(groups)][stage] = res
            print(f"  {groups:>3} speakers {stage:<22} wall {res['wall_s']:8.1f} s (all folds "
                  f"{res['wall_s_all_folds']:.1f} s)", flush=True)
    fits = {stage: fit_power_law(args.sweep, [runs[str(g)][stage]["wall_s_all_folds"] for g in args.sweep])
            for stage in training} if len(args.sweep) > 1 else {}
    return {"size": args.sweep_size, "speakers": list(args.sweep), "runs": runs, "fits_wall": fits}


def growth(sizes: list[dict], stages) -> dict:
    """{stage: {"wall", "cpu", "workers_max_rss", "parallel"}} fitted over the sizes' utterances."""
    n = [s["n_utterances"] for s in sizes]
    out = {}
    for stage in stages:
        rows = [s["stages"][stage] for s in sizes]
        if any("skipped" in r for r in rows):
            continue
        out[stage] = {"wall": fit_power_law(n, [r["wall_s_all_folds"] for r in rows]),
                      "cpu": fit_power_law(n, [r["cpu_s_all_folds"] for r in rows]),
                      "max_rss": fit_power_law(n, [max(r["max_rss_mb"], r["workers_max_rss_mb"] or 0) for r in rows]),
                      "parallel": stage != "reports"}
    return out


def projections(fits: dict, sweep: dict | None, jobs: int, overhead: float, speakers: int) -> dict:
    """``project`` at the sizes of IEMOCAP and MSP-Podcast, on this machine and on 2, 8 and 32 workers."""
    speaker_fits = (sweep or {}).get("fits_wall") or None
    return {name: project(fits, n, workers=(1, 2, 8, 32), folds=TARGET_FOLDS[name], measured_folds=speakers,
                          speaker_fits=speaker_fits, jobs=jobs, overhead=overhead)
            for name, n in TARGETS.items()}


# ------------------------------------------------------------------------------------ the Dask path
def emobox_folds(root: Path, folder: Path, k: int) -> Path:
    """The first ``k`` LOSO folds of the corpus at ``root`` as an EmoBox fold folder (what reproduce's
    --folds reads): fold i tests speaker i (sorted) and trains on every other speaker."""
    from ser_ref.corpora import load_with_report

    items, _ = load_with_report("synthetic", root)
    names = sorted({it.speaker for it in items})
    for i, test in enumerate(names[:k], 1):
        d = folder / f"fold_{i}"
        d.mkdir(parents=True, exist_ok=True)
        for part, keep in (("train", lambda s: s != test), ("test", lambda s: s == test)):
            lines = [json.dumps({"wav": str(it.path), "emo": it.label}) for it in items if keep(it.speaker)]
            (d / f"synthetic_{part}_fold_{i}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def reproduce(root: Path, out: Path, cache: Path, args, extra: list[str], fold_dir: Path | None) -> dict:
    """One ``python -m ser_ref.reproduce`` on the corpus: wall seconds, its manifest's stage times."""
    cmd = [sys.executable, "-m", "ser_ref.reproduce", "--corpus", "synthetic", "--root", str(root), "--seed", "0",
           "--out", str(out), *extra, *(["--quick"] if args.quick else []),
           *(["--folds", str(fold_dir)] if fold_dir else []), *(["--model", args.model] if args.model else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SER_REF_CACHE": str(cache)}
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"reproduce {' '.join(extra)} failed:\n{done.stderr[-3000:]}")
    times = json.loads((out / "manifest.json").read_text())["wall_time_s"]
    return {"command": " ".join(["python -m ser_ref.reproduce", *cmd[3:]]).replace(str(out), "<out>"),
            "wall_s": round(time.perf_counter() - t, 2),
            "stages_s": {k: v for k, v in times.items() if not k.startswith("fold-seconds:")}}


def dask_check(args, work: Path) -> dict:
    """reproduce with --jobs 2 and through a 2-worker LocalCluster: identical files, and the overhead."""
    from distributed import Client, LocalCluster

    size = args.dask_size
    size_dir = work / f"size-{size:g}"
    root, _ = corpus(size_dir, size, args)
    fold_dir = emobox_folds(root, work / "dask-folds", args.folds) if args.folds else None
    warm = size_dir / "cache"
    caches = {"jobs2": warm, "dask": warm} if not args.dask_cold else \
        {"jobs2": work / "dask-cache-jobs2", "dask": work / "dask-cache-dask"}
    if not args.dask_cold:
        warm_cache(root, warm, args)  # a size measured above finds its features there already
    os.environ.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                      NUMBA_NUM_THREADS="1")  # the workers inherit these, as a pool's workers get them
    for name in ("out-jobs2", "out-dask"):   # a resumed benchmark times both runs again, from the start
        shutil.rmtree(work / name, ignore_errors=True)
    runs = {"jobs2": reproduce(root, work / "out-jobs2", caches["jobs2"], args, ["--jobs", "2"], fold_dir)}
    # Dask's nanny restarts a worker whose RSS passes 95 % of its memory limit (by default the machine's
    # memory / workers). A training task maps its training set's layer-1 files, and those pages (the page
    # cache, shared by the workers and reclaimable) count in its RSS: at 16x that is 14 GB per worker, more
    # than half of a 23 GB machine. Each worker's limit is therefore the machine's memory.
    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    t = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=limit) as cluster, Client(cluster) as client:
        start_s = time.perf_counter() - t
        runs["dask"] = reproduce(root, work / "out-dask", caches["dask"], args,
                                 ["--scheduler", cluster.scheduler_address], fold_dir)
        worker_rss = client.run(hwm_mb)
    for run in runs.values():  # no paths of this machine in the results
        run["command"] = run["command"].replace(cluster.scheduler_address, "<scheduler>").replace(str(root), "<corpus>")
        if fold_dir:
            run["command"] = run["command"].replace(str(fold_dir), "<first K LOSO folds>")
    same = {name: (work / "out-jobs2" / name).read_bytes() == (work / "out-dask" / name).read_bytes()
            for name in ("table2.json", "figure3.json", "per_speaker.csv")}
    return {"size": size, "folds": args.folds or "all", "cache": "cold" if args.dask_cold else
            "warm (the stage measurement's)", "cluster_start_s": round(start_s, 2),
            "worker_memory_limit_mb": round(limit / MB, 1),
            "workers_max_rss_mb": {f"worker {i}": round(v, 1) for i, v in enumerate(worker_rss.values())},
            **overhead(runs, same, _n_tasks(work / "out-jobs2"))}


def overhead(runs: dict, same: dict, tasks: dict) -> dict:
    """The scheduler's overhead: the Dask run's seconds in the stages that go through the executor
    (features and training, from each run's manifest) less the --jobs 2 run's, in all and per task.

    >>> runs = {"jobs2": {"wall_s": 100.0, "stages_s": {"corpus": 1.0, "features:egemaps": 20.0,
    ...                                                "training (wall)": 60.0}},
    ...         "dask": {"wall_s": 110.0, "stages_s": {"corpus": 9.0, "features:egemaps": 22.0,
    ...                                               "training (wall)": 62.0}}}
    >>> o = overhead(runs, {"table2.json": True}, {"files": 100, "feature_tasks": 100, "training_tasks": 60})
    >>> o["overhead_s"], o["overhead_fraction"], o["overhead_per_task_ms"], o["all_identical"]
    (4.0, 0.05, 25.0, True)
    """
    for run in runs.values():
        run["executor_s"] = round(sum(v for k, v in run["stages_s"].items()
                                      if k.startswith("features:") or k == "training (wall)"), 3)
    extra = runs["dask"]["executor_s"] - runs["jobs2"]["executor_s"]
    n = sum(v for k, v in tasks.items() if k != "files")
    return {"n_utterances": tasks["files"], "runs": runs, "byte_identical": same, "all_identical": all(same.values()),
            "overhead_s": round(extra, 3), "overhead_fraction": round(extra / runs["jobs2"]["executor_s"], 4),
            "overhead_per_task_ms": round(1000 * extra / n, 3), "tasks": tasks,
            "process_wall_difference_s": round(runs["dask"]["wall_s"] - runs["jobs2"]["wall_s"], 2)}


def _n_tasks(out: Path) -> dict:
    """How many executor tasks a reproduce run submitted: one per file and feature pass, one per
    (fold, feature kind) of training."""
    manifest = json.loads((out / "manifest.json").read_text())
    files = manifest["corpus"]["n_files"]
    folds = len({p.name for p in (out / "folds").rglob("*.json")})
    passes = sum(1 for k in manifest["wall_time_s"] if k.startswith("features:"))
    return {"files": files, "feature_tasks": files * passes, "training_tasks": folds * 3}


# ------------------------------------------------------------------------------------ the figure
def plot(result: dict, path: Path) -> str | None:
    """Seconds against utterances per stage (log-log, fitted lines, exponents in the legend); the
    training stages against speakers; peak RSS against utterances."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no figure (pip install 'ser_ref[plot]')"
    sizes, fits = result["sizes"], result["fits"]
    n = np.array([s["n_utterances"] for s in sizes], float)
    grid = np.geomspace(n.min(), n.max(), 20)
    sweep = result.get("speaker_sweep")
    fig, axes = plt.subplots(1, 3 if sweep else 2, figsize=(16 if sweep else 11, 5))
    axes = [axes[0], axes[1] if sweep else None, axes[-1]]
    for stage, f in fits.items():
        t = [s["stages"][stage]["wall_s_all_folds"] for s in sizes]
        line, = axes[0].loglog(n, t, "o", label=f"{stage}: b = {f['wall']['exponent']:.2f}")
        axes[0].loglog(grid, [at(f["wall"], g) for g in grid], "-", color=line.get_color(), lw=1)
        rss = [max(s["stages"][stage]["max_rss_mb"], s["stages"][stage]["workers_max_rss_mb"] or 0) for s in sizes]
        axes[2].loglog(n, rss, "o-", color=line.get_color(), label=f"{stage}: b = {f['max_rss']['exponent']:.2f}")
    axes[0].set(xlabel="utterances", ylabel="wall seconds (training: all folds)",
                title=f"cost per stage, {result['speakers']} speakers, --jobs {result['jobs']}")
    axes[2].set(xlabel="utterances", ylabel="peak RSS of a process, MB", title="memory per stage")
    if sweep:
        s_axis = np.array(sweep["speakers"], float)
        for stage, f in sweep["fits_wall"].items():
            axes[1].loglog(s_axis, [sweep["runs"][str(int(s))][stage]["wall_s_all_folds"] for s in s_axis], "o-",
                           label=f"{stage}: b = {f['exponent']:.2f}")
        axes[1].set(xlabel="speakers (LOSO folds)", ylabel="wall seconds, all folds",
                    title=f"training against speakers, {sweep['size']:g}x data")
    for ax in filter(None, axes):
        if ax.has_data():
            ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# ------------------------------------------------------------------------------------ main
def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    floats = lambda text: [float(v) for v in text.split(",")]  # noqa: E731
    ints = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    ap.add_argument("--sizes", type=floats, default=list(FULL_SIZES), help="corpus sizes in RAVDESS units (672 "
                    "utterances), comma-separated; fractions for a smoke test (default 1,4,16)")
    ap.add_argument("--speakers", type=int, default=24, help="speakers of every corpus (default 24, as RAVDESS)")
    ap.add_argument("--syllables", type=ints, default=list(RAVDESS_LIKE_SYLLABLES),
                    help="syllable range per utterance (default 13,18: RAVDESS-like ~3.7 s)")
    ap.add_argument("--folds", type=int, default=None, help="train and report on the first K LOSO folds only; "
                    "training times are extrapolated to all folds (x folds / K)")
    ap.add_argument("--systems", type=lambda t: t.split(","), default=None,
                    help="the Table 2 systems to train (default all six)")
    ap.add_argument("--no-figure3", action="store_true", help="leave out the Figure 3 sweep's training stage")
    ap.add_argument("--quick", action="store_true", help="reproduce's --quick training settings")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes per stage (default 2; 1: in-process)")
    ap.add_argument("--sweep", type=ints, default=None, help="speaker counts for the growth with speakers, "
                    "each dividing --speakers (default 6,12,24 with 24 speakers; 'none' is --sweep 0)")
    ap.add_argument("--sweep-size", type=float, default=None, help="the corpus size of the speaker sweep "
                    "(default the smallest of --sizes)")
    ap.add_argument("--dask", action="store_true", help="also the Dask path: --jobs 2 against a 2-worker LocalCluster")
    ap.add_argument("--dask-only", action="store_true", help="only the Dask path (its corpus's features are "
                    "computed first if they are not in the work folder's cache)")
    ap.add_argument("--dask-size", type=float, default=None, help="its corpus size (default the largest of --sizes)")
    ap.add_argument("--dask-cold", action="store_true", help="each run from its own empty cache (default: the "
                    "features the stage measurement left, so the runs differ in the training and the tasks)")
    ap.add_argument("--model", default=None, help="DeepSpeech weights (default: found as reproduce finds them)")
    ap.add_argument("--out", type=Path, default=None, help="work folder (kept); default a temporary one, removed")
    ap.add_argument("--json", type=Path, default=None, help="where the results go (default: see above)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return args
    from ser_ref.evaluation.systems import SYSTEMS

    bad = [s for s in (args.systems or []) if s not in SYSTEMS]
    if bad:
        ap.error(f"--systems: unknown {', '.join(bad)} (one of {', '.join(SYSTEMS)})")
    if any(s <= 0 for s in args.sizes) or len(set(args.sizes)) != len(args.sizes):
        ap.error(f"--sizes: distinct positive numbers, got {args.sizes}")
    if args.folds is not None and not 2 <= args.folds <= args.speakers:
        ap.error(f"--folds: between 2 (the reports' speaker intervals need two tested speakers) and --speakers "
                 f"({args.speakers}), got {args.folds}")
    args.syllables = tuple(args.syllables)
    args.systems = args.systems or list(SYSTEMS)
    args.stages = stage_names(args.systems, not args.no_figure3)
    if args.sweep is None:
        args.sweep = [6, 12, 24] if args.speakers == 24 else [args.speakers]
    args.sweep = [g for g in args.sweep if g]
    if any(args.speakers % g or g < 2 for g in args.sweep):
        ap.error(f"--sweep: each count must be >= 2 and divide --speakers ({args.speakers}), got {args.sweep}")
    args.sweep_size = args.sweep_size or min(args.sizes)
    args.dask_size = args.dask_size or max(args.sizes)
    return args


def is_full(args) -> bool:
    """A run at the published sizes (1x, 4x, 16x, 24 speakers, the paper's training settings)."""
    return sorted(args.sizes) == list(FULL_SIZES) and args.speakers == 24 and not args.quick and not args.dask_only


def measure(args, work: Path) -> dict:
    from machine_info import machine

    t = time.perf_counter()
    sizes = [] if args.dask_only else [measure_size(size, args, work / f"size-{size:g}")
                                       for size in sorted(args.sizes)]
    fits = growth(sizes, args.stages) if len(sizes) > 1 else {}
    sweep = speaker_sweep(args, work / f"size-{args.sweep_size:g}") if len(args.sweep) > 1 and sizes else None
    dask = dask_check(args, work) if args.dask or args.dask_only else None
    overhead = max(0.0, dask["overhead_fraction"]) if dask else 0.0
    return {"machine": machine(), "jobs": args.jobs, "speakers": args.speakers, "syllables": list(args.syllables),
            "quick": args.quick, "folds_measured": args.folds, "full_sizes": is_full(args),
            "note": _note(args), "sizes": sizes, "fits": fits, "speaker_sweep": sweep, "dask": dask,
            "projection": projections(fits, sweep, args.jobs, overhead, args.speakers) if fits else None,
            "bench_wall_s": round(time.perf_counter() - t, 1)}


def _note(args) -> str:
    return ("Synthetic corpora (ser_ref.corpora.synthetic, RAVDESS-like lengths), not real speech. Each stage "
            "ran in its own process after the one before it, from an empty feature cache for the features. "
            + (f"Training and reports ran on the first {args.folds} LOSO folds; the training stages' *_all_folds "
               f"and report times are those x (folds / {args.folds}) (extrapolated: true). " if args.folds else "")
            + "The two-stage systems and figure3 each train their own Dense1 here (reproduce shares one). "
            "Peak memory is VmHWM per process: it counts the pages of the mapped layer-1 files a training task "
            "touches (page cache the two workers share) as well as its own arrays. "
            "Exponents: least squares through (log utterances, log seconds); projections: the fits carried to "
            "IEMOCAP (10,000 utterances, 10 LOSO folds) and MSP-Podcast (100,000, its one given split), the "
            "training scaled by (folds / measured folds) ** (the speaker exponent), on N workers the CPU seconds "
            "/ min(N, tasks) x (1 + the measured Dask overhead).")


def main(argv=None) -> int:
    args = parse(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    from ser_ref.errors import FolderInUseError
    from ser_ref.files.atomic import folder_lock, write_json

    work = args.out or Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(work):   # a second run on the same --out would resume into the first one's stages
            result = measure(args, work)
    except FolderInUseError as exc:
        raise SystemExit(f"bench_scaling: --out {exc}") from None
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)

    json_path = args.json or (ROOT / "bench" / "results" / "scaling-cpu.json" if is_full(args) else
                              (args.out or Path(".")) / "scaling.json")
    figure = (ROOT / "docs" / "figures" / "scaling-cpu.png" if is_full(args) and args.json is None
              else json_path.with_suffix(".png"))
    if result["fits"]:
        result["figure"] = plot(result, figure) or os.path.relpath(figure, ROOT)
    write_json(json_path, result, sort_keys=False)
    print(json.dumps({"fits": {k: round(v["wall"]["exponent"], 3) for k, v in result["fits"].items()},
                      "dask": result["dask"] and {k: result["dask"][k] for k in
                                                  ("all_identical", "overhead_s", "overhead_per_task_ms")},
                      "json": str(json_path)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
