r"""Weight initialisation, as ``torch.nn.init``: the variance a layer's weights need so that
signals neither vanish nor explode through a deep stack.

For a weight of shape ``(fan_out, fan_in)`` (Linear) or ``(out_ch, in_ch, kh, kw)`` (Conv2d), a
unit of the next layer sums ``fan_in`` products (``in_ch * kh * kw`` for a convolution: the
receptive field counts). Keeping the variance of activations constant across layers asks for

.. math::  \mathrm{Var}(W) = \frac{\mathrm{gain}^2}{\mathrm{fan}} \quad \text{(He/Kaiming)},
           \qquad \mathrm{Var}(W) = \mathrm{gain}^2 \frac{2}{\mathrm{fan\_in} + \mathrm{fan\_out}}
           \quad \text{(Glorot/Xavier)}

where the *gain* compensates for what the nonlinearity does to the variance (ReLU zeroes half
of it: gain :math:`\sqrt 2`). A uniform :math:`U(-b, b)` has variance :math:`b^2/3`, hence the
:math:`\sqrt 3` in the uniform variants.

Randomness: every function takes ``rng``, a ``numpy.random.Generator``. When it is None the
module's default generator is used; :func:`manual_seed` re-seeds it, which makes layer
construction reproducible. Samples are drawn on the host with NumPy (the same numbers on the
CPU and the GPU) and copied into the Tensor's array in place, so a Parameter keeps its identity.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend
from ..autograd import Tensor

_default_rng: list[numpy.random.Generator] = [numpy.random.default_rng()]


def manual_seed(seed: int) -> None:
    """Re-seed the generator used when an init function (or a layer) gets ``rng=None``."""
    _default_rng[0] = numpy.random.default_rng(seed)


def default_rng() -> numpy.random.Generator:
    """The generator used when ``rng`` is None."""
    return _default_rng[0]


def _rng(rng: numpy.random.Generator | None) -> numpy.random.Generator:
    if rng is None:
        return _default_rng[0]
    if not isinstance(rng, numpy.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng


def _check_tensor(tensor: Any, fn: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: tensor must be a Tensor (e.g. a Parameter), got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{fn}: tensor must be floating point, got dtype {tensor.dtype}")
    return tensor


def _fill(tensor: Tensor, values: Any) -> Tensor:
    # In place: optimisers and modules hold this Tensor, and its array may be shared.
    xp = backend.get_array_module(tensor.data)  # the Tensor's own module, whatever the backend now
    tensor.data[...] = xp.asarray(values, dtype=tensor.dtype)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``).

    ========================================  ====================================
    nonlinearity                              gain
    ========================================  ====================================
    ``linear``, ``conv2d``, ``sigmoid``       1
    ``tanh``                                  5/3
    ``relu``                                  :math:`\\sqrt{2}`
    ``leaky_relu`` (negative slope ``param``)  :math:`\\sqrt{2 / (1 + \\mathrm{param}^2)}`, param 0.01 by default
    ``selu``                                  3/4
    ========================================  ====================================
    """
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise ValueError(f"calculate_gain: param (negative slope) must be a number, got {param!r}")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        "'linear', 'conv2d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'"
    )


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``, as PyTorch.

    ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``: each output unit of a
    convolution sees ``in`` channels times the receptive field.
    """
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a weight with at least 2 dimensions, got shape {tensor.shape}"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: numpy.random.Generator | None = None) -> Tensor:
    """Fill with samples of :math:`U(a, b)`, in place; returns ``tensor``."""
    _check_tensor(tensor, "uniform_")
    if b < a:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, _rng(rng).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: numpy.random.Generator | None = None) -> Tensor:
    """Fill with samples of :math:`N(\\mathrm{mean}, \\mathrm{std}^2)`, in place; returns ``tensor``."""
    _check_tensor(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, _rng(rng).normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``, in place; returns ``tensor``."""
    _check_tensor(tensor, "constant_")
    tensor.data[...] = value
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: numpy.random.Generator | None = None,
) -> Tensor:
    r"""He initialisation, uniform: :math:`U(-b, b)` with :math:`b = \mathrm{gain}\sqrt{3/\mathrm{fan}}`.

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
    a : float
        Negative slope of the leaky ReLU that follows (used only for ``nonlinearity='leaky_relu'``).
    mode : {'fan_in', 'fan_out'}
        Preserve the variance of activations in the forward pass (fan_in) or of gradients in the
        backward pass (fan_out).
    nonlinearity : str
        See :func:`calculate_gain`.
    rng : numpy.random.Generator, optional

    Notes
    -----
    PyTorch's default for Linear and Conv2d weights is this with ``a=sqrt(5)``: the gain is
    :math:`\sqrt{2/6} = 1/\sqrt 3`, so the bound is exactly :math:`1/\sqrt{\mathrm{fan\_in}}`.
    """
    _check_tensor(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(max(_fan(tensor, mode), 1))
    return _fill(tensor, _rng(rng).uniform(-bound, bound, size=tensor.shape))


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: numpy.random.Generator | None = None,
) -> Tensor:
    r"""He initialisation, normal: :math:`N(0, \mathrm{std}^2)`,
    :math:`\mathrm{std} = \mathrm{gain}/\sqrt{\mathrm{fan}}`.

    Arguments as :func:`kaiming_uniform_`.
    """
    _check_tensor(tensor, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(max(_fan(tensor, mode), 1))
    return _fill(tensor, _rng(rng).normal(0.0, std, size=tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: numpy.random.Generator | None = None) -> Tensor:
    r"""Glorot initialisation, uniform: :math:`U(-b, b)`,
    :math:`b = \mathrm{gain}\sqrt{6/(\mathrm{fan\_in}+\mathrm{fan\_out})}`."""
    _check_tensor(tensor, "xavier_uniform_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return _fill(tensor, _rng(rng).uniform(-bound, bound, size=tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: numpy.random.Generator | None = None) -> Tensor:
    r"""Glorot initialisation, normal: :math:`N(0, \mathrm{std}^2)`,
    :math:`\mathrm{std} = \mathrm{gain}\sqrt{2/(\mathrm{fan\_in}+\mathrm{fan\_out})}`."""
    _check_tensor(tensor, "xavier_normal_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1))
    return _fill(tensor, _rng(rng).normal(0.0, std, size=tensor.shape))
