"""Every primitive op: forward against NumPy, gradient and second derivative against finite
differences, over random shapes with broadcasting (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import nploss.autograd as ag
from nploss.autograd import conv, ops
from nploss.autograd.catalogue import sample
from nploss.gradcheck import check_grad, check_gradgrad

seeds = st.integers(0, 2**32 - 1)
small_shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def assert_derivatives(fn, inputs, wrt=None):
    """First and second order against finite differences, failing with the checker's report."""
    check_grad(fn, inputs, wrt=wrt).raise_if_failed()
    check_gradgrad(fn, inputs, wrt=wrt).raise_if_failed()


def assert_forward(fn, reference, inputs):
    np.testing.assert_allclose(ag.as_data(fn(*inputs)), reference(*inputs), rtol=1e-12, atol=1e-12)


UNARY = [
    ("negative", ag.negative, np.negative, "real"),
    ("square", ag.square, np.square, "real"),
    ("exp", ag.exp, np.exp, "real"),
    ("log", ag.log, np.log, "positive"),
    ("log1p", ag.log1p, np.log1p, "positive"),
    ("sqrt", ag.sqrt, np.sqrt, "positive"),
    ("abs", ag.abs, np.abs, "nonzero"),
    ("sign", ag.sign, np.sign, "nonzero"),
    ("tanh", ag.tanh, np.tanh, "real"),
    ("sigmoid", ag.sigmoid, scipy.special.expit, "real"),
    ("softplus", ag.softplus, lambda x: np.logaddexp(0, x), "real"),
    ("relu", ag.relu, lambda x: np.maximum(x, 0), "nonzero"),
    ("power 2.5", lambda x: x**2.5, lambda x: x**2.5, "positive"),
    ("power -1.5", lambda x: ag.power(x, -1.5), lambda x: x**-1.5, "positive"),
    ("clip", lambda x: ag.clip(x, -0.1, 0.1), lambda x: np.clip(x, -0.1, 0.1), "nonzero"),
]


@pytest.mark.parametrize("name, fn, reference, domain", UNARY, ids=[u[0] for u in UNARY])
@given(shape=small_shapes, seed=seeds)
def test_unary(name, fn, reference, domain, shape, seed):
    x = sample(domain, shape, np.random.default_rng(seed))
    assert_forward(fn, reference, [x])
    assert_derivatives(fn, [x])


BINARY = [
    ("add", lambda a, b: a + b, np.add, "real"),
    ("subtract", lambda a, b: a - b, np.subtract, "real"),
    ("multiply", lambda a, b: a * b, np.multiply, "real"),
    ("divide", lambda a, b: a / b, np.divide, "nonzero"),
    ("power", ag.power, np.power, "positive"),
    ("maximum", ag.maximum, np.maximum, "real"),
    ("minimum", ag.minimum, np.minimum, "real"),
    ("logaddexp", ag.logaddexp, np.logaddexp, "real"),
]


@pytest.mark.parametrize("name, fn, reference, domain", BINARY, ids=[b[0] for b in BINARY])
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_binary_with_broadcasting(name, fn, reference, domain, shapes, seed):
    rng = np.random.default_rng(seed)
    a = sample("positive" if domain == "positive" else "real", shapes.input_shapes[0], rng)
    b = sample(domain if domain != "positive" else "real", shapes.input_shapes[1], rng)
    assert_forward(lambda a, b: fn(ag.Tensor(a), b), reference, [a, b])
    assert_derivatives(lambda a, b: fn(ag.Tensor(a) if not isinstance(a, ag.Tensor) else a, b), [a, b])


@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=seeds)
def test_where_with_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shapes.input_shapes[0]) < 0.5
    a, b = (sample("real", s, rng) for s in shapes.input_shapes[1:])
    assert_forward(lambda a, b: ag.where(cond, a, b), lambda a, b: np.where(cond, a, b), [a, b])
    assert_derivatives(lambda a, b: ag.where(cond, a, b), [a, b])


@st.composite
def shape_and_axis(draw, min_dims=1):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape), unique_by=lambda a: a % len(shape)))
    axis = draw(st.sampled_from([None, axes[0], tuple(axes)]))
    return shape, axis, draw(st.booleans())


REDUCTIONS = [
    ("sum", ag.sum, np.sum),
    ("mean", ag.mean, np.mean),
    ("max", ag.max, np.max),
    ("min", ag.min, np.min),
    ("logsumexp", ag.logsumexp, scipy.special.logsumexp),
    ("var", ag.var, np.var),
]


@pytest.mark.parametrize("name, fn, reference", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@given(case=shape_and_axis(), seed=seeds)
def test_reductions_over_axes(name, fn, reference, case, seed):
    shape, axis, keepdims = case
    x = sample("real", shape, np.random.default_rng(seed))
    assert_forward(lambda x: fn(x, axis=axis, keepdims=keepdims), lambda x: reference(x, axis=axis, keepdims=keepdims), [x])
    assert_derivatives(lambda x: fn(x, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name, fn, reference", [
    ("softmax", ag.softmax, scipy.special.softmax),
    ("log_softmax", ag.log_softmax, scipy.special.log_softmax),
])
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds, data=st.data())
def test_softmax_family(name, fn, reference, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = sample("real", shape, np.random.default_rng(seed))
    assert_forward(lambda x: fn(x, axis=axis), lambda x: reference(x, axis=axis), [x])
    assert_derivatives(lambda x: fn(x, axis=axis), [x])


def test_var_with_ddof():
    x = sample("real", (3, 5), np.random.default_rng(1))
    assert_forward(lambda x: ag.var(x, axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1), [x])
    assert_derivatives(lambda x: ag.var(x, axis=1, ddof=1), [x])


@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=3), seed=seeds, data=st.data())
def test_transpose_and_reshape(shape, seed, data):
    x = sample("real", shape, np.random.default_rng(seed))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    assert_forward(lambda x: ag.transpose(x, perm), lambda x: np.transpose(x, perm), [x])
    assert_derivatives(lambda x: ag.transpose(x, perm), [x])
    assert_derivatives(lambda x: ag.reshape(x, (-1,)) * np.arange(x.size), [x])


@given(shapes=mutually_broadcastable_shapes(num_shapes=1, max_dims=3, max_side=3), seed=seeds)
def test_broadcast_to_and_sum_to_are_adjoint(shapes, seed):
    small, big = shapes.input_shapes[0], shapes.result_shape
    rng = np.random.default_rng(seed)
    x, y = sample("real", small, rng), sample("real", big, rng)
    assert_forward(lambda x: ag.broadcast_to(x, big), lambda x: np.broadcast_to(x, big), [x])
    # <broadcast(x), y> == <x, sum_to(y)>: the defining property of an adjoint pair
    lhs = np.vdot(ag.broadcast_to(x, big).data, y)
    rhs = np.vdot(x, ag.sum_to(y, small).data)
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)
    assert_derivatives(lambda x: ag.broadcast_to(x, big), [x])
    assert_derivatives(lambda y: ag.sum_to(y, small), [y])


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), seed=seeds)
def test_advanced_indexing_with_repeated_indices_adds_up(shape, seed):
    rng = np.random.default_rng(seed)
    x = sample("real", shape, rng)
    index = rng.integers(0, shape[0], size=rng.integers(1, 6))  # repeats are likely
    assert_forward(lambda x: ag.getitem(x, index), lambda x: x[index], [x])
    assert_derivatives(lambda x: ag.getitem(x, index), [x])
    counts = np.bincount(index, minlength=shape[0]).astype(float)
    t = ag.Tensor(x, requires_grad=True)
    t[index].sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.broadcast_to(counts.reshape((-1,) + (1,) * (len(shape) - 1)), shape))


@given(seed=seeds, data=st.data())
def test_basic_slicing_and_take_along_axis(seed, data):
    rng = np.random.default_rng(seed)
    x = sample("real", (3, 4, 2), rng)
    start, step = data.draw(st.integers(0, 2)), data.draw(st.integers(1, 2))
    assert_derivatives(lambda x: ag.getitem(x, (slice(start, None, step), Ellipsis, 0)), [x])
    axis = data.draw(st.integers(0, 2))
    idx_shape = list(x.shape)
    idx_shape[axis] = data.draw(st.integers(1, 5))
    idx = rng.integers(0, x.shape[axis], size=idx_shape)
    assert_forward(lambda x: ag.take_along_axis(x, idx, axis), lambda x: np.take_along_axis(x, idx, axis), [x])
    assert_derivatives(lambda x: ag.take_along_axis(x, idx, axis), [x])


@given(seed=seeds, data=st.data())
def test_concatenate_and_stack(seed, data):
    rng = np.random.default_rng(seed)
    base = data.draw(array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = data.draw(st.integers(0, len(base) - 1))
    other = list(base)
    other[axis] = data.draw(st.integers(1, 3))
    a, b = sample("real", base, rng), sample("real", tuple(other), rng)
    assert_forward(lambda a, b: ag.concatenate([a, b], axis), lambda a, b: np.concatenate([a, b], axis), [a, b])
    assert_derivatives(lambda a, b: ag.concatenate([a, b], axis), [a, b])
    c = sample("real", base, rng)
    assert_forward(lambda a, c: ag.stack([a, c], axis), lambda a, c: np.stack([a, c], axis), [a, c])
    assert_derivatives(lambda a, c: ag.stack([a, c], axis), [a, c])


@given(shapes=mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4, max_side=3), seed=seeds)
def test_matmul_batched_and_vectors(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (sample("real", s, rng) for s in shapes.input_shapes)
    assert_forward(ag.matmul, np.matmul, [a, b])
    assert_derivatives(ag.matmul, [a, b])


def naive_conv2d(x, w, b, stride, padding):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, w)
    return out + b.reshape(1, -1, 1, 1)


@given(
    seed=seeds,
    n=st.integers(1, 2), c=st.integers(1, 2), f=st.integers(1, 3), size=st.integers(3, 5),
    k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
)  # fmt: skip
def test_conv2d_against_a_loop(seed, n, c, f, size, k, stride, padding):
    rng = np.random.default_rng(seed)
    x, w, b = sample("real", (n, c, size, size + 1), rng), sample("real", (f, c, k, k), rng), sample("real", (f,), rng)
    conv = lambda x, w, b: ag.conv2d(x, w, b, stride=stride, padding=padding)  # noqa: E731
    np.testing.assert_allclose(conv(x, w, b).data, naive_conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    assert_derivatives(conv, [x, w, b])


@given(seed=seeds, k=st.integers(1, 3), stride=st.sampled_from([None, 1, 2]), size=st.integers(3, 6))
def test_max_pool2d(seed, k, stride, size):
    x = sample("real", (2, 2, size, size), np.random.default_rng(seed))
    s = k if stride is None else stride
    oh = (size - k) // s + 1
    expected = np.array([[[[x[n, c, i * s : i * s + k, j * s : j * s + k].max() for j in range(oh)] for i in range(oh)] for c in range(2)] for n in range(2)])
    np.testing.assert_array_equal(ag.max_pool2d(x, k, stride).data, expected)
    assert_derivatives(lambda x: ag.max_pool2d(x, k, stride), [x])


def test_max_pool_shares_ties_alike_whatever_the_stride():
    # the same equal split of the cotangent among tied maxima with stride 2 and stride 1; rows
    # that fit no window dropped
    x = np.array([[[[1.0, 1.0, 0.0], [0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]]])
    t = ag.Tensor(x, requires_grad=True)
    ag.max_pool2d(t, 2).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[[[1 / 3, 1 / 3, 0.0], [0.0, 1 / 3, 0.0], [0.0, 0.0, 0.0]]]])
    sliding = ag.Tensor(x[..., :2, :2], requires_grad=True)
    ag.max_pool2d(sliding, 2, stride=1).sum().backward()
    np.testing.assert_array_equal(sliding.grad.data, t.grad.data[..., :2, :2])


def test_unfold_and_fold_are_adjoint():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    cols = ag.unfold2d(x, (2, 3), (2, 1))
    y = rng.standard_normal(cols.shape)
    assert np.vdot(cols.data, y) == pytest.approx(np.vdot(x, ag.fold2d(y, x.shape, (2, 3), (2, 1)).data), rel=1e-12)


def test_im2col_is_the_transposed_unfold_and_col2im_its_adjoint():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    cols = conv.im2col(x, (2, 3), (2, 1))
    windows = ag.unfold2d(x, (2, 3), (2, 1)).data  # (N, OH, OW, C, kh, kw)
    n, oh, ow = windows.shape[:3]
    # columns ordered (OH, OW, N): the images are the fastest axis
    np.testing.assert_array_equal(cols.data, windows.transpose(1, 2, 0, 3, 4, 5).reshape(oh * ow * n, -1).T)
    y = rng.standard_normal(cols.shape)
    assert np.vdot(cols.data, y) == pytest.approx(np.vdot(x, conv.col2im(y, x.shape, (2, 3), (2, 1)).data), rel=1e-12)
    assert_derivatives(lambda x: conv.im2col(x, (2, 3), (2, 1)), [x[:1, :2]])


def test_conv2d_returns_a_transposed_view_of_its_product():
    # the product comes out as (F, OH, OW, N): NCHW is a view of it, and stacked layers still
    # compute the convolutions
    rng = np.random.default_rng(3)
    x, w1, w2 = rng.standard_normal((4, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((2, 3, 2, 2))
    b1, b2 = rng.standard_normal(3), rng.standard_normal(2)
    hidden = ag.conv2d(x, w1, b1, padding=1)
    assert hidden.data.transpose(1, 2, 3, 0).flags.c_contiguous
    out = ag.conv2d(hidden, w2, b2, stride=2)
    np.testing.assert_allclose(out.data, naive_conv2d(naive_conv2d(x, w1, b1, 1, 1), w2, b2, 2, 0), rtol=1e-12, atol=1e-12)


def _stored_as(x, order):
    """The array ``x`` with its data stored with the axes ``order``, outermost first (a copy)."""
    return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (1, 2, 3, 0), (1, 0, 2, 3), (0, 2, 3, 1)])  # NCHW, images last, CNHW, NHWC
def test_max_pool2d_gives_the_same_in_every_memory_order(order):
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((3, 2, 5, 4)), rng.standard_normal((3, 2, 2, 2))
    x[0, 0, 0, :2] = x[0, 0, 1, 0] = 7.0  # a window with tied maxima
    reference = ag.Tensor(x, requires_grad=True)
    ag.max_pool2d(reference, 2).backward(g)
    stored = ag.Tensor(_stored_as(x, order), requires_grad=True)
    out = ag.max_pool2d(stored, 2)
    out.backward(g)
    np.testing.assert_array_equal(out.data, ag.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(stored.grad.data, reference.grad.data)
    assert reference.grad.data[0, 0, 0, 0] == pytest.approx(g[0, 0, 0, 0] / 3)


def naive_batch_norm(x, w, b, eps):
    """Per channel with loops: (x - mean) / sqrt(biased var + eps) * w + b."""
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        v = x[:, c]
        out[:, c] = (v - v.mean()) / np.sqrt(((v - v.mean()) ** 2).mean() + eps) * w[0, c, 0, 0] + b[0, c, 0, 0]
    return out


@given(seed=seeds, n=st.integers(2, 3), c=st.integers(1, 3), size=st.integers(1, 3), affine=st.booleans())
def test_batch_norm_against_a_loop(seed, n, c, size, affine):
    rng = np.random.default_rng(seed)
    x = sample("real", (n, c, size, size + 1), rng)
    w, b = sample("real", (1, c, 1, 1), rng), sample("real", (1, c, 1, 1), rng)
    out, mean, var = ops.batch_norm(x, w if affine else None, b if affine else None, axis=(0, 2, 3), eps=1e-5)
    expected = naive_batch_norm(x, w, b, 1e-5) if affine else naive_batch_norm(x, np.ones_like(w), np.zeros_like(b), 1e-5)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean.reshape(-1), x.mean(axis=(0, 2, 3)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(var.reshape(-1), x.var(axis=(0, 2, 3)), rtol=1e-12, atol=1e-15)
    if affine:
        assert_derivatives(lambda x, w, b: ops.batch_norm(x, w, b, axis=(0, 2, 3))[0], [x, w, b])
    else:
        assert_derivatives(lambda x: ops.batch_norm(x, axis=(0, 2, 3))[0], [x])


def test_batch_norm_keeps_float32_on_an_input_in_another_memory_order():
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 5)).astype(np.float32)
    t = ag.Tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3), requires_grad=True)
    w = ag.Tensor(np.ones((1, 4, 1, 1), dtype=np.float32), requires_grad=True)
    out, _, _ = ops.batch_norm(t, w, None, axis=(0, 2, 3))
    assert out.dtype == np.float32
    (out * out).sum().backward()
    assert t.grad.dtype == np.float32 and w.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, naive_batch_norm(x, np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1)), 1e-5), rtol=1e-5, atol=1e-5)


def test_subgradients_at_ties_and_kinks_follow_the_documented_convention():
    x = ag.Tensor(np.array([0.0, 1.0, -1.0]), requires_grad=True)
    (ag.abs(x) + ag.relu(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, -1.0])  # |x|' = relu' = 0 at 0
    a, b = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True), ag.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    ag.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 1.0])  # a tie splits the cotangent
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.0])
    m = ag.Tensor(np.array([[3.0, 3.0, 1.0]]), requires_grad=True)
    ag.max(m, axis=1).sum().backward()
    np.testing.assert_array_equal(m.grad.data, [[0.5, 0.5, 0.0]])
    c = ag.Tensor(np.array([-1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    ag.clip(c, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(c.grad.data, [1.0, 1.0, 1.0, 0.0])  # boundaries included


def test_stable_ops_stay_finite_at_extreme_inputs():
    x = ag.Tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]), requires_grad=True)
    for fn in (ag.sigmoid, ag.softplus, ag.tanh, lambda t: ag.logsumexp(t, axis=0), lambda t: ag.log_softmax(t, axis=0)):
        x.grad = None
        out = fn(x)
        out.sum().backward()
        assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(ag.softplus(x).data, [0.0, np.exp(-50.0), np.log(2), 50.0, 1e4], rtol=1e-15)
    assert ag.logsumexp(np.array([-np.inf, -np.inf]), axis=0).data == -np.inf


@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_a_plain_and_a_recorded_backward_pass_agree_and_keep_float32(shape):
    # The arithmetic ops evaluate their VJP formula on arrays in a plain backward pass and on
    # Tensors in a recorded one: both must give the same float32 gradient, 0-d inputs included
    rng = np.random.default_rng(0)
    data = (rng.uniform(0.5, 2.0, size=shape)).astype(np.float32)
    ops = [ag.exp, ag.log, ag.log1p, ag.sqrt, ag.sign, ag.tanh, ag.sigmoid, ag.negative,
           lambda t: t * 3.0, lambda t: 3.0 * t, lambda t: t / 3.0, lambda t: 3.0 / t, lambda t: t * t / (t + 1.0)]
    for op in ops:
        x = ag.Tensor(data, requires_grad=True)
        (plain,) = ag.grad(ag.sum(op(x)), x)
        (recorded,) = ag.grad(ag.sum(op(x)), x, create_graph=True)
        assert plain.dtype == np.float32 and recorded.dtype == np.float32
        np.testing.assert_allclose(plain.data, recorded.data, rtol=1e-6)


def test_python_number_constants_keep_their_sign_and_stay_unchanged():
    x = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    # made once and shared (see ops._numpy_constant), except signed zeros: 0.0 == -0.0
    assert np.all(np.signbit((x * -0.0).data) == [True, False])
    assert np.all(np.signbit((x * 0.0).data) == [False, True])
    assert np.all(np.signbit((x * -0.0).data) == [True, False])
    constant = (x * 2.5)._parents[1]
    assert constant is (x * 2.5)._parents[1]
    with pytest.raises(ValueError, match="read-only"):
        constant.data[...] = 0.0


def test_float32_stays_float32():
    x = ag.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = ag.sum(ag.exp(x * 2.0 + 1) / 3.0 - ag.sqrt(x) ** 2.0, axis=1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
