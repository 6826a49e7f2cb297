"""The same loss in other libraries: the call that gives nploss's number, and the traps between them.

Each :class:`Equivalent` names a registered loss, a library and the call in that library that
computes the same value (and gradient), with the argument mapping and the default differences
spelled out. Every row names the committed fixture that verifies it numerically
(``tests/test_equivalents.py`` recomputes nploss's side and compares), so no row is claimed without
a number behind it. :data:`TRAPS` lists the conventions that differ between libraries under the
same name.
"""

from __future__ import annotations

from dataclasses import dataclass

LIBRARIES = (
    "PyTorch",
    "Keras 3",
    "optax",
    "pytorch-metric-learning",
    "kornia",
    "segmentation-models-pytorch",
    "scikit-learn",
)


@dataclass(frozen=True)
class Equivalent:
    """One row of the equivalents table.

    Attributes
    ----------
    loss : str
        The name in :data:`nploss.losses.REGISTRY`.
    library : str
        One of :data:`LIBRARIES`.
    call : str
        The call in that library, e.g. ``torch.nn.functional.cross_entropy(input, target)``.
    mapping : str
        How nploss's arguments map onto the call's (order, names, transforms such as ``log``).
    differences : str
        Default values or conventions that differ, or ``""`` when none do.
    fixture : str
        The committed fixture that verifies the row: ``path/to/fixture::key``.
    """

    loss: str
    library: str
    call: str
    mapping: str
    differences: str
    fixture: str


@dataclass(frozen=True)
class Trap:
    """A convention that differs between libraries under the same name (or the same loss under two)."""

    title: str
    libraries: tuple[str, ...]
    detail: str
    fixture: str  # the committed fixture whose numbers show it


_T = "tests/fixtures/torch/"  # PyTorch-run fixtures (torch itself, pytorch-metric-learning, kornia, smp)
_R = "tests/fixtures/references/"  # the other libraries' fixtures
_KERAS_ORDER = "Keras takes (y_true, y_pred): pass them as nploss's (prediction=y_pred, target=y_true)"
_SK_ORDER = "scikit-learn takes (y_true, y_pred): nploss's (prediction=y_pred, target=y_true)"
_PER_ROW = "the library averages over the last axis first: nploss's reduction='none', then its mean over axis -1"
_NCHW = "classes on axis 1 (N, C, H, W); optax puts them last: move axis -1 to 1"
_BATCH_FOLDED = "smp sums over the batch and the pixels together: reshape (N, C, H, W) to (1, C, N*H*W)"


def _e(loss: str, library: str, call: str, mapping: str, differences: str, fixture: str) -> Equivalent:
    return Equivalent(loss, library, call, mapping, differences, fixture)


EQUIVALENTS: tuple[Equivalent, ...] = (
    # ------------------------------------------------------------------ PyTorch
    _e("binary_cross_entropy", "PyTorch", "torch.nn.functional.binary_cross_entropy(input, target)",
       "prediction=input (probabilities), target=target", "", _T + "classification.npz::bce-mean"),
    _e("binary_cross_entropy_with_logits", "PyTorch", "torch.nn.functional.binary_cross_entropy_with_logits(input, target)",
       "logits=input, target=target", "", _T + "classification.npz::bcel-mean"),
    _e("cross_entropy", "PyTorch", "torch.nn.functional.cross_entropy(input, target)",
       "logits=input, target=target (class indices)", "", _T + "classification.npz::xent-mean"),
    _e("soft_target_cross_entropy", "PyTorch", "torch.nn.functional.cross_entropy(input, target)",
       "logits=input, target=target (class probabilities, same shape as input)", "", _T + "classification.npz::xent-prob-mean"),
    _e("nll", "PyTorch", "torch.nn.functional.nll_loss(input, target)",
       "log_probs=input, target=target", "", _T + "classification.npz::nll-mean"),
    _e("kl_div", "PyTorch", "torch.nn.functional.kl_div(input, target, reduction='batchmean')",
       "input=input (log q), target=target (p), reduction='batchmean'",
       "PyTorch's default reduction='mean' divides by every element (N * C), not by N", _T + "classification.npz::kl-batchmean"),
    _e("linear_cross_entropy", "PyTorch", "torch.nn.functional.linear_cross_entropy(input, linear_weight, target, linear_bias=b)",
       "features=input, linear_weight, target, linear_bias", "", _T + "classification_more.npz::linear_cross_entropy-mean"),
    _e("adaptive_log_softmax", "PyTorch", "torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[3, 6], div_value=2.0)(input, target).loss",
       "features=input; head_weight=head.weight; tail_projections[i]=tail[i][0].weight, tail_outputs[i]=tail[i][1].weight; cutoffs=[3, 6]",
       "nploss takes the weights as arguments, PyTorch keeps them in the module", _T + "adaptive.npz::adaptive-two-mean"),
    _e("ctc", "PyTorch", "torch.nn.functional.ctc_loss(log_probs, targets, input_lengths, target_lengths)",
       "same order and names; log_probs (T, N, C) = log_softmax(logits, dim=2)", "", _T + "ctc.npz::ctc-mean"),
    _e("logistic", "PyTorch", "torch.nn.functional.soft_margin_loss(input, target)",
       "scores=input, target=target (+-1)", "", _T + "margin.npz::logistic-mean"),
    _e("multiclass_hinge", "PyTorch", "torch.nn.functional.multi_margin_loss(input, target)",
       "scores=input, target=target; p=1, margin=1.0 as PyTorch", "", _T + "margin.npz::multiclass_hinge-p1-mean"),
    _e("multilabel_margin", "PyTorch", "torch.nn.functional.multilabel_margin_loss(input, target)",
       "scores=input, target=target (label indices, padded with -1)", "", _T + "classification_more.npz::multilabel_margin-mean"),
    _e("multilabel_soft_margin", "PyTorch", "torch.nn.functional.multilabel_soft_margin_loss(input, target)",
       "logits=input, target=target", "", _T + "classification_more.npz::multilabel_soft_margin-mean"),
    _e("hinge_embedding", "PyTorch", "torch.nn.functional.hinge_embedding_loss(input, target)",
       "distance=input, target=target (+-1)", "", _T + "classification_more.npz::hinge_embedding-m1.0-mean"),
    _e("cosine_embedding", "PyTorch", "torch.nn.functional.cosine_embedding_loss(input1, input2, target)",
       "x1=input1, x2=input2, y=target", "", _T + "metric.npz::cosine_embedding-m0.0-mean"),
    _e("margin_ranking", "PyTorch", "torch.nn.functional.margin_ranking_loss(input1, input2, target)",
       "x1=input1, x2=input2, y=target", "", _T + "metric.npz::margin_ranking-m0.0-mean"),
    _e("triplet", "PyTorch", "torch.nn.functional.triplet_margin_loss(anchor, positive, negative)",
       "same order and names; margin=1.0, p=2, eps=1e-6 as PyTorch", "", _T + "metric.npz::triplet-mean"),
    _e("triplet", "PyTorch", "torch.nn.TripletMarginWithDistanceLoss()(anchor, positive, negative)",
       "same order; the default distance_function (pairwise_distance) is nploss's distance=None",
       "", _T + "triplet_options.npz::triplet-distance-pairwise-s0-mean"),
    _e("mse", "PyTorch", "torch.nn.functional.mse_loss(input, target)",
       "prediction=input, target=target", "", _T + "regression.npz::mse-mean"),
    _e("mae", "PyTorch", "torch.nn.functional.l1_loss(input, target)",
       "prediction=input, target=target", "", _T + "regression.npz::mae-mean"),
    _e("huber", "PyTorch", "torch.nn.functional.huber_loss(input, target, delta=1.0)",
       "prediction=input, target=target, delta=delta", "", _T + "regression.npz::huber-d1.0-mean"),
    _e("smooth_l1", "PyTorch", "torch.nn.functional.smooth_l1_loss(input, target, beta=1.0)",
       "prediction=input, target=target, beta=beta", "", _T + "regression.npz::smooth_l1-b1.0-mean"),
    _e("poisson_nll", "PyTorch", "torch.nn.functional.poisson_nll_loss(input, target)",
       "prediction=input (the log rate, log_input=True), target=target", "", _T + "regression.npz::poisson_nll-logTrue-fullFalse-mean"),
    _e("gaussian_nll", "PyTorch", "torch.nn.functional.gaussian_nll_loss(input, target, var)",
       "prediction=input, target=target, var=var", "", _T + "regression.npz::gaussian_nll-fullFalse-mean"),
    _e("gaussian_kl", "PyTorch", "torch.distributions.kl_divergence(Normal(mu, exp(logvar / 2)), Normal(0, 1))",
       "mu, logvar; nploss reduction='none' gives the same elementwise KL", "PyTorch takes the standard deviation, nploss the log-variance",
       _T + "distribution.npz::gaussian_kl-none"),
    _e("gan_generator", "PyTorch", "torch.nn.functional.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))",
       "fake_logits; non_saturating=True (the fake labelled real)", "", _T + "distribution.npz::gan_generator-mean"),
    _e("gradnorm", "PyTorch", "torch.nn.functional.l1_loss(norms, targets, reduction='sum')",
       "norms, targets (the targets held constant, as in GradNorm)", "l1_loss's default reduction is 'mean', gradnorm's 'sum'",
       _T + "multitask.npz::gradnorm-sum"),
    _e("reconstruction", "PyTorch", "torch.nn.functional.mse_loss(output, input)",
       "output, input; kind='mse'", "", _T + "distribution.npz::reconstruction-mse-mean"),
    _e("reconstruction", "PyTorch", "torch.nn.functional.binary_cross_entropy_with_logits(output, input)",
       "output (logits), input; kind='bce'", "", _T + "distribution.npz::reconstruction-bce-mean"),
    # ------------------------------------------------------------------ Keras 3
    _e("binary_cross_entropy", "Keras 3", "keras.losses.binary_crossentropy(y_true, y_pred)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "Keras clips probabilities to [1e-7, 1 - 1e-7] (nploss clamps the log at -100, as PyTorch)",
       _R + "rosetta.npz::keras-binary_crossentropy"),
    _e("binary_cross_entropy_with_logits", "Keras 3", "keras.losses.binary_crossentropy(y_true, y_pred, from_logits=True)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "", _R + "rosetta.npz::keras-binary_crossentropy-logits"),
    _e("sigmoid_focal", "Keras 3",
       "keras.losses.binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=True, alpha=0.25, gamma=2.0, from_logits=True)",
       f"{_KERAS_ORDER} (logits); {_PER_ROW}",
       "Keras applies alpha only with apply_class_balancing=True (default False); nploss always weighs by alpha=0.25",
       _R + "rosetta.npz::keras-binary_focal_crossentropy"),
    _e("softmax_focal", "Keras 3",
       "keras.losses.categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=True)",
       f"{_KERAS_ORDER}; logits=y_pred, target=argmax(y_true) (one-hot in Keras), alpha=[0.25] * C",
       "Keras's scalar alpha defaults to 0.25 and multiplies every class; nploss's per-class alpha defaults to None (1)",
       _R + "rosetta.npz::keras-categorical_focal_crossentropy"),
    _e("categorical_cross_entropy", "Keras 3", "keras.losses.categorical_crossentropy(y_true, y_pred)",
       f"{_KERAS_ORDER} (probabilities, one-hot or soft target); reduction='none' gives Keras's per-row values",
       "", _R + "keras.npz::cce-onehot"),
    _e("sparse_categorical_cross_entropy", "Keras 3", "keras.losses.sparse_categorical_crossentropy(y_true, y_pred)",
       f"{_KERAS_ORDER} (probabilities, integer labels); reduction='none'", "", _R + "keras.npz::scce-probs"),
    _e("cross_entropy", "Keras 3", "keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)",
       f"{_KERAS_ORDER}: logits=y_pred, target=y_true; reduction='none'", "", _R + "keras.npz::scce-logits"),
    _e("soft_target_cross_entropy", "Keras 3", "keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=True)",
       f"{_KERAS_ORDER}: logits=y_pred, target=y_true (probabilities); reduction='none'", "", _R + "keras.npz::cce-logits"),
    _e("generalized_cross_entropy", "Keras 3", "keras.losses.categorical_generalized_cross_entropy(y_true, y_pred, q=0.5)",
       f"{_KERAS_ORDER}: probs=y_pred, target=y_true (integer labels); reduction='none'", "", _R + "structured.npz::gce-q0.5"),
    _e("kl_div", "Keras 3", "keras.losses.kl_divergence(y_true, y_pred)",
       "input=log(y_pred), target=y_true (Keras takes both as probabilities); reduction='none', summed over the last axis",
       "Keras clips both to [1e-7, 1]", _R + "rosetta.npz::keras-kl_divergence"),
    _e("poisson_nll", "Keras 3", "keras.losses.poisson(y_true, y_pred)",
       f"{_KERAS_ORDER}; log_input=False (Keras takes the rate), eps=1e-7; {_PER_ROW}",
       "nploss's default log_input=True takes the log rate", _R + "rosetta.npz::keras-poisson"),
    _e("mse", "Keras 3", "keras.losses.mean_squared_error(y_true, y_pred)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "", _R + "rosetta.npz::keras-mean_squared_error"),
    _e("mae", "Keras 3", "keras.losses.mean_absolute_error(y_true, y_pred)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "", _R + "rosetta.npz::keras-mean_absolute_error"),
    _e("huber", "Keras 3", "keras.losses.huber(y_true, y_pred, delta=1.0)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "", _R + "rosetta.npz::keras-huber"),
    _e("log_cosh", "Keras 3", "keras.losses.log_cosh(y_true, y_pred)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "", _R + "keras.npz::log_cosh"),
    _e("msle", "Keras 3", "keras.losses.mean_squared_logarithmic_error(y_true, y_pred)",
       f"{_KERAS_ORDER}; {_PER_ROW}", "Keras clips both at 1e-7 before log1p", _R + "regression_more.npz::keras-msle"),
    _e("mape", "Keras 3", "keras.losses.mean_absolute_percentage_error(y_true, y_pred)",
       f"{_KERAS_ORDER}; percent=True, eps=1e-7; {_PER_ROW}",
       "Keras gives a percentage and floors |y| at 1e-7; nploss's default is a fraction, floor float64 eps",
       _R + "regression_more.npz::keras-mape"),
    _e("rmse", "Keras 3", "keras.metrics.RootMeanSquaredError()(y_true, y_pred)",
       f"{_KERAS_ORDER}; reduction='mean' (the root of the mean over every element)", "a metric in Keras, not a loss",
       _R + "keras.npz::rmse-metric"),
    _e("hinge", "Keras 3", "keras.losses.hinge(y_true, y_pred)",
       f"{_KERAS_ORDER} (labels +-1); {_PER_ROW}", "Keras maps labels in {0, 1} to {-1, 1} silently; nploss refuses them",
       _R + "rosetta.npz::keras-hinge"),
    _e("squared_hinge", "Keras 3", "keras.losses.squared_hinge(y_true, y_pred)",
       f"{_KERAS_ORDER} (labels +-1); {_PER_ROW}", "Keras maps labels in {0, 1} to {-1, 1} silently; nploss refuses them",
       _R + "keras.npz::squared_hinge-pm1"),
    _e("dice", "Keras 3", "keras.losses.dice(y_true, y_pred)",
       "prediction=y_pred, target=y_true, both reshaped to (1, 1, -1) (Keras's axis=None sums over every axis), smooth=1e-7",
       "Keras adds 1e-7 to the denominator only, nploss adds smooth to both: they differ by 1e-7 / (sum y + sum p), below 1e-8 here",
       _R + "keras.npz::dice-all"),
    _e("tversky", "Keras 3", "keras.losses.tversky(y_true, y_pred, alpha=0.3, beta=0.7, axis=(2, 3))",
       "prediction=y_pred, target=y_true; alpha=0.7, beta=0.3 (swapped), smooth=1e-12, reduction='none' "
       "(with Keras's default axis=None instead, which sums over every axis, reshape both to (1, 1, -1) for nploss)",
       "Keras's alpha weighs the false negatives and beta the false positives, the other way round; 1e-7 in its denominator only",
       _R + "keras.npz::tversky-a0.3-b0.7-axis23"),
    _e("l1_penalty", "Keras 3", "keras.regularizers.L1()(w)", "weights=w; lam=0.01 as Keras's default", "", _R + "keras.npz::regularizer-L1-default"),
    _e("l2_penalty", "Keras 3", "keras.regularizers.L2()(w)", "weights=w; lam=0.01 as Keras's default (no 1/2)", "", _R + "keras.npz::regularizer-L2-default"),
    _e("elastic_net", "Keras 3", "keras.regularizers.L1L2(l1=0.02, l2=0.05)(w)", "weights=w, l1=l1, l2=l2",
       "Keras 3's L1L2 defaults to 0 and 0; nploss to 0.01 and 0.01", _R + "keras.npz::regularizer-L1L2-0.02-0.05"),
    _e("circle", "Keras 3", "keras.losses.circle(y_true, y_pred, gamma=80, margin=0.4)",
       "embeddings=y_pred (L2-normalised rows), labels=y_true; m=margin; detach=False, reduction='none' (one value per anchor)",
       "Keras does not normalise the embeddings (equal values on unit rows; its gradient keeps a radial part that nploss's, "
       "through the normalisation, has not) and differentiates through the weights (nploss's detach=True stops them, as PML)",
       _R + "rosetta.npz::keras-circle"),
    _e("ctc", "Keras 3", "keras.losses.ctc(y_true, y_pred)",
       "log_probs = log_softmax(y_pred) moved to (T, N, C); targets=y_true; input_lengths = T for every sequence; "
       "target_lengths = the count of non-zero labels; blank=0; reduction='none'",
       "Keras's blank is 0 and it pads the labels with 0; it computes in float32 even with floatx='float64' (agreement to 1e-5)",
       _R + "rosetta.npz::keras-ctc"),
    # ------------------------------------------------------------------ optax
    _e("binary_cross_entropy_with_logits", "optax", "optax.losses.sigmoid_binary_cross_entropy(logits, labels)",
       "logits, target=labels; reduction='none'", "", _R + "rosetta.npz::optax-sigmoid_binary_cross_entropy"),
    _e("soft_target_cross_entropy", "optax", "optax.losses.softmax_cross_entropy(logits, labels)",
       "logits, target=labels (probabilities, classes last); reduction='none'", "", _R + "rosetta.npz::optax-softmax_cross_entropy"),
    _e("soft_target_cross_entropy", "optax", "optax.losses.safe_softmax_cross_entropy(logits, labels)",
       "logits, target=labels (probabilities, classes last); reduction='none'", "", _R + "rosetta.npz::optax-safe_softmax_cross_entropy"),
    _e("cross_entropy", "optax", "optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels)",
       "logits, target=labels; reduction='none'", "", _R + "rosetta.npz::optax-softmax_cross_entropy_with_integer_labels"),
    _e("sigmoid_focal", "optax", "optax.losses.sigmoid_focal_loss(logits, labels, alpha=0.25, gamma=2.0)",
       "logits, target=labels; reduction='none'", "optax's alpha defaults to None (no weighting), nploss's to 0.25",
       _R + "rosetta.npz::optax-sigmoid_focal_loss"),
    _e("kl_div", "optax", "optax.losses.kl_divergence(log_predictions, targets)",
       "input=log_predictions, target=targets; reduction='none', summed over the last axis", "",
       _R + "rosetta.npz::optax-kl_divergence"),
    _e("kl_div", "optax", "optax.losses.kl_divergence_with_log_targets(log_predictions, log_targets)",
       "input=log_predictions, target=log_targets, log_target=True; reduction='none', summed over the last axis", "",
       _R + "rosetta.npz::optax-kl_divergence_with_log_targets"),
    _e("generalized_kl", "optax", "optax.losses.generalized_kl_divergence(log_predictions, targets)",
       "input=log_predictions, target=targets; reduction='none'", "", _R + "structured.npz::generalized_kl-random"),
    _e("poly1", "optax", "optax.losses.poly_loss_cross_entropy(logits, labels, epsilon=2.0)",
       "logits, target=labels (one-hot or soft, classes last); reduction='none'", "", _R + "structured.npz::poly1-onehot-eps2"),
    _e("sparsemax_loss", "optax", "optax.losses.multiclass_sparsemax_loss(scores, labels)",
       "scores, target=labels; reduction='none'", "", _R + "structured.npz::sparsemax_loss-random"),
    _e("binary_sparsemax_loss", "optax", "optax.losses.sparsemax_loss(logits, labels)",
       "logits, target=labels (0/1); reduction='none'", "optax's sparsemax_loss is the binary loss", _R + "structured.npz::binary_sparsemax_loss-random"),
    _e("fenchel_young", "optax", "optax.losses.make_fenchel_young_loss(jax.scipy.special.logsumexp)(scores, targets)",
       "theta=scores, target=targets, regularizer='shannon'; reduction='none', minus Omega(y) = sum y log y",
       "optax's loss leaves out Omega(y) (constant in the scores)", _R + "structured.npz::fenchel_young-shannon-soft"),
    _e("ranking_softmax", "optax", "optax.losses.ranking_softmax_loss(logits, labels, reduce_fn=None)",
       "logits, labels; reduction='none'", "", _R + "structured.npz::ranking_softmax-graded"),
    _e("multiclass_perceptron", "optax", "optax.losses.multiclass_perceptron_loss(scores, labels)",
       "scores, target=labels; reduction='none'", "", _R + "structured.npz::multiclass_perceptron-random"),
    _e("crammer_singer_hinge", "optax", "optax.losses.multiclass_hinge_loss(scores, labels)",
       "scores, target=labels; reduction='none'", "optax's 'multiclass hinge' is Crammer-Singer, not nploss's multiclass_hinge (Weston-Watkins)",
       _R + "optax.npz::multiclass_hinge-random"),
    _e("hinge", "optax", "optax.losses.hinge_loss(predictor_outputs, targets)",
       "scores=predictor_outputs, target=targets (+-1); reduction='none'", "", _R + "rosetta.npz::optax-hinge_loss"),
    _e("hinge", "optax", "optax.losses.perceptron_loss(predictor_outputs, targets)",
       "scores=predictor_outputs, target=targets (+-1), margin=0.0; reduction='none'", "the perceptron criterion is the hinge at margin 0",
       _R + "rosetta.npz::optax-perceptron_loss"),
    _e("huber", "optax", "optax.losses.huber_loss(predictions, targets, delta=1.0)",
       "prediction=predictions, target=targets; reduction='none'", "", _R + "rosetta.npz::optax-huber_loss"),
    _e("mse", "optax", "optax.losses.squared_error(predictions, targets)",
       "prediction=predictions, target=targets; reduction='none'", "optax.losses.l2_loss is half of it", _R + "rosetta.npz::optax-squared_error"),
    _e("log_cosh", "optax", "optax.losses.log_cosh(predictions, targets)",
       "prediction=predictions, target=targets; reduction='none'", "", _R + "rosetta.npz::optax-log_cosh"),
    _e("ctc", "optax", "optax.losses.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=0)",
       "log_probs = log_softmax(logits) moved to (T, N, C); input_lengths = T - sum(logit_paddings); "
       "target_lengths = sum(1 - label_paddings); targets=labels; reduction='none'",
       "optax takes paddings (1 = padded) where nploss takes lengths", _R + "rosetta.npz::optax-ctc_loss"),
    _e("nt_xent", "optax", "optax.losses.ntxent(embeddings, labels, temperature=0.5)",
       "z=embeddings, the 2N views with labels concat(arange(N), arange(N)); temperature",
       "optax's temperature defaults to 0.07, nploss's to 0.5", _R + "rosetta.npz::optax-ntxent"),
    _e("triplet", "optax", "optax.losses.triplet_margin_loss(anchors, positives, negatives, eps=0.0)",
       "anchor=anchors, positive=positives, negative=negatives, eps=0.0; reduction='none'",
       "optax adds eps inside the root (|a - p|^2 + eps)^(1/2), PyTorch and nploss to every component: equal at eps=0",
       _R + "rosetta.npz::optax-triplet_margin_loss-eps0"),
    _e("cosine_embedding", "optax", "optax.losses.cosine_distance(predictions, targets)",
       "x1=predictions, x2=targets, y=+1 for every pair (optax has only the similar-pair term 1 - cos); reduction='none'",
       "optax's epsilon=0 floors nothing; nploss adds 1e-12 to each squared norm", _R + "rosetta.npz::optax-cosine_distance"),
    _e("dice", "optax", "optax.losses.dice_loss(predictions, targets, smooth=1.0, apply_softmax=False, reduction='none')",
       f"prediction=predictions, target=targets; {_NCHW}; smooth=2 * smooth; reduction='none'",
       "optax's smooth s is nploss's smooth 2s; optax applies a softmax first unless apply_softmax=False",
       _R + "optax.npz::dice-probs-smooth1"),
    _e("dice", "optax", "optax.losses.binary_dice_loss(predictions, targets, smooth=1.0)",
       f"prediction=sigmoid(predictions), target=targets (one channel); {_NCHW}; smooth=2 * smooth; "
       "reduction='none' (one value per sample, as optax returns)",
       "optax's smooth s is nploss's smooth 2s", _R + "rosetta.npz::optax-binary_dice_loss"),
    _e("tversky", "optax", "optax.losses.dice_loss(predictions, targets, alpha=0.3, beta=0.7, smooth=0.5, apply_softmax=False, reduction='none')",
       f"prediction=predictions, target=targets; {_NCHW}; alpha, beta, smooth as they are; reduction='none'",
       "optax has no tversky_loss: its dice_loss with alpha and beta is the Tversky loss", _R + "optax.npz::dice-probs-a0.3-b0.7-smooth0.5"),
    # ------------------------------------------------------------------ pytorch-metric-learning
    _e("contrastive", "pytorch-metric-learning", "pytorch_metric_learning.losses.ContrastiveLoss()(concat(x1, x2), indices_tuple=pairs)",
       "x1, x2, y (1 similar); margin=1.0 (neg_margin), pos_margin=0.0, power=1, normalize=True, reduction='avg_nonzero'",
       "PML's defaults (not squared, normalised embeddings, mean over the non-zero losses); nploss's are Hadsell's squared hinge on raw distances, mean",
       _T + "metric.npz::contrastive-pml-n1-p0.0-m1.0"),
    _e("batch_triplet", "pytorch-metric-learning", "pytorch_metric_learning.losses.TripletMarginLoss(margin=0.4)(embeddings, labels)",
       "embeddings, labels; margin=0.4, strategy='all', normalize=True, reduction='avg_nonzero'",
       "PML's defaults: margin 0.05, normalised embeddings, mean over the non-zero triplets; nploss's: margin 1.0, raw, mean",
       _T + "metric.npz::batch_triplet-pml-all-norm-avg_nonzero"),
    _e("batch_triplet", "pytorch-metric-learning", "pytorch_metric_learning.losses.TripletMarginLoss(smooth_loss=True)(embeddings, labels)",
       "embeddings, labels; margin=0.05, normalize=True, smooth=True, reduction='avg_nonzero' (PML's defaults)",
       "", _T + "triplet_options.npz::batch_triplet-smooth-all-pmldefault-avg_nonzero"),
    _e("lifted_structured", "pytorch-metric-learning", "pytorch_metric_learning.losses.LiftedStructureLoss(distance=LpDistance(normalize_embeddings=True))(embeddings, labels)",
       "embeddings, labels; margin=1.0, normalize=True", "nploss's default normalize=False", _T + "metric.npz::lifted_structured-pml-norm"),
    _e("fastap", "pytorch-metric-learning", "pytorch_metric_learning.losses.FastAPLoss()(embeddings, labels)", "embeddings, labels; num_bins=10 as PML", "",
       _T + "average_precision.npz::fastap-default"),
    _e("smooth_ap", "pytorch-metric-learning", "pytorch_metric_learning.losses.SmoothAPLoss(temperature=0.01)(embeddings, labels)",
       "embeddings, labels (class-sorted, as many classes as samples per class); temperature", "", _T + "average_precision.npz::smooth_ap-c4-t0.01"),
    _e("pnp", "pytorch-metric-learning", "pytorch_metric_learning.losses.PNPLoss()(embeddings, labels)", "embeddings, labels; PML's defaults (b=2, alpha=1, anneal=0.01, 'O')", "",
       _T + "average_precision.npz::pnp-default"),
    _e("nca", "pytorch-metric-learning", "pytorch_metric_learning.losses.NCALoss()(embeddings, labels)", "embeddings, labels; softmax_scale=1, normalize=True", "",
       _T + "manifold.npz::nca-default-mean"),
    _e("instance", "pytorch-metric-learning", "pytorch_metric_learning.losses.InstanceLoss()(embeddings, labels)", "embeddings, labels; gamma=64", "",
       _T + "manifold.npz::instance-default-mean"),
    _e("vicreg", "pytorch-metric-learning", "pytorch_metric_learning.losses.VICRegLoss()(embeddings, ref_emb=ref_emb)", "embeddings, ref_emb; PML's defaults (25, 25, 1, eps 1e-4)", "",
       _T + "manifold.npz::vicreg-default"),
    _e("manifold", "pytorch-metric-learning", "pytorch_metric_learning.losses.ManifoldLoss(l=D, K=C)(embeddings, indices_tuple=meta_classes), its proxies set to proxies",
       "embeddings, proxies (C, D), meta_classes, l=D (the embedding size); lambdaC=1, alpha=0.8, margin=5e-4",
       "PML inverts I - alpha S in float32 (about 1e-7 relative); the fixture runs it in float64", _T + "manifold.npz::manifold-default"),
    _e("n_pair", "pytorch-metric-learning", "pytorch_metric_learning.losses.NPairsLoss()(concat(anchors, positives), concat(arange(N), arange(N)))",
       "anchors, positives; l2_reg=0", "", _T + "metric_softmax.npz::n_pair-l20-mean"),
    _e("nt_xent", "pytorch-metric-learning", "pytorch_metric_learning.losses.NTXentLoss(temperature=0.5)(z, concat(arange(N), arange(N)))",
       "z (rows i and i + N are the two views); temperature", "PML's temperature defaults to 0.07, nploss's to 0.5",
       _T + "metric_softmax.npz::nt_xent-t0.5-mean"),
    _e("supcon", "pytorch-metric-learning", "pytorch_metric_learning.losses.SupConLoss(temperature=0.1)(features, labels)",
       "features, labels; temperature", "PML's temperature defaults to 0.1, nploss's to 0.07", _T + "metric_softmax.npz::supcon-t0.1-mean"),
    _e("cosface", "pytorch-metric-learning", "pytorch_metric_learning.losses.CosFaceLoss(C, D, margin=0.35, scale=64)(embeddings, labels)",
       "embeddings, weight = W.T (PML keeps W as (D, C)), labels; scale, margin", "PML's scale defaults to 64, nploss's to 30",
       _T + "metric_softmax.npz::cosface-s64-m0.35-mean"),
    _e("arcface", "pytorch-metric-learning", "pytorch_metric_learning.losses.ArcFaceLoss(C, D, margin=28.6, scale=64)(embeddings, labels)",
       "embeddings, weight = W.T, labels; margin in radians = radians(PML's margin in degrees): 0.5 = 28.65 degrees",
       "PML's margin is in degrees (28.6), nploss's in radians (0.5)", _T + "metric_softmax.npz::arcface-s64-m0.5-mean"),
    _e("normalized_softmax", "pytorch-metric-learning", "pytorch_metric_learning.losses.NormalizedSoftmaxLoss(C, D)(embeddings, labels)",
       "embeddings, weight = W.T, labels; temperature=0.05", "", _T + "margin_classifiers.npz::normalized_softmax-default-mean"),
    _e("large_margin_softmax", "pytorch-metric-learning", "pytorch_metric_learning.losses.LargeMarginSoftmaxLoss(C, D)(embeddings, labels)",
       "embeddings, weight = W.T, labels; margin=4, scale=1", "", _T + "margin_classifiers.npz::large_margin_softmax-default-random-mean"),
    _e("sphereface", "pytorch-metric-learning", "pytorch_metric_learning.losses.SphereFaceLoss(C, D)(embeddings, labels)",
       "embeddings, weight = W.T, labels; margin=4, scale=1", "", _T + "margin_classifiers.npz::sphereface-default-random-mean"),
    _e("sub_center_arcface", "pytorch-metric-learning", "pytorch_metric_learning.losses.SubCenterArcFaceLoss(C, D, sub_centers=3)(embeddings, labels)",
       "embeddings, weight = W.T (C * K rows), labels; margin in degrees (28.6) as PML, scale=64",
       "unlike nploss's arcface, this margin is in degrees, as PML's", _T + "margin_classifiers.npz::sub_center_arcface-k3-random-mean"),
    _e("p2s_grad", "pytorch-metric-learning", "pytorch_metric_learning.losses.P2SGradLoss(D, C)(embeddings, labels)",
       "embeddings, weight (unit rows: PML renormalises its W in place), labels", "", _T + "margin_classifiers.npz::p2s_grad-random-mean"),
    _e("snr_contrastive", "pytorch-metric-learning", "pytorch_metric_learning.losses.SignalToNoiseRatioContrastiveLoss()(embeddings, labels)",
       "embeddings, labels; pos_margin=0, neg_margin=1", "", _T + "pml_pairs.npz::snr_contrastive-default"),
    _e("generalized_lifted_structured", "pytorch-metric-learning", "pytorch_metric_learning.losses.GeneralizedLiftedStructureLoss()(embeddings, labels)",
       "embeddings, labels; neg_margin=1, pos_margin=0", "", _T + "pml_pairs.npz::generalized_lifted_structured-default"),
    _e("margin_loss", "pytorch-metric-learning", "pytorch_metric_learning.losses.MarginLoss()(embeddings, labels) with its beta set to beta",
       "embeddings, labels, beta (PML's attribute, an argument here); margin=0.2", "", _T + "pml_pairs.npz::margin_loss-default"),
    _e("angular", "pytorch-metric-learning", "pytorch_metric_learning.losses.AngularLoss()(embeddings, labels)", "embeddings, labels; alpha=40 (degrees)", "",
       _T + "pml_pairs.npz::angular-default"),
    _e("proxy_nca", "pytorch-metric-learning", "pytorch_metric_learning.losses.ProxyNCALoss(C, D)(embeddings, labels)",
       "embeddings, weight = the proxies (C, D), labels; softmax_scale=1", "", _T + "proxies.npz::proxy_nca-default"),
    _e("proxy_anchor", "pytorch-metric-learning", "pytorch_metric_learning.losses.ProxyAnchorLoss(C, D)(embeddings, labels)",
       "embeddings, weight = the proxies, labels; margin=0.1, alpha=32", "", _T + "proxies.npz::proxy_anchor-default"),
    _e("soft_triple", "pytorch-metric-learning", "pytorch_metric_learning.losses.SoftTripleLoss(C, D)(embeddings, labels)",
       "embeddings, weight = fc.T (C * K, D), labels; K=10, la=20, gamma=0.1, margin=0.01", "", _T + "proxies.npz::soft_triple-default"),
    _e("ranked_list", "pytorch-metric-learning", "pytorch_metric_learning.losses.RankedListLoss(margin=0.4, Tn=10)(embeddings, labels)",
       "embeddings, labels; margin, Tn (PML requires both)", "", _T + "ranked.npz::ranked_list_default"),
    _e("histogram", "pytorch-metric-learning", "pytorch_metric_learning.losses.HistogramLoss()(embeddings, labels)", "embeddings, labels; delta=0.02 as PML", "",
       _T + "ranked.npz::histogram_default"),
    _e("dynamic_soft_margin", "pytorch-metric-learning", "pytorch_metric_learning.losses.DynamicSoftMarginLoss()(embeddings, labels)",
       "embeddings, labels, hist=None (PML's fresh state)", "PML keeps the histogram in the module; nploss takes and returns it",
       _T + "ranked.npz::dynamic_soft_margin_default"),
    _e("threshold_consistent_margin", "pytorch-metric-learning", "pytorch_metric_learning.losses.ThresholdConsistentMarginLoss()(embeddings, labels)",
       "embeddings, labels; PML's defaults", "", _T + "ranked.npz::threshold_consistent_margin_default"),
    _e("multi_similarity", "pytorch-metric-learning", "pytorch_metric_learning.losses.MultiSimilarityLoss()(embeddings, labels)",
       "embeddings, labels; alpha=2, beta=50, base=0.5", "", _T + "similarity.npz::multi_similarity-b8"),
    _e("circle", "pytorch-metric-learning", "pytorch_metric_learning.losses.CircleLoss()(embeddings, labels)", "embeddings, labels; m=0.4, gamma=80", "",
       _T + "similarity.npz::circle-b8"),
    _e("tuplet_margin", "pytorch-metric-learning", "pytorch_metric_learning.losses.TupletMarginLoss()(embeddings, labels)",
       "embeddings, labels; margin=5.73 (degrees), scale=64", "", _T + "similarity.npz::tuplet_margin-b8"),
    _e("intra_pair_variance", "pytorch-metric-learning", "pytorch_metric_learning.losses.IntraPairVarianceLoss()(embeddings, labels)",
       "embeddings, labels; pos_eps=0.01, neg_eps=0.01", "", _T + "similarity.npz::intra_pair_variance-b8"),
    # ------------------------------------------------------------------ kornia
    _e("ssim", "kornia", "2 * kornia.losses.ssim_loss(x, y, 11, eps=0.0, padding='valid')",
       "x, y; window_size=11, sigma=1.5, data_range=max_val",
       "kornia's ssim_loss is (1 - SSIM) / 2 per pixel with 'same' padding by default; nploss's ssim is 1 - SSIM over the valid window",
       _T + "segmentation.npz::kornia-ssim-mean"),
    _e("ms_ssim", "kornia", "kornia.losses.MS_SSIMLoss(alpha=1.0, compensation=1.0)(x, y)", "x, y; sigmas (0.5, ..., 8), data_range=1",
       "", _T + "image.npz::ms_ssim-mean"),
    _e("ms_ssim_l1", "kornia", "kornia.losses.MS_SSIMLoss()(x, y)", "x, y; alpha=0.025, compensation=200 as kornia", "",
       _T + "image.npz::ms_ssim_l1-mean"),
    _e("psnr", "kornia", "kornia.losses.psnr_loss(input, target, max_val=1.0)", "prediction=input, target=target, max_val",
       "both are minus the PSNR", _T + "image.npz::psnr-max1.0"),
    _e("total_variation", "kornia", "kornia.losses.total_variation(img, reduction='sum')", "image=img, spatial='sum', reduction='none'", "",
       _T + "image.npz::total_variation-sum"),
    _e("inverse_depth_smoothness", "kornia", "kornia.losses.inverse_depth_smoothness_loss(idepth, image)", "same order and names", "",
       _T + "image.npz::inverse_depth_smoothness"),
    _e("mutual_information", "kornia", "kornia.losses.mutual_information_loss_2d(input, target)",
       "prediction=input, target=target; num_bins=64, window_radius=1; reduction='none'", "", _T + "image.npz::mutual_information-default"),
    _e("normalized_mutual_information", "kornia", "kornia.losses.normalized_mutual_information_loss_2d(input, target)",
       "prediction=input, target=target; reduction='none'", "", _T + "image.npz::normalized_mutual_information-default"),
    _e("dice", "kornia", "kornia.losses.dice_loss(pred, target, average='macro')",
       "prediction=softmax(pred, axis=1), target=one_hot(target) (kornia takes logits and labels), smooth=1e-8", "kornia's eps=1e-8 is the smoothing",
       _T + "segmentation.npz::kornia-dice-macro"),
    _e("tversky", "kornia", "kornia.losses.tversky_loss(pred, target, alpha=0.3, beta=0.7, eps=1e-8)",
       "prediction=softmax(pred, axis=1), target=one_hot(target), alpha, beta, smooth=1e-8", "", _T + "segmentation.npz::kornia-tversky-a0.3-b0.7"),
    _e("lovasz_hinge", "kornia", "kornia.losses.lovasz_hinge_loss(pred, target)", "logits=pred[:, 0], target (B, H, W)", "",
       _T + "overlap.npz::kornia-lovasz_hinge"),
    _e("lovasz_softmax", "kornia", "kornia.losses.lovasz_softmax_loss(pred, target)",
       "prediction=softmax(pred, axis=1), target; per_image=True, classes='all'",
       "kornia averages per image over every class; nploss's defaults are the whole batch and the present classes",
       _T + "overlap.npz::kornia-lovasz_softmax"),
    _e("hausdorff_erosion", "kornia", "kornia.losses.HausdorffERLoss(alpha=2.0, k=10)(pred, target), its kernel built in float64",
       "prediction=pred (probabilities), target=target[:, 0]; alpha, k", "kornia builds its erosion kernel in float32 (0.2 is 0.20000000298): about 5e-8 relative",
       _T + "overlap.npz::kornia-hausdorff_erosion-a2-k10-mean"),
    _e("charbonnier", "kornia", "kornia.losses.charbonnier_loss(img1, img2, reduction='mean')", "prediction=img1, target=img2",
       "kornia's default reduction is 'none'", _T + "regression_more.npz::charbonnier-mean"),
    _e("cauchy", "kornia", "kornia.losses.cauchy_loss(img1, img2, reduction='mean')", "prediction=img1, target=img2",
       "kornia's default reduction is 'none'", _T + "regression_more.npz::cauchy-mean"),
    _e("geman_mcclure", "kornia", "kornia.losses.geman_mcclure_loss(img1, img2, reduction='mean')", "prediction=img1, target=img2",
       "kornia's default reduction is 'none'", _T + "regression_more.npz::geman_mcclure-mean"),
    _e("welsch", "kornia", "kornia.losses.welsch_loss(img1, img2, reduction='mean')", "prediction=img1, target=img2",
       "kornia's default reduction is 'none'", _T + "regression_more.npz::welsch-mean"),
    _e("js_div", "kornia", "kornia.losses.js_div_loss_2d(pred, target, reduction='none')",
       "input=pred, target=target, each (H, W) map flattened to a row: reshape (B, C, H, W) to (B * C, H * W); reduction='none'", "",
       _R + "structured.npz::js_div-heatmaps"),
    _e("kl_div", "kornia", "kornia.losses.kl_div_loss_2d(pred, target, reduction='none')",
       "input=log(pred), target=target (kornia's is KL(target || pred) of heatmaps); reduction='none', summed over (H, W)",
       "", _R + "rosetta.npz::kornia-kl_div_loss_2d"),
    _e("sigmoid_focal", "kornia", "kornia.losses.binary_focal_loss_with_logits(pred, target, alpha=0.25, gamma=2.0, reduction='none')",
       "logits=pred, target=target; reduction='none'", "", _R + "rosetta.npz::kornia-binary_focal_loss_with_logits"),
    _e("softmax_focal", "kornia", "kornia.losses.focal_loss(pred, target, alpha=0.25, gamma=2.0, reduction='none').sum(1)",
       "logits=pred, target=target; alpha=[1 - 0.25, 0.25, ..., 0.25] (kornia weighs class 0 by 1 - alpha, the others by alpha); "
       "kornia's 'none' keeps a class axis that holds the loss at the target class only: sum it",
       "kornia's scalar alpha treats class 0 as the background; nploss's alpha is per class, default None (no weighting)",
       _R + "rosetta.npz::kornia-focal_loss"),
    # ------------------------------------------------------------------ segmentation-models-pytorch
    _e("dice", "segmentation-models-pytorch", "smp.losses.DiceLoss('multiclass', smooth=1.0)(y_pred, y_true)",
       f"prediction=softmax(y_pred, axis=1), target=one_hot(y_true); {_BATCH_FOLDED}; smooth=2 * smp's smooth",
       "smp computes Dice as Tversky(0.5, 0.5): its smooth s is nploss's 2s; its default is 0 (eps=1e-7 floors the ratio); "
       "it zeroes the classes absent from the target",
       _R + "rosetta.npz::smp-DiceLoss-multiclass"),
    _e("tversky", "segmentation-models-pytorch", "smp.losses.TverskyLoss('multiclass', smooth=1.0, alpha=0.3, beta=0.7)(y_pred, y_true)",
       f"prediction=softmax(y_pred, axis=1), target=one_hot(y_true); {_BATCH_FOLDED}; alpha, beta, smooth",
       "smp's smooth defaults to 0", _R + "rosetta.npz::smp-TverskyLoss-multiclass"),
    _e("tversky", "segmentation-models-pytorch", "smp.losses.JaccardLoss('multiclass', smooth=1.0)(y_pred, y_true)",
       f"prediction=softmax(y_pred, axis=1), target=one_hot(y_true); {_BATCH_FOLDED}; alpha=1.0, beta=1.0 (the Jaccard "
       "index (I + s) / (P + T - I + s) is Tversky's at alpha = beta = 1), smooth",
       "smp's smooth defaults to 0; it zeroes the classes absent from the target", _R + "rosetta.npz::smp-JaccardLoss-multiclass"),
    _e("focal_tversky", "segmentation-models-pytorch",
       "smp.losses.TverskyLoss('binary', from_logits=False, alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0)(y_pred, y_true)",
       f"prediction=y_pred, target=y_true; {_BATCH_FOLDED}; alpha, beta, gamma, smooth", "", _T + "overlap.npz::smp-focal_tversky-g0.75"),
    _e("mcc", "segmentation-models-pytorch", "smp.losses.MCCLoss(eps=1e-5)(y_pred, y_true)",
       f"prediction=y_pred, target=y_true; {_BATCH_FOLDED}; eps", "", _T + "overlap.npz::smp-mcc-eps1e-05"),
    _e("lovasz_hinge", "segmentation-models-pytorch", "smp.losses.LovaszLoss('binary', per_image=False)(y_pred, y_true)",
       "logits=y_pred[:, 0], target=y_true[:, 0]; per_image=False", "", _T + "overlap.npz::smp-lovasz_hinge-per_imageFalse"),
    _e("lovasz_softmax", "segmentation-models-pytorch", "smp.losses.LovaszLoss('multiclass', per_image=False)(y_pred, y_true)",
       "prediction=softmax(y_pred, axis=1), target=y_true; per_image=False", "", _T + "overlap.npz::smp-lovasz_softmax-per_imageFalse"),
    _e("sigmoid_focal", "segmentation-models-pytorch", "smp.losses.FocalLoss('binary', alpha=0.25, gamma=2.0)(y_pred, y_true)",
       "logits=y_pred, target=y_true; alpha, gamma", "smp's alpha defaults to None (no weighting), nploss's to 0.25",
       _R + "rosetta.npz::smp-FocalLoss-binary"),
    _e("binary_cross_entropy_with_logits", "segmentation-models-pytorch", "smp.losses.SoftBCEWithLogitsLoss()(y_pred, y_true)",
       "logits=y_pred, target=y_true", "", _R + "rosetta.npz::smp-SoftBCEWithLogitsLoss"),
    _e("cross_entropy", "segmentation-models-pytorch", "smp.losses.SoftCrossEntropyLoss(smooth_factor=0.1)(y_pred, y_true)",
       "logits=y_pred, target=y_true; label_smoothing=smooth_factor", "", _R + "rosetta.npz::smp-SoftCrossEntropyLoss-smooth0.1"),
    # ------------------------------------------------------------------ scikit-learn (values only)
    _e("binary_cross_entropy", "scikit-learn", "sklearn.metrics.log_loss(y_true, y_pred)",
       f"{_SK_ORDER} (probabilities of class 1)", "", _R + "rosetta.npz::sklearn-log_loss-binary"),
    _e("sparse_categorical_cross_entropy", "scikit-learn", "sklearn.metrics.log_loss(y_true, y_pred, labels=range(C))",
       f"{_SK_ORDER} (probabilities (N, C), integer labels)", "scikit-learn renormalises the rows and clips at float64 eps; nploss at 1e-7",
       _R + "rosetta.npz::sklearn-log_loss-multiclass"),
    _e("mse", "scikit-learn", "sklearn.metrics.mean_squared_error(y_true, y_pred)", _SK_ORDER, "",
       _R + "rosetta.npz::sklearn-mean_squared_error"),
    _e("mae", "scikit-learn", "sklearn.metrics.mean_absolute_error(y_true, y_pred)", _SK_ORDER, "",
       _R + "rosetta.npz::sklearn-mean_absolute_error"),
    _e("mse", "scikit-learn", "sklearn.metrics.brier_score_loss(y_true, y_proba)", "prediction=y_proba, target=y_true (0/1)",
       "the Brier score of a binary classifier is the mean squared error of its probabilities", _R + "rosetta.npz::sklearn-brier_score_loss"),
    _e("rmse", "scikit-learn", "sklearn.metrics.root_mean_squared_error(y_true, y_pred)", f"{_SK_ORDER} (1-D)",
       "for 2-D inputs scikit-learn averages the per-column roots (multioutput='uniform_average'), nploss takes one root of "
       "the mean over every element", _R + "rosetta.npz::sklearn-root_mean_squared_error-1d"),
    _e("hinge", "scikit-learn", "sklearn.metrics.hinge_loss(y_true, pred_decision)", "scores=pred_decision, target=y_true (+-1)",
       "scikit-learn maps any two labels to -1/+1 itself", _R + "margin.npz::binary"),
    _e("crammer_singer_hinge", "scikit-learn", "sklearn.metrics.hinge_loss(y_true, pred_decision)",
       "scores=pred_decision (N, C), target=y_true", "the multiclass hinge_loss of scikit-learn is Crammer-Singer", _R + "margin.npz::multiclass"),
    _e("quantile", "scikit-learn", "sklearn.metrics.mean_pinball_loss(y_true, y_pred, alpha=0.1)", f"{_SK_ORDER}; tau=alpha",
       "scikit-learn's alpha (0.5 by default) is the quantile tau", _R + "regression.npz::pinball-1d-t0.1"),
    _e("tweedie_deviance", "scikit-learn", "sklearn.metrics.mean_tweedie_deviance(y_true, y_pred, power=1.5)", f"{_SK_ORDER} (the mean mu); power",
       "", _R + "regression_more.npz::tweedie-p1.5"),
    _e("tweedie_deviance", "scikit-learn", "sklearn.metrics.mean_poisson_deviance(y_true, y_pred)", f"{_SK_ORDER}; power=1",
       "", _R + "regression_more.npz::poisson"),
    _e("gamma_deviance", "scikit-learn", "sklearn.metrics.mean_gamma_deviance(y_true, y_pred)", _SK_ORDER,
       "", _R + "regression_more.npz::gamma"),
    _e("msle", "scikit-learn", "sklearn.metrics.mean_squared_log_error(y_true, y_pred)", _SK_ORDER, "",
       _R + "regression_more.npz::msle-1d"),
    _e("rmsle", "scikit-learn", "sklearn.metrics.root_mean_squared_log_error(y_true, y_pred)", _SK_ORDER, "",
       _R + "regression_more.npz::rmsle-1d"),
    _e("mape", "scikit-learn", "sklearn.metrics.mean_absolute_percentage_error(y_true, y_pred)", f"{_SK_ORDER}; percent=False (a fraction)",
       "", _R + "regression_more.npz::mape-1d"),
)  # fmt: skip

TRAPS: tuple[Trap, ...] = (
    Trap("optax's multiclass_hinge_loss is Crammer-Singer", ("optax", "PyTorch"),
         "optax.losses.multiclass_hinge_loss is max_j(s_j + [j != y]) - s_y (nploss's crammer_singer_hinge, scikit-learn's "
         "multiclass hinge_loss); nploss's multiclass_hinge is Weston-Watkins, the sum over wrong classes divided by C, as "
         "PyTorch's multi_margin_loss. Same name, different numbers.", _R + "optax.npz::multiclass_hinge-random"),
    Trap("Keras's categorical_hinge floors the runner-up at 0", ("Keras 3", "optax"),
         "keras.losses.categorical_hinge is max(0, 1 + max(0, max_{j != y} s_j) - s_y): it equals Crammer-Singer only when "
         "some wrong score is non-negative, so it has no row here.", _R + "keras.npz::categorical_hinge"),
    Trap("Keras's Tversky swaps alpha and beta", ("Keras 3", "kornia", "optax"),
         "keras.losses.tversky(alpha=a, beta=b) weighs the false negatives by a and the false positives by b; kornia, optax's "
         "dice_loss and nploss put alpha on the false positives: keras alpha=a, beta=b is tversky(alpha=b, beta=a).",
         _R + "keras.npz::tversky-a0.3-b0.7-axis23"),
    Trap("kornia's ssim_loss is (1 - SSIM) / 2 with 'same' padding", ("kornia",),
         "kornia.losses.ssim_loss returns (1 - SSIM) / 2 per pixel, zero-padded to the image size by default; nploss's ssim is "
         "1 - SSIM averaged over the valid windows: twice kornia's loss with padding='valid'.", _R + "rosetta.npz::kornia-ssim_loss-default"),
    Trap("PML's ArcFace margin is in degrees", ("pytorch-metric-learning",),
         "losses.ArcFaceLoss(margin=28.6) is in degrees; nploss's arcface margin is in radians (0.5 = 28.65 degrees). "
         "nploss's sub_center_arcface, tuplet_margin and angular keep PML's degrees.", _T + "metric_softmax.npz::arcface-s64-m0.5-mean"),
    Trap("(y_true, y_pred) against (prediction, target)", ("Keras 3", "scikit-learn", "PyTorch"),
         "Keras and scikit-learn take the target first, PyTorch, optax and nploss the prediction first: swapping them "
         "changes every asymmetric loss (cross entropy, Poisson, MAPE) without an error.", _R + "keras.npz::cce-onehot"),
    Trap("kl_div's 'mean' divides by the number of elements", ("PyTorch",),
         "torch.nn.functional.kl_div(reduction='mean') and nploss's kl_div(reduction='mean') divide the sum by N * C; the "
         "KL divergence per sample is reduction='batchmean' (Keras and optax give one value per row).",
         _T + "classification.npz::kl-mean"),
    Trap("Keras's Poisson takes the rate", ("Keras 3", "PyTorch"),
         "keras.losses.poisson(y_true, y_pred) takes the rate lambda (y_pred - y log(y_pred + 1e-7)); PyTorch's poisson_nll_loss "
         "and nploss's poisson_nll take the log rate by default: pass log_input=False, eps=1e-7.", _R + "rosetta.npz::keras-poisson"),
    Trap("PML's triplet loss defaults to margin 0.05 on normalised embeddings", ("pytorch-metric-learning", "PyTorch"),
         "losses.TripletMarginLoss() uses margin=0.05, L2-normalised embeddings and the mean over the non-zero triplets; "
         "PyTorch's triplet_margin_loss and nploss's batch_triplet use margin 1.0 on raw embeddings and the plain mean.",
         _T + "triplet_options.npz::batch_triplet-smooth-all-pmldefault-avg_nonzero"),
    Trap("optax's sigmoid_focal_loss has no alpha by default", ("optax", "segmentation-models-pytorch", "Keras 3"),
         "optax.losses.sigmoid_focal_loss(alpha=None), smp's FocalLoss(alpha=None) and Keras's binary_focal_crossentropy "
         "(apply_class_balancing=False) do not weigh the classes; torchvision, kornia and nploss use alpha=0.25.",
         _R + "rosetta.npz::optax-sigmoid_focal_loss-default"),
    Trap("Keras's categorical focal loss scales by 0.25", ("Keras 3",),
         "keras.losses.categorical_focal_crossentropy has alpha=0.25 multiplying every class; nploss's softmax_focal has no "
         "weight by default: its values are 4 times Keras's.", _R + "rosetta.npz::keras-categorical_focal_crossentropy"),
    Trap("kornia's focal_loss weighs class 0 by 1 - alpha", ("kornia",),
         "kornia.losses.focal_loss(alpha=a) treats class 0 as the background: weight 1 - a for it, a for every other class "
         "(relabelling the classes changes the loss); its 'none' output keeps a class axis, zero off the target class.",
         _R + "rosetta.npz::kornia-focal_loss"),
    Trap("scikit-learn's 2-D RMSE averages per-column roots", ("scikit-learn", "Keras 3"),
         "sklearn.metrics.root_mean_squared_error on (N, D) inputs is the mean over columns of each column's RMSE "
         "(multioutput='uniform_average'); Keras's RootMeanSquaredError and nploss's rmse take one root of the mean over "
         "every element.", _R + "rosetta.npz::sklearn-root_mean_squared_error"),
    Trap("optax's l2_loss is half the squared error", ("optax",),
         "optax.losses.l2_loss is (p - t)^2 / 2; optax.losses.squared_error, PyTorch's mse_loss and nploss's mse have no 1/2.",
         _R + "rosetta.npz::optax-l2_loss"),
    Trap("optax's triplet eps sits inside the root", ("optax", "PyTorch"),
         "optax.losses.triplet_margin_loss computes (sum (a - p)^2 + eps)^(1/2) with eps=1e-6; PyTorch and nploss add eps to "
         "every component of a - p. They agree at eps=0 only.", _R + "rosetta.npz::optax-triplet_margin_loss-default"),
    Trap("Huber is delta times Smooth L1", ("PyTorch",),
         "huber_loss(delta) = delta * smooth_l1_loss(beta=delta): the two names agree at 1 only.", _T + "regression.npz::huber-d2.0-mean"),
    Trap("optax's multiclass_generalized_dice_loss is not Sudre's generalised Dice", ("optax",),
         "optax weighs the per-class Dice losses by batch-wide inverse volumes and averages them; Sudre's generalised Dice "
         "(nploss's generalized_dice) sums the weighted overlaps before the ratio.", _R + "overlap.npz::generalized_dice-smooth1"),
    Trap("optax's dice_loss smooth is half nploss's", ("optax",),
         "optax.losses.dice_loss(smooth=s) is (I + s) / ((P + T) / 2 + s), nploss's dice(smooth=2 * s); optax also applies a "
         "softmax (a sigmoid for one channel) unless apply_softmax=False.", _R + "optax.npz::dice-probs-smooth1"),
    Trap("smp's Dice sums over the batch and drops absent classes", ("segmentation-models-pytorch",),
         "smp.losses.DiceLoss sums over the batch and the pixels together (one Dice per class), computes it as Tversky(0.5, "
         "0.5) so that its smooth s is nploss's 2s (default 0), and sets the loss of classes absent from the target to 0; "
         "nploss's dice is per sample and class.", _R + "rosetta.npz::smp-DiceLoss-multiclass"),
    Trap("optax's sparsemax_loss is the binary loss", ("optax",),
         "optax.losses.sparsemax_loss takes one logit per sample (nploss's binary_sparsemax_loss); the multi-class loss is "
         "multiclass_sparsemax_loss (nploss's sparsemax_loss).", _R + "structured.npz::binary_sparsemax_loss-random"),
    Trap("Keras maps {0, 1} hinge labels to {-1, +1}", ("Keras 3",),
         "keras.losses.hinge and squared_hinge silently turn 0/1 labels into -1/+1; nploss refuses 0/1 labels.",
         _R + "keras.npz::squared_hinge-01"),
    Trap("kornia's Hausdorff kernel is float32", ("kornia",),
         "kornia.losses.HausdorffERLoss builds its erosion kernel in float32 (0.2 is 0.20000000298), so even in float64 it "
         "differs from the exact formula by about 5e-8 relative.", _T + "overlap.npz::kornia_float32_kernel-hausdorff_erosion"),
)  # fmt: skip


def equivalents_of(loss: str) -> list[Equivalent]:
    """The rows for one loss, in the order of :data:`LIBRARIES`."""
    return sorted((e for e in EQUIVALENTS if e.loss == loss), key=lambda e: LIBRARIES.index(e.library))
