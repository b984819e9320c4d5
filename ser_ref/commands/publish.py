"""``python -m ser_ref.publish [--only NAME] [--dry-run] [--render-only]``: regenerate what is published.

Runs each published experiment (the table ``EXPERIMENTS``: its command and arguments) into
``docs/results/<name>/``, each as its own ``python -m ser_ref.<command>`` process from the
repository root, so that every manifest records the very command line that made it; then
rewrites the generated blocks of README.md and docs/*.md (``<!-- BEGIN GENERATED: NAME -->`` ...
``<!-- END GENERATED -->``) from the JSON on disk (``ser_ref.evaluation.published``).
``--render-only`` skips the runs; ``--dry-run`` prints the command lines and checks that each
command offers every option its line uses. Exit status 1 when a block had to be left as it was
because its results are missing (without ``--only``; with it, that is only noted). A run resumes from its folder's ``folds/`` checkpoints
(not published; ``--fresh`` deletes them first).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import SerRefError
from ..evaluation import published
from ..files import atomic
from ..files.locations import REPO_ROOT
from . import common
from .common import say

RESULTS = Path("docs/results")          # relative to the repository root, as every command line names it
# Five seeds, spaced wider than any corpus's number of folds: fold i of a run at seed s trains with
# seed s + i, so consecutive seeds (0,1,2,...) would share initialisations between folds.
SEEDS = "0,1000,2000,3000,4000"
ALL_SYSTEMS = ",".join(published.CROSS_SYSTEMS)


def corpus_roots() -> tuple[str, str]:
    """(RAVDESS root, URDU root) as the command lines give them: $SER_REF_RAVDESS / $SER_REF_URDU,
    else the shared copies beside the repository.

    >>> corpus_roots()[1].endswith("urdu-4class-16k") or "SER_REF_URDU" in os.environ
    True
    """
    return (os.environ.get("SER_REF_RAVDESS") or "../shared/corpora/ravdess-4class-16k",
            os.environ.get("SER_REF_URDU") or "../shared/corpora/urdu-4class-16k")


def experiments() -> dict[str, tuple[str, list[str]]]:
    """{name: (command, arguments)} of every published experiment, written to ``docs/results/<name>/``.

    >>> table = experiments(); table["ravdess"][0], "--seeds" in table["ravdess"][1]
    ('reproduce', True)
    """
    ravdess, urdu = corpus_roots()
    pair = ["--corpus", f"ravdess={ravdess}", "--corpus", f"urdu={urdu}"]
    table = {
        "ravdess": ("reproduce", ["--corpus", "ravdess", "--root", ravdess, "--seeds", SEEDS]),
        "urdu": ("reproduce", ["--corpus", "urdu", "--root", urdu, "--seeds", SEEDS]),
        "cross-corpus": ("cross_corpus", [*pair, "--corpus", "synthetic"]),
        "cross-corpus-speaker": ("cross_corpus", [*pair, "--corpus", "synthetic", "--normalize", "speaker"]),
        "ravdess-layers": ("layers", ["--corpus", "ravdess", "--root", ravdess]),
    }
    for layer in published.LAYERS:
        table[f"ravdess-urdu-{layer}"] = ("cross_corpus", [*pair, "--features", layer, "--systems", ALL_SYSTEMS,
                                                           "--cells", "cross"])  # the within-RAVDESS layers: ravdess-layers
    return {name: (cmd, [*argv, "--out", (RESULTS / name).as_posix()]) for name, (cmd, argv) in table.items()}


# Experiments of the table whose folder is not (yet) what ``publish`` makes on this code, with why; their
# pages say so (docs/results.md), and tests/test_published.py holds them to that instead of to a manifest.
PENDING: dict[str, str] = {}   # none: every experiment of the table is published from this history


def command_line(command: str, argv: list[str]) -> str:
    """The line as a user would type it.

    >>> command_line("layers", ["--corpus", "ravdess", "--out", "docs/results/x y"])
    "python -m ser_ref.layers --corpus ravdess --out 'docs/results/x y'"
    """
    return f"python -m ser_ref.{command} {shlex.join(argv)}"


def missing_options(argv: list[str], help_text: str) -> list[str]:
    """The options of ``argv`` that a command's ``--help`` does not list.

    >>> missing_options(["--corpus", "a", "--seeds", "0,1"], "usage: x [--corpus C] [--seed S]")
    ['--seeds']
    """
    offered = set(re.findall(r"--[A-Za-z0-9][A-Za-z0-9-]*", help_text))
    return [a for a in argv if a.startswith("--") and a not in offered]


def unsupported(selected: dict) -> list[str]:
    """One line per experiment whose command lacks an option its line uses (every ``--help`` read at once)."""
    helps = {cmd: subprocess.Popen([sys.executable, "-m", f"ser_ref.{cmd}", "--help"], cwd=REPO_ROOT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
             for cmd in {cmd for cmd, _ in selected.values()}}
    texts = {cmd: proc.communicate()[0] for cmd, proc in helps.items()}
    return [f"{name}: python -m ser_ref.{cmd} has no {', '.join(lacking)} (needed by: {command_line(cmd, argv)})"
            for name, (cmd, argv) in selected.items() if (lacking := missing_options(argv, texts[cmd]))]


def clear_outputs(folder: Path, fresh: bool) -> None:
    """Empty a results folder before its run, so no file of an older run stays beside the new ones;
    the fold checkpoints (``folds/``) stay for resuming unless ``fresh``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (Path(d) / "folds").mkdir(); _ = (Path(d) / "table2.json").write_text("{}")
    ...     clear_outputs(Path(d), fresh=False); sorted(p.name for p in Path(d).iterdir())
    ['folds']
    """
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.is_dir() and not p.is_symlink():
            if fresh or p.name != "folds":
                shutil.rmtree(p)
        else:
            p.unlink()


def run_one(name: str, command: str, argv: list[str], fresh: bool) -> None:
    """One experiment as its own process from the repository root; an error naming it if it fails."""
    clear_outputs(REPO_ROOT / RESULTS / name, fresh)
    say(f"\n== {name}: {command_line(command, argv)}")
    code = subprocess.call([sys.executable, "-m", f"ser_ref.{command}", *argv], cwd=REPO_ROOT)
    if code != 0:
        raise SerRefError(f"{name}: {command_line(command, argv)} exited with {code}; re-run "
                          f"python -m ser_ref.publish --only {name} to resume it")


def pages() -> list[Path]:
    """The pages that may hold generated blocks: README.md and docs/*.md.

    >>> pages()[0].name
    'README.md'
    """
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def render(results: Path, *, write: bool = True) -> list[str]:
    """Rewrite every page's generated blocks from ``results`` (``write=False``: only say which pages
    would change); one line per block left as it was because its results are missing."""
    stale = []
    for page in pages():
        new, missing = published.render_page(page, results)
        name = page.relative_to(REPO_ROOT)
        stale += [f"{name}: {line}" for line in missing]
        if new != page.read_text():
            if write:
                atomic.write_text(page, new)
            say(f"{'rendered' if write else 'would render'} {name}")
    return stale


def parse_args(argv=None):
    names = list(experiments())
    ap = common.parser("publish", __doc__.splitlines()[0].split(": ", 1)[1],
                       epilog="experiments: " + ", ".join(names))
    ap.add_argument("--only", action="append", metavar="NAME", type=lambda t: [s.strip() for s in t.split(",")],
                    help="run only these experiments (repeat or comma-separate; default: all)")
    ap.add_argument("--dry-run", action="store_true", help="print the command lines and check them; run nothing")
    ap.add_argument("--render-only", action="store_true",
                    help="run nothing: only rewrite the generated blocks from the JSON on disk")
    ap.add_argument("--fresh", action="store_true", help="delete each folder's fold checkpoints first (no resume)")
    args = common.parse(ap, argv)
    args.everything = args.only is None
    args.only = [n for group in args.only or [names] for n in group]
    unknown = [n for n in args.only if n not in names]
    if unknown:
        ap.error(f"--only {', '.join(unknown)}: unknown experiment; expected one of {', '.join(names)}")
    return args


def _main(args) -> int:
    table = experiments()
    selected = {n: table[n] for n in table if n in args.only}
    if not args.render_only:
        refused = unsupported(selected)
        for name, (cmd, argv) in selected.items():
            say(command_line(cmd, argv))
        if refused:
            print("\n".join(refused), file=sys.stderr)
            raise SerRefError(f"{len(refused)} of {len(selected)} experiments need options their commands do not "
                              "offer (listed above); nothing was run (--only picks the others)")
        if not args.dry_run:
            for name, (cmd, argv) in selected.items():
                run_one(name, cmd, argv, args.fresh)
    stale = render(REPO_ROOT / RESULTS, write=not args.dry_run)
    for line in stale:
        print(line, file=sys.stderr)
    for name, why in PENDING.items():
        say(f"pending: {name}: {why} (python -m ser_ref.publish --only {name})")
    return 1 if stale and args.everything else 0   # with --only, the others' missing results are only noted


main = common.command("publish", parse_args, _main)


if __name__ == "__main__":
    sys.exit(main())
