"""Metric-learning losses: PyTorch and pytorch-metric-learning reference values, every parameter
variant through the three-gradient audit, closed forms written as plain loops, properties,
Wen et al.'s centre update, and bad input."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nploss.losses as L
from nploss.audit import audit_loss
from nploss.autograd import Tensor, grad
from nploss.losses import REGISTRY, composite
from nploss.losses import metric as M
from nploss.numerics import array_namespace

from .torch_reference import assert_matches_torch, load

TORCH = load("metric")


def _calls() -> dict:
    calls = {}
    for r in ("mean", "sum", "none"):
        calls[f"contrastive-{r}"] = lambda x1, x2, y, r=r: L.contrastive(x1, x2, y, reduction=r)
    calls["contrastive-margin2"] = lambda x1, x2, y: L.contrastive(x1, x2, y, margin=2.0)
    calls["contrastive-posmargin"] = lambda x1, x2, y: L.contrastive(x1, x2, y, margin=1.5, pos_margin=0.3)
    calls["contrastive-similar0"] = lambda x1, x2, y: L.contrastive(x1, x2, y, label_convention="similar=0")
    calls["contrastive-identical"] = lambda x1, x2, y: L.contrastive(x1, x2, y, reduction="none")
    for nz, (pm, nm) in itertools.product((True, False), ((0.0, 1.0), (0.25, 1.5))):
        calls[f"contrastive-pml-n{int(nz)}-p{pm}-m{nm}"] = lambda x1, x2, y, pm=pm, nm=nm, nz=nz: L.contrastive(
            x1, x2, y, margin=nm, pos_margin=pm, power=1, normalize=nz, reduction="avg_nonzero"
        )
    for r, m in itertools.product(("mean", "sum", "none"), (0.0, 0.3, -0.4)):
        calls[f"cosine_embedding-m{m}-{r}"] = lambda x1, x2, y, m=m, r=r: L.cosine_embedding(
            x1, x2, y, margin=m, reduction=r
        )
    calls["cosine_embedding-edges"] = lambda x1, x2, y: L.cosine_embedding(x1, x2, y, reduction="none")
    for r, d in itertools.product(("mean", "sum", "none"), (0.5, 0.0, -0.3)):
        calls[f"cosine_contrastive-d{d}-{r}"] = lambda x1, x2, y, d=d, r=r: L.cosine_contrastive(
            x1, x2, y, delta=d, reduction=r
        )
    calls["cosine_contrastive-identical"] = lambda x1, x2, y: L.cosine_contrastive(x1, x2, y, reduction="none")
    for r in ("mean", "sum", "none"):
        calls[f"triplet-{r}"] = lambda anchor, positive, negative, r=r: L.triplet(
            anchor, positive, negative, reduction=r
        )
    for m, p, s in itertools.product((0.3, 2.0), (1.0, 2.0, 3.0), (False, True)):
        calls[f"triplet-m{m}-p{p}-s{int(s)}"] = lambda anchor, positive, negative, m=m, p=p, s=s: L.triplet(
            anchor, positive, negative, margin=m, p=p, swap=s, reduction="none"
        )
    calls["triplet-eps0"] = lambda anchor, positive, negative: L.triplet(
        anchor, positive, negative, eps=0.0, reduction="none"
    )
    for s in (False, True):
        calls[f"triplet-identical-s{int(s)}"] = lambda anchor, positive, negative, s=s: L.triplet(
            anchor, positive, negative, swap=s, reduction="none"
        )
        calls[f"triplet-squared-s{int(s)}"] = lambda anchor, positive, negative, s=s: L.triplet(
            anchor, positive, negative, margin=2.0, swap=s, squared=True, reduction="none"
        )
    calls["triplet-all-identical-swap"] = lambda anchor, positive, negative: L.triplet(
        anchor, positive, negative, swap=True, reduction="none"
    )
    settings = {
        "raw": (1.0, False, False),
        "norm": (0.4, False, True),
        "sq": (3.0, True, False),
        "normsq": (0.5, True, True),
    }
    for (name, (m, sq, nz)), strategy, r in itertools.product(
        settings.items(), ("all", "hard", "semi-hard"), ("avg_nonzero", "mean")
    ):
        calls[f"batch_triplet-pml-{strategy}-{name}-{r}"] = (
            lambda embeddings, labels, m=m, st=strategy, sq=sq, nz=nz, r=r: L.batch_triplet(
                embeddings, labels, margin=m, strategy=st, squared=sq, normalize=nz, reduction=r
            )
        )
    for strategy in ("all", "hard", "semi-hard"):
        calls[f"batch_triplet-pml-{strategy}-nopositive"] = lambda embeddings, labels, st=strategy: L.batch_triplet(
            embeddings, labels, strategy=st, reduction="avg_nonzero"
        )
    for name, (m, sq, nz) in {
        "raw": (1.0, False, False),
        "norm": (1.0, False, True),
        "m3": (3.0, False, False),
        "sq": (2.0, True, False),
    }.items():
        calls[f"lifted_structured-pml-{name}"] = lambda embeddings, labels, m=m, sq=sq, nz=nz: L.lifted_structured(
            embeddings, labels, margin=m, squared=sq, normalize=nz
        )
    calls["lifted_structured-pml-nopositive"] = lambda embeddings, labels: L.lifted_structured(embeddings, labels)
    calls["lifted_structured-pml-far"] = lambda embeddings, labels: L.lifted_structured(embeddings, labels)
    for m, r in itertools.product((0.0, 0.5), ("mean", "sum", "none")):
        calls[f"margin_ranking-m{m}-{r}"] = lambda x1, x2, y, m=m, r=r: L.margin_ranking(
            x1, x2, y, margin=m, reduction=r
        )
    calls["margin_ranking-tied"] = lambda x1, x2, y: L.margin_ranking(x1, x2, y, reduction="none")
    for r in ("mean", "sum", "none"):
        calls[f"center-{r}"] = lambda embeddings, labels, centers, r=r: L.center(
            embeddings, labels, centers, reduction=r
        )
    # one pair or triplet of (D,) embeddings, as PyTorch accepts
    for y in (1, -1):
        calls[f"cosine_embedding-unbatched-y{y}"] = lambda x1, x2, y: L.cosine_embedding(x1, x2, y, margin=0.2, reduction="none")
    for r in ("mean", "none"):
        calls[f"triplet-unbatched-{r}"] = lambda anchor, positive, negative, r=r: L.triplet(anchor, positive, negative, reduction=r)
    return calls


NPLOSS = _calls()


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_and_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize(
    "case_id",
    [
        "triplet-identical-s1",
        "contrastive-pml-n1-p0.25-m1.5",
        "batch_triplet-pml-hard-norm-mean",
        "lifted_structured-pml-norm",
    ],
)
def test_composite_matches_the_references_too(case_id):
    with composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


# ------------------------------------------------------------------------------------ every variant audited

VARIANTS = [
    ("contrastive", {"power": 1, "pos_margin": 0.3, "normalize": True}),
    ("contrastive", {"label_convention": "similar=0", "pos_margin": 0.2}),
    ("cosine_embedding", {"margin": 0.4}),
    ("cosine_contrastive", {"delta": -0.2}),
    ("triplet", {"p": 1.0, "swap": True}),
    ("triplet", {"p": 3.0, "squared": True, "margin": 2.0, "eps": 0.0}),
    ("triplet", {"swap": True, "squared": True, "margin": 2.0}),
    ("batch_triplet", {"strategy": "hard"}),
    ("batch_triplet", {"strategy": "semi-hard", "margin": 1.5}),
    ("batch_triplet", {"strategy": "hard", "squared": True, "normalize": True, "margin": 0.3}),
    ("lifted_structured", {"squared": True, "normalize": True, "margin": 0.5}),
    ("margin_ranking", {"margin": 0.5}),
]


@pytest.mark.parametrize(
    "name, params", VARIANTS, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in VARIANTS]
)
def test_non_default_parameters_pass_the_three_gradient_audit(name, params):
    spec = dataclasses.replace(REGISTRY[name], params={**REGISTRY[name].params, **params})
    row = audit_loss(spec, seed=0)
    assert row.passed, row.failure()


# ------------------------------------------------------------------------------------ closed forms as loops


def _dist(a, b, squared=False):
    s = float(np.sum((a - b) ** 2))
    return s if squared else np.sqrt(s)


def _loop_triplets(x, labels, margin, strategy, squared=False):
    """Per-anchor sums and the selected triplets, written as plainly as the papers."""
    n = len(x)
    d = np.array([[_dist(x[i], x[j], squared) for j in range(n)] for i in range(n)])
    per_anchor, losses = np.zeros(n), []
    for a in range(n):
        pos = [p for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [k for k in range(n) if labels[k] != labels[a]]
        if strategy == "hard":
            triplets = [(max(pos, key=lambda p: d[a, p]), min(neg, key=lambda k: d[a, k]))] if pos and neg else []
        else:
            triplets = [(p, k) for p in pos for k in neg]
            if strategy == "semi-hard":
                triplets = [(p, k) for p, k in triplets if 0 < d[a, k] - d[a, p] <= margin]
        for p, k in triplets:
            losses.append(max(0.0, margin + d[a, p] - d[a, k]))
            per_anchor[a] += losses[-1]
    return per_anchor, np.array(losses)


@pytest.mark.parametrize("strategy", ["all", "hard", "semi-hard"])
@pytest.mark.parametrize("squared", [False, True])
def test_batch_triplet_is_the_loop_over_the_mined_triplets(strategy, squared):
    rng = np.random.default_rng(7)
    x, labels = rng.standard_normal((9, 3)), np.array([0, 1, 0, 2, 1, 0, 2, 3, 1])
    margin = 2.0 if squared else 1.0
    per_anchor, losses = _loop_triplets(x, labels, margin, strategy, squared)
    assert len(losses) > 0
    if strategy == "all":
        assert 0 < (losses > 0).sum() < len(losses), "the case should have violated and satisfied triplets"
    kw = {"margin": margin, "strategy": strategy, "squared": squared}
    np.testing.assert_allclose(L.batch_triplet(x, labels, reduction="none", **kw), per_anchor, rtol=1e-12, atol=1e-12)
    assert float(L.batch_triplet(x, labels, **kw)) == pytest.approx(losses.mean(), rel=1e-12)
    assert float(L.batch_triplet(x, labels, reduction="sum", **kw)) == pytest.approx(losses.sum(), rel=1e-12)
    assert float(L.batch_triplet(x, labels, reduction="avg_nonzero", **kw)) == pytest.approx(
        losses[losses > 0].mean(), rel=1e-12
    )


def test_batch_triplet_is_invariant_to_the_order_of_the_batch():
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((8, 3)), np.array([0, 1, 0, 2, 1, 0, 2, 1])
    order = rng.permutation(8)
    for strategy in ("all", "hard", "semi-hard"):
        none = L.batch_triplet(x, labels, strategy=strategy, reduction="none")
        shuffled = L.batch_triplet(x[order], labels[order], strategy=strategy, reduction="none")
        np.testing.assert_allclose(shuffled, none[order], rtol=1e-12)


@pytest.mark.parametrize(
    "labels", [np.array([0, 1, 2, 3]), np.array([5, 5, 5, 5])], ids=["no positive pair", "one class"]
)
@pytest.mark.parametrize("loss", ["batch_triplet", "lifted_structured"])
def test_batches_without_positive_pairs_or_negatives_give_a_documented_zero(labels, loss):
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    reductions = ("mean", "sum", "none", "avg_nonzero") if loss == "batch_triplet" else ("mean", "sum", "none")
    for reduction in reductions:
        out = getattr(L, loss)(x, labels, reduction=reduction)
        assert np.all(out.numpy() == 0.0), reduction
        (g,) = grad(out, [x], grad_outputs=np.ones(out.shape))
        assert np.all(g.numpy() == 0.0)


def _loop_lifted(x, labels, margin):
    """Song et al. 2016, eq. 4, over unordered positive pairs with the 1/(2|P|) factor."""
    n = len(x)
    total, pairs = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            if labels[i] != labels[j]:
                continue
            neg = sum(np.exp(margin - _dist(x[i], x[k])) for k in range(n) if labels[k] != labels[i])
            neg += sum(np.exp(margin - _dist(x[j], x[k])) for k in range(n) if labels[k] != labels[j])
            total += max(0.0, np.log(neg) + _dist(x[i], x[j])) ** 2
            pairs += 1
    return total / (2 * pairs), total


def test_lifted_structured_is_the_papers_formula():
    rng = np.random.default_rng(5)
    x, labels = 0.7 * rng.standard_normal((9, 3)), np.array([0, 1, 0, 2, 1, 0, 2, 3, 1])
    mean, total = _loop_lifted(x, labels, 1.0)
    assert float(L.lifted_structured(x, labels)) == pytest.approx(mean, rel=1e-12)
    assert float(L.lifted_structured(x, labels, reduction="sum")) == pytest.approx(total, rel=1e-12)


def test_lifted_structured_is_stable_far_apart():
    rng = np.random.default_rng(5)
    x, labels = 1e3 * rng.standard_normal((6, 3)), np.array([0, 0, 1, 1, 2, 2])
    value = float(L.lifted_structured(x, labels))
    # every exp(m - d) underflows: the stable form still gives J_ij = d_ij - min_k d_ik + m + ...
    assert np.isfinite(value) and value > 0
    naive = np.exp(1.0 - np.linalg.norm(x[0] - x[2]))
    assert naive == 0.0  # the naive sum would be log(0)


# ------------------------------------------------------------------------------------ contrastive


def test_contrastive_closed_form_and_label_conventions():
    x1 = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    x2 = np.array([[0.6, 0.8], [0.3, 0.4], [1.0, 1.0]])
    y = np.array([1, 0, 0])
    np.testing.assert_allclose(L.contrastive(x1, x2, y, reduction="none"), [0.5, 0.125, 0.5], rtol=1e-7)
    np.testing.assert_allclose(
        L.contrastive(x1, x2, 1 - y, label_convention="similar=0", reduction="none"),
        L.contrastive(x1, x2, y, reduction="none"),
    )
    # PML-style: hinge power 1 with a positive margin; avg_nonzero = mean of non-zero similar + dissimilar
    none = L.contrastive(x1, x2, np.array([1, 1, 0]), pos_margin=0.7, power=1, reduction="none")
    np.testing.assert_allclose(none, [0.3, 0.0, 1.0], rtol=1e-7)
    assert float(
        L.contrastive(x1, x2, np.array([1, 1, 0]), pos_margin=0.7, power=1, reduction="avg_nonzero")
    ) == pytest.approx(1.3)


@given(arrays(np.float64, (5, 3), elements=st.floats(-3, 3)), st.floats(0.1, 3))
def test_contrastive_properties(x, margin):
    y = np.array([1, 0, 1, 0, 1])
    assert np.all(L.contrastive(x, x, np.ones(5), margin=margin, reduction="none") == 0.0)  # perfect similar pairs
    shifted = x + 1.0
    none = L.contrastive(x, shifted, y, margin=margin, reduction="none")
    assert np.all(none >= 0)
    assert float(L.contrastive(x, shifted, y, margin=margin)) == pytest.approx(none.mean(), rel=1e-12)
    # dissimilar pairs farther than the margin cost nothing
    far = L.contrastive(x, x + margin + 0.01, np.zeros(5), margin=margin, reduction="none")
    assert np.all(far == 0.0)


@pytest.mark.parametrize("params", [{}, {"power": 1}, {"power": 1, "normalize": True}, {"pos_margin": 0.2}])
def test_contrastive_gradient_at_zero_distance_is_zero_not_nan(params):
    x = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.1]])
    for mode in ("fused", "composite"):
        a, b = Tensor(x, requires_grad=True), Tensor(x.copy(), requires_grad=True)
        out = L.apply_loss(
            M.CONTRASTIVE, a, b, np.array([1.0, 0.0]), mode=mode, reduction="sum", **{**M.CONTRASTIVE.params, **params}
        )
        ga, gb = grad(out, [a, b])
        np.testing.assert_array_equal(ga.numpy(), 0.0)
        np.testing.assert_array_equal(gb.numpy(), 0.0)


# ------------------------------------------------------------------------------------ pairs and triplets


@given(arrays(np.float64, (4, 3), elements=st.floats(-5, 5)), st.floats(0.1, 10))
def test_cosine_losses_are_scale_invariant(x, scale):
    y = np.array([1.0, -1.0, 1.0, -1.0])
    x = x + 0.5 * np.sign(x + 1e-9)  # every component at least 0.5 away from 0: norms far above the epsilon
    x2 = np.roll(x, 1, axis=0)[:, ::-1].copy()
    a = L.cosine_embedding(x, x2, y, margin=0.1, reduction="none")
    np.testing.assert_allclose(
        L.cosine_embedding(scale * x, x2, y, margin=0.1, reduction="none"), a, rtol=1e-8, atol=1e-10
    )
    b = L.cosine_contrastive(x, x2, (y + 1) / 2, reduction="none")
    np.testing.assert_allclose(
        L.cosine_contrastive(x, scale * x2, (y + 1) / 2, reduction="none"), b, rtol=1e-8, atol=1e-10
    )
    assert np.all(a >= 0) and np.all(b >= 0)


def test_cosine_losses_closed_form():
    x1, x2 = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0]]), np.array([[0.0, 2.0], [1.0, 1.0], [0.0, -1.0]])
    c = np.array([0.0, np.sqrt(0.5), -1.0])
    np.testing.assert_allclose(
        L.cosine_embedding(x1, x2, np.array([1, -1, -1]), margin=0.2, reduction="none"),
        [1.0, c[1] - 0.2, 0.0],
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        L.cosine_contrastive(x1, x2, np.array([0, 0, 1]), delta=0.5, reduction="none"),
        [0.0, (c[1] - 0.5) ** 2, 2.0],
        rtol=1e-10,
    )


@given(arrays(np.float64, (3, 4), elements=st.floats(-3, 3)), arrays(np.float64, (4,), elements=st.floats(-100, 100)))
def test_triplet_is_translation_invariant_and_squared_is_facenet(a, shift):
    p, n = a[::-1] + 0.3, a + 1.0
    for squared in (False, True):
        base = L.triplet(a, p, n, squared=squared, reduction="none")
        np.testing.assert_allclose(
            L.triplet(a + shift, p + shift, n + shift, squared=squared, reduction="none"), base, rtol=1e-6, atol=1e-6
        )
    facenet = np.maximum(0, 0.2 + ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1))
    np.testing.assert_allclose(
        L.triplet(a, p, n, margin=0.2, eps=0.0, squared=True, reduction="none"), facenet, rtol=1e-9, atol=1e-12
    )


@given(
    arrays(np.float64, (6,), elements=st.floats(-10, 10)),
    arrays(np.float64, (6,), elements=st.floats(-10, 10)),
    st.floats(0, 2),
)
def test_margin_ranking_is_antisymmetric_in_its_arguments(x1, x2, margin):
    y = np.array([1, -1, 1, -1, 1, 1])
    a = L.margin_ranking(x1, x2, y, margin=margin, reduction="none")
    np.testing.assert_allclose(L.margin_ranking(x2, x1, -y, margin=margin, reduction="none"), a)
    assert np.all(a >= 0)


# ------------------------------------------------------------------------------------ center


def test_center_closed_form_and_gradients():
    x, labels, c = (
        np.array([[1.0, 1.0], [0.0, 3.0], [2.0, 1.0]]),
        np.array([0, 1, 0]),
        np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0]]),
    )
    np.testing.assert_allclose(L.center(x, labels, c, reduction="none"), [1.0, 2.0, 2.5])
    xt, ct = Tensor(x, requires_grad=True), Tensor(c, requires_grad=True)
    gx, gc = grad(L.center(xt, labels, ct, reduction="sum"), [xt, ct])
    np.testing.assert_allclose(gx.numpy(), x - c[labels])
    np.testing.assert_allclose(gc.numpy(), [[-3.0, -2.0], [0.0, -2.0], [0.0, 0.0]])  # the absent class: 0


def test_center_loss_update_is_wen_et_al_rule():
    loss = L.CenterLoss(3, 2, alpha=0.5, centers=np.array([[1.0, 1.0], [0.0, 0.0], [7.0, 7.0]]))
    x, labels = np.array([[3.0, 1.0], [5.0, 1.0], [2.0, 2.0]]), np.array([0, 0, 1])
    before = float(loss(x, labels))
    new = loss.update(Tensor(x), labels)
    # c_0: delta = ((1,1) - (3,1) + (1,1) - (5,1)) / 3 = (-2, 0); c_1: delta = ((0,0) - (2,2)) / 2 = (-1, -1)
    np.testing.assert_allclose(new, [[2.0, 1.0], [0.5, 0.5], [7.0, 7.0]])
    assert float(loss(x, labels)) < before


def test_center_loss_centres_converge_to_the_class_means():
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((12, 3)), np.repeat([0, 1, 2], 4)
    loss = L.CenterLoss(4, 3, alpha=0.9)
    for _ in range(60):
        loss.update(x, labels)
    np.testing.assert_allclose(loss.centers[:3], [x[labels == k].mean(0) for k in range(3)], atol=1e-10)
    np.testing.assert_array_equal(loss.centers[3], 0.0)


def test_center_loss_refuses_bad_settings():
    with pytest.raises(ValueError, match="alpha must be in"):
        L.CenterLoss(3, 2, alpha=0.0)
    with pytest.raises(ValueError, match=r"centers must have shape \(3, 2\)"):
        L.CenterLoss(3, 2, centers=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"labels must be class labels in \[0, 3\)"):
        L.CenterLoss(3, 2).update(np.zeros((2, 2)), np.array([0, 3]))


# ------------------------------------------------------------------------------------ helpers


def test_distance_helpers_have_finite_gradients_at_zero():
    xp = array_namespace(np)
    x = np.array([[0.3, -0.2], [0.3, -0.2], [1.0, 0.0]])
    d = M.pairwise_distances(xp, x, x)
    assert d[0, 1] == pytest.approx(1e-8) and d[0, 2] == pytest.approx(np.hypot(0.7, 0.2), rel=1e-14)
    ga, gb = M.pairwise_distances_vjp(xp, np.ones((3, 3)), x, x)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    t = Tensor(x, requires_grad=True)
    (g,) = grad(M.pairwise_distances(__import__("nploss.autograd", fromlist=["x"]), t, t).sum(), [t])
    np.testing.assert_allclose(g.numpy(), ga + gb, rtol=1e-12)
    u = M.l2_normalize(xp, np.vstack([x, np.zeros((1, 2))]))
    np.testing.assert_allclose(np.linalg.norm(u[:3], axis=1), 1.0)
    assert np.all(u[3] == 0.0)


# ------------------------------------------------------------------------------------ bad input


def test_bad_input():
    x, y01, ypm = np.zeros((4, 3)), np.array([0, 1, 0, 1]), np.array([1, -1, 1, -1])
    with pytest.raises(ValueError, match=r"x2 must have the shape of x1 \(4, 3\), got \(4, 2\)"):
        L.contrastive(x, np.zeros((4, 2)), y01)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        L.cosine_embedding(x, x, np.ones(3))
    with pytest.raises(ValueError, match=r"y must be in \[0, 1\], got values from -1 to 1"):
        L.contrastive(x, x, ypm)
    with pytest.raises(ValueError, match=r"y must hold labels in \{0, 1\}, got values \[0.0, 0.5, 1.0\]"):
        L.contrastive(x, x, np.array([0.0, 0.5, 1.0, 0.0]))
    with pytest.raises(ValueError, match=r"y must hold targets in \{-1, \+1\}"):
        L.cosine_embedding(x, x, y01)
    with pytest.raises(ValueError, match="x1 must be embeddings of shape"):
        L.cosine_contrastive(np.zeros(3), np.zeros(3), np.array([1]))
    with pytest.raises(ValueError, match="margin must be positive, got -1"):
        L.contrastive(x, x, y01, margin=-1.0)
    with pytest.raises(ValueError, match="pos_margin must be below margin"):
        L.contrastive(x, x, y01, margin=1.0, pos_margin=1.0)
    with pytest.raises(ValueError, match="label_convention must be one of"):
        L.contrastive(x, x, y01, label_convention="hadsell")
    with pytest.raises(ValueError, match="power must be 1 or 2"):
        L.contrastive(x, x, y01, power=3)
    with pytest.raises(ValueError, match=r"margin must be in \[-1, 1\]"):
        L.cosine_embedding(x, x, ypm, margin=1.5)
    with pytest.raises(ValueError, match=r"delta must be in \[-1, 1\]"):
        L.cosine_contrastive(x, x, y01, delta=-2.0)
    with pytest.raises(ValueError, match="margin must be positive"):
        L.triplet(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="p must be >= 1"):
        L.triplet(x, x, x, p=0.5)
    with pytest.raises(ValueError, match=r"negative must have the shape of anchor \(4, 3\), got \(4, 2\)"):
        L.triplet(x, x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="strategy must be one of 'all', 'hard', 'semi-hard', got 'semihard'"):
        L.batch_triplet(x, y01, strategy="semihard")
    with pytest.raises(ValueError, match="margin must be non-negative"):
        L.batch_triplet(x, y01, margin=-0.1)
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        L.batch_triplet(x, y01.astype(float))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\), one per embedding, got \(3,\)"):
        L.lifted_structured(x, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="embeddings must have shape"):
        L.lifted_structured(np.zeros(4), y01)
    with pytest.raises(ValueError, match="margin must be non-negative"):
        L.margin_ranking(np.zeros(4), np.zeros(4), ypm, margin=-1.0)
    with pytest.raises(ValueError, match=r"y must have the shape of x1 \(4,\), got \(4, 1\)"):
        L.margin_ranking(np.zeros(4), np.zeros(4), ypm[:, None])
    with pytest.raises(ValueError, match=r"labels must be class labels in \[0, 2\)"):
        L.center(x, np.array([0, 1, 2, 0]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"centers must have shape \(C, 3\)"):
        L.center(x, y01, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'avg_nonzero'"):
        L.cosine_embedding(x, x, ypm, reduction="avg_nonzero")
    with pytest.raises(ValueError, match="embeddings contains NaN"):
        L.batch_triplet(np.full((4, 3), np.nan), y01)
    with pytest.raises(TypeError, match="normalize must be True or False"):
        L.lifted_structured(x, y01, normalize=1)


@pytest.mark.parametrize(
    "name",
    [
        "contrastive",
        "cosine_embedding",
        "cosine_contrastive",
        "triplet",
        "batch_triplet",
        "margin_ranking",
        "center",
        "lifted_structured",
    ],
)
def test_arrays_in_arrays_out_and_float32_stays_float32(name):
    spec = REGISTRY[name]
    inputs = spec.sample(np.random.default_rng(0))
    out = getattr(L, name)(*inputs)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    single = [x.astype(np.float32) if x.dtype.kind == "f" else x for x in inputs]
    assert getattr(L, name)(*single, reduction="none").dtype == np.float32
    assert isinstance(getattr(L, name)(*[Tensor(x) for x in inputs]), Tensor)
