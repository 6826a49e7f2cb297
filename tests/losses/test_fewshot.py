"""Few-shot losses: torch references, closed forms, invariances, properties and bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nploss.autograd as ag
import nploss.losses as L
from nploss.audit import audit_loss
from nploss.autograd import Tensor
from nploss.losses._shared import NORM_EPS

from .torch_reference import assert_matches_torch, load

TORCH = load("fewshot")
REDUCTIONS = ("mean", "sum", "none")
VARIANTS = (
    ("euclidean", "ce", 2.0), ("cosine", "ce", 2.0), ("euclidean", "focal", 2.0), ("cosine", "focal", 0.5),
    ("euclidean", "focal", 0.0),
)  # fmt: skip


def _proto(metric, loss, gamma, reduction):
    def call(query, support, support_labels, query_labels, scale):
        return L.prototypical(query, support, support_labels, query_labels, metric, scale, loss, gamma, reduction)

    return call


def _episode(metric, loss):
    def call(query, support, support_labels, query_labels, scale, lambda_var, lambda_cov):
        ce = L.prototypical(query, support, support_labels, query_labels, metric=metric, scale=scale, loss=loss)
        var = L.prototype_variance(L.prototypes(support, support_labels))
        cov = L.covariance(ag.concatenate([support, query], axis=0))
        return L.fewshot_total(ce, var, cov, lambda_var, lambda_cov)

    return call


NPLOSS = {
    **{f"prototypical-{m}-{lo}-g{g}-{r}": _proto(m, lo, g, r) for m, lo, g in VARIANTS for r in REDUCTIONS},
    **{f"prototypical-far-{m}-{lo}-g{g}": _proto(m, lo, g, "none") for m, lo, g in VARIANTS},
    **{f"prototype_variance-{r}": lambda prototypes, r=r: L.prototype_variance(prototypes, r) for r in REDUCTIONS},
    **{f"covariance-n{n}-d{d}": L.covariance for n, d in ((7, 4), (2, 3), (6, 1))},
    "fewshot_total": L.fewshot_total,
    "episode-euclidean-ce": _episode("euclidean", "ce"),
    "episode-cosine-focal": _episode("cosine", "focal"),
}


def _f(x):
    return float(ag.as_data(x))


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch(case_id):
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("metric, loss, gamma", [*VARIANTS[1:], ("cosine", "focal", 3.0)])  # the default: the registry
def test_every_metric_and_loss_passes_the_three_gradient_audit(metric, loss, gamma):
    spec = L.REGISTRY["prototypical"]
    spec = dataclasses.replace(spec, params={"metric": metric, "loss": loss, "gamma": gamma})
    for seed in (0, 1):
        row = audit_loss(spec, seed=seed)
        assert row.passed, row.failure()
    assert set(row.stability) >= set(spec.edge_cases)  # the edge cases ran under these options too


# ------------------------------------------------------------------------------------ prototypes


def test_prototypes_are_the_class_means_and_their_gradient_spreads_evenly():
    rng = np.random.default_rng(0)
    support = rng.standard_normal((7, 3))
    labels = np.array([1, 0, 2, 1, 1, 0, 2])
    expected = np.stack([support[labels == k].mean(0) for k in range(3)])
    np.testing.assert_allclose(L.prototypes(support, labels), expected, rtol=1e-14)
    np.testing.assert_allclose(L.prototypes(support, labels, n_way=3), expected, rtol=1e-14)
    s = Tensor(support, requires_grad=True)
    weights = rng.standard_normal((3, 3))
    (g,) = ag.grad(ag.sum(L.prototypes(s, labels) * weights), [s])
    counts = np.bincount(labels)
    np.testing.assert_allclose(g.numpy(), weights[labels] / counts[labels, None], rtol=1e-14)


def test_prototypes_bad_input():
    support = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no support example"):
        L.prototypes(support, np.array([0, 2, 2, 0]))
    with pytest.raises(ValueError, match=r"n_way = 4.*class\(es\) \[3\] have no support example"):
        L.prototypes(support, np.array([0, 1, 2, 0]), n_way=4)
    with pytest.raises(ValueError, match=r"support_labels must be class labels in \[0, 2\), got values from 0 to 2"):
        L.prototypes(support, np.array([0, 1, 2, 0]), n_way=2)
    with pytest.raises(ValueError, match=r"support_labels must be class labels in \[0, 3\), got values from -1 to 2"):
        L.prototypes(support, np.array([0, 1, 2, -1]))
    with pytest.raises(ValueError, match=r"support_labels must have shape \(4,\)"):
        L.prototypes(support, np.array([0, 1]))
    with pytest.raises(TypeError, match="support_labels must hold integer class labels, got dtype float64"):
        L.prototypes(support, np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"support must be a 2-D array \(S, D\)"):
        L.prototypes(np.ones(4), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="n_way must be an integer >= 1, got 0"):
        L.prototypes(support, np.array([0, 1, 0, 1]), n_way=0)
    with pytest.raises(TypeError, match="n_way must be an int"):
        L.prototypes(support, np.array([0, 1, 0, 1]), n_way=2.0)
    with pytest.raises(ValueError, match="support_labels must hold at least one example"):
        L.prototypes(np.ones((0, 2)), np.array([], dtype=np.int64))


# ------------------------------------------------------------------------------------ prototypical: closed forms


def test_two_classes_by_hand():
    support = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    support_labels = np.array([0, 0, 1, 1])  # prototypes (1, 0) and (1, 2)
    query, query_labels = np.array([[1.0, 0.5], [0.0, 2.0]]), np.array([0, 0])
    # squared distances: query 0: 0.25 and 2.25; query 1: 5 and 1
    z = -np.array([[0.25, 2.25], [5.0, 1.0]])
    expected = -(z[:, 0] - np.log(np.exp(z).sum(1)))
    np.testing.assert_allclose(expected, [math.log1p(math.exp(-2.0)), math.log1p(math.exp(4.0))], rtol=1e-14)
    value = L.prototypical(query, support, support_labels, query_labels, reduction="none")
    np.testing.assert_allclose(value, expected, rtol=1e-14)
    # scale s: the logits s z; dL/ds (sum over queries) = sum_q (p_q - e_y) . z_q
    s = Tensor(np.array(0.5), requires_grad=True)
    total = L.prototypical(query, support, support_labels, query_labels, scale=s, reduction="sum")
    p = np.exp(0.5 * z) / np.exp(0.5 * z).sum(1, keepdims=True)
    np.testing.assert_allclose(_f(total), -np.sum(np.log(p[:, 0])), rtol=1e-14)
    (g,) = ag.grad(total, [s])
    np.testing.assert_allclose(g.numpy(), np.sum((p - np.eye(2)[query_labels]) * z), rtol=1e-13)
    # cosine with scale 10: query 1 = (0, 2) against (1, 0) and (1, 2): cosines 0 and 2/sqrt(5)
    value = L.prototypical(query, support, support_labels, query_labels, metric="cosine", scale=10.0, reduction="none")
    assert float(value[1]) == pytest.approx(math.log1p(math.exp(20.0 / math.sqrt(5.0))), rel=1e-12)
    unit_prototypes = np.array([[1.0, 0.0], [1.0, 2.0]]) / np.array([[1.0], [math.sqrt(5.0)]])
    cos = (query / np.linalg.norm(query, axis=1, keepdims=True)) @ unit_prototypes.T
    zc = 10.0 * cos
    expected = np.log(np.exp(zc).sum(1)) - zc[:, 0]
    value = L.prototypical(query, support, support_labels, query_labels, metric="cosine", scale=10.0, reduction="none")
    np.testing.assert_allclose(value, expected, rtol=1e-10)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ce_and_focal_are_the_classification_losses_on_the_prototype_logits(metric):
    rng = np.random.default_rng(1)
    query, support = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    ys, yq = np.array([0, 1, 2, 0, 1, 2]), rng.integers(0, 3, 6)
    c = np.stack([support[ys == k].mean(0) for k in range(3)])
    if metric == "euclidean":
        z = -1.5 * ((query[:, None] - c[None]) ** 2).sum(-1)
    else:
        unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
        z = 1.5 * unit(query) @ unit(c).T
    ce = L.prototypical(query, support, ys, yq, metric, 1.5, reduction="none")
    np.testing.assert_allclose(ce, L.cross_entropy(z, yq, reduction="none"), rtol=1e-10)
    focal = L.prototypical(query, support, ys, yq, metric, 1.5, "focal", 2.0, "none")
    np.testing.assert_allclose(focal, L.softmax_focal(z, yq, gamma=2.0, reduction="none"), rtol=1e-10)
    # gamma = 0: exactly the cross entropy, value and gradients
    q0, q1 = Tensor(query, requires_grad=True), Tensor(query, requires_grad=True)
    s0, s1 = Tensor(support, requires_grad=True), Tensor(support, requires_grad=True)
    a = L.prototypical(q0, s0, ys, yq, metric, 1.5, "focal", 0.0)
    b = L.prototypical(q1, s1, ys, yq, metric, 1.5, "ce")
    assert _f(a) == _f(b)
    for x, y in zip(ag.grad(a, [q0, s0]), ag.grad(b, [q1, s1])):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert np.all(focal <= ce)  # (1 - p)^gamma <= 1


def test_euclidean_logits_are_invariant_under_a_common_translation():
    rng = np.random.default_rng(2)
    query, support = rng.standard_normal((5, 4)), rng.standard_normal((6, 4))
    ys, yq = np.array([2, 0, 1, 1, 0, 2]), rng.integers(0, 3, 5)
    shift = 3.0 * rng.standard_normal(4)
    for loss in ("ce", "focal"):
        a = L.prototypical(query, support, ys, yq, loss=loss, reduction="none")
        b = L.prototypical(query + shift, support + shift, ys, yq, loss=loss, reduction="none")
        np.testing.assert_allclose(b, a, rtol=1e-12)
    # but the cosine is not translation invariant
    a = L.prototypical(query, support, ys, yq, metric="cosine", reduction="none")
    b = L.prototypical(query + shift, support + shift, ys, yq, metric="cosine", reduction="none")
    assert not np.allclose(a, b)


def test_cosine_is_invariant_to_rescaling_rows():
    rng = np.random.default_rng(3)
    query, support = rng.standard_normal((5, 4)), rng.standard_normal((6, 4))
    ys, yq = np.array([2, 0, 1, 1, 0, 2]), rng.integers(0, 3, 5)
    # any positive factor per query; one per class for the support (a prototype is a class mean)
    query_factor, class_factor = rng.uniform(0.1, 10.0, (5, 1)), rng.uniform(0.1, 10.0, 3)
    a = L.prototypical(query, support, ys, yq, metric="cosine", scale=10.0, reduction="none")
    rescaled_query, rescaled_support = query * query_factor, support * class_factor[ys, None]
    b = L.prototypical(rescaled_query, rescaled_support, ys, yq, metric="cosine", scale=10.0, reduction="none")
    np.testing.assert_allclose(b, a, rtol=1e-10)  # up to the eps = 1e-12 inside the norms
    # and the gradient with respect to a query is orthogonal to it (the loss is flat along it)
    q = Tensor(query, requires_grad=True)
    (g,) = ag.grad(L.prototypical(q, support, ys, yq, metric="cosine", scale=10.0, reduction="sum"), [q])
    np.testing.assert_allclose((g.numpy() * query).sum(1), 0.0, atol=1e-10)


def test_a_learned_scale_gets_its_gradient_and_float32_stays_float32():
    rng = np.random.default_rng(4)
    query, support = rng.standard_normal((5, 4)), rng.standard_normal((6, 4))
    ys, yq = np.array([2, 0, 1, 1, 0, 2]), rng.integers(0, 3, 5)
    for metric in ("euclidean", "cosine"):
        s = Tensor(np.array(2.0), requires_grad=True)
        (g,) = ag.grad(L.prototypical(query, support, ys, yq, metric=metric, scale=s), [s])
        h = 1e-6
        up = float(L.prototypical(query, support, ys, yq, metric=metric, scale=2.0 + h))
        down = float(L.prototypical(query, support, ys, yq, metric=metric, scale=2.0 - h))
        assert g.numpy().shape == ()
        assert float(g.numpy()) == pytest.approx((up - down) / (2 * h), rel=1e-7)
    q32, s32 = query.astype(np.float32), support.astype(np.float32)
    for metric, loss in (("euclidean", "ce"), ("cosine", "focal")):
        value = L.prototypical(q32, s32, ys, yq, metric=metric, scale=10.0, loss=loss)  # a Python scale
        assert value.dtype == np.float32
        q, s = Tensor(q32, requires_grad=True), Tensor(s32, requires_grad=True)
        scale = Tensor(np.array(10.0, dtype=np.float32), requires_grad=True)
        out = L.prototypical(q, s, ys, yq, metric=metric, scale=scale, loss=loss)
        assert out.dtype == np.float32
        assert all(g.dtype == np.float32 for g in ag.grad(out, [q, s, scale]))


def test_saturated_episodes_stay_finite_with_exact_zero_gradients():
    support = 100.0 * np.eye(3, 4)[np.array([0, 0, 1, 1, 2, 2])]
    query = 100.0 * np.eye(3, 4)  # each query sits on a prototype: p_y = 1 exactly
    ys = np.array([0, 0, 1, 1, 2, 2])
    for loss, gamma in (("ce", 2.0), ("focal", 0.5), ("focal", 2.0)):
        q = Tensor(query, requires_grad=True)
        right = L.prototypical(q, support, ys, np.arange(3), loss=loss, gamma=gamma, reduction="sum")
        (g,) = ag.grad(right, [q])
        assert _f(right) == 0.0 and np.all(g.numpy() == 0.0)
        wrong = L.prototypical(query, support, ys, np.array([1, 2, 0]), loss=loss, gamma=gamma, reduction="none")
        np.testing.assert_allclose(wrong, 2e4, rtol=1e-12)  # -log p_y = |q - c_y|^2 = 2e4


# ------------------------------------------------------------------------------------ prototypical: properties


EPISODE_ROWS = hnp.arrays(np.float64, (6, 3), elements=st.floats(-5, 5))


@given(
    query=EPISODE_ROWS,
    support=EPISODE_ROWS,
    perm=st.permutations(range(6)),
    metric=st.sampled_from(["euclidean", "cosine"]),
    loss=st.sampled_from(["ce", "focal"]),
)
def test_prototypical_properties(query, support, perm, metric, loss):
    ys, yq = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 0, 1, 1, 2, 2])
    none = L.prototypical(query, support, ys, yq, metric, 2.0, loss, reduction="none")
    assert none.shape == (6,) and np.all(np.isfinite(none)) and np.all(none >= 0)
    mean = float(L.prototypical(query, support, ys, yq, metric, 2.0, loss))
    total = float(L.prototypical(query, support, ys, yq, metric, 2.0, loss, reduction="sum"))
    assert mean == pytest.approx(none.mean(), rel=1e-12, abs=1e-14)
    assert total == pytest.approx(none.sum(), rel=1e-12, abs=1e-14)
    # the order of the support examples does not matter, nor that of the queries
    perm = np.array(perm)
    shuffled = L.prototypical(query[perm], support[perm], ys[perm], yq[perm], metric, 2.0, loss, reduction="none")
    np.testing.assert_allclose(shuffled, none[perm], rtol=1e-10, atol=1e-12)


def test_relabelling_the_classes_changes_nothing():
    rng = np.random.default_rng(5)
    query, support = rng.standard_normal((5, 4)), rng.standard_normal((6, 4))
    ys, yq = np.array([2, 0, 1, 1, 0, 2]), rng.integers(0, 3, 5)
    relabel = np.array([1, 2, 0])
    for metric in ("euclidean", "cosine"):
        a = L.prototypical(query, support, ys, yq, metric=metric, reduction="none")
        b = L.prototypical(query, support, relabel[ys], relabel[yq], metric=metric, reduction="none")
        np.testing.assert_allclose(b, a, rtol=1e-12)


# ------------------------------------------------------------------------------------ prototype variance


def test_prototype_variance_closed_forms():
    assert float(L.prototype_variance(np.diag([1.0, 2.0, 0.5]))) == 0.0  # orthogonal
    c = np.tile(np.array([[0.3, -1.0, 2.0]]), (4, 1))
    assert float(L.prototype_variance(c)) == pytest.approx(1.0, rel=1e-14)  # identical
    # the vertices of a regular simplex about the origin: the minimum, -1/(K-1)
    k = 4
    simplex = np.eye(k) - 1.0 / k
    assert float(L.prototype_variance(simplex)) == pytest.approx(-1.0 / (k - 1), rel=1e-12)
    t = Tensor(simplex, requires_grad=True)
    (g,) = ag.grad(L.prototype_variance(t), [t])
    np.testing.assert_allclose(g.numpy(), 0.0, atol=1e-12)  # a minimum: stationary
    # 'none': the cosine matrix with a zero diagonal; 'sum' over ordered pairs
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])
    r = 1.0 / math.sqrt(2.0)
    expected = np.array([[0.0, r, 0.0], [r, 0.0, -r], [0.0, -r, 0.0]])
    np.testing.assert_allclose(L.prototype_variance(x, "none"), expected, rtol=1e-12, atol=1e-16)
    assert float(L.prototype_variance(x, "sum")) == pytest.approx(0.0, abs=1e-11)  # up to eps
    assert float(L.prototype_variance(x[:2], "sum")) == pytest.approx(2 * r, rel=1e-12)


@given(hnp.arrays(np.float64, (4, 3), elements=st.floats(-10, 10)), st.floats(0.01, 100))
def test_prototype_variance_is_bounded_and_ignores_lengths(c, factor):
    value = float(L.prototype_variance(c))
    assert -1.0 / 3.0 - 1e-12 <= value <= 1.0 + 1e-12
    rescaled = float(L.prototype_variance(c * factor))
    # the eps inside the norms changes a cosine by at most eps / |c|^2 (relative)
    smallest = (np.linalg.norm(c, axis=1).min() * min(factor, 1.0)) ** 2
    if smallest > 0:
        assert rescaled == pytest.approx(value, abs=2 * NORM_EPS / smallest + 1e-12)


def test_minimising_the_variance_spreads_the_prototypes():
    c = Tensor(np.array([[1.0, 0.1], [1.0, 0.2], [0.9, 0.0]]), requires_grad=True)
    before = _f(L.prototype_variance(c))
    for _ in range(200):
        (g,) = ag.grad(L.prototype_variance(c), [c])
        c = Tensor(c.numpy() - 0.5 * g.numpy(), requires_grad=True)
    assert before > 0.95 and _f(L.prototype_variance(c)) < -0.49  # -1/2 is the minimum for K = 3


# ------------------------------------------------------------------------------------ covariance


def test_covariance_closed_forms():
    decorrelated = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert float(L.covariance(decorrelated)) == 0.0
    # rank 1: rows a_i b with a = (1, 2, 3), b = (1, 2): centred a = (-1, 0, 1), so
    # C = (sum of centred a^2) b b^T / (N - 1) = b b^T = [[1, 2], [2, 4]], L = (2^2 + 2^2) / 2
    rank1 = np.outer([1.0, 2.0, 3.0], [1.0, 2.0])
    assert float(L.covariance(rank1)) == pytest.approx(4.0, rel=1e-14)
    # against NumPy's unbiased covariance
    rng = np.random.default_rng(6)
    z = rng.standard_normal((9, 4)) @ rng.standard_normal((4, 4))
    cov = np.cov(z, rowvar=False)
    np.testing.assert_allclose(float(L.covariance(z)), ((cov - np.diag(np.diag(cov))) ** 2).sum() / 4, rtol=1e-12)
    # its gradient by hand: 4 Zc C_off / (D (N - 1))
    t = Tensor(rank1, requires_grad=True)
    (g,) = ag.grad(L.covariance(t), [t])
    zc = rank1 - rank1.mean(0)
    np.testing.assert_allclose(g.numpy(), 4.0 * zc @ np.array([[0.0, 2.0], [2.0, 0.0]]) / (2 * 2), rtol=1e-14)


@given(
    hnp.arrays(np.float64, (5, 3), elements=st.floats(-10, 10)),
    hnp.arrays(np.float64, 3, elements=st.floats(-100, 100)),
)
def test_covariance_is_nonnegative_and_translation_invariant(z, shift):
    value = float(L.covariance(z))
    assert value >= 0
    assert float(L.covariance(z + shift)) == pytest.approx(value, rel=1e-8, abs=1e-8)
    # the order of the rows does not matter
    assert float(L.covariance(z[::-1])) == pytest.approx(value, rel=1e-12, abs=1e-12)


# ------------------------------------------------------------------------------------ total


def test_fewshot_total_and_the_gradients_an_adaptive_lambda_needs():
    ce, var, cov = (Tensor(np.array(x), requires_grad=True) for x in (1.2, -0.3, 4.0))
    lv, lc = Tensor(np.array(0.5), requires_grad=True), Tensor(np.array(0.05), requires_grad=True)
    total = L.fewshot_total(ce, var, cov, lv, lc)
    assert _f(total) == pytest.approx(1.2 - 0.15 + 0.2, rel=1e-14)
    grads = [g.numpy() for g in ag.grad(total, [ce, var, cov, lv, lc])]
    np.testing.assert_allclose(grads, [1.0, 0.5, 0.05, -0.3, 4.0], rtol=1e-15)
    default = float(L.fewshot_total(np.array(1.0), np.array(2.0), np.array(3.0)))  # lambdas 0.1 and 0.01
    assert default == pytest.approx(1.0 + 0.2 + 0.03, rel=1e-14)
    # float32 stays float32 with the default (Python) lambdas
    out = L.fewshot_total(np.float32(1.0) * np.ones((), np.float32), np.ones((), np.float32), np.ones((), np.float32))
    assert out.dtype == np.float32


def test_float32_stays_float32_in_the_regularisers():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1])
    assert L.prototypes(x, labels).dtype == np.float32
    assert L.prototype_variance(x).dtype == np.float32
    assert L.covariance(x).dtype == np.float32
    t = Tensor(x, requires_grad=True)
    for fn in (L.prototype_variance, L.covariance, lambda y: ag.sum(L.prototypes(y, labels))):
        (g,) = ag.grad(fn(t), [t])
        assert g.dtype == np.float32


# ------------------------------------------------------------------------------------ bad input


def _episode_arrays():
    rng = np.random.default_rng(8)
    labels = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 1, 2, 2])
    return rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), *labels


def test_prototypical_bad_input():
    q, s, ys, yq = _episode_arrays()
    with pytest.raises(ValueError, match=r"query_labels must be class labels in \[0, 3\), got values from 0 to 3"):
        L.prototypical(q, s, ys, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"query_labels must be class labels >= 0, got values from -1 to 2"):
        L.prototypical(q, s, ys, np.array([0, 1, -1, 2]))
    missing = r"support_labels must contain every class in \[0, 4\).*class\(es\) \[2\] have no support example"
    with pytest.raises(ValueError, match=missing):
        L.prototypical(q, s, np.array([0, 1, 3, 0, 1, 3]), yq)
    dimension = r"support must have the embedding dimension of query \(D = 3\), got shape \(6, 5\)"
    with pytest.raises(ValueError, match=dimension):
        L.prototypical(q, np.ones((6, 5)), ys, yq)
    with pytest.raises(ValueError, match=r"query_labels must have shape \(4,\), one per query, got \(3,\)"):
        L.prototypical(q, s, ys, yq[:3])
    with pytest.raises(ValueError, match=r"support_labels must have shape \(6,\)"):
        L.prototypical(q, s, ys[:, None], yq)
    with pytest.raises(ValueError, match=r"query must be a 2-D array \(Q, D\)"):
        L.prototypical(q[0], s, ys, yq[:1])
    with pytest.raises(TypeError, match="query_labels must hold integer class labels"):
        L.prototypical(q, s, ys, yq.astype(float))
    with pytest.raises(ValueError, match="gamma must be non-negative, got -1.0"):
        L.prototypical(q, s, ys, yq, loss="focal", gamma=-1.0)
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        L.prototypical(q, s, ys, yq, gamma=float("nan"))
    with pytest.raises(TypeError, match="gamma must be a real number"):
        L.prototypical(q, s, ys, yq, gamma="2")
    with pytest.raises(ValueError, match=r"metric must be one of 'euclidean', 'cosine', got 'manhattan'"):
        L.prototypical(q, s, ys, yq, metric="manhattan")
    with pytest.raises(ValueError, match=r"loss must be one of 'ce', 'focal', got 'hinge'"):
        L.prototypical(q, s, ys, yq, loss="hinge")
    with pytest.raises(ValueError, match="scale must be positive, got a minimum of -1"):
        L.prototypical(q, s, ys, yq, scale=-1.0)
    with pytest.raises(ValueError, match=r"scale must be a scalar \(a 0-d array or Tensor\), got shape \(1,\)"):
        L.prototypical(q, s, ys, yq, scale=np.array([2.0]))
    with pytest.raises(TypeError, match="scale must be a real number, array or Tensor, got bool"):
        L.prototypical(q, s, ys, yq, scale=True)
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'average'"):
        L.prototypical(q, s, ys, yq, reduction="average")
    bad = q.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="query contains NaN or infinite values"):
        L.prototypical(bad, s, ys, yq)


def test_regulariser_and_total_bad_input():
    with pytest.raises(ValueError, match=r"prototypes must hold at least 2 prototypes \(K >= 2\).*got shape \(1, 3\)"):
        L.prototype_variance(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"prototypes must be a 2-D array \(K, D\)"):
        L.prototype_variance(np.ones(3))
    with pytest.raises(ValueError, match=r"embeddings must hold at least 2 rows \(N >= 2\).*got shape \(1, 4\)"):
        L.covariance(np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"embeddings must be a 2-D array \(N, D\)"):
        L.covariance(np.ones((2, 3, 4)))
    one = np.array(1.0)
    with pytest.raises(ValueError, match="lambda_var must be non-negative, got values from -0.1 to -0.1"):
        L.fewshot_total(one, one, one, lambda_var=-0.1)
    with pytest.raises(ValueError, match="lambda_cov must be non-negative"):
        L.fewshot_total(one, one, one, lambda_cov=Tensor(np.array(-1.0)))
    with pytest.raises(ValueError, match="lambda_cov contains NaN or infinite values"):
        L.fewshot_total(one, one, one, lambda_cov=math.inf)
    with pytest.raises(ValueError, match="lambda_var contains NaN or infinite values"):
        L.fewshot_total(one, one, one, lambda_var=np.array(np.nan))
    with pytest.raises(TypeError, match="lambda_var must be a real number, array or Tensor, got bool"):
        L.fewshot_total(one, one, one, lambda_var=False)
    with pytest.raises(ValueError, match=r"ce must be a scalar \(a 0-d array or Tensor\), got shape \(3,\)"):
        L.fewshot_total(np.ones(3), one, one)
    with pytest.raises(ValueError, match=r"lambda_cov must be a scalar .* got shape \(2,\)"):
        L.fewshot_total(one, one, one, lambda_cov=np.array([0.1, 0.2]))
