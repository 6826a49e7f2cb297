"""The engine itself: accumulation, broadcasting undone, no_grad, grad(), higher order, errors."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import nploss.autograd as ag
from nploss.autograd import Tensor


def test_gradients_accumulate_over_paths_and_over_calls():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x + x  # x reaches y along three paths
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)
    (x * 3).sum().backward()  # a second backward adds to .grad, as in PyTorch
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 4)


def test_broadcasting_is_undone_in_the_gradient():
    a = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.arange(4.0), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 6.0))
    np.testing.assert_array_equal(b.grad.data, np.full(4, 3.0))


def test_a_long_chain_does_not_hit_the_recursion_limit():
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**5000, rel=1e-9)


def test_nodes_made_in_any_order_are_differentiated_after_all_their_children():
    # The backward pass sorts nodes by the order they were made: a node used again much later
    # (b feeds d, made after c) must still receive every cotangent before passing it on
    x = Tensor(np.array(2.0), requires_grad=True)
    a = x * 3.0
    b = ag.exp(a)
    c = ag.tanh(x)
    d = b * c + a * b
    (gx,) = ag.grad(d, x)
    e, t = np.exp(6.0), np.tanh(2.0)
    expected = 3 * e * t + e * (1 - t * t) + 3 * e + 6.0 * 3 * e
    assert gx.item() == pytest.approx(expected, rel=1e-12)


def test_no_grad_records_nothing():
    x = Tensor(np.ones(3), requires_grad=True)
    with ag.no_grad():
        y = ag.exp(x) * 2
        assert not ag.is_grad_enabled()
        with ag.enable_grad():
            z = x * 2
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf


def test_grad_returns_without_touching_dot_grad():
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    (g,) = ag.grad(ag.sum(ag.tanh(x)), x)
    np.testing.assert_allclose(g.data, 1 - np.tanh(x.data) ** 2)
    assert x.grad is None


def test_grad_of_an_intermediate_tensor():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    gh, gx = ag.grad((h * h).sum(), [h, x])
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    np.testing.assert_array_equal(gx.data, 18 * x.data)


def test_create_graph_gives_higher_order_derivatives():
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    (g1,) = ag.grad(ag.sum(x**4), x, create_graph=True)  # d/dx x^4 = 4x^3
    (g2,) = ag.grad(g1.sum(), x, create_graph=True)  # 12x^2
    (g3,) = ag.grad(g2.sum(), x)  # 24x
    np.testing.assert_allclose(g1.data, 4 * x.data**3)
    np.testing.assert_allclose(g2.data, 12 * x.data**2)
    np.testing.assert_allclose(g3.data, 24 * x.data)


def test_hessian_vector_product_of_a_quadratic_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    x = Tensor(rng.standard_normal(4), requires_grad=True)
    v = rng.standard_normal(4)
    f = 0.5 * ag.sum(x * ag.matmul(a, x))  # Hessian (A + A^T) / 2
    (g,) = ag.grad(f, x, create_graph=True)
    (hv,) = ag.grad(ag.sum(g * v), x)
    np.testing.assert_allclose(hv.data, 0.5 * (a + a.T) @ v, rtol=1e-12)


def test_backward_with_an_explicit_cotangent():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, -6.0])


def test_operators_with_numpy_arrays_and_python_numbers_on_either_side():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x + 1 - 2 / x + x @ np.array([1.0, 1.0]) - (-x) ** 2
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2 + 2 - 2, 4 + 0.5 + 2 - 4])


# ------------------------------------------------------------------------ bad input


def test_ops_on_incompatible_shapes_name_the_op_and_the_shapes():
    a, b = Tensor(np.ones(3)), Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"add: shapes \(3,\) and \(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\)"):
        ag.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))))


def test_backward_on_a_non_scalar_without_grad_output_is_refused():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="non-scalar output.*needs grad_output"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="grad_output has shape"):
        (x * 2).backward(np.ones(4))


def test_grad_of_a_tensor_that_does_not_require_grad_is_refused():
    x, c = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3))
    y = (x * c).sum()
    with pytest.raises(ValueError, match=r"inputs\[1\] does not require grad"):
        ag.grad(y, [x, c])
    with pytest.raises(RuntimeError, match="does not require grad"):
        c.sum().backward()
    unused = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="was not used"):
        ag.grad(y, [x, unused])
    assert ag.grad(y, [x, unused], allow_unused=True)[1] is None


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)


def test_bad_axis_is_reported():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        ag.sum(Tensor(np.ones((2, 2))), axis=2)


def test_conv2d_rejects_mismatched_channels_and_bad_strides():
    x, w = Tensor(np.ones((1, 3, 5, 5))), Tensor(np.ones((2, 2, 3, 3)))
    with pytest.raises(ValueError, match="3 channels but weight expects 2"):
        ag.conv2d(x, w)
    with pytest.raises(ValueError, match="stride must be positive"):
        ag.conv2d(x, Tensor(np.ones((2, 3, 3, 3))), stride=0)
    with pytest.raises(ValueError, match="larger than the padded image"):
        ag.conv2d(x, Tensor(np.ones((2, 3, 7, 7))))


def test_each_leaf_gets_a_gradient_of_its_own():
    a, b = Tensor(np.array([1.0, 2.0]), requires_grad=True), Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad.data, b.grad.data)
    x, seed = Tensor(np.ones((2, 3)), requires_grad=True), np.ones(6)
    x.reshape(6).backward(seed)
    assert not np.shares_memory(x.grad.data, seed)
    y, seed = Tensor(np.ones(3), requires_grad=True), np.ones(3)
    y.backward(seed)  # a leaf's own cotangent: the user's array, never kept
    assert not np.shares_memory(y.grad.data, seed)


def _node_with_vjp_result(x, keep):
    """x * 2 with a VJP whose result is weakly tracked and, if ``keep``, also held elsewhere."""
    made = {}

    def vjp(g, out):
        grad = g.data * 2.0
        made["ref"] = weakref.ref(grad)
        if keep:
            made["held"] = grad
        return (Tensor(grad),)

    return ag.make_node(x.data * 2.0, (x,), vjp), made


@pytest.mark.parametrize("keep", [False, True])
def test_a_leaf_keeps_a_copy_of_its_gradient(keep):
    x = Tensor(np.arange(4.0), requires_grad=True)
    out, made = _node_with_vjp_result(x, keep=keep)
    out.backward(np.ones(4))
    assert made["ref"]() is None or x.grad.data is not made["ref"]()  # a copy, never the VJP's array
    if keep:
        assert not np.shares_memory(x.grad.data, made["held"])
        made["held"][:] = -1.0  # whoever held it may change it: the gradient does not move
    np.testing.assert_array_equal(x.grad.data, np.full(4, 2.0))


def test_a_gradient_owned_by_one_input_is_kept_without_a_copy():
    """owned_gradient: a VJP that allocates an array for one input alone lets the leaf keep it
    (the row-blocked losses do); the same VJP's plain Tensor is copied."""
    from nploss.autograd import make_node
    from nploss.autograd.tensor import owned_gradient

    for wrap, kept in ((owned_gradient, True), (Tensor, False)):
        x = Tensor(np.arange(4.0), requires_grad=True)
        made = []

        def vjp(g, out, wrap=wrap):
            made.append(g.data * 2.0)
            return (wrap(made[-1]),)

        make_node(x.data * 2.0, (x,), vjp).backward(np.ones(4))
        assert (x.grad.data is made[0]) == kept
        np.testing.assert_array_equal(x.grad.data, np.full(4, 2.0))


def test_a_large_loss_hands_its_gradients_to_the_leaves(monkeypatch):
    import nploss.losses as L
    from nploss.losses import _blocks

    monkeypatch.setattr(_blocks, "MIN_ELEMENTS", 0)
    p, t = Tensor(np.arange(64.0), requires_grad=True), Tensor(np.zeros(64), requires_grad=True)
    L.mse(p, t).backward()
    assert not np.shares_memory(p.grad.data, t.grad.data)  # one array each, not shared
    np.testing.assert_array_equal(p.grad.data, 2 * np.arange(64.0) / 64)
    np.testing.assert_array_equal(t.grad.data, -p.grad.data)
