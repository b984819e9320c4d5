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
# # 01 · Audio and framing
#
# Every feature in this project starts the same way: a recording becomes a list of numbers at
# 16 000 per second, and that list is cut into short overlapping pieces, the
# [frames](../glossary.md#frame). This notebook shows both steps, the exact formulas, the code that
# computes them, and checks that the code does what the formulas say.
#
# Reading order: this is the first notebook; [02](02-mfcc.ipynb) turns each frame into an
# [MFCC](../glossary.md#mfcc) vector. Terms are explained in the [glossary](../glossary.md).

# %%
import io

import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

from learnkit import check, show, speech
from ser_ref.frontend.audio import SAMPLE_RATE, decode_audio, resample
from ser_ref.frontend.framing import frame_signal

name, x = speech()
print(name)
print(f"{x.size} samples at {SAMPLE_RATE} Hz = {x.size / SAMPLE_RATE:.2f} s, dtype {x.dtype}, "
      f"peak {np.abs(x).max():.3f}")

# %% [markdown]
# ## 1. Samples
#
# A WAV file stores 16-bit integers $s[n] \in \{-32768, \dots, 32767\}$. DeepSpeech's clients feed
# the model floats in $[-1, 1)$, and so does this project:
#
# $$x[n] = \frac{s[n]}{32768}.$$
#
# `load_audio` (in `ser_ref/frontend/audio.py`) reads any file soundfile reads, averages the channels
# to mono and, when the file's [sample rate](../glossary.md#sample-rate) $f_s$ is not 16 kHz,
# [resamples](../glossary.md#resampling) it with a polyphase filter: up by $U$, down by $D$, where
#
# $$\frac{U}{D} = \frac{16000}{f_s}, \qquad U = \frac{16000}{g},\quad D = \frac{f_s}{g},\quad g = \gcd(16000, f_s).$$

# %%
show(resample)

# %% [markdown]
# **Check 1: the scale.** Write known 16-bit integers into an in-memory WAV file and read it back
# the way every command does. Each sample must come back as exactly $s[n] / 32768$.

# %%
s = np.array([-32768, -16384, -1, 0, 1, 12345, 32767] * 100, dtype=np.int16)
buf = io.BytesIO()
sf.write(buf, s, 16000, subtype="PCM_16", format="WAV")
back = decode_audio(buf.getvalue(), "check.wav")
assert np.array_equal(back, s.astype(np.float32) / 32768), "16-bit samples are not read as s / 32768"
print("first values read back:", back[:7])

# %% [markdown]
# **Check 2: resampling keeps the pitch.** A 440 Hz tone recorded at 44.1 kHz in stereo must come
# out at 16 kHz, mono, still at 440 Hz. ($g = \gcd(16000, 44100) = 100$, so $U = 160$, $D = 441$.)

# %%
fs = 44100
t44 = np.arange(fs) / fs                                   # one second
tone = 0.5 * np.sin(2 * np.pi * 440 * t44)
stereo = np.column_stack([tone, tone]).astype(np.float32)
buf = io.BytesIO()
sf.write(buf, stereo, fs, format="WAV", subtype="FLOAT")
y16 = decode_audio(buf.getvalue(), "tone44k.wav")
spectrum = np.abs(np.fft.rfft(y16 * np.hanning(y16.size)))
peak_hz = np.argmax(spectrum) * SAMPLE_RATE / y16.size
print(f"{y16.size} samples after resampling; spectral peak at {peak_hz:.1f} Hz")
assert y16.size == 16000 and abs(peak_hz - 440) <= 1.0

# %% [markdown]
# ## 2. Frames
#
# Speech changes every few tens of milliseconds, so every later stage looks at short pieces.
# Frame $t$ is $L$ samples long and starts $S$ samples after frame $t-1$
# (the [step or hop](../glossary.md#step)):
#
# $$x_t[n] = x[tS + n], \qquad 0 \le n < L, \qquad 0 \le t < T = 1 + \left\lfloor \frac{N - L}{S} \right\rfloor .$$
#
# DeepSpeech's [MFCC](../glossary.md#mfcc) uses $L = 512$ (32 ms) and $S = 320$ (20 ms): neighbouring
# frames overlap by 12 ms. There is no padding: a last piece shorter than $L$ is dropped, and a signal
# shorter than one frame has no frames. openSMILE's [eGeMAPS](../glossary.md#egemaps) front end cuts
# its frames the same way (with other $L$ and $S$), so both use one function:

# %%
show(frame_signal)

# %% [markdown]
# **Check 3: the formula.** Build every frame from the index formula $tS + n$ directly and compare;
# check $T$ on many lengths $N$; and check that the frames are a view of the signal (no copy: the
# 12 ms of overlap are not stored twice).

# %%
L, S = 512, 320
frames = frame_signal(x, L, S)
T = frames.shape[0]
index = S * np.arange(T)[:, None] + np.arange(L)[None, :]      # tS + n
assert np.array_equal(frames, x[index])
assert np.shares_memory(frames, x)
for N in [0, 1, 511, 512, 513, 831, 832, 833, 16000, 48000, 52853]:
    expected = max(0, 1 + (N - L) // S)
    assert frame_signal(np.zeros(N, np.float32), L, S).shape == (expected, L), N
print(f"T = {T} frames of {L} samples; frame t starts at t * {S / 16:.0f} ms")

# %% [markdown]
# ## 3. Figure: the signal, its first frames, and the resampled tone

# %%
fig, ax = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [2.2, 1.6, 1.2]})
time_s = np.arange(x.size) / SAMPLE_RATE
ax[0].plot(time_s, x, lw=0.4, color="C0")
ax[0].set(xlabel="time (s)", ylabel="x[n]  (int16 / 32768)", title=f"the utterance: {x.size} samples")

t0 = int(np.argmax(np.abs(frames).max(axis=1) > 0.25 * np.abs(x).max()))   # the first loud frame
first, zoom = t0 * S, 6 * S + L                                                # six frames from there
ax[1].plot((first + np.arange(zoom)) / 16, x[first:first + zoom], lw=0.6, color="0.5")
lo, hi = x[first:first + zoom].min(), x[first:first + zoom].max()
for k in range(6):
    y0 = hi + (k + 1) * 0.15 * (hi - lo)
    ax[1].plot([(t0 + k) * S / 16, ((t0 + k) * S + L) / 16], [y0, y0], lw=5, color=f"C{k}",
               solid_capstyle="butt")
    ax[1].text((t0 + k) * S / 16, y0, f" t = {t0 + k}", fontsize=8, va="bottom")
ax[1].set(xlabel="time (ms)", title=f"six frames: L = {L} (32 ms), S = {S} (20 ms)")
ax[1].set_yticks([])

f = np.fft.rfftfreq(y16.size, 1 / SAMPLE_RATE)
ax[2].plot(f, 20 * np.log10(spectrum / spectrum.max() + 1e-12), lw=0.8)
ax[2].axvline(440, color="C3", ls=":", lw=1)
ax[2].set(xlim=(0, 1500), ylim=(-150, 10), xlabel="frequency (Hz)", ylabel="|Y(f)| (dB re peak)",
          title="44.1 kHz tone, resampled to 16 kHz")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer (leave it `None` to skip) and a solution cell that
# computes the answer, checks it against the library, and then checks yours.
#
# **Exercise 1.** How many 32 ms frames with a 20 ms step does a 3.0 s signal at 16 kHz give?

# %%
answer_1 = None   # an integer

# %%
solution_1 = 1 + (3 * 16000 - 512) // 320
assert solution_1 == frame_signal(np.zeros(48000, np.float32), 512, 320).shape[0]
check("Exercise 1", answer_1, solution_1)

# %% [markdown]
# **Exercise 2.** The paper's text speaks of a 10 ms step ($S = 160$, `--step-ms 10`). How many
# frames does the same 3.0 s signal give then?

# %%
answer_2 = None   # an integer

# %%
solution_2 = 1 + (3 * 16000 - 512) // 160
assert solution_2 == frame_signal(np.zeros(48000, np.float32), 512, 160).shape[0]
check("Exercise 2", answer_2, solution_2)

# %% [markdown]
# **Exercise 3.** Without padding, the end of a signal can fall outside every frame. For a signal
# of exactly 1 s (16 000 samples), $L = 512$, $S = 320$: how many samples at the end belong to no
# frame?

# %%
answer_3 = None   # an integer

# %%
T1 = 1 + (16000 - 512) // 320
solution_3 = 16000 - ((T1 - 1) * 320 + 512)          # after the end of the last frame
covered = np.zeros(16000, bool)
for row in S * np.arange(T1)[:, None] + np.arange(L)[None, :]:
    covered[row] = True
assert solution_3 == np.count_nonzero(~covered) == 16000 - 1 - np.flatnonzero(covered).max()
check("Exercise 3", answer_3, solution_3)
