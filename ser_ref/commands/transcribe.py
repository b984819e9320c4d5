"""``python -m ser_ref.transcribe FILE...``: DeepSpeech's greedy transcript of each audio file.

One line per file, ``<file>\\t<text>``. A file that cannot be read is reported on stderr
(``<file>: <problem>``) and left out; the exit code is then 1. The model is found like layer 1's
(--model, $SER_REF_MODEL, ../shared, or the verified registry download).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import AudioError
from . import common


def parse_args(argv=None):
    ap = common.parser("transcribe", "greedy CTC transcripts from the DeepSpeech acoustic model")
    ap.add_argument("files", nargs="+", type=Path, help="audio files (any rate; mixed to mono, resampled)")
    common.add_model(ap, "a DeepSpeech .tflite or exported .npz")
    common.add_mode(ap, default="tflite-int8", help="arithmetic (tflite-int8: the interpreter's)")
    return common.parse(ap, argv)


def _run(args) -> int:
    from ..frontend.audio import load_audio
    from ..deepspeech.load import load_deepspeech

    model = load_deepspeech(args.model)
    failed = 0
    for f in args.files:
        try:
            text = model.transcribe(load_audio(f), mode=args.mode)
        except (AudioError, OSError) as exc:
            print(str(exc) if str(f) in str(exc) else f"{f}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{f}\t{text}", flush=True)
    return 1 if failed else 0


main = common.command("transcribe", parse_args, _run)


if __name__ == "__main__":
    sys.exit(main())
