"""A gallery of classic wrong gradients, each with its correct twin.

Every entry is a NumPy loss, a correct hand-written gradient, a buggy one, the inputs at which
to check them (chosen as a student would: ordinary values, plus the points a bug needs to show,
such as a sample exactly at a hinge's margin) and the class :func:`nploss.diagnosis.audit`
must give the bug. tests/test_gallery.py runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

rng = np.random.default_rng(7)


@dataclass
class Case:
    name: str
    loss: Callable[..., float]
    right: Callable[..., Any]
    wrong: Callable[..., Any]
    inputs: list[np.ndarray]
    kind: str
    bounds: list[Any] | None = None


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _onehot(y, c):
    return np.eye(c)[y]


# --- 1-3: mean squared error, three ways to get its gradient wrong ------------------------
def mse(p, t):
    return np.mean((p - t) ** 2)


def mse_grad(p, t):
    return 2 * (p - t) / p.size, -2 * (p - t) / p.size


P, T = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))

# --- 4: softmax cross entropy -------------------------------------------------------------
Y = rng.integers(0, 5, 6)
Z = rng.standard_normal((6, 5))


def cross_entropy(z, y):
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def ce_grad(z, y):
    return (_softmax(z) - _onehot(y, z.shape[1])) / len(y)


def ce_grad_unshifted(z, y):
    e = np.exp(z)  # overflows for logits above ~709: inf / inf = NaN
    return (e / e.sum(axis=1, keepdims=True) - _onehot(y, z.shape[1])) / len(y)


# --- 5: binary cross entropy on probabilities ---------------------------------------------
PB, YB = rng.uniform(0.1, 0.9, 8), rng.integers(0, 2, 8)  # integer labels: not differentiated
CLIP = 1e-7


def bce(p, y):
    p = np.clip(p, CLIP, 1 - CLIP)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_grad(p, y):
    inside = (p > CLIP) & (p < 1 - CLIP)  # the clip is flat outside: no gradient there
    q = np.clip(p, CLIP, 1 - CLIP)
    return np.where(inside, (q - y) / (q * (1 - q)), 0.0) / p.size


def bce_grad_unclipped(p, y):
    return (-y / p + (1 - y) / (1 - p)) / p.size  # division by 0 at p = 0 or 1


# --- 6: Huber ---------------------------------------------------------------------------
PH, TH = 2 * rng.standard_normal(10), rng.standard_normal(10)


def huber(p, t, d=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= d, 0.5 * e**2, d * (e - 0.5 * d)))


def huber_grad(p, t, d=1.0):
    g = np.clip(p - t, -d, d) / p.size
    return g, -g


def huber_grad_wrong_branch(p, t, d=1.0):
    g = (p - t) / p.size  # the quadratic piece's derivative used everywhere
    return g, -g


# --- 7: hinge at the margin -----------------------------------------------------------------
F = np.array([0.3, -1.2, 1.0, 2.0, -1.0, 0.5])
YH = np.array([1, -1, 1, 1, -1, -1])  # samples 2 and 4 sit exactly on the margin


def hinge(f, y):
    return np.mean(np.maximum(0.0, 1 - y * f))


def hinge_grad(f, y):
    return np.where(y * f < 1, -y, 0.0) / f.size  # at the margin: 0, a valid subgradient


def hinge_grad_wrong_at_margin(f, y):
    return np.where(y * f < 1, -y, np.where(y * f == 1, y, 0.0)) / f.size  # +y is outside [-y, 0]


# --- 8: triplet loss ----------------------------------------------------------------------
A, PO, NE = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


def triplet(a, p, n, m=5.0):  # a margin large enough that every triplet is active
    return np.mean(np.maximum(0.0, np.sum((a - p) ** 2, 1) - np.sum((a - n) ** 2, 1) + m))


def triplet_grad(a, p, n, m=5.0):
    active = (np.sum((a - p) ** 2, 1) - np.sum((a - n) ** 2, 1) + m > 0)[:, None] / len(a)
    return active * 2 * (n - p), active * -2 * (a - p), active * 2 * (a - n)


def triplet_grad_no_anchor(a, p, n, m=5.0):
    ga, gp, gn = triplet_grad(a, p, n, m)
    return np.zeros_like(ga), gp, gn  # the anchor's own gradient forgotten


# --- 9: covariance (VICReg) loss ----------------------------------------------------------
ZC = rng.standard_normal((10, 4))


def covariance(z):
    zc = z - z.mean(axis=0)
    c = zc.T @ zc / (len(z) - 1)
    off = c - np.diag(np.diag(c))
    return np.sum(off**2) / z.shape[1]


def covariance_grad(z):
    zc = z - z.mean(axis=0)
    c = zc.T @ zc / (len(z) - 1)
    off = c - np.diag(np.diag(c))
    # d/dZ of sum(off^2)/d: 4/(d(n-1)) Zc off (the centring's own term vanishes: columns of Zc sum to 0)
    return 4 * zc @ off / ((len(z) - 1) * z.shape[1])


def covariance_grad_with_diagonal(z):
    zc = z - z.mean(axis=0)
    c = zc.T @ zc / (len(z) - 1)
    return 4 * zc @ c / ((len(z) - 1) * z.shape[1])  # the diagonal counted too


# --- 10: linear regression, gradient of the weights transposed ----------------------------
X, W, YL = rng.standard_normal((6, 3)), rng.standard_normal((3, 3)), rng.standard_normal((6, 3))


def linreg(w, x, y):
    return 0.5 * np.sum((x @ w - y) ** 2)


def linreg_grad(w, x, y):
    r = x @ w - y
    return x.T @ r, r @ w.T, -r


def linreg_grad_transposed(w, x, y):
    r = x @ w - y
    return (x.T @ r).T, r @ w.T, -r  # (r^T x) instead of x^T r


# --- 11: log-cosh, gradient written with sinh / cosh --------------------------------------
PL, TL = rng.standard_normal(8), rng.standard_normal(8)


def log_cosh(p, t):
    e = np.abs(p - t)
    return np.mean(e + np.log1p(np.exp(-2 * e)) - np.log(2))


def log_cosh_grad(p, t):
    g = np.tanh(p - t) / p.size
    return g, -g


def log_cosh_grad_overflowing(p, t):
    g = np.sinh(p - t) / np.cosh(p - t) / p.size  # inf / inf = NaN for |e| > 710
    return g, -g


# --- 12: a mean over every element, differentiated as a mean over the batch only ----------
def mse_rows(p, t):
    return np.mean((p - t) ** 2)


def mse_rows_grad_batch_only(p, t):
    g = 2 * (p - t) / p.shape[0]  # divides by N, the loss divides by N * C
    return g, -g


# --- 13: focal loss without the derivative of its modulating factor -----------------------
ZF, YF = rng.standard_normal(8), rng.integers(0, 2, 8)


def _focal_parts(z, y):
    """p_t and log p_t with z_t = +-z, stable: log p_t = -softplus(-z_t)."""
    zt = np.where(y == 1, z, -z)
    log_pt = -np.logaddexp(0.0, -zt)
    return zt, np.exp(log_pt), log_pt


def focal(z, y, gamma=2.0):
    _, pt, log_pt = _focal_parts(z, y)
    return np.mean(-((1 - pt) ** gamma) * log_pt)


def focal_grad(z, y, gamma=2.0):
    # dL/dz_t = gamma (1-p_t)^gamma p_t log p_t - (1-p_t)^(gamma+1), with dp_t/dz_t = p_t (1-p_t)
    _, pt, log_pt = _focal_parts(z, y)
    sign = np.where(y == 1, 1.0, -1.0)
    return sign * (gamma * (1 - pt) ** gamma * pt * log_pt - (1 - pt) ** (gamma + 1)) / z.size


def focal_grad_constant_modulation(z, y, gamma=2.0):
    _, pt, _ = _focal_parts(z, y)
    sign = np.where(y == 1, 1.0, -1.0)
    return -sign * (1 - pt) ** (gamma + 1) / z.size  # (1 - p_t)^gamma treated as a constant


# --- 14: MSE whose gradient works in place ---------------------------------------------------
def mse_grad_in_place(p, t):
    p -= t  # reuses the caller's array: the prediction is now the error
    return 2 * p / p.size, -2 * p / p.size


# --- 15: mean Euclidean distance, with pairs that coincide ------------------------------------
DA, DB = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
DB[2] = DA[2]  # a pair at distance 0: the norm's kink


def distance(a, b):
    return np.mean(np.sqrt(np.sum((a - b) ** 2, axis=1)))


def distance_grad(a, b):
    d = np.sqrt(np.sum((a - b) ** 2, axis=1, keepdims=True))
    g = np.divide(a - b, d, out=np.zeros_like(a), where=d > 0) / len(a)  # 0 at d = 0: a subgradient
    return g, -g


def distance_grad_0_over_0(a, b):
    d = np.sqrt(np.sum((a - b) ** 2, axis=1, keepdims=True))
    g = (a - b) / d / len(a)  # 0 / 0 = NaN where the pair coincides
    return g, -g


CASES = [
    Case("MSE missing 1/N", mse, mse_grad, lambda p, t: (2 * (p - t), -2 * (p - t)), [P, T], "wrong reduction"),
    Case("MSE with the sign flipped", mse, mse_grad, lambda p, t: (-2 * (p - t) / p.size, 2 * (p - t) / p.size), [P, T], "wrong sign"),
    Case("MSE missing the 2", mse, mse_grad, lambda p, t: ((p - t) / p.size, -(p - t) / p.size), [P, T], "constant factor"),
    Case("softmax CE without the max shift", cross_entropy, ce_grad, ce_grad_unshifted, [Z, Y], "overflow"),
    Case("BCE on probabilities without clipping", bce, bce_grad, bce_grad_unclipped, [PB, YB], "overflow", [(0.0, 1.0), None]),
    Case("Huber with the wrong branch", huber, huber_grad, huber_grad_wrong_branch, [PH, TH], "wrong branch"),
    Case("hinge subgradient wrong at the margin", hinge, hinge_grad, hinge_grad_wrong_at_margin, [F, YH], "kink"),
    Case("triplet gradient ignoring the anchor", triplet, triplet_grad, triplet_grad_no_anchor, [A, PO, NE], "missing gradient"),
    Case("covariance loss counting the diagonal", covariance, covariance_grad, covariance_grad_with_diagonal, [ZC], "wrong term"),
    Case("linear regression with a transposed gradient", linreg, linreg_grad, linreg_grad_transposed, [W, X, YL], "permuted"),
    Case("log-cosh through sinh/cosh", log_cosh, log_cosh_grad, log_cosh_grad_overflowing, [PL, TL], "overflow"),
    Case("mean over N*C differentiated as a mean over N", mse_rows, mse_grad, mse_rows_grad_batch_only, [P, T], "wrong reduction"),
    Case("focal loss with its modulating factor held constant", focal, focal_grad, focal_grad_constant_modulation, [ZF, YF], "wrong term"),
    Case("MSE gradient computed in place", mse, mse_grad, mse_grad_in_place, [P, T], "mutates its input"),
    Case("distance gradient dividing 0 by 0", distance, distance_grad, distance_grad_0_over_0, [DA, DB], "not finite"),
]
