"""Large losses in row blocks: a loss's fast path, applied block by block, on several threads.

Why. A NumPy expression such as ``m * (a - 0.5 * m)`` makes one pass over memory per operator,
and each pass writes a temporary as large as the input: on 1e7 elements every temporary streams
through main memory, and every ufunc runs on one core. A loss whose row ``i`` (of the unreduced
loss and of every gradient) depends only on row ``i`` of its inputs (``FastPath.rowwise``:
elementwise losses, cross entropy over its classes) can instead be evaluated on blocks of rows
small enough for the temporaries to stay in cache, and the blocks shared among threads
(:mod:`nploss.parallel`: NumPy releases the GIL inside its loops). Every element goes through the
same operations, so the unreduced losses and the gradients are bitwise those of one call; a
reduced value differs only by the order of its sum.

Only plain NumPy arrays are blocked, above :data:`MIN_ELEMENTS`, with scalar parameters and
scalar reduction weights; a backward pass that is itself recorded (``create_graph=True``), the
reference mode and the composite mode use the loss unchanged. ``NPLOSS_NUM_THREADS`` (or
:func:`nploss.parallel.set_num_threads`) sets the threads; with 1 the blocks run on the calling
thread. :func:`evaluate` is the one entry point: it returns None where blocks do not apply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import heap, parallel
from ..numerics import array_namespace
from . import _validate
from ._reduction import Evaluation, reduction_weights
from ._spec import FastPath, LossSpec

MIN_ELEMENTS = 1 << 20  # below this the per-block Python overhead outweighs the saved traffic
BLOCK_BYTES = 1 << 20  # per input block: its temporaries stay in the shared cache; fewer, larger blocks cost less Python
HEAP_PREPARE_BYTES = 8 * BLOCK_BYTES  # above a block's temporaries (see nploss.heap.raise_thresholds)


def evaluate(
    spec: LossSpec, fast: FastPath | None, arrays: Sequence[Any], params: dict[str, Any], reduction: str, keep: bool
) -> Evaluation | None:
    """The loss evaluated in row blocks with its fast path, or None where blocks do not apply
    (no rowwise fast path, small or non-NumPy inputs, array parameters). The spec's
    cross-argument check runs first; each block's domains are checked as the block is read."""
    if fast is None or not fast.rowwise or spec.reduces_itself:
        return None
    blocks = row_blocks(arrays, params)
    if blocks is None:
        return None
    if spec.check is not None:
        spec.check(*arrays, **params)
    xp = array_namespace(np)
    summed, shape, saved = _forward(spec, fast, xp, arrays, params, reduction, blocks, keep)
    weights = reduction_weights(spec, reduction, list(arrays), params, math.prod(shape))  # one number (rowwise)
    value = xp.asarray(summed if reduction != "mean" else summed * summed.dtype.type(weights))

    def backward(g: Any) -> tuple[Any, ...]:
        return _vjp(spec, fast, xp, g, arrays, params, reduction, weights, shape, blocks, saved)

    return Evaluation(value, shape, weights, backward, owned=True)  # _vjp writes into arrays of its own


def row_blocks(arrays: Sequence[Any], params: dict[str, Any]) -> list[slice] | None:
    """Slices of rows (axis 0) to evaluate a rowwise loss on, or None to evaluate it whole."""
    if not all(type(a) is np.ndarray and a.ndim >= 1 for a in arrays):
        return None
    rows = arrays[0].shape[0]
    if any(a.shape[0] != rows for a in arrays) or max(a.size for a in arrays) < MIN_ELEMENTS:
        return None
    if any(np.ndim(p) != 0 for p in params.values() if p is not None):
        return None  # per-element or per-class weights: not worth the special cases
    row_bytes = max(a.itemsize * (a.size // max(rows, 1)) for a in arrays)
    step = max(1, BLOCK_BYTES // max(row_bytes, 1))
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]


def _forward(
    spec: LossSpec, fast: FastPath, xp: Any, arrays: Sequence[Any], params: dict[str, Any], reduction: str,
    blocks: list[slice], save: bool,
) -> tuple[Any, tuple[int, ...], list[Any] | None]:  # fmt: skip
    """The unreduced loss (``'none'``) or its sum, evaluated block by block, the shape of the
    unreduced loss, and with ``save`` what the fast forward saved for each block (else None).

    Each block's inputs are checked against their domains (finite, in [0, 1], ...) just before
    the loss reads them, while they are in cache: checked whole, beforehand, they would be read
    from main memory once more.
    """
    heap.raise_thresholds(HEAP_PREPARE_BYTES)  # a block's temporaries then stay in the process

    def unreduced_and_saved(b: slice) -> tuple[Any, Any]:
        block = [a[b] for a in arrays]
        _validate.domains(spec, block, params)
        return fast.forward(xp, *block, save=save, **params)

    def summed_and_saved(b: slice) -> tuple[Any, tuple[int, ...], Any]:  # summed here, while in cache
        unreduced, saved = unreduced_and_saved(b)
        return np.sum(unreduced), unreduced.shape[1:], saved

    if reduction == "none":
        parts = parallel.map_in_order(unreduced_and_saved, blocks)
        out = np.concatenate([unreduced for unreduced, _ in parts])
        return out, out.shape, [saved for _, saved in parts] if save else None
    sums = parallel.map_in_order(summed_and_saved, blocks)
    tail = sums[0][1]
    return np.sum(np.stack([s for s, _, _ in sums])), (arrays[0].shape[0], *tail), [saved for _, _, saved in sums] if save else None


def _vjp(
    spec: LossSpec, fast: FastPath, xp: Any, g: Any, arrays: Sequence[Any], params: dict[str, Any], reduction: str,
    weights: Any, shape: tuple[int, ...], blocks: list[slice], saved: list[Any] | None,
) -> tuple[Any, ...]:  # fmt: skip
    """The gradients of every differentiable input, block by block, written into one array each
    (block ``k`` gets ``saved[k]``, when the forward saved anything)."""
    if reduction == "mean":
        g = g * g.dtype.type(weights)

    def block_grads(k: int) -> tuple[Any, ...]:
        b = blocks[k]
        g_block = g[b] if reduction == "none" else np.broadcast_to(g, (b.stop - b.start, *shape[1:]))
        return fast.vjp(xp, g_block, *(a[b] for a in arrays), saved=None if saved is None else saved[k], **params)

    first = block_grads(0)
    grads = [np.empty((arrays[i].shape[0], *f.shape[1:]), dtype=f.dtype) for i, f in zip(spec.differentiable, first)]
    for out, f in zip(grads, first):
        out[blocks[0]] = f

    def write(k: int) -> None:
        for out, f in zip(grads, block_grads(k)):
            out[blocks[k]] = f

    parallel.map_in_order(write, range(1, len(blocks)))
    return tuple(grads)
