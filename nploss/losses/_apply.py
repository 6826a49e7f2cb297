r"""``apply_loss``: validation, reduction and the graph node, written once for every loss.

Given arrays, a loss returns an array. Given Tensors it records, by default, ONE *fused* node
whose backward is the loss's analytic ``vjp``:

1. the reduced cotangent ``g`` is turned back into the unreduced one (``'sum'``: broadcast;
   ``'mean'``: times the reduction weights, e.g. :math:`1/n` or :math:`w_{y_i} / \sum w`);
2. ``vjp(xp, g_unreduced, *inputs)`` gives one gradient per differentiable input. When the
   backward pass is itself being recorded (``create_graph=True``), ``vjp`` runs on Tensors with
   ``xp = nploss.autograd``, so the analytic gradient is differentiable too.

In *composite* mode (``with nploss.losses.composite():`` or ``mode="composite"``) the same
``forward`` runs with ``xp = nploss.autograd`` and the engine derives the gradient from the
primitives. The audit holds the two against each other and against finite differences.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from .. import autograd as ag
from ..autograd import Tensor, as_data, is_grad_enabled, make_node
from ..backend import get_array_module
from ..numerics import array_namespace
from . import _blocks, _validate
from ._spec import LossSpec

MODES = ("fused", "composite")
_mode = ["fused"]


@contextlib.contextmanager
def composite() -> Iterator[None]:
    """Within this block, losses on Tensors build the composite graph of primitive ops instead
    of one fused node with the analytic gradient."""
    previous = _mode[0]
    _mode[0] = "composite"
    try:
        yield
    finally:
        _mode[0] = previous


def _weights(spec: LossSpec, reduction: str, arrays: list[Any], params: dict[str, Any], size: int) -> Any:
    """The weights of a mean-like reduction: ``sum(weights * unreduced)`` is the reduced loss."""
    if reduction in ("none", "sum"):
        return None
    if spec.reduction_weights is not None:
        return spec.reduction_weights(array_namespace(get_array_module(*arrays)), reduction, *arrays, **params)
    return 1.0 / max(size, 1)


def _reduce(xp: Any, unreduced: Any, reduction: str, weights: Any) -> Any:
    if reduction == "none":
        return unreduced
    if reduction == "sum":
        return xp.sum(unreduced)
    if isinstance(weights, float):  # 1/n: scale the sum rather than every element (one pass fewer)
        return xp.sum(unreduced) * weights
    return xp.sum(unreduced * weights)


def _unreduce(xp: Any, g: Any, reduction: str, weights: Any, shape: tuple[int, ...]) -> Any:
    """The cotangent of the unreduced loss, from that of the reduced one."""
    if reduction == "none":
        return g
    return xp.broadcast_to(g if reduction == "sum" else g * weights, shape)


def collapse(g: Any) -> Any:
    """``g`` as one number when it is one number repeated, else ``g`` unchanged.

    The unreduced cotangent of a ``'sum'`` or an unweighted ``'mean'`` is the same value in every
    element (a broadcast view, with zero strides). A VJP that folds its constants into that
    value, ``(prediction - target) * (2.0 * collapse(g))``, multiplies the array once; written
    ``2.0 * g * (prediction - target)`` it would first fill a whole array with ``2.0 * g``. The
    value keeps the dtype of ``g`` (a float32 loss stays float32). Tensors (a recorded backward
    pass) and genuine arrays of cotangents (``'none'``, per-sample weights) pass unchanged.
    """
    if isinstance(g, Tensor) or g.ndim == 0 or g.size == 0 or any(g.strides):
        return g
    return g[(0,) * g.ndim]


def apply_loss(spec: LossSpec, *inputs: Any, reduction: str = "mean", mode: str | None = None, **params: Any) -> Any:
    """Evaluate ``spec`` on ``inputs``: an array for arrays, a Tensor (fused or composite) for
    Tensors. See the module docstring."""
    _validate.reduction(reduction, spec.reductions)
    mode = _mode[0] if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    arrays = [as_data(x) if isinstance(x, Tensor) else get_array_module(x).asarray(x) for x in inputs]
    # one array module for the whole loss: labels or targets given on the host join inputs on the
    # GPU (CuPy's kernels take no host arrays)
    module = get_array_module(*arrays)
    arrays = [a if get_array_module(a) is module else module.asarray(a) for a in arrays]
    with_tensors = any(isinstance(x, Tensor) for x in inputs)
    _validate.arity(spec, arrays)
    blocks = None
    if spec.rowwise and not spec.reduces_itself and not (with_tensors and mode == "composite"):
        blocks = _blocks.row_blocks(arrays, params)
    if blocks is None:  # blocked, the domains are checked block by block, as the forward reads them
        _validate.domains(spec, arrays, params)
    if spec.check is not None:  # the spec's own cross-argument checks
        spec.check(*arrays, **params)
    if spec.reduces_itself:
        params = {**params, "reduction": reduction}

    if with_tensors and mode == "composite":
        tensors = [x if isinstance(x, Tensor) else Tensor(a) for x, a in zip(inputs, arrays)]
        unreduced = (spec.composite or spec.forward)(ag, *tensors, **params)
        if spec.reduces_itself:
            return unreduced
        return _reduce(ag, unreduced, reduction, _weights(spec, reduction, arrays, params, unreduced.size))

    xp = array_namespace(module)
    save = with_tensors and spec.forward_saving is not None  # keep what the backward pass would recompute
    if blocks is not None:  # a large input: the same formulas, in row blocks on several threads
        summed, shape, saved = _blocks.forward(spec, xp, arrays, params, reduction, blocks, save)
        weights = _weights(spec, reduction, arrays, params, math.prod(shape))  # one number (LossSpec.rowwise)
        value = xp.asarray(summed if reduction != "mean" else summed * summed.dtype.type(weights))
    else:
        unreduced, saved = spec.forward_saving(xp, *arrays, **params) if save else (spec.forward(xp, *arrays, **params), None)
        weights = None if spec.reduces_itself else _weights(spec, reduction, arrays, params, unreduced.size)
        # a 0-d array rather than a NumPy scalar, as CuPy returns
        value = xp.asarray(unreduced if spec.reduces_itself else _reduce(xp, unreduced, reduction, weights))
        shape = unreduced.shape
    if not with_tensors:
        return value
    parents = tuple(inputs[i] if isinstance(inputs[i], Tensor) else Tensor(arrays[i]) for i in spec.differentiable)

    def vjp(g: Tensor, out: Tensor) -> tuple[Any, ...]:
        if is_grad_enabled():  # create_graph: the analytic gradient, recorded on Tensors (recomputing what was saved)
            ns: Any = ag
            args: list[Any] = [x if isinstance(x, Tensor) else Tensor(a) for x, a in zip(inputs, arrays)]
            g_in: Any = g
            kept: dict[str, Any] = {}
        elif blocks is not None:
            return tuple(Tensor(gr) for gr in _blocks.vjp(spec, xp, g.data, arrays, params, reduction, weights, shape, blocks, saved))
        else:
            ns, args, g_in, kept = xp, arrays, g.data, ({} if saved is None else {"saved": saved})
        if not spec.reduces_itself:
            g_in = _unreduce(ns, g_in, reduction, weights, shape)
        grads = spec.vjp(ns, g_in, *args, **params, **kept)
        return tuple(gr if isinstance(gr, Tensor) else Tensor(gr) for gr in grads)

    return make_node(value, parents, vjp)
