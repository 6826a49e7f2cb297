"""What the losses of an error share: their two arguments, the check that the shapes agree, the
edge cases at an error of exactly 0 and of 1e4, and the distance to the kink of :math:`|e|`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._spec import Arg
from .._validate import same_shape

PAIR = (Arg("prediction", "real"), Arg("target", "real"))


def _pair_edges() -> dict[str, Any]:
    """Edge cases shared by the losses of an error: exactly zero, and huge."""
    return {
        "zero error": lambda rng: [np.full(4, 0.3), np.full(4, 0.3)],
        "errors of 1e4": lambda rng: [np.array([1e4, -1e4, 0.5, 0.0]), np.zeros(4)],
    }


def _check_pair(prediction: Any, target: Any, **_: Any) -> None:
    same_shape("prediction", prediction, "target", target)


def _abs_error_kinks(prediction: Any, target: Any, **_: Any) -> Any:
    """Distance to the kink of :math:`|e|` at :math:`e = 0` (MAE, quantile, smooth L1 with beta 0)."""
    return np.abs(prediction - target)
