"""The equivalents table (nploss/equivalents.py): every row's claim, recomputed.

Each row names a committed fixture (``path::case``) that holds the library's inputs, its value and,
where the library differentiates, the gradient of ``sum(value * cotangent)``. ``CALLS`` below maps
each fixture to nploss's side of the row, written from the row's argument mapping: a function of the
row's loss and of the library's own inputs, by their library names. The test evaluates it on the
stored inputs and compares value and gradients with the library's. The fixtures come from
tests/fixtures/make_*.py; none of those libraries is imported here.
"""

from __future__ import annotations

import pathlib
from collections import Counter

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L
from nploss.equivalents import EQUIVALENTS, LIBRARIES, TRAPS, Equivalent, equivalents_of
from nploss.losses import REGISTRY

ROOT = pathlib.Path(__file__).resolve().parent.parent
RTOL, ATOL = 1e-6, 1e-10


def _load(fixture: str) -> dict:
    """``{"input": {...}, "grad": {...}, "value": ..., "cotangent": ...}`` of ``path::case``, whichever
    layout the file uses (``case/input/x`` and ``case/grad/x``, or ``case/x`` and ``case/grad_x``)."""
    path, case = fixture.split("::")
    out: dict = {"input": {}, "grad": {}, "value": None, "cotangent": None}
    with np.load(ROOT / path) as data:
        for key in data.files:
            if not key.startswith(case + "/"):
                continue
            sub = key[len(case) + 1 :]
            if sub in ("value", "cotangent"):
                out[sub] = data[key]
            elif sub.startswith(("grad/", "grad_")):
                out["grad"][sub[5:]] = data[key]
            elif sub.startswith(("input/", "param/")):
                out["input"][sub.split("/", 1)[1]] = data[key]
            elif sub not in ("value_numpy", "jacobian"):
                out["input"][sub] = data[key]
    return out


# ---------------------------------------------------------------------------- the mappings
def _row_mean(x):
    return ag.mean(x, axis=-1)


def _row_sum(x):
    return ag.sum(x, axis=-1)


def _one_hot_nchw(labels, classes):
    return np.moveaxis(np.eye(classes)[np.asarray(labels)], -1, 1)


def _nchw(x):
    return ag.transpose(x, (0, 3, 1, 2)) if isinstance(x, ag.Tensor) else np.moveaxis(x, -1, 1)


def _batch_folded(x):
    """(N, C, *) to (1, C, N * P): smp sums over the batch and the pixels together."""
    c = x.shape[1]
    return ag.reshape(ag.swapaxes(ag.reshape(x, (x.shape[0], c, -1)), 0, 1), (1, c, -1))


def _flat(x):
    return ag.reshape(x, (1, 1, -1))


def _omega_shannon(y):
    y = ag.as_data(y)
    return np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0), axis=-1)


def _manifold(f, embeddings, proxies, meta_classes):
    return f(embeddings, proxies, meta_classes, embeddings.shape[1])


def _adaptive(f, features, target, head_weight, **tails):
    return f(features, target, head_weight, [tails["tail_projection_0"], tails["tail_projection_1"]],
             [tails["tail_output_0"], tails["tail_output_1"]], [3, 6])  # fmt: skip


def _optax_ctc(f, logits, logit_paddings, labels, label_paddings):
    log_probs = ag.swapaxes(ag.log_softmax(logits, axis=2), 0, 1)
    input_lengths = (logits.shape[1] - logit_paddings.sum(axis=1)).astype(np.int64)
    target_lengths = (1 - label_paddings).sum(axis=1).astype(np.int64)
    return f(log_probs, labels, input_lengths, target_lengths, reduction="none")


def _keras_ctc(f, y_true, y_pred):
    log_probs = ag.swapaxes(ag.log_softmax(y_pred, axis=2), 0, 1)
    input_lengths = np.full(y_pred.shape[0], y_pred.shape[1])
    return f(log_probs, y_true, input_lengths, (y_true != 0).sum(axis=1), reduction="none")


def _s(key):
    return key.split("::")[0].rsplit("/", 1)[1] + "::" + key.split("::")[1]


Q = {"alpha": np.full(4, 0.25)}  # Keras's and kornia's scalar alpha as nploss's per-class weights
KERAS_MEAN = {"rtol": 1e-6, "atol": 1e-9}  # Keras's ops.mean accumulates in float32 on JAX

# fixture (file name::case) -> (nploss side of the row, options). The options: rtol/atol (the
# library's own precision) and "grads" (the library inputs whose gradients the row claims; all by default).
CALLS = {
    # PyTorch
    "classification.npz::bce-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "classification.npz::bcel-mean": (lambda f, logits, target: f(logits, target), {}),
    "classification.npz::xent-mean": (lambda f, logits, target: f(logits, target), {}),
    "classification.npz::xent-prob-mean": (lambda f, logits, target: f(logits, target), {}),
    "classification.npz::nll-mean": (lambda f, log_probs, target: f(log_probs, target), {}),
    "classification.npz::kl-batchmean": (lambda f, input, target: f(input, target, reduction="batchmean"), {}),
    "classification_more.npz::linear_cross_entropy-mean": (
        lambda f, features, linear_weight, target, linear_bias: f(features, linear_weight, target, linear_bias), {}),
    "adaptive.npz::adaptive-two-mean": (_adaptive, {}),
    "ctc.npz::ctc-mean": (lambda f, logits, targets, input_lengths, target_lengths: f(
        ag.log_softmax(logits, axis=2), targets, input_lengths, target_lengths), {}),
    "margin.npz::logistic-mean": (lambda f, scores, target: f(scores, target), {}),
    "margin.npz::multiclass_hinge-p1-mean": (lambda f, scores, target: f(scores, target), {}),
    "classification_more.npz::multilabel_margin-mean": (lambda f, scores, target: f(scores, target), {}),
    "classification_more.npz::multilabel_soft_margin-mean": (lambda f, logits, target: f(logits, target), {}),
    "classification_more.npz::hinge_embedding-m1.0-mean": (lambda f, distance, target: f(distance, target), {}),
    "metric.npz::cosine_embedding-m0.0-mean": (lambda f, x1, x2, y: f(x1, x2, y), {}),
    "metric.npz::margin_ranking-m0.0-mean": (lambda f, x1, x2, y: f(x1, x2, y), {}),
    "metric.npz::triplet-mean": (lambda f, anchor, positive, negative: f(anchor, positive, negative), {}),
    "triplet_options.npz::triplet-distance-pairwise-s0-mean": (
        lambda f, anchor, positive, negative: f(anchor, positive, negative), {}),
    "regression.npz::mse-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "regression.npz::mae-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "regression.npz::huber-d1.0-mean": (lambda f, prediction, target: f(prediction, target, delta=1.0), {}),
    "regression.npz::smooth_l1-b1.0-mean": (lambda f, prediction, target: f(prediction, target, beta=1.0), {}),
    "regression.npz::poisson_nll-logTrue-fullFalse-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "regression.npz::gaussian_nll-fullFalse-mean": (lambda f, prediction, target, var: f(prediction, target, var), {}),
    "distribution.npz::gaussian_kl-none": (lambda f, mu, logvar: f(mu, logvar, reduction="none"), {}),
    "distribution.npz::gan_generator-mean": (lambda f, fake_logits: f(fake_logits), {}),
    "multitask.npz::gradnorm-sum": (lambda f, norms, targets: f(norms, targets), {}),
    "distribution.npz::reconstruction-mse-mean": (lambda f, output, input: f(output, input), {}),
    "distribution.npz::reconstruction-bce-mean": (lambda f, output, input: f(output, input, kind="bce"), {}),
    # Keras 3: (y_true, y_pred)
    "rosetta.npz::keras-binary_crossentropy": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "rosetta.npz::keras-binary_crossentropy-logits": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "rosetta.npz::keras-binary_focal_crossentropy": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, alpha=0.25, gamma=2.0, reduction="none")), KERAS_MEAN),
    "rosetta.npz::keras-categorical_focal_crossentropy": (
        lambda f, y_true, y_pred: f(y_pred, ag.as_data(y_true).argmax(-1), gamma=2.0, reduction="none", **Q), {}),
    "keras.npz::cce-onehot": (lambda f, y_true, y_pred: f(y_pred, y_true, reduction="none"), {}),
    "keras.npz::scce-probs": (lambda f, y_true, y_pred: f(y_pred, y_true, reduction="none"), {}),
    "keras.npz::scce-logits": (lambda f, y_true, y_pred: f(y_pred, y_true, reduction="none"), {}),
    "keras.npz::cce-logits": (lambda f, y_true, y_pred: f(y_pred, y_true, reduction="none"), {}),
    "structured.npz::gce-q0.5": (lambda f, y_true, y_pred: f(y_pred, y_true, q=0.5, reduction="none"), {}),
    "rosetta.npz::keras-kl_divergence": (
        lambda f, y_true, y_pred: _row_sum(f(ag.log(y_pred), y_true, reduction="none")), {}),
    "rosetta.npz::keras-poisson": (lambda f, y_true, y_pred: _row_mean(
        f(y_pred, y_true, log_input=False, eps=1e-7, reduction="none")), KERAS_MEAN),
    "rosetta.npz::keras-mean_squared_error": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "rosetta.npz::keras-mean_absolute_error": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "rosetta.npz::keras-huber": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, delta=1.0, reduction="none")), KERAS_MEAN),
    "keras.npz::log_cosh": (lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "regression_more.npz::keras-msle": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "regression_more.npz::keras-mape": (lambda f, y_true, y_pred: _row_mean(
        f(y_pred, y_true, percent=True, eps=1e-7, reduction="none")), KERAS_MEAN),
    "keras.npz::rmse-metric": (lambda f, y_true, y_pred: f(y_pred, y_true), KERAS_MEAN),
    "rosetta.npz::keras-hinge": (lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "keras.npz::squared_hinge-pm1": (
        lambda f, y_true, y_pred: _row_mean(f(y_pred, y_true, reduction="none")), KERAS_MEAN),
    "keras.npz::dice-all": (lambda f, y_true, y_pred: f(_flat(y_pred), _flat(y_true), smooth=1e-7), {"atol": 1e-8}),
    "keras.npz::tversky-a0.3-b0.7-axis23": (lambda f, y_true, y_pred: f(
        y_pred, y_true, alpha=0.7, beta=0.3, smooth=1e-12, reduction="none"), {"atol": 1e-6}),
    "keras.npz::regularizer-L1-default": (lambda f, w: f(w), {}),
    "keras.npz::regularizer-L2-default": (lambda f, w: f(w), {}),
    "keras.npz::regularizer-L1L2-0.02-0.05": (lambda f, w: f(w, l1=0.02, l2=0.05), {}),
    "rosetta.npz::keras-circle": (  # the value only: Keras differentiates the raw rows, nploss through their normalisation
        lambda f, y_true, y_pred: f(y_pred, y_true, detach=False, reduction="none"), {"grads": ()}),
    "rosetta.npz::keras-ctc": (_keras_ctc, {"rtol": 1e-5, "atol": 1e-6}),  # Keras's CTC runs in float32
    # optax
    "rosetta.npz::optax-sigmoid_binary_cross_entropy": (lambda f, logits, labels: f(logits, labels, reduction="none"), {}),
    "rosetta.npz::optax-softmax_cross_entropy": (lambda f, logits, labels: f(logits, labels, reduction="none"), {}),
    "rosetta.npz::optax-softmax_cross_entropy_with_integer_labels": (
        lambda f, logits, labels: f(logits, labels, reduction="none"), {}),
    "rosetta.npz::optax-sigmoid_focal_loss": (
        lambda f, logits, labels: f(logits, labels, alpha=0.25, gamma=2.0, reduction="none"), {}),
    "rosetta.npz::optax-kl_divergence": (
        lambda f, log_predictions, targets: _row_sum(f(log_predictions, targets, reduction="none")), {}),
    "rosetta.npz::optax-kl_divergence_with_log_targets": (lambda f, log_predictions, log_targets: _row_sum(
        f(log_predictions, log_targets, log_target=True, reduction="none")), {}),
    "structured.npz::generalized_kl-random": (
        lambda f, log_predictions, targets: f(log_predictions, targets, reduction="none"), {}),
    "structured.npz::poly1-onehot-eps2": (lambda f, logits, labels: f(logits, labels, epsilon=2.0, reduction="none"), {}),
    "structured.npz::sparsemax_loss-random": (lambda f, scores, labels: f(scores, labels, reduction="none"), {}),
    "structured.npz::binary_sparsemax_loss-random": (lambda f, logits, labels: f(logits, labels, reduction="none"), {}),
    "structured.npz::fenchel_young-shannon-soft": (lambda f, scores, targets: (
        f(scores, targets, "shannon", reduction="none") - _omega_shannon(targets)), {}),
    "structured.npz::ranking_softmax-graded": (lambda f, logits, labels: f(logits, labels, reduction="none"), {}),
    "structured.npz::multiclass_perceptron-random": (lambda f, scores, labels: f(scores, labels, reduction="none"), {}),
    "optax.npz::multiclass_hinge-random": (lambda f, scores, labels: f(scores, labels, reduction="none"), {}),
    "rosetta.npz::optax-hinge_loss": (
        lambda f, predictor_outputs, targets: f(predictor_outputs, targets, reduction="none"), {}),
    "rosetta.npz::optax-perceptron_loss": (
        lambda f, predictor_outputs, targets: f(predictor_outputs, targets, margin=0.0, reduction="none"), {}),
    "rosetta.npz::optax-safe_softmax_cross_entropy": (lambda f, logits, labels: f(logits, labels, reduction="none"), {}),
    "rosetta.npz::optax-binary_dice_loss": (
        lambda f, predictions, targets: ag.mean(f(_nchw(ag.sigmoid(predictions)), _nchw(targets), smooth=2.0,
                                                  reduction="none"), axis=1), {}),
    "rosetta.npz::optax-huber_loss": (
        lambda f, predictions, targets: f(predictions, targets, delta=1.0, reduction="none"), {}),
    "rosetta.npz::optax-squared_error": (lambda f, predictions, targets: f(predictions, targets, reduction="none"), {}),
    "rosetta.npz::optax-log_cosh": (lambda f, predictions, targets: f(predictions, targets, reduction="none"), {}),
    "rosetta.npz::optax-ctc_loss": (_optax_ctc, {}),
    "rosetta.npz::optax-ntxent": (lambda f, embeddings, labels: f(embeddings, temperature=0.5), {}),
    "rosetta.npz::optax-triplet_margin_loss-eps0": (lambda f, anchors, positives, negatives: f(
        anchors, positives, negatives, eps=0.0, reduction="none"), {}),
    "rosetta.npz::optax-cosine_distance": (lambda f, predictions, targets: f(
        predictions, targets, np.ones(len(predictions)), reduction="none"), {}),
    "optax.npz::dice-probs-smooth1": (
        lambda f, predictions, targets: f(_nchw(predictions), _nchw(targets), smooth=2.0, reduction="none"), {}),
    "optax.npz::dice-probs-a0.3-b0.7-smooth0.5": (lambda f, predictions, targets: f(
        _nchw(predictions), _nchw(targets), alpha=0.3, beta=0.7, smooth=0.5, reduction="none"), {}),
    # pytorch-metric-learning
    "metric.npz::contrastive-pml-n1-p0.0-m1.0": (lambda f, x1, x2, y: f(
        x1, x2, y, margin=1.0, pos_margin=0.0, power=1, normalize=True, reduction="avg_nonzero"), {}),
    "metric.npz::batch_triplet-pml-all-norm-avg_nonzero": (lambda f, embeddings, labels: f(
        embeddings, labels, margin=0.4, strategy="all", normalize=True, reduction="avg_nonzero"), {}),
    "triplet_options.npz::batch_triplet-smooth-all-pmldefault-avg_nonzero": (lambda f, embeddings, labels: f(
        embeddings, labels, margin=0.05, normalize=True, smooth=True, reduction="avg_nonzero"), {}),
    "metric.npz::lifted_structured-pml-norm": (
        lambda f, embeddings, labels: f(embeddings, labels, margin=1.0, normalize=True), {}),
    "average_precision.npz::fastap-default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "average_precision.npz::smooth_ap-c4-t0.01": (
        lambda f, embeddings, labels: f(embeddings, labels, temperature=0.01), {}),
    "average_precision.npz::pnp-default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "manifold.npz::nca-default-mean": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "manifold.npz::instance-default-mean": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "manifold.npz::vicreg-default": (lambda f, embeddings, ref_emb: f(embeddings, ref_emb), {}),
    "manifold.npz::manifold-default": (_manifold, {}),
    "metric_softmax.npz::n_pair-l20-mean": (lambda f, anchors, positives: f(anchors, positives, l2_reg=0.0), {}),
    "metric_softmax.npz::nt_xent-t0.5-mean": (lambda f, z: f(z, temperature=0.5), {}),
    "metric_softmax.npz::supcon-t0.1-mean": (lambda f, features, labels: f(features, labels, temperature=0.1), {}),
    "metric_softmax.npz::cosface-s64-m0.35-mean": (
        lambda f, embeddings, weight, labels: f(embeddings, weight, labels, scale=64.0, margin=0.35), {}),
    "metric_softmax.npz::arcface-s64-m0.5-mean": (
        lambda f, embeddings, weight, labels: f(embeddings, weight, labels, scale=64.0, margin=0.5), {}),
    "margin_classifiers.npz::normalized_softmax-default-mean": (lambda f, embeddings, weight, labels: f(
        embeddings, weight, labels), {}),
    "margin_classifiers.npz::large_margin_softmax-default-random-mean": (lambda f, embeddings, weight, labels: f(
        embeddings, weight, labels), {}),
    "margin_classifiers.npz::sphereface-default-random-mean": (lambda f, embeddings, weight, labels: f(
        embeddings, weight, labels), {}),
    "margin_classifiers.npz::sub_center_arcface-k3-random-mean": (lambda f, embeddings, weight, labels: f(
        embeddings, weight, labels, sub_centers=3), {}),
    "margin_classifiers.npz::p2s_grad-random-mean": (lambda f, embeddings, weight, labels: f(
        embeddings, weight, labels), {}),
    "pml_pairs.npz::snr_contrastive-default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "pml_pairs.npz::generalized_lifted_structured-default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "pml_pairs.npz::margin_loss-default": (lambda f, embeddings, labels, beta: f(embeddings, labels, beta), {}),
    "pml_pairs.npz::angular-default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "proxies.npz::proxy_nca-default": (lambda f, embeddings, weight, labels: f(embeddings, weight, labels), {}),
    "proxies.npz::proxy_anchor-default": (lambda f, embeddings, weight, labels: f(embeddings, weight, labels), {}),
    "proxies.npz::soft_triple-default": (lambda f, embeddings, weight, labels: f(embeddings, weight, labels), {}),
    "ranked.npz::ranked_list_default": (lambda f, embeddings, labels: f(embeddings, labels, margin=0.4, Tn=10.0), {}),
    "ranked.npz::histogram_default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "ranked.npz::dynamic_soft_margin_default": (lambda f, embeddings, labels: f(embeddings, labels, None), {}),
    "ranked.npz::threshold_consistent_margin_default": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "similarity.npz::multi_similarity-b8": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "similarity.npz::circle-b8": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "similarity.npz::tuplet_margin-b8": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    "similarity.npz::intra_pair_variance-b8": (lambda f, embeddings, labels: f(embeddings, labels), {}),
    # kornia
    "segmentation.npz::kornia-ssim-mean": (lambda f, x, y: f(x, y), {}),
    "image.npz::ms_ssim-mean": (lambda f, x, y: f(x, y), {}),
    "image.npz::ms_ssim_l1-mean": (lambda f, x, y: f(x, y), {}),
    "image.npz::psnr-max1.0": (lambda f, prediction, target: f(prediction, target, max_val=1.0), {}),
    "image.npz::total_variation-sum": (lambda f, image: f(image, spatial="sum", reduction="none"), {}),
    "image.npz::inverse_depth_smoothness": (lambda f, idepth, image: f(idepth, image), {}),
    "image.npz::mutual_information-default": (lambda f, prediction, target: f(prediction, target, reduction="none"), {}),
    "image.npz::normalized_mutual_information-default": (
        lambda f, prediction, target: f(prediction, target, reduction="none"), {}),
    "segmentation.npz::kornia-dice-macro": (lambda f, logits, labels: f(
        ag.softmax(logits, axis=1), _one_hot_nchw(labels, logits.shape[1]), smooth=1e-8), {}),
    "segmentation.npz::kornia-tversky-a0.3-b0.7": (lambda f, logits, labels: f(
        ag.softmax(logits, axis=1), _one_hot_nchw(labels, logits.shape[1]), alpha=0.3, beta=0.7, smooth=1e-8), {}),
    "overlap.npz::kornia-lovasz_hinge": (lambda f, logits, target: f(logits[:, 0], target), {}),
    "overlap.npz::kornia-lovasz_softmax": (lambda f, logits, labels: f(
        ag.softmax(logits, axis=1), labels, per_image=True, classes="all"), {}),
    "overlap.npz::kornia-hausdorff_erosion-a2-k10-mean": (
        lambda f, prediction, target: f(prediction, target[:, 0], 2.0, 10), {}),
    "regression_more.npz::charbonnier-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "regression_more.npz::cauchy-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "regression_more.npz::geman_mcclure-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "regression_more.npz::welsch-mean": (lambda f, prediction, target: f(prediction, target), {}),
    "structured.npz::js_div-heatmaps": (lambda f, pred, target: ag.reshape(f(
        ag.reshape(pred, (pred.shape[0] * pred.shape[1], -1)), ag.reshape(target, (pred.shape[0] * pred.shape[1], -1)),
        reduction="none"), pred.shape[:2]), {}),
    "rosetta.npz::kornia-binary_focal_loss_with_logits": (
        lambda f, pred, target: f(pred, target, alpha=0.25, gamma=2.0, reduction="none"), {}),
    "rosetta.npz::kornia-kl_div_loss_2d": (
        lambda f, pred, target: ag.sum(f(ag.log(pred), target, reduction="none"), axis=(2, 3)), {}),
    "rosetta.npz::kornia-focal_loss": (
        lambda f, pred, target: f(pred, target, gamma=2.0, alpha=np.array([0.75, 0.25, 0.25]), reduction="none"), {}),
    # segmentation-models-pytorch
    "rosetta.npz::smp-DiceLoss-multiclass": (lambda f, y_pred, y_true: f(
        _batch_folded(ag.softmax(y_pred, axis=1)), _batch_folded(_one_hot_nchw(y_true, y_pred.shape[1])), smooth=2.0), {}),
    "rosetta.npz::smp-TverskyLoss-multiclass": (lambda f, y_pred, y_true: f(
        _batch_folded(ag.softmax(y_pred, axis=1)), _batch_folded(_one_hot_nchw(y_true, y_pred.shape[1])),
        alpha=0.3, beta=0.7, smooth=1.0), {}),
    "rosetta.npz::smp-JaccardLoss-multiclass": (lambda f, y_pred, y_true: f(
        _batch_folded(ag.softmax(y_pred, axis=1)), _batch_folded(_one_hot_nchw(y_true, y_pred.shape[1])),
        alpha=1.0, beta=1.0, smooth=1.0), {}),
    "overlap.npz::smp-focal_tversky-g0.75": (
        lambda f, prediction, target: f(_batch_folded(prediction), _batch_folded(target), 0.3, 0.7, 0.75, 1.0), {}),
    "overlap.npz::smp-mcc-eps1e-05": (
        lambda f, prediction, target: f(_batch_folded(prediction), _batch_folded(target), 1e-5), {}),
    "overlap.npz::smp-lovasz_hinge-per_imageFalse": (
        lambda f, logits, target: f(logits[:, 0], target[:, 0], per_image=False), {}),
    "overlap.npz::smp-lovasz_softmax-per_imageFalse": (
        lambda f, logits, labels: f(ag.softmax(logits, axis=1), labels, per_image=False), {}),
    "rosetta.npz::smp-FocalLoss-binary": (lambda f, y_pred, y_true: f(y_pred, y_true, alpha=0.25, gamma=2.0), {}),
    "rosetta.npz::smp-SoftBCEWithLogitsLoss": (lambda f, y_pred, y_true: f(y_pred, y_true), {}),
    "rosetta.npz::smp-SoftCrossEntropyLoss-smooth0.1": (
        lambda f, y_pred, y_true: f(y_pred, y_true, label_smoothing=0.1), {}),
    # scikit-learn (values only)
    "rosetta.npz::sklearn-log_loss-binary": (lambda f, y_true, y_pred: f(y_pred, y_true), {}),
    "rosetta.npz::sklearn-log_loss-multiclass": (lambda f, y_true, y_pred: f(y_pred, y_true), {}),
    "rosetta.npz::sklearn-mean_squared_error": (lambda f, y_true, y_pred: f(y_pred, y_true), {}),
    "rosetta.npz::sklearn-mean_absolute_error": (lambda f, y_true, y_pred: f(y_pred, y_true), {}),
    "rosetta.npz::sklearn-brier_score_loss": (lambda f, y_true, y_proba: f(y_proba, y_true), {}),
    "rosetta.npz::sklearn-root_mean_squared_error-1d": (lambda f, y_true, y_pred: f(y_pred, y_true), {}),
    "margin.npz::binary": (lambda f, scores, target: f(scores, target.astype(np.float64)), {}),
    "margin.npz::multiclass": (lambda f, scores, target: f(scores, target), {}),
    "regression.npz::pinball-1d-t0.1": (
        lambda f, target, prediction, tau: f(prediction, target, tau=float(ag.as_data(tau))), {}),
    "regression_more.npz::tweedie-p1.5": (lambda f, target, prediction: f(prediction, target, power=1.5), {}),
    "regression_more.npz::poisson": (lambda f, target, prediction: f(prediction, target, power=1.0), {}),
    "regression_more.npz::gamma": (lambda f, target, prediction: f(prediction, target), {}),
    "regression_more.npz::msle-1d": (lambda f, target, prediction: f(prediction, target), {}),
    "regression_more.npz::rmsle-1d": (lambda f, target, prediction: f(prediction, target), {}),
    "regression_more.npz::mape-1d": (lambda f, target, prediction: f(prediction, target), {}),
}  # fmt: skip


def _check_row(row: Equivalent) -> None:
    call, options = CALLS[_s(row.fixture)]
    case = _load(row.fixture)
    assert case["value"] is not None, f"{row.fixture}: no value"
    claimed = options.get("grads", tuple(case["grad"]))
    inputs = {
        name: ag.Tensor(value, requires_grad=name in claimed) if value.dtype.kind == "f" else value
        for name, value in case["input"].items()
    }
    out = call(getattr(L, row.loss), **inputs)
    rtol, atol = options.get("rtol", RTOL), options.get("atol", ATOL)
    np.testing.assert_allclose(ag.as_data(out), case["value"], rtol=rtol, atol=atol, err_msg=f"{row.fixture}: value")
    assert case["cotangent"] is not None or not claimed, f"{row.fixture}: gradients without a cotangent"
    if claimed:
        grads = ag.grad(out, [inputs[n] for n in claimed], grad_outputs=case["cotangent"], allow_unused=True)
        for name, g in zip(claimed, grads):
            got = np.zeros_like(case["grad"][name]) if g is None else g.numpy()
            np.testing.assert_allclose(got, case["grad"][name], rtol=rtol, atol=max(atol, 1e-9),
                                       err_msg=f"{row.fixture}: gradient of {name}")  # fmt: skip


@pytest.mark.parametrize("row", EQUIVALENTS, ids=[f"{e.loss}-{e.library}-{_s(e.fixture)}" for e in EQUIVALENTS])
def test_row_reproduces_the_library_value_and_gradient(row):
    _check_row(row)


def test_every_row_has_its_nploss_call_and_every_call_its_row():
    assert sorted(_s(e.fixture) for e in EQUIVALENTS) == sorted(CALLS)


def test_rows_name_registered_losses_and_known_libraries():
    for e in EQUIVALENTS:
        assert e.loss in REGISTRY, e.loss
        assert e.library in LIBRARIES, e.library
        assert e.call and e.mapping and "::" in e.fixture


def test_no_duplicate_rows_unless_the_call_differs():
    counts = Counter((e.loss, e.library, e.call) for e in EQUIVALENTS)
    assert [k for k, n in counts.items() if n > 1] == []
    assert len({e.fixture for e in EQUIVALENTS}) == len(EQUIVALENTS)


def test_every_fixture_exists_and_holds_its_case():
    for fixture in [e.fixture for e in EQUIVALENTS] + [t.fixture for t in TRAPS]:
        path, case = fixture.split("::")
        assert (ROOT / path).is_file(), fixture
        with np.load(ROOT / path) as data:
            assert f"{case}/value" in data.files, fixture


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# trap fixture (file name::case) -> the number nploss gives when the trap is walked into (the library's
# argument order, names or defaults taken at face value), from the fixture's inputs. It must differ
# from the library's value (or nploss must refuse the call).
TRAP_CALLS = {
    "optax.npz::multiclass_hinge-random": lambda scores, labels: L.multiclass_hinge(scores, labels, reduction="none"),
    "keras.npz::categorical_hinge": lambda y_true, y_pred: L.crammer_singer_hinge(
        y_pred, y_true.argmax(-1), reduction="none"),
    "keras.npz::tversky-a0.3-b0.7-axis23": lambda y_true, y_pred: L.tversky(
        y_pred, y_true, alpha=0.3, beta=0.7, smooth=1e-12, reduction="none"),
    "rosetta.npz::kornia-ssim_loss-default": lambda img1, img2: L.ssim(img1, img2),
    "metric_softmax.npz::arcface-s64-m0.5-mean": lambda embeddings, weight, labels: L.arcface(
        embeddings, weight, labels, scale=64.0, margin=28.6),
    "keras.npz::cce-onehot": lambda y_true, y_pred: L.categorical_cross_entropy(y_true, y_pred, reduction="none"),
    "classification.npz::kl-mean": lambda input, target: L.kl_div(input, target, reduction="batchmean"),
    "rosetta.npz::keras-poisson": lambda y_true, y_pred: L.poisson_nll(y_pred, y_true, reduction="none").mean(-1),
    "triplet_options.npz::batch_triplet-smooth-all-pmldefault-avg_nonzero": lambda embeddings, labels: L.batch_triplet(
        embeddings, labels, smooth=True),
    "rosetta.npz::optax-sigmoid_focal_loss-default": lambda logits, labels: L.sigmoid_focal(
        logits, labels, reduction="none"),
    "rosetta.npz::keras-categorical_focal_crossentropy": lambda y_true, y_pred: L.softmax_focal(
        y_pred, y_true.argmax(-1), reduction="none"),
    "rosetta.npz::kornia-focal_loss": lambda pred, target: L.softmax_focal(
        pred, target, alpha=np.full(3, 0.25), reduction="none"),
    "rosetta.npz::sklearn-root_mean_squared_error": lambda y_true, y_pred: L.rmse(y_pred, y_true),
    "rosetta.npz::optax-l2_loss": lambda predictions, targets: L.mse(predictions, targets, reduction="none"),
    "rosetta.npz::optax-triplet_margin_loss-default": lambda anchors, positives, negatives: L.triplet(
        anchors, positives, negatives, eps=1e-6, reduction="none"),
    "regression.npz::huber-d2.0-mean": lambda prediction, target: L.smooth_l1(prediction, target, beta=2.0),
    "overlap.npz::generalized_dice-smooth1": lambda predictions, targets, smooth: L.generalized_dice(
        _nchw(_softmax(predictions, -1)), _nchw(targets), smooth=float(smooth)),
    "optax.npz::dice-probs-smooth1": lambda predictions, targets: L.dice(
        _nchw(predictions), _nchw(targets), smooth=1.0, reduction="none"),
    "rosetta.npz::smp-DiceLoss-multiclass": lambda y_pred, y_true: L.dice(
        _softmax(y_pred, 1), _one_hot_nchw(y_true, y_pred.shape[1]), smooth=1.0),
    # optax's name taken at face value: nploss's sparsemax_loss is the multi-class loss of (N, C) scores
    "structured.npz::binary_sparsemax_loss-random": lambda logits, labels: L.sparsemax_loss(
        logits, labels, reduction="none"),
    "keras.npz::squared_hinge-01": lambda y_true, y_pred: L.squared_hinge(y_pred, y_true, reduction="none").mean(-1),
    "overlap.npz::kornia_float32_kernel-hausdorff_erosion": lambda prediction, target: L.hausdorff_erosion(
        prediction, target[:, 0]),
}  # fmt: skip
# the least relative difference each trap shows (most are far larger); kornia's float32 kernel is a
# round-off trap, and optax's eps moves the distance by about 1e-7
TRAP_MIN_DIFFERENCE = {"overlap.npz::kornia_float32_kernel-hausdorff_erosion": 1e-9,
                       "rosetta.npz::optax-triplet_margin_loss-default": 1e-9}  # fmt: skip


def test_every_trap_has_its_call_and_every_call_its_trap():
    assert sorted(_s(t.fixture) for t in TRAPS) == sorted(TRAP_CALLS)


# The traps where nploss refuses the naive call, with the message that says why (any other error
# is a broken call, not a trap shown).
TRAP_REFUSALS = {
    "metric_softmax.npz::arcface-s64-m0.5-mean": r"margin must be an angle in radians.*takes degrees",
    "keras.npz::cce-onehot": r"target rows must sum to 1",
    "structured.npz::binary_sparsemax_loss-random": r"scores must be a 2-D array \(N, C\)",
    "keras.npz::squared_hinge-01": r"target must hold targets in \{-1, \+1\}",
}


@pytest.mark.parametrize("trap", TRAPS, ids=[t.title for t in TRAPS])
def test_trap_shows_a_different_number(trap):
    case = _load(trap.fixture)
    naive_call = TRAP_CALLS[_s(trap.fixture)]
    if _s(trap.fixture) in TRAP_REFUSALS:  # nploss refuses the naive call, saying why
        with pytest.raises(ValueError, match=TRAP_REFUSALS[_s(trap.fixture)]):
            naive_call(**case["input"])
        return
    naive = np.asarray(ag.as_data(naive_call(**case["input"])), dtype=np.float64)
    value = np.asarray(case["value"], dtype=np.float64)
    relative = np.max(np.abs(naive - value)) / max(np.max(np.abs(value)), 1e-12)
    assert relative > TRAP_MIN_DIFFERENCE.get(_s(trap.fixture), 1e-3), trap.title


def test_traps_name_known_libraries():
    assert len({t.title for t in TRAPS}) == len(TRAPS)
    for t in TRAPS:
        assert t.libraries and set(t.libraries) <= set(LIBRARIES), t.title
        assert t.detail


def test_equivalents_of_orders_by_library():
    rows = equivalents_of("cross_entropy")
    assert [r.library for r in rows] == sorted((r.library for r in rows), key=LIBRARIES.index)
    assert {r.library for r in rows} >= {"PyTorch", "Keras 3", "optax"}
    assert equivalents_of("td") == []
