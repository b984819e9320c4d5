"""Layer-level checks of ser_ref.nn: finite differences in float64 (every parameter and input,
masks included) and, when PyTorch is installed, agreement with torch.nn.LSTM / Linear / cross_entropy."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import needs
from ser_ref.audit.oracles import numeric_grad, rel_err, torch_lstm
from ser_ref.nn import (NNInputError, dense_backward, dense_forward, lstm_backward, lstm_forward,
                        relu_backward, relu_forward, softmax_cross_entropy_backward,
                        softmax_cross_entropy_forward)
from ser_ref.nn.lstm import lstm_backward_reference, lstm_forward_reference
from ser_ref.nn.nets import lstm_clf_init, lstm_clf_loss_grads, mlp_init, mlp_loss_grads

TOL = 1e-6
# both LSTM paths of the CPU: the compiled time loop (public) and the plain NumPy reference
LSTM_PATHS = pytest.mark.parametrize("fwd, bwd", [(lstm_forward, lstm_backward),
                                                  (lstm_forward_reference, lstm_backward_reference)],
                                     ids=["compiled", "reference"])


def random_mask(rng, B, T):
    """Right-padded mask with varied lengths, one full row and one of length 1."""
    lens = rng.integers(1, T + 1, size=B)
    lens[0], lens[-1] = T, 1
    return (np.arange(T)[None, :] < lens[:, None]).astype(np.float64)


def test_dense_gradients(rng):
    x, W, b = rng.normal(size=(6, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    R = rng.normal(size=(6, 3))  # loss = sum(R * y) gives dy = R
    y, cache = dense_forward(x, W, b)
    np.testing.assert_allclose(y, x @ W + b)
    dx, dW, db = dense_backward(R, cache)
    f = lambda: (R * dense_forward(x, W, b)[0]).sum()  # noqa: E731
    for a, g in ((x, dx), (W, dW), (b, db)):
        assert rel_err(numeric_grad(f, a), g) < TOL


def test_relu_gradient(rng):
    z = rng.normal(size=(7, 4))
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the kink
    R = rng.normal(size=z.shape)
    y, cache = relu_forward(z)
    assert rel_err(numeric_grad(lambda: (R * relu_forward(z)[0]).sum(), z), relu_backward(R, cache)) < TOL


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_ce_gradient_and_stability(rng, weighted):
    z = rng.normal(size=(8, 4)) * 3
    y = rng.integers(0, 4, 8)
    w = rng.uniform(0.2, 3, 8) if weighted else None
    loss, cache = softmax_cross_entropy_forward(z, y, w)
    ww = np.ones(8) if w is None else w
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert loss == pytest.approx((ww * -np.log(p[np.arange(8), y])).sum() / ww.sum(), rel=1e-12)
    g = softmax_cross_entropy_backward(cache)
    assert rel_err(numeric_grad(lambda: softmax_cross_entropy_forward(z, y, w)[0], z), g) < TOL
    big, _ = softmax_cross_entropy_forward(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert np.isfinite(big) and big == pytest.approx(2000.0)


@LSTM_PATHS
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_gradients_full_sequence(rng, activation, masked, fwd, bwd):
    B, T, n, H = 4, 6, 3, 5
    x = rng.normal(size=(B, T, n))
    W, U = rng.normal(size=(n, 4 * H)) * 0.5, rng.normal(size=(H, 4 * H)) * 0.5
    b = rng.normal(size=4 * H) * 0.5
    mask = random_mask(rng, B, T) if masked else None
    R = rng.normal(size=(B, T, H))
    if masked:
        R = R * mask[:, :, None]  # padded outputs are not part of the loss
    h, cache = fwd(x, W, U, b, activation=activation, mask=mask)
    dx, dW, dU, db = bwd(R, cache)
    f = lambda: (R * fwd(x, W, U, b, activation=activation, mask=mask)[0]).sum()  # noqa: E731
    for a, g in ((x, dx), (W, dW), (U, dU), (b, db)):
        assert rel_err(numeric_grad(f, a), g) < TOL


@LSTM_PATHS
def test_lstm_mask_matches_unpadded_run(rng, fwd, bwd):
    """A padded sequence's outputs equal the run on the sequence alone; its last output is the last state."""
    n, H, T = 3, 4, 7
    W, U, b = rng.normal(size=(n, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    short = rng.normal(size=(1, 4, n))
    x = np.concatenate([np.concatenate([short, rng.normal(size=(1, T - 4, n))], axis=1),
                        rng.normal(size=(1, T, n))])
    mask = np.array([[1] * 4 + [0] * (T - 4), [1] * T], dtype=float)
    h, _ = fwd(x, W, U, b, mask=mask)
    h_alone, _ = fwd(short, W, U, b)
    np.testing.assert_allclose(h[0, :4], h_alone[0], rtol=1e-12)
    np.testing.assert_allclose(h[0, -1], h_alone[0, -1], rtol=1e-12)


@LSTM_PATHS
def test_lstm_one_step_closed_form(rng, fwd, bwd):
    """From h_0 = c_0 = 0 one step is h = o * tanh(i * g)."""
    n, H = 3, 2
    x, W, U, b = rng.normal(size=(1, 1, n)), rng.normal(size=(n, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    z = x[0, 0] @ W + b
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, o, g = sig(z[:H]), sig(z[3 * H:]), np.tanh(z[2 * H:3 * H])
    h, _ = fwd(x, W, U, b)
    np.testing.assert_allclose(h[0, 0], o * np.tanh(i * g), rtol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_classifier_gradients(rng, activation, masked):
    """The whole LSTM / LSTM2 network (LSTM -> last state -> dense -> weighted softmax-CE)."""
    B, T, n, H, K = 4, 5, 3, 4, 4
    p = {k: v + 0.2 * rng.normal(size=v.shape) for k, v in lstm_clf_init(rng, n, H, K, np.float64).items()}
    x, y, w = rng.normal(size=(B, T, n)), rng.integers(0, K, B), rng.uniform(0.5, 2, B)
    mask = random_mask(rng, B, T) if masked else None
    _, g = lstm_clf_loss_grads(p, x, y, w, mask=mask, activation=activation, need_dx=True)
    f = lambda: lstm_clf_loss_grads(p, x, y, w, mask=mask, activation=activation)[0]  # noqa: E731
    for k in p:
        assert rel_err(numeric_grad(f, p[k]), g[k]) < TOL, k
    assert rel_err(numeric_grad(f, x), g["x"]) < TOL


@pytest.mark.parametrize("sizes", [[6, 5, 4], [8, 4]])
def test_mlp_gradients(rng, sizes):
    """Frame Dense / Dense1 (one hidden relu layer) and Dense2 (a single dense softmax)."""
    p = mlp_init(rng, sizes, np.float64)
    p = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in p.items()}
    x, y, w = rng.normal(size=(9, sizes[0])), rng.integers(0, sizes[-1], 9), rng.uniform(0.5, 2, 9)
    _, g = mlp_loss_grads(p, x, y, w)
    for k in p:
        assert rel_err(numeric_grad(lambda: mlp_loss_grads(p, x, y, w)[0], p[k]), g[k]) < TOL, k


def test_bad_shapes_raise_clear_errors(rng):
    with pytest.raises(NNInputError, match="dense"):
        dense_forward(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5))
    with pytest.raises(NNInputError, match="lstm"):
        lstm_forward(np.zeros((2, 3, 4)), np.zeros((4, 8)), np.zeros((3, 12)), np.zeros(12))
    with pytest.raises(NNInputError, match="mask"):
        lstm_forward(np.zeros((2, 3, 4)), np.zeros((4, 12)), np.zeros((3, 12)), np.zeros(12), mask=np.ones((2, 4)))
    with pytest.raises(NNInputError, match="activation"):
        lstm_forward(np.zeros((2, 3, 4)), np.zeros((4, 12)), np.zeros((3, 12)), np.zeros(12), activation="elu")


# ---------------------------------------------------------------- PyTorch oracle (float32)
def test_lstm_matches_torch(rng):
    needs("torch")
    from ser_ref.audit.oracle_checks import lstm_torch_max_abs_diff

    assert lstm_torch_max_abs_diff(rng, B=5) <= 1e-5


@LSTM_PATHS
def test_masked_lstm_last_state_matches_torch_packed(rng, fwd, bwd):
    """Our carried last state == torch's h_n of a packed sequence (the standard variable-length form)."""
    torch = needs("torch")
    B, T, n, H = 4, 12, 6, 8
    lens = np.array([12, 7, 3, 1])
    x = rng.normal(size=(B, T, n)).astype(np.float32)
    mask = (np.arange(T)[None] < lens[:, None]).astype(np.float32)
    W, U = (rng.normal(size=(n, 4 * H)) * 0.3).astype(np.float32), (rng.normal(size=(H, 4 * H)) * 0.3).astype(np.float32)
    b = (rng.normal(size=4 * H) * 0.3).astype(np.float32)
    h, _ = fwd(x, W, U, b, mask=mask)
    m = torch_lstm(W, U, b)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lens),
                                                     batch_first=True, enforce_sorted=False)
    _, (hn, _) = m(packed)
    np.testing.assert_allclose(h[:, -1], hn[0].detach().numpy(), atol=1e-5, rtol=1e-5)


def test_dense_softmax_ce_matches_torch(rng):
    torch = needs("torch")
    N, n, K = 32, 50, 4
    x = rng.normal(size=(N, n)).astype(np.float32)
    W, b = (rng.normal(size=(n, K)) * 0.2).astype(np.float32), (rng.normal(size=K) * 0.2).astype(np.float32)
    y = rng.integers(0, K, N)
    cw = np.array([1.0, 2.0, 0.5, 1.5], dtype=np.float32)
    z, dc = dense_forward(x, W, b)
    loss, ce = softmax_cross_entropy_forward(z, y, cw[y])
    dx, dW, db = dense_backward(softmax_cross_entropy_backward(ce), dc)
    xt = torch.from_numpy(x).requires_grad_(True)
    lin = torch.nn.Linear(n, K)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W.T.copy()))
        lin.bias.copy_(torch.from_numpy(b))
    lt = torch.nn.functional.cross_entropy(lin(xt), torch.from_numpy(y), weight=torch.from_numpy(cw))
    lt.backward()
    assert float(loss) == pytest.approx(lt.item(), rel=1e-5)
    for ours, theirs in ((dx, xt.grad), (dW, lin.weight.grad.T), (db, lin.bias.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5, rtol=1e-5)
