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
# # 08 · LOSO and the statistics: speaker-level intervals, McNemar and a speaker-paired test
#
# Every number in Table 2 comes from [LOSO](../glossary.md#loso): each speaker in turn is the test
# set. The claim such a number makes is about *new speakers*, so its uncertainty must be measured in
# speakers too. This notebook shows, with a small simulation, that a
# [confidence interval](../glossary.md#confidence-interval) that resamples utterances is too narrow
# when speakers differ, while the speaker [cluster bootstrap](../glossary.md#cluster-bootstrap)
# keeps its promise; and that the [McNemar test](../glossary.md#mcnemar-test) finds differences
# between two systems that a [speaker-paired test](../glossary.md#speaker-paired-test) rightly
# does not.
#
# Before: [07 · backpropagation](07-backprop.ipynb). After: [09 · the layer study and cross-corpus](09-layers-and-cross-corpus.ipynb).

# %%
import csv
import itertools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from learnkit import check, show
from ser_ref.evaluation.metrics import (bootstrap_ci, loso_folds, mcnemar, sign_flip_p, speaker_bootstrap_ci,
                                        speaker_sign_flip)

RESULTS = Path("../results/ravdess")   # the published RAVDESS run, stored with the repository

# %% [markdown]
# ## 1. The folds
#
# With speakers $s = 1, \dots, S$, fold $s$ trains on every utterance of the other $S - 1$ speakers
# and tests on speaker $s$'s. Every utterance is tested exactly once, so the pooled accuracy is
#
# $$\hat a = \frac{\sum_s h_s}{\sum_s n_s},$$
#
# with $h_s$ the utterances of speaker $s$ classified right and $n_s$ their number.

# %%
show(loso_folds)

# %% [markdown]
# **Check 1.** On a corpus shaped like RAVDESS (24 speakers, 28 utterances each), every utterance is
# tested once, and no fold trains on its test speaker.

# %%
S, n = 24, 28
speakers = np.repeat([f"actor{s:02d}" for s in range(S)], n)
folds = loso_folds(speakers)
tested = np.concatenate([f.test_idx for f in folds])
assert len(folds) == S and np.array_equal(np.sort(tested), np.arange(S * n))
assert all(not set(speakers[f.train_idx]) & set(speakers[f.test_idx]) for f in folds)
print(f"{len(folds)} folds; each tests {n} utterances and trains on {len(folds[0].train_idx)}")

# %% [markdown]
# ## 2. Why the interval must resample speakers
#
# Speakers differ: one actor's anger is easy, another's is not. Let speaker $s$'s utterances be
# right with probability $p_s$, where the $p_s$ vary around the population accuracy $a$ with
# variance $\tau^2$. Then, with $n$ utterances per speaker,
#
# $$\operatorname{Var}(\hat a) = \frac{1}{S}\left(\frac{a(1-a) - \tau^2}{n} + \tau^2\right),$$
#
# while the utterance [bootstrap](../glossary.md#bootstrap), which treats the $N = Sn$ utterances as
# independent, estimates about $a(1-a)/N$. Their ratio is the *design effect*
#
# $$\mathrm{deff} = 1 + (n - 1)\,\frac{\tau^2}{a(1-a)}.$$
#
# With 28 utterances per speaker even a modest $\tau$ makes it large. The cluster bootstrap
# resamples whole speakers: draw $S$ speakers with replacement ($w_s$ = how often $s$ was drawn) and
# recompute $\hat a^{(b)} = \sum_s w_s h_s / \sum_s w_s n_s$; the spread of these is the spread of
# the speakers.

# %%
show(speaker_bootstrap_ci)

# %% [markdown]
# **Check 2 (the two bootstraps agree when every speaker is one utterance).** Then resampling
# speakers is resampling utterances, and the library draws the same random numbers for both, so the
# intervals must be equal, not just close.

# %%
rng = np.random.default_rng(8)
y1 = rng.integers(0, 4, 200)
p1 = np.where(rng.random(200) < 0.6, y1, (y1 + 1) % 4)
one_each = np.arange(200).astype(str)
assert bootstrap_ci(y1, p1, seed=3) == speaker_bootstrap_ci(y1, p1, one_each, seed=3)
print("one utterance per speaker: utterance CI == speaker CI ==", bootstrap_ci(y1, p1, seed=3))

# %% [markdown]
# How large is $\tau$ in practice? The published RAVDESS run lists each speaker's accuracy
# (`per_speaker.csv`). Its variance across speakers is $\tau^2$ plus the binomial noise of 28
# utterances, $a(1-a)/n$ on average, so $\hat\tau^2 = \mathrm{var}_s(\hat a_s) - \overline{\hat a_s(1-\hat a_s)}/n$:

# %%
with open(RESULTS / "per_speaker.csv") as f:
    rows = [r for r in csv.DictReader(f) if r["model"] == "dense"]
acc_s = np.array([float(r["accuracy"]) for r in rows])
n_s = np.array([int(r["n"]) for r in rows])
tau2 = acc_s.var(ddof=1) - np.mean(acc_s * (1 - acc_s) / n_s)
tau_ravdess = float(np.sqrt(max(tau2, 0.0)))
a_ravdess = float(acc_s.mean())
print(f"Dense on RAVDESS: speakers from {acc_s.min():.0%} to {acc_s.max():.0%}, mean {a_ravdess:.1%}, "
      f"tau = {tau_ravdess:.3f}, design effect {1 + (n - 1) * tau_ravdess**2 / (a_ravdess * (1 - a_ravdess)):.2f}")

# %% [markdown]
# ## 3. A simulation: which interval covers the truth?
#
# Draw a corpus of 24 speakers, 28 utterances each, speaker accuracies $p_s$ from a Beta distribution
# with mean $a = 0.6$ and standard deviation $\tau$; draw each utterance right or wrong; compute
# both 95 % intervals of the pooled accuracy; repeat. The truth is $a$, the accuracy on the speaker
# population. A 95 % interval should contain it in about 95 % of the corpora.

# %%
def beta_params(mean, sd):
    """(alpha, beta) of the Beta distribution with this mean and standard deviation."""
    k = mean * (1 - mean) / sd**2 - 1
    return mean * k, (1 - mean) * k


def one_corpus(rng, a, tau, S=24, n=28):
    """(y, pred, speakers) of a simulated LOSO run: two classes, y = 0, pred = 0 where right."""
    p = rng.beta(*beta_params(a, tau), size=S) if tau > 0 else np.full(S, a)
    right = rng.random((S, n)) < p[:, None]
    return np.zeros(S * n, int), (~right).astype(int).ravel(), np.repeat(np.arange(S), n)


def coverage(a, tau, reps, n_boot=300, seed=0):
    """Share of corpora whose interval holds a: (utterance bootstrap, speaker bootstrap), and the intervals."""
    rng = np.random.default_rng(seed)
    hits, intervals = np.zeros(2), []
    for r in range(reps):
        y, pred, spk = one_corpus(rng, a, tau)
        ci = (bootstrap_ci(y, pred, n_boot=n_boot, seed=r, n_classes=2),
              speaker_bootstrap_ci(y, pred, spk, n_boot=n_boot, seed=r, n_classes=2))
        hits += [lo <= a <= hi for lo, hi in ci]
        intervals.append(ci)
    return hits / reps, intervals


a, tau = 0.6, 0.12   # about the RAVDESS spread above
alike, _ = coverage(a, 0.0, reps=80)
differ, intervals = coverage(a, tau, reps=120, seed=1)
print(f"speakers alike (tau = 0):     utterance CI covers {alike[0]:.0%}, speaker CI {alike[1]:.0%}")
print(f"speakers differ (tau = {tau}): utterance CI covers {differ[0]:.0%}, speaker CI {differ[1]:.0%}")

# %% [markdown]
# **Check 3 (against the formula).** The utterance intervals are narrower than the speaker ones by
# about $\sqrt{\mathrm{deff}}$, and the simulation's own spread of $\hat a$ matches
# $\operatorname{Var}(\hat a)$ above. The coverages are estimates from 80-120 corpora, so the checks
# allow for their noise: the speaker interval is not far below 95 %, the utterance one is.

# %%
width = np.array([[hi - lo for lo, hi in ci] for ci in intervals]).mean(axis=0)
deff = 1 + (28 - 1) * tau**2 / (a * (1 - a))
rng = np.random.default_rng(2)
a_hat = np.array([1 - one_corpus(rng, a, tau)[1].mean() for _ in range(2000)])
var_formula = ((a * (1 - a) - tau**2) / 28 + tau**2) / 24
print(f"width ratio speaker / utterance: {width[1] / width[0]:.2f}, sqrt(deff) = {np.sqrt(deff):.2f}")
print(f"sd of a_hat over 2000 corpora: {a_hat.std():.4f}; formula: {np.sqrt(var_formula):.4f}")
assert abs(a_hat.std() / np.sqrt(var_formula) - 1) < 0.06
assert abs(width[1] / width[0] / np.sqrt(deff) - 1) < 0.15
assert differ[1] >= 0.85 and differ[0] <= 0.80 and alike[0] >= 0.85

# %% [markdown]
# ## 4. Figure: forty of the simulated corpora
#
# Each line is one corpus' interval; red ones miss the true accuracy.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
for k, (ax, name) in enumerate(zip(axes, ("utterance bootstrap", "speaker (cluster) bootstrap"))):
    for r, ci in enumerate(intervals[:40]):
        lo, hi = ci[k]
        ax.plot([r, r], [100 * lo, 100 * hi], color="C0" if lo <= a <= hi else "C3", lw=2)
    ax.axhline(100 * a, color="k", lw=1, ls="--", label=f"true accuracy {a:.0%}")
    ax.set(title=f"{name}: {differ[k]:.0%} of {len(intervals)} cover", xlabel="simulated corpus")
    ax.legend(loc="lower right")
axes[0].set_ylabel("95 % interval of the pooled accuracy (%)")
fig.suptitle(f"24 speakers x 28 utterances, speaker accuracies spread with sd {tau}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Comparing two systems: McNemar against the speaker-paired test
#
# Table 2 asks whether each network beats the forest. [McNemar's test](../glossary.md#mcnemar-test)
# counts the utterances on which exactly one system is right: $b$ (only A), $c$ (only B). If both
# err equally often, each such utterance is a fair coin, and
#
# $$p = \min\Big(1,\; 2\,P\big(\mathrm{Binom}(b + c, \tfrac12) \le \min(b, c)\big)\Big).$$
#
# Its unit is the utterance. The speaker-paired sign-flip test takes each speaker's difference
# $D_s = b_s - c_s$ and asks whether $T = \sum_s D_s$ is extreme among the $2^S$ sums with every sign
# flipped:
#
# $$p = 2^{-S}\,\#\Big\{\varepsilon \in \{-1, 1\}^S : \Big|\sum_s \varepsilon_s D_s\Big| \ge |T|\Big\}.$$

# %%
show(speaker_sign_flip)
show(sign_flip_p)

# %% [markdown]
# **Check 4 (the exact count).** `sign_flip_p` convolves instead of enumerating; on random integer
# differences of 12 speakers it must give the very share that the $2^{12}$ sign vectors give. And with
# one utterance per speaker the sign-flip test is McNemar's exact test.

# %%
rng = np.random.default_rng(4)
for _ in range(5):
    D = rng.integers(-6, 7, 12)
    signs = np.array(list(itertools.product([-1, 1], repeat=12)))
    brute = np.mean(np.abs(signs @ D) >= abs(D.sum()))
    assert sign_flip_p(D) == brute
y2 = np.zeros(30, int)
a2, b2 = (rng.random(30) < 0.7).astype(int), (rng.random(30) < 0.4).astype(int)
assert np.isclose(speaker_sign_flip(y2, a2, b2, np.arange(30)), mcnemar(y2, a2, b2, exact_below=10**6))
print("sign_flip_p == enumeration of 2^12 sign vectors; one utterance per speaker == McNemar exact")

# %% [markdown]
# **The simulation.** Two systems that are *equally good on average over speakers*: on speaker $s$
# system A is right with probability $0.6 + \delta_s / 2$ and B with $0.6 - \delta_s / 2$, where
# $\delta_s$ is drawn symmetric around 0 (A suits some voices, B others). For the population of
# speakers there is no difference, so a 5 % test should reject in about 5 % of the corpora.
# McNemar, counting utterances, sees the particular speakers' differences as if they were many
# independent coin flips.

# %%
def rejection_rates(spread, reps=300, S=24, n=28, seed=5):
    """Share of corpora in which each test rejects 'A and B equally accurate' at the 5 % level."""
    rng = np.random.default_rng(seed)
    y, spk = np.zeros(S * n, int), np.repeat(np.arange(S), n)
    reject = np.zeros(2)
    for _ in range(reps):
        delta = rng.normal(0, spread, S)
        pa, pb = np.repeat(np.clip(0.6 + delta / 2, 0, 1), n), np.repeat(np.clip(0.6 - delta / 2, 0, 1), n)
        pred_a, pred_b = (rng.random(S * n) >= pa).astype(int), (rng.random(S * n) >= pb).astype(int)
        reject += [mcnemar(y, pred_a, pred_b) < 0.05, speaker_sign_flip(y, pred_a, pred_b, spk) < 0.05]
    return reject / reps


spreads = [0.0, 0.1, 0.2, 0.3]
rates = np.array([rejection_rates(sd) for sd in spreads])
for sd, (mc, sf) in zip(spreads, rates):
    print(f"sd of delta_s {sd:.1f}: McNemar rejects {mc:5.1%}, speaker sign-flip {sf:5.1%}")

# %% [markdown]
# **Check 5.** With no speaker differences ($\delta_s = 0$) both tests hold their 5 % (up to the noise
# of 300 corpora, and the sign-flip test is conservative with its discrete sums). With
# differences, McNemar's false alarms grow far above 5 %; the sign-flip test stays near it.

# %%
band = 2.5 * np.sqrt(0.05 * 0.95 / 300)
assert rates[0, 0] <= 0.05 + band and rates[0, 1] <= 0.05 + band
assert rates[-1, 0] > 0.2 and np.all(rates[:, 1] <= 0.05 + band)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(spreads, 100 * rates[:, 0], "o-", label="McNemar (unit: utterance)")
ax.plot(spreads, 100 * rates[:, 1], "s-", label="sign-flip (unit: speaker)")
ax.axhline(5, color="k", ls="--", lw=1, label="the promised 5 %")
ax.set(xlabel="sd of the per-speaker difference $\\delta_s$ (the systems equal on average)",
       ylabel="% of corpora with p < 0.05", title="false alarms when speakers differ")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. In the published RAVDESS run
#
# `table2.json` of the published run holds the utterance intervals and McNemar's p against the
# forest. `per_speaker.csv` holds each speaker's accuracy and utterance count, so each speaker's
# hits $h_s = \hat a_s n_s$: enough for the speaker bootstrap of the accuracy, and for the sign-flip
# test on $D_s = h_s^{A} - h_s^{\mathrm{RF}}$ (`sign_flip_p`; McNemar would need the utterances).

# %%
import json

table2 = json.loads((RESULTS / "table2.json").read_text())["rows"]
with open(RESULTS / "per_speaker.csv") as f:
    per_speaker = list(csv.DictReader(f))


def hits_of(model):
    """(hits, n) per speaker, in the file's speaker order."""
    rows = [r for r in per_speaker if r["model"] == model]
    n_s = np.array([int(r["n"]) for r in rows])
    return np.rint(np.array([float(r["accuracy"]) for r in rows]) * n_s).astype(int), n_s


published = {}
for name, r in table2.items():
    h, n_s = hits_of(name)
    y = np.zeros(n_s.sum(), int)
    pred = np.concatenate([np.r_[np.zeros(k), np.ones(m - k)] for k, m in zip(h, n_s)]).astype(int)
    spk = np.repeat(np.arange(len(n_s)), n_s)
    assert abs(h.sum() / n_s.sum() - r["accuracy"]) < 1e-9     # the two files agree
    p_flip = None if name == "rf-egemaps" else sign_flip_p(h - hits_of("rf-egemaps")[0])
    published[name] = (r["accuracy"], r["accuracy_ci95"],
                       speaker_bootstrap_ci(y, pred, spk, n_classes=2), r["mcnemar_p_vs_rf"], p_flip)
    print(f"{name:14s} {100 * r['accuracy']:5.1f} %  utterance CI [{100 * r['accuracy_ci95'][0]:.1f}, "
          f"{100 * r['accuracy_ci95'][1]:.1f}]  speaker CI [{100 * published[name][2][0]:.1f}, "
          f"{100 * published[name][2][1]:.1f}]"
          + ("" if p_flip is None else f"  vs RF: McNemar p {r['mcnemar_p_vs_rf']:.2g}, sign-flip p {p_flip:.2g}"))

# %%
fig, ax = plt.subplots(figsize=(9, 4))
for i, (name, (acc, utt, spk_ci, _, _)) in enumerate(published.items()):
    ax.plot([i - 0.1] * 2, 100 * np.array(utt), color="C0", lw=3, marker="_", ms=12,
            label="utterance bootstrap" if i == 0 else None)
    ax.plot([i + 0.1] * 2, 100 * np.array(spk_ci), color="C1", lw=3, marker="_", ms=12,   # a width-0 one shows too
            label="speaker bootstrap" if i == 0 else None)
    ax.plot(i, 100 * acc, "ko", ms=4)
ax.axhline(25, color="0.5", ls=":", lw=1, label="chance (UA of a constant guess)")
ax.set_xticks(range(len(published)), list(published), rotation=15)
ax.set(ylabel="accuracy and its 95 % interval (%)", ylim=(20, 85),
       title="Table 2 on RAVDESS: the speaker intervals are the wider, honest ones")
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Once the unit is the speaker, the p-values against the forest grow by one to two orders of
# magnitude; on this run Dense's lead and the LSTM's deficit still stay below 0.05. The majority
# row's speaker interval has no width at all: every actor recorded exactly 8 of their 28 utterances
# in the majority class, so every speaker scores the same 28.6 %; resampling utterances pretends
# otherwise.
#
# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Three speakers' differences are $D = (3, -1, 2)$. What is the exact two-sided
# sign-flip p-value?

# %%
answer_1 = None   # a number

# %%
sums = [abs(e1 * 3 + e2 * -1 + e3 * 2) for e1 in (-1, 1) for e2 in (-1, 1) for e3 in (-1, 1)]
solution_1 = sum(s >= abs(3 - 1 + 2) for s in sums) / 8
assert solution_1 == sign_flip_p(np.array([3, -1, 2]))
check("Exercise 1", answer_1, solution_1, tol=1e-12)

# %% [markdown]
# **Exercise 2.** System A alone is right on $b = 9$ utterances, system B alone on $c = 2$. What is
# McNemar's exact p-value?

# %%
answer_2 = None   # a number

# %%
solution_2 = 2 * stats.binom.cdf(2, 11, 0.5)
y_ex = np.zeros(11, int)
assert np.isclose(mcnemar(y_ex, np.r_[np.zeros(9), np.ones(2)].astype(int),
                          np.r_[np.ones(9), np.zeros(2)].astype(int)), solution_2)
check("Exercise 2", answer_2, solution_2, tol=1e-4)

# %% [markdown]
# **Exercise 3.** Every speaker has $n = 28$ utterances, the accuracy is $a = 0.6$ and speakers spread
# with $\tau = 0.12$. By what factor is the true standard error of $\hat a$ larger than the one the
# utterance bootstrap assumes ($\sqrt{\mathrm{deff}}$, two decimals)?

# %%
answer_3 = None   # a number

# %%
solution_3 = float(np.sqrt(1 + (28 - 1) * 0.12**2 / (0.6 * 0.4)))
assert abs(a_hat.std() / np.sqrt(0.6 * 0.4 / (24 * 28)) / solution_3 - 1) < 0.06   # the simulation agrees
check("Exercise 3", answer_3, solution_3, tol=0.01)
