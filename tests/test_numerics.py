"""The stable array functions of nploss.numerics are written for speed (no ``where`` branching
on every element, NumPy's vectorised loops): they must keep the values of the plain forms."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nploss import numerics
from nploss.losses import REGISTRY, _fast, margin

DTYPES = st.sampled_from([np.float32, np.float64])


def _reals(dtype):
    edges = st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 1e-300, 88.7, -88.7, 104.0, -104.0, 710.0, -745.2, 1e30, -1e30])
    return st.one_of(edges, st.floats(-1e4, 1e4)).map(lambda v: np.asarray(v).astype(dtype))


@st.composite
def real_arrays(draw):
    dtype = draw(DTYPES)
    return draw(arrays(dtype, st.integers(0, 40), elements=_reals(dtype).map(float)))


@given(real_arrays())
def test_sigmoid_is_the_two_branch_form_bitwise(x):
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(-np.abs(x))
        plain = np.where(x >= 0, 1.0, e).astype(x.dtype) / (1.0 + e)
        fast = numerics.sigmoid(np, x)
    assert fast.dtype == x.dtype
    np.testing.assert_array_equal(fast, plain)


@given(real_arrays())
def test_relu_and_softplus_keep_the_values_of_maximum(x):
    np.testing.assert_array_equal(numerics.relu(np, x), np.maximum(x, 0))
    assert numerics.relu(np, x).dtype == x.dtype
    with np.errstate(over="ignore", under="ignore"):
        np.testing.assert_array_equal(numerics.softplus(np, x), np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0))


def test_relu_keeps_integers_integers():
    out = numerics.relu(np, np.array([3, -2]))
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out, [3, 0])


def test_sigmoid_of_a_scalar_and_of_integers():
    assert float(numerics.sigmoid(np, np.float64(0.0))) == 0.5
    np.testing.assert_array_equal(numerics.sigmoid(np, np.array([-1, 0, 1])), 1 / (1 + np.exp(-np.array([-1.0, 0.0, 1.0]))))


@given(real_arrays(), st.data())
def test_margin_products_are_the_signed_scores(scores, data):
    signs = np.asarray(data.draw(arrays(np.int64, scores.shape, elements=st.sampled_from([-1, 1]))))
    z = margin.binary._margin(np, scores, signs)  # integer signs do not promote float32 scores
    assert z.dtype == scores.dtype
    np.testing.assert_array_equal(z, np.where(signs > 0, scores, -scores))
    np.testing.assert_array_equal(margin.binary._chain(np, signs, scores), np.where(signs > 0, scores, -scores))


@given(real_arrays(), st.floats(0.01, 100.0))
def test_huber_by_the_signed_clip_is_the_min_form(e, delta):
    with np.errstate(over="ignore"):
        a = np.abs(e)
        m = np.minimum(a, e.dtype.type(delta))
        plain = m * (a - 0.5 * m)
        fast, _ = REGISTRY["huber"].fast.forward(np, e, np.zeros_like(e), delta=delta, save=False)
    np.testing.assert_array_equal(fast, plain)


@st.composite
def real_matrices(draw):
    dtype = draw(DTYPES)
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 8)))
    return draw(arrays(dtype, shape, elements=_reals(dtype).map(float)))


@given(real_matrices(), st.sampled_from([0, 1, -1]))
def test_softmax_and_logsumexp_from_one_exponential_are_those_of_the_separate_functions(x, axis):
    with np.errstate(over="ignore", under="ignore"):
        softmax, lse = _fast.softmax_and_logsumexp(np, x, axis=axis)
        np.testing.assert_array_equal(softmax, numerics.softmax(np, x, axis=axis))
        np.testing.assert_array_equal(lse, numerics.logsumexp(np, x, axis=axis, keepdims=True))
    assert softmax.dtype == lse.dtype == x.dtype
    # with |x| up to 1e30 (float32 overflows at 88.7): finite, a distribution along the axis
    assert np.all(np.isfinite(softmax)) and np.all(softmax >= 0)
    np.testing.assert_allclose(softmax.sum(axis=axis), 1.0, rtol=1e-5 if x.dtype == np.float32 else 1e-12)


@given(real_arrays())
def test_the_fast_paths_sigmoid_and_relu_are_the_plain_ones_bitwise(x):

    if x.dtype.kind != "f" or x.ndim == 0:
        return
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(_fast.sigmoid(np, x), numerics.sigmoid(np, x))
    np.testing.assert_array_equal(_fast.relu(np, x), numerics.relu(np, x))
