"""The library audit covers every path of a loss: its parameter grid, its documented shapes and its
ties. Each test corrupts one loss only where the defaults never reach (a non-default parameter, a
3-D input, an exact tie, the unreduced shape) and asserts that the audit fails there, naming the
point, while the checks at the defaults alone still pass."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import nploss.losses as L
from nploss.audit import audit_loss, sample_away_from_kinks
from nploss.audit_grid import parameter_grid, public_parameters, uncovered, unknown_names
from nploss.losses import REGISTRY

NAMES = sorted(REGISTRY)


def _scaled_vjp(spec, when, factor=1.01):
    """The spec's reference VJP, scaled by ``factor`` where ``when(*inputs, **params)`` holds."""

    def vjp(xp, g, *inputs, **params):
        grads = spec.vjp(xp, g, *inputs, **params)
        return tuple(factor * gr for gr in grads) if when(*inputs, **params) else grads

    return dataclasses.replace(spec, vjp=vjp)


@pytest.mark.parametrize(
    "name, when, point",
    [
        ("cross_entropy", lambda *x, label_smoothing, **p: label_smoothing > 0, "cross_entropy[label_smoothing=0.5]"),
        ("cross_entropy", lambda *x, weight, **p: weight is not None, "cross_entropy[weight=class weights]"),
        ("multiclass_hinge", lambda *x, p, **k: p == 2, "multiclass_hinge[p=2]"),
        ("triplet", lambda *x, swap, **p: swap, "triplet[swap=True]"),
        ("poisson_nll", lambda *x, log_input, **p: not log_input, "poisson_nll[log_input=False]"),
        ("gaussian_nll", lambda *x, full, **p: full, "gaussian_nll[full=True]"),
        ("batch_triplet", lambda *x, strategy, **p: strategy == "semi-hard", "batch_triplet[strategy=semi-hard]"),
        ("kl_div", lambda *x, log_target, **p: log_target, "kl_div[log_target=True]"),
        ("mse", lambda prediction, target, **p: len(prediction.shape) == 3, "mse[3-D inputs]"),
        ("gaussian_nll", lambda prediction, target, var, **p: len(var.shape) == 1, "gaussian_nll[layout: var (N,)]"),
        ("categorical_cross_entropy", lambda probs, target, **p: np.sum(getattr(probs, "data", probs)) < 0.6 * len(probs), "categorical_cross_entropy[layout: rows summing to 1/2]"),
    ],
)
def test_a_gradient_wrong_only_off_the_defaults_fails_naming_the_grid_point(name, when, point):
    spec = _scaled_vjp(REGISTRY[name], when)
    assert audit_loss(spec, grid=False).passed  # the defaults alone never see it
    row = audit_loss(spec)
    assert not row.passed
    label = point[len(name) + 1 : -1]
    assert [lb for lb, sub in row.grid.items() if not sub.passed] == [label]  # that point only
    assert row.grid[label].failure().startswith(point + ": analytic"), row.grid[label].failure()
    assert row.points_passed == row.points - 1
    # the audit's one-line report names the point (or a tie on the same path, checked first)
    assert row.failure().startswith((point + ": analytic", f"{name}[tie: ")), row.failure()


def _plus_at_count_one(spec):
    """poisson_nll's VJP with Stirling's slope 1/2 switched on at a count of exactly 1 too (the
    ``target > 1`` -> ``target >= 1`` mutant): wrong only there."""

    def vjp(xp, g, prediction, target, **params):
        grad_prediction, grad_target = spec.vjp(xp, g, prediction, target, **params)
        if params["full"]:
            grad_target = grad_target + 0.5 * g * (xp.as_data(target) == 1.0)
        return grad_prediction, grad_target

    return dataclasses.replace(spec, vjp=vjp)


def _pushed_at_the_margin(spec):
    """contrastive's VJP with power=1 pushing a dissimilar pair apart also at d = m exactly."""

    def vjp(xp, g, x1, x2, y, **params):
        g1, g2 = spec.vjp(xp, g, x1, x2, y, **params)
        diff = xp.as_data(x1) - xp.as_data(x2)
        d = np.sqrt(np.sum(diff * diff, axis=-1, keepdims=True))
        at = (np.abs(d - params["margin"]) < 1e-12) & (np.reshape(xp.as_data(y), (-1, 1)) == 0) & (params["power"] == 1)
        push = np.reshape(xp.as_data(g), (-1, 1)) * np.where(at, -diff / np.where(at, d, 1.0), 0.0)
        return g1 + push, g2 - push

    return dataclasses.replace(spec, vjp=vjp)


@pytest.mark.parametrize(
    "name, corrupt, tie",
    [
        ("poisson_nll", _plus_at_count_one, "full=True at counts 0, 1 and 2"),
        ("contrastive", _pushed_at_the_margin, "power=1, a dissimilar pair at a distance equal to the margin"),
    ],
)
def test_a_gradient_wrong_only_at_a_tie_fails_naming_the_tie(name, corrupt, tie):
    spec = corrupt(REGISTRY[name])
    row = audit_loss(spec)
    assert not row.passed and row.points_passed == row.points  # every sampled point passes
    assert row.failure().startswith(f"{name}[tie: {tie}]: analytic gradient of"), row.failure()
    assert "documented" in row.failure()


def test_a_documented_subgradient_outside_the_one_sided_slopes_is_refused():
    from nploss.audit_ties import check_tie

    # hinge at its kink has the slopes -1 (from below) and 0 (from above): 2 is no subgradient
    spec = REGISTRY["hinge"]
    tie = spec.ties["scores exactly at the margin"]
    wrong = dataclasses.replace(tie, expected=lambda s, t, **p: [np.array([2.0, 0.0, -1.0])])
    problem = check_tie(spec, wrong)
    assert problem.startswith("the documented subgradient of scores at element (0,), 2 "), problem
    assert "not between the one-sided slopes -1 and 0" in problem
    assert check_tie(spec, tie) is None


def test_a_wrong_unreduced_shape_fails():
    spec = REGISTRY["lifted_structured"]

    def forward(xp, *inputs, **params):  # (N, 1) instead of (N,): one value per anchor, wrongly shaped
        return xp.reshape(spec.forward(xp, *inputs, **params), (-1, 1))

    row = audit_loss(dataclasses.replace(spec, forward=forward, fast=None), grid=False)
    assert not row.passed
    assert "(6, 1)" in row.failure() and "documented shape is (6,)" in row.failure(), row.failure()
    assert row.shapes["none"] == "gives shape (6, 1), documented (6,)"


@pytest.mark.parametrize("name", NAMES)
def test_every_public_parameter_has_a_grid_entry(name):
    spec = REGISTRY[name]
    inputs = sample_away_from_kinks(spec, seed=0)
    assert uncovered(spec, inputs) == [], f"{name}: parameters with neither grid values nor a reason in fixed"
    assert unknown_names(spec) == [], f"{name}: grid or fixed names no parameter"


def test_public_parameters_are_those_of_the_signature():
    params = public_parameters(REGISTRY["cross_entropy"])
    assert params == ["weight", "ignore_index", "label_smoothing"]
    assert "reduction" not in public_parameters(REGISTRY["triplet"])
    signature = inspect.signature(L.triplet).parameters
    assert set(public_parameters(REGISTRY["triplet"])) == {n for n, p in signature.items() if p.default is not p.empty} - {"reduction"}


def test_derived_grids():
    batch = parameter_grid(REGISTRY["batch_triplet"], sample_away_from_kinks(REGISTRY["batch_triplet"]))
    assert batch["strategy"] == ("all", "hard", "semi-hard")  # a choice: every option
    assert batch["squared"] == (False, True)  # a flag: both values
    assert len(batch["margin"]) == 2 and batch["margin"][0] == 1.0  # a number: a second value
    focal = parameter_grid(REGISTRY["sigmoid_focal"], sample_away_from_kinks(REGISTRY["sigmoid_focal"]))
    assert focal["alpha"][1] <= 1.0  # inside the range its check admits ([.., 1])
    ce = parameter_grid(REGISTRY["cross_entropy"], sample_away_from_kinks(REGISTRY["cross_entropy"]))
    assert ce["weight"][0] is None and repr(ce["weight"][1]) == "class weights"  # declared


# The kinks the audit's ties must cover (hinge, margin, triplet, contrastive, Huber, L1 and the
# others the sampled audit steps around).
KINKED = [
    "poisson_nll", "categorical_cross_entropy", "contrastive", "batch_triplet", "hinge", "multiclass_hinge",
    "hinge_embedding", "margin_ranking", "triplet", "huber", "smooth_l1", "mae", "quantile", "l1_penalty",
    "multiclass_perceptron", "crammer_singer_hinge",
]  # fmt: skip


@pytest.mark.parametrize("name", KINKED)
def test_kinked_losses_declare_ties_that_pass(name):
    row = audit_loss(REGISTRY[name], grid=False)
    from nploss.audit_ties import check_ties

    ties = check_ties(REGISTRY[name])
    assert ties and all(problem is None for problem in ties.values()), ties
    assert row.passed, row.failure()
