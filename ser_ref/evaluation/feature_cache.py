"""Per-file features, computed once and cached on disk by content: a cache that knows no kind.

    key = sha256( canonical JSON of [sha256(file bytes), kind name, kind version, parameters] )
    file = <cache>/features/<kind>/<key[:2]>/<key>.npy

The parameters are the kind's own (``FeatureSpec.params``), all but "weights": that is a path, and
the weights count by the sha256 of the file actually loaded ("weights_sha256"). Keying on the
audio's bytes (not its path) means a renamed or copied corpus reuses the cache, and an edited file or
changed parameter never reuses a stale one. The bytes hashed are the bytes decoded (one read). Every
write is atomic, so an interrupted run resumes with exactly the features it would have computed.

A *kind* is anything with ``name``, ``version`` (bumped when a code change alters its numbers),
``per_frame`` ((frames, d) per file, else one (d,) vector) and ``compute_many(audio, params_list)``;
the kinds themselves are registered in ``ser_ref.evaluation.feature_kinds``, which this module does
not import.

Faults: a file's own fault (unreadable, truncated, NaN, absurd values, too short, features that come
out non-finite) comes back as a message and the file is left out; a fault of the machine (a full or
read-only cache, an I/O error) raises ``MachineError`` and stops the run. A cache entry that is
empty, corrupt or non-finite is discarded and recomputed, with a warning.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ..files.atomic import atomic_path
from ..errors import AudioError, MachineError, SerRefError, UsageError, WeightsError, machine_error
from ..files.hashing import bytes_sha256, file_sha256  # noqa: F401  (file_sha256 re-exported)


def cache_key(content_sha: str, kind: str, version: int, params: dict) -> str:
    """sha256 of the canonical JSON of what the features depend on (see the module doc).

    >>> len(cache_key("ab" * 32, "egemaps", 1, {}))
    64
    """
    blob = json.dumps([content_sha, kind, version, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def error_naming(path, exc) -> str:
    """The error's message, led by the file's path unless it already names it.

    >>> error_naming("a.wav", ValueError("empty audio")), error_naming("a.wav", ValueError("a.wav: empty"))
    ('a.wav: empty audio', 'a.wav: empty')
    """
    msg = str(exc)
    return msg if str(path) in msg else f"{path}: {msg}"


def cache_path(path, kind, params: dict, cache_root, content_sha: str | None = None) -> Path:
    """Where the features of ``path`` under ``params`` live (a weights file counts by its sha256).

    Examples
    --------
    >>> import os, tempfile
    >>> from types import SimpleNamespace
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); open(p, "wb").write(b"RIFF")
    4
    >>> kind = SimpleNamespace(name="egemaps", version=1)
    >>> q = cache_path(p, kind, {}, "/cache")
    >>> q.parent.parent.as_posix(), q.parent.name == q.stem[:2], q == cache_path(p, kind, {}, "/cache")
    ('/cache/features/egemaps', True, True)
    """
    key_params = {k: v for k, v in params.items() if k != "weights"}
    key = cache_key(content_sha or file_sha256(path), kind.name, kind.version, key_params)
    return Path(cache_root) / "features" / kind.name / key[:2] / f"{key}.npy"


def feature_problem(feats, kind) -> str | None:
    """None, or what makes ``feats`` unusable: not float, empty, the wrong shape, NaN or inf.

    >>> from types import SimpleNamespace
    >>> feature_problem(np.ones((3, 2)), SimpleNamespace(name="toy", per_frame=False))
    'toy features are float64 (3, 2), expected a non-empty 1-D float array'
    """
    f = np.asarray(feats)
    want_ndim = 2 if kind.per_frame else 1  # (frames, units) for the layers; (88,) functionals
    if f.dtype.kind != "f" or f.ndim != want_ndim or f.size == 0:
        return f"{kind.name} features are {f.dtype} {f.shape}, expected a non-empty {want_ndim}-D float array"
    bad = int(np.count_nonzero(~np.isfinite(f)))
    if bad:
        return f"{bad} of the {f.size} {kind.name} feature values are NaN or inf"
    return None


def is_cached(target: Path, kind) -> bool:
    """Whether a usable entry is at ``target``; an empty, corrupt or non-finite one is deleted (and
    said) so that it is computed again.

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> is_cached(Path(tempfile.mkdtemp()) / "none.npy", SimpleNamespace(name="toy", per_frame=False))
    False
    """
    try:
        if not target.exists():
            return False
        try:
            why = feature_problem(np.load(target, allow_pickle=False), kind)
        except (ValueError, EOFError) as exc:  # a torn or foreign file: np.load's own complaints
            why = f"unreadable ({exc})"
        if why is None:
            return True
        print(f"warning: {target}: cached {kind.name} features {why}; discarded and computed again",
              file=sys.stderr, flush=True)
        target.unlink()
        return False
    except OSError as exc:
        raise machine_error(exc, "feature cache", target) from exc


def store_features(target: Path, feats, kind, name: str) -> None:
    """Save ``feats`` atomically after checking them: non-finite features are the file's fault
    (AudioError naming it), a failed write is the machine's (MachineError naming the cache file).

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> frames = SimpleNamespace(name="layer1", per_frame=True)
    >>> target = Path(tempfile.mkdtemp()) / "f.npy"
    >>> store_features(target, np.ones((3, 2048)), frames, "a.wav"); np.load(target).shape
    (3, 2048)
    >>> store_features(target, np.full((3, 2048), np.nan), frames, "a.wav")
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


def locate(path, kind, params_list, cache_root) -> tuple[list[Path], bytes]:
    """(cache file of each parameter set, the input's bytes): the keys hash exactly the bytes that
    are then decoded.

    >>> import os, tempfile
    >>> from types import SimpleNamespace
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); open(p, "wb").write(b"RIFF")
    4
    >>> targets, data = locate(p, SimpleNamespace(name="toy", version=0), [{"k": 1}, {"k": 2}], "/c")
    >>> len(set(targets)), data
    (2, b'RIFF')
    """
    from ..frontend.audio import read_file

    data = read_file(path)
    sha = bytes_sha256(data)
    return [cache_path(path, kind, params, cache_root, sha) for params in params_list], data


def cached_features(path, kind, params_list, cache_root) -> tuple[list[str], str | None]:
    """Compute (or find) the features of ``path`` under each of ``params_list``: returns (npy paths,
    None) or ([], error message). Missing entries are computed together (``kind.compute_many``:
    e.g. several layers of one model in one pass).

    Top-level and picklable: it is what executors run. A file's own fault comes back as a value,
    so that one bad file is reported with its name instead of aborting the stage; a machine fault
    raises ``MachineError``.

    Examples
    --------
    >>> import os, tempfile
    >>> from types import SimpleNamespace
    >>> peak = SimpleNamespace(name="peak", version=0, per_frame=False,
    ...                        compute_many=lambda audio, ps: [np.abs(audio).max(keepdims=True) for _ in ps])
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.wav"); open(p, "w").write("not audio")
    9
    >>> npys, error = cached_features(p, peak, [{}], tempfile.mkdtemp())     # errors come back as values
    >>> npys, error.startswith(p + ": unreadable or not audio")
    ([], True)
    """
    try:
        audio, targets, missing = _find(path, kind, params_list, cache_root)
        if missing:
            _compute_and_store(path, kind, params_list, audio, targets, missing)
        return [str(t) for t in targets], None
    except Exception as exc:
        if is_fault_of_the_file(exc):
            return [], error_naming(path, exc)
        raise


def cached_features_many(paths, kind, params_list, cache_root) -> list[tuple[list[str], str | None]]:
    """``cached_features`` of each of ``paths``, in one task: the missing features of the files that
    decode (and miss the same parameter sets) are computed in one call of ``kind.compute_batch``,
    which gives the values each file gets alone; each file's fault is still its own (a batch that
    fails goes again one file at a time, so the message names the file).

    >>> import os, tempfile
    >>> from types import SimpleNamespace
    >>> import soundfile as sf
    >>> peaks = lambda audios, ps: [[np.abs(a).max(keepdims=True) for _ in ps] for a in audios]
    >>> peak = SimpleNamespace(name="peak", version=0, per_frame=False, compute_batch=peaks,
    ...                        compute_many=lambda audio, ps: peaks([audio], ps)[0])
    >>> d = tempfile.mkdtemp(); bad, good = os.path.join(d, "notes.wav"), os.path.join(d, "tone.wav")
    >>> open(bad, "w").write("not audio")
    9
    >>> sf.write(good, 0.25 * np.ones(8000), 16000)
    >>> [(len(npys), error is None) for npys, error in cached_features_many([bad, good], peak, [{}], d)]
    [(0, False), (1, True)]
    """
    out: list = [None] * len(paths)
    todo: dict[tuple, list] = {}  # missing parameter sets -> [(i, targets, audio)]
    for i, path in enumerate(paths):
        try:
            audio, targets, missing = _find(path, kind, params_list, cache_root)
            out[i] = ([str(t) for t in targets], None)
            if missing:
                todo.setdefault(tuple(missing), []).append((i, targets, audio))
        except Exception as exc:
            if not is_fault_of_the_file(exc):
                raise
            out[i] = ([], error_naming(paths[i], exc))
    for missing, files in todo.items():
        try:
            feats = kind.compute_batch([audio for _, _, audio in files], [params_list[j] for j in missing])
        except OSError as exc:  # the inputs are in memory by now: this is the machine's
            raise machine_error(exc, f"computing {kind.name} features of {paths[files[0][0]]} and others") from exc
        except Exception as exc:
            if not is_fault_of_the_file(exc):
                raise
            feats = [None] * len(files)  # one at a time below, so that the error names its file
        for (i, targets, audio), f in zip(files, feats):
            try:
                _compute_and_store(paths[i], kind, params_list, audio, targets, list(missing), f)
            except Exception as exc:
                if not is_fault_of_the_file(exc):
                    raise
                out[i] = ([], error_naming(paths[i], exc))
    return out


def _find(path, kind, params_list, cache_root):
    """(decoded audio or None, cache file of each parameter set, indices of those not cached yet):
    the audio is decoded only when something is missing."""
    from ..frontend.audio import decode_audio

    targets, data = locate(path, kind, params_list, cache_root)
    missing = [j for j, target in enumerate(targets) if not is_cached(target, kind)]
    return (decode_audio(data, str(path)) if missing else None), targets, missing


def _compute_and_store(path, kind, params_list, audio, targets, missing, feats=None) -> None:
    """Store ``feats`` (computed now when None) of the ``missing`` parameter sets in their cache files."""
    if feats is None:
        try:
            feats = kind.compute_many(audio, [params_list[j] for j in missing])
        except OSError as exc:  # the input is in memory by now: this is the machine's
            raise machine_error(exc, f"computing {kind.name} features of {path}") from exc
    for j, f in zip(missing, feats):
        store_features(targets[j], f, kind, str(path))


def extract_all(paths, kind, params_list, cache_root, executor, *, desc: str | None = None):
    """``cached_features`` of every path through ``executor``, one task per file (per ``kind.batch_files``
    files for a kind with ``compute_batch``: ``cached_features_many``).

    Returns (npys, errors): npys[j][i] is the .npy of ``paths[i]`` under ``params_list[j]``, "" where
    the file failed; errors, one message per failed file.

    Examples
    --------
    >>> import os, tempfile
    >>> from types import SimpleNamespace
    >>> from ser_ref.evaluation.executors import SerialExecutor
    >>> peak = SimpleNamespace(name="peak", version=0, per_frame=False, compute_many=None)
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.wav"); open(p, "w").write("not audio")
    9
    >>> npys, errors = extract_all([p], peak, [{}], tempfile.mkdtemp(), SerialExecutor())
    >>> npys, len(errors), "notes.wav: unreadable" in errors[0]
    ([['']], 1, True)
    """
    from tqdm.auto import tqdm

    paths = [str(p) for p in paths]
    step = getattr(kind, "batch_files", 1) if getattr(kind, "compute_batch", None) is not None else 1
    if step > 1:  # files in groups: one task computes a group's missing features together
        futures = [executor.submit(cached_features_many, paths[i:i + step], kind, list(params_list), str(cache_root))
                   for i in range(0, len(paths), step)]
    else:
        futures = [executor.submit(cached_features, p, kind, list(params_list), str(cache_root)) for p in paths]
    results = []
    with tqdm(total=len(paths), desc=desc or f"features:{kind.name}", unit="file", leave=False) as bar:
        for f in futures:
            found = f.result() if step > 1 else [f.result()]
            results += found
            bar.update(len(found))
    npys = [[found[j] if found else "" for found, _ in results] for j in range(len(params_list))]
    return npys, [error for _, error in results if error]


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
