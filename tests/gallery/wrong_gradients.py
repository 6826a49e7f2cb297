"""A gallery of classic wrong gradients, each with its correct twin.

Every entry is a NumPy loss, a correct hand-written gradient, a buggy one, the inputs at which
to check them (chosen as a student would: ordinary values, plus the points a bug needs to show,
such as a sample exactly at a hinge's margin) and the class :func:`nploss.diagnosis.audit`
must give the bug. Some entries need more of the audit: ``params`` (the inputs to move from their
values), ``like`` (the registered loss the user's loss should equal); where the bug is in the loss
itself, :data:`RIGHT_LOSS` holds the correct loss. tests/test_gallery.py runs them all.
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
    params: list[str] | None = None  # inputs to move from their given values (default: all-1 and all-0 floats)
    like: str | None = None  # the registered loss the user's loss should equal
    like_map: dict[str, str] | None = None
    like_params: dict[str, Any] | None = None

    def options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`nploss.diagnosis.audit` this case needs."""
        extra = {"bounds": self.bounds, "params": self.params}
        if self.like is not None:
            extra.update(like=self.like, like_map=self.like_map, like_params=self.like_params)
        return extra


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


# --- 16-17: 2x2 max pooling, its backward pass with tied maxima and one that stops early -------
XP = rng.standard_normal((1, 4, 4))
XP[0, 0, 0] = XP[0, 0, 1] = 3.0  # the first window's maximum, tied


def _windows(x):
    n, h, w = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 2, 4).reshape(n, h // 2, w // 2, 4)


def _unwindow(g, shape):
    n, h, w = shape
    return g.reshape(n, h // 2, w // 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(shape)


def max_pool(x):
    return np.sum(_windows(x).max(axis=-1) ** 2) / 2


def max_pool_grad(x):
    win = _windows(x)
    top = win.max(axis=-1)
    first = np.argmax(win, axis=-1)[..., None] == np.arange(4)  # the first maximum of each window
    return _unwindow(first * top[..., None], x.shape)


def max_pool_grad_every_tie(x):
    win = _windows(x)
    top = win.max(axis=-1, keepdims=True)
    return _unwindow((win == top) * top, x.shape)  # each tied maximum gets the whole gradient


def max_pool_grad_first_window_only(x):
    g = np.zeros_like(x)
    win = _windows(x)
    for i in range(win.shape[1]):
        for j in range(win.shape[2]):
            k = int(np.argmax(win[0, i, j]))
            g[0, 2 * i + k // 2, 2 * j + k % 2] = win[0, i, j, k]
            return g  # returns inside the loop: only the first window gets its gradient
    return g


# --- 18: an affine layer whose input gradient forgets the scale -----------------------------
XA, TA = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
GAMMA, BETA = np.ones(3), np.zeros(3)  # the usual initial values: gamma = 1 hides a missing gamma


def affine_mse(x, gamma, beta, t):
    return np.mean((gamma * x + beta - t) ** 2)


def affine_mse_grad(x, gamma, beta, t):
    e = 2 * (gamma * x + beta - t) / x.size
    return gamma * e, np.sum(e * x, axis=0), np.sum(e, axis=0), -e


def affine_mse_grad_no_gamma(x, gamma, beta, t):
    e = 2 * (gamma * x + beta - t) / x.size
    return e, np.sum(e * x, axis=0), np.sum(e, axis=0), -e  # d/dx forgets the factor gamma


# --- 19: binary cross entropy with an epsilon inside the log, in the loss and its gradient --
PE, TE = rng.uniform(0.1, 0.9, (4, 3)), rng.integers(0, 2, (4, 3)).astype(float)


def bce_reference(p, t):
    p = np.clip(p, 0.0, 1.0)  # the finite differences step outside [0, 1] at its bounds
    with np.errstate(divide="ignore"):
        log_p, log_q = np.maximum(np.log(p), -100.0), np.maximum(np.log1p(-p), -100.0)  # PyTorch's clamp
    return -np.mean(t * log_p + (1 - t) * log_q)


def bce_reference_grad(p, t):
    with np.errstate(divide="ignore"):
        g = np.where(np.log(p) > -100, -t / p, 0.0) + np.where(np.log1p(-p) > -100, (1 - t) / (1 - p), 0.0)
        return g / p.size, -(np.maximum(np.log(p), -100.0) - np.maximum(np.log1p(-p), -100.0)) / p.size


def bce_epsilon(p, t):
    return -np.mean(t * np.log(p + 1e-12) + (1 - t) * np.log(1 - p + 1e-12))  # 27.6, not 100, at p = 0


def bce_epsilon_grad(p, t):
    g = -t / (p + 1e-12) + (1 - t) / (1 - p + 1e-12)
    return g / p.size, -(np.log(p + 1e-12) - np.log(1 - p + 1e-12)) / p.size


# --- 20: softmax cross entropy whose loss (not its gradient) skips the max shift --------------
def cross_entropy_unshifted(z, y):
    e = np.exp(z)  # inf / inf = NaN for logits above ~709
    return -np.mean(np.log(e[np.arange(len(y)), y] / e.sum(axis=1)))


# --- 21: hinge whose gradient uses the margin 0 where the loss has 1 ------------------------
FM, YM = np.array([0.3, -1.2, 2.0, -0.4, 1.5, 0.7, -2.0, 0.1]), np.array([1, -1, 1, 1, -1, -1, -1, 1])


def hinge_grad_margin_zero(f, y):
    return np.where(y * f < 0, -y, 0.0) / f.size  # y f < 0 in place of y f < 1


# --- 22: contrastive loss, the dissimilar pairs' hinge tested on the wrong side ----------------
CX1, CX2 = rng.standard_normal((8, 2)), rng.standard_normal((8, 2))
CY = np.array([1, 0, 1, 0, 0, 1, 0, 0])  # 1: a similar pair
CX2[[1, 3]] = CX1[[1, 3]] + 0.2  # two dissimilar pairs inside the margin
CX2[[4, 6, 7]] = CX1[[4, 6, 7]] + 2.0  # three outside it


def contrastive(x1, x2, y, m=1.0):
    d2 = np.sum((x1 - x2) ** 2, axis=1)
    d = np.sqrt(d2)
    return np.mean(y * d2 + (1 - y) * np.maximum(0.0, m - d) ** 2)


def contrastive_grad(x1, x2, y, m=1.0):
    diff = x1 - x2
    d = np.sqrt(np.sum(diff**2, axis=1))
    inside = (1 - y) * (d < m) * (m - d) / np.maximum(d, 1e-12)
    g = (2 * y[:, None] * diff - 2 * inside[:, None] * diff) / len(x1)
    return g, -g


def contrastive_grad_wrong_side(x1, x2, y, m=1.0):
    diff = x1 - x2
    d = np.sqrt(np.sum(diff**2, axis=1))
    inside = (1 - y) * (d > m) * (m - d) / np.maximum(d, 1e-12)  # d > m where d < m is meant
    g = (2 * y[:, None] * diff - 2 * inside[:, None] * diff) / len(x1)
    return g, -g


# --- 23: a factor 2 that happens to equal the number of features ------------------------------
P2, T2 = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))


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
    Case("max pooling giving every tied maximum the gradient", max_pool, max_pool_grad, max_pool_grad_every_tie, [XP], "wrong at ties"),
    Case("max pooling backward returning after the first window", max_pool, max_pool_grad, max_pool_grad_first_window_only, [XP], "missing gradient"),
    Case("affine layer forgetting gamma (hidden at gamma = 1)", affine_mse, affine_mse_grad, affine_mse_grad_no_gamma, [XA, GAMMA, BETA, TA], "parameter factor"),
    Case("BCE with log(p + 1e-12) in the loss and its gradient", bce_epsilon, bce_reference_grad, bce_epsilon_grad, [PE, TE],
         "value mismatch", [(0.0, 1.0), None], like="binary_cross_entropy"),
    Case("softmax CE whose loss skips the max shift", cross_entropy_unshifted, ce_grad, ce_grad, [Z, Y], "unstable loss"),
    Case("hinge gradient with the margin at 0", hinge, hinge_grad, hinge_grad_margin_zero, [FM, YM], "wrong branch"),
    Case("contrastive hinge on the wrong side of the margin", contrastive, contrastive_grad, contrastive_grad_wrong_side, [CX1, CX2, CY], "wrong branch"),
    Case("MSE missing the 2, with 2 features", mse, mse_grad, lambda p, t: ((p - t) / p.size, -(p - t) / p.size), [P2, T2], "constant factor"),
]
"""The gallery of wrong gradients, each entry with its correct twin (``right``). For the entries
whose bug is in the loss itself (UNSTABLE LOSS, VALUE MISMATCH), the twin is audited with the
correct loss of :data:`RIGHT_LOSS` instead."""

RIGHT_LOSS = {
    "BCE with log(p + 1e-12) in the loss and its gradient": bce_reference,
    "softmax CE whose loss skips the max shift": cross_entropy,
}
