"""python -m ser_ref.egemaps FILES...  -> a table: one row per feature, one column per file."""
from __future__ import annotations

import argparse
import sys

from ..errors import SerRefError
from . import EGEMAPS_NAMES, egemaps_files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ser_ref.egemaps", description=__doc__)
    ap.add_argument("files", nargs="+", help="audio files (any rate/channels soundfile reads)")
    args = ap.parse_args(argv)
    try:
        feats = egemaps_files(args.files)
    except SerRefError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(n) for n in EGEMAPS_NAMES)
    print(f"{'feature':{width}s}  " + "  ".join(f"{i:>12d}" for i in range(len(args.files))))
    for j, name in enumerate(EGEMAPS_NAMES):
        print(f"{name:{width}s}  " + "  ".join(f"{feats[i, j]:12.6g}" for i in range(len(args.files))))
    for i, f in enumerate(args.files):
        print(f"# {i}: {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
