r"""Classification losses: probabilistic losses of scores (logits) or probabilities and labels.

| module | losses |
| --- | --- |
| ``bce`` | :func:`binary_cross_entropy`, :func:`binary_cross_entropy_with_logits` |
| ``cross_entropy`` | :func:`cross_entropy`, :func:`soft_target_cross_entropy`, :func:`nll` |
| ``keras`` | :func:`categorical_cross_entropy`, :func:`sparse_categorical_cross_entropy`, :func:`smooth_labels` (a helper) |
| ``focal`` | :func:`sigmoid_focal`, :func:`softmax_focal` |
| ``divergence`` | :func:`kl_div`, :func:`distillation` |
| ``divergence_more`` | :func:`generalized_kl`, :func:`js_div` |
| ``poly`` | :func:`poly1`, :func:`generalized_cross_entropy` |
| ``sparsemax`` | :func:`sparsemax` (the mapping), :func:`sparsemax_loss`, :func:`binary_sparsemax_loss`, :func:`fenchel_young` |
| ``ranking`` | :func:`ranking_softmax` |
| ``large_vocabulary`` | :func:`linear_cross_entropy` (chunked fast path) |
| ``adaptive`` | :func:`adaptive_log_softmax` (PyTorch's ``AdaptiveLogSoftmaxWithLoss`` as a function of its weights) |
| ``_common`` | the class-axis check, per-class vectors along axis 1, edge cases of logits |

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the formula and its
derivative), its fast path where it has one, the registry entry, then the public function with
the formula in its docstring. Argument order is
``(prediction, target)`` as in PyTorch, where the prediction is named by what it holds:
``logits`` (real scores, before a sigmoid or softmax), ``prediction``/``probs`` (probabilities)
or ``log_probs``.

Conventions shared by the family:

- **Class axis.** Losses that mirror PyTorch take logits of shape ``(N, C)`` or
  ``(N, C, d1, ...)`` with the classes on axis 1 and integer labels of shape ``(N,)`` or
  ``(N, d1, ...)``; the Keras losses (:func:`categorical_cross_entropy`,
  :func:`sparse_categorical_cross_entropy`) and :func:`smooth_labels` keep the classes on the
  last axis, as Keras and optax do.
- **Constants.** Labels, class weights, ``pos_weight``, the focal targets and the teacher's
  logits are constants: they receive no gradient, in the fused and in the composite graph alike.
  Probability targets (binary cross entropy, soft-target cross entropy, KL) are differentiated,
  as PyTorch does.
- **The analytic gradients** are written as one would derive them: :math:`\sigma(z) - y` for
  the logistic loss, :math:`\mathrm{softmax}(z) - y` for cross entropy, with the weights and
  smoothing folded into a target distribution ``a`` (then :math:`(\sum_c a_c)\,\mathrm{softmax}(z) - a`).
"""

# in the order of the old single module, which is the order of the registry and of the audit
from .bce import binary_cross_entropy, binary_cross_entropy_with_logits  # noqa: I001
from .cross_entropy import cross_entropy, nll, soft_target_cross_entropy
from .keras import categorical_cross_entropy, smooth_labels, sparse_categorical_cross_entropy
from .focal import sigmoid_focal, softmax_focal
from .divergence import distillation, kl_div

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "soft_target_cross_entropy",
    "nll",
    "categorical_cross_entropy",
    "sparse_categorical_cross_entropy",
    "smooth_labels",
    "sigmoid_focal",
    "softmax_focal",
    "kl_div",
    "distillation",
]

from .large_vocabulary import linear_cross_entropy

__all__ += ["linear_cross_entropy"]

from .divergence_more import generalized_kl, js_div
from .poly import generalized_cross_entropy, poly1
from .ranking import ranking_softmax
from .sparsemax import binary_sparsemax_loss, fenchel_young, sparsemax, sparsemax_jvp, sparsemax_loss

__all__ += [
    "binary_sparsemax_loss",
    "fenchel_young",
    "generalized_cross_entropy",
    "generalized_kl",
    "js_div",
    "poly1",
    "ranking_softmax",
    "sparsemax",
    "sparsemax_jvp",
    "sparsemax_loss",
]

from .adaptive import adaptive_log_softmax

__all__ += ["adaptive_log_softmax"]
