r"""The engine's core: ``Tensor``, the graph it records, and reverse-mode differentiation.

A Tensor wraps an array of the current backend (``.data``). When an op is applied to Tensors of
which at least one requires a gradient, the result remembers its parents and a *vector-Jacobian
product* (VJP): a function that, given the cotangent ``g`` of the result (the gradient of some
scalar with respect to it), returns the cotangent of each parent. ``backward()`` visits the graph
in reverse topological order and applies the chain rule node by node:

.. math::  \bar{x} = \sum_{\text{children } y \text{ of } x} \mathrm{VJP}_{y \to x}(\bar{y})

Three design decisions keep the engine small and correct:

1. **VJPs are written with Tensor ops** (as in DeZero), so they can themselves be recorded:
   ``grad(..., create_graph=True)`` yields gradients that are differentiable again (Hessian-vector
   products, WGAN-GP, hypergradients). Without ``create_graph`` they run under ``no_grad`` and
   record nothing.
2. **Broadcasting is undone in one place**: if a VJP returns a cotangent of a larger shape than
   its parent (because the forward broadcast the parent), ``_backprop`` sums it back with the
   differentiable ``sum_to`` op. No op repeats that logic.
3. **Every recorded node is numbered in the order it was made.** A node is made after its
   parents, so sorting the nodes that lead to the output by that number is a topological order:
   no depth-first search, and no recursion limit on deep graphs (long chains).
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import backend

# A VJP receives the output's cotangent and the output Tensor itself (so that ops like exp can
# reuse their result without the closure holding a reference cycle) and returns one cotangent,
# or None, per parent.
VJP = Callable[["Tensor", "Tensor"], Sequence["Tensor | None"]]

_grad_enabled = [True]

# The number of the next recorded node (leaves are all 0: they have no parents, so they can go
# first in any order). See _topological_order.
_next_node_number = itertools.count(1)


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = _grad_enabled[0]
    _grad_enabled[0] = enabled
    try:
        yield
    finally:
        _grad_enabled[0] = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager in which ops record no graph (evaluation, optimiser updates)."""
    return _grad_mode(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager that turns recording back on inside ``no_grad``."""
    return _grad_mode(True)


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return _grad_enabled[0]


class Tensor:
    """An array of the current backend, with an optional gradient and its place in the graph.

    Parameters
    ----------
    data : array_like
        Anything ``xp.asarray`` accepts, for ``xp`` the array module of the backend in use: under
        CuPy, host data is copied to the GPU. An array of that module, or a Tensor's data, is
        taken as it is (not copied).
    requires_grad : bool
        Whether gradients with respect to this Tensor are wanted. Only floating-point data can
        require a gradient.
    dtype : optional
        Converts ``data`` to this dtype.

    Attributes
    ----------
    data : ndarray
        The values (``numpy.ndarray``, or ``cupy.ndarray`` on the GPU).
    grad : Tensor or None
        Accumulated by :meth:`backward` on leaves (Tensors created by the user, not by an op).
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_vjp", "_number", "__weakref__")
    # Make NumPy hand ``ndarray * Tensor`` over to Tensor.__rmul__ instead of broadcasting the
    # Tensor as an object array.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        # the data lives where the backend in use computes: host data (a list, a NumPy array) is
        # copied to the GPU under CuPy, as CuPy's kernels take no host arrays
        xp = backend.xp()
        if not isinstance(data, xp.ndarray) or (dtype is not None and data.dtype != dtype):
            data = xp.asarray(data, dtype=dtype)
        if requires_grad and data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point Tensors can require gradients, got dtype {data.dtype}; "
                "pass e.g. dtype='float64'"
            )
        self.data = data
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._vjp: VJP | None = None
        self._number = 0

    # ----------------------------------------------------------------- array-like attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for Tensors made by the user rather than by an op on Tensors requiring grad."""
        return self._vjp is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = repr(backend.to_numpy(self.data)).removeprefix("array(").removesuffix(")")
        return f"Tensor({body}{grad})"

    def item(self) -> Any:
        return self.data.item()

    def numpy(self) -> Any:
        """The values as a NumPy array on the host."""
        return backend.to_numpy(self.data)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- differentiation
    def backward(self, grad_output: Any = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        grad_output : array_like or Tensor, optional
            The cotangent of ``self`` (same shape). May be omitted only when ``self`` has one
            element, where it defaults to 1.
        create_graph : bool
            Record the backward pass, so that the gradients can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a Tensor that does not require grad: none of the Tensors it was "
                "computed from has requires_grad=True (or it was computed under no_grad())"
            )
        grads = _backprop([self], [grad_output], create_graph, wanted=None)
        for leaf, g in grads.items():
            if leaf.grad is None:
                # VJPs may hand the same array to several inputs (add returns (g, g)) or pass
                # grad_output through as a view: each leaf gets a gradient of its own, a copy,
                # unless the VJP promised the array to this input alone (owned_gradient)
                owned = g in _owned
                _owned.discard(g)  # promised to one input: a second leaf (add hands g to both) copies
                leaf.grad = g if create_graph or owned else constant(g.data.copy())
            else:
                leaf.grad = leaf.grad + g

    # Operators and methods delegate to the ops module (imported at the bottom of this file);
    # the forward operators (a + b, a * b, -a, a[i] ...) are the ops themselves, set at the end of ops.py.
    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.subtract(other, self)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.multiply(other, self)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.divide(other, self)

    def __rpow__(self, base: Any) -> Tensor:
        return _ops.power(base, self)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    # Comparisons give boolean Tensors outside the graph (masks for where/select).
    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < _ops.as_data(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= _ops.as_data(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > _ops.as_data(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= _ops.as_data(other))

    def __invert__(self) -> Tensor:
        return Tensor(~self.data)

    @property
    def T(self) -> Tensor:
        return _ops.transpose(self)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> Tensor:
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def astype(self, dtype: Any) -> Tensor:
        return _ops.astype(self, dtype)


_new_tensor = object.__new__  # a Tensor without __init__'s checks
_owned: weakref.WeakSet[Tensor] = weakref.WeakSet()  # see owned_gradient


def owned_gradient(data: Any) -> Tensor:
    """A gradient whose array its VJP has just allocated for one input alone: a leaf may keep
    it as its ``.grad`` without the copy :meth:`Tensor.backward` otherwise makes (as PyTorch's
    ``AccumulateGrad`` keeps a gradient nothing else holds). An opt-in for VJPs that can promise
    it, the losses evaluated in row blocks, where the copy would cost as much as the backward
    pass itself."""
    out = constant(data)
    _owned.add(out)
    return out


def constant(data: Any) -> Tensor:
    """Wrap an array already of the right kind as a leaf that needs no gradient (no checks: the
    engine's fast path for constants and cotangents)."""
    # one store per slot, without __init__'s checks: constants are made for every op
    out = _new_tensor(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = False
    out._parents = ()
    out._vjp = None
    out._number = 0
    return out


def make_node(data: Any, parents: tuple[Tensor, ...], vjp: VJP) -> Tensor:
    """Wrap an op's result; record its parents and VJP only if a gradient can flow through it."""
    if _grad_enabled[0]:
        for p in parents:
            if p.requires_grad:
                out = _new_tensor(Tensor)
                out.data = data
                out.grad = None
                out.requires_grad = True
                out._parents = parents
                out._vjp = vjp
                out._number = next(_next_node_number)
                return out
    return constant(data)


def _topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Nodes that require grad and lead to ``roots``, every parent before its children."""
    nodes = list(roots)
    seen = set(nodes)
    for node in nodes:  # the list grows as parents are found: a breadth-first sweep
        for p in node._parents:
            if p.requires_grad and p not in seen:
                seen.add(p)
                nodes.append(p)
    # parents are made before their children, so they have smaller numbers
    nodes.sort(key=_node_number)
    return nodes


_node_number = operator.attrgetter("_number")


def _seed(output: Tensor, grad_output: Any) -> Tensor:
    """The cotangent that starts backpropagation from ``output``."""
    if grad_output is None:
        if output.size != 1:
            raise RuntimeError(
                f"backward of a non-scalar output (shape {output.shape}) needs grad_output of that "
                "shape: the gradient of which scalar? Reduce it first (e.g. .sum()) or pass one"
            )
        # ones_like, not 1 + 0 * output: an infinite loss (an impossible CTC target) must still
        # seed with 1, or every gradient turns NaN
        return Tensor(backend.get_array_module(output.data).ones_like(output.data))
    g = grad_output if isinstance(grad_output, Tensor) else Tensor(grad_output, dtype=output.dtype)
    if g.shape != output.shape:
        raise ValueError(f"grad_output has shape {g.shape}, but the output has shape {output.shape}")
    return g


def _backprop(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Any],
    create_graph: bool,
    wanted: set[Tensor] | None,
) -> dict[Tensor, Tensor]:
    """Reverse-mode sweep. Returns ``{t: dL/dt}`` for the ``wanted`` Tensors, or for every leaf
    that requires grad when ``wanted`` is None.

    Tensors are the keys of its dicts and sets: a Tensor defines no ``__eq__``, so it hashes and
    compares by identity, as ``id(t)`` would, without a call to ``id`` at every lookup.
    """
    grads: dict[Tensor, Tensor] = {}
    for out, g in zip(outputs, grad_outputs):
        g = _seed(out, g)
        grads[out] = grads[out] + g if out in grads else g
    found: dict[Tensor, Tensor] = {}
    with _grad_mode(create_graph):
        for node in reversed(_topological_order(outputs)):
            g = grads.pop(node, None)
            if g is None:  # no path from the outputs' cotangents reaches this node
                continue
            vjp = node._vjp
            if (vjp is None) if wanted is None else (node in wanted):
                found[node] = g
            if vjp is None:
                continue
            for parent, g_parent in zip(node._parents, vjp(g, node)):
                if g_parent is None or not parent.requires_grad:
                    continue
                if g_parent.data.shape != parent.data.shape:  # the forward broadcast this parent
                    g_parent = _ops.sum_to(g_parent, parent.data.shape)
                previous = grads.get(parent)
                grads[parent] = g_parent if previous is None else previous + g_parent
    return found


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> list[Tensor | None]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    Parameters
    ----------
    outputs, inputs : Tensor or sequence of Tensors
    grad_outputs : array_like, Tensor or a sequence of them, optional
        Cotangents of the outputs; may be omitted for outputs with one element.
    create_graph : bool
        Record the backward pass, so the returned gradients can be differentiated again
        (second derivatives, Hessian-vector products).
    allow_unused : bool
        Return None for an input the outputs do not depend on, instead of raising.

    Returns
    -------
    list of Tensor (or None where unused and ``allow_unused``), one per input.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, list | tuple):  # one cotangent for one output
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise ValueError(
                f"inputs[{i}] does not require grad: create it with requires_grad=True to "
                "differentiate with respect to it"
            )
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise ValueError(f"outputs[{i}] does not require grad: it does not depend on any input")
    found = _backprop(outputs, grad_outputs, create_graph, wanted=set(inputs))
    result: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        if t in found:
            result.append(found[t])
        elif allow_unused:
            result.append(None)
        else:
            raise ValueError(f"inputs[{i}] was not used to compute the outputs (allow_unused=True to get None)")
    return result


from . import ops as _ops  # noqa: E402  (ops needs Tensor, defined above)
