"""The loss functions, one package per family, each registered in :data:`REGISTRY`.

Every public function takes arrays (and returns an array) or Tensors (and records one fused
graph node whose backward is the analytic gradient; ``with composite():`` records the graph
of primitive ops instead, ``with reference():`` keeps the textbook formulas where a loss has a
fast path). See :mod:`nploss.losses._apply`.

| package or module | family | losses |
| --- | --- | --- |
| ``regression/`` | regression | errors between a prediction and a real target; robust and likelihood losses |
| ``classification/`` | classification | binary and softmax cross entropy and their relatives, focal, KL, distillation |
| ``margin/`` | classification | hinge losses and the margin-based surrogates (exponential, logistic) |
| ``ctc`` | classification | connectionist temporal classification |
| ``segmentation`` | segmentation | overlap (Dice, Tversky) and structural similarity |
| ``overlap/`` | segmentation | focal Tversky, generalised Dice, MCC, Lovász hinge and softmax, Hausdorff (erosion) |
| ``image/`` | segmentation | MS-SSIM (+ L1), PSNR, total variation, inverse-depth smoothness, mutual information |
| ``metric/`` | metric | distances between embeddings: contrastive, triplet (with mining), center, lifted |
| ``metric_softmax/`` | metric | softmax over similarities: CosFace, ArcFace, N-pair, NT-Xent, SupCon |
| ``distribution/`` | distribution | GAN, WGAN(-GP), Wasserstein, VAE, perceptual |
| ``multitask/`` | multitask | combining losses (weighting, GradNorm), consistency, regularisers, class weights |
| ``fewshot/`` | fewshot | prototypical networks (cross entropy or focal), prototype and covariance regularisers, their total |
| ``rl`` | reinforcement | policy gradient and temporal-difference losses |

Each package holds one module per topic; each loss in it is one block: the reference forward
and VJP (the textbook formula and its derivative), a fast path where one is worth having, the
registry entry, the public function. The machinery every loss shares is written once:
``_spec`` (what a loss is), ``_apply`` (validate, forward, reduce, record), ``_reduction``,
``_validate`` (array inputs and the input policy), ``_params`` (scalar parameters), ``_shared``
(one-hot, unit rows, unbatched inputs, the focal factor), ``_fast`` and ``_blocks`` (tools of the
fast paths). Softmax cross entropy's gradient, which several families end in, lives with cross
entropy (``classification.cross_entropy.softmax_xent_vjp``).
"""

from . import (
    classification,
    ctc,
    distribution,
    fewshot,
    image,
    margin,
    metric,
    metric_softmax,
    multitask,
    overlap,
    regression,
    rl,
    segmentation,
)
from ._apply import apply_loss, composite, reference
from ._spec import REGISTRY, Arg, FastPath, LossSpec, register
from .classification import *  # noqa: F403
from .ctc import *  # noqa: F403
from .distribution import *  # noqa: F403
from .fewshot import *  # noqa: F403
from .image import *  # noqa: F403
from .margin import *  # noqa: F403
from .metric import *  # noqa: F403
from .metric_softmax import *  # noqa: F403
from .multitask import *  # noqa: F403
from .overlap import *  # noqa: F403
from .regression import *  # noqa: F403
from .rl import *  # noqa: F403
from .segmentation import *  # noqa: F403

__all__ = (
    ["REGISTRY", "Arg", "FastPath", "LossSpec", "apply_loss", "composite", "reference", "register"]
    + regression.__all__
    + classification.__all__
    + margin.__all__
    + ctc.__all__
    + segmentation.__all__
    + image.__all__
    + overlap.__all__
    + metric.__all__
    + metric_softmax.__all__
    + distribution.__all__
    + multitask.__all__
    + fewshot.__all__
    + rl.__all__
)


def _add_signposts() -> None:
    """End every public loss's docstring with where its reference forward and VJP live
    (:meth:`LossSpec.signpost`): generated from the registry, so it cannot go stale."""
    public = globals()
    for name, spec in REGISTRY.items():
        function = public.get(name)
        if function is None or "Source: " in (function.__doc__ or ""):
            continue
        doc = (function.__doc__ or "").rstrip()
        lines = doc.splitlines()
        indent = min((len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()), default=4)
        function.__doc__ = f"{doc}\n\n{' ' * indent}{spec.signpost()}\n{' ' * indent}"


_add_signposts()
