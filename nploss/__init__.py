"""nploss: the loss functions of deep learning in NumPy, each with a proven gradient."""

from . import autograd, backend, gradcheck
from .autograd import Tensor, grad, no_grad
from .backend import get_array_module, to_numpy, use

__version__ = "0.1.0"

__all__ = ["Tensor", "grad", "no_grad", "use", "get_array_module", "to_numpy", "autograd", "backend", "gradcheck"]
