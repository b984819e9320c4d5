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
# # 04 · The whole DeepSpeech network and greedy CTC
#
# The paper keeps only layer 1 of [DeepSpeech](../glossary.md#deepspeech). Here is the rest of the
# network: two more clipped-ReLU layers, an [LSTM](../glossary.md#lstm) of 2048 cells, a fifth
# dense layer and a [softmax](../glossary.md#softmax) over the characters of the model's
# [alphabet](../glossary.md#alphabet) plus a [blank](../glossary.md#blank). Reading the most likely
# character per frame and collapsing it the [CTC](../glossary.md#ctc) way gives a transcript.
# The project's [layer study](../glossary.md#layer-study) ([notebook 09](09-layers-and-cross-corpus.ipynb)) asks which of these
# layers carries the most emotion.
#
# Before: [03 · context windows and layer 1](03-context-windows-and-layer1.ipynb). After:
# [05 · eGeMAPS](05-egemaps.ipynb).

# %%
from itertools import groupby

import matplotlib.pyplot as plt
import numpy as np

from learnkit import check, show, speech
from ser_ref.audit.oracles import tflite_interpreter
from ser_ref.deepspeech import DeepSpeech, load_deepspeech
from ser_ref.deepspeech.ctc import greedy_decode
from ser_ref.deepspeech.load import model_tflite
from ser_ref.deepspeech.tflite_lstm import lstm_cell

name, x = speech()
model = load_deepspeech()                     # found as the pipeline finds it
windows = np.ascontiguousarray(model.windows(x), dtype=np.float32)   # MFCC -> 19-frame windows
print(name, "->", windows.shape, "windows;", len(model.alphabet), "characters + blank")

# %% [markdown]
# ## 1. The equations
#
# For each context window $x_t$ (494 values, [notebook 03](03-context-windows-and-layer1.ipynb)):
#
# $$h^{(1)}_t = \min(\mathrm{relu}(x_t W_1 + b_1), 20), \quad h^{(2)}_t = \min(\mathrm{relu}(h^{(1)}_t W_2 + b_2), 20), \quad h^{(3)}_t = \min(\mathrm{relu}(h^{(2)}_t W_3 + b_3), 20)$$
#
# Layer 4 is an LSTM over time. With $z_t = [h^{(3)}_t,\ h^{(4)}_{t-1}]\, W_4 + b_4$ cut into four gates
# (the graph's order: input $i$, candidate $g$, forget $f$, output $o$; $\sigma$ the logistic function):
#
# $$c_t = \sigma(z_f) \odot c_{t-1} + \sigma(z_i) \odot \tanh(z_g), \qquad h^{(4)}_t = \sigma(z_o) \odot \tanh(c_t)$$
#
# $$h^{(5)}_t = \min(\mathrm{relu}(h^{(4)}_t W_5 + b_5), 20), \qquad p_t = \mathrm{softmax}(h^{(5)}_t W_6 + b_6)$$
#
# **[Greedy](../glossary.md#greedy-decoding) CTC.** $\pi_t = \arg\max_k p_t[k]$; merge runs of equal labels, then drop the blanks:
#
# $$\text{a a \_ a b b \_} \;\to\; \text{a \_ a b \_} \;\to\; \text{aab}.$$
#
# The blank is what lets a doubled letter survive: "l l" collapses to "l", "l \_ l" stays "ll".
#
# The whole forward pass of one group of utterances, the LSTM step, and the decoder:

# %%
show(DeepSpeech._group)
show(lstm_cell)
show(greedy_decode)

# %% [markdown]
# ## 2. Checks
#
# **Check 1 (the oracle: the model file, run as DeepSpeech's runtime runs it).** The native client
# [streams](../glossary.md#streaming): it feeds the interpreter 16 windows per call and carries the
# LSTM state $(c, h)$ from each call's `new_state_*` outputs to the next call's `previous_state_*` inputs. We write that loop and compare
# every layer we can read (`Minimum`, `Minimum_1`, `Minimum_2` = layers 1-3, `Minimum_3` = layer 5)
# and the softmax (`logits`) with `forward(mode="tflite-int8")`.

# %%
interpreter = tflite_interpreter(model_tflite(log=lambda message: None))
index = interpreter.ser_ref_index
tensors = {"layer1": "Minimum", "layer2": "Minimum_1", "layer3": "Minimum_2", "layer5": "Minimum_3",
           "probs": "logits"}
c = np.zeros((1, 2048), np.float32)
h = np.zeros((1, 2048), np.float32)
theirs = {k: [] for k in tensors}
for start in range(0, len(windows), 16):
    k = min(16, len(windows) - start)
    call = np.zeros((16, 494), np.float32)       # the runtime leaves old data in unused rows
    call[:k] = windows[start:start + k]
    interpreter.set_tensor(index["input_node"], call.reshape(1, 16, 19, 26))
    interpreter.set_tensor(index["previous_state_c"], c)
    interpreter.set_tensor(index["previous_state_h"], h)
    interpreter.invoke()
    for key, tensor in tensors.items():
        theirs[key].append(interpreter.get_tensor(index[tensor])[:k].copy())
    c = interpreter.get_tensor(index["new_state_c"]).copy()
    h = interpreter.get_tensor(index["new_state_h"]).copy()
theirs = {key: np.concatenate(v) for key, v in theirs.items()}

ours = model.forward(windows, mode="tflite-int8")
for key in ("layer1", "layer2", "layer3", "layer5"):
    assert np.array_equal(ours[key], theirs[key]), key
gap = float(np.abs(ours["probs"] - theirs["probs"]).max())
assert gap <= 1e-6
text = greedy_decode(ours["probs"], model.alphabet)
assert text == greedy_decode(theirs["probs"], model.alphabet)
print(f"check 1: layers 1, 2, 3, 5 bit-exact; probabilities within {gap:.1e}; same transcript")

# %% [markdown]
# **Check 2 (the math of streaming).** The LSTM's carried state *is* its recurrence, so running the
# utterance in two pieces, the second starting from the first's state, must give exactly the
# one-pass result. And the decoder must agree with a one-line reading of its definition
# (`itertools.groupby` merges the runs).

# %%
cut = 48
first = model.forward(windows[:cut], mode="tflite-int8")
rest = model.forward(windows[cut:], mode="tflite-int8", state=first["state"])
assert np.array_equal(np.concatenate([first["layer4"], rest["layer4"]]), ours["layer4"])
assert np.array_equal(np.concatenate([first["probs"], rest["probs"]]), ours["probs"])

blank = len(model.alphabet)
best = ours["probs"].argmax(axis=1)
by_definition = "".join(model.alphabet[k] for k, _ in groupby(best) if k != blank)
assert by_definition == text
print(f"check 2: streamed == one pass; {np.mean(best == blank):.0%} of the frames are blank")
print("greedy transcript:", repr(text))

# %% [markdown]
# The shipped model (`armspeech-0.1.4`, Coqui STT) was trained on **Armenian**; fed English, it
# writes Armenian letters for what it hears, so the transcript is not English. That does not matter
# for the paper's question, which is about the features, not the text. Mozilla's English
# `deepspeech-0.9.3-models.tflite` has the same layout and can be passed with `--model` (not
# tried here: the file is not in `../shared`).
#
# Float mode (the paper's math with dequantised weights) and int8 mode differ a little in every
# layer (each layer quantises its own input again), yet they read the same characters here:

# %%
floaty = model.forward(windows, mode="float")
for key in ("layer1", "layer2", "layer3", "layer4", "layer5"):
    d = np.abs(floaty[key] - ours[key])
    print(f"{key}: max |float - int8| = {d.max():.3f}   (mean |h| {np.abs(ours[key]).mean():.3f})")
print("float transcript equals int8 transcript:", greedy_decode(floaty["probs"], model.alphabet) == text)

# %% [markdown]
# ## 3. Figure: every layer over time, and the character probabilities

# %%
seconds = len(windows) * 0.02
fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
for a, key in zip(axes.flat, ("layer1", "layer2", "layer3", "layer4", "layer5")):
    hk = ours[key]
    top = np.argsort(-np.abs(hk).mean(axis=0))[:128]
    lim = float(np.percentile(np.abs(hk[:, top]), 99.5))
    cmap, vmin = ("RdBu_r", -lim) if key == "layer4" else ("viridis", 0)
    im = a.imshow(hk[:, top].T, aspect="auto", origin="lower", interpolation="nearest", cmap=cmap,
                  vmin=vmin, vmax=lim, extent=(0, seconds, -0.5, 127.5))
    kind = "LSTM, h in (-1, 1)" if key == "layer4" else "dense, clipped ReLU"
    a.set(title=f"layer {key[-1]} ({kind})", xlabel="time (s)", ylabel="unit (128 most active)")
    fig.colorbar(im, ax=a, pad=0.02)
a = axes.flat[5]
im = a.imshow(ours["probs"].T, aspect="auto", origin="lower", interpolation="nearest", cmap="Greys",
              vmin=0, vmax=1, extent=(0, seconds, -0.5, blank + 0.5))
t_axis = (np.arange(len(best)) + 0.5) * 0.02
a.scatter(t_axis[best != blank], best[best != blank], s=6, color="C3")
for t in np.flatnonzero(best != blank):
    a.annotate(model.alphabet[best[t]], (t_axis[t], best[t]), xytext=(3, 3), textcoords="offset points",
               fontsize=8, color="C3")
a.set(title="$p_t$ (grey) and the greedy path's characters (red)", xlabel="time (s)",
      ylabel=f"class ({blank} = blank, the top row)")
fig.colorbar(im, ax=a, pad=0.02)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** With the alphabet `["a", "b"]` (blank = class 2), what does greedy CTC read from
# the frame labels `[0, 0, 2, 0, 1, 1, 2, 1]`?

# %%
answer_1 = None   # a string


# %%
def labels_to_probs(labels, n_classes):
    return np.eye(n_classes)[labels]


solution_1 = "".join(["a", "b"][k] for k, _ in groupby([0, 0, 2, 0, 1, 1, 2, 1]) if k != 2)
assert solution_1 == greedy_decode(labels_to_probs([0, 0, 2, 0, 1, 1, 2, 1], 3), ["a", "b"])
check("Exercise 1", answer_1, solution_1)

# %% [markdown]
# **Exercise 2.** Write 6 frame labels (0 = "l", 1 = blank) that greedy CTC reads as `"ll"`.

# %%
answer_2 = None   # a list of 6 integers, each 0 or 1


# %%
def decode_ll(labels):
    if len(labels) != 6:
        return f"{len(labels)} labels, not 6"
    return greedy_decode(labels_to_probs(list(labels), 2), ["l"])


solution_2 = [0, 0, 1, 1, 0, 1]            # one answer of several: a blank must separate the two l's
assert decode_ll(solution_2) == "ll" and decode_ll([0, 0, 0, 0, 0, 0]) == "l"
check("Exercise 2", None if answer_2 is None else decode_ll(answer_2), "ll")

# %% [markdown]
# **Exercise 3.** Count the multiply-adds per frame of the whole network from the weight shapes
# (layer 4 multiplies the 4096-value row $[h^{(3)}_t, h^{(4)}_{t-1}]$ by $W_4$). Which fraction of
# them is in the LSTM? (Two decimals.)

# %%
answer_3 = None   # a number between 0 and 1

# %%
macs = {k: model.W_q[k].size for k in range(1, 7)}
solution_3 = macs[4] / sum(macs.values())
assert macs[4] == (2048 + 2048) * 4 * 2048 and macs[1] == 494 * 2048
print(f"{sum(macs.values()) / 1e6:.1f} M multiply-adds per frame ({2 * sum(macs.values()) / 1e6:.1f} MFLOP); "
      f"LSTM share {solution_3:.3f}")
check("Exercise 3", answer_3, solution_3, tol=0.006)
