"""What the layer study does to cost less, held to giving the same values: the whole model's layers
of many files in one batched pass (tflite-int8) against one file at a time through the cache, and a
batch that fails falling back to one file at a time so that the error still names its file."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from ser_ref.deepspeech.layer_features import LAYER_KINDS
from ser_ref.evaluation import feature_cache, feature_kinds


def _params(npz, mode):
    return [{"weights": str(npz), "weights_sha256": "x", "step_ms": 20, "mode": mode, "layer": k} for k in LAYER_KINDS]


@pytest.fixture(scope="module")
def npz(model_path, tmp_path_factory):
    from ser_ref.deepspeech import export_model

    return export_model(model_path, tmp_path_factory.mktemp("w") / "w.npz")


def _same_cache_files(files, root):
    """Every file through one batched task and through one task per file: the same cache bytes."""
    kind = feature_kinds.KINDS["deepspeech"]
    params = _params(root["npz"], "tflite-int8")
    one = [feature_cache.cached_features(p, kind, params, root["tmp"] / "one") for p in files]
    many = feature_cache.cached_features_many(files, kind, params, root["tmp"] / "many")
    assert all(err is None for _, err in one + many)
    for (a, _), (b, _) in zip(one, many):
        for pa, pb in zip(a, b):
            assert open(pa, "rb").read() == open(pb, "rb").read(), (pa, pb)
    return [np.load(npys[0], mmap_mode="r").shape[0] for npys, _ in one]


def test_batched_int8_layers_are_the_bits_of_one_file_at_a_time(npz, ravdess_files, tmp_path):
    """Four RAVDESS files of different lengths in one batched task give the cache files of four
    single-file tasks, byte for byte."""
    lengths = _same_cache_files([str(p) for p in ravdess_files[::167][:4]], {"npz": npz, "tmp": tmp_path})
    assert len(set(lengths)) == 4


@pytest.mark.slow
def test_a_file_longer_than_one_pass_goes_alone_in_a_batch(npz, ravdess_files, tmp_path):
    """A 21 s file (more frames than one streamed pass) among short ones: the same bytes as alone."""
    from ser_ref.frontend.audio import load_audio

    files = [str(p) for p in ravdess_files[::131][:2]]
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([load_audio(p) for p in ravdess_files[:8]])[:16000 * 21], 16000, subtype="FLOAT")
    lengths = _same_cache_files(files + [str(long)], {"npz": npz, "tmp": tmp_path})
    assert max(lengths) > 1024


def test_a_failing_batch_goes_again_one_file_at_a_time(tmp_path):
    """A batch that raises a file's fault is computed file by file: the good files get their features,
    the bad one an error naming it (as one task per file would give)."""
    def compute_many(audio, ps):
        if audio.max() > 0.5:
            raise ValueError("absurdly loud")
        return [audio[:4].copy() for _ in ps]

    def compute_batch(audios, ps):
        return [compute_many(a, ps) for a in audios]

    kind = SimpleNamespace(name="toy", version=0, per_frame=False, compute_many=compute_many,
                           compute_batch=compute_batch, batch_files=8)
    paths = []
    for k, level in enumerate((0.1, 0.9, 0.2)):
        paths.append(str(tmp_path / f"{k}.wav"))
        sf.write(paths[-1], level * np.ones(800), 16000, subtype="FLOAT")
    found = feature_cache.cached_features_many(paths, kind, [{}], tmp_path / "cache")
    assert [err is None for _, err in found] == [True, False, True]
    assert found[1][1].startswith(paths[1]) and "absurdly loud" in found[1][1]
    np.testing.assert_array_equal(np.load(found[2][0][0]), np.float32([0.2] * 4))
    from ser_ref.evaluation.executors import SerialExecutor

    npys, errors = feature_cache.extract_all(paths, kind, [{}], tmp_path / "cache", SerialExecutor())
    assert npys == [[found[0][0][0], "", found[2][0][0]]] and errors == [found[1][1]]
