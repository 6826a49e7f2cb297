r"""Metric-learning losses: distances between embeddings, from explicit pairs and triplets or
mined from the labels of a batch.

Embeddings are rows, shape ``(N, D)``. The losses come in three kinds:

- **pairs** ``(x1, x2, y)``: :func:`contrastive` (Euclidean), :func:`cosine_embedding` and
  :func:`cosine_contrastive` (cosine similarity), :func:`margin_ranking` (scores, not embeddings);
- **triplets** ``(anchor, positive, negative)``: :func:`triplet`;
- **a batch with labels** ``(embeddings, labels)``: :func:`batch_triplet` (all, batch-hard or
  semi-hard triplets), :func:`lifted_structured`, and :func:`center` (with the class centres as an
  input, and :class:`CenterLoss` keeping them as state).

| module | losses |
| --- | --- |
| ``_common`` | (helpers: distances, cosine, unit rows, with their VJPs; the conventions at zero) |
| ``pairs`` | ``contrastive``, ``cosine_embedding``, ``cosine_contrastive``, ``margin_ranking`` |
| ``triplet`` | ``triplet``, ``batch_triplet`` (all, batch-hard, semi-hard mining) |
| ``center`` | ``center``, ``CenterLoss`` |
| ``lifted`` | ``lifted_structured`` |
| ``pml_pairs`` | ``snr_contrastive``, ``generalized_lifted_structured``, ``margin_loss``, ``angular`` |
| ``similarity`` | ``multi_similarity``, ``circle``, ``tuplet_margin``, ``intra_pair_variance`` |
| ``ranked`` | ``ranked_list``, ``histogram``, ``dynamic_soft_margin`` (+ ``DynamicSoftMarginLoss``), ``threshold_consistent_margin`` |
| ``manifold`` | ``manifold``, ``vicreg``, ``instance``, ``nca`` |
| ``margin_classifiers`` | ``sub_center_arcface``, ``sphereface``, ``large_margin_softmax``, ``normalized_softmax``, ``p2s_grad`` |
| ``proxies`` | ``proxy_nca``, ``proxy_anchor``, ``soft_triple`` |
| ``average_precision`` | ``fastap``, ``smooth_ap``, ``pnp`` |

The losses of pytorch-metric-learning (PML) give PML 2.9.0's value and gradients with their
default arguments; each docstring lists where PML departs from its paper and how to get the
paper's version.

Every Euclidean distance (except :func:`triplet`'s, which follows PyTorch) carries an epsilon
inside its square root, :math:`d_\varepsilon = \sqrt{\|a - b\|^2 + 10^{-16}}`, so that identical
embeddings have a zero gradient rather than NaN; ``normalize=True`` divides rows by
:math:`\sqrt{\|x\|^2 + 10^{-16}}`. :mod:`nploss.losses.metric._common` explains both.
"""

from ._common import (
    COSINE_EPS,
    EPS,
    cosine_similarity,
    cosine_similarity_vjp,
    l2_normalize,
    l2_normalize_vjp,
    pairwise_distances,
    pairwise_distances_vjp,
    row_distances,
    row_distances_vjp,
)
from .center import CENTER, CenterLoss, center
from .lifted import LIFTED_STRUCTURED, lifted_structured
from .pairs import (
    CONTRASTIVE,
    COSINE_CONTRASTIVE,
    COSINE_EMBEDDING,
    MARGIN_RANKING,
    PAIR_LABELS,
    contrastive,
    cosine_contrastive,
    cosine_embedding,
    margin_ranking,
)
from .triplet import BATCH_TRIPLET, STRATEGIES, TRIPLET, TRIPLET_ARGS, batch_triplet, triplet
# the modules under private names: `from .manifold import *` rebinds `manifold` to the loss
from . import average_precision as _average_precision, manifold as _manifold, margin_classifiers as _margin_classifiers  # noqa: I001
from . import pml_pairs as _pml_pairs, proxies as _proxies, ranked as _ranked, similarity as _similarity
from .average_precision import *  # noqa: F403
from .manifold import *  # noqa: F403
from .margin_classifiers import *  # noqa: F403
from .pml_pairs import *  # noqa: F403
from .proxies import *  # noqa: F403
from .ranked import *  # noqa: F403
from .similarity import *  # noqa: F403

__all__ = [
    "contrastive",
    "cosine_embedding",
    "cosine_contrastive",
    "triplet",
    "batch_triplet",
    "margin_ranking",
    "center",
    "CenterLoss",
    "lifted_structured",
] + (
    _pml_pairs.__all__ + _similarity.__all__ + _ranked.__all__ + _manifold.__all__
    + _margin_classifiers.__all__ + _proxies.__all__ + _average_precision.__all__
)
