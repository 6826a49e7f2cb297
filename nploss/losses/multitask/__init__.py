r"""Multi-task, regularisation and imbalance: combining losses, penalising weights, weighting classes.

| module | losses |
| --- | --- |
| ``weighting`` | ``weighted_sum``, ``uncertainty_weighting`` and the module ``UncertaintyWeighting``, ``self_paced`` |
| ``gradnorm`` | ``gradnorm`` and the module ``GradNorm`` (with ``GradNormResult``) |
| ``consistency`` | ``consistency``, ``temporal_consistency``, ``spatial_consistency`` |
| ``regularisers`` | ``l1_penalty``, ``l2_penalty``, ``elastic_net`` |
| ``class_weights`` | ``class_weights`` (not a loss: the ``weight`` of a class-weighted one) |

Task combination (:func:`weighted_sum`, :func:`uncertainty_weighting`, :class:`GradNorm`) takes
the per-task losses :math:`L_t` as one vector of shape ``(T,)`` (a list of scalar Tensors is
stacked; ``_common`` holds these task vectors), so that 'none' returns the contribution of each
task and 'sum', their default, the total. :func:`self_paced` weights samples, the consistency
losses compare predictions that should agree, the penalties regularise a weight tensor (or a
list of them), and :func:`class_weights` turns class frequencies into the ``weight`` argument of
a class-weighted loss. Each registered loss is one block: the formula and its derivative in the
docstring, ``_x_forward`` and ``_x_vjp`` right below, the registry entry, then the public
function.
"""

# in the order of the old module (the registry keeps the order of registration)
from .weighting import UncertaintyWeighting, self_paced, uncertainty_weighting, weighted_sum  # isort: skip
from .gradnorm import GradNorm, GradNormResult, gradnorm  # isort: skip
from .consistency import consistency, spatial_consistency, temporal_consistency  # isort: skip
from .regularisers import elastic_net, l1_penalty, l2_penalty  # isort: skip
from .class_weights import class_weights  # isort: skip

__all__ = [
    "weighted_sum",
    "uncertainty_weighting",
    "UncertaintyWeighting",
    "gradnorm",
    "GradNorm",
    "GradNormResult",
    "self_paced",
    "consistency",
    "temporal_consistency",
    "spatial_consistency",
    "l1_penalty",
    "l2_penalty",
    "elastic_net",
    "class_weights",
]
