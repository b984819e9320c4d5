"""The one switch that selects the array backend: NumPy on the CPU, CuPy on the GPU.

Code that should run on both takes arrays and asks ``xp = array_module(x)`` for the module
that owns them, so the same lines of math run on either backend. Arrays move to the device once
per batch (``to_device``), never per call.
"""
from __future__ import annotations

import numpy as np

from ..errors import BackendError

DEVICES = ("cpu", "gpu")


def _import_cupy():
    try:
        import cupy  # noqa: F401  (optional extra: pip install 'ser_ref[gpu]')
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        raise BackendError(
            f"device='gpu' needs CuPy with a working CUDA device (pip install 'ser_ref[gpu]'): {exc}"
        ) from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise BackendError(f"device='gpu': CuPy is installed but no CUDA device answers: {exc}") from exc
    if n < 1:
        raise BackendError("device='gpu': CuPy is installed but no CUDA device was found")
    return cupy


def gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers.

    Examples
    --------
    >>> gpu_available() in (True, False)
    True
    """
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


def resolve_device(device: str) -> str:
    """The one place a ``device`` value is checked: "cpu", or "gpu" when CuPy and a CUDA device answer.

    Every estimator's ``device`` parameter, the feature specification's ``device`` field and every
    command's ``--device`` end here, so a typo ("cuda") or a missing GPU is one BackendError, said
    before any work.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("cuda")
    Traceback (most recent call last):
    ...
    ser_ref.errors.BackendError: device must be one of ('cpu', 'gpu'), got 'cuda'
    """
    if device not in DEVICES:
        raise BackendError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "gpu":
        _import_cupy()
    return device


def get_xp(device: str = "cpu"):
    """The array module for ``device``: numpy for "cpu", cupy for "gpu" (clear error if absent).

    Examples
    --------
    >>> get_xp("cpu") is np
    True
    >>> get_xp("tpu")
    Traceback (most recent call last):
    ...
    ser_ref.errors.BackendError: device must be one of ('cpu', 'gpu'), got 'tpu'
    """
    return np if resolve_device(device) == "cpu" else _import_cupy()


def array_module(*arrays):
    """numpy or cupy, whichever owns the arrays (numpy for plain Python objects).

    Examples
    --------
    >>> array_module(np.zeros(2), [1, 2]) is np
    True
    """
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy

            return cupy
    return np


def to_device(a, device: str = "cpu"):
    """Move ``a`` to ``device`` (a no-op when it is already there).

    Examples
    --------
    >>> to_device(np.arange(3), "cpu")
    array([0, 1, 2])
    """
    xp = get_xp(device)
    if xp is np:
        return to_host(a)
    return xp.asarray(a)


def to_host(a) -> np.ndarray:
    """A NumPy array with the contents of ``a`` (copies from the GPU if needed).

    Examples
    --------
    >>> to_host([1, 2])
    array([1, 2])
    """
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)
