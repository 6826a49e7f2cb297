"""Regression losses: PyTorch reference values, closed forms, properties and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nploss.losses as L
from nploss.autograd import Tensor

from .torch_reference import assert_matches_torch, load

TORCH = load("regression")
NPLOSS = {
    **{f"mse-{r}": (lambda r: lambda prediction, target: L.mse(prediction, target, reduction=r))(r) for r in ("mean", "sum", "none")},
    "mse-zero-error": lambda prediction, target: L.mse(prediction, target),
    **{
        f"huber-d{d}-{r}": (lambda d, r: lambda prediction, target: L.huber(prediction, target, delta=d, reduction=r))(d, r)
        for d in (0.5, 1.0, 2.0)
        for r in ("mean", "none")
    },
    "huber-zero-error": lambda prediction, target: L.huber(prediction, target),
}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@given(e=st.floats(-50, 50), delta=st.floats(0.1, 5))
def test_huber_is_delta_times_smooth_l1_shape(e, delta):
    value = float(L.huber(np.array([e]), np.array([0.0]), delta=delta))
    expected = 0.5 * e * e if abs(e) <= delta else delta * (abs(e) - 0.5 * delta)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert value >= 0


def test_zero_at_a_perfect_prediction():
    y = np.random.default_rng(0).standard_normal(5)
    assert float(L.mse(y, y)) == 0.0 and float(L.huber(y, y)) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match=r"target must have the shape of prediction \(4, 1\), got \(4,\)"):
        L.mse(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="delta must be positive"):
        L.huber(np.zeros(2), np.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.mse(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="prediction contains NaN"):
        L.mse(np.array([np.nan]), np.zeros(1))


def test_arrays_in_arrays_out_tensors_in_tensor_out():
    assert isinstance(L.mse(np.ones(2), np.zeros(2)), np.ndarray)
    assert isinstance(L.mse(Tensor(np.ones(2)), np.zeros(2)), Tensor)
