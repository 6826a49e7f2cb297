"""The loss functions, one module per family, each registered in :data:`REGISTRY`.

Every public function takes arrays (and returns an array) or Tensors (and records one fused
graph node whose backward is the analytic gradient; ``with composite():`` records the graph
of primitive ops instead). See :mod:`nploss.losses._apply`.

| module | family | losses |
| --- | --- | --- |
| ``regression`` | regression | errors between a prediction and a real target |
| ``classification`` | classification | cross entropy and its relatives, focal, KL, distillation |
| ``margin`` | classification | hinge losses and the margin-based surrogates (exponential, logistic) |
| ``ctc`` | classification | connectionist temporal classification |
| ``segmentation`` | segmentation | overlap (Dice, Tversky) and structural similarity |
"""

from . import classification, ctc, margin, regression, segmentation
from ._apply import apply_loss, composite
from ._spec import REGISTRY, Arg, LossSpec, register
from .classification import *  # noqa: F403
from .ctc import *  # noqa: F403
from .margin import *  # noqa: F403
from .regression import *  # noqa: F403
from .segmentation import *  # noqa: F403

__all__ = (
    ["REGISTRY", "Arg", "LossSpec", "apply_loss", "composite", "register"]
    + regression.__all__
    + classification.__all__
    + margin.__all__
    + ctc.__all__
    + segmentation.__all__
)
