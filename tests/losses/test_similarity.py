"""Cosine-similarity metric losses (multi-similarity, circle, tuplet margin, intra-pair variance):
pytorch-metric-learning 2.9 values and gradients with its defaults and with other options, fused
and composite, plus edge cases and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.losses as L
from nploss.autograd import Tensor, grad
from nploss.losses import composite
from nploss.losses.metric import similarity as S

from .torch_reference import assert_matches_torch, load

TORCH = load("similarity")
NAMES = [n for n in ("multi_similarity", "circle", "tuplet_margin", "intra_pair_variance") if n in S.__all__]
OPTIONS = {  # the PML options of the fixture cases, under nploss's (identical) names
    "multi_similarity": [{}, {"alpha": 1.5, "beta": 20.0, "base": 0.3}],
    "circle": [{}, {"m": 0.25, "gamma": 32.0}],
    "tuplet_margin": [{}, {"margin": 20.0, "scale": 8.0}],
    "intra_pair_variance": [{}, {"pos_eps": 0.05, "neg_eps": 0.1}],
}


def _cases():
    for name in NAMES:
        for tag in ("b8", "b10", "single", "nopos"):
            for options in OPTIONS[name]:
                suffix = "".join(f"-{k}{v}" for k, v in options.items())
                yield f"{name}-{tag}{suffix}", name, options


@pytest.mark.parametrize("mode", ["fused", "composite"])
@pytest.mark.parametrize("case_id, name, options", list(_cases()))
def test_matches_pytorch_metric_learning(case_id, name, options, mode):
    fn = getattr(L, name)
    call = lambda embeddings, labels: fn(embeddings, labels.numpy(), **options)
    if mode == "composite":
        with composite():
            assert_matches_torch(TORCH[case_id], call)
    else:
        assert_matches_torch(TORCH[case_id], call)


@pytest.mark.parametrize("name", NAMES)
def test_single_sample_and_identical_rows_are_finite(name):
    fn = getattr(L, name)
    for x, y in ((np.ones((1, 3)), np.array([0])), (np.ones((4, 3)), np.array([0, 0, 1, 1]))):
        t = Tensor(x, requires_grad=True)
        out = fn(t, y)
        (g,) = grad(out, [t])
        assert np.isfinite(out.numpy()) and np.all(np.isfinite(g.numpy()))


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_named(name):
    fn = getattr(L, name)
    with pytest.raises(ValueError, match="labels"):
        fn(np.ones((4, 3)), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="embeddings"):
        fn(np.ones(4), np.array([0, 1, 0, 1]))


# keras.losses.circle(y, u) of Keras 3.15.1 (jax backend, float64) on the unit rows below, per anchor
KERAS_CIRCLE = [147.11321671176862, 0.0, 179.6455406280172, 1.3490381808247476, 138.48417910296794,
                148.7806381415081, 1.4091639585373004, 18.08048280698012]  # fmt: skip


def test_circle_per_anchor_equals_keras():
    x = np.random.default_rng(1).standard_normal((8, 4))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = np.array([0, 3, 1, 2, 1, 0, 2, 0])
    np.testing.assert_allclose(L.circle(u, y, reduction="none"), KERAS_CIRCLE, rtol=1e-12)
    # Keras masks the anchors whose loss is 0; 'avg_nonzero' averages over the others
    assert float(L.circle(u, y)) == pytest.approx(sum(KERAS_CIRCLE) / 7, rel=1e-12)
    assert float(L.circle(u, y, reduction="mean")) == pytest.approx(sum(KERAS_CIRCLE) / 8, rel=1e-12)


@pytest.mark.parametrize("detach", [True, False])
def test_circle_detach_changes_the_gradient_not_the_value(detach):
    x = np.random.default_rng(2).standard_normal((7, 3))
    y = np.array([0, 0, 1, 1, 1, 2, 2])
    t = Tensor(x, requires_grad=True)
    out = L.circle(t, y, detach=detach)
    (g,) = grad(out, [t])
    with composite():
        tc = Tensor(x, requires_grad=True)
        outc = L.circle(tc, y, detach=detach)
        (gc,) = grad(outc, [tc])
    np.testing.assert_allclose(out.numpy(), float(L.circle(x, y, detach=not detach)), rtol=1e-14)
    np.testing.assert_allclose(g.numpy(), gc.numpy(), rtol=1e-9, atol=1e-12)


def test_tuplet_margin_takes_degrees():
    x = np.random.default_rng(3).standard_normal((6, 3))
    y = np.array([0, 0, 1, 1, 2, 2])
    a = L.tuplet_margin(x, y, margin=0.0)
    b = L.tuplet_margin(x, y, margin=np.degrees(0.1))
    assert b < a  # the margin is a slack: cos(theta - beta) > cos(theta) makes positives easier
    np.testing.assert_allclose(L.tuplet_margin(x, y, margin=5.73), L.tuplet_margin(x, y), rtol=0)


def test_intra_pair_variance_none_has_a_positive_and_a_negative_row():
    x = np.random.default_rng(4).standard_normal((6, 3))
    y = np.array([0, 0, 0, 1, 1, 2])
    none = L.intra_pair_variance(x, y, reduction="none")
    assert none.shape == (2, 6)
    n_pos, n_neg = 8, 22  # ordered pairs: 3*2 + 2*1 positives, 36 - 6 - 8 negatives
    mean = none[0].sum() / n_pos + none[1].sum() / n_neg
    np.testing.assert_allclose(L.intra_pair_variance(x, y), mean, rtol=1e-13)
