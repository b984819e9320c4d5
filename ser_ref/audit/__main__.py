"""``python -m ser_ref.audit [--full] [--only NAME]``: one table of every stage against its reference."""
from __future__ import annotations

import argparse
import sys

from .checks import run_all


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ser_ref.audit", description=__doc__)
    ap.add_argument("--full", action="store_true", help="more data and the issues' full-size settings (slow)")
    ap.add_argument("--only", help="run only the checks whose name contains this text")
    args = ap.parse_args(argv)
    rows = run_all(full=args.full, only=args.only)
    print(format_table(rows))
    failed = [r for r in rows if r.passed is False]
    print(f"\n{sum(r.passed is True for r in rows)} passed, {len(failed)} failed, "
          f"{sum(r.passed is None for r in rows)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
