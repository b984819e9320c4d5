"""python -m ser_ref.explain: every stage's numbers against an independent computation, every panel's
equation found in the named function's docstring, the figures and explain.md written, bad audio named."""
import sys

import numpy as np
import pytest
import soundfile as sf

from ser_ref.commands import explain
from ser_ref.errors import SerRefError
from ser_ref.walkthrough import stages as walk

SR = 16000


@pytest.fixture(scope="module")
def layer(model_path):
    from ser_ref.deepspeech import load_layer1

    return load_layer1(model_path, verbose=False)


@pytest.fixture(scope="module")
def voiced_wav(tmp_path_factory):
    """1.2 s of a 1 kHz tone (exactly on FFT bin 32 of 512) over a harmonic voice at 180-220 Hz."""
    rng = np.random.default_rng(7)
    t = np.arange(int(1.2 * SR)) / SR
    f0 = 200 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * np.hanning(t.size)
    x = 0.3 * voice + 0.2 * np.sin(2 * np.pi * 1000 * t) + 0.003 * rng.normal(size=t.size)
    path = tmp_path_factory.mktemp("explain") / "voice.wav"
    sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def stages(voiced_wav, layer):
    return {s.key: s for s in walk.explain(voiced_wav, layer)}


def test_every_panel_names_a_function_and_an_equation_of_its_docstring(stages):
    assert list(stages) == ["01-waveform", "02-framing", "03-spectrum", "04-mel", "05-mfcc", "06-window",
                            "07-layer1", "08-llds", "09-functionals"]
    for s in stages.values():
        eqs = s.equations()
        assert eqs, s.key
        for name, path, eq in eqs:
            assert name.startswith("ser_ref.") and path.endswith(".py") and eq
    with pytest.raises(LookupError):
        walk.equation(np.mean, "no such equation line")


def test_spectrum_peaks_at_the_tone_and_matches_numpys_fft(stages, voiced_wav):
    from ser_ref.frontend.audio import load_audio

    s = stages["03-spectrum"]
    t = stages["02-framing"].data["t"]
    x = load_audio(voiced_wav).astype(np.float64)
    frame = x[t * 320: t * 320 + 512]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)
    direct = np.abs(np.fft.fft(frame * hann)[:257]) ** 2  # full complex FFT, not rfft
    np.testing.assert_allclose(s.data["power"][t], direct, rtol=1e-5, atol=1e-9)
    assert s.numbers["strongest bin of t*"] in ("1000 Hz", "187.5 Hz", "218.75 Hz", "203.125 Hz")


def test_log_mel_times_the_dct_is_the_packages_mfcc(stages):
    from scipy.fft import dct

    logmel, c = stages["04-mel"].data["logmel"], stages["05-mfcc"].data["mfcc"]
    ref = dct(logmel, type=2, norm="ortho", axis=1)[:, :26]
    ref[:, 0] *= np.sqrt(2)  # the module's DCT scales c0 like the others (no 1/sqrt(2))
    np.testing.assert_allclose(c, ref, atol=2e-4)


def test_window_is_the_19_frames_around_t_and_layer1_matches_float64(stages, layer):
    c = stages["05-mfcc"].data["mfcc"]
    w = stages["06-window"]
    t = w.data["t"]
    padded = np.vstack([np.zeros((9, 26)), c, np.zeros((9, 26))])
    np.testing.assert_array_equal(w.data["window"], padded[t:t + 19].ravel())
    windows = np.asarray(w.data["windows"], np.float64)
    h64 = np.minimum(np.maximum(windows @ layer.W.astype(np.float64) + layer.b, 0), 20)
    h = stages["07-layer1"].data["h"]
    np.testing.assert_allclose(h, h64, atol=1e-3)
    n = stages["07-layer1"].numbers
    assert abs(float(n["fraction exactly 0"]) - np.mean(h64 == 0)) < 2e-3
    assert abs(float(n["fraction clipped at 20"].split()[0]) - np.mean(h64 >= 20)) < 2e-3


def test_functionals_are_the_packages_egemaps(stages, voiced_wav):
    from ser_ref.frontend.audio import load_audio
    from ser_ref.egemaps import EGEMAPS_NAMES, egemaps

    s = stages["09-functionals"]
    np.testing.assert_allclose(s.data["values"].astype(np.float32), egemaps(load_audio(voiced_wav)), rtol=1e-6)
    assert [n for n, _ in s.table] == list(EGEMAPS_NAMES)
    llds = stages["08-llds"]
    assert 0.5 < llds.numbers["voiced fraction"] <= 1.0  # the tone-plus-voice is voiced nearly throughout
    f0 = 12 * np.log2(200 / 27.5)
    assert abs(llds.numbers["F0 median (semitones from 27.5 Hz)"] - f0) < 1.5
    assert 180 <= llds.numbers["F0 median before smoothing (Hz)"] <= 220


def test_cli_writes_figures_and_markdown(voiced_wav, model_path, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "ex"
    assert explain.main([str(voiced_wav), "--model", str(model_path), "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 9 and all((out / p).stat().st_size > 10_000 for p in pngs)
    md = (out / "explain.md").read_text()
    for p in pngs:
        assert f"({p})" in md
    assert md.count("\n| F0semitone") + md.count("\n| loudness_sma3") >= 20 and "`ser_ref.frontend.tf_mfcc.hann_window`" in md


def test_trained_model_stage(voiced_wav, model_path, tmp_path, layer):
    from ser_ref.nn import FrameDense
    from ser_ref.evaluation.saved_model import Trained, probabilities

    rng = np.random.default_rng(0)
    feats = [rng.gamma(1.0, 1.0, size=(20, 2048)).astype(np.float32) * (1 + i % 4) for i in range(8)]
    model = FrameDense(config={"epochs": 2, "patience": 0}, hidden=8).fit(feats, np.arange(8) % 4)
    meta = {"system": "dense", "class_names": ["anger", "happiness", "sadness", "neutral"],
            "corpus": {"name": "random", "n_utterances": 8}}
    trained = Trained(model, meta, "layer1", {"weights": layer.source, "step_ms": 20, "mode": "float"})
    s = walk.explain(voiced_wav, layer, trained)[-1]
    assert s.key == "10-model"
    frames = s.data["frames"]
    h = walk.explain(voiced_wav, layer)[6].data["h"]
    assert frames.shape == (h.shape[0], 4)
    np.testing.assert_allclose(frames.sum(1), 1, atol=1e-5)
    # the utterance's probabilities are the normalised geometric mean of the per-frame ones
    g = np.exp(np.log(frames).mean(0))
    np.testing.assert_allclose(s.data["proba"], g / g.sum(), atol=1e-5)
    np.testing.assert_allclose(s.data["proba"], probabilities(trained, h), atol=1e-7)
    assert s.numbers["decision"] == meta["class_names"][int(np.argmax(s.data["proba"]))]


def test_bad_audio_gets_the_same_error_as_reproduce(tmp_path, model_path, capsys):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, np.float32), SR)
    assert explain.main([str(silent), "--model", str(model_path), "--out", str(tmp_path / "o"), "--no-figures"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("explain: error: ") and str(silent) in err and "silent" in err and len(err.splitlines()) == 1


def test_missing_matplotlib_is_one_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "ser_ref.walkthrough.figures", raising=False)
    with pytest.raises(SerRefError, match=r"pip install -e '\.\[plot\]'"):
        import ser_ref.walkthrough.figures  # noqa: F401


def test_cli_with_a_forest_model_file(voiced_wav, model_path, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from ser_ref.egemaps import egemaps
    from ser_ref.frontend.audio import load_audio
    from ser_ref.forest.random_forest import RandomForest

    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 88)); y = np.arange(80) % 4
    rf = RandomForest(n_trees=20, max_depth=4).fit(X, y)
    meta = {"system": "rf-egemaps", "class_names": ["anger", "happiness", "sadness", "neutral"],
            "features": {"kind": "egemaps"}, "corpus": {"name": "random", "n_utterances": 80}}
    rf.save(tmp_path / "rf.npz", meta=meta)
    out = tmp_path / "ex"
    assert explain.main([str(voiced_wav), "--model", str(model_path), "--model-file", str(tmp_path / "rf.npz"),
                         "--out", str(out)]) == 0
    assert (out / "10-model.png").stat().st_size > 10_000
    md = (out / "explain.md").read_text()
    p = rf.predict_proba(egemaps(load_audio(voiced_wav))[None])[0]
    assert f"| decision | {meta['class_names'][int(np.argmax(p))]} |" in md
    assert f"| P(anger) | {round(float(p[0]), 4)} |" in md


def test_lstm_running_decision_ends_in_its_utterance_decision(voiced_wav, layer, stages):
    from ser_ref.nn import UtteranceLSTM
    from ser_ref.evaluation.saved_model import Trained

    rng = np.random.default_rng(1)
    feats = [rng.gamma(1.0, 1.0, size=(int(rng.integers(20, 40)), 2048)).astype(np.float32) for _ in range(8)]
    cfg = {"epochs": 2, "patience": 0, "max_len": 50}
    model = UtteranceLSTM(units=6, config=cfg).fit(feats, np.arange(8) % 4)
    meta = {"system": "lstm", "class_names": ["anger", "happiness", "sadness", "neutral"],
            "corpus": {"name": "random", "n_utterances": 8}}
    trained = Trained(model, meta, "layer1", {"weights": layer.source, "step_ms": 20, "mode": "float"})
    s = walk.stage_model(trained, stages["07-layer1"].data["h"], None)
    running = s.data["frames"]
    assert running.shape == (50, 4)  # the central 50 of the utterance's frames
    np.testing.assert_allclose(running[-1], s.data["proba"], atol=1e-6)
    assert s.numbers["frames the LSTM reads"].startswith("50 of ")
    assert s.data["first_frame"] == (stages["07-layer1"].data["h"].shape[0] - 50) // 2
