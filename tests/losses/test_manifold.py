"""NCA, instance and VICReg: pytorch-metric-learning references, closed forms, edge cases, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import assert_matches_torch, load

TORCH = load("manifold")


def _nca(r, **kw):
    return lambda embeddings, labels: L.nca(embeddings, labels, reduction=r, **kw)


def _instance(r, **kw):
    return lambda embeddings, labels: L.instance(embeddings, labels, reduction=r, **kw)


def _vicreg(**kw):
    return lambda embeddings, ref_emb: L.vicreg(embeddings, ref_emb, **kw)


def _manifold(**kw):
    return lambda embeddings, proxies, meta_classes: L.manifold(
        embeddings, proxies, meta_classes, embeddings.shape[1], **kw
    )


NPLOSS = {
    **{f"nca-default-{r}": _nca(r) for r in ("mean", "none", "sum")},
    **{f"nca-s4-{r}": _nca(r, softmax_scale=4.0) for r in ("mean", "none")},
    **{f"nca-raw-{r}": _nca(r, normalize=False) for r in ("mean", "none")},
    **{f"instance-default-{r}": _instance(r) for r in ("mean", "none", "sum")},
    **{f"instance-g8-{r}": _instance(r, gamma=8.0) for r in ("mean", "none", "sum")},
    "instance-arange-g8-mean": _instance("mean", gamma=8.0),
    "vicreg-default": _vicreg(),
    "vicreg-l1-m5-v3-eps1e-3": _vicreg(invariance_lambda=1.0, variance_mu=5.0, covariance_v=3.0, eps=1e-3),
    "vicreg-covonly": _vicreg(invariance_lambda=0.0, variance_mu=0.0, covariance_v=1.0),
    "manifold-default": _manifold(),
    "manifold-lc0.5-a0.6-m0.05": _manifold(lambdaC=0.5, alpha=0.6, margin=0.05),
    "manifold-lc0": _manifold(lambdaC=0.0),
    "manifold-a0.95-m0.02": _manifold(alpha=0.95, margin=0.02),
    "manifold-doctest": _manifold(),
}


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch_metric_learning(case_id):
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def test_the_vicreg_fixture_has_both_sides_of_the_hinge():
    z = TORCH["vicreg-default"]["input"]["embeddings"]
    std = np.sqrt(z.var(axis=0, ddof=1) + 1e-4)
    assert np.any(std < 1) and np.any(std > 1)


# ------------------------------------------------------------------------ closed forms and relations


def test_vicreg_covariance_term_is_nploss_covariance():
    rng = np.random.default_rng(0)
    z, z2 = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    a, b = Tensor(z, requires_grad=True), Tensor(z2, requires_grad=True)
    out = L.vicreg(a, b, invariance_lambda=0.0, variance_mu=0.0, covariance_v=1.0)
    ga, gb = grad(out, [a, b])
    ca, cb = Tensor(z, requires_grad=True), Tensor(z2, requires_grad=True)
    ref = L.covariance(ca) + L.covariance(cb)
    rga, rgb = grad(ref, [ca, cb])
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-13)
    np.testing.assert_allclose(ga.numpy(), rga.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gb.numpy(), rgb.numpy(), rtol=1e-12, atol=1e-15)


def test_vicreg_terms_by_hand():
    rng = np.random.default_rng(1)
    z, z2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    inv = np.mean((z - z2) ** 2)

    def var(x):
        return np.mean(np.maximum(0.0, 1.0 - np.sqrt(x.var(axis=0, ddof=1) + 1e-4))) / 2

    def cov(x):
        c = np.cov(x, rowvar=False)
        return (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / x.shape[1]

    want = 2.0 * inv + 3.0 * (var(z) + var(z2)) + 0.5 * (cov(z) + cov(z2))
    got = L.vicreg(z, z2, invariance_lambda=2.0, variance_mu=3.0, covariance_v=0.5)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_nca_closed_form():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # anchors 0, 1: p = 1 / (1 + e^-2); anchor 2 has no positive and is left out of the mean
    np.testing.assert_allclose(L.nca(x, np.array([0, 0, 1])), np.log1p(np.exp(-2.0)), rtol=1e-12)
    np.testing.assert_allclose(L.nca(x, np.array([0, 0, 1]), reduction="none")[2], 0.0)


def test_nca_edge_cases_are_zero_not_nan():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    assert float(L.nca(x, np.arange(4))) == 0.0  # no anchor has a positive (PML: NaN)
    assert float(L.nca(x[:1], np.array([0]))) == 0.0  # a batch of one (PML: 0)
    t = Tensor(x, requires_grad=True)
    (g,) = grad(L.nca(t, np.arange(4)), [t])
    assert np.all(g.numpy() == 0.0)


def test_instance_with_arange_labels_targets_itself():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    logits = 3.0 * u @ u.T
    want = np.mean(np.log(np.exp(logits).sum(axis=1)) - np.diag(logits))
    np.testing.assert_allclose(L.instance(x, np.array([10, 20, 30]), gamma=3.0), want, rtol=1e-12)


def test_instance_target_is_the_rank_of_the_label():
    """PML's target column is the label's rank among the distinct labels, not a same-label sample."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    logits = 2.0 * u @ u.T
    y = np.array([7, 7, 3, 3, 9])  # ranks 1, 1, 0, 0, 2
    rank = np.array([1, 1, 0, 0, 2])
    want = np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(5), rank]
    np.testing.assert_allclose(L.instance(x, y, gamma=2.0, reduction="none"), want, rtol=1e-12)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x, y: L.nca(x, y, softmax_scale=0.0), "softmax_scale"),
        (lambda x, y: L.nca(x, y, normalize=1), "normalize"),
        (lambda x, y: L.nca(x, y[:3]), "labels"),
        (lambda x, y: L.instance(x, y, gamma=-1.0), "gamma"),
        (lambda x, y: L.vicreg(x, x[:3]), "ref_emb"),
        (lambda x, y: L.vicreg(x[:1], x[:1]), "N >= 2"),
        (lambda x, y: L.vicreg(x, x, eps=0.0), "eps"),
        (lambda x, y: L.vicreg(x, x, variance_mu=-1.0), "variance_mu"),
    ],
)
def test_bad_input_is_refused_by_name(call, match):
    x, y = np.ones((4, 3)), np.array([0, 0, 1, 1])
    with pytest.raises((ValueError, TypeError), match=match):
        call(x, y)


# ------------------------------------------------------------------------ manifold


def _manifold_inputs(seed=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 4)), rng.standard_normal((3, 4)), np.array([0, 1, 2, 0, 1, 2, 0, 1])


def test_manifold_gauss_jordan_inverse_is_the_inverse():
    import sys

    _gauss_jordan_inverse = sys.modules["nploss.losses.metric.manifold"]._gauss_jordan_inverse
    from nploss.numerics import array_namespace

    rng = np.random.default_rng(5)
    b = rng.standard_normal((7, 7))
    a = b @ b.T + 0.5 * np.eye(7)
    np.testing.assert_allclose(_gauss_jordan_inverse(array_namespace(np), a), np.linalg.inv(a), rtol=1e-10, atol=1e-12)


def test_manifold_by_hand_with_numpy_inverse():
    e, p, m = _manifold_inputs()
    x = np.concatenate([e, p])
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = np.exp(2 * np.clip(u @ u.T, 0, None)) * (1 - np.eye(len(x)))
    r = 1 / np.sqrt(s.sum(1))
    f = 0.2 * np.linalg.inv(np.eye(len(x)) - 0.8 * r[:, None] * s * r[None, :])

    def h(g):
        t = g - g[np.arange(8), m][:, None] + 5e-4
        t[np.arange(8), m] = -np.inf
        t[t < 0] = -np.inf
        return np.log1p(np.exp(t).sum(1))

    fe, fp = f[:8], f[8:]
    cos = (fe / np.linalg.norm(fe, axis=1, keepdims=True)) @ (fp / np.linalg.norm(fp, axis=1, keepdims=True)).T
    want = np.mean(h(f[:8, 8:]) + h(cos))
    np.testing.assert_allclose(L.manifold(e, p, m, 4), want, rtol=1e-12)


def test_manifold_constant_proxies_give_the_embedding_gradient_only():
    e, p, m = _manifold_inputs()
    t = Tensor(e, requires_grad=True)
    (g,) = grad(L.manifold(t, p, m, 4), [t])
    tp = Tensor(p, requires_grad=True)
    t2 = Tensor(e, requires_grad=True)
    g2, _ = grad(L.manifold(t2, tp, m, 4), [t2, tp])
    np.testing.assert_allclose(g.numpy(), g2.numpy(), rtol=1e-13)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"l": 3}, "l must equal"),
        ({"l": 4.0}, "l must be an integer"),
        ({"alpha": 1.0}, "alpha"),
        ({"lambdaC": float("inf")}, "lambdaC"),
        ({"lambdaC": -1.0}, "lambdaC"),
        ({"meta_classes": np.array([0, 1, 3, 0, 1, 2, 0, 1])}, "meta_classes"),
        ({"meta_classes": np.array([0, 1])}, "meta_classes"),
        ({"proxies": np.ones((3, 5))}, "proxies"),
    ],
)
def test_manifold_bad_input_is_refused_by_name(kw, match):
    e, p, m = _manifold_inputs()
    args = {"embeddings": e, "proxies": p, "meta_classes": m, "l": 4, **kw}
    with pytest.raises((ValueError, TypeError), match=match):
        L.manifold(**args)
