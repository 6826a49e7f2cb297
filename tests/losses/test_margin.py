"""Margin losses: PyTorch and scikit-learn references, closed forms, properties and bad input."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import assert_matches_torch, load

TORCH = load("margin")
REDUCTIONS = ("mean", "sum", "none")


def _call(fn, **fixed):
    """``fn(scores, target, ...)`` as a function of the fixture's named inputs."""
    return lambda **inputs: fn(**inputs, **fixed)


FORMULA = {  # the "-formula-" cases: the defining formula in torch primitives
    "hinge": _call(L.hinge),
    "hinge_m0.5": _call(L.hinge, margin=0.5),
    "squared_hinge": _call(L.squared_hinge),
    "smoothed_hinge": _call(L.smoothed_hinge),
    "exponential": _call(L.exponential),
}

NPLOSS = {
    # multi_margin_loss
    **{
        f"multiclass_hinge-p{p}-{r}": _call(L.multiclass_hinge, p=p, reduction=r)
        for p in (1, 2)
        for r in REDUCTIONS
    },
    **{
        f"multiclass_hinge-p{p}-m0.5-weight-{r}": _call(L.multiclass_hinge, p=p, margin=0.5, reduction=r)
        for p in (1, 2)
        for r in REDUCTIONS
    },
    **{f"multiclass_hinge-p{p}-{c}": _call(L.multiclass_hinge, p=p, reduction="none") for p in (1, 2) for c in ("kinks", "large")},
    # soft_margin_loss
    **{f"logistic-{r}": _call(L.logistic, reduction=r) for r in REDUCTIONS},
    "logistic-large": _call(L.logistic, reduction="none"),
    # formulas
    **{
        f"{name}-formula-{label}-{r}": (lambda fn, r: lambda **inputs: fn(**inputs, reduction=r))(fn, r)
        for name, fn in FORMULA.items()
        for label in ("random", "kinks")
        for r in ("mean", "none")
    },
    **{
        f"crammer_singer_hinge-formula-{label}-{r}": _call(L.crammer_singer_hinge, reduction=r)
        for label in ("random", "ties")
        for r in ("mean", "none")
    },
    **{f"multiclass_hinge-unbatched-{r}": _call(L.multiclass_hinge, reduction=r) for r in ("mean", "none")},  # (C,), as PyTorch
}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch(case_id):
    # the engine's gradient of the composite graph: kinks and ties included
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def _grads(fn, scores, target, *, composite=False, cotangent=None, **kwargs):
    """Value and the gradient with respect to the scores (fused, or composite)."""
    s = Tensor(np.asarray(scores, dtype=np.float64), requires_grad=True)
    if composite:
        with L.composite():
            out = fn(s, target, **kwargs)
    else:
        out = fn(s, target, **kwargs)
    (g,) = grad(out, [s], grad_outputs=cotangent)
    return out.numpy(), g.numpy()


# ------------------------------------------------------------------------------------ scikit-learn

REFERENCES: dict[str, dict[str, np.ndarray]] = {}
with np.load(pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references" / "margin.npz") as _data:
    for _key in _data.files:
        if "/" in _key:
            _case, _name = _key.split("/")
            REFERENCES.setdefault(_case, {})[_name] = _data[_key]


def _weighted_mean(none, ref):
    """sklearn's ``np.average(losses, weights=sample_weight)``: nploss has no sample weights."""
    w = ref.get("sample_weight")
    return float(np.average(none, weights=w))


@pytest.mark.parametrize("case", sorted(c for c in REFERENCES if c.startswith("binary")))
def test_hinge_matches_sklearn_binary_hinge_loss(case):
    ref = REFERENCES[case]
    none = L.hinge(ref["scores"], ref["target"], reduction="none")
    np.testing.assert_allclose(_weighted_mean(none, ref), ref["value"], rtol=1e-14)
    if "sample_weight" not in ref:
        np.testing.assert_allclose(L.hinge(ref["scores"], ref["target"]), ref["value"], rtol=1e-14)


@pytest.mark.parametrize("case", sorted(c for c in REFERENCES if c.startswith("multiclass")))
def test_sklearn_multiclass_hinge_loss_is_crammer_singer_not_weston_watkins(case):
    # sklearn.metrics.hinge_loss (multiclass): mean of max(0, 1 + max_{j != y} f_j - f_y)
    ref = REFERENCES[case]
    none = L.crammer_singer_hinge(ref["scores"], ref["target"], reduction="none")
    np.testing.assert_allclose(_weighted_mean(none, ref), ref["value"], rtol=1e-14)
    if "sample_weight" not in ref:
        np.testing.assert_allclose(L.crammer_singer_hinge(ref["scores"], ref["target"]), ref["value"], rtol=1e-14)
    # Weston-Watkins (PyTorch's multi_margin_loss) sums over every wrong class and divides by C:
    # a different number on these inputs (and neither C times it)
    ww = L.multiclass_hinge(ref["scores"], ref["target"], reduction="none")
    classes = ref["scores"].shape[1]
    for candidate in (ww, classes * ww):
        assert abs(_weighted_mean(candidate, ref) - float(ref["value"])) > 1e-3


# ------------------------------------------------------------------------------------ closed forms


def test_docstring_numbers_by_hand():
    s, y = np.array([2.0, 0.5, -1.0]), np.ones(3)
    # z = 2, 0.5, -1
    assert float(L.hinge(s, y)) == pytest.approx((0 + 0.5 + 2) / 3, rel=1e-15)
    assert float(L.hinge(s, y, margin=3.0)) == pytest.approx((1 + 2.5 + 4) / 3, rel=1e-15)
    assert float(L.squared_hinge(s, y)) == pytest.approx((0 + 0.25 + 4) / 3, rel=1e-15)
    assert float(L.smoothed_hinge(s, y)) == pytest.approx((0 + 0.125 + 1.5) / 3, rel=1e-15)
    assert float(L.exponential(np.array([0.0, 1.0]), np.array([1.0, -1.0]))) == pytest.approx((1 + math.e) / 2, rel=1e-15)
    assert float(L.logistic(np.array([0.0, 2.0]), np.array([1.0, -1.0]))) == pytest.approx(
        (math.log(2) + math.log1p(math.exp(2))) / 2, rel=1e-15
    )
    # Weston-Watkins: (max(0, 1 - 2 + 1.5) + max(0, 1 - 2 - 1)) / 3
    assert float(L.multiclass_hinge(np.array([[2.0, 1.5, -1.0]]), np.array([0]))) == pytest.approx(0.5 / 3, rel=1e-15)
    assert float(L.crammer_singer_hinge(np.array([[0.4, 0.6]]), np.array([1]))) == pytest.approx(0.8, rel=1e-15)


def _weston_watkins_loops(scores, target, margin, p, weight):
    n, c = scores.shape
    out = np.zeros(n)
    for i in range(n):
        w = 1.0 if weight is None else weight[target[i]]
        for j in range(c):
            if j != target[i]:
                out[i] += w * max(0.0, margin - scores[i, target[i]] + scores[i, j]) ** p / c
    return out


def _crammer_singer_loops(scores, target):
    return np.array([max(0.0, 1.0 + max(s[j] for j in range(len(s)) if j != y) - s[y]) for s, y in zip(scores, target)])


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_hinges_against_loops(p, weighted):
    rng = np.random.default_rng(7)
    scores, target = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    weight = rng.uniform(0.1, 3.0, 5) if weighted else None
    expected = _weston_watkins_loops(scores, target, 0.7, p, weight)
    got = L.multiclass_hinge(scores, target, margin=0.7, p=p, weight=weight, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    # 'mean' is the plain mean over N, weights included (not divided by the sum of the weights)
    assert float(L.multiclass_hinge(scores, target, margin=0.7, p=p, weight=weight)) == pytest.approx(expected.mean(), rel=1e-14)
    np.testing.assert_allclose(L.crammer_singer_hinge(scores, target, reduction="none"), _crammer_singer_loops(scores, target), rtol=1e-14)


def test_binary_gradients_in_closed_form():
    s = np.array([-2.0, -0.3, 0.4, 0.8, 1.7, 3.0])
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    z = y * s
    cot = np.linspace(0.5, 2.0, 6)
    expected = {
        L.hinge: -y * (z < 1) * cot,
        L.squared_hinge: -2 * y * np.maximum(0, 1 - z) * cot,
        L.smoothed_hinge: -y * np.clip(1 - z, 0, 1) * cot,
        L.exponential: -y * np.exp(-z) * cot,
        L.logistic: -y / (1 + np.exp(z)) * cot,
    }
    for fn, g_expected in expected.items():
        for composite in (False, True):
            _, g = _grads(fn, s, y, reduction="none", cotangent=cot, composite=composite)
            np.testing.assert_allclose(g, g_expected, rtol=1e-14, err_msg=fn.__name__)


def test_crammer_singer_gradient_at_ties_is_shared_and_zero_at_the_margin():
    scores = np.array([[1.0, 2.0, 2.0, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 2.0, 1.0, 0.5], [0.5, 0.0, 3.0, 1.0]])
    target = np.array([0, 0, 0, 1])
    for composite in (False, True):
        value, g = _grads(L.crammer_singer_hinge, scores, target, reduction="sum", composite=composite)
        assert float(value) == pytest.approx(2.0 + 1.0 + 0.0 + 4.0, rel=1e-15)
        expected = [[-1, 0.5, 0.5, 0], [-1, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 0], [0, -1, 1, 0]]
        np.testing.assert_allclose(g, expected, rtol=1e-15)


def test_multiclass_hinge_gradient_in_closed_form():
    scores, target = np.array([[2.0, 1.5, -1.0, 2.5]]), np.array([0])
    # z_j = 1 - 2 + s_j: 0.5, -2, 1.5 for j = 1, 2, 3
    for p, expected in ((1, [-2, 1, 0, 1]), (2, [-2 * 2.0, 2 * 0.5, 0, 2 * 1.5])):
        for composite in (False, True):
            _, g = _grads(L.multiclass_hinge, scores, target, p=p, reduction="sum", composite=composite)
            np.testing.assert_allclose(g, np.array([expected]) / 4, rtol=1e-15)


# ------------------------------------------------------------------------------------ properties

BINARY = {
    "hinge": L.hinge,
    "squared_hinge": L.squared_hinge,
    "smoothed_hinge": L.smoothed_hinge,
    "exponential": L.exponential,
    "logistic": L.logistic,
}
ZERO_BEYOND = {"hinge": 1.0, "squared_hinge": 1.0, "smoothed_hinge": 1.0}  # z >= this: value and gradient 0

scores_st = arrays(np.float64, st.integers(1, 8), elements=st.floats(-30, 30))


def _signs(scores, seed):
    return np.random.default_rng(seed).choice([-1.0, 1.0], scores.shape)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(scores=scores_st, seed=st.integers(0, 2**16))
def test_binary_losses_nonnegative_mean_is_sum_over_n(name, scores, seed):
    fn, y = BINARY[name], _signs(scores, seed)
    none = fn(scores, y, reduction="none")
    assert none.shape == scores.shape
    assert np.all(none >= 0)
    assert float(fn(scores, y, reduction="sum")) == pytest.approx(none.sum(), rel=1e-13, abs=1e-300)
    assert float(fn(scores, y)) == pytest.approx(none.sum() / none.size, rel=1e-13, abs=1e-300)
    # a function of the margin y f only: flipping both the score and the label changes nothing
    np.testing.assert_array_equal(fn(-scores, -y, reduction="none"), none)


@pytest.mark.parametrize("name", sorted(ZERO_BEYOND))
@given(z=st.floats(0, 1e6))
def test_zero_value_and_gradient_beyond_the_margin(name, z):
    z = z + ZERO_BEYOND[name]
    s, y = np.array([z, -z]), np.array([1.0, -1.0])
    for composite in (False, True):
        value, g = _grads(BINARY[name], s, y, reduction="sum", composite=composite)
        assert float(value) == 0.0
        np.testing.assert_array_equal(g, 0.0)


@given(z=st.floats(0, 1e6), m=st.floats(0, 10))
def test_hinge_with_margin_m_is_zero_from_m_on_and_linear_below(z, m):
    y = np.array([1.0, -1.0])
    assert float(L.hinge(np.array([m + z, -(m + z)]), y, margin=m, reduction="sum")) == 0.0
    below = float(L.hinge(np.array([m - 1 - z, -(m - 1 - z)]), y, margin=m, reduction="none")[0])
    assert below == pytest.approx(1 + z, rel=1e-12)


matrices_st = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 5)), elements=st.floats(-20, 20))


@given(scores=matrices_st, seed=st.integers(0, 2**16))
def test_multiclass_hinges_nonnegative_and_zero_when_the_right_class_wins_by_the_margin(scores, seed):
    n, c = scores.shape
    target = np.random.default_rng(seed).integers(0, c, n)
    for fn in (L.multiclass_hinge, L.crammer_singer_hinge):
        none = fn(scores, target, reduction="none")
        assert none.shape == (n,) and np.all(none >= 0)
        assert float(fn(scores, target)) == pytest.approx(none.sum() / n, rel=1e-13, abs=1e-300)
    # Crammer-Singer is the hinge of the worst wrong class: at most C times Weston-Watkins
    # (which averages the hinges of all of them), and at least it
    ww = L.multiclass_hinge(scores, target, reduction="none")
    cs = L.crammer_singer_hinge(scores, target, reduction="none")
    assert np.all(cs <= c * ww * (1 + 1e-12) + 1e-12) and np.all(ww <= cs * (1 + 1e-12) + 1e-12)
    # push the right class one margin above every other: zero loss and zero gradient
    winning = scores.copy()
    winning[np.arange(n), target] = scores.max(axis=1) + 1.0
    winning[np.arange(n), target] += 1e-9 * np.abs(winning[np.arange(n), target])
    for fn in (L.multiclass_hinge, L.crammer_singer_hinge):
        value, g = _grads(fn, winning, target, reduction="sum")
        assert float(value) == 0.0
        np.testing.assert_array_equal(g, 0.0)


@given(z=st.floats(-700, 700))
def test_logistic_is_softplus_of_minus_the_margin(z):
    for y in (1.0, -1.0):
        value, g = _grads(L.logistic, np.array([y * z]), np.array([y]))
        softplus = max(-z, 0.0) + math.log1p(math.exp(-abs(z)))
        assert float(value) == pytest.approx(softplus, rel=1e-14, abs=1e-300)
        if abs(z) < 30:  # the naive form, accurate to about 1e-16 in absolute terms there
            assert float(value) == pytest.approx(math.log(1 + math.exp(-z)), rel=1e-12, abs=1e-15)
        sigmoid = 1 / (1 + math.exp(z)) if z < 0 else math.exp(-z) / (1 + math.exp(-z))  # sigma(-z), no overflow
        assert float(g[0]) == pytest.approx(-y * sigmoid, rel=1e-13, abs=1e-300)


@given(z=st.floats(-700, 700))
def test_exponential_is_exp_of_minus_the_margin(z):
    for y in (1.0, -1.0):
        value, g = _grads(L.exponential, np.array([y * z]), np.array([y]))
        assert float(value) == pytest.approx(math.exp(-z), rel=1e-14, abs=1e-300)
        assert float(g[0]) == pytest.approx(-y * math.exp(-z), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("joint", [0.0, 1.0])
def test_smoothed_hinge_value_and_slope_are_continuous_at_its_joints(joint):
    h = 1e-7
    z = np.array([joint - h, joint, joint + h])
    value, g = _grads(L.smoothed_hinge, z, np.ones(3), reduction="none", cotangent=np.ones(3))
    # the pieces: 1/2 - z below 0, (1 - z)^2 / 2 on [0, 1], 0 above 1
    left = (lambda t: 0.5 - t) if joint == 0.0 else (lambda t: 0.5 * (1 - t) ** 2)
    right = (lambda t: 0.5 * (1 - t) ** 2) if joint == 0.0 else (lambda t: 0.0)
    assert left(joint) == right(joint) == pytest.approx(float(value[1]), abs=0)
    np.testing.assert_allclose(value, [left(joint - h), value[1], right(joint + h)], rtol=1e-15, atol=1e-300)
    assert abs(value[0] - value[1]) < 2 * h and abs(value[2] - value[1]) < 2 * h  # no jump
    np.testing.assert_allclose(g, [-1.0 + joint, -1.0 + joint, -1.0 + joint], atol=2 * h)  # slope continuous


@given(z=st.floats(-50, 50))
def test_smoothed_hinge_lies_between_the_hinge_minus_one_half_and_the_hinge(z):
    s, y = np.array([z]), np.array([1.0])
    hinge, smooth = float(L.hinge(s, y)), float(L.smoothed_hinge(s, y))
    assert hinge - 0.5 - 1e-12 <= smooth <= hinge + 1e-12


# ------------------------------------------------------------------------------------ stability


@pytest.mark.parametrize("name", sorted(set(BINARY) - {"exponential"}))
def test_binary_losses_at_scores_of_1e4(name):
    s, y = np.array([1e4, -1e4, 1e4, -1e4]), np.array([1.0, 1.0, -1.0, -1.0])
    z = y * s  # 1e4, -1e4, -1e4, 1e4
    exact = {
        "hinge": np.maximum(0, 1 - z),
        "squared_hinge": np.maximum(0, 1 - z) ** 2,
        "smoothed_hinge": np.where(z <= 0, 0.5 - z, 0.0),
        "logistic": np.maximum(-z, 0.0),  # softplus(-1e4) = e^{-1e4}, 0 in float64; softplus(1e4) = 1e4
    }[name]
    for composite in (False, True):
        value, g = _grads(BINARY[name], s, y, reduction="none", cotangent=np.ones(4), composite=composite)
        np.testing.assert_allclose(value, exact, rtol=1e-15)
        assert np.all(np.isfinite(g))
    # PyTorch's soft_margin_loss evaluates log(1 + e^{-y f}) and gives inf here; nploss the exact 1e4


def test_exponential_overflows_as_documented_below_minus_709():
    # confident and right: e^{-1e4} underflows to 0, exactly the closest float
    value, g = _grads(L.exponential, np.array([1e4, -1e4]), np.array([1.0, -1.0]), reduction="none", cotangent=np.ones(2))
    np.testing.assert_array_equal(value, 0.0)
    np.testing.assert_array_equal(g, 0.0)
    # at y f = -700 still finite; at -1e4 the true value e^{1e4} is not representable: inf, with
    # NumPy's overflow warning (the docstring promises no more)
    assert np.isfinite(L.exponential(np.array([-700.0]), np.array([1.0])))
    with pytest.warns(RuntimeWarning, match="overflow"):
        value = L.exponential(np.array([-1e4]), np.array([1.0]))
    assert float(value) == math.inf


@pytest.mark.parametrize("fn", [L.multiclass_hinge, L.crammer_singer_hinge])
def test_multiclass_hinges_at_scores_of_1e4(fn):
    scores, target = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([0, 0])
    for composite in (False, True):
        value, g = _grads(fn, scores, target, reduction="none", cotangent=np.ones(2), composite=composite)
        assert value[0] == 0.0 and value[1] > 1e4 and np.all(np.isfinite(value))
        assert np.all(np.isfinite(g))


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_bad_input(name):
    fn = BINARY[name]
    s = np.array([0.5, -1.0, 2.0])
    with pytest.raises(ValueError, match=r"target must hold targets in \{-1, \+1\}, got values \[0.0, 1.0\]"):
        fn(s, np.array([0.0, 1.0, 1.0]))  # {0, 1} labels are refused, not mapped
    with pytest.raises(ValueError, match=r"target must hold targets in \{-1, \+1\}"):
        fn(s, np.array([1.0, -1.0, 0.5]))
    with pytest.raises(ValueError, match=r"target must have the shape of scores \(3, 1\), got \(3,\)"):
        fn(s[:, None], np.ones(3))  # would broadcast to (3, 3)
    with pytest.raises(ValueError, match=r"target must have the shape of scores \(3,\), got \(1,\)"):
        fn(s, np.ones(1))
    with pytest.raises(ValueError, match="scores contains NaN or infinite values"):
        fn(np.array([0.5, np.inf, 1.0]), np.ones(3))
    with pytest.raises(ValueError, match="reduction must be one of .* got 'avg'"):
        fn(s, np.ones(3), reduction="avg")
    np.testing.assert_allclose(fn(s, np.array([1, -1, 1])), fn(s, np.array([1.0, -1.0, 1.0])), rtol=0)  # integer +-1 labels


def test_hinge_margin_parameter():
    s, y = np.array([0.5, -1.0]), np.array([1.0, 1.0])
    assert float(L.hinge(s, y, margin=0.0, reduction="sum")) == 1.0  # the perceptron criterion
    for bad in (-0.5, -1):
        with pytest.raises(ValueError, match=f"margin must be non-negative, got {bad}"):
            L.hinge(s, y, margin=bad)
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="margin must be a finite number"):
            L.hinge(s, y, margin=bad)
    for bad in ("1", True, np.ones(2)):
        with pytest.raises(TypeError, match="margin must be a real number"):
            L.hinge(s, y, margin=bad)


@pytest.mark.parametrize("fn", [L.multiclass_hinge, L.crammer_singer_hinge])
def test_multiclass_bad_input(fn):
    scores = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"target must be class labels in \[0, 4\), got values from 0 to 4"):
        fn(scores, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"target must be class labels in \[0, 4\), got values from -1 to 1"):
        fn(scores, np.array([0, -1, 1]))
    with pytest.raises(TypeError, match="target must hold integer class labels, got dtype float64"):
        fn(scores, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target must have shape \(N,\) = \(3,\) for scores of shape \(3, 4\), got \(3, 1\)"):
        fn(scores, np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match=r"target must have shape \(N,\) = \(3,\) .* got \(2,\)"):
        fn(scores, np.array([0, 1]))
    if fn is L.multiclass_hinge:  # (C,) scores are one sample, as in PyTorch: its label is 0-d
        with pytest.raises(ValueError, match=r"target must be 0-d for one sample without a batch axis, got shape \(1,\)"):
            fn(np.zeros(4), np.array([1]))
    else:
        with pytest.raises(ValueError, match=r"scores must have shape \(N, C\), got shape \(4,\)"):
            fn(np.zeros(4), np.array([1]))
    with pytest.raises(ValueError, match="scores contains NaN"):
        fn(np.full((3, 4), np.nan), np.array([0, 1, 2]))


def test_multiclass_hinge_bad_parameters():
    scores, target = np.zeros((3, 4)), np.array([0, 1, 2])
    for p in (0, 3, 1.5, True):
        with pytest.raises(ValueError, match="p must be 1 or 2"):
            L.multiclass_hinge(scores, target, p=p)
    with pytest.raises(ValueError, match="margin must be non-negative, got -1.0"):
        L.multiclass_hinge(scores, target, margin=-1.0)
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(4,\), got \(3,\)"):
        L.multiclass_hinge(scores, target, weight=np.ones(3))
    with pytest.raises(ValueError, match="weight must be non-negative"):
        L.multiclass_hinge(scores, target, weight=np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="weight contains NaN"):
        L.multiclass_hinge(scores, target, weight=np.array([1.0, np.nan, 1.0, 1.0]))
    assert float(L.multiclass_hinge(scores, target, margin=0.0)) == 0.0  # zero margin: ties cost nothing


def test_crammer_singer_needs_two_classes():
    with pytest.raises(ValueError, match=r"scores must have at least 2 classes \(C >= 2\).* got C = 1"):
        L.crammer_singer_hinge(np.zeros((3, 1)), np.zeros(3, dtype=int))


def test_arrays_in_arrays_out_tensors_in_tensor_out_float32_stays():
    for fn, s, y in [
        *[(f, np.ones(2), np.array([1.0, -1.0])) for f in BINARY.values()],
        (L.multiclass_hinge, np.ones((2, 3)), np.array([0, 2])),
        (L.crammer_singer_hinge, np.ones((2, 3)), np.array([0, 2])),
    ]:
        assert isinstance(fn(s, y), np.ndarray)
        assert isinstance(fn(Tensor(s), y), Tensor)
        assert fn(s.astype(np.float32), y).dtype == np.float32
