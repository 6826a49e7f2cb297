"""Every primitive op with a point at which it is audited: the op registry of ``nploss audit``.

The plain ops of :mod:`nploss.autograd` first, then the fast kernels of :mod:`nploss.nn._fused`
that the layers use (named "... (fused)"), each audited on its own.

An :class:`OpCase` names an op, a function of float64 inputs built from it, and the shapes and
domains its inputs are drawn from. Shapes exercise broadcasting, batched axes and repeated
indices; domains keep the inputs where the op is defined and away from its kinks (``abs`` at 0,
``relu`` at 0, the bounds of ``clip``), where finite differences cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn import _fused
from . import conv, ops

DOMAINS = {
    # name: (description, sampler(rng, shape))
    "real": ("any real number, standard normal", lambda rng, s: rng.standard_normal(s)),
    "positive": ("in (0.5, 2)", lambda rng, s: rng.uniform(0.5, 2.0, s)),
    "nonzero": ("|x| in (0.2, 2), either sign", lambda rng, s: rng.choice([-1.0, 1.0], s) * rng.uniform(0.2, 2.0, s)),
}


def sample(domain: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draw a float64 array of ``shape`` from one of :data:`DOMAINS`."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}: expected one of {sorted(DOMAINS)}")
    return np.asarray(DOMAINS[domain][1](rng, shape), dtype=np.float64)


@dataclass(frozen=True)
class OpCase:
    """One audited op: ``fn(*inputs)`` at inputs of ``shapes`` drawn from ``domains``."""

    name: str
    fn: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    domains: tuple[str, ...]

    def inputs(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [sample(d, s, rng) for d, s in zip(self.domains, self.shapes)]


OP_CASES: list[OpCase] = []


def register(case: OpCase) -> OpCase:
    """Add ``case`` to :data:`OP_CASES` (names are unique)."""
    if any(c.name == case.name for c in OP_CASES):
        raise ValueError(f"an op case named {case.name!r} is already registered")
    OP_CASES.append(case)
    return case


def unregister(name: str) -> None:
    OP_CASES[:] = [c for c in OP_CASES if c.name != name]


def _mask(shape: tuple[int, ...]) -> np.ndarray:
    return np.arange(int(np.prod(shape))).reshape(shape) % 3 == 0


_B, _R = (3, 1, 4), (2, 4)  # shapes that broadcast against each other to (3, 2, 4)
_cases = [
    OpCase("add", ops.add, (_B, _R), ("real", "real")),
    OpCase("subtract", ops.subtract, (_B, _R), ("real", "real")),
    OpCase("multiply", ops.multiply, (_B, _R), ("real", "real")),
    OpCase("divide", ops.divide, (_B, _R), ("real", "nonzero")),
    OpCase("negative", ops.negative, ((3, 4),), ("real",)),
    OpCase("power", lambda x: ops.power(x, 2.5), ((3, 4),), ("positive",)),
    OpCase("power (Tensor exponent)", ops.power, (_B, _R), ("positive", "real")),
    OpCase("square", ops.square, ((3, 4),), ("real",)),
    OpCase("exp", ops.exp, ((3, 4),), ("real",)),
    OpCase("log", ops.log, ((3, 4),), ("positive",)),
    OpCase("log1p", ops.log1p, ((3, 4),), ("positive",)),
    OpCase("sqrt", ops.sqrt, ((3, 4),), ("positive",)),
    OpCase("abs", ops.abs, ((3, 4),), ("nonzero",)),
    OpCase("sign", ops.sign, ((3, 4),), ("nonzero",)),
    OpCase("tanh", ops.tanh, ((3, 4),), ("real",)),
    OpCase("sigmoid", ops.sigmoid, ((3, 4),), ("real",)),
    OpCase("softplus", ops.softplus, ((3, 4),), ("real",)),
    OpCase("relu", ops.relu, ((3, 4),), ("nonzero",)),
    OpCase("where", lambda a, b: ops.where(_mask((3, 2, 4)), a, b), (_B, _R), ("real", "real")),
    OpCase("maximum", ops.maximum, (_B, _R), ("real", "real")),
    OpCase("minimum", ops.minimum, (_B, _R), ("real", "real")),
    OpCase("clip", lambda x: ops.clip(x, -0.1, 0.1), ((3, 4),), ("nonzero",)),
    OpCase("logaddexp", ops.logaddexp, (_B, _R), ("real", "real")),
    OpCase("sum", lambda x: ops.sum(x, axis=(0, 2)), ((2, 3, 4),), ("real",)),
    OpCase("mean", lambda x: ops.mean(x, axis=1, keepdims=True), ((2, 3, 4),), ("real",)),
    OpCase("max", lambda x: ops.max(x, axis=-1), ((3, 5),), ("real",)),
    OpCase("min", lambda x: ops.min(x, axis=0, keepdims=True), ((3, 5),), ("real",)),
    OpCase("var", lambda x: ops.var(x, axis=1, ddof=1), ((3, 5),), ("real",)),
    OpCase("logsumexp", lambda x: ops.logsumexp(x, axis=-1), ((3, 5),), ("real",)),
    OpCase("log_softmax", lambda x: ops.log_softmax(x, axis=-1), ((3, 5),), ("real",)),
    OpCase("softmax", lambda x: ops.softmax(x, axis=0), ((3, 5),), ("real",)),
    OpCase("reshape", lambda x: ops.reshape(x, (4, -1)), ((2, 3, 4),), ("real",)),
    OpCase("transpose", lambda x: ops.transpose(x, (2, 0, 1)), ((2, 3, 4),), ("real",)),
    OpCase("swapaxes", lambda x: ops.swapaxes(x, 0, -1), ((2, 3, 4),), ("real",)),
    OpCase("expand_dims", lambda x: ops.expand_dims(x, 1), ((3, 4),), ("real",)),
    OpCase("squeeze", lambda x: ops.squeeze(x, 1), ((3, 1, 4),), ("real",)),
    OpCase("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)), ((3, 1),), ("real",)),
    OpCase("sum_to", lambda x: ops.sum_to(x, (3, 1)), ((2, 3, 4),), ("real",)),
    OpCase("getitem (slices)", lambda x: x[1:, ::2], ((3, 5),), ("real",)),
    OpCase("getitem (repeated indices)", lambda x: x[np.array([0, 2, 0, 0]), 1:], ((3, 4),), ("real",)),
    OpCase(
        "take_along_axis",
        lambda x: ops.take_along_axis(x, np.array([[0, 0, 3], [2, 1, 2]]), axis=1),
        ((2, 4),),
        ("real",),
    ),
    OpCase("concatenate", lambda a, b: ops.concatenate([a, b], axis=1), ((2, 3), (2, 2)), ("real", "real")),
    OpCase("stack", lambda a, b: ops.stack([a, b], axis=-1), ((2, 3), (2, 3)), ("real", "real")),
    OpCase("matmul", ops.matmul, ((3, 4), (4, 2)), ("real", "real")),
    OpCase("matmul (batched, broadcast)", ops.matmul, ((2, 1, 3, 4), (3, 4, 2)), ("real", "real")),
    OpCase("matmul (vector)", ops.matmul, ((4,), (2, 4, 3)), ("real", "real")),
    OpCase(
        "conv2d",
        lambda x, w, b: conv.conv2d(x, w, b, stride=2, padding=1),
        ((2, 2, 5, 5), (3, 2, 3, 3), (3,)),
        ("real", "real", "real"),
    ),
    OpCase("max_pool2d", lambda x: conv.max_pool2d(x, 2), ((2, 2, 4, 4),), ("real",)),
    OpCase("max_pool2d (overlapping)", lambda x: conv.max_pool2d(x, (2, 3), (1, 2)), ((2, 2, 4, 5),), ("real",)),
    OpCase("pad2d", lambda x: conv.pad2d(x, (1, 2)), ((2, 2, 3, 2),), ("real",)),
    OpCase("unfold2d", lambda x: conv.unfold2d(x, (2, 3), (1, 2)), ((1, 2, 4, 5),), ("real",)),
    OpCase("fold2d", lambda c: conv.fold2d(c, (1, 2, 4, 5), (2, 3), (1, 2)), ((1, 3, 2, 2, 2, 3),), ("real",)),
    OpCase("im2col", lambda x: conv.im2col(x, (2, 3), (1, 2)), ((2, 2, 4, 5),), ("real",)),
    OpCase("col2im", lambda c: conv.col2im(c, (2, 2, 4, 5), (2, 3), (1, 2)), ((12, 12),), ("real",)),
    OpCase(
        "batch_norm",
        lambda x, w, b: ops.batch_norm(x, w, b, axis=(0, 2, 3))[0],
        ((3, 2, 2, 3), (1, 2, 1, 1), (1, 2, 1, 1)),
        ("real", "real", "real"),
    ),
]

# The fast kernels of nploss.nn._fused, which the layers use: their VJPs are their own code (a
# recorded backward pass, as the second-order check makes, falls back to the plain formula)
_fused_cases = [
    OpCase("relu (fused)", _fused.relu, ((3, 4),), ("nonzero",)),
    OpCase("relu (fused, images last)", lambda x: _fused.relu(_fused.images_last(x)), ((2, 2, 3, 3),), ("nonzero",)),
    OpCase(
        "batch_norm (fused)",
        lambda x, w, b: _fused.batch_norm(x, w, b, axis=(0, 2, 3))[0],
        ((3, 2, 2, 3), (1, 2, 1, 1), (1, 2, 1, 1)),
        ("real", "real", "real"),
    ),
    OpCase("batch_norm (fused, no affine)", lambda x: _fused.batch_norm(x, axis=0)[0], ((4, 3),), ("real",)),
    OpCase(
        "batch_norm + max_pool2d (fused)",
        lambda x, w, b: _fused.batch_norm_max_pool2d(x, w, b, kernel=(2, 2))[0],
        ((3, 2, 4, 4), (1, 2, 1, 1), (1, 2, 1, 1)),
        ("real", "real", "real"),
    ),
    OpCase(  # the Conv-4 block: batch norm, max-pool, ReLU (the two commute), as one node
        "batch_norm + relu + max_pool2d (fused)",
        lambda x, w, b: _fused.batch_norm_max_pool2d(x, w, b, kernel=(2, 2), relu=True)[0],
        ((3, 6, 4, 4), (1, 6, 1, 1), (1, 6, 1, 1)),  # six channels: some of each sign after the ReLU
        ("real", "real", "real"),
    ),
    OpCase("max_pool2d (fused)", lambda x: _fused.max_pool2d(x, 2), ((2, 2, 4, 4),), ("real",)),
    OpCase(
        "max_pool2d (fused, images last)",
        lambda x: _fused.max_pool2d(_fused.images_last(x), 2),
        ((2, 2, 4, 5),),
        ("real",),
    ),
    OpCase("images_last", _fused.images_last, ((2, 3, 2, 3),), ("real",)),
    OpCase("pad2d (fused)", lambda x: _fused.pad2d(_fused.images_last(x), (1, 2)), ((2, 2, 3, 2),), ("real",)),
    OpCase("im2col (fused)", lambda x: _fused.im2col(x, (2, 3), (1, 2), ones_row=True), ((2, 2, 4, 5),), ("real",)),
    OpCase("col2im (fused)", lambda c: _fused.col2im(c, (2, 2, 4, 5), (2, 3), (1, 2)), ((12, 12),), ("real",)),
    OpCase(
        "conv2d (fused)",
        lambda x, w, b: _fused.conv2d(x, w, b, stride=2, padding=1),
        ((2, 2, 5, 5), (3, 2, 3, 3), (3,)),
        ("real", "real", "real"),
    ),
]
for _case in _cases + _fused_cases:
    register(_case)
