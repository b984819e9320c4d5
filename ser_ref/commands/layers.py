"""``python -m ser_ref.layers --corpus NAME [--root DIR] [--quick]``: which DeepSpeech layer carries emotion.

For each of layers 1-5 of the whole model (``DeepSpeech``, mode tflite-int8 by default: the
runtime's own arithmetic, exact and so independent of batching and threads), under
leave-one-speaker-out: the paper's frame-level Dense model on the layer's frames, and the CART
forest on utterance-level [mean, std] over frames (``ser_ref.evaluation.layer_study``).
Writes layers.md, layers.json and layers.png: accuracy and UA with 95 % bootstrap CIs per layer,
and McNemar's p of each layer against layer 1 for the same model. Features are cached per layer.
manifest.json's ``wall_time_s`` holds the seconds of each stage (corpus, features, dense:<layer>,
pooled:<layer>, forest:<layer>, metrics:<layer>, report, total); the command prints their sums.
"""
from __future__ import annotations

import sys
import time

from ..evaluation import protocol_card
from ..evaluation.layer_study import evaluate_layers, figure, stage_summary, table_md
from ..evaluation.report import manifest, portable_path
from ..files import atomic, locations
from . import common
from .common import say


def study(items, weights, run, executor, timings: dict | None = None) -> dict:
    """Every layer's features (cached, one pass of the model per file), then ``layer_study.evaluate_layers``
    on the files that have them; ``timings`` gains the wall seconds of each stage."""
    from ..deepspeech.layer_features import LAYER_KINDS
    from ..evaluation.dataset import FeatureSpec, build_dataset

    # every layer of one pass per file; keyed without a device, as this study's cache always was
    specs = {k: FeatureSpec.deepspeech(weights, step_ms=20, mode=run.mode, device=None, layer=k) for k in LAYER_KINDS}
    t = time.perf_counter()
    data, problems = build_dataset(items, specs, executor=executor, cache_root=locations.cache_dir(), timings=timings)
    say(f"features of {problems['n_used']} of {len(items)} files in {time.perf_counter() - t:.0f} s "
        f"({problems['n_left_out']} left out)")
    rows = evaluate_layers(data.features, data.y, data.speakers, executor, seed=run.seed, quick=run.quick, say=say,
                           seeds=run.seeds, timings=timings)
    return {"n_used": problems["n_used"], "n_items": len(items), "errors": problems["feature_errors"],
            "mode": run.mode, "model": portable_path(weights.source), "model_sha256": specs["layer1"].weights_sha256, **rows}


def parse_args(argv=None):
    ap = common.parser("layers", __doc__.splitlines()[0])
    common.add_corpus(ap, default="synthetic")
    common.add_root(ap)
    common.add_model(ap, "DeepSpeech .tflite or exported .npz (e.g. the English 0.9.3 model)")
    common.add_mode(ap, default="tflite-int8")
    common.add_seeds(ap)
    common.add_jobs(ap)
    common.add_quick(ap)
    common.add_out(ap, "output folder (default results/layers-<corpus>-<timestamp>)")
    return common.parse(ap, argv)


def _main(args) -> int:
    from ..corpora.opening import open_corpus
    from ..deepspeech import load_layer1
    from ..evaluation.executors import make_executor, stop

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    run = common.run_settings("layers", args)
    items, report = open_corpus(run.corpus, run.root, seed=run.seed, quick=run.quick)
    timings["corpus"] = time.perf_counter() - t_start
    say(f"{len(items)} utterances. {report.summary()}")
    out = common.output_folder(run.out, f"layers-{run.corpus}")
    with common.locked_output(out):  # the lock held, a finished folder reopened
        weights = load_layer1(run.model, verbose=True)   # an exported .npz holding every layer
        executor = make_executor(run.jobs, None)
        try:
            res = study(items, weights, run, executor, timings)
        except BaseException:
            stop(executor)  # SIGINT, SIGTERM or a fault: the queued tasks are not waited for
            raise
        executor.shutdown()
        t = time.perf_counter()
        atomic.write_json(out / "layers.json", res)
        atomic.write_text(out / "layers.md", table_md(res, run.corpus))
        drew = figure(res, out / "layers.png")
        protocol_card.write(out, protocol_card.card(run, None, None, weights, {run.corpus: (items, report)}))
        timings["report"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_start
        atomic.write_json(out / "manifest.json", manifest(run, run.fold_settings(), items,
                                                          protocol_card.file_list_sha256(items)[:16], weights, timings))
        say(table_md(res, run.corpus))
        say(stage_summary({k: v for k, v in timings.items() if k != "total"}) + f"; total {timings['total']:.0f} s")
        say(f"wrote {out}/layers.md, layers.json, manifest.json, protocol.json, protocol.md" + (", layers.png" if drew else ""))
        return 0


main = common.command("layers", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
