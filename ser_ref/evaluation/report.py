"""Reports of a reproduction run: Table 2 (markdown + JSON), Figure 3, confusion matrices,
per-speaker results and the manifest that pins what produced them."""
from __future__ import annotations

import csv
import io
import platform
import shlex
from importlib import metadata
from pathlib import Path

import numpy as np

from ..files import atomic
from ..runtime.blas_threads import corename
from .table2 import PAPER_ACCURACY, ROW_TITLES


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """Platform, Python, logical CPU count, CPU model (from /proc/cpuinfo where it exists) and the
    OpenBLAS kernel family NumPy runs (the networks' last bits depend on it: ``blas_threads.corename``).

    Examples
    --------
    >>> sorted(machine())
    ['cpu_count', 'cpu_model', 'openblas_kernels', 'platform', 'python']
    """
    import os

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "cpu_model": cpu, "openblas_kernels": corename()}


def run_manifest(run, settings, layer, timings, **specific) -> dict:
    """What every command's manifest.json holds: the command line, its arguments and settings, the
    DeepSpeech weights (file_sha256: the weight file's bytes as loaded; source_sha256: the .tflite it
    came from), package versions, the machine (with its BLAS kernels) and the wall time per stage.
    ``run`` is the command's ``RunSettings``: the command line is the one the command parsed
    (``run.argv``, quoted for a shell), not the process's (they differ when ``main(argv)`` is called
    from Python), and ``args`` every argument as parsed. ``specific`` adds what only that command
    knows (its corpus, its backend).

    >>> from types import SimpleNamespace
    >>> from ser_ref.evaluation.run_settings import RunSettings
    >>> from ser_ref.evaluation.systems import Settings
    >>> run = RunSettings("reproduce", argv=("--seed", "1"), arguments=(("seed", "1"),), seed=1)
    >>> m = run_manifest(run, Settings(seed=1), SimpleNamespace(source="w.npz", metadata={}), {"total": 2.0})
    >>> m["command"], m["args"], m["model"]
    ('python -m ser_ref.reproduce --seed 1', {'seed': '1'}, {'weights_file': 'w.npz'})
    """
    from dataclasses import asdict

    return {
        "command": " ".join([f"python -m ser_ref.{run.command}", shlex.join(run.argv)]).strip(),
        "args": dict(run.arguments),
        "settings": asdict(settings),
        **specific,
        "model": {"weights_file": layer.source} | {k: v for k, v in layer.metadata.items() if k != "alphabet"},
        "versions": {p: _version(p) for p in ("ser_ref", "numpy", "scipy", "numba", "soundfile", "cupy-cuda13x", "cupy-cuda12x")}
        | {"python": platform.python_version()},
        "machine": machine(),
        "wall_time_s": {k: round(v, 3) for k, v in timings.items()},
    }


def manifest(run, settings, items, file_list_hash, layer, timings) -> dict:
    """reproduce's manifest.json: ``run_manifest`` plus the corpus and the backend."""
    return run_manifest(run, settings, layer, timings,
                        corpus={"name": run.corpus, "n_files": len(items), "file_list_sha256_16": file_list_hash,
                                "synthetic": run.is_synthetic},
                        backend={"device": run.device, "layer1_mode": run.mode})


def row_summary(y, proba, rf_pred, seed: int, *, speakers) -> dict:
    """One Table 2 row: the metrics, 95 % intervals resampling utterances (``*_ci95``) and speakers
    (``*_ci95_speaker``), and the p-values against the forest's predictions ``rf_pred`` (None for the
    forest itself): McNemar over utterances, the exact sign-flip test over speakers.

    Examples
    --------
    >>> y = np.array([0, 1, 2, 3] * 3); spk = np.repeat(["a", "b", "c"], 4)
    >>> r = row_summary(y, np.eye(4)[y], None, 0, speakers=spk)
    >>> r["accuracy"], r["accuracy_ci95_speaker"], r["p_speaker_vs_rf"]
    (1.0, [1.0, 1.0], None)
    """
    from .metrics import bootstrap_ci, mcnemar, metrics, speaker_bootstrap_ci, speaker_sign_flip

    pred = np.argmax(proba, axis=1)
    m = metrics(y, pred, n_classes=4)
    out = {k: (np.asarray(v).tolist() if k == "confusion" else float(v)) for k, v in m.items()}
    out["accuracy_ci95"] = [float(v) for v in bootstrap_ci(y, pred, metric="accuracy", seed=seed)]
    out["ua_ci95"] = [float(v) for v in bootstrap_ci(y, pred, metric="ua", seed=seed)]
    out["mcnemar_p_vs_rf"] = None if rf_pred is None else float(mcnemar(y, pred, rf_pred))
    out["accuracy_ci95_speaker"] = list(speaker_bootstrap_ci(y, pred, speakers, metric="accuracy", seed=seed))
    out["ua_ci95_speaker"] = list(speaker_bootstrap_ci(y, pred, speakers, metric="ua", seed=seed))
    out["p_speaker_vs_rf"] = None if rf_pred is None else speaker_sign_flip(y, pred, rf_pred, speakers)
    return out


def seed_columns(y, probas_by_seed: dict, names=("accuracy", "ua", "macro_f1")) -> dict:
    """What several seeds add to a row: ``per_seed`` ({seed: {name: value}} for ``names``) and the mean
    and sample sd of accuracy and UA over the seeds (``seeds.spread``: sd None for one seed).

    >>> y = np.array([0, 1, 2, 3])
    >>> c = seed_columns(y, {0: np.eye(4)[[0, 1, 2, 3]], 1: np.eye(4)[[0, 1, 2, 0]]})
    >>> c["per_seed"]["1"]["accuracy"], c["accuracy_mean"], round(c["accuracy_sd"], 4)
    (0.75, 0.875, 0.1768)
    """
    from .metrics import metrics
    from .seeds import spread

    per_seed = {}
    for s, proba in probas_by_seed.items():
        m = metrics(y, np.argmax(proba, axis=1), n_classes=4)
        per_seed[str(s)] = {name: float(m[name]) for name in names}
    return {"per_seed": per_seed, **spread(per_seed)}


def _pct(v) -> str:
    return f"{100 * v:.1f}"


def used_line(problems: dict) -> str:
    """"N of M utterances used; K left out, see problems.json": what the table rests on."""
    n, m = problems["n_used"], problems["n_items"]
    return f"{n} of {m} utterances used; {m - n} left out, see problems.json."


def table_markdown(corpus: str, rows: dict, problems: dict | None = None) -> str:
    lines = []
    if corpus == "synthetic":
        lines.append("**SYNTHETIC corpus** (generated voices): not comparable with the paper's IEMOCAP numbers.\n")
    if problems is not None:
        lines.append(used_line(problems) + "\n")
    lines.append(f"Table 2 on `{corpus}`, leave-one-speaker-out; accuracy and UA in %, each with two 95 % "
                 "bootstrap CIs: resampling utterances (utt.) and resampling speakers (spk., the unit that "
                 "leave-one-speaker-out generalises to). p vs RF: McNemar over utterances, exact sign-flip "
                 "test over speakers (docs/evaluation.md).\n")
    n_seeds = len(next(iter(rows.values()), {}).get("per_seed", {}))
    if n_seeds > 1:
        lines.append(f"Seeds {', '.join(next(iter(rows.values()))['per_seed'])}: each row's numbers, intervals and "
                     f"tests are the first seed's; mean ± sd: over the {n_seeds} seeds (sample sd).\n")
    lines.append("| Model | Paper acc. (IEMOCAP) | Accuracy [utt. CI] [spk. CI] | UA [utt. CI] [spk. CI] | macro F1 "
                 "| McNemar p vs RF | Speaker p vs RF |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        lines.append(
            f"| {ROW_TITLES[name]} | {PAPER_ACCURACY[name]} | {_pct(r['accuracy'])} {_ci(r['accuracy_ci95'])} "
            f"{_ci(r['accuracy_ci95_speaker'])}{_over_seeds(r, 'accuracy', n_seeds)} | {_pct(r['ua'])} "
            f"{_ci(r['ua_ci95'])} {_ci(r['ua_ci95_speaker'])}{_over_seeds(r, 'ua', n_seeds)} "
            f"| {_pct(r['macro_f1'])} | {_p(r['mcnemar_p_vs_rf'])} | {_p(r['p_speaker_vs_rf'])} |"
        )
    return "\n".join(lines) + "\n"


def _over_seeds(r: dict, name: str, n_seeds: int) -> str:
    """"; mean ± sd" of ``name`` over the seeds, where there are several (nothing for one)."""
    from .seeds import pm

    return f"; {pm(r[name + '_mean'], r[name + '_sd'])}" if n_seeds > 1 else ""


def _ci(interval) -> str:
    return f"[{_pct(interval[0])}, {_pct(interval[1])}]"


def _p(p) -> str:
    return "-" if p is None else f"{p:.3g}"


def per_speaker_csv(y, speakers, probas: dict) -> str:
    """One row per (model, speaker): the LOSO fold of that speaker (``evaluate.summarize``).

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1]); spk = np.array(["a", "a", "b", "b"])
    >>> print(per_speaker_csv(y, spk, {"dense": np.eye(4)[[0, 1, 1, 1]]}).strip())
    model,speaker,n,accuracy,ua
    dense,a,2,1.0000,1.0000
    dense,b,2,0.5000,0.5000
    """
    from .metrics import loso_folds, summarize

    folds = loso_folds(speakers)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["model", "speaker", "n", "accuracy", "ua"])
    for name, proba in probas.items():
        for f in summarize(y, np.argmax(proba, axis=1), speakers, folds).folds:
            w.writerow([name, f["test_speaker"], f["n"], f"{f['accuracy']:.4f}", f"{f['ua']:.4f}"])
    return buf.getvalue()


def _plots(out: Path, rows: dict, fig3: dict) -> list[str]:
    """PNG figures when matplotlib is installed (the 'plot' extra); the JSON files hold the same data."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["matplotlib not installed (pip install 'ser_ref[plot]'): PNG figures skipped"]
    from ..corpora import LABELS

    chunks = sorted(fig3)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(chunks, [100 * fig3[c]["accuracy"] for c in chunks], "o-", label="accuracy")
    ax.plot(chunks, [100 * fig3[c]["ua"] for c in chunks], "s--", label="UA")
    _seed_spread(ax, fig3, chunks)
    ax.set_xlabel("chunk length (frames)")
    ax.set_ylabel("%")
    ax.set_title("Figure 3: Dense1+LSTM2 vs chunk length")
    ax.legend()
    fig.tight_layout()
    with atomic.atomic_path(out / "figure3.png", suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    for name, r in rows.items():
        cm = np.asarray(r["confusion"])
        fig, ax = plt.subplots(figsize=(4, 3.6))
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(int(v)), ha="center", va="center")
        ax.set_xticks(range(4), LABELS, rotation=30)
        ax.set_yticks(range(4), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(ROW_TITLES[name])
        fig.tight_layout()
        with atomic.atomic_path(out / f"confusion-{name.replace('+', '_')}.png", suffix=".png") as tmp:
            fig.savefig(tmp)
        plt.close(fig)
    return []


def _seed_spread(ax, fig3: dict, chunks) -> None:
    """Figure 3's seed spread, where there are several seeds: each seed's accuracy as a small grey
    point, and the mean ± sd over the seeds as a black bar."""
    if len(fig3[chunks[0]].get("per_seed", {})) < 2:
        return
    for c in chunks:
        acc = [100 * m["accuracy"] for m in fig3[c]["per_seed"].values()]
        ax.plot([c] * len(acc), acc, ".", color="grey", alpha=0.7, zorder=1)
    ax.errorbar(chunks, [100 * fig3[c]["accuracy_mean"] for c in chunks],
                yerr=[100 * fig3[c]["accuracy_sd"] for c in chunks], fmt="none", ecolor="black", capsize=4,
                label=f"accuracy mean ± sd over {len(fig3[chunks[0]]['per_seed'])} seeds")


def write_all(out: Path, corpus, y, speakers, probas: dict, fig3_probas: dict, manifest, problems, *, seed=0,
              by_seed: dict | None = None) -> str:
    """Every report of a run. ``probas`` / ``fig3_probas``: the (first) seed's Table 2 rows and Figure 3
    chunk lengths; ``by_seed``: {seed: (rows' probas, Figure 3's probas)} of every seed, the first one
    first (None: the one seed ``seed``). Every row's existing keys describe the first seed; each row
    gains ``per_seed`` and the mean and sd over the seeds (``seed_columns``); figure3.json gains them
    per chunk length only when there are several seeds (a one-seed run's file is as it always was)."""
    from .metrics import metrics

    by_seed = {seed: (probas, fig3_probas)} if by_seed is None else by_seed
    rf_pred = np.argmax(probas["rf-egemaps"], axis=1)
    rows = {name: row_summary(y, p, None if name == "rf-egemaps" else rf_pred, seed, speakers=speakers)
            for name, p in probas.items()}
    for name, r in rows.items():
        r.update(seed_columns(y, {s: rows_s[name] for s, (rows_s, _) in by_seed.items()}))
    fig3 = {}
    for c, p in fig3_probas.items():
        m = metrics(y, np.argmax(p, axis=1), n_classes=4)
        fig3[c] = {"accuracy": float(m["accuracy"]), "ua": float(m["ua"])}
        if len(by_seed) > 1:
            fig3[c].update(seed_columns(y, {s: fig3_s[c] for s, (_, fig3_s) in by_seed.items()}, ("accuracy", "ua")))
    md = table_markdown(corpus, rows, problems)
    atomic.write_text(out / "table2.md", md)
    atomic.write_json(out / "table2.json", {"corpus": corpus, "rows": rows, "paper_accuracy": PAPER_ACCURACY,
                                            "n_utterances": int(len(y)), "problems": problems,
                                            "seeds": list(by_seed)},
                      sort_keys=False)  # rows in the paper's order
    seeds_key = {"seeds": list(by_seed)} if len(by_seed) > 1 else {}
    atomic.write_json(out / "figure3.json", {"corpus": corpus, "model": "dense1+lstm2",
                                             "chunk_len": {str(c): v for c, v in sorted(fig3.items())}, **seeds_key})
    atomic.write_text(out / "per_speaker.csv", per_speaker_csv(y, speakers, probas))
    notes = _plots(out, rows, fig3)
    manifest["notes"] = notes
    atomic.write_json(out / "manifest.json", manifest)
    fig_lines = "\n".join(f"  chunk {c:>3}: accuracy {_pct(v['accuracy'])} %, UA {_pct(v['ua'])} %"
                          + _fig3_over_seeds(v) for c, v in sorted(fig3.items()))
    return md + "\nFigure 3 (Dense1+LSTM2 vs chunk length):\n" + fig_lines + ("\n" + "\n".join(notes) if notes else "")


def _fig3_over_seeds(v: dict) -> str:
    """"; over N seeds: accuracy mean ± sd %, UA mean ± sd %" for a chunk length of several seeds."""
    from .seeds import pm

    if len(v.get("per_seed", {})) < 2:
        return ""
    return (f"; over {len(v['per_seed'])} seeds: accuracy {pm(v['accuracy_mean'], v['accuracy_sd'])} %, "
            f"UA {pm(v['ua_mean'], v['ua_sd'])} %")
