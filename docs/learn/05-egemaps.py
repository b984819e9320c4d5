# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · eGeMAPS: pitch, jitter and shimmer, formants, functionals
#
# The paper's baseline does not learn its features: it takes the 88 numbers of
# [eGeMAPS](../glossary.md#egemaps) v02, a parameter set voice scientists agreed on (Eyben et al.
# 2016), computed by [openSMILE](../glossary.md#opensmile). They come in two layers:
#
# * about 25 [low-level descriptors](../glossary.md#lld) (LLDs), one value per 10 ms frame: pitch
#   ([F0](../glossary.md#f0)), [jitter](../glossary.md#jitter), [shimmer](../glossary.md#shimmer),
#   [HNR](../glossary.md#hnr), [formants](../glossary.md#formant), loudness, spectral shape, ...
# * [functionals](../glossary.md#functional) that summarise each LLD over the utterance: mean,
#   coefficient of variation, percentiles, slopes, ...
#
# `ser_ref.egemaps` computes them from scratch; this notebook checks four pieces against signals
# whose answers are known, and the whole set against openSMILE.
#
# Before: [04 · the whole network](04-deepspeech-and-ctc.ipynb). After:
# [06 · the random forest](06-random-forest.ipynb), which classifies these 88 numbers.

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import lfilter

from learnkit import check, show, speech
from ser_ref.audit.oracles import opensmile_egemaps
from ser_ref.corpora import LABELS
from ser_ref.corpora.synthetic import utterance
from ser_ref.egemaps import EGEMAPS_NAMES, egemaps
from ser_ref.egemaps.formants import autocorr, formants, levinson, lpc_frames, lpc_roots, roots_to_formants
from ser_ref.egemaps.frames import harmonic_tone
from ser_ref.egemaps.functionals import percentiles, stddev_norm
from ser_ref.egemaps.pitch import f0_track, semitones
from ser_ref.egemaps.smoothing import sma3nz
from ser_ref.egemaps.voice_quality import jitter_shimmer
from ser_ref.files import locations
from ser_ref.frontend.audio import load_audio

name, x = speech()
print(name, f"({x.size / 16000:.2f} s)")
print(len(EGEMAPS_NAMES), "functionals, e.g.", EGEMAPS_NAMES[:3])

# %% [markdown]
# ## 1. Pitch: F0 in semitones
#
# openSMILE's pitch tracker is *subharmonic summation* ([SHS](../glossary.md#shs)): on a log-frequency axis with $P$ points
# per octave, the spectrum $a$ is summed at every harmonic of each candidate $j$,
#
# $$SS_j = \frac{1}{H} \sum_{h=1}^{H} c^{\,h-1}\, a_{\,j + \lfloor P \log_2 h \rfloor}, \qquad H = 15,\ c = 0.85,$$
#
# the best peaks are candidates, and a [Viterbi search](../glossary.md#viterbi-smoothing) picks one path through them (or "unvoiced").
# eGeMAPS then reports F0 in [semitones](../glossary.md#semitone) above 27.5 Hz (the lowest A of a piano):
#
# $$\mathrm{st} = 12 \log_2 \frac{F_0}{27.5\ \mathrm{Hz}} \quad (0 \text{ when unvoiced}).$$

# %%
show(semitones)

# %% [markdown]
# **Check 1 (a known pitch).** A tone with five harmonics at $F_0 = 200$ Hz must be tracked within
# 1 Hz of 200 Hz in every voiced frame (its grid has about 62 points per octave, refined by a parabola), and
# the functional `F0semitoneFrom27.5Hz_sma3nz_amean` must be within the same 1 Hz of
# $12 \log_2(200 / 27.5) = 34.35$.

# %%
tone = harmonic_tone(200.0, seconds=1.0)
f0_tone, _ = f0_track(tone)
voiced = f0_tone > 0
print(f"voiced frames {voiced.mean():.0%}, "
      f"F0 from {f0_tone[voiced].min():.2f} to {f0_tone[voiced].max():.2f} Hz")
assert voiced.mean() > 0.9 and np.abs(f0_tone[voiced] - 200).max() < 1.0
f0_mean_st = egemaps(tone.astype(np.float32))[EGEMAPS_NAMES.index("F0semitoneFrom27.5Hz_sma3nz_amean")]
assert abs(f0_mean_st - 12 * np.log2(200 / 27.5)) < 12 * np.log2(201 / 200)     # the same 1 Hz
print(f"F0 mean: {f0_mean_st:.3f} semitones (12 log2(200/27.5) = {12 * np.log2(200 / 27.5):.3f})")

# %% [markdown]
# ## 2. Jitter and shimmer: period to period
#
# Inside voiced frames the waveform is cut into periods (each period's length $P_i$ is the lag that
# best correlates it with the next one), and each period's peak-to-peak amplitude $A_i$ is measured:
#
# $$\text{jitter} = \frac{\tfrac{1}{N-1}\sum_i |P_i - P_{i-1}|}{\tfrac{1}{N}\sum_i P_i}, \qquad
# \text{shimmer} = \frac{\tfrac{1}{N-1}\sum_i |A_i - A_{i+1}|}{\tfrac{1}{N-1}\sum_i \tfrac{A_i + A_{i+1}}{2}}, \qquad
# \text{shimmer}_{\mathrm{dB}} = 20 \log_{10}(1 + \text{shimmer}).$$
#
# **Check 2 (known periods and amplitudes).** Build a voice from identical cycles with chosen
# lengths and amplitudes. Equal cycles must give jitter 0 and shimmer 0; cycles whose amplitude
# alternates 1, 0.8, 1, 0.8, ... must give shimmer $= 0.2 / 0.9$, i.e.
# $20 \log_{10}(1 + 0.2/0.9) = 1.743$ dB.

# %%
show(jitter_shimmer)


# %%
def cycles(periods, amplitudes, seconds=1.0, sr=16000):
    """A voice made of one cycle shape repeated: cycle i lasts periods[i % len] samples and has
    amplitude amplitudes[i % len]."""
    out, i, n = [], 0, 0
    while n < sr * seconds:
        P, A = periods[i % len(periods)], amplitudes[i % len(amplitudes)]
        phase = np.arange(P) / P
        shape = (np.sin(2 * np.pi * phase) + 0.5 * np.sin(4 * np.pi * phase + 1)
                 + 0.25 * np.sin(6 * np.pi * phase + 2))
        out.append(A * shape)
        n, i = n + P, i + 1
    return 0.3 * np.concatenate(out)[: int(sr * seconds)]


def measured(signal):
    f0, _ = f0_track(signal)
    jit, shim = jitter_shimmer(signal, f0)
    v = f0 > 0
    return float(np.mean(jit[v])), float(np.mean(shim[v]))


steady = measured(cycles([82], [1.0]))
alternating_amplitude = measured(cycles([82], [1.0, 0.8]))
print("equal cycles:            jitter %.2g, shimmer %.2g dB" % steady)
print("amplitudes 1, 0.8, ...:  jitter %.2g, shimmer %.4f dB" % alternating_amplitude)
assert steady[0] < 1e-9 and steady[1] < 1e-9
assert abs(alternating_amplitude[1] - 20 * np.log10(1 + 0.2 / 0.9)) < 1e-3

# %% [markdown]
# ## 3. Formants from linear prediction
#
# A 20 ms frame (resampled to 11 kHz) is modelled as the output of an all-pole filter whose
# coefficients ([linear prediction](../glossary.md#lpc)) come from the frame's autocorrelation (Levinson-Durbin, order $p = 11$):
#
# $$A(z) = 1 + \sum_{k=1}^{p} a_k z^{-k}, \qquad z_i = \text{roots of } z^p + a_1 z^{p-1} + \dots + a_p,$$
# $$F_i = \frac{|\arg z_i|\, f_s}{2\pi}, \qquad B_i = -\frac{\ln |z_i|\, f_s}{\pi}$$
#
# (poles outside the unit circle are reflected inside first; $F_1..F_3$ are the lowest three between
# 50 and 5450 Hz).

# %%
show(roots_to_formants)

# %% [markdown]
# **Check 3 (a known vocal tract).** Pass a pulse train through three resonators at 700, 1220 and
# 2600 Hz: the formants of the textbook LPC must come out near those frequencies.
#
# One more thing the project found: openSMILE hands its root solver the polynomial with the
# coefficients' sign flipped ($z^p - a_1 z^{p-1} - \dots$), so its "formants" are not the poles of
# $1/A(z)$. eGeMAPS values are defined by what openSMILE outputs, so `ser_ref` reproduces that
# (`formants(..., opensmile_sign=True)`, the default in the feature set) and keeps the textbook
# version for checks like this one.

# %%
sr = 16000
pulses = np.zeros(sr)
pulses[::80] = 1.0                                            # F0 = 200 Hz
vowel = lfilter([1.0], [1.0, -0.9], pulses)                   # a falling source spectrum
true_formants = (700.0, 1220.0, 2600.0)
for F, B in zip(true_formants, (80.0, 100.0, 150.0)):
    r, theta = np.exp(-np.pi * B / sr), 2 * np.pi * F / sr
    vowel = lfilter([1 - r], [1.0, -2 * r * np.cos(theta), r * r], vowel)
vowel = 0.5 * vowel / np.abs(vowel).max()
n_frames = len(vowel) // 160 - 4
F_textbook, _ = formants(vowel, n_frames, opensmile_sign=False)
F_opensmile, _ = formants(vowel, n_frames, opensmile_sign=True)
print("true:                 ", true_formants)
print("textbook LPC (median):", np.round(np.median(F_textbook, axis=0)))
print("openSMILE's sign:     ", np.round(np.median(F_opensmile, axis=0)))
assert np.all(np.abs(np.median(F_textbook, axis=0) / true_formants - 1) < 0.05)

# %% [markdown]
# ## 4. Functionals
#
# LLD contours are first smoothed over 3 frames ([`_sma3`](../glossary.md#sma3); `_sma3nz` averages only the non-zero,
# i.e. voiced, neighbours and keeps unvoiced frames at 0). Then, for a contour $x_1..x_N$:
#
# $$\mathrm{amean} = \mu = \frac1N \sum_i x_i, \qquad \mathrm{stddevNorm} = \frac{\sigma}{\mu},\ \sigma^2 = \frac1N \sum_i (x_i - \mu)^2,$$
# $$\mathrm{percentile}(p) = s_{\lfloor q \rfloor} + (q - \lfloor q \rfloor)(s_{\lfloor q \rfloor + 1} - s_{\lfloor q \rfloor}),\quad q = p (N - 1),\ s \text{ sorted}; \qquad \mathrm{pctlrange0\text{-}2} = \mathrm{percentile}(0.8) - \mathrm{percentile}(0.2).$$

# %%
show(sma3nz)
show(percentiles)

# %% [markdown]
# **Check 4 (against NumPy's definitions).**

# %%
contour = np.random.default_rng(0).normal(30, 4, 200)
assert np.allclose(percentiles(contour), np.percentile(contour, [20, 50, 80]))
assert np.isclose(stddev_norm(contour), np.std(contour) / np.mean(contour))
print("percentiles and stddevNorm agree with NumPy")

# %% [markdown]
# ## 5. All 88 against openSMILE
#
# The oracle is openSMILE itself (the `opensmile` Python package, eGeMAPSv02, functionals). For each
# of the 88 features, correlate our values with openSMILE's over a set of utterances (synthetic voices,
# plus RAVDESS recordings when the corpus is here). The project's audit asks for a median Pearson
# $r \ge 0.95$; `docs/egemaps-agreement.md` has the full-corpus numbers.

# %%
signals = [utterance(s, label) for s in range(2) for label in LABELS]
root = locations.ravdess_root()
if root is not None:
    signals += [load_audio(f) for f in sorted(root.glob("Actor_*/*.wav"))[::84][:8]]
ours = np.stack([egemaps(s) for s in signals]).astype(np.float64)
theirs = opensmile_egemaps(signals)
r = np.array([np.corrcoef(ours[:, j], theirs[:, j])[0, 1] for j in range(88)])
r = np.nan_to_num(r, nan=0.0)      # a feature constant on both sides has no r
print(f"{len(signals)} utterances: median r = {np.median(r):.4f}; "
      f"{np.sum(r >= 0.9)} of 88 features with r >= 0.9; "
      f"lowest {EGEMAPS_NAMES[int(np.argmin(r))]} (r = {r.min():.3f})")
assert np.median(r) >= 0.95

# %% [markdown]
# ## 6. Figure: the F0 contour, one frame's LPC envelope, and the agreement with openSMILE

# %%
f0_x, _ = f0_track(x.astype(np.float64))
frames_x = len(x) // 160 - 4
t_f = np.arange(len(f0_x)) * 0.01
fig, ax = plt.subplots(1, 3, figsize=(16, 4.4), gridspec_kw={"width_ratios": [1.3, 1.1, 1.6]})
ax[0].plot(t_f, np.where(f0_x > 0, f0_x, np.nan), ".", ms=3, color="C0")
ax[0].set(xlabel="time (s)", ylabel="F0 (Hz)", xlim=(0, len(x) / 16000),
          title=f"F0 per 10 ms frame ({np.mean(f0_x > 0):.0%} of the frames voiced)")

t_v = int(np.flatnonzero(f0_x > 0)[len(np.flatnonzero(f0_x > 0)) // 2])       # a voiced frame
frame = lpc_frames(x.astype(np.float64), frames_x, frames=[t_v])
a = levinson(autocorr(frame))
f_axis = np.linspace(0, 5500, 600)
z = np.exp(-2j * np.pi * f_axis / 11000)
envelope = 1 / np.abs(1 + np.sum(a[0][:, None] * z[None, :] ** np.arange(1, 12)[:, None], axis=0))
spec = np.abs(np.fft.rfft(frame[0], 1024))
spec_f = np.fft.rfftfreq(1024, 1 / 11000)
db = lambda v: 20 * np.log10(v / v.max() + 1e-12)  # noqa: E731
ax[1].plot(spec_f, db(spec), lw=0.6, color="0.6", label="frame spectrum (11 kHz, low-passed)")
ax[1].plot(f_axis, db(envelope), lw=1.5, color="C0", label="LPC envelope 1/|A|")
Ft, _ = roots_to_formants(lpc_roots(a))
Fo, _ = roots_to_formants(lpc_roots(-a))
for k in range(3):
    ax[1].axvline(Ft[0, k], color="C0", ls="--", lw=1, label="textbook F1..F3" if k == 0 else None)
    ax[1].axvline(Fo[0, k], color="C3", ls=":", lw=1.2, label="openSMILE's F1..F3" if k == 0 else None)
ax[1].set(xlim=(0, 5500), ylim=(-80, 5), xlabel="frequency (Hz)", ylabel="dB",
          title=f"frame t = {t_v} ({t_v / 100:.2f} s)")
ax[1].legend(fontsize=7, loc="lower left")

order = np.argsort(r)
gap = np.maximum(1 - r[order], 1e-9)
ax[2].semilogy(np.arange(88), gap, ".", color="C0")
ax[2].axhline(0.05, color="k", ls=":", lw=1)
ax[2].text(87, 0.045, "r = 0.95, the audit's bound for the median ", fontsize=8, ha="right", va="top")
for k, j in enumerate(order[:3]):
    ax[2].annotate(EGEMAPS_NAMES[j], (k, gap[k]), xytext=(12, -14 * k - 4), textcoords="offset points",
                   fontsize=7, arrowprops=dict(arrowstyle="-", lw=0.5, color="0.5"))
ax[2].set(xlabel="the 88 features, from the least to the most agreeing",
          ylabel="1 - r  (log scale; 1e-9: equal to rounding)",
          title=f"Pearson r of ours vs openSMILE over {len(signals)} utterances")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** What is the F0 of a voice at 220 Hz in eGeMAPS' semitones?

# %%
answer_1 = None   # a number

# %%
solution_1 = 12 * np.log2(220 / 27.5)                 # 220 = 27.5 * 2**3: three octaves
assert np.isclose(semitones(np.array([220.0]))[0], solution_1)
check("Exercise 1", answer_1, solution_1, tol=1e-6)

# %% [markdown]
# **Exercise 2.** A voice whose cycles last 80, 80, 84, 84, 80, 80, 84, 84, ... samples: what local
# jitter does the formula give? (Then see how close the period marker comes.)

# %%
answer_2 = None   # a number

# %%
periods = np.resize([80, 80, 84, 84], 400)
solution_2 = np.mean(np.abs(np.diff(periods))) / np.mean(periods)     # 2 / 82
jitter_measured, _ = measured(cycles([80, 80, 84, 84], [1.0]))
print(f"formula {solution_2:.5f}, measured {jitter_measured:.5f}")
assert abs(jitter_measured / solution_2 - 1) < 0.02
check("Exercise 2", answer_2, solution_2, tol=1e-4)

# %% [markdown]
# **Exercise 3.** What is `pctlrange0-2` of the contour $1, 2, \dots, 100$?

# %%
answer_3 = None   # a number

# %%
s = np.arange(1.0, 101.0)
solution_3 = (s[79] + 0.2 * (s[80] - s[79])) - (s[19] + 0.8 * (s[20] - s[19]))   # q = 79.2 and 19.8
p20, _, p80 = percentiles(s)
assert np.isclose(p80 - p20, solution_3)
check("Exercise 3", answer_3, solution_3, tol=1e-6)
