"""The regression losses of issue 20: Tweedie and gamma deviances on the mean, MSLE, RMSLE, MAPE,
and Barron's general robust loss with its special cases (Charbonnier, Cauchy, Geman-McClure,
Welsch). Checked against kornia and torch-written library formulas (tests/fixtures/torch/
regression_more.npz), scikit-learn values and Keras values and gradients
(tests/fixtures/references/regression_more.npz), finite differences (the audit, at parameters
other than the registry's defaults), the limits of Barron's loss, and bad input."""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L
from nploss.audit import audit_loss
from nploss.losses import REGISTRY

from .torch_reference import ATOL, RTOL, assert_matches_torch, load

TORCH = load("regression_more")
REFERENCES_FILE = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references" / "regression_more.npz"
with np.load(REFERENCES_FILE) as _data:
    REFERENCES = {k: _data[k] for k in _data.files}
REDUCTIONS = ("mean", "sum", "none")
KORNIA = {"charbonnier": L.charbonnier, "cauchy": L.cauchy, "geman_mcclure": L.geman_mcclure, "welsch": L.welsch}
ALPHAS = (-8.0, -2.0, -0.5, 0.5, 1.0, 1.5, 3.0, 4.0)
POWERS = (-1.5, -0.5, 0.0, 1.0, 1.2, 1.5, 1.8, 2.0, 2.5, 3.0, 4.0)


def _call(fn, **fixed):
    return lambda **inputs: fn(**inputs, **fixed)


NPLOSS = {
    **{f"{name}-{r}": _call(fn, reduction=r) for name, fn in KORNIA.items() for r in REDUCTIONS},
    **{
        f"barron-a{a}-c{c}-none": _call(L.barron, alpha=a, scale=c, reduction="none")
        for a in ALPHAS
        for c in (1.0, 0.3)
    },
    **{f"barron-a1.5-c2.0-{r}": _call(L.barron, alpha=1.5, scale=2.0, reduction=r) for r in ("mean", "sum")},
    **{f"barron-a{a}-c0.5-none": _call(L.barron, alpha=a, scale=0.5, reduction="none") for a in (2.0, 0.0, -math.inf)},
    **{f"tweedie_deviance-p{p}-none": _call(L.tweedie_deviance, power=p, reduction="none") for p in POWERS},
    **{f"tweedie_deviance-p{p}-mean": _call(L.tweedie_deviance, power=p) for p in (0.0, 1.5)},
    **{f"gamma_deviance-{r}": _call(L.gamma_deviance, reduction=r) for r in REDUCTIONS},
}


def test_every_torch_case_has_an_nploss_call():
    assert sorted(TORCH) == sorted(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_kornia_and_the_torch_written_formulas(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_kornia_and_the_torch_written_formulas(case_id):
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


# ------------------------------------------------------------------------------------ scikit-learn


def _sklearn(case):
    return REFERENCES[f"{case}/prediction"], REFERENCES[f"{case}/target"], REFERENCES[f"{case}/value"]


SKLEARN = {
    **{
        f"tweedie-p{p}": (L.tweedie_deviance, {"power": p})
        for p in (-2.0, -0.5, 0.0, 1.0, 1.2, 1.5, 1.8, 2.0, 2.5, 3.0, 4.5)
    },
    "poisson": (L.tweedie_deviance, {"power": 1.0}),
    "gamma": (L.gamma_deviance, {}),
    "msle-1d": (L.msle, {}),
    "msle-2d": (L.msle, {}),
    "rmsle-1d": (L.rmsle, {}),
    "mape-1d": (L.mape, {}),
    "mape-2d": (L.mape, {}),
    "mape-zero-target": (L.mape, {}),
}


@pytest.mark.parametrize("case", sorted(SKLEARN))
def test_matches_scikit_learn(case):
    prediction, target, want = _sklearn(case)
    fn, params = SKLEARN[case]
    np.testing.assert_allclose(fn(prediction, target, **params), want, rtol=RTOL, atol=0)
    with L.composite():
        got = fn(ag.Tensor(prediction), ag.Tensor(target), **params)
    np.testing.assert_allclose(got.numpy(), want, rtol=RTOL, atol=0)


def test_rmsle_is_one_root_over_every_element_and_sklearn_one_per_column():
    prediction, target, per_column = _sklearn("rmsle-2d")
    for j in range(prediction.shape[1]):
        np.testing.assert_allclose(L.rmsle(prediction[:, j], target[:, j]), per_column[j], rtol=RTOL, atol=0)
    np.testing.assert_allclose(L.rmsle(prediction, target), math.sqrt(float(L.msle(prediction, target))), rtol=1e-15)


def test_tweedie_deviance_at_powers_1_and_2_is_poisson_and_gamma():
    prediction, target, _ = _sklearn("gamma")
    np.testing.assert_allclose(
        L.tweedie_deviance(prediction, target, power=2), L.gamma_deviance(prediction, target), rtol=1e-15
    )
    # and the deviance is twice the gap of nploss's tweedie NLL on the log mean (1 < p < 2, y > 0)
    for p in (1.2, 1.7):
        gap = L.tweedie(np.log(prediction), target, power=p, reduction="none") - L.tweedie(
            np.log(target), target, power=p, reduction="none"
        )
        np.testing.assert_allclose(
            L.tweedie_deviance(prediction, target, power=p, reduction="none"), 2 * gap, rtol=1e-9, atol=1e-12
        )


# ------------------------------------------------------------------------------------ Keras


KERAS = {
    "keras-msle": lambda y_true, y_pred: L.msle(y_pred, y_true, reduction="none"),
    "keras-mape": lambda y_true, y_pred: L.mape(y_pred, y_true, percent=True, eps=1e-7, reduction="none"),
}


@pytest.mark.parametrize("composite", [False, True])
@pytest.mark.parametrize("case", sorted(KERAS))
def test_matches_keras_values_and_jax_gradients(case, composite):
    inputs = {k: ag.Tensor(REFERENCES[f"{case}/{k}"], requires_grad=True) for k in ("y_true", "y_pred")}
    with L.composite() if composite else _nothing():
        rows = ag.mean(KERAS[case](**inputs), axis=-1)  # Keras: the mean over the last axis
    np.testing.assert_allclose(rows.numpy(), REFERENCES[f"{case}/value"], rtol=RTOL, atol=0)
    grads = ag.grad(rows, [inputs["y_true"], inputs["y_pred"]], grad_outputs=REFERENCES[f"{case}/cotangent"])
    for name, g in zip(("y_true", "y_pred"), grads):
        np.testing.assert_allclose(g.numpy(), REFERENCES[f"{case}/grad/{name}"], rtol=RTOL, atol=ATOL, err_msg=name)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------------------------ the audit at other parameters


AUDITED = [
    *[("tweedie_deviance", {"power": p}) for p in (-1.5, -0.5, 1.0, 1.3, 2.0, 3.0, 4.5)],
    *[("barron", {"alpha": a, "scale": c}) for a, c in ((2.0, 0.7), (0.0, 1.3), (-math.inf, 0.8), (-2.0, 1.0), (-0.5, 0.4), (0.5, 1.0), (3.0, 0.9), (2.0 + 1e-6, 1.0))],
    ("mape", {"percent": True, "eps": 1e-7}),
    ("rmsle", {"eps": 1e-3}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params"), AUDITED, ids=[f"{n}-{p}" for n, p in AUDITED])
def test_audit_passes_at_other_parameters(name, params):
    # analytic vs composite vs finite differences, second order, stability sweep
    spec = dataclasses.replace(REGISTRY[name], params={**REGISTRY[name].params, **params})
    row = audit_loss(spec)
    assert row.passed, (
        row.error,
        {k: str(c) for k, c in row.checks.items() if not c.passed},
        row.agreement,
        row.stability,
    )


# ------------------------------------------------------------------------------------ Barron's limits and special cases


@pytest.mark.parametrize(
    ("alpha", "special"), [(1.0, L.charbonnier), (0.0, L.cauchy), (-2.0, L.geman_mcclure), (-math.inf, L.welsch)]
)
def test_barron_at_scale_one_is_each_special_case(alpha, special):
    rng = np.random.default_rng(0)
    p, t = 3 * rng.standard_normal(20), rng.standard_normal(20)
    np.testing.assert_allclose(
        L.barron(p, t, alpha, reduction="none"), special(p, t, reduction="none"), rtol=1e-13, atol=0
    )
    np.testing.assert_allclose(L.barron(p, t, 2.0, reduction="none"), 0.5 * (p - t) ** 2, rtol=1e-15)


@pytest.mark.parametrize("limit", [2.0, 0.0])
def test_barron_is_continuous_across_its_limits(limit):
    e = np.array([1e-8, 1e-3, 0.5, 2.0, 40.0])
    at = L.barron(e, np.zeros(5), limit, reduction="none")
    for delta in (1e-9, -1e-9, 1e-6, -1e-6):
        near = L.barron(e, np.zeros(5), limit + delta, reduction="none")
        # the exact function moves by about |delta| log(z / |delta|) relative (its alpha-derivative
        # has a logarithmic singularity at alpha = 2): no more than that
        bound = abs(delta) * (1.0 + np.log1p(e * e / abs(delta))) + 1e-15
        assert np.all(np.abs(near / at - 1.0) <= bound), (limit, delta, near / at - 1.0)
    far = L.barron(e, np.zeros(5), -1e9, reduction="none")
    np.testing.assert_allclose(far, L.barron(e, np.zeros(5), -math.inf, reduction="none"), rtol=1e-6, atol=0)


def test_robust_losses_keep_their_relative_precision_for_tiny_errors():
    e = np.array([1e-10, 1e-150])
    half_square = 0.5 * e * e
    for fn in (L.charbonnier, L.cauchy, L.welsch):
        np.testing.assert_allclose(fn(e, np.zeros(2), reduction="none"), half_square, rtol=1e-12, atol=0)
    np.testing.assert_allclose(L.geman_mcclure(e, np.zeros(2), reduction="none"), half_square, rtol=1e-12, atol=0)
    for alpha in (-5.0, -0.5, 0.7, 1.5, 3.0):
        np.testing.assert_allclose(L.barron(e, np.zeros(2), alpha, reduction="none"), half_square, rtol=1e-12, atol=0)


def test_barron_large_errors_stay_finite_with_finite_gradients():
    e = np.array([1e6, -1e100])
    for alpha in (-math.inf, -2.0, 0.0, 0.5, 1.0):
        for composite in (False, True):
            x = ag.Tensor(e, requires_grad=True)
            with L.composite() if composite else _nothing():
                out = L.barron(x, np.zeros(2), alpha, reduction="sum")
            (g,) = ag.grad(out, [x])
            assert np.isfinite(out.numpy()) and np.all(np.isfinite(g.numpy())), (alpha, composite)


# ------------------------------------------------------------------------------------ domains and bad input


def test_deviance_target_gets_no_gradient():
    mu, y = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True), ag.Tensor(np.array([0.0, 3.0]), requires_grad=True)
    for composite in (False, True):
        with L.composite() if composite else _nothing():
            out = L.tweedie_deviance(mu, y, power=1.5)
        g_mu, g_y = ag.grad(out, [mu, y], allow_unused=True)
        assert g_y is None or not np.any(g_y.numpy())
        np.testing.assert_allclose(g_mu.numpy(), [2 * (1 - 0) * 1.0 / 2, 2 * (2 - 3) * 2**-1.5 / 2], rtol=1e-14)


@pytest.mark.parametrize(
    ("power", "prediction", "target", "named"),
    [
        (-1.0, [0.0, 1.0], [-2.0, 1.0], "prediction"),  # p < 0: mu > 0, y any real
        (1.0, [-1.0, 1.0], [0.0, 1.0], "prediction"),
        (1.0, [1.0, 1.0], [-0.5, 1.0], "target"),  # Poisson: y >= 0
        (1.5, [1.0, 1.0], [-0.5, 1.0], "target"),
        (2.0, [1.0, 1.0], [0.0, 1.0], "target"),  # gamma: y > 0
        (3.0, [1.0, 0.0], [1.0, 1.0], "prediction"),
        (3.0, [1.0, 1.0], [1.0, 0.0], "target"),
    ],
)
def test_tweedie_deviance_refuses_values_outside_the_domain_of_its_power(power, prediction, target, named):
    with pytest.raises(ValueError, match=rf"^{named} must be .* power={power:g}"):
        L.tweedie_deviance(np.array(prediction), np.array(target), power=power)


def test_tweedie_deviance_domains_it_accepts():
    assert float(L.tweedie_deviance(np.array([-1.0, 2.0]), np.array([-3.0, 0.0]), power=0)) == 4.0  # any reals at p = 0
    assert np.isfinite(L.tweedie_deviance(np.array([0.5, 2.0]), np.array([-3.0, 0.0]), power=-1.0))  # y < 0 at p < 0
    assert np.isfinite(L.tweedie_deviance(np.array([0.5, 2.0]), np.array([0.0, 0.0]), power=1.5))  # y = 0 at 1 <= p < 2


@pytest.mark.parametrize("power", [0.5, 1e-9, 0.999, math.nan, math.inf])
def test_tweedie_deviance_refuses_powers_between_0_and_1_and_non_finite(power):
    with pytest.raises(ValueError, match="^power must be"):
        L.tweedie_deviance(np.ones(2), np.ones(2), power=power)
    with pytest.raises(TypeError, match="^power"):
        L.tweedie_deviance(np.ones(2), np.ones(2), power="1.5")


def test_gamma_deviance_refuses_non_positive_values():
    for p, t, named in (([0.0], [1.0], "prediction"), ([1.0], [-1.0], "target"), ([1.0], [0.0], "target")):
        with pytest.raises(ValueError, match=f"^{named} must be positive"):
            L.gamma_deviance(np.array(p), np.array(t))


@pytest.mark.parametrize("fn", [L.msle, L.rmsle])
def test_log_errors_refuse_values_at_or_below_minus_one(fn):
    with pytest.raises(ValueError, match="^prediction must be greater than -1"):
        fn(np.array([-1.0, 0.0]), np.array([0.0, 0.0]))
    with pytest.raises(ValueError, match="^target must be greater than -1"):
        fn(np.array([0.0, 0.0]), np.array([0.0, -3.0]))
    assert np.isfinite(fn(np.array([-0.999, 0.0]), np.array([0.0, -0.5])))


def test_bad_parameters_are_refused_by_name():
    x = np.ones(3)
    cases = [
        (lambda: L.barron(x, x, math.inf), ValueError, "^alpha"),
        (lambda: L.barron(x, x, math.nan), ValueError, "^alpha"),
        (lambda: L.barron(x, x, "1"), TypeError, "^alpha"),
        (lambda: L.barron(x, x, 1.0, scale=0.0), ValueError, "^scale must be positive"),
        (lambda: L.mape(x, x, percent=1), TypeError, "^percent"),
        (lambda: L.mape(x, x, eps=0.0), ValueError, "^eps must be positive"),
        (lambda: L.rmsle(x, x, eps=-1.0), ValueError, "^eps must be positive"),
        (lambda: L.charbonnier(x, np.ones(4)), ValueError, "^target must have the shape"),
        (lambda: L.cauchy(x, x, reduction="batchmean"), ValueError, "^reduction"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            call()


def test_mape_percent_is_100_times_the_fraction_and_its_gradients():
    rng = np.random.default_rng(3)
    p, t = rng.standard_normal(8), rng.standard_normal(8)
    for composite in (False, True):
        grads = []
        for percent in (False, True):
            pt, tt = ag.Tensor(p, requires_grad=True), ag.Tensor(t, requires_grad=True)
            with L.composite() if composite else _nothing():
                out = L.mape(pt, tt, percent=percent)
            grads.append((out.numpy(), *(g.numpy() for g in ag.grad(out, [pt, tt]))))
        for a, b in zip(*grads):
            np.testing.assert_allclose(b, 100 * a, rtol=1e-14)


def test_zero_at_a_perfect_prediction_with_zero_gradient():
    y = np.array([0.2, 1.5, 3.0])
    for fn in (
        L.msle,
        L.rmsle,
        L.mape,
        L.charbonnier,
        L.cauchy,
        L.geman_mcclure,
        L.welsch,
        L.gamma_deviance,
        L.tweedie_deviance,
    ):
        for composite in (False, True):
            pt, tt = ag.Tensor(y.copy(), requires_grad=True), ag.Tensor(y.copy(), requires_grad=True)
            with L.composite() if composite else _nothing():
                out = fn(pt, tt)
            g = ag.grad(out, [pt], allow_unused=True)[0]
            assert float(out.numpy()) == 0.0 and not np.any(g.numpy()), (fn.__name__, composite)
