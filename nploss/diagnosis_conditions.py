r"""Which condition selects the wrong elements of a gradient: the WRONG BRANCH test of the audit.

A piecewise loss has a gradient with one formula per piece, and a condition that picks the piece
for each element. When the gradient is wrong on exactly the elements one condition selects (and
right on all the others), that piece's formula or its condition is the bug. :func:`branch_condition`
searches candidate conditions over features derived from the inputs, in this order:

1. **equalities of integer inputs**: the entry of the true class (``class == label`` for a gradient
   of shape (N, C) and labels of shape (N,)), pairs of the same label (``labels[i] == labels[j]``
   for an (N, N) gradient), two label inputs equal elementwise, one class (``labels == k``);
2. **signed margins**: a ±1 or 0/1 input times a score of the gradient's shape, :math:`y f`
   (0/1 labels as :math:`2y - 1`), against a threshold (the hinge's :math:`y f < 1`), or in a
   band between two (a margin moved: :math:`0 < y f < 1`);
3. **one input's size**: :math:`|x|` or :math:`|x - y|` of inputs of the gradient's shape against
   a threshold (Huber's :math:`|p - t| \le \delta`);
4. **rows**: when whole rows are wrong, a feature of each row: a label or a pair label, a squared
   row norm :math:`\lVert x_i \rVert^2`, a cosine :math:`\cos(x_i, y_i)`, a squared distance
   :math:`\lVert x_i - y_i \rVert^2` (a contrastive loss's margin), a difference of two distances
   (a triplet's :math:`\lVert a - p \rVert^2 - \lVert a - n \rVert^2`), against a threshold on
   all rows or within one label group (``y == 0 and ||x1 - x2||^2 < margin``); thresholds that
   are a named number first, then any threshold, then a band.

A threshold is named after a scalar input, or a number the loss takes as a default argument
(``margin=1.0``), that lies between the two sides ("``< margin (= 1)``"); else the round number
0 or ±1 there; else the midpoint of the gap. A row feature must leave at least two rows on each
side, so that a condition merely isolating one row is not taken for a branch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

Candidate = tuple[str, np.ndarray]


def _is_sign_like(x: np.ndarray) -> str:
    """``"pm1"`` for an input of values in {-1, +1}, ``"01"`` for one in {0, 1} (either mixed), else ''."""
    if x.dtype.kind not in "iufb" or x.size < 2:
        return ""
    values = set(np.unique(x).tolist())
    if values <= {-1, 1} and len(values) == 2:
        return "pm1"
    if values <= {0, 1} and len(values) == 2:
        return "01"
    return ""


def _is_integer(x: np.ndarray) -> bool:
    return x.dtype.kind in "iub"


def _gap_label(lo: float, hi: float, scalars: Sequence[tuple[str, float]]) -> str:
    """A threshold between ``lo`` (the largest value on the low side) and ``hi``: a scalar input
    lying in [lo, hi], else 0 or ±1, else the midpoint."""
    for name, value in scalars:
        if lo <= value <= hi:
            return f"{name} (= {value:.4g})"
    for nice in (0.0, 1.0, -1.0):
        if lo <= nice <= hi:
            return f"{nice:g}"
    return f"{(lo + hi) / 2:.4g}"


def _separates(values: np.ndarray, wrong: np.ndarray, label: str, scalars: Sequence[tuple[str, float]], least: int, band: bool = False) -> str:
    """``"label > t"`` or ``"label < t"`` when a threshold on ``values`` splits wrong from right;
    with ``band``, also ``"lo < label < hi"``."""
    if min(int(wrong.sum()), int((~wrong).sum())) < least or not np.all(np.isfinite(values)):
        return ""
    bad, good = values[wrong], values[~wrong]
    if bad.min() > good.max():
        return f"{label} > {_gap_label(float(good.max()), float(bad.min()), scalars)}"
    if bad.max() < good.min():
        return f"{label} < {_gap_label(float(bad.max()), float(good.min()), scalars)}"
    # one band: right below and above it (a margin moved: 0 <= y f < 1 where y f < 1 was meant)
    below, above = good[good < bad.min()], good[good > bad.max()]
    if band and bad.size >= 2 and below.size + above.size == good.size and below.size and above.size:
        low = _gap_label(float(below.max()), float(bad.min()), scalars)
        high = _gap_label(float(bad.max()), float(above.min()), scalars)
        return f"{low} < {label} < {high}"
    return ""


def _equalities(shape: tuple[int, ...], inputs: Sequence[tuple[str, np.ndarray]]) -> Iterator[Candidate]:
    """Boolean masks of the gradient's shape from integer inputs."""
    ints = [(n, x) for n, x in inputs if _is_integer(x) and x.ndim >= 1]
    for name, labels in ints:
        if labels.ndim == 1 and len(shape) == 2 and labels.shape[0] == shape[0]:
            if shape[1] > 1 and labels.min() >= 0 and labels.max() < shape[1]:
                yield f"the column is the class {name}[i] (column == {name}[i])", np.arange(shape[1])[None, :] == labels[:, None]
            if shape[0] == shape[1]:
                yield f"{name}[i] == {name}[j]", labels[:, None] == labels[None, :]
        if labels.shape == shape:
            for k in np.unique(labels):
                yield f"{name} == {int(k)}", labels == k
    for i, (name_a, a) in enumerate(ints):
        for name_b, b in ints[i + 1 :]:
            if a.shape == b.shape == shape:
                yield f"{name_a} == {name_b}", a == b


def _signed_margins(shape: tuple[int, ...], inputs: Sequence[tuple[str, np.ndarray]]) -> Iterator[Candidate]:
    """:math:`y f` for a ±1 or 0/1 input ``y`` and a float input ``f`` of the gradient's shape."""
    floats = [(n, x) for n, x in inputs if x.dtype.kind == "f" and x.shape == shape]
    for name_y, y in inputs:
        kind = _is_sign_like(y)
        if not kind:
            continue
        try:
            sign = np.broadcast_to((2.0 * y - 1.0) if kind == "01" else y.astype(np.float64), shape)
        except ValueError:
            continue
        label_y = f"(2 {name_y} - 1)" if kind == "01" else name_y
        for name_f, f in floats:
            if f is not y:
                yield f"{label_y}·{name_f}", sign * f


def _magnitudes(shape: tuple[int, ...], inputs: Sequence[tuple[str, np.ndarray]]) -> Iterator[Candidate]:
    """The magnitudes of single inputs and of differences of two (the original threshold test)."""
    same = [(n, x) for n, x in inputs if x.shape == shape and x.dtype.kind == "f"]
    for name, x in same:
        yield f"|{name}|", np.abs(x)
    for i, (name_x, x) in enumerate(same):
        for name_y, y in same[i + 1 :]:
            yield f"|{name_x} - {name_y}|", np.abs(x - y)


def _row_features(n: int, inputs: Sequence[tuple[str, np.ndarray]]) -> Iterator[Candidate]:
    """Features of each of the ``n`` rows: values of (n,) inputs, squared norms and distances."""
    for name, x in inputs:
        if x.shape == (n,) and x.dtype.kind == "f":
            yield name, x
    matrices = [(name, x.reshape(n, -1)) for name, x in inputs if x.dtype.kind == "f" and x.ndim >= 2 and x.shape[0] == n]
    distances = []
    for i, (name_x, x) in enumerate(matrices):
        yield f"||{name_x}||^2", np.sum(x**2, axis=1)
        for name_y, y in matrices[i + 1 :]:
            if x.shape == y.shape:
                norms = np.sqrt(np.sum(x**2, axis=1) * np.sum(y**2, axis=1))
                if np.all(norms > 0):
                    yield f"cos({name_x}_i, {name_y}_i)", np.sum(x * y, axis=1) / norms
                d = np.sum((x - y) ** 2, axis=1)
                distances.append((f"||{name_x} - {name_y}||^2", d, {name_x, name_y}))
                yield distances[-1][:2]
    for i, (label_a, da, ends_a) in enumerate(distances):
        for label_b, db, ends_b in distances[i + 1 :]:
            if ends_a & ends_b:  # two distances from a shared point: a triplet's comparison
                yield f"{label_a} - {label_b}", da - db


def _row_groups(n: int, inputs: Sequence[tuple[str, np.ndarray]]) -> Iterator[Candidate]:
    """Boolean groups of rows: one value of an integer or 0/1 input of shape (n,)."""
    for name, x in inputs:
        if x.shape == (n,) and (_is_integer(x) or _is_sign_like(x)):
            for k in np.unique(x):
                yield f"{name} == {k:g}", x == k


def branch_condition(
    wrong: np.ndarray, inputs: Sequence[np.ndarray], names: Sequence[str] | None = None, constants: Sequence[tuple[str, float]] = ()
) -> str:
    """``"wrong exactly where <condition>"`` when one candidate condition separates the wrong
    elements of a gradient from the right ones; else ''. ``wrong`` has the gradient's shape;
    ``constants`` are named numbers a threshold may be (the loss's default margin)."""
    if wrong.all() or not wrong.any():
        return ""
    names = list(names) if names is not None else [f"input {i}" for i in range(len(inputs))]
    named = list(zip(names, inputs))
    scalars = [(n, float(x.reshape(()))) for n, x in named if x.dtype.kind == "f" and x.size == 1] + list(constants)
    shape = wrong.shape
    for label, mask in _equalities(shape, named):
        if np.array_equal(mask, wrong):
            return f"wrong exactly where {label}"
        if np.array_equal(~mask, wrong):
            return f"wrong exactly where not {label}"
    margins = list(_signed_margins(shape, named))
    for band in (False, True):
        for label, values in margins:
            found = _separates(values, wrong, label, scalars, 1, band)
            if found:
                return f"wrong exactly where {found}"
    for label, values in _magnitudes(shape, named):
        if values[wrong].min() > values[~wrong].max():
            return f"wrong exactly where {label} > {values[~wrong].max():.4g}"
        if values[wrong].max() < values[~wrong].min():
            return f"wrong exactly where {label} < {values[~wrong].min():.4g}"
    return _row_condition(wrong, named, scalars)


def _row_condition(wrong: np.ndarray, named: Sequence[tuple[str, np.ndarray]], scalars: Sequence[tuple[str, float]]) -> str:
    """The condition on rows, when the wrong elements are whole rows."""
    n = wrong.shape[0] if wrong.ndim else 0
    if n < 2:
        return ""
    flat = wrong.reshape(n, -1)
    rows = flat.any(axis=1)
    if not np.array_equal(flat, np.repeat(rows[:, None], flat.shape[1], axis=1)):
        return ""
    what = "rows" if wrong.ndim > 1 else "elements"
    for label, mask in _row_groups(n, named):
        if np.array_equal(mask, rows):
            return f"wrong exactly on the {what} where {label}"
    features = list(_row_features(n, named))
    groups = [(label, group) for label, group in _row_groups(n, named) if not rows[~group].any() and group.sum() >= 3]
    # a threshold that is a named number (a margin) first, then any threshold, then a band; on
    # all rows before one group's
    for band, named_only in ((False, True), (False, False), (True, False)):
        for label, values in features:
            found = _separates(values, rows, label, scalars, 2, band)
            if found and (not named_only or "(= " in found):
                return f"wrong exactly on the {what} where {found}"
        for group_label, group in groups:
            for label, values in features:
                found = _separates(values[group], rows[group], label, scalars, 1, band)
                if found and (not named_only or "(= " in found):
                    return f"wrong exactly on the {what} where {group_label} and {found}"
    return ""
