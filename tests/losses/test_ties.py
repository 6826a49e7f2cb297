"""Gradients exactly at the kinks and ties the audit samples away from, pinned to the subgradient
each docstring documents (the gaps a mutation test of the audit found: a mutant that changes the
result only at an exact tie, or only in a shape, survived every other test). The registry's tie
fixtures (``LossSpec.ties``) are held to theirs by the audit, and here once more."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L


def _grads(loss, *arrays, composite=False, **kwargs):
    tensors = [ag.Tensor(np.asarray(a, dtype=float), requires_grad=True) for a in arrays]
    if composite:
        with L.composite():
            out = loss(*tensors, **kwargs)
    else:
        out = loss(*tensors, **kwargs)
    ag.sum(out).backward()
    return [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("composite", [False, True])
def test_poisson_nll_full_target_gradient_at_counts_0_1_and_2(composite):
    # Stirling's term y log y - y + log(2 pi y)/2 applies for y > 1 only (PyTorch's mask): at a count
    # of exactly 1 the target's gradient is -prediction, the slope from below, not -prediction + 1/2
    prediction, target = np.full(3, 0.3), np.array([0.0, 1.0, 2.0])
    _, grad_target = _grads(L.poisson_nll, prediction, target, composite=composite, full=True, reduction="sum")
    np.testing.assert_allclose(grad_target[:2], -prediction[:2], rtol=0, atol=0)
    np.testing.assert_allclose(grad_target[2], -0.3 + np.log(2.0) + 0.25, rtol=1e-12)  # log y + 1/(2y)


@pytest.mark.parametrize("composite", [False, True])
def test_categorical_cross_entropy_at_the_clip_bound_passes_the_gradient(composite):
    # the clip passes the gradient at its bounds (README: as PyTorch's clamp): at p = eps exactly the
    # gradient is that of -log(p / s), -1/p + 1/s, not 0
    eps = 1e-7
    (grad,) = _grads(lambda p: L.categorical_cross_entropy(p, np.array([[1.0, 0.0]]), eps=eps, reduction="sum"),
                     np.array([[eps, 1.0 - eps]]), composite=composite)  # fmt: skip
    np.testing.assert_allclose(grad, [[-1.0 / eps + 1.0, 1.0]], rtol=1e-9)


@pytest.mark.parametrize("composite", [False, True])
def test_contrastive_with_power_1_at_a_distance_equal_to_the_margin(composite):
    # a dissimilar pair exactly at the margin: max(0, m - d) has the subgradient 0 there, as relu's
    x1, x2 = np.array([[0.0, 0.0]]), np.array([[0.6, 0.8]])  # d = 1 (to within 1e-16 inside the root)
    g1, g2 = _grads(lambda a, b: L.contrastive(a, b, np.array([0.0]), margin=1.0, power=1, reduction="sum"),
                    x1, x2, composite=composite)  # fmt: skip
    np.testing.assert_array_equal(g1, 0.0)
    np.testing.assert_array_equal(g2, 0.0)
    # just inside the margin the pair is pushed apart with the unit direction
    g1, _ = _grads(lambda a, b: L.contrastive(a, b, np.array([0.0]), margin=1.0, power=1, reduction="sum"),
                   x1, 0.999 * x2, composite=composite)  # fmt: skip
    np.testing.assert_allclose(g1, [[0.6, 0.8]], rtol=1e-9)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_lifted_structured_gives_one_value_per_anchor(reduction):
    rng = np.random.default_rng(0)
    embeddings, labels = rng.standard_normal((6, 3)), np.array([0, 0, 1, 1, 2, 2])
    value = np.asarray(L.lifted_structured(embeddings, labels, reduction=reduction))
    assert value.shape == ((6,) if reduction == "none" else ())
    if reduction == "none":
        assert float(value.sum()) == pytest.approx(float(L.lifted_structured(embeddings, labels, reduction="sum")), rel=1e-12)


@pytest.mark.parametrize("composite", [False, True])
def test_batch_triplet_at_a_violation_of_exactly_0(composite):
    # squared distances 1 (positive) and 4 (negative) with the margin 3: the hinge sits exactly at
    # 0, where relu's subgradient 0 applies; a hair closer to the negative it pushes
    embeddings, labels = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]), np.array([0, 0, 1])
    kwargs = {"margin": 3.0, "squared": True, "reduction": "sum"}
    (grad,) = _grads(lambda e: L.batch_triplet(e, labels, **kwargs), embeddings, composite=composite)
    np.testing.assert_array_equal(grad, 0.0)
    closer = embeddings.copy()
    closer[2, 1] = 1.999
    (grad,) = _grads(lambda e: L.batch_triplet(e, labels, **kwargs), closer, composite=composite)
    assert np.abs(grad).max() > 1.0  # the violated triplet pulls and pushes


@pytest.mark.parametrize("name", sorted(n for n, s in L.REGISTRY.items() if s.ties))
def test_every_declared_tie_gets_its_documented_subgradient(name):
    from nploss.audit_ties import check_ties

    assert check_ties(L.REGISTRY[name]) == dict.fromkeys(L.REGISTRY[name].ties)
