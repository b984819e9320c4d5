"""The package's own error types: every bad input ends in one of these, with a message that
names the file (or argument) and what is wrong with it; ``cli_main`` turns them into one line on
stderr and an exit code, for every command of the package (``command`` builds a command's main)."""
import errno
import sys
import traceback


class SerRefError(Exception):
    """Base class of every error ser_ref raises on purpose."""


class AudioError(SerRefError, ValueError):
    """Audio that cannot be used: unreadable, empty, too short, NaN/inf, all-zero, wrong rate."""


class WeightsError(SerRefError, ValueError):
    """A model or weight file that is corrupt, truncated, foreign, of the wrong shape or hash."""


class CorpusError(SerRefError, ValueError):
    """A corpus root that is missing or empty, or annotations/file names that do not parse."""


class NotFittedError(SerRefError, ValueError):
    """An estimator asked to predict or save before ``fit`` (scikit-learn's name for the same error)."""


class BackendError(SerRefError, RuntimeError):
    """The requested array backend (e.g. the GPU) is not available."""


class UsageError(SerRefError, ValueError):
    """A command-line argument out of its documented bounds, or arguments that do not fit together."""


class MachineError(SerRefError, OSError):
    """A fault of the machine, not of an input file: a full disk, a read-only or forbidden folder, an
    I/O error on the cache, the output folder or weights/. It stops the run: results that quietly
    rest on fewer files than the corpus holds are worse than none."""


# errno values that say "this machine cannot do it" (whatever the file): they stop the run
MACHINE_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EACCES", "EPERM", "EROFS", "EIO", "EDQUOT",
                                                      "ENOMEM", "EMFILE", "ENFILE", "ENODEV")
                           if hasattr(errno, n))


def machine_error(exc: OSError, what: str, path=None) -> MachineError:
    """One line for an OSError met while writing or reading our own files: the path, the cause, and
    that it is the machine's fault. ``what`` says which files ("feature cache", "output folder");
    a MachineError met again on its way up gets the caller's ``what`` (the path and cause stay).

    >>> str(machine_error(OSError(28, "No space left on device"), "feature cache", "/c/x.npy"))
    '/c/x.npy: No space left on device (feature cache; free some space)'
    """
    if isinstance(exc, MachineError):
        if not hasattr(exc, "cause"):
            return exc
        path, cause, code = exc.path, exc.cause, exc.code
    else:
        path, cause, code = path or exc.filename or "?", exc.strerror or str(exc) or type(exc).__name__, exc.errno
    hint = {errno.ENOSPC: "free some space", errno.EACCES: "check the permissions",
            errno.EROFS: "the filesystem is read-only",
            None: "a short or failed write: is the disk full?"}.get(code, "")
    err = MachineError(f"{path}: {cause} ({what}{'; ' + hint if hint else ''})")
    err.path, err.cause, err.code = path, cause, code
    return err


def cli_main(run, argv=None, *, prog: str = "ser_ref") -> int:
    """Run ``run(argv) -> int`` as a command: every error ends in one line on stderr naming the file
    or argument and the problem (a traceback only with ``--debug`` among the arguments).

    Exit codes: 0 done, 2 bad input or argument, 3 a fault of the machine, 130 interrupted.

    >>> cli_main(lambda argv: 0, [])
    0
    """
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        return run(argv)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        code, msg = _message(exc)
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


def _message(exc: Exception) -> tuple[int, str]:
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


class FolderInUseError(SerRefError):
    """Another live run holds the lock of the output folder."""
