"""python -m ser_ref.egemaps FILES...  -> a table: one row per feature, one column per file."""
from __future__ import annotations

import argparse

from ..errors import cli_main
from . import EGEMAPS_NAMES, egemaps_files


def _run(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m ser_ref.egemaps", description=__doc__)
    ap.add_argument("files", nargs="+", help="audio files (any rate/channels soundfile reads)")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    feats = egemaps_files(args.files)
    width = max(len(n) for n in EGEMAPS_NAMES)
    print(f"{'feature':{width}s}  " + "  ".join(f"{i:>12d}" for i in range(len(args.files))))
    for j, name in enumerate(EGEMAPS_NAMES):
        print(f"{name:{width}s}  " + "  ".join(f"{feats[i, j]:12.6g}" for i in range(len(args.files))))
    for i, f in enumerate(args.files):
        print(f"# {i}: {f}")
    return 0


def main(argv=None) -> int:
    """One line on stderr for a file that cannot be read (exit 2; a traceback with --debug)."""
    return cli_main(_run, argv, prog="ser_ref.egemaps")


if __name__ == "__main__":
    raise SystemExit(main())
