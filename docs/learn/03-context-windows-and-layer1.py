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
# # 03 · Context windows and DeepSpeech's layer 1 (float and int8)
#
# The paper's transfer features are the outputs of the first layer of a trained speech recogniser,
# [DeepSpeech](../glossary.md#deepspeech). Layer 1 does not see one [MFCC](../glossary.md#mfcc)
# frame but a [context window](../glossary.md#context-window): the frame with 9 frames before and 9
# after. Its 2048 units are a [clipped ReLU](../glossary.md#clipped-relu) of one matrix product.
# The model file stores the weights as 8-bit integers, and the [TFLite](../glossary.md#tflite) interpreter computes the
# product with [int8 quantisation](../glossary.md#int8-quantisation) of the input too; the project
# computes both the paper's float math and the interpreter's arithmetic, bit for bit.
#
# Before: [02 · the MFCC](02-mfcc.ipynb). After: [04 · the whole network and CTC](04-deepspeech-and-ctc.ipynb).

# %%
import matplotlib.pyplot as plt
import numpy as np

from learnkit import check, show, speech
from ser_ref.audit.oracles import model_layers, tflite_interpreter
from ser_ref.deepspeech import context_windows, load_layer1
from ser_ref.deepspeech.layer1 import dense_int8_tflite, dense_relu_clip, quantize_rows
from ser_ref.deepspeech.load import model_tflite
from ser_ref.frontend.tf_mfcc import mfcc

name, x = speech()
m = mfcc(x)                                  # (T, 26): notebook 02
layer = load_layer1(verbose=False)           # the model the pipeline uses, found as it finds it
print(name, "->", m.shape, "MFCC frames; layer 1:", layer.W.shape, "weights,", layer.hidden, "units")

# %% [markdown]
# ## 1. Context windows
#
# $$\text{window}_t = \left[\mathrm{mfcc}_{t-9}, \dots, \mathrm{mfcc}_t, \dots, \mathrm{mfcc}_{t+9}\right] \in \mathbb{R}^{19 \cdot 26 = 494},
# \qquad \text{window}_t[26 j + c] = \mathrm{mfcc}_{t - 9 + j}[c],$$
#
# with $\mathrm{mfcc}_s = 0$ for $s < 0$ or $s \ge T$. Every frame gets a window, so there are as many
# windows as frames. After padding 9 rows of zeros at each end, window $t$ is the contiguous slice
# `padded.ravel()[26 t : 26 t + 494]`, so all windows are one strided view (no copy of 19 times the data):

# %%
show(context_windows)

# %% [markdown]
# **Check 1.** Build every window from the definition, one frame at a time, and compare.

# %%
windows = context_windows(m)
T = m.shape[0]
by_definition = np.zeros((T, 494), np.float32)
for t in range(T):
    for j in range(19):
        s = t - 9 + j
        if 0 <= s < T:
            by_definition[t, 26 * j: 26 * j + 26] = m[s]
assert np.array_equal(windows, by_definition)
print("windows:", windows.shape, "equal to the definition; stored as a view with strides", windows.strides)

# %% [markdown]
# ## 2. Layer 1 in float: the paper's math
#
# $$h = \min\!\big(\max(x W_1 + b_1,\ 0),\ 20\big), \qquad W_1 = s_W \cdot W_1^{q},$$
#
# with $x$ one 494-value window, $W_1^q$ the int8 weights stored in the file and $s_W$ their one
# scale (the weights are "dequantised"). The reference is the equation as it reads:

# %%
show(dense_relu_clip)

# %% [markdown]
# **Check 2 (the math).** `Layer1` runs a faster path (the bias folded into the matrix product,
# blocks of rows over the cores); it must agree with the equation computed in float64 to float32
# rounding (relative to the largest output).

# %%
h_float = layer(windows, mode="float")
exact = np.minimum(np.maximum(windows.astype(np.float64) @ layer.W.astype(np.float64) + layer.b, 0), 20)
gap_2 = float(np.abs(h_float - exact).max() / np.abs(exact).max())
print(f"check 2: max |float mode - float64| / max |h| = {gap_2:.1e}")
assert gap_2 <= 1e-4
print(f"{np.mean(h_float == 0):.0%} of the outputs are 0 (the ReLU), "
      f"{np.mean(h_float == 20):.2%} are clipped at 20")

# %% [markdown]
# ## 3. Layer 1 as the TFLite interpreter computes it: int8
#
# The interpreter's "hybrid" kernel also turns each input row into int8, on the fly, with the row's
# own scale, multiplies integers, and scales back. Per window $x$, in float32 as the C++ does:
#
# $$m = \max_j |x_j|, \qquad q_j = \operatorname{clip}\!\Big(\operatorname{round}\big(x_j \tfrac{127}{m}\big), -127, 127\Big), \qquad s = \tfrac{m}{127}\, s_W,$$
# $$y = b_1 + \Big(\sum_j q_j W^q_{1, j}\Big)\, s, \qquad h = \min(\max(y, 0), 20),$$
#
# (round half away from zero). The integer sums are exact in a float32 matrix product because
# $|\sum_j q_j W^q_j| \le 494 \cdot 127^2 < 2^{24}$ (exercise 3).

# %%
show(quantize_rows)
show(dense_int8_tflite)

# %% [markdown]
# **Check 3 (the oracle: the model file).** Run the windows through the interpreter (reference
# kernels, intermediate tensors kept) and read layer 1's output, the tensor `Minimum`. The int8 mode
# must give the same float32 numbers, bit for bit. The interpreter takes 16 windows per call.

# %%
interpreter = tflite_interpreter(model_tflite(log=lambda message: None))
n16 = T // 16 * 16
theirs = model_layers(interpreter, np.ascontiguousarray(windows[:n16]))["Minimum"]
h_int8 = layer(windows, mode="tflite-int8")
assert np.array_equal(h_int8[:n16], theirs), "int8 mode differs from the interpreter"
assert np.array_equal(h_int8, dense_int8_tflite(windows, layer.W_q, layer.w_scale, layer.b))
print(f"check 3: int8 mode == interpreter's Minimum on {n16} windows x {layer.hidden} units (bit-exact)")
diff = np.abs(h_float - h_int8)
print(f"float vs int8: max |difference| {diff.max():.3f}, mean {diff.mean():.4f} (the input quantisation)")

# %% [markdown]
# ## 4. Figure: one window, the layer's answer, and what int8 changes

# %%
t_loud = int(np.argmax(m[:, 0]))
order = np.argsort(-h_float.mean(axis=0))[:256]          # the 256 most active units
fig, ax = plt.subplots(1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [0.8, 1.6, 1]})
window_c = windows[t_loud].reshape(19, 26)[:, 1:].T          # c1..c25 (c0 is on another scale)
lim = np.abs(window_c).max()
im = ax[0].imshow(window_c, origin="lower", aspect="auto", interpolation="nearest", cmap="RdBu_r",
                  vmin=-lim, vmax=lim, extent=(-9.5, 9.5, 0.5, 25.5))
ax[0].set(xlabel="context frame j - 9", ylabel="MFCC coefficient c (c0 left out)",
          title=f"window of frame t = {t_loud} (the loudest)")
fig.colorbar(im, ax=ax[0], pad=0.02)
top = float(np.percentile(h_float[:, order], 99.5))
im = ax[1].imshow(h_float[:, order].T, origin="lower", aspect="auto", interpolation="nearest", cmap="viridis",
                  extent=(0, T * 0.02, -0.5, 255.5), vmin=0, vmax=top)
ax[1].set(xlabel="time (s)", ylabel="unit (the 256 most active)", title="layer 1, float: $h_t$")
fig.colorbar(im, ax=ax[1], pad=0.02, extend="max", label=f"h (colour scale ends at {top:.1f})")
active = (h_float > 0) | (h_int8 > 0)
ax[2].hist((h_int8 - h_float)[active], bins=200, color="C1")
ax[2].set_yscale("log")
ax[2].set(xlabel="int8 - float (units active in either)", ylabel="count",
          title="what the input quantisation changes")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** How many multiply-adds does layer 1 do per frame?

# %%
answer_1 = None   # an integer

# %%
solution_1 = 19 * 26 * 2048
assert solution_1 == layer.W.size
check("Exercise 1", answer_1, solution_1)

# %% [markdown]
# **Exercise 2.** Rounding $x_j \cdot 127 / m$ to an integer errs by at most half a step. How large
# can $|x_j - q_j\, m / 127|$ be, as a fraction of the row's $m$? Give the fraction as a number.

# %%
answer_2 = None   # a number

# %%
solution_2 = 1 / 254
q, row_max = quantize_rows(np.ascontiguousarray(windows))
worst = np.max(np.abs(windows - q * (row_max / 127)[:, None]) / row_max[:, None])
print(f"on this utterance's windows the largest error is {worst:.6f} of m (bound {solution_2:.6f})")
assert worst <= solution_2 * (1 + 1e-5) and worst > 0.9 * solution_2
check("Exercise 2", answer_2, solution_2, tol=1e-6)

# %% [markdown]
# **Exercise 3.** float32 represents every integer up to $2^{24}$ exactly. With int8 values in
# $[-127, 127]$ on both sides, up to how many inputs per window would the float32 product of the
# int8 values still be exact in the worst case?

# %%
answer_3 = None   # an integer

# %%
solution_3 = 2**24 // 127**2
assert solution_3 * 127**2 <= 2**24 < (solution_3 + 1) * 127**2 and solution_3 >= 494
check("Exercise 3", answer_3, solution_3)
