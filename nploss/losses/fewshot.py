r"""Few-shot losses: the prototypical network's loss and the regularisers of its embedding.

An *episode* holds a labelled **support** set (a few examples of each of K classes) and a
**query** set to classify. :func:`prototypes` averages the support embeddings of each class into
a prototype :math:`c_k`; :func:`prototypical` scores each query against the prototypes (negative
squared Euclidean distance, or a scaled cosine) and takes the cross entropy (or the focal loss)
of those logits. Two regularisers shape the embedding: :func:`prototype_variance` (the mean
cosine between distinct prototypes: minimising it pushes the prototypes apart) and
:func:`covariance` (VICReg's decorrelation of the embedding dimensions). :func:`fewshot_total`
combines the three with weights :math:`\lambda` that may themselves be learned.

Each loss is one block: the formula and its derivative in the docstring, ``_x_forward`` and
``_x_vjp`` right below, the registry entry, then the public function.

Two conventions, shared by the blocks:

- **Normalisation.** Cosines normalise rows as :math:`\hat{x} = x / \sqrt{\lVert x \rVert^2 +
  \epsilon}` with :math:`\epsilon = 10^{-12}` (``NORM_EPS``), as :mod:`nploss.losses.metric_softmax`
  does. ``torch.nn.functional.cosine_similarity`` divides by a clamped product of norms instead;
  the two agree to a relative :math:`\epsilon / \lVert x \rVert^2`, but the square-root form is
  smooth, so a zero embedding has cosine 0 and a finite gradient (the cotangent of
  :math:`\hat{x}` divided by :math:`\sqrt{\epsilon}`) rather than 0/0.
- **Constants.** Labels are constants (not differentiated). The support and query embeddings,
  the prototypes, the scale of the logits and the weights :math:`\lambda` are differentiable.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..autograd import Tensor, as_data
from ..autograd import matmul as _tensor_matmul
from .. import backend
from ..backend import get_array_module
from ._apply import apply_loss
from ._spec import Arg, LossSpec, register
from ._validate import finite, labels as _check_labels

__all__ = ["prototypes", "prototypical", "prototype_variance", "covariance", "fewshot_total"]

NORM_EPS = 1e-12  # inside the square root of the L2 normalisation (see the module docstring)
METRICS = ("euclidean", "cosine")
LOSSES = ("ce", "focal")


# ------------------------------------------------------------------------------------ shared helpers


def _normalize(xp: Any, x: Any) -> tuple[Any, Any]:
    """Rows of ``x`` scaled to unit length, and the norms ``sqrt(|x|^2 + eps)`` (rows, 1)."""
    r = xp.sqrt(xp.sum(x * x, axis=1, keepdims=True) + NORM_EPS)
    return x / r, r


def _normalize_vjp(xp: Any, gu: Any, u: Any, r: Any) -> Any:
    # d(x/r)/dx = (I - u u^T) / r (r' = x / r, with the eps inside the root too): the component
    # of the cotangent along u is projected out
    return (gu - u * xp.sum(u * gu, axis=1, keepdims=True)) / r


def _off_diagonal(like: Any, k: int) -> Any:
    """1 off the diagonal, 0 on it, (k, k), in the floating dtype of ``like``: products with it
    drop the diagonal exactly (no subtraction of a large diagonal from a sum)."""
    data = as_data(like)
    return 1.0 - get_array_module(data).eye(k, dtype=data.dtype)


def _rows2(name: str, x: Any, what: str) -> None:
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array {what}, got shape {tuple(x.shape)}")


def _scalar_arg(name: str, x: Any) -> None:
    if x.ndim != 0:
        raise ValueError(f"{name} must be a scalar (a 0-d array or Tensor), got shape {tuple(x.shape)}")


def _number(name: str, value: Any, expected: str, ok: Any) -> float:
    """A real parameter as a float, refused (naming it) unless it satisfies ``ok``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not ok(float(value)):  # written so that NaN fails too
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _like_input(name: str, value: Any, like: Any) -> Any:
    """A Python number as a 0-d array in the floating dtype (and array module) of ``like``, so
    that a float32 episode stays float32 (a float64 0-d array would promote it). Arrays and
    Tensors pass unchanged."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, array or Tensor, got bool {value!r}")
    if not isinstance(value, numbers.Real):
        return value
    data = as_data(like)
    module = get_array_module(data)
    kind = getattr(getattr(data, "dtype", None), "kind", None)
    return module.asarray(float(value), dtype=data.dtype if kind == "f" else np.float64)


def _num_classes(support_labels: Any, n_way: int | None = None) -> int:
    """K: ``n_way``, or the largest support label plus one, after checking that every class
    in [0, K) has at least one support example (a class mean of nothing is 0/0)."""
    if support_labels.size == 0:
        raise ValueError("support_labels must hold at least one example, got an empty array")
    host = backend.to_numpy(support_labels)
    k = int(host.max()) + 1 if n_way is None else n_way
    _check_labels("support_labels", support_labels, k)
    counts = np.bincount(host.ravel(), minlength=k)
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        source = f"n_way = {k}" if n_way is not None else f"K = {k}, the largest label plus one"
        raise ValueError(
            f"support_labels must contain every class in [0, {k}) ({source}): the prototypes are class "
            f"means; class(es) {missing.tolist()} have no support example"
        )
    return k


def _mean_matrix(support_labels: Any, k: int, dtype: Any) -> Any:
    """The (K, S) matrix whose row k is 1/n_k at the support examples of class k: the prototypes
    are its product with the support embeddings, so their gradient is its transpose times the
    prototypes' gradient."""
    xp = get_array_module(support_labels)
    hot = (xp.arange(k)[:, None] == support_labels[None, :]).astype(dtype)
    return hot / hot.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------------ prototypes


def prototypes(support: Any, support_labels: Any, n_way: int | None = None) -> Any:
    r"""Class prototypes: the mean of the support embeddings of each class (Snell et al. 2017).

    .. math::  c_k = \frac{1}{n_k} \sum_{i : y_i = k} x_i = (M x)_k, \qquad
               M_{ki} = \frac{[y_i = k]}{n_k}, \qquad
               \frac{\partial L}{\partial x} = M^\top \frac{\partial L}{\partial c}

    Written as the product of a constant (K, S) matrix with the support, so it is
    differentiable in ``support`` on Tensors (the engine's matmul) and plain on arrays.

    Parameters
    ----------
    support : array or Tensor (S, D)
        Support embeddings.
    support_labels : integer array (S,)
        Class of each support example, in [0, K); every class must occur at least once.
    n_way : int, optional
        The number of classes K. By default the largest label plus one.

    Returns
    -------
    array or Tensor (K, D)
        Row k is the prototype of class k, in the dtype of ``support``.

    Raises
    ------
    ValueError
        ``support`` not 2-D, labels of another length, labels out of range, a class in
        [0, K) without a support example, NaN or infinite embeddings, ``n_way < 1``.
    TypeError
        Non-integer labels or ``n_way``.

    Examples
    --------
    >>> import numpy as np
    >>> prototypes(np.array([[0.0, 2.0], [2.0, 0.0], [5.0, 5.0]]), np.array([0, 0, 1]))
    array([[1., 1.],
           [5., 5.]])
    """
    data = as_data(support)
    if not isinstance(support, Tensor):
        support = data = get_array_module(data).asarray(data)
    y = as_data(support_labels)
    y = get_array_module(y).asarray(y)
    _rows2("support", data, "(S, D) of support embeddings")
    finite("support", data)
    if y.shape != (data.shape[0],):
        raise ValueError(
            f"support_labels must have shape ({data.shape[0]},), one per support example, got {tuple(y.shape)}"
        )
    if n_way is not None:
        if isinstance(n_way, bool) or not isinstance(n_way, numbers.Integral):
            raise TypeError(f"n_way must be an int, got {type(n_way).__name__} {n_way!r}")
        if n_way < 1:
            raise ValueError(f"n_way must be at least 1, got {n_way}")
        n_way = int(n_way)
    if y.dtype.kind not in "iu":
        raise TypeError(f"support_labels must hold integer class labels, got dtype {y.dtype}")
    k = _num_classes(y, n_way)
    dtype = data.dtype if data.dtype.kind == "f" else np.float64
    m = _mean_matrix(y, k, dtype)
    return _tensor_matmul(m, support) if isinstance(support, Tensor) else m @ data.astype(dtype, copy=False)


# ------------------------------------------------------------------------------------ prototypical


def _focal_power(xp: Any, m: Any, gamma: float) -> Any:
    r""":math:`m^\gamma` with a finite derivative where :math:`m = 0` (a saturated softmax): the
    engine's derivative of a power there, :math:`\gamma m^{\gamma-1}`, is infinite for
    :math:`\gamma < 1`; the inner ``where`` evaluates the power at 1 instead, and the outer one
    masks it."""
    if gamma == 0:
        return 1.0
    positive = m > 0.0
    return xp.where(positive, xp.where(positive, m, 1.0) ** gamma, 0.0)


def _episode(xp: Any, query: Any, support: Any, support_labels: Any, query_labels: Any, metric: str) -> dict[str, Any]:
    """Prototypes, the similarities (before the scale) and what the gradient needs."""
    y_s, y_q = xp.as_data(support_labels), xp.as_data(query_labels)
    k = int(y_s.max()) + 1  # every class in [0, k) is present: checked before
    mean = _mean_matrix(y_s, k, support.dtype)
    c = xp.matmul(mean, support)
    parts: dict[str, Any] = {"mean": mean, "c": c}
    if metric == "euclidean":
        # the difference itself, not |q|^2 - 2 q.c + |c|^2, which cancels for nearby points
        diff = xp.expand_dims(query, 1) - xp.expand_dims(c, 0)
        parts["sim"] = -xp.sum(diff * diff, axis=2)
    else:
        u, ru = _normalize(xp, query)
        v, rv = _normalize(xp, c)
        parts.update(u=u, ru=ru, v=v, rv=rv, sim=xp.matmul(u, xp.transpose(v)))
    parts["hot"] = (y_q[:, None] == get_array_module(y_q).arange(k)[None, :]).astype(parts["sim"].dtype)
    return parts


def _log_probs(xp: Any, logits: Any, hot: Any) -> tuple[Any, Any, Any]:
    """log softmax, log p_y and m = 1 - p_y, the latter as the sum of the other classes'
    probabilities: no cancellation when p_y is near 1."""
    log_p = xp.log_softmax(logits, axis=1)
    log_p_y = xp.sum(hot * log_p, axis=1)
    m = xp.sum((1.0 - hot) * xp.exp(log_p), axis=1)
    return log_p, log_p_y, m


def _prototypical_forward(
    xp: Any, query: Any, support: Any, support_labels: Any, query_labels: Any, scale: Any,
    *, metric: str, loss: str, gamma: float,
) -> Any:  # fmt: skip
    parts = _episode(xp, query, support, support_labels, query_labels, metric)
    _, log_p_y, m = _log_probs(xp, scale * parts["sim"], parts["hot"])
    if loss == "ce":
        return -log_p_y
    return -(_focal_power(xp, m, gamma) * log_p_y)


def _prototypical_vjp(
    xp: Any, g: Any, query: Any, support: Any, support_labels: Any, query_labels: Any, scale: Any,
    *, metric: str, loss: str, gamma: float,
) -> tuple[Any, Any, Any]:  # fmt: skip
    parts = _episode(xp, query, support, support_labels, query_labels, metric)
    sim, hot, c = parts["sim"], parts["hot"], parts["c"]
    log_p, log_p_y, m = _log_probs(xp, scale * sim, hot)
    if loss == "ce":
        factor = g
    else:
        # dl/dz = m^gamma (1 - gamma p_y log(p_y) / m) (p - onehot): the focal factor times the
        # cross-entropy gradient; p_y log(p_y) / m lies in [-1, 0] (-> -1 as m -> 0)
        positive = m > 0.0
        ratio = xp.where(positive, xp.exp(log_p_y) * log_p_y / xp.where(positive, m, 1.0), 0.0)
        factor = g * _focal_power(xp, m, gamma) * (1.0 - gamma * ratio)
    d_logits = xp.expand_dims(factor, 1) * (xp.exp(log_p) - hot)  # (Q, K)
    grad_scale = xp.sum(d_logits * sim)  # logits = scale * sim
    d_sim = scale * d_logits
    if metric == "euclidean":
        # sim_qk = -|q - c_k|^2: d/dq = -2 (q - c_k), d/dc_k = 2 (q - c_k)
        grad_query = 2.0 * (xp.matmul(d_sim, c) - xp.sum(d_sim, axis=1, keepdims=True) * query)
        grad_c = 2.0 * (xp.matmul(xp.transpose(d_sim), query) - xp.expand_dims(xp.sum(d_sim, axis=0), 1) * c)
    else:
        u, ru, v, rv = parts["u"], parts["ru"], parts["v"], parts["rv"]
        grad_query = _normalize_vjp(xp, xp.matmul(d_sim, v), u, ru)
        grad_c = _normalize_vjp(xp, xp.matmul(xp.transpose(d_sim), u), v, rv)
    grad_support = xp.matmul(xp.transpose(parts["mean"]), grad_c)  # c = M support
    return grad_query, grad_support, grad_scale


def _check_options(metric: Any, loss: Any, gamma: Any) -> float:
    _choice("metric", metric, METRICS)
    _choice("loss", loss, LOSSES)
    return _number("gamma", gamma, "a finite number >= 0", lambda v: 0.0 <= v < math.inf)


def _check_prototypical(
    query: Any, support: Any, support_labels: Any, query_labels: Any, scale: Any, *, metric: Any, loss: Any, gamma: Any
) -> None:
    _check_options(metric, loss, gamma)
    _rows2("query", query, "(Q, D) of query embeddings")
    _rows2("support", support, "(S, D) of support embeddings")
    if support.shape[1] != query.shape[1]:
        raise ValueError(
            f"support must have the embedding dimension of query (D = {query.shape[1]}), "
            f"got shape {tuple(support.shape)}"
        )
    if support_labels.shape != (support.shape[0],):
        raise ValueError(
            f"support_labels must have shape ({support.shape[0]},), one per support example, "
            f"got {tuple(support_labels.shape)}"
        )
    if query_labels.shape != (query.shape[0],):
        raise ValueError(
            f"query_labels must have shape ({query.shape[0]},), one per query, got {tuple(query_labels.shape)}"
        )
    k = _num_classes(support_labels)
    _check_labels("query_labels", query_labels, k)
    _scalar_arg("scale", scale)


def _episode_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    """A 3-way 2-shot episode with 5 queries: every class has support examples."""
    k, shots, q, d = 3, 2, 5, 4
    return [
        rng.standard_normal((q, d)),
        rng.standard_normal((k * shots, d)),
        rng.permutation(np.repeat(np.arange(k), shots)),
        rng.integers(0, k, q),
        np.asarray(rng.uniform(0.5, 2.0)),
    ]


def _prototypical_edges() -> dict[str, Any]:
    """Queries exactly at their prototype, classes 1e2 apart (squared distances of 1e4:
    saturated softmax, p_y of exactly 1 and of exactly 0), zero embeddings (cosine at the
    origin), a scale of 1e4, a single class."""
    y_s, y_q = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 2, 2, 0])

    def at_prototypes(rng: np.random.Generator) -> list[np.ndarray]:
        s = rng.standard_normal((6, 4))
        c = np.stack([s[y_s == k].mean(0) for k in range(3)])
        return [c[y_q], s, y_s, y_q, np.asarray(1.0)]

    def far_apart(rng: np.random.Generator) -> list[np.ndarray]:
        centres = 100.0 * np.eye(3, 4)
        s = centres[y_s] + 0.1 * rng.standard_normal((6, 4))
        query = centres[np.array([0, 1, 2, 0, 1])]  # the last two sit at the wrong class
        return [query, s, y_s, y_q, np.asarray(1.0)]

    def zero_embeddings(rng: np.random.Generator) -> list[np.ndarray]:
        support = np.vstack([np.zeros((2, 4)), rng.standard_normal((4, 4))])  # class 0's prototype is 0
        return [np.zeros((5, 4)), support, y_s, y_q, np.asarray(1.0)]

    def one_class(rng: np.random.Generator) -> list[np.ndarray]:
        zeros = np.zeros(5, dtype=np.int64)
        return [rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), zeros[:2], zeros[:3], np.asarray(1.0)]

    def huge_scale(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), y_s, y_q, np.asarray(1e4)]

    return {
        "queries at their prototypes": at_prototypes,
        "classes 1e2 apart": far_apart,
        "zero embeddings": zero_embeddings,
        "scale of 1e4": huge_scale,
        "one class": one_class,
    }


PROTOTYPICAL = register(
    LossSpec(
        name="prototypical",
        family="fewshot",
        args=(
            Arg("query", "real", ("Q", "D")),
            Arg("support", "real", ("S", "D")),
            Arg("support_labels", "label", ("S",), differentiable=False),
            Arg("query_labels", "label", ("Q",), differentiable=False),
            Arg("scale", "positive", ()),
        ),
        forward=_prototypical_forward,
        vjp=_prototypical_vjp,
        params={"metric": "euclidean", "loss": "ce", "gamma": 2.0},
        check=_check_prototypical,
        sampler=_episode_sampler,
        edge_cases=_prototypical_edges(),
        formula=r"\ell_q = -(1 - p_{q y_q})^\gamma \log p_{q y_q},\ "
        r"p_q = \mathrm{softmax}_k(s\, \mathrm{sim}(x_q, c_k)),\ c_k = \tfrac{1}{n_k}\textstyle\sum_{y_i = k} x_i,\ "
        r"\mathrm{sim} = -\lVert x_q - c_k \rVert^2 \text{ or } \cos(x_q, c_k)"
        r"\ (\gamma = 0: \text{cross entropy})",
        reference="Snell, Swersky & Zemel 2017 (prototypical networks); focal: Lin et al. 2017, seed 000 section 4",
    )
)


def prototypical(
    query: Any,
    support: Any,
    support_labels: Any,
    query_labels: Any,
    metric: str = "euclidean",
    scale: Any = 1.0,
    loss: str = "ce",
    gamma: float = 2.0,
    reduction: str = "mean",
) -> Any:
    r"""Prototypical-network loss: classify each query by its distance to the class prototypes.

    The prototypes are the class means of the support, :math:`c_k = \frac{1}{n_k}
    \sum_{i: y_i = k} x_i` (:func:`prototypes`). Each query :math:`q` gets the logits

    .. math::  z_{qk} = s\, \mathrm{sim}(q, c_k), \qquad
               \mathrm{sim}(q, c) = -\lVert q - c \rVert^2 \ (\text{'euclidean'}) \quad\text{or}\quad
               \frac{q \cdot c}{\sqrt{\lVert q \rVert^2 + \epsilon}\,\sqrt{\lVert c \rVert^2 + \epsilon}}
               \ (\text{'cosine'})

    with :math:`p_q = \mathrm{softmax}(z_q)`, and the loss of the query is the cross entropy
    :math:`\ell_q = -\log p_{q y_q}` (``loss='ce'``) or the focal loss
    :math:`\ell_q = -(1 - p_{q y_q})^\gamma \log p_{q y_q}` (``loss='focal'``, the same logits;
    ``gamma=0`` is the cross entropy). With :math:`\delta_q = \partial \ell_q / \partial z_q`,

    .. math::  \delta_q = \phi_q\, (p_q - e_{y_q}), \qquad
               \phi_q = 1 \ (\text{ce}), \quad
               \phi_q = m_q^\gamma \Big(1 - \gamma\, \frac{p_{q y_q} \log p_{q y_q}}{m_q}\Big),\
               m_q = 1 - p_{q y_q} \ (\text{focal})

    and, for 'euclidean',

    .. math::  \frac{\partial L}{\partial q} = 2 s \sum_k \delta_{qk} (c_k - q), \qquad
               \frac{\partial L}{\partial c_k} = 2 s \sum_q \delta_{qk} (q - c_k), \qquad
               \frac{\partial L}{\partial s} = \sum_{q,k} \delta_{qk}\, \mathrm{sim}(q, c_k)

    (for 'cosine' the gradients of the unit vectors :math:`s \delta v` and :math:`s \delta^\top
    u` pass through the normalisation, :math:`(I - \hat{x}\hat{x}^\top) / \lVert x \rVert`), and
    the support's gradient is :math:`\partial L / \partial x_i = \frac{1}{n_{y_i}}
    \partial L / \partial c_{y_i}`.

    Parameters
    ----------
    query : array or Tensor (Q, D)
        Query embeddings.
    support : array or Tensor (S, D)
        Support embeddings, the same dimension D.
    support_labels : integer array (S,)
        In [0, K); every class in [0, K) needs at least one support example (K is the largest
        label plus one).
    query_labels : integer array (Q,)
        In [0, K).
    metric : {'euclidean', 'cosine'}
        'euclidean' is the *squared* distance of Snell et al.; 'cosine' the cosine similarity,
        with :math:`\epsilon = 10^{-12}` inside the square roots (a zero embedding has cosine 0
        and a finite gradient).
    scale : float, 0-d array or 0-d Tensor, positive
        Multiplies the logits (a temperature :math:`1/s`). 1 by default; cosine logits lie in
        [-1, 1] and usually need about 10 (Gidaris & Komodakis 2018; Oreshkin et al. 2018 learn
        it). Differentiable: pass a 0-d Tensor to learn it. A Python number takes the dtype of
        ``query``.
    loss : {'ce', 'focal'}
    gamma : float >= 0
        Focusing parameter of the focal loss (ignored for 'ce').
    reduction : {'mean', 'sum', 'none'}
        Over the queries: 'none' gives (Q,).

    PyTorch has no prototypical loss. Snell et al. use the squared Euclidean distance and no
    scale, as the defaults here; easyfsl's ``PrototypicalNetworks`` uses the plain (not squared)
    distance ``-torch.cdist``, which is not offered. The focal form follows the seed (section 4)
    and :func:`softmax_focal` (no :math:`\alpha`).

    Raises
    ------
    ValueError
        Query or support not 2-D, or of different embedding dimensions; labels of the wrong
        length or out of range; a class in [0, K) without a support example; a scale that is
        not positive or not 0-d; ``gamma < 0``; an unknown ``metric``, ``loss`` or
        ``reduction``; NaN or infinite inputs.
    TypeError
        Non-integer labels; ``gamma`` not a number.

    Examples
    --------
    >>> import numpy as np
    >>> support, support_labels = np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([0, 1])
    >>> query, query_labels = np.array([[0.5, 0.0]]), np.array([0])
    >>> round(float(prototypical(query, support, support_labels, query_labels)), 6)  # log(1 + e^-2)
    0.126928
    """
    gamma = _check_options(metric, loss, gamma)
    scale = _like_input("scale", scale, query)
    return apply_loss(
        PROTOTYPICAL, query, support, support_labels, query_labels, scale,
        reduction=reduction, metric=metric, loss=loss, gamma=gamma,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ prototype variance


def _variance_forward(xp: Any, prototypes: Any) -> Any:
    u, _ = _normalize(xp, prototypes)
    return xp.matmul(u, xp.transpose(u)) * _off_diagonal(prototypes, prototypes.shape[0])


def _variance_vjp(xp: Any, g: Any, prototypes: Any) -> tuple[Any]:
    u, r = _normalize(xp, prototypes)
    # cos_ij = u_i . u_j: u_i enters row i and column j, so its cotangent is ((G + G^T) u)_i
    gm = g * _off_diagonal(prototypes, prototypes.shape[0])
    return (_normalize_vjp(xp, xp.matmul(gm + xp.transpose(gm), u), u, r),)


def _variance_weights(xp: Any, reduction: str, prototypes: Any) -> Any:
    k = prototypes.shape[0]
    return _off_diagonal(prototypes, k) * (1.0 / (k * (k - 1)))  # the mean over ordered pairs i != j


def _check_variance(prototypes: Any) -> None:
    _rows2("prototypes", prototypes, "(K, D) with one prototype per row")
    if prototypes.shape[0] < 2:
        raise ValueError(
            f"prototypes must hold at least 2 prototypes (K >= 2): the variance term compares distinct "
            f"pairs; got shape {tuple(prototypes.shape)}"
        )


PROTOTYPE_VARIANCE = register(
    LossSpec(
        name="prototype_variance",
        family="fewshot",
        args=(Arg("prototypes", "real", ("C", "D")),),
        forward=_variance_forward,
        vjp=_variance_vjp,
        reduction_weights=_variance_weights,
        check=_check_variance,
        nonnegative=False,  # cosines down to -1/(K-1) on average
        edge_cases={
            "identical prototypes": lambda rng: [np.tile(rng.standard_normal((1, 3)), (4, 1))],
            "orthogonal prototypes": lambda rng: [np.diag([1.0, 2.0, 0.5, 3.0])],
            "opposite prototypes": lambda rng: [np.array([[1.0, 2.0, -1.0], [-1.0, -2.0, 1.0], [0.3, 0.0, 0.0]])],
            "a zero prototype": lambda rng: [np.vstack([np.zeros((1, 3)), rng.standard_normal((3, 3))])],
            "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((4, 3))],
        },
        formula=r"L = \frac{1}{K(K-1)} \sum_{i \ne j} \cos(c_i, c_j), \quad "
        r"\partial L / \partial \hat{c}_i = \frac{2}{K(K-1)} \textstyle\sum_{j \ne i} \hat{c}_j",
        reference="seed 000 section 2 (push prototypes apart)",
    )
)


def prototype_variance(prototypes: Any, reduction: str = "mean") -> Any:
    r"""Mean cosine similarity between distinct prototypes: minimising it pushes them apart.

    .. math::  L = \frac{1}{K(K-1)} \sum_{i \ne j} \cos(c_i, c_j), \qquad
               \cos(c_i, c_j) = \hat{c}_i \cdot \hat{c}_j, \quad
               \hat{c} = \frac{c}{\sqrt{\lVert c \rVert^2 + \epsilon}}

    .. math::  \frac{\partial L}{\partial c_i}
               = \frac{I - \hat{c}_i \hat{c}_i^\top}{\sqrt{\lVert c_i \rVert^2 + \epsilon}}
               \; \frac{2}{K(K-1)} \sum_{j \ne i} \hat{c}_j

    It lies in :math:`[-\frac{1}{K-1}, 1]`: 1 when every prototype points the same way, 0 for
    orthogonal prototypes, and :math:`-\frac{1}{K-1}` at best (a regular simplex about the
    origin; :math:`\lVert \sum_i \hat{c}_i \rVert^2 \ge 0`). The seed calls this the *variance*
    term ("push prototypes apart"); it is the mean pairwise cosine, not a variance, and it
    ignores the lengths of the prototypes.

    Parameters
    ----------
    prototypes : array or Tensor (K, D), K >= 2
        One prototype per row (e.g. :func:`prototypes`).
    reduction : {'mean', 'sum', 'none'}
        'mean' over the :math:`K(K-1)` ordered pairs :math:`i \ne j` (the same as over
        unordered pairs: the cosine is symmetric); 'sum' over them; 'none' returns the (K, K)
        matrix of cosines with its diagonal set to 0.

    Raises
    ------
    ValueError
        ``prototypes`` not 2-D or with fewer than 2 rows, NaN or infinite entries, an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(prototype_variance(np.eye(3)))  # orthogonal
    0.0
    >>> round(float(prototype_variance(np.array([[1.0, 0.0], [1.0, 1.0]]))), 6)  # cos 45 degrees
    0.707107
    """
    return apply_loss(PROTOTYPE_VARIANCE, prototypes, reduction=reduction)


# ------------------------------------------------------------------------------------ covariance


def _centred_covariance(xp: Any, embeddings: Any) -> tuple[Any, Any]:
    n = embeddings.shape[0]
    zc = embeddings - xp.mean(embeddings, axis=0, keepdims=True)
    return zc, xp.matmul(xp.transpose(zc), zc) * (1.0 / (n - 1))


def _covariance_forward(xp: Any, embeddings: Any, *, reduction: str) -> Any:
    _, cov = _centred_covariance(xp, embeddings)
    d = cov.shape[0]
    off = cov * _off_diagonal(embeddings, d)
    return xp.sum(off * off) * (1.0 / d)


def _covariance_vjp(xp: Any, g: Any, embeddings: Any, *, reduction: str) -> tuple[Any]:
    zc, cov = _centred_covariance(xp, embeddings)
    n, d = embeddings.shape
    off = cov * _off_diagonal(embeddings, d)
    # dL/dC = 2 C_off / d, C = Zc^T Zc / (n - 1) with C_off symmetric: dL/dZc = 4 Zc C_off / (d (n - 1)).
    # The centring passes it unchanged: the columns of Zc C_off already sum to zero.
    return (g * (4.0 / (d * (n - 1))) * xp.matmul(zc, off),)


def _check_covariance(embeddings: Any, **_: Any) -> None:
    _rows2("embeddings", embeddings, "(N, D) with one embedding per row")
    if embeddings.shape[0] < 2:
        raise ValueError(
            f"embeddings must hold at least 2 rows (N >= 2): the unbiased covariance divides by N - 1; "
            f"got shape {tuple(embeddings.shape)}"
        )


COVARIANCE = register(
    LossSpec(
        name="covariance",
        family="fewshot",
        args=(Arg("embeddings", "real", ("N", "D")),),
        forward=_covariance_forward,
        vjp=_covariance_vjp,
        reduces_itself=True,
        reductions=("mean",),
        check=_check_covariance,
        edge_cases={
            "decorrelated embeddings": lambda rng: [np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])],
            "constant embeddings": lambda rng: [np.tile(rng.standard_normal((1, 3)), (4, 1))],
            "two rows": lambda rng: [rng.standard_normal((2, 3))],
            "one dimension": lambda rng: [rng.standard_normal((4, 1))],
            "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((5, 3))],
        },
        formula=r"L = \frac{1}{D} \sum_{i \ne j} C_{ij}^2,\ C = \frac{\bar{Z}^\top \bar{Z}}{N - 1}, \quad "
        r"\partial L / \partial Z = \frac{4}{D (N-1)} \bar{Z} C_{\mathrm{off}}",
        reference="Bardes, Ponce & LeCun 2022 (VICReg covariance term); seed 000 section 2",
    )
)


def covariance(embeddings: Any) -> Any:
    r"""VICReg covariance loss: the squared off-diagonal covariances of the embedding dimensions.

    With :math:`\bar{Z} = Z - \mathbf{1}\mu^\top` the centred batch (:math:`\mu` the mean row)
    and :math:`C = \bar{Z}^\top \bar{Z} / (N - 1)` its unbiased (D, D) covariance,

    .. math::  L = \frac{1}{D} \sum_{i \ne j} C_{ij}^2, \qquad
               \frac{\partial L}{\partial Z} = \frac{4}{D (N-1)}\, \bar{Z}\, C_{\mathrm{off}}

    where :math:`C_{\mathrm{off}}` is :math:`C` with its diagonal set to 0. (The derivative
    through the centring is the identity here: the columns of :math:`\bar{Z} C_{\mathrm{off}}`
    sum to zero.) It is 0 exactly when the dimensions are pairwise uncorrelated over the batch,
    and it leaves the variances (the diagonal) alone.

    **Reading of the seed.** The seed writes :math:`\mathrm{sum}(\mathrm{offdiag}(C))^2`. Taken
    literally, the square of the *sum* of off-diagonal entries lets large positive and negative
    covariances cancel and is zero for strongly correlated dimensions, so it cannot serve its
    stated purpose (decorrelating the embedding). It is read as the sum of *squared* off-diagonal
    entries, the covariance term of VICReg (Bardes et al. 2022), with VICReg's normaliser
    :math:`1/D` and its unbiased :math:`1/(N-1)` covariance; pytorch-metric-learning's
    ``VICRegLoss`` computes the same term per branch.

    Parameters
    ----------
    embeddings : array or Tensor (N, D), N >= 2
        The batch (e.g. the support and query embeddings of an episode).

    Returns
    -------
    0-d array or Tensor

    Raises
    ------
    ValueError
        ``embeddings`` not 2-D or with fewer than 2 rows, NaN or infinite entries.

    Examples
    --------
    >>> import numpy as np
    >>> float(covariance(np.array([[1.0, 1.0], [-1.0, -1.0]])))  # C = [[2, 2], [2, 2]]: (4 + 4) / 2
    4.0
    """
    return apply_loss(COVARIANCE, embeddings, reduction="mean")


# ------------------------------------------------------------------------------------ total


def _total_forward(xp: Any, ce: Any, var: Any, cov: Any, lambda_var: Any, lambda_cov: Any) -> Any:
    return ce + lambda_var * var + lambda_cov * cov


def _total_vjp(xp: Any, g: Any, ce: Any, var: Any, cov: Any, lambda_var: Any, lambda_cov: Any) -> tuple[Any, ...]:
    return g, g * lambda_var, g * lambda_cov, g * var, g * cov


def _check_total(ce: Any, var: Any, cov: Any, lambda_var: Any, lambda_cov: Any) -> None:
    for name, x in (("ce", ce), ("var", var), ("cov", cov), ("lambda_var", lambda_var), ("lambda_cov", lambda_cov)):
        _scalar_arg(name, x)


def _total_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    # positive lambdas: finite differences must not step a lambda of 0 out of its domain
    low, high = (0.1, -0.4, 0.0, 0.05, 0.05), (3.0, 1.0, 2.0, 1.0, 1.0)  # ce, var, cov, lambda_var, lambda_cov
    return [np.asarray(rng.uniform(lo, hi)) for lo, hi in zip(low, high)]


FEWSHOT_TOTAL = register(
    LossSpec(
        name="fewshot_total",
        family="fewshot",
        args=(
            Arg("ce", "real", ()),
            Arg("var", "real", ()),
            Arg("cov", "real", ()),
            Arg("lambda_var", "nonnegative", ()),
            Arg("lambda_cov", "nonnegative", ()),
        ),
        forward=_total_forward,
        vjp=_total_vjp,
        check=_check_total,
        sampler=_total_sampler,
        nonnegative=False,  # the variance term can be negative
        edge_cases={
            "zero weights": lambda rng: [np.asarray(x) for x in (0.7, -0.3, 2.0, 0.0, 0.0)],
            "terms of 1e4": lambda rng: [np.asarray(x) for x in (1e4, 1.0, 1e4, 1e4, 1e-4)],
        },
        formula=r"L = L_{CE} + \lambda_{var} L_{var} + \lambda_{cov} L_{cov}, \quad "
        r"\partial L / \partial \lambda_{var} = L_{var},\ \partial L / \partial \lambda_{cov} = L_{cov}",
        reference="seed 000 sections 1.2, 3.1 and 5",
    )
)


def fewshot_total(ce: Any, var: Any, cov: Any, lambda_var: Any = 0.1, lambda_cov: Any = 0.01) -> Any:
    r"""The few-shot objective: cross entropy plus the weighted variance and covariance terms.

    .. math::  L = L_{CE} + \lambda_{var} L_{var} + \lambda_{cov} L_{cov}

    .. math::  \frac{\partial L}{\partial L_{CE}} = 1, \quad
               \frac{\partial L}{\partial L_{var}} = \lambda_{var}, \quad
               \frac{\partial L}{\partial L_{cov}} = \lambda_{cov}, \quad
               \frac{\partial L}{\partial \lambda_{var}} = L_{var}, \quad
               \frac{\partial L}{\partial \lambda_{cov}} = L_{cov}

    All five inputs are differentiable, so weights produced by a network (the seed's
    episode-adaptive lambdas) receive :math:`\partial L / \partial \lambda`. Minimised over
    unconstrained :math:`\lambda` this objective would drive the weight of a positive term to 0;
    an adaptive-lambda scheme must constrain or regularise them (that policy, and the EMA
    smoothing of the seed, live in :mod:`nploss.fewshot`).

    Parameters
    ----------
    ce : 0-d array or Tensor
        The classification loss, e.g. :func:`prototypical`.
    var : 0-d array or Tensor
        The prototype term, e.g. :func:`prototype_variance` (may be negative).
    cov : 0-d array or Tensor
        The covariance term, e.g. :func:`covariance`.
    lambda_var, lambda_cov : float, 0-d array or 0-d Tensor, finite and >= 0
        The weights. A Python number takes the dtype of ``ce``.

    Raises
    ------
    ValueError
        An input that is not 0-d, a negative, NaN or infinite weight, NaN or infinite terms.
    TypeError
        A weight given as a bool.

    Examples
    --------
    >>> import numpy as np
    >>> float(fewshot_total(np.asarray(1.5), np.asarray(0.2), np.asarray(3.0)))  # 1.5 + 0.02 + 0.03
    1.55
    """
    like = ce
    ce, var, cov = _like_input("ce", ce, like), _like_input("var", var, like), _like_input("cov", cov, like)
    lambda_var = _like_input("lambda_var", lambda_var, ce)
    lambda_cov = _like_input("lambda_cov", lambda_cov, ce)
    return apply_loss(FEWSHOT_TOTAL, ce, var, cov, lambda_var, lambda_cov, reduction="sum")
