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
# # 09 · The layer study and cross-corpus: which layer carries emotion, and what travels
#
# The paper feeds the emotion classifiers the output of DeepSpeech's [layer 1](../glossary.md#layer-1).
# Two questions follow. Is layer 1 the best layer, or do the deeper layers of the
# [acoustic model](../glossary.md#acoustic-model) carry more emotion (the
# [layer study](../glossary.md#layer-study))? And does what a model learns on one corpus work on
# another ([cross-corpus](../glossary.md#cross-corpus)), which is the paper's premise for transfer
# features? This notebook runs a miniature layer study on the
# [synthetic corpus](../glossary.md#synthetic-corpus), then reads the published RAVDESS and
# RAVDESS/URDU results and checks them against the definitions.
#
# Before: [08 · LOSO and the statistics](08-loso-and-statistics.ipynb). This is the last notebook.

# %%
import itertools
import json
import os
import tempfile
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from learnkit import check, show
from ser_ref.corpora import LABELS
from ser_ref.corpora.synthetic import utterance
from ser_ref.deepspeech import context_windows, load_deepspeech
from ser_ref.deepspeech.layer_features import LAYER_KINDS
from ser_ref.evaluation.layer_study import layer_row, pooled_stats
from ser_ref.evaluation.metrics import mcnemar, metrics, metrics_from_confusion, run_loso
from ser_ref.evaluation.splits import cross_corpus
from ser_ref.evaluation.systems import Settings, fit_predict_labels
from ser_ref.frontend.tf_mfcc import mfcc

RESULTS = Path("../results")   # the published runs, stored with the repository

# %% [markdown]
# ## 1. Features from every layer
#
# DeepSpeech's layers 1-3 are clipped-ReLU dense layers, layer 4 an [LSTM](../glossary.md#lstm),
# layer 5 another dense layer; each gives $h^{(k)}_t \in \mathbb{R}^{2048}$ per frame $t$. The
# frame-level Dense model reads the frames themselves. The forest needs one vector per utterance:
# the mean and standard deviation of each unit over the utterance's $T$ frames,
#
# $$\phi^{(k)} = \Big[\tfrac1T \textstyle\sum_t h^{(k)}_t,\;\; \big(\tfrac1T \sum_t (h^{(k)}_t - \bar h^{(k)})^2\big)^{1/2}\Big] \in \mathbb{R}^{4096}.$$

# %%
show(pooled_stats)

# %% [markdown]
# The miniature corpus: 6 synthetic speakers x 4 emotions x 2 utterances, each cut to its first
# 1.5 s (the synthetic voices are not speech, so what the layers make of them says nothing about
# real emotion: here the point is the method). One batched forward pass of the whole model gives
# all five layers.

# %%
model = load_deepspeech()
items = [(s, label, k) for s in range(6) for label in LABELS for k in range(2)]
signals = [utterance(s, label, k)[:24000] for s, label, k in items]
y = np.array([LABELS.index(label) for _, label, _ in items])
speakers = np.array([f"synthetic{s}" for s, _, _ in items])
outputs = model.forward_batch([context_windows(mfcc(x)) for x in signals], mode="float", layers=LAYER_KINDS)
print(len(outputs), "utterances;", {k: outputs[0][k].shape for k in LAYER_KINDS})

# %% [markdown]
# **Check 1 (the pooled statistics are their definition).** Write one utterance's layer-3 frames to
# a file, as the feature cache does, and compare `pooled_stats` with the formula in float64.

# %%
h = outputs[0]["layer3"]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "layer3.npy")
    np.save(path, h)
    phi = pooled_stats(path)
h64 = h.astype(np.float64)
by_hand = np.concatenate([h64.sum(0) / len(h64), np.sqrt(((h64 - h64.mean(0)) ** 2).sum(0) / len(h64))])
assert phi.shape == (4096,) and np.allclose(phi, by_hand, rtol=1e-12, atol=1e-12)
print("pooled_stats == [mean, population std] over frames, 4096 values")

# %% [markdown]
# ## 2. The miniature layer study
#
# For each layer, the [random forest](../glossary.md#random-forest) of Table 2 (here 100 trees) on
# $\phi^{(k)}$ under [LOSO](../glossary.md#loso), exactly as `ser_ref.evaluation.layer_study` runs
# it; each layer's row holds accuracy, [UA](../glossary.md#ua), their intervals (over utterances
# and over speakers) and two p-values against layer 1: [McNemar's](../glossary.md#mcnemar-test),
# which pairs utterances, and the sign-flip test, which pairs speakers (notebook 08):

# %%
show(layer_row)

# %%
fit = partial(fit_predict_labels, name="rf-egemaps", settings=Settings(rf_trees=100))
X = {k: np.stack([np.concatenate([o[k].mean(0), o[k].std(0)]) for o in outputs]).astype(np.float64)
     for k in LAYER_KINDS}
preds, rows = {}, {}
for k in LAYER_KINDS:
    res = run_loso(fit, X[k], y, speakers, executor="serial", standardize=False, seed=0)
    preds[k] = res.y_pred
    rows[k] = layer_row(res.pooled, y, res.y_pred, preds.get("layer1") if k != "layer1" else None, seed=0,
                        speakers=speakers)
    print(f"{k}: accuracy {rows[k]['accuracy']:.0%}, UA {rows[k]['ua']:.0%}"
          + ("" if rows[k]["mcnemar_p_vs_layer1"] is None else
             f", p vs layer 1: McNemar {rows[k]['mcnemar_p_vs_layer1']:.2g}, "
             f"sign-flip over speakers {rows[k]['p_speaker_vs_layer1']:.2g}"))

# %% [markdown]
# **Check 2 (McNemar from its counts).** For every deeper layer, count $b$ (utterances layer 1 gets
# right and layer $k$ wrong) and $c$ (the reverse) and apply the exact binomial formula of notebook
# 08; `layer_row`'s p must be it (these 48 utterances give fewer than 25 discordant ones).

# %%
for k in LAYER_KINDS[1:]:
    r1, rk = preds["layer1"] == y, preds[k] == y
    b, c = int(np.sum(r1 & ~rk)), int(np.sum(~r1 & rk))
    p = 1.0 if b + c == 0 else min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5))
    assert b + c < 25 and np.isclose(rows[k]["mcnemar_p_vs_layer1"], p), k
    print(f"{k}: b = {b}, c = {c}, p = {p:.3g}")

# %% [markdown]
# **Check 2b (the sign-flip p by enumeration).** Per speaker $s$, $D_s$ = (utterances layer $k$ gets
# right) $-$ (utterances layer 1 gets right). Under the null hypothesis each $D_s$ is as likely to be
# $-D_s$; the p-value is the share of the $2^S$ sign patterns $\varepsilon$ with
# $|\sum_s \varepsilon_s D_s| \ge |\sum_s D_s|$. With this corpus's few speakers all $2^S$ patterns
# can be listed; `layer_row`'s p must be their share.

# %%
names_s = np.unique(speakers)
for k in LAYER_KINDS[1:]:
    D = np.array([int(np.sum(preds[k][speakers == s] == y[speakers == s]))
                  - int(np.sum(preds["layer1"][speakers == s] == y[speakers == s])) for s in names_s])
    T = abs(D.sum())
    hits = sum(abs(np.dot(eps, D)) >= T for eps in itertools.product((-1, 1), repeat=len(D)))
    p = hits / 2 ** len(D)
    assert np.isclose(rows[k]["p_speaker_vs_layer1"], p), k
    print(f"{k}: D = {D.tolist()}, {hits} of {2 ** len(D)} sign patterns as extreme, p = {p:.3g}")

# %% [markdown]
# ## 3. On RAVDESS: the published layer study
#
# `python -m ser_ref.layers --corpus ravdess` ran both models on all 672 utterances of RAVDESS
# (`docs/results/ravdess-layers/`). Layer 1 is not the best: accuracy rises to layer 4 (the LSTM)
# for both models.

# %%
layers = json.loads((RESULTS / "ravdess-layers" / "layers.json").read_text())
fig, ax = plt.subplots(figsize=(8, 4.2))
for i, (model_name, style) in enumerate((("dense", "o-"), ("forest", "s--"))):
    acc = np.array([100 * layers[model_name][k]["accuracy"] for k in LAYER_KINDS])
    lo, hi = (100 * np.array([layers[model_name][k]["accuracy_ci"] for k in LAYER_KINDS])).T
    x = np.arange(1, 6) + (i - 0.5) * 0.08
    ax.errorbar(x, acc, yerr=[acc - lo, hi - acc], fmt=style, capsize=3,
                label=f"{model_name} (95 % utterance CI)")
ax.axhline(25, color="0.5", ls=":", lw=1, label="chance (4 classes)")
ax.set_xticks(range(1, 6), [f"layer {k}" for k in range(1, 6)])
ax.set(ylabel="accuracy (%)", ylim=(20, 85), title="RAVDESS, LOSO: which DeepSpeech layer carries emotion")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Cross-corpus
#
# A cross-corpus split trains on every utterance of corpus $A$ and tests on every utterance of
# corpus $B$; no speaker can be in both. The diagonal of the matrix, $A = B$, is within-corpus
# LOSO. The cost of moving is the drop $\Delta = \mathrm{acc}_{\mathrm{LOSO}}(A) - \mathrm{acc}(A \to B)$.

# %%
show(cross_corpus)

# %% [markdown]
# **Check 3 (the published matrix is its confusion matrices).** Every entry of
# `docs/results/cross-corpus/matrix.json` stores its confusion matrix; its accuracy and UA must be
# the ones the definitions give, and the within-RAVDESS and within-URDU entries must be those
# corpora's Table 2 (seed 0: the matrix is one seed).

# %%
matrix = json.loads((RESULTS / "cross-corpus" / "matrix.json").read_text())
table2 = {c: json.loads((RESULTS / c / "table2.json").read_text())["rows"] for c in ("ravdess", "urdu")}
for e in matrix:
    m = metrics_from_confusion(np.array(e["confusion"]))
    assert np.isclose(m["accuracy"], e["accuracy"]) and np.isclose(m["ua"], e["ua"]), e
    if e["train"] == e["test"] and e["train"] in table2:  # the diagonal is Table 2's LOSO (same code)
        assert e["accuracy"] == table2[e["train"]][e["system"]]["accuracy"], e
print(f"{len(matrix)} entries: accuracy and UA == their confusion matrices; "
      "the RAVDESS and URDU diagonals == Table 2 (seed 0)")

names = ["ravdess", "urdu", "synthetic"]
systems = ["rf-egemaps", "dense", "lstm", "dense1+dense2", "dense1+lstm2"]
acc = {(e["train"], e["test"], e["system"]): 100 * e["accuracy"] for e in matrix}
loss = {s: acc["ravdess", "ravdess", s] - acc["ravdess", "urdu", s] for s in systems}
for s in systems:
    print(f"{s:14s} RAVDESS LOSO {acc['ravdess', 'ravdess', s]:5.1f} % -> URDU {acc['ravdess', 'urdu', s]:5.1f} %"
          f"  (loses {loss[s]:.1f} points)")

# %% [markdown]
# **Check 4 (the documentation says what the JSON says).** `docs/cross-corpus.md` states the range
# of these losses; it must be the range computed here.

# %%
doc = Path("../cross-corpus.md").read_text()
stated = f"{round(min(loss.values()))}-{round(max(loss.values()))} points"
assert f"every system loses {stated}" in doc, f"docs/cross-corpus.md should say: every system loses {stated}"
print("docs/cross-corpus.md: every system loses", stated)

# %% [markdown]
# The figure: each system's matrix, the within-corpus (LOSO) diagonal outlined.

# %%
fig, axes = plt.subplots(1, len(systems), figsize=(16, 4.2), layout="constrained")
for ax, s in zip(axes, systems):
    A = np.array([[acc[a, b, s] for b in names] for a in names])
    im = ax.imshow(A, cmap="viridis", vmin=0, vmax=100)
    for (i, j), v in np.ndenumerate(A):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="w" if v < 60 else "k", fontsize=10)
    for i in range(len(names)):
        ax.add_patch(plt.Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="orangered", lw=2.5))
    ax.set_xticks(range(3), names, fontsize=8)
    ax.set_yticks(range(3), names if ax is axes[0] else [""] * 3, fontsize=8)
    ax.set(title=s, xlabel="test corpus")
axes[0].set_ylabel("training corpus")
fig.colorbar(im, ax=axes, label="accuracy (%)", shrink=0.75)
fig.suptitle("Cross-corpus accuracy (%); outlined: within the corpus, leave-one-speaker-out")
plt.show()

# %% [markdown]
# Reading it (more in `docs/cross-corpus.md`): every system drops on natural Urdu speech, the
# layer-1 networks no less than the eGeMAPS forest; the synthetic corpus transfers to nothing. Within
# URDU, emotion is confounded with speaker (its majority class scores 0 % under LOSO), a reminder of
# notebook 08: the speaker is the unit.
#
# ## Exercises
#
# **Exercise 1.** How many values does the forest of the layer study see per utterance for one
# 2048-unit layer?

# %%
answer_1 = None   # an integer

# %%
solution_1 = X["layer1"].shape[1]
assert solution_1 == 2 * outputs[0]["layer1"].shape[1] == phi.size
check("Exercise 1", answer_1, solution_1)

# %% [markdown]
# **Exercise 2.** By how many points of accuracy does the Dense model (layer 1, per frame) drop from
# RAVDESS under LOSO to RAVDESS -> URDU? (one decimal)

# %%
answer_2 = None   # a number

# %%
solution_2 = round(loss["dense"], 1)
def _cell_accuracy(train, test, system):  # recomputed from the cell's confusion matrix
    return metrics_from_confusion(np.array(next(e["confusion"] for e in matrix
                                                if (e["train"], e["test"], e["system"]) == (train, test, system))))["accuracy"]


assert np.isclose(solution_2, round(100 * (_cell_accuracy("ravdess", "ravdess", "dense")
                                           - _cell_accuracy("ravdess", "urdu", "dense")), 1))
check("Exercise 2", answer_2, solution_2, tol=0.05)

# %% [markdown]
# **Exercise 3.** Which layer gives the Dense model its best accuracy on RAVDESS? (a name such as
# `"layer2"`)

# %%
answer_3 = None   # a string

# %%
solution_3 = max(LAYER_KINDS, key=lambda k: layers["dense"][k]["accuracy"])
assert layers["dense"][solution_3]["accuracy"] >= max(layers["dense"][k]["accuracy"] for k in LAYER_KINDS)
check("Exercise 3", answer_3, solution_3)
