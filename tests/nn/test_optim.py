"""Optimisers against PyTorch's update formulas written out by hand, gradient clipping, and an
end-to-end check: a small MLP trained with Adam learns a nonlinear problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nploss.autograd as ag
from nploss import nn, optim
from nploss.autograd import Tensor

P0 = np.array([0.5, -1.5, 2.0, 0.0])
G = np.array([0.3, -0.2, 1.0e-3, -4.0])


def param(values=P0, dtype=np.float64):
    return nn.Parameter(np.array(values, dtype=dtype))


def run(opt_cls, steps=3, grad=G, **kwargs):
    """Apply ``steps`` updates with the fixed gradient ``grad``; return the parameter values."""
    p = param()
    opt = opt_cls([p], **kwargs)
    for _ in range(steps):
        p.grad = Tensor(grad.copy())
        opt.step()
    return p.data


# ------------------------------------------------------------------------------ SGD


def test_sgd_plain_step():
    np.testing.assert_allclose(run(optim.SGD, steps=1, lr=0.1), P0 - 0.1 * G, rtol=1e-15)
    np.testing.assert_allclose(run(optim.SGD, steps=3, lr=0.1), P0 - 0.3 * G, rtol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_dampening_weight_decay_match_pytorch_recurrence(nesterov):
    lr, mu, tau, wd = 0.1, 0.9, 0.0 if nesterov else 0.25, 0.01
    p, buf = P0.copy(), None
    for _ in range(3):
        d = G + wd * p
        buf = d.copy() if buf is None else mu * buf + (1 - tau) * d  # first step: undamped
        p = p - lr * (d + mu * buf if nesterov else buf)
    got = run(optim.SGD, lr=lr, momentum=mu, dampening=tau, nesterov=nesterov, weight_decay=wd)
    np.testing.assert_allclose(got, p, rtol=1e-14)


def test_sgd_momentum_closed_form_for_constant_gradient():
    # b_t = g (1 + mu + ... + mu^{t-1}) without dampening, so after 3 steps
    # p = p0 - lr g (1 + (1 + mu) + (1 + mu + mu^2)).
    mu = 0.5
    expected = P0 - 0.1 * G * (1 + (1 + mu) + (1 + mu + mu**2))
    np.testing.assert_allclose(run(optim.SGD, lr=0.1, momentum=mu), expected, rtol=1e-14)


# ------------------------------------------------------------------------------ Adam / AdamW


def adam_reference(steps, lr, b1, b2, eps, wd, decoupled):
    p, m, v = P0.copy(), np.zeros(4), np.zeros(4)
    for t in range(1, steps + 1):
        g = G.copy()
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
    return p


def test_adam_constant_gradient_closed_form():
    # With a constant g the bias-corrected moments are exactly g and g^2 at every step, so each
    # step moves by lr * g / (|g| + eps): about lr * sign(g), whatever the gradient's scale.
    lr, eps = 0.01, 1e-8
    expected = P0 - 3 * lr * G / (np.abs(G) + eps)
    np.testing.assert_allclose(run(optim.Adam, lr=lr, eps=eps), expected, rtol=1e-12)
    # A large eps damps small gradients: the 1e-3 entry moves by lr * 1e-3 / (1e-3 + 1e-3) per step.
    got = run(optim.Adam, steps=1, lr=lr, eps=1e-3)
    assert got[2] == pytest.approx(P0[2] - lr * 0.5, rel=1e-9)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_matches_pytorch_formula(wd):
    got = run(optim.Adam, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    np.testing.assert_allclose(got, adam_reference(3, 0.05, 0.8, 0.95, 1e-6, wd, decoupled=False), rtol=1e-13)


def test_adamw_decouples_weight_decay():
    lr, wd = 0.05, 0.1
    got = run(optim.AdamW, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(got, adam_reference(3, lr, 0.9, 0.999, 1e-8, wd, decoupled=True), rtol=1e-13)
    # One step from the closed form: shrink, then the sign-like Adam step.
    one = run(optim.AdamW, steps=1, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(one, P0 * (1 - lr * wd) - lr * G / (np.abs(G) + 1e-8), rtol=1e-13)
    # L2 (Adam) and decoupled decay (AdamW) differ.
    assert not np.allclose(got, run(optim.Adam, lr=lr, weight_decay=wd))
    assert optim.AdamW([param()]).weight_decay == 1e-2
    # Decoupled decay acts even on a zero gradient, where Adam's update is 0 / (0 + eps) = 0.
    np.testing.assert_allclose(run(optim.AdamW, steps=1, grad=np.zeros(4), lr=lr, weight_decay=wd), P0 * (1 - lr * wd))


def test_float32_parameters_stay_float32():
    for cls, kwargs in [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {}), (optim.AdamW, {})]:
        p = param(dtype=np.float32)
        opt = cls([p], **kwargs)
        p.grad = Tensor(G.astype(np.float32))
        opt.step()
        assert p.data.dtype == np.float32


# ------------------------------------------------------------------------------ the step loop


def test_params_without_grad_are_skipped_and_zero_grad_clears():
    a, b = param(), param([1.0, 2.0, 3.0, 4.0])
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = Tensor(G.copy())
    opt.step()
    np.testing.assert_array_equal(b.data, [1.0, 2.0, 3.0, 4.0])
    assert 1 not in opt.state and opt.state[0]["step"] == 1
    assert not np.allclose(a.data, P0)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.step()  # nothing has a gradient: nothing moves
    assert opt.state[0]["step"] == 1


def test_step_does_not_modify_gradients_shared_between_leaves():
    # For c = a + b the engine hands a and b the same gradient array: an optimiser writing
    # into it would corrupt b's gradient while updating a.
    a, b = param(), param()
    (a + b).sum().backward()
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(a.grad.data, np.ones(4))
    np.testing.assert_array_equal(b.grad.data, np.ones(4))
    np.testing.assert_allclose(a.data, b.data)


def test_optimizer_state_dict_round_trip_resumes_exactly():
    def fresh():
        p = param()
        return p, optim.Adam([p], lr=0.05, weight_decay=0.01)

    p, opt = fresh()
    for _ in range(4):
        p.grad = Tensor(G * (1 + p.data))
        opt.step()
    uninterrupted = p.data.copy()

    p, opt = fresh()
    for _ in range(2):
        p.grad = Tensor(G * (1 + p.data))
        opt.step()
    saved_values, saved_state = p.data.copy(), opt.state_dict()
    opt.state[0]["exp_avg"][...] = 99.0  # the saved state is a copy
    p2, opt2 = fresh()
    p2.data[...] = saved_values
    opt2.load_state_dict(saved_state)
    for _ in range(2):
        p2.grad = Tensor(G * (1 + p2.data))
        opt2.step()
    np.testing.assert_allclose(p2.data, uninterrupted, rtol=1e-14)
    with pytest.raises(ValueError, match="hyperparameters"):
        optim.SGD([param()], lr=0.1).load_state_dict(saved_state)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD(p, lr=-0.1), r"SGD: lr must be in \[0.0, inf\], got -0.1"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True requires momentum > 0"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening == 0"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay"),
        (lambda p: optim.Adam(p, lr=-1e-3), "Adam: lr"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\] must be in \[0.0, 1.0\)"),
        (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), r"AdamW: betas\[1\]"),
        (lambda p: optim.Adam(p, betas=(0.9,)), "betas must be a pair"),
        (lambda p: optim.Adam(p, eps=-1.0), "eps"),
        (lambda p: optim.Adam([]), "empty parameter list"),
        (lambda p: optim.SGD(p + p, lr=0.1), "more than once"),
        (lambda p: optim.SGD([Tensor(np.ones(2))], lr=0.1), "does not require grad"),
    ],
)
def test_invalid_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make([param()])


def test_invalid_argument_types_raise_type_error():
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(param(), lr=0.1)
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adam([param()], lr="0.1")
    with pytest.raises(TypeError, match=r"params\[0\] must be a Tensor"):
        optim.SGD([np.ones(3)], lr=0.1)


# ------------------------------------------------------------------------------ clipping


def _with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = Tensor(np.array(g, dtype=float))
        params.append(p)
    return params


@pytest.mark.parametrize(
    ("norm_type", "expected"),
    [(2.0, 13.0), (1.0, 3 + 4 + 12), (math.inf, 12.0), (3.0, (27 + 64 + 1728) ** (1 / 3))],
)
def test_clip_grad_norm_total_norm_and_scaling(norm_type, expected):
    grads = [np.array([3.0, -4.0]), np.array([[12.0]])]
    params = _with_grads(*grads) + [nn.Parameter(np.ones(2))]  # the last has no grad: ignored
    total = optim.clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-12)
    scale = 1.0 / (expected + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.data, g * scale, rtol=1e-12)
    assert params[2].grad is None
    clipped = np.concatenate([p.grad.data.ravel() for p in params[:2]])
    assert np.linalg.norm(clipped, ord=norm_type) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_and_handles_shared_ones():
    params = _with_grads(np.array([0.3, 0.4]))
    assert optim.clip_grad_norm_(params, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(params[0].grad.data, [0.3, 0.4])
    assert optim.clip_grad_norm_(params[0], max_norm=0.25) == pytest.approx(0.5)  # a single Tensor
    np.testing.assert_allclose(params[0].grad.data, [0.15, 0.2], rtol=1e-5)
    # Two leaves whose gradients are one array: each must be scaled once, not twice.
    a, b = param(), param()
    (a + b).sum().backward()
    total = optim.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(math.sqrt(8))
    np.testing.assert_allclose(a.grad.data, np.ones(4) / (math.sqrt(8) + 1e-6))
    np.testing.assert_allclose(b.grad.data, np.ones(4) / (math.sqrt(8) + 1e-6))
    assert optim.clip_grad_norm_([param()], max_norm=1.0) == 0.0  # no gradients at all
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm_(params, max_norm=-1.0)
    with pytest.raises(ValueError, match="norm_type must be positive"):
        optim.clip_grad_norm_(params, max_norm=1.0, norm_type=0)
    inf_grad = _with_grads(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="total norm"):
        optim.clip_grad_norm_(inf_grad, max_norm=1.0, error_if_nonfinite=True)


# ------------------------------------------------------------------------------ end to end


def two_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = rng.uniform(0.0, math.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper[:, None], np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    x = x + noise * rng.standard_normal((n, 2))
    return (x - x.mean(axis=0)) / x.std(axis=0), upper.astype(np.int64)


def cross_entropy(logits: Tensor, labels: np.ndarray) -> Tensor:
    log_probs = ag.log_softmax(logits, axis=1)
    return -ag.mean(log_probs[np.arange(len(labels)), labels])


def test_mlp_learns_two_moons_with_adam():
    rng = np.random.default_rng(0)
    x, y = two_moons(256, 0.1, rng)
    model = nn.Sequential(nn.Linear(2, 32, rng=rng), nn.ReLU(), nn.Linear(32, 2, rng=rng))
    opt = optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(400):
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with ag.no_grad():
        logits = model(x)
        final_loss = cross_entropy(logits, y).item()
    accuracy = float(np.mean(np.argmax(logits.data, axis=1) == y))
    # A linear classifier tops out near 0.88 on two moons: this needs the hidden layer.
    assert accuracy >= 0.95, accuracy
    assert final_loss < losses[0] / 10, (losses[0], final_loss)


def test_hyperparameters_can_change_between_steps():
    p = param()
    opt = optim.SGD([p], lr=0.1)
    p.grad = Tensor(G.copy())
    opt.step()
    opt.lr = 0.0  # e.g. a schedule reaching zero
    opt.step()
    np.testing.assert_allclose(p.data, P0 - 0.1 * G, rtol=1e-15)
