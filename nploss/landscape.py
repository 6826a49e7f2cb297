r"""Loss landscapes: 1-D and 2-D slices of a loss surface, Hessian-vector products, the top of
the Hessian spectrum.

A network's loss :math:`L(\theta)` lives in millions of dimensions; what we can look at are low-
dimensional slices of it. Everything here works on *parameter sets*: dicts ``{name: array}`` as
:meth:`nploss.nn.Module.named_parameters` names them (:func:`parameters_of` copies them out of a
model), and on a *loss function* ``loss_fn(params) -> scalar Tensor``, which
:func:`model_loss` builds from a model, a criterion and a batch with
:func:`nploss.nn.functional_call`, so the model is evaluated at any parameters without being
modified.

**Linear interpolation** (Goodfellow, Vinyals & Saxe 2015, "Qualitatively characterizing neural
network optimization problems"): :math:`f(\alpha) = L((1 - \alpha)\,\theta_0 + \alpha\,\theta_1)`,
e.g. from the initial to the trained weights (:func:`interpolate`). :math:`f(0)` and :math:`f(1)`
are the losses at the two parameter sets.

**Random slices** (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the Loss Landscape of
Neural Nets"): :math:`f(\alpha) = L(\theta + \alpha\,\delta)` and
:math:`f(\alpha, \beta) = L(\theta + \alpha\,\delta + \beta\,\eta)` along random Gaussian
directions :math:`\delta, \eta` (:func:`slice_1d`, :func:`slice_2d`). A ReLU network is
invariant to rescaling a filter's weights by :math:`c` and the next layer's by :math:`1/c`, so the
same perturbation means a lot to a small filter and nothing to a large one. Li et al. therefore
use **filter-normalised** directions (:func:`filter_normalize`, :func:`random_direction`): each
filter :math:`\delta_{i,j}` (the :math:`j`-th filter of layer :math:`i`) is rescaled to the norm
of the corresponding filter of the weights,

.. math::  \delta_{i,j} \leftarrow \frac{\delta_{i,j}}{\lVert \delta_{i,j} \rVert}\,\lVert \theta_{i,j} \rVert .

A filter is a slice along the first axis of a weight: one output channel ``W[j]`` of a Conv2d
weight ``(out, in, kh, kw)``, one row ``W[j]`` of a Linear weight ``(out, in)`` (the weights that
make one neuron; the paper treats a fully connected layer as a 1x1 convolution). Parameters with
one dimension or none (biases, BatchNorm's scale and shift) are not filters: as in the authors'
code with ``ignore='biasbn'``, which produced the paper's figures, their direction is set to
**zero** (``bias_bn="zero"``, the default, so they stay at their values along the slice); with
``bias_bn="keep"`` the direction is the parameter itself (the authors' code without the ignore
flag, ``d.copy_(w)``), which trivially has the parameter's norm.

**Curvature.** The Hessian :math:`H = \nabla^2 L(\theta)` is never formed: a Hessian-vector
product (Pearlmutter 1994) is the gradient of a directional derivative,

.. math::  H v = \nabla_\theta \big( \nabla_\theta L(\theta) \cdot v \big),

two backward passes, the first recorded with ``grad(..., create_graph=True)`` so that the second
can differentiate it (:func:`hvp`). Power iteration on HVPs, :math:`v \leftarrow Hv / \lVert Hv
\rVert`, converges to the eigenvector of the eigenvalue of largest magnitude, and the Rayleigh
quotient :math:`v^\top H v` gives the eigenvalue (:func:`top_eigenvalues`); the next ones come
from *deflation*, iterating on :math:`H - \sum_i \lambda_i u_i u_i^\top` (Hotelling), with the
iterate also kept orthogonal to the eigenvectors found, as PyHessian does (Yao et al. 2020). The
top eigenvalue is the sharpness of a minimum (Keskar et al. 2017) and bounds the stable step of
gradient descent, :math:`\eta < 2 / \lambda_{max}`.

Every function takes and returns arrays of the current backend (NumPy, or CuPy on the GPU);
random numbers are drawn on the host, so a seed gives the same directions on both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backend
from .autograd import Tensor, as_data, grad, no_grad

__all__ = [
    "Params", "parameters_of", "model_loss", "evaluate", "combine", "flatten", "unflatten", "dot", "norm",
    "filter_normalize", "random_direction", "interpolate", "slice_1d", "slice_2d",
    "gradient", "hvp", "hessian", "Eigen", "top_eigenvalues",
]  # fmt: skip

Params = Mapping[str, Any]
LossFn = Callable[[Mapping[str, Any]], Any]


# ---------------------------------------------------------------------------- parameter sets


def parameters_of(model: Any) -> dict[str, Any]:
    """Copies of a model's trainable parameters, ``{dotted name: array}`` in registration order."""
    return {name: p.data.copy() for name, p in model.named_parameters()}


def model_loss(model: Any, criterion: Callable[..., Any], inputs: Any, target: Any) -> LossFn:
    """``params -> criterion(model(inputs) at params, target)``, via :func:`nploss.nn.functional_call`.

    The model is not modified. A model with BatchNorm should be put in ``eval()`` mode first:
    in training mode every evaluation would update its running statistics.
    """
    from .nn import functional_call

    def loss_fn(params: Mapping[str, Any]) -> Any:
        return criterion(functional_call(model, params, inputs), target)

    return loss_fn


def evaluate(loss_fn: LossFn, params: Params) -> float:
    """The loss at ``params`` as a float (no graph recorded)."""
    with no_grad():
        return float(as_data(loss_fn(params)))


def combine(center: Params, *terms: tuple[float, Params]) -> dict[str, Any]:
    r""":math:`\theta + \sum_k c_k d_k` for ``terms = ((c_1, d_1), ...)``, name by name."""
    out = {}
    for name, value in center.items():
        total = value
        for c, d in terms:
            total = total + c * d[name]
        out[name] = total
    return out


def flatten(params: Params) -> Any:
    """One vector of every entry, in the dict's order (the inverse of :func:`unflatten`)."""
    xp = backend.get_array_module(*params.values())
    return xp.concatenate([xp.ravel(v) for v in params.values()])


def unflatten(vector: Any, like: Params) -> dict[str, Any]:
    """Cut a vector into arrays of the shapes of ``like``'s entries."""
    total = sum(int(value.size) for value in like.values())
    if vector.size != total:
        raise ValueError(f"unflatten: the vector has {vector.size} entries, the parameters {total}")
    out, start = {}, 0
    for name, value in like.items():
        out[name] = vector[start : start + value.size].reshape(value.shape)
        start += value.size
    return out


def dot(a: Params, b: Params) -> float:
    """The inner product of two parameter sets, as vectors."""
    return float(sum(float((a[k] * b[k]).sum()) for k in a))


def norm(a: Params) -> float:
    """The Euclidean norm of a parameter set, as a vector."""
    return dot(a, a) ** 0.5


# ---------------------------------------------------------------------------- directions


def filter_normalize(direction: Params, weights: Params, bias_bn: str = "zero") -> dict[str, Any]:
    r"""Rescale every filter of ``direction`` to the norm of the same filter of ``weights``.

    .. math::  d_{i,j} \leftarrow \frac{d_{i,j}}{\lVert d_{i,j} \rVert}\,\lVert \theta_{i,j} \rVert

    where a filter is a slice along axis 0 of a parameter with two or more dimensions (a row of
    a Linear weight, an output channel of a Conv2d weight). See the module docstring.

    Parameters
    ----------
    direction, weights : dict of str to array
        The same names and shapes.
    bias_bn : {'zero', 'keep'}
        For parameters with fewer than two dimensions (biases, BatchNorm's weight and bias):
        ``'zero'`` sets their direction to 0 (Li et al.'s ``ignore='biasbn'``, used for the
        paper's figures); ``'keep'`` sets it to the parameter itself.
    """
    if bias_bn not in ("zero", "keep"):
        raise ValueError(f"bias_bn must be 'zero' or 'keep', got {bias_bn!r}")
    if set(direction) != set(weights):
        raise ValueError(f"direction and weights name different parameters: {sorted(set(direction) ^ set(weights))}")
    out = {}
    for name, d in direction.items():
        w = weights[name]
        if tuple(d.shape) != tuple(w.shape):
            raise ValueError(f"filter_normalize: {name!r} has shape {tuple(d.shape)} in the direction, {tuple(w.shape)} in the weights")
        xp = backend.get_array_module(d, w)
        if d.ndim <= 1:
            out[name] = xp.zeros_like(w) if bias_bn == "zero" else w.copy()
            continue
        axes = tuple(range(1, d.ndim))
        d_norm = xp.sqrt((d * d).sum(axis=axes, keepdims=True))
        w_norm = xp.sqrt((w * w).sum(axis=axes, keepdims=True))
        # A zero filter of the direction (probability 0) stays zero instead of dividing by 0;
        # the authors' code adds 1e-10 to the norm instead, which leaves a relative error of about
        # 1e-10 / ||d_ij|| in the rescaled norm.
        out[name] = d / xp.where(d_norm > 0, d_norm, 1.0) * w_norm
    return out


def random_direction(weights: Params, rng: np.random.Generator | int | None = None, bias_bn: str = "zero") -> dict[str, Any]:
    """A Gaussian direction, filter-normalised to ``weights`` (:func:`filter_normalize`).

    ``rng``: a ``numpy.random.Generator`` or a seed. The numbers are drawn on the host, in the
    order of ``weights``, so a seed gives the same direction on NumPy and CuPy.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    raw = {}
    for name, w in weights.items():
        xp = backend.get_array_module(w)
        raw[name] = xp.asarray(rng.standard_normal(w.shape), dtype=w.dtype)
    return filter_normalize(raw, weights, bias_bn)


# ---------------------------------------------------------------------------- slices


def interpolate(loss_fn: LossFn, start: Params, end: Params, alphas: Sequence[float]) -> np.ndarray:
    r"""Losses along the segment :math:`(1 - \alpha)\,\theta_0 + \alpha\,\theta_1`, one per ``alpha``.

    ``alpha = 0`` is ``start`` and ``alpha = 1`` is ``end``; values outside [0, 1] extrapolate.
    """
    delta = {k: end[k] - start[k] for k in start}
    return np.array([evaluate(loss_fn, combine(start, (float(a), delta))) for a in alphas])


def slice_1d(loss_fn: LossFn, center: Params, direction: Params, alphas: Sequence[float]) -> np.ndarray:
    r"""Losses :math:`L(\theta + \alpha\,\delta)`, one per ``alpha``."""
    return np.array([evaluate(loss_fn, combine(center, (float(a), direction))) for a in alphas])


def slice_2d(
    loss_fn: LossFn, center: Params, d1: Params, d2: Params, alphas: Sequence[float], betas: Sequence[float]
) -> np.ndarray:
    r"""Losses :math:`L(\theta + \alpha\,\delta + \beta\,\eta)` on a grid: array of shape
    ``(len(betas), len(alphas))`` (rows follow ``betas``, as ``matplotlib.contour(alphas, betas, Z)``
    expects)."""
    return np.array([[evaluate(loss_fn, combine(center, (float(a), d1), (float(b), d2))) for a in alphas] for b in betas])


# ---------------------------------------------------------------------------- curvature


def _leaves(params: Params) -> dict[str, Tensor]:
    return {name: Tensor(value, requires_grad=True) for name, value in params.items()}


def gradient(loss_fn: LossFn, params: Params) -> dict[str, Any]:
    r""":math:`\nabla_\theta L(\theta)` at ``params``, as arrays."""
    leaves = _leaves(params)
    grads = grad(loss_fn(leaves), list(leaves.values()), allow_unused=True)
    return {name: (g.data if g is not None else backend.get_array_module(v).zeros_like(v)) for (name, v), g in zip(params.items(), grads)}


def hvp(loss_fn: LossFn, params: Params, v: Params) -> dict[str, Any]:
    r"""The Hessian-vector product :math:`H v = \nabla_\theta(\nabla_\theta L \cdot v)` at ``params``.

    Two reverse passes: the gradient with ``create_graph=True`` (so the backward pass is itself
    a graph), its inner product with the constant ``v``, and the gradient of that scalar. The
    cost is a small multiple of one gradient, whatever the number of parameters.
    """
    leaves = _leaves(params)
    tensors = list(leaves.values())
    grads = grad(loss_fn(leaves), tensors, create_graph=True, allow_unused=True)
    directional: Any = None
    for (name, _), g in zip(leaves.items(), grads):
        if g is None:
            continue
        term = (g * Tensor(v[name])).sum()
        directional = term if directional is None else directional + term
    zeros = {name: backend.get_array_module(p).zeros_like(p) for name, p in params.items()}
    if directional is None or not directional.requires_grad:  # the gradient is constant: H = 0
        return zeros
    second = grad(directional, tensors, allow_unused=True)
    return {name: (h.data if h is not None else zeros[name]) for name, h in zip(leaves, second)}


def hessian(loss_fn: LossFn, params: Params) -> np.ndarray:
    """The dense Hessian, one HVP per unit vector: only for small models (tests, tutorials).

    Returns a float64 NumPy array ``(n, n)`` over the flattened parameters (:func:`flatten`).
    """
    n = sum(int(v.size) for v in params.values())
    xp = backend.get_array_module(*params.values())
    dtype = next(iter(params.values())).dtype
    columns = []
    for i in range(n):
        e = xp.zeros(n, dtype=dtype)
        e[i] = 1.0
        columns.append(backend.to_numpy(flatten(hvp(loss_fn, params, unflatten(e, params)))).astype(np.float64))
    return np.stack(columns, axis=1)


@dataclass
class Eigen:
    """What :func:`top_eigenvalues` found: eigenvalues by decreasing magnitude, unit eigenvectors
    (parameter sets), and the power iterations each took."""

    values: list[float]
    vectors: list[dict[str, Any]]
    iterations: list[int]


def top_eigenvalues(
    loss_fn: LossFn,
    params: Params,
    k: int = 1,
    iters: int = 100,
    tol: float = 1e-6,
    rng: np.random.Generator | int | None = 0,
) -> Eigen:
    r"""The ``k`` Hessian eigenvalues of largest magnitude, by power iteration with deflation.

    For the :math:`j`-th eigenpair, start from a random unit :math:`v` and repeat

    .. math::  w = H v - \sum_{i<j} \lambda_i (u_i \cdot v)\, u_i, \qquad
               w \leftarrow w - \sum_{i<j} (u_i \cdot w)\, u_i, \qquad
               \lambda = v \cdot w, \qquad v \leftarrow w / \lVert w \rVert

    (Hotelling deflation, then Gram-Schmidt against the eigenvectors found, which keeps rounding
    from reintroducing them) until :math:`\lambda` changes by less than ``tol`` relative to
    :math:`|\lambda|`, or ``iters`` iterations. Power iteration finds the eigenvalue of largest
    *magnitude*: near a minimum that is the largest positive one (the sharpness); the rate is
    :math:`|\lambda_{j+1} / \lambda_j|` per iteration, so close eigenvalues converge slowly.

    Parameters
    ----------
    loss_fn : callable
        ``params -> scalar Tensor`` (e.g. :func:`model_loss`).
    params : dict of str to array
        Where the Hessian is taken.
    k : int
        How many eigenpairs.
    iters, tol : int, float
        Stopping rule of each power iteration.
    rng : numpy.random.Generator or int or None
        For the starting vectors.
    """
    if k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    values: list[float] = []
    vectors: list[dict[str, Any]] = []
    counts: list[int] = []
    for _ in range(k):
        v = {name: backend.get_array_module(p).asarray(rng.standard_normal(p.shape), dtype=p.dtype) for name, p in params.items()}
        v = _orthonormalize(v, vectors)
        eigenvalue, done = None, iters
        for step in range(1, iters + 1):
            w = hvp(loss_fn, params, v)
            for lam, u in zip(values, vectors):
                w = combine(w, (-lam * dot(u, v), u))
            w = _orthonormalize(w, vectors, normalize=False)
            new = dot(v, w)
            size = norm(w)
            if size == 0.0:  # v is in the null space: the eigenvalue is 0
                eigenvalue, done = 0.0, step
                break
            v = {name: x / size for name, x in w.items()}
            if eigenvalue is not None and abs(new - eigenvalue) <= tol * max(abs(new), 1e-12):
                eigenvalue, done = new, step
                break
            eigenvalue = new
        values.append(float(eigenvalue))
        vectors.append(v)
        counts.append(done)
    return Eigen(values, vectors, counts)


def _orthonormalize(v: Params, basis: Sequence[Params], normalize: bool = True) -> dict[str, Any]:
    """``v`` minus its components along the (orthonormal) ``basis``; scaled to unit norm if asked."""
    out = dict(v)
    for u in basis:
        out = combine(out, (-dot(u, out), u))
    if normalize:
        size = norm(out)
        out = {name: x / size for name, x in out.items()}
    return out
