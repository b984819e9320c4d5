"""Input unlike the training speech (issue 25, item 5): each check of ``frontend.input_checks`` on
signals made here, against the math it rests on; each file the fault probe named gets its one
warning and a speech-like file none; ``predict --json`` records them and still predicts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_ref.frontend import input_checks as ic

RATE = 16000


def _speechlike(seconds: float = 2.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A 120 Hz glottal pulse train through two resonances, with breath noise 30 dB down (as the
    fricatives and breath of real speech keep energy above 4.5 kHz), at speech level."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    source = np.zeros(n)
    source[:: rate // 120] = 1.0
    source += 0.01 * rng.standard_normal(n)
    x = source
    for f, bw in ((700, 130), (1800, 200)):
        r = np.exp(-np.pi * bw / rate)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / rate), r * r], x)
    x = x / np.sqrt(np.mean(x ** 2)) + 0.03 * rng.standard_normal(n)
    return (0.1 * x).astype(np.float32)   # -20 dBFS RMS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The probe's four files and a speech-like one, as int16 WAVs (the usual recording format)."""
    d = tmp_path_factory.mktemp("inputs")
    speech = _speechlike()
    one_bit = np.zeros(RATE, np.int16)
    one_bit[RATE // 2] = 1
    from ser_ref.frontend.audio import resample

    made = {"short": speech[: RATE // 10], "one_bit": one_bit,
            "8k": resample(speech, RATE, 8000), "clipped": np.clip(8 * speech, -1, 1), "speech": speech}
    paths = {}
    for name, x in made.items():
        paths[name] = d / f"{name}.wav"
        sf.write(paths[name], x, 8000 if name == "8k" else RATE, subtype="PCM_16")
    return paths


@pytest.mark.parametrize("name, warning", [("short", "too short"), ("one_bit", "near-silent"),
                                           ("8k", "narrow-band: recorded at 8000 Hz"), ("clipped", "clipped"),
                                           ("speech", None)])
def test_each_file_gets_its_one_warning_and_speech_none(files, name, warning):
    got = ic.file_warnings(files[name])
    assert [w.split(":")[0] for w in got] == ([] if warning is None else [warning.split(":")[0]]), got
    assert warning is None or got[0].startswith(warning)


def test_frames_and_the_context_window_boundary():
    # 19 frames need 512 + 18 * 320 samples at the 20 ms step; one sample fewer is 18 frames
    need = 512 + 18 * 320
    assert ic.n_frames(need) == 19 and ic.n_frames(need - 1) == 18
    assert ic.too_short(np.ones(need)) is None and ic.too_short(np.ones(need - 1)) is not None
    assert ic.too_short(np.ones(512 + 18 * 160), step_ms=10) is None


def test_level_is_the_rms_of_the_loud_frames_in_dbfs():
    t = np.arange(RATE) / RATE
    for a in (0.5, 1e-3):  # a sine's RMS is its amplitude over sqrt(2)
        assert abs(ic.active_level_dbfs(a * np.sin(2 * np.pi * 250 * t)) - 20 * np.log10(a / np.sqrt(2))) < 0.05
    quiet = np.zeros(RATE)
    quiet[: RATE // 2] = 10 ** (-80 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 250 * t[: RATE // 2])
    assert ic.near_silent(quiet) is not None          # -80 dBFS speech level
    assert ic.near_silent(100 * quiet) is None        # -40 dBFS


def test_high_band_fraction_is_the_share_of_white_noise_above_the_cutoff():
    noise = np.random.default_rng(1).standard_normal(20 * RATE)
    # white noise spreads its power evenly over 0..8 kHz: (8000 - 4500) / 8000 of it above 4.5 kHz
    assert abs(ic.high_band_fraction(noise) - 3500 / 8000) < 0.01
    assert abs(ic.high_band_fraction(noise, 2000.0) - 6000 / 8000) < 0.01


def test_narrow_band_catches_telephone_audio_stored_at_16k():
    from ser_ref.frontend.audio import resample

    speech = _speechlike(seed=2)
    phone = resample(resample(speech, RATE, 8000), 8000, RATE)
    assert ic.narrow_band(speech, RATE) is None
    assert ic.narrow_band(phone, RATE).startswith("narrow-band: almost no energy above 4500 Hz")


def test_clipped_counts_full_scale_samples_per_channel():
    x = np.zeros((1000, 2))
    x[:9, 1] = -1.0          # 0.9 % of one channel: under the rule
    assert ic.clipped(x) is None
    x[:10, 1] = 1.0          # 1 %: at the rule
    assert ic.clipped(x).startswith("clipped: 1 % of the samples")
    assert ic.clipped(np.full(100, 32766 / 32768)) is None   # just under int16 full scale


def test_predict_records_the_warnings_and_still_predicts(files, tmp_path, capsys):
    from ser_ref.commands import predict
    from ser_ref.corpora import Item
    from ser_ref.evaluation.dataset import FeatureSpec
    from ser_ref.evaluation.run_settings import RunSettings
    from ser_ref.evaluation.saved_model import model_meta
    from ser_ref.evaluation.systems import Settings
    from ser_ref.forest.random_forest import RandomForest

    rng = np.random.default_rng(0)
    model = RandomForest(n_trees=3, seed=0).fit(rng.normal(size=(40, 88)), np.arange(40) % 4)
    items = [Item(Path(f"{i}.wav"), f"s{i % 2}", "anger") for i in range(4)]
    meta = model_meta("rf-egemaps", RunSettings("train", corpus="demo"), Settings(), FeatureSpec("egemaps"), None,
                      items, n_left_out=0, speakers_left_out=[], seconds=1.0)
    model.save(tmp_path / "rf.npz", meta)
    names = ["speech", "one_bit", "8k"]
    rc = predict.main(["--model-file", str(tmp_path / "rf.npz"), "--json", *(str(files[n]) for n in names)])
    cap = capsys.readouterr()
    rows = [json.loads(line) for line in cap.out.splitlines()]
    assert rc == 0 and [r["path"] for r in rows] == [str(files[n]) for n in names]
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in rows)
    assert rows[0]["warnings"] == []
    assert [w.split(":")[0] for r in rows[1:] for w in r["warnings"]] == ["near-silent", "narrow-band"]
    lines = cap.err.strip().splitlines()
    assert lines == [f"warning: {files[n]}: {r['warnings'][0]}" for n, r in zip(names[1:], rows[1:])]
