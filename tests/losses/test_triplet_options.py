"""The options of nploss's triplet losses (issue 21): ``triplet(..., distance=callable)`` against
PyTorch's ``TripletMarginWithDistanceLoss``, ``batch_triplet(..., smooth=True)`` against
pytorch-metric-learning's ``TripletMarginLoss(smooth_loss=True)``, both through the three-gradient
audit, in the fused and composite modes."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L
from nploss.audit import audit_loss
from nploss.losses import REGISTRY, composite

from .torch_reference import assert_matches_torch, load

TORCH = load("triplet_options")


def pairwise(x, y):
    """PyTorch's ``pairwise_distance`` (p = 2, eps added to the difference), in nploss ops."""
    v = x - y + 1e-6
    return ag.sqrt(ag.sum(v * v, axis=-1))


def cosine(x, y):
    """``1 - cosine_similarity`` (away from zero vectors, where PyTorch's epsilon does not act)."""
    return 1.0 - ag.sum(x * y, axis=-1) / ag.sqrt(ag.sum(x * x, axis=-1) * ag.sum(y * y, axis=-1))


def l1(x, y):
    return ag.sum(ag.abs(x - y), axis=-1)


DISTANCES = {"pairwise": pairwise, "cosine": cosine, "l1": l1}
SMOOTH = {
    "raw": (1.0, False, False),
    "norm": (0.4, False, True),
    "sq": (3.0, True, False),
    "pmldefault": (0.05, False, True),
}


def _calls() -> dict:
    calls = {}
    for (name, dist), swap, r in itertools.product(DISTANCES.items(), (False, True), ("mean", "sum", "none")):
        m = 0.3 if name == "cosine" else 1.0
        calls[f"triplet-distance-{name}-s{int(swap)}-{r}"] = (
            lambda anchor, positive, negative, d=dist, s=swap, r=r, m=m: L.triplet(
                anchor, positive, negative, margin=m, swap=s, reduction=r, distance=d
            )
        )
    for (name, (m, sq, nz)), strategy, r in itertools.product(
        SMOOTH.items(), ("all", "hard", "semi-hard"), ("avg_nonzero", "mean")
    ):
        calls[f"batch_triplet-smooth-{strategy}-{name}-{r}"] = (
            lambda embeddings, labels, m=m, st=strategy, sq=sq, nz=nz, r=r: L.batch_triplet(
                embeddings, labels, margin=m, strategy=st, squared=sq, normalize=nz, reduction=r, smooth=True
            )
        )
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
        "triplet-distance-cosine-s1-none",
        "triplet-distance-pairwise-s0-mean",
        "batch_triplet-smooth-hard-norm-avg_nonzero",
        "batch_triplet-smooth-all-raw-mean",
    ],
)
def test_composite_matches_the_references_too(case_id):
    with composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def test_default_distance_is_the_built_in_one_exactly():
    rng = np.random.default_rng(3)
    a, p, n = (rng.standard_normal((5, 3)) for _ in range(3))
    for swap in (False, True):
        np.testing.assert_allclose(
            L.triplet(a, p, n, swap=swap, reduction="none", distance=pairwise),
            L.triplet(a, p, n, swap=swap, reduction="none"),
            rtol=1e-13,
            atol=1e-15,
        )


def test_a_distance_returning_arrays_works_on_arrays():
    rng = np.random.default_rng(4)
    a, p, n = (rng.standard_normal((5, 3)) for _ in range(3))
    plain = lambda x, y: np.sqrt(((x - y + 1e-6) ** 2).sum(-1))
    np.testing.assert_allclose(L.triplet(a, p, n, distance=plain), L.triplet(a, p, n), rtol=1e-13)


def test_smooth_is_the_softplus_of_every_selected_triplet():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 3))
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    margin = 0.5
    losses = [
        np.logaddexp(0.0, margin + d[a, p] - d[a, k])
        for a in range(7)
        for p in range(7)
        for k in range(7)
        if p != a and labels[p] == labels[a] and labels[k] != labels[a]
    ]
    for r in ("mean", "avg_nonzero"):  # every softplus is positive: avg_nonzero is the mean
        assert float(L.batch_triplet(x, labels, margin=margin, smooth=True, reduction=r)) == pytest.approx(
            np.mean(losses), rel=1e-12
        )
    assert float(L.batch_triplet(x, labels, margin=margin, smooth=True, reduction="sum")) == pytest.approx(
        np.sum(losses), rel=1e-12
    )
    # smooth=False is untouched by the option
    assert float(L.batch_triplet(x, labels, margin=margin, smooth=False)) == float(
        L.batch_triplet(x, labels, margin=margin)
    )


VARIANTS = [
    ("triplet", {"distance": pairwise}),
    ("triplet", {"distance": cosine, "swap": True, "margin": 0.5}),
    ("batch_triplet", {"smooth": True}),
    ("batch_triplet", {"smooth": True, "strategy": "hard", "normalize": True, "margin": 0.3}),
    ("batch_triplet", {"smooth": True, "strategy": "semi-hard", "margin": 1.5, "squared": True}),
]


@pytest.mark.parametrize("name, params", VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)])
def test_options_pass_the_three_gradient_audit(name, params):
    spec = dataclasses.replace(REGISTRY[name], params={**REGISTRY[name].params, **params})
    row = audit_loss(spec, seed=0)
    assert row.passed, row.failure()


def test_bad_options():
    x = np.ones((3, 2))
    with pytest.raises(TypeError, match="distance"):
        L.triplet(x, x, x, distance="euclidean")
    with pytest.raises(ValueError, match="defaults"):
        L.triplet(x, x, x, p=1.0, distance=pairwise)
    with pytest.raises(ValueError, match="defaults"):
        L.triplet(x, x, x, squared=True, distance=pairwise)
    with pytest.raises(ValueError, match="one distance per row"):
        L.triplet(x, x, x, distance=lambda a, b: ag.sum(a - b))
    with pytest.raises((TypeError, ValueError)):
        L.batch_triplet(x, np.array([0, 0, 1]), smooth="yes")
