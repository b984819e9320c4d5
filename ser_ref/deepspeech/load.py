"""Find the layer-1 weights: an explicit file, $SER_REF_MODEL, ../shared, the cache, or the registry.

Resolution order of ``load_layer1(model)``:
    1. ``model`` given: a .tflite is exported to the cache once (keyed by its sha256); an .npz is read
    2. $SER_REF_MODEL (a .tflite or .npz; an error if it names a missing file)
    3. the copy in ../shared (``locations.shared_model_path()``)
    4. a previously exported registry model in the cache (weights/armspeech-0.1.4.npz)
    5. the registry: the verified download in weights/cache if there (``registry_tflite``), else pip
       download armspeech==0.1.4, verify both sha256, extract, export, cache

``model_tflite()`` resolves the .tflite itself the same way (steps 2, 3, 5), for the tests and the audit.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..files import locations
from ..errors import WeightsError
from .npz_export import export_model, sha256_file
from .fetch import MODEL_SHA256, fetch_model
from .layer1 import Layer1

REGISTRY_NPZ = "armspeech-0.1.4.npz"
REGISTRY_TFLITE = "cache/armspeech-0.1.4-model.tflite"  # under weights/
_loaded: dict = {}


def _quiet(*_args, **_kw):
    pass


def exported_path(tflite: Path, weights_dir: Path) -> Path:
    """weights/<stem>-<sha256[:12]>.npz: a changed model file gets a fresh export.

    Examples
    --------
    >>> import tempfile
    >>> t = Path(tempfile.mkdtemp()) / "model.tflite"; t.write_bytes(b"abc")
    3
    >>> exported_path(t, Path("weights")).name        # sha256("abc") starts ba7816bf8f01
    'model-ba7816bf8f01.npz'
    """
    return weights_dir / f"{tflite.stem}-{sha256_file(tflite)[:12]}.npz"


def _from_file(path: Path, weights_dir: Path, log, cls=Layer1):
    """``cls.from_weights`` of ``path`` (.npz) or of its cached export (.tflite, exported once)."""
    if not path.exists():
        raise WeightsError(f"{path}: model file not found")
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder; give the .tflite or .npz file itself")
    if path.suffix == ".npz":
        log(f"{'layer 1' if cls is Layer1 else 'DeepSpeech'}: reading exported weights {path}")
        return cls.from_weights(path)
    npz = exported_path(path, weights_dir)
    if npz.exists():
        try:
            log(f"{'layer 1' if cls is Layer1 else 'DeepSpeech'}: using the cached export {npz} of {path}")
            return cls.from_weights(npz)
        except WeightsError as exc:
            log(f"{'layer 1' if cls is Layer1 else 'DeepSpeech'}: cached export unusable ({exc}); exporting again")
    log(f"{'layer 1' if cls is Layer1 else 'DeepSpeech'}: exporting {path} -> {npz}")
    export_model(path, npz)
    return cls.from_weights(npz)


def load_deepspeech(model=None, *, verbose: bool = False, weights_dir=None, fetch=fetch_model):
    """The whole model (``DeepSpeech``) from the same sources, in the same order, as ``load_layer1``."""
    from .model import DeepSpeech

    log = print if verbose else _quiet
    weights_dir = Path(weights_dir) if weights_dir is not None else locations.WEIGHTS_DIR
    if model is None:
        env = os.environ.get("SER_REF_MODEL")
        if env and not Path(env).expanduser().exists():
            raise WeightsError(f"SER_REF_MODEL={env}: file not found")
        model = Path(env).expanduser() if env else locations.shared_model_path()
    if model is None:
        model = registry_tflite(weights_dir, fetch=fetch, log=log)
    key = ("DeepSpeech", str(Path(model).resolve()), str(weights_dir))
    if key not in _loaded:
        _loaded[key] = _from_file(Path(model), weights_dir, log, DeepSpeech)
    return _loaded[key]


def load_layer1(model=None, *, verbose: bool = True, weights_dir=None, fetch=fetch_model) -> Layer1:
    """Layer 1 from the first source that exists (see the module doc); prints each step if verbose.

    Examples
    --------
    >>> import tempfile
    >>> load_layer1(Path(tempfile.mkdtemp()) / "missing.tflite", verbose=False)
    Traceback (most recent call last):
    ...
    ser_ref.errors.WeightsError: ...missing.tflite: model file not found
    >>> from ser_ref.files import locations
    >>> p = locations.shared_model_path()         # ../shared or $SER_REF_MODEL, if present
    >>> p is None or load_layer1(p, verbose=False).hidden == 2048
    True
    """
    log = print if verbose else _quiet
    weights_dir = Path(weights_dir) if weights_dir is not None else locations.WEIGHTS_DIR
    if model is None:
        env = os.environ.get("SER_REF_MODEL")
        if env:
            model = Path(env).expanduser()
            if not model.exists():
                raise WeightsError(f"SER_REF_MODEL={env}: file not found")
        else:
            model = locations.shared_model_path()
    if model is not None:
        key = (str(Path(model).resolve()), str(weights_dir))
        if key not in _loaded:
            _loaded[key] = _from_file(Path(model), weights_dir, log)
        return _loaded[key]
    npz = weights_dir / REGISTRY_NPZ
    key = (str(npz), str(weights_dir))
    if key in _loaded:
        return _loaded[key]
    if npz.exists():
        try:
            log(f"layer 1: reading the cached export {npz}")
            _loaded[key] = Layer1.from_weights(npz)
            return _loaded[key]
        except WeightsError as exc:
            log(f"layer 1: cached export unusable ({exc}); fetching again")
    tflite = registry_tflite(weights_dir, fetch=fetch, log=log)
    log(f"layer 1: exporting {tflite} -> {npz}")
    export_model(tflite, npz)
    _loaded[key] = Layer1.from_weights(npz)
    return _loaded[key]


def registry_tflite(weights_dir=None, *, fetch=fetch_model, log=print) -> Path:
    """weights/cache/armspeech-0.1.4-model.tflite: reused when its sha256 is the pinned one, else fetched.

    >>> import tempfile
    >>> stub = lambda path, log: print("fetching", path.name)  # stands in for the registry download
    >>> registry_tflite(tempfile.mkdtemp(), fetch=stub, log=print)
    fetching armspeech-0.1.4-model.tflite
    """
    weights_dir = Path(weights_dir) if weights_dir is not None else locations.WEIGHTS_DIR
    path = weights_dir / REGISTRY_TFLITE
    if path.exists() and sha256_file(path) == MODEL_SHA256:
        log(f"model: the verified registry download {path}")
        return path
    return fetch(path, log=log)


def model_tflite(*, weights_dir=None, fetch=fetch_model, log=print) -> Path:
    """The .tflite the main job would use: $SER_REF_MODEL, ../shared, else the registry (fetched once).

    The tests and the audit call this so that they check the very file ``reproduce`` runs on.
    A $SER_REF_MODEL that is missing or not a .tflite (an exported .npz has no graph to compare
    with) is a WeightsError naming it.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SER_REF_MODEL": "/no/model.tflite"}):
    ...     model_tflite()
    Traceback (most recent call last):
    ...
    ser_ref.errors.WeightsError: SER_REF_MODEL=/no/model.tflite: file not found
    """
    env = os.environ.get("SER_REF_MODEL")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise WeightsError(f"SER_REF_MODEL={env}: file not found")
        if path.suffix != ".tflite":
            raise WeightsError(f"SER_REF_MODEL={env}: not a .tflite (the graph checks need the model file, "
                               f"not an export)")
        return path
    shared = locations.shared_model_path()
    if shared is not None:
        return shared
    return registry_tflite(weights_dir, fetch=fetch, log=log)
