from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_ref.evaluation import feature_cache, feature_kinds
from ser_ref.evaluation.executors import SerialExecutor


def _wav(path, rng, n=4000):
    sf.write(str(path), (rng.uniform(-0.5, 0.5, n) * 32767).astype(np.int16), 16000, subtype="PCM_16")
    return path


def test_cache_is_keyed_by_content_and_params(tmp_path, rng):
    calls = []

    def scaled(audio, params):
        calls.append(params["scale"])
        return audio[:10] * params["scale"]

    kind = feature_kinds.FeatureKind("scaled", scaled, per_frame=False)
    a = _wav(tmp_path / "a.wav", rng)
    (npy,), err = feature_cache.cached_features(a, kind, [{"scale": 2}], tmp_path / "cache")
    assert err is None
    from ser_ref.frontend.audio import load_audio

    np.testing.assert_array_equal(np.load(npy), load_audio(a)[:10] * 2)
    # Same bytes under another name: cache hit, no recomputation.
    b = tmp_path / "b.wav"
    b.write_bytes(a.read_bytes())
    assert feature_cache.cached_features(b, kind, [{"scale": 2}], tmp_path / "cache")[0] == [npy]
    assert len(calls) == 1
    # Another parameter: a new entry; beside the cached one, only the new one is computed.
    (same, npy3), _ = feature_cache.cached_features(a, kind, [{"scale": 2}, {"scale": 3}], tmp_path / "cache")
    assert same == npy and npy3 != npy and calls == [2, 3]
    # Edited audio: a new entry.
    _wav(a, rng)
    assert feature_cache.cached_features(a, kind, [{"scale": 2}], tmp_path / "cache")[0] != [npy]
    assert len(calls) == 3
    # No temporary files are left behind.
    assert not list((tmp_path / "cache").rglob("*.tmp*"))


def test_bad_files_come_back_as_named_errors(tmp_path, rng):
    """A bad file beside a good one: the bad one is left out with its name, the good one's features
    are still computed, cached and equal to an uncached computation."""
    good = _wav(tmp_path / "good.wav", rng)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio" * 100)
    (npys,), errors = feature_kinds.KINDS["egemaps"].extract([junk, good], [{}], tmp_path / "c", SerialExecutor())
    assert npys[0] == "" and len(errors) == 1 and "junk.wav" in errors[0] and "good.wav" not in errors[0]
    np.testing.assert_array_equal(np.load(npys[1]), feature_kinds.compute(good, "egemaps", {}))


def test_read_into_one_block_equals_np_load_and_falls_back_where_it_must(tmp_path, rng):
    def save(name, a):
        np.save(tmp_path / name, a)
        return str(tmp_path / name)

    same = [save(f"{k}.npy", rng.normal(size=(int(rng.integers(0, 9)), 5)).astype(np.float32)) for k in range(6)]
    for group in (same, [save("d.npy", rng.normal(size=(3, 2)))],  # float64 stays float64
                  same + [save("f64.npy", rng.normal(size=(2, 5)))],  # mixed dtypes: np.load
                  same + [save("fortran.npy", np.asfortranarray(rng.normal(size=(4, 3)).astype(np.float32)))]):
        got = feature_cache.read_into_one_block(group)
        for a, p in zip(got, group, strict=True):
            ref = np.load(p)
            assert a.dtype == ref.dtype and a.shape == ref.shape
            np.testing.assert_array_equal(a, ref)
    whole = save("whole.npy", np.ones((4, 5), np.float32))
    cut = tmp_path / "cut.npy"
    cut.write_bytes(Path(whole).read_bytes()[:-4])  # the header says 80 bytes of data, 76 follow
    with pytest.raises(ValueError, match="cut.npy: truncated .npy file \\(76 of 80"):
        feature_cache.read_into_one_block([whole, str(cut)])


def test_load_many_maps_within_the_open_file_limit_and_reads_beyond_it(tmp_path):
    """Run in a child whose hard limit of open files is low: 300 files fit (the soft limit is raised
    to make room), 3000 do not and are read into one block instead; both equal np.load."""
    import subprocess
    import sys

    pytest.importorskip("resource", reason="no POSIX limit of open files on this OS")
    code = f"""
import os, resource, numpy as np
from ser_ref.evaluation import feature_cache
d = {str(tmp_path)!r}
paths = []
for k in range(3000):
    paths.append(os.path.join(d, f"{{k}}.npy")); np.save(paths[-1], np.full((2, 3), k, np.float32))
resource.setrlimit(resource.RLIMIT_NOFILE, (100, 1000))
small = feature_cache.load_many(paths[:300])
assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 300 and not small[0].flags.writeable
big = feature_cache.load_many(paths)
assert big[0].flags.writeable and len({{id(a.base) for a in big}}) == 1
assert all(int(a[0, 0]) == k for k, a in enumerate(big)) and all(int(a[1, 2]) == k for k, a in enumerate(small))
print("ok")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "ok", res.stderr
