r"""Metric learning by a softmax over similarities: CosFace, ArcFace, N-pair, NT-Xent, SupCon.

Each loss is a cross entropy whose logits are (scaled) similarities between embeddings, or
between embeddings and class weight vectors, so every forward is a log-sum-exp minus a target
logit and every gradient is ``softmax - target`` pushed back through the similarity
(:func:`nploss.losses.classification.cross_entropy.softmax_xent_vjp` where the target is one column).

| module | losses |
| --- | --- |
| ``_common`` | (the normalisation convention, ``NORM_EPS``; a shape check) |
| ``margin_softmax`` | ``cosface``, ``arcface`` |
| ``contrastive`` | ``n_pair``, ``nt_xent``, ``supcon`` |

Rows are L2-normalised as :math:`x / \sqrt{\lVert x \rVert^2 + 10^{-12}}` wherever a loss works
on cosines (:mod:`nploss.losses.metric_softmax._common`); NT-Xent and SupCon drop each anchor's
similarity with itself from the denominator exactly, by a :math:`-\infty` mask
(:mod:`nploss.losses.metric_softmax.contrastive`).
"""

from ._common import NORM_EPS
from .contrastive import N_PAIR, NT_XENT, SUPCON, n_pair, nt_xent, supcon
from .margin_softmax import ARCFACE, COSFACE, MARGIN_ARGS, SIN_EPS, arcface, cosface

__all__ = ["cosface", "arcface", "n_pair", "nt_xent", "supcon"]
