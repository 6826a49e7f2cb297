r"""The perceptual (feature reconstruction) loss: distances between the features of a fixed
network (Johnson et al. 2016).

Conventions (see also :mod:`nploss.losses.distribution`):

- **Per-sample losses.** :func:`perceptual` averages over the features of a sample and leaves
  the batch axis to ``reduction``.
- **Networks.** The fixed feature network is an ``nploss.nn`` module. Its transposed Jacobian is
  applied by the engine (``nploss.autograd.grad``), in the reference VJP as well: the network is
  a given function, its VJPs are those of its layers.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy

from ... import autograd as ag
from ... import backend, nn
from ...autograd import Tensor, as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from .._validate import same_shape
from ._common import column, flat

__all__ = ["perceptual"]


# ------------------------------------------------------------------------------------ perceptual


def _perceptual_forward(xp: Any, x: Any, y: Any, *, network: nn.Module, layers: tuple[int, ...] | None) -> Any:
    total: Any = 0.0
    for a, b in _feature_pairs(xp, network, x, y, layers):
        d = flat(xp, a - b)
        total = total + xp.mean(d * d, axis=1)
    return total


def _perceptual_vjp(
    xp: Any, g: Any, x: Any, y: Any, *, network: nn.Module, layers: tuple[int, ...] | None
) -> tuple[Any, Any]:
    with ag.enable_grad():
        xs, ys = _differentiable(x), _differentiable(y)
        n = xs.shape[0]
        features = _features(network, ag.concatenate([xs, ys], axis=0), layers)
        # the loss's own derivative, d ell_i / d phi_l(x_i) = 2 (phi_l(x_i) - phi_l(y_i)) / M_l and
        # its negative for y_i; the network's transposed Jacobian is applied by the engine
        cotangents = []
        for f in features:
            count = max(int(numpy.prod(f.shape[1:])), 1)
            h = _native(xp, f)
            c = (2.0 / count) * column(xp, g, f.ndim) * (h[:n] - h[n:])
            cotangents.append(xp.concatenate([c, -c], axis=0))
        # on Tensors (create_graph) the engine records this pass too: the gradient is differentiable
        grads = ag.grad(features, [xs, ys], grad_outputs=cotangents, create_graph=xp is ag, allow_unused=True)
    grad_x, grad_y = (Tensor(xp.zeros_like(as_data(t))) if gr is None else gr for t, gr in zip((x, y), grads))
    return _native(xp, grad_x), _native(xp, grad_y)


def _native(xp: Any, t: Tensor) -> Any:
    """A Tensor the engine computed, as a value of the namespace ``xp``: the Tensor itself, on its
    graph, for ``nploss.autograd`` (the composite forward, or a gradient that must itself be
    differentiable); its array for an array namespace."""
    return t if xp is ag else t.data


def _feature_pairs(
    xp: Any, network: nn.Module, x: Any, y: Any, layers: tuple[int, ...] | None
) -> list[tuple[Any, Any]]:
    """``(phi_l(x), phi_l(y))`` per layer as values of ``xp`` (arrays computed without a graph, or
    Tensors on the graph), from one pass over the batch [x; y] (each sample's features depend on
    that sample only, so stacking the two batches changes nothing)."""
    n = x.shape[0]
    with contextlib.nullcontext() if xp is ag else ag.no_grad():
        features = _features(network, xp.concatenate([x, y], axis=0), layers)
    return [(h[:n], h[n:]) for h in (_native(xp, f) for f in features)]


def _features(network: nn.Module, x: Any, layers: tuple[int, ...] | None) -> list[Tensor]:
    """The outputs of the chosen layers (in eval mode, with its parameters held constant)."""
    data = as_data(x)
    h = x if isinstance(x, Tensor) else Tensor(x)
    modules, wanted = (list(network), set(layers)) if layers is not None else ([network], {0})
    modes = [(module, module.training) for module in network.modules()]
    network.eval()  # BatchNorm with its running statistics: a fixed function of each sample
    try:
        outputs = []
        for i, module in enumerate(modules[: max(wanted) + 1]):
            h = nn.functional_call(module, _frozen(module, data), h)
            if i in wanted:
                outputs.append(h)
        return outputs
    finally:
        for module, mode in modes:  # each module back to its own mode (what Module.train sets)
            object.__setattr__(module, "training", mode)


def _frozen(module: nn.Module, like: Any) -> dict[str, Tensor]:
    """The module's parameters and buffers as constants in the array module and floating dtype
    of ``like``: no gradient reaches them, and float32 inputs stay float32."""
    m = get_array_module(like)
    frozen = {}
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        data = t.data
        if get_array_module(data) is not m:
            data = m.asarray(backend.to_numpy(data))
        if data.dtype.kind == "f" and like.dtype.kind == "f" and data.dtype != like.dtype:
            data = data.astype(like.dtype)
        frozen[name] = Tensor(data)
    return frozen


def _differentiable(t: Any) -> Tensor:
    """A Tensor to differentiate with respect to: a new node on ``t``'s graph if it has one
    (so a gradient recorded through it still depends on ``t``), else a fresh leaf."""
    if isinstance(t, Tensor) and t.requires_grad:
        return t * 1.0
    return Tensor(as_data(t), requires_grad=True)


def _layer_indices(network: Any, layers: Any) -> tuple[int, ...] | None:
    """The sorted non-negative indices of the compared layers, or None for the output only."""
    if not isinstance(network, nn.Module):
        raise TypeError(f"network must be an nploss.nn.Module, got {type(network).__name__}")
    if layers is None:
        return None
    if not isinstance(network, nn.Sequential):
        raise TypeError(
            f"layers (indices of sub-modules) needs network to be an nploss.nn.Sequential, got {type(network).__name__}"
        )
    items = [layers] if isinstance(layers, int) else list(layers)
    if not items:
        raise ValueError("layers must name at least one layer of network, got none")
    size = len(network)
    out = set()
    for i in items:
        if isinstance(i, bool) or not isinstance(i, int | numpy.integer):
            raise TypeError(f"layers must be integer indices into network, got {i!r}")
        if not -size <= i < size:
            raise ValueError(f"layers must be indices in [{-size}, {size}) for a network of {size} layers, got {i}")
        out.add(int(i) % size)
    return tuple(sorted(out))


def _check_perceptual(x: Any, y: Any, *, network: Any, layers: Any) -> None:
    same_shape("x", x, "y", y)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a batch (N, ...) with N >= 1, got shape {x.shape}")
    _layer_indices(network, layers)


class _Tanh(nn.Module):
    """tanh as a layer: the audit's feature network is smooth, so it has no kinks to avoid."""

    def forward(self, x: Any) -> Tensor:
        return ag.tanh(x)


def _audit_network() -> nn.Sequential:
    """A tiny fixed conv net, built deterministically: the registry's perceptual loss uses it."""
    rng = numpy.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, rng=rng), _Tanh(), nn.Conv2d(2, 2, 3, stride=2, rng=rng), _Tanh()
    )


PERCEPTUAL = register(
    LossSpec(
        name="perceptual",
        grid={"layers": ((1, 3), (3,))},
        family="distribution",
        args=(Arg("x", "real", ("N", "C", "H", "W")), Arg("y", "real", ("N", "C", "H", "W"))),
        forward=_perceptual_forward,
        vjp=_perceptual_vjp,
        params={"network": _audit_network(), "layers": (1, 3)},
        sizes={"N": 2, "C": 1, "H": 4, "W": 4},
        check=_check_perceptual,
        edge_cases={
            "identical images": lambda rng: [numpy.full((2, 1, 4, 4), 0.5), numpy.full((2, 1, 4, 4), 0.5)],
            "pixels of 1e4": lambda rng: [numpy.full((1, 1, 4, 4), 1e4), numpy.zeros((1, 1, 4, 4))],
        },
        formula=r"\ell_i = \sum_{l} \frac{1}{M_l} \|\phi_l(x_i) - \phi_l(y_i)\|_2^2, \quad \partial \ell_i / \partial x_i = \sum_l \frac{2}{M_l} J_{\phi_l}(x_i)^\top (\phi_l(x_i) - \phi_l(y_i))",
        reference="Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for Real-Time Style Transfer and Super-Resolution (feature reconstruction loss)",
    )
)


def perceptual(x: Any, y: Any, network: nn.Module, layers: Any = None, reduction: str = "mean") -> Any:
    r"""Perceptual (feature reconstruction) loss: distances between features of a fixed network.

    .. math::  \ell_i = \sum_{l \in \text{layers}} \frac{1}{M_l}\,
               \big\|\phi_l(x_i) - \phi_l(y_i)\big\|_2^2, \qquad
               \frac{\partial \ell_i}{\partial x_i} = \sum_l \frac{2}{M_l}\,
               J_{\phi_l}(x_i)^\top \big(\phi_l(x_i) - \phi_l(y_i)\big)

    where :math:`\phi_l(x)` is the output of layer :math:`l` (:math:`M_l` values per sample:
    :math:`C_l H_l W_l` for a feature map). The loss's own derivative is written out; the
    transposed Jacobian :math:`J_{\phi_l}^\top` of the network is applied by the engine (the
    network is a given function; its VJPs are those of its layers). The gradient with respect
    to ``y`` is the same with the opposite sign and :math:`J_{\phi_l}(y_i)`.

    The network is **fixed**: it runs in eval mode (restored afterwards), its parameters and
    buffers enter as constants in the dtype of ``x`` (no gradient reaches them, and nothing is
    updated), while gradients flow to ``x`` and ``y``.

    Parameters
    ----------
    x, y : array or Tensor (N, ...), same shape
        Typically the generated image and the target image, (N, C, H, W).
    network : nploss.nn.Module
        The feature extractor (for Johnson et al., a pretrained VGG-16). Each sample's features
        must depend on that sample only.
    layers : int or sequence of int, optional
        For an ``nn.Sequential``: the indices of the sub-modules whose outputs are compared
        (negative indices count from the end; ``network[i]``'s output). None: the network's
        final output.
    reduction : {'mean', 'sum', 'none'}
        Over the batch. With ``'mean'`` and one layer this is ``F.mse_loss(phi(x), phi(y))``.

    Raises
    ------
    TypeError
        ``network`` is not an ``nploss.nn.Module``; ``layers`` given for a network that is not
        ``Sequential``, or not integers.
    ValueError
        ``x`` and ``y`` differ in shape; a layer index out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from nploss import nn
    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    >>> net[0].weight.data[...] = np.eye(2)
    >>> float(perceptual(np.array([[1.0, -1.0]]), np.array([[0.0, 0.0]]), net, layers=[0, 1]))
    1.5
    """
    return apply_loss(PERCEPTUAL, x, y, reduction=reduction, network=network, layers=_layer_indices(network, layers))
