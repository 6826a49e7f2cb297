"""The fast kernels of ``nploss.nn._fused`` against the plain ops of ``nploss.autograd``.

Every fast kernel must compute its plain op: the same values, dtypes and first-order gradients
(float64 to 1e-12 relative to the largest value, float32 within round-off), on several shapes,
with tied maxima for max-pooling, on inputs stored NCHW, images last (C, H, W, N) or NHWC, on
one thread and on two, its arrays cut into small blocks so that the blocked code runs. A
recorded backward pass of a fast kernel (``create_graph=True``) must give the plain op's
second-order derivatives too. The plain op is always the reference: the comparison is one-sided.
"""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
from nploss import parallel
from nploss.autograd import conv, ops
from nploss.nn import _fused

NCHW, IMAGES_LAST, NHWC = (0, 1, 2, 3), (1, 2, 3, 0), (0, 2, 3, 1)
ORDERS = {"NCHW": NCHW, "images last": IMAGES_LAST, "NHWC": NHWC}
TOLERANCE = {"float64": 1e-12, "float32": 2e-5}


@pytest.fixture(params=["1 thread", "2 threads", "default blocks"])
def threads(request, monkeypatch):
    """One or two threads, each array cut into blocks of at most 64 elements (so that even these
    small arrays go through the blocked code); or the default settings (small arrays: one block)."""
    if request.param != "default blocks":
        monkeypatch.setattr(parallel, "MIN_BLOCK_ELEMENTS", 1)
        monkeypatch.setattr(parallel, "MAX_BLOCK_ELEMENTS", 64)
        parallel.set_num_threads(int(request.param[0]))
    yield request.param
    parallel.set_num_threads(parallel._default_threads())


def stored_as(x, order):
    """``x`` with its data stored with the axes ``order``, outermost first (a copy)."""
    return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))


def assert_close(fast, plain, dtype, what):
    """``fast`` equals the reference ``plain`` to the tolerance of ``dtype``, relative to the
    largest value of ``plain``."""
    fast, plain = np.asarray(fast), np.asarray(plain)
    assert fast.shape == plain.shape and fast.dtype == plain.dtype, (what, fast.shape, plain.shape, fast.dtype, plain.dtype)
    tol = TOLERANCE[dtype]
    scale = float(np.max(np.abs(plain), initial=0.0))
    np.testing.assert_allclose(fast, plain, rtol=tol, atol=tol * scale, err_msg=what)


def _values_and_gradients(fn, arrays, cotangent):
    tensors = [ag.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(cotangent(out))
    return out, [t.grad.data for t in tensors]


def assert_same(fast, plain, arrays, dtype, second_order=True, seed=0):
    """Values and gradients of ``fast`` equal those of ``plain``, for one random cotangent; and,
    in float64, the second derivatives through a recorded backward pass: the gradient of
    ``sum(v * grad)`` with respect to the inputs and to the cotangent itself."""
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    rng = np.random.default_rng(seed)
    cotangents = {}

    def cotangent(out):  # the same for both sides
        if out.shape not in cotangents:
            cotangents[out.shape] = rng.standard_normal(out.shape).astype(out.dtype)
        return cotangents[out.shape]

    out_p, grads_p = _values_and_gradients(plain, arrays, cotangent)
    out_f, grads_f = _values_and_gradients(fast, arrays, cotangent)
    assert_close(out_f.data, out_p.data, dtype, "values")
    for i, (gf, gp) in enumerate(zip(grads_f, grads_p, strict=True)):
        assert_close(gf, gp, dtype, f"gradient of input {i}")
    if second_order and dtype == "float64":
        vs = [rng.standard_normal(a.shape) for a in arrays]
        g = cotangent(out_p)
        seconds = [_second_derivatives(fn, arrays, g, vs) for fn in (plain, fast)]
        for i, (sp, sf) in enumerate(zip(*seconds, strict=True)):
            assert_close(sf, sp, dtype, f"second derivative, input {i}")


def _second_derivatives(fn, arrays, g, vs):
    tensors = [ag.Tensor(a, requires_grad=True) for a in arrays]
    g = ag.Tensor(g, requires_grad=True)
    firsts = ag.grad(fn(*tensors), tensors, grad_outputs=g, create_graph=True)
    total = ag.sum(ag.stack([ag.sum(f * v) for f, v in zip(firsts, vs)]))
    wrt = [*tensors, g]
    seconds = ag.grad(total, wrt, allow_unused=True)
    return [np.zeros(t.shape) if s is None else s.data for s, t in zip(seconds, wrt)]


# ------------------------------------------------------------------------------------ ReLU


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (4, 3, 5, 6)])
def test_relu(threads, dtype, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    x[x > 1.2] = 0.0  # the kink: derivative 0 on both sides
    assert_same(_fused.relu, ag.relu, [x], dtype)


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_relu_in_every_memory_order_keeps_it(threads, order):
    x = stored_as(np.random.default_rng(2).standard_normal((4, 3, 5, 6)), order)
    assert_same(_fused.relu, ag.relu, [x], "float64")
    assert _fused.relu(x).data.transpose(order).flags.c_contiguous


def test_relu_with_a_non_finite_cotangent_gives_the_plain_gradient(threads):
    x = ag.Tensor(np.array([-1.0, 2.0, -3.0, 4.0]), requires_grad=True)
    g = np.array([np.inf, 1.0, np.nan, -np.inf])  # where the mask is off, not inf * 0 = NaN
    (plain,) = ag.grad(ag.relu(x), x, grad_outputs=g)
    (fast,) = ag.grad(_fused.relu(x), x, grad_outputs=g)
    np.testing.assert_array_equal(fast.data, plain.data)
    np.testing.assert_array_equal(fast.data, [0.0, 1.0, 0.0, -np.inf])


# ------------------------------------------------------------------------------------ batch norm


BATCH_NORM_CASES = {  # shape, axes, affine
    "images": ((3, 4, 5, 6), (0, 2, 3), True),
    "images, no affine": ((2, 3, 4, 4), (0, 2, 3), False),
    "(N, C)": ((6, 5), (0,), True),
    "(N, C, L)": ((4, 3, 7), (0, 2), True),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", BATCH_NORM_CASES.values(), ids=BATCH_NORM_CASES.keys())
def test_batch_norm(threads, dtype, case):
    shape, axes, affine = case
    rng = np.random.default_rng(3)
    stat_shape = tuple(1 if a in axes else n for a, n in enumerate(shape))
    x = rng.standard_normal(shape) * 2.0 + 0.5
    w, b = rng.uniform(0.5, 1.5, stat_shape), rng.standard_normal(stat_shape)

    def run(op):
        if affine:
            return lambda x, w, b: op(x, w, b, axis=axes)[0]
        return lambda x: op(x, axis=axes)[0]

    assert_same(run(_fused.batch_norm), run(ops.batch_norm), [x, w, b] if affine else [x], dtype)
    # the batch statistics, for the running estimates
    x = x.astype(dtype)
    for fast, plain in zip(_fused.batch_norm(x, axis=axes)[1:], ops.batch_norm(x, axis=axes)[1:], strict=True):
        assert_close(fast, plain, dtype, "statistics")


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_batch_norm_in_every_memory_order(threads, order):
    rng = np.random.default_rng(4)
    x = stored_as(rng.standard_normal((3, 4, 5, 5)), order)
    w, b = rng.uniform(0.5, 1.5, (1, 4, 1, 1)), rng.standard_normal((1, 4, 1, 1))
    fast = lambda *t: _fused.batch_norm(*t, axis=(0, 2, 3))[0]  # noqa: E731
    plain = lambda *t: ops.batch_norm(*t, axis=(0, 2, 3))[0]  # noqa: E731
    assert_same(fast, plain, [x, w, b], "float64")
    assert _fused.batch_norm(x, w, b, axis=(0, 2, 3))[0].data.transpose(order).flags.c_contiguous


def test_batch_norm_of_float32_with_float64_parameters_promotes_as_the_plain_op():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((3, 2, 4, 4)).astype(np.float32), rng.uniform(0.5, 1.5, (1, 2, 1, 1))
    (y_fast, *stats_fast), (y_plain, *stats_plain) = _fused.batch_norm(x, w, axis=(0, 2, 3)), ops.batch_norm(x, w, axis=(0, 2, 3))
    assert y_fast.dtype == y_plain.dtype == np.float64
    assert [s.dtype for s in stats_fast] == [s.dtype for s in stats_plain] == [np.float32, np.float32]


# ------------------------------------------------------------------------------------ max-pooling


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "shape, kernel, stride",
    [((2, 3, 4, 4), 2, None), ((3, 2, 5, 7), 2, None), ((2, 2, 6, 6), (2, 3), None), ((2, 2, 6, 5), 3, 3), ((2, 2, 5, 5), 2, 1)],
    ids=["2x2", "odd sizes (trailing row and column dropped)", "2x3", "3x3", "overlapping (the plain op)"],
)
def test_max_pool2d_with_ties(threads, dtype, shape, kernel, stride):
    x = np.random.default_rng(6).integers(0, 3, shape).astype(float)  # three values: many ties
    fast = lambda x: _fused.max_pool2d(x, kernel, stride)  # noqa: E731
    plain = lambda x: ag.max_pool2d(x, kernel, stride)  # noqa: E731
    assert_same(fast, plain, [x], dtype)


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_max_pool2d_in_every_memory_order_keeps_it(threads, order):
    x = np.random.default_rng(7).standard_normal((3, 2, 5, 4))
    x[0, 0, 0, :2] = x[0, 0, 1, 0] = 7.0  # a window with three tied maxima
    x = stored_as(x, order)
    assert_same(lambda x: _fused.max_pool2d(x, 2), lambda x: ag.max_pool2d(x, 2), [x], "float64")
    t = ag.Tensor(x, requires_grad=True)
    out = _fused.max_pool2d(t, 2)
    out.backward(np.ones(out.shape))
    assert t.grad.data[0, 0, 0, 0] == pytest.approx(1 / 3)
    assert out.data.transpose(order).flags.c_contiguous  # the output keeps the order of its input


# ------------------------------------------------------------------------------------ convolution


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("order", [NCHW, IMAGES_LAST], ids=["NCHW", "images last"])
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding, bias",
    [
        ((2, 3, 6, 6), (4, 3, 3, 3), 1, 1, True),
        ((3, 1, 7, 5), (2, 1, 3, 2), (2, 1), (0, 1), True),
        ((2, 2, 5, 5), (3, 2, 1, 1), 1, 0, False),
        ((1, 4, 6, 7), (2, 4, 2, 3), 2, 1, False),
        # stride 1, other paddings and kernels
        ((2, 3, 5, 6), (3, 3, 3, 2), 1, (2, 1), True),
        ((2, 2, 4, 5), (2, 2, 3, 3), 1, 0, True),
        ((1, 2, 4, 4), (2, 2, 2, 2), 1, 2, False),
    ],
)
def test_conv2d(threads, dtype, order, x_shape, w_shape, stride, padding, bias):
    rng = np.random.default_rng(8)
    x = stored_as(rng.standard_normal(x_shape), order)
    w, b = rng.standard_normal(w_shape) * 0.3, rng.standard_normal(w_shape[0])
    arrays = [x, w, b] if bias else [x, w]
    fast = lambda *t: _fused.conv2d(*t, stride=stride, padding=padding)  # noqa: E731
    plain = lambda *t: ag.conv2d(*t, stride=stride, padding=padding)  # noqa: E731
    assert_same(fast, plain, arrays, dtype)


def test_conv2d_of_data_that_needs_no_gradient_gives_the_weights_theirs(threads):
    rng = np.random.default_rng(15)
    x, w, b = rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    grads = []
    for conv2d in (_fused.conv2d, ag.conv2d):
        weight, bias = ag.Tensor(w, requires_grad=True), ag.Tensor(b, requires_grad=True)
        out = conv2d(x, weight, bias, padding=1)
        out.backward(np.sin(np.arange(out.size)).reshape(out.shape))
        grads.append((weight.grad.data, bias.grad.data))
    for fast, plain in zip(*grads, strict=True):
        assert_close(fast, plain, "float64", "gradient of a parameter")


@pytest.mark.parametrize("order", [NCHW, IMAGES_LAST], ids=["NCHW", "images last"])
@pytest.mark.parametrize("kernel, stride", [((2, 3), (1, 2)), ((3, 3), (1, 1)), ((2, 2), (2, 2))])
def test_im2col_and_col2im(threads, order, kernel, stride):
    rng = np.random.default_rng(9)
    x = stored_as(rng.standard_normal((3, 2, 5, 6)), order)
    assert_same(lambda x: _fused.im2col(x, kernel, stride), lambda x: conv.im2col(x, kernel, stride), [x], "float64")
    cols = conv.im2col(x, kernel, stride).data
    y = rng.standard_normal(cols.shape)
    fast = lambda y: _fused.col2im(y, x.shape, kernel, stride)  # noqa: E731
    assert_same(fast, lambda y: conv.col2im(y, x.shape, kernel, stride), [y], "float64")


def test_im2col_with_a_ones_row_appends_it_and_drops_its_cotangent(threads):
    x = np.random.default_rng(10).standard_normal((2, 3, 5, 6))
    plain = conv.im2col(x, (2, 3), (2, 1)).data
    homogeneous = _fused.im2col(x, (2, 3), (2, 1), ones_row=True).data
    np.testing.assert_array_equal(homogeneous, np.vstack([plain, np.ones((1, plain.shape[1]))]))
    # the gradient of the windows' rows is the plain one; the ones row gets none
    assert_same(
        lambda x: ag.getitem(_fused.im2col(x, (2, 3), (2, 1), ones_row=True), slice(0, -1)),
        lambda x: conv.im2col(x, (2, 3), (2, 1)),
        [x],
        "float64",
    )


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
@pytest.mark.parametrize("padding", [(1, 1), (0, 2), (0, 0)])
def test_pad2d(threads, order, padding):
    x = stored_as(np.random.default_rng(11).standard_normal((2, 3, 4, 5)), order)
    assert_same(lambda x: _fused.pad2d(x, padding), lambda x: conv.pad2d(x, padding), [x], "float64")


def test_images_last_copies_an_nchw_tensor_and_passes_the_cotangent_through():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    y = _fused.images_last(x)
    assert y.data.transpose(1, 2, 3, 0).flags.c_contiguous
    np.testing.assert_array_equal(y.data, x)
    assert_same(_fused.images_last, lambda x: x * 1.0, [x], "float64")
    assert _fused.images_last(y) is y  # already so: no copy


def test_the_fused_conv2d_stores_its_output_images_last_for_the_next_layer():
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((4, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    hidden = _fused.conv2d(x, w, padding=1)
    assert hidden.data.transpose(1, 2, 3, 0).flags.c_contiguous
    assert _fused.images_last(hidden) is hidden


# ------------------------------------------------------------------------------------ batch norm, max-pooling, ReLU


def _batch_norm_max_pool2d_plain(kernel, relu):
    """The separate plain ops: batch norm, max-pooling, ReLU."""

    def plain(x, *params):
        y = ops.batch_norm(x, *params, axis=(0, 2, 3))[0]
        pooled = ag.max_pool2d(y, kernel)
        return ag.relu(pooled) if relu else pooled

    return plain


def _batch_norm_max_pool2d_fast(kernel, relu):
    return lambda x, *params: _fused.batch_norm_max_pool2d(x, *params, kernel=kernel, relu=relu)[0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("relu", [False, True], ids=["pooled", "pooled, then ReLU"])
@pytest.mark.parametrize(
    "shape, kernel",
    [((3, 4, 4, 6), (2, 2)), ((2, 3, 5, 7), (2, 2)), ((2, 2, 6, 6), (2, 3)), ((3, 2, 3, 3), (2, 2))],
    ids=["2x2", "odd sizes (trailing row and column dropped)", "2x3", "3x3 image, one window"],
)
def test_batch_norm_max_pool2d(threads, dtype, relu, shape, kernel):
    rng = np.random.default_rng(20)
    c = shape[1]
    x = rng.standard_normal(shape) * 2.0 + 0.5
    # a scale of each sign and a zero one (a constant y: every entry of its windows ties)
    w = np.array([1.3, -0.7, 0.0, 0.4][:c]).reshape(1, c, 1, 1)
    b = rng.standard_normal((1, c, 1, 1))
    fast, plain = _batch_norm_max_pool2d_fast(kernel, relu), _batch_norm_max_pool2d_plain(kernel, relu)
    assert_same(fast, plain, [x, w, b], dtype)
    assert_same(fast, plain, [x], dtype)  # no affine map
    # the batch statistics, for the running estimates
    x = x.astype(dtype)
    stats_fast = _fused.batch_norm_max_pool2d(x, kernel=kernel)[1:]
    for fast_stat, plain_stat in zip(stats_fast, ops.batch_norm(x, axis=(0, 2, 3))[1:], strict=True):
        assert_close(fast_stat, plain_stat, dtype, "statistics")


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_batch_norm_max_pool2d_with_ties_in_every_memory_order(threads, order):
    rng = np.random.default_rng(21)
    x = rng.integers(0, 3, (4, 3, 6, 4)).astype(float)  # three values: many ties, exact in every scale
    x = stored_as(x, order)
    w, b = np.array([2.0, -1.0, 0.5]).reshape(1, 3, 1, 1), rng.standard_normal((1, 3, 1, 1))
    for relu in (False, True):
        fast, plain = _batch_norm_max_pool2d_fast((2, 2), relu), _batch_norm_max_pool2d_plain((2, 2), relu)
        assert_same(fast, plain, [x, w, b], "float64")
    out = _fused.batch_norm_max_pool2d(x, w, b, relu=True)[0]
    assert out.data.transpose(order).flags.c_contiguous  # the output keeps the memory order of its input


def test_batch_norm_max_pool2d_with_a_non_finite_cotangent_gives_the_plain_gradient(threads):
    x = np.random.default_rng(22).standard_normal((4, 2, 4, 4))
    plain, fast = _batch_norm_max_pool2d_plain((2, 2), True), _batch_norm_max_pool2d_fast((2, 2), True)
    out = plain(ag.Tensor(x))
    g = np.where(out.data > 0, 1.0, np.inf)  # infinite only where the ReLU passes nothing back
    grads = []
    for fn in (plain, fast):
        t = ag.Tensor(x, requires_grad=True)
        grads.append(ag.grad(fn(t), t, grad_outputs=g)[0].data)
    assert np.isfinite(grads[1]).all()
    assert_close(grads[1], grads[0], "float64", "gradient")


def test_batch_norm_max_pool2d_takes_the_same_values_through_its_general_branches(threads, monkeypatch):
    """On a GPU the kernel decides nothing on the host (each decision would copy a flag): it
    takes the branches for negative and zero scales, ties and a non-finite cotangent whatever
    the data. Forced here on NumPy, they must give the same values."""
    monkeypatch.setattr(_fused, "_may_hold", lambda xp, mask: True)
    rng = np.random.default_rng(23)
    x = rng.standard_normal((3, 2, 5, 4))
    w, b = np.array([0.8, 1.2]).reshape(1, 2, 1, 1), rng.standard_normal((1, 2, 1, 1))
    for relu in (False, True):
        assert_same(_batch_norm_max_pool2d_fast((2, 2), relu), _batch_norm_max_pool2d_plain((2, 2), relu), [x, w, b], "float64")


def test_batch_norm_max_pool2d_refuses_an_input_that_is_not_images():
    with pytest.raises(ValueError, match="expects an \\(N, C, H, W\\) Tensor"):
        _fused.batch_norm_max_pool2d(np.ones((3, 4)))


# ------------------------------------------------------------------------------------ the layers


def test_the_layers_compute_with_the_fast_kernels(monkeypatch):
    from nploss import nn

    called = []
    for name in ("conv2d", "batch_norm", "relu", "max_pool2d"):
        original = getattr(_fused, name)
        monkeypatch.setattr(_fused, name, lambda *a, _f=original, _n=name, **k: called.append(_n) or _f(*a, **k))
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2))
    model(np.random.default_rng(13).standard_normal((2, 1, 4, 4)))
    assert called == ["conv2d", "batch_norm", "relu", "max_pool2d"]


def test_sequential_fuses_batch_norm_max_pooling_and_relu_into_the_same_function(monkeypatch):
    from nploss import nn

    called = []
    original = _fused.batch_norm_max_pool2d
    monkeypatch.setattr(_fused, "batch_norm_max_pool2d", lambda *a, **k: called.append(k.get("relu")) or original(*a, **k))
    rng = np.random.default_rng(14)
    x = rng.standard_normal((4, 3, 5, 6))
    for tail, fused in (([nn.ReLU()], [True]), ([], [False]), ([nn.Flatten()], [False])):
        layers = [nn.BatchNorm2d(3), nn.MaxPool2d(2), *tail]
        layers[0].weight.data[:] = [1.5, -0.5, 0.0]  # a scale of each sign and a zero one
        model, separate = nn.Sequential(*layers), nn.Sequential(*[nn.Sequential(layer) for layer in layers])
        outputs, grads, stats = [], [], []
        for net in (model, separate):
            called.clear()
            layers[0].running_mean.data[...], layers[0].running_var.data[...] = 0.0, 1.0  # the same start for both
            t = ag.Tensor(x, requires_grad=True)
            out = net(t)
            out.backward(np.cos(np.arange(out.size)).reshape(out.shape))
            assert called == (fused if net is model else [])
            outputs.append(out.data)
            grads.append([t.grad.data, layers[0].weight.grad.data.copy(), layers[0].bias.grad.data.copy()])
            stats.append([layers[0].running_mean.data.copy(), layers[0].running_var.data.copy()])
            for p in layers[0].parameters():
                p.grad = None
        np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-12, atol=1e-12)
        for fast, plain in zip(grads[0], grads[1], strict=True):
            np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-12)
        for fast, plain in zip(stats[0], stats[1], strict=True):  # the running statistics, updated alike
            np.testing.assert_allclose(fast, plain, rtol=1e-12)
        assert not np.allclose(stats[0][0], 0.0)
    # evaluation and overlapping windows: the layers one by one
    model = nn.Sequential(nn.BatchNorm2d(3), nn.MaxPool2d(2), nn.ReLU())
    model.eval()
    called.clear()
    model(x)
    model = nn.Sequential(nn.BatchNorm2d(3), nn.MaxPool2d(2, stride=1))
    model(x)
    assert called == []
