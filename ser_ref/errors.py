"""The package's own error types: every bad input ends in one of these, with a message that
names the file (or argument) and what is wrong with it (``machine_error``: one for a fault of the
machine). The command layer (``ser_ref.commands.common.cli_main``) turns them into one line on stderr
and an exit code, for every command of the package."""
import errno


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


class FolderInUseError(SerRefError):
    """Another live run holds the lock of the output folder."""
