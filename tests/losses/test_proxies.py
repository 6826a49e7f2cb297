"""Proxy-NCA, Proxy-Anchor and SoftTriple: pytorch-metric-learning 2.9 reference values and
gradients (embeddings and weight), fused and composite; plain-loop formulas; PML's departures
from the papers; edge cases and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L
from nploss.losses import composite

from .torch_reference import assert_matches_torch, load

TORCH = load("proxies")

CALLS = {
    "proxy_nca-default": lambda embeddings, weight, labels: L.proxy_nca(embeddings, weight, labels),
    "proxy_nca-scale3": lambda embeddings, weight, labels: L.proxy_nca(embeddings, weight, labels, softmax_scale=3.0),
    "proxy_nca-oneclass": lambda embeddings, weight, labels: L.proxy_nca(embeddings, weight, labels),
    "proxy_nca-big": lambda embeddings, weight, labels: L.proxy_nca(embeddings, weight, labels),
    "proxy_anchor-default": lambda embeddings, weight, labels: L.proxy_anchor(embeddings, weight, labels),
    "proxy_anchor-m0.3-a8": lambda embeddings, weight, labels: L.proxy_anchor(
        embeddings, weight, labels, margin=0.3, alpha=8.0
    ),
    "proxy_anchor-oneclass": lambda embeddings, weight, labels: L.proxy_anchor(embeddings, weight, labels),
    "proxy_anchor-singletons": lambda embeddings, weight, labels: L.proxy_anchor(embeddings, weight, labels),
    "proxy_anchor-big": lambda embeddings, weight, labels: L.proxy_anchor(embeddings, weight, labels),
    "soft_triple-default": lambda embeddings, weight, labels: L.soft_triple(embeddings, weight, labels),
    "soft_triple-k3": lambda embeddings, weight, labels: L.soft_triple(
        embeddings, weight, labels, centers_per_class=3, la=5.0, gamma=0.5, margin=0.2
    ),
    "soft_triple-k1": lambda embeddings, weight, labels: L.soft_triple(embeddings, weight, labels, centers_per_class=1),
    "soft_triple-oneclass": lambda embeddings, weight, labels: L.soft_triple(embeddings, weight, labels),
}


def test_every_fixture_has_a_call():
    assert set(TORCH) == set(CALLS) | {"proxy_nca-scale300"}


def test_proxy_nca_where_pml_gradient_overflows():
    """At softmax_scale=300 some probabilities are subnormal: PML's -log(softmax) has the value
    but its gradient (-1/p times the softmax's Jacobian) is inf * 0 = NaN in those rows; nploss's
    log-softmax gradient is finite, and equal to PML's in every row where PML's is finite."""
    case = TORCH["proxy_nca-scale300"]
    x, w, y = (ag.Tensor(case["input"][k], requires_grad=k != "labels") for k in ("embeddings", "weight", "labels"))
    out = L.proxy_nca(x, w, y, softmax_scale=300.0)
    np.testing.assert_allclose(ag.as_data(out), case["value"], rtol=1e-6)
    gx, gw = ag.grad(out, [x, w], grad_outputs=case["cotangent"])
    want = case["grad"]["embeddings"]
    rows = np.all(np.isfinite(want), axis=1)
    assert not rows.all() and np.all(np.isfinite(gx.numpy())) and np.all(np.isfinite(gw.numpy()))
    np.testing.assert_allclose(gx.numpy()[rows], want[rows], rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("mode", ["fused", "composite"])
@pytest.mark.parametrize("case_id", sorted(CALLS))
def test_matches_pml(case_id, mode):
    if mode == "composite":
        with composite():
            assert_matches_torch(TORCH[case_id], CALLS[case_id])
    else:
        assert_matches_torch(TORCH[case_id], CALLS[case_id])


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_proxy_nca_loop():
    rng = np.random.default_rng(0)
    x, w, y = rng.standard_normal((6, 3)), rng.standard_normal((4, 3)), np.array([0, 1, 2, 3, 1, 0])
    u, v = _unit(x), _unit(w)
    for exclude in (False, True):
        want = []
        for i in range(6):
            z = np.array([-2.0 * np.sum((u[i] - v[c]) ** 2) for c in range(4)])
            den = sum(np.exp(z[c]) for c in range(4) if not (exclude and c == y[i]))
            want.append(-np.log(np.exp(z[y[i]]) / den))
        got = L.proxy_nca(x, w, y, softmax_scale=2.0, exclude_positive=exclude, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_proxy_anchor_loop():
    rng = np.random.default_rng(1)
    x, w, y = rng.standard_normal((6, 3)), rng.standard_normal((5, 3)), np.array([0, 1, 1, 3, 1, 0])
    s = _unit(x) @ _unit(w).T
    pos = [np.log1p(sum(np.exp(8 * (0.2 - s[i, c])) for i in range(6) if y[i] == c)) for c in range(5)]
    neg = [np.log1p(sum(np.exp(8 * (s[i, c] + 0.2)) for i in range(6) if y[i] != c)) for c in range(5)]
    got = L.proxy_anchor(x, w, y, margin=0.2, alpha=8.0, reduction="none")
    np.testing.assert_allclose(got, [pos, neg], rtol=1e-12)
    mean = L.proxy_anchor(x, w, y, margin=0.2, alpha=8.0)
    assert mean == pytest.approx(sum(pos) / 3 + sum(neg) / 5, rel=1e-12)  # 3 classes present


def test_soft_triple_loop():
    rng = np.random.default_rng(2)
    k, c = 3, 4
    x, w, y = rng.standard_normal((5, 3)), rng.standard_normal((c * k, 3)), np.array([0, 1, 2, 3, 1])
    sim = _unit(x) @ _unit(w).T
    want = []
    for i in range(5):
        big = []
        for cl in range(c):
            s = sim[i, cl * k : (cl + 1) * k]
            q = np.exp(s / 0.2) / np.exp(s / 0.2).sum()
            big.append(10.0 * ((q * s).sum() - (0.05 if cl == y[i] else 0.0)))
        big = np.array(big)
        want.append(np.log(np.exp(big).sum()) - big[y[i]])
    got = L.soft_triple(x, w, y, centers_per_class=k, la=10.0, gamma=0.2, margin=0.05, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_proxy_nca_drops_underflowed_anchors_as_pml():
    x = np.array([[-1.0, 0.0], [1.0, 1.0], [0.71, 0.7]])
    w = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = np.array([0, 1, 0])  # the first anchor sits on proxy 2, opposite its own: p = e^(-1200) = 0
    none = L.proxy_nca(x, w, y, softmax_scale=300.0, reduction="none")
    assert none[0] == 0.0 and none[1] > 0 and none[2] > 0
    assert L.proxy_nca(x, w, y, softmax_scale=300.0) == pytest.approx((none[1] + none[2]) / 2, rel=1e-12)
    kept = L.proxy_nca(x[1:], w, y[1:], softmax_scale=300.0)
    assert L.proxy_nca(x, w, y, softmax_scale=300.0) == pytest.approx(kept, rel=1e-12)


def test_zero_embedding_is_finite():
    x = np.vstack([np.zeros((1, 3)), np.ones((3, 3))])
    w = np.eye(4, 3) + 0.1
    y = np.array([0, 1, 2, 3])
    for fn in (L.proxy_nca, L.proxy_anchor):
        assert np.isfinite(fn(x, w, y))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: L.proxy_nca(np.ones((3, 2)), np.ones((4, 3)), np.array([0, 1, 2])), "weight must have shape"),
        (lambda: L.proxy_nca(np.ones((3, 2)), np.ones((2, 2)), np.array([0, 1, 2])), "labels must be class labels"),
        (lambda: L.proxy_nca(np.ones((3, 2)), np.ones((4, 2)), np.array([0, 1])), "labels must have shape"),
        (
            lambda: L.proxy_nca(np.ones((3, 2)), np.ones((4, 2)), np.array([0, 1, 2]), softmax_scale=0.0),
            "softmax_scale",
        ),
        (
            lambda: L.proxy_nca(np.ones((3, 2)), np.ones((1, 2)), np.array([0, 0, 0]), exclude_positive=True),
            "exclude_positive",
        ),
        (lambda: L.proxy_anchor(np.ones((3, 2)), np.ones((4, 2)), np.array([0, 1, 2]), alpha=-1.0), "alpha"),
        (
            lambda: L.soft_triple(np.ones((3, 2)), np.ones((7, 2)), np.array([0, 1, 2]), centers_per_class=2),
            "weight must have shape",
        ),
        (
            lambda: L.soft_triple(np.ones((3, 2)), np.ones((8, 2)), np.array([0, 1, 4]), centers_per_class=2),
            "labels must be class labels",
        ),
        (
            lambda: L.soft_triple(np.ones((3, 2)), np.ones((8, 2)), np.array([0, 1, 2]), centers_per_class=0),
            "centers_per_class",
        ),
        (lambda: L.soft_triple(np.ones((3, 2)), np.ones((8, 2)), np.array([0, 1, 2]), gamma=0.0), "gamma"),
        (lambda: L.soft_triple(np.ones((3, 2)), np.ones((8, 2)), np.array([0, 1, 2]), la=0.0), "la"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
