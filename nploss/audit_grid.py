"""The parameter grid of a loss: the values each of its parameters takes in the library audit.

The audit checks a loss at its defaults and then once per other value of each parameter, the
rest left at their defaults (one parameter varied at a time), so that every branch a parameter
selects is reached: class weights given and absent, label smoothing zero and not, ``p=1`` and
``p=2``, ``swap``, ``full``, ``log_input``, every mode of a choice.

What can be derived is derived, from the default and from what the :mod:`nploss.losses._params`
checks admit (recorded while the loss runs at its defaults):

- a flag (``True``/``False``): both values;
- a choice among strings: every option;
- a real number: the default and a second value inside the admitted range (twice the default,
  or ``0.5`` for a default of 0, else the next candidate the loss accepts);
- an integer: the default and its neighbour above (or below) that the loss accepts.

A parameter whose default is ``None``, a tuple or an object (class weights, a baseline, a
network) has no value to derive from: the loss declares its values in ``LossSpec.grid``
(a :class:`~nploss.losses._spec.Drawn` value is drawn to suit the sampled inputs), or names it
in ``LossSpec.fixed`` with the reason the audit leaves it alone. :func:`uncovered` lists the
parameters of the public function that have neither, for the registry test.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any

import numpy as np

from .losses._params import recording
from .losses._spec import SIZES, Drawn, LossSpec, OnInputs

# Public parameters that are not parameters of the loss's formula: the audit covers them otherwise.
NOT_PARAMETERS = ("reduction", "mode")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def admitted(spec: LossSpec, inputs: list[np.ndarray]) -> dict[str, tuple[Any, ...]]:
    """What the parameter checks admit, by name, recorded while the loss runs at its defaults
    (the registered loss, then the public function on the same inputs)."""
    from . import losses
    from .losses import apply_loss

    with recording() as seen, np.errstate(all="ignore"):
        try:
            apply_loss(spec, *inputs, reduction=spec.reductions[0], **spec.params)
        except Exception:  # noqa: BLE001, S110 - only the record matters here
            pass
        public = getattr(losses, spec.name, None)
        if callable(public):
            try:
                public(*inputs)
            except Exception:  # noqa: BLE001, S110 - a public function with another argument order
                pass
    return dict(seen)


def _inside(value: float, admits: tuple[Any, ...] | None) -> bool:
    if admits is None or admits[0] != "real":
        return True
    _, low, high, low_open, high_open = admits
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return above and below


def _candidates(default: Any, admits: tuple[Any, ...] | None) -> list[Any]:
    """Second values to try for a number, in order of preference."""
    if isinstance(default, numbers.Integral):
        low = admits[1] if admits and admits[0] == "integer" else None
        found = [default + 1, default - 1, 2 * default]
        return [v for v in found if v != default and (low is None or v >= low)]
    if not math.isfinite(default):  # a limit (Barron's alpha = -inf): a finite value beside it
        found = [0.0, 1.0, -1.0]
    elif default == 0:
        found = [0.5, 0.1, -0.5]
    else:
        found = [2.0 * default, 0.5 * default, default + 0.5, default - 0.5, -default]
    return [v for v in found if v != default and math.isfinite(v) and _inside(v, admits)]


def _accepted(spec: LossSpec, inputs: list[np.ndarray], params: dict[str, Any]) -> bool:
    """Whether the loss's checks accept ``params`` on ``inputs``. Only the checks run, never the
    formula: a grid that depended on what the formula computes would lose the very path a bug
    in it breaks."""
    from .losses import _apply, _validate

    try:
        with np.errstate(all="ignore"):
            _apply._validate_all(spec, _validate.as_arrays(spec, inputs), params)
    except (ValueError, TypeError, NotImplementedError):
        return False
    return True


def parameter_grid(spec: LossSpec, inputs: list[np.ndarray]) -> dict[str, tuple[Any, ...]]:
    """``{parameter: values}``, the default first: declared in ``spec.grid``, else derived (the
    module docstring). A parameter with nothing to derive keeps its default alone."""
    seen = admitted(spec, inputs)
    grid: dict[str, tuple[Any, ...]] = {}
    for name, default in spec.params.items():
        if name in spec.grid:
            values = tuple(spec.grid[name])
            grid[name] = values if any(_same(v, default) for v in values) else (default, *values)
            continue
        admits = seen.get(name)
        if isinstance(default, (bool, np.bool_)):
            grid[name] = (default, not default)
        elif isinstance(default, str) and admits is not None and admits[0] == "choice":
            grid[name] = (default, *(v for v in admits[1] if v != default))
        elif _is_number(default):
            second = next((v for v in _candidates(default, admits) if _accepted(spec, inputs, {**spec.params, name: v})), None)
            grid[name] = (default,) if second is None else (default, second)
        else:
            grid[name] = (default,)
    return grid


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (Drawn, OnInputs)) or isinstance(b, (Drawn, OnInputs)):
        return a is b
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # noqa: BLE001 - arrays and objects: only identity counts
        return a is b


def value_label(value: Any) -> str:
    """How a grid value is written in a point's name: ``0.1``, ``True``, ``sparsemax``, ``None``."""
    if isinstance(value, OnInputs):
        return value_label(value.value)
    if isinstance(value, Drawn):
        return value.label
    if _is_number(value) and not isinstance(value, numbers.Integral):
        return f"{value:g}"
    return str(value)


def grid_points(spec: LossSpec, inputs: list[np.ndarray]) -> list[tuple[str, str, Any]]:
    """The points beside the defaults: ``(label, parameter, value)``, one parameter varied at a
    time (``label`` as in ``label_smoothing=0.1``)."""
    points = []
    for name, values in parameter_grid(spec, inputs).items():
        for value in values:
            if not _same(value, spec.params[name]):
                points.append((f"{name}={value_label(value)}", name, value))
    return points


def resolve(value: Any, rng: np.random.Generator, inputs: list[np.ndarray]) -> Any:
    """A grid value for these inputs (a :class:`Drawn` one is drawn now)."""
    if isinstance(value, OnInputs):
        value = value.value
    return value.make(rng, inputs) if isinstance(value, Drawn) else value


def drawing(spec: LossSpec, value: Any) -> Any:
    """``rng -> inputs`` for a value that needs inputs of its own (:class:`OnInputs`), else None."""
    if not isinstance(value, OnInputs):
        return None
    sizes = {**SIZES, **spec.sizes}
    return lambda rng: value.sample(rng, sizes)


def public_parameters(spec: LossSpec) -> list[str]:
    """The parameters of the public function of a loss: those with a default that are not inputs
    of the registered loss, nor ``reduction``."""
    from . import losses

    names: list[str] = []
    public = getattr(losses, spec.name, None)
    inputs = {a.name for a in spec.args}
    if callable(public):
        for p in inspect.signature(public).parameters.values():
            if p.default is not inspect.Parameter.empty and p.name not in inputs and p.name not in NOT_PARAMETERS and p.name not in names:
                names.append(p.name)
    return names


def uncovered(spec: LossSpec, inputs: list[np.ndarray]) -> list[str]:
    """Parameters that the audit neither varies (fewer than two values in the grid) nor names in
    ``spec.fixed`` with a reason."""
    grid = parameter_grid(spec, inputs)
    return [n for n in public_parameters(spec) if len(grid.get(n, ())) < 2 and not spec.fixed.get(n)]


def unknown_names(spec: LossSpec) -> list[str]:
    """Names in ``spec.grid`` that are no parameter of the loss, and in ``spec.fixed`` that are
    no parameter of the public function (a typo would leave a path unaudited silently)."""
    public = set(public_parameters(spec)) | set(spec.params)
    return [n for n in spec.grid if n not in spec.params] + [n for n in spec.fixed if n not in public]


__all__ = ["drawing", "grid_points", "parameter_grid", "public_parameters", "resolve", "uncovered", "unknown_names", "value_label"]
