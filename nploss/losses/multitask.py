r"""Multi-task, regularisation and imbalance: combining losses, penalising weights, weighting classes.

Task combination (:func:`weighted_sum`, :func:`uncertainty_weighting`, :class:`GradNorm`) takes
the per-task losses :math:`L_t` as one vector of shape ``(T,)`` (a list of scalar Tensors is
stacked), so that 'none' returns the contribution of each task and 'sum', their default, the
total. :func:`self_paced` weights samples, the consistency losses compare predictions that
should agree, the penalties regularise a weight tensor (or a list of them), and
:func:`class_weights` turns class frequencies into the ``weight`` argument of a class-weighted
loss. Each registered loss is one block: the formula and its derivative in the docstring,
``_x_forward`` and ``_x_vjp`` right below, the registry entry, then the public function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor, as_data, grad, is_grad_enabled, no_grad
from ..backend import get_array_module, to_numpy
from ..nn import Module, Parameter
from ._apply import apply_loss
from ._spec import Arg, LossSpec, register
from ._validate import same_shape

__all__ = [
    "weighted_sum",
    "uncertainty_weighting",
    "UncertaintyWeighting",
    "gradnorm",
    "GradNorm",
    "GradNormResult",
    "self_paced",
    "consistency",
    "temporal_consistency",
    "spatial_consistency",
    "l1_penalty",
    "l2_penalty",
    "elastic_net",
    "class_weights",
]


def _number(name: str, value: Any, *, low: float | None = None, strict: bool = False) -> float:
    """A finite Python number (not a bool), at least ``low`` (above it if ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (strict and value == low)):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low:g}, got {value:g}")
    return value


def _as_vector(name: str, losses: Any) -> Any:
    """A list or tuple of per-task losses (scalar Tensors or numbers) as one vector (T,)."""
    if not isinstance(losses, list | tuple):
        return losses
    if not losses:
        raise ValueError(f"{name} must hold at least one task loss, got an empty sequence")
    shapes = {tuple(getattr(x, "shape", np.shape(x))) for x in losses}
    if shapes != {()}:
        raise ValueError(f"{name} must be scalars (one loss per task), got shapes {sorted(shapes)}")
    if any(isinstance(x, Tensor) for x in losses):
        return ag.stack([x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=float)) for x in losses])
    return np.asarray(losses, dtype=float)


def _check_vector(name: str, x: Any) -> None:
    if x.ndim != 1:
        raise ValueError(f"{name} must be a vector (T,) with one entry per task, got shape {tuple(x.shape)}")


TASKS = ("T",)


# ------------------------------------------------------------------------------------ weighted sum


def _weighted_sum_forward(xp: Any, losses: Any, weights: Any) -> Any:
    return weights * losses


def _weighted_sum_vjp(xp: Any, g: Any, losses: Any, weights: Any) -> tuple[Any, Any]:
    return g * weights, g * losses


def _check_weighted_sum(losses: Any, weights: Any, **_: Any) -> None:
    _check_vector("losses", losses)
    same_shape("losses", losses, "weights", weights)


WEIGHTED_SUM = register(
    LossSpec(
        name="weighted_sum",
        family="multitask",
        args=(Arg("losses", "real", TASKS), Arg("weights", "weight", TASKS)),
        forward=_weighted_sum_forward,
        vjp=_weighted_sum_vjp,
        check=_check_weighted_sum,
        nonnegative=False,
        edge_cases={
            "zero weights and losses": lambda rng: [np.array([0.0, 2.0, 0.0]), np.array([1.0, 0.0, 0.0])],
            "losses of 1e4": lambda rng: [np.array([1e4, -1e4, 3.0]), np.array([1e-4, 2.0, 1.0])],
        },
        formula=r"L = \sum_t \lambda_t L_t, \quad \partial L / \partial L_t = \lambda_t, "
        r"\quad \partial L / \partial \lambda_t = L_t",
        reference="seed 001 section 6.1 (static task weights)",
    )
)


def weighted_sum(losses: Any, weights: Any, reduction: str = "sum") -> Any:
    r"""Fixed-weight combination of task losses.

    .. math::  L = \sum_t \lambda_t L_t, \qquad
               \frac{\partial L}{\partial L_t} = \lambda_t, \qquad
               \frac{\partial L}{\partial \lambda_t} = L_t

    Parameters
    ----------
    losses : array or Tensor (T,), or a list of T scalar Tensors
        The task losses :math:`L_t` (any real values).
    weights : array or Tensor (T,)
        Non-negative task weights :math:`\lambda_t`. Both inputs are differentiable: pass an
        array (or a detached Tensor) to hold the weights fixed.
    reduction : {'sum', 'mean', 'none'}
        'sum' (the default) is the total above; 'mean' divides it by T; 'none' returns the
        weighted terms :math:`\lambda_t L_t`.

    Raises
    ------
    ValueError
        ``losses`` not a vector, ``weights`` of another shape or negative.

    Examples
    --------
    >>> import numpy as np
    >>> float(weighted_sum(np.array([2.0, 0.5]), np.array([1.0, 4.0])))
    4.0
    """
    return apply_loss(WEIGHTED_SUM, _as_vector("losses", losses), weights, reduction=reduction)


# ------------------------------------------------------------------------------------ uncertainty weighting


def _uncertainty_forward(xp: Any, losses: Any, log_sigma: Any) -> Any:
    # 1/(2 sigma^2) = exp(-2 log sigma) / 2: parametrised by log sigma, sigma stays positive
    return 0.5 * losses * xp.exp(-2.0 * log_sigma) + log_sigma


def _uncertainty_vjp(xp: Any, g: Any, losses: Any, log_sigma: Any) -> tuple[Any, Any]:
    precision = xp.exp(-2.0 * log_sigma)  # 1 / sigma^2
    return 0.5 * g * precision, g * (1.0 - losses * precision)


def _check_uncertainty(losses: Any, log_sigma: Any, **_: Any) -> None:
    _check_vector("losses", losses)
    same_shape("losses", losses, "log_sigma", log_sigma)


UNCERTAINTY_WEIGHTING = register(
    LossSpec(
        name="uncertainty_weighting",
        family="multitask",
        args=(Arg("losses", "nonnegative", TASKS), Arg("log_sigma", "real", TASKS)),
        forward=_uncertainty_forward,
        vjp=_uncertainty_vjp,
        check=_check_uncertainty,
        # positive losses: finite differences must not step a loss of 0 out of its domain
        sampler=lambda rng, sizes: [rng.uniform(0.2, 3.0, sizes["T"]), rng.standard_normal(sizes["T"])],
        nonnegative=False,  # log sigma < 0 makes a term negative
        stability_exceptions={
            "large scale": "L_t exp(-2 log sigma_t) / 2 truly exceeds the float range for log sigma_t below "
            "about -354 (float64), as log sigma of -1e4 asks",
        },
        edge_cases={
            "zero losses": lambda rng: [np.zeros(3), np.array([0.0, -2.0, 3.0])],
            "large log sigma": lambda rng: [np.array([1e4, 1.0, 0.0]), np.array([30.0, -30.0, 30.0])],
        },
        formula=r"\ell_t = \frac{L_t}{2\sigma_t^2} + \log\sigma_t, "
        r"\quad \partial\ell_t/\partial L_t = \frac{1}{2\sigma_t^2}, "
        r"\quad \partial\ell_t/\partial\log\sigma_t = 1 - \frac{L_t}{\sigma_t^2}",
        reference="Kendall, Gal & Cipolla 2018, Multi-task learning using uncertainty to weigh losses (CVPR)",
    )
)


def uncertainty_weighting(losses: Any, log_sigma: Any, reduction: str = "sum") -> Any:
    r"""Homoscedastic uncertainty weighting of task losses (Kendall et al. 2018).

    .. math::  L = \sum_t \frac{L_t}{2\sigma_t^2} + \log\sigma_t, \qquad
               \frac{\partial L}{\partial L_t} = \frac{1}{2\sigma_t^2}, \qquad
               \frac{\partial L}{\partial \log\sigma_t} = 1 - \frac{L_t}{\sigma_t^2}

    parametrised by :math:`s_t = \log\sigma_t` (unconstrained; :math:`\sigma_t = e^{s_t} > 0`).
    For fixed :math:`L_t > 0` each term is minimised at :math:`\sigma_t^2 = L_t` (where the
    derivative above vanishes), with minimum :math:`\tfrac12 + \tfrac12\log L_t`: a noisier task
    gets a smaller weight :math:`1/(2\sigma_t^2)`, and the :math:`\log\sigma_t` term stops every
    weight from collapsing to zero. :class:`UncertaintyWeighting` holds :math:`s` as a
    Parameter.

    Parameters
    ----------
    losses : array or Tensor (T,), or a list of T scalar Tensors
        Non-negative task losses :math:`L_t` (as regression and classification losses are).
    log_sigma : array or Tensor (T,)
        :math:`\log\sigma_t`. Both inputs are differentiable.
    reduction : {'sum', 'mean', 'none'}
        'sum' (the default) is the objective above; 'none' returns its per-task terms.

    Notes
    -----
    The paper uses :math:`1/(2\sigma^2)` for regression tasks and :math:`1/\sigma^2` for
    classification; this follows the table of the seed (:math:`1/(2\sigma^2)` for every task).
    Many implementations learn :math:`s = \log\sigma^2` and minimise :math:`e^{-s} L + s`,
    which is exactly twice this objective: the same optimum :math:`\sigma_t^2 = L_t`. The value
    overflows only where it truly exceeds the float range (:math:`\log\sigma_t < -354` in
    float64 with :math:`L_t > 0`).

    Raises
    ------
    ValueError
        ``losses`` negative or not a vector, ``log_sigma`` of another shape.

    Examples
    --------
    >>> import numpy as np
    >>> float(uncertainty_weighting(np.array([2.0, 0.5]), np.array([0.0, 0.0])))
    1.25
    """
    return apply_loss(UNCERTAINTY_WEIGHTING, _as_vector("losses", losses), log_sigma, reduction=reduction)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class UncertaintyWeighting(Module):
    r"""Learned task weights :math:`1/(2\sigma_t^2)`: a Module holding :math:`\log\sigma_t`.

    Parameters
    ----------
    num_tasks : int
    init_log_sigma : float
        Initial :math:`\log\sigma_t` (0: every task starts with weight 1/2).
    dtype : dtype
        Of the parameter (float64 by default).

    Attributes
    ----------
    log_sigma : Parameter (num_tasks,)
        Optimise it together with the network (e.g. in the same :class:`nploss.optim.Adam`).

    Examples
    --------
    >>> import numpy as np
    >>> from nploss.optim import Adam
    >>> weighting = UncertaintyWeighting(2)
    >>> opt = Adam(weighting.parameters(), lr=0.05)
    >>> for _ in range(500):
    ...     opt.zero_grad()
    ...     weighting(np.array([4.0, 0.25])).backward()
    ...     opt.step()
    >>> np.round(weighting.sigma ** 2, 2).tolist()
    [4.0, 0.25]
    """

    def __init__(self, num_tasks: int, init_log_sigma: float = 0.0, dtype: Any = "float64") -> None:
        super().__init__()
        self.num_tasks = _positive_int("num_tasks", num_tasks)
        init = _number("init_log_sigma", init_log_sigma)
        self.log_sigma = Parameter(np.full(self.num_tasks, init, dtype=dtype))

    def forward(self, losses: Any, reduction: str = "sum") -> Tensor:
        """The weighted total :func:`uncertainty_weighting` of ``losses`` (T,) or a list of T scalars."""
        losses = _as_vector("losses", losses)
        if tuple(losses.shape) != (self.num_tasks,):
            raise ValueError(f"losses must have shape ({self.num_tasks},), one per task, got {tuple(losses.shape)}")
        return uncertainty_weighting(losses, self.log_sigma, reduction=reduction)

    @property
    def sigma(self) -> Any:
        """:math:`\\sigma_t = e^{\\log\\sigma_t}`, as an array."""
        return np.exp(as_data(self.log_sigma))

    @property
    def weights(self) -> Any:
        """The current task weights :math:`1/(2\\sigma_t^2)`, as an array."""
        return 0.5 * np.exp(-2.0 * as_data(self.log_sigma))

    def extra_repr(self) -> str:
        return f"num_tasks={self.num_tasks}"


# ------------------------------------------------------------------------------------ GradNorm


def _gradnorm_forward(xp: Any, norms: Any, targets: Any) -> Any:
    # the targets are constants (Chen et al.: "to prevent the weights from drifting to zero")
    return xp.abs(norms - xp.as_data(targets))


def _gradnorm_vjp(xp: Any, g: Any, norms: Any, targets: Any) -> tuple[Any]:
    # sign(0) = 0: the subgradient PyTorch's abs uses at the kink
    return (g * xp.sign(norms - xp.as_data(targets)),)


def _check_gradnorm(norms: Any, targets: Any, **_: Any) -> None:
    _check_vector("norms", norms)
    same_shape("norms", norms, "targets", targets)


def _gradnorm_kinks(norms: Any, targets: Any) -> Any:
    return np.abs(norms - targets)


GRADNORM = register(
    LossSpec(
        name="gradnorm",
        family="multitask",
        args=(Arg("norms", "nonnegative", TASKS), Arg("targets", "nonnegative", TASKS, differentiable=False)),
        forward=_gradnorm_forward,
        vjp=_gradnorm_vjp,
        check=_check_gradnorm,
        kinks=_gradnorm_kinks,
        sampler=lambda rng, sizes: [rng.uniform(0.1, 3.0, sizes["T"]), rng.uniform(0.1, 3.0, sizes["T"])],
        edge_cases={
            "norms on target": lambda rng: [np.array([1.0, 2.0, 0.5]), np.array([1.0, 2.0, 0.5])],
            "zero and huge norms": lambda rng: [np.array([0.0, 1e8, 1.0]), np.array([1.0, 1.0, 1e-8])],
        },
        formula=r"L_\mathrm{grad} = \sum_t |G_t - \bar{G}\, r_t^\alpha|, "
        r"\quad \partial L_\mathrm{grad}/\partial G_t = \mathrm{sign}(G_t - \bar{G}\, r_t^\alpha)",
        reference="Chen, Badrinarayanan, Lee & Rabinovich 2018, GradNorm (ICML), eq. 2",
        torch="l1_loss",
    )
)


def gradnorm(norms: Any, targets: Any, reduction: str = "sum") -> Any:
    r"""The GradNorm objective of per-task gradient norms against their (constant) targets.

    .. math::  L_\mathrm{grad} = \sum_t \bigl| G_t - \bar{G}\, r_t^\alpha \bigr|, \qquad
               \frac{\partial L_\mathrm{grad}}{\partial G_t} = \mathrm{sign}(G_t - \bar{G}\, r_t^\alpha)

    with :math:`G_t = \|\nabla_W w_t L_t\|_2` the norm of task t's weighted gradient on the
    shared layer W and ``targets`` :math:`\bar{G}\, r_t^\alpha` (see :class:`GradNorm`, which
    computes both). This function is the part of GradNorm that is a loss: as a function of
    ``norms`` it is the L1 distance :func:`torch.nn.functional.l1_loss` with ``reduction='sum'``.
    The targets are *not* differentiated (Chen et al. hold them constant so that the weights do
    not drift to zero); the weights receive their gradient through :math:`G_t(w)`, which the
    class builds with ``grad(..., create_graph=True)``.

    The kink at :math:`G_t = \bar{G}\, r_t^\alpha` gets the subgradient 0 (``sign(0)``, as
    PyTorch's ``abs``).

    Parameters
    ----------
    norms : array or Tensor (T,)
        Non-negative gradient norms :math:`G_t` (differentiable).
    targets : array (T,)
        Non-negative targets, constants (a Tensor given here receives no gradient).
    reduction : {'sum', 'mean', 'none'}
        'sum' (the default) is the paper's objective.

    Examples
    --------
    >>> import numpy as np
    >>> float(gradnorm(np.array([1.0, 4.0]), np.array([2.0, 2.0])))
    3.0
    """
    return apply_loss(GRADNORM, norms, targets, reduction=reduction)


@dataclass
class GradNormResult:
    """What one :class:`GradNorm` forward computes.

    Attributes
    ----------
    total : Tensor
        :math:`\\sum_t w_t L_t` with the weights held constant: backpropagate it for the
        network's gradient.
    loss : Tensor
        The GradNorm objective :math:`\\sum_t |G_t - \\bar{G} r_t^\\alpha|`, a function of the
        weights (through ``norms``) and of the network.
    norms : Tensor (T,)
        :math:`G_t = \\|\\nabla_W w_t L_t\\|_2`, differentiable with respect to the weights.
    targets : array (T,)
        :math:`\\bar{G}\\, r_t^\\alpha`, constants.
    ratios : array (T,)
        The relative inverse training rates :math:`r_t`.
    """

    total: Tensor
    loss: Tensor
    norms: Tensor
    targets: Any
    ratios: Any


class GradNorm(Module):
    r"""GradNorm (Chen et al. 2018): task weights that balance the gradient norms on a shared layer.

    With task losses :math:`L_t` and weights :math:`w_t` (initially 1), on the shared layer's
    parameters :math:`W` (the last shared layer, in the paper):

    .. math::  G_t = \|\nabla_W\, w_t L_t\|_2, \quad \bar{G} = \tfrac1T \sum_t G_t, \quad
               \tilde{L}_t = \frac{L_t}{L_t(0)}, \quad r_t = \frac{\tilde{L}_t}{\tfrac1T \sum_s \tilde{L}_s}

    and the weights descend :math:`L_\mathrm{grad} = \sum_t |G_t - \bar{G}\, r_t^\alpha|`, the
    target :math:`\bar{G}\, r_t^\alpha` held constant. A task that trains more slowly than the
    others (larger :math:`r_t`) is pushed towards a larger gradient norm; :math:`\alpha` sets how
    strongly. After each step the weights are renormalised to sum to T. The network itself
    descends :math:`\sum_t w_t L_t` with the weights held constant.

    :math:`G_t` is a function of :math:`w` only through the backward pass of :math:`w_t L_t`,
    so it is computed with ``nploss.autograd.grad(w_t L_t, W, create_graph=True)`` and
    differentiated again; :math:`\partial L_\mathrm{grad} / \partial w` is taken with respect
    to the weights only (the paper updates the network from :math:`\sum_t w_t L_t` alone).

    Why a class, not a registered loss: the GradNorm objective needs the task losses *and* the
    graph that produced them (to differentiate them with respect to W), plus state (the initial
    losses :math:`L_t(0)`, the weights); what is a plain function of arrays is the L1 distance
    of the norms to their targets, registered as :func:`gradnorm`.

    Parameters
    ----------
    num_tasks : int
    alpha : float
        The restoring-force strength :math:`\alpha \ge 0` (0: equal norms; the paper uses 0.12
        to 3, 1.5 on NYUv2).
    initial_losses : array_like (T,), optional
        :math:`L_t(0)`; by default the losses of the first forward call.
    min_weight : float
        Floor applied by :meth:`renormalize` before rescaling, so that a weight pushed through
        zero by a large step stays positive (a safeguard; the paper does not discuss it).
    dtype : dtype
        Of the weights (float64 by default).

    Usage, per training step::

        balancer = GradNorm(num_tasks=2, alpha=1.5)           # once, before training
        optimizer = Adam([*model.parameters(), *balancer.parameters()])

        result = balancer(losses, shared=model.shared.weight)  # losses: T scalar Tensors
        optimizer.zero_grad()
        result.total.backward()        # network gradients (weights constant)
        balancer.backward(result)      # d L_grad / d w into balancer.weights.grad
        optimizer.step()
        balancer.renormalize()         # sum of weights back to T

    (Separate optimisers, or learning rates, for the network and the weights work as well.)
    """

    def __init__(
        self,
        num_tasks: int,
        alpha: float = 1.5,
        initial_losses: Any = None,
        min_weight: float = 1e-6,
        dtype: Any = "float64",
    ) -> None:
        super().__init__()
        self.num_tasks = _positive_int("num_tasks", num_tasks)
        self.alpha = _number("alpha", alpha, low=0.0)
        self.min_weight = _number("min_weight", min_weight, low=0.0, strict=True)
        self.weights = Parameter(np.ones(self.num_tasks, dtype=dtype))
        self.register_buffer("initial_losses", None)
        if initial_losses is not None:
            values = np.asarray(to_numpy(as_data(initial_losses)), dtype=float)
            self.initial_losses = self._check_losses_values("initial_losses", values)

    def _check_losses_values(self, name: str, values: Any) -> Any:
        if values.shape != (self.num_tasks,):
            raise ValueError(f"{name} must have shape ({self.num_tasks},), one per task, got {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"{name} must be positive and finite (r_t divides by L_t(0)), got {values.tolist()}")
        return values

    def forward(self, losses: Sequence[Tensor] | Tensor, shared: Tensor | Iterable[Tensor] | Module) -> GradNormResult:
        """One GradNorm evaluation; see the class docstring.

        Parameters
        ----------
        losses : sequence of T scalar Tensors, or a Tensor (T,)
            The task losses, computed through ``shared``.
        shared : Tensor, iterable of Tensors, or Module
            The shared parameters W (a Module means all its parameters).
        """
        if not is_grad_enabled():
            raise RuntimeError("GradNorm needs the graph of the task losses: do not call it under no_grad()")
        if isinstance(shared, Module):
            params = list(shared.parameters())
        else:
            params = [shared] if isinstance(shared, Tensor) else list(shared)
        if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
            raise ValueError("shared must be Tensors (or a Module) that require grad: the shared layer's parameters")
        if len(losses) != self.num_tasks:
            raise ValueError(f"losses must hold {self.num_tasks} task losses, got {len(losses)}")
        task_losses = [losses[t] for t in range(self.num_tasks)]
        if not all(isinstance(x, Tensor) and x.shape == () and x.requires_grad for x in task_losses):
            raise ValueError("losses must be scalar Tensors computed through the shared parameters")
        values = np.array([float(as_data(x)) for x in task_losses])
        if self.initial_losses is None:
            self.initial_losses = self._check_losses_values("the first losses (L_t(0))", values)

        norms = []
        for t, loss in enumerate(task_losses):
            grads = grad(self.weights[t] * loss, params, create_graph=True, allow_unused=True)
            squares = [ag.sum(g * g) for g in grads if g is not None]
            if not squares:
                raise ValueError(f"task {t}'s loss does not depend on the shared parameters")
            norms.append(ag.sqrt(sum(squares[1:], squares[0])))
        norms_t = ag.stack(norms)

        initial = to_numpy(as_data(self.initial_losses))
        rates = values / initial  # inverse training rates L_t / L_t(0)
        ratios = rates / rates.mean()
        xp = get_array_module(as_data(norms_t))
        targets = xp.asarray(float(as_data(norms_t).mean()) * ratios**self.alpha, dtype=norms_t.dtype)
        loss = gradnorm(norms_t, targets, reduction="sum")
        weights = as_data(self.weights).copy()  # a constant for the network's objective
        total = ag.sum(ag.stack(task_losses) * weights)
        return GradNormResult(total=total, loss=loss, norms=norms_t, targets=targets, ratios=ratios)

    def backward(self, result: GradNormResult) -> None:
        """Accumulate :math:`\\partial L_\\mathrm{grad} / \\partial w` (weights only) into ``weights.grad``."""
        (g,) = grad(result.loss, [self.weights], allow_unused=True)
        if g is None:
            return
        self.weights.grad = g if self.weights.grad is None else Tensor(as_data(self.weights.grad) + as_data(g))

    def renormalize(self) -> None:
        """Rescale the weights in place to sum to T (after flooring them at ``min_weight``)."""
        with no_grad():
            w = as_data(self.weights)
            xp = get_array_module(w)
            floored = xp.maximum(w, self.min_weight)
            w[...] = floored * (self.num_tasks / floored.sum())

    def extra_repr(self) -> str:
        return f"num_tasks={self.num_tasks}, alpha={self.alpha}"


# ------------------------------------------------------------------------------------ self-paced


def _self_paced_forward(xp: Any, losses: Any, *, lam: float) -> Any:
    # v_i = 1[l_i < lam] minimises v_i (l_i - lam) over v_i in [0, 1]: the closed form
    return xp.where(losses < lam, losses - lam, 0.0 * losses)


def _self_paced_vjp(xp: Any, g: Any, losses: Any, *, lam: float) -> tuple[Any]:
    # envelope theorem: with v at its optimum, d/dl_i = v_i (v itself is not differentiated)
    return (xp.where(losses < lam, g, 0.0 * g),)


def _self_paced_kinks(losses: Any, *, lam: float) -> Any:
    return np.abs(losses - lam)


SELF_PACED = register(
    LossSpec(
        name="self_paced",
        family="multitask",
        args=(Arg("losses", "nonnegative"),),
        forward=_self_paced_forward,
        vjp=_self_paced_vjp,
        params={"lam": 1.0},
        kinks=_self_paced_kinks,
        sampler=lambda rng, sizes: [rng.uniform(0.0, 2.0, sizes["N"])],
        nonnegative=False,  # every selected term l_i - lam is negative
        edge_cases={
            "losses at lambda and zero": lambda rng: [np.array([1.0, 0.0, 1.0, 3.0])],
            "huge losses": lambda rng: [np.array([1e8, 1e4, 0.5])],
        },
        formula=r"\ell_i = v_i (l_i - \lambda),\ v_i = \mathbb{1}[l_i < \lambda], "
        r"\quad \partial \ell_i / \partial l_i = v_i",
        reference="Kumar, Packer & Koller 2010, Self-paced learning for latent variable models (NeurIPS)",
    )
)


def self_paced(losses: Any, lam: float = 1.0, reduction: str = "mean") -> Any:
    r"""Self-paced learning objective with the sample weights in closed form (Kumar et al. 2010).

    .. math::  L = \sum_i v_i l_i - \lambda \sum_i v_i, \qquad
               v_i = \mathbb{1}[l_i < \lambda] = \arg\min_{v_i \in [0, 1]} v_i (l_i - \lambda), \qquad
               \frac{\partial L}{\partial l_i} = v_i

    Only the "easy" samples, whose loss is below the age parameter :math:`\lambda`, count;
    raising :math:`\lambda` during training admits harder ones. Minimising over :math:`v` in
    closed form gives :math:`L = \sum_i \min(l_i - \lambda, 0)`: every term is at most 0. The
    weights :math:`v` are not differentiated; by the envelope theorem the gradient with them
    held at their optimum is the gradient of the closed form. Kinks at :math:`l_i = \lambda`
    (:math:`v_i = 0` there, so the gradient is 0).

    Parameters
    ----------
    losses : array or Tensor (N,)
        Non-negative per-sample losses :math:`l_i` (differentiable).
    lam : float
        :math:`\lambda \ge 0`.
    reduction : {'mean', 'sum', 'none'}
        'sum' is Kumar et al.'s objective; 'mean' divides it by N; 'none' returns
        :math:`v_i (l_i - \lambda)`. The weights themselves are ``losses < lam``.

    Examples
    --------
    >>> import numpy as np
    >>> float(self_paced(np.array([0.2, 0.5, 3.0]), lam=1.0, reduction="sum"))
    -1.3
    """
    lam = _number("lam", lam, low=0.0)
    return apply_loss(SELF_PACED, losses, reduction=reduction, lam=lam)


# ------------------------------------------------------------------------------------ consistency


def _augmentation_forward(xp: Any, f_x: Any, f_aug: Any) -> Any:
    d = f_x - f_aug
    squares = d * d
    return xp.sum(squares, axis=tuple(range(1, d.ndim))) if d.ndim > 1 else squares


def _augmentation_vjp(xp: Any, g: Any, f_x: Any, f_aug: Any) -> tuple[Any, Any]:
    d = f_x - f_aug
    grad = 2.0 * xp.reshape(g, tuple(g.shape) + (1,) * (d.ndim - 1)) * d
    return grad, -grad


def _check_augmentation(f_x: Any, f_aug: Any, **_: Any) -> None:
    if f_x.ndim < 1:
        raise ValueError(f"f_x must have a batch axis (N, ...), got shape {tuple(f_x.shape)}")
    same_shape("f_x", f_x, "f_aug", f_aug)


def _real_pair_edges() -> dict[str, Any]:
    return {
        "identical predictions": lambda rng: [np.full((2, 3), 0.7), np.full((2, 3), 0.7)],
        "differences of 1e4": lambda rng: [np.array([[1e4, 0.0], [-1e4, 1.0]]), np.zeros((2, 2))],
    }


CONSISTENCY = register(
    LossSpec(
        name="consistency",
        family="multitask",
        args=(Arg("f_x", "real", ("N", "D")), Arg("f_aug", "real", ("N", "D"))),
        forward=_augmentation_forward,
        vjp=_augmentation_vjp,
        check=_check_augmentation,
        edge_cases=_real_pair_edges(),
        formula=r"\ell_i = \|f(x_i) - f(\mathrm{aug}(x_i))\|_2^2, "
        r"\quad \partial \ell_i / \partial f(x_i) = 2 (f(x_i) - f(\mathrm{aug}(x_i)))",
        reference="seed 001 section 6.4; Laine & Aila 2017 (Pi-model), Sajjadi et al. 2016",
    )
)


def _temporal_forward(xp: Any, sequence: Any) -> Any:
    d = sequence[..., 1:, :] - sequence[..., :-1, :]
    return xp.sum(d * d, axis=-1)


def _temporal_vjp(xp: Any, g: Any, sequence: Any) -> tuple[Any]:
    d = sequence[..., 1:, :] - sequence[..., :-1, :]
    step = 2.0 * xp.expand_dims(g, -1) * d  # d ell_t / d f_{t+1}; d ell_t / d f_t is its negative
    zero = 0.0 * step[..., :1, :]
    # each frame but the first ends a transition, each but the last starts one
    return (xp.concatenate([zero, step], axis=-2) - xp.concatenate([step, zero], axis=-2),)


def _check_temporal(sequence: Any, **_: Any) -> None:
    if sequence.ndim < 2 or sequence.shape[-2] < 2:
        raise ValueError(f"sequence must have shape (..., T, D) with T >= 2 time steps, got {tuple(sequence.shape)}")


TEMPORAL_CONSISTENCY = register(
    LossSpec(
        name="temporal_consistency",
        family="multitask",
        args=(Arg("sequence", "real", ("T", "D")),),
        forward=_temporal_forward,
        vjp=_temporal_vjp,
        check=_check_temporal,
        edge_cases={
            "constant sequence": lambda rng: [np.full((4, 3), -0.2)],
            "jumps of 1e4": lambda rng: [np.array([[0.0, 1e4], [1e4, 0.0], [1e4, 0.0]])],
        },
        formula=r"\ell_t = \|f(x_{t+1}) - f(x_t)\|_2^2, \quad L = \sum_{t=1}^{T-1} \ell_t",
        reference="seed 001 section 6.4 (temporal consistency); Mobahi, Collobert & Weston 2009",
    )
)


def _pairs(h: int, w: int) -> tuple[int, int]:
    """Numbers of horizontal and vertical neighbouring pairs in an H x W map."""
    return h * (w - 1), (h - 1) * w


def _spatial_forward(xp: Any, feature_map: Any) -> Any:
    n, _, h, w = feature_map.shape
    horizontal = feature_map[:, :, :, 1:] - feature_map[:, :, :, :-1]
    vertical = feature_map[:, :, 1:, :] - feature_map[:, :, :-1, :]
    ph, pv = _pairs(h, w)
    return xp.concatenate(
        [
            xp.reshape(xp.sum(horizontal * horizontal, axis=1), (n, ph)),
            xp.reshape(xp.sum(vertical * vertical, axis=1), (n, pv)),
        ],
        axis=1,
    )


def _spatial_vjp(xp: Any, g: Any, feature_map: Any) -> tuple[Any]:
    n, _, h, w = feature_map.shape
    ph, pv = _pairs(h, w)
    horizontal = feature_map[:, :, :, 1:] - feature_map[:, :, :, :-1]
    vertical = feature_map[:, :, 1:, :] - feature_map[:, :, :-1, :]
    gh = 2.0 * xp.reshape(g[:, :ph], (n, 1, h, w - 1)) * horizontal  # d ell / d right neighbour
    gv = 2.0 * xp.reshape(g[:, ph:], (n, 1, h - 1, w)) * vertical  # d ell / d lower neighbour
    zh, zv = 0.0 * feature_map[:, :, :, :1], 0.0 * feature_map[:, :, :1, :]
    grad = xp.concatenate([zh, gh], axis=3) - xp.concatenate([gh, zh], axis=3)
    return (grad + xp.concatenate([zv, gv], axis=2) - xp.concatenate([gv, zv], axis=2),)


def _check_spatial(feature_map: Any, **_: Any) -> None:
    if feature_map.ndim != 4 or feature_map.shape[2] * feature_map.shape[3] < 2:
        raise ValueError(
            f"feature_map must have shape (N, C, H, W) with at least two positions, got {tuple(feature_map.shape)}"
        )


SPATIAL_CONSISTENCY = register(
    LossSpec(
        name="spatial_consistency",
        family="multitask",
        args=(Arg("feature_map", "real", ("N", "C", "H", "W")),),
        forward=_spatial_forward,
        vjp=_spatial_vjp,
        check=_check_spatial,
        sizes={"N": 2, "C": 3, "H": 4, "W": 5},
        edge_cases={
            "constant map": lambda rng: [np.full((1, 2, 3, 3), 0.5)],
            "jumps of 1e4": lambda rng: [np.where(rng.random((1, 2, 3, 4)) < 0.5, 1e4, -1e4)],
        },
        formula=r"\ell_{(i,j)} = \|f_i - f_j\|_2^2 \ \text{over horizontal and vertical neighbours } (i, j)",
        reference="seed 001 section 6.4 (spatial consistency); total variation (Rudin, Osher & Fatemi 1992), squared",
    )
)

KINDS = ("augmentation", "temporal", "spatial")


def consistency(f_x: Any, f_aug: Any = None, kind: str = "augmentation", reduction: str = "mean") -> Any:
    r"""Consistency losses: predictions that should agree are pulled together (seed 001 §6.4).

    ``kind='augmentation'`` (two inputs, per sample):

    .. math::  \ell_i = \|f(x_i) - f(\mathrm{aug}(x_i))\|_2^2, \qquad
               \frac{\partial \ell_i}{\partial f(x_i)} = 2\,(f(x_i) - f(\mathrm{aug}(x_i)))

    summed over every axis but the first (the batch). ``kind='temporal'``: ``f_x`` is a sequence
    (see :func:`temporal_consistency`); ``kind='spatial'``: ``f_x`` is a feature map (see
    :func:`spatial_consistency`); ``f_aug`` must then be omitted.

    Parameters
    ----------
    f_x, f_aug : array or Tensor (N, ...), same shape
        Predictions on the input and on its augmentation. Both are differentiable (the
        Pi-model); to hold one side fixed, as a teacher (Mean Teacher), pass it as an array or a
        detached Tensor.
    kind : {'augmentation', 'temporal', 'spatial'}
    reduction : {'mean', 'sum', 'none'}
        'none' returns one value per sample (augmentation), per transition (temporal) or per
        neighbouring pair (spatial); 'mean' averages them.

    Notes
    -----
    The seed's consistency term is the squared L2 distance, without the 1/2 and summed over
    the features, i.e. ``torch.nn.functional.mse_loss(f_x, f_aug, reduction='none')`` summed
    over the feature axes. (Laine & Aila's Pi-model divides by the number of features too.)

    Examples
    --------
    >>> import numpy as np
    >>> float(consistency(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])))
    5.0
    >>> float(consistency(np.array([[0.0], [1.0], [3.0]]), kind="temporal", reduction="sum"))
    5.0
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    if kind == "augmentation":
        if f_aug is None:
            raise ValueError("kind='augmentation' needs f_aug, the predictions on the augmented inputs")
        return apply_loss(CONSISTENCY, f_x, f_aug, reduction=reduction)
    if f_aug is not None:
        raise ValueError(f"kind={kind!r} takes one input (f_x); got f_aug too")
    return temporal_consistency(f_x, reduction) if kind == "temporal" else spatial_consistency(f_x, reduction)


def temporal_consistency(sequence: Any, reduction: str = "mean") -> Any:
    r"""Temporal consistency: consecutive predictions of a sequence should change slowly.

    .. math::  L = \sum_{t=1}^{T-1} \|f(x_{t+1}) - f(x_t)\|_2^2, \qquad
               \frac{\partial L}{\partial f(x_t)} = 2 (f(x_t) - f(x_{t-1})) - 2 (f(x_{t+1}) - f(x_t))

    (a term is absent at the ends of the sequence).

    Parameters
    ----------
    sequence : array or Tensor (..., T, D)
        Predictions :math:`f(x_t)`, time on axis -2 and features on axis -1; leading axes (a
        batch of sequences) are kept.
    reduction : {'mean', 'sum', 'none'}
        'none' gives (..., T-1), one value per transition; 'sum' is the seed's
        :math:`L_\mathrm{temporal}`; 'mean' averages over transitions (and sequences).

    Raises
    ------
    ValueError
        Fewer than two dimensions or two time steps.

    Examples
    --------
    >>> import numpy as np
    >>> temporal_consistency(np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 3.0]]), reduction="none").tolist()
    [2.0, 4.0]
    """
    return apply_loss(TEMPORAL_CONSISTENCY, sequence, reduction=reduction)


def spatial_consistency(feature_map: Any, reduction: str = "mean") -> Any:
    r"""Spatial consistency: neighbouring positions of a map should predict alike.

    .. math::  L = \sum_{(i, j) \in \mathcal{N}} \|f_i - f_j\|_2^2, \qquad
               \frac{\partial L}{\partial f_i} = 2 \sum_{j : (i, j) \in \mathcal{N}} (f_i - f_j)

    over the set :math:`\mathcal{N}` of horizontally and vertically adjacent positions, each
    unordered pair once, the squared distance taken over the channels: the squared
    anisotropic total variation of the map.

    Parameters
    ----------
    feature_map : array or Tensor (N, C, H, W)
    reduction : {'mean', 'sum', 'none'}
        'none' gives (N, H(W-1) + (H-1)W): first the horizontal pairs
        :math:`((h, w), (h, w+1))` in row-major order, then the vertical pairs
        :math:`((h, w), (h+1, w))`. 'sum' is the seed's :math:`L_\mathrm{spatial}` summed over
        the batch; 'mean' averages over pairs and maps.

    Raises
    ------
    ValueError
        Not four-dimensional, or a single position.

    Examples
    --------
    >>> import numpy as np
    >>> float(spatial_consistency(np.array([[[[0.0, 1.0], [0.0, 3.0]]]]), reduction="sum"))
    14.0
    """
    return apply_loss(SPATIAL_CONSISTENCY, feature_map, reduction=reduction)


# ------------------------------------------------------------------------------------ penalties


def _l1_forward(xp: Any, weights: Any, *, lam: float) -> Any:
    return lam * xp.abs(weights)


def _l1_vjp(xp: Any, g: Any, weights: Any, *, lam: float) -> tuple[Any]:
    return (lam * g * xp.sign(weights),)  # subgradient 0 at w = 0, as PyTorch's abs


def _l2_forward(xp: Any, weights: Any, *, lam: float) -> Any:
    return lam * weights * weights


def _l2_vjp(xp: Any, g: Any, weights: Any, *, lam: float) -> tuple[Any]:
    return (2.0 * lam * g * weights,)


def _elastic_forward(xp: Any, weights: Any, *, l1: float, l2: float) -> Any:
    return l1 * xp.abs(weights) + l2 * weights * weights


def _elastic_vjp(xp: Any, g: Any, weights: Any, *, l1: float, l2: float) -> tuple[Any]:
    return (g * (l1 * xp.sign(weights) + 2.0 * l2 * weights),)


def _abs_kinks(weights: Any, **_: Any) -> Any:
    return np.abs(weights)


def _penalty_edges() -> dict[str, Any]:
    return {
        "zero weights": lambda rng: [np.array([[0.0, 0.0], [0.0, 1.0]])],
        "weights of 1e4": lambda rng: [np.array([[1e4, -1e4], [0.5, 0.0]])],
    }


WEIGHT = (Arg("weights", "real", ("N", "D")),)

L1_PENALTY = register(
    LossSpec(
        name="l1_penalty",
        family="multitask",
        args=WEIGHT,
        forward=_l1_forward,
        vjp=_l1_vjp,
        params={"lam": 0.01},
        kinks=_abs_kinks,
        edge_cases=_penalty_edges(),
        formula=r"R = \lambda \sum_i |w_i|, \quad \partial R / \partial w_i = \lambda\,\mathrm{sign}(w_i)",
        reference="seed 002 section 8; Tibshirani 1996 (lasso); keras.regularizers.L1",
    )
)

L2_PENALTY = register(
    LossSpec(
        name="l2_penalty",
        family="multitask",
        args=WEIGHT,
        forward=_l2_forward,
        vjp=_l2_vjp,
        params={"lam": 0.01},
        edge_cases=_penalty_edges(),
        formula=r"R = \lambda \sum_i w_i^2, \quad \partial R / \partial w_i = 2 \lambda w_i",
        reference="seed 002 section 8; Hoerl & Kennard 1970 (ridge); keras.regularizers.L2",
    )
)

ELASTIC_NET = register(
    LossSpec(
        name="elastic_net",
        family="multitask",
        args=WEIGHT,
        forward=_elastic_forward,
        vjp=_elastic_vjp,
        params={"l1": 0.01, "l2": 0.01},
        kinks=_abs_kinks,
        edge_cases=_penalty_edges(),
        formula=r"R = \lambda_1 \sum_i |w_i| + \lambda_2 \sum_i w_i^2, "
        r"\quad \partial R / \partial w_i = \lambda_1 \mathrm{sign}(w_i) + 2\lambda_2 w_i",
        reference="seed 002 section 8; Zou & Hastie 2005; keras.regularizers.L1L2",
    )
)


def _penalty(spec: LossSpec, weights: Any, reduction: str, **params: Any) -> Any:
    """One weight tensor, or the penalty summed over a sequence of them (model.parameters())."""
    if isinstance(weights, Tensor) or hasattr(weights, "shape") or not isinstance(weights, Iterable):
        return apply_loss(spec, weights, reduction=reduction, **params)
    items = list(weights)
    if not items:
        raise ValueError("weights must be an array, a Tensor or a non-empty sequence of them, got an empty sequence")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean' for a sequence of weight tensors, got {reduction!r}")
    terms = [apply_loss(spec, w, reduction="sum", **params) for w in items]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    if reduction == "mean":
        total = total * (1.0 / sum(int(np.prod(np.shape(as_data(w)))) for w in items))
    return total if isinstance(total, Tensor) else get_array_module(as_data(total)).asarray(total)


def l1_penalty(weights: Any, lam: float = 0.01, reduction: str = "sum") -> Any:
    r"""L1 (lasso) penalty :math:`\lambda \sum_i |w_i|`, which drives weights to exactly zero.

    .. math::  R = \lambda \sum_i |w_i|, \qquad \frac{\partial R}{\partial w_i} = \lambda\, \mathrm{sign}(w_i)

    Kink at :math:`w_i = 0`, where the subgradient 0 is used (as PyTorch's ``abs``).

    Parameters
    ----------
    weights : array or Tensor, or a sequence of them (e.g. ``model.parameters()``)
    lam : float
        :math:`\lambda \ge 0` (0.01 by default, as ``keras.regularizers.L1``).
    reduction : {'sum', 'mean', 'none'}
        'sum' (the default) is the penalty; 'mean' divides by the number of weights; 'none'
        (a single tensor only) returns :math:`\lambda |w_i|` element-wise.

    Examples
    --------
    >>> import numpy as np
    >>> float(l1_penalty(np.array([1.0, -2.0, 0.0]), lam=0.5))
    1.5
    """
    return _penalty(L1_PENALTY, weights, reduction, lam=_number("lam", lam, low=0.0))


def l2_penalty(weights: Any, lam: float = 0.01, reduction: str = "sum") -> Any:
    r"""L2 (ridge) penalty :math:`\lambda \sum_i w_i^2`, without a factor 1/2.

    .. math::  R = \lambda \sum_i w_i^2, \qquad \frac{\partial R}{\partial w_i} = 2 \lambda w_i

    Convention: as the seed and ``keras.regularizers.L2`` (no 1/2). PyTorch's
    ``weight_decay=wd`` in :class:`torch.optim.SGD` (and :class:`nploss.optim.SGD`) adds
    :math:`\mathrm{wd}\, w` to the gradient, which is the gradient of
    :math:`\tfrac{\mathrm{wd}}{2}\sum_i w_i^2`: it equals ``l2_penalty(w, lam=wd / 2)``. (With
    Adam the two differ: the decay is then rescaled by the adaptive denominator, and AdamW
    decouples it.)

    Parameters
    ----------
    weights : array or Tensor, or a sequence of them (e.g. ``model.parameters()``)
    lam : float
        :math:`\lambda \ge 0` (0.01 by default, as ``keras.regularizers.L2``).
    reduction : {'sum', 'mean', 'none'}
        As :func:`l1_penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> float(l2_penalty(np.array([1.0, -2.0, 0.0]), lam=0.5))
    2.5
    """
    return _penalty(L2_PENALTY, weights, reduction, lam=_number("lam", lam, low=0.0))


def elastic_net(weights: Any, l1: float = 0.01, l2: float = 0.01, reduction: str = "sum") -> Any:
    r"""Elastic net: the L1 and L2 penalties together (Zou & Hastie 2005).

    .. math::  R = \lambda_1 \sum_i |w_i| + \lambda_2 \sum_i w_i^2, \qquad
               \frac{\partial R}{\partial w_i} = \lambda_1\, \mathrm{sign}(w_i) + 2 \lambda_2 w_i

    The L2 part has no 1/2, as in seed 002 §8, ``keras.regularizers.L1L2`` and Zou & Hastie's
    penalty :math:`\lambda_1 \|\beta\|_1 + \lambda_2 \|\beta\|_2^2` (see :func:`l2_penalty` for
    PyTorch's weight decay). scikit-learn's ``ElasticNet`` puts a 1/2 on the L2 term and a
    mixing ratio in front: its ``alpha``, ``l1_ratio`` are ``l1 = alpha * l1_ratio``,
    ``l2 = alpha * (1 - l1_ratio) / 2`` here.

    Parameters
    ----------
    weights : array or Tensor, or a sequence of them
    l1, l2 : float
        :math:`\lambda_1, \lambda_2 \ge 0` (0.01 each by default, as ``keras.regularizers.l1_l2``).
    reduction : {'sum', 'mean', 'none'}
        As :func:`l1_penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> float(elastic_net(np.array([1.0, -2.0]), l1=0.5, l2=0.25))
    2.75
    """
    l1, l2 = _number("l1", l1, low=0.0), _number("l2", l2, low=0.0)
    return _penalty(ELASTIC_NET, weights, reduction, l1=l1, l2=l2)


# ------------------------------------------------------------------------------------ class weights

SCHEMES = ("inverse", "inverse_sqrt", "effective")
NORMALIZATIONS = ("classes", "samples", None)


def class_weights(
    labels: Any = None,
    *,
    counts: Any = None,
    scheme: str = "inverse",
    beta: float = 0.999,
    num_classes: int | None = None,
    normalize: str | None = "classes",
) -> Any:
    r"""Per-class weights from class frequencies, for the ``weight`` of a class-weighted loss.

    With :math:`n_c` the number of samples of class c:

    ========================  ==============================================================
    ``scheme``                raw weight :math:`\tilde{w}_c`
    ========================  ==============================================================
    ``'inverse'``             :math:`1 / n_c`
    ``'inverse_sqrt'``        :math:`1 / \sqrt{n_c}`
    ``'effective'``           :math:`(1 - \beta) / (1 - \beta^{n_c})`, the inverse of the
                              effective number of samples :math:`E_{n_c} = (1 - \beta^{n_c}) / (1 - \beta)`
                              (Cui et al. 2019)
    ========================  ==============================================================

    The effective number interpolates: :math:`\beta = 0` gives equal weights, :math:`\beta \to 1`
    inverse frequency. It is computed as :math:`(1-\beta) / (-\mathrm{expm1}(n_c \log\beta))` so
    that :math:`\beta` close to 1 keeps its precision.

    Parameters
    ----------
    labels : integer array (N,), optional
        Class labels; the counts are ``bincount(labels, minlength=num_classes)``.
    counts : array (C,), optional
        Class counts (non-negative; fractional counts allowed). Give ``labels`` or ``counts``.
    scheme : {'inverse', 'inverse_sqrt', 'effective'}
    beta : float
        In [0, 1), for ``'effective'`` (0.999 by default; Cui et al. try 0.9 to 0.9999).
    num_classes : int, optional
        C; by default ``max(labels) + 1`` or ``len(counts)``.
    normalize : {'classes', 'samples', None}
        ``'classes'`` (default, as Cui et al.): scaled so that :math:`\sum_c w_c = C`.
        ``'samples'``: scaled so that :math:`\sum_c n_c w_c = N`, i.e. the average sample
        weight is 1; with ``'inverse'`` this is scikit-learn's
        ``compute_class_weight('balanced')`` :math:`N / (C n_c)`. ``None``: the raw weights.

    Returns
    -------
    array (C,), floating point.

    Raises
    ------
    ValueError
        Both or neither of ``labels`` and ``counts``; labels not integers or out of range;
        negative counts; a class with no samples (its weight would be infinite: drop the class
        or give it a count); unknown ``scheme`` or ``normalize``; ``beta`` outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> class_weights(counts=np.array([10, 1, 100]), scheme="inverse", normalize="samples").tolist()
    [3.7, 37.0, 0.37]
    """
    if (labels is None) == (counts is None):
        raise ValueError("give exactly one of labels (class labels) and counts (samples per class)")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(map(repr, SCHEMES))}, got {scheme!r}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be 'classes', 'samples' or None, got {normalize!r}")
    if num_classes is not None:
        num_classes = _positive_int("num_classes", num_classes)
    if labels is not None:
        y = as_data(labels)
        xp = get_array_module(y)
        y = xp.asarray(y)
        if y.dtype.kind not in "iu":
            raise TypeError(f"labels must hold integer class labels, got dtype {y.dtype}")
        if y.size and (int(y.min()) < 0 or (num_classes is not None and int(y.max()) >= num_classes)):
            bound = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            raise ValueError(
                f"labels must be class labels in {bound}, got values from {int(y.min())} to {int(y.max())}"
            )
        n = xp.bincount(y.reshape(-1), minlength=num_classes or 0).astype(float)
    else:
        n = as_data(counts)
        xp = get_array_module(n)
        n = xp.asarray(n)
        if n.dtype.kind not in "iuf" or n.ndim != 1:
            raise ValueError(f"counts must be a numeric vector (C,), got shape {tuple(n.shape)} and dtype {n.dtype}")
        if not bool(xp.all(xp.isfinite(n))) or bool(xp.any(n < 0)):
            raise ValueError("counts must be finite and non-negative")
        if num_classes is not None and n.shape[0] != num_classes:
            raise ValueError(f"counts must have num_classes={num_classes} entries, got {n.shape[0]}")
        n = n.astype(float)
    if n.size == 0:
        raise ValueError("no classes: labels is empty and num_classes is not given")
    empty = [int(c) for c in xp.nonzero(n == 0)[0]]
    if empty:
        raise ValueError(f"classes {empty} have no samples: their {scheme} weight would be infinite")
    if scheme == "inverse":
        w = 1.0 / n
    elif scheme == "inverse_sqrt":
        w = 1.0 / xp.sqrt(n)
    else:
        beta = _number("beta", beta, low=0.0)
        if beta >= 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        # beta = 0: every n >= 1 has effective number 1 (log 0 would warn)
        w = xp.ones_like(n) if beta == 0.0 else (1.0 - beta) / -xp.expm1(n * math.log(beta))
    if normalize == "classes":
        w = w * (n.shape[0] / w.sum())
    elif normalize == "samples":
        w = w * (n.sum() / (n * w).sum())
    return w
