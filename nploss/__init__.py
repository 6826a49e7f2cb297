"""nploss: the loss functions of deep learning in NumPy, each with a proven gradient."""

import os

# Before NumPy loads OpenBLAS: its idle threads would otherwise spin for about 0.1 s after every
# matrix product, holding the cores that nploss's own threads need (see nploss.parallel).
# A value you set yourself is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")

from . import autograd, backend, gradcheck
from .autograd import Tensor, grad, no_grad
from .backend import get_array_module, to_numpy, use

__version__ = "0.1.0"

__all__ = ["Tensor", "grad", "no_grad", "use", "get_array_module", "to_numpy", "autograd", "backend", "gradcheck"]
