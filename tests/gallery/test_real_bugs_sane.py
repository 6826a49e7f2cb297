"""The gallery of real bugs is itself right: every fix agrees with finite differences, every bug
differs from them (or, for the bugs a gradient check cannot see, shows the way its class says)."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.losses as L
from gallery.real_bugs import CASES, RealBug
from nploss.diagnosis import audit
from nploss.numerics import array_namespace

KINDS = {
    "wrong sign",
    "wrong reduction",
    "constant factor",
    "permuted",
    "kink",
    "wrong branch",
    "missing gradient",
    "wrong term",
    "overflow",
    "wrong at ties",
    "value mismatch",
    "parameter factor",
    "mutates its input",
    "not finite",
}
# Bugs in the gradient's formula: the buggy gradient differs from the fixed one at the given inputs.
FORMULA_KINDS = KINDS - {"overflow", "wrong at ties", "value mismatch", "parameter factor", "mutates its input"}
IDS = [c.name for c in CASES]


def _copies(inputs):
    return [np.array(x, copy=True) for x in inputs]


def _grads(fn, inputs):
    out = fn(*_copies(inputs))
    out = list(out) if isinstance(out, list | tuple) else [out]
    return [np.asarray(g, dtype=np.float64) for g in out]


def _floats(case: RealBug):
    return [i for i, x in enumerate(case.inputs) if x.dtype.kind == "f"]


def _differs(a, b):
    with np.errstate(invalid="ignore"):
        return not np.allclose(a, b, rtol=1e-4, atol=1e-7)


def _like_value(case: RealBug) -> float:
    """The nploss loss ``case.like`` at the case's inputs, mapped and reduced as ``like_mapping`` says."""
    spec = L.REGISTRY[case.like]
    mapping = dict(case.like_mapping)
    reduction = mapping.pop("reduction")
    named = dict(zip(case.names, case.inputs))
    arrays = [named[mapping.pop(arg.name)] for arg in spec.args]
    params = dict(spec.params)
    params.update(mapping)
    per_element = np.asarray(spec.forward(array_namespace(np), *arrays, **params))
    if reduction == "mean":
        return float(per_element.mean())
    if reduction == "sum / rows":
        return float(per_element.sum() / len(arrays[0]))
    assert reduction == "sum", reduction
    return float(per_element.sum())


def test_the_gallery_is_large_and_spread_over_the_classes():
    assert len(CASES) >= 20
    kinds = [c.kind for c in CASES]
    assert set(kinds) <= KINDS
    assert kinds.count("wrong branch") >= 3
    assert kinds.count("wrong reduction") >= 2
    for kind in (
        "wrong at ties",
        "value mismatch",
        "parameter factor",
        "missing gradient",
        "overflow",
        "mutates its input",
    ):
        assert kind in kinds, kind
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_entry_is_cited_and_complete(case):
    assert case.citation and ("#" in case.citation or "commit" in case.citation), case.citation
    assert len(case.names) == len(case.inputs)
    assert set(case.params) <= set(case.names)
    if case.kind == "wrong branch":
        assert case.condition
    if case.kind == "parameter factor":
        assert case.params
    if case.kind == "value mismatch":
        assert case.like in L.REGISTRY and case.like_mapping and case.fixed_loss is not None
    else:
        assert case.like is None and case.like_mapping is None


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_fix_passes_the_audit(case):
    report = audit(
        case.fixed_loss or case.loss,
        _copies(case.inputs),
        case.right,
        bounds=case.bounds,
        stress_scale=case.stress_scale,
    )
    assert report.passed, str(report)


@pytest.mark.parametrize("case", [c for c in CASES if c.kind in FORMULA_KINDS], ids=lambda c: c.name)
def test_the_bug_differs_from_the_fix_at_the_given_inputs(case):
    wrong, right = _grads(case.wrong, case.inputs), _grads(case.right, case.inputs)
    assert len(wrong) == len(right) == len(_floats(case))
    assert any(_differs(w, r) for w, r in zip(wrong, right)), case.name
    if case.kind == "not finite":
        assert not all(np.all(np.isfinite(w)) for w in wrong)
    else:
        assert all(np.all(np.isfinite(w)) for w in wrong)


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "wrong at ties"], ids=lambda c: c.name)
def test_a_tie_bug_overcounts_along_the_direction_that_keeps_the_ties(case):
    # moving every input up by h keeps every tie: the loss changes by h * (its true slope there)
    h = 1e-6
    floats = _floats(case)
    up = [x + h if i in floats else x for i, x in enumerate(case.inputs)]
    slope = (case.loss(*up) - case.loss(*_copies(case.inputs))) / h

    def total(fn):
        return sum(float(g.sum()) for g in _grads(fn, case.inputs))

    assert total(case.right) == pytest.approx(slope, rel=1e-5, abs=1e-6)
    assert abs(total(case.wrong) - slope) > 1e-3


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "value mismatch"], ids=lambda c: c.name)
def test_a_shared_defect_agrees_with_itself_but_not_with_the_loss_it_stands_for(case):
    # the buggy loss and its gradient agree: no gradient check can see the bug
    assert audit(case.loss, _copies(case.inputs), case.wrong, bounds=case.bounds).passed
    reference = _like_value(case)
    assert case.fixed_loss(*_copies(case.inputs)) == pytest.approx(reference, rel=1e-6)
    assert case.loss(*_copies(case.inputs)) != pytest.approx(reference, rel=1e-3)


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "parameter factor"], ids=lambda c: c.name)
def test_a_parameter_bug_hides_at_the_tested_value_and_shows_at_another(case):
    wrong, right = _grads(case.wrong, case.inputs), _grads(case.right, case.inputs)
    assert not any(_differs(w, r) for w, r in zip(wrong, right))
    rng = np.random.default_rng(1)
    moved = _copies(case.inputs)
    for name in case.params:
        i = case.names.index(name)
        moved[i] = moved[i] * rng.uniform(1.5, 2.5, moved[i].shape) + 0.3
    assert audit(case.fixed_loss or case.loss, moved, case.right, stress_scale=0).passed
    wrong, right = _grads(case.wrong, moved), _grads(case.right, moved)
    assert any(_differs(w, r) for w, r in zip(wrong, right))


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "overflow"], ids=lambda c: c.name)
def test_an_overflow_is_right_at_ordinary_inputs_and_not_finite_at_extreme_ones(case):
    wrong, right = _grads(case.wrong, case.inputs), _grads(case.right, case.inputs)
    assert not any(_differs(w, r) for w, r in zip(wrong, right))
    extreme = [x * 1e3 if x.dtype.kind == "f" else x for x in case.inputs]
    assert np.isfinite(case.loss(*_copies(extreme)))
    with np.errstate(over="ignore", invalid="ignore"):
        wrong = _grads(case.wrong, extreme)
    assert all(np.all(np.isfinite(r)) for r in _grads(case.right, extreme))
    assert not all(np.all(np.isfinite(w)) for w in wrong)


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "mutates its input"], ids=lambda c: c.name)
def test_a_mutating_loss_changes_the_callers_array_and_its_fix_does_not(case):
    for fn, mutates in ((case.loss, True), (case.fixed_loss, False)):
        arrays = _copies(case.inputs)
        fn(*arrays)
        changed = any(not np.array_equal(a, x) for a, x in zip(arrays, case.inputs))
        assert changed == mutates, fn.__name__
