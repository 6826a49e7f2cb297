"""Reinforcement learning losses: PyTorch recipes as references, constant targets that receive no
gradient, discounted returns worked by hand, properties and bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nploss.autograd as ag
import nploss.losses as L
from nploss.audit import audit_loss
from nploss.autograd import Tensor

from .torch_reference import assert_matches_torch, load

TORCH = load("rl")
REDUCTIONS = ("mean", "sum", "none")
PG_SETTINGS = {
    "plain": (0.99, None, False),
    "gamma1": (1.0, None, False),
    "gamma0": (0.0, None, False),
    "mean": (0.9, "mean", False),
    "normalized": (0.99, "mean", True),
    "normalized-nobaseline": (0.9, None, True),
}


def _td(gamma, r, huber=False, delta=1.0):
    return lambda **t: L.td(**t, gamma=gamma, huber=huber, delta=delta, reduction=r)


def _pg(gamma, baseline, normalize, r):
    return lambda log_probs, rewards: L.policy_gradient(log_probs, rewards, gamma, baseline, normalize, reduction=r)


NPLOSS = {
    **{f"td-mse-g{g}-{r}": _td(g, r) for g in (0.99, 0.5) for r in REDUCTIONS},
    **{f"td-huber-d{d}-{r}": _td(0.9, r, huber=True, delta=d) for d in (0.5, 1.0, 2.0) for r in ("mean", "none")},
    "td-smooth_l1-none": _td(0.9, "none", huber=True, delta=1.0),
    **{
        f"pg-{data}-{name}-{r}": _pg(*setting, r)
        for data in ("episode", "batch")
        for name, setting in PG_SETTINGS.items()
        for r in ("sum", "mean", "none")
    },
    "pg-batch-array-baseline-sum": lambda log_probs, rewards, baseline: L.policy_gradient(
        log_probs, rewards, 0.95, baseline=baseline
    ),
}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch(case_id):
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


# ------------------------------------------------------------------------------------ td


def _transitions(seed=0, n=5, a=3):
    rng = np.random.default_rng(seed)
    return dict(
        q_values=rng.standard_normal((n, a)),
        actions=rng.integers(0, a, n),
        rewards=rng.standard_normal(n),
        next_q_values=rng.standard_normal((n, a)),
        dones=(rng.random(n) < 0.3).astype(float),
    )


@pytest.mark.parametrize("mode", ["fused", "composite"])
@pytest.mark.parametrize("huber", [False, True])
def test_td_target_receives_no_gradient(mode, huber):
    t = _transitions()
    q = Tensor(t["q_values"], requires_grad=True)
    next_q = Tensor(t["next_q_values"], requires_grad=True)  # e.g. the online network on s'
    rewards = Tensor(t["rewards"], requires_grad=True)
    with L.composite() if mode == "composite" else contextlib.nullcontext():
        loss = L.td(q, t["actions"], rewards, next_q, t["dones"], huber=huber)
    loss.backward()
    assert next_q.grad is None and rewards.grad is None
    assert q.grad is not None
    # only the chosen action's column gets a gradient
    chosen = np.zeros_like(t["q_values"], dtype=bool)
    chosen[np.arange(5), t["actions"]] = True
    assert np.all(q.grad.numpy()[~chosen] == 0) and np.all(q.grad.numpy()[chosen] != 0)


def test_td_hand_worked_terminal_and_bootstrap():
    q = np.array([[1.0, 2.0], [0.0, 5.0]])
    next_q = np.array([[0.5, 3.0], [10.0, 20.0]])
    # y = 1 + 0.5 * 3 = 2.5 (bootstrapped); y = 2 (terminal: no bootstrap)
    value = L.td(q, np.array([1, 1]), np.array([1.0, 2.0]), next_q, np.array([0.0, 1.0]), gamma=0.5, reduction="none")
    np.testing.assert_allclose(value, [0.5 * 0.25, 0.5 * 9.0])
    actions, rewards = np.array([1, 1]), np.array([1.0, 2.0])
    huber = L.td(q, actions, rewards, next_q, np.array([False, True]), gamma=0.5, huber=True, reduction="none")
    np.testing.assert_allclose(huber, [0.125, 3.0 - 0.5])
    t = Tensor(q, requires_grad=True)
    L.td(t, actions, rewards, next_q, np.array([0, 1]), gamma=0.5, huber=True, reduction="sum").backward()
    np.testing.assert_allclose(t.grad.numpy(), [[0.0, -0.5], [0.0, 1.0]])  # the error clipped to [-1, 1]


@given(
    q=hnp.arrays(np.float64, (4, 3), elements=st.floats(-50, 50)),
    actions=hnp.arrays(np.int64, 4, elements=st.integers(0, 2)),
    rewards=hnp.arrays(np.float64, 4, elements=st.floats(-10, 10)),
    gamma=st.floats(0, 1),
)
def test_td_properties(q, actions, rewards, gamma):
    next_q, dones = np.roll(q, 1, axis=0), np.zeros(4)
    mse = L.td(q, actions, rewards, next_q, dones, gamma=gamma, reduction="none")
    assert np.all(mse >= 0)
    # a threshold above every error: the Huber variant is the squared one
    wide = L.td(q, actions, rewards, next_q, dones, gamma=gamma, huber=True, delta=1e3, reduction="none")
    np.testing.assert_allclose(wide, mse, rtol=1e-12, atol=1e-12)
    # Huber never exceeds half the squared error
    huber = L.td(q, actions, rewards, next_q, dones, gamma=gamma, huber=True, delta=0.5, reduction="none")
    assert np.all(huber <= mse + 1e-12)
    # zero loss when Q(s, a) is its target
    q_sa = q[np.arange(4), actions]
    target = q_sa - 0.0
    exact = L.td(q, actions, target, next_q, np.ones(4), gamma=gamma, reduction="none")
    np.testing.assert_array_equal(exact, 0.0)
    mean = float(L.td(q, actions, rewards, next_q, dones, gamma=gamma))
    assert mean == pytest.approx(mse.mean(), rel=1e-12, abs=1e-12)


def test_td_dtype_bool_dones_and_float32():
    t = _transitions(1)
    as_bool = L.td(**{**t, "dones": t["dones"].astype(bool)})
    assert float(as_bool) == float(L.td(**t))
    single = L.td(**{k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in t.items()})
    assert single.dtype == np.float32


def test_td_bad_input():
    t = _transitions()
    with pytest.raises(ValueError, match=r"actions must be class labels in \[0, 3\)"):
        L.td(**{**t, "actions": np.array([0, 1, 2, 3, 0])})
    with pytest.raises(TypeError, match="actions must hold integer class labels"):
        L.td(**{**t, "actions": t["actions"].astype(float)})
    with pytest.raises(ValueError, match=r"rewards must have shape \(5,\)"):
        L.td(**{**t, "rewards": np.zeros((5, 1))})
    with pytest.raises(ValueError, match=r"next_q_values must have the shape of q_values \(5, 3\), got \(5, 4\)"):
        L.td(**{**t, "next_q_values": np.zeros((5, 4))})
    with pytest.raises(ValueError, match="dones must hold 0 or 1"):
        L.td(**{**t, "dones": np.full(5, 0.5)})
    with pytest.raises(ValueError, match=r"q_values must be \(N, A\)"):
        L.td(**{**t, "q_values": np.zeros(5)})
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        L.td(**t, gamma=1.5)
    with pytest.raises(ValueError, match="delta must be positive"):
        L.td(**t, huber=True, delta=0.0)
    with pytest.raises(ValueError, match="next_q_values contains NaN"):
        L.td(**{**t, "next_q_values": np.full((5, 3), np.nan)})


# ------------------------------------------------------------------------------------ policy gradient


def test_discounted_returns_hand_worked():
    np.testing.assert_allclose(L.discounted_returns(np.array([1.0, 0.0, 2.0]), 0.5), [1.5, 1.0, 2.0])
    np.testing.assert_allclose(L.discounted_returns(np.array([[1, 1, 1], [0, 0, 4]]), 1.0), [[3, 2, 1], [4, 4, 4]])
    np.testing.assert_allclose(L.discounted_returns(np.array([3.0, -1.0]), 0.0), [3.0, -1.0])


@given(
    log_probs=hnp.arrays(np.float64, (2, 5), elements=st.floats(-20, 0)),
    rewards=hnp.arrays(np.float64, (2, 5), elements=st.floats(-10, 10)),
    gamma=st.floats(0, 1),
    b=st.floats(-5, 5),
)
def test_policy_gradient_properties(log_probs, rewards, gamma, b):
    returns = L.discounted_returns(rewards, gamma)
    value = L.policy_gradient(log_probs, rewards, gamma)
    assert float(value) == pytest.approx(-(log_probs * returns).sum(), rel=1e-12, abs=1e-9)
    # a constant baseline shifts the surrogate by b * sum log pi (its expected gradient is 0)
    shifted = L.policy_gradient(log_probs, rewards, gamma, baseline=b)
    assert float(shifted) == pytest.approx(float(value) + b * log_probs.sum(), rel=1e-9, abs=1e-9)
    # the gradient with respect to log pi is minus the advantage
    t = Tensor(log_probs, requires_grad=True)
    (g,) = ag.grad(L.policy_gradient(t, rewards, gamma, baseline="mean"), [t])
    np.testing.assert_allclose(g.numpy(), -(returns - returns.mean()), rtol=1e-12, atol=1e-12)


def test_policy_gradient_returns_and_baseline_are_constants():
    rng = np.random.default_rng(0)
    log_probs = Tensor(np.log(rng.uniform(0.1, 1.0, 6)), requires_grad=True)
    rewards = Tensor(rng.standard_normal(6), requires_grad=True)
    baseline = Tensor(rng.standard_normal(6), requires_grad=True)  # a critic's V(s_t)
    for mode in ("fused", "composite"):
        with L.composite() if mode == "composite" else contextlib.nullcontext():
            loss = L.policy_gradient(log_probs, rewards, baseline=baseline, normalize=True)
        grads = ag.grad(loss, [log_probs, rewards, baseline], allow_unused=True)
        assert grads[1] is None and grads[2] is None and grads[0] is not None


def test_policy_gradient_normalize_is_standardised_advantages():
    rewards = np.array([1.0, 0.0, 0.0, 2.0])
    returns = L.discounted_returns(rewards, 0.9)
    advantages = (returns - returns.mean()) / (returns.std(ddof=1) + np.finfo(np.float32).eps)
    t = Tensor(np.zeros(4), requires_grad=True)
    (g,) = ag.grad(L.policy_gradient(t, rewards, 0.9, baseline="mean", normalize=True, reduction="sum"), [t])
    np.testing.assert_allclose(g.numpy(), -advantages, rtol=1e-12)
    assert abs(float(g.numpy().std(ddof=1)) - 1.0) < 1e-6


def _two_step_mdp(theta):
    """Every episode of a two-step MDP with the policy softmax(theta) at both steps and a reward of 1
    for action 0 at the second step: (probability, actions, log-probabilities, rewards)."""
    pi = np.exp(theta - theta.max()) / np.exp(theta - theta.max()).sum()
    for a in itertools.product(range(2), repeat=2):
        yield pi[a[0]] * pi[a[1]], a, np.log(pi[list(a)]), np.array([0.0, 1.0 if a[1] == 0 else 0.0])


def _expected_policy_gradient(theta, gamma, **options):
    """E[d loss / d theta] over the enumerated episodes: d loss / d log pi(a_t) times e_{a_t} - pi."""
    pi = np.exp(theta - theta.max()) / np.exp(theta - theta.max()).sum()
    expected = np.zeros(2)
    for prob, actions, log_probs, rewards in _two_step_mdp(theta):
        t = Tensor(log_probs, requires_grad=True)
        (g,) = ag.grad(L.policy_gradient(t, rewards, gamma, **options), [t])
        expected += prob * sum(g.numpy()[k] * (np.eye(2)[actions[k]] - pi) for k in range(2))
    return expected


@pytest.mark.parametrize("theta", [np.zeros(2), np.array([0.3, -0.2])])
def test_policy_gradient_discount_states_is_unbiased_on_a_two_step_mdp(theta):
    # the docstring's example: gamma = 0.5, a reward of 1 for action 0 at the second step
    gamma = 0.5

    def value(th):  # E[G_0] = sum over the episodes of P(episode) (r_0 + gamma r_1)
        return sum(p * (r[0] + gamma * r[1]) for p, _, _, r in _two_step_mdp(th))

    h = 1e-6
    true = np.array([-(value(theta + h * e) - value(theta - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(_expected_policy_gradient(theta, gamma, discount_states=True), true, atol=1e-9)
    # the default weighs the second step by 1 instead of gamma: twice the true gradient here
    np.testing.assert_allclose(_expected_policy_gradient(theta, gamma), 2.0 * true, atol=1e-9)
    if not theta.any():
        np.testing.assert_allclose(true, [-0.125, 0.125], atol=1e-9)


def test_policy_gradient_discount_states_weighs_step_t_by_gamma_to_the_t():
    rng = np.random.default_rng(3)
    lp, r = np.log(rng.uniform(0.1, 1, (2, 4))), rng.standard_normal((2, 4))
    for options in ({}, {"baseline": "mean"}, {"baseline": "mean", "normalize": True}):
        plain = L.policy_gradient(lp, r, 0.9, reduction="none", **options)
        weighted = L.policy_gradient(lp, r, 0.9, discount_states=True, reduction="none", **options)
        np.testing.assert_allclose(weighted, plain * 0.9 ** np.arange(4), rtol=1e-12)
    # gamma = 1 and gamma = 0: all ones, and only the first step
    np.testing.assert_array_equal(L.policy_gradient(lp, r, 1.0, discount_states=True), L.policy_gradient(lp, r, 1.0))
    first = L.policy_gradient(lp, r, 0.0, discount_states=True, reduction="none")
    np.testing.assert_array_equal(first[:, 1:], 0.0)
    with pytest.raises(TypeError, match="discount_states"):
        L.policy_gradient(lp, r, discount_states="yes")


def test_policy_gradient_reductions_and_float32():
    rng = np.random.default_rng(2)
    lp, r = np.log(rng.uniform(0.1, 1, (3, 4))), rng.standard_normal((3, 4))
    none = L.policy_gradient(lp, r, reduction="none")
    assert none.shape == (3, 4)
    assert float(L.policy_gradient(lp, r, reduction="mean")) == pytest.approx(none.mean(), rel=1e-12)
    assert float(L.policy_gradient(lp, r)) == pytest.approx(none.sum(), rel=1e-12)  # 'sum' by default
    assert L.policy_gradient(lp.astype(np.float32), r).dtype == np.float32
    # integer rewards are returns too
    integers = L.policy_gradient(lp, np.ones((3, 4), dtype=int))
    np.testing.assert_allclose(integers, L.policy_gradient(lp, np.ones((3, 4))))


def test_policy_gradient_bad_input():
    lp, r = np.zeros(4), np.ones(4)
    with pytest.raises(ValueError, match=r"rewards must have the shape of log_probs \(4,\), got \(3,\)"):
        L.policy_gradient(lp, np.ones(3))
    with pytest.raises(ValueError, match="baseline must be None, 'mean'"):
        L.policy_gradient(lp, r, baseline="median")
    with pytest.raises(ValueError, match=r"baseline must be a number or have the shape of rewards \(4,\)"):
        L.policy_gradient(lp, r, baseline=np.zeros(3))
    with pytest.raises(ValueError, match="baseline contains NaN"):
        L.policy_gradient(lp, r, baseline=np.full(4, np.nan))
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        L.policy_gradient(lp, r, gamma=-0.1)
    with pytest.raises(ValueError, match="normalize=True needs at least two returns"):
        L.policy_gradient(np.zeros(1), np.ones(1), normalize=True)
    with pytest.raises(ValueError, match=r"log_probs must be \(T,\) or \(N, T\)"):
        L.policy_gradient(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="rewards contains NaN"):
        L.policy_gradient(lp, np.array([1.0, np.nan, 0.0, 0.0]))


def test_non_default_parameters_pass_the_audit():
    # the registry test audits the defaults; these settings change the formula's branches
    settings = (
        ("td", {"gamma": 0.9, "huber": True, "delta": 0.5}),
        ("policy_gradient", {"gamma": 0.9, "baseline": "mean", "normalize": True}),
        ("policy_gradient", {"gamma": 0.9, "baseline": None, "normalize": False, "discount_states": True}),
    )
    for name, params in settings:
        spec = dataclasses.replace(L.REGISTRY[name], params=params)
        for seed in (0, 1):
            row = audit_loss(spec, seed=seed)
            assert row.passed, row.failure()
