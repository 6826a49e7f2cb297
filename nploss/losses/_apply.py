r"""``apply_loss``: validate -> forward -> reduce -> record the node, written once for every loss.

Given arrays, a loss returns an array. Given Tensors it records, by default, ONE *fused* node
whose backward is the loss's analytic ``vjp``:

1. the reduced cotangent ``g`` is turned back into the unreduced one (``'sum'``: broadcast;
   ``'mean'``: times the reduction weights, e.g. :math:`1/n` or :math:`w_{y_i} / \sum w`);
2. ``vjp(xp, g_unreduced, *inputs)`` gives one gradient per differentiable input. When the
   backward pass is itself being recorded (``create_graph=True``), the reference ``vjp`` runs
   on Tensors with ``xp = nploss.autograd``, so the analytic gradient is differentiable too.

Three modes (``mode=`` or a ``with`` block):

- ``'fused'`` (the default): one node; a loss with a :class:`~nploss.losses.FastPath` uses it;
- ``'reference'`` (``with nploss.losses.reference():``): one node, always the textbook
  ``forward`` and ``vjp`` — what the audit and the fast-path tests compare against;
- ``'composite'`` (``with nploss.losses.composite():``): the same ``forward`` runs with
  ``xp = nploss.autograd`` and the engine derives the gradient from the primitives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .. import autograd as ag
from ..autograd import Tensor, is_grad_enabled, make_node
from ..autograd.tensor import owned_gradient
from ..backend import get_array_module
from ..numerics import array_namespace
from . import _blocks, _validate
from ._reduction import Evaluation, reduce, reduction_weights, unreduce
from ._spec import LossSpec

MODES = ("fused", "reference", "composite")
_mode = ["fused"]


@contextlib.contextmanager
def _mode_block(mode: str) -> Iterator[None]:
    previous = _mode[0]
    _mode[0] = mode
    try:
        yield
    finally:
        _mode[0] = previous


def composite() -> contextlib.AbstractContextManager[None]:
    """Within this block, losses on Tensors build the composite graph of primitive ops instead
    of one fused node with the analytic gradient."""
    return _mode_block("composite")


def reference() -> contextlib.AbstractContextManager[None]:
    """Within this block, losses use their reference ``forward`` and ``vjp`` (the textbook
    formulas), never a fast path."""
    return _mode_block("reference")


def apply_loss(spec: LossSpec, *inputs: Any, reduction: str = "mean", mode: str | None = None, **params: Any) -> Any:
    """Evaluate ``spec`` on ``inputs``: an array for arrays, a Tensor (a fused node, or the
    composite graph) for Tensors. See the module docstring."""
    mode = _check_mode(mode)
    _validate.reduction(reduction, spec.reductions)
    arrays = _validate.as_arrays(spec, inputs)
    with_tensors = any(isinstance(x, Tensor) for x in inputs)
    if with_tensors and mode == "composite":
        return _composite(spec, inputs, arrays, reduction, params)
    fast = spec.fast if mode == "fused" else None
    # large rowwise inputs: the fast path in row blocks on threads (None when that does not apply)
    evaluation = _blocks.evaluate(spec, fast, arrays, params, reduction, keep=with_tensors)
    if evaluation is None:
        evaluation = _evaluate(spec, fast, arrays, params, reduction, keep=with_tensors)
    if not with_tensors:
        return evaluation.value
    return _record(spec, inputs, arrays, params, reduction, evaluation)


def _check_mode(mode: str | None) -> str:
    mode = _mode[0] if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    return mode


def _validate_all(spec: LossSpec, arrays: list[Any], params: dict[str, Any]) -> None:
    _validate.domains(spec, arrays, params)
    if spec.check is not None:  # the spec's own cross-argument checks
        spec.check(*arrays, **params)


def _evaluate(spec: LossSpec, fast: Any, arrays: list[Any], params: dict[str, Any], reduction: str, keep: bool) -> Evaluation:
    """The forward pass on arrays (``fast``, a :class:`FastPath`, or None for the reference);
    with ``keep``, what the fast forward saved is kept for the backward pass."""
    _validate_all(spec, arrays, params)
    if spec.reduces_itself:
        params = {**params, "reduction": reduction}
    xp = array_namespace(get_array_module(*arrays))
    if fast is not None:
        unreduced, saved = fast.forward(xp, *arrays, save=keep, **params)
    else:
        unreduced, saved = spec.forward(xp, *arrays, **params), None
    weights = reduction_weights(spec, reduction, arrays, params, unreduced.size)
    value = unreduced if spec.reduces_itself else reduce(xp, unreduced, reduction, weights)

    def backward(g: Any) -> tuple[Any, ...]:
        g = g if spec.reduces_itself else unreduce(xp, g, reduction, weights, unreduced.shape)
        if fast is not None:
            return fast.vjp(xp, g, *arrays, saved=saved, **params)
        return spec.vjp(xp, g, *arrays, **params)

    # a 0-d array rather than a NumPy scalar, as CuPy returns
    return Evaluation(xp.asarray(value), unreduced.shape, weights, backward)


def _record(spec: LossSpec, inputs: tuple[Any, ...], arrays: list[Any], params: dict[str, Any], reduction: str, evaluation: Evaluation) -> Tensor:
    """One node whose backward pass is the evaluation's, or, recorded (``create_graph=True``),
    the reference ``vjp`` on Tensors, so that the analytic gradient is differentiable again."""
    tensors = _tensors(inputs, arrays)
    parents = tuple(tensors[i] for i in spec.differentiable)
    if spec.reduces_itself:
        params = {**params, "reduction": reduction}

    def vjp(g: Tensor, out: Tensor) -> tuple[Any, ...]:
        if not is_grad_enabled():
            wrap = owned_gradient if evaluation.owned else Tensor
            return tuple(wrap(gr) for gr in evaluation.backward(g.data))
        if not spec.reduces_itself:
            g = unreduce(ag, g, reduction, evaluation.weights, evaluation.shape)
        grads = spec.vjp(ag, g, *tensors, **params)
        return tuple(gr if isinstance(gr, Tensor) else Tensor(gr) for gr in grads)

    return make_node(evaluation.value, parents, vjp)


def _tensors(inputs: tuple[Any, ...], arrays: list[Any]) -> list[Tensor]:
    """The inputs as Tensors: a Tensor given is used as it is (its gradient flows back), unless
    the input policy converted its data (an integer Tensor, which has no gradient)."""
    return [x if isinstance(x, Tensor) and x.data is a else Tensor(a) for x, a in zip(inputs, arrays)]


def _composite(spec: LossSpec, inputs: tuple[Any, ...], arrays: list[Any], reduction: str, params: dict[str, Any]) -> Tensor:
    """The reference forward on Tensors: the engine records every primitive op."""
    _validate_all(spec, arrays, params)
    if spec.reduces_itself:
        params = {**params, "reduction": reduction}
    tensors = _tensors(inputs, arrays)
    unreduced = (spec.composite or spec.forward)(ag, *tensors, **params)
    if spec.reduces_itself:
        return unreduced
    return reduce(ag, unreduced, reduction, reduction_weights(spec, reduction, arrays, params, unreduced.size))
