r"""Prototypical networks: class prototypes, and the loss of each query against them.

An *episode* holds a labelled **support** set (a few examples of each of K classes) and a
**query** set to classify. :func:`prototypes` averages the support embeddings of each class into
a prototype :math:`c_k`; :func:`prototypical` scores each query against the prototypes (negative
squared Euclidean distance, or a scaled cosine) and takes the cross entropy (or the focal loss)
of those logits.

**Normalisation.** Cosines normalise rows as :math:`\hat{x} = x / \sqrt{\lVert x \rVert^2 +
\epsilon}` with :math:`\epsilon = 10^{-12}` (:func:`nploss.losses._shared.unit_rows`, the
``NORM_EPS`` that :mod:`nploss.losses.metric_softmax` uses too).
``torch.nn.functional.cosine_similarity`` divides by a clamped product of norms instead; the two
agree to a relative :math:`\epsilon / \lVert x \rVert^2`, but the square-root form is smooth, so
a zero embedding has cosine 0 and a finite gradient (the cotangent of :math:`\hat{x}` divided by
:math:`\sqrt{\epsilon}`) rather than 0/0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import backend
from ...autograd import Tensor, as_data
from ...autograd import matmul as _tensor_matmul
from ...backend import get_array_module
from .._apply import apply_loss
from .._params import choice, integer, real
from .._shared import focal_power, one_hot, unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, register
from .._validate import finite, matrix
from .._validate import labels as _check_labels
from ..classification.cross_entropy import softmax_xent_vjp
from ._common import _like_input, _scalar_arg

METRICS = ("euclidean", "cosine")
LOSSES = ("ce", "focal")


# ------------------------------------------------------------------------------------ prototypes


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
    matrix("support", data, "(S, D) of support embeddings")
    finite("support", data)
    if y.shape != (data.shape[0],):
        raise ValueError(
            f"support_labels must have shape ({data.shape[0]},), one per support example, got {tuple(y.shape)}"
        )
    if n_way is not None:
        n_way = integer("n_way", n_way, low=1)
    if y.dtype.kind not in "iu":
        raise TypeError(f"support_labels must hold integer class labels, got dtype {y.dtype}")
    k = _num_classes(y, n_way)
    dtype = data.dtype if data.dtype.kind == "f" else np.float64
    m = _mean_matrix(y, k, dtype)
    return _tensor_matmul(m, support) if isinstance(support, Tensor) else m @ data.astype(dtype, copy=False)


# ------------------------------------------------------------------------------------ prototypical


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
        u, ru = unit_rows(xp, query)
        v, rv = unit_rows(xp, c)
        parts.update(u=u, ru=ru, v=v, rv=rv, sim=xp.matmul(u, xp.transpose(v)))
    parts["hot"] = one_hot(y_q, k, 1, parts["sim"].dtype)
    return parts


def _log_probs(xp: Any, logits: Any, hot: Any) -> tuple[Any, Any]:
    """log p_y and m = 1 - p_y, the latter as the sum of the other classes' probabilities: no
    cancellation when p_y is near 1."""
    log_p = xp.log_softmax(logits, axis=1)
    log_p_y = xp.sum(hot * log_p, axis=1)
    m = xp.sum((1.0 - hot) * xp.exp(log_p), axis=1)
    return log_p_y, m


def _prototypical_forward(
    xp: Any, query: Any, support: Any, support_labels: Any, query_labels: Any, scale: Any,
    *, metric: str, loss: str, gamma: float,
) -> Any:  # fmt: skip
    parts = _episode(xp, query, support, support_labels, query_labels, metric)
    log_p_y, m = _log_probs(xp, scale * parts["sim"], parts["hot"])
    if loss == "ce":
        return -log_p_y
    return -(focal_power(xp, m, gamma) * log_p_y)


def _prototypical_vjp(
    xp: Any, g: Any, query: Any, support: Any, support_labels: Any, query_labels: Any, scale: Any,
    *, metric: str, loss: str, gamma: float,
) -> tuple[Any, Any, Any]:  # fmt: skip
    parts = _episode(xp, query, support, support_labels, query_labels, metric)
    sim, c = parts["sim"], parts["c"]
    logits = scale * sim
    if loss == "ce":
        factor = g
    else:
        # dl/dz = m^gamma (1 - gamma p_y log(p_y) / m) (p - onehot): the focal factor times the
        # cross-entropy gradient; p_y log(p_y) / m lies in [-1, 0] (-> -1 as m -> 0)
        log_p_y, m = _log_probs(xp, logits, parts["hot"])
        positive = m > 0.0
        ratio = xp.where(positive, xp.exp(log_p_y) * log_p_y / xp.where(positive, m, 1.0), 0.0)
        factor = g * focal_power(xp, m, gamma) * (1.0 - gamma * ratio)
    d_logits = softmax_xent_vjp(xp, factor, logits, query_labels, axis=1)  # factor (p - onehot), (Q, K)
    grad_scale = xp.sum(d_logits * sim)  # logits = scale * sim
    d_sim = scale * d_logits
    if metric == "euclidean":
        # sim_qk = -|q - c_k|^2: d/dq = -2 (q - c_k), d/dc_k = 2 (q - c_k)
        grad_query = 2.0 * (xp.matmul(d_sim, c) - xp.sum(d_sim, axis=1, keepdims=True) * query)
        grad_c = 2.0 * (xp.matmul(xp.transpose(d_sim), query) - xp.expand_dims(xp.sum(d_sim, axis=0), 1) * c)
    else:
        u, ru, v, rv = parts["u"], parts["ru"], parts["v"], parts["rv"]
        grad_query = unit_rows_vjp(xp, xp.matmul(d_sim, v), u, ru)
        grad_c = unit_rows_vjp(xp, xp.matmul(xp.transpose(d_sim), u), v, rv)
    grad_support = xp.matmul(xp.transpose(parts["mean"]), grad_c)  # c = M support
    return grad_query, grad_support, grad_scale


def _check_options(metric: Any, loss: Any, gamma: Any) -> float:
    choice("metric", metric, METRICS)
    choice("loss", loss, LOSSES)
    return real("gamma", gamma, low=0)


def _check_prototypical(
    query: Any, support: Any, support_labels: Any, query_labels: Any, scale: Any, *, metric: Any, loss: Any, gamma: Any
) -> None:
    _check_options(metric, loss, gamma)
    matrix("query", query, "(Q, D) of query embeddings")
    matrix("support", support, "(S, D) of support embeddings")
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
        reference="Snell, Swersky & Zemel 2017 (prototypical networks); focal: Lin et al. 2017, eq. 4 (no alpha)",
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
    distance ``-torch.cdist``, which is not offered. The focal form is Lin et al.'s (2017, eq. 4,
    :math:`-(1 - p_t)^\gamma \log p_t` without :math:`\alpha`) on the softmax over the
    prototypes, as :func:`softmax_focal` with ``alpha=None``.

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
