r"""Sparsemax and the Fenchel-Young losses: :func:`sparsemax` (the mapping, with
:func:`sparsemax_jvp`), :func:`sparsemax_loss` (multiclass), :func:`binary_sparsemax_loss` and
:func:`fenchel_young` for the Shannon and Gini regularisers.

Sparsemax (Martins & Astudillo, ICML 2016) is the Euclidean projection of a score vector onto
the probability simplex,

.. math::  \mathrm{sparsemax}(z)_j = \max(0, z_j - \tau(z)), \qquad
           \tau(z) = \frac{\sum_{k \in S(z)} z_k - 1}{|S(z)|}, \quad S(z) = \{j : z_j > \tau(z)\},

found by sorting :math:`z`. Its Jacobian is :math:`J = \mathrm{diag}(s) - s s^\top / |S|`
(:math:`s` the indicator of the support), symmetric, so that its Jacobian-vector and
vector-Jacobian products are one formula: :math:`J v = s \odot (v - \tfrac{1}{|S|}\sum_{k \in S} v_k)`.

**Kinks and the convention at ties.** The projection is piecewise linear: it has kinks where the
support changes, i.e. where some :math:`z_j = \tau(z)`. There the value is continuous (the
entry is 0 either way) and the Jacobian jumps; nploss takes the support as the *strict* set
:math:`\{z_j > \tau\}`, so an entry exactly at the threshold is outside it (the one-sided
Jacobian of the smaller support, a valid element of the Clarke generalised Jacobian). The
losses built on sparsemax give the audit the distances :math:`|z_j - \tau(z)|` as ``kinks``.

The support is computed on the data and is a constant of the graph; :math:`\tau` is then
recomputed from the scores with differentiable ops, so the composite graph's derivative is
exactly :math:`J` (away from the kinks).

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks and kinks, the
registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import autograd as ag
from ...autograd import Tensor, as_data, make_node
from ...backend import get_array_module
from ...numerics import array_namespace
from .._apply import apply_loss
from .._params import choice
from .._shared import in_dtype_of, one_hot, xlogx
from .._spec import Arg, LossSpec, register
from .._validate import matrix, same_shape
from ._common import _as_array

# ------------------------------------------------------------------------------------ the mapping


def _support(z: Any) -> Any:
    r"""Boolean support :math:`\{z_j > \tau(z)\}` along the last axis, from the data (a constant),
    and :math:`\tau` (kept dims): sort descending, :math:`k(z) = \max\{k : 1 + k z_{(k)} >
    \sum_{j \le k} z_{(j)}\}`, :math:`\tau = (\sum_{j \le k} z_{(j)} - 1) / k`."""
    z = as_data(z)
    mod = get_array_module(z)
    zs = -mod.sort(-z, axis=-1)
    cums = mod.cumsum(zs, axis=-1)
    k = mod.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    count = mod.sum(1.0 + k * zs > cums, axis=-1, keepdims=True)  # the condition holds on a prefix
    tau = (mod.take_along_axis(cums, count - 1, axis=-1) - 1.0) / count
    return z > tau, tau


def _tau(xp: Any, z: Any, support: Any) -> Any:
    r""":math:`\tau = (\sum_{j \in S} z_j - 1) / |S|` from a constant support (kept dims): on
    Tensors its derivative is :math:`[j \in S] / |S|`."""
    count = support.sum(axis=-1, keepdims=True).astype(as_data(z).dtype)
    return (xp.sum(xp.where(support, z, 0.0), axis=-1, keepdims=True) - 1.0) / count


def _sparsemax_last(xp: Any, z: Any) -> Any:
    """sparsemax along the last axis, in ``xp`` (the reference; composite on Tensors)."""
    support, _ = _support(z)
    return xp.where(support, z - _tau(xp, z, support), 0.0)


def _jvp_last(xp: Any, support: Any, v: Any) -> Any:
    r""":math:`J v = s \odot (v - \bar v_S)` along the last axis, for a constant support ``s``."""
    count = support.sum(axis=-1, keepdims=True).astype(as_data(v).dtype)
    mean_on_support = xp.sum(xp.where(support, v, 0.0), axis=-1, keepdims=True) / count
    return xp.where(support, v - mean_on_support, 0.0)


def _kinks_last(z: Any) -> Any:
    """Distances :math:`|z_j - \\tau(z)|` to the threshold (the support changes at 0)."""
    _, tau = _support(z)
    return np.abs(np.asarray(z) - tau)


def _to_last(x: Any, axis: int, ndim: int) -> Any:
    axis = axis % ndim
    if axis == ndim - 1:
        return x
    return ag.swapaxes(x, axis, -1) if isinstance(x, Tensor) else get_array_module(x).swapaxes(x, axis, -1)


def _check_map(name: str, z: Any, axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__} {axis!r}")
    data = as_data(z)
    if data.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating array, got dtype {data.dtype}")
    if data.ndim == 0 or not -data.ndim <= axis < data.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {tuple(data.shape)}")
    if data.shape[axis] == 0:
        raise ValueError(f"{name} must have at least one entry along axis {axis}, got shape {tuple(data.shape)}")
    if not bool(get_array_module(data).isfinite(data).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return int(axis)


def sparsemax(z: Any, axis: int = -1) -> Any:
    r"""Sparsemax: the Euclidean projection of ``z`` onto the probability simplex along ``axis``.

    .. math::  \mathrm{sparsemax}(z) = \arg\min_{p \in \Delta} \lVert p - z \rVert^2, \qquad
               p_j = \max(0, z_j - \tau(z)),

    with :math:`\tau` the threshold that makes :math:`\sum_j p_j = 1`. Its Jacobian
    :math:`J = \mathrm{diag}(s) - s s^\top / |S|` (:math:`s` the support's indicator) is
    symmetric; :func:`sparsemax_jvp` applies it.

    Parameters
    ----------
    z : array or Tensor
        Real scores, finite.
    axis : int
        The axis of the simplex (default: the last).

    Returns
    -------
    array or Tensor
        Probabilities, many exactly 0. On a Tensor: one node whose backward pass is
        :func:`sparsemax_jvp` (differentiable again, for higher order; the Hessian of sparsemax
        is 0 away from the kinks).

    Notes
    -----
    At a kink (some :math:`z_j = \tau`) the support is the strict set :math:`\{z_j > \tau\}`:
    the entry at the threshold gets no gradient. Equals ``optax.projections.projection_simplex``
    (``scale=1``; values and ``jax.jacobian`` checked); ``jax.nn`` has only the binary
    ``sparse_sigmoid``.

    Raises
    ------
    TypeError
        ``z`` not floating; ``axis`` not an integer.
    ValueError
        ``axis`` out of range; an empty axis; NaN or infinite scores.

    Examples
    --------
    >>> import numpy as np
    >>> sparsemax(np.array([1.0, 0.5, -1.0])).tolist()
    [0.75, 0.25, 0.0]
    """
    if not isinstance(z, Tensor):
        z = get_array_module(z).asarray(z)
    axis = _check_map("z", z, axis)
    ndim = as_data(z).ndim
    data = _to_last(as_data(z), axis, ndim)
    xp = array_namespace(get_array_module(data))
    p = _to_last(_sparsemax_last(xp, data), axis, ndim)
    if not isinstance(z, Tensor):
        return p
    support = p > 0.0  # the strict support {z_j > tau}, in z's layout

    def vjp(g: Tensor, out: Tensor) -> tuple[Any]:
        return (_to_last(_jvp_last(ag, _to_last(support, axis, ndim), _to_last(g, axis, ndim)), axis, ndim),)

    return make_node(p, (z,), vjp)


def sparsemax_jvp(z: Any, v: Any, axis: int = -1) -> Any:
    r"""The Jacobian of :func:`sparsemax` at ``z`` applied to ``v`` (equally ``v``'s
    vector-Jacobian product: the Jacobian is symmetric).

    .. math::  J v = s \odot \Bigl(v - \frac{1}{|S|} \sum_{k \in S} v_k\Bigr), \qquad
               s_j = [z_j > \tau(z)]

    Parameters
    ----------
    z : array or Tensor
        The point (only its support is used: a constant).
    v : array or Tensor, shape of ``z``
        The tangent (or cotangent); a Tensor ``v`` is differentiated (the map is linear in it).
    axis : int

    Raises
    ------
    TypeError, ValueError
        As :func:`sparsemax`; ``v`` not of the shape of ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> sparsemax_jvp(np.array([1.0, 0.5, -1.0]), np.array([1.0, 0.0, 5.0])).tolist()
    [0.5, -0.5, 0.0]
    """
    z = z if isinstance(z, Tensor) else get_array_module(z).asarray(z)
    v = _as_array(v)
    axis = _check_map("z", z, axis)
    same_shape("z", as_data(z), "v", as_data(v))
    ndim = as_data(z).ndim
    support, _ = _support(_to_last(as_data(z), axis, ndim))
    xp = ag if isinstance(v, Tensor) else array_namespace(get_array_module(v))
    return _to_last(_jvp_last(xp, support, _to_last(v, axis, ndim)), axis, ndim)


# ------------------------------------------------------------------------------------ shared checks


def _check_rows(scores: Any, target: Any, **_: Any) -> None:
    matrix("scores", scores, "(N, C)")
    if tuple(target.shape) != (scores.shape[0],):
        raise ValueError(
            f"target must have shape (N,) = ({scores.shape[0]},) for scores of shape {tuple(scores.shape)}, got {tuple(target.shape)}"
        )


def _row_kinks(scores: Any, *_: Any, **__: Any) -> Any:
    return _kinks_last(scores)


def _sparse_edges() -> dict[str, Any]:
    return {
        "scores of +-1e4": lambda rng: [
            np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [3.0, 3.0, 3.0]]),
            np.array([0, 2, 1]),
        ],
    }


# ------------------------------------------------------------------------------------ sparsemax loss


def _gini_conjugate_minus_inner(xp: Any, scores: Any, inner: Any) -> Any:
    r""":math:`\Omega^*(z) - c` for the Gini regulariser, :math:`c` a constant-per-row shift
    (kept dims): :math:`\sum_j p_j (z_j - c) + \tfrac12 (1 - \lVert p \rVert^2)`, using
    :math:`\sum_j p_j = 1`. Shift-invariant, so no cancellation between large numbers."""
    p = _sparsemax_last(xp, scores)
    return xp.sum(p * (scores - inner), axis=-1) + 0.5 * (1.0 - xp.sum(p * p, axis=-1))


def _sparsemax_loss_forward(xp: Any, scores: Any, target: Any) -> Any:
    correct = xp.take_along_axis(scores, as_data(target)[:, None], axis=1)
    return _gini_conjugate_minus_inner(xp, scores, correct)


def _sparsemax_loss_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    # the gradient of a Fenchel-Young loss: the regularised prediction minus the target
    hot = one_hot(target, scores.shape[1], 1, as_data(scores).dtype)
    return (xp.expand_dims(g, 1) * (_sparsemax_last(xp, scores) - hot),)


SPARSEMAX_LOSS = register(
    LossSpec(
        name="sparsemax_loss",
        family="classification",
        args=(Arg("scores", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_sparsemax_loss_forward,
        vjp=_sparsemax_loss_vjp,
        check=_check_rows,
        classes_from="scores",
        kinks=_row_kinks,
        edge_cases=_sparse_edges(),
        formula=r"\ell_i = -z_{y} + \tfrac12 \sum_{j \in S(z)} (z_j^2 - \tau(z)^2) + \tfrac12, \quad "
        r"\partial \ell / \partial z = \mathrm{sparsemax}(z) - e_y",
        reference="Martins & Astudillo, ICML 2016, arXiv:1602.02068; optax.losses.multiclass_sparsemax_loss",
    )
)


def sparsemax_loss(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Multiclass sparsemax loss: the Fenchel-Young loss of the Gini regulariser with a one-hot
    target (Martins & Astudillo 2016), optax's ``multiclass_sparsemax_loss``.

    .. math::  \ell = -z_y + \tfrac12 \sum_{j \in S(z)} \bigl(z_j^2 - \tau(z)^2\bigr) + \tfrac12
               = \langle p, z - z_y \rangle + \tfrac12 (1 - \lVert p \rVert^2), \qquad
               p = \mathrm{sparsemax}(z)

    .. math::  \frac{\partial \ell}{\partial z} = \mathrm{sparsemax}(z) - e_y

    The loss is :math:`C^1`; its second derivative is the sparsemax Jacobian, which jumps where
    the support changes (some :math:`z_j = \tau(z)`; see the module notes on ties).

    Parameters
    ----------
    scores : array or Tensor, shape (N, C)
    target : integer array, shape (N,)
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Names: optax's ``sparsemax_loss`` is the *binary* loss, here :func:`binary_sparsemax_loss`;
    this one is optax's ``multiclass_sparsemax_loss`` (which returns the unreduced (N,) losses:
    ``reduction='none'``). Equals ``fenchel_young(scores, one_hot(target), 'gini')``. It is zero
    exactly when ``sparsemax(scores)`` is the one-hot target, i.e. when
    :math:`z_y \ge 1 + \max_{j \ne y} z_j`.

    Raises
    ------
    ValueError
        ``scores`` not 2-D, ``target`` not of shape (N,) or labels outside [0, C), NaN scores.
    TypeError
        ``target`` not integer.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(sparsemax_loss(np.array([[1.0, 0.5, -1.0]]), np.array([1]))), 10)
    0.5625
    """
    return apply_loss(SPARSEMAX_LOSS, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ binary sparsemax loss


def _binary_margin(logits: Any, target: Any) -> Any:
    r""":math:`x = -\tilde y z` with :math:`\tilde y = 2y - 1` (a constant sign)."""
    return (1.0 - 2.0 * in_dtype_of(target, logits)) * logits


def _binary_sparsemax_forward(xp: Any, logits: Any, target: Any) -> Any:
    x = _binary_margin(logits, target)
    # sparse_plus: 0 for x <= -1, (x + 1)^2 / 4 between, x from 1 on
    return xp.where(x <= -1.0, 0.0, xp.where(x >= 1.0, x, 0.25 * (x + 1.0) * (x + 1.0)))


def _binary_sparsemax_vjp(xp: Any, g: Any, logits: Any, target: Any) -> tuple[Any]:
    x = _binary_margin(logits, target)
    slope = xp.where(x <= -1.0, 0.0, xp.where(x >= 1.0, 1.0, 0.5 * (x + 1.0)))  # sparse_sigmoid(x)
    return (g * (1.0 - 2.0 * in_dtype_of(target, logits)) * slope,)


def _binary_sparsemax_kinks(logits: Any, target: Any) -> Any:
    x = (1.0 - 2.0 * target) * logits
    return np.minimum(np.abs(x - 1.0), np.abs(x + 1.0))  # the second derivative jumps at x = +-1


BINARY_SPARSEMAX_LOSS = register(
    LossSpec(
        name="binary_sparsemax_loss",
        family="classification",
        args=(Arg("logits", "logits"), Arg("target", "flag", differentiable=False)),
        forward=_binary_sparsemax_forward,
        vjp=_binary_sparsemax_vjp,
        check=lambda logits, target: same_shape("logits", logits, "target", target),
        kinks=_binary_sparsemax_kinks,
        edge_cases={
            "logits of +-1e4 and at the joints": lambda rng: [
                np.array([1e4, -1e4, 1.0, -1.0, 1.0]),
                np.array([1.0, 1.0, 0.0, 1.0, 1.0]),
            ],
        },
        formula=r"\ell = \mathrm{sparse\_plus}(-\tilde y z),\ \tilde y = 2y - 1, \quad "
        r"\mathrm{sparse\_plus}(x) = 0\ (x \le -1),\ (x + 1)^2 / 4,\ x\ (x \ge 1)",
        reference="Blondel, Martins & Niculae, JMLR 2020, sec. 4.4; optax.losses.sparsemax_loss",
    )
)


def binary_sparsemax_loss(logits: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Binary sparsemax loss (Blondel, Martins & Niculae 2020, sec. 4.4), optax's ``sparsemax_loss``.

    .. math::  \ell = \mathrm{sparse\_plus}(x), \quad x = -\tilde y z, \ \tilde y = 2y - 1,
               \qquad \mathrm{sparse\_plus}(x) = \begin{cases} 0 & x \le -1 \\
               (x + 1)^2 / 4 & -1 < x < 1 \\ x & x \ge 1 \end{cases}

    .. math::  \frac{\partial \ell}{\partial z} = -\tilde y\, \mathrm{sparse\_sigmoid}(x), \qquad
               \mathrm{sparse\_sigmoid}(x) = \min(1, \max(0, (x + 1)/2))

    i.e. :math:`\mathrm{sparse\_sigmoid}(z) - y`, the Fenchel-Young gradient. It is the
    two-class :func:`sparsemax_loss` on scores :math:`(0, z)` with label :math:`y`, and a quarter
    of the modified Huber loss (:math:`\max(0, 1 - \tilde y z)^2` for
    :math:`\tilde y z \ge -1`, :math:`-4 \tilde y z` below).

    Parameters
    ----------
    logits : array or Tensor, any shape
    target : array, shape of ``logits``
        0 or 1 (or booleans), not -1/+1; a constant.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    optax ``sparsemax_loss(logits, labels)`` returns the unreduced losses
    (``reduction='none'``); its deprecated alias is ``binary_sparsemax_loss``. The first
    derivative is continuous, the second jumps at :math:`x = \pm 1` (the audit's kinks).

    Raises
    ------
    ValueError
        Shapes that differ; ``target`` not 0 or 1; NaN logits.

    Examples
    --------
    >>> import numpy as np
    >>> binary_sparsemax_loss(np.array([0.5, -2.0, 2.0]), np.array([1.0, 1.0, 0.0]), reduction="none").tolist()
    [0.0625, 2.0, 2.0]
    """
    return apply_loss(BINARY_SPARSEMAX_LOSS, logits, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Fenchel-Young


REGULARIZERS = ("shannon", "gini")


def _check_fenchel_young(theta: Any, target: Any, *, regularizer: Any) -> None:
    choice("regularizer", regularizer, REGULARIZERS)
    matrix("theta", theta, "(N, C)")
    same_shape("theta", theta, "target", target)


def _fenchel_young_forward(xp: Any, theta: Any, target: Any, *, regularizer: str) -> Any:
    y = in_dtype_of(target, theta)
    inner = xp.sum(theta * y, axis=-1, keepdims=True)  # <theta, y>, kept dims
    if regularizer == "shannon":
        # Omega(p) = sum p log p, Omega*(theta) = logsumexp(theta)
        omega_y = xlogx(array_namespace(get_array_module(y)), y).sum(axis=-1)  # a constant
        return xp.logsumexp(theta - inner, axis=-1) + omega_y
    # Gini: Omega(p) = (|p|^2 - 1) / 2, Omega*(theta) = <p, theta> - Omega(p), p = sparsemax(theta)
    return _gini_conjugate_minus_inner(xp, theta, inner) + 0.5 * ((y * y).sum(axis=-1) - 1.0)


def _fenchel_young_vjp(xp: Any, g: Any, theta: Any, target: Any, *, regularizer: str) -> tuple[Any]:
    # grad Omega* = y_hat(theta), the regularised prediction; the loss's gradient is y_hat - y
    y_hat = xp.softmax(theta, axis=-1) if regularizer == "shannon" else _sparsemax_last(xp, theta)
    return (xp.expand_dims(g, -1) * (y_hat - in_dtype_of(target, theta)),)


def _fenchel_young_kinks(theta: Any, target: Any, *, regularizer: str) -> Any:
    return np.full(theta.shape, np.inf) if regularizer == "shannon" else _kinks_last(theta)


FENCHEL_YOUNG = register(
    LossSpec(
        name="fenchel_young",
        family="classification",
        args=(Arg("theta", "logits", ("N", "C")), Arg("target", "simplex", ("N", "C"), differentiable=False)),
        forward=_fenchel_young_forward,
        vjp=_fenchel_young_vjp,
        params={"regularizer": "shannon"},
        check=_check_fenchel_young,
        kinks=_fenchel_young_kinks,
        edge_cases={
            "scores of +-1e4, one-hot and tied targets": lambda rng: [
                np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [3.0, 3.0, 3.0]]),
                np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]),
            ],
        },
        formula=r"\ell = \Omega^*(\theta) + \Omega(y) - \langle \theta, y \rangle, \quad "
        r"\nabla_\theta \ell = \hat y_\Omega(\theta) - y, \ \hat y = \nabla \Omega^*",
        reference="Blondel, Martins & Niculae, JMLR 2020, arXiv:1901.02324; optax.losses.make_fenchel_young_loss",
    )
)


def fenchel_young(theta: Any, target: Any, regularizer: str = "shannon", reduction: str = "mean") -> Any:
    r"""Fenchel-Young loss of a regulariser :math:`\Omega` (Blondel, Martins & Niculae, JMLR 2020).

    .. math::  \ell(\theta; y) = \Omega^*(\theta) + \Omega(y) - \langle \theta, y \rangle
               \;\ge\; 0, \qquad
               \nabla_\theta \ell = \hat y_\Omega(\theta) - y, \quad
               \hat y_\Omega(\theta) = \nabla \Omega^*(\theta) = \arg\max_{p \in \Delta}
               \langle \theta, p \rangle - \Omega(p)

    (Danskin's theorem: the gradient of the conjugate is its maximiser). The two regularisers:

    - ``'shannon'``: :math:`\Omega(p) = \sum_j p_j \log p_j`, :math:`\Omega^* = \mathrm{logsumexp}`,
      :math:`\hat y = \mathrm{softmax}(\theta)`; the loss is
      :math:`\mathrm{KL}(y \,\|\, \mathrm{softmax}(\theta))`, cross entropy minus the entropy of
      :math:`y` (cross entropy itself for a one-hot :math:`y`).
    - ``'gini'``: :math:`\Omega(p) = \tfrac12 (\lVert p \rVert^2 - 1)`,
      :math:`\hat y = \mathrm{sparsemax}(\theta)`; for a one-hot :math:`y` the loss is
      :func:`sparsemax_loss`.

    The code says the same: ``_fenchel_young_vjp`` is ``g * (y_hat - y)``.

    Parameters
    ----------
    theta : array or Tensor, shape (N, C)
        Scores.
    target : array, shape (N, C)
        Rows on the probability simplex (one-hot or soft); a constant (the gradient with respect
        to it, :math:`\nabla\Omega(y) - \theta`, is infinite at 0 for Shannon's).
    regularizer : {'shannon', 'gini'}
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    optax's ``make_fenchel_young_loss(max_fun)`` returns :math:`\Omega^*(\theta) -
    \langle \theta, y \rangle`, without :math:`\Omega(y)` (its loss is not zero at
    :math:`\hat y = y` unless :math:`y` is one-hot): optax's value with
    ``max_fun=logsumexp`` is this loss minus :math:`\sum_j y_j \log y_j`; with the Gini
    conjugate, minus :math:`\tfrac12(\lVert y \rVert^2 - 1)`. The gradients in
    :math:`\theta` agree. For ``'gini'`` the second derivative jumps where the support of
    :math:`\mathrm{sparsemax}(\theta)` changes (see :func:`sparsemax`).

    Raises
    ------
    ValueError
        ``regularizer`` not 'shannon' or 'gini'; ``theta`` not 2-D; shapes that differ;
        ``target`` rows off the simplex; NaN scores.

    Examples
    --------
    >>> import numpy as np
    >>> theta, y = np.array([[1.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]])
    >>> round(float(fenchel_young(theta, y, "gini")), 10)
    0.5625
    >>> round(float(fenchel_young(theta, y, "shannon")), 10)
    1.0549569196
    """
    return apply_loss(FENCHEL_YOUNG, theta, _as_array(target), reduction=reduction, regularizer=regularizer)


__all__ = ["binary_sparsemax_loss", "fenchel_young", "sparsemax", "sparsemax_jvp", "sparsemax_loss"]
