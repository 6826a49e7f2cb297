"""Neural-network building blocks on the autograd engine: modules, layers and initialisation.

``Module`` keeps the parameters, buffers and sub-modules of a model in order; the layers mirror
their ``torch.nn`` namesakes (constructor arguments, parameter names, default initialisation),
and are written with :mod:`nploss.autograd` ops, so every gradient comes from the engine.
Optimisers live in :mod:`nploss.optim`.
"""

from . import init
from .layers import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    LayerNorm,
    Linear,
    MaxPool2d,
    ReLU,
    SelfAttention,
    Sequential,
)
from .module import IncompatibleKeys, Module, Parameter, functional_call

__all__ = [
    "Module", "Parameter", "IncompatibleKeys", "functional_call", "init",
    "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "SelfAttention",
    "ReLU", "MaxPool2d", "Flatten", "Sequential",
]  # fmt: skip
