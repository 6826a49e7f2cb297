"""Audit output: JSON (with a schema), Markdown, and a report folder with one figure per loss.

The figure of a loss follows it along a 1-D slice :math:`x(t)` through a sampled point
:math:`x_0 = x(0)` in a random direction :math:`d` over its differentiable inputs, each moving
inside its domain (:data:`SLICE_PATHS`): real inputs and logits along :math:`x_0 + t\\,d`,
probabilities along :math:`\\sigma(\\operatorname{logit} x_0 + t\\,d)`, positive ones along
:math:`x_0 e^{t d}`, simplex rows renormalised, log-probability rows through ``log_softmax``;
labels, signs, binary targets and counts never move. On top the value :math:`f(x(t))`, below it
the derivative :math:`\\langle \\nabla f(x(t)), x'(t) \\rangle` from the analytic gradient (a line)
overlaid on the central finite differences of the plotted values (dots). Kinks show as jumps in
the line.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from . import __version__
from .audit import AuditRow, _loss_fn, sample_away_from_kinks

SCHEMA_VERSION = 2


def schema() -> dict[str, Any]:
    """The JSON Schema of ``nploss audit --format json`` (``nploss/audit_schema.json``)."""
    return json.loads(resources.files("nploss").joinpath("audit_schema.json").read_text())


def _check_json(result: Any) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "max_rel_error": result.max_rel_error,
        "inputs": [
            {
                "name": c.name,
                "passed": c.passed,
                "max_abs_error": c.max_abs_error,
                "max_rel_error": c.max_rel_error,
                "worst_index": list(c.worst_index),
                "analytic": c.analytic,
                "numerical": c.numerical,
                "failures": c.failures,
                "kinks": len(c.kinks),
            }
            for c in result.inputs
        ],
    }


def row_json(row: AuditRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "family": row.family,
        "passed": row.passed,
        "checks": {label: _check_json(r) for label, r in row.checks.items()},
        "agreement": row.agreement,
        "fast_agreement": row.fast_agreement,
        "stability": {case: problem for case, problem in row.stability.items()},
        "shapes": dict(row.shapes),
        "ties": dict(row.ties),
        "grid": _grid_json(row),
        "error": row.error,
        "failure": row.failure() or None,
    }


def _grid_json(row: AuditRow) -> dict[str, Any] | None:
    """The grid points of a loss (None for an op): how many, how many passed, each by label."""
    if row.family == "op":
        return None
    points = {"defaults": row.defaults_failure() or None}
    points.update({label: (None if p.passed else p.failure()) for label, p in row.grid.items()})
    return {"points": row.points, "passed": row.points_passed, "failures": points}


def audit_json(rows: Sequence[AuditRow], seed: int, dtype: str, elapsed: float) -> dict[str, Any]:
    """The whole audit as a JSON-ready dict, valid against :func:`schema`."""
    points, ties = totals(rows)
    return {
        "schema_version": SCHEMA_VERSION,
        "nploss_version": __version__,
        "seed": seed,
        "dtype": dtype,
        "elapsed_seconds": elapsed,
        "passed": all(r.passed for r in rows),
        "grid_points": points,
        "tie_fixtures": ties,
        "entries": [row_json(r) for r in rows],
    }


def totals(rows: Sequence[AuditRow]) -> tuple[int, int]:
    """Grid points and tie fixtures audited, over the losses among ``rows``."""
    losses = [r for r in rows if r.family != "op"]
    return sum(r.points for r in losses), sum(len(r.ties) for r in losses)


def _cell(row: AuditRow, prefix: str) -> str:
    errors = [r.max_rel_error for label, r in row.checks.items() if label.startswith(prefix)]
    return f"{max(errors):.2e}" if errors else "-"


def cells(row: AuditRow) -> list[str]:
    """The table cells of a row: gradient, composite, fast path, agreement, second order,
    stability, shapes, grid points and ties (the last three for losses; the errors are those at
    the defaults)."""
    unstable = [case for case, problem in row.stability.items() if problem]
    loss = row.family != "op"
    return [
        _cell(row, "gradient") if row.family == "op" else _cell(row, "analytic"),
        _cell(row, "composite"),
        _cell(row, "fast path"),
        "-" if row.agreement is None else f"{row.agreement:.2e}",
        _cell(row, "second order"),
        "-" if not row.stability else ("ok" if not unstable else "FAIL"),
        "-" if not row.shapes else ("ok" if not any(row.shapes.values()) else "FAIL"),
        f"{row.points_passed}/{row.points}" if loss else "-",
        f"{sum(p is None for p in row.ties.values())}/{len(row.ties)}" if loss and row.ties else "-",
    ]


COLUMNS = ("gradient", "composite", "fast path", "agreement", "2nd order", "stability", "shapes", "grid", "ties")
LEGEND = (
    "gradient: worst relative error of the reference analytic VJP (the engine's, for ops) against "
    "finite differences; composite: the engine's gradient through primitive ops against them; "
    "fast path: the loss's fast path, where it has one, against them; agreement: the reference "
    "against the composite gradient and the fast path's value and gradient; 2nd order: the VJP "
    "differentiated again; stability: finite value and gradients at extreme inputs; shapes: the "
    "value's shape under every reduction against the documented one; grid: the points of the "
    "parameter grid that passed every check, of all (the defaults, one parameter varied at a "
    "time, 3-D inputs); ties: the fixtures exactly at a kink whose gradients equal the documented "
    "subgradient."
)


def summary(rows: Sequence[AuditRow]) -> str:
    """'N grid points and M tie fixtures audited', over the losses among ``rows``."""
    points, ties = totals(rows)
    return f"{points} grid points and {ties} tie fixtures audited"


def audit_markdown(rows: Sequence[AuditRow], seed: int, dtype: str, elapsed: float) -> str:
    lines = ["| entry | family | " + " | ".join(COLUMNS) + " | result |", "|---" * (len(COLUMNS) + 3) + "|"]
    for row in rows:
        lines.append(f"| `{row.name}` | {row.family} | " + " | ".join(cells(row)) + f" | {'ok' if row.passed else '**FAIL**'} |")
    passed = sum(r.passed for r in rows)
    lines += ["", f"{passed} of {len(rows)} entries passed in {elapsed:.1f} s (seed {seed}, {dtype}); {summary(rows)}. {LEGEND}"]
    failures = [r.failure() for r in rows if not r.passed]
    lines += [f"- FAIL {f}" for f in failures]
    return "\n".join(lines) + "\n"


def _logistic_path(x0: np.ndarray, d: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(logit(x0) + t d), written so that x0 of exactly 0 or 1 stays there."""
    e = np.exp(np.clip(-t * d, -700.0, 700.0))
    x = x0 / (x0 + (1.0 - x0) * e)
    return x, x * (1.0 - x) * d


def _exp_path(x0: np.ndarray, d: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    x = x0 * np.exp(t * d)
    return x, x * d


def _simplex_path(x0: np.ndarray, d: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of x0 reweighted by exp(t d) and renormalised: each row stays on the simplex."""
    w = x0 * np.exp(t * d - np.max(t * d, axis=-1, keepdims=True))
    x = w / np.sum(w, axis=-1, keepdims=True)
    return x, x * (d - np.sum(x * d, axis=-1, keepdims=True))


def _log_simplex_path(x0: np.ndarray, d: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """log_softmax(x0 + t d) along the last axis: rows stay log-probabilities."""
    z = x0 + t * d
    m = np.max(z, axis=-1, keepdims=True)
    x = z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return x, d - np.sum(np.exp(x) * d, axis=-1, keepdims=True)


def _linear_path(x0: np.ndarray, d: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    return x0 + t * d, d


#: How the slice moves an argument of each domain, so that it never leaves it: ``(path, how)``,
#: ``path(x0, d, t) -> (x(t), dx/dt)``. Domains not listed (labels, signs, binary targets,
#: counts, flags) are held fixed.
SLICE_PATHS = {
    "real": (_linear_path, "x0 + t d"),
    "logits": (_linear_path, "x0 + t d"),
    "prob": (_logistic_path, "sigmoid(logit x0 + t d), in [0, 1]"),
    "positive": (_exp_path, "x0 exp(t d), positive"),
    "nonnegative": (_exp_path, "x0 exp(t d), non-negative"),
    "weight": (_exp_path, "x0 exp(t d), non-negative"),
    "simplex": (_simplex_path, "softmax(log x0 + t d), rows on the simplex"),
    "log_simplex": (_log_simplex_path, "log_softmax(x0 + t d), rows of log-probabilities"),
}
SLICE_RANGE = 2.0  # t in [-2, 2]


def slice_path(spec: Any, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], dict[int, Any], list[str]]:
    """The slice of :func:`slice_figure`: the point ``x0``, the direction ``d`` of every input,
    the path of every moving input (``{index: path}``) and notes on what is held fixed.

    Each differentiable input moves along the path of its domain (:data:`SLICE_PATHS`), so that
    probabilities stay in [0, 1], positive inputs positive, simplex rows on the simplex; labels
    and other discrete inputs never move. An input the loss refuses at the ends of the slice
    although its domain allows them (a ``real`` argument the loss wants in [0, 1]) is held fixed
    too, so that every loss gets its figure.
    """
    x0 = sample_away_from_kinks(spec, seed)
    rng = np.random.default_rng(seed + 7)
    direction = [rng.standard_normal(np.shape(x)) for x in x0]
    candidates = {}
    for i, (arg, x) in enumerate(zip(spec.args, x0)):
        known = SLICE_PATHS.get(arg.domain)
        if i in spec.differentiable and known is not None and np.asarray(x).dtype.kind == "f":
            candidates[i] = known[0]
            if known[0] is not _linear_path:
                direction[i] = 0.5 * direction[i]  # exp(±2 d) already spans a wide range
    loss = _loss_fn(spec, "mean", "fused")

    def accepted(moving: dict[int, Any]) -> bool:
        for t in (-SLICE_RANGE, SLICE_RANGE):
            xs = [moving[i](x, direction[i], t)[0] if i in moving else x for i, x in enumerate(x0)]
            try:
                with np.errstate(all="ignore"):
                    loss(*xs)
            except (ValueError, TypeError):
                return False
        return True

    paths = dict(candidates)
    refused = []
    if not accepted(paths):
        refused = [i for i in candidates if not accepted({i: candidates[i]})]
        paths = {i: p for i, p in candidates.items() if i not in refused}
        while paths and not accepted(paths):  # refused only together: hold the last one fixed
            refused.append(max(paths))
            del paths[max(paths)]
    names = [a.name for a in spec.args]
    notes = ["moving " + ", ".join(f"{names[i]} ({SLICE_PATHS[spec.args[i].domain][1]})" for i in paths) if paths else "nothing moves"]
    fixed = [names[i] for i in range(len(x0)) if i not in paths and i not in refused]
    if fixed:
        notes.append("fixed " + ", ".join(fixed))
    if refused:
        notes.append("held " + ", ".join(names[i] for i in refused) + " (the loss refuses more of its domain than the slice would reach)")
    return x0, direction, paths, notes


def slice_figure(spec: Any, path: pathlib.Path, seed: int = 0, points: int = 121) -> pathlib.Path:
    """Plot a loss and its directional derivative along a random 1-D slice (module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .autograd import Tensor, grad

    x0, direction, paths, notes = slice_path(spec, seed)
    ts = np.linspace(-SLICE_RANGE, SLICE_RANGE, points)
    loss = _loss_fn(spec, "mean", "fused")
    values, slopes = [], []
    for t in ts:
        moved = {i: move(x0[i], direction[i], t) for i, move in paths.items()}
        xs = [moved[i][0] if i in moved else x for i, x in enumerate(x0)]
        tensors = [Tensor(x, requires_grad=i in moved) for i, x in enumerate(xs)]
        out = loss(*tensors)
        values.append(float(np.asarray(out.numpy())))
        wanted = sorted(moved)
        grads = grad(out, [tensors[i] for i in wanted], allow_unused=True) if wanted and out.requires_grad else [None] * len(wanted)
        slopes.append(sum(0.0 if g is None else float(np.vdot(g.numpy(), moved[i][1])) for i, g in zip(wanted, grads)))
    numeric = np.gradient(np.array(values), ts)
    import textwrap

    caption = textwrap.wrap("; ".join(notes), 100)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    # fixed margins instead of tight_layout, which doubled the time of a figure
    fig.subplots_adjust(left=0.14, right=0.97, top=0.9 - 0.03 * len(caption), bottom=0.1, hspace=0.08)
    fig.suptitle(f"{spec.name}: value and directional derivative along a random slice", fontsize=10, y=0.985)
    fig.text(0.5, 0.94, "\n".join(caption), ha="center", va="top", fontsize=7)
    top.plot(ts, values, color="C0", label="loss")
    top.set_ylabel("loss (mean)")
    top.legend()
    bottom.plot(ts, slopes, color="C1", label="analytic gradient")
    bottom.plot(ts[::4], numeric[::4], "o", color="C2", markersize=3, label="finite differences")
    bottom.set_xlabel("t  (each moving input follows a path x(t) inside its domain, x(0) = x0)", fontsize=9)
    bottom.set_ylabel("d loss / dt")
    bottom.legend()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(rows: Sequence[AuditRow], directory: str | pathlib.Path, seed: int, dtype: str, elapsed: float) -> pathlib.Path:
    """A Markdown report with the audit table and one figure per loss, in ``directory``."""
    from .losses import REGISTRY

    directory = pathlib.Path(directory)
    (directory / "figures").mkdir(parents=True, exist_ok=True)
    lines = ["# nploss audit", "", audit_markdown(rows, seed, dtype, elapsed)]
    for row in rows:
        if row.name not in REGISTRY or row.family == "op":
            continue
        spec = REGISTRY[row.name]
        lines += [f"## `{row.name}` ({row.family})", "", f"$${spec.formula}$$", "", f"Reference: {spec.reference}.", ""]
        if not row.passed:
            lines += [f"**FAIL**: {row.failure()}", ""]
        lines += [f"Grid points: {row.points_passed} of {row.points} passed (" + ", ".join(["defaults", *row.grid]) + ")."]
        if row.ties:
            lines += ["Ties: " + "; ".join(f"{name} ({'ok' if p is None else 'FAIL'})" for name, p in row.ties.items()) + "."]
        lines += [""]
        try:
            figure = slice_figure(spec, directory / "figures" / f"{row.name}.png", seed)
        except Exception as error:  # noqa: BLE001 - one figure must not lose the report of all the others
            print(f"nploss audit: no figure for {row.name}: {type(error).__name__}: {error}", file=sys.stderr)
            lines += [f"**No figure**: {type(error).__name__}: {error}", ""]
            continue
        lines += [f"![{row.name}](figures/{figure.name})", ""]
    out = directory / "README.md"
    out.write_text("\n".join(lines))
    return out
