r"""Reinforcement learning: the policy-gradient (REINFORCE) and temporal-difference (DQN) losses.

Both are surrogate losses: their value is not the objective itself but their gradient is the
update rule. What the rule treats as given is held constant (not differentiated): the discounted
returns and the baseline of the policy gradient, the bootstrapped target of the TD error. These
are computed from the raw arrays (``xp.as_data``), so even a Tensor passed there receives no
gradient, in the fused and in the composite graph alike. Each loss is one block: the formula and
its derivative in the docstring, ``_x_forward`` and ``_x_vjp`` right below, the registry entry,
then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import as_data
from ..backend import get_array_module
from ..numerics import array_namespace
from ._apply import apply_loss
from ._params import flag, real
from ._spec import Arg, LossSpec, elementwise, register
from ._validate import finite, same_shape

__all__ = ["discounted_returns", "policy_gradient", "td"]

# torch.finfo(torch.float32).eps, as PyTorch's REINFORCE example adds to the standard deviation
NORMALIZE_EPS = float(np.finfo(np.float32).eps)


def discounted_returns(rewards: Any, gamma: float = 0.99) -> Any:
    r"""Discounted returns-to-go along the last axis (time), computed backwards.

    .. math::  G_t = \sum_{k \ge t} \gamma^{k - t} r_k = r_t + \gamma\, G_{t+1}, \qquad G_{T} = 0

    Parameters
    ----------
    rewards : array (..., T)
        One episode (T,) or a batch of equally long episodes (N, T). A Tensor is read as its
        values (returns are targets, not differentiated).
    gamma : float
        Discount factor in [0, 1].

    Returns
    -------
    array of the shape of ``rewards`` (floating point).

    Examples
    --------
    >>> import numpy as np
    >>> discounted_returns(np.array([1.0, 0.0, 2.0]), gamma=0.5).tolist()
    [1.5, 1.0, 2.0]
    """
    r = as_data(rewards)
    xp = get_array_module(r)
    r = xp.asarray(r)
    gamma = real("gamma", gamma, low=0, high=1)
    finite("rewards", r)
    if r.ndim < 1:
        raise ValueError(f"rewards must have a time axis (..., T), got shape {tuple(r.shape)}")
    return _returns(r if r.dtype.kind == "f" else r.astype(float), gamma)


def _returns(r: Any, gamma: float) -> Any:
    xp = get_array_module(r)
    out = xp.empty_like(r)
    running = xp.zeros_like(r[..., 0])
    # a backward loop: O(T), and exactly the recursion G_t = r_t + gamma G_{t+1}
    for t in range(r.shape[-1] - 1, -1, -1):
        running = r[..., t] + gamma * running
        out[..., t] = running
    return out


# ------------------------------------------------------------------------------------ policy gradient


def _advantages(
    xp: Any, log_probs: Any, rewards: Any, gamma: float, baseline: Any, normalize: bool, discount_states: bool = False
) -> Any:
    """The constant weights G_t - b of the log-probabilities (optionally standardised, and
    optionally times gamma^t)."""
    dtype = xp.as_data(log_probs).dtype
    r = xp.as_data(rewards).astype(dtype)  # float32 log-probabilities keep float32
    advantage = _returns(r, gamma)
    if isinstance(baseline, str):  # "mean": the average return of the batch
        advantage = advantage - advantage.mean()
    elif baseline is not None:
        advantage = advantage - xp.as_data(baseline).astype(dtype)
    if normalize:
        # Bessel-corrected std plus float32 eps, as PyTorch's reinforce.py example
        advantage = advantage / (advantage.std(ddof=1) + NORMALIZE_EPS)
    if discount_states:
        # step t of an episode weighs gamma^t (Sutton & Barto 2018, section 13.3): gamma ** t
        # for gamma = 0 is 1 at t = 0 and 0 after, as the sum it comes from
        weights = np.power(gamma, np.arange(advantage.shape[-1]))
        advantage = advantage * get_array_module(advantage).asarray(weights, dtype=dtype)
    return advantage


def _policy_gradient_forward(
    xp: Any, log_probs: Any, rewards: Any, *, gamma: float, baseline: Any, normalize: bool,
    discount_states: bool = False,
) -> Any:
    return -log_probs * _advantages(xp, log_probs, rewards, gamma, baseline, normalize, discount_states)


def _policy_gradient_vjp(
    xp: Any, g: Any, log_probs: Any, rewards: Any, *, gamma: float, baseline: Any, normalize: bool,
    discount_states: bool = False,
) -> tuple[Any]:
    return (-g * _advantages(xp, log_probs, rewards, gamma, baseline, normalize, discount_states),)


def _check_policy_gradient(
    log_probs: Any, rewards: Any, *, gamma: float, baseline: Any, normalize: bool, discount_states: bool = False
) -> None:
    if log_probs.ndim not in (1, 2):
        raise ValueError(f"log_probs must be (T,) or (N, T), got shape {tuple(log_probs.shape)}")
    same_shape("log_probs", log_probs, "rewards", rewards)
    if log_probs.shape[-1] < 1:
        raise ValueError("log_probs must hold at least one step (T >= 1): returns are sums over the steps ahead, got T = 0")
    if normalize and log_probs.size < 2:
        raise ValueError("normalize=True needs at least two returns (their standard deviation)")


POLICY_GRADIENT = register(
    LossSpec(
        name="policy_gradient",
        grid={"baseline": (None, "mean", np.array(0.5))},  # as the public function passes a number
        unreduced=elementwise,
        family="reinforcement",
        args=(Arg("log_probs", "real", ("N", "T")), Arg("rewards", "real", ("N", "T"), differentiable=False)),
        forward=_policy_gradient_forward,
        vjp=_policy_gradient_vjp,
        params={"gamma": 0.99, "baseline": None, "normalize": False, "discount_states": False},
        check=_check_policy_gradient,
        nonnegative=False,
        edge_cases={
            "certain actions (log pi = 0)": lambda rng: [
                np.zeros((2, 3)), np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 5.0]])
            ],
            "log pi of -1e4, rewards of 1e4": lambda rng: [np.full((1, 3), -1e4), np.array([[1e4, -1e4, 0.0]])],
        },
        formula=r"\ell_t = -w_t \log\pi(a_t | s_t)\,(G_t - b), \ "
        r"G_t = \sum_{k \ge t} \gamma^{k-t} r_k \text{ constant}, "
        r"\ w_t = 1 \text{ (default) or } \gamma^t \text{ (discount\_states)}, "
        r"\quad \partial \ell_t / \partial \log\pi(a_t|s_t) = -w_t (G_t - b)",
        reference="Williams 1992, Simple statistical gradient-following algorithms (REINFORCE); "
        "Sutton & Barto 2018 §13.3-13.4",
    )
)


def policy_gradient(
    log_probs: Any,
    rewards: Any,
    gamma: float = 0.99,
    baseline: Any = None,
    normalize: bool = False,
    discount_states: bool = False,
    reduction: str = "sum",
) -> Any:
    r"""REINFORCE surrogate loss with discounted returns and an optional baseline (Williams 1992).

    .. math::  L = -\sum_t w_t \log\pi(a_t \mid s_t)\, (G_t - b_t), \qquad
               G_t = \sum_{k \ge t} \gamma^{k-t} r_k, \qquad
               \frac{\partial L}{\partial \log\pi(a_t \mid s_t)} = -w_t (G_t - b_t)

    with :math:`w_t = 1` by default and :math:`w_t = \gamma^t` with ``discount_states=True``.
    The returns, the baseline and the weights are constants: computed from the rewards (see
    :func:`discounted_returns`), never differentiated. The gradient with respect to the policy
    parameters is :math:`-\sum_t w_t (G_t - b_t) \nabla_\theta \log\pi(a_t|s_t)`.

    **Which gradient it estimates.** With ``discount_states=True`` (the REINFORCE update of
    Sutton & Barto 2018, section 13.3, with its :math:`\gamma^t`) this is the negated REINFORCE
    estimate of :math:`\nabla_\theta\, \mathbb{E}[G_0]`: unbiased. The default,
    :math:`w_t = 1`, is what most implementations do (PyTorch's
    ``examples/reinforcement_learning/reinforce.py`` among them): every step counts as if it were
    the first, which is unbiased for :math:`\nabla_\theta\, \mathbb{E}[G_0]` only when
    :math:`\gamma = 1` or :math:`T = 1`; for :math:`\gamma < 1` its expectation
    :math:`\sum_t \mathbb{E}[G_t \nabla_\theta \log\pi(a_t|s_t)]` over-weights the later
    steps by :math:`\gamma^{-t}` and is in general not the gradient of any objective (Nota &
    Thomas 2020). Enumerated example: two steps, :math:`\gamma = 0.5`, two actions with
    :math:`\pi = \mathrm{softmax}(\theta)` at :math:`\theta = 0` in both steps, a reward of 1
    for action 0 at the second step and nothing else. Then :math:`\mathbb{E}[G_0] =
    \gamma\,\pi_0` and the loss's true gradient is
    :math:`-\nabla_\theta \mathbb{E}[G_0] = (-0.125, 0.125)`; the expected gradient of this loss
    is :math:`(-0.25, 0.25)` by default and :math:`(-0.125, 0.125)` with ``discount_states=True``.

    **Baselines.** A baseline that does not depend on the action taken at step :math:`t` (a
    constant, or a critic's :math:`V(s_t)`) leaves the expected gradient unchanged: it keeps the
    estimate unbiased, whatever its value. It lowers the variance only if it is well chosen, near
    the expected return; a poor one raises it. One-step, two-armed bandit with
    :math:`\pi = \mathrm{softmax}(\theta) = (0.4, 0.6)` and rewards :math:`(1, 2)`: the estimate
    :math:`(r - b) \nabla_\theta \log\pi(a)` of :math:`\nabla_\theta \mathbb{E}[r]` has mean
    :math:`(-0.24, 0.24)` for every :math:`b`, and total variance 0.94 with :math:`b = 0`, 0.019 with
    :math:`b = 1.6` (the mean reward) and 35.5 with :math:`b = 10`. ``baseline='mean'`` and
    ``normalize=True`` are batch statistics, which include each step's own return and so depend
    on its action: they bias the estimate slightly, less as the batch grows.
    In that bandit, with :math:`n` one-step episodes, ``baseline='mean'`` scales the expected
    gradient by :math:`1 - 1/n` (0.5, 0.75, 0.875 for :math:`n = 2, 4, 8`), and with
    ``normalize=True`` too the expected gradient is no fixed multiple of the true one (0.71,
    1.40, 1.76 times it).

    Parameters
    ----------
    log_probs : array or Tensor (T,) or (N, T)
        :math:`\log\pi(a_t|s_t)` of the actions taken, one episode or N equally long episodes
        (time on the last axis). Any real values: log-densities of continuous actions may be
        positive. The only differentiable input.
    rewards : array (same shape)
        :math:`r_t`, received after :math:`a_t`. Not differentiated.
    gamma : float
        Discount factor in [0, 1].
    baseline : None, 'mean', float or array (same shape)
        :math:`b`: None (0); ``'mean'``, the mean of all the returns given (the episode's for
        (T,), the batch's for (N, T)); or given values, e.g. a critic's :math:`V(s_t)`, held
        constant (train the critic with its own loss, e.g. ``mse(values, discounted_returns(r))``).
    normalize : bool
        Divide the advantages :math:`G_t - b_t` by their standard deviation (Bessel-corrected)
        plus the float32 epsilon, as PyTorch's ``examples/reinforcement_learning/reinforce.py``;
        with ``baseline='mean'`` this is that example's ``(G - G.mean()) / (G.std() + eps)``.
    discount_states : bool
        Weigh step :math:`t` (counted from 0 along the last axis) by :math:`\gamma^t`, after the
        baseline and the normalisation: the unbiased estimate of
        :math:`\nabla_\theta \mathbb{E}[G_0]` (see above). False by default, as PyTorch's example.
        Use it when the objective is the discounted return from the start state; leave it off to
        reproduce the usual implementations, for :math:`\gamma` near 1 over short episodes (where
        the two hardly differ) or when :math:`\gamma` is a variance-reduction device rather than
        part of the objective.
    reduction : {'sum', 'mean', 'none'}
        'sum' (the default) is the formula above (summed over episodes too); 'mean' divides by
        the number of steps; 'none' returns :math:`-w_t \log\pi(a_t|s_t)(G_t - b_t)` per step.

    Raises
    ------
    ValueError
        Shapes that differ, ``gamma`` outside [0, 1], an unknown or misshapen ``baseline``,
        ``normalize`` with fewer than two steps.

    Examples
    --------
    >>> import numpy as np
    >>> returns = discounted_returns(np.array([0.0, 1.0]), gamma=0.5)  # [0.5, 1.0]
    >>> loss = policy_gradient(np.log(np.array([0.5, 0.25])), np.array([0.0, 1.0]), gamma=0.5)
    >>> round(float(loss), 6), round(2.5 * float(np.log(2.0)), 6)  # 0.5 log 2 + 1.0 log 4
    (1.732868, 1.732868)
    >>> loss = policy_gradient(np.log(np.array([0.5, 0.25])), np.array([0.0, 1.0]), gamma=0.5, discount_states=True)
    >>> round(float(loss), 6), round(1.5 * float(np.log(2.0)), 6)  # 0.5 log 2 + 0.5 * 1.0 log 4
    (1.039721, 1.039721)
    """
    gamma = real("gamma", gamma, low=0, high=1)
    normalize = flag("normalize", normalize)
    discount_states = flag("discount_states", discount_states)
    if isinstance(baseline, str):
        if baseline != "mean":
            raise ValueError(f"baseline must be None, 'mean', a number or an array, got {baseline!r}")
    elif baseline is not None:
        b = as_data(baseline)
        b = get_array_module(b).asarray(b)
        finite("baseline", b)
        shape = tuple(getattr(as_data(rewards), "shape", np.shape(rewards)))
        if b.ndim and tuple(b.shape) != shape:
            raise ValueError(f"baseline must be a number or have the shape of rewards {shape}, got {tuple(b.shape)}")
        baseline = b
    return apply_loss(
        POLICY_GRADIENT, log_probs, rewards,
        reduction=reduction, gamma=gamma, baseline=baseline, normalize=normalize, discount_states=discount_states,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ temporal difference


def _td_error(xp: Any, q_values: Any, actions: Any, rewards: Any, next_q_values: Any, dones: Any, gamma: float) -> Any:
    r"""Q(s, a) - y with the target y = r + gamma (1 - done) max_a' Q(s', a') a constant."""
    dtype = xp.as_data(q_values).dtype
    a = xp.as_data(actions)
    q_sa = xp.take_along_axis(q_values, a.reshape(-1, 1), axis=1)[:, 0]
    bootstrap = xp.as_data(next_q_values).max(axis=1)  # raw arrays: no gradient reaches Q(s', .)
    alive = 1.0 - xp.as_data(dones).astype(dtype)
    target = (xp.as_data(rewards).astype(dtype) + gamma * alive * bootstrap).astype(dtype)
    return q_sa - target


def _td_forward(xp: Any, *transitions: Any, gamma: float, huber: bool, delta: float) -> Any:
    # transitions: q_values, actions, rewards, next_q_values, dones (the registered Args)
    e = _td_error(xp, *transitions, gamma)
    if not huber:
        return 0.5 * e * e
    a = xp.abs(e)
    # torch.nn.functional.huber_loss: quadratic inside the band, linear outside
    return xp.where(a <= delta, 0.5 * e * e, delta * (a - 0.5 * delta))


def _td_vjp(xp: Any, g: Any, *transitions: Any, gamma: float, huber: bool, delta: float) -> tuple[Any]:
    q_values, actions = transitions[:2]
    e = _td_error(xp, *transitions, gamma)
    slope = xp.clip(e, -delta, delta) if huber else e  # Huber: the error clipped to [-delta, delta]
    a = xp.as_data(actions)
    # only the chosen action's value Q(s, a) enters the loss
    chosen = (xp.arange(q_values.shape[1]) == a.reshape(-1, 1)).astype(xp.as_data(q_values).dtype)
    return (xp.expand_dims(g * slope, 1) * chosen,)


def _td_kinks(*transitions: Any, gamma: float, huber: bool, delta: float) -> Any:
    if not huber:
        return np.full(transitions[0].shape[0], np.inf)
    e = _td_error(array_namespace(np), *transitions, gamma)
    return np.abs(np.abs(e) - delta)


def _check_td(q_values: Any, actions: Any, rewards: Any, next_q_values: Any, dones: Any, **_: Any) -> None:
    if q_values.ndim != 2:
        raise ValueError(
            f"q_values must be (N, A), one row of action values per transition, got shape {tuple(q_values.shape)}"
        )
    n = (q_values.shape[0],)
    for name, x in (("actions", actions), ("rewards", rewards), ("dones", dones)):
        if tuple(x.shape) != n:
            raise ValueError(f"{name} must have shape {n}, one per transition, got {tuple(x.shape)}")
    same_shape("q_values", q_values, "next_q_values", next_q_values)


def _td_edges() -> dict[str, Any]:
    def exact(rng: np.random.Generator) -> list[np.ndarray]:
        next_q = np.array([[1.0, 2.0], [0.5, -1.0]])
        q = np.array([[0.3 + 0.5 * 2.0, 7.0], [4.0, 1.0]])  # Q(s, a) equals its target: zero error
        return [q, np.array([0, 1]), np.array([0.3, 1.0]), next_q, np.array([0.0, 1.0])]

    return {
        "zero TD error": exact,
        "values of 1e4": lambda rng: [
            np.array([[1e4, -1e4], [0.0, 1e4]]), np.array([1, 0]), np.array([1e4, -1e4]),
            np.array([[-1e4, 1e4], [1e4, 1e4]]), np.array([0.0, 0.0]),
        ],
    }  # fmt: skip


TD = register(
    LossSpec(
        name="td",
        family="reinforcement",
        args=(
            Arg("q_values", "real", ("N", "C")),
            Arg("actions", "label", ("N",), differentiable=False),
            Arg("rewards", "real", ("N",), differentiable=False),
            Arg("next_q_values", "real", ("N", "C"), differentiable=False),
            Arg("dones", "flag", ("N",), differentiable=False),
        ),
        forward=_td_forward,
        vjp=_td_vjp,
        params={"gamma": 0.99, "huber": False, "delta": 1.0},
        check=_check_td,
        kinks=_td_kinks,
        classes_from="q_values",
        edge_cases=_td_edges(),
        formula=r"\ell_i = \tfrac12 \bigl(Q(s_i, a_i) - y_i\bigr)^2, "
        r"\ y_i = r_i + \gamma (1 - d_i) \max_{a'} Q(s'_i, a') \text{ constant}, "
        r"\quad \partial \ell_i / \partial Q(s_i, a_i) = Q(s_i, a_i) - y_i",
        reference="Mnih et al. 2015, Human-level control through deep reinforcement learning (DQN); "
        "torch.nn.functional.huber_loss for the Huber variant",
    )
)


def td(
    q_values: Any,
    actions: Any,
    rewards: Any,
    next_q_values: Any,
    dones: Any,
    gamma: float = 0.99,
    huber: bool = False,
    delta: float = 1.0,
    reduction: str = "mean",
) -> Any:
    r"""One-step temporal-difference (Q-learning / DQN) loss, the target held constant.

    .. math::  y_i = r_i + \gamma (1 - d_i) \max_{a'} Q(s'_i, a'), \qquad
               e_i = Q(s_i, a_i) - y_i, \qquad
               \ell_i = \tfrac12 e_i^2, \qquad
               \frac{\partial \ell_i}{\partial Q(s_i, a)} = e_i\, \mathbb{1}[a = a_i]

    With ``huber=True``, :math:`\ell_i = \tfrac12 e_i^2` for :math:`|e_i| \le \delta` and
    :math:`\delta(|e_i| - \tfrac12\delta)` beyond, whose derivative
    :math:`\mathrm{clip}(e_i, -\delta, \delta)` is the error clipping of Mnih et al. (2015)
    with :math:`\delta = 1`.

    The target :math:`y` is a constant (a semi-gradient): no gradient flows through
    ``next_q_values``, even when it is a Tensor that requires one, as with
    ``next_q_values.detach()`` in PyTorch. Compute it with a target network for DQN, or with
    the online network (this function holds it constant either way).

    Parameters
    ----------
    q_values : array or Tensor (N, A)
        :math:`Q(s_i, \cdot)` of the online network (differentiable).
    actions : integer array (N,)
        :math:`a_i` in [0, A).
    rewards : array (N,)
    next_q_values : array or Tensor (N, A)
        :math:`Q(s'_i, \cdot)`, not differentiated.
    dones : array (N,) of 0/1 or bool
        1 where the episode ended after the transition: no bootstrapping from :math:`s'_i`.
    gamma : float
        Discount factor in [0, 1].
    huber : bool
        The Huber loss of the error instead of half its square.
    delta : float
        Huber threshold, positive.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Equals ``0.5 * F.mse_loss(q_sa, target)`` and, with ``huber=True``,
    ``F.huber_loss(q_sa, target, delta=delta)`` (PyTorch's DQN tutorial uses
    ``smooth_l1_loss``, which is the same for :math:`\delta = 1`), with
    ``q_sa = q_values.gather(1, actions[:, None])`` and ``target`` detached. The 1/2 makes the
    gradient the error itself (Mnih et al.'s squared error has no 1/2: it doubles the gradient).

    Raises
    ------
    ValueError
        Misshapen inputs, actions out of range, dones other than 0/1, ``gamma`` outside [0, 1],
        ``delta`` not positive.

    Examples
    --------
    >>> import numpy as np
    >>> q, next_q = np.array([[1.0, 2.0]]), np.array([[0.5, 3.0]])
    >>> float(td(q, np.array([1]), np.array([1.0]), next_q, np.array([0.0]), gamma=0.5))  # y = 1 + 0.5 * 3
    0.125
    """
    gamma = real("gamma", gamma, low=0, high=1)
    delta = real("delta", delta, low=0, low_open=True)
    huber = flag("huber", huber)
    return apply_loss(
        TD, q_values, actions, rewards, next_q_values, dones,
        reduction=reduction, gamma=gamma, huber=huber, delta=delta,
    )  # fmt: skip
