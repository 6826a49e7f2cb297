r"""Distribution and generative losses: GANs, Wasserstein distances, the VAE and its KL term,
reconstruction and perceptual losses.

Each loss is one block, as in :mod:`nploss.losses.regression`: the formula and its derivative in
the docstring, ``_x_forward`` (unreduced) and ``_x_vjp`` right below, the registry entry, then the
public function.

Conventions of this family:

- **Scores and logits.** The critic of a WGAN and the discriminator of an LSGAN output real
  *scores* :math:`D(x)`; the discriminator of the original GAN outputs *logits* :math:`s` with
  :math:`D(x) = \sigma(s)`, so that every :math:`\log D` is a softplus that cannot overflow or
  take the log of 0.
- **Real and fake batches** have the same shape: the unreduced loss pairs the :math:`i`-th real
  sample with the :math:`i`-th generated one (Arjovsky et al.'s and Goodfellow et al.'s
  algorithms draw :math:`m` of each), so ``'mean'`` is :math:`\mathbb{E}` over both batches.
- **Per-sample losses** (``vae_elbo``, ``perceptual``, ``gradient_penalty``) sum or average over
  the features of a sample and leave the batch axis to ``reduction``.
- **Networks** (``perceptual``'s fixed feature network, ``gradient_penalty``'s critic) are
  ``nploss.nn`` modules, or for the critic any callable built from :mod:`nploss.autograd` ops.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy

from .. import autograd as ag
from .. import backend, nn
from ..autograd import Tensor, as_data
from ..backend import get_array_module
from ._apply import apply_loss
from ._spec import Arg, LossSpec, register
from ._validate import finite, in_range, same_shape

__all__ = [
    "wgan_critic",
    "wgan_generator",
    "wasserstein_1d",
    "gradient_penalty",
    "gradient_norm_penalty",
    "gan_discriminator",
    "gan_generator",
    "lsgan_discriminator",
    "lsgan_generator",
    "vae_elbo",
    "gaussian_kl",
    "perceptual",
    "reconstruction",
]


def _column(xp: Any, g: Any, ndim: int) -> Any:
    """A per-sample array (N,) shaped (N, 1, ..., 1), to scale samples of ``ndim`` axes."""
    return xp.reshape(g, (g.shape[0],) + (1,) * (ndim - 1))


def _flat(xp: Any, x: Any) -> Any:
    """(N, ...) -> (N, features)."""
    return xp.reshape(x, (x.shape[0], -1))


def _check_real_fake(real: Any, fake: Any, real_name: str, fake_name: str) -> None:
    same_shape(real_name, real, fake_name, fake)


def _real_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite real number, got {value!r}")


def _check_number(name: str, value: Any, *, positive: bool = False) -> None:
    _real_number(name, value)
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'}, got {value}")


def _pair_edges(name_a: str, name_b: str) -> dict[str, Any]:
    return {
        "scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 0.0, 3.0]), numpy.array([-1e4, 1e4, 0.0, -3.0])],
        f"{name_a} equal to {name_b}": lambda rng: [numpy.full(4, 0.5), numpy.full(4, 0.5)],
    }


# ------------------------------------------------------------------------------------ WGAN


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
        check=lambda r, f: _check_real_fake(r, f, "real_scores", "fake_scores"),
        edge_cases=_pair_edges("real_scores", "fake_scores"),
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


def _gp_norm(xp: Any, gradients: Any, eps: float) -> Any:
    flat = _flat(xp, gradients)
    # + eps inside the root: the norm's own gradient x/||x|| is 0/0 at x = 0 otherwise
    return xp.sqrt(xp.sum(flat * flat, axis=1) + eps)


def _gradient_penalty_forward(xp: Any, gradients: Any, *, lambda_: float, eps: float) -> Any:
    d = _gp_norm(xp, gradients, eps) - 1.0
    return lambda_ * (d * d)


def _gradient_penalty_vjp(xp: Any, g: Any, gradients: Any, *, lambda_: float, eps: float) -> tuple[Any]:
    norm = _gp_norm(xp, gradients, eps)
    scale = (2.0 * lambda_) * g * (norm - 1.0) / norm  # d/dv of lambda (||v|| - 1)^2 = 2 lambda (||v|| - 1) v / ||v||
    return (_column(xp, scale, gradients.ndim) * gradients,)


def _check_gradient_penalty(gradients: Any, *, lambda_: float, eps: float) -> None:
    if gradients.ndim < 1:
        raise ValueError(f"gradients must have a batch axis (N, ...), got a scalar of shape {gradients.shape}")
    _check_number("lambda_", lambda_)
    _check_number("eps", eps, positive=True)


GRADIENT_PENALTY = register(
    LossSpec(
        name="gradient_penalty",
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
    _check_number("lambda_", lambda_)
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
    e = _column(m, epsilon, real_data.ndim)
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


# ------------------------------------------------------------------------------------ GAN (from logits)


def _gan_discriminator_forward(xp: Any, real_logits: Any, fake_logits: Any) -> Any:
    # -log sigma(r) = softplus(-r) and -log(1 - sigma(f)) = softplus(f): no log of an underflowed 0
    return xp.softplus(-real_logits) + xp.softplus(fake_logits)


def _gan_discriminator_vjp(xp: Any, g: Any, real_logits: Any, fake_logits: Any) -> tuple[Any, Any]:
    # sigma(r) - 1 written as -sigma(-r), which keeps its precision when sigma(r) is near 1
    return -g * xp.sigmoid(-real_logits), g * xp.sigmoid(fake_logits)


GAN_DISCRIMINATOR = register(
    LossSpec(
        name="gan_discriminator",
        family="distribution",
        args=(Arg("real_logits", "logits"), Arg("fake_logits", "logits")),
        forward=_gan_discriminator_forward,
        vjp=_gan_discriminator_vjp,
        check=lambda r, f: _check_real_fake(r, f, "real_logits", "fake_logits"),
        edge_cases={
            "logits of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 1e4, -1e4]), numpy.array([1e4, -1e4, -1e4, 1e4])],
            "logits of 0": lambda rng: [numpy.zeros(3), numpy.zeros(3)],
        },
        formula=r"\ell = \log(1 + e^{-s_r}) + \log(1 + e^{s_f}), \quad \partial \ell / \partial s_r = -\sigma(-s_r), \ \partial \ell / \partial s_f = \sigma(s_f)",
        reference="Goodfellow et al. 2014, Generative Adversarial Nets; BCE with logits",
        torch="binary_cross_entropy_with_logits",
    )
)


def gan_discriminator(real_logits: Any, fake_logits: Any, reduction: str = "mean") -> Any:
    r"""Discriminator loss of the original GAN, from logits.

    .. math::  L_D = -\mathbb{E}_x \log D(x) - \mathbb{E}_z \log(1 - D(G(z))), \quad
               D = \sigma(s), \qquad
               \ell_i = \log(1 + e^{-s_{r,i}}) + \log(1 + e^{s_{f,i}})

    .. math::  \frac{\partial \ell_i}{\partial s_{r,i}} = -\sigma(-s_{r,i}) = \sigma(s_{r,i}) - 1,
               \qquad \frac{\partial \ell_i}{\partial s_{f,i}} = \sigma(s_{f,i})

    Both terms are softplus functions of the logits, finite for logits of any size (a
    discriminator that outputs probabilities would have :math:`\log 0` once it is confident).

    Parameters
    ----------
    real_logits, fake_logits : array or Tensor, same shape (N,) or (N, 1)
        Logits :math:`s` of the discriminator on real and on generated samples.
    reduction : {'mean', 'sum', 'none'}

    Equals ``F.binary_cross_entropy_with_logits(real_logits, ones, reduction=r) +
    F.binary_cross_entropy_with_logits(fake_logits, zeros, reduction=r)`` in PyTorch (real
    labelled 1, fake labelled 0), also for ``'none'``, which pairs the two batches.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gan_discriminator(np.array([0.0]), np.array([0.0]))), 6)  # 2 log 2
    1.386294
    """
    return apply_loss(GAN_DISCRIMINATOR, real_logits, fake_logits, reduction=reduction)


def _gan_generator_forward(xp: Any, fake_logits: Any, *, non_saturating: bool) -> Any:
    if non_saturating:
        return xp.softplus(-fake_logits)  # -log D(G(z))
    return -xp.softplus(fake_logits)  # log(1 - D(G(z)))


def _gan_generator_vjp(xp: Any, g: Any, fake_logits: Any, *, non_saturating: bool) -> tuple[Any]:
    if non_saturating:
        return (-g * xp.sigmoid(-fake_logits),)
    return (-g * xp.sigmoid(fake_logits),)


def _check_gan_generator(fake_logits: Any, *, non_saturating: Any) -> None:
    if not isinstance(non_saturating, bool):
        raise TypeError(f"non_saturating must be a bool, got {non_saturating!r}")


GAN_GENERATOR = register(
    LossSpec(
        name="gan_generator",
        family="distribution",
        args=(Arg("fake_logits", "logits"),),
        forward=_gan_generator_forward,
        vjp=_gan_generator_vjp,
        params={"non_saturating": True},
        check=_check_gan_generator,
        edge_cases={"logits of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 0.0])]},
        formula=r"\ell = -\log \sigma(s_f) = \log(1 + e^{-s_f}), \quad \partial \ell / \partial s_f = -\sigma(-s_f)",
        reference="Goodfellow et al. 2014, Generative Adversarial Nets (non-saturating generator, section 3)",
        torch="binary_cross_entropy_with_logits",
    )
)


def gan_generator(fake_logits: Any, non_saturating: bool = True, reduction: str = "mean") -> Any:
    r"""Generator loss of the original GAN, from logits; the non-saturating form by default.

    .. math::  \text{non-saturating:}\quad \ell_i = -\log D(G(z_i)) = \log(1 + e^{-s_i}),
               \qquad \frac{\partial \ell_i}{\partial s_i} = -\sigma(-s_i)

    .. math::  \text{minimax:}\quad \ell_i = \log(1 - D(G(z_i))) = -\log(1 + e^{s_i}),
               \qquad \frac{\partial \ell_i}{\partial s_i} = -\sigma(s_i)

    Both push :math:`D(G(z))` up, but early in training, when the discriminator rejects the
    samples (:math:`s \ll 0`), the minimax gradient :math:`-\sigma(s)` vanishes (it
    *saturates*) while the non-saturating one tends to -1. Goodfellow et al. recommend the
    non-saturating loss in practice.

    Parameters
    ----------
    fake_logits : array or Tensor (N,) or (N, 1)
        Discriminator logits on generated samples.
    non_saturating : bool
        True (default): :math:`-\log D(G(z))`, non-negative. False: the minimax
        :math:`\log(1 - D(G(z)))`, which is negative.
    reduction : {'mean', 'sum', 'none'}

    PyTorch: ``F.binary_cross_entropy_with_logits(fake_logits, ones)`` (fake labelled as real);
    the minimax form is ``-F.binary_cross_entropy_with_logits(fake_logits, zeros)``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gan_generator(np.array([0.0]))), 6)  # log 2
    0.693147
    """
    return apply_loss(GAN_GENERATOR, fake_logits, reduction=reduction, non_saturating=non_saturating)


# ------------------------------------------------------------------------------------ LSGAN


def _lsgan_discriminator_forward(
    xp: Any, real_scores: Any, fake_scores: Any, *, real_label: float, fake_label: float
) -> Any:
    r, f = real_scores - real_label, fake_scores - fake_label
    return 0.5 * (r * r) + 0.5 * (f * f)


def _lsgan_discriminator_vjp(
    xp: Any, g: Any, real_scores: Any, fake_scores: Any, *, real_label: float, fake_label: float
) -> tuple[Any, Any]:
    return g * (real_scores - real_label), g * (fake_scores - fake_label)


def _check_labels(**labels: Any) -> None:
    for name, value in labels.items():
        _real_number(name, value)


def _check_lsgan_discriminator(real_scores: Any, fake_scores: Any, *, real_label: Any, fake_label: Any) -> None:
    _check_real_fake(real_scores, fake_scores, "real_scores", "fake_scores")
    _check_labels(real_label=real_label, fake_label=fake_label)


LSGAN_DISCRIMINATOR = register(
    LossSpec(
        name="lsgan_discriminator",
        family="distribution",
        args=(Arg("real_scores", "real"), Arg("fake_scores", "real")),
        forward=_lsgan_discriminator_forward,
        vjp=_lsgan_discriminator_vjp,
        params={"real_label": 1.0, "fake_label": 0.0},
        check=_check_lsgan_discriminator,
        edge_cases={
            "perfect discriminator": lambda rng: [numpy.ones(3), numpy.zeros(3)],
            "scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4]), numpy.array([-1e4, 1e4])],
        },
        formula=r"\ell = \tfrac12 (D(x) - b)^2 + \tfrac12 (D(G(z)) - a)^2, \quad \partial \ell / \partial D(x) = D(x) - b, \ \partial \ell / \partial D(G(z)) = D(G(z)) - a",
        reference="Mao et al. 2017, Least Squares Generative Adversarial Networks (the a-b-c objective with the 0-1 coding a = 0, b = 1)",
        torch="mse_loss",
    )
)


def lsgan_discriminator(
    real_scores: Any, fake_scores: Any, real_label: float = 1.0, fake_label: float = 0.0, reduction: str = "mean"
) -> Any:
    r"""Least-squares GAN discriminator loss (Mao et al. 2017).

    .. math::  L_D = \tfrac12\,\mathbb{E}_x (D(x) - b)^2 + \tfrac12\,\mathbb{E}_z (D(G(z)) - a)^2,
               \qquad \frac{\partial \ell_i}{\partial D(x_i)} = D(x_i) - b, \quad
               \frac{\partial \ell_i}{\partial D(G(z_i))} = D(G(z_i)) - a

    with the labels :math:`b` = ``real_label`` (1) and :math:`a` = ``fake_label`` (0) of the
    paper's 0-1 coding. The scores are raw outputs (no sigmoid).

    Parameters
    ----------
    real_scores, fake_scores : array or Tensor, same shape (N,) or (N, 1)
    real_label, fake_label : float
    reduction : {'mean', 'sum', 'none'}

    PyTorch: ``0.5 * F.mse_loss(real_scores, ones) + 0.5 * F.mse_loss(fake_scores, zeros)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(lsgan_discriminator(np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    0.5
    """
    return apply_loss(
        LSGAN_DISCRIMINATOR, real_scores, fake_scores, reduction=reduction, real_label=real_label, fake_label=fake_label
    )


def _lsgan_generator_forward(xp: Any, fake_scores: Any, *, real_label: float) -> Any:
    f = fake_scores - real_label
    return 0.5 * (f * f)


def _lsgan_generator_vjp(xp: Any, g: Any, fake_scores: Any, *, real_label: float) -> tuple[Any]:
    return (g * (fake_scores - real_label),)


LSGAN_GENERATOR = register(
    LossSpec(
        name="lsgan_generator",
        family="distribution",
        args=(Arg("fake_scores", "real"),),
        forward=_lsgan_generator_forward,
        vjp=_lsgan_generator_vjp,
        params={"real_label": 1.0},
        check=lambda f, **labels: _check_labels(**labels),
        edge_cases={
            "fooled discriminator": lambda rng: [numpy.ones(3)],
            "scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4])],
        },
        formula=r"\ell = \tfrac12 (D(G(z)) - c)^2, \quad \partial \ell / \partial D(G(z)) = D(G(z)) - c",
        reference="Mao et al. 2017, Least Squares Generative Adversarial Networks (the a-b-c objective with the 0-1 coding c = 1)",
        torch="mse_loss",
    )
)


def lsgan_generator(fake_scores: Any, real_label: float = 1.0, reduction: str = "mean") -> Any:
    r"""Least-squares GAN generator loss (Mao et al. 2017).

    .. math::  L_G = \tfrac12\,\mathbb{E}_z (D(G(z)) - c)^2, \qquad
               \frac{\partial \ell_i}{\partial D(G(z_i))} = D(G(z_i)) - c

    with :math:`c` = ``real_label`` = 1, the value the generator wants the discriminator to
    believe.

    PyTorch: ``0.5 * F.mse_loss(fake_scores, ones)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(lsgan_generator(np.array([0.0, 1.0])))
    0.25
    """
    return apply_loss(LSGAN_GENERATOR, fake_scores, reduction=reduction, real_label=real_label)


# ------------------------------------------------------------------------------------ Gaussian KL


def _gaussian_kl_forward(xp: Any, mu: Any, logvar: Any) -> Any:
    # expm1(l) - l keeps its precision when sigma^2 is near 1 (exp(l) - 1 - l cancels to noise)
    return 0.5 * (mu * mu + (xp.expm1(logvar) - logvar))


def _gaussian_kl_composite(xp: Any, mu: Any, logvar: Any) -> Any:
    # The engine has no expm1: the same formula with exp(l) - 1.
    return 0.5 * (mu * mu + ((xp.exp(logvar) - 1.0) - logvar))


def _gaussian_kl_vjp(xp: Any, g: Any, mu: Any, logvar: Any) -> tuple[Any, Any]:
    return g * mu, (0.5 * g) * (xp.exp(logvar) - 1.0)


def _kl_weights(xp: Any, reduction: str, mu: Any, logvar: Any) -> float:
    if reduction == "batchmean":
        return 1.0 / max(mu.shape[0] if mu.ndim else 1, 1)
    return 1.0 / max(mu.size, 1)


def _check_gaussian(mu: Any, logvar: Any, **_: Any) -> None:
    same_shape("mu", mu, "logvar", logvar)


_KL_OVERFLOW = (
    "sigma^2 = exp(logvar) overflows for logvar above about 709 (88 in float32): the KL itself is "
    "that large, whatever the implementation"
)


def _gaussian_edges() -> dict[str, Any]:
    return {
        "posterior equal to the prior": lambda rng: [numpy.zeros((2, 3)), numpy.zeros((2, 3))],
        "logvar of +-30 and tiny": lambda rng: [numpy.array([[0.0, 1e4, -2.0]]), numpy.array([[30.0, -30.0, 1e-10]])],
    }


GAUSSIAN_KL = register(
    LossSpec(
        name="gaussian_kl",
        family="distribution",
        args=(Arg("mu", "real", ("N", "D")), Arg("logvar", "real", ("N", "D"))),
        forward=_gaussian_kl_forward,
        vjp=_gaussian_kl_vjp,
        composite=_gaussian_kl_composite,
        reductions=("mean", "sum", "none", "batchmean"),
        reduction_weights=_kl_weights,
        check=_check_gaussian,
        edge_cases=_gaussian_edges(),
        stability_exceptions={"large scale": _KL_OVERFLOW},
        formula=r"\mathrm{KL}(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, 1)) = \tfrac12 (\mu^2 + \sigma^2 - 1 - \log \sigma^2), \quad \partial / \partial \mu = \mu, \ \partial / \partial \log\sigma^2 = \tfrac12 (\sigma^2 - 1)",
        reference="Kingma & Welling 2014, Auto-Encoding Variational Bayes (appendix B); torch.distributions.kl_divergence",
        torch="distributions.kl_divergence",
    )
)


def gaussian_kl(mu: Any, logvar: Any, reduction: str = "mean") -> Any:
    r"""KL divergence of a diagonal Gaussian from the standard normal, in closed form.

    .. math::  \mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, 1)\big)
               = \tfrac12\,(\mu^2 + \sigma^2 - 1 - \log \sigma^2), \qquad
               \frac{\partial}{\partial \mu} = \mu, \quad
               \frac{\partial}{\partial \log \sigma^2} = \tfrac12 (\sigma^2 - 1)

    per latent dimension, with :math:`\sigma^2 = e^{\text{logvar}}`. The forward computes
    :math:`\sigma^2 - 1 - \log\sigma^2` as ``expm1(logvar) - logvar``, which stays accurate when
    the posterior is close to the prior (where the KL is tiny and the naive form is rounding
    noise). A ``logvar`` beyond about 709 overflows :math:`\sigma^2` (the KL itself is that
    large).

    Parameters
    ----------
    mu, logvar : array or Tensor, same shape (N, d) (or any shape)
        Mean and log-variance of the encoder's posterior :math:`q(z|x)`.
    reduction : {'mean', 'sum', 'none', 'batchmean'}
        ``'none'``: the KL per dimension; ``'mean'``: their mean; ``'batchmean'``: the sum over
        dimensions averaged over the batch (axis 0), the per-sample KL of a VAE.

    Matches ``torch.distributions.kl_divergence(Normal(mu, exp(logvar / 2)), Normal(0, 1))``,
    which is elementwise (``'none'``).

    Examples
    --------
    >>> import numpy as np
    >>> float(gaussian_kl(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), reduction="batchmean"))
    0.5
    """
    return apply_loss(GAUSSIAN_KL, mu, logvar, reduction=reduction)


# ------------------------------------------------------------------------------------ VAE


DECODERS = ("bernoulli", "gaussian")


def _reconstruction_terms(xp: Any, reconstruction: Any, x: Any, decoder: str) -> Any:
    if decoder == "bernoulli":
        # -log p(x|z) with p = sigma(logit): BCE with logits, softplus(s) - x s, finite for any s
        return xp.softplus(reconstruction) - x * reconstruction
    e = reconstruction - x
    return 0.5 * (e * e)  # unit-variance Gaussian, without the constant (1/2) log(2 pi)


def _reconstruction_grad(xp: Any, reconstruction: Any, x: Any, decoder: str) -> tuple[Any, Any]:
    """d/d reconstruction and d/d x of the terms above."""
    if decoder == "bernoulli":
        return xp.sigmoid(reconstruction) - x, -reconstruction
    e = reconstruction - x
    return e, -e


def _vae_elbo(xp: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, beta: float, decoder: str, kl: Any) -> Any:
    recon = xp.sum(_flat(xp, _reconstruction_terms(xp, reconstruction, x, decoder)), axis=1)
    return recon + beta * xp.sum(_flat(xp, kl(xp, mu, logvar)), axis=1)


def _vae_elbo_forward(xp: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str) -> Any:
    return _vae_elbo(xp, reconstruction, x, mu, logvar, beta, decoder, _gaussian_kl_forward)


def _vae_elbo_composite(
    xp: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str
) -> Any:
    return _vae_elbo(xp, reconstruction, x, mu, logvar, beta, decoder, _gaussian_kl_composite)


def _vae_elbo_vjp(
    xp: Any, g: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str
) -> tuple[Any, ...]:
    grad_r, grad_x = _reconstruction_grad(xp, reconstruction, x, decoder)
    g_data = _column(xp, g, reconstruction.ndim)
    grad_mu, grad_logvar = _gaussian_kl_vjp(xp, beta * _column(xp, g, mu.ndim), mu, logvar)
    return g_data * grad_r, g_data * grad_x, grad_mu, grad_logvar


def _check_vae(reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str) -> None:
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(map(repr, DECODERS))}, got {decoder!r}")
    _check_number("beta", beta)
    same_shape("reconstruction", reconstruction, "x", x)
    same_shape("mu", mu, "logvar", logvar)
    if reconstruction.ndim < 2:
        raise ValueError(f"reconstruction must be a batch (N, features...), got shape {reconstruction.shape}")
    if mu.ndim != 2 or mu.shape[0] != reconstruction.shape[0]:
        raise ValueError(
            f"mu must have shape (N, latent) with N = {reconstruction.shape[0]} (the batch of x), got {mu.shape}"
        )
    if decoder == "bernoulli":
        in_range("x", x, 0.0, 1.0, "in [0, 1] for a Bernoulli decoder")


def _vae_sampler(rng: numpy.random.Generator, sizes: dict[str, int]) -> list[numpy.ndarray]:
    n, t, d = sizes["N"], sizes["T"], sizes["D"]
    data = [2.0 * rng.standard_normal((n, t)), rng.uniform(0.0, 1.0, (n, t))]
    return data + [rng.standard_normal((n, d)), 0.5 * rng.standard_normal((n, d))]


VAE_ELBO = register(
    LossSpec(
        name="vae_elbo",
        family="distribution",
        args=(
            Arg("reconstruction", "real", ("N", "T")),
            Arg("x", "real", ("N", "T")),
            Arg("mu", "real", ("N", "D")),
            Arg("logvar", "real", ("N", "D")),
        ),
        forward=_vae_elbo_forward,
        vjp=_vae_elbo_vjp,
        composite=_vae_elbo_composite,
        params={"beta": 1.0, "decoder": "bernoulli"},
        check=_check_vae,
        sampler=_vae_sampler,
        edge_cases={
            "logits of +-1e4, binary x": lambda rng: [
                numpy.array([[1e4, -1e4, 1e4], [-1e4, 0.0, 3.0]]), numpy.array([[1.0, 0.0, 0.0], [1.0, 0.5, 1.0]]),
                numpy.zeros((2, 2)), numpy.zeros((2, 2)),
            ],
            "logvar of +-30": lambda rng: [
                numpy.zeros((1, 2)), numpy.full((1, 2), 0.5), numpy.array([[1e3, 0.0]]), numpy.array([[30.0, -30.0]])
            ],
        },
        stability_exceptions={
            "large scale": _KL_OVERFLOW + "; and x scaled out of [0, 1] is refused by a Bernoulli decoder"
        },
        formula=r"\ell_i = -\log p(x_i | z) + \beta\, \mathrm{KL}(\mathcal{N}(\mu_i, \sigma_i^2) \| \mathcal{N}(0, I)), \ -\log p = \sum_j \mathrm{softplus}(s_{ij}) - x_{ij} s_{ij} \ \text{or}\ \tfrac12 \sum_j (\hat{x}_{ij} - x_{ij})^2",
        reference="Kingma & Welling 2014, Auto-Encoding Variational Bayes (eq. 10, appendix B); Higgins et al. 2017 (beta-VAE)",
    )
)


def vae_elbo(
    reconstruction: Any,
    x: Any,
    mu: Any,
    logvar: Any,
    beta: float = 1.0,
    decoder: str = "bernoulli",
    reduction: str = "mean",
) -> Any:
    r"""Negative evidence lower bound of a VAE (the loss to minimise), per sample.

    .. math::  \ell_i = \underbrace{-\log p(x_i \mid z_i)}_{\text{reconstruction}}
               + \beta\,\underbrace{\tfrac12 \sum_k (\mu_{ik}^2 + \sigma_{ik}^2 - 1 - \log \sigma_{ik}^2)}_{\mathrm{KL}(q(z|x_i)\,\|\,\mathcal{N}(0, I))}

    with the reconstruction term summed over the features of a sample:

    - ``decoder="bernoulli"``: ``reconstruction`` holds the decoder's **logits** :math:`s`
      (before its sigmoid) and :math:`-\log p = \sum_j \mathrm{softplus}(s_j) - x_j s_j`, the
      binary cross entropy with logits, :math:`\partial/\partial s_j = \sigma(s_j) - x_j`.
      Logits rather than probabilities keep the term finite for a confident decoder;
      ``x`` must lie in [0, 1] (binary or grey levels).
    - ``decoder="gaussian"``: ``reconstruction`` is the mean :math:`\hat{x}` of a unit-variance
      Gaussian and :math:`-\log p = \tfrac12 \sum_j (\hat{x}_j - x_j)^2`,
      :math:`\partial/\partial \hat{x}_j = \hat{x}_j - x_j`. The constant
      :math:`\tfrac{D}{2}\log 2\pi` of the true negative log-likelihood is left out (it has no
      gradient), so a perfect reconstruction with :math:`q = \mathcal{N}(0, I)` gives 0.

    The KL gradients are :math:`\beta\mu` and :math:`\tfrac{\beta}{2}(\sigma^2 - 1)` (see
    :func:`gaussian_kl`). ``'mean'`` averages over the batch: the usual VAE objective
    (Kingma & Welling's estimator with one sample of :math:`z` per :math:`x`).

    Parameters
    ----------
    reconstruction : array or Tensor (N, ...)
        Decoder output for the sampled :math:`z_i` (logits or means, see above).
    x : array or Tensor (N, ...)
        The data, same shape. Differentiable too (:math:`-s` or :math:`x - \hat{x}`).
    mu, logvar : array or Tensor (N, latent)
        The encoder's posterior :math:`q(z|x) = \mathcal{N}(\mu, \mathrm{diag}\,e^{\text{logvar}})`.
    beta : float
        Weight :math:`\beta \ge 0` of the KL term (1: the ELBO; > 1: the beta-VAE of Higgins et al.).
    decoder : {'bernoulli', 'gaussian'}
    reduction : {'mean', 'sum', 'none'}
        Over the batch; ``'none'`` gives :math:`\ell_i` (N,).

    The PyTorch VAE example computes ``F.binary_cross_entropy(sigmoid(s), x, reduction='sum')``
    plus the KL, summed over the batch (our ``reduction='sum'``); with logits
    ``F.binary_cross_entropy_with_logits(s, x, reduction='sum')`` is the same without the
    clamp of :math:`\log` at -100.

    Raises
    ------
    ValueError
        Unknown ``decoder``; ``beta < 0``; ``x`` outside [0, 1] for a Bernoulli decoder; shapes
        that differ or batch sizes that disagree; NaN anywhere.

    Examples
    --------
    >>> import numpy as np
    >>> x, mean = np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]])
    >>> float(vae_elbo(mean, x, np.array([[1.0]]), np.array([[0.0]]), decoder="gaussian"))  # 1/2 + 1/2
    1.0
    """
    return apply_loss(VAE_ELBO, reconstruction, x, mu, logvar, reduction=reduction, beta=beta, decoder=decoder)


# ------------------------------------------------------------------------------------ reconstruction


KINDS = ("mse", "bce")


def _reconstruction_forward(xp: Any, output: Any, input: Any, *, kind: str) -> Any:  # noqa: A002
    if kind == "bce":
        return _reconstruction_terms(xp, output, input, "bernoulli")
    e = output - input
    return e * e


def _reconstruction_vjp(xp: Any, g: Any, output: Any, input: Any, *, kind: str) -> tuple[Any, Any]:  # noqa: A002
    if kind == "bce":
        grad_o, grad_i = _reconstruction_grad(xp, output, input, "bernoulli")
        return g * grad_o, g * grad_i
    grad = 2.0 * g * (output - input)
    return grad, -grad


def _check_reconstruction(output: Any, input: Any, *, kind: str) -> None:  # noqa: A002
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    same_shape("output", output, "input", input)
    if kind == "bce":
        in_range("input", input, 0.0, 1.0, "in [0, 1] for kind='bce'")


RECONSTRUCTION = register(
    LossSpec(
        name="reconstruction",
        family="distribution",
        args=(Arg("output", "real"), Arg("input", "real")),
        forward=_reconstruction_forward,
        vjp=_reconstruction_vjp,
        params={"kind": "mse"},
        check=_check_reconstruction,
        edge_cases={
            "perfect reconstruction": lambda rng: [numpy.full(3, 0.25), numpy.full(3, 0.25)],
            "errors of 1e4": lambda rng: [numpy.array([1e4, -1e4]), numpy.zeros(2)],
        },
        formula=r"\ell = (\hat{x} - x)^2 \ \text{(mse)} \ \text{or} \ \mathrm{softplus}(s) - x s \ \text{(bce, logits)}",
        reference="seed 004, section 4 (autoencoder reconstruction loss); torch mse_loss / binary_cross_entropy_with_logits",
        torch="mse_loss",
    )
)


def reconstruction(output: Any, input: Any, kind: str = "mse", reduction: str = "mean") -> Any:  # noqa: A002
    r"""Reconstruction loss of an autoencoder: the output against the input it reconstructs.

    .. math::  \text{mse:}\ \ \ell = (\hat{x} - x)^2, \ \ \frac{\partial \ell}{\partial \hat{x}} = 2(\hat{x} - x);
               \qquad
               \text{bce:}\ \ \ell = \mathrm{softplus}(s) - x s, \ \
               \frac{\partial \ell}{\partial s} = \sigma(s) - x, \ \ \frac{\partial \ell}{\partial x} = -s

    elementwise, with ``'mean'`` over every element (PyTorch's convention, unlike
    :func:`vae_elbo`, which sums over the features of a sample).

    Parameters
    ----------
    output : array or Tensor
        The reconstruction: values :math:`\hat{x}` for ``'mse'``; **logits** :math:`s` (the
        decoder before its sigmoid) for ``'bce'``, so that the loss stays finite for any output.
    input : array or Tensor, same shape
        The original input; in [0, 1] for ``'bce'``.
    kind : {'mse', 'bce'}
    reduction : {'mean', 'sum', 'none'}

    ``'mse'`` is ``F.mse_loss(output, input)``, ``'bce'`` is
    ``F.binary_cross_entropy_with_logits(output, input)``.

    Raises
    ------
    ValueError
        Unknown ``kind``; shapes that differ; ``input`` outside [0, 1] for ``'bce'``.

    Examples
    --------
    >>> import numpy as np
    >>> float(reconstruction(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    2.0
    """
    return apply_loss(RECONSTRUCTION, output, input, reduction=reduction, kind=kind)


# ------------------------------------------------------------------------------------ perceptual


class _Tanh(nn.Module):
    """tanh as a layer: the audit's feature network is smooth, so it has no kinks to avoid."""

    def forward(self, x: Any) -> Tensor:
        return ag.tanh(x)


def _layer_indices(network: Any, layers: Any) -> tuple[int, ...] | None:
    """The sorted non-negative indices of the compared layers, or None for the output only."""
    if not isinstance(network, nn.Module):
        raise TypeError(f"network must be an nploss.nn.Module, got {type(network).__name__}")
    if layers is None:
        return None
    if not isinstance(network, nn.Sequential):
        raise TypeError(
            f"layers (indices of sub-modules) needs network to be an nploss.nn.Sequential, got {type(network).__name__}"
        )
    items = [layers] if isinstance(layers, int) else list(layers)
    if not items:
        raise ValueError("layers must name at least one layer of network, got none")
    size = len(network)
    out = set()
    for i in items:
        if isinstance(i, bool) or not isinstance(i, int | numpy.integer):
            raise TypeError(f"layers must be integer indices into network, got {i!r}")
        if not -size <= i < size:
            raise ValueError(f"layers must be indices in [{-size}, {size}) for a network of {size} layers, got {i}")
        out.add(int(i) % size)
    return tuple(sorted(out))


def _frozen(module: nn.Module, like: Any) -> dict[str, Tensor]:
    """The module's parameters and buffers as constants in the array module and floating dtype
    of ``like``: no gradient reaches them, and float32 inputs stay float32."""
    m = get_array_module(like)
    frozen = {}
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        data = t.data
        if get_array_module(data) is not m:
            data = m.asarray(backend.to_numpy(data))
        if data.dtype.kind == "f" and like.dtype.kind == "f" and data.dtype != like.dtype:
            data = data.astype(like.dtype)
        frozen[name] = Tensor(data)
    return frozen


def _features(network: nn.Module, x: Any, layers: tuple[int, ...] | None) -> list[Tensor]:
    """The outputs of the chosen layers (in eval mode, with its parameters held constant)."""
    data = as_data(x)
    h = x if isinstance(x, Tensor) else Tensor(x)
    modules, wanted = (list(network), set(layers)) if layers is not None else ([network], {0})
    modes = [(module, module.training) for module in network.modules()]
    network.eval()  # BatchNorm with its running statistics: a fixed function of each sample
    try:
        outputs = []
        for i, module in enumerate(modules[: max(wanted) + 1]):
            h = nn.functional_call(module, _frozen(module, data), h)
            if i in wanted:
                outputs.append(h)
        return outputs
    finally:
        for module, mode in modes:  # each module back to its own mode (what Module.train sets)
            object.__setattr__(module, "training", mode)


def _feature_pairs(
    xp: Any, network: nn.Module, x: Any, y: Any, layers: tuple[int, ...] | None
) -> list[tuple[Any, Any]]:
    """``(phi_l(x), phi_l(y))`` per layer, from one pass over the batch [x; y] (each sample's
    features depend on that sample only, so stacking the two batches changes nothing)."""
    n = x.shape[0]
    features = _features(network, xp.concatenate([x, y], axis=0), layers)
    return [(f[:n], f[n:]) for f in features]


def _perceptual_forward(xp: Any, x: Any, y: Any, *, network: nn.Module, layers: tuple[int, ...] | None) -> Any:
    arrays = not isinstance(x, Tensor)
    with ag.no_grad() if arrays else contextlib.nullcontext():
        pairs = _feature_pairs(xp, network, x, y, layers)
    total: Any = 0.0
    for a, b in pairs:
        d = _flat(xp, (a.data - b.data) if arrays else (a - b))
        total = total + xp.mean(d * d, axis=1)
    return total


def _differentiable(t: Any) -> Tensor:
    """A Tensor to differentiate with respect to: a new node on ``t``'s graph if it has one
    (so a gradient recorded through it still depends on ``t``), else a fresh leaf."""
    if isinstance(t, Tensor) and t.requires_grad:
        return t * 1.0
    return Tensor(as_data(t), requires_grad=True)


def _perceptual_vjp(
    xp: Any, g: Any, x: Any, y: Any, *, network: nn.Module, layers: tuple[int, ...] | None
) -> tuple[Any, Any]:
    recording = isinstance(g, Tensor)  # create_graph: this gradient must be differentiable too
    with ag.enable_grad():
        xs, ys = _differentiable(x), _differentiable(y)
        n = xs.shape[0]
        features = _features(network, ag.concatenate([xs, ys], axis=0), layers)
        # the loss's own derivative, d ell_i / d phi_l(x_i) = 2 (phi_l(x_i) - phi_l(y_i)) / M_l and
        # its negative for y_i; the network's transposed Jacobian is applied by the engine
        cotangents = []
        for f in features:
            count = max(int(numpy.prod(f.shape[1:])), 1)
            a, b = (f[:n], f[n:]) if recording else (f.data[:n], f.data[n:])
            c = (2.0 / count) * _column(xp, g, f.ndim) * (a - b)
            cotangents.append(xp.concatenate([c, -c], axis=0))
        grads = ag.grad(features, [xs, ys], grad_outputs=cotangents, create_graph=recording, allow_unused=True)
    out = [Tensor(xp.zeros_like(as_data(t))) if gr is None else gr for t, gr in zip((x, y), grads)]
    return (out[0], out[1]) if recording else (out[0].data, out[1].data)


def _check_perceptual(x: Any, y: Any, *, network: Any, layers: Any) -> None:
    same_shape("x", x, "y", y)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a batch (N, ...) with N >= 1, got shape {x.shape}")
    _layer_indices(network, layers)


def _audit_network() -> nn.Sequential:
    """A tiny fixed conv net, built deterministically: the registry's perceptual loss uses it."""
    rng = numpy.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, rng=rng), _Tanh(), nn.Conv2d(2, 2, 3, stride=2, rng=rng), _Tanh()
    )


PERCEPTUAL = register(
    LossSpec(
        name="perceptual",
        family="distribution",
        args=(Arg("x", "real", ("N", "C", "H", "W")), Arg("y", "real", ("N", "C", "H", "W"))),
        forward=_perceptual_forward,
        vjp=_perceptual_vjp,
        params={"network": _audit_network(), "layers": (1, 3)},
        sizes={"N": 2, "C": 1, "H": 4, "W": 4},
        check=_check_perceptual,
        edge_cases={
            "identical images": lambda rng: [numpy.full((2, 1, 4, 4), 0.5), numpy.full((2, 1, 4, 4), 0.5)],
            "pixels of 1e4": lambda rng: [numpy.full((1, 1, 4, 4), 1e4), numpy.zeros((1, 1, 4, 4))],
        },
        formula=r"\ell_i = \sum_{l} \frac{1}{M_l} \|\phi_l(x_i) - \phi_l(y_i)\|_2^2, \quad \partial \ell_i / \partial x_i = \sum_l \frac{2}{M_l} J_{\phi_l}(x_i)^\top (\phi_l(x_i) - \phi_l(y_i))",
        reference="Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for Real-Time Style Transfer and Super-Resolution (feature reconstruction loss)",
    )
)


def perceptual(x: Any, y: Any, network: nn.Module, layers: Any = None, reduction: str = "mean") -> Any:
    r"""Perceptual (feature reconstruction) loss: distances between features of a fixed network.

    .. math::  \ell_i = \sum_{l \in \text{layers}} \frac{1}{M_l}\,
               \big\|\phi_l(x_i) - \phi_l(y_i)\big\|_2^2, \qquad
               \frac{\partial \ell_i}{\partial x_i} = \sum_l \frac{2}{M_l}\,
               J_{\phi_l}(x_i)^\top \big(\phi_l(x_i) - \phi_l(y_i)\big)

    where :math:`\phi_l(x)` is the output of layer :math:`l` (:math:`M_l` values per sample:
    :math:`C_l H_l W_l` for a feature map). The loss's own derivative is written out; the
    transposed Jacobian :math:`J_{\phi_l}^\top` of the network is applied by the engine (the
    network is a given function; its VJPs are those of its layers). The gradient with respect
    to ``y`` is the same with the opposite sign and :math:`J_{\phi_l}(y_i)`.

    The network is **fixed**: it runs in eval mode (restored afterwards), its parameters and
    buffers enter as constants in the dtype of ``x`` (no gradient reaches them, and nothing is
    updated), while gradients flow to ``x`` and ``y``.

    Parameters
    ----------
    x, y : array or Tensor (N, ...), same shape
        Typically the generated image and the target image, (N, C, H, W).
    network : nploss.nn.Module
        The feature extractor (for Johnson et al., a pretrained VGG-16). Each sample's features
        must depend on that sample only.
    layers : int or sequence of int, optional
        For an ``nn.Sequential``: the indices of the sub-modules whose outputs are compared
        (negative indices count from the end; ``network[i]``'s output). None: the network's
        final output.
    reduction : {'mean', 'sum', 'none'}
        Over the batch. With ``'mean'`` and one layer this is ``F.mse_loss(phi(x), phi(y))``.

    Raises
    ------
    TypeError
        ``network`` is not an ``nploss.nn.Module``; ``layers`` given for a network that is not
        ``Sequential``, or not integers.
    ValueError
        ``x`` and ``y`` differ in shape; a layer index out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from nploss import nn
    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    >>> net[0].weight.data[...] = np.eye(2)
    >>> float(perceptual(np.array([[1.0, -1.0]]), np.array([[0.0, 0.0]]), net, layers=[0, 1]))
    1.5
    """
    return apply_loss(PERCEPTUAL, x, y, reduction=reduction, network=network, layers=_layer_indices(network, layers))
