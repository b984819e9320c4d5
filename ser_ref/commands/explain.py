"""``python -m ser_ref.explain FILE``: one utterance through every stage, as figures and ``explain.md``.

    python -m ser_ref.explain speech.wav [--model DEEPSPEECH] [--model-file TRAINED.npz] [--out DIR]

A recording unlike the training speech (too short for one context window, near-silent, narrow-band,
clipped: ``ser_ref.frontend.input_checks``) is still explained, with one warning line each on stderr
and under "Warnings" in explain.md.

The stages are ``ser_ref.walkthrough.stages`` (each names the function and the equation behind it),
the figures ``ser_ref.walkthrough.figures`` (matplotlib: ``pip install -e '.[plot]'``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..files import atomic
from ..frontend.input_checks import file_warnings
from ..walkthrough.stages import explain, markdown
from . import common


def parse_args(argv=None):
    ap = common.parser("explain", "One utterance through every stage: figures and explain.md.")
    ap.add_argument("file", type=Path, help="an audio file (any rate or channel count soundfile reads)")
    common.add_model(ap)
    ap.add_argument("--model-file", type=Path, dest="model_file", help="a model from python -m ser_ref.train")
    common.add_out(ap, "output folder (default explain-<file name>)")
    common.add_step_ms(ap)
    common.add_mode(ap)
    ap.add_argument("--no-figures", action="store_true", dest="no_figures", help="explain.md only (no matplotlib)")
    return common.parse(ap, argv)


def _command_line(args) -> str:
    """The command as explain.md records it: the file and every option that changes what is drawn."""
    parts = ["python -m ser_ref.explain", str(args.file)]
    if args.model is not None:
        parts += ["--model", str(args.model)]
    if args.model_file is not None:
        parts += ["--model-file", str(args.model_file)]
    defaults = parse_args([str(args.file)])
    for option in ("step_ms", "mode"):
        if getattr(args, option) != getattr(defaults, option):
            parts += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    return " ".join(parts)


def _main(args) -> int:
    from ..deepspeech import load_layer1

    draw = None
    if not args.no_figures:
        from ..walkthrough.figures import draw_all  # raises SerRefError with the install hint

        draw = draw_all
    trained = None
    if args.model_file is not None:
        from ..evaluation.saved_model import load_trained

        trained = load_trained(args.model_file, args.model)
    layer = load_layer1(args.model, verbose=False)
    stages = explain(args.file, layer, trained, step_ms=args.step_ms, mode=args.mode)
    warnings = file_warnings(args.file, int(trained.params.get("step_ms", 20)) if trained else args.step_ms)
    for w in warnings:
        print(f"warning: {args.file}: {w}", file=sys.stderr, flush=True)
    out = args.out or Path(f"explain-{args.file.stem}")
    out.mkdir(parents=True, exist_ok=True)
    if draw is not None:
        draw(stages, out)
    text = markdown(stages, figures=draw is not None, command=_command_line(args))
    if warnings:
        text += "\n## Warnings\n\nThe recording is unlike the training speech (docs/reliability.md):\n\n" + \
            "".join(f"- {w}\n" for w in warnings)
    atomic.write_text(out / "explain.md", text)
    print(f"wrote {out}/explain.md" + (f" and {len(stages)} figures" if draw is not None else ""))
    return 0


main = common.command("explain", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
