"""Shapes shared by the distribution losses that work per sample (the gradient penalty, the VAE,
the perceptual loss): a per-sample factor broadcast over a sample's axes, and a sample's
features as one row."""

from __future__ import annotations

import math
from typing import Any


def column(xp: Any, g: Any, ndim: int) -> Any:
    """A per-sample array (N,) shaped (N, 1, ..., 1), to scale samples of ``ndim`` axes."""
    return xp.reshape(g, (g.shape[0],) + (1,) * (ndim - 1))


def flat(xp: Any, x: Any) -> Any:
    """(N, ...) -> (N, features)."""
    return xp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))  # -1 is ambiguous for 0 rows


__all__ = ["column", "flat"]
