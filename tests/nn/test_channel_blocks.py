"""The fast kernels of a convolutional network (``nploss.nn._fused``) run their per-channel work
in blocks on threads (``nploss.parallel.for_each_block``): the copies of the convolution, batch
norm, ReLU and max-pooling, forward and backward. Every block computes what the whole call computes for its
channels, so results and gradients must be the same as on one thread; and the Conv-4 block's
pooling-then-ReLU must be the same function, with the same gradient, as ReLU-then-pooling."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
from nploss import parallel
from nploss.fewshot.model import conv_block
from nploss.nn import _fused


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks for any size, on three threads (blocks of unequal sizes), cut further above 64
    elements (as large arrays are cut into cache-sized pieces)."""
    monkeypatch.setattr(parallel, "MIN_BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(parallel, "MAX_BLOCK_ELEMENTS", 64)
    parallel.set_num_threads(3)
    yield
    parallel.set_num_threads(parallel._default_threads())


def _conv_bn_relu_pool(x, w, b, gamma, beta):
    y = _fused.conv2d(x, w, b, padding=1)
    y, _, _ = _fused.batch_norm(y, gamma, beta, axis=(0, 2, 3))
    return _fused.max_pool2d(_fused.relu(y), 2)


def _run(dtype, channels):
    rng = np.random.default_rng(0)
    inputs = [
        rng.standard_normal((6, channels, 9, 9)),  # odd size: max-pooling drops a row and a column
        rng.standard_normal((7, channels, 3, 3)) * 0.3,
        rng.standard_normal(7),
        rng.uniform(0.5, 1.5, (1, 7, 1, 1)),
        rng.standard_normal((1, 7, 1, 1)),
    ]
    tensors = [ag.Tensor(a.astype(dtype), requires_grad=True) for a in inputs]
    out = _conv_bn_relu_pool(*tensors)
    cotangent = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cotangent)
    return [out.numpy()] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("channels", [5, 1])  # 1: fewer channels than threads, im2col in blocks of output rows
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_blocks_on_threads_give_the_results_of_one_thread(small_blocks, monkeypatch, dtype, channels):
    parallel.set_num_threads(1)
    monkeypatch.setattr(parallel, "MAX_BLOCK_ELEMENTS", 1 << 40)  # not cut either: one block
    whole = _run(dtype, channels)
    monkeypatch.setattr(parallel, "MAX_BLOCK_ELEMENTS", 64)
    parallel.set_num_threads(3)
    blocked = _run(dtype, channels)
    for a, b in zip(whole, blocked):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)


def test_a_block_covers_its_share_and_the_shares_cover_the_array(small_blocks):
    seen = np.zeros((2, 7, 3))

    def mark(block):
        seen[block] += 1

    parallel.for_each_block(mark, seen.shape, axis=1)
    np.testing.assert_array_equal(seen, 1)  # every element once
    calls = []
    parallel.for_each_block(calls.append, seen.shape, axis=1)
    assert [c[1] for c in calls] == [slice(0, 2), slice(2, 4), slice(4, 7)]
    calls.clear()
    parallel.for_each_block(calls.append, seen.shape, axis=None)
    assert calls == [(Ellipsis,)]


def test_a_large_array_is_cut_into_cache_sized_blocks_even_on_one_thread(small_blocks, monkeypatch):
    monkeypatch.setattr(parallel, "MAX_BLOCK_ELEMENTS", 10)
    parallel.set_num_threads(1)
    calls = []
    parallel.for_each_block(calls.append, (2, 7, 3), axis=1)  # 42 elements: 5 blocks of 6 to 12
    assert [c[1] for c in calls] == [slice(0, 1), slice(1, 2), slice(2, 4), slice(4, 5), slice(5, 7)]
    calls.clear()
    parallel.for_each_block(calls.append, (2, 1, 30), axis=1)  # an axis of one: nothing to cut
    assert calls == [(Ellipsis,)]


def test_pooling_then_relu_is_relu_then_pooling_with_the_same_gradient():
    rng = np.random.default_rng(1)
    block = conv_block(3, 4, "float64", rng)
    assert [type(m).__name__ for m in block] == ["Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU"]
    x = rng.standard_normal((5, 3, 8, 8))
    x[0, :, :2, :2] = -1.0  # windows whose values are all negative, and tied
    results = []
    for order in ((2, 3), (3, 2)):  # as built, and swapped back
        xt = ag.Tensor(x, requires_grad=True)
        y = block[1](block[0](xt))
        for i in order:
            y = block[i](y)
        y.backward(np.cos(np.arange(y.size, dtype=float)).reshape(y.shape))
        results.append((y.numpy(), xt.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
