r"""Gradients exactly at the kinks and ties of a loss, where the sampled audit never looks.

The audit samples its inputs away from kinks, where finite differences have no one answer. A
loss is not differentiable there, and its docstring documents which subgradient it returns:
0 for a hinge exactly at its margin (``relu``'s convention), the slope from above for a clip
that passes its gradient at its bound, an even split between tied maxima. A loss with kinks
declares them as :class:`~nploss.losses._spec.Tie` fixtures: inputs exactly at the kink, and the
documented subgradient written out independently (``expected``). At each fixture:

1. the documented subgradient must lie **between the one-sided slopes**, element by element:
   :math:`(f(x) - f(x - h e_i)) / h` and :math:`(f(x + h e_i) - f(x)) / h`. A number outside
   them is no subgradient of that coordinate at all, whatever the docstring says;
2. the value, where the fixture documents it (a piece of a piecewise formula offset by a
   constant changes no gradient), and the analytic gradient (reference and fast path) and the
   composite gradient of the summed loss must **equal** the documented ones (to round-off: the
   fixture is exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The analytic gradient at an exact fixture equals the documented one to round-off.
TIE_RTOL = 1e-9
# The one-sided slopes are differences with a step: a documented value may sit on a bound.
SLOPE_RTOL = 1e-3


def _summed(spec: Any) -> str:
    return "sum" if "sum" in spec.reductions else spec.reductions[0]


def _where(index: tuple[int, ...]) -> str:
    return str(tuple(int(i) for i in index)) if index else "()"


def _value(spec: Any, inputs: list[np.ndarray], params: dict[str, Any]) -> float:
    from .audit import _loss_fn

    with np.errstate(all="ignore"):
        return float(np.sum(np.asarray(_loss_fn(spec, _summed(spec), "reference", params=params)(*inputs))))


def one_sided_slopes(spec: Any, inputs: list[np.ndarray], params: dict[str, Any], wrt: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """The slopes of the summed loss from below and from above along each element of input ``wrt``
    (NaN for a side the loss refuses, outside its domain)."""
    x = np.array(inputs[wrt], dtype=np.float64)
    below, above = np.empty(x.shape), np.empty(x.shape)
    f0 = _value(spec, [*inputs[:wrt], x, *inputs[wrt + 1 :]], params)
    for index in np.ndindex(x.shape):
        moved = []
        for sign in (-1.0, 1.0):
            y = x.copy()
            y[index] += sign * step
            try:
                moved.append(_value(spec, [*inputs[:wrt], y, *inputs[wrt + 1 :]], params))
            except ValueError:  # a side outside the domain (a count of -h): that slope does not exist
                moved.append(np.nan)
        below[index], above[index] = (f0 - moved[0]) / step, (moved[1] - f0) / step
    return below, above


def check_tie(spec: Any, tie: Any, dtype: str = "float64") -> str | None:
    """None when the gradients at the fixture equal the documented subgradient and it lies
    between the one-sided slopes; else what is wrong, naming the input and the element."""
    from .audit import _gradients, _loss_fn
    from .losses import REGISTRY

    # a fixture is written for the registered defaults and its own changes, whatever other
    # defaults a variant of the spec (a test's) was given
    registered = REGISTRY[spec.name].params if spec.name in REGISTRY else {}
    params = {**spec.params, **registered, **tie.params}
    inputs = [np.asarray(x) for x in tie.inputs()]
    expected = [np.asarray(e, dtype=np.float64) for e in tie.expected(*inputs, **params)]
    names = [spec.args[i].name for i in spec.differentiable]
    if len(expected) != len(names):
        return f"the fixture documents {len(expected)} gradients, the loss has {len(names)} differentiable inputs"
    # first the documentation: a subgradient lies between the one-sided slopes of each coordinate
    for i, name, e in zip(spec.differentiable, names, expected, strict=True):
        below, above = one_sided_slopes(spec, inputs, params, i, tie.step)
        # at the edge of the domain only one side exists: the subgradient is its slope
        below, above = np.where(np.isnan(below), above, below), np.where(np.isnan(above), below, above)
        if np.any(np.isnan(below)):  # neither side exists: the fixture is outside the domain
            index = tuple(np.argwhere(np.isnan(below))[0])
            return f"neither one-sided slope of {name} exists at element {_where(index)}: the fixture lies outside the domain"
        low, high = np.minimum(below, above), np.maximum(below, above)
        slack = SLOPE_RTOL * np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))
        outside = (e < low - slack) | (e > high + slack)
        if np.any(outside):
            index = tuple(np.argwhere(outside)[0])
            return (
                f"the documented subgradient of {name} at element {_where(index)}, {e[index]:.10g} "
                f"({tie.subgradient}), is not between the one-sided slopes {below[index]:.10g} and {above[index]:.10g}"
            )
    if tie.value is not None:  # the value, which no gradient sees
        documented = float(tie.value(*inputs, **params))
        for mode in ("reference", "fused") if spec.fast is not None else ("reference",):
            with np.errstate(all="ignore"):
                found = float(np.sum(np.asarray(_loss_fn(spec, _summed(spec), mode, params=params)(*inputs))))
            if not abs(found - documented) <= TIE_RTOL * max(1.0, abs(documented)):
                where = "" if mode == "reference" else " (fast path)"
                return f"the value is {found:.10g}{where}, documented {documented:.10g}"
    # then the code: every gradient equals it
    reduction = _summed(spec)
    with np.errstate(all="ignore"):
        shape = np.shape(np.asarray(_loss_fn(spec, reduction, "reference", params=params)(*inputs)))
    cotangent = np.ones(shape)
    modes = [("reference", "analytic"), ("composite", "composite")] + ([("fused", "fast path")] if spec.fast is not None else [])
    rtol = TIE_RTOL if dtype == "float64" else 2e-3
    for mode, label in modes:
        with np.errstate(all="ignore"):
            grads = _gradients(spec, inputs, reduction, mode, cotangent, dtype, params)
        for name, g, e in zip(names, grads, expected, strict=True):
            g = np.asarray(g, dtype=np.float64)
            if g.shape != e.shape:
                return f"{label} gradient of {name} has shape {g.shape}, documented {e.shape}"
            scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
            wrong = ~(np.abs(g - e) <= rtol * scale)
            if np.any(wrong):
                index = tuple(np.argwhere(wrong)[0])
                return (
                    f"{label} gradient of {name} at element {_where(index)} is {g[index]:.10g}, "
                    f"documented {e[index]:.10g} ({tie.subgradient})"
                )
    return None


def check_ties(spec: Any, dtype: str = "float64") -> dict[str, str | None]:
    """``{fixture: None or what is wrong}`` for every tie the loss declares."""
    found: dict[str, str | None] = {}
    for name, tie in spec.ties.items():
        try:
            found[name] = check_tie(spec, tie, dtype)
        except Exception as error:  # noqa: BLE001 - a fixture that raises fails, naming the error
            found[name] = f"raised {type(error).__name__}: {error}"
    return found


__all__ = ["check_tie", "check_ties", "one_sided_slopes"]
