r"""Second looks the audit takes at a gradient: other sizes, tied elements, varied parameters.

A check at one point can mistake one bug for another, or miss one. Three probes change the
point and look again (:mod:`nploss.diagnosis` runs them):

- **another size** (:func:`resized`): a gradient off by a factor that equals an axis length may be
  a reduction (mean versus sum) or a constant that happens to equal it (a 2 with 2 features).
  At a second length of that axis a reduction's factor follows the length, a constant stays.
- **ties** (:func:`tie_groups`, :func:`joint_slopes`): at a kink each element's gradient may be
  any value between its own one-sided slopes, so a max-pool that gives the full gradient to
  every one of k tied maxima passes element by element. Moving the tied elements *together*
  changes the loss at a rate between the joint one-sided slopes, and the sum of their gradients
  must lie there (it is :math:`G`, not :math:`k G`).
- **parameters moved** (:func:`parameters`, :func:`varied`): at :math:`\gamma = 1` (or
  :math:`\beta = 0`) a missing factor :math:`\gamma` is invisible; the scalar and per-feature
  parameters are moved to other values and the check repeated, and a failure there is a
  PARAMETER FACTOR, with :func:`parameter_factor` naming the factor when it is one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .diagnosis_classify import all_close


def resized(arrays: Sequence[np.ndarray], length: int) -> tuple[list[np.ndarray], int]:
    """The inputs with every axis of ``length`` changed to another length (one shorter, or one
    longer for an axis of 2, repeating the first slice), and that new length."""
    new = length - 1 if length >= 3 else length + 1
    out = []
    for x in arrays:
        for axis, d in enumerate(x.shape):
            if d != length:
                continue
            if new < length:
                x = np.take(x, np.arange(new), axis=axis)
            else:
                x = np.concatenate([x, np.take(x, [0], axis=axis)], axis=axis)
        out.append(np.ascontiguousarray(x))
    return out, new


def follows(c: float, c_new: float, length: int, new: int, power: int) -> str:
    """Whether a factor ``c`` (at ``length``) that became ``c_new`` (at ``new``) follows the
    length to the given power (``"size"``), stays (``"constant"``), or neither (``""``)."""
    if not (np.isfinite(c_new) and c):
        return ""
    ratio, expected = c_new / c, (new / length) ** power
    if abs(ratio - expected) <= 0.02 * abs(expected):
        return "size"
    if abs(ratio - 1) <= 1e-3:
        return "constant"
    return ""


Group = dict[int, np.ndarray]  # input index -> flat indices of its elements in the group


def tie_groups(arrays: Sequence[np.ndarray], checked: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]]) -> list[Group]:
    """Groups of elements to move together, from ``(input index, kinks, forward, backward)`` of
    each checked input: kinks of equal value, in one input or across inputs (tied maxima, an
    elementwise max of two equal inputs), and all kinks of one input at once when their
    one-sided slopes turn the same way."""
    entries = [(i, k) for i, kinks, _, _ in checked for k in np.flatnonzero(kinks.reshape(-1))]
    if len(entries) < 2:
        return []
    values = np.array([arrays[i].reshape(-1)[k] for i, k in entries])
    groups: list[Group] = []
    for v in np.unique(values):
        members = [entries[j] for j in np.flatnonzero(values == v)]
        if len(members) >= 2:
            groups.append({i: np.array([k for m, k in members if m == i]) for i in sorted({m for m, _ in members})})
    for i, kinks, forward, backward_ in checked:
        flat = np.flatnonzero(kinks.reshape(-1))
        turn = np.sign(forward.reshape(-1)[flat] - backward_.reshape(-1)[flat])
        already = any(set(g) == {i} and g[i].size == flat.size for g in groups)
        if flat.size >= 2 and (np.all(turn > 0) or np.all(turn < 0)) and not already:
            groups.append({i: flat})
    return groups[:MAX_GROUPS]


#: The most tie groups one audit moves (each costs three evaluations of the loss).
MAX_GROUPS = 64


def joint_slopes(value: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], group: Group, eps: float) -> tuple[float, float]:
    """The one-sided rates of change of the loss when every element of ``group`` moves by the
    same step."""
    h = eps * max(1.0, max(float(np.max(np.abs(arrays[i].reshape(-1)[k]))) for i, k in group.items()))
    up, down = list(arrays), list(arrays)
    for i, k in group.items():
        u, d = arrays[i].copy().reshape(-1), arrays[i].copy().reshape(-1)
        u[k] += h
        d[k] -= h
        up[i], down[i] = u.reshape(arrays[i].shape), d.reshape(arrays[i].shape)
    s0 = value(arrays)
    return (value(up) - s0) / h, (s0 - value(down)) / h


def outside(total: float, forward: float, backward_: float, atol: float, rtol: float, count: int) -> bool:
    """Whether a sum of ``count`` gradients lies outside the joint one-sided slopes."""
    lo, hi = min(forward, backward_), max(forward, backward_)
    slack = count * atol + rtol * max(abs(lo), abs(hi))
    return not (lo - slack <= total <= hi + slack)


def parameters(arrays: Sequence[np.ndarray], names: Sequence[str], marked: Sequence[str] | None) -> list[int]:
    """The inputs to move: those named in ``marked``, else the floating-point inputs, smaller than
    the largest, whose values are all exactly 1 or all exactly 0 (a scale γ = 1, a shift β = 0, a
    unit temperature)."""
    if marked is not None:
        return [i for i, n in enumerate(names) if n in marked and arrays[i].dtype.kind == "f"]
    largest = max((x.size for x in arrays if x.dtype.kind == "f"), default=0)
    found = []
    for i, x in enumerate(arrays):
        # smaller than the largest input: a scale per feature or a scalar, not the data itself at 0
        if x.dtype.kind == "f" and x.size < largest and (np.all(x == 1.0) or np.all(x == 0.0)):
            found.append(i)
    return found


def varied(arrays: Sequence[np.ndarray], which: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """The inputs with each parameter in ``which`` moved away from its value: a value v != 0 to
    v times a factor in ±[0.2, 0.5] away from 1, a 0 to a value in ±[0.3, 0.6]."""
    rng = np.random.default_rng(seed)
    out = list(arrays)
    for i in which:
        x = arrays[i]
        step = rng.uniform(0.2, 0.5, x.shape) * rng.choice([-1.0, 1.0], x.shape)
        out[i] = np.where(x != 0, x * (1.0 + step), step + 0.1 * np.sign(step))
    return out


def parameter_factor(a: np.ndarray, n: np.ndarray, params: Sequence[tuple[str, np.ndarray]], atol: float, rtol: float) -> str:
    """``"... misses the factor gamma ..."`` when ``a * p = n`` (``a = n * p``: an extra one;
    ``a = n * p**2``: ``p`` where ``1/p`` belongs) for a parameter ``p`` that broadcasts to the
    gradient's shape (along its last axes, or its first)."""

    for name, p in params:
        for shaped in _broadcasts(p, a.shape):
            if all_close(a * shaped, n, atol, rtol):
                return f"the analytic gradient a misses the factor {name} (a·{name} = n, the numerical one)"
            if all_close(a, n * shaped, atol, rtol):
                return f"the analytic gradient a has an extra factor {name} (a = {name}·n, n the numerical one)"
            if all_close(a, n * shaped**2, atol, rtol):  # a multiplies by p where the formula divides by it
                return f"the analytic gradient a has {name} in place of 1/{name} (a = {name}²·n, n the numerical one)"
    return ""


def _broadcasts(p: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    out = []
    for candidate in (p, p.reshape(p.shape + (1,) * (len(shape) - p.ndim)) if p.ndim < len(shape) else p):
        try:
            out.append(np.broadcast_to(candidate, shape))
        except ValueError:
            continue
    return out
