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
# # 02 · The MFCC: TensorFlow's, and the textbook's
#
# DeepSpeech does not hear samples: its first layer reads 26 [MFCC](../glossary.md#mfcc) per 20 ms
# [frame](../glossary.md#frame), computed *inside the model file* by TensorFlow's `AudioSpectrogram` and
# `Mfcc` operations. To reuse the model's layer 1 we must compute exactly those numbers.
# This notebook writes them down, shows the project's reference code, checks it against the model
# file's own sub-graph, and then takes the "textbook" MFCC of librosa apart, one switch at a time,
# until it becomes TensorFlow's: each switch is one reason the two differ.
#
# Before: [01 · audio and framing](01-audio-and-framing.ipynb). After:
# [03 · context windows and layer 1](03-context-windows-and-layer1.ipynb).

# %%
from learnkit import check, show, speech  # first: it also quietens a warning librosa's import would print

import librosa
import matplotlib.pyplot as plt
import numpy as np
import scipy.fft
from ser_ref.audit.oracles import model_mfcc, tflite_interpreter
from ser_ref.deepspeech.load import model_tflite
from ser_ref.frontend.tf_mfcc import dct_matrix, hann_window, mfcc, mfcc_reference, tf_mel_filterbank

name, x = speech()
print(name, f"({x.size / 16000:.2f} s)")

# %% [markdown]
# ## 1. The equations
#
# With window $L = 512$ (32 ms), step $S = 320$ (20 ms), FFT length $K = 512$, $C = 40$ mel channels
# and 26 coefficients:
#
# | step | equation |
# |---|---|
# | frames | $x_t[n] = x[tS + n]$ ([notebook 01](01-audio-and-framing.ipynb)) |
# | [window](../glossary.md#window) | $w[n] = \tfrac12 - \tfrac12 \cos(2\pi n / L)$ (periodic Hann) |
# | power spectrum | $P_t[k] = \left\lvert \sum_n w[n]\, x_t[n]\, e^{-2\pi i k n / K} \right\rvert^2$ |
# | [mel](../glossary.md#mel-scale) scale | $\mathrm{mel}(f) = 1127 \ln(1 + f / 700)$ |
# | [filterbank](../glossary.md#mel-filterbank) | $E_t[c] = \sum_k H[k, c]\, \sqrt{P_t[k]}$ (on the **magnitude**) |
# | log | $l_t[c] = \ln \max(E_t[c], 10^{-12})$ |
# | [DCT](../glossary.md#dct) | $\mathrm{mfcc}_t[i] = \sqrt{2 / C}\, \sum_{c} l_t[c] \cos\!\left(\frac{\pi}{C}\, i \left(c + \tfrac12\right)\right)$, $i < 26$ |
#
# $H$ has triangles whose $C + 2$ corners are equally spaced in mel between 20 Hz and 8 kHz, and a
# bin's weight is linear **in mel**: bin $k$ at $\mathrm{mel}_k$ between two centres $m_b < \mathrm{mel}_k \le m_{b+1}$ gives
# $w_k = (m_{b+1} - \mathrm{mel}_k)/(m_{b+1} - m_b)$ of its magnitude to channel $b$ and $1 - w_k$ to
# channel $b + 1$.
#
# The reference code is these lines, one by one:

# %%
show(mfcc_reference)

# %%
show(tf_mel_filterbank)

# %% [markdown]
# ## 2. Checks
#
# **Check A (reference vs fast path).** `mfcc` is the fast path the pipeline runs (Numba, the Hann
# window applied in frequency as a 3-tap filter); `mfcc_reference` is the equations above. They
# must agree to float32 rounding.
#
# **Check B (the oracle: the model file itself).** The model's MFCC sub-graph runs under the TFLite
# interpreter: one 512-sample window in, 26 coefficients (the tensor `mfccs`) out. It is found
# where the pipeline finds it (`$SER_REF_MODEL`, `../shared`, or the verified registry download).
# Every 20 ms frame is one interpreter call, so we check 24 frames spread over the utterance.

# %%
ref = mfcc_reference(x)
fast = mfcc(x)
print("check A: max |mfcc - mfcc_reference| =", float(np.abs(fast - ref).max()))
assert np.abs(fast - ref).max() <= 1e-4

interpreter = tflite_interpreter(model_tflite(log=lambda message: None))
frames_checked = np.linspace(0, len(ref) - 1, 24).astype(int)
theirs = model_mfcc(interpreter, x, frames_checked * 320)
gap_b = float(np.abs(ref[frames_checked] - theirs).max())
print(f"check B: max |mfcc_reference - model's mfccs| over {len(frames_checked)} frames =", gap_b)
assert gap_b <= 1e-4

# %% [markdown]
# ## 3. From librosa's MFCC to TensorFlow's, one switch at a time
#
# librosa is the usual "textbook" MFCC. With the same window, step, band edges and number of
# channels it still gives other numbers. Starting from `librosa.feature.mfcc` (only `center=False`,
# so that frame $t$ starts at $tS$ as in TensorFlow; librosa centres frames by default), switch one
# convention at a time and measure the largest difference to TensorFlow's MFCC:
#
# 1. the filterbank sums the **magnitude** $\sqrt{P}$, not the power $P$;
# 2. the mel scale is HTK's $1127 \ln(1 + f/700)$ and the triangles are not area-normalised
#    (librosa's default is Slaney's mel scale, with each triangle scaled to unit area);
# 3. the log is $\ln \max(E, 10^{-12})$, not librosa's decibels $10 \log_{10} E$ with everything more than
#    80 dB below the loudest value raised to that level (`top_db=80`);
# 4. the DCT scales $c_0$ like the other coefficients: $\sqrt{2/C}$, where the orthonormal DCT uses
#    $\sqrt{1/C}$ for $c_0$;
# 5. the triangles are linear in mel (librosa's are linear in Hz), and the bins below
#    $k_0 = \lfloor 1.5 + 20 / 31.25 \rfloor = 2$ are left out.
#
# After the fifth switch nothing is left but rounding: TensorFlow stores the power spectrum in
# float32.

# %%
common = dict(sr=16000, n_fft=512, hop_length=320, win_length=512, window="hann", center=False,
              n_mels=40, fmin=20.0, fmax=8000.0)


def dct_tf(l):
    """TensorFlow's DCT: the orthonormal DCT-II with c0 scaled by sqrt(2) like the others."""
    c = scipy.fft.dct(l, type=2, norm="ortho", axis=0)[:26]
    c[0] *= np.sqrt(2.0)
    return c


magnitude = np.abs(librosa.stft(x, n_fft=512, hop_length=320, window="hann", center=False))
H_tf = tf_mel_filterbank(257, 16000)
steps = {
    "librosa.feature.mfcc\n(center=False)": librosa.feature.mfcc(y=x, n_mfcc=26, **common),
    "1: magnitude,\nnot power": librosa.feature.mfcc(y=x, n_mfcc=26, power=1.0, **common),
    "2: + HTK mel,\nno area norm": librosa.feature.mfcc(y=x, n_mfcc=26, power=1.0, htk=True,
                                                         mel_norm=None, **common),
}
E_htk = librosa.feature.melspectrogram(y=x, power=1.0, htk=True, norm=None, **common)
steps["3: + ln, floor 1e-12,\nno 80 dB clip"] = scipy.fft.dct(np.log(np.maximum(E_htk, 1e-12)), type=2,
                                                              norm="ortho", axis=0)[:26]
steps["4: + TF's c0\nscaling"] = dct_tf(np.log(np.maximum(E_htk, 1e-12)))
steps["5: + triangles\nlinear in mel"] = dct_tf(np.log(np.maximum(H_tf.T @ magnitude, 1e-12)))

gaps = {}
for label, c in steps.items():
    assert c.shape == ref.T.shape, (label, c.shape)
    gaps[label] = float(np.abs(c.T - ref).max())
    print(f"{label.replace(chr(10), ' '):45s} max |difference| = {gaps[label]:.3g}")
gap_values = list(gaps.values())
assert all(a > b for a, b in zip(gap_values, gap_values[1:])), "every switch should close part of the gap"
assert gap_values[-1] <= 1e-4, "with all five switches, librosa's pieces give TensorFlow's MFCC"

# %% [markdown]
# ## 4. Figures
#
# First the two filterbanks. TensorFlow's triangles (top) peak at 1 (the narrow low ones fall short
# of it only because no FFT bin lands on their peak: the bins are 31.25 Hz apart) and each bin's
# weights sum to 1; librosa's default triangles (bottom) are scaled to unit area, so the wide
# high-frequency ones are low. Then the two MFCCs, and how far each switch of section 3 brings
# librosa's to TensorFlow's (note the log scale). In the silences librosa's $c_0$ lies flat: that is
# `top_db=80` raising every channel to 80 dB below the loudest value of the utterance.

# %%
freqs = np.arange(257) * 16000 / 512
H_librosa = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=20.0, fmax=8000.0).T
fig, ax = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
ax[0].plot(freqs, H_tf, lw=0.8)
ax[0].set(ylabel="weight", title="TensorFlow's MfccMelFilterbank (tf_mel_filterbank)")
ax[1].plot(freqs, H_librosa, lw=0.8)
ax[1].set(xlabel="frequency (Hz)", ylabel="weight",
          title="librosa.filters.mel default (Slaney mel scale, unit-area triangles)")
fig.tight_layout()
plt.show()

# %%
librosa_mfcc = steps[next(iter(steps))]
seconds = ref.shape[0] * 0.02
fig = plt.figure(figsize=(14, 8))
grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.15])
a = fig.add_subplot(grid[0, 0])
t_axis = np.arange(ref.shape[0]) * 0.02
a.plot(t_axis, ref[:, 0], label="TensorFlow (the model's own)")
a.plot(t_axis, librosa_mfcc[0], label="librosa.feature.mfcc (center=False)")
a.set(xlabel="time (s)", ylabel="$c_0$", title="$c_0$, the log energy: another scale altogether")
low, high = min(ref[:, 0].min(), librosa_mfcc[0].min()), max(ref[:, 0].max(), librosa_mfcc[0].max())
a.set_ylim(low - 0.05 * (high - low), high + 0.3 * (high - low))        # room for the legend
a.legend(fontsize=9, loc="upper right")
a = fig.add_subplot(grid[0, 1])
a.barh(range(len(gaps)), gap_values, color=["C3"] * 5 + ["C2"])
a.set_yticks(range(len(gaps)), list(gaps), fontsize=8)
a.invert_yaxis()
a.set_xscale("log")
a.axvline(1e-4, color="k", ls=":", lw=1)
a.text(1e-4, len(gaps) - 0.6, " check B's bound", fontsize=8)
a.set(xlabel="max |difference| to TensorFlow's MFCC", title="closing the gap, one switch at a time")
for k, (title, c) in enumerate((("TensorFlow: $c_1 \\dots c_{25}$", ref.T[1:]),
                                ("librosa: $c_1 \\dots c_{25}$", librosa_mfcc[1:]))):
    a = fig.add_subplot(grid[1, k])
    lim = np.abs(c).max()
    im = a.imshow(c, aspect="auto", origin="lower", interpolation="nearest", cmap="RdBu_r", vmin=-lim, vmax=lim,
                  extent=(0, seconds, 0.5, 25.5))
    a.set(xlabel="time (s)", ylabel="coefficient i", title=title)
    fig.colorbar(im, ax=a, pad=0.02)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Why the conventions matter here
#
# Layer 1 of DeepSpeech was trained on TensorFlow's numbers. Fed librosa's MFCC, its 2048 units
# would see inputs on another scale ($c_0$ alone differs by hundreds), so the project computes the
# model's own MFCC and checks it against the model file (check B) rather than against a textbook.
# The eGeMAPS front end ([notebook 05](05-egemaps.ipynb)) has a *third* convention, openSMILE's
# (power spectrum, HTK sample scale, a cepstral lifter): `ser_ref.egemaps.opensmile_mfcc`.
#
# ## Exercises
#
# **Exercise 1.** Take the log *before* the filterbank: $l_t = H^\top \ln \max(\sqrt{P_t}, 10^{-12})$
# instead of $\ln(H^\top \sqrt{P_t})$, then the same DCT. Check B would fail: by how much? Give the
# largest absolute difference to the model's `mfccs` on the 24 checked frames (1 % is close enough).

# %%
answer_1 = None   # a number

# %%
frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), 512)[::320]
magnitude_tf = np.abs(np.fft.rfft(frames * hann_window(512), axis=1))
log_first = (np.log(np.maximum(magnitude_tf, 1e-12)) @ H_tf) @ dct_matrix(40, 26)
solution_1 = float(np.abs(log_first[frames_checked] - theirs).max())
print(f"log before the filterbank: max |difference| to the model = {solution_1:.1f} (bound 1e-4)")
assert solution_1 > 1e-4                                   # check B fails ...
right_order = (np.log(np.maximum(magnitude_tf @ H_tf, 1e-12)) @ dct_matrix(40, 26))[frames_checked]
assert np.abs(right_order - theirs).max() <= 1e-4         # ... and only because of the order
check("Exercise 1", answer_1, solution_1, tol=0.01 * solution_1)

# %% [markdown]
# **Exercise 2.** Play the signal twice as loud ($2x$). Which coefficients change, and by how much?
# Work it out from the equations (every $E_t[c]$ doubles; what does the DCT do with a constant added
# to every $l_t[c]$?), then give the change of $c_0$ as a number.

# %%
answer_2 = None   # a number

# %%
solution_2 = np.sqrt(2 / 40) * 40 * np.log(2)          # = sqrt(2C) ln 2 = 6.20...
louder = mfcc_reference(2 * x)
print(f"c0 moves by {np.median(louder[:, 0] - ref[:, 0]):.4f}; the others by at most "
      f"{np.abs(louder[:, 1:] - ref[:, 1:]).max():.1e}")
assert np.allclose(louder[:, 0] - ref[:, 0], solution_2, atol=1e-3)
assert np.abs(louder[:, 1:] - ref[:, 1:]).max() < 1e-3
check("Exercise 2", answer_2, solution_2, tol=0.01)

# %% [markdown]
# **Exercise 3.** The DCT matrix $D$ (`dct_matrix`) has orthonormal columns except the first. By what
# factor must column 0 be multiplied to make $D$ orthonormal (and equal to `scipy.fft.dct(..., norm="ortho")`)?

# %%
answer_3 = None   # a number

# %%
D = dct_matrix(40, 26)
solution_3 = 1 / np.linalg.norm(D[:, 0])                # = 1 / sqrt(2)
D_ortho = D.copy()
D_ortho[:, 0] *= solution_3
assert np.allclose(D_ortho.T @ D_ortho, np.eye(26))
assert np.allclose(D_ortho.T, scipy.fft.dct(np.eye(40), type=2, norm="ortho", axis=0)[:26])
check("Exercise 3", answer_3, solution_3, tol=1e-3)
