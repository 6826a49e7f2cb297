"""Ranked list, histogram, dynamic soft margin and threshold-consistent margin losses against
pytorch-metric-learning 2.9.0 (tests/fixtures/torch/ranked.npz, from tests/fixtures/torch_ranked.py)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import nploss.losses as L
from nploss.autograd import Tensor
from nploss.losses import composite
from nploss.losses.metric import ranked as R

from .torch_reference import assert_matches_torch, load

_SPEC = importlib.util.spec_from_file_location(
    "torch_ranked", pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "torch_ranked.py"
)
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)  # the case table only: PyTorch is imported by cases() alone
CASES = _MODULE.CASES
TORCH = load("ranked")


def _call(case_id):
    if case_id.endswith("_hist"):
        name, kw = CASES[case_id[: -len("_hist")]]
        return lambda embeddings, labels, hist=None: R.dynamic_soft_margin_histogram(embeddings, labels, hist, **kw)
    name, kw = CASES[case_id]
    fn = getattr(L, name)
    if name == "dynamic_soft_margin":
        return lambda embeddings, labels, hist=None: fn(embeddings, labels, hist, **kw)
    return lambda embeddings, labels: fn(embeddings, labels, **kw)


def test_every_reference_case_is_checked():
    expected = set(CASES) | {f"{c}_hist" for c, (n, _) in CASES.items() if n == "dynamic_soft_margin"}
    assert set(TORCH) == expected


@pytest.mark.parametrize("case_id", sorted(TORCH))
def test_matches_pytorch_metric_learning(case_id):
    assert_matches_torch(TORCH[case_id], _call(case_id))


@pytest.mark.parametrize("case_id", sorted(c for c in TORCH if not c.endswith("_hist")))
def test_composite_matches_pytorch_metric_learning(case_id):
    with composite():
        assert_matches_torch(TORCH[case_id], _call(case_id))


# ------------------------------------------------------------------------------------ edges and conventions

X = np.array([[1.0, 0.2, 0.0], [0.9, 0.1, 0.3], [-0.2, 1.0, 0.1], [0.0, 0.8, -0.4], [0.3, -0.5, 1.0]])


@pytest.mark.parametrize(
    ("fn", "zero"),
    [
        (lambda x, y: L.ranked_list(x, y, margin=0.4, Tn=10.0), False),  # its positives still count
        (L.histogram, True),  # no triplet: PML's zero loss
        (L.dynamic_soft_margin, True),
        (L.threshold_consistent_margin, False),
    ],
)
def test_one_class_is_finite(fn, zero):
    t = Tensor(X, requires_grad=True)
    out = fn(t, np.zeros(5, dtype=int))
    out.sum().backward()
    value = float(np.asarray(out.data).sum())
    assert np.isfinite(value) and (value == 0.0 or not zero)
    assert np.all(np.isfinite(np.asarray(t.grad.data)))


def test_ranked_list_requires_margin_and_tn_as_pml():
    with pytest.raises(TypeError):
        L.ranked_list(X, np.array([0, 0, 1, 1, 2]))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="imbalance"):
        L.ranked_list(X, np.array([0, 0, 1, 1, 2]), margin=0.4, Tn=1.0, imbalance=1.5)


def test_ranked_list_alpha_defaults_to_one_plus_half_margin():
    y = np.array([0, 0, 1, 1, 2])
    a = L.ranked_list(X, y, margin=0.4, Tn=2.0, reduction="none")
    b = L.ranked_list(X, y, margin=0.4, Tn=2.0, alpha=1.2, reduction="none")
    np.testing.assert_array_equal(a, b)


def test_histogram_delta_and_n_bins_must_agree():
    with pytest.raises(ValueError, match="delta"):
        L.histogram(X, np.array([0, 0, 1, 1, 2]), n_bins=10, delta=0.1)
    assert float(L.histogram(X, np.array([0, 0, 1, 1, 2]), n_bins=10, delta=0.2)) == float(
        L.histogram(X, np.array([0, 0, 1, 1, 2]), n_bins=10)
    )


def test_histogram_exact_nodes_differ_from_pml_by_about_1e6_only():
    y = np.array([0, 0, 1, 1, 2])
    a, b = float(L.histogram(X, y)), float(L.histogram(X, y, float32_nodes=False))
    assert abs(a - b) < 1e-5 * max(abs(b), 1e-3)


def test_histogram_identical_embeddings_are_finite():
    # a cosine of 1 indexes past PML's last node (an IndexError there); here it is the last bin
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert float(L.histogram(x, np.array([0, 0, 1, 1]))) == 0.0


def test_dynamic_soft_margin_state_follows_pml_across_calls():
    loss = L.DynamicSoftMarginLoss(momentum=0.3)
    y = np.array([0, 0, 1, 1, 2])
    first = float(loss(X, y))
    h1 = loss.hist.copy()
    np.testing.assert_allclose(h1.sum(), 1.0)
    assert first == float(L.dynamic_soft_margin(X, y, momentum=0.3))
    second = float(loss(X[::-1].copy(), y))
    assert second == float(L.dynamic_soft_margin(X[::-1].copy(), y, h1, momentum=0.3))
    assert not np.array_equal(loss.hist, h1)


def test_dynamic_soft_margin_large_gaps_stay_in_the_histogram():
    # d_ap - d_an close to 2: PML indexes past its 10 bins; here the last bin takes it
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.01]])
    t = Tensor(x, requires_grad=True)
    out = L.dynamic_soft_margin(t, np.array([0, 0, 1]))
    out.backward()
    assert np.isfinite(float(out.data)) and np.all(np.isfinite(np.asarray(t.grad.data)))


def test_dynamic_soft_margin_bad_histogram_is_named():
    with pytest.raises(ValueError, match="hist"):
        L.dynamic_soft_margin(X, np.array([0, 0, 1, 1, 2]), np.ones(4))


def test_threshold_consistent_margin_empty_sets_give_zero():
    # every positive above m+ and every negative below m-: both terms empty
    x = np.array([[1.0, 0.0], [1.0, 0.01], [-1.0, 0.0]])
    assert float(L.threshold_consistent_margin(x, np.array([0, 0, 1]))) == 0.0


def test_ranked_list_eps_zero_is_the_papers_mean_over_violating_pairs():
    y = np.array([0, 0, 1, 1, 2])
    u = X / np.linalg.norm(X, axis=1, keepdims=True)
    d = np.linalg.norm(u[:, None] - u[None], axis=-1)
    same = y[:, None] == y[None]
    pos, neg = same & ~np.eye(5, dtype=bool), ~same
    m, alpha = 0.4, 1.2
    expected = []
    for i in range(5):
        p = d[i][pos[i] & (d[i] > alpha - m)] - (alpha - m)
        n = alpha - d[i][neg[i] & (d[i] < alpha)]
        expected.append(0.5 * (p.mean() if p.size else 0.0) + 0.5 * (n.mean() if n.size else 0.0))
    got = L.ranked_list(X, y, margin=m, Tn=0.0, eps=0.0, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
