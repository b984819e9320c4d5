"""The package's own error types: every bad input ends in one of these, with a message that
names the file (or argument) and what is wrong with it."""


class SerRefError(Exception):
    """Base class of every error ser_ref raises on purpose."""


class AudioError(SerRefError, ValueError):
    """Audio that cannot be used: unreadable, empty, too short, NaN/inf, all-zero, wrong rate."""


class WeightsError(SerRefError, ValueError):
    """A model or weight file that is corrupt, truncated, foreign, of the wrong shape or hash."""


class CorpusError(SerRefError, ValueError):
    """A corpus root that is missing or empty, or annotations/file names that do not parse."""


class BackendError(SerRefError, RuntimeError):
    """The requested array backend (e.g. the GPU) is not available."""
