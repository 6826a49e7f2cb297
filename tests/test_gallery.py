"""The gallery of wrong gradients: every bug caught and classified, every correct twin passes."""

from __future__ import annotations

import numpy as np
import pytest
from gallery.wrong_gradients import CASES, RIGHT_LOSS

from nploss.diagnosis import EXPLANATIONS, audit, classify


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_correct_twin_passes(case):
    report = audit(RIGHT_LOSS.get(case.name, case.loss), case.inputs, case.right, **case.options())
    assert report.passed, str(report)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_bug_is_caught_and_classified(case):
    report = audit(case.loss, case.inputs, case.wrong, **case.options())
    assert not report.passed, f"{case.name} went unnoticed"
    kinds = {d.kind for d in report.diagnoses}
    assert kinds == {case.kind}, f"{case.name}: classified {kinds}, expected {case.kind}\n{report}"
    text = str(report)
    assert EXPLANATIONS[case.kind] in text
    pointed = case.kind not in ("mutates its input", "unstable loss", "value mismatch")
    assert ("first wrong element" in text) == pointed, text


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


# ------------------------------------------------------------- the second looks of the audit


def test_a_reduction_diluted_by_a_regulariser_is_still_a_reduction():
    rng = np.random.default_rng(3)
    p, t = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    lam = 1e-4

    def loss(p, t):
        return np.sum((p - t) ** 2) / len(p) + lam * np.sum(p**2)

    def forgot_the_mean(p, t):  # the data term's 1/N forgotten, the regulariser's gradient right
        return 2 * (p - t) + 2 * lam * p, -2 * (p - t)

    (d, e) = audit(loss, [p, t], forgot_the_mean).diagnoses
    assert (d.kind, e.kind) == ("wrong reduction", "wrong reduction"), (d, e)
    assert "share" in d.detail and "N = 6" in d.detail and "at 5 the factor is" in d.detail


def test_a_wrong_class_entry_names_the_label_condition():
    rng = np.random.default_rng(4)
    z, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])

    def loss(z, y):
        return np.sum((z - np.eye(4)[y]) ** 2)

    def true_class_wrong(z, y):
        return 2 * (z + np.eye(4)[y])  # + onehot for - onehot: wrong on the true class only

    (d,) = audit(loss, [z, y], true_class_wrong, names=["scores", "labels"]).diagnoses
    assert d.kind == "wrong branch" and d.detail == "wrong exactly where the column is the class labels[i] (column == labels[i])"


def test_a_partly_missing_gradient_says_how_much_and_where():
    from gallery.wrong_gradients import XP, max_pool, max_pool_grad_first_window_only

    (d,) = audit(max_pool, [XP], max_pool_grad_first_window_only).diagnoses
    assert d.kind == "missing gradient" and d.detail.startswith("missing gradient for 3 of 16 elements")
    assert "a loop that stops early" in d.detail


def test_a_missing_parameter_factor_is_named_at_ordinary_parameters():
    from gallery.wrong_gradients import TA, XA, affine_mse, affine_mse_grad_no_gamma

    gamma, beta = np.array([0.5, 2.0, 1.5]), np.array([0.1, -0.2, 0.3])
    report = audit(affine_mse, [XA, gamma, beta, TA], affine_mse_grad_no_gamma, names=["x", "gamma", "beta", "t"])
    (d,) = report.diagnoses
    assert d.kind == "parameter factor" and d.detail == "the analytic gradient a misses the factor gamma (a·gamma = n, the numerical one)"
    assert d.name == "x"


def test_a_clamp_that_makes_the_loss_flat_is_not_an_overflow():
    def bce(p, y):
        return -np.mean(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)) + (1 - y) * np.log(1 - np.clip(p, 1e-7, 1 - 1e-7)))

    def bce_grad_clipped(p, y):  # the clipped probability in the formula, not zeroed where clipped
        q = np.clip(p, 1e-7, 1 - 1e-7)
        return (q - y) / (q * (1 - q)) / p.size

    p, y = np.random.default_rng(5).uniform(0.1, 0.9, 8), np.array([0, 1] * 4)
    report = audit(bce, [p, y], bce_grad_clipped, bounds=[(0.0, 1.0), None])
    assert report.passed, str(report)


def test_a_loss_that_overflows_is_an_unstable_loss_not_a_wrong_gradient():
    x = np.random.default_rng(6).standard_normal(6) + 2.0

    def mean_exp(x):
        return np.mean(np.exp(x))

    report = audit(mean_exp, [x], lambda x: np.exp(x) / x.size)
    assert report.ordinary.passed
    (d,) = report.diagnoses
    assert (d.kind, d.name) == ("unstable loss", "the loss") and "the loss itself is inf" in d.detail
    assert audit(mean_exp, [x], lambda x: np.exp(x) / x.size, stress_scale=0).passed


def test_like_is_checked_before_anything_runs():
    from nploss.diagnosis import AuditUsageError

    p, t = np.ones((2, 3)) * 0.5, np.zeros((2, 3))
    with pytest.raises(AuditUsageError, match="did you mean"):
        audit(lambda p, t: 0.0, [p, t], lambda p, t: (p, t), like="binary_cross_entropi")
    with pytest.raises(AuditUsageError, match="one side must be an input of yours"):
        audit(lambda p, t: 0.0, [p, t], lambda p, t: (p, t), like="binary_cross_entropy", like_map={"q": "prediction"})
    with pytest.raises(AuditUsageError, match="has no parameter 'margin'"):
        audit(lambda p, t: 0.0, [p, t], lambda p, t: (p, t), like="binary_cross_entropy", like_params={"margin": 1.0})
    with pytest.raises(AuditUsageError, match="params names 'gamma'"):
        audit(lambda p, t: 0.0, [p, t], lambda p, t: (p, t), params=["gamma"])


def test_branch_conditions_over_pairs_of_labels_and_signed_margins():
    from nploss.diagnosis_conditions import branch_condition

    labels = np.array([0, 1, 0, 2, 1])
    same = labels[:, None] == labels[None, :]
    distances = np.random.default_rng(7).uniform(0.1, 2.0, (5, 5))
    found = branch_condition(same, [distances, labels], ["d", "labels"])
    assert found == "wrong exactly where labels[i] == labels[j]"
    f, y = np.array([0.3, -1.2, 2.0, -0.4, 1.5, 0.7]), np.array([1, -1, 1, 1, -1, -1])
    assert branch_condition(y * f < 1, [f, y], ["f", "y"]) == "wrong exactly where y·f < 1"
    # a condition no candidate expresses: none is made up
    assert branch_condition(np.array([False, True, False, False, True, False]), [f, y], ["f", "y"]) == ""
