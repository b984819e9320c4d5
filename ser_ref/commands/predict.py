"""``python -m ser_ref.predict --model-file FILE.npz FILES... [--json]``: a trained model on your own audio.

Per file it prints the decision and P(class | utterance) for the four classes (with ``--json``, one
object per line: ``path``, ``label``, ``probabilities`` {class: p}, ``warnings`` [text]). A recording
unlike the training speech (too short for one context window, near-silent, narrow-band, clipped:
``ser_ref.frontend.input_checks``) still gets its prediction, and one warning line on stderr per check. Each file goes through exactly
the feature code the model was trained on (``ser_ref.evaluation.saved_model``: the same audio checks,
MFCC step, layer-1 mode or eGeMAPS). The model file is refused, with one line naming it, when it is
corrupt, of another format version, or was trained on layer-1 features of DeepSpeech weights other
than the ones in use. A file that cannot be used is named with its problem, the others are still
predicted, and the exit status is 1.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..evaluation.saved_model import feature_version_note, features_of, load_trained, probabilities
from ..frontend.input_checks import file_warnings
from . import common


def parse_args(argv=None):
    ap = common.parser("predict", "Label your own recordings with a model from python -m ser_ref.train.")
    ap.add_argument("--model-file", type=Path, required=True, dest="model_file", help="the trained .npz")
    ap.add_argument("files", nargs="+", type=Path, help="audio files (any rate or channel count soundfile reads)")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    common.add_model(ap)
    common.add_device(ap)
    return common.parse(ap, argv)


def _line(path, label, probs, classes, as_json: bool, warnings=()) -> str:
    if as_json:
        return json.dumps({"path": str(path), "label": label,
                           "probabilities": {c: round(float(p), 6) for c, p in zip(classes, probs)},
                           "warnings": list(warnings)})
    return f"{path}\t{label}\t" + "  ".join(f"{c}={p:.3f}" for c, p in zip(classes, probs))


def _main(args) -> int:
    trained = load_trained(args.model_file, args.model, args.device)
    note = feature_version_note(args.model_file, trained)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    failed = 0
    for path in args.files:
        try:
            p = probabilities(trained, features_of(trained, path))
            warnings = file_warnings(path, int(trained.params.get("step_ms", 20)))
        except (SerRefError, OSError) as exc:
            msg = str(exc)
            print(f"error: {msg if str(path) in msg else f'{path}: {msg}'}", file=sys.stderr)
            failed += 1
            continue
        for w in warnings:  # before the answer, so that a reader of both streams sees it first
            print(f"warning: {path}: {w}", file=sys.stderr, flush=True)
        print(_line(path, trained.classes[int(np.argmax(p))], p, trained.classes, args.json, warnings), flush=True)
    if failed:
        print(f"error: {failed} of {len(args.files)} files could not be used", file=sys.stderr)
        return 1
    return 0


main = common.command("predict", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
