r"""GradNorm (Chen et al. 2018): task weights that balance the gradient norms of the tasks on a
shared layer. :func:`gradnorm` is the part that is a loss (the L1 distance of the norms to their
targets); :class:`GradNorm` computes the norms and the targets from the task losses and keeps
the weights.

The per-task quantities are vectors of shape ``(T,)``, so that 'none' returns the contribution
of each task and 'sum', the default, the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import autograd as ag
from ...autograd import Tensor, as_data, grad, is_grad_enabled, no_grad
from ...backend import get_array_module, to_numpy
from ...nn import Module, Parameter
from .. import _params
from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from .._validate import same_shape
from ._common import TASKS, check_vector

__all__ = ["gradnorm", "GradNorm", "GradNormResult"]


# ------------------------------------------------------------------------------------ GradNorm


def _gradnorm_forward(xp: Any, norms: Any, targets: Any) -> Any:
    # the targets are constants (Chen et al.: "to prevent the weights from drifting to zero")
    return xp.abs(norms - xp.as_data(targets))


def _gradnorm_vjp(xp: Any, g: Any, norms: Any, targets: Any) -> tuple[Any]:
    # sign(0) = 0: the subgradient PyTorch's abs uses at the kink
    return (g * xp.sign(norms - xp.as_data(targets)),)


def _check_gradnorm(norms: Any, targets: Any, **_: Any) -> None:
    check_vector("norms", norms)
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
        self.num_tasks = _params.integer("num_tasks", num_tasks, low=1)
        self.alpha = _params.real("alpha", alpha, low=0.0)
        self.min_weight = _params.real("min_weight", min_weight, low=0.0, low_open=True)
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


