r"""Layers, written with the autograd ops so that their gradients, of any order, come from the engine.

Each layer mirrors its ``torch.nn`` namesake: same constructor arguments, same parameter names
and shapes (so ``state_dict`` keys match), same default initialisation. Parameters are float64
by default (``dtype=`` changes it): this is a reference implementation, checked against finite
differences, and float64 is what makes those checks tight.

The layers of a convolutional network (Conv2d, BatchNorm1d/2d, ReLU, MaxPool2d) compute their
op with its fused version in :mod:`nploss.nn._fused` (threads, saved intermediates, an
images-last memory order), which ``tests/nn/test_fused.py`` holds to the plain op of
:mod:`nploss.autograd`: same values and gradients, and the same higher derivatives. In a
:class:`Sequential`, a BatchNorm2d in training followed by a MaxPool2d whose windows tile the
image (and a ReLU) run as one fused node, the same function (see :func:`_pooled_batch_norm`).

Default initialisation of Linear and Conv2d, as PyTorch: the weight gets
``kaiming_uniform_(a=sqrt(5))``, which is :math:`U(-1/\sqrt{\mathrm{fan\_in}}, 1/\sqrt{\mathrm{fan\_in}})`,
and the bias the same :math:`U(-1/\sqrt{\mathrm{fan\_in}}, 1/\sqrt{\mathrm{fan\_in}})`, with
``fan_in = in_features`` (Linear) or ``in_channels * kh * kw`` (Conv2d).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import autograd as ag
from .. import backend
from ..autograd import Tensor
from . import _fused, init
from .module import Module, Parameter

if TYPE_CHECKING:
    import numpy

_DEFAULT_DTYPE = "float64"


def _as_tensor(x: Any) -> Tensor:
    # Layers that combine the input with Tensors by operators need it on the left as a Tensor:
    # a raw array there would try to apply its own operator first.
    return x if isinstance(x, Tensor) else Tensor(x)


def _empty_parameter(shape: tuple[int, ...], dtype: Any) -> Parameter:
    return Parameter(backend.xp().zeros(shape, dtype=dtype))


def _positive_int(value: Any, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return value


def _int_pair(value: Any, name: str, layer: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in pair):
        raise ValueError(f"{layer}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return pair  # type: ignore[return-value]


def _reset_fan_in_uniform(weight: Parameter, bias: Parameter | None, rng: numpy.random.Generator | None) -> None:
    """PyTorch's ``reset_parameters`` for Linear and Conv2d (see the module docstring)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound, rng=rng)


# ---------------------------------------------------------------------------- affine maps


class Linear(Module):
    """:math:`y = x W^\\top + b`.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : dtype, optional
        Of the parameters (float64 by default).
    rng : numpy.random.Generator, optional
        For the initialisation (default: :func:`nploss.nn.init.default_rng`).

    Shapes
    ------
    x : (..., in_features)  ->  (..., out_features). weight : (out_features, in_features), bias : (out_features,).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: Any = _DEFAULT_DTYPE,
        rng: numpy.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        self.weight = _empty_parameter((out_features, in_features), dtype)
        if bias:
            self.bias = _empty_parameter((out_features,), dtype)
        else:
            self.register_parameter("bias", None)  # registered as absent, as PyTorch
        _reset_fan_in_uniform(self.weight, self.bias, rng)

    def forward(self, x: Any) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear: expected input (..., {self.in_features}), got shape {tuple(x.shape)}")
        out = ag.matmul(x, ag.transpose(self.weight))
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution (cross-correlation, as PyTorch) over NCHW images: :func:`ag.conv2d`, computed
    by its fused version (:func:`nploss.nn._fused.conv2d`).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int)
    padding : int or (int, int)
        Zeros added on each side of both spatial axes.
    bias : bool
    dtype, rng
        As :class:`Linear`.

    Shapes
    ------
    x : (N, in_channels, H, W)  ->  (N, out_channels, OH, OW), ``OH = (H + 2 ph - kh) // sh + 1``.
    weight : (out_channels, in_channels, kh, kw), bias : (out_channels,).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        *,
        dtype: Any = _DEFAULT_DTYPE,
        rng: numpy.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = _int_pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _int_pair(stride, "stride", "Conv2d", 1)
        self.padding = _int_pair(padding, "padding", "Conv2d", 0)
        self.weight = _empty_parameter((out_channels, in_channels, *self.kernel_size), dtype)
        if bias:
            self.bias = _empty_parameter((out_channels,), dtype)
        else:
            self.register_parameter("bias", None)  # registered as absent, as PyTorch
        _reset_fan_in_uniform(self.weight, self.bias, rng)

    def forward(self, x: Any) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expected input (N, {self.in_channels}, H, W), got shape {tuple(x.shape)}")
        return _fused.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, bias={self.bias is not None}"
        )


# ---------------------------------------------------------------------------- normalisation


class _BatchNorm(Module):
    r"""Batch normalisation over every axis but the channel axis 1.

    Training: normalise with the batch statistics, the *biased* variance (divide by :math:`n`),
    and update the running estimates with the *unbiased* one (divide by :math:`n - 1`), exactly
    as PyTorch:

    .. math::  \hat\mu \leftarrow (1 - m)\hat\mu + m\,\mu_B, \qquad
               \hat\sigma^2 \leftarrow (1 - m)\hat\sigma^2 + m\,\tfrac{n}{n-1}\sigma_B^2

    with :math:`n` the number of values per channel (``N`` or ``N*H*W``). ``momentum=None`` uses
    the cumulative average, :math:`m = 1/\mathrm{num\_batches\_tracked}`. Evaluation normalises
    with the running estimates, which are constants there (no gradient flows into them).
    """

    _input_ndims: tuple[int, ...] = ()
    _input_doc = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        *,
        dtype: Any = _DEFAULT_DTYPE,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", name)
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps, self.momentum, self.affine = eps, momentum, affine
        xp = backend.xp()
        if affine:
            self.weight = Parameter(xp.ones(num_features, dtype=dtype))
            self.bias = Parameter(xp.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", xp.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", xp.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", xp.zeros((), dtype="int64"))

    def _checked(self, x: Any) -> Tensor:
        """``x`` as a Tensor, refused unless its shape fits the layer (and, training, holds more
        than one value per channel)."""
        name = type(self).__name__
        x = _as_tensor(x)
        if x.ndim not in self._input_ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: expected input {self._input_doc} with C={self.num_features}, got shape {tuple(x.shape)}"
            )
        if self.training and math.prod(x.shape) // x.shape[1] < 2:
            raise ValueError(f"{name}: training needs more than 1 value per channel, got input shape {tuple(x.shape)}")
        return x

    def forward(self, x: Any) -> Tensor:
        x = self._checked(x)
        axes = (0,) + tuple(range(2, x.ndim))
        # Per-channel statistics broadcast against x as (1, C, 1, ...).
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)
        if self.training:
            count = math.prod(x.shape[a] for a in axes)
            # one node (nploss.nn._fused.batch_norm, held to nploss.autograd.batch_norm): the statistics with the
            # biased variance, which is what normalises, and the affine map, with the analytic VJP
            weight = ag.reshape(self.weight, shape) if self.affine else None
            bias = ag.reshape(self.bias, shape) if self.affine else None
            out, mean, var = _fused.batch_norm(x, weight, bias, axis=axes, eps=self.eps)
            self._update_running_stats(mean.reshape(-1), var.reshape(-1), count)
            return out
        mean = self.running_mean.data.reshape(shape)
        var = self.running_var.data.reshape(shape)
        x_hat = (x - mean) / ag.sqrt(var + self.eps)
        if self.affine:
            x_hat = x_hat * ag.reshape(self.weight, shape) + ag.reshape(self.bias, shape)
        return x_hat

    def _update_running_stats(self, batch_mean: Any, batch_var: Any, count: int) -> None:
        # Raw arrays: the running statistics are state, not part of the graph.
        self.num_batches_tracked.data[...] += 1
        m = 1.0 / float(self.num_batches_tracked.data) if self.momentum is None else self.momentum
        unbiased = batch_var * (count / (count - 1))
        rm, rv = self.running_mean.data, self.running_var.data
        rm[...] = (1.0 - m) * rm + m * batch_mean
        rv[...] = (1.0 - m) * rv + m * unbiased

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs; statistics per channel C.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        Weight of the new batch in the running statistics (None: cumulative average).
    affine : bool
        Learn a per-channel scale ``weight`` (init 1) and shift ``bias`` (init 0).

    Buffers: ``running_mean`` (init 0), ``running_var`` (init 1), ``num_batches_tracked``.
    See :class:`_BatchNorm` for the update rule.
    """

    _input_ndims = (2, 3)
    _input_doc = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images; statistics per channel over N, H and W.

    Arguments and buffers as :class:`BatchNorm1d`.
    """

    _input_ndims = (4,)
    _input_doc = "(N, C, H, W)"

    def pooled_forward(self, x: Any, kernel: tuple[int, int], relu: bool = False) -> Tensor:
        """In training, ``MaxPool2d(kernel)(self(x))`` (then a ReLU when ``relu``) as one fused
        node (:func:`nploss.nn._fused.batch_norm_max_pool2d`), the running statistics updated
        as by :meth:`forward`: what :class:`Sequential` calls for these layers in a row."""
        x = self._checked(x)
        if not self.training:
            raise ValueError("BatchNorm2d.pooled_forward: for training only (evaluation uses the running statistics)")
        shape = (1, self.num_features, 1, 1)
        weight = ag.reshape(self.weight, shape) if self.affine else None
        bias = ag.reshape(self.bias, shape) if self.affine else None
        out, mean, var = _fused.batch_norm_max_pool2d(x, weight, bias, kernel, eps=self.eps, relu=relu)
        self._update_running_stats(mean.reshape(-1), var.reshape(-1), math.prod(x.shape) // x.shape[1])
        return out


class LayerNorm(Module):
    r"""Normalise each sample over its trailing ``normalized_shape`` axes (biased variance).

    :math:`y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta`,
    the statistics computed per sample, identically in training and evaluation.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape of the input to normalise over.
    eps : float
    elementwise_affine : bool
        Learn ``weight`` (init 1) and ``bias`` (init 0) of shape ``normalized_shape``.

    Shapes
    ------
    x : (..., *normalized_shape)  ->  same shape.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        *,
        dtype: Any = _DEFAULT_DTYPE,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(isinstance(n, bool) or not isinstance(n, int) or n <= 0 for n in shape):
            raise ValueError(
                f"LayerNorm: normalized_shape must be a positive int or tuple of them, got {normalized_shape!r}"
            )
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        xp = backend.xp()
        if elementwise_affine:
            self.weight = Parameter(xp.ones(shape, dtype=dtype))
            self.bias = Parameter(xp.zeros(shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x)
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape or x.ndim < k:
            trailing = ", ".join(map(str, self.normalized_shape))
            raise ValueError(f"LayerNorm: expected input (..., {trailing}), got shape {tuple(x.shape)}")
        axes = tuple(range(x.ndim - k, x.ndim))
        centred = x - ag.mean(x, axis=axes, keepdims=True)
        var = ag.mean(centred * centred, axis=axes, keepdims=True)
        y = centred / ag.sqrt(var + self.eps)
        return y * self.weight + self.bias if self.elementwise_affine else y

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ---------------------------------------------------------------------------- attention


class SelfAttention(Module):
    r"""Single-head scaled dot-product self-attention with input and output projections.

    .. math::  Q, K, V = x W_q^\top + b_q,\; x W_k^\top + b_k,\; x W_v^\top + b_v, \qquad
               y = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}}\right) V\, W_o^\top + b_o

    The softmax runs over the key axis; dividing by :math:`\sqrt d` keeps the scores' variance
    near 1 for unit-variance inputs, so the softmax does not saturate as ``d`` grows.

    Parameters
    ----------
    dim : int
        d, the model (and head) width.
    bias : bool
        Biases in the four projections.
    dtype, rng
        As :class:`Linear` (each projection is a Linear, initialised as one).

    Shapes
    ------
    x : (N, T, D) or (T, D)  ->  same shape. Sub-modules ``q``, ``k``, ``v``, ``out``.
    """

    def __init__(
        self,
        dim: int,
        bias: bool = True,
        *,
        dtype: Any = _DEFAULT_DTYPE,
        rng: numpy.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.dim = _positive_int(dim, "dim", "SelfAttention")
        self.q = Linear(dim, dim, bias, dtype=dtype, rng=rng)
        self.k = Linear(dim, dim, bias, dtype=dtype, rng=rng)
        self.v = Linear(dim, dim, bias, dtype=dtype, rng=rng)
        self.out = Linear(dim, dim, bias, dtype=dtype, rng=rng)

    def attention_weights(self, x: Any) -> Tensor:
        """The (..., T, T) softmax matrix; row t holds how much position t attends to each key."""
        if x.ndim not in (2, 3) or x.shape[-1] != self.dim:
            raise ValueError(
                f"SelfAttention: expected input (N, T, {self.dim}) or (T, {self.dim}), got shape {tuple(x.shape)}"
            )
        scores = ag.matmul(self.q(x), ag.swapaxes(self.k(x), -1, -2)) * (1.0 / math.sqrt(self.dim))
        return ag.softmax(scores, axis=-1)

    def forward(self, x: Any) -> Tensor:
        return self.out(ag.matmul(self.attention_weights(x), self.v(x)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# ---------------------------------------------------------------------------- parameter-free layers


class ReLU(Module):
    """:math:`\\max(x, 0)` elementwise (derivative 0 at 0): :func:`ag.relu`, computed by its fused
    version (:func:`nploss.nn._fused.relu`)."""

    def forward(self, x: Any) -> Tensor:
        return _fused.relu(x)


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows of NCHW images: :func:`ag.max_pool2d`, computed by its
    fused version (:func:`nploss.nn._fused.max_pool2d`).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size`` (non-overlapping windows), as PyTorch.

    Shapes
    ------
    x : (N, C, H, W)  ->  (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1).
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        self.kernel_size = _int_pair(kernel_size, "kernel_size", "MaxPool2d", 1)
        self.stride = self.kernel_size if stride is None else _int_pair(stride, "stride", "MaxPool2d", 1)

    def forward(self, x: Any) -> Tensor:
        return _fused.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Flatten every axis but the batch axis: (N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def forward(self, x: Any) -> Tensor:
        if x.ndim < 1:
            raise ValueError("Flatten: expected an input with a batch axis, got a scalar")
        return ag.reshape(x, (x.shape[0], -1))


class Sequential(Module):
    """Modules applied in order; ``model[i]`` and ``model[a:b]`` index them.

    Sub-modules are registered under ``"0"``, ``"1"``, ... (the ``state_dict`` keys of
    ``torch.nn.Sequential``).
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(module).__name__}")
            self.register_module(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"Sequential indices must be ints or slices, got {type(index).__name__}")
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"Sequential index {index} out of range for {len(modules)} modules")
        return modules[index]

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.register_module(str(len(self)), module)
        return self

    def forward(self, x: Any) -> Any:
        modules = list(self._modules.values())
        at = 0
        while at < len(modules):
            fused = _pooled_batch_norm(modules, at)
            if fused:  # batch norm, max-pooling (and ReLU) in one node: the same function
                x = modules[at].pooled_forward(x, modules[at + 1].kernel_size, relu=fused == 3)
                at += fused
            else:
                x = modules[at](x)
                at += 1
        return x


def _pooled_batch_norm(modules: list[Module], at: int) -> int:
    """How many of ``modules``, from index ``at``, :meth:`BatchNorm2d.pooled_forward` computes as
    one: 3 for BatchNorm2d (training), MaxPool2d whose windows tile the image, ReLU; 2 without
    the ReLU; 0 otherwise (subclasses too, whose forward may differ).

    Why fuse: pooling the normalised image costs a pass over it that pooling the centred values
    (batch norm's affine map is monotone per channel) avoids, and so does the cotangent of the
    normalised image going backward (see :func:`nploss.nn._fused.batch_norm_max_pool2d`)."""
    following = modules[at : at + 3]
    if len(following) < 2 or type(following[0]) is not BatchNorm2d or type(following[1]) is not MaxPool2d:
        return 0
    norm, pool = following[0], following[1]
    if not norm.training or pool.stride != pool.kernel_size:
        return 0
    return 3 if len(following) > 2 and type(following[2]) is ReLU else 2
