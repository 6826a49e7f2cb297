"""The loss functions, one module per family, each registered in :data:`REGISTRY`.

Every public function takes arrays (and returns an array) or Tensors (and records one fused
graph node whose backward is the analytic gradient; ``with composite():`` records the graph
of primitive ops instead). See :mod:`nploss.losses._apply`.
"""

from ._apply import apply_loss, composite
from ._spec import REGISTRY, Arg, LossSpec, register
from .regression import huber, mse

__all__ = ["REGISTRY", "Arg", "LossSpec", "apply_loss", "composite", "register", "huber", "mse"]
