r"""Naming what is wrong with a gradient: the classes of :func:`nploss.diagnosis.audit` at the
given inputs.

:func:`classify` compares the analytic gradient :math:`a` with the central differences
:math:`n` and tries, in order: NaN or inf (NOT FINITE); :math:`a = -n` (WRONG SIGN); :math:`a = 0`
everywhere (MISSING GRADIENT); :math:`a = c\,n` with :math:`c` a size of the inputs or its
inverse (WRONG REDUCTION), or another constant (CONSTANT FACTOR); the values of :math:`n` in other
places (PERMUTED); wrong only at kinks (KINK); zero exactly where wrong, as a loop that stops
early leaves it (MISSING GRADIENT for N of M elements); wrong exactly where one condition holds
(WRONG BRANCH, :mod:`nploss.diagnosis_conditions`); zero where wrong, following no condition
(MISSING GRADIENT); else WRONG TERM, with the rows it is wrong on when they are whole rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .diagnosis_conditions import branch_condition
from .gradcheck import ATOL, RTOL, kink_mask


def all_close(a: np.ndarray, b: np.ndarray, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """Every element of ``a`` within ``atol + rtol |b|`` of ``b``."""
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _sizes(inputs: Sequence[np.ndarray]) -> dict[str, float]:
    """Counts a reduction might divide by: every axis length, and products of them."""
    sizes: dict[str, float] = {}
    for x in inputs:
        dims = list(x.shape)
        for i in range(len(dims)):
            for j in range(i + 1, len(dims) + 1):
                n = math.prod(dims[i:j])
                if n > 1:
                    label = "x".join(str(d) for d in dims[i:j])
                    sizes.setdefault(label, float(n))
    return sizes


def _first_wrong(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> tuple[int, ...] | None:
    bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
    if not bad.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape))


def classify(
    a: np.ndarray,
    n: np.ndarray,
    inputs: Sequence[np.ndarray],
    kinks: np.ndarray | None = None,
    atol: float = ATOL,
    rtol: float = RTOL,
    names: Sequence[str] | None = None,
    failing: np.ndarray | None = None,
    constants: Sequence[tuple[str, float]] = (),
) -> tuple[str, str]:
    """Classify a wrong gradient ``a`` against the numerical ``n`` (same shape) at ordinary
    inputs: ``(kind, detail)``. NaN or inf in either is ``not finite`` (at extreme inputs,
    :func:`audit` calls that overflow instead). ``names`` name the inputs in the conditions of
    WRONG BRANCH (else ``input 0``, ...); ``failing`` marks the elements the check failed (a kink's
    element within its one-sided slopes passes it), else every element off the central difference;
    ``constants`` are numbers a branch's threshold may be named after (the loss's default margin)."""
    if not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        return "not finite", f"the gradient has {bad} NaN or inf entries of {a.size} at the given inputs"
    if not np.all(np.isfinite(n)):
        return "not finite", "the finite differences are NaN or inf: the loss is not finite within a step of the given inputs"
    if all_close(a, -n, atol, rtol):
        return "wrong sign", "a = -n"
    if np.abs(n).max(initial=0.0) > atol and np.abs(a).max(initial=0.0) <= atol:
        return "missing gradient", "a = 0"
    c = proportional(a, n, atol, rtol)
    if c is not None:
        for label, size, power in _size_matches(c, inputs, 1e-6):
            text = f"N = {label}" if power == 1 else f"1/N, N = {label}"
            return "wrong reduction", f"a = {c:.6g} n, a factor of {text}"
        return "constant factor", f"a = {c:.6g} n"
    if a.ndim == 2 and a.shape[0] == a.shape[1] and all_close(a.T, n, atol, rtol):
        return "permuted", "a is the transpose of n"
    if a.size > 1 and all_close(np.sort(a, axis=None), np.sort(n, axis=None), atol, rtol):
        return "permuted", "a holds the values of n in another order"
    wrong = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
    if kinks is not None and np.all(kinks[wrong]):
        return "kink", f"{int(wrong.sum())} wrong elements, all at kinks"
    if failing is not None and failing.any():
        wrong = failing
    zero_where_wrong = bool(np.all(np.abs(a[wrong]) <= 1e-12 * max(1.0, float(np.abs(n).max()))))
    pattern = _pattern(wrong, n, atol)
    condition = "" if zero_where_wrong and "stops early" in pattern else branch_condition(wrong, inputs, names, constants)
    if zero_where_wrong and not condition:
        # zero exactly where it is wrong, right elsewhere: part of the gradient never computed
        return "missing gradient", f"missing gradient for {int(wrong.sum())} of {wrong.size} elements ({pattern})"
    if condition:
        return "wrong branch", condition
    return "wrong term", f"{int(wrong.sum())} of {wrong.size} elements wrong" + _rows_note(wrong)


def _failing(a: np.ndarray, forward: np.ndarray, backward_: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """The elements :func:`nploss.gradcheck.compare` fails: off the central difference, and not a
    kink's element lying between its one-sided slopes."""
    central = (forward + backward_) / 2
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(a - central) <= atol + rtol * np.abs(central))
        lo, hi = np.minimum(forward, backward_), np.maximum(forward, backward_)
        between = (a >= lo - atol - rtol * np.abs(lo)) & (a <= hi + atol + rtol * np.abs(hi))
    return bad & ~(kink_mask(forward, backward_) & between)


def least_squares_factor(a: np.ndarray, n: np.ndarray) -> float | None:
    """The ``c`` that makes ``c n`` closest to ``a`` (least squares), or None where ``n = 0``."""
    nn = float(np.vdot(n, n))
    return float(np.vdot(a, n)) / nn if nn > 0 else None


def proportional(a: np.ndarray, n: np.ndarray, atol: float = ATOL, rtol: float = RTOL) -> float | None:
    """The constant ``c`` with ``a = c n`` (least squares), when it fits every element; else None."""
    c = least_squares_factor(a, n)
    return c if c is not None and abs(c) > 1e-12 and all_close(a, c * n, atol, rtol) else None


def _size_matches(c: float, inputs: Sequence[np.ndarray], tolerance: float) -> list[tuple[str, float, int]]:
    """The sizes ``N`` with ``c = N`` (power 1) or ``c = 1/N`` (power -1) within ``tolerance``."""
    found = []
    for label, size in _sizes(inputs).items():
        for factor, power in ((size, 1), (1 / size, -1)):
            if abs(c - factor) <= tolerance * abs(factor):
                found.append((label, size, power))
    return found


def _pattern(wrong: np.ndarray, n: np.ndarray, atol: float) -> str:
    """Where the wrong elements are, in words: whole rows or columns, or where a loop stopped."""
    flat_wrong = np.flatnonzero(wrong.reshape(-1))
    right_and_moving = np.flatnonzero((~wrong & (np.abs(n) > atol)).reshape(-1))
    if right_and_moving.size and right_and_moving.max() < flat_wrong.min():
        first = tuple(int(i) for i in np.unravel_index(int(flat_wrong.min()), wrong.shape))
        return f"right up to element {tuple(int(i) for i in np.unravel_index(int(right_and_moving.max()), wrong.shape))}, zero from {first} on: a loop that stops early"
    note = _rows_note(wrong).strip(" ()")
    if note:
        return note
    shown = ", ".join(str(tuple(int(i) for i in np.unravel_index(int(k), wrong.shape))) for k in flat_wrong[:6])
    return f"at {shown}" + (", ..." if flat_wrong.size > 6 else "")


def _rows_note(wrong: np.ndarray) -> str:
    """`` (wrong on rows 1, 4; right on the others)`` when the wrong elements fill whole rows (or
    columns) of a matrix; else ''."""
    if wrong.ndim < 2 or wrong.all():
        return ""
    for axis, what in ((0, "rows"), (1, "columns")):
        moved = np.moveaxis(wrong, axis, 0).reshape(wrong.shape[axis], -1)
        lines = moved.any(axis=1)
        if np.array_equal(moved, np.repeat(lines[:, None], moved.shape[1], axis=1)):
            listed = ", ".join(str(int(i)) for i in np.flatnonzero(lines)[:10])
            return f" (wrong on {what} {listed}{', ...' if lines.sum() > 10 else ''}; right on the others)"
    return ""
