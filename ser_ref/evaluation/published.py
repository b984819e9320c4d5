"""The generated blocks of the published pages: markdown rendered from the JSON in docs/results/.

A page (README.md, docs/*.md) holds blocks between two marker comments::

    <!-- BEGIN GENERATED: ravdess-table2 -->
    (rendered from docs/results/ravdess/table2.json)
    <!-- END GENERATED -->

``rewrite`` replaces every block's body with ``render_block(name, results)``, so a number in a
page can only come from its JSON; ``python -m ser_ref.publish --render-only`` runs it over the
pages and ``tests/test_published.py`` checks that doing so changes nothing.

The renderers read today's JSON (one seed; maybe without the speaker-level keys) and the
multi-seed form (``per_seed``, ``accuracy_mean``/``accuracy_sd``, ``ua_mean``/``ua_sd``,
``accuracy_ci95_speaker``, ``ua_ci95_speaker``, ``p_speaker_vs_rf``): a key that is absent is
printed as "n/a", never guessed.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
from pathlib import Path

from ..deepspeech.model import LAYERS
from ..errors import SerRefError
from .report import _ci, _p, _pct
from . import systems
from .systems import SYSTEMS
from .table2 import PAPER_ACCURACY, ROW_TITLES

BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[A-Za-z0-9_.-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED -->)",
                   re.S)
CORPUS_TITLES = {"ravdess": "RAVDESS", "urdu": "URDU", "synthetic": "synthetic", "iemocap": "IEMOCAP"}
CROSS_SYSTEMS = SYSTEMS  # the paper's six, in Table 2's order
PAPER_SETTING = "IEMOCAP, Mozilla's English DeepSpeech"
ARMSPEECH = "the Coqui STT Armenian model from armspeech 0.1.4"


class MissingResults(SerRefError):
    """A block's results file is not on disk (its experiment has not been run yet)."""


# ------------------------------------------------------------------------------- the page
def block_names(text: str) -> list[str]:
    """The names of the generated blocks of a page, in order.

    >>> block_names("a\\n<!-- BEGIN GENERATED: x -->\\nold\\n<!-- END GENERATED -->\\nb")
    ['x']
    """
    return [m["name"] for m in BLOCK.finditer(text)]


def rewrite(text: str, render) -> str:
    """``text`` with the body of every generated block replaced by ``render(name)`` (markers kept).

    >>> rewrite("<!-- BEGIN GENERATED: x -->\\nold\\n<!-- END GENERATED -->", lambda n: f"new {n}\\n")
    '<!-- BEGIN GENERATED: x -->\\nnew x\\n<!-- END GENERATED -->'
    """
    return BLOCK.sub(lambda m: m.group(1) + render(m["name"]) + m.group(4), text)


def load_json(path: Path):
    """The JSON at ``path``; ``MissingResults`` naming it when it is not there.

    >>> load_json(Path("no/such/table2.json"))
    Traceback (most recent call last):
    ...
    ser_ref.evaluation.published.MissingResults: no/such/table2.json: not found (run python -m ser_ref.publish --only such)
    """
    if not path.is_file():
        raise MissingResults(f"{os.path.relpath(path)}: not found (run python -m ser_ref.publish --only "
                             f"{path.parent.name})")
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------- numbers
def interval(row: dict, metric: str, level: str = "") -> str:
    """A row's 95 % interval of ``metric`` as "[lo, hi]" in %, whichever key spelling the file uses
    (``accuracy_ci95``, ``accuracy_ci``; ``level="_speaker"``: the speaker bootstrap); "n/a" if absent.

    >>> interval({"accuracy_ci": [0.5, 0.75]}, "accuracy"), interval({}, "ua", "_speaker")
    ('[50.0, 75.0]', 'n/a')
    """
    for key in (f"{metric}_ci95{level}", f"{metric}_ci{level}"):
        if row.get(key) is not None:
            return _ci(row[key])
    return "n/a"


def estimate(row: dict, metric: str) -> str:
    """``metric`` in %: "mean ± sd" over seeds when the row has several, else the one run's value
    (a one-seed run has a mean but no sd).

    >>> estimate({"accuracy": 0.5}, "accuracy"), estimate({"ua_mean": 0.5, "ua_sd": 0.012}, "ua")
    ('50.0', '50.0 ± 1.2')
    >>> estimate({"accuracy": 0.5, "accuracy_mean": 0.5, "accuracy_sd": None}, "accuracy")
    '50.0'
    """
    if row.get(f"{metric}_sd") is not None:
        return f"{_pct(row[metric + '_mean'])} ± {_pct(row[metric + '_sd'])}"
    return _pct(row[metric])


def value(row: dict, metric: str) -> float:
    """The number a comparison uses: the mean over seeds where there is one, else the one run's.

    >>> value({"accuracy": 0.5, "accuracy_mean": 0.6}, "accuracy")
    0.6
    """
    return row[f"{metric}_mean"] if row.get(f"{metric}_mean") is not None else row[metric]


def p_value(row: dict, key: str) -> str:
    """A p-value as the reports print it; "-" for None (the reference itself), "n/a" when absent.

    >>> p_value({"mcnemar_p_vs_rf": 0.000170069}, "mcnemar_p_vs_rf"), p_value({}, "p_speaker_vs_rf")
    ('0.00017', 'n/a')
    """
    return _p(row[key]) if key in row else "n/a"


def seeds_of(rows: dict, manifest: dict) -> list[str]:
    """The seeds a table rests on: the keys of ``per_seed`` where the rows have it, else the manifest's seed.

    >>> seeds_of({"dense": {"per_seed": {"0": {}, "1": {}}}}, {}), seeds_of({"dense": {}}, {"settings": {"seed": 3}})
    (['0', '1'], ['3'])
    """
    for r in rows.values():
        if r.get("per_seed"):
            return [str(s) for s in r["per_seed"]]
    return [str(manifest.get("settings", {}).get("seed", manifest.get("args", {}).get("seed", "n/a")))]


def model_words(manifest: dict) -> str:
    """What the weights were, from the manifest's sha256 of the .tflite they came from.

    >>> model_words({"model": {"source_sha256": "3b834da11f2d0a1a5079b44dd5d5da2b1955dec56474ba11b4c3793e934787bc"}})
    'the Coqui STT Armenian model from armspeech 0.1.4'
    >>> model_words({"model": {"source_sha256": "ab" * 32}})
    'a DeepSpeech-architecture model of sha256 abababababab'
    """
    from ..deepspeech.fetch import MODEL_SHA256

    sha = manifest.get("model", {}).get("source_sha256") or ""
    return ARMSPEECH if sha == MODEL_SHA256 else f"a DeepSpeech-architecture model of sha256 {sha[:12] or 'unknown'}"


def step_ms(manifest: dict) -> str:
    """The MFCC step of a run, from its manifest ("20" when it records none: the only step before --step-ms).

    >>> step_ms({"args": {"step_ms": "10"}}), step_ms({})
    ('10', '20')
    """
    return str(manifest.get("args", {}).get("step_ms") or manifest.get("model", {}).get("win_step_ms") or 20)


# ------------------------------------------------------------------------------- the blocks
def _first_seed_note(seeds) -> str:
    """With several seeds, the intervals and tests are one seed's (the first), not the mean's.

    >>> _first_seed_note(["0"]), _first_seed_note(["0", "1000"])
    ('', "; the CIs, macro F1 and p-values are seed 0's (its own accuracy is in table2.md)")
    """
    return "" if len(seeds) < 2 else (f"; the CIs, macro F1 and p-values are seed {seeds[0]}'s (its own accuracy "
                                      "is in table2.md)")


def _table2_block(folder: Path, href: str) -> str:
    """Table 2 of one results folder: a header saying what was reproduced and what differs from the
    paper, then one row per system with the paper's number (its own corpus and model) beside ours."""
    table, manifest = load_json(folder / "table2.json"), load_json(folder / "manifest.json")
    corpus, rows = CORPUS_TITLES.get(table["corpus"], table["corpus"]), table["rows"]
    seeds = seeds_of(rows, manifest)
    spread = f"mean ± sd over {len(seeds)} seeds ({', '.join(seeds)})" if len(seeds) > 1 else f"seed {seeds[0]}"
    lines = [
        f"**Reproduced:** the paper's six Table 2 systems under leave-one-speaker-out, 4 classes. "
        f"**Differs:** corpus {corpus} ({table['n_utterances']} utterances), not IEMOCAP; weights: "
        f"{model_words(manifest)}, not Mozilla's English DeepSpeech; MFCC step {step_ms(manifest)} ms "
        f"({'as' if step_ms(manifest) == '10' else 'the model was trained on 20 ms;'} the paper's text says 10 ms). "
        f"Accuracy and UA in % ({spread}), with 95 % bootstrap CIs "
        "resampling utterances [utt.] and speakers [spk.]; p vs RF: McNemar over utterances, sign-flip over "
        f"speakers{_first_seed_note(seeds)}. Source: [`table2.json`]({href}/table2.json).",
        "",
        f"| Model | Paper acc. ({PAPER_SETTING}) | Accuracy | [utt.] | [spk.] | UA | [utt.] | [spk.] | macro F1 "
        "| McNemar p vs RF | speaker p vs RF |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {ROW_TITLES.get(name, name)} | {PAPER_ACCURACY.get(name, 'n/a')} | {estimate(r, 'accuracy')} | "
            f"{interval(r, 'accuracy')} | {interval(r, 'accuracy', '_speaker')} | {estimate(r, 'ua')} | "
            f"{interval(r, 'ua')} | {interval(r, 'ua', '_speaker')} | {estimate(r, 'macro_f1')} | "
            f"{p_value(r, 'mcnemar_p_vs_rf')} | {p_value(r, 'p_speaker_vs_rf')} |")
    return "\n".join(lines) + "\n"


def _figure3_block(folder: Path, href: str) -> str:
    """Figure 3 in one line: Dense1+LSTM2 accuracy per chunk length, with a link to its figure."""
    fig = load_json(folder / "figure3.json")
    chunks = sorted(fig["chunk_len"], key=int)
    parts = [f"{c} frames {estimate(r, 'accuracy')} %" + ("" if (ci := interval(r, "accuracy", "_speaker")) == "n/a"
                                                           else f" {ci[:-1]}, spk.]")
             for c in chunks for r in [fig["chunk_len"][c]]]
    return (f"Figure 3 ({ROW_TITLES.get(fig['model'], fig['model'])} accuracy against chunk length, "
            f"[`figure3.json`]({href}/figure3.json), [plot]({href}/figure3.png)): " + "; ".join(parts) + ".\n")


def _cross_corpus_block(folder: Path, href: str) -> str:
    """Accuracy in % per (train -> test) pair and system; the diagonal is within-corpus LOSO."""
    entries, manifest = load_json(folder / "matrix.json"), load_json(folder / "manifest.json")
    cell = {(e["train"], e["test"], e["system"]): e for e in entries}
    systems = [s for s in CROSS_SYSTEMS if any(k[2] == s for k in cell)]
    pairs = list(dict.fromkeys((e["train"], e["test"]) for e in entries))
    normalize = manifest.get("args", {}).get("normalize", "none")
    lines = [f"Accuracy in % (normalisation: {normalize}; seed {seeds_of({}, manifest)[0]}); CIs, UA and p per cell "
             f"in [`matrix.md`]({href}/matrix.md).", "",
             "| train -> test | " + " | ".join(ROW_TITLES.get(s, s) for s in systems) + " |",
             "|---|" + "---:|" * len(systems)]
    for a, b in pairs:
        label = f"{CORPUS_TITLES.get(a, a)} (LOSO)" if a == b else f"{CORPUS_TITLES.get(a, a)} -> {CORPUS_TITLES.get(b, b)}"
        lines.append(f"| {label} | " + " | ".join(estimate(cell[(a, b, s)], "accuracy") for s in systems) + " |")
    return "\n".join(lines) + "\n"


def _layers_block(folder: Path, href: str) -> str:
    """The layer study: per layer, Dense and Forest accuracy with CIs and p against layer 1."""
    res = load_json(folder / "layers.json")
    corpus = res.get("corpus") or folder.name.split("-")[0]   # older layers.json files name no corpus
    lines = [f"LOSO on {CORPUS_TITLES.get(corpus, corpus)}, mode {res['mode']}, "
             f"{res['n_used']} of {res['n_items']} utterances; accuracy in % with 95 % bootstrap CIs resampling "
             "utterances [utt.] and speakers [spk.]; p against layer 1 for the same model: McNemar over utterances, "
             f"sign-flip over speakers (source: [`layers.json`]({href}/layers.json), [plot]({href}/layers.png)).", "",
             "| layer | Dense acc. | [utt.] | [spk.] | Dense UA | McNemar p | speaker p "
             "| Forest acc. | [utt.] | [spk.] | Forest UA | McNemar p | speaker p |",
             "|---|" + "---:|" * 12]
    for layer in LAYERS:
        cells = []
        for r in (res["dense"][layer], res["forest"][layer]):
            cells += [estimate(r, "accuracy"), interval(r, "accuracy"), interval(r, "accuracy", "_speaker"),
                      estimate(r, "ua"), p_value(r, "mcnemar_p_vs_layer1"), p_value(r, "p_speaker_vs_layer1")]
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _layers_cross_block(results: Path, href: str) -> str:
    """Per layer of the model, RAVDESS -> URDU accuracy of the four networks (the forest reads eGeMAPS
    and is the same in every row)."""
    lines = ["RAVDESS -> URDU accuracy in % [95 % CI, resampling URDU's utterances], the networks on each layer of "
             "the model, seed 0 (one results folder per layer: "
             f"[`ravdess-urdu-layer1/`]({href}/ravdess-urdu-layer1/matrix.md) to `layer5/`; the forest reads eGeMAPS, "
             "not the layer, so its column is the same in every row).", "",
             "| layer | " + " | ".join(ROW_TITLES[s] for s in CROSS_SYSTEMS[1:]) + " |",
             "|---|" + "---:|" * (len(CROSS_SYSTEMS) - 1)]
    for layer in LAYERS:   # a missing folder: MissingResults, and the block stays as it was
        cell = {e["system"]: e for e in load_json(results / f"ravdess-urdu-{layer}" / "matrix.json")
                if (e["train"], e["test"]) == ("ravdess", "urdu")}
        lines.append(f"| {layer} | " + " | ".join(f"{estimate(cell[s], 'accuracy')} {interval(cell[s], 'accuracy')}"
                                                   if s in cell else "n/a" for s in CROSS_SYSTEMS[1:]) + " |")
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    """Seconds as a person reads them.

    >>> _duration(42.4), _duration(754), _duration(3 * 3600 + 1800), _duration(50 * 3600)
    ('42 s', '12.6 min', '3.5 h', '2.1 days')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 48 * 3600 else f"{seconds / 86400:.1f} days"


SCALING_JSON = "bench/results/scaling-cpu.json"  # from the repository root
SCALING_COMMAND = "python bench/bench_scaling.py --folds 2 --dask"
GROWTH_TARGET = 1.1  # issue #27: every stage's exponent in utterances at most this


def _scaling_block(path: Path, href: str) -> str:
    """The scaling benchmark (bench/bench_scaling.py): each stage's seconds at 1x, 4x and 16x RAVDESS,
    its growth exponent against the target, memory per worker against the training set it holds, the
    speaker sweep, the projections to IEMOCAP / MSP-Podcast and the Dask check. ``href``: the
    repository root as the page's links reach it."""
    if not path.is_file():
        raise MissingResults(f"{os.path.relpath(path)}: not found (run {SCALING_COMMAND})")
    res = json.loads(path.read_text())
    sizes, fits, m = res["sizes"], res["fits"], res["machine"]
    k = res.get("folds_measured")
    lines = [f"Source: [`{SCALING_JSON}`]({href}/{SCALING_JSON}), written by `{SCALING_COMMAND}` on "
             f"{m['cpu_count']} cores ({m['cpu_model']}, OpenBLAS {m.get('openblas_kernels', 'n/a')} kernels, load "
             f"average {m['load_average'][0]:.2f} at the start), {res['jobs']} worker process"
             f"{'es' if res['jobs'] > 1 else ''} per stage; synthetic "
             f"speech of {res['speakers']} speakers, not real speech"
             + (f"; training and reports measured on the first {k} of {res['speakers']} folds and scaled by "
                f"{res['speakers']} / {k}" if k else "") + ". Seconds are wall time.", "",
             "| stage | " + " | ".join(f"{s['size']:g}x ({s['n_utterances']:,})" for s in sizes)
             + f" | exponent, wall | exponent, CPU | <= {GROWTH_TARGET} | peak RSS per worker, {sizes[0]['size']:g}x -> "
               f"{sizes[-1]['size']:g}x (MB) | largest training set at {sizes[-1]['size']:g}x (MB) |",
             "|---|" + "---:|" * (len(sizes) + 5)]
    for stage, f in fits.items():
        rows = [s["stages"][stage] for s in sizes]
        # the workers' peak where the stage had workers, else that of the process that ran it
        rss = " -> ".join(f"{r['workers_max_rss_mb'] or r['max_rss_mb']:.0f}" for r in (rows[0], rows[-1]))
        # a training stage's largest training set, where its system reads layer 1 (figure3 is Dense1+LSTM2)
        system = "dense1+lstm2" if stage == "figure3" else stage.removeprefix("train:")
        held = (rows[-1].get("largest_training_set_mb") if system in systems.REGISTRY
                and systems.get(system).reads == "layer1" else None)
        lines.append(f"| {stage} | " + " | ".join(f"{r['wall_s_all_folds']:.1f}" for r in rows)
                     + f" | {f['wall']['exponent']:.2f} | {f['cpu']['exponent']:.2f} | "
                     + ("yes" if f["wall"]["exponent"] <= GROWTH_TARGET else "**no**")
                     + f" | {rss} | {'-' if held is None else f'{held:.0f}'} |")
    cache = {st: sizes[-1]["stages"].get(st, {}).get("cache_on_disk_mb") for st in ("layer1", "egemaps")}
    hours = sizes[-1]["hours_of_audio"]
    if cache["layer1"] is not None:
        lines += ["", f"Feature cache at {sizes[-1]['size']:g}x ({hours:.1f} h of audio): layer 1 "
                      f"{cache['layer1'] / 1024:.1f} GiB ({cache['layer1'] / 1024 / hours:.2f} GiB per hour)"
                  + ("." if cache["egemaps"] is None else f", eGeMAPS {cache['egemaps']:.1f} MiB.")]
    sweep = res.get("speaker_sweep")
    if sweep and sweep.get("fits_wall"):
        groups = sweep["speakers"]
        lines += ["", f"Growth with the number of speakers (the {sweep['size']:g}x corpus, its speakers merged "
                      "into S groups, so the same audio in S LOSO folds; seconds over all S folds):", "",
                  "| stage | " + " | ".join(f"S = {g}" for g in groups) + " | exponent in S |",
                  "|---|" + "---:|" * (len(groups) + 1)]
        for stage, f in sweep["fits_wall"].items():
            lines.append(f"| {stage} | " + " | ".join(f"{sweep['runs'][str(g)][stage]['wall_s_all_folds']:.1f}"
                                                       for g in groups) + f" | {f['exponent']:.2f} |")
    proj = res.get("projection")
    if proj:
        workers = list(next(iter(proj.values()))["workers_total_s"])
        lines += ["", "Projected whole-run time (every stage, one seed; the fits above carried to the size, "
                      "training scaled by the speaker exponent; on N Dask workers the CPU seconds over "
                      "min(N, tasks), plus the measured overhead):", "",
                  f"| corpus | utterances | folds | this machine ({res['jobs']} processes) | "
                  + " | ".join(f"{w} worker{'s' if w != '1' else ''}" for w in workers)
                  + " |", "|---|---:|---:|---:|" + "---:|" * len(workers)]
        for name, p in proj.items():
            lines.append(f"| {name} | {p['n_utterances']:,} | {p['folds']} | {_duration(p['this_machine_total_s'])} | "
                         + " | ".join(_duration(p["workers_total_s"][w]) for w in workers) + " |")
    dask = res.get("dask")
    if dask:
        same = "byte-identical" if dask["all_identical"] else "**not identical** (" + ", ".join(
            n for n, ok in dask["byte_identical"].items() if not ok) + ")"
        runs, tasks = dask["runs"], dask["tasks"]
        feats = {k: sum(v for n, v in r["stages_s"].items() if n.startswith("features:")) for k, r in runs.items()}
        train = {k: r["stages_s"].get("training (wall)", 0.0) for k, r in runs.items()}
        limit = dask.get("worker_memory_limit_mb")   # older files: Dask's default, not recorded
        lines += ["", f"Dask at {dask['size']:g}x ({dask['n_utterances']:,} utterances, {dask['folds']} folds, cache "
                      f"{dask['cache']}; each worker's memory limit "
                      f"{'n/a' if limit is None else f'{limit / 1024:.1f} GiB'}): "
                      f"`reproduce --jobs 2` against a 2-worker `LocalCluster` gave {same} "
                      f"{', '.join(f'`{n}`' for n in dask['byte_identical'])}. The stages that go through the executor "
                      f"took {runs['jobs2']['executor_s']:.1f} s and {runs['dask']['executor_s']:.1f} s, "
                      f"{dask['overhead_s']:.1f} s ({100 * dask['overhead_fraction']:.1f} %) more through Dask: "
                      f"{feats['dask'] - feats['jobs2']:.1f} s in the feature stages ({tasks['feature_tasks']:,} tasks, "
                      f"{1000 * (feats['dask'] - feats['jobs2']) / max(tasks['feature_tasks'], 1):.1f} ms each) and "
                      f"{train['dask'] - train['jobs2']:.1f} s in training ({tasks['training_tasks']} tasks); the "
                      f"cluster started in {dask['cluster_start_s']:.1f} s."]
    if res.get("figure"):
        lines += ["", f"![cost per stage against utterances]({href}/docs/figures/scaling-cpu.png)"]
    return "\n".join(lines) + "\n"


def _than(a: float, b: float) -> str:
    return "above" if a > b else "below" if a < b else "level with"


def versus(row: dict, ref: str = "rf") -> str:
    """The p-value of a row against its reference, the speaker-level test where the row has one.

    >>> versus({"mcnemar_p_vs_rf": 0.166, "p_speaker_vs_rf": 0.25}), versus({"mcnemar_p_vs_rf": 0.166})
    ('speaker-level p = 0.25', 'McNemar p = 0.166')
    """
    if row.get(f"p_speaker_vs_{ref}") is not None:
        return f"speaker-level p = {_p(row[f'p_speaker_vs_{ref}'])}"
    return f"McNemar p = {p_value(row, f'mcnemar_p_vs_{ref}')}"


def _findings_block(results: Path, href: str) -> str:
    """The key findings, each sentence's numbers and direction words computed from the JSON it links."""
    rows = load_json(results / "ravdess" / "table2.json")["rows"]
    dense, rf, lstm = rows["dense"], rows["rf-egemaps"], rows["lstm"]
    cross = {(e["train"], e["test"], e["system"]): e for e in load_json(results / "cross-corpus" / "matrix.json")}
    nets = [s for s in CROSS_SYSTEMS[1:] if ("ravdess", "urdu", s) in cross]
    drops = [100 * (value(cross[("ravdess", "ravdess", s)], "accuracy") - value(cross[("ravdess", "urdu", s)],
                                                                                "accuracy")) for s in nets]
    ru_dense, ru_rf = cross[("ravdess", "urdu", "dense")], cross[("ravdess", "urdu", "rf-egemaps")]
    layers = load_json(results / "ravdess-layers" / "layers.json")["dense"]
    best = max(LAYERS, key=lambda k: value(layers[k], "accuracy"))
    docs = posixpath.dirname(href) or "."   # the docs folder, as the page sees it
    return "\n".join([
        f"- **Within RAVDESS, layer 1 against eGeMAPS:** the per-frame Dense net on DeepSpeech layer 1 scores {estimate(dense, 'accuracy')} %, "
        f"{_than(value(dense, 'accuracy'), value(rf, 'accuracy'))} the eGeMAPS forest's {estimate(rf, 'accuracy')} % "
        f"(McNemar p = {p_value(dense, 'mcnemar_p_vs_rf')}, speaker-level p = {p_value(dense, 'p_speaker_vs_rf')}); "
        f"on IEMOCAP the paper found the forest ahead ({PAPER_ACCURACY['rf-egemaps']} vs {PAPER_ACCURACY['dense']} %) "
        f"([table]({href}/ravdess/table2.md)).",
        f"- **The paper's LSTM scored {PAPER_ACCURACY['lstm']} %, below the 25 % of chance:** trained with gradient "
        f"clipping and early stopping, the same LSTM scores {estimate(lstm, 'accuracy')} % "
        f"([table]({href}/ravdess/table2.md), [why]({docs}/reproduction.md)).",
        f"- **Across corpora (RAVDESS -> URDU, acted English to natural Urdu):** every system but the majority class "
        f"loses "
        f"{min(drops):.1f}-{max(drops):.1f} points against its RAVDESS LOSO score, and Dense ({estimate(ru_dense, 'accuracy')} %) is "
        f"{_than(value(ru_dense, 'accuracy'), value(ru_rf, 'accuracy'))} the forest ({estimate(ru_rf, 'accuracy')} %, "
        f"{versus(ru_dense)}) ([matrix]({href}/cross-corpus/matrix.md)).",
        f"- **Layer by layer (the whole model):** the Dense net does best on {best} with "
        f"{estimate(layers[best], 'accuracy')} % against {estimate(layers['layer1'], 'accuracy')} % on layer 1 "
        f"(McNemar p = {p_value(layers[best], 'mcnemar_p_vs_layer1')}"
        + (f", speaker-level p = {_p(layers[best]['p_speaker_vs_layer1'])}"
           if layers[best].get("p_speaker_vs_layer1") is not None else "")
        + f") ([layer study]({href}/ravdess-layers/layers.md)).",
    ]) + "\n"


def _summary_block(results: Path, href: str) -> str:
    """The front page's three-line box: what was reproduced, what differs, what we found (the last from
    the JSON of Table 2, the cross-corpus matrix and the layer study)."""
    table, manifest = load_json(results / "ravdess" / "table2.json"), load_json(results / "ravdess" / "manifest.json")
    rows = table["rows"]
    cross = {(e["train"], e["test"], e["system"]): e for e in load_json(results / "cross-corpus" / "matrix.json")}
    layers = load_json(results / "ravdess-layers" / "layers.json")["dense"]
    best = max(LAYERS, key=lambda k: value(layers[k], "accuracy"))
    acc = lambda r: value(r, "accuracy")  # noqa: E731
    ru = cross[("ravdess", "urdu", "dense")]
    within = f"{_than(acc(rows['dense']), acc(rows['rf-egemaps']))} the eGeMAPS forest ({versus(rows['dense'])})"
    across = f"{_than(acc(ru), acc(cross[('ravdess', 'urdu', 'rf-egemaps')]))} it ({versus(ru)})"
    return "\n".join([
        "> **Reproduced:** every system of the paper's Table 2 and its Figure 3 sweep, under leave-one-speaker-out, "
        "4 emotions, each stage checked against its reference.  ",
        f"> **Differs from the paper:** corpus {CORPUS_TITLES.get(table['corpus'], table['corpus'])}, not IEMOCAP; "
        f"weights: {model_words(manifest)}, not Mozilla's English DeepSpeech; MFCC step {step_ms(manifest)} ms.  ",
        f"> **What we found:** within RAVDESS the Dense net on layer 1 scores {within}; trained on RAVDESS "
        f"and tested on Urdu it scores {across}; across the model's layers it does best on {best} "
        f"([findings](#key-findings), [all results]({posixpath.dirname(href)}/results.md)).",
    ]) + "\n"


def render_block(name: str, results: Path, href: str = "docs/results") -> str:
    """The body of block ``name`` from the results under ``results`` (the docs/results folder);
    ``href``: that folder as the page's links reach it ("docs/results" from README.md, "results"
    from a page in docs/).

    >>> render_block("no-such-block", Path("docs/results"))
    Traceback (most recent call last):
    ...
    ser_ref.errors.SerRefError: unknown generated block 'no-such-block'; known: cross-corpus, ...
    """
    known = {"findings": lambda: _findings_block(results, href), "summary": lambda: _summary_block(results, href),
             "ravdess-urdu-layers": lambda: _layers_cross_block(results, href),
             "ravdess-layers": lambda: _layers_block(results / "ravdess-layers", f"{href}/ravdess-layers"),
             "ravdess-figure3": lambda: _figure3_block(results / "ravdess", f"{href}/ravdess")}
    known["scaling-cpu"] = lambda: _scaling_block(results.parent.parent / SCALING_JSON,
                                                  posixpath.normpath(posixpath.join(href, "..", "..")))
    for folder in ("ravdess", "urdu"):
        known[f"{folder}-table2"] = lambda f=folder: _table2_block(results / f, f"{href}/{f}")
    for folder in ("cross-corpus", "cross-corpus-speaker"):
        known[folder] = lambda f=folder: _cross_corpus_block(results / f, f"{href}/{f}")
    if name not in known:
        raise SerRefError(f"unknown generated block {name!r}; known: {', '.join(sorted(known))}")
    return known[name]()


def render_page(page: Path, results: Path) -> tuple[str, list[str]]:
    """(the text of ``page`` with every generated block re-rendered from ``results``, links relative to
    the page's folder; one line per block left as it was because its results are missing).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     page = Path(d) / "p.md"
    ...     _ = page.write_text("<!-- BEGIN GENERATED: urdu-table2 -->\\nold\\n<!-- END GENERATED -->\\n")
    ...     text, missing = render_page(page, Path(d) / "results")
    >>> text.splitlines()[1], missing[0].startswith("block urdu-table2 left as it was: ")
    ('old', True)
    """
    href = Path(os.path.relpath(results, page.parent)).as_posix()
    text, missing = page.read_text(), []
    old = {m["name"]: m["body"] for m in BLOCK.finditer(text)}

    def body(name: str) -> str:
        try:
            return render_block(name, results, href)
        except MissingResults as exc:
            missing.append(f"block {name} left as it was: {exc}")
            return old[name]

    return rewrite(text, body), missing
