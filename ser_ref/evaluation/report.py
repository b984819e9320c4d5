"""Reports of a reproduction run: Table 2 (markdown + JSON), Figure 3, confusion matrices,
per-speaker results and the manifest that pins what produced them."""
from __future__ import annotations

import csv
import io
import os
import platform
import re
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


CODE_PATHS = ("ser_ref", "pyproject.toml")  # what makes the numbers (docs/ and tests/ do not)


def git_state(root=None, *, git: str = "git") -> dict:
    """The commit the code ran from: ``git_commit`` (HEAD), ``git_dirty`` (a tracked file of the code,
    ``CODE_PATHS``, changed; results written into the checkout do not count), both
    None with ``git_reason`` when ``root`` (default: the folder above the package) is not the top of
    a git checkout (an installed wheel) or there is no ``git`` to ask.

    Examples
    --------
    >>> import tempfile
    >>> git_state(tempfile.mkdtemp())["git_commit"] is None
    True
    >>> git_state(git="no-such-git-binary")["git_reason"]
    'no git binary on PATH (no-such-git-binary)'
    """
    import shutil
    import subprocess

    from ..files.locations import REPO_ROOT

    root = Path(REPO_ROOT if root is None else root).resolve()

    def unknown(reason: str) -> dict:
        return {"git_commit": None, "git_dirty": None, "git_reason": reason}

    if shutil.which(git) is None:
        return unknown(f"no git binary on PATH ({git})")

    def ask(*args) -> str | None:
        try:
            done = subprocess.run([git, "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = ask("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root:  # a wheel inside some other repository is not a checkout
        return unknown(f"not run from a git checkout (ser_ref imported from {root})")
    # the code's files only: a run that writes its results into the checkout (docs/results) is not dirty
    commit, status = ask("rev-parse", "HEAD"), ask("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    if commit is None or status is None:
        return unknown("git could not read the checkout")
    return {"git_commit": commit, "git_dirty": bool(status), "git_reason": None}


def portable_path(path, out=None) -> str:
    """A path as a manifest records it: relative to the repository (the folder above the package),
    ``<out>`` and ``<out>/...`` for the output folder and what lies in it, ``<cache>/...`` under the
    cache, ``../...`` beside the repository (``../shared``), else ``<elsewhere>/<name>``: never a
    machine's absolute path.

    Examples
    --------
    >>> from ser_ref.files.locations import REPO_ROOT
    >>> portable_path(REPO_ROOT / "weights" / "w.npz"), portable_path("/tmp/run", out="/tmp/run")
    ('weights/w.npz', '<out>')
    >>> portable_path("/tmp/run/folds/x.json", out="/tmp/run"), portable_path("/nowhere/corpus")
    ('<out>/folds/x.json', '<elsewhere>/corpus')
    """
    from ..files.locations import REPO_ROOT, cache_dir

    p = Path(os.path.abspath(Path(path).expanduser()))
    bases = [("", REPO_ROOT), ("<out>", out), ("<cache>", cache_dir()), ("..", REPO_ROOT.parent)]
    for prefix, base in bases:
        if base is None:
            continue
        base = Path(os.path.abspath(Path(base).expanduser()))
        if p == base or base in p.parents:
            rel = p.relative_to(base).as_posix()
            return "/".join(part for part in (prefix, "" if rel == "." else rel) if part) or "."
    return f"<elsewhere>/{p.name}"


def portable_argv(argv, out=None) -> list[str]:
    """The command line with every absolute path in it (``PATH`` or ``NAME=PATH``, as in
    ``--corpus urdu=/data/urdu`` or ``--model=/x.npz``) made ``portable_path``; relative ones stay as typed.

    >>> portable_argv(["--out", "/tmp/r", "--seed", "1", "--model=/tmp/r/m.npz", "--corpus", "u=/data/u"], "/tmp/r")
    ['--out', '<out>', '--seed', '1', '--model=<out>/m.npz', '--corpus', 'u=<elsewhere>/u']
    """
    def one(token: str) -> str:
        if os.path.isabs(token):
            return portable_path(token, out)
        name, eq, value = token.partition("=")
        return f"{name}={portable_path(value, out)}" if eq and os.path.isabs(value) else token

    return [one(t) for t in argv]


ABSOLUTE = re.compile(r"(?<![\w.<>:/~-])/[^\s'\",\]\)]*")  # a POSIX absolute path inside text (not a URL's //)


def portable_text(text: str, out=None) -> str:
    """``text`` (an argument as the manifest records it, e.g. a list's repr) with every absolute
    path in it made ``portable_path``.

    >>> portable_text("['synthetic', 'urdu=/data/urdu']"), portable_text("tcp://10.0.0.5:8786")
    ("['synthetic', 'urdu=<elsewhere>/urdu']", 'tcp://10.0.0.5:8786')
    """
    return ABSOLUTE.sub(lambda m: portable_path(m.group(0), out), text)


def data_recipe(name: str, items, out=None) -> dict:
    """How the data were made, read off the corpus folder: its loader, its root (``portable_path``),
    the generator's parameters of a generated corpus (its manifest.json), the hash of each README or
    SOURCE file in the root, and the decoding every file gets.

    Examples
    --------
    >>> import tempfile
    >>> from ser_ref.corpora import synthetic, load
    >>> items = load("synthetic", synthetic.generate(tempfile.mkdtemp(), n_speakers=2, n_per_emotion=1))
    >>> r = data_recipe("synthetic", items)
    >>> r["loader"], r["generated"]["n_speakers"], r["generated"]["generator"]
    ("ser_ref.corpora.load_with_report('synthetic', root)", 2, 'ser_ref.corpora.synthetic.generate')
    """
    import hashlib
    import json

    from ..frontend.audio import SAMPLE_RATE

    root = Path(os.path.commonpath([str(Path(it.path).parent) for it in items])) if items else None
    while root is not None and name == "synthetic" and not (root / "manifest.json").exists() and root != root.parent:
        root = root.parent  # the generated corpus's root holds its manifest above the speakers' folders
    recipe = {"corpus": name, "loader": f"ser_ref.corpora.load_with_report({name!r}, root)",
              "root": None if root is None else portable_path(root, out),
              "decoding": f"frontend.audio.decode_audio: mono (channel mean), {SAMPLE_RATE} Hz (polyphase resampling "
                          f"where a file's rate differs)"}
    if root is not None and name == "synthetic" and (root / "manifest.json").exists():
        params = json.loads((root / "manifest.json").read_text()).get("params", {})
        recipe["generated"] = {"generator": "ser_ref.corpora.synthetic.generate", **params}
    if root is not None:
        docs = sorted(p for p in root.iterdir() if p.is_file() and p.stem.upper() in ("README", "SOURCE"))
        recipe["documented_by"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in docs}
    return recipe


def run_manifest(run, settings, layer, timings, **specific) -> dict:
    """What every command's manifest.json holds: the command line, its arguments and settings, the
    DeepSpeech weights (file_sha256: the weight file's bytes as loaded; source_sha256: the .tflite it
    came from), package versions, the machine (with its BLAS kernels) and the wall time per stage.
    ``run`` is the command's ``RunSettings``: the command line is the one the command parsed
    (``run.argv``, quoted for a shell), not the process's (they differ when ``main(argv)`` is called
    from Python), and ``args`` every argument as parsed. ``specific`` adds what only that command
    knows (its corpus, its backend).

    Reproducible from the record alone: ``git_commit`` / ``git_dirty`` (None, with ``git_reason``,
    outside a git checkout, ``git_state``), and every path as ``portable_path`` writes it (relative
    to the repository, ``<out>`` for the output folder, ``<cache>``, ``../shared``): never a
    machine's absolute path.

    >>> from types import SimpleNamespace
    >>> from ser_ref.evaluation.run_settings import RunSettings
    >>> from ser_ref.evaluation.systems import Settings
    >>> run = RunSettings("reproduce", argv=("--seed", "1"), arguments=(("seed", "1"),), seed=1)
    >>> m = run_manifest(run, Settings(seed=1), SimpleNamespace(source="w.npz", metadata={}), {"total": 2.0})
    >>> m["command"], m["args"], m["model"]["weights_file"].endswith("w.npz"), [k for k in m if k.startswith("git")]
    ('python -m ser_ref.reproduce --seed 1', {'seed': '1'}, True, ['git_commit', 'git_dirty', 'git_reason'])
    """
    from dataclasses import asdict

    return {
        "command": " ".join([f"python -m ser_ref.{run.command}", shlex.join(portable_argv(run.argv, run.out))]).strip(),
        "args": {k: portable_text(v, run.out) for k, v in run.arguments},
        **git_state(),
        "settings": asdict(settings),
        **specific,
        "model": {"weights_file": portable_path(layer.source, run.out)}
        | {k: v for k, v in layer.metadata.items() if k != "alphabet"},
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
                        data_recipe=data_recipe(run.corpus, items, run.out),
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
    from .metrics import bootstrap_cis, mcnemar, metrics, speaker_sign_flip

    pred = np.argmax(proba, axis=1)
    m = metrics(y, pred, n_classes=4)
    out = {k: (np.asarray(v).tolist() if k == "confusion" else float(v)) for k, v in m.items()}
    out.update({f"{k}_ci95": list(v) for k, v in bootstrap_cis(y, pred, ("accuracy", "ua"), seed=seed).items()})
    out["mcnemar_p_vs_rf"] = None if rf_pred is None else float(mcnemar(y, pred, rf_pred))
    out.update(speaker_intervals(y, pred, speakers, seed))
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
    """What the table rests on: every entry under the corpus root, used, left out or ignored.

    >>> used_line({"n_used": 671, "n_items": 672, "entries_under_root": 674, "used": 671, "left_out": 2,
    ...            "ignored": 1})
    '671 of 674 entries under the corpus root used; 2 left out, 1 ignored, see problems.json.'
    """
    n, m = problems["n_used"], problems["n_items"]
    if "entries_under_root" not in problems:  # problems of a run before every entry was counted
        return f"{n} of {m} utterances used; {m - n} left out, see problems.json."
    return (f"{problems['used']} of {problems['entries_under_root']} entries under the corpus root used; "
            f"{problems['left_out']} left out, {problems['ignored']} ignored, see problems.json.")


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
    _figure3(plt, out, fig3)
    for name, r in rows.items():
        _confusion_figure(plt, out, name, r)
    return []


CHANCE = 0.25  # four balanced classes: the UA of any constant guess


def _figure3(plt, out: Path, fig3: dict) -> None:
    """figure3.png: accuracy and UA against the chunk length, each with its speaker-level 95 % interval
    (where figure3.json has one), on an axis from chance up, with the paper's one Dense1+LSTM2 number.

    The paper's Figure 3 points are not recorded here (only its Table 2 value, ``PAPER_ACCURACY``),
    so its curve is not drawn: a horizontal line marks the Table 2 number instead.
    """
    chunks = sorted(fig3)
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    tops = [PAPER_ACCURACY["dense1+lstm2"]]
    for k, (metric, style) in enumerate((("accuracy", "o-"), ("ua", "s--"))):
        y = np.array([100 * fig3[c][metric] for c in chunks])
        x = np.array(chunks, float) * (1.0 + 0.025 * (2 * k - 1))  # a small offset: both bars visible
        ci = [fig3[c].get(f"{metric}_ci95_speaker") for c in chunks]
        label = "accuracy" if metric == "accuracy" else "UA (unweighted average recall)"
        if all(i is not None for i in ci):
            lo, hi = (100 * np.array(ci)).T
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt=style, capsize=3, label=f"{label}, 95 % speaker CI")
            tops.append(hi.max())
        else:
            ax.plot(x, y, style, label=label)
            tops.append(y.max())
    _seed_spread(ax, fig3, chunks)
    ax.axhline(100 * CHANCE, color="0.4", lw=1, ls=":")
    ax.text(chunks[-1], 100 * CHANCE + 0.8, "chance (4 classes)", color="0.3", fontsize=8, ha="right")
    ax.axhline(PAPER_ACCURACY["dense1+lstm2"], color="C3", lw=1, ls="-.",
               label=f"paper, Table 2 (IEMOCAP): {PAPER_ACCURACY['dense1+lstm2']} %")
    ax.set_xscale("log")
    ax.set_xticks(chunks, [str(c) for c in chunks])
    ax.minorticks_off()
    ax.set_ylim(100 * CHANCE - 5, min(100, 10 * np.ceil((max(tops) + 4) / 10)))
    ax.set(xlabel="chunk length (frames)", ylabel="%",
           title="Figure 3: Dense1+LSTM2 against the chunk length")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: never on the data
    fig.tight_layout()
    with atomic.atomic_path(out / "figure3.png", suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def _confusion_figure(plt, out: Path, name: str, r: dict) -> None:
    """confusion-<row>.png: each row is the true class's share (so imbalanced classes compare), with
    the share and the count in every cell."""
    from ..corpora import LABELS

    cm = np.asarray(r["confusion"])
    n_true = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, n_true, out=np.zeros(cm.shape), where=n_true > 0)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{100 * share[i, j]:.0f} %\n({int(v)})", ha="center", va="center", fontsize=9,
                color="w" if share[i, j] > 0.6 else "k")
    fig.colorbar(im, ax=ax, label="share of the true class", format=lambda v, _: f"{100 * v:.0f} %")
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=30)
    ax.set_yticks(range(len(LABELS)), [f"{c} ({int(n)})" for c, n in zip(LABELS, n_true.ravel())])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (utterances)")
    ax.set_title(f"{ROW_TITLES[name]}\naccuracy {_pct(r['accuracy'])} %, UA {_pct(r['ua'])} %", fontsize=10)
    fig.tight_layout()
    with atomic.atomic_path(out / f"confusion-{name.replace('+', '_')}.png", suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def speaker_intervals(y, pred, speakers, seed: int) -> dict:
    """{"accuracy_ci95_speaker": [lo, hi], "ua_ci95_speaker": [lo, hi]}: the 95 % speaker (cluster)
    bootstrap intervals (``metrics.speaker_bootstrap_cis``, one set of resamples), as every results
    row that has them stores them (Table 2, Figure 3, the layer study).

    >>> speaker_intervals([0, 1, 2, 3], [0, 1, 2, 3], ["a", "a", "b", "b"], 0)
    {'accuracy_ci95_speaker': [1.0, 1.0], 'ua_ci95_speaker': [1.0, 1.0]}
    """
    from .metrics import speaker_bootstrap_cis

    return {f"{m}_ci95_speaker": list(ci) for m, ci in speaker_bootstrap_cis(y, pred, speakers, seed=seed).items()}


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
              by_seed: dict | None = None, stamp: str | None = None) -> str:
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
        fig3[c].update(speaker_intervals(y, np.argmax(p, axis=1), speakers, seed))
        if len(by_seed) > 1:
            fig3[c].update(seed_columns(y, {s: fig3_s[c] for s, (_, fig3_s) in by_seed.items()}, ("accuracy", "ua")))
    md = table_markdown(corpus, rows, problems)
    if stamp:  # a protocol that is not speaker-independent says so before anything else
        md = f"{stamp} (protocol.json)\n\n{md}"
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
