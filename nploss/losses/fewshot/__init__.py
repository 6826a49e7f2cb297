r"""Few-shot losses: the prototypical network's loss and the regularisers of its embedding.

| module | losses |
| --- | --- |
| ``protonet`` | :func:`prototypes` (the class means), :func:`prototypical` (cross entropy or focal over distances) |
| ``regularisers`` | :func:`prototype_variance`, :func:`covariance` |
| ``total`` | :func:`fewshot_total` |
| ``_common`` | checks of 2-D and 0-d inputs; Python numbers in the episode's dtype |

An *episode* holds a labelled **support** set (a few examples of each of K classes) and a
**query** set to classify. :func:`prototypes` averages the support embeddings of each class into
a prototype :math:`c_k`; :func:`prototypical` scores each query against the prototypes (negative
squared Euclidean distance, or a scaled cosine) and takes the cross entropy (or the focal loss)
of those logits. Two regularisers shape the embedding: :func:`prototype_variance` (the mean
cosine between distinct prototypes: minimising it pushes the prototypes apart) and
:func:`covariance` (VICReg's decorrelation of the embedding dimensions). :func:`fewshot_total`
combines the three with weights :math:`\lambda` that may themselves be learned.

Each loss is one block: the formula and its derivative in the docstring, ``_x_forward`` and
``_x_vjp`` right below, the registry entry, then the public function.

Two conventions, shared by the blocks:

- **Normalisation.** Cosines normalise rows as :math:`\hat{x} = x / \sqrt{\lVert x \rVert^2 +
  \epsilon}` with :math:`\epsilon = 10^{-12}` (``NORM_EPS`` of :mod:`nploss.losses._shared`), as
  :mod:`nploss.losses.metric_softmax` does. ``torch.nn.functional.cosine_similarity`` divides
  by a clamped product of norms instead; the two agree to a relative
  :math:`\epsilon / \lVert x \rVert^2`, but the square-root form is smooth, so a zero embedding
  has cosine 0 and a finite gradient (the cotangent of :math:`\hat{x}` divided by
  :math:`\sqrt{\epsilon}`) rather than 0/0.
- **Constants.** Labels are constants (not differentiated). The support and query embeddings,
  the prototypes, the scale of the logits and the weights :math:`\lambda` are differentiable.

The few-shot *model* (embedding network, episodes, training, adaptive :math:`\lambda`) is
:mod:`nploss.fewshot`; it calls these losses through :mod:`nploss.losses`.
"""

from .protonet import prototypes, prototypical
from .regularisers import covariance, prototype_variance
from .total import fewshot_total

__all__ = ["prototypes", "prototypical", "prototype_variance", "covariance", "fewshot_total"]
