"""``python -m ser_ref.protocol check --corpus NAME [--root DIR] FOLDS``: are other toolkits' folds
speaker-independent?

FOLDS is an EmoBox folder (``fold_K/<name>_{train,test}_fold_K.jsonl``) or a CSV with ``path,fold``
(or ``path,split``) columns (``ser_ref.evaluation.fold_files``). Files are matched to the corpus by
name and their speakers come from the corpus loader, never from the fold file. Prints per fold the
speakers found in both train and test, the files it could not match and the labels that disagree
with the corpus. Exit 0: every fold is speaker-disjoint; 1: some fold is not; 2: a malformed fold
file or a bad argument (one line naming the file and line).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..files import atomic
from . import common
from .common import say

LEAKY = 1  # the exit code of a protocol with a speaker in train and test of some fold


def parse_args(argv=None):
    ap = common.parser("protocol", "Check other toolkits' fold files against a corpus: speakers in train and "
                                   "test, unmatched files, labels that disagree.")
    sub = ap.add_subparsers(dest="action", required=True, metavar="check")
    check = sub.add_parser("check", prog="python -m ser_ref.protocol check",
                           help="is every fold speaker-disjoint? (exit 0 yes, 1 no, 2 a malformed file)",
                           description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", ""))
    common.add_corpus(check, "the corpus the fold files were written for", required=True)
    common.add_root(check, "corpus root (the synthetic corpus without one is generated in the cache)")
    check.add_argument("folds", type=Path, metavar="FOLDS",
                       help="an EmoBox fold folder (fold_K/*_train_fold_K.jsonl, *_test_fold_K.jsonl) or a CSV "
                            "with columns path,fold or path,split (an optional label/emo column is checked)")
    check.add_argument("--json", type=Path, help="also write the check as JSON to this file")
    check.add_argument("--examples", type=common.int_in(0, 10**6, "--examples"), default=3,
                       help="example files shown per finding (default %(default)s)")
    check.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return ap.parse_args(argv)


def _main(args) -> int:
    from ..corpora.opening import open_corpus
    from ..evaluation import fold_files

    specs = fold_files.read(args.folds)       # a malformed fold file stops here, before the corpus is read
    items, report = open_corpus(args.corpus, args.root)
    say(f"{args.corpus}: {len(items)} utterances, {len({it.speaker for it in items})} speakers. {report.summary()}")
    result = fold_files.check(specs, items)
    for line in result.lines(args.examples):
        say(line)
    if args.json is not None:
        atomic.write_json(args.json, result.as_dict())
    return 0 if result.speaker_disjoint else LEAKY


main = common.command("protocol", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
