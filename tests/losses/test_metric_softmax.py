"""Softmax-based metric losses: pytorch-metric-learning references, closed forms, properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import assert_matches_torch, load

TORCH = load("metric_softmax")


def _margin(fn, r, **kw):
    return lambda embeddings, weight, labels: fn(embeddings, weight, labels, reduction=r, **kw)


NPLOSS = {
    **{
        f"cosface-s{s:g}-m{m:g}-{r}": _margin(L.cosface, r, scale=s, margin=m)
        for s, m in ((30.0, 0.35), (64.0, 0.35), (10.0, 0.0))
        for r in ("mean", "none") + (("sum",) if (s, m) == (30.0, 0.35) else ())
    },
    "cosface-aligned": _margin(L.cosface, "none"),
    **{
        f"arcface-s{s:g}-m{m:g}-{r}": _margin(L.arcface, r, scale=s, margin=m)
        for s, m in ((64.0, 0.5), (30.0, 0.3), (16.0, 1.2))
        for r in ("mean", "none") + (("sum",) if s == 64 else ())
    },
    **{f"arcface-insightface-easy{int(e)}-none": _margin(L.arcface, "none", easy_margin=e) for e in (False, True)},
    **{
        f"n_pair-l2{lam:g}-{r}": (lambda lam, r: lambda anchors, positives: L.n_pair(anchors, positives, l2_reg=lam, reduction=r))(lam, r)
        for lam in (0.0, 0.002, 0.5)
        for r in ("mean", "none") + (("sum",) if lam == 0.002 else ())
    },
    **{
        f"nt_xent-t{t:g}-{r}": (lambda t, r: lambda z: L.nt_xent(z, temperature=t, reduction=r))(t, r)
        for t in (0.5, 0.07, 1.0)
        for r in ("mean", "none") + (("sum",) if t == 0.5 else ())
    },
    **{
        f"supcon-t{t:g}-{r}": (lambda t, r: lambda features, labels: L.supcon(features, labels, temperature=t, reduction=r))(t, r)
        for t in (0.07, 0.1, 0.5)
        for r in ("mean", "none") + (("sum",) if t == 0.07 else ())
    },
}


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def test_the_arcface_reference_cases_reach_the_fallback_branch():
    """The fixture must exercise theta + m > pi, or the fallback would go untested."""
    case = TORCH["arcface-s64-m0.5-none"]["input"]
    e, w, y = case["embeddings"], case["weight"], case["labels"]
    cos = np.sum(e / np.linalg.norm(e, axis=1, keepdims=True) * (w / np.linalg.norm(w, axis=1, keepdims=True))[y], axis=1)
    assert np.any(cos < math.cos(math.pi - 0.5)) and np.any(cos > math.cos(math.pi - 0.5))
    assert np.any(cos < 0) and np.any(cos > 0)


# ------------------------------------------------------------------------ closed forms


def _value_and_grads(fn, *inputs):
    tensors = [Tensor(x, requires_grad=True) if x.dtype.kind == "f" else x for x in inputs]
    out = fn(*tensors)
    return float(out.numpy()), [g.numpy() for g in grad(out, [t for t in tensors if isinstance(t, Tensor)])]


def test_cosface_subtracts_the_margin_from_the_cosine_not_the_angle():
    # one embedding at angle 0.3 from class 0 and pi/2 - 0.3 from class 1 (a CosFace loss of
    # cos(theta - m) would raise the target logit instead)
    theta, s, m = 0.3, 4.0, 0.35
    x = np.array([[math.cos(theta), math.sin(theta)]])
    value = float(L.cosface(x, np.eye(2), np.array([0]), scale=s, margin=m))
    target, other = s * (math.cos(theta) - m), s * math.sin(theta)
    assert value == pytest.approx(math.log1p(math.exp(other - target)), rel=1e-12)


@given(theta=st.floats(0.05, math.pi - 0.05), margin=st.floats(0.0, 1.4), easy=st.booleans())
def test_arcface_target_logit_is_cos_theta_plus_m_or_the_fallback(theta, margin, easy):
    s = 2.0
    x = np.array([[math.cos(theta), math.sin(theta)]])
    w = np.array([[1.0, 0.0], [-1.0, 0.0]])  # class 1 at angle pi - theta
    if easy:
        phi = math.cos(theta + margin) if math.cos(theta) > 0 else math.cos(theta)
    else:
        phi = math.cos(theta + margin) if theta < math.pi - margin else math.cos(theta) - margin * math.sin(margin)
    expected = math.log1p(math.exp(s * math.cos(math.pi - theta) - s * phi))
    value = float(L.arcface(x, w, np.array([0]), scale=s, margin=margin, easy_margin=easy))
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_arcface_with_zero_margin_is_cosface_with_zero_margin():
    rng = np.random.default_rng(0)
    e, w, y = rng.standard_normal((6, 3)), rng.standard_normal((4, 3)), rng.integers(0, 4, 6)
    a, ga = _value_and_grads(lambda e, w, y: L.arcface(e, w, y, scale=7.0, margin=0.0), e, w, y)
    c, gc = _value_and_grads(lambda e, w, y: L.cosface(e, w, y, scale=7.0, margin=0.0), e, w, y)
    assert a == pytest.approx(c, rel=1e-12)
    for x, z in zip(ga, gc):
        np.testing.assert_allclose(x, z, rtol=1e-10, atol=1e-14)


def test_n_pair_two_orthogonal_pairs():
    # logits = I: l_i = log(1 + e^{0 - 1})
    assert float(L.n_pair(np.eye(2), np.eye(2))) == pytest.approx(math.log1p(math.exp(-1.0)), rel=1e-14)
    # the regulariser adds l2_reg/4 (|a|^2 + |p|^2) = l2_reg/2 per anchor
    assert float(L.n_pair(np.eye(2), np.eye(2), l2_reg=0.3)) == pytest.approx(math.log1p(math.exp(-1.0)) + 0.15, rel=1e-14)


def test_nt_xent_is_supcon_with_the_two_views_as_the_only_positives():
    z = np.random.default_rng(1).standard_normal((8, 5))
    labels = np.concatenate([np.arange(4), np.arange(4)])
    for r in ("none", "mean"):
        np.testing.assert_allclose(L.nt_xent(z, 0.2, reduction=r), L.supcon(z, labels, 0.2, reduction=r), rtol=1e-12)


def test_nt_xent_closed_form():
    z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    # each anchor: positive cos 1, two negatives of cos 0
    expected = math.log(math.exp(1 / 0.5) + 2.0) - 1 / 0.5
    np.testing.assert_allclose(L.nt_xent(z, reduction="none"), np.full(4, expected), rtol=1e-10)  # eps in the normalisation


def test_supcon_averages_over_positives_outside_the_log():
    f = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = np.array([0, 0, 0, 1])
    t = 1.0
    out = L.supcon(f, y, temperature=t, reduction="none")
    # anchor 0: positives 1 (cos 1) and 2 (cos 0), denominator over rows 1, 2, 3 (cos 1, 0, -1)
    lse = math.log(math.e + 1.0 + math.exp(-1.0))
    assert out[0] == pytest.approx(0.5 * ((lse - 1.0) + (lse - 0.0)), rel=1e-14)
    assert out[3] == 0.0  # label 1 has no positive


# ------------------------------------------------------------------------ properties


def test_supcon_excludes_anchors_without_a_positive_from_the_mean():
    rng = np.random.default_rng(2)
    f, y = rng.standard_normal((6, 3)), np.array([0, 1, 0, 2, 1, 3])
    none = L.supcon(f, y, reduction="none")
    anchored = np.array([True, True, True, False, True, False])
    assert np.all(none[~anchored] == 0.0) and np.all(none[anchored] > 0)
    assert float(L.supcon(f, y)) == pytest.approx(none[anchored].mean(), rel=1e-12)
    assert float(L.supcon(f, y, reduction="sum")) == pytest.approx(none.sum(), rel=1e-12)


def test_supcon_without_any_positive_is_a_documented_zero_not_nan():
    f = Tensor(np.random.default_rng(3).standard_normal((4, 3)), requires_grad=True)
    out = L.supcon(f, np.arange(4))
    (g,) = grad(out, [f])
    assert float(out.numpy()) == 0.0 and np.all(g.numpy() == 0.0)


@pytest.mark.parametrize("name", ["cosface", "arcface", "n_pair", "nt_xent", "supcon"])
def test_non_negative_and_mean_is_sum_over_n(name):
    rng = np.random.default_rng(4)
    e, w, y = rng.standard_normal((6, 3)), rng.standard_normal((4, 3)), np.array([0, 1, 2, 3, 0, 1])
    inputs = {
        "cosface": (e, w, y), "arcface": (e, w, y), "n_pair": (e, w[[0, 1, 2, 3, 0, 1]] + 0.1),
        "nt_xent": (e,), "supcon": (e, y),
    }[name]  # fmt: skip
    fn = getattr(L, name)
    none = fn(*inputs, reduction="none")
    assert none.shape == (6,) and np.all(none >= 0)
    # supcon averages over the anchors that have a positive (PML's AvgNonZeroReducer)
    counted = (none > 0).sum() if name == "supcon" else none.size
    assert float(fn(*inputs)) == pytest.approx(none.sum() / counted, rel=1e-12)
    assert float(fn(*inputs, reduction="sum")) == pytest.approx(none.sum(), rel=1e-12)


@given(scale=st.floats(0.1, 10.0), seed=st.integers(0, 2**16))
def test_cosine_losses_ignore_the_norms_of_their_inputs(scale, seed):
    rng = np.random.default_rng(seed)
    e, w, y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.integers(0, 4, 5)
    r = rng.uniform(0.5, 3.0, (5, 1)) * scale
    for fn in (L.cosface, L.arcface):
        # atol: with scale 64 a loss of 1e-5 is a difference of terms of size 100
        np.testing.assert_allclose(fn(e * r, w * 2.5, y, reduction="none"), fn(e, w, y, reduction="none"), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(L.nt_xent(np.vstack([e, e[::-1]]) * scale), L.nt_xent(np.vstack([e, e[::-1]])), rtol=1e-9)
    # the eps inside the normalisation's square root shifts small norms by ~eps/|x|^2, and
    # 1/temperature = 14 amplifies it: 1e-7 still catches a missing normalisation
    np.testing.assert_allclose(L.supcon(e * r, y, reduction="none"), L.supcon(e, y, reduction="none"), rtol=1e-7)


@given(seed=st.integers(0, 2**16))
def test_invariant_to_a_common_rotation_and_to_a_permutation_of_the_batch(seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    e, w, y = rng.standard_normal((6, 3)), rng.standard_normal((4, 3)), rng.integers(0, 4, 6)
    perm = rng.permutation(6)
    # atol: a rotation changes the rounding, and a loss of 1e-6 is a difference of two O(1) terms
    np.testing.assert_allclose(L.cosface(e @ q, w @ q, y, reduction="none"), L.cosface(e, w, y, reduction="none"), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(L.arcface(e[perm], w, y[perm], reduction="none"), L.arcface(e, w, y, reduction="none")[perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(L.supcon(e[perm] @ q, y[perm], reduction="none"), L.supcon(e, y, reduction="none")[perm], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(L.n_pair(e[perm] @ q, e[::-1][perm] @ q, reduction="none"), L.n_pair(e, e[::-1], reduction="none")[perm], rtol=1e-9, atol=1e-12)


def test_near_zero_at_a_perfect_separation():
    # CosFace/ArcFace: each embedding on its class weight, weights orthogonal, large scale
    w = np.eye(3)
    y = np.array([0, 1, 2, 1])
    assert float(L.cosface(w[y], w, y, scale=64.0)) < 1e-9
    assert float(L.arcface(w[y], w, y, scale=64.0)) < 1e-9
    # N-pair with scaled orthogonal pairs; NT-Xent/SupCon: identical views, orthogonal samples
    assert float(L.n_pair(10 * np.eye(3), 10 * np.eye(3))) < 1e-40
    assert float(L.nt_xent(np.vstack([np.eye(3), np.eye(3)]), temperature=0.05)) < 1e-8
    assert float(L.supcon(np.vstack([np.eye(3), np.eye(3)]), np.array([0, 1, 2, 0, 1, 2]), temperature=0.05)) < 1e-8


# ------------------------------------------------------------------------ edge cases


def _finite(fn, *inputs):
    value, grads = _value_and_grads(fn, *inputs)
    assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)
    return value, grads


def test_identical_embeddings():
    # every similarity equal: the loss is log of the number of candidates, the gradient 0
    x = np.ones((6, 3))
    value, (g,) = _finite(lambda z: L.nt_xent(z), x)
    assert value == pytest.approx(math.log(5), rel=1e-12) and np.abs(g).max() < 1e-12
    value, (g,) = _finite(lambda z: L.supcon(z, np.array([0, 0, 1, 1, 2, 2])), x)
    assert value == pytest.approx(math.log(5), rel=1e-12)
    value, _ = _finite(lambda a, p: L.n_pair(a, p), x[:4], x[:4])
    assert value == pytest.approx(math.log(4), rel=1e-12)
    value, _ = _finite(lambda e, w, y: L.cosface(e, w, y, margin=0.0), x[:5], np.ones((4, 3)), np.array([0, 1, 2, 3, 0]))
    assert value == pytest.approx(math.log(4), rel=1e-12)


def test_arcface_at_theta_zero_and_pi_stays_finite():
    w = np.array([[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]])
    y = np.array([0, 1, 2, 0])
    for sign in (1.0, -1.0):  # theta = 0 (slope of cos(theta + m) unbounded) and theta = pi (fallback)
        value, (ge, gw) = _finite(lambda e, w, y: L.arcface(e, w, y), sign * 3.0 * w[y], w, y)
        for easy in (False, True):
            _finite(lambda e, w, y: L.arcface(e, w, y, easy_margin=easy), sign * w[y], w, y)


@pytest.mark.parametrize("scale", [1e3, 1e5])
def test_large_scale_and_small_temperature_stay_finite(scale):
    rng = np.random.default_rng(5)
    e, w, y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.integers(0, 4, 5)
    for fn in (L.cosface, L.arcface):
        value, _ = _finite(lambda e, w, y: fn(e, w, y, scale=scale), e, w, y)
        assert value >= 0
    _finite(lambda z: L.nt_xent(z, temperature=1.0 / scale), np.vstack([e, e + 0.1]))
    _finite(lambda z: L.supcon(z, y, temperature=1.0 / scale), e)
    _finite(lambda a, p: L.n_pair(a, p), scale * e, scale * e[::-1])


def test_zero_embedding_is_finite():
    rng = np.random.default_rng(6)
    e = rng.standard_normal((6, 3))
    e[2] = 0.0
    _finite(lambda e, w, y: L.arcface(e, w, y), e, rng.standard_normal((4, 3)), np.array([0, 1, 2, 3, 0, 1]))
    _finite(lambda z: L.nt_xent(z), e)
    _finite(lambda z: L.supcon(z, np.array([0, 1, 2, 3, 0, 2])), e)


def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    e, w, y = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32), rng.integers(0, 4, 5)
    assert L.arcface(e, w, y, reduction="none").dtype == np.float32
    assert L.supcon(np.vstack([e, e]), np.concatenate([y, y]), reduction="none").dtype == np.float32


# ------------------------------------------------------------------------ bad input


def test_bad_input():
    e, w, y = np.zeros((4, 3)), np.ones((5, 3)), np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"weight must have shape \(C, 3\).*got \(5, 2\)"):
        L.cosface(e, np.ones((5, 2)), y)
    with pytest.raises(ValueError, match=r"labels must be class labels in \[0, 5\).*to 7"):
        L.arcface(e, w, np.array([0, 1, 2, 7]))
    with pytest.raises(ValueError, match=r"labels must be class labels >= 0, got values from -1"):
        L.arcface(e, w, np.array([0, -1, 2, 3]))
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        L.cosface(e, w, np.array([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        L.cosface(e, w, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"embeddings must be a 2-D array"):
        L.cosface(np.zeros(3), w, np.array([0]))
    with pytest.raises(ValueError, match="scale must be positive, got 0"):
        L.cosface(e, w, y, scale=0.0)
    with pytest.raises(ValueError, match="scale must be positive, got -1"):
        L.arcface(e, w, y, scale=-1.0)
    with pytest.raises(ValueError, match="margin must be non-negative, got -0.1"):
        L.cosface(e, w, y, margin=-0.1)
    with pytest.raises(ValueError, match=r"margin must be an angle in radians in \[0, pi/2\), got 28.6 .*degrees"):
        L.arcface(e, w, y, margin=28.6)
    with pytest.raises(ValueError, match=r"positives must have the shape of anchors \(4, 3\), got \(4, 2\)"):
        L.n_pair(e, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="l2_reg must be non-negative"):
        L.n_pair(e, e, l2_reg=-1.0)
    with pytest.raises(ValueError, match="z must hold 2N rows.*got 5"):
        L.nt_xent(np.zeros((5, 3)))
    for t in (0.0, -0.5):
        with pytest.raises(ValueError, match=f"temperature must be positive, got {t}"):
            L.nt_xent(np.ones((4, 3)), temperature=t)
        with pytest.raises(ValueError, match=f"temperature must be positive, got {t}"):
            L.supcon(e, y, temperature=t)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\), one per row of features"):
        L.supcon(e, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="features must have at least 2 rows"):
        L.supcon(np.ones((1, 3)), np.array([0]))
    with pytest.raises(ValueError, match="embeddings contains NaN"):
        L.cosface(np.full((4, 3), np.nan), w, y)
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.supcon(e, y, reduction="avg")


def test_arrays_in_arrays_out_tensors_in_tensor_out():
    e = np.random.default_rng(8).standard_normal((4, 3))
    assert isinstance(L.nt_xent(e), np.ndarray)
    assert isinstance(L.nt_xent(Tensor(e)), Tensor)
