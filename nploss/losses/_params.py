"""Scalar parameters of a loss (``delta``, ``margin``, ``temperature``, flags, choices), checked
once, here: every loss refuses a bad parameter with an error that names it.

- :func:`real` — a real number (not a bool, not a string), finite unless told otherwise, in a
  range given by its bounds; returned as a Python float.
- :func:`integer` — an integer (not a bool), at least ``low``.
- :func:`flag` — exactly ``True`` or ``False`` (a string ``'False'`` is refused, not truthy).
- :func:`choice` — one of a few strings.

A ``TypeError`` says the type is wrong, a ``ValueError`` that the value is out of range; NaN is
out of every range (the comparisons are written so that NaN fails them).

Within :func:`recording` every check also notes what it admits (a choice's options, a real's
bounds): the library audit derives the values a parameter takes in its grid from them.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy

_recorders: list[dict[str, tuple[Any, ...]]] = []


@contextlib.contextmanager
def recording() -> Iterator[dict[str, tuple[Any, ...]]]:
    """Within this block each check notes what it admits, by parameter name: ``("real", low,
    high, low_open, high_open)``, ``("integer", low)``, ``("flag",)`` or ``("choice", allowed)``."""
    seen: dict[str, tuple[Any, ...]] = {}
    _recorders.append(seen)
    try:
        yield seen
    finally:  # by identity: two blocks may hold equal (say, empty) records
        del _recorders[next(i for i, r in enumerate(_recorders) if r is seen)]


def _note(name: str, admits: tuple[Any, ...]) -> None:
    for seen in _recorders:
        seen.setdefault(name, admits)


def _bounds_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """The range in words or interval notation: 'positive', 'non-negative', 'in (0, 0.5)', '>= 1'."""
    if high is None:
        if low is None:
            return "finite"
        if low == 0:
            return "positive" if low_open else "non-negative"
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a float, refused (naming ``name``) unless a real number within the bounds.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``finite=False`` admits
    ``inf`` where the loss has a meaning for it (a bound of a clamp, say)."""
    _note(name, ("real", low, high, low_open, high_open))
    if getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None and value.dtype.kind in "iuf":
        value = value.item()  # a 0-d array of a number, as NumPy and PyTorch accept
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and not (v > low if low_open else v >= low)
    too_high = high is not None and not (v < high if high_open else v <= high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {_bounds_text(low, high, low_open, high_open)}, got {value!r}")
    return v


def integer(name: str, value: Any, *, low: int | None = None) -> int:
    """``value`` as an int, refused unless an integer (not a bool) of at least ``low``."""
    _note(name, ("integer", low))
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (NumPy's bools too); anything else is refused,
    so that ``'False'`` never passes as true."""
    _note(name, ("flag",))
    if not isinstance(value, (bool, numpy.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``allowed``."""
    _note(name, ("choice", tuple(allowed)))
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


__all__ = ["choice", "flag", "integer", "real", "recording"]
