"""Checks and conversions the few-shot losses share: 0-d inputs, and Python numbers turned into
0-d arrays of the episode's dtype."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module


def _scalar_arg(name: str, x: Any) -> None:
    if x.ndim != 0:
        raise ValueError(f"{name} must be a scalar (a 0-d array or Tensor), got shape {tuple(x.shape)}")


def _like_input(name: str, value: Any, like: Any) -> Any:
    """A Python number as a 0-d array in the floating dtype (and array module) of ``like``, so
    that a float32 episode stays float32 (a float64 0-d array would promote it). Arrays and
    Tensors pass unchanged."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, array or Tensor, got bool {value!r}")
    if not isinstance(value, numbers.Real):
        return value
    data = as_data(like)
    module = get_array_module(data)
    kind = getattr(getattr(data, "dtype", None), "kind", None)
    return module.asarray(float(value), dtype=data.dtype if kind == "f" else np.float64)
