"""PML pair and triplet losses (nploss.losses.metric.pml_pairs): pytorch-metric-learning 2.9.0
reference values and gradients (fused and composite), every parameter variant through the
three-gradient audit, the formulas written as plain loops, edge cases and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nploss.losses as L
from nploss.audit import audit_loss
from nploss.autograd import Tensor, grad
from nploss.losses import REGISTRY, composite

from .torch_reference import assert_matches_torch, load

TORCH = load("pml_pairs")


def _calls() -> dict:
    c = {
        "snr_contrastive-default": lambda embeddings, labels: L.snr_contrastive(embeddings, labels),
        "snr_contrastive-margins": lambda embeddings, labels: L.snr_contrastive(
            embeddings, labels, pos_margin=0.3, neg_margin=1.5
        ),
        "snr_contrastive-raw": lambda embeddings, labels: L.snr_contrastive(2.0 * embeddings, labels, normalize=False),
        "generalized_lifted_structured-default": lambda embeddings, labels: L.generalized_lifted_structured(
            embeddings, labels
        ),
        "generalized_lifted_structured-margins": lambda embeddings, labels: L.generalized_lifted_structured(
            embeddings, labels, neg_margin=0.5, pos_margin=0.2
        ),
        "generalized_lifted_structured-raw": lambda embeddings, labels: L.generalized_lifted_structured(
            embeddings, labels, normalize=False
        ),
        "generalized_lifted_structured-far": lambda embeddings, labels: L.generalized_lifted_structured(
            embeddings, labels, normalize=False
        ),
        "margin_loss-default": lambda embeddings, labels, beta: L.margin_loss(embeddings, labels, beta),
        "margin_loss-beta": lambda embeddings, labels, beta: L.margin_loss(embeddings, labels, beta, margin=0.3),
        "margin_loss-perclass": lambda embeddings, labels, beta: L.margin_loss(embeddings, labels, beta),
        "margin_loss-raw": lambda embeddings, labels, beta: L.margin_loss(embeddings, labels, beta, normalize=False),
        "margin_loss-oneclass": lambda embeddings, labels, beta: L.margin_loss(embeddings, labels, beta),
        "angular-default": lambda embeddings, labels: L.angular(embeddings, labels),
        "angular-alpha30": lambda embeddings, labels: L.angular(embeddings, labels, alpha=30),
        "angular-scaled": lambda embeddings, labels: L.angular(embeddings, labels),
    }
    losses = {"snr_contrastive": L.snr_contrastive, "generalized_lifted_structured": L.generalized_lifted_structured}
    for name, f in {**losses, "angular": L.angular}.items():
        for edge in ("oneclass", "distinct"):
            c[f"{name}-{edge}"] = lambda embeddings, labels, f=f: f(embeddings, labels)
    return c


NPLOSS = _calls()
NAMES = ("snr_contrastive", "generalized_lifted_structured", "margin_loss", "angular")


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch_metric_learning_too(case_id):
    with composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


# ------------------------------------------------------------------------------------ every variant audited

VARIANTS = [
    ("snr_contrastive", {"pos_margin": 0.2, "neg_margin": 1.4}),
    ("snr_contrastive", {"normalize": False}),
    ("generalized_lifted_structured", {"pos_margin": 0.3, "neg_margin": 0.6}),
    ("generalized_lifted_structured", {"normalize": False}),
    ("margin_loss", {"margin": 0.1, "normalize": False}),
    ("angular", {"alpha": 30.0}),
    ("angular", {"normalize_negatives": True}),
]


@pytest.mark.parametrize(
    "name, params", VARIANTS, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in VARIANTS]
)
def test_non_default_parameters_pass_the_three_gradient_audit(name, params):
    spec = dataclasses.replace(REGISTRY[name], params={**REGISTRY[name].params, **params})
    row = audit_loss(spec, seed=0)
    assert row.passed, row.failure()


def test_a_single_shared_beta_passes_the_audit_too():
    spec = REGISTRY["margin_loss"]
    sampler = lambda rng, sizes: [*spec.sampler(rng, sizes)[:2], np.array([1.1])]
    row = audit_loss(dataclasses.replace(spec, sampler=sampler), seed=1)
    assert row.passed, row.failure()


# ------------------------------------------------------------------------------------ the formulas as loops


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _batch(seed=0, n=7, d=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), np.array([0, 1, 0, 2, 1, 0, 2][:n])


def test_snr_contrastive_is_the_loop_over_pairs():
    x, y = _batch(1)
    u = _unit(x)
    pos, neg = [], []
    for i in range(len(y)):
        for j in range(len(y)):
            d = np.var(u[i] - u[j], ddof=1) / np.var(u[i], ddof=1)
            if i != j and y[i] == y[j]:
                pos.append(max(0.0, d - 0.1))
            elif y[i] != y[j]:
                neg.append(max(0.0, 1.2 - d))
    nz = lambda v: np.mean([t for t in v if t > 0]) if any(t > 0 for t in v) else 0.0
    got = float(L.snr_contrastive(x, y, pos_margin=0.1, neg_margin=1.2))
    assert got == pytest.approx(nz(pos) + nz(neg), rel=1e-12)
    assert float(L.snr_contrastive(x, y, 0.1, 1.2, reduction="sum")) == pytest.approx(sum(pos) + sum(neg), rel=1e-12)


def test_generalized_lifted_structured_is_the_papers_formula():
    x, y = _batch(2)
    u = _unit(x)
    total = 0.0
    for a in range(len(y)):
        dp = [np.linalg.norm(u[a] - u[p]) for p in range(len(y)) if p != a and y[p] == y[a]]
        dn = [np.linalg.norm(u[a] - u[n]) for n in range(len(y)) if y[n] != y[a]]
        total += max(0.0, np.log(np.sum(np.exp(dp))) + np.log(np.sum(np.exp(1.0 - np.array(dn)))))
    assert float(L.generalized_lifted_structured(x, y)) == pytest.approx(total / len(y), rel=1e-12)


def test_margin_loss_is_the_loop_over_triplets_with_pmls_divisor():
    x, y = _batch(3)
    beta = np.array([1.0, 1.3, 0.8])
    u = _unit(x)
    total, k = 0.0, 0
    for a in range(len(y)):
        for p in range(len(y)):
            for n in range(len(y)):
                if a == p or y[p] != y[a] or y[n] == y[a]:
                    continue
                hp = max(0.0, np.linalg.norm(u[a] - u[p]) - beta[y[a]] + 0.2)
                hn = max(0.0, beta[y[a]] - np.linalg.norm(u[a] - u[n]) + 0.2)
                total += hp + hn
                k += int(hp > 0) + int(hn > 0)
    assert float(L.margin_loss(x, y, beta)) == pytest.approx(total / k, rel=1e-12)
    assert float(L.margin_loss(x, y, beta, reduction="sum")) == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("normalize_negatives", [False, True])
def test_angular_is_the_papers_formula_in_degrees(normalize_negatives):
    x, y = _batch(4)
    u = _unit(x)
    xn = u if normalize_negatives else x
    t = np.tan(np.pi * 35.0 / 180.0) ** 2
    losses = []
    for a in range(len(y)):
        for p in range(len(y)):
            if a != p and y[a] == y[p]:
                f = [4 * t * (u[a] + u[p]) @ xn[n] - 2 * (1 + t) * u[a] @ u[p] for n in range(len(y)) if y[n] != y[a]]
                losses.append(np.log1p(np.sum(np.exp(f))))
    got = float(L.angular(x, y, alpha=35.0, normalize_negatives=normalize_negatives))
    assert got == pytest.approx(np.mean(losses), rel=1e-12)


def test_angular_negatives_option_is_equal_for_unit_rows():
    x, y = _batch(5)
    u = _unit(x)
    assert float(L.angular(u, y)) == pytest.approx(float(L.angular(u, y, normalize_negatives=True)), rel=1e-12)
    assert float(L.angular(x, y)) != pytest.approx(float(L.angular(x, y, normalize_negatives=True)), rel=1e-3)


# ------------------------------------------------------------------------------------ beta, edges


def test_margin_loss_beta_as_float_0d_and_1d_tensor():
    x, y = _batch(6)
    value = float(L.margin_loss(x, y, 1.1))
    for b in (Tensor(np.array(1.1), requires_grad=True), Tensor(np.array([1.1]), requires_grad=True)):
        out = L.margin_loss(Tensor(x), y, b)
        assert float(out.numpy()) == pytest.approx(value, rel=1e-14)
        (g,) = grad(out, [b])
        assert g.shape == b.shape
    # the beta gradient is (#active negative hinges - #active positive hinges) / K
    eps = 1e-6
    fd = (float(L.margin_loss(x, y, 1.1 + eps)) - float(L.margin_loss(x, y, 1.1 - eps))) / (2 * eps)
    assert float(g.numpy()[0]) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [5, 5, 5, 5]])
def test_no_positive_pair_or_no_negative(name, labels):
    x = np.random.default_rng(7).standard_normal((4, 3))
    y = np.array(labels)
    value = float(getattr(L, name)(x, y))
    assert np.isfinite(value)
    if name in ("margin_loss", "angular"):  # no triplet, no (pair, negative): PML's zero
        assert value == 0.0


def test_snr_distance_of_a_row_with_equal_entries_is_infinite_as_in_pml():
    x = np.array([[1.0, 1.0, 1.0], [0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [0.2, 0.1, 0.7]])
    with np.errstate(divide="ignore", invalid="ignore"):
        none = L.snr_contrastive(x, np.array([0, 0, 1, 1]), reduction="none")
    assert not np.all(np.isfinite(none[0, 1:]))


def test_bad_input():
    x, y = _batch(0)
    with pytest.raises(ValueError, match="embeddings"):
        L.snr_contrastive(x[:, :1], y)
    with pytest.raises(ValueError, match="embeddings"):
        L.angular(x[:0], y[:0])
    with pytest.raises(ValueError, match="labels"):
        L.generalized_lifted_structured(x, y[:3])
    with pytest.raises(ValueError, match="alpha"):
        L.angular(x, y, alpha=90.0)
    with pytest.raises(ValueError, match="alpha"):
        L.angular(x, y, alpha=0.0)
    with pytest.raises(ValueError, match="beta"):
        L.margin_loss(x, y, np.ones((2, 2)))
    with pytest.raises(ValueError, match="labels"):
        L.margin_loss(x, y, np.ones(2))  # label 2 has no beta
    with pytest.raises(TypeError, match="normalize"):
        L.margin_loss(x, y, normalize="yes")
