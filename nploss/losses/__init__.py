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
| ``metric`` | metric | distances between embeddings: contrastive, triplet (with mining), center, lifted |
| ``metric_softmax`` | metric | softmax over similarities: CosFace, ArcFace, N-pair, NT-Xent, SupCon |
| ``distribution`` | distribution | divergences between distributions, GAN, WGAN(-GP), VAE, perceptual |
| ``multitask`` | multitask | combining losses (weighting, GradNorm), regularisers, class weights |
| ``fewshot`` | fewshot | prototypical networks (cross entropy or focal), prototype and covariance regularisers, their total |
| ``rl`` | reinforcement | policy gradient and temporal-difference losses |
"""

from . import classification, ctc, distribution, fewshot, margin, metric, metric_softmax, multitask, regression, rl, segmentation
from ._apply import apply_loss, composite
from ._spec import REGISTRY, Arg, LossSpec, register
from .classification import *  # noqa: F403
from .ctc import *  # noqa: F403
from .distribution import *  # noqa: F403
from .fewshot import *  # noqa: F403
from .margin import *  # noqa: F403
from .metric import *  # noqa: F403
from .metric_softmax import *  # noqa: F403
from .multitask import *  # noqa: F403
from .regression import *  # noqa: F403
from .rl import *  # noqa: F403
from .segmentation import *  # noqa: F403

__all__ = (
    ["REGISTRY", "Arg", "LossSpec", "apply_loss", "composite", "register"]
    + regression.__all__
    + classification.__all__
    + margin.__all__
    + ctc.__all__
    + segmentation.__all__
    + metric.__all__
    + metric_softmax.__all__
    + distribution.__all__
    + multitask.__all__
    + fewshot.__all__
    + rl.__all__
)
