"""FastAP, Smooth-AP and PNP against pytorch-metric-learning 2.9 (tests/fixtures/torch/average_precision.npz)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nploss.losses as L
from nploss.audit import audit_loss
from nploss.losses import REGISTRY, composite

from .torch_reference import assert_matches_torch, load

TORCH = load("average_precision")


def _calls() -> dict:
    calls = {
        "fastap-default": lambda embeddings, labels: L.fastap(embeddings, labels),
        "fastap-big": lambda embeddings, labels: L.fastap(embeddings, labels),
        "fastap-nopositive": lambda embeddings, labels: L.fastap(embeddings, labels),
        "pnp-default": lambda embeddings, labels: L.pnp(embeddings, labels),
        "pnp-nopositive": lambda embeddings, labels: L.pnp(embeddings, labels),
        "pnp-Dq-a2-anneal0.1": lambda embeddings, labels: L.pnp(embeddings, labels, variant="Dq", alpha=2, anneal=0.1),
        "pnp-Ib-b3-anneal0.1": lambda embeddings, labels: L.pnp(embeddings, labels, variant="Ib", b=3, anneal=0.1),
    }
    for bins in (3, 25):
        calls[f"fastap-bins{bins}"] = lambda embeddings, labels, b=bins: L.fastap(embeddings, labels, num_bins=b)
    for n in (3, 4):
        for t in (0.01, 0.1):
            calls[f"smooth_ap-c{n}-t{t}"] = lambda embeddings, labels, t=t: L.smooth_ap(
                embeddings, labels, temperature=t
            )
    for v in ("O", "Ds", "Dq", "Iu", "Ib"):
        for name in ("small", "big"):
            calls[f"pnp-{v}-{name}"] = lambda embeddings, labels, v=v: L.pnp(embeddings, labels, variant=v)
    return calls


NPLOSS = _calls()


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", ["fastap-default", "smooth_ap-c3-t0.1", "pnp-Dq-small", "pnp-Ib-big"])
def test_composite_matches_the_references_too(case_id):
    with composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


VARIANTS = [
    ("fastap", {"num_bins": 4}),
    ("smooth_ap", {"temperature": 0.2}),
    ("pnp", {"variant": "Ds", "anneal": 0.2}),
    ("pnp", {"variant": "Dq", "alpha": 2.0, "anneal": 0.2}),
    ("pnp", {"variant": "Iu", "anneal": 0.2}),
    ("pnp", {"variant": "Ib", "b": 3.0, "anneal": 0.2}),
]


@pytest.mark.parametrize("name, params", VARIANTS, ids=[f"{n}-{p}" for n, p in VARIANTS])
def test_non_default_parameters_pass_the_three_gradient_audit(name, params):
    spec = dataclasses.replace(REGISTRY[name], params={**REGISTRY[name].params, **params})
    row = audit_loss(spec, seed=0)
    assert row.passed, row.failure()


def _loop_smooth_ap(x, labels, tau):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u @ u.T
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    out = []
    for q in range(len(x)):
        cls = [k for k in range(len(x)) if labels[k] == labels[q]]
        ap = 0.0
        for k in cls:
            rp = 1 + sum(sig((s[q, l] - s[q, k]) / tau) for l in cls if l != k)
            ra = 1 + sum(sig((s[q, l] - s[q, k]) / tau) for l in range(len(x)) if l != k)
            ap += rp / ra
        out.append(1 - ap / len(cls))
    return np.array(out)


def test_smooth_ap_takes_the_positives_from_the_labels_for_any_batch():
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((7, 3)), np.array([2, 0, 2, 1, 0, 2, 5])  # unequal, unsorted classes
    got = np.asarray(L.smooth_ap(x, labels, temperature=0.1, reduction="none"))
    np.testing.assert_allclose(got, _loop_smooth_ap(x, labels, 0.1), rtol=1e-12)
    perm = rng.permutation(7)
    np.testing.assert_allclose(float(L.smooth_ap(x[perm], labels[perm], temperature=0.1)), got.mean(), rtol=1e-12)


@pytest.mark.parametrize("loss", ["fastap", "smooth_ap", "pnp"])
def test_one_class_or_no_positive_gives_zero(loss):
    x = np.random.default_rng(1).standard_normal((4, 3))
    fn = getattr(L, loss)
    if loss != "smooth_ap":
        assert float(fn(x, np.array([0, 1, 2, 3]))) == 0.0
    if loss != "fastap":  # FastAP with one class: every pair positive, AP = 1 exactly
        assert float(fn(x, np.array([1, 1, 1, 1]))) == pytest.approx(0.0, abs=1e-12)


def test_bad_parameters_are_named():
    x, y = np.ones((4, 3)), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="variant"):
        L.pnp(x, y, variant="o")
    with pytest.raises(ValueError, match="anneal"):
        L.pnp(x, y, anneal=0.0)
    with pytest.raises(ValueError, match="temperature"):
        L.smooth_ap(x, y, temperature=-1.0)
    with pytest.raises(ValueError, match="num_bins"):
        L.fastap(x, y, num_bins=0)
    with pytest.raises(ValueError, match="labels"):
        L.fastap(x, np.array([0, 1]))
