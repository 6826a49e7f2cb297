r"""More overlap losses for segmentation: focal Tversky, generalised Dice, Matthews correlation
(MCC), the Lovász hinge and Lovász-softmax surrogates of the Jaccard index, and the erosion-based
Hausdorff-distance loss.

| module | losses |
| --- | --- |
| ``tversky_dice`` | :func:`focal_tversky`, :func:`generalized_dice`, :func:`mcc` |
| ``lovasz`` | :func:`lovasz_hinge`, :func:`lovasz_softmax` |
| ``hausdorff`` | :func:`hausdorff_erosion` |
| ``_common`` | the sizes the registry entries sample at |

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the textbook formula and its
derivative), its checks and kinks, the registry entry, then the public function. The conventions
are those of :mod:`nploss.losses.segmentation`: predictions are *probabilities* (nothing applies a
softmax or sigmoid inside), shapes are ``(N, C, *spatial)`` and every axis after the class axis is
summed over. The exceptions are :func:`lovasz_hinge`, which takes one logit per pixel (the hinge
needs a signed score), and :func:`lovasz_softmax` and :func:`hausdorff_erosion`, which take
integer labels as the paper and the libraries do.

The Lovász losses are piecewise linear in the errors: their gradient is the gradient of the
Lovász extension of the Jaccard loss at the sorted errors, constant between ties, so their second
derivative is zero wherever it exists.
"""

# in the order of the old single module, which is the order of the registry and of the audit
from .tversky_dice import focal_tversky, generalized_dice, mcc  # noqa: I001
from .lovasz import lovasz_hinge, lovasz_softmax
from .hausdorff import hausdorff_erosion

__all__ = ["focal_tversky", "generalized_dice", "hausdorff_erosion", "lovasz_hinge", "lovasz_softmax", "mcc"]
