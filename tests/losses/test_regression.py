"""Regression losses: PyTorch reference values, closed forms, properties and bad input."""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import assert_matches_torch, load

TORCH = load("regression")
REDUCTIONS = ("mean", "sum", "none")


def _call(fn, **fixed):
    """``fn(prediction, target, ...)`` as a function of the fixture's named inputs."""
    return lambda **inputs: fn(**inputs, **fixed)


NPLOSS = {
    **{f"mse-{r}": (lambda r: lambda prediction, target: L.mse(prediction, target, reduction=r))(r) for r in ("mean", "sum", "none")},
    "mse-zero-error": lambda prediction, target: L.mse(prediction, target),
    **{
        f"huber-d{d}-{r}": (lambda d, r: lambda prediction, target: L.huber(prediction, target, delta=d, reduction=r))(d, r)
        for d in (0.5, 1.0, 2.0)
        for r in ("mean", "none")
    },
    "huber-zero-error": lambda prediction, target: L.huber(prediction, target),
    # mae, rmse
    **{f"mae-{r}": _call(L.mae, reduction=r) for r in REDUCTIONS},
    "mae-zero-error": _call(L.mae, reduction="none"),
    **{f"rmse-{r}": _call(L.rmse, reduction=r) for r in REDUCTIONS},
    # smooth_l1
    **{f"smooth_l1-b{b}-{r}": _call(L.smooth_l1, beta=b, reduction=r) for b in (0.0, 0.5, 1.0, 2.0) for r in ("mean", "none")},
    "smooth_l1-b1.0-sum": _call(L.smooth_l1, reduction="sum"),
    **{f"smooth_l1-b{b}-edges": _call(L.smooth_l1, beta=b, reduction="none") for b in (0.0, 0.5)},
    # quantile, log_cosh
    **{f"quantile-t{t}-{r}": _call(L.quantile, tau=t, reduction=r) for t in (0.1, 0.9) for r in ("none",)},
    **{f"quantile-t0.5-{r}": _call(L.quantile, tau=0.5, reduction=r) for r in REDUCTIONS},
    **{f"quantile-t{t}-zero-error": _call(L.quantile, tau=t, reduction="none") for t in (0.0, 0.3, 1.0)},
    **{f"log_cosh-{r}": _call(L.log_cosh, reduction=r) for r in REDUCTIONS},
    "log_cosh-large": _call(L.log_cosh, reduction="none"),
    # poisson_nll
    **{f"poisson_nll-logTrue-fullFalse-{r}": _call(L.poisson_nll, reduction=r) for r in REDUCTIONS},
    **{
        f"poisson_nll-log{li}-full{f}-none": _call(L.poisson_nll, log_input=li, full=f, reduction="none")
        for li, f in ((True, True), (False, False), (False, True))
    },
    **{
        f"poisson_nll-log{li}-full{f}-positive": _call(L.poisson_nll, log_input=li, full=f, reduction="none")
        for li in (True, False)
        for f in (True, False)
    },
    **{f"poisson_nll-eps{e}": _call(L.poisson_nll, log_input=False, eps=e, reduction="none") for e in (1e-3, 0.5)},
    "poisson_nll-extreme": _call(L.poisson_nll, reduction="none"),
    # gaussian_nll
    **{f"gaussian_nll-fullFalse-{r}": _call(L.gaussian_nll, reduction=r) for r in REDUCTIONS},
    "gaussian_nll-fullTrue-none": _call(L.gaussian_nll, full=True, reduction="none"),
    "gaussian_nll-var-rows": _call(L.gaussian_nll, reduction="none"),
    "gaussian_nll-var-rows-keepdim": _call(L.gaussian_nll, reduction="none"),
    "gaussian_nll-var-columns": _call(L.gaussian_nll, reduction="sum"),
    "gaussian_nll-var-3d": _call(L.gaussian_nll, reduction="none"),
    "gaussian_nll-var-scalar-1d": _call(L.gaussian_nll, reduction="none"),
    "gaussian_nll-var-float": _call(L.gaussian_nll, var=0.7, reduction="none"),
    **{f"gaussian_nll-clamp-eps{e}": _call(L.gaussian_nll, eps=e, reduction="none") for e in (1e-6, 1e-2)},
    "gaussian_nll-clamp-mean": _call(L.gaussian_nll, full=True),
    # targets broadcast against the prediction, as PyTorch's own samples do
    **{f"gaussian_nll-target-{t}-{r}": _call(L.gaussian_nll, reduction=r) for t in ("keepdim", "fewer", "both") for r in ("mean", "none")},
    # tweedie
    **{f"tweedie-p{p}-none": _call(L.tweedie, power=p, reduction="none") for p in (1.1, 1.9)},
    **{f"tweedie-p1.5-{r}": _call(L.tweedie, power=1.5, reduction=r) for r in REDUCTIONS},
    "tweedie-extreme": _call(L.tweedie, reduction="none"),
}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(c for c in NPLOSS if not c.startswith(("mse", "huber"))))
def test_composite_matches_pytorch(case_id):
    # the engine's gradient of the composite graph, edges and clamps included
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@given(e=st.floats(-50, 50), delta=st.floats(0.1, 5))
def test_huber_is_delta_times_smooth_l1_shape(e, delta):
    value = float(L.huber(np.array([e]), np.array([0.0]), delta=delta))
    expected = 0.5 * e * e if abs(e) <= delta else delta * (abs(e) - 0.5 * delta)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert value >= 0


def test_zero_at_a_perfect_prediction():
    y = np.random.default_rng(0).standard_normal(5)
    assert float(L.mse(y, y)) == 0.0 and float(L.huber(y, y)) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match=r"target must have the shape of prediction \(4, 1\), got \(4,\)"):
        L.mse(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="delta must be positive"):
        L.huber(np.zeros(2), np.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.mse(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="prediction contains NaN"):
        L.mse(np.array([np.nan]), np.zeros(1))


def test_arrays_in_arrays_out_tensors_in_tensor_out():
    assert isinstance(L.mse(np.ones(2), np.zeros(2)), np.ndarray)
    assert isinstance(L.mse(Tensor(np.ones(2)), np.zeros(2)), Tensor)


# ------------------------------------------------------------------------------------ shared

ERROR_LOSSES = {
    "mae": L.mae,
    "rmse": L.rmse,
    "smooth_l1": L.smooth_l1,
    "quantile": L.quantile,
    "log_cosh": L.log_cosh,
}
NEW_LOSSES = {**ERROR_LOSSES, "poisson_nll": L.poisson_nll, "tweedie": L.tweedie}


def _grads(fn, *inputs, composite=False, cotangent=None, **kwargs):
    """Value and the gradient of every input (fused, or composite)."""
    tensors = [Tensor(np.asarray(x, dtype=np.float64), requires_grad=True) for x in inputs]
    if composite:
        with L.composite():
            out = fn(*tensors, **kwargs)
    else:
        out = fn(*tensors, **kwargs)
    gs = grad(out, tensors, grad_outputs=cotangent)
    return out.numpy(), [g.numpy() for g in gs]


@pytest.mark.parametrize("name", sorted(ERROR_LOSSES))
def test_zero_value_and_zero_gradient_at_a_perfect_prediction(name):
    y = np.random.default_rng(0).standard_normal(6)
    for composite in (False, True):
        value, (g_pred, g_target) = _grads(ERROR_LOSSES[name], y, y.copy(), composite=composite)
        assert float(value) == 0.0
        np.testing.assert_array_equal(g_pred, 0.0)
        np.testing.assert_array_equal(g_target, 0.0)


@pytest.mark.parametrize("name", sorted(NEW_LOSSES))
def test_target_gradient_is_the_negative_of_the_prediction_gradient_for_losses_of_an_error(name):
    rng = np.random.default_rng(1)
    p, y = rng.standard_normal(7), rng.uniform(0.5, 3.0, 7)
    _, (g_pred, g_target) = _grads(NEW_LOSSES[name], p, y)
    if name in ERROR_LOSSES:
        np.testing.assert_allclose(g_target, -g_pred, rtol=1e-15)
    else:  # count targets: their own derivative, not -g_pred
        assert not np.allclose(g_target, -g_pred)


@pytest.mark.parametrize("name", sorted(NEW_LOSSES))
def test_mean_is_sum_over_n_and_none_is_elementwise(name):
    rng = np.random.default_rng(2)
    p, y = rng.standard_normal((4, 3)), rng.uniform(0.1, 3.0, (4, 3))
    fn = NEW_LOSSES[name]
    none = fn(p, y, reduction="none")
    assert none.shape == p.shape
    # each element depends on its own pair only
    np.testing.assert_allclose(fn(p[1:2, 2:], y[1:2, 2:], reduction="none"), none[1:2, 2:], rtol=1e-15)
    if name == "rmse":  # the reduction applies before the root
        assert float(fn(p, y, reduction="sum")) == pytest.approx(math.sqrt(np.sum((p - y) ** 2)), rel=1e-14)
        assert float(fn(p, y)) == pytest.approx(math.sqrt(np.mean((p - y) ** 2)), rel=1e-14)
        assert float(fn(p, y)) != pytest.approx(float(none.mean()))
    else:
        assert float(fn(p, y, reduction="sum")) == pytest.approx(none.sum(), rel=1e-14)
        assert float(fn(p, y)) == pytest.approx(none.sum() / none.size, rel=1e-14)


@pytest.mark.parametrize("name", sorted(ERROR_LOSSES))
def test_losses_of_an_error_are_shift_invariant_and_symmetric_but_pinball(name):
    rng = np.random.default_rng(3)
    p, y = rng.standard_normal(8), rng.standard_normal(8)
    fn = ERROR_LOSSES[name]
    np.testing.assert_allclose(fn(p + 5.0, y + 5.0, reduction="none"), fn(p, y, reduction="none"), rtol=1e-12, atol=1e-14)
    if name == "quantile":  # pinball with tau != 0.5 is deliberately asymmetric
        assert not np.allclose(fn(y, p, tau=0.9, reduction="none"), fn(p, y, tau=0.9, reduction="none"))
    else:
        np.testing.assert_allclose(fn(y, p, reduction="none"), fn(p, y, reduction="none"), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(NEW_LOSSES))
def test_shapes_that_would_broadcast_nan_and_bad_reductions_are_refused(name):
    with pytest.raises(ValueError, match=r"target must have the shape of prediction \(4, 1\), got \(4,\)"):
        NEW_LOSSES[name](np.ones((4, 1)), np.ones(4))
    with pytest.raises(ValueError, match="target contains NaN"):
        NEW_LOSSES[name](np.ones(2), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        NEW_LOSSES[name](np.ones(2), np.ones(2), reduction="batchmean")


def test_arrays_in_arrays_out_tensors_in_tensor_out_for_every_new_loss():
    for fn in (*NEW_LOSSES.values(), lambda p, y: L.gaussian_nll(p, y, np.ones(2))):
        assert isinstance(fn(np.ones(2), np.ones(2)), np.ndarray)
        assert isinstance(fn(Tensor(np.ones(2)), np.ones(2)), Tensor)


# ------------------------------------------------------------------------------------ mae


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=6))
def test_mae_is_the_mean_absolute_error_with_sign_gradient(values):
    e = np.array(values)
    assert float(L.mae(e, np.zeros_like(e))) == pytest.approx(np.mean(np.abs(e)), rel=1e-14, abs=0)
    _, (g, _) = _grads(L.mae, e, np.zeros_like(e), reduction="sum")
    np.testing.assert_array_equal(g, np.sign(e))


# ------------------------------------------------------------------------------------ rmse


def test_rmse_keras_closed_form_and_none_is_the_absolute_error():
    rng = np.random.default_rng(4)
    p, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    assert float(L.rmse(p, y)) == pytest.approx(np.sqrt(np.mean(np.square(p - y))), rel=1e-15)  # Keras
    np.testing.assert_array_equal(L.rmse(p, y, reduction="none"), np.abs(p - y))
    assert float(L.rmse(np.array([3.0, 4.0]), np.zeros(2), reduction="sum")) == 5.0


def test_rmse_gradient_and_how_eps_enters():
    eps = 1e-3
    # well above eps: the exact derivative e / (n r)
    e = np.array([0.3, -0.4, 1.2])
    r = np.sqrt(np.mean(e * e))
    for composite in (False, True):
        _, (g, _) = _grads(L.rmse, e, np.zeros(3), eps=eps, composite=composite)
        np.testing.assert_allclose(g, e / (3 * r), rtol=1e-14)
    # below eps: the value is still the exact root, the gradient's denominator is eps
    e = np.array([1e-5, -2e-5, 0.0])
    r = np.sqrt(np.mean(e * e))
    assert r < eps
    for composite in (False, True):
        value, (g, g_t) = _grads(L.rmse, e, np.zeros(3), eps=eps, composite=composite)
        assert float(value) == pytest.approx(r, rel=1e-14)
        np.testing.assert_allclose(g, e / (3 * eps), rtol=1e-12)
        np.testing.assert_allclose(g_t, -g, rtol=1e-15)
    # 'none': e / max(|e|, eps), the sign of e except within eps of 0
    e = np.array([2.0, -3.0, 1e-4, -5e-4, 0.0])
    for composite in (False, True):
        value, (g, _) = _grads(L.rmse, e, np.zeros(5), eps=eps, reduction="none", cotangent=np.ones(5), composite=composite)
        np.testing.assert_allclose(value, np.abs(e), rtol=0 if not composite else 1e-15, atol=0)  # composite: + a rounded gap
        np.testing.assert_allclose(g, [1.0, -1.0, 0.1, -0.5, 0.0], rtol=1e-12)
    # 'sum': no 1/n
    e = np.array([3.0, 4.0])
    _, (g, _) = _grads(L.rmse, e, np.zeros(2), reduction="sum")
    np.testing.assert_allclose(g, e / 5.0, rtol=1e-15)


def test_rmse_float32_and_bad_eps():
    p = np.array([1.0, 2.0], dtype=np.float32)
    assert L.rmse(p, np.zeros(2, dtype=np.float32)).dtype == np.float32
    for eps in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="eps must be (positive|a finite number)"):
            L.rmse(p, p, eps=eps)
    with pytest.raises(TypeError, match="eps must be a real number"):
        L.rmse(p, p, eps="small")


# ------------------------------------------------------------------------------------ smooth_l1


@given(e=st.floats(-50, 50), beta=st.floats(0.05, 5))
def test_huber_is_beta_times_smooth_l1(e, beta):
    p, y = np.array([e]), np.array([0.0])
    smooth = float(L.smooth_l1(p, y, beta=beta))
    assert float(L.huber(p, y, delta=beta)) == pytest.approx(beta * smooth, rel=1e-12, abs=1e-300)
    expected = 0.5 * e * e / beta if abs(e) < beta else abs(e) - 0.5 * beta
    assert smooth == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_smooth_l1_with_beta_zero_is_mae_gradient_included():
    e = np.array([-2.0, 0.0, 1e-9, 3.0])
    for composite in (False, True):
        v0, (g0, _) = _grads(L.smooth_l1, e, np.zeros(4), beta=0.0, reduction="none", cotangent=np.ones(4), composite=composite)
        v1, (g1, _) = _grads(L.mae, e, np.zeros(4), reduction="none", cotangent=np.ones(4), composite=composite)
        np.testing.assert_array_equal(v0, v1)
        np.testing.assert_array_equal(g0, g1)
    with pytest.raises(ValueError, match="beta must be non-negative, got -1.0"):
        L.smooth_l1(e, e, beta=-1.0)


# ------------------------------------------------------------------------------------ quantile

REFERENCES: dict[str, dict[str, np.ndarray]] = {}
with np.load(pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references" / "regression.npz") as _data:
    for _key in _data.files:
        if "/" in _key:
            _case, _name = _key.split("/")
            REFERENCES.setdefault(_case, {})[_name] = _data[_key]


@pytest.mark.parametrize("case", sorted(c for c in REFERENCES if c.startswith("pinball")))
def test_quantile_matches_sklearn_mean_pinball_loss(case):
    ref = REFERENCES[case]
    value = L.quantile(ref["prediction"], ref["target"], tau=float(ref["tau"]))
    np.testing.assert_allclose(value, ref["value"], rtol=1e-12, atol=1e-15)


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=6))
def test_quantile_at_one_half_is_half_the_mae_gradient_included(values):
    p = np.array(values)
    y = np.zeros_like(p)
    v, (g, _) = _grads(L.quantile, p, y, tau=0.5)
    v1, (g1, _) = _grads(L.mae, p, y)
    assert float(v) == pytest.approx(0.5 * float(v1), rel=1e-15, abs=1e-300)
    np.testing.assert_allclose(g, 0.5 * g1, rtol=1e-15)


@pytest.mark.parametrize("tau", [0.1, 0.3, 0.77])
def test_quantile_is_minimised_by_the_empirical_quantile(tau):
    y = np.random.default_rng(5).standard_normal(99)
    q = np.sort(y)[math.ceil(99 * tau) - 1]  # the unique minimiser when 99 tau is not an integer
    at = lambda c: float(L.quantile(np.full(99, c), y, tau=tau))  # noqa: E731
    assert at(q) < at(q - 1e-3) and at(q) < at(q + 1e-3)
    # the slope in c changes sign across q
    _, (g, _) = _grads(L.quantile, np.full(99, q + 1e-9), y, tau=tau, reduction="sum")
    assert g.sum() > 0
    _, (g, _) = _grads(L.quantile, np.full(99, q - 1e-9), y, tau=tau, reduction="sum")
    assert g.sum() < 0


def test_quantile_gradient_and_bad_tau():
    p, y = np.array([0.0, 0.0, 0.0]), np.array([1.0, -1.0, 0.0])
    for composite in (False, True):
        _, (g, g_t) = _grads(L.quantile, p, y, tau=0.9, reduction="none", cotangent=np.ones(3), composite=composite)
        np.testing.assert_allclose(g, [-0.9, 0.1, -0.4], rtol=1e-15)  # -tau, 1 - tau, 1/2 - tau
        np.testing.assert_allclose(g_t, -g, rtol=1e-15)
    for tau in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"tau must be (in \[0, 1\]|a finite number)"):
            L.quantile(p, y, tau=tau)


# ------------------------------------------------------------------------------------ log_cosh


@given(st.floats(-20, 20))
def test_log_cosh_closed_form_and_tanh_gradient(e):
    value, (g, _) = _grads(L.log_cosh, np.array([e]), np.zeros(1))
    # log cosh e = log(1 + 2 sinh^2(e/2)), in a form that keeps its digits for small e too
    assert float(value) == pytest.approx(math.log1p(2 * math.sinh(e / 2) ** 2), rel=1e-14, abs=1e-300)
    assert float(value) >= 0
    assert float(g[0]) == pytest.approx(math.tanh(e), rel=1e-14, abs=1e-300)


def test_log_cosh_keras_form_extremes_and_small_errors():
    e = np.array([-3.0, -1.0, -0.2, 0.7, 1.5, 25.0])
    keras = e + np.logaddexp(0.0, -2.0 * e) - math.log(2.0)  # x + softplus(-2x) - log 2
    assert float(L.log_cosh(e, np.zeros(6))) == pytest.approx(keras.mean(), rel=1e-14)
    big = np.array([50.0, -1e4, 1e300])
    np.testing.assert_allclose(L.log_cosh(big, np.zeros(3), reduction="none"), np.abs(big) - math.log(2.0), rtol=1e-15)
    # where Keras's form cancels to 0 (or below), the value keeps its relative precision: e^2/2
    tiny = np.array([1e-10, -3e-9, 1e-6])
    np.testing.assert_allclose(L.log_cosh(tiny, np.zeros(3), reduction="none"), tiny**2 / 2, rtol=1e-10)


# ------------------------------------------------------------------------------------ poisson_nll


def test_poisson_nll_is_minimised_at_a_rate_equal_to_the_count():
    y = np.array([0.5, 1.0, 3.0, 12.0])
    for log_input, x in ((True, np.log(y)), (False, y)):
        _, (g, _) = _grads(L.poisson_nll, x, y, log_input=log_input, eps=0.0, reduction="none", cotangent=np.ones(4))
        np.testing.assert_allclose(g, 0.0, atol=1e-15)


def test_poisson_nll_full_approximates_the_exact_negative_log_likelihood():
    # exact: lambda - y log lambda + log y!; Stirling falls short of log y! by about 1/(12 y)
    y = np.array([0.0, 1.0, 2.0, 5.0, 40.0])
    log_rate = np.array([0.3, -0.2, 1.0, 1.5, 3.6])
    exact = np.exp(log_rate) - y * log_rate + np.array([math.lgamma(t + 1) for t in y])
    full = L.poisson_nll(log_rate, y, full=True, reduction="none")
    np.testing.assert_allclose(full[:2], exact[:2], rtol=1e-15)  # no term for y <= 1 (log 0! = log 1! = 0)
    np.testing.assert_allclose(full[2:] - exact[2:], -1 / (12 * y[2:]), rtol=0.1)


def test_poisson_nll_target_gradient_is_finite_at_zero_counts_with_full():
    # PyTorch gives NaN there (0 * log 0 in the backward of its masked Stirling term)
    x, y = np.array([0.3, -1.0, 0.5]), np.array([0.0, 0.0, 4.0])
    for composite in (False, True):
        _, (g_x, g_y) = _grads(L.poisson_nll, x, y, full=True, reduction="none", cotangent=np.ones(3), composite=composite)
        np.testing.assert_allclose(g_y, [-0.3, 1.0, -0.5 + math.log(4.0) + 0.125], rtol=1e-15)
        np.testing.assert_allclose(g_x, np.exp(x) - y, rtol=1e-15)


def test_poisson_nll_bad_input():
    x, y = np.array([0.5, 1.0]), np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="target must be non-negative"):
        L.poisson_nll(x, -y)
    with pytest.raises(ValueError, match="prediction must be a non-negative rate when log_input=False"):
        L.poisson_nll(-x, y, log_input=False)
    assert np.isfinite(L.poisson_nll(-x, y))  # a negative log rate is fine
    with pytest.raises(ValueError, match="prediction must be positive when log_input=False and eps=0"):
        L.poisson_nll(np.array([0.0, 1.0]), y, log_input=False, eps=0.0)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        L.poisson_nll(x, y, eps=-1e-8)
    with pytest.raises(TypeError, match="log_input must be True or False"):
        L.poisson_nll(x, y, log_input=1)
    with pytest.raises(TypeError, match="full must be True or False"):
        L.poisson_nll(x, y, full="yes")


# ------------------------------------------------------------------------------------ gaussian_nll


def test_gaussian_nll_closed_form_and_minimum_over_the_variance():
    e, var = np.array([0.5, -2.0, 1.0]), np.array([0.25, 4.0, 0.3])
    expected = 0.5 * (np.log(var) + e**2 / var)
    np.testing.assert_allclose(L.gaussian_nll(e, np.zeros(3), var, reduction="none"), expected, rtol=1e-15)
    np.testing.assert_allclose(
        L.gaussian_nll(e, np.zeros(3), var, full=True, reduction="none"), expected + 0.5 * math.log(2 * math.pi), rtol=1e-15
    )
    # the variance's gradient vanishes at var = e^2 (the first two), not at the third
    _, (_, _, g_var) = _grads(L.gaussian_nll, e, np.zeros(3), var, reduction="none", cotangent=np.ones(3))
    np.testing.assert_allclose(g_var[:2], 0.0, atol=1e-15)
    assert g_var[2] == pytest.approx((0.3 - 1.0) / (2 * 0.09), rel=1e-14)


def test_gaussian_nll_gradient_passes_the_clamp_as_pytorch_does():
    # below eps the value uses eps; the gradient is d/dv at v = eps, not 0
    eps = 1e-2
    e, var = np.array([0.3, 0.0]), np.array([0.0, 1e-3])
    for composite in (False, True):
        value, (g_p, g_t, g_v) = _grads(
            L.gaussian_nll, e, np.zeros(2), var, eps=eps, reduction="none", cotangent=np.ones(2), composite=composite
        )
        np.testing.assert_allclose(value, 0.5 * (math.log(eps) + e**2 / eps), rtol=1e-14)
        np.testing.assert_allclose(g_v, (eps - e**2) / (2 * eps**2), rtol=1e-14)
        np.testing.assert_allclose(g_p, e / eps, rtol=1e-14)
        np.testing.assert_allclose(g_t, -g_p, rtol=1e-15)


def test_gaussian_nll_variance_shapes():
    rng = np.random.default_rng(6)
    p, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    rows = rng.uniform(0.5, 2.0, 3)
    full = np.repeat(rows[:, None], 4, axis=1)
    reference = L.gaussian_nll(p, y, full, reduction="none")
    _, (_, _, g_full) = _grads(L.gaussian_nll, p, y, full, reduction="sum")
    for var in (rows, rows[:, None]):  # one dimension fewer, or size 1 in the last
        np.testing.assert_allclose(L.gaussian_nll(p, y, var, reduction="none"), reference, rtol=1e-15)
        _, (_, _, g) = _grads(L.gaussian_nll, p, y, var, reduction="sum")
        assert g.shape == var.shape
        np.testing.assert_allclose(g.reshape(-1), g_full.sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(L.gaussian_nll(p, y, 0.7), L.gaussian_nll(p, y, np.full((3, 4), 0.7)), rtol=1e-15)
    assert L.gaussian_nll(p.astype(np.float32), y.astype(np.float32), 0.7).dtype == np.float32
    for bad in ((4,), (3, 2), (2, 4), (1, 1), (3, 4, 1)):
        with pytest.raises(ValueError, match=r"var must have the shape of prediction \(3, 4\), .* got " + re.escape(str(bad))):
            L.gaussian_nll(p, y, np.ones(bad))


def test_gaussian_nll_bad_input():
    p = np.zeros(3)
    with pytest.raises(ValueError, match="var must be non-negative"):
        L.gaussian_nll(p, p, np.array([1.0, -0.1, 1.0]))
    with pytest.raises(ValueError, match="var contains NaN"):
        L.gaussian_nll(p, p, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"target must have the shape of prediction \(3,\) or broadcast to it .*got \(3, 1\)"):
        L.gaussian_nll(p, np.zeros((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match="eps must be positive"):
        L.gaussian_nll(p, p, np.ones(3), eps=0.0)
    with pytest.raises(TypeError, match="full must be True or False"):
        L.gaussian_nll(p, p, np.ones(3), full=None)


# ------------------------------------------------------------------------------------ tweedie


@pytest.mark.parametrize("case", sorted(c for c in REFERENCES if c.startswith("tweedie")))
def test_tweedie_relates_to_sklearn_mean_tweedie_deviance(case):
    # deviance = 2 (loss(yhat) - loss at the saturated yhat = log y) for y > 0, 2 loss(yhat) for y = 0
    ref = REFERENCES[case]
    y, yhat, power = ref["target"], ref["prediction"], float(ref["power"])
    assert (y == 0).any() and (y > 0).any()
    loss = L.tweedie(yhat, y, power=power, reduction="none")
    saturated = np.where(y > 0, L.tweedie(np.log(np.where(y > 0, y, 1.0)), y, power=power, reduction="none"), 0.0)
    np.testing.assert_allclose(np.mean(2 * (loss - saturated)), ref["value"], rtol=1e-12)
    # the saturated loss in closed form: y^(2-p) / ((p-1)(2-p))
    np.testing.assert_allclose(saturated, y ** (2 - power) / ((power - 1) * (2 - power)), rtol=1e-13)


@given(st.floats(0.05, 50), st.floats(1.01, 1.99))
def test_tweedie_is_minimised_at_a_mean_equal_to_the_target(y, power):
    x = np.array([math.log(y)])
    _, (g, _) = _grads(L.tweedie, x, np.array([y]), power=power)
    assert abs(float(g[0])) <= 1e-13 * max(1.0, y)
    at = lambda s: float(L.tweedie(x + s, np.array([y]), power=power))  # noqa: E731
    assert at(0.0) < at(1e-3) and at(0.0) < at(-1e-3)


def test_tweedie_zero_target_and_bad_power():
    x = np.array([0.0, 1.0, -2.0])
    np.testing.assert_allclose(L.tweedie(x, np.zeros(3), reduction="none"), np.exp(0.5 * x) / 0.5, rtol=1e-15)
    for power in (1.0, 2.0, 0.5, float("nan")):
        with pytest.raises(ValueError, match=r"power must be (in \(1, 2\)|a finite number)"):
            L.tweedie(x, np.zeros(3), power=power)
    with pytest.raises(ValueError, match="target must be non-negative"):
        L.tweedie(x, -np.ones(3))
