"""Classification losses: PyTorch reference values, closed forms, properties, stability and bad
input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nploss.losses as L
from nploss.autograd import Tensor, as_data, grad

from .torch_reference import assert_matches_torch, load

TORCH = load("classification")
REDUCTIONS = ("mean", "sum", "none")
C = 4


def _call(fn, **fixed):
    """``fn`` of the fixture's named inputs (labels, weights and alpha among them), plus fixed
    keyword arguments."""
    return lambda **inputs: fn(**inputs, **fixed)


NPLOSS = {
    # binary cross entropy, of probabilities and of logits
    **{f"bce-{r}": _call(L.binary_cross_entropy, reduction=r) for r in REDUCTIONS},
    "bce-hard": _call(L.binary_cross_entropy),
    "bce-weight-classes": _call(L.binary_cross_entropy),
    "bce-weight-full-sum": _call(L.binary_cross_entropy, reduction="sum"),
    "bce-edges": _call(L.binary_cross_entropy, reduction="none"),
    **{f"bcel-{r}": _call(L.binary_cross_entropy_with_logits, reduction=r) for r in REDUCTIONS},
    "bcel-weight": _call(L.binary_cross_entropy_with_logits),
    "bcel-pos_weight": _call(L.binary_cross_entropy_with_logits),
    "bcel-both-none": _call(L.binary_cross_entropy_with_logits, reduction="none"),
    "bcel-extreme": _call(L.binary_cross_entropy_with_logits, reduction="none"),
    "bcel-extreme-pos_weight": _call(L.binary_cross_entropy_with_logits, reduction="sum"),
    # cross entropy with labels: weights, ignore_index, label smoothing, all together, K-dim
    **{f"xent-{r}": _call(L.cross_entropy, reduction=r) for r in REDUCTIONS},
    **{f"xent-weight-{r}": _call(L.cross_entropy, reduction=r) for r in REDUCTIONS},
    "xent-ignore-mean": _call(L.cross_entropy),
    "xent-ignore-none": _call(L.cross_entropy, reduction="none"),
    "xent-ignore1-weight": _call(L.cross_entropy, ignore_index=1),
    **{f"xent-smooth-{r}": _call(L.cross_entropy, label_smoothing=0.1, reduction=r) for r in REDUCTIONS},
    **{f"xent-all-{r}": _call(L.cross_entropy, label_smoothing=0.2, reduction=r) for r in REDUCTIONS},
    "xent-all-ignored-sum": _call(L.cross_entropy, label_smoothing=0.2, reduction="sum"),
    **{f"xent-kdim-{r}": _call(L.cross_entropy, label_smoothing=0.15, reduction=r) for r in REDUCTIONS},
    "xent-extreme": _call(L.cross_entropy, label_smoothing=0.1, reduction="none"),
    # cross entropy with probability targets
    **{f"xent-prob-{r}": _call(L.cross_entropy, reduction=r) for r in REDUCTIONS},
    **{f"xent-prob-weight-smooth-{r}": _call(L.cross_entropy, label_smoothing=0.15, reduction=r) for r in ("mean", "none")},
    "xent-prob-kdim": _call(L.cross_entropy),
    # nll
    **{f"nll-{r}": _call(L.nll, reduction=r) for r in REDUCTIONS},
    **{f"nll-weight-ignore-{r}": _call(L.nll, reduction=r) for r in REDUCTIONS},
    "nll-kdim": _call(L.nll),
    # KL divergence
    **{f"kl-{r}": _call(L.kl_div, reduction=r) for r in ("mean", "batchmean", "sum", "none")},
    **{f"kl-logtarget-{r}": _call(L.kl_div, log_target=True, reduction=r) for r in ("mean", "batchmean", "sum", "none")},
    "kl-zero-target": _call(L.kl_div, reduction="none"),
    # sigmoid focal (torchvision's formula)
    **{f"sfocal-{r}": _call(L.sigmoid_focal, reduction=r) for r in REDUCTIONS},
    "sfocal-noalpha-gamma0.5": _call(L.sigmoid_focal, alpha=-1.0, gamma=0.5, reduction="none"),
    "sfocal-alpha0.6-gamma0": _call(L.sigmoid_focal, alpha=0.6, gamma=0.0, reduction="sum"),
    "sfocal-gamma1": _call(L.sigmoid_focal, gamma=1.0, reduction="none"),
    "sfocal-soft": _call(L.sigmoid_focal, alpha=0.4, gamma=1.5, reduction="none"),
    "sfocal-extreme": _call(L.sigmoid_focal, reduction="none"),
    # softmax focal (Lin et al., multi-class)
    **{f"smfocal-{r}": _call(L.softmax_focal, gamma=2.0, reduction=r) for r in REDUCTIONS},
    "smfocal-alpha-gamma0.5": _call(L.softmax_focal, gamma=0.5, reduction="none"),
    "smfocal-alpha-gamma3-mean": _call(L.softmax_focal, gamma=3.0),
    "smfocal-gamma0": _call(L.softmax_focal, gamma=0.0, reduction="none"),
    "smfocal-kdim": _call(L.softmax_focal, reduction="none"),
    **{f"smfocal-extreme-gamma{g}": _call(L.softmax_focal, gamma=g, reduction="none") for g in (1.0, 2.0)},
    # distillation (Hinton et al.)
    **{f"dist-{r}": _call(L.distillation, temperature=4.0, alpha=0.5, reduction=r) for r in REDUCTIONS},
    "dist-T1-a0.3": _call(L.distillation, temperature=1.0, alpha=0.3),
    "dist-T2-a0": _call(L.distillation, temperature=2.0, alpha=0.0, reduction="none"),
    "dist-T3-a1": _call(L.distillation, temperature=3.0, alpha=1.0),
    "dist-kdim": _call(L.distillation, temperature=2.5, alpha=0.4, reduction="none"),
    # Keras categorical cross entropy, of probabilities (renormalise, clip) and of logits
    "keras-cce-onehot-mean": _call(L.categorical_cross_entropy),
    "keras-cce-soft-none": _call(L.categorical_cross_entropy, reduction="none"),
    "keras-cce-unnormalised-sum": _call(L.categorical_cross_entropy, reduction="sum"),
    "keras-cce-clipped-none": _call(L.categorical_cross_entropy, reduction="none"),
    "keras-cce-3d-none": _call(L.categorical_cross_entropy, reduction="none"),
    "keras-cce-logits-mean": _call(L.categorical_cross_entropy, from_logits=True),
    "keras-cce-logits-soft-none": _call(L.categorical_cross_entropy, from_logits=True, reduction="none"),
    "keras-cce-logits-3d-sum": _call(L.categorical_cross_entropy, from_logits=True, reduction="sum"),
    "keras-scce-mean": _call(L.sparse_categorical_cross_entropy),
    "keras-scce-clipped-none": _call(L.sparse_categorical_cross_entropy, reduction="none"),
    "keras-scce-3d-none": _call(L.sparse_categorical_cross_entropy, reduction="none"),
    "keras-scce-logits-mean": _call(L.sparse_categorical_cross_entropy, from_logits=True),
    "keras-scce-logits-3d-none": _call(L.sparse_categorical_cross_entropy, from_logits=True, reduction="none"),
    # one sample without its batch axis, as PyTorch accepts
    **{f"ce-unbatched-{r}": _call(L.cross_entropy, reduction=r) for r in ("mean", "none")},
    "ce-unbatched-smoothing": _call(L.cross_entropy, label_smoothing=0.2),
    "ce-unbatched-probabilities": _call(L.cross_entropy, reduction="none"),
    "nll-unbatched": _call(L.nll, reduction="none"),
}

# The composite graph differentiates the clamped forward: the slope of the clamp at p in {0, 1}
# is 0 there, where PyTorch's backward (and the fused node) floors the denominator instead.
NOT_COMPOSITE = {"bce-edges"}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(set(NPLOSS) - NOT_COMPOSITE))
def test_composite_matches_pytorch(case_id):
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("r", REDUCTIONS)
def test_smooth_labels_on_one_hot_targets_is_pytorch_label_smoothing(r):
    def smoothed(logits, target):
        return L.cross_entropy(logits, L.smooth_labels(np.eye(C)[as_data(target)], 0.1), reduction=r)

    assert_matches_torch(TORCH[f"xent-smooth-{r}"], smoothed)


# ------------------------------------------------------------------------------------ helpers


def _value_and_grad(fn, x, *rest, composite=False, cotangent=None, **kwargs):
    """The value and the gradient with respect to the first input only (fused, or composite)."""
    t = Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    if composite:
        with L.composite():
            out = fn(t, *rest, **kwargs)
    else:
        out = fn(t, *rest, **kwargs)
    if cotangent is None and out.ndim:
        cotangent = np.ones(out.shape)
    (g,) = grad(out, [t], grad_outputs=cotangent)
    return out.numpy(), g.numpy()


def _log_softmax(z, axis=1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def _softmax(z, axis=1):
    return np.exp(_log_softmax(z, axis))


def _rng_data(seed, n=5, classes=C):
    rng = np.random.default_rng(seed)
    return rng, 2.0 * rng.standard_normal((n, classes)), rng.integers(0, classes, n)


SEEDS = st.integers(0, 2**32 - 1)

# ------------------------------------------------------------------------------------ BCE


def test_bce_closed_form_and_pytorch_clamp():
    p, y = np.array([0.8, 0.4]), np.array([1.0, 0.0])
    assert float(L.binary_cross_entropy(p, y)) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2, rel=1e-15)
    # PyTorch's clamp: log 0 counts as -100, and the gradient's denominator p(1 - p) is floored at 1e-12
    value, g = _value_and_grad(L.binary_cross_entropy, np.array([0.0, 1.0, 1.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(value, [100.0, 100.0, 0.0, 0.0])
    np.testing.assert_array_equal(g, [-1e12, 1e12, 0.0, 0.0])


def test_bce_target_gradient_is_that_of_the_clamped_forward():
    # deliberate difference: PyTorch's target gradient log(1 - p) - log p is infinite at p in {0, 1}
    y = Tensor(np.array([1.0, 0.0, 0.5]), requires_grad=True)
    out = L.binary_cross_entropy(np.array([0.0, 1.0, 0.25]), y, reduction="none")
    (g,) = grad(out, [y], grad_outputs=np.ones(3))
    np.testing.assert_allclose(g.numpy(), [100.0, -100.0, math.log(0.75) - math.log(0.25)], rtol=1e-15)


@given(z=st.floats(-15, 15), y=st.floats(0, 1))
def test_bce_with_logits_is_bce_of_the_sigmoid(z, y):
    p = 1.0 / (1.0 + math.exp(-z))
    a = float(L.binary_cross_entropy_with_logits(np.array([z]), np.array([y])))
    b = float(L.binary_cross_entropy(np.array([p]), np.array([y])))
    assert a == pytest.approx(b, rel=1e-8, abs=1e-12)
    assert a >= 0


@given(z=st.floats(-30, 30), y=st.floats(0, 1), pw=st.floats(0, 5))
def test_bce_with_logits_pos_weight_weighs_the_positive_term_only(z, y, pw):
    softplus = lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x)))  # noqa: E731
    sigma = 1.0 / (1.0 + math.exp(-z))
    value, g = _value_and_grad(L.binary_cross_entropy_with_logits, [z], np.array([y]), pos_weight=np.array([pw]))
    assert float(value) == pytest.approx(pw * y * softplus(-z) + (1 - y) * softplus(z), rel=1e-12, abs=1e-300)
    assert float(g[0]) == pytest.approx((1 + (pw - 1) * y) * sigma - pw * y, rel=1e-10, abs=1e-15)
    # pos_weight = 1 is no pos_weight, to the last bit
    one = L.binary_cross_entropy_with_logits(np.array([z]), np.array([y]), pos_weight=np.array([1.0]))
    assert float(one) == float(L.binary_cross_entropy_with_logits(np.array([z]), np.array([y])))


@given(y=st.floats(0.01, 0.99))
def test_bce_with_logits_is_minimal_where_the_sigmoid_equals_the_target(y):
    z = math.log(y) - math.log1p(-y)
    value, g = _value_and_grad(L.binary_cross_entropy_with_logits, [z], np.array([y]))
    assert abs(g[0]) < 1e-15
    assert float(value) == pytest.approx(-(y * math.log(y) + (1 - y) * math.log1p(-y)), rel=1e-12)  # the entropy of y


def test_bce_weight_is_a_plain_mean_not_a_weighted_mean():
    p, y, w = np.array([0.3, 0.6]), np.array([1.0, 0.0]), np.array([2.0, 0.5])
    none = L.binary_cross_entropy(p, y, reduction="none")
    assert float(L.binary_cross_entropy(p, y, weight=w)) == pytest.approx(np.mean(w * none), rel=1e-15)
    assert float(L.binary_cross_entropy_with_logits(np.log(p / (1 - p)), y, weight=w)) == pytest.approx(np.mean(w * none), rel=1e-12)


# ------------------------------------------------------------------------------------ cross entropy


def test_cross_entropy_closed_form_and_its_gradient():
    z, y = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]]), np.array([0, 2])
    expected = (math.log(math.exp(2) + 1 + math.exp(-1)) - 2 + math.log(3)) / 2
    value, g = _value_and_grad(L.cross_entropy, z, y)
    assert float(value) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(g, (_softmax(z) - np.eye(3)[y]) / 2, rtol=1e-14)


@given(seed=SEEDS, smoothing=st.sampled_from([0.0, 0.3]))
def test_cross_entropy_class_weighted_mean_is_sum_w_l_over_sum_w(seed, smoothing):
    rng, z, y = _rng_data(seed, n=7)
    w = rng.uniform(0.1, 3.0, C)
    none = L.cross_entropy(z, y, weight=w, label_smoothing=smoothing, reduction="none")
    if smoothing == 0:  # 'none' is already w_y * l
        np.testing.assert_allclose(none, w[y] * L.cross_entropy(z, y, reduction="none"), rtol=1e-14)
    # PyTorch's weighted mean: both terms divided by sum_i w_{y_i}
    assert float(L.cross_entropy(z, y, weight=w, label_smoothing=smoothing)) == pytest.approx(none.sum() / w[y].sum(), rel=1e-13)
    assert float(L.cross_entropy(z, y, weight=w, label_smoothing=smoothing, reduction="sum")) == pytest.approx(none.sum(), rel=1e-13)
    # unweighted: the plain mean
    assert float(L.cross_entropy(z, y)) == pytest.approx(L.cross_entropy(z, y, reduction="sum") / len(y), rel=1e-14)


@given(seed=SEEDS, eps=st.floats(0.0, 1.0))
def test_cross_entropy_ignore_index_and_label_smoothing_together_as_pytorch(seed, eps):
    rng, z, y = _rng_data(seed, n=6)
    y[[1, 4]] = -100
    w = rng.uniform(0.2, 2.0, C)
    keep = y != -100
    log_p = _log_softmax(z)
    hard = -w[np.where(keep, y, 0)] * log_p[np.arange(6), np.where(keep, y, 0)]
    smooth = -(w * log_p).sum(axis=1) / C  # eps/K to every class, the true one included, weighted by w_c
    expected = np.where(keep, (1 - eps) * hard + eps * smooth, 0.0)
    value, g = _value_and_grad(L.cross_entropy, z, y, weight=w, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(g[~keep], 0.0)  # ignored samples: no loss, no gradient
    mean = L.cross_entropy(z, y, weight=w, label_smoothing=eps)
    assert float(mean) == pytest.approx(expected.sum() / w[y[keep]].sum(), rel=1e-12)


def test_cross_entropy_with_nothing_to_average_is_nan_as_in_pytorch():
    # 'mean' divides by the total weight of the samples not ignored: 0/0 when there are none
    z = np.random.default_rng(0).standard_normal((3, C))
    for composite in (False, True):
        value, g = _value_and_grad(L.cross_entropy, z, np.full(3, -100), label_smoothing=0.1, composite=composite)
        assert np.isnan(float(value))
    # weights of 0 for every class present, and an empty batch: the same
    assert np.isnan(float(L.cross_entropy(z, np.array([0, 0, 1]), weight=np.array([0.0, 0.0, 1.0, 1.0]))))
    assert np.isnan(float(L.cross_entropy(np.zeros((0, C)), np.zeros(0, dtype=int))))
    assert float(L.cross_entropy(np.zeros((0, C)), np.zeros(0, dtype=int), reduction="sum")) == 0.0


@given(seed=SEEDS, shift=st.floats(-1e3, 1e3))
def test_cross_entropy_is_nll_of_log_softmax_and_shift_invariant(seed, shift):
    _, z, y = _rng_data(seed)
    ce = L.cross_entropy(z, y, reduction="none")
    np.testing.assert_allclose(ce, L.nll(_log_softmax(z), y, reduction="none"), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(L.cross_entropy(z + shift, y, reduction="none"), ce, rtol=1e-9, atol=1e-9)
    assert np.all(ce >= 0)


def test_cross_entropy_of_one_hot_probabilities_equals_that_of_labels():
    _, z, y = _rng_data(1)
    v_labels, g_labels = _value_and_grad(L.cross_entropy, z, y)
    v_probs, g_probs = _value_and_grad(L.cross_entropy, z, np.eye(C)[y])
    assert float(v_probs) == pytest.approx(float(v_labels), rel=1e-15)
    np.testing.assert_allclose(g_probs, g_labels, rtol=1e-15)


@given(seed=SEEDS)
def test_cross_entropy_of_probabilities_is_minimal_at_the_target_distribution(seed):
    q = np.random.default_rng(seed).dirichlet(np.ones(C), 3)
    for composite in (False, True):
        value, g = _value_and_grad(L.cross_entropy, np.log(q) + 7.0, q, reduction="sum", composite=composite)
        np.testing.assert_allclose(g, 0.0, atol=1e-14)
        assert float(value) == pytest.approx(-(q * np.log(q)).sum(), rel=1e-12)  # the entropy


def test_cross_entropy_k_dimensional_is_per_position():
    rng = np.random.default_rng(2)
    z, y = rng.standard_normal((2, C, 3, 2)), rng.integers(0, C, (2, 3, 2))
    flat = L.cross_entropy(np.moveaxis(z, 1, -1).reshape(-1, C), y.ravel(), reduction="none")
    np.testing.assert_allclose(L.cross_entropy(z, y, reduction="none"), flat.reshape(2, 3, 2), rtol=1e-15)


# ------------------------------------------------------------------------------------ nll


def test_nll_closed_form_and_weighted_mean():
    log_p = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]))
    y, w = np.array([1, 2, -100]), np.array([1.0, 2.0, 3.0])
    value, g = _value_and_grad(L.nll, log_p, y, weight=w, reduction="none")
    np.testing.assert_allclose(value, [-2.0 * math.log(0.2), -3.0 * math.log(0.8), 0.0], rtol=1e-15)
    np.testing.assert_array_equal(g, [[0, -2.0, 0], [0, 0, -3.0], [0, 0, 0]])
    assert float(L.nll(log_p, y, weight=w)) == pytest.approx(value.sum() / 5.0, rel=1e-15)
    assert float(L.nll(np.zeros((2, 3)) + np.log(1 / 3), np.array([0, 1]))) == pytest.approx(math.log(3), rel=1e-15)


# ------------------------------------------------------------------------------------ Keras


def test_keras_documented_example():
    # keras.losses.CategoricalCrossentropy docs: 1.177 (the metric prints 1.1769392 in float32)
    y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    expected = -(math.log(0.95) + math.log(0.1)) / 2
    assert float(L.categorical_cross_entropy(p, y)) == pytest.approx(expected, rel=1e-15)
    assert float(L.sparse_categorical_cross_entropy(p, np.array([1, 2]))) == pytest.approx(expected, rel=1e-15)
    assert expected == pytest.approx(1.1769392, rel=1e-7)


def test_keras_clips_renormalised_probabilities_to_eps_and_one_minus_eps():
    eps = 1e-7
    p = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    value, g = _value_and_grad(L.categorical_cross_entropy, p, y, reduction="none")
    # a probability of 0 for the truth costs -log(eps), a perfect prediction -log(1 - eps), not 0
    np.testing.assert_allclose(value, [-math.log(eps), -math.log(1 - eps), -math.log(0.5)], rtol=1e-15)
    # the clip is flat: no gradient where it is active (Keras gives a model this sure no signal)
    np.testing.assert_array_equal(g[:2], 0.0)
    np.testing.assert_allclose(g[2], [1.0, 1.0, 1.0 - 1.0 / 0.5], rtol=1e-15)  # (sum_c u_c r_c - u_j) / s, s = 1
    value = L.categorical_cross_entropy(p, y, eps=1e-3, reduction="none")
    np.testing.assert_allclose(value[:2], [-math.log(1e-3), -math.log(1 - 1e-3)], rtol=1e-15)


@given(seed=SEEDS, scale=st.floats(0.01, 0.99))
def test_keras_renormalises_so_the_loss_is_scale_invariant(seed, scale):
    rng = np.random.default_rng(seed)
    p, y = rng.dirichlet(np.ones(C), 4), rng.dirichlet(np.ones(C), 4)
    value, g = _value_and_grad(L.categorical_cross_entropy, scale * p, y, reduction="none")
    np.testing.assert_allclose(value, L.categorical_cross_entropy(p, y, reduction="none"), rtol=1e-12)
    # homogeneous of degree 0 (Euler): sum_j p_j dl/dp_j = 0 in every row
    np.testing.assert_allclose((scale * p * g).sum(axis=1), 0.0, atol=1e-12)


@given(seed=SEEDS)
def test_keras_from_logits_both_ways(seed):
    rng, z, y = _rng_data(seed)
    q = rng.dirichlet(np.ones(C), 5)
    p = _softmax(z, axis=-1)
    for target in (np.eye(C)[y], q):
        logits = L.categorical_cross_entropy(z, target, from_logits=True, reduction="none")
        np.testing.assert_allclose(logits, -(target * _log_softmax(z, -1)).sum(-1), rtol=1e-11)
        # the same loss from the probabilities, where nothing is clipped
        if p.min() > 1e-7 and p.max() < 1 - 1e-7:
            np.testing.assert_allclose(L.categorical_cross_entropy(p, target, reduction="none"), logits, rtol=1e-10)
    # sparse: the one-hot form, both ways; from logits it is PyTorch's cross entropy
    for from_logits, x in ((False, p), (True, z)):
        np.testing.assert_allclose(
            L.sparse_categorical_cross_entropy(x, y, from_logits=from_logits, reduction="none"),
            L.categorical_cross_entropy(x, np.eye(C)[y], from_logits=from_logits, reduction="none"),
            rtol=1e-12,
        )
    _, g_keras = _value_and_grad(L.sparse_categorical_cross_entropy, z, y, from_logits=True)
    _, g_torch = _value_and_grad(L.cross_entropy, z, y)
    np.testing.assert_allclose(g_keras, g_torch, rtol=1e-12)


def test_keras_from_logits_classes_last_and_a_single_row():
    rng = np.random.default_rng(3)
    z, y = rng.standard_normal((2, 3, C)), rng.integers(0, C, (2, 3))
    none = L.sparse_categorical_cross_entropy(z, y, from_logits=True, reduction="none")
    assert none.shape == (2, 3)
    np.testing.assert_allclose(none, L.cross_entropy(np.moveaxis(z, -1, 1), y, reduction="none"), rtol=1e-15)
    row = L.categorical_cross_entropy(z[0, 0], np.eye(C)[y[0, 0]], from_logits=True, reduction="none")
    assert row.shape == () and float(row) == pytest.approx(none[0, 0], rel=1e-15)
    out = L.sparse_categorical_cross_entropy(Tensor(z[0, 0], requires_grad=True), y[0, 0], from_logits=True, reduction="none")
    assert isinstance(out, Tensor) and out.shape == ()


def test_keras_targets_are_constants():
    z, hot = np.array([[1.0, -1.0, 0.5]]), Tensor(np.array([[0.0, 1.0, 0.0]]), requires_grad=True)
    for from_logits in (False, True):
        x = Tensor(np.abs(z) / 3 if not from_logits else z, requires_grad=True)
        gx, gy = grad(L.categorical_cross_entropy(x, hot, from_logits=from_logits), [x, hot], allow_unused=True)
        assert gy is None and np.any(gx.numpy() != 0)


# ------------------------------------------------------------------------------------ smooth_labels


@given(eps=st.floats(0, 1), seed=SEEDS)
def test_smooth_labels_closed_form_rows_sum_to_one_and_cross_entropy_agrees(eps, seed):
    _, z, y = _rng_data(seed)
    hot = np.eye(C)[y]
    smoothed = L.smooth_labels(hot, eps)
    np.testing.assert_allclose(smoothed, (1 - eps) * hot + eps / C, rtol=1e-15)
    np.testing.assert_allclose(smoothed.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(
        L.cross_entropy(z, smoothed, reduction="none"), L.cross_entropy(z, y, label_smoothing=eps, reduction="none"), rtol=1e-12
    )


def test_smooth_labels_edges_and_tensors():
    np.testing.assert_allclose(L.smooth_labels(np.array([0.0, 1.0, 0.0, 0.0]), 0.2), [0.05, 0.85, 0.05, 0.05], rtol=1e-15)
    hot = np.eye(3)
    np.testing.assert_array_equal(L.smooth_labels(hot, 0.0), hot)
    np.testing.assert_array_equal(L.smooth_labels(hot, 1.0), np.full((3, 3), 1 / 3))
    t = Tensor(hot, requires_grad=True)
    out = L.smooth_labels(t, 0.3)
    assert isinstance(out, Tensor)
    (g,) = grad(out, [t], grad_outputs=np.ones((3, 3)))
    np.testing.assert_allclose(g.numpy(), 0.7, rtol=1e-15)


# ------------------------------------------------------------------------------------ focal


@pytest.mark.parametrize("composite", [False, True])
def test_sigmoid_focal_at_gamma_zero_is_bce_with_logits(composite):
    z = np.array([[1e4, -1e4, 2.0, -0.5], [0.3, 40.0, -40.0, 0.0]])
    y = np.array([[1.0, 0.0, 0.0, 1.0], [0.25, 1.0, 1.0, 0.0]])
    cot = np.random.default_rng(0).standard_normal(z.shape)
    v_bce, g_bce = _value_and_grad(L.binary_cross_entropy_with_logits, z, y, reduction="none", cotangent=cot, composite=composite)
    v, g = _value_and_grad(L.sigmoid_focal, z, y, alpha=-1.0, gamma=0.0, reduction="none", cotangent=cot, composite=composite)
    np.testing.assert_allclose(v, v_bce, rtol=1e-15)
    np.testing.assert_allclose(g, g_bce, rtol=1e-14, atol=1e-300)
    # alpha weights the two classes: alpha_t = alpha y + (1 - alpha)(1 - y)
    v = L.sigmoid_focal(z, y, alpha=0.3, gamma=0.0, reduction="none")
    np.testing.assert_allclose(v, (0.3 * y + 0.7 * (1 - y)) * v_bce, rtol=1e-15)


def test_sigmoid_focal_closed_form():
    # torchvision: -alpha_t (1 - p_t)^gamma log p_t
    s = 1 / (1 + math.exp(-2.0))
    expected = 0.25 * (1 - s) ** 2 * -math.log(s) + 0.25 * (1 - 1 / (1 + math.e)) ** 2 * -math.log(1 / (1 + math.e))
    value = L.sigmoid_focal(np.array([2.0, -1.0]), np.array([1.0, 1.0]), reduction="sum")
    assert float(value) == pytest.approx(expected, rel=1e-14)


@given(seed=SEEDS, gamma=st.floats(0, 5))
def test_focal_losses_are_non_negative_and_at_most_their_cross_entropy(seed, gamma):
    rng, z, y = _rng_data(seed)
    yb = rng.integers(0, 2, z.shape).astype(np.float64)
    focal = L.sigmoid_focal(z, yb, alpha=-1.0, gamma=gamma, reduction="none")
    bce = L.binary_cross_entropy_with_logits(z, yb, reduction="none")
    assert np.all(focal >= 0) and np.all(focal <= bce * (1 + 1e-14))
    focal = L.softmax_focal(z, y, gamma=gamma, reduction="none")
    ce = L.cross_entropy(z, y, reduction="none")
    assert np.all(focal >= 0) and np.all(focal <= ce * (1 + 1e-14))
    # a larger gamma focuses more: (1 - p_y)^gamma decreases with gamma
    assert np.all(L.softmax_focal(z, y, gamma=gamma + 1.0, reduction="none") <= focal * (1 + 1e-14))


@pytest.mark.parametrize("composite", [False, True])
def test_softmax_focal_at_gamma_zero_is_cross_entropy(composite):
    rng = np.random.default_rng(5)
    z, y = rng.standard_normal((3, C, 2)), rng.integers(0, C, (3, 2))
    z[0, :, 0] = [1e4, -1e4, 0.0, 0.0]
    cot = rng.standard_normal(y.shape)
    v_ce, g_ce = _value_and_grad(L.cross_entropy, z, y, reduction="none", cotangent=cot, composite=composite)
    v, g = _value_and_grad(L.softmax_focal, z, y, gamma=0.0, reduction="none", cotangent=cot, composite=composite)
    np.testing.assert_allclose(v, v_ce, rtol=1e-15)
    np.testing.assert_allclose(g, g_ce, rtol=1e-14, atol=1e-300)
    # alpha per class: 'sum' and 'none' are the weighted cross entropy, 'mean' is a plain mean
    alpha = np.array([0.5, 1.0, 2.0, 0.25])
    v = L.softmax_focal(z, y, gamma=0.0, alpha=alpha, reduction="sum")
    assert float(v) == pytest.approx(float(L.cross_entropy(z, y, weight=alpha, reduction="sum")), rel=1e-14)
    assert float(L.softmax_focal(z, y, gamma=0.0, alpha=alpha)) == pytest.approx(float(v) / y.size, rel=1e-14)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("composite", [False, True])
def test_focal_gradients_stay_finite_where_the_softmax_or_sigmoid_saturates(gamma, composite):
    # 1 - p_t is exactly 0 there: (1 - p_t)^gamma has an infinite slope for gamma < 1
    z = np.array([[1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 0.0, 0.0], [0.0, 0.0, 1e4, -1e4], [5.0, 5.0, 5.0, 5.0]])
    y = np.array([0, 1, 3, 2])
    v, g = _value_and_grad(L.softmax_focal, z, y, gamma=gamma, alpha=np.ones(C), composite=composite, reduction="none")
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[:2], 0.0)
    assert v[2] == pytest.approx(2e4, rel=1e-12)  # sure and wrong: 1 - p_y = 1, the whole cross entropy
    yb = np.array([[1.0, 0.0, 0.0, 1.0]] * 4)
    v, g = _value_and_grad(L.sigmoid_focal, z, yb, gamma=gamma, composite=composite, reduction="none")
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    assert g[0, 0] == 0.0 and g[0, 1] == 0.0  # right and sure: no loss, no gradient


# ------------------------------------------------------------------------------------ KL


@given(seed=SEEDS)
def test_kl_div_reductions_and_gibbs_inequality(seed):
    rng = np.random.default_rng(seed)
    q, p = rng.dirichlet(np.ones(C), 5), rng.dirichlet(np.ones(C), 5)
    none = L.kl_div(np.log(q), p, reduction="none")
    assert float(L.kl_div(np.log(q), p, reduction="batchmean")) == pytest.approx(none.sum() / 5, rel=1e-13)
    assert float(L.kl_div(np.log(q), p)) == pytest.approx(none.sum() / none.size, rel=1e-13)  # 'mean' is KL / C
    np.testing.assert_allclose(none.sum(axis=1), (p * np.log(p / q)).sum(axis=1), rtol=1e-10, atol=1e-14)
    assert np.all(none.sum(axis=1) >= -1e-15)  # each row's KL, not each element, is non-negative
    # log_target=True: the same divergence, the target given as log p
    np.testing.assert_allclose(L.kl_div(np.log(q), np.log(p), log_target=True, reduction="none"), none, rtol=1e-12, atol=1e-15)


def test_kl_div_is_zero_at_a_perfect_prediction_and_handles_zero_targets():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.25, 0.25]])
    log_q = np.log(np.where(p > 0, p, 0.5))
    value, g = _value_and_grad(L.kl_div, log_q, p, reduction="none")
    np.testing.assert_array_equal(value, 0.0)  # 0 log 0 = 0
    np.testing.assert_array_equal(g, -p)
    # the target's gradient at p = 0 is -x (the slope of p log p, -inf there, taken as 0): PyTorch gives NaN
    t = Tensor(p, requires_grad=True)
    (gt,) = grad(L.kl_div(log_q, t, reduction="sum"), [t])
    assert np.all(np.isfinite(gt.numpy()))
    np.testing.assert_allclose(gt.numpy()[0], [-log_q[0, 0], 1.0 - log_q[0, 1], -log_q[0, 2]], rtol=1e-15)


# ------------------------------------------------------------------------------------ distillation


@given(seed=SEEDS, temperature=st.floats(0.5, 8))
def test_distillation_mixes_cross_entropy_and_t_squared_kl(seed, temperature):
    rng, s, y = _rng_data(seed)
    t = 2.0 * rng.standard_normal(s.shape)
    # alpha = 1: the hard-label cross entropy; alpha = 0: T^2 KL(softmax(t/T) || softmax(s/T)), batchmean
    v, g = _value_and_grad(L.distillation, s, t, y, temperature=temperature, alpha=1.0)
    v_ce, g_ce = _value_and_grad(L.cross_entropy, s, y)
    assert float(v) == pytest.approx(float(v_ce), rel=1e-13)
    np.testing.assert_allclose(g, g_ce, rtol=1e-12, atol=1e-16)
    kl = L.kl_div(_log_softmax(s / temperature), _softmax(t / temperature), reduction="batchmean")
    soft = L.distillation(s, t, y, temperature=temperature, alpha=0.0)
    assert float(soft) == pytest.approx(temperature**2 * float(kl), rel=1e-10, abs=1e-14)
    mixed = L.distillation(s, t, y, temperature=temperature, alpha=0.3)
    assert float(mixed) == pytest.approx(0.3 * float(v_ce) + 0.7 * float(soft), rel=1e-12)
    assert float(L.distillation(s, s, y, temperature=temperature, alpha=0.0)) == pytest.approx(0.0, abs=1e-14)


def test_distillation_t_squared_keeps_the_soft_gradient_independent_of_t():
    # Hinton et al.: for large T the soft term's gradient tends to ((s - mean s) - (t - mean t)) / (C T^2);
    # the T^2 factor cancels that 1/T^2
    rng = np.random.default_rng(7)
    s, t, y = rng.standard_normal((3, C)), rng.standard_normal((3, C)), np.array([0, 1, 2])
    limit = ((s - s.mean(1, keepdims=True)) - (t - t.mean(1, keepdims=True))) / C
    for T, tolerance in ((10.0, 0.1), (100.0, 1e-2), (1000.0, 1e-3)):  # the gap shrinks as 1/T
        _, g = _value_and_grad(L.distillation, s, t, y, temperature=T, alpha=0.0, reduction="sum")
        assert np.abs(g - limit).max() < tolerance * np.abs(limit).max()


def test_distillation_teacher_is_a_constant():
    rng = np.random.default_rng(8)
    s, t, y = Tensor(rng.standard_normal((2, 3)), requires_grad=True), Tensor(rng.standard_normal((2, 3)), requires_grad=True), np.array([0, 2])
    for composite in (False, True):
        if composite:
            with L.composite():
                out = L.distillation(s, t, y)
        else:
            out = L.distillation(s, t, y)
        gs, gt = grad(out, [s, t], allow_unused=True)
        assert gt is None or np.all(gt.numpy() == 0)
        assert np.any(gs.numpy() != 0)


# ------------------------------------------------------------------------------------ shared properties

LABEL_LOSSES = {
    "cross_entropy": lambda z, y: L.cross_entropy(z, y, label_smoothing=0.1, reduction="none"),
    "nll": lambda z, y: L.nll(_log_softmax(z), y, reduction="none"),
    "softmax_focal": lambda z, y: L.softmax_focal(z, y, reduction="none"),
    "distillation": lambda z, y: L.distillation(z, z[::-1], y, reduction="none"),
    "sparse_categorical_cross_entropy": lambda z, y: L.sparse_categorical_cross_entropy(_softmax(z), y, reduction="none"),
    "sparse_categorical_cross_entropy(from_logits)": lambda z, y: L.sparse_categorical_cross_entropy(z, y, from_logits=True, reduction="none"),
}


@pytest.mark.parametrize("name", sorted(LABEL_LOSSES))
@given(seed=SEEDS, scale=st.floats(1e-3, 1e3))
def test_label_losses_are_finite_and_non_negative_at_any_scale(name, seed, scale):
    _, z, y = _rng_data(seed)
    none = LABEL_LOSSES[name](scale * z, y)
    # distillation's KL, when teacher and student are both sure of one class, loses its leading
    # term sum(q) - sum(p) to rounding (log p_max = log q_max = 0): a few ulps below 0 at worst
    floor = -1e-14 if name == "distillation" else 0.0
    assert none.shape == (5,) and np.all(np.isfinite(none)) and np.all(none >= floor), none


@pytest.mark.parametrize(
    "fn",
    [L.binary_cross_entropy, L.binary_cross_entropy_with_logits, L.sigmoid_focal, L.soft_target_cross_entropy, L.categorical_cross_entropy],
    ids=lambda f: f.__name__,
)
def test_elementwise_and_row_losses_mean_is_sum_over_n(fn):
    rng = np.random.default_rng(9)
    x = rng.dirichlet(np.ones(C), 6)
    y = rng.dirichlet(np.ones(C), 6)
    none = fn(x, y, reduction="none")
    assert float(fn(x, y, reduction="sum")) == pytest.approx(none.sum(), rel=1e-14)
    assert float(fn(x, y)) == pytest.approx(none.sum() / none.size, rel=1e-14)
    assert np.all(none >= 0)


def test_arrays_in_arrays_out_tensors_in_tensor_out():
    z, y = np.array([[1.0, 0.0]]), np.array([1])
    for fn in (L.cross_entropy, L.softmax_focal, lambda a, b: L.sparse_categorical_cross_entropy(a, b, from_logits=True)):
        assert isinstance(fn(z, y), np.ndarray)
        assert isinstance(fn(Tensor(z), y), Tensor)


# ------------------------------------------------------------------------------------ stability

SATURATED = np.array([[1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 0.0, 0.0], [0.0, 0.0, 1e4, -1e4], [5.0, 5.0, 5.0, 5.0]])
LABELS = np.array([1, 0, 3, 2])
W = np.array([0.5, 2.0, 1.0, 3.0])
STABILITY = {
    "bce_with_logits(weight, pos_weight)": (
        lambda z: L.binary_cross_entropy_with_logits(z, np.eye(C)[LABELS] * 0.9, weight=W, pos_weight=W[::-1], reduction="sum")
    ),
    "cross_entropy(weight, ignore_index, label_smoothing)": (
        lambda z: L.cross_entropy(z, np.array([1, -100, 3, 2]), weight=W, label_smoothing=0.3)
    ),
    "cross_entropy(probabilities)": lambda z: L.cross_entropy(z, np.array([[0.0, 1.0, 0.0, 0.0]] * 4), weight=W, label_smoothing=0.1),
    "sigmoid_focal(gamma=0.5)": lambda z: L.sigmoid_focal(z, np.eye(C)[LABELS], gamma=0.5, reduction="sum"),
    "softmax_focal(gamma=0.5, alpha)": lambda z: L.softmax_focal(z, LABELS, gamma=0.5, alpha=W),
    "distillation(T=0.5)": lambda z: L.distillation(z, z[::-1], LABELS, temperature=0.5, alpha=0.2),
    "categorical_cross_entropy(from_logits)": lambda z: L.categorical_cross_entropy(z, np.eye(C)[LABELS], from_logits=True),
    "sparse_categorical_cross_entropy(from_logits)": lambda z: L.sparse_categorical_cross_entropy(z, LABELS, from_logits=True),
}


@pytest.mark.parametrize("composite", [False, True])
@pytest.mark.parametrize("name", sorted(STABILITY))
def test_logits_of_1e4_give_finite_values_and_gradients(name, composite):
    value, g = _value_and_grad(STABILITY[name], SATURATED, composite=composite)
    assert np.isfinite(value) and np.all(np.isfinite(g)), (value, g)
    assert value > 1e3  # some confidently wrong logits: the loss is large, not clipped


@pytest.mark.parametrize("composite", [False, True])
def test_probabilities_of_exactly_0_and_1_give_finite_values_and_gradients(composite):
    p = np.array([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    hot = np.eye(C)[[1, 1, 3]]
    cases = {
        "bce": lambda x: L.binary_cross_entropy(x, hot, weight=W, reduction="sum"),
        "cce": lambda x: L.categorical_cross_entropy(x, hot, reduction="sum"),
        "scce": lambda x: L.sparse_categorical_cross_entropy(x, np.array([1, 1, 3]), reduction="sum"),
        "kl": lambda x: L.kl_div(np.log(np.maximum(p[::-1], 1e-300)), x, reduction="sum"),
        "kl(input)": lambda x: L.kl_div(x - 800.0, p, reduction="sum"),
        "soft_target_cross_entropy(target)": lambda x: L.soft_target_cross_entropy(SATURATED[:3], x, reduction="sum"),
    }
    for name, fn in cases.items():
        value, g = _value_and_grad(fn, p, composite=composite)
        assert np.isfinite(value) and np.all(np.isfinite(g)), (name, value, g)
    value, g = _value_and_grad(L.nll, np.array([[0.0, -1e4], [-1e4, 0.0]]), np.array([1, 1]), composite=composite)
    assert float(value) == 5e3 and np.all(np.isfinite(g))


# ------------------------------------------------------------------------------------ bad input

Z = np.zeros((4, C))
Y = np.array([0, 1, 2, 3])
P = np.full((4, C), 0.25)


@pytest.mark.parametrize(
    "call, error, message",
    [
        # labels out of range, or not integers
        (lambda: L.cross_entropy(Z, np.array([0, 1, 2, 4])), ValueError, r"target must be class labels in \[0, 4\) or ignore_index=-100, got values from 0 to 4"),
        (lambda: L.cross_entropy(Z, np.array([0, -1, 2, 3])), ValueError, r"target must be class labels in \[0, 4\) or ignore_index=-100, got values from -1 to 3"),
        (lambda: L.nll(np.log(P), np.array([0, 1, 2, 7])), ValueError, r"target must be class labels in \[0, 4\)"),
        (lambda: L.softmax_focal(Z, np.array([0, 1, 2, 5])), ValueError, r"target must be class labels in \[0, 4\)"),
        (lambda: L.distillation(Z, Z, np.array([0, 1, 2, 4])), ValueError, r"target must be class labels in \[0, 4\)"),
        (lambda: L.sparse_categorical_cross_entropy(P, np.array([0, 1, 2, 4])), ValueError, r"target must be class labels in \[0, 4\), got values up to 4"),
        (lambda: L.sparse_categorical_cross_entropy(P, np.array([0, -1, 2, 3])), ValueError, r"target must be class labels >= 0, got values from -1"),
        (lambda: L.sparse_categorical_cross_entropy(Z, np.array([0, 1, 2, 4]), from_logits=True), ValueError, r"target must be class labels in \[0, 4\), got values from 0 to 4"),
        (lambda: L.nll(np.log(P), Y.astype(float)), TypeError, "target must hold integer class labels, got dtype float64"),
        (lambda: L.softmax_focal(Z, Y.astype(float)), TypeError, "target must hold integer class labels, got dtype float64"),
        (lambda: L.distillation(Z, Z, Y.astype(float)), TypeError, "target must hold integer class labels"),
        (lambda: L.sparse_categorical_cross_entropy(Z, Y.astype(float), from_logits=True), TypeError, "target must hold integer class labels"),
        (lambda: L.sparse_categorical_cross_entropy(P, Y.astype(float)), TypeError, "target must hold integer class labels"),
        # float labels to cross_entropy mean probabilities: then they must have the logits' shape
        (lambda: L.cross_entropy(Z, Y.astype(float)), ValueError, r"target with a floating dtype holds class probabilities and must have the shape of logits \(4, 4\), got \(4,\)"),
        # probabilities outside [0, 1]
        (lambda: L.binary_cross_entropy(np.array([0.5, 1.2]), np.array([1.0, 0.0])), ValueError, r"prediction must be in \[0, 1\], got values from 0.5 to 1.2"),
        (lambda: L.binary_cross_entropy(np.array([0.5, 0.2]), np.array([1.0, -0.1])), ValueError, r"target must be in \[0, 1\]"),
        (lambda: L.binary_cross_entropy_with_logits(np.zeros(2), np.array([1.0, 2.0])), ValueError, r"target must be in \[0, 1\]"),
        (lambda: L.sigmoid_focal(np.zeros(2), np.array([1.0, 2.0])), ValueError, r"target must be in \[0, 1\]"),
        (lambda: L.categorical_cross_entropy(P * 5, np.eye(C)[Y]), ValueError, r"probs must be in \[0, 1\], got values from 1.25 to 1.25"),
        (lambda: L.sparse_categorical_cross_entropy(-P, Y), ValueError, r"probs must be in \[0, 1\]"),
        (lambda: L.kl_div(np.log(P), P * 5), ValueError, r"target must be probabilities in \[0, 1\] \(pass log_target=True for log-probabilities\)"),
        (lambda: L.kl_div(np.log(P), P, log_target=True), ValueError, r"target must be log-probabilities \(<= 0\) with log_target=True"),
        (lambda: L.kl_div(-np.log(P), P), ValueError, r"input must be log-probabilities \(<= 0\)"),
        (lambda: L.nll(Z + 1.0, Y), ValueError, r"log_probs must be log-probabilities \(<= 0\), got values from 1 to 1"),
        (lambda: L.cross_entropy(Z, -P), ValueError, r"target must be in \[0, 1\]"),
        # rows (one-hot or probabilities) that do not sum to 1
        (lambda: L.categorical_cross_entropy(P, np.ones((4, C))), ValueError, r"target rows must sum to 1 \(probabilities or one-hot\), got sums from 4 to 4"),
        (lambda: L.categorical_cross_entropy(Z, np.ones((4, C)), from_logits=True), ValueError, "target rows must sum to 1"),
        (lambda: L.cross_entropy(Z, P * 0.5), ValueError, r"target rows \(over the class axis 1\) must sum to 1, got sums from 0.5 to 0.5"),
        (lambda: L.smooth_labels(np.array([1.0, 1.0, 0.0]), 0.1), ValueError, r"target rows must sum to 1"),
        (lambda: L.categorical_cross_entropy(np.zeros((4, C)), np.eye(C)[Y]), ValueError, r"probs rows \(over the last axis\) must have a positive sum, got a row of zeros"),
        # class weights of the wrong length, or negative
        (lambda: L.cross_entropy(Z, Y, weight=np.ones(3)), ValueError, r"weight must have one entry per class, shape \(4,\), got \(3,\)"),
        (lambda: L.cross_entropy(Z, P, weight=np.ones(5)), ValueError, r"weight must have one entry per class, shape \(4,\), got \(5,\)"),
        (lambda: L.nll(np.log(P), Y, weight=np.ones((4, 1))), ValueError, r"weight must have one entry per class, shape \(4,\), got \(4, 1\)"),
        (lambda: L.softmax_focal(Z, Y, alpha=np.ones(2)), ValueError, r"alpha must have one entry per class, shape \(4,\), got \(2,\)"),
        (lambda: L.cross_entropy(Z, Y, weight=-np.ones(C)), ValueError, r"weight must be non-negative"),
        (lambda: L.binary_cross_entropy(P, P, weight=np.ones(3)), ValueError, r"weight must broadcast to the input's shape \(4, 4\), got \(3,\)"),
        (lambda: L.binary_cross_entropy(P, P, weight=np.ones((4, 4, 1))), ValueError, r"weight must broadcast to the input's shape \(4, 4\), got \(4, 4, 1\)"),
        (lambda: L.binary_cross_entropy_with_logits(Z, P, pos_weight=np.ones(5)), ValueError, r"pos_weight must broadcast to the input's shape \(4, 4\), got \(5,\)"),
        (lambda: L.binary_cross_entropy_with_logits(Z, P, pos_weight=-np.ones(C)), ValueError, "pos_weight must be non-negative"),
        # shapes that would silently broadcast
        (lambda: L.binary_cross_entropy(np.full((4, 1), 0.5), np.zeros(4)), ValueError, r"target must have the shape of prediction \(4, 1\), got \(4,\)"),
        (lambda: L.binary_cross_entropy_with_logits(np.zeros((4, 1)), np.zeros(4)), ValueError, r"target must have the shape of logits \(4, 1\), got \(4,\)"),
        (lambda: L.sigmoid_focal(np.zeros((4, 1)), np.zeros(4)), ValueError, r"target must have the shape of logits \(4, 1\), got \(4,\)"),
        (lambda: L.kl_div(np.log(P), P[:1]), ValueError, r"target must have the shape of input \(4, 4\), got \(1, 4\)"),
        (lambda: L.cross_entropy(Z, Y[:, None]), ValueError, r"target must hold one class label per sample, shape \(4,\) \(logits \(4, 4\) without its class axis 1\), got \(4, 1\)"),
        (lambda: L.nll(np.log(P), Y[:1]), ValueError, r"target must hold one class label per sample, shape \(4,\)"),
        (lambda: L.cross_entropy(np.zeros(C), np.array([1])), ValueError, r"target must be 0-d for one sample without a batch axis"),
        (lambda: L.cross_entropy(np.zeros(()), np.array(1)), ValueError, r"logits must have shape \(N, C\) or \(N, C, d1, ...\), got \(\)"),
        (lambda: L.cross_entropy(Z, P[:, :1] * 0 + 1), ValueError, r"must have the shape of logits \(4, 4\), got \(4, 1\)"),
        (lambda: L.categorical_cross_entropy(P, np.eye(C)[:1]), ValueError, r"target must have the shape of probs \(4, 4\), got \(1, 4\)"),
        (lambda: L.categorical_cross_entropy(Z, np.eye(C)[:1], from_logits=True), ValueError, r"target must have the shape of probs \(4, 4\), got \(1, 4\)"),
        (lambda: L.sparse_categorical_cross_entropy(P, Y[:, None]), ValueError, r"target must hold one label per row of probs, shape \(4,\)"),
        (lambda: L.sparse_categorical_cross_entropy(Z, Y[:, None], from_logits=True), ValueError, r"target must hold one label per row of probs, shape \(4,\)"),
        (lambda: L.distillation(Z, Z[:, :3], Y), ValueError, r"teacher_logits must have the shape of student_logits \(4, 4\), got \(4, 3\)"),
        # bad parameter values
        (lambda: L.cross_entropy(Z, Y, label_smoothing=1.5), ValueError, r"label_smoothing must be in \[0, 1\], got 1.5"),
        (lambda: L.cross_entropy(Z, Y, label_smoothing=-0.1), ValueError, r"label_smoothing must be in \[0, 1\], got -0.1"),
        (lambda: L.cross_entropy(Z, P, label_smoothing=2.0), ValueError, r"label_smoothing must be in \[0, 1\], got 2.0"),
        (lambda: L.cross_entropy(Z, Y, label_smoothing="0.1"), TypeError, r"label_smoothing must be a real number, got str '0.1'"),
        (lambda: L.smooth_labels(np.eye(3), 1.1), ValueError, r"epsilon must be in \[0, 1\], got 1.1"),
        (lambda: L.sigmoid_focal(Z, P, gamma=-1.0), ValueError, "gamma must be non-negative, got -1.0"),
        (lambda: L.softmax_focal(Z, Y, gamma=-0.5), ValueError, "gamma must be non-negative, got -0.5"),
        (lambda: L.softmax_focal(Z, Y, gamma=math.inf), ValueError, "gamma must be a finite number, got inf"),
        (lambda: L.sigmoid_focal(Z, P, alpha=1.5), ValueError, r"alpha must be <= 1, got 1.5"),
        (lambda: L.distillation(Z, Z, Y, temperature=0.0), ValueError, "temperature must be positive, got 0.0"),
        (lambda: L.distillation(Z, Z, Y, temperature=-2), ValueError, "temperature must be positive, got -2"),
        (lambda: L.distillation(Z, Z, Y, temperature=math.inf), ValueError, "temperature must be a finite number, got inf"),
        (lambda: L.distillation(Z, Z, Y, temperature=None), TypeError, "temperature must be a real number, got NoneType None"),
        (lambda: L.distillation(Z, Z, Y, alpha=1.5), ValueError, r"alpha must be in \[0, 1\], got 1.5"),
        (lambda: L.categorical_cross_entropy(P, np.eye(C)[Y], eps=0.0), ValueError, r"eps must be in \(0, 0.5\), got 0.0"),
        (lambda: L.categorical_cross_entropy(P, np.eye(C)[Y], from_logits="yes"), TypeError, "from_logits must be True or False, got str 'yes'"),
        (lambda: L.kl_div(np.log(P), P, log_target=1), TypeError, "log_target must be True or False, got int 1"),
        (lambda: L.cross_entropy(Z, Y, ignore_index=1.0), TypeError, "ignore_index must be an integer, got float 1.0"),
        (lambda: L.cross_entropy(Z, P, ignore_index=0), ValueError, "ignore_index applies to class-index targets only"),
        (lambda: L.kl_div(np.log(P), P, reduction="mean_over_batch"), ValueError, "reduction must be one of 'mean', 'batchmean', 'sum', 'none', got 'mean_over_batch'"),
        (lambda: L.cross_entropy(Z, Y, reduction="batchmean"), ValueError, "reduction must be one of 'mean', 'sum', 'none', got 'batchmean'"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
