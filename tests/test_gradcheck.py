"""The gradient checker: it must catch wrong gradients, pass right ones and recognise kinks."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
from nploss.gradcheck import check_grad, check_gradgrad, numerical_grad, relative_error


def test_numerical_grad_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    (g,) = numerical_grad(lambda x: np.sum(np.sin(x) * x), [x])
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-8)


def test_numerical_grad_needs_a_cotangent_for_vector_outputs():
    with pytest.raises(ValueError, match="not a scalar: pass grad_output"):
        numerical_grad(lambda x: x * 2, [np.ones(3)])
    (g,) = numerical_grad(lambda x: x * 2, [np.ones(3)], grad_output=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0], rtol=1e-8)


def test_relative_error_is_cs231n_s():
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(1.0, 3.0) == pytest.approx(0.5)
    assert relative_error(0.0, 0.0) == 0.0  # the 1e-8 floor avoids 0/0


def mse(pred, target):
    return np.mean((pred - target) ** 2)


def mse_grad(pred, target):
    return 2 * (pred - target) / pred.size, -2 * (pred - target) / pred.size


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


def test_a_correct_hand_written_gradient_passes(points):
    result = check_grad(mse, points, grad_fn=mse_grad, names=["pred", "target"])
    assert result.passed, str(result)
    assert result.max_rel_error < 1e-7


@pytest.mark.parametrize(
    "wrong",
    [
        lambda p, t: (2 * (p - t), -2 * (p - t)),  # missing 1/N
        lambda p, t: (-2 * (p - t) / p.size, 2 * (p - t) / p.size),  # sign flipped
        lambda p, t: (2 * (p - t).T.reshape(p.shape) / p.size, -2 * (p - t) / p.size),  # rows mixed up
    ],
)
def test_wrong_gradients_fail_and_name_the_worst_element(points, wrong):
    result = check_grad(mse, points, grad_fn=wrong, names=["pred", "target"])
    assert not result.passed
    report = str(result)
    assert "FAIL" in report and "pred" in report
    worst = result.inputs[0]
    assert worst.failures > 0 and len(worst.worst_index) == 2
    p, t = points
    assert worst.numerical == pytest.approx(2 * (p - t)[worst.worst_index] / p.size, rel=1e-6)
    with pytest.raises(AssertionError, match="pred"):
        result.raise_if_failed()


def test_a_random_cotangent_catches_a_permuted_vjp_that_a_sum_would_miss():
    x = np.arange(1.0, 5.0)
    # d/dx of x^2 elementwise, but with the cotangent reversed: fine for g = ones, wrong otherwise
    wrong_vjp = lambda x, grad_output: 2 * x * grad_output[::-1]  # noqa: E731
    assert not check_grad(lambda x: x**2, [x], grad_fn=wrong_vjp).passed
    assert check_grad(lambda x: x**2, [x], grad_fn=wrong_vjp, grad_output=np.ones(4)).passed


def test_kinks_are_reported_not_failed_when_the_subgradient_is_between_the_slopes():
    x = np.array([0.0, 1.5, -2.0])
    result = check_grad(lambda x: ag.sum(ag.abs(x)), [x])  # |x|'(0) = 0, between -1 and 1
    assert result.passed
    assert result.inputs[0].kinks == [(0,)]
    outside = check_grad(lambda x: np.sum(np.abs(x)), [x], grad_fn=lambda x: np.where(x == 0, 3.0, np.sign(x)))
    assert not outside.passed  # 3 is no subgradient of |x| at 0


def test_engine_gradient_is_used_when_no_grad_fn_is_given(points):
    assert check_grad(lambda p, t: ag.mean((p - t) ** 2), points).passed
    with pytest.raises(TypeError, match="must return a Tensor"):
        check_grad(lambda p, t: np.float64(1.0), points)


def test_labels_are_not_differentiated():
    logits, labels = np.random.default_rng(1).standard_normal((3, 4)), np.array([0, 3, 1])
    result = check_grad(lambda z, y: -ag.mean(ag.log_softmax(z, axis=1)[np.arange(3), y]), [logits, labels])
    assert result.passed and len(result.inputs) == 1


def test_second_order_check_catches_a_vjp_that_is_not_differentiable():
    def frozen_square(x):
        # forward x^2 with a VJP computed on raw arrays: right first derivative, no second
        x = x if isinstance(x, ag.Tensor) else ag.Tensor(x)
        return ag.make_node(x.data**2, (x,), lambda g, out: (g * ag.Tensor(2 * x.data),))

    x = np.array([0.5, -1.0, 2.0])
    assert check_grad(frozen_square, [x]).passed
    result = check_gradgrad(frozen_square, [x])
    assert not result.passed
    assert check_gradgrad(lambda x: ag.square(x), [x]).passed


def test_second_order_check_covers_the_cotangent_of_linear_ops():
    # A linear op's Hessian is zero, so only the derivative with respect to the cotangent can
    # catch a VJP that cuts the graph: here it is computed on raw arrays, detached from g.
    def detached_double(x):
        x = x if isinstance(x, ag.Tensor) else ag.Tensor(x)
        return ag.make_node(x.data * 2, (x,), lambda g, out: (ag.Tensor(g.data * 2),))

    x = np.random.default_rng(0).standard_normal((2, 3))
    assert check_grad(detached_double, [x]).passed
    result = check_gradgrad(detached_double, [x])
    assert [c.name for c in result.inputs] == ["input 0", "grad_output"]
    assert result.inputs[0].passed and not result.inputs[1].passed
    assert check_gradgrad(lambda x: ag.transpose(x * 2, (1, 0)), [x]).passed


def test_the_user_audit_is_reachable_from_gradcheck():
    from nploss.gradcheck import audit

    x = np.random.default_rng(0).standard_normal(6)
    report = audit(lambda x: float(np.sum(x**2)), [x], grad_fn=lambda x: -2 * x)
    assert not report.passed and report.diagnoses[0].kind == "wrong sign"
    assert audit(lambda x: float(np.sum(x**2)), [x], grad_fn=lambda x: 2 * x).passed
