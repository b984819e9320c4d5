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
# # 06 · The random forest: Gini, one tree grown by hand, and the forest
#
# The paper's baseline classifies the 88 [eGeMAPS](../glossary.md#egemaps) functionals of an
# utterance with a [random forest](../glossary.md#random-forest) (1000 trees, depth 10): many
# [CART](../glossary.md#cart) trees, each grown on a [bootstrap](../glossary.md#bootstrap) sample of
# the training utterances, each node choosing its split among a random subset of the features by the
# [Gini impurity](../glossary.md#gini-impurity). This notebook grows one small tree by hand, from the
# definition, and checks that `ser_ref`'s tree code and scikit-learn's grow the very same tree.
#
# Before: [05 · eGeMAPS](05-egemaps.ipynb). After: [07 · backpropagation](07-backprop.ipynb).

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from learnkit import check, show
from ser_ref.corpora import LABELS
from ser_ref.corpora.synthetic import utterance
from ser_ref.egemaps import EGEMAPS_NAMES, egemaps
from ser_ref.forest.cart import best_split_reference, grow_forest, predict_proba, predict_proba_reference

# the synthetic corpus: 4 speakers x 4 emotions x 3 utterances, eGeMAPS of each
items = [(s, label, k) for s in range(4) for label in LABELS for k in range(3)]
X_all = np.stack([egemaps(utterance(s, label, k)) for s, label, k in items]).astype(np.float64)
y = np.array([LABELS.index(label) for _, label, _ in items])
speaker = np.array([s for s, _, _ in items])
pair = ["alphaRatioV_sma3nz_amean", "loudness_sma3_amean"]   # spectral tilt and loudness
X = X_all[:, [EGEMAPS_NAMES.index(n) for n in pair]]
print(X_all.shape, "eGeMAPS matrix;", "classes:", LABELS)

# %% [markdown]
# ## 1. The Gini impurity and the best split
#
# At a node holding samples $S$ (with weights $w_i$: bootstrap counts, or 1), with $W_c(S)$ the weight
# of class $c$ and $W(S) = \sum_c W_c(S)$:
#
# $$G(S) = 1 - \sum_c p_c^2, \qquad p_c = \frac{W_c(S)}{W(S)}.$$
#
# $G$ is the chance that two samples drawn from the node belong to different classes: 0 for a pure
# node. A split "feature $f \le t$" sends $L = \{x_f \le t\}$ left and $R$ right; the best split
# maximises the decrease
#
# $$\Delta(t) = W(S)\,G(S) - W(L)\,G(L) - W(R)\,G(R),$$
#
# over every feature and every threshold $t$ halfway between two consecutive distinct values. Since
# $W(S) G(S) = W(S) - \sum_c W_c(S)^2 / W(S)$, this is the same as maximising the cheaper
# $\mathrm{score}(t) = \sum_c W_c(L)^2 / W(L) + \sum_c W_c(R)^2 / W(R)$, which is what `ser_ref` scans.
# Its plain reference for one feature:

# %%
show(best_split_reference)


# %% [markdown]
# ## 2. One tree grown by hand
#
# Straight from the definitions: the impurity, every feature, every midpoint, recursion until a node
# is pure or at the maximum depth. A [leaf](../glossary.md#leaf) stores its class frequencies $p_c$.

# %%
def gini(counts):
    """G = 1 - sum_c p_c^2."""
    p = counts / counts.sum()
    return 1.0 - np.sum(p * p)


def counts_of(labels):
    return np.bincount(labels, minlength=len(LABELS)).astype(float)


def best_split(X, y):
    """(decrease, runner-up decrease, feature, threshold) of the split maximising Delta."""
    parent = len(y) * gini(counts_of(y))
    found = [(0.0, None, None)]
    for f in range(X.shape[1]):
        values = np.unique(X[:, f])
        for t in (values[:-1] + values[1:]) / 2:
            left = X[:, f] <= t
            decrease = (parent - left.sum() * gini(counts_of(y[left]))
                        - (~left).sum() * gini(counts_of(y[~left])))
            found.append((decrease, f, t))
    found.sort(key=lambda d: -d[0])
    (best, f, t), runner_up = found[0], found[1][0]
    return best, runner_up, f, t


def grow(X, y, depth=0, max_depth=2, margins=None):
    """A tree as nested tuples: ("leaf", p) or (feature, threshold, left, right)."""
    counts = counts_of(y)
    if depth == max_depth or np.count_nonzero(counts) == 1:
        return ("leaf", counts / counts.sum())
    best, runner_up, f, t = best_split(X, y)
    if f is None:
        return ("leaf", counts / counts.sum())
    if margins is not None:
        margins.append(best - runner_up)
    left = X[:, f] <= t
    return (f, t, grow(X[left], y[left], depth + 1, max_depth, margins),
            grow(X[~left], y[~left], depth + 1, max_depth, margins))


margins = []
by_hand = grow(X, y, margins=margins)
print("root:", pair[by_hand[0]], "<=", round(by_hand[1], 4))
print("smallest margin between the best and the next best split at a node:", f"{min(margins):.3g}")

# %% [markdown]
# **Check 1 (three implementations, one tree).** Grow the same depth-2 tree with `ser_ref`'s CART
# kernel (no bootstrap, every feature at every node) and with scikit-learn's `DecisionTreeClassifier`,
# turn both into the nested form above, and compare features, thresholds and leaf frequencies. Every
# node's best split wins by a clear margin (printed above), so there is no tie that the three could
# break differently.

# %%
def from_cart(trees, node=None):
    node = int(trees.roots[0]) if node is None else node
    if trees.left[node] == -1:
        return ("leaf", trees.value[node])
    return (int(trees.feature[node]), float(trees.threshold[node]),
            from_cart(trees, int(trees.left[node])), from_cart(trees, int(trees.right[node])))


def from_sklearn(tree, node=0):
    t = tree.tree_
    if t.children_left[node] == -1:
        v = t.value[node][0]
        return ("leaf", v / v.sum())
    return (int(t.feature[node]), float(t.threshold[node]),
            from_sklearn(tree, t.children_left[node]), from_sklearn(tree, t.children_right[node]))


def same(a, b):
    if a[0] == "leaf" or b[0] == "leaf":
        return a[0] == b[0] and np.allclose(a[1], b[1])
    return (a[0] == b[0] and abs(a[1] - b[1]) <= 1e-6 * (1 + abs(a[1]))
            and same(a[2], b[2]) and same(a[3], b[3]))


ours = from_cart(grow_forest(X, y, len(LABELS), np.zeros(1, np.uint64), bootstrap=False, max_depth=2))
sk = from_sklearn(DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y))
assert min(margins) > 1e-9
assert same(by_hand, ours), "ser_ref's CART grew another tree"
assert same(by_hand, sk), "scikit-learn grew another tree"
print("by hand == ser_ref.forest.cart == sklearn.tree")

# %% [markdown]
# The `score` identity of section 1 as a check: for every threshold of the root's feature, $\Delta$
# equals the score minus $\sum_c W_c(S)^2 / W(S)$.

# %%
f_root = by_hand[0]
values = np.unique(X[:, f_root])
thresholds = (values[:-1] + values[1:]) / 2
delta = np.array([len(y) * gini(counts_of(y))
                  - (X[:, f_root] <= t).sum() * gini(counts_of(y[X[:, f_root] <= t]))
                  - (X[:, f_root] > t).sum() * gini(counts_of(y[X[:, f_root] > t])) for t in thresholds])
score = np.array([sum(counts_of(y[side]) @ counts_of(y[side]) / side.sum()
                      for side in (X[:, f_root] <= t, X[:, f_root] > t)) for t in thresholds])
assert np.allclose(delta, score - counts_of(y) @ counts_of(y) / len(y))
best_score, best_t = best_split_reference(X[:, f_root], y, np.ones(len(y)), len(LABELS))
assert np.isclose(best_t, by_hand[1]) and np.isclose(best_score, score.max())

# %% [markdown]
# ## 3. Figure: the decrease along the root's feature, and the tree's regions

# %%
fig, ax = plt.subplots(1, 2, figsize=(13, 4.6))
ax[0].plot(thresholds, delta, ".-", lw=0.8)
ax[0].axvline(by_hand[1], color="C3", ls=":", label=f"best t = {by_hand[1]:.3f}")
ax[0].set(xlabel=f"threshold t on {pair[f_root]}", ylabel="$\\Delta(t)$ (weighted Gini decrease)",
          title="the root's split search")
ax[0].legend()

g0, g1 = np.meshgrid(np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 300),
                     np.linspace(X[:, 1].min() - 0.02, X[:, 1].max() + 0.02, 300))
grid = np.column_stack([g0.ravel(), g1.ravel()])
trees = grow_forest(X, y, len(LABELS), np.zeros(1, np.uint64), bootstrap=False, max_depth=2)
region = predict_proba(grid, *trees).argmax(axis=1).reshape(g0.shape)
colors = plt.get_cmap("tab10")
ax[1].contourf(g0, g1, region, levels=np.arange(-0.5, 4), colors=[colors(c) for c in range(4)], alpha=0.18)
for c, label in enumerate(LABELS):
    ax[1].scatter(*X[y == c].T, s=18, color=colors(c), label=label, edgecolor="k", lw=0.3)
ax[1].set(xlabel=pair[0], ylabel=pair[1], title="depth-2 tree: regions (shaded) and utterances")
ax[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. The forest
#
# Tree $t$ grows on a bootstrap sample (the $n$ utterances drawn $n$ times with replacement, i.e.
# integer weights $w_i$) and draws $\lfloor\sqrt{F}\rfloor$ of the $F$ features at each node ([mtry](../glossary.md#mtry)); the forest
# averages the trees' leaf frequencies:
#
# $$P(c \mid x) = \frac{1}{T} \sum_{t=1}^{T} \mathrm{value}\big[\mathrm{leaf}_t(x),\, c\big], \qquad \hat y(x) = \arg\max_c P(c \mid x).$$
#
# **Check 2 (the forest is the mean of its trees).** Grow 200 trees on all 88 features of three
# speakers and predict the fourth (one fold of [LOSO](../glossary.md#loso)); the forest's
# probabilities must equal the mean over its trees, each walked by the plain reference.

# %%
show(predict_proba_reference)

# %%
train, test = speaker != 3, speaker == 3
seeds = np.random.SeedSequence(0).generate_state(200, np.uint64)
forest = grow_forest(X_all[train], y[train], 4, seeds, mtry=int(np.sqrt(88)), max_depth=10)
P = predict_proba(X_all[test], *forest)
per_tree = [predict_proba_reference(X_all[test], forest.roots[[t]], *forest[1:]) for t in range(len(seeds))]
assert np.allclose(P, np.mean(per_tree, axis=0))
ours_acc = np.mean(P.argmax(axis=1) == y[test])
sk_forest = RandomForestClassifier(n_estimators=200, max_depth=10, random_state=0).fit(X_all[train], y[train])
sk_acc = sk_forest.score(X_all[test], y[test])
print(f"speaker 4 held out: ser_ref forest {ours_acc:.0%}, scikit-learn forest {sk_acc:.0%} "
      f"(chance 25%, {test.sum()} utterances)")

# %% [markdown]
# With 12 test utterances one utterance is 8 points, so the two forests (other random numbers, the
# same method) can differ by an utterance or two; the project's audit compares them over whole
# LOSO runs (`python -m ser_ref.audit`).
#
# ## Exercises
#
# **Exercise 1.** What is the Gini impurity of a node with class counts (6, 2, 2, 0)?

# %%
answer_1 = None   # a number

# %%
solution_1 = 1 - (0.6**2 + 0.2**2 + 0.2**2)
stump = DecisionTreeClassifier(max_depth=1).fit(np.zeros((10, 1)), np.repeat([0, 1, 2], [6, 2, 2]))
assert np.isclose(stump.tree_.impurity[0], solution_1)
assert np.isclose(gini(np.array([6, 2, 2, 0.0])), solution_1)
check("Exercise 1", answer_1, solution_1, tol=1e-9)

# %% [markdown]
# **Exercise 2.** One feature, $x = 1, 2, \dots, 7$, labels $y = 0, 0, 1, 0, 1, 1, 1$. Which threshold
# does the best Gini split use?

# %%
answer_2 = None   # a number

# %%
x2, y2 = np.arange(1.0, 8.0), np.array([0, 0, 1, 0, 1, 1, 1])
decreases = {t: 7 * gini(np.bincount(y2, minlength=2))
                - (x2 <= t).sum() * gini(np.bincount(y2[x2 <= t], minlength=2))
                - (x2 > t).sum() * gini(np.bincount(y2[x2 > t], minlength=2)) for t in np.arange(1.5, 7.0)}
solution_2 = max(decreases, key=decreases.get)
assert solution_2 == best_split_reference(x2, y2, np.ones(7), 2)[1]
assert solution_2 == DecisionTreeClassifier(max_depth=1).fit(x2[:, None], y2).tree_.threshold[0]
check("Exercise 2", answer_2, solution_2)

# %% [markdown]
# **Exercise 3.** A feature takes the values 1, 1, 2, 3, 3, 3, 4 on a node. How many thresholds does
# the split search score for it?

# %%
answer_3 = None   # an integer

# %%
solution_3 = len(np.unique([1, 1, 2, 3, 3, 3, 4])) - 1
x3 = np.array([1.0, 1, 2, 3, 3, 3, 4])
partitions = {tuple(x3 <= t) for t in np.linspace(0, 5, 1001)}    # every way "x <= t" can cut them
assert solution_3 == len(partitions) - 2                           # less "none left" and "all left"
check("Exercise 3", answer_3, solution_3)
