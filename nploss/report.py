"""Audit output: JSON (with a schema), Markdown, and a report folder with one figure per loss.

The figure of a loss follows it along a 1-D slice :math:`x(t) = x_0 + t\\,d` through a sampled
point :math:`x_0` in a random direction :math:`d` over its differentiable inputs: the value
:math:`f(x(t))` on top, and below it the directional derivative
:math:`\\langle \\nabla f(x(t)), d \\rangle` from the analytic gradient (a line) overlaid on the
central finite differences of the plotted values (dots). Kinks show as jumps in the line.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from . import __version__
from .audit import AuditRow, _gradients, _loss_fn, sample_away_from_kinks

SCHEMA_VERSION = 1


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
        "stability": {case: problem for case, problem in row.stability.items()},
        "error": row.error,
        "failure": row.failure() or None,
    }


def audit_json(rows: Sequence[AuditRow], seed: int, dtype: str, elapsed: float) -> dict[str, Any]:
    """The whole audit as a JSON-ready dict, valid against :func:`schema`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "nploss_version": __version__,
        "seed": seed,
        "dtype": dtype,
        "elapsed_seconds": elapsed,
        "passed": all(r.passed for r in rows),
        "entries": [row_json(r) for r in rows],
    }


def _cell(row: AuditRow, prefix: str) -> str:
    errors = [r.max_rel_error for label, r in row.checks.items() if label.startswith(prefix)]
    return f"{max(errors):.2e}" if errors else "-"


def cells(row: AuditRow) -> list[str]:
    """The table cells of a row: gradient, composite, fast path, agreement, second order, stability."""
    unstable = [case for case, problem in row.stability.items() if problem]
    return [
        _cell(row, "gradient") if row.family == "op" else _cell(row, "analytic"),
        _cell(row, "composite"),
        _cell(row, "fast path"),
        "-" if row.agreement is None else f"{row.agreement:.2e}",
        _cell(row, "second order"),
        "-" if not row.stability else ("ok" if not unstable else "FAIL"),
    ]


COLUMNS = ("gradient", "composite", "fast path", "agreement", "2nd order", "stability")
LEGEND = (
    "gradient: worst relative error of the reference analytic VJP (the engine's, for ops) against "
    "finite differences; composite: the engine's gradient through primitive ops against them; "
    "fast path: the loss's fast path, where it has one, against them; agreement: the reference "
    "against the composite gradient and the fast path's value and gradient; 2nd order: the VJP "
    "differentiated again; stability: finite value and gradients at extreme inputs."
)


def audit_markdown(rows: Sequence[AuditRow], seed: int, dtype: str, elapsed: float) -> str:
    lines = ["| entry | family | " + " | ".join(COLUMNS) + " | result |", "|---" * (len(COLUMNS) + 3) + "|"]
    for row in rows:
        lines.append(f"| `{row.name}` | {row.family} | " + " | ".join(cells(row)) + f" | {'ok' if row.passed else '**FAIL**'} |")
    passed = sum(r.passed for r in rows)
    lines += ["", f"{passed} of {len(rows)} entries passed in {elapsed:.1f} s (seed {seed}, {dtype}). {LEGEND}"]
    failures = [r.failure() for r in rows if not r.passed]
    lines += [f"- FAIL {f}" for f in failures]
    return "\n".join(lines) + "\n"


def slice_figure(spec: Any, path: pathlib.Path, seed: int = 0, points: int = 121) -> pathlib.Path:
    """Plot a loss and its directional derivative along a random 1-D slice (module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0 = sample_away_from_kinks(spec, seed)
    rng = np.random.default_rng(seed + 7)
    direction = [rng.standard_normal(x.shape) if i in spec.differentiable else np.zeros(x.shape) for i, x in enumerate(x0)]
    ts = np.linspace(-2.0, 2.0, points)
    values, slopes = [], []
    for t in ts:
        xs = [x + t * d if x.dtype.kind == "f" else x for x, d in zip(x0, direction)]
        values.append(float(np.asarray(_loss_fn(spec, "mean", "fused")(*xs))))
        grads = _gradients(spec, xs, "mean", "fused", np.ones(()))
        slopes.append(sum(float(np.vdot(g, direction[i])) for i, g in zip(spec.differentiable, grads)))
    numeric = np.gradient(np.array(values), ts)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    top.plot(ts, values, color="C0", label="loss")
    top.set_ylabel("loss (mean)")
    top.set_title(f"{spec.name}: value and directional derivative along a random slice")
    top.legend()
    bottom.plot(ts, slopes, color="C1", label="analytic gradient")
    bottom.plot(ts[::4], numeric[::4], "o", color="C2", markersize=3, label="finite differences")
    bottom.set_xlabel("t  (x = x0 + t d)")
    bottom.set_ylabel("d loss / dt")
    bottom.legend()
    fig.tight_layout()
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
        figure = slice_figure(spec, directory / "figures" / f"{row.name}.png", seed)
        lines += [f"## `{row.name}` ({row.family})", "", f"$${spec.formula}$$", "", f"Reference: {spec.reference}.", ""]
        if not row.passed:
            lines += [f"**FAIL**: {row.failure()}", ""]
        lines += [f"![{row.name}](figures/{figure.name})", ""]
    out = directory / "README.md"
    out.write_text("\n".join(lines))
    return out
