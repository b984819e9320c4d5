"""A SYNTHETIC emotional speech corpus, generated from a seed: no download, fully deterministic.

Every utterance comes from a source-filter voice (Fant 1960): a jittered glottal pulse train,
low-passed for spectral tilt, plus aspiration noise, through a cascade of three formant
resonators that change per syllable. The emotions move the prosodic and voice-quality cues that
Williams & Stevens (1972; the paper's reference [8]) and Murray & Arnott (1993) report:

    emotion    f0 level  f0 range  loudness  rate   tilt (source pole)  jitter  breathiness
    anger      x1.30     x1.8      +6 dB     x1.15  flatter (0.55)      1.5 %   low
    happiness  x1.25     x1.6      +3 dB     x1.10  flat (0.65)         1.0 %   low
    sadness    x0.90     x0.5      -6 dB     x0.75  steep (0.90)        1.5 %   high
    neutral    x1        x1        0 dB      x1     medium (0.78)       0.5 %   low

Each speaker has its own f0 (by gender), vocal-tract length (formant scale), loudness, speaking
rate and an "expressiveness" that scales how far its emotions move from its neutral, and every
utterance draws fresh variation around those, so a model must generalise across speakers (LOSO
is not trivial). It is NOT real speech: every report that uses it says "synthetic".

Layout: <root>/manifest.json (parameters and the file list, written last) and
<root>/<speaker>/<speaker>_<label>_<k>.wav (16-bit PCM).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from .items import LABELS, Item, LoadReport
from ..files import atomic
from ..errors import CorpusError

VERSION = 1
#            f0 x, range x, dB, rate x, tilt pole, jitter, breath
EMOTIONS = {
    "anger":     (1.30, 1.8, 6.0, 1.15, 0.55, 0.015, 0.02),
    "happiness": (1.25, 1.6, 3.0, 1.10, 0.65, 0.010, 0.03),
    "sadness":   (0.90, 0.5, -6.0, 0.75, 0.90, 0.015, 0.15),
    "neutral":   (1.00, 1.0, 0.0, 1.00, 0.78, 0.005, 0.04),
}
VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
                   [570, 840, 2410]], dtype=float)  # Peterson & Barney (1952) male averages
BANDWIDTHS = np.array([60.0, 90.0, 120.0])
# Syllables per utterance, drawn from [lo, hi): the default gives ~2.1 s utterances; (13, 18) gives
# RAVDESS-like ones, ~3.7 s on average as RAVDESS's 4-class files (bench/bench_scaling.py). A corpus
# of the default is the one it always was.
SYLLABLES = (7, 11)


def _speaker(seed, s):
    """Speaker s's voice: gender, f0, formant scale, loudness, rate, tilt offset, expressiveness."""
    r = np.random.default_rng([seed, 1000 + s])
    gender = "f" if s % 2 == 0 else "m"
    return {
        "gender": gender,
        "f0": float(r.uniform(180, 240) if gender == "f" else r.uniform(95, 135)),
        "formant": float(r.uniform(1.08, 1.2) if gender == "f" else r.uniform(0.9, 1.02)),
        "db": float(r.normal(0, 2.5)),
        "rate": float(r.uniform(0.85, 1.15)),
        "tilt": float(r.normal(0, 0.04)),
        "express": float(r.uniform(0.45, 1.1)),
    }


def _resonators(formants, sr):
    """One 6th-order all-pole filter: the cascade of three unit-DC-gain resonators
    H_k(z) = (1 - 2 r cos(theta) + r^2) / (1 - 2 r cos(theta) z^-1 + r^2 z^-2),
    r = exp(-pi B / sr), theta = 2 pi F / sr."""
    a = np.array([1.0])
    for F, B in zip(formants, BANDWIDTHS):
        r, th = np.exp(-np.pi * B / sr), 2 * np.pi * min(F, 0.45 * sr) / sr
        a = np.convolve(a, [1.0, -2 * r * np.cos(th), r * r])
    return np.array([a.sum()]), a


def synthesize(label: str, voice: dict, rng: np.random.Generator, sr: int = 16000, *,
               syllables: tuple[int, int] = SYLLABLES) -> np.ndarray:
    """One utterance of ``label`` in ``voice``: float32 samples in [-1, 1]; its number of syllables
    is drawn from [syllables[0], syllables[1]) (more syllables: a longer utterance).

    Examples
    --------
    >>> x = synthesize("anger", _speaker(0, 0), np.random.default_rng(1))
    >>> x.dtype, bool(np.abs(x).max() <= 1.0), x.size > 16000 // 2
    (dtype('float32'), True, True)
    >>> synthesize("anger", _speaker(0, 0), np.random.default_rng(1), syllables=(30, 31)).size > 3 * x.size
    True
    """
    f0x, rangex, db, ratex, pole, jitter, breath = EMOTIONS[label]
    e = voice["express"] * rng.uniform(0.7, 1.3)  # how strongly this utterance shows the emotion
    f0 = voice["f0"] * f0x**e * np.exp(rng.normal(0, 0.05))
    range_st = 4.0 * rangex**e * rng.uniform(0.8, 1.2)         # f0 excursion in semitones
    rate = 4.5 * voice["rate"] * ratex**e * rng.uniform(0.9, 1.1)  # syllables per second
    level_db = voice["db"] + db * e + rng.normal(0, 1.5)
    pole = float(np.clip(0.78 + (pole - 0.78) * e + voice["tilt"] + rng.normal(0, 0.03), 0.3, 0.97))
    jitter = jitter * rng.uniform(0.7, 1.3)
    breath = breath * rng.uniform(0.7, 1.3)

    n_syll = int(rng.integers(*syllables))
    durs = rng.uniform(0.7, 1.3, n_syll) / rate
    edges = np.concatenate([[0.1], 0.1 + np.cumsum(durs)])
    T = edges[-1] + 0.1
    n = int(T * sr)
    t = np.arange(n) / sr

    # f0 contour in semitones: declination over the utterance plus one accent per syllable
    st = 12 * np.log2(f0) + range_st * 0.3 * (0.5 - (t - 0.1) / (T - 0.2))
    voiced = np.zeros(n, bool)
    env = np.zeros(n)
    for k in range(n_syll):
        a, b = edges[k] + 0.3 * durs[k], edges[k + 1]  # consonant first, then the vowel
        i0, i1 = int(a * sr), int(b * sr)
        voiced[i0:i1] = True
        env[i0:i1] = np.hanning(i1 - i0)
        st[i0:i1] += range_st * rng.uniform(-0.3, 0.7) * np.sin(np.linspace(0, np.pi, i1 - i0))
    f0_t = 2 ** (st / 12)

    # glottal pulses with jitter (period) and shimmer (amplitude)
    src = np.zeros(n)
    pos = 0.1
    while pos < T - 0.1:
        i = int(pos * sr)
        if voiced[i]:
            src[i] += 1.0 + rng.normal(0, 2 * jitter)
        pos += (1 + rng.normal(0, jitter)) / f0_t[i]
    glottal = lfilter([1.0], [1.0, -pole], lfilter([1.0], [1.0, -pole], src))
    glottal = np.diff(glottal, prepend=0.0)  # lip radiation: +6 dB/octave
    glottal /= np.sqrt(np.mean(glottal[voiced] ** 2)) + 1e-12
    noise = rng.normal(0, 1, n)
    excitation = env * (glottal + breath * 6 * noise)

    # vocal tract: a vowel per syllable (filter state carried across), fricative noise in consonants
    out = np.zeros(n)
    zi = np.zeros(6)
    for k in range(n_syll):
        i0, i1 = int(edges[k] * sr), int(edges[k + 1] * sr)
        formants = VOWELS[rng.integers(len(VOWELS))] * voice["formant"] * rng.uniform(0.95, 1.05)
        b, a = _resonators(formants, sr)
        out[i0:i1], zi = lfilter(b, a, excitation[i0:i1], zi=zi)
        c1 = int((edges[k] + 0.3 * durs[k]) * sr)
        b, a = _resonators([3500.0, 5000.0, 6500.0], sr)
        burst = lfilter(b, a, noise[i0:c1]) * np.hanning(c1 - i0) * 0.15
        out[i0:c1] += burst
    out /= np.sqrt(np.mean(out[voiced] ** 2)) + 1e-12
    out *= 0.05 * 10 ** (level_db / 20)
    out += rng.normal(0, 1e-4, n)  # a faint noise floor: real recordings are never digitally silent
    peak = np.max(np.abs(out))
    if peak > 0.99:
        out *= 0.99 / peak
    return out.astype(np.float32)


def utterance(speaker: int, label: str, k: int = 0, *, seed: int = 0, sample_rate: int = 16000) -> np.ndarray:
    """Utterance ``k`` of ``label`` by speaker ``speaker`` (0-based) as ``generate`` writes it and
    ``load_audio`` reads it back: float32, quantised to 16-bit PCM. No file is written.

    >>> utterance(0, "anger").dtype
    dtype('float32')
    """
    x = synthesize(label, _speaker(seed, speaker), np.random.default_rng([seed, speaker, LABELS.index(label), k]),
                   sample_rate)
    buf = io.BytesIO()
    sf.write(buf, x, sample_rate, subtype="PCM_16", format="WAV")
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


def _plan(n_speakers, n_per_emotion):
    return [(s, label, k) for s in range(n_speakers) for label in LABELS for k in range(n_per_emotion)]


def _name(s, label, k):
    return f"syn{s + 1:02d}/syn{s + 1:02d}_{label}_{k:02d}.wav"


def generate(root, *, n_speakers: int = 10, n_per_emotion: int = 6, seed: int = 0,
             sample_rate: int = 16000, syllables: tuple[int, int] = SYLLABLES) -> Path:
    """Write the synthetic corpus under ``root`` unless it is already complete; returns root.
    ``syllables``: the range each utterance's syllable count is drawn from (see ``SYLLABLES``); only a
    range other than the default is recorded in manifest.json, so a default corpus is byte for byte
    the one this function always wrote.

    Every file is written atomically and depends only on (seed, speaker, emotion, index), so an
    interrupted run resumes where it stopped; manifest.json is written last.

    Examples
    --------
    >>> import tempfile
    >>> root = generate(tempfile.mkdtemp(), n_speakers=2, n_per_emotion=1)
    >>> len(list(root.rglob("*.wav")))                   # 2 speakers x 4 emotions x 1
    8
    """
    if n_speakers < 2 or n_per_emotion < 1:
        raise CorpusError(f"synthetic: need n_speakers >= 2 and n_per_emotion >= 1, got {n_speakers}, {n_per_emotion}")
    syllables = _syllable_range(syllables)
    root = Path(root).expanduser()
    params = {"version": VERSION, "n_speakers": n_speakers, "n_per_emotion": n_per_emotion, "seed": seed,
              "sample_rate": sample_rate}
    if syllables != SYLLABLES:
        params["syllables"] = list(syllables)
    manifest = root / "manifest.json"
    plan = _plan(n_speakers, n_per_emotion)
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("params") != params:
            raise CorpusError(f"synthetic: {root} already holds a corpus with {old.get('params')}, not {params}; "
                              "use another root")
        if all((root / f["path"]).is_file() for f in old["files"]):
            return root
    voices = [_speaker(seed, s) for s in range(n_speakers)]
    files = []
    for s, label, k in plan:
        path = root / _name(s, label, k)
        if not path.is_file():
            x = synthesize(label, voices[s], np.random.default_rng([seed, s, LABELS.index(label), k]), sample_rate,
                           syllables=syllables)
            with atomic.atomic_path(path, suffix=".wav") as tmp:
                sf.write(str(tmp), x, sample_rate, subtype="PCM_16")
        files.append({"path": _name(s, label, k), "speaker": f"syn{s + 1:02d}", "label": label,
                      "gender": voices[s]["gender"]})
    atomic.write_json(manifest, {"synthetic": True, "description": "SYNTHETIC source-filter speech, not real "
                                 "recordings (ser_ref.corpora.synthetic)", "params": params,
                                 "voices": voices, "files": files})
    return root


def _syllable_range(syllables) -> tuple[int, int]:
    """``syllables`` as (lo, hi) with 1 <= lo < hi, or one line saying what is wrong.

    >>> _syllable_range([14, 20])
    (14, 20)
    >>> _syllable_range((5, 5))
    Traceback (most recent call last):
    ...
    ser_ref.errors.CorpusError: synthetic: syllables must be two integers 1 <= lo < hi, got (5, 5)
    """
    try:
        lo, hi = (int(v) for v in syllables)
        ok = 1 <= lo < hi and [lo, hi] == list(syllables)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise CorpusError(f"synthetic: syllables must be two integers 1 <= lo < hi, got {syllables!r}")
    return lo, hi


MAX_MANIFEST_BYTES = 64 << 20  # the manifest of 10 x 4 x 6 files is 8 KB


def load(root: Path, report: LoadReport):
    """The files manifest.json lists (each must be there); manifest.json itself and anything it does
    not list are ignored, a listed entry the walk left out (a FIFO in its place) stays left out."""
    from ..files.regular import read_regular_text

    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise CorpusError(f"synthetic: {root} has no manifest.json; create the corpus with "
                          f"ser_ref.corpora.synthetic.generate('{root}')")
    meta = json.loads(read_regular_text(manifest, MAX_MANIFEST_BYTES, "corpus manifest"))
    files = {e.rel: e for e in report.files()}
    walked = {e.rel for e in report.entries}
    missing = [f["path"] for f in meta["files"] if f["path"] not in walked]
    if missing:
        raise CorpusError(f"synthetic: {len(missing)} files listed in {manifest} are missing "
                          f"(e.g. {', '.join(missing[:5])}); re-run generate('{root}')")
    listed = {f["path"] for f in meta["files"]}
    for rel in files:
        if rel == "manifest.json":
            report.ignore("the corpus manifest (read for the labels)", rel)
        elif rel not in listed:
            report.ignore("not listed in manifest.json", rel)
    return [Item(files[f["path"]].path, f["speaker"], f["label"], gender=f["gender"])
            for f in meta["files"] if f["path"] in files]
