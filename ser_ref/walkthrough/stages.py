"""One utterance through every stage, as ``Stage`` records: what computed it, what came out, what to say.

Stages (one function each): the waveform; framing with the Hann window; the power spectrum; the
mel filterbank and the log-mel energies; the 26 MFCC; one 19-frame context window as the 494
inputs; the layer-1 activations (how many clip at 20, how many are 0); the eGeMAPS low-level
descriptors and the 88 functionals; and, with a trained model (``python -m ser_ref.train``), the
per-frame emotion probabilities and the decision. Every stage calls the package's own functions and
names them, with the equation line of their docstring (``equation``), so a figure on the screen
points at the code that drew it. ``explain`` runs them all, ``markdown`` writes explain.md; the
figures are ``ser_ref.walkthrough.figures``. The numbers here need NumPy only.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SerRefError
from ..frontend.audio import SAMPLE_RATE, load_audio, resample


@dataclass
class Stage:
    """One step of the pipeline on one utterance: what computed it, what came out, what to say."""

    key: str                  # file stem of its figure, e.g. "03-spectrum"
    title: str
    sources: list             # [(function, marker)]: who computed it; the marker finds its equation
    data: dict                # arrays the figure draws
    numbers: dict             # shapes, ranges and key numbers for explain.md
    table: list = field(default_factory=list)  # (name, value) rows, e.g. the 88 functionals

    def equations(self) -> list:
        """[(qualified function name, source file, equation line)] of every source.

        Examples
        --------
        >>> from ser_ref.frontend.tf_mfcc import hann_window
        >>> Stage("k", "t", [(hann_window, "w[n] =")], {}, {}).equations()[0][0]
        'ser_ref.frontend.tf_mfcc.hann_window'
        """
        return [equation(f, m) for f, m in self.sources]


def equation(func, marker: str) -> tuple[str, str, str]:
    """(``module.name``, ``path/to/module.py``, the line of the docstring that holds ``marker``).

    The function's own docstring is searched first, then its module's (where a stage's equations
    sit together, as in ``ser_ref.frontend.tf_mfcc``).

    >>> from ser_ref.frontend.tf_mfcc import hann_window
    >>> name, path, line = equation(hann_window, "w[n] =")
    >>> name, path, line[:30]
    ('ser_ref.frontend.tf_mfcc.hann_window', 'ser_ref/frontend/tf_mfcc.py', 'w[n] = 0.5 - 0.5 cos(2 pi n / ')
    """
    func = inspect.unwrap(getattr(func, "py_func", func))
    module = inspect.getmodule(func)
    for doc in (inspect.getdoc(func) or "", inspect.getdoc(module) or ""):
        for line in doc.splitlines():
            if marker in line:
                name = f"{module.__name__}.{func.__qualname__}"
                path = module.__name__.replace(".", "/") + ".py"
                if Path(module.__file__).name == "__init__.py":
                    path = module.__name__.replace(".", "/") + "/__init__.py"
                return name, path, " ".join(line.split())
    raise LookupError(f"{func.__qualname__}: no docstring line holds {marker!r}")


def _range(a) -> str:
    a = np.asarray(a)
    return f"[{float(a.min()):.4g}, {float(a.max()):.4g}]"


# ---------------------------------------------------------------- the front end (ser_ref.frontend.tf_mfcc)
def stage_waveform(x: np.ndarray, path) -> Stage:
    """The signal as every stage sees it: float32 mono 16 kHz, int16 / 32768.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> s = stage_waveform(x, "tone.wav")
    >>> s.numbers["seconds"], s.numbers["RMS (dBFS)"]          # 20 log10(0.3 / sqrt(2))
    (1.0, -13.5)
    """
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return Stage("01-waveform", "Waveform", [(load_audio, "as float32 mono"), (resample, "Polyphase resampling")], {"x": x, "sr": SAMPLE_RATE},
                 {"file": str(path), "samples": x.size, "seconds": round(x.size / SAMPLE_RATE, 3),
                  "range": _range(x), "RMS (dBFS)": round(20 * float(np.log10(max(rms, 1e-12))), 1)})


def stage_framing(x: np.ndarray, win: int, step: int) -> Stage:
    """Frames x_t[n] = x[t S + n] and the periodic Hann window; t* = the frame of largest energy.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> s = stage_framing(x, 512, 320)
    >>> s.data["frames"].shape, s.numbers["step S"]
    ((49, 512), '320 samples (20 ms)')
    """
    from ..frontend.framing import frame_signal
    from ..frontend.tf_mfcc import hann_window

    frames = frame_signal(x.astype(np.float64), win, step)
    w = hann_window(win)
    t = int(np.argmax(np.sum(frames * frames, axis=1)))
    return Stage("02-framing", "Framing with the Hann window",
                 [(frame_signal, "x_t[n] = x[t*step + n]"), (hann_window, "w[n] = 0.5 - 0.5 cos")],
                 {"frames": frames, "window": w, "t": t, "step": step},
                 {"frames": f"{frames.shape[0]} x {win} samples", "window L": f"{win} samples ({1000 * win / SAMPLE_RATE:g} ms)",
                  "step S": f"{step} samples ({1000 * step / SAMPLE_RATE:g} ms)", "loudest frame t*": t,
                  "t* starts at": f"{t * step / SAMPLE_RATE:.3f} s"})


def stage_spectrum(framing: Stage) -> Stage:
    """P_t[k] = |sum_n w[n] x_t[n] e^{-2 pi i k n / K}|^2, stored as float32 as TensorFlow does.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> s = stage_spectrum(stage_framing(x, 512, 320))
    >>> s.data["power"].shape, s.numbers["strongest bin of t*"]     # 200 Hz is between bins 6 and 7
    ((49, 257), '187.5 Hz')
    """
    from ..frontend.tf_mfcc import mfcc_reference

    frames, w = framing.data["frames"], framing.data["window"]
    K = 1 << (frames.shape[1] - 1).bit_length()
    X = np.fft.rfft(frames * w, n=K, axis=1)
    power = (X.real ** 2 + X.imag ** 2).astype(np.float32)
    t = framing.data["t"]
    df = SAMPLE_RATE / K
    return Stage("03-spectrum", "Power spectrum", [(mfcc_reference, "spectrum    P_t[k]")],
                 {"power": power, "df": df, "t": t, "step": framing.data["step"]},
                 {"shape": f"{power.shape[0]} frames x {power.shape[1]} bins (K = {K})", "bin width": f"{df:g} Hz",
                  "range (dB)": _range(10 * np.log10(np.maximum(power, 1e-12))),
                  "strongest bin of t*": f"{int(np.argmax(power[t])) * df:g} Hz"})


def stage_mel(spectrum: Stage, n_mels: int = 40, fmin: float = 20.0, fmax: float = 8000.0) -> Stage:
    """E_t[c] = sum_k H[k, c] sqrt(P_t[k]) and l_t[c] = ln(max(E_t[c], 1e-12)).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> s = stage_mel(stage_spectrum(stage_framing(x, 512, 320)))
    >>> s.data["H"].shape, s.data["logmel"].shape
    ((257, 40), (49, 40))
    """
    from ..frontend.tf_mfcc import LOG_FLOOR, mfcc_reference, tf_mel_filterbank

    power = spectrum.data["power"]
    H = tf_mel_filterbank(power.shape[1], SAMPLE_RATE, n_mels, fmin, fmax)
    logmel = np.log(np.maximum(np.sqrt(power.astype(np.float64)) @ H, LOG_FLOOR))
    centres = (H * np.arange(H.shape[0])[:, None]).argmax(axis=0) * spectrum.data["df"]
    return Stage("04-mel", "Mel filterbank and log-mel energies",
                 # tf_mel_filterbank builds H; the product with it and the log floor are mfcc_reference's steps
                 [(tf_mel_filterbank, "H[k, b(k)] = w(k)"), (mfcc_reference, "filterbank  E_t[c]"),
                  (mfcc_reference, "log floor   l_t[c]")],
                 {"H": H, "df": spectrum.data["df"], "logmel": logmel, "step": spectrum.data["step"]},
                 {"filterbank H": f"{H.shape[0]} bins x {H.shape[1]} triangles, {fmin:g}-{fmax:g} Hz",
                  "peak of the first / last triangle": f"{centres[0]:g} Hz / {centres[-1]:g} Hz",
                  "log-mel shape": f"{logmel.shape[0]} x {logmel.shape[1]}", "log-mel range": _range(logmel)})


def stage_mfcc(x: np.ndarray, mel: Stage, win_ms: float, step_ms: float) -> Stage:
    """The 26 MFCC of ``ser_ref.frontend.tf_mfcc.mfcc``, and their distance from l_t @ D (the DCT of the last stage).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> s = stage_mfcc(x, stage_mel(stage_spectrum(stage_framing(x, 512, 320))), 32, 20)
    >>> s.data["mfcc"].shape, float(s.numbers["max abs(mfcc() - log-mel @ D)"].split()[0]) < 1e-3
    ((49, 26), True)
    """
    from ..frontend.tf_mfcc import dct_matrix, mfcc

    c = mfcc(x, SAMPLE_RATE, win_ms=win_ms, step_ms=step_ms)
    by_hand = mel.data["logmel"] @ dct_matrix(mel.data["logmel"].shape[1], c.shape[1])
    return Stage("05-mfcc", "26 MFCC over time", [(mfcc, "MFCC (frames, n_mfcc)"), (dct_matrix, "DCT         mfcc_t[i]")],
                 {"mfcc": c, "step": mel.data["step"]},
                 {"shape": f"{c.shape[0]} frames x {c.shape[1]} coefficients", "c0 range": _range(c[:, 0]),
                  "c1..c25 range": _range(c[:, 1:]),
                  "max abs(mfcc() - log-mel @ D)": f"{float(np.max(np.abs(c - by_hand))):.2g} (float32 rounding)"})


def stage_window(mfcc_stage: Stage, t: int) -> Stage:
    """Context window t: the 19 frames t-9 .. t+9 laid out as 494 = 19 x 26 inputs (zeros off the ends).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> m = stage_mfcc(x, stage_mel(stage_spectrum(stage_framing(x, 512, 320))), 32, 20)
    >>> s = stage_window(m, 0)
    >>> s.data["window"].shape, s.numbers["zero inputs (outside the utterance)"]    # 9 frames x 26 before t = 0
    ((494,), 234)
    """
    from ..deepspeech import context_windows

    c = mfcc_stage.data["mfcc"]
    windows = context_windows(c)
    t = min(t, c.shape[0] - 1)
    return Stage("06-window", f"One context window (frame {t}) as the 494 inputs",
                 [(context_windows, "window_t = [mfcc_{t-9}"), (context_windows, "index(context_frame j")],
                 {"window": np.asarray(windows[t]), "t": t, "windows": windows},
                 {"windows": f"{windows.shape[0]} x {windows.shape[1]}", "frame t": t,
                  "input j*26+c": "MFCC c of frame t-9+j", "zero inputs (outside the utterance)":
                      int(np.count_nonzero(windows[t] == 0))})


def stage_layer1(windows, layer, mode: str, step: int) -> Stage:
    """h_t = min(relu(window_t W1 + b1), 20): which fraction clips at 20, which is 0.

    Examples
    --------
    >>> from ser_ref.deepspeech import Layer1
    >>> layer = Layer1(np.full((494, 4), 127, np.int8), 1.0, np.array([-1e9, 0, 0, 0], np.float32))
    >>> s = stage_layer1(np.ones((10, 494), np.float32), layer, "float", 320)
    >>> s.numbers["fraction exactly 0"], s.numbers["fraction clipped at 20"]     # unit 0 off, units 1-3 clipped
    ('0.2500', '0.75 (30 values)')
    """
    from ..deepspeech import Layer1

    h = layer(windows, mode=mode)
    clip = layer.clip
    never = int(np.count_nonzero(h.max(axis=0) == 0))
    return Stage("07-layer1", "DeepSpeech layer 1 activations", [(Layer1, "h = min(relu(x @ W1 + b1), 20)")],
                 {"h": h, "clip": clip, "step": step},
                 {"shape": f"{h.shape[0]} frames x {h.shape[1]} units", "mode": mode,
                  "weights": f"{Path(layer.source).name} (sha256 {layer.metadata.get('source_sha256', '')[:12]}...)",
                  f"fraction clipped at {clip:g}": f"{float(np.mean(h == clip)):.3g} ({int(np.sum(h == clip))} values)",
                  "fraction exactly 0": f"{float(np.mean(h == 0)):.4f}",
                  "units 0 on every frame": never, "largest activation": f"{float(h.max()):.4g}", "mean activation": f"{float(h.mean()):.4g}"})


# ---------------------------------------------------------------- eGeMAPS (ser_ref.egemaps)
def stage_llds(x: np.ndarray) -> Stage:
    """The eGeMAPS LLDs over time: F0 in semitones with the voicing decision, loudness, F1-F3, HNR,
    jitter, shimmer (10 ms frames).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> s = stage_llds(x)
    >>> s.numbers["voiced fraction"] > 0.8, round(s.numbers["F0 median before smoothing (Hz)"])
    (True, 200)
    """
    from ..egemaps import spectral_llds
    from ..egemaps.formants import formants
    from ..egemaps.loudness import loudness
    from ..egemaps.pitch import semitones
    from ..egemaps.smoothing import sma3, sma3nz
    from ..egemaps.voice import voice_llds, voice_llds_raw
    from ..egemaps.voice_quality import jitter_shimmer

    spec, voice = spectral_llds(x), voice_llds(x)
    f0_hz = voice_llds_raw(x)["F0Hz"]
    voiced = f0_hz > 0
    v = voice["F0semitoneFrom27.5Hz"] != 0

    def mean_v(name):
        c = voice[name][voice[name] != 0]
        return float(f"{c.mean():.4g}") if c.size else None

    data = {"spec": spec, "voice": voice, "voiced": voiced, "loudness": sma3(spec["Loudness"])}
    numbers = {"frames (10 ms)": len(voiced), "voiced fraction": round(float(voiced.mean()), 3),
               "F0 median (semitones from 27.5 Hz)": round(float(np.median(voice["F0semitoneFrom27.5Hz"][v])), 2) if v.any() else None,
               "F0 median before smoothing (Hz)": round(float(np.median(f0_hz[voiced])), 1) if voiced.any() else None,
               "loudness mean": round(float(data["loudness"].mean()), 3),
               **{f"{k} mean over voiced frames": mean_v(k) for k in
                  ("F1frequency", "F2frequency", "F3frequency", "HNRdBACF", "jitterLocal", "shimmerLocaldB")}}
    return Stage("08-llds", "eGeMAPS low-level descriptors",
                 [(semitones, "st = 12 log2(F0 / 27.5 Hz)"), (loudness, "loudness_t = (1/M) sum_m"),
                  (jitter_shimmer, "jitter_local  ="), (jitter_shimmer, "shimmer (dB)  ="),
                  (jitter_shimmer, "HNR = 10 log10"), (formants, "F_i = |arg z_i|"),
                  (sma3nz, "Moving average over the non-zero values"), (sma3, "y[t] = (x[t-1] + x[t] + x[t+1]) / 3")],
                 data, numbers)


def stage_functionals(spec: dict, voice: dict) -> Stage:
    """The 88 eGeMAPS v02 functionals, from the LLDs of the last stage.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> llds = stage_llds(x)
    >>> s = stage_functionals(llds.data["spec"], llds.data["voice"])
    >>> len(s.table), s.table[0][0]
    (88, 'F0semitoneFrom27.5Hz_sma3nz_amean')
    """
    from ..egemaps import EGEMAPS_NAMES, egemaps_from_llds

    f = egemaps_from_llds(spec, voice)
    return Stage("09-functionals", "The 88 eGeMAPS functionals", [(egemaps_from_llds, "The 88 functionals")],
                 {"values": f, "names": EGEMAPS_NAMES},
                 {"features": len(f), "non-finite": int(np.count_nonzero(~np.isfinite(f)))},
                 table=list(zip(EGEMAPS_NAMES, (float(v) for v in f))))


# ---------------------------------------------------------------- a trained model (ser_ref.evaluation.saved_model)
def frame_probabilities(model, feats):
    """Per-frame P(class | frame) of the networks that have one (Dense: its frames; the two-stage
    models: Dense1's frames); for the LSTM its running decision softmax(h_t Wo + bo) after each
    frame it reads (the last one is its utterance decision); None for the forest (it sees the 88
    functionals only).

    Examples
    --------
    >>> from ser_ref.nn import FrameDense
    >>> rng = np.random.default_rng(0)
    >>> m = FrameDense(hidden=4, config={"epochs": 2, "patience": 0}).fit([rng.normal(size=(9, 5)) for _ in range(8)], np.arange(8) % 4)
    >>> frame_probabilities(m, rng.normal(size=(7, 5)).astype(np.float32)).shape
    (7, 4)
    """
    kind = type(model).__name__
    if kind == "UtteranceLSTM":
        return _running_decision(model.net_, feats)
    if kind == "FrameDense":
        return np.exp(model.net_.frame_logprobs([feats]))
    dense1 = getattr(model, "dense1_", None)  # the two-stage models' stage one
    return None if dense1 is None else dense1.frame_probs([feats])[0]


def _running_decision(net, feats):
    """softmax(h_t Wo + bo) for every step t of the LSTM over the frames as prediction feeds them
    (standardised; a sequence longer than TrainConfig.max_len cropped to its centre)."""
    from ..runtime.backend import to_host
    from ..nn.lstm import lstm_forward
    from ..nn.softmax_ce import softmax

    x, mask = net._padded([feats])
    p = net.params_
    h, _ = lstm_forward(x, p["W"], p["U"], p["b"], activation=net.activation, mask=mask)
    return to_host(softmax(h[0] @ p["Wo"] + p["bo"]))


def stage_model(trained, layer1_feats, functionals) -> Stage:
    """The trained model's per-frame probabilities (where it has them) and the utterance's decision.

    Examples
    --------
    >>> from ser_ref.forest.random_forest import RandomForest
    >>> from ser_ref.evaluation.saved_model import Trained
    >>> X = np.random.default_rng(0).normal(size=(40, 88)); y = np.arange(40) % 4
    >>> meta = {"system": "rf-egemaps", "class_names": ["anger", "happiness", "sadness", "neutral"],
    ...         "corpus": {"name": "demo", "n_utterances": 40}}
    >>> s = stage_model(Trained(RandomForest(n_trees=5).fit(X, y), meta, "egemaps", {}), None, X[0])
    >>> s.numbers["decision"] in meta["class_names"], s.data["frames"] is None
    (True, True)
    """
    from ..evaluation.saved_model import probabilities

    feats = functionals if trained.kind == "egemaps" else layer1_feats
    p = probabilities(trained, feats)
    frames = None if trained.kind == "egemaps" else frame_probabilities(trained.model, feats)
    fn = type(trained.model).predict_proba
    classes = trained.classes
    numbers = {"model": f"{trained.meta['system']} trained on {trained.meta['corpus']['name']} "
                        f"({trained.meta['corpus']['n_utterances']} utterances)",
               "decision": classes[int(np.argmax(p))],
               **{f"P({c})": round(float(q), 4) for c, q in zip(classes, p)}}
    if frames is not None and type(trained.model).__name__ == "UtteranceLSTM":
        numbers["frames the LSTM reads"] = f"{len(frames)} of {len(feats)} (the centre, TrainConfig.max_len)"
    elif frames is not None:
        numbers["frames voting for each class"] = ", ".join(
            f"{c} {int(n)}" for c, n in zip(classes, np.bincount(frames.argmax(1), minlength=len(classes))))
    marker = "mean of the leaves" if trained.kind == "egemaps" else "P(class | utterance)"
    return Stage("10-model", "Emotion probabilities and the decision", [(fn, marker)],
                 {"proba": p, "frames": frames, "classes": classes, "step": int(trained.params.get("step_ms", 20) * SAMPLE_RATE / 1000),
                  "first_frame": 0 if frames is None else (len(feats) - len(frames)) // 2,  # the LSTM's central crop
                  "running": type(trained.model).__name__ == "UtteranceLSTM"},
                 numbers)


# ---------------------------------------------------------------- the whole chain
def explain(path, layer=None, trained=None, *, step_ms: float = 20, mode: str = "float") -> list:
    """Every stage of one audio file, in pipeline order: a list of ``Stage``.

    ``layer`` is a ``Layer1`` (default ``load_layer1()``); with ``trained`` (``saved_model.load_trained``)
    the model's own MFCC step and layer-1 mode are used and its decision is the last stage.

    Examples
    --------
    >>> import os, tempfile, soundfile as sf
    >>> from ser_ref.deepspeech import Layer1
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(p, 0.3 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000), 16000)
    >>> rng = np.random.default_rng(0)
    >>> layer = Layer1(rng.integers(-127, 128, (494, 16), dtype=np.int8), 0.01, np.zeros(16, np.float32))
    >>> [s.key for s in explain(p, layer)][:4]
    ['01-waveform', '02-framing', '03-spectrum', '04-mel']
    >>> explain(p + ".missing", layer)
    Traceback (most recent call last):
    ...
    ser_ref.errors.AudioError: ...tone.wav.missing: file not found
    """
    if trained is not None and trained.kind == "layer1":
        step_ms, mode = trained.params["step_ms"], trained.params["mode"]
    x = load_audio(path)
    if layer is None:
        from ..deepspeech import load_layer1

        layer = load_layer1(verbose=False)
    win_ms = layer.metadata.get("win_len_ms", 32)
    win, step = int(win_ms * SAMPLE_RATE / 1000), int(step_ms * SAMPLE_RATE / 1000)
    if x.size < win:
        raise SerRefError(f"{path}: {x.size} samples is shorter than one {win_ms} ms MFCC window")
    stages = [stage_waveform(x, path)]
    stages.append(stage_framing(x, win, step))
    stages.append(stage_spectrum(stages[-1]))
    stages.append(stage_mel(stages[-1]))
    stages.append(stage_mfcc(x, stages[-1], win_ms, step_ms))
    stages.append(stage_window(stages[-1], stages[1].data["t"]))
    stages.append(stage_layer1(stages[-1].data["windows"], layer, mode, step))
    stages.append(stage_llds(x))
    stages.append(stage_functionals(stages[-1].data["spec"], stages[-1].data["voice"]))
    if trained is not None:
        stages.append(stage_model(trained, stages[6].data["h"], stages[8].data["values"]))
    return stages


def markdown(stages, figures: bool = True, command: str | None = None) -> str:
    """explain.md: per stage its figure, the functions and equations behind it, and its numbers.

    ``command`` is the command line that made it, as recorded at the top (default: ``explain`` on
    the first stage's file with no options).

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    >>> md = markdown([stage_waveform(x, "tone.wav")], figures=False)
    >>> md.splitlines()[0], "| seconds | 1.0 |" in md, md.splitlines()[2][:35]
    ('# tone.wav through the pipeline', True, '`python -m ser_ref.explain tone.wav')
    """
    head = stages[0].numbers["file"]
    command = command or f"python -m ser_ref.explain {head}"
    out = [f"# {Path(head).name} through the pipeline", "",
           f"`{command}`: every stage below names the function that computed it "
           "and the equation in its docstring.", ""]
    for k, s in enumerate(stages, 1):
        out += [f"## {k}. {s.title}", ""]
        if figures:
            out += [f"![{s.title}]({s.key}.png)", ""]
        for name, src, eq in s.equations():
            out.append(f"- `{name}` ({src}): `{eq.replace('``', '')}`")  # rst quotes would end the code span
        out.append("")
        out += [f"| {key} | {value} |" if i else f"| quantity | value |\n|---|---|\n| {key} | {value} |"
                for i, (key, value) in enumerate(s.numbers.items())]
        if s.table:
            out += ["", "| functional | value |", "|---|---:|"] + [f"| {n} | {v:.6g} |" for n, v in s.table]
        out.append("")
    return "\n".join(out)
