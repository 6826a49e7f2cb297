"""Margin classifiers of pytorch-metric-learning: PML references, closed forms, properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import assert_matches_torch, load

TORCH = load("margin_classifiers")


def _call(fn, r, **kw):
    return lambda embeddings, weight, labels: fn(embeddings, weight, labels, reduction=r, **kw)


NPLOSS = {
    **{f"normalized_softmax-default-{r}": _call(L.normalized_softmax, r) for r in ("mean", "none", "sum")},
    "normalized_softmax-t0.5-mean": _call(L.normalized_softmax, "mean", temperature=0.5),
    **{
        f"{name}-default-{tag}-{r}": _call(getattr(L, name), r)
        for name in ("large_margin_softmax", "sphereface")
        for tag in ("random", "spread")
        for r in ("mean", "none") + (("sum",) if tag == "random" else ())
    },
    **{
        f"{name}-m{m}-s{s:g}-spread-none": _call(getattr(L, name), "none", margin=m, scale=s)
        for name in ("large_margin_softmax", "sphereface")
        for m, s in ((1, 1.0), (2, 3.0), (3, 0.5), (5, 1.0))
    },
    **{
        f"sub_center_arcface-k{k}-{tag}-{r}": _call(L.sub_center_arcface, r, sub_centers=k)
        for k in (3, 1, 2)
        for tag in ("random", "spread")
        for r in ("mean", "none") + (("sum",) if k == 3 and tag == "random" else ())
    },
    **{
        f"sub_center_arcface-m{m:g}-s{s:g}-none": _call(L.sub_center_arcface, "none", margin=m, scale=s, sub_centers=2)
        for m, s in ((10.0, 30.0), (45.0, 16.0))
    },
    **{f"p2s_grad-{tag}-{r}": _call(L.p2s_grad, r) for tag in ("random", "spread") for r in ("mean", "none", "sum")},
}


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def _target_cos(case):
    e, w, y = case["input"]["embeddings"], case["input"]["weight"], case["input"]["labels"]
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    v = w / np.linalg.norm(w, axis=1, keepdims=True)
    return np.sum(u * v[y], axis=1)


def test_the_spread_cases_reach_every_branch_of_psi():
    c = _target_cos(TORCH["large_margin_softmax-default-spread-none"])
    k = np.floor(np.arccos(c) / (math.pi / 4))
    assert set(k.tolist()) >= {0.0, 1.0, 2.0, 3.0}


def test_the_sub_center_spread_cases_reach_the_arcface_fallback():
    case = TORCH["sub_center_arcface-k1-spread-none"]
    c = _target_cos(case)
    threshold = math.cos(math.pi - math.radians(28.6))
    assert np.any(c < threshold) and np.any(c > threshold)


# ------------------------------------------------------------------------ closed forms


def _value_and_grads(fn, *inputs):
    tensors = [Tensor(x, requires_grad=True) if x.dtype.kind == "f" else x for x in inputs]
    out = fn(*tensors)
    return float(out.numpy()), [g.numpy() for g in grad(out, [t for t in tensors if isinstance(t, Tensor)])]


def _batch(rng, classes=4, rows=4):
    return rng.standard_normal((6, 3)), rng.standard_normal((rows, 3)), np.array([0, 1, 2, 3, 0, 1]) % classes


def test_normalized_softmax_is_cosface_with_no_margin_and_scale_one_over_t():
    e, w, y = _batch(np.random.default_rng(0))
    a, ga = _value_and_grads(lambda e, w, y: L.normalized_softmax(e, w, y, temperature=0.1), e, w, y)
    b, gb = _value_and_grads(lambda e, w, y: L.cosface(e, w, y, scale=10.0, margin=0.0), e, w, y)
    assert a == pytest.approx(b, rel=1e-12)
    for x, z in zip(ga, gb):
        np.testing.assert_allclose(x, z, rtol=1e-10, atol=1e-14)


def test_sub_center_arcface_with_one_sub_centre_is_arcface():
    e, w, y = _batch(np.random.default_rng(1))
    a, ga = _value_and_grads(
        lambda e, w, y: L.sub_center_arcface(e, w, y, margin=math.degrees(0.3), scale=8.0, sub_centers=1), e, w, y
    )
    b, gb = _value_and_grads(lambda e, w, y: L.arcface(e, w, y, margin=0.3, scale=8.0), e, w, y)
    assert a == pytest.approx(b, rel=1e-10)
    for x, z in zip(ga, gb):
        np.testing.assert_allclose(x, z, rtol=1e-8, atol=1e-12)


def test_sub_center_arcface_uses_the_nearest_sub_centre_only():
    rng = np.random.default_rng(2)
    e, w, y = _batch(rng, rows=8)
    _, (_, gw) = _value_and_grads(lambda e, w, y: L.sub_center_arcface(e, w, y, sub_centers=2), e, w, y)
    cos = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T
    best = cos.reshape(6, 4, 2).argmax(2)  # the winning sub-centre of every (embedding, class)
    used = {c * 2 + best[i, c] for i in range(6) for c in range(4)}
    for row in set(range(8)) - used:
        np.testing.assert_array_equal(gw[row], 0.0)


@pytest.mark.parametrize("theta", [0.2, 0.9, 1.7, 2.5, 3.0])
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_large_margin_softmax_target_logit_is_psi(theta, m):
    """Two classes, the other at a right angle: the loss is log(1 + e^{|x| |w1| cos(pi/2) - |x| |w0| psi})."""
    x = 2.0 * np.array([[math.cos(theta), math.sin(theta)]])
    w = np.array([[3.0, 0.0], [0.0, 1.5]])
    k = math.floor(theta * m / math.pi)
    psi = (-1) ** k * math.cos(m * theta) - 2 * k
    other = 2.0 * 1.5 * math.sin(theta)
    want = math.log1p(math.exp(other - 2.0 * 3.0 * psi))
    assert float(L.large_margin_softmax(x, w, np.array([0]), margin=m)) == pytest.approx(want, rel=1e-10)
    want_sf = math.log1p(math.exp(2.0 * math.sin(theta) - 2.0 * psi))
    assert float(L.sphereface(x, w, np.array([0]), margin=m)) == pytest.approx(want_sf, rel=1e-10)


def test_large_margin_softmax_with_margin_one_is_softmax_of_w_x():
    e, w, y = _batch(np.random.default_rng(3))
    logits = e @ w.T
    want = np.log(np.exp(logits).sum(1)) - logits[np.arange(6), y]
    np.testing.assert_allclose(L.large_margin_softmax(e, w, y, margin=1, reduction="none"), want, rtol=1e-10)


def test_p2s_grad_with_normalize_weight_equals_the_default_on_unit_rows():
    e, w, y = _batch(np.random.default_rng(4))
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    a, (gea, gwa) = _value_and_grads(lambda e, w, y: L.p2s_grad(e, w, y), e, u, y)
    b, (geb, gwb) = _value_and_grads(lambda e, w, y: L.p2s_grad(e, w, y, normalize_weight=True), e, 5.0 * u, y)
    assert a == pytest.approx(b, rel=1e-10)
    np.testing.assert_allclose(gea, geb, rtol=1e-9, atol=1e-13)
    # normalize_weight differentiates the normalisation: no radial component, the rest scaled by 1/|w|
    radial = gwa - u * np.sum(u * gwa, axis=1, keepdims=True)
    np.testing.assert_allclose(gwb, radial / 5.0, rtol=1e-9, atol=1e-13)


def test_p2s_grad_is_the_mean_squared_error_of_the_cosines():
    e, w, y = _batch(np.random.default_rng(5))
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ u.T
    want = ((cos - np.eye(4)[y]) ** 2).mean()
    assert float(L.p2s_grad(e, u, y)) == pytest.approx(want, rel=1e-10)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "name", ["normalized_softmax", "large_margin_softmax", "sphereface", "sub_center_arcface", "p2s_grad"]
)
def test_shapes_and_labels_are_checked_by_name(name):
    fn = getattr(L, name)
    e, w, y = np.ones((4, 3)), np.ones((3, 3)), np.array([0, 1, 2, 0])
    kw = {"sub_centers": 1} if name == "sub_center_arcface" else {}
    with pytest.raises(ValueError, match="weight must have shape"):
        fn(e, np.ones((3, 2)), y, **kw)
    with pytest.raises(ValueError, match="labels must be class labels"):
        fn(e, w, np.array([0, 1, 3, 0]), **kw)
    with pytest.raises(ValueError, match="labels must have shape"):
        fn(e, w, np.array([0, 1]), **kw)


def test_parameters_are_checked_by_name():
    e, w, y = np.ones((4, 3)), np.ones((6, 3)), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match="weight must have C\\*sub_centers rows"):
        L.sub_center_arcface(e, np.ones((5, 3)), y)
    with pytest.raises(ValueError, match="margin"):
        L.sub_center_arcface(e, w, y, sub_centers=2, margin=90.0)
    with pytest.raises(TypeError, match="sub_centers must be an integer"):
        L.sub_center_arcface(e, w, y, sub_centers=2.0)
    with pytest.raises(TypeError, match="margin must be an integer"):
        L.large_margin_softmax(e, w, y, margin=4.0)
    with pytest.raises(ValueError, match="margin must be an integer >= 1"):
        L.sphereface(e, w, y, margin=0)
    with pytest.raises(ValueError, match="scale"):
        L.sphereface(e, w, y, scale=0.0)
    with pytest.raises(ValueError, match="temperature"):
        L.normalized_softmax(e, w, y, temperature=-1.0)
    with pytest.raises(TypeError, match="normalize_weight must be True or False"):
        L.p2s_grad(e, w, y, normalize_weight="yes")
