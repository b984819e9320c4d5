"""Per-file features, computed once and cached on disk by content.

    key = sha256( sha256(file bytes), kind, version, parameters, weights file sha256 )
    file = <cache>/features/<kind>/<key[:2]>/<key>.npy

Keying on the audio's bytes (not its path) means a renamed or copied corpus reuses the cache, and an
edited file or changed parameter never reuses a stale one. The bytes hashed are the bytes decoded
(one read), and the weights count by the sha256 of the weight file actually loaded. Every write is
atomic, so an interrupted run resumes with exactly the features it would have computed.

Faults: a file's own fault (unreadable, truncated, NaN, absurd values, too short, features that come
out non-finite) comes back as a message and the file is left out; a fault of the machine (a full or
read-only cache, an I/O error) raises ``MachineError`` and stops the run. A cache entry that is
empty, corrupt or non-finite is discarded and recomputed, with a warning.
"""
from __future__ import annotations

import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..files.atomic import atomic_path
from ..errors import AudioError, MachineError, SerRefError, UsageError, WeightsError, machine_error
from ..files.hashing import bytes_sha256, file_sha256  # noqa: F401  (file_sha256 re-exported)

KINDS = ("layer1", "egemaps", "deepspeech")
# Part of every cache key: bump a kind's number when a code change alters its numbers, so that no
# run ever mixes features computed by two versions of the code.
# layer1 2: files of >= 512 frames go through per-core single-threaded GEMMs (float32 rounding differs)
# layer1 3: every file in fixed blocks of single-threaded GEMMs (bits independent of --jobs / threads)
# deepspeech 2: its layers' GEMMs in the same fixed single-threaded blocks
FEATURE_VERSIONS = {"layer1": 3, "egemaps": 1, "deepspeech": 2}  # deepspeech: params["layer"] = layer1..5


def cache_key(content_sha: str, kind: str, params: dict) -> str:
    blob = json.dumps([content_sha, kind, FEATURE_VERSIONS.get(kind, 0), params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@lru_cache(maxsize=2)
def _layer1(weights_path: str):
    from ..deepspeech import Layer1

    return Layer1.from_weights(weights_path)


def _layer1_of(params: dict):
    """Layer 1 of ``params["weights"]``, which must still be the file the run keyed its cache on."""
    layer = _layer1(params["weights"])
    want, got = params.get("weights_sha256", ""), layer.metadata.get("file_sha256", "")
    # reproduce keys on the file's bytes; a caller that keyed on the source model's hash is held to that
    if want and got and want not in (got, layer.metadata.get("source_sha256")):
        raise WeightsError(f"{params['weights']}: changed during the run (sha256 {got[:12]}..., the run "
                           f"started with {want[:12]}...)")
    return layer


def compute(path, kind: str, params: dict, audio=None) -> np.ndarray:
    """The features of one file, uncached: layer-1 frames (frames, 2048) or eGeMAPS (88,).

    ``audio``: the file's decoded signal when the caller has it already (else it is read here).

    Examples
    --------
    >>> import os, tempfile, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> t = np.arange(8000) / 16000; sf.write(p, 0.3 * np.sin(2 * np.pi * 200 * t), 16000)
    >>> compute(p, "egemaps", {}).shape
    (88,)
    >>> compute(p + ".missing", "egemaps", {})
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: ...tone.wav.missing: file not found
    """
    from ..frontend.audio import load_audio

    x = load_audio(path) if audio is None else audio
    if kind == "layer1":
        from ..deepspeech import deepspeech_features

        layer = _layer1_of(params)
        return deepspeech_features(x, layer, step_ms=params["step_ms"], mode=params["mode"])
    if kind == "deepspeech":  # the whole model; params["layer"] picks the layer (deepspeech/layer_features.py)
        from ..deepspeech.layer_features import layer_features

        return layer_features(x, params, (params["layer"],))[params["layer"]]
    if kind == "egemaps":
        from ..egemaps import egemaps

        return egemaps(x, 16000)
    raise ValueError(f"unknown feature kind {kind!r}; expected one of {KINDS}")


def error_naming(path, exc) -> str:
    """The error's message, led by the file's path unless it already names it.

    >>> error_naming("a.wav", ValueError("empty audio")), error_naming("a.wav", ValueError("a.wav: empty"))
    ('a.wav: empty audio', 'a.wav: empty')
    """
    msg = str(exc)
    return msg if str(path) in msg else f"{path}: {msg}"


def cache_path(path, kind: str, params: dict, cache_root, content_sha: str | None = None) -> Path:
    """Where the features of ``path`` under ``params`` live (a weights file counts by its sha256).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); open(p, "wb").write(b"RIFF")
    4
    >>> q = cache_path(p, "egemaps", {}, "/cache")
    >>> q.parent.parent.as_posix(), q.parent.name == q.stem[:2], q == cache_path(p, "egemaps", {}, "/cache")
    ('/cache/features/egemaps', True, True)
    """
    key_params = {k: v for k, v in params.items() if k != "weights"}
    key = cache_key(content_sha or file_sha256(path), kind, key_params)
    return Path(cache_root) / "features" / kind / key[:2] / f"{key}.npy"


def feature_problem(feats, kind: str) -> str | None:
    """None, or what makes ``feats`` unusable: not float, empty, the wrong shape, NaN or inf."""
    f = np.asarray(feats)
    want_ndim = 1 if kind == "egemaps" else 2  # (88,) functionals; (frames, units) for the layers
    if f.dtype.kind != "f" or f.ndim != want_ndim or f.size == 0:
        return f"{kind} features are {f.dtype} {f.shape}, expected a non-empty {want_ndim}-D float array"
    bad = int(np.count_nonzero(~np.isfinite(f)))
    if bad:
        return f"{bad} of the {f.size} {kind} feature values are NaN or inf"
    return None


def _cached(target: Path, kind: str) -> bool:
    """Whether a usable entry is at ``target``; an empty, corrupt or non-finite one is deleted (and
    said) so that it is computed again."""
    try:
        if not target.exists():
            return False
        try:
            why = feature_problem(np.load(target, allow_pickle=False), kind)
        except (ValueError, EOFError) as exc:  # a torn or foreign file: np.load's own complaints
            why = f"unreadable ({exc})"
        if why is None:
            return True
        print(f"warning: {target}: cached {kind} features {why}; discarded and computed again",
              file=sys.stderr, flush=True)
        target.unlink()
        return False
    except OSError as exc:
        raise machine_error(exc, "feature cache", target) from exc


def store_features(target: Path, feats, kind: str, name: str) -> None:
    """Save ``feats`` atomically after checking them: non-finite features are the file's fault
    (AudioError naming it), a failed write is the machine's (MachineError naming the cache file).

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "f.npy"
    >>> store_features(target, np.ones((3, 2048)), "layer1", "a.wav"); np.load(target).shape
    (3, 2048)
    >>> store_features(target, np.full((3, 2048), np.nan), "layer1", "a.wav")
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: a.wav: 6144 of the 6144 layer1 feature values are NaN or inf (absurd or degenerate audio?)
    """
    why = feature_problem(feats, kind)
    if why:
        raise AudioError(f"{name}: {why} (absurd or degenerate audio?)")
    try:
        with atomic_path(target, suffix=".npy") as tmp:
            np.save(tmp, np.asarray(feats, dtype=np.float32))
    except OSError as exc:
        raise machine_error(exc, "feature cache", target) from exc


def is_fault_of_the_file(exc: Exception) -> bool:
    """A file's own fault leaves the file out; weights, arguments and the machine stop the run.

    >>> from ser_ref.errors import AudioError, MachineError
    >>> is_fault_of_the_file(AudioError("x.wav: empty")), is_fault_of_the_file(MachineError("disk full"))
    (True, False)
    """
    return isinstance(exc, (SerRefError, ValueError)) and not isinstance(exc, (WeightsError, UsageError, MachineError))


def _entry(path, kind: str, params: dict, cache_root) -> tuple[Path, bytes]:
    """(cache file, the input's bytes): the key hashes exactly the bytes that are then decoded."""
    from ..frontend.audio import read_file

    data = read_file(path)
    return cache_path(path, kind, params, cache_root, bytes_sha256(data)), data


def cached_features(path, kind: str, params: dict, cache_root) -> tuple[str, str | None]:
    """Compute (or find) the features of ``path``: returns (npy path, None) or ("", error message).

    Top-level and picklable: it is what executors run. A file's own fault comes back as a value,
    so that one bad file is reported with its name instead of aborting the stage; a machine fault
    raises ``MachineError``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.wav"); open(p, "w").write("not audio")
    9
    >>> npy, error = cached_features(p, "egemaps", {}, tempfile.mkdtemp())     # errors come back as values
    >>> npy, error.startswith(p + ": unreadable or not audio")
    ('', True)
    """
    from ..frontend.audio import decode_audio

    try:
        target, data = _entry(path, kind, params, cache_root)
        if not _cached(target, kind):
            audio = decode_audio(data, str(path))
            try:
                feats = compute(path, kind, params, audio)
            except OSError as exc:  # the input is in memory by now: this is the machine's
                raise machine_error(exc, f"computing {kind} features of {path}") from exc
            store_features(target, feats, kind, str(path))
        return str(target), None
    except Exception as exc:
        if is_fault_of_the_file(exc):
            return "", error_naming(path, exc)
        raise


def _layer1_on_device(paths, params: dict, cache_root, desc: str, batch: int = 64):
    """Layer-1 features of the uncached files, computed in batches on the GPU in this process
    (one transfer per batch; see ``deepspeech_features_batch``)."""
    from tqdm.auto import tqdm

    from ..frontend.audio import decode_audio
    from ..deepspeech import deepspeech_features_batch

    npys, errors, todo = [""] * len(paths), [], []
    for i, p in enumerate(paths):
        try:
            target, data = _entry(p, "layer1", params, cache_root)
        except AudioError as exc:
            errors.append(error_naming(p, exc))
            continue
        if _cached(target, "layer1"):
            npys[i] = str(target)
        else:
            todo.append((i, p, target, data))
    layer = _layer1_of(params)
    for start in tqdm(range(0, len(todo), batch), desc=desc, unit="batch", leave=False):
        ok, signals = [], []
        for i, p, target, data in todo[start:start + batch]:
            try:
                signals.append(decode_audio(data, str(p)))
                ok.append((i, p, target))
            except AudioError as exc:
                errors.append(error_naming(p, exc))
        feats = deepspeech_features_batch(signals, layer, step_ms=params["step_ms"], mode=params["mode"],
                                          device="gpu")
        for (i, p, target), f in zip(ok, feats):
            try:
                store_features(target, f, "layer1", str(p))
                npys[i] = str(target)
            except AudioError as exc:
                errors.append(error_naming(p, exc))
    return npys, errors


def extract_all(paths, kind: str, params: dict, cache_root, executor, *, desc: str | None = None):
    """``cached_features`` for every path through ``executor`` (layer 1 with device "gpu": batched
    on the GPU in this process instead).

    Returns (npy paths in input order with "" for failures, list of error messages).

    Examples
    --------
    >>> import os, tempfile
    >>> from ser_ref.evaluation.executors import SerialExecutor
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.wav"); open(p, "w").write("not audio")
    9
    >>> npys, errors = extract_all([p], "egemaps", {}, tempfile.mkdtemp(), SerialExecutor())
    >>> npys, len(errors), "notes.wav: unreadable" in errors[0]
    ([''], 1, True)
    """
    from tqdm.auto import tqdm

    desc = desc or f"features:{kind}"
    if kind == "layer1" and params.get("device", "cpu") == "gpu":
        return _layer1_on_device(paths, params, cache_root, desc)
    futures = [executor.submit(cached_features, str(p), kind, params, str(cache_root)) for p in paths]
    results = [f.result() for f in tqdm(futures, desc=desc, unit="file", leave=False)]
    return [r[0] for r in results], [r[1] for r in results if r[1]]


OPEN_FILES_SPARE = 256  # open files left for everything else while a task's features are mapped


def load_many(paths) -> list[np.ndarray]:
    """The arrays of many cached .npy files, mapped read-only (plain ndarray views of the mappings).

    Why mapped: a task holds all of its split's frames (~1 GB on RAVDESS). Read with np.load into
    fresh memory, that cost ~2 s of page faults per task; mapped, the pages come from the page
    cache (and two workers share them). Plain ndarray views, because np.memmap's Python-level
    indexing is slow in the frame draws. Each mapping keeps its file open, so where the limit of
    open files, raised to its hard limit if need be, leaves less than OPEN_FILES_SPARE besides
    them, the files are read into one block instead (``read_into_one_block``).

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for k in range(2): np.save(os.path.join(d, f"{k}.npy"), np.full((k + 1, 3), k, np.float32))
    >>> a = load_many([os.path.join(d, "0.npy"), os.path.join(d, "1.npy")])
    >>> [x.tolist() for x in a], a[0].flags.writeable
    ([[[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]], False)
    """
    paths = list(paths)
    if not room_for_open_files(len(paths) + OPEN_FILES_SPARE):
        return read_into_one_block(paths)
    return [np.load(p, mmap_mode="r").view(np.ndarray) for p in paths]


def room_for_open_files(n: int) -> bool:
    """Whether this process may hold ``n`` more open files, raising its soft limit towards the hard
    one if that is what it takes (where the OS has no such limit, True)."""
    import os

    try:
        import resource
    except ImportError:
        return True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 64
    want = open_now + n
    if soft == resource.RLIM_INFINITY or want <= soft:
        return True
    if hard != resource.RLIM_INFINITY and want > hard:
        return False
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        return False
    return True


def read_into_one_block(paths) -> list[np.ndarray]:
    """The arrays of many .npy files read into one contiguous block of memory, each a view of it
    (writable; the files stay as they are): the fallback of ``load_many``, as slow as np.load.
    Files that are not C-ordered arrays of the first file's (non-object) dtype in a version 1 or 2
    header go through np.load; a file shorter than its header says is a ValueError naming it.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for k in range(2): np.save(os.path.join(d, f"{k}.npy"), np.full((k + 1, 3), k, np.float32))
    >>> [a.tolist() for a in read_into_one_block([os.path.join(d, "0.npy"), os.path.join(d, "1.npy")])]
    [[[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """
    from numpy.lib import format as npy

    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    headers, dtype0 = [], None
    for p in paths:
        with open(p, "rb") as fh:
            read = readers.get(npy.read_magic(fh))
            shape, fortran, dtype = read(fh) if read else ((), True, None)
            offset = fh.tell()
        dtype0 = dtype if dtype0 is None else dtype0
        if read is None or fortran or dtype != dtype0 or dtype.hasobject:
            return [np.load(q) for q in paths]  # np.load refuses object arrays (no pickles)
        headers.append((shape, offset))
    sizes = [int(np.prod(shape)) for shape, _ in headers]
    block = np.empty(sum(sizes), dtype=np.float32 if dtype0 is None else dtype0)
    out, start = [], 0
    for p, (shape, offset), n in zip(paths, headers, sizes):
        view = block[start:start + n]
        with open(p, "rb") as fh:
            fh.seek(offset)
            got = fh.readinto(memoryview(view).cast("B"))
        if got != view.nbytes:
            raise ValueError(f"{p}: truncated .npy file ({got} of {view.nbytes} data bytes)")
        out.append(view.reshape(shape))
        start += n
    return out


def check_cache_writable() -> Path:
    """The feature cache must take files before any work: a probe file written and removed.

    >>> import os, tempfile
    >>> old = os.environ.get("SER_REF_CACHE"); os.environ["SER_REF_CACHE"] = tempfile.mkdtemp()
    >>> check_cache_writable() == Path(os.environ["SER_REF_CACHE"])
    True
    >>> _ = os.environ.pop("SER_REF_CACHE") if old is None else os.environ.update(SER_REF_CACHE=old)
    """
    import os

    from ..files import atomic, locations

    root = locations.cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-probe-{os.getpid()}"  # per process: runs may share a cache
        atomic.write_bytes(probe, b"")
        probe.unlink(missing_ok=True)
    except OSError as exc:
        raise machine_error(exc, "the feature cache ($SER_REF_CACHE) must be writable", exc.filename or root) from exc
    return root
