import numpy as np
import pytest

from ser_ref.runtime import backend
from ser_ref.errors import BackendError


def test_cpu_is_numpy():
    assert backend.get_xp("cpu") is np
    a = np.arange(3.0)
    assert backend.array_module(a) is np
    back = backend.to_host(backend.to_device(a, "cpu"))
    assert type(back) is np.ndarray and back.dtype == a.dtype
    np.testing.assert_array_equal(back, a)
    assert backend.to_host([1, 2]).tolist() == [1, 2]  # anything array-like comes back as NumPy


def test_unknown_device_is_a_clear_error():
    with pytest.raises(BackendError, match="device must be one of"):
        backend.get_xp("tpu")


def test_gpu_request_without_gpu_is_a_clear_error():
    if backend.gpu_available():
        pytest.skip("a CUDA device is present: the no-GPU error path cannot be exercised here")
    with pytest.raises(BackendError, match="gpu"):
        backend.get_xp("gpu")
