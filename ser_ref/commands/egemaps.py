"""python -m ser_ref.egemaps FILES...  -> a table: one row per feature, one column per file."""
from __future__ import annotations

from ..egemaps import EGEMAPS_NAMES, egemaps_files
from . import common


def parse_args(argv=None):
    ap = common.parser("egemaps", __doc__)
    ap.add_argument("files", nargs="+", help="audio files (any rate/channels soundfile reads)")
    return common.parse(ap, argv)


def _run(args) -> int:
    feats = egemaps_files(args.files)
    width = max(len(n) for n in EGEMAPS_NAMES)
    print(f"{'feature':{width}s}  " + "  ".join(f"{i:>12d}" for i in range(len(args.files))))
    for j, name in enumerate(EGEMAPS_NAMES):
        print(f"{name:{width}s}  " + "  ".join(f"{feats[i, j]:12.6g}" for i in range(len(args.files))))
    for i, f in enumerate(args.files):
        print(f"# {i}: {f}")
    return 0


main = common.command("ser_ref.egemaps", parse_args, _run)


if __name__ == "__main__":
    raise SystemExit(main())
