"""The gallery of wrong gradients: every bug caught and classified, every correct twin passes."""

from __future__ import annotations

import numpy as np
import pytest
from gallery.wrong_gradients import CASES

from nploss.diagnosis import EXPLANATIONS, audit, classify


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_correct_twin_passes(case):
    report = audit(case.loss, case.inputs, case.right, bounds=case.bounds)
    assert report.passed, str(report)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_bug_is_caught_and_classified(case):
    report = audit(case.loss, case.inputs, case.wrong, bounds=case.bounds)
    assert not report.passed, f"{case.name} went unnoticed"
    kinds = {d.kind for d in report.diagnoses}
    assert kinds == {case.kind}, f"{case.name}: classified {kinds}, expected {case.kind}\n{report}"
    text = str(report)
    assert EXPLANATIONS[case.kind] in text
    assert ("first wrong element" in text) == (case.kind != "mutates its input"), text


def test_the_gallery_is_at_least_twelve_bugs_covering_every_class():
    assert len(CASES) >= 12
    # "not a scalar" is a verdict on the loss, not on a gradient: test_a_loss_that_is_not_a_scalar
    assert {c.kind for c in CASES} == set(EXPLANATIONS) - {"not a scalar"}


@pytest.mark.parametrize(
    ("returns", "what"),
    [(None, "returned None"), ("0.5", "returned a string"), (np.ones(3), "an array of shape (3,)"), (1 + 2j, "a complex number")],
)
def test_a_loss_that_is_not_a_scalar(returns, what):
    report = audit(lambda x: returns, [np.ones(3)], lambda x: x)
    assert [d.kind for d in report.diagnoses] == ["not a scalar"] and report.exit_code == 2
    assert what in str(report) and "NOT A SCALAR" in str(report)


def test_a_loss_that_mutates_its_input_is_not_called_a_kink():
    def loss(x):
        x[0] = 0.0  # in place: the finite differences would see a kink here
        return float(np.sum(np.abs(x)))

    report = audit(loss, [np.array([0.5, -1.0, 2.0])], lambda x: np.sign(x))
    (d,) = report.diagnoses
    assert d.kind == "mutates its input" and "element (0,) was 0.5 and became 0.0" in d.detail
    assert report.exit_code == 1


def test_a_nan_loss_and_an_all_nan_gradient_are_not_finite():
    x = np.ones(4)
    report = audit(lambda x: np.nan, [x], lambda x: x)
    assert [d.kind for d in report.diagnoses] == ["not finite"] and "the loss is nan" in str(report)
    report = audit(lambda x: float(np.sum(x**2)), [x], lambda x: np.full(x.shape, np.nan))
    assert [d.kind for d in report.diagnoses] == ["not finite"] and "4 NaN or inf entries of 4" in str(report)


def test_engine_gradients_are_audited_when_no_grad_fn_is_given():
    import nploss.autograd as ag

    x = np.random.default_rng(0).standard_normal(5)
    assert audit(lambda x: ag.sum(ag.tanh(x) ** 2), [x]).passed


def test_classify_names_the_reduction_size():
    n = np.random.default_rng(1).standard_normal((4, 5))
    kind, detail = classify(n * 20, n, [n])
    assert kind == "wrong reduction" and "N = 4x5" in detail
    assert classify(n / 5, n, [n]) == ("wrong reduction", "a = 0.2 n, a factor of 1/N, N = 5")
