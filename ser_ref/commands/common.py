"""The command-line layer every command shares: one builder per option, so that ``--seed``, ``--jobs``,
``--corpus``, ``--mode``, ``--device``, ``--model``, ``--out``, ``--scheduler``, ``--root``, ``--step-ms``
and ``--debug`` have the same type, bounds, choices and messages in every command; the checks that
need the file system, before any work; the typed ``RunSettings`` a command hands to the library; and
``cli_main`` / ``command``, which turn every error into one line on stderr and an exit code.

A new option shared by several commands is one builder here (a later ``--seeds 0,1,2`` is
``add_seeds``: ``int_list(0, MAX_SEED, "--seeds")``, the type ``--chunks`` already uses, and a
``seeds`` field of ``RunSettings``).
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from ..errors import MACHINE_ERRNOS, MachineError, SerRefError, machine_error
from ..evaluation.run_settings import RunSettings
from ..files import atomic

MAX_SEED = 2**32 - 1
MAX_JOBS = 256
MAX_CHUNK = 500  # frames: 10 s at the model's 20 ms step, far above the paper's 80
STEPS_MS = (20, 10)   # the model's own MFCC step, and the 10 ms the paper's text names


# ------------------------------------------------------------------------------- argument types
def int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in [lo, hi], else argparse's own one-line usage error.

    >>> int_in(1, 3, "--jobs")("2")
    2
    >>> int_in(1, 3, "--jobs")("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 0 is out of range: --jobs must be in [1, 3]
    """
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer ({what})") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range: {what} must be in [{lo}, {hi}]")
        return v
    return parse


def int_list(lo: int, hi: int, what: str):
    """An argparse type: "a,b,c", distinct integers each in [lo, hi], as a tuple.

    >>> int_list(1, 500, "a chunk length in frames")("5,10")
    (5, 10)
    >>> int_list(1, 500, "a chunk length in frames")("10,20,10")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 10 given more than once
    """
    one = int_in(lo, hi, what)

    def parse(text: str) -> tuple[int, ...]:
        values = tuple(one(t.strip()) for t in text.split(","))
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise argparse.ArgumentTypeError(f"{', '.join(map(str, twice))} given more than once")
        return values
    return parse


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler's HOST:PORT, or an address with a protocol (checked on connecting).

    >>> scheduler_address("node1:8786"), scheduler_address("tcp://10.0.0.5:8786")
    ('node1:8786', 'tcp://10.0.0.5:8786')
    """
    if "://" in text:  # tcp://, tls://, inproc://: Dask's own addresses, checked when connecting
        return text
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. tcp://10.0.0.5:8786 or node1:8786)")
    return text


# ------------------------------------------------------------------------------ option builders
def parser(name: str, description: str, **kw) -> argparse.ArgumentParser:
    """A command's parser, ``prog`` as the command is run (``python -m ser_ref.<name>``); ``parse`` finishes it.

    >>> parser("demo", "a demo").prog
    'python -m ser_ref.demo'
    """
    return argparse.ArgumentParser(prog=f"python -m ser_ref.{name}", description=description, **kw)


def parse(ap, argv=None):
    """The arguments, every one checked before any work: ``--debug`` added, parsed, ``check_paths``.

    >>> ap = parser("demo", "a demo"); add_seed(ap)
    >>> args = parse(ap, ["--seed", "7", "--debug"])
    >>> args.seed, args.debug
    (7, True)
    """
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    check_paths(ap, args)
    return args


def add_seed(ap, help: str = "fixes the forests and the networks") -> None:
    ap.add_argument("--seed", type=int_in(0, MAX_SEED, "--seed"), default=0, help=f"in [0, {MAX_SEED}]: {help}")


class _SeedList(argparse.Action):
    """``--seeds a,b,c``: the tuple, and ``seed`` its first (the corpus's and the intervals' seed)."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.seeds, namespace.seed = values, values[0]


def add_seeds(ap, help: str = "fixes the forests and the networks") -> None:
    """``--seed N`` (one seed) or ``--seeds a,b,c`` (every system trained once per seed), not both;
    ``--seeds N`` is ``--seed N``. After parsing, ``seed`` is the (first) seed, ``seeds`` the list or None.

    >>> ap = parser("demo", "a demo"); add_seeds(ap)
    >>> a, b = ap.parse_args(["--seeds", "4,0,9"]), ap.parse_args(["--seed", "4"])
    >>> (a.seed, a.seeds), (b.seed, b.seeds)
    ((4, (4, 0, 9)), (4, None))
    """
    group = ap.add_mutually_exclusive_group()
    add_seed(group, help)
    group.add_argument("--seeds", type=int_list(0, MAX_SEED, "--seeds"), action=_SeedList, default=None,
                       help=f"distinct seeds, comma-separated, each in [0, {MAX_SEED}]: every system is trained "
                            "once per seed on features computed once; the tables give the first seed's numbers "
                            "with their intervals and the mean ± sd over the seeds (not with --seed)")


def add_jobs(ap, help: str = "worker processes") -> None:
    ap.add_argument("--jobs", type=int_in(1, MAX_JOBS, "--jobs"), default=None,
                    help=f"{help}, in [1, {MAX_JOBS}] (default: all cores; 1: in-process)")


def add_corpus(ap, help: str | None = None, **kw) -> None:
    """``--corpus NAME``, the names of the corpus registry (``corpora.NAMES``), synthetic first."""
    from ..corpora import NAMES

    ap.add_argument("--corpus", choices=sorted(NAMES, key=lambda n: n != "synthetic"), help=help, **kw)


def add_root(ap, help: str = "corpus root (needs --corpus)", **kw) -> None:
    ap.add_argument("--root", type=Path, help=help, **kw)


def add_model(ap, help: str = "DeepSpeech .tflite or exported .npz (default: $SER_REF_MODEL, ../shared, "
                              "else the registry package, fetched and verified once)") -> None:
    ap.add_argument("--model", type=Path, help=help)


def add_device(ap, help: str = "array backend (gpu needs the 'gpu' extra and a CUDA device)") -> None:
    from ..runtime.backend import DEVICES

    ap.add_argument("--device", choices=DEVICES, default="cpu", help=help)


def add_mode(ap, default: str = "float", help: str = "layer-1 arithmetic") -> None:
    from ..deepspeech.layer1 import MODES

    ap.add_argument("--mode", choices=MODES, default=default, help=f"{help} (default %(default)s)")


def add_step_ms(ap, help: str = "MFCC frame step: 20 ms as the model was trained, or 10 ms as the paper's text says"
                ) -> None:
    ap.add_argument("--step-ms", type=int, choices=STEPS_MS, default=20, dest="step_ms", help=help)


def add_out(ap, help: str) -> None:
    ap.add_argument("--out", type=Path, help=help)


def add_scheduler(ap) -> None:
    ap.add_argument("--scheduler", type=scheduler_address,
                    help="HOST:PORT of a Dask scheduler to run folds and features on")


def fold_file(text: str) -> Path:
    """An argparse type: an EmoBox fold folder or a fold CSV, read in full at once, so that a malformed
    one is refused (one line naming its file and line) before any work.

    >>> fold_file("no/such/folds.csv")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: no/such/folds.csv: no such fold folder or CSV file
    """
    from ..evaluation.fold_files import read

    try:
        read(text)
    except SerRefError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text)


def add_folds(ap, help: str = "other toolkits' folds instead of leave-one-speaker-out: an EmoBox fold folder "
                              "(fold_K/*_{train,test}_fold_K.jsonl) or a CSV with path,fold (or path,split) "
                              "columns; speakers in train and test are stamped in the report") -> None:
    ap.add_argument("--folds", type=fold_file, metavar="FOLDS", help=help)


# deepspeech.model.LAYERS, repeated so that parsing a command line (and --help) imports no numerics;
# tests/test_commands.py holds the two equal
LAYERS = ("layer1", "layer2", "layer3", "layer4", "layer5")


def add_features(ap) -> None:
    ap.add_argument("--features", choices=LAYERS, default=None,
                    help="the neural rows on this layer of the whole DeepSpeech model (default: the paper's "
                         "layer-1 path); the feature cache is keyed by layer")


def add_quick(ap, help: str = "a reduced but complete pipeline (fewer trees, shorter training)") -> None:
    ap.add_argument("--quick", action="store_true", help=help)


INPUT_FILES = {"model": "--model", "model_file": "--model-file", "file": "FILE"}  # attribute: as the user wrote it


def check_paths(ap, args) -> None:
    """Argument checks that need the file system, before any work (argparse-style errors): every
    input file of ``INPUT_FILES`` (``--model``, ``--model-file``, explain's ``FILE``) a file, ``--out``
    a folder or nothing yet.

    >>> ap = parser("demo", "a demo"); add_model(ap); add_out(ap, "output folder")
    >>> check_paths(ap, ap.parse_args(["--out", "no/such/folder/yet"]))
    >>> check_paths(ap, ap.parse_args(["--model", "no/such/model.npz"]))
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    for attr, name in INPUT_FILES.items():
        path = getattr(args, attr, None)
        if path is None:
            continue
        if not path.exists():
            ap.error(f"{'' if name == 'FILE' else name + ' '}{path}: file not found")
        if not path.is_file():
            ap.error(f"{'' if name == 'FILE' else name + ' '}{path}: is a folder; give the file itself")
    out = getattr(args, "out", None)
    if out is not None and out.exists() and not out.is_dir():
        ap.error(f"--out {out}: exists and is not a folder")


def run_settings(name: str, args, argv=None, **fields) -> RunSettings:
    """The typed record of a run from the parsed arguments: the fields ``RunSettings`` has, the
    command line as the command parsed it, and every argument as text (the manifest's ``args``).

    >>> ap = parser("demo", "a demo"); add_seed(ap); add_jobs(ap)
    >>> s = run_settings("demo", parse(ap, ["--seed", "3"]), ["--seed", "3"])
    >>> s.seed, s.jobs, s.argv, dict(s.arguments)["seed"]
    (3, None, ('--seed', '3'), '3')
    """
    given = vars(args)
    typed = {k: given[k] for k in RunSettings.FROM_ARGUMENTS if k in given}
    argv = tuple(sys.argv[1:] if argv is None else argv)
    arguments = tuple((k, str(v)) for k, v in given.items() if k != "argv")
    return RunSettings(command=name, argv=argv, arguments=arguments, **{**typed, **fields})


def output_folder(out: Path | None, stem: str) -> Path:
    """``--out``, or ``results/<stem>-<timestamp>``, created; a machine fault (a read-only or full
    disk) names the folder in one line.

    >>> import tempfile
    >>> output_folder(Path(tempfile.mkdtemp()) / "a" / "b", "x").is_dir()
    True
    """
    out = out or Path("results") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise machine_error(exc, "--out: the output folder cannot be created", exc.filename or out) from exc
    return out


@contextmanager
def locked_output(out: Path):
    """Hold ``out``'s lock for the block (a second run into the same folder is refused at once; the
    lock file is also a write probe) and take away a finished run's manifest.json (``atomic.reopen``),
    so that the folder reads incomplete until this run's report ends; an incomplete folder is said.

    >>> import tempfile
    >>> with locked_output(Path(tempfile.mkdtemp())) as out: sorted(p.name for p in out.iterdir())
    ['.ser_ref.lock']
    """
    with atomic.folder_lock(out):
        if atomic.reopen(out) == "incomplete":  # manifest.json, written last, is away until the report ends
            say(f"{out}: resuming an incomplete folder (no manifest.json: an earlier run stopped before its end)")
        yield out


def say(msg: str) -> None:
    """A progress line, at once (the commands' stdout is often a log file)."""
    print(msg, flush=True)


# ------------------------------------------------------------------------------- errors -> exit
class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or ``docker stop``'s request to stop), raised where SIGINT raises
    KeyboardInterrupt, so that both end a run the same way: finished work kept, the lock released."""


@contextmanager
def _sigterm_as_interrupt(received: list):
    """Within the block, SIGTERM raises ``Terminated`` (and is noted in ``received``); the previous
    handler is back afterwards. Outside the main thread, where handlers cannot be set, nothing changes."""
    def on_sigterm(signum, frame):
        received.append(signum)
        raise Terminated()

    try:
        before = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def cli_main(run, argv=None, *, prog: str = "ser_ref") -> int:
    """Run ``run(argv) -> int`` as a command: every error ends in one line on stderr naming the file
    or argument and the problem (a traceback only with ``--debug`` among the arguments).

    Exit codes: 0 done, 2 bad input or argument, 3 a fault of the machine (a worker process that
    died included), 130 interrupted (SIGINT), 143 terminated (SIGTERM); interrupted or terminated,
    finished work is kept.

    >>> cli_main(lambda argv: 0, [])
    0
    """
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    terminated: list = []
    try:
        with _sigterm_as_interrupt(terminated):
            code = run(argv)
        return 143 if terminated else code   # a command's own interrupt line was said, with 130
    except KeyboardInterrupt:
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"\n{prog}: {what}; finished work is kept: re-run the same command to resume", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as exc:
        if terminated:  # a worker the same signal ended first: the signal is the news
            print(f"\n{prog}: terminated (SIGTERM); finished work is kept: re-run the same command to resume",
                  file=sys.stderr)
            return 143
        if debug:
            traceback.print_exc()
        code, msg = error_line(exc)
        if sys.stderr.isatty():
            print(file=sys.stderr)  # off the line of a progress bar the error cut short
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return code


def command(prog: str, parse, run):
    """The ``main(argv=None) -> int`` of a command: ``run(parse(argv))`` under ``cli_main``.

    >>> main = command("demo", lambda argv: argv[0], lambda name: 0 if name == "ok" else 2)
    >>> main(["ok"]), main(["no"])
    (0, 2)
    """
    def main(argv=None) -> int:
        """The command: one line per error on stderr (a traceback with --debug); exit 0 done, 2 bad
        input or argument, 3 a fault of the machine, 130 interrupted."""
        return cli_main(lambda a: run(parse(a)), argv, prog=prog)

    return main


def error_line(exc: Exception) -> tuple[int, str]:
    """(exit code, message) of an error that stopped a command.

    >>> error_line(SerRefError("x.wav: silent"))
    (2, 'x.wav: silent')
    >>> from concurrent.futures.process import BrokenProcessPool
    >>> error_line(BrokenProcessPool("A process in the process pool was terminated abruptly"))[0]
    3
    """
    from ..evaluation.executors import worker_death

    exc = worker_death(exc) or exc
    if isinstance(exc, MachineError):
        return 3, str(exc)
    if isinstance(exc, SerRefError):
        return 2, str(exc)
    if isinstance(exc, MemoryError):
        return 3, "out of memory (a fault of the machine: fewer --jobs need less)"
    if isinstance(exc, OSError):
        code = 3 if exc.errno in MACHINE_ERRNOS else 2
        where = f"{exc.filename}: " if exc.filename else ""
        return code, f"{where}{exc.strerror or exc}"
    return 1, f"{type(exc).__name__}: {exc} (a bug: please report it with the output of --debug)"
