"""Example inputs for auditing a user's loss from the command line: ``--inputs`` read into
random arrays (:func:`parse_inputs`), with the limits that keep a typo from allocating the
machine's memory."""

from __future__ import annotations

import math

import numpy as np

_DTYPES = {"float64": "float64", "float32": "float32", "double": "float64", "float": "float64", "int": "int64", "int64": "int64", "int32": "int32"}

#: The most elements ``--inputs`` may ask for, over all inputs (checked before allocating).
MAX_ELEMENTS = 10**8


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p.strip() for p in parts + [current] if p.strip()]


def parse_inputs(spec: str, seed: int = 0) -> tuple[list[str], list[np.ndarray], list[tuple[float, float] | None]]:
    """Random example inputs from a description such as
    ``"pred=float64[32,10], target=int[32]<10, p=float64[8] in(0,1)"``.

    Each entry is ``name=dtype[shape]`` with dtype float64, float32 or int; integers take
    ``<K`` (labels in 0..K-1, default 2); floats may take ``in(lo,hi)``, a bounded domain
    (sampled uniformly inside, and pushed to its bounds by the extreme-input check). Unbounded
    floats are standard normal. Returns names, arrays and bounds.

    Refused with a ``ValueError`` naming the input: a name given twice, an empty shape (an axis
    of 0), more than :data:`MAX_ELEMENTS` elements in all (before anything is allocated),
    bounds that are not finite, and a number of classes the dtype cannot hold.
    """
    import re

    rng = np.random.default_rng(seed)
    pattern = re.compile(r"^(\w+)\s*=\s*(\w+)\s*\[([\d,\s]*)\]\s*(?:<\s*(\d+)|in\s*\(\s*([-+\w.]+)\s*,\s*([-+\w.]+)\s*\))?$")
    entries = []
    total = 0
    for entry in _split_top_level(spec):
        match = pattern.match(entry)
        if not match:
            raise ValueError(
                f"cannot read input {entry!r}: expected name=dtype[shape] with an optional <K for "
                "integers or in(lo,hi) for floats, e.g. 'pred=float64[32,10], target=int[32]<10'"
            )
        name, dtype, shape_text, classes, lo, hi = match.groups()
        if name in (e[0] for e in entries):
            raise ValueError(f"input {name} is given twice in --inputs")
        if dtype not in _DTYPES:
            raise ValueError(f"input {name}: unknown dtype {dtype!r}; use one of {', '.join(sorted(_DTYPES))}")
        shape = tuple(int(s) for s in shape_text.replace(" ", "").split(",") if s)
        size = math.prod(shape)
        if size == 0:
            raise ValueError(f"input {name} has no elements (shape {shape}): the audit needs at least one element in every input")
        total += size
        if total > MAX_ELEMENTS:
            raise ValueError(
                f"input {name}: {dtype}[{shape_text}] is {size:,} elements; --inputs allows at most {MAX_ELEMENTS:,} "
                "in all (and the finite differences call your function twice per floating-point element: a few "
                "hundred elements check the same formula)"
            )
        entries.append((name, dtype, shape, classes, lo, hi))
    names, arrays, bounds = [], [], []
    for name, dtype, shape, classes, lo, hi in entries:
        kind = _DTYPES[dtype]
        if kind.startswith("int"):
            if lo is not None:
                raise ValueError(f"input {name}: in(lo,hi) is for floats; integers take <K")
            k = int(classes or 2)
            if not 1 <= k <= np.iinfo(kind).max:
                raise ValueError(f"input {name}: <{classes} must be between 1 and {np.iinfo(kind).max} for {dtype}")
            arrays.append(rng.integers(0, k, shape).astype(kind))
            bounds.append(None)
        elif lo is not None:
            try:
                low, high = float(lo), float(hi)
            except ValueError:
                raise ValueError(f"input {name}: in({lo},{hi}) needs two numbers") from None
            if not (math.isfinite(low) and math.isfinite(high)):
                raise ValueError(f"input {name}: in({lo},{hi}) must have finite bounds (a float64 is at most about 1.8e308)")
            if not low < high:
                raise ValueError(f"input {name}: in({lo},{hi}) is empty")
            if not math.isfinite(high - low) or np.finfo(kind).max < max(abs(low), abs(high)):
                raise ValueError(f"input {name}: in({lo},{hi}) is wider than {dtype} can sample")
            pad = 0.05 * (high - low)  # sample inside, away from the bounds the stress check uses
            arrays.append(rng.uniform(low + pad, high - pad, shape).astype(kind))
            bounds.append((low, high))
        else:
            if classes is not None:
                raise ValueError(f"input {name}: <K is for integer labels; floats take in(lo,hi)")
            arrays.append(rng.standard_normal(shape).astype(kind))
            bounds.append(None)
        names.append(name)
    return names, arrays, bounds
