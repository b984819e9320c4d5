import numpy as np
import pytest
import soundfile as sf

from ser_ref.frontend.audio import check_signal, load_audio, resample
from ser_ref.errors import AudioError


def _write(path, x, sr, subtype="PCM_16"):
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def test_int16_scaling_matches_deepspeech_client(tmp_path, rng):
    q = rng.integers(-32768, 32767, size=4000, dtype=np.int16)
    p = _write(tmp_path / "a.wav", q, 16000)
    x = load_audio(p)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, q.astype(np.float32) / 32768.0)


def test_stereo_is_averaged(tmp_path, rng):
    x = rng.uniform(-0.5, 0.5, size=(3000, 2)).astype(np.float32)
    p = _write(tmp_path / "s.wav", x, 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(p), x.mean(axis=1), atol=1e-7)


def test_resampling_keeps_a_tone(tmp_path):
    sr = 48000
    t = np.arange(sr) / sr
    p = _write(tmp_path / "t.wav", 0.5 * np.sin(2 * np.pi * 440 * t), sr, subtype="FLOAT")
    y = load_audio(p)
    assert y.size == 16000
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) - 440) <= 1  # 1 Hz bins
    np.testing.assert_allclose(np.sqrt(np.mean(y[2000:-2000] ** 2)), 0.5 / np.sqrt(2), rtol=1e-2)


def test_resample_identity():
    x = np.ones(10, np.float32)
    assert resample(x, 16000, 16000) is x


@pytest.mark.parametrize(
    "signal, msg",
    [
        (np.zeros(0), "zero-length"),
        (np.zeros(1000), "all samples are zero"),
        (np.ones(100), "shorter than one analysis window"),
        (np.r_[np.ones(1000), np.nan], "NaN/inf"),
        (np.ones((2, 1000)), "1-D"),
    ],
)
def test_bad_signals(signal, msg):
    with pytest.raises(AudioError, match=msg):
        check_signal(signal, name="x")


def test_bad_files_name_the_file(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioError, match="missing.wav.*not found"):
        load_audio(missing)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioError, match="junk.wav.*unreadable"):
        load_audio(junk)
    empty = _write(tmp_path / "empty.wav", np.zeros(0, np.int16), 16000)
    with pytest.raises(AudioError, match="empty.wav.*zero-length"):
        load_audio(empty)
    silent = _write(tmp_path / "silent.wav", np.zeros(4000, np.int16), 16000)
    with pytest.raises(AudioError, match="silent.wav.*zero"):
        load_audio(silent)
    nan = _write(tmp_path / "nan.wav", np.r_[np.ones(4000), np.nan].astype(np.float32), 16000, "FLOAT")
    with pytest.raises(AudioError, match="nan.wav.*NaN"):
        load_audio(nan)
    short = _write(tmp_path / "short.wav", np.ones(100, np.int16), 16000)
    with pytest.raises(AudioError, match="short.wav.*shorter"):
        load_audio(short)
