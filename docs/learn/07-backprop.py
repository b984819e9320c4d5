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
# # 07 · Dense and LSTM backpropagation, and a gradient check
#
# The paper's four networks (Dense, LSTM, Dense1+Dense2, Dense1+LSTM2) are trained here without a
# deep-learning framework: every layer is a forward function and a hand-written backward function
# ([backpropagation](../glossary.md#backpropagation); through time for the LSTM,
# [BPTT](../glossary.md#bptt)). A hand-written gradient is only as good as its check, and the
# check is the definition of the derivative itself, computed in float64:
# a [gradient check](../glossary.md#gradient-check) by central differences.
#
# Before: [06 · the random forest](06-random-forest.ipynb). After: [08 · LOSO and the statistics](08-loso-and-statistics.ipynb).

# %%
import matplotlib.pyplot as plt
import numpy as np

from learnkit import check, show
from ser_ref.audit.oracles import numeric_grad, rel_err
from ser_ref.nn import (dense_backward, dense_forward, lstm_backward, lstm_forward, relu_backward, relu_forward,
                        softmax_cross_entropy_backward, softmax_cross_entropy_forward)
from ser_ref.nn.lstm import lstm_backward_reference, lstm_forward_reference

rng = np.random.default_rng(7)

# %% [markdown]
# ## 1. The equations
#
# **Dense layer** $y = x W + b$ for a batch of rows $x$ ($N \times n$); given $\partial L / \partial y$:
#
# $$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} W^\top, \qquad
# \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial y}, \qquad
# \frac{\partial L}{\partial b} = \sum_{n} \frac{\partial L}{\partial y_n}.$$
#
# **[Softmax](../glossary.md#softmax) [cross-entropy](../glossary.md#cross-entropy)** with example
# weights $w_n$ (class weights reach the loss this way):
#
# $$L = \frac{\sum_n w_n \left(-\log p_{n, y_n}\right)}{\sum_n w_n}, \quad p_n = \mathrm{softmax}(z_n), \qquad
# \frac{\partial L}{\partial z_{n,k}} = \frac{w_n \left(p_{n,k} - [k = y_n]\right)}{\sum_n w_n}.$$

# %%
show(dense_backward)
show(softmax_cross_entropy_backward)

# %% [markdown]
# **[LSTM](../glossary.md#lstm)** (Keras' gate order $i, f, g, o$; $\phi$ = tanh, or relu as in the
# paper's LSTM; $h_0 = c_0 = 0$):
#
# $$z_t = x_t W + h_{t-1} U + b, \quad i = \sigma(z_i),\ f = \sigma(z_f),\ g = \phi(z_g),\ o = \sigma(z_o), \quad
# c_t = f \odot c_{t-1} + i \odot g, \quad h_t = o \odot \phi(c_t).$$
#
# Backward, from the last step to the first, with $\delta h = \partial L / \partial h_t$ (from the
# output at $t$ and from step $t+1$) and $\delta c$ from step $t+1$:
#
# $$\delta c' = \delta c + \delta h \odot o \odot \phi'(c_t), \qquad
# \delta z = \big[\delta c' g\, i(1-i),\ \ \delta c' c_{t-1} f(1-f),\ \ \delta c'\, i\, \phi'(z_g),\ \ \delta h\, \phi(c_t)\, o(1-o)\big],$$
# $$\frac{\partial L}{\partial h_{t-1}} \mathrel{+}= \delta z\, U^\top, \qquad \frac{\partial L}{\partial c_{t-1}} = \delta c' \odot f, \qquad
# \frac{\partial L}{\partial W} = \sum_t x_t^\top \delta z_t,\ \ \frac{\partial L}{\partial U} = \sum_t h_{t-1}^\top \delta z_t,\ \ \frac{\partial L}{\partial b} = \sum_t \delta z_t.$$
#
# (With a padding mask $m_t$, a padded step passes the state through unchanged, forward and backward.)
# The loop as written, line by line (the pipeline runs the same loop compiled with Numba):

# %%
show(lstm_backward_reference)


# %% [markdown]
# ## 2. The gradient check
#
# For every parameter entry $\theta_i$, in float64,
#
# $$g_i^{\mathrm{num}} = \frac{L(\theta + \epsilon e_i) - L(\theta - \epsilon e_i)}{2 \epsilon}
# = \frac{\partial L}{\partial \theta_i} + O(\epsilon^2), \qquad
# \mathrm{err} = \frac{\lVert g - g^{\mathrm{num}} \rVert}{\lVert g \rVert + \lVert g^{\mathrm{num}} \rVert}.$$
#
# A correct backward gives errors near $10^{-9}$ and below; a wrong one, errors of order $10^{-2}$ to 1.
# The project's audit (`python -m ser_ref.audit`) runs the same check with these two functions:

# %%
show(numeric_grad)
show(rel_err)


# %% [markdown]
# **Check 1: a small frame classifier** (dense 5 → 8, relu, dense 8 → 4, weighted softmax
# cross-entropy), every parameter.

# %%
x = rng.normal(size=(6, 5))
labels = rng.integers(0, 4, 6)
weights = rng.uniform(0.5, 2.0, 4)[labels]
W1, b1 = rng.normal(size=(5, 8)), rng.normal(size=8) * 0.1
W2, b2 = rng.normal(size=(8, 4)), rng.normal(size=4) * 0.1


def net_loss():
    a, _ = relu_forward(dense_forward(x, W1, b1)[0])
    return float(softmax_cross_entropy_forward(dense_forward(a, W2, b2)[0], labels, weights)[0])


z1, cache1 = dense_forward(x, W1, b1)
a1, relu_cache = relu_forward(z1)
z2, cache2 = dense_forward(a1, W2, b2)
_, ce_cache = softmax_cross_entropy_forward(z2, labels, weights)
dz2 = softmax_cross_entropy_backward(ce_cache)
da1, dW2, db2 = dense_backward(dz2, cache2)
_, dW1, db1 = dense_backward(relu_backward(da1, relu_cache), cache1)
errors = {name: rel_err(g, numeric_grad(net_loss, p))
          for name, g, p in (("W1", dW1, W1), ("b1", db1, b1), ("W2", dW2, W2), ("b2", db2, b2))}
print({k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-6

# %% [markdown]
# **Check 2: the LSTM**, tanh and relu cells, a padded batch (sequences of 5, 3 and 1 real steps),
# $L = \sum_{t} R_t \cdot h_t$ for a fixed random $R$; the gradients of $x$, $W$, $U$, $b$, both from the
# reference loop and from the compiled loop the pipeline runs.

# %%
B, T, n, H = 3, 5, 4, 3
mask = (np.arange(T)[None] < np.array([5, 3, 1])[:, None]).astype(np.float64)
worst = {}
for act in ("tanh", "relu"):
    xs = rng.normal(size=(B, T, n))
    W, U, b = rng.normal(size=(n, 4 * H)) * 0.5, rng.normal(size=(H, 4 * H)) * 0.5, rng.normal(size=4 * H) * 0.1
    R = rng.normal(size=(B, T, H))

    def lstm_loss():
        return float(np.sum(R * lstm_forward_reference(xs, W, U, b, activation=act, mask=mask)[0]))

    numeric = [numeric_grad(lstm_loss, p) for p in (xs, W, U, b)]
    for name, forward, backward in (("reference", lstm_forward_reference, lstm_backward_reference),
                                    ("compiled", lstm_forward, lstm_backward)):
        _, cache = forward(xs, W, U, b, activation=act, mask=mask)
        grads = backward(R, cache)
        worst[(act, name)] = max(rel_err(g, num) for g, num in zip(grads, numeric))
print({f"{a}, {k}": f"{v:.1e}" for (a, k), v in worst.items()})
assert max(worst.values()) < 1e-6

# %% [markdown]
# ## 3. Figures: choosing $\epsilon$, and gradients through time
#
# Left: the check's error for $\partial L / \partial W_1$ of check 1 as $\epsilon$ shrinks. Too large,
# and the $O(\epsilon^2)$ truncation dominates; too small, and the rounding of $L$ (about
# $10^{-16} L$) divided by $\epsilon$ does. Right: how much of a loss at the *last* step reaches the
# input at step $t$, $\lVert \partial L / \partial x_t \rVert$, for a tanh and a relu LSTM: the
# gradient fades (or grows) geometrically as it travels back, one reason long sequences are hard to
# train (the project's utterance LSTM sees at most 100 frames, a random crop in each epoch:
# `docs/training-choices.md`).

# %%
epsilons = 10.0 ** -np.arange(1, 13)
sweep = [rel_err(dW1, numeric_grad(net_loss, W1, eps)) for eps in epsilons]

T_long, H_long = 80, 16
long_grads = {}
for act, scale in (("tanh", 0.35), ("relu", 0.35)):
    r = np.random.default_rng(1)
    xs = r.normal(size=(1, T_long, 4))
    W, U = r.normal(size=(4, 4 * H_long)) * scale, r.normal(size=(H_long, 4 * H_long)) * scale
    b = np.zeros(4 * H_long)
    h, cache = lstm_forward(xs, W, U, b, activation=act)
    dh = np.zeros_like(h)
    dh[:, -1] = r.normal(size=H_long)                       # a loss on the last step only
    dx = lstm_backward(dh, cache)[0]
    long_grads[act] = np.linalg.norm(dx[0], axis=1)

fig, ax = plt.subplots(1, 2, figsize=(13, 4.3))
ax[0].loglog(epsilons, sweep, "o-")
ax[0].axvline(np.finfo(float).eps ** (1 / 3), color="C3", ls=":", label=r"$\epsilon_{\mathrm{machine}}^{1/3}$")
ax[0].set(xlabel=r"$\epsilon$", ylabel="relative error of the check",
          title=r"the gradient check against $\epsilon$")
ax[0].invert_xaxis()
ax[0].legend()
for act, g in long_grads.items():
    ax[1].semilogy(np.arange(T_long), np.maximum(g, 1e-300), label=f"{act} cell")
ax[1].set(xlabel="input step t (the loss is at the last step)", ylabel=r"$\|\,\partial L / \partial x_t\,\|$",
          title="backpropagation through time")
ax[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Logits $z = (0, 0, 0, 0)$, label $y = 2$, weight 1: what is $\partial L / \partial z_2$?

# %%
answer_1 = None   # a number

# %%
solution_1 = 0.25 - 1
_, cache = softmax_cross_entropy_forward(np.zeros((1, 4)), np.array([2]))
assert np.isclose(softmax_cross_entropy_backward(cache)[0, 2], solution_1)
check("Exercise 1", answer_1, solution_1, tol=1e-9)

# %% [markdown]
# **Exercise 2.** In the left figure, at which $\epsilon$ (as a power of ten: answer $-5$ for
# $10^{-5}$) is the check most accurate? Theory: where truncation $\sim \epsilon^2$ meets rounding
# $\sim 10^{-16}/\epsilon$, near $\epsilon \approx 10^{-16/3}$.

# %%
answer_2 = None   # an integer (the exponent)

# %%
solution_2 = int(np.log10(epsilons[int(np.argmin(sweep))]))
assert abs(solution_2 - np.log10(np.finfo(float).eps) / 3) <= 1.5
check("Exercise 2", answer_2, solution_2)

# %% [markdown]
# **Exercise 3.** Break the dense backward: take `db = dy[0]` (the first row) instead of the sum over
# the rows. For $L = \sum R \odot y$ with the layer of check 1 ($x$, $W_1$, $b_1$) and a random $R$,
# what relative error does the check of $b$ report? (Which check fails, and by how much?)

# %%
answer_3 = None   # a number (two significant digits)

# %%
R = np.random.default_rng(3).normal(size=(6, 8))
dense_loss = lambda: float(np.sum(R * dense_forward(x, W1, b1)[0]))  # noqa: E731
numeric_db = numeric_grad(dense_loss, b1)
assert rel_err(dense_backward(R, dense_forward(x, W1, b1)[1])[2], numeric_db) < 1e-8   # the right one passes
solution_3 = rel_err(R[0], numeric_db)                                                 # the broken one
print(f"db = dy[0]: relative error {solution_3:.2f} (the check's bound is 1e-6)")
assert solution_3 > 1e-6
check("Exercise 3", answer_3, solution_3, tol=0.01)
