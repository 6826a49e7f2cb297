r"""The Wasserstein-1 distance: exactly between 1-D samples, and as the Wasserstein GAN estimates
it, with a critic kept 1-Lipschitz by the gradient penalty of WGAN-GP.

Conventions (see also :mod:`nploss.losses.distribution`):

- **Scores.** The critic of a WGAN outputs real *scores* :math:`D(x)` (unbounded, not
  probabilities).
- **Real and fake batches** have the same shape: the unreduced loss pairs the :math:`i`-th real
  sample with the :math:`i`-th generated one (Arjovsky et al.'s algorithm draws :math:`m` of
  each), so ``'mean'`` is :math:`\mathbb{E}` over both batches.
- **Per-sample losses** (``gradient_penalty``) sum or average over the features of a sample and
  leave the batch axis to ``reduction``.
- **Networks** (``gradient_penalty``'s critic) are ``nploss.nn`` modules, or any callable built
  from :mod:`nploss.autograd` ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from ... import autograd as ag
from ...autograd import Tensor, as_data
from ...backend import get_array_module
from .. import _params
from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from .._validate import finite, in_range, same_shape
from ._common import column, flat

__all__ = ["wgan_critic", "wgan_generator", "wasserstein_1d", "gradient_penalty", "gradient_norm_penalty"]


# ------------------------------------------------------------------------------------ WGAN critic


def _wgan_critic_forward(xp: Any, real_scores: Any, fake_scores: Any) -> Any:
    return fake_scores - real_scores


def _wgan_critic_vjp(xp: Any, g: Any, real_scores: Any, fake_scores: Any) -> tuple[Any, Any]:
    return -g, 1.0 * g  # a copy: the two gradients must not be one array


WGAN_CRITIC = register(
    LossSpec(
        name="wgan_critic",
        family="distribution",
        args=(Arg("real_scores", "real"), Arg("fake_scores", "real")),
        forward=_wgan_critic_forward,
        vjp=_wgan_critic_vjp,
        check=lambda r, f: same_shape("real_scores", r, "fake_scores", f),
        edge_cases={
            "scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 0.0, 3.0]), numpy.array([-1e4, 1e4, 0.0, -3.0])],
            "real_scores equal to fake_scores": lambda rng: [numpy.full(4, 0.5), numpy.full(4, 0.5)],
        },
        nonnegative=False,
        formula=r"L_D = \mathbb{E}[D(G(z))] - \mathbb{E}[D(x)], \quad \partial L_D / \partial D(x) = -1, \ \partial L_D / \partial D(G(z)) = 1",
        reference="Arjovsky, Chintala & Bottou 2017, Wasserstein GAN (Algorithm 1)",
    )
)


def wgan_critic(real_scores: Any, fake_scores: Any, reduction: str = "mean") -> Any:
    r"""Wasserstein GAN critic loss (minimised by the critic).

    .. math::  L_D = \mathbb{E}_{z}[D(G(z))] - \mathbb{E}_{x}[D(x)], \qquad
               \ell_i = D(G(z_i)) - D(x_i), \quad
               \frac{\partial \ell_i}{\partial D(x_i)} = -1, \quad
               \frac{\partial \ell_i}{\partial D(G(z_i))} = 1

    Minimising :math:`L_D` over a 1-Lipschitz critic makes :math:`-L_D` an estimate of the
    Wasserstein-1 distance between the data and the generator's distribution (Kantorovich-
    Rubinstein duality). The Lipschitz constraint is not part of this loss: clip the weights
    (Arjovsky et al.) or add :func:`gradient_penalty` (Gulrajani et al.).

    Parameters
    ----------
    real_scores, fake_scores : array or Tensor, same shape (N,) or (N, 1)
        Critic outputs :math:`D(x_i)` and :math:`D(G(z_i))` (unbounded scores, not probabilities).
    reduction : {'mean', 'sum', 'none'}
        ``'none'`` gives :math:`\ell_i = D(G(z_i)) - D(x_i)`, pairing the two batches.

    PyTorch has no such loss; it is ``fake_scores.mean() - real_scores.mean()``. The value may be
    negative.

    Raises
    ------
    ValueError
        The two batches differ in shape (unequal batch sizes: reduce each side yourself).

    Examples
    --------
    >>> import numpy as np
    >>> float(wgan_critic(np.array([2.0, 1.0]), np.array([-1.0, 0.0])))
    -2.0
    """
    return apply_loss(WGAN_CRITIC, real_scores, fake_scores, reduction=reduction)


# ------------------------------------------------------------------------------------ WGAN generator


def _wgan_generator_forward(xp: Any, fake_scores: Any) -> Any:
    return -fake_scores


def _wgan_generator_vjp(xp: Any, g: Any, fake_scores: Any) -> tuple[Any]:
    return (-g,)


WGAN_GENERATOR = register(
    LossSpec(
        name="wgan_generator",
        family="distribution",
        args=(Arg("fake_scores", "real"),),
        forward=_wgan_generator_forward,
        vjp=_wgan_generator_vjp,
        edge_cases={"scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 0.0])]},
        nonnegative=False,
        formula=r"L_G = -\mathbb{E}[D(G(z))], \quad \partial L_G / \partial D(G(z)) = -1",
        reference="Arjovsky, Chintala & Bottou 2017, Wasserstein GAN (Algorithm 1)",
    )
)


def wgan_generator(fake_scores: Any, reduction: str = "mean") -> Any:
    r"""Wasserstein GAN generator loss.

    .. math::  L_G = -\mathbb{E}_{z}[D(G(z))], \qquad \ell_i = -D(G(z_i)), \quad
               \frac{\partial \ell_i}{\partial D(G(z_i))} = -1

    Parameters
    ----------
    fake_scores : array or Tensor (N,) or (N, 1)
        Critic outputs on generated samples.
    reduction : {'mean', 'sum', 'none'}

    PyTorch has no such loss; it is ``-fake_scores.mean()``. The value may be negative.

    Examples
    --------
    >>> import numpy as np
    >>> float(wgan_generator(np.array([-1.0, 0.0])))
    0.5
    """
    return apply_loss(WGAN_GENERATOR, fake_scores, reduction=reduction)


# ------------------------------------------------------------------------------------ 1-D Wasserstein


def _wasserstein_1d_forward(xp: Any, u_values: Any, v_values: Any, u_weights: Any, v_weights: Any) -> Any:
    order, gap_weight = _w1_steps(u_values, v_values, u_weights, v_weights)
    z = xp.take_along_axis(xp.concatenate([u_values, v_values], axis=-1), order, axis=-1)
    return xp.sum(gap_weight * (z[..., 1:] - z[..., :-1]), axis=-1)


def _wasserstein_1d_vjp(
    xp: Any, g: Any, u_values: Any, v_values: Any, u_weights: Any, v_weights: Any
) -> tuple[Any, Any]:
    order, s = _w1_steps(u_values, v_values, u_weights, v_weights)
    m = get_array_module(s)
    zero = m.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    # z_k opens the gap k (weight s_k, sign -) and closes the gap k-1 (weight s_{k-1}, sign +)
    slope = m.concatenate([zero, s], axis=-1) - m.concatenate([s, zero], axis=-1)
    grad_sorted = xp.expand_dims(g, -1) * slope
    grad_pooled = xp.take_along_axis(grad_sorted, m.argsort(order, axis=-1), axis=-1)  # back to input order
    n = as_data(u_values).shape[-1]
    return grad_pooled[..., :n], grad_pooled[..., n:]


def _w1_steps(u_values: Any, v_values: Any, u_weights: Any, v_weights: Any) -> tuple[Any, Any]:
    """The order of the pooled sample and :math:`|F_u - F_v|` on each gap between consecutive
    pooled values. Both are piecewise constant in the values (they change only where two values
    swap), so they are computed on the raw arrays, outside the graph."""
    u, v, uw, vw = (as_data(t) for t in (u_values, v_values, u_weights, v_weights))
    m = get_array_module(u)
    order = m.argsort(m.concatenate([u, v], axis=-1), axis=-1, kind="stable")
    mass_u = m.concatenate([uw / uw.sum(axis=-1, keepdims=True), m.zeros_like(vw)], axis=-1)
    mass_v = m.concatenate([m.zeros_like(uw), vw / vw.sum(axis=-1, keepdims=True)], axis=-1)
    cdf_u = m.cumsum(m.take_along_axis(mass_u, order, axis=-1), axis=-1)[..., :-1]
    cdf_v = m.cumsum(m.take_along_axis(mass_v, order, axis=-1), axis=-1)[..., :-1]
    return order, m.abs(cdf_u - cdf_v)


def _wasserstein_1d_kinks(u_values: Any, v_values: Any, u_weights: Any, v_weights: Any) -> Any:
    pooled = numpy.sort(numpy.concatenate([u_values, v_values], axis=-1), axis=-1)
    return numpy.diff(pooled, axis=-1)


def _check_wasserstein_1d(u_values: Any, v_values: Any, u_weights: Any, v_weights: Any) -> None:
    if u_values.ndim < 1 or v_values.ndim < 1:
        raise ValueError(
            "u_values and v_values must have at least one axis (the samples), "
            f"got shapes {u_values.shape} and {v_values.shape}"
        )
    if u_values.shape[:-1] != v_values.shape[:-1]:
        raise ValueError(
            f"v_values must have the batch shape of u_values {u_values.shape[:-1]} (all axes but the last), "
            f"got {v_values.shape[:-1]}"
        )
    if u_values.shape[-1] == 0 or v_values.shape[-1] == 0:
        raise ValueError(
            f"u_values and v_values must hold at least one sample each, got {u_values.shape[-1]} and {v_values.shape[-1]}"
        )
    same_shape("u_values", u_values, "u_weights", u_weights)
    same_shape("v_values", v_values, "v_weights", v_weights)
    for name, w in (("u_weights", u_weights), ("v_weights", v_weights)):
        total = w.sum(axis=-1)
        if bool((total <= 0).any()):
            raise ValueError(f"{name} must have a positive sum over the samples, got a sum of {float(total.min()):.6g}")


def _w1_sampler(rng: numpy.random.Generator, sizes: dict[str, int]) -> list[numpy.ndarray]:
    n, t, s = sizes["N"], sizes["T"], sizes["S"]
    values = [rng.standard_normal((n, t)), rng.standard_normal((n, s)) + 0.5]
    return values + [rng.uniform(0.5, 2.0, (n, t)), rng.uniform(0.5, 2.0, (n, s))]


WASSERSTEIN_1D = register(
    LossSpec(
        name="wasserstein_1d",
        family="distribution",
        args=(
            Arg("u_values", "real", ("N", "T")),
            Arg("v_values", "real", ("N", "S")),
            Arg("u_weights", "weight", ("N", "T"), differentiable=False),
            Arg("v_weights", "weight", ("N", "S"), differentiable=False),
        ),
        forward=_wasserstein_1d_forward,
        vjp=_wasserstein_1d_vjp,
        check=_check_wasserstein_1d,
        kinks=_wasserstein_1d_kinks,
        sampler=_w1_sampler,
        edge_cases={
            "identical samples (ties everywhere)": lambda rng: [
                numpy.array([[0.0, 1.0, 1.0]]), numpy.array([[1.0, 0.0, 1.0]]), numpy.ones((1, 3)), numpy.ones((1, 3))
            ],
            "one sample each": lambda rng: [numpy.array([[2.0]]), numpy.array([[-1.0]]), numpy.ones((1, 1)), numpy.ones((1, 1))],
            "zero weights and 1e4 values": lambda rng: [
                numpy.array([[1e4, 0.0, -1e4]]), numpy.array([[0.5, 3.0]]), numpy.array([[1.0, 0.0, 2.0]]), numpy.array([[0.0, 1.0]])
            ],
        },
        formula=r"W_1 = \int |F_u(t) - F_v(t)|\,dt = \sum_k |F_u(z_k) - F_v(z_k)|\,(z_{k+1} - z_k), \quad \partial W_1 / \partial z_k = s_{k-1} - s_k",
        reference="scipy.stats.wasserstein_distance; Villani 2009; Ramdas, Garcia & Cuturi 2017",
    )
)


def wasserstein_1d(
    u_values: Any, v_values: Any, u_weights: Any = None, v_weights: Any = None, reduction: str = "mean"
) -> Any:
    r"""Wasserstein-1 (earth mover's) distance between two 1-D empirical distributions.

    .. math::  W_1(u, v) = \int_{-\infty}^{\infty} |F_u(t) - F_v(t)|\,dt
               = \sum_{k=1}^{n+m-1} s_k\,(z_{k+1} - z_k), \qquad s_k = |F_u(z_k) - F_v(z_k)|

    where :math:`z_1 \le \dots \le z_{n+m}` are the pooled samples, sorted, and :math:`F_u, F_v`
    the (weighted) empirical CDFs. For equal sizes and weights this is
    :math:`\frac1n \sum_i |u_{(i)} - v_{(i)}|`, the mean gap between the sorted samples.

    **Gradient.** Between ties the order, hence every :math:`s_k`, is constant, so :math:`W_1`
    is piecewise linear in the samples:

    .. math::  \frac{\partial W_1}{\partial z_k} = s_{k-1} - s_k \qquad (s_0 = s_{n+m} = 0),

    routed back to the sample that sits at :math:`z_k`. At a tie (two samples equal) it has a
    kink; the gradient there is the one of the stable sort order (samples of ``u`` before those
    of ``v``), one of the one-sided derivatives. The weights are constants (no gradient).

    Parameters
    ----------
    u_values : array or Tensor (..., n)
    v_values : array or Tensor (..., m)
        Samples along the last axis; the sizes may differ, the leading (batch) axes must match.
        A 1-D pair gives one distance; a batch of rows gives one distance per row.
    u_weights, v_weights : array (..., n), (..., m), optional
        Non-negative weights of the samples (default equal), normalised to sum 1 per row.
    reduction : {'mean', 'sum', 'none'}
        Over the batch of rows (``'none'``: one distance per row).

    Agrees with ``scipy.stats.wasserstein_distance(u_values, v_values, u_weights, v_weights)``
    (which takes one pair of 1-D samples). PyTorch has no such function.

    Raises
    ------
    ValueError
        Batch shapes that differ, no samples, weights of another shape, negative weights or a
        row of weights summing to 0.

    Examples
    --------
    >>> import numpy as np
    >>> float(wasserstein_1d(np.array([0.0, 1.0, 3.0]), np.array([5.0, 1.0])))  # 1/3 + 2/6 + 2/2
    1.6666666666666665
    """
    m = get_array_module(as_data(u_values))
    u_array, v_array = m.asarray(as_data(u_values)), m.asarray(as_data(v_values))
    dtype = u_array.dtype if u_array.dtype.kind == "f" else numpy.float64
    if u_weights is None:
        u_weights = m.ones(u_array.shape, dtype=dtype)
    if v_weights is None:
        v_weights = m.ones(v_array.shape, dtype=dtype)
    return apply_loss(WASSERSTEIN_1D, u_values, v_values, u_weights, v_weights, reduction=reduction)


# ------------------------------------------------------------------------------------ gradient penalty


def _gradient_penalty_forward(xp: Any, gradients: Any, *, lambda_: float, eps: float) -> Any:
    d = _gp_norm(xp, gradients, eps) - 1.0
    return lambda_ * (d * d)


def _gradient_penalty_vjp(xp: Any, g: Any, gradients: Any, *, lambda_: float, eps: float) -> tuple[Any]:
    norm = _gp_norm(xp, gradients, eps)
    scale = (2.0 * lambda_) * g * (norm - 1.0) / norm  # d/dv of lambda (||v|| - 1)^2 = 2 lambda (||v|| - 1) v / ||v||
    return (column(xp, scale, gradients.ndim) * gradients,)


def _gp_norm(xp: Any, gradients: Any, eps: float) -> Any:
    v = flat(xp, gradients)
    # + eps inside the root: the norm's own gradient x/||x|| is 0/0 at x = 0 otherwise
    return xp.sqrt(xp.sum(v * v, axis=1) + eps)


def _check_gradient_penalty(gradients: Any, *, lambda_: float, eps: float) -> None:
    if gradients.ndim < 1:
        raise ValueError(f"gradients must have a batch axis (N, ...), got a scalar of shape {gradients.shape}")
    _params.real("lambda_", lambda_, low=0.0)
    _params.real("eps", eps, low=0.0, low_open=True)


GRADIENT_PENALTY = register(
    LossSpec(
        name="gradient_penalty",
        fixed={
            "rng": "draws the interpolation weights of the public function, before the registered penalty",
            "epsilon": "the interpolation weights of the public function, before the registered penalty",
        },
        family="distribution",
        args=(Arg("gradients", "real", ("N", "D")),),
        forward=_gradient_penalty_forward,
        vjp=_gradient_penalty_vjp,
        params={"lambda_": 10.0, "eps": 1e-12},
        check=_check_gradient_penalty,
        edge_cases={
            "zero gradients": lambda rng: [numpy.zeros((3, 4))],
            "unit-norm gradients": lambda rng: [numpy.eye(3, 4)],
            "gradients of 1e4": lambda rng: [numpy.full((2, 3), 1e4)],
        },
        formula=r"\ell_i = \lambda (\|v_i\|_\epsilon - 1)^2, \ \|v\|_\epsilon = \sqrt{\textstyle\sum_j v_j^2 + \epsilon}, \quad \partial \ell_i / \partial v_i = 2\lambda (\|v_i\|_\epsilon - 1)\, v_i / \|v_i\|_\epsilon",
        reference="Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, Improved Training of Wasserstein GANs",
    )
)


def gradient_norm_penalty(gradients: Any, lambda_: float = 10.0, eps: float = 1e-12, reduction: str = "mean") -> Any:
    r"""The WGAN-GP penalty of given input gradients :math:`v_i = \nabla_{\hat{x}} D(\hat{x}_i)`.

    .. math::  \ell_i = \lambda\,(\|v_i\|_\epsilon - 1)^2, \quad
               \|v\|_\epsilon = \sqrt{\textstyle\sum_j v_j^2 + \epsilon}, \qquad
               \frac{\partial \ell_i}{\partial v_i} = 2\lambda\,(\|v_i\|_\epsilon - 1)\,
               \frac{v_i}{\|v_i\|_\epsilon}

    The :math:`\epsilon` (default :math:`10^{-12}`) keeps the gradient finite at
    :math:`v_i = 0`, where :math:`v/\|v\|` is 0/0 (there the gradient is 0). It changes the
    value by at most :math:`2\lambda\sqrt{\epsilon}` (at :math:`v_i = 0`, where the norm
    becomes :math:`\sqrt{\epsilon} = 10^{-6}`), and by about
    :math:`\lambda\epsilon\,|\|v\| - 1| / \|v\|` elsewhere. The common PyTorch formulation
    ``torch.sqrt((v ** 2).sum(1) + 1e-12)`` is the same; ``v.norm(dim=1)`` differs by that much.

    This is the loss registered as ``gradient_penalty``; to build :math:`\hat{x}` and the
    critic's input gradients as well, use :func:`gradient_penalty`.

    Parameters
    ----------
    gradients : array or Tensor (N, ...)
        One gradient per sample; the norm is over all its non-batch axes.
    lambda_ : float
        The penalty weight :math:`\lambda \ge 0` (Gulrajani et al. use 10).
    eps : float
        :math:`\epsilon > 0` inside the square root.
    reduction : {'mean', 'sum', 'none'}

    Raises
    ------
    ValueError
        ``lambda_ < 0`` or ``eps <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gradient_norm_penalty(np.array([[3.0, 4.0], [0.6, 0.8]]))), 6)  # 10 (5 - 1)^2 / 2
    80.0
    """
    return apply_loss(GRADIENT_PENALTY, gradients, reduction=reduction, lambda_=lambda_, eps=eps)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Any,
    fake: Any,
    lambda_: float = 10.0,
    rng: numpy.random.Generator | None = None,
    epsilon: Any = None,
    eps: float = 1e-12,
    reduction: str = "mean",
) -> Tensor:
    r"""WGAN-GP gradient penalty of a critic (Gulrajani et al. 2017), differentiable in its weights.

    .. math::  \hat{x}_i = \epsilon_i x_i + (1 - \epsilon_i)\,\tilde{x}_i, \quad
               \epsilon_i \sim U[0, 1], \qquad
               L_{GP} = \lambda\,\mathbb{E}_i\big[(\|\nabla_{\hat{x}} D(\hat{x}_i)\|_2 - 1)^2\big]

    with :math:`x` real and :math:`\tilde{x} = G(z)` generated samples. The input gradients
    :math:`v_i = \nabla_{\hat{x}} D(\hat{x}_i)` are computed with
    ``nploss.autograd.grad(..., create_graph=True)``, so the backward pass through the critic is
    recorded; the penalty of :math:`v` (:func:`gradient_norm_penalty`, with its :math:`\epsilon`
    inside the norm) is then a graph node whose parents lead back to the critic's weights.
    ``penalty.backward()`` therefore gives :math:`\partial L_{GP} / \partial \theta`, a second
    derivative of the critic (its weights' gradient of its input gradient).

    Parameters
    ----------
    critic : callable
        Maps a Tensor (N, ...) to scores (N,) or (N, 1), built from :mod:`nploss.autograd` ops
        (an ``nploss.nn`` module). Each score must depend on its own sample only (no BatchNorm
        in training mode; Gulrajani et al. use none): the gradients are those of the sum of the
        scores.
    real, fake : array or Tensor (N, ...), same shape
        Real and generated samples. They are taken as constants: no gradient flows to them
        (the penalty trains the critic, not the generator).
    lambda_ : float
        :math:`\lambda \ge 0`, 10 by default.
    rng : numpy.random.Generator, optional
        Draws :math:`\epsilon_i` when ``epsilon`` is not given.
    epsilon : array (N,), optional
        The interpolation weights in [0, 1] (fixed values make the penalty deterministic).
    eps : float
        :math:`\epsilon > 0` inside the norm (see :func:`gradient_norm_penalty`).
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor
        The penalty; differentiable with respect to the critic's parameters.

    Raises
    ------
    TypeError
        ``critic`` is not callable or does not return a Tensor that depends on its input.
    ValueError
        ``real`` and ``fake`` differ in shape; ``epsilon`` of the wrong shape or outside [0, 1];
        ``lambda_ < 0``.

    Examples
    --------
    A linear critic :math:`D(x) = x \cdot w` has the input gradient :math:`w` everywhere:

    >>> import numpy as np
    >>> from nploss.autograd import Tensor, matmul
    >>> w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    >>> critic = lambda x: matmul(x, w)
    >>> penalty = gradient_penalty(critic, np.zeros((2, 2)), np.ones((2, 2)), rng=np.random.default_rng(0))
    >>> round(float(penalty.numpy()), 6)  # 10 (5 - 1)^2
    160.0
    >>> penalty.backward()
    >>> np.round(w.grad.numpy(), 6)  # 2 lambda (||w|| - 1) w / ||w||
    array([48., 64.])
    """
    if not callable(critic):
        raise TypeError(
            f"critic must be callable (an nploss.nn module or a function of a Tensor), got {type(critic).__name__}"
        )
    real_data, fake_data = as_data(real), as_data(fake)
    m = get_array_module(real_data)
    real_data, fake_data = m.asarray(real_data), m.asarray(fake_data)
    finite("real", real_data)
    finite("fake", fake_data)
    same_shape("real", real_data, "fake", fake_data)
    if real_data.ndim < 1 or real_data.shape[0] == 0:
        raise ValueError(f"real and fake must be batches (N, ...) with N >= 1, got shape {real_data.shape}")
    _params.real("lambda_", lambda_, low=0.0)
    n = real_data.shape[0]
    dtype = real_data.dtype if real_data.dtype.kind == "f" else numpy.float64
    if epsilon is None:
        rng = numpy.random.default_rng() if rng is None else rng
        epsilon = m.asarray(rng.uniform(0.0, 1.0, n), dtype=dtype)
    else:
        epsilon = m.asarray(as_data(epsilon), dtype=dtype)
        if epsilon.shape != (n,):
            raise ValueError(f"epsilon must have shape (N,) = ({n},), one weight per sample, got {epsilon.shape}")
        finite("epsilon", epsilon)
        in_range("epsilon", epsilon, 0.0, 1.0, "in [0, 1]")
    e = column(m, epsilon, real_data.ndim)
    x_hat = Tensor(e * real_data + (1.0 - e) * fake_data, requires_grad=True)
    with ag.enable_grad():  # the input gradient is needed even where no graph is wanted (no_grad)
        scores = critic(x_hat)
        if not isinstance(scores, Tensor) or not scores.requires_grad:
            raise TypeError(
                "critic must return a Tensor computed from its input with nploss.autograd ops "
                "(got one that does not depend on it)"
            )
        (gradients,) = ag.grad(ag.sum(scores), [x_hat], create_graph=True)
    return apply_loss(GRADIENT_PENALTY, gradients, reduction=reduction, lambda_=lambda_, eps=eps)


