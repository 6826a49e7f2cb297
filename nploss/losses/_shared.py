r"""Helpers several loss families share, written once: constant parameter arrays, unbatched
inputs, the focal factor, labels in the scores' dtype, one-hot targets, and rows scaled to unit
length. (The gradient of softmax cross entropy, which several
families share too, lives with cross entropy: ``classification.cross_entropy.softmax_xent_vjp``.)
"""

from __future__ import annotations

from typing import Any

from ..autograd import as_data
from ..backend import get_array_module

NORM_EPS = 1e-12  # inside the square root of the L2 normalisation: a zero row stays 0, finite gradient


def constant(x: Any, like: Any) -> Any:
    """A parameter array (class weights, ``pos_weight``, focal ``alpha``) as a plain array of the
    array module of ``like``: a constant, so a Tensor given here is not differentiated."""
    if x is None:
        return None
    return get_array_module(as_data(like)).asarray(as_data(x))


def unbatched(loss: Any, inputs: dict[str, Any], ndims: dict[str, tuple[int, ...]], reduction: str) -> Any:
    """``loss`` of one sample given without its batch axis, as PyTorch accepts (``(C,)`` logits
    with a 0-d label; ``(D,)`` embeddings): the same loss on a batch of that one sample, and its
    ``'none'`` result without the batch axis (a 0-d value), as PyTorch returns it. ``ndims``
    gives the dimensions each named input may have for one sample."""
    from .. import autograd as ag

    for name, x in inputs.items():
        if name in ndims and len(getattr(x, "shape", ())) not in ndims[name]:
            allowed = " or ".join(f"{n}-d" for n in ndims[name])
            raise ValueError(
                f"{name} must be {allowed} for one sample without a batch axis, got shape {tuple(getattr(x, 'shape', ()))}"
            )
    batched = [ag.expand_dims(x, 0) if isinstance(x, ag.Tensor) else get_array_module(x).asarray(x)[None] for x in inputs.values()]
    out = loss(*batched)
    if reduction != "none":
        return out
    return ag.reshape(out, out.shape[1:]) if isinstance(out, ag.Tensor) else out[0]


def focal_power(xp: Any, m: Any, gamma: float) -> Any:
    r""":math:`m^\gamma`, the focal factor (:math:`m = 1 - p_t`), with a finite derivative where
    :math:`m = 0` (a saturated sigmoid or softmax): there the engine's derivative of a power,
    :math:`\gamma m^{\gamma - 1}`, is infinite for :math:`\gamma < 1`, and times
    :math:`\partial m / \partial z = 0` it would make the composite gradient NaN. The inner
    ``where`` evaluates the power at 1 instead, so its derivative there is finite and masked."""
    if gamma == 0:
        return 1.0
    positive = m > 0.0
    return xp.where(positive, xp.where(positive, m, 1.0) ** gamma, 0.0)


def in_dtype_of(x: Any, like: Any) -> Any:
    """``x`` (labels, signs: a constant) in the floating dtype of ``like``, so that float64 or
    integer labels do not promote float32 scores."""
    x, dtype = as_data(x), as_data(like).dtype
    return x if x.dtype == dtype else x.astype(dtype)


def xlogx(xp: Any, p: Any) -> Any:
    r""":math:`p \log p` with :math:`0 \log 0 = 0` (PyTorch's ``xlogy(p, p)``), without evaluating ``log 0``."""
    positive = p > 0.0
    return xp.where(positive, p * xp.log(xp.where(positive, p, 1.0)), 0.0)


def one_hot(labels: Any, classes: int, axis: int, dtype: Any, ignore_index: int | None = None) -> Any:
    """``labels == c`` along a new class axis (1 as in PyTorch, -1 as in Keras), as ``dtype``;
    the rows of ignored labels are all zero. A constant (a plain array)."""
    labels = as_data(labels)
    arange = get_array_module(labels).arange(classes)
    if axis == 1:
        hot = labels[:, None] == arange.reshape((1, classes) + (1,) * (labels.ndim - 1))
        if ignore_index is not None:
            hot = hot & (labels != ignore_index)[:, None]
    else:
        hot = labels[..., None] == arange
    return hot.astype(dtype)


def unit_rows(xp: Any, x: Any, eps: float = NORM_EPS) -> tuple[Any, Any]:
    r"""Rows (the last axis) scaled to unit length, :math:`u = x / r` with
    :math:`r = \sqrt{\lVert x \rVert^2 + \varepsilon}`, and the norms ``r`` (kept dims)."""
    r = xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True) + eps)
    return x / r, r


def unit_rows_vjp(xp: Any, gu: Any, u: Any, r: Any) -> Any:
    r"""The cotangent of ``x`` from that of ``u = x / r``: :math:`(I - u u^\top)\, \bar{u} / r` (the
    component along ``u`` is projected out; exact with the epsilon too, as
    :math:`\partial r / \partial x = x / r`)."""
    return (gu - u * xp.sum(u * gu, axis=-1, keepdims=True)) / r


__all__ = ["NORM_EPS", "constant", "unbatched", "focal_power", "in_dtype_of", "xlogx", "one_hot", "unit_rows", "unit_rows_vjp"]
