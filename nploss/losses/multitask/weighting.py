r"""Weights of tasks and of samples: a fixed weighted sum of task losses, weights learned from
each task's homoscedastic uncertainty (Kendall et al. 2018), and self-paced learning, which weighs
samples by their difficulty (Kumar et al. 2010).

Task combination (:func:`weighted_sum`, :func:`uncertainty_weighting`, :class:`UncertaintyWeighting`)
takes the per-task losses :math:`L_t` as one vector of shape ``(T,)`` (a list of scalar Tensors is
stacked), so that 'none' returns the contribution of each task and 'sum', their default, the
total. :func:`self_paced` weights samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import Tensor, as_data
from ...nn import Module, Parameter
from .. import _params
from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from .._validate import same_shape
from ._common import TASKS, as_vector, check_vector

__all__ = ["weighted_sum", "uncertainty_weighting", "UncertaintyWeighting", "self_paced"]


# ------------------------------------------------------------------------------------ weighted sum


def _weighted_sum_forward(xp: Any, losses: Any, weights: Any) -> Any:
    return weights * losses


def _weighted_sum_vjp(xp: Any, g: Any, losses: Any, weights: Any) -> tuple[Any, Any]:
    return g * weights, g * losses


def _check_weighted_sum(losses: Any, weights: Any, **_: Any) -> None:
    check_vector("losses", losses)
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
    return apply_loss(WEIGHTED_SUM, as_vector("losses", losses), weights, reduction=reduction)


# ------------------------------------------------------------------------------------ uncertainty weighting


def _uncertainty_forward(xp: Any, losses: Any, log_sigma: Any) -> Any:
    # 1/(2 sigma^2) = exp(-2 log sigma) / 2: parametrised by log sigma, sigma stays positive
    return 0.5 * losses * xp.exp(-2.0 * log_sigma) + log_sigma


def _uncertainty_vjp(xp: Any, g: Any, losses: Any, log_sigma: Any) -> tuple[Any, Any]:
    precision = xp.exp(-2.0 * log_sigma)  # 1 / sigma^2
    return 0.5 * g * precision, g * (1.0 - losses * precision)


def _check_uncertainty(losses: Any, log_sigma: Any, **_: Any) -> None:
    check_vector("losses", losses)
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
    return apply_loss(UNCERTAINTY_WEIGHTING, as_vector("losses", losses), log_sigma, reduction=reduction)


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
        self.num_tasks = _params.integer("num_tasks", num_tasks, low=1)
        init = _params.real("init_log_sigma", init_log_sigma)
        self.log_sigma = Parameter(np.full(self.num_tasks, init, dtype=dtype))

    def forward(self, losses: Any, reduction: str = "sum") -> Tensor:
        """The weighted total :func:`uncertainty_weighting` of ``losses`` (T,) or a list of T scalars."""
        losses = as_vector("losses", losses)
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
    lam = _params.real("lam", lam, low=0.0)
    return apply_loss(SELF_PACED, losses, reduction=reduction, lam=lam)


