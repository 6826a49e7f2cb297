r"""Auditing a user's gradient: is it right, and if not, where and how is it wrong?

:func:`audit` checks a loss and its gradient (hand-written, or the engine's when the loss uses
nploss Tensors) against central finite differences, at the given inputs and at *stressed*
versions of them (extreme magnitudes, probabilities at exactly 0 and 1). When it fails it points
at the first wrong element and classifies the error by comparing the analytic gradient
:math:`a` with the numerical one :math:`n`:

=================  ==========================================================================
class              test
=================  ==========================================================================
overflow           right at ordinary inputs; NaN/inf or wrong at extreme ones
wrong sign         :math:`a = -n`
wrong reduction    :math:`a = c\,n` with :math:`c` a size of the inputs or its inverse (N, N·C…)
constant factor    :math:`a = c\,n` with any other constant (2, 1/2, …)
permuted           the right values in the wrong places (:math:`a = n^\top`, rows swapped…)
kink               wrong only where the function is not differentiable (one-sided slopes differ)
wrong branch       wrong on one side of a threshold (one piece of a piecewise formula)
missing gradient   :math:`a = 0` where :math:`n \ne 0`
wrong term         none of the above: a term is missing, extra or wrong
=================  ==========================================================================

The classes are tried in this order; the first that fits is reported, with one sentence on what
it means and the fix a student would need.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .autograd import as_data
from .gradcheck import (
    ATOL,
    EPS,
    RTOL,
    GradCheckResult,
    compare,
    engine_gradients,
    floating_inputs,
    kink_mask,
    one_sided_and_central,
)

EXPLANATIONS = {
    "overflow": "The gradient is right for ordinary inputs but not finite or wrong at extreme ones: "
    "an exp, a division or a log overflows; use the stable form (shift logits by their max, "
    "log1p/softplus, clip probabilities) in the gradient as well as in the loss.",
    "wrong sign": "The gradient points the wrong way (a = -n): check the sign of the error term "
    "(prediction - target versus target - prediction) and of the leading minus.",
    "wrong reduction": "The gradient is off by a factor equal to a size of the inputs: the loss and "
    "its gradient use different reductions (mean versus sum, or a mean over a different axis); "
    "divide the gradient by the same count the loss divides by.",
    "constant factor": "The gradient is off by a constant factor: a factor from the chain rule is "
    "missing or doubled (the 2 of d(e^2)/de, a 1/2 in front of the loss, a temperature or a scale).",
    "permuted": "The gradient has the right values in the wrong places: an array is transposed "
    "or rows are matched to the wrong samples; check the order of matrix products and of indices.",
    "kink": "The gradient is wrong only where the loss is not differentiable: at a kink any "
    "value between the left and right slopes is a valid subgradient, and this one is outside "
    "them; fix the comparison at the boundary (< versus <=) or the value chosen there.",
    "wrong branch": "The gradient is wrong on one side of a threshold only: one piece of a "
    "piecewise formula has the wrong derivative, or the condition that selects the piece is wrong.",
    "missing gradient": "The gradient is zero where it should not be: this input's derivative "
    "was not computed, or a term that depends on it was treated as a constant.",
    "wrong term": "The gradient differs by a term that is neither a sign, a factor nor a "
    "permutation: a term of the derivation is missing, extra (a diagonal counted, a constant "
    "included) or wrong; differentiate the loss term by term and check each against its own "
    "finite differences.",
}


@dataclass
class Diagnosis:
    """The verdict on one input's gradient."""

    name: str
    kind: str  # a key of EXPLANATIONS, or "ok"
    detail: str = ""
    where: tuple[int, ...] | None = None
    analytic: float | None = None
    numerical: float | None = None

    @property
    def explanation(self) -> str:
        return EXPLANATIONS.get(self.kind, "")


@dataclass
class AuditReport:
    """What :func:`audit` found: the check at the given inputs, at stressed inputs, and a
    diagnosis for every input whose gradient is wrong."""

    ordinary: GradCheckResult
    stressed: GradCheckResult | None
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diagnoses

    def __str__(self) -> str:
        lines = ["at the given inputs: " + str(self.ordinary).replace("\n", "\n  ")]
        if self.stressed is not None:
            lines.append("at extreme inputs: " + str(self.stressed).replace("\n", "\n  "))
        if self.passed:
            lines.append("verdict: the gradient is right")
        for d in self.diagnoses:
            lines.append(f"verdict for {d.name}: {d.kind.upper()}" + (f" ({d.detail})" if d.detail else ""))
            if d.where is not None:
                lines.append(f"  first wrong element {d.where}: analytic {d.analytic:.10g} vs numerical {d.numerical:.10g}")
            lines.append(f"  {d.explanation}")
        return "\n".join(lines)


def _close(a: np.ndarray, b: np.ndarray, atol: float = ATOL, rtol: float = RTOL) -> bool:
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
) -> tuple[str, str]:
    """Classify a wrong gradient ``a`` against the numerical ``n`` (same shape): ``(kind, detail)``."""
    if not np.all(np.isfinite(a)):
        return "overflow", "the gradient has NaN or inf entries"
    if _close(a, -n, atol, rtol):
        return "wrong sign", "a = -n"
    if np.abs(n).max(initial=0.0) > atol and np.abs(a).max(initial=0.0) <= atol:
        return "missing gradient", "a = 0"
    nn = float(np.vdot(n, n))
    if nn > 0:
        c = float(np.vdot(a, n)) / nn
        if abs(c) > 1e-12 and _close(a, c * n, atol, rtol):
            for label, size in _sizes(inputs).items():
                for factor, text in ((size, f"N = {label}"), (1 / size, f"1/N, N = {label}")):
                    if abs(c - factor) <= 1e-6 * abs(factor):
                        return "wrong reduction", f"a = {c:.6g} n, a factor of {text}"
            return "constant factor", f"a = {c:.6g} n"
    if a.ndim == 2 and a.shape[0] == a.shape[1] and _close(a.T, n, atol, rtol):
        return "permuted", "a is the transpose of n"
    if a.size > 1 and _close(np.sort(a, axis=None), np.sort(n, axis=None), atol, rtol):
        return "permuted", "a holds the values of n in another order"
    wrong = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
    if kinks is not None and np.all(kinks[wrong]):
        return "kink", f"{int(wrong.sum())} wrong elements, all at kinks"
    threshold = _threshold(wrong, inputs)
    if threshold:
        return "wrong branch", threshold
    return "wrong term", f"{int(wrong.sum())} of {wrong.size} elements wrong"


def _threshold(wrong: np.ndarray, inputs: Sequence[np.ndarray]) -> str:
    """Whether the wrong elements are exactly those on one side of a threshold on the magnitude
    of an input or of the difference of two inputs of their shape (a branch of the formula)."""
    if wrong.all() or not wrong.any():
        return ""
    same = [(f"input {i}", x) for i, x in enumerate(inputs) if x.shape == wrong.shape and x.dtype.kind == "f"]
    candidates = list(same) + [
        (f"input {i} - input {j}", x - y) for (i, (_, x)) in enumerate(same) for (j, (_, y)) in enumerate(same) if i < j
    ]
    for label, values in candidates:
        m = np.abs(values)
        if m[wrong].min() > m[~wrong].max():
            return f"wrong exactly where |{label}| > {m[~wrong].max():.4g}"
        if m[wrong].max() < m[~wrong].min():
            return f"wrong exactly where |{label}| < {m[~wrong].min():.4g}"
    return ""


def stress(inputs: Sequence[np.ndarray], bounds: Sequence[tuple[float, float] | None], scale: float = 1e3) -> list[np.ndarray]:
    """Extreme versions of the inputs: unbounded floats scaled by ``scale``; bounded ones pushed
    to their bounds (probabilities of exactly 0 and 1) at every other element; integers kept."""
    out = []
    for x, bound in zip(inputs, bounds):
        if x.dtype.kind != "f":
            out.append(x)
        elif bound is None:
            out.append(x * scale)
        else:
            lo, hi = bound
            pushed = x.copy().reshape(-1)
            pushed[0::4], pushed[1::4] = lo, hi
            out.append(pushed.reshape(x.shape))
    return out


def audit(
    fn: Callable[..., Any],
    example_inputs: Sequence[Any],
    grad_fn: Callable[..., Any] | None = None,
    *,
    names: Sequence[str] | None = None,
    bounds: Sequence[tuple[float, float] | None] | None = None,
    stress_scale: float = 1e3,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> AuditReport:
    """Audit the gradient of a scalar loss ``fn(*inputs)``.

    Parameters
    ----------
    fn : callable
        The loss: NumPy arrays in, a scalar out (or nploss Tensors in, a Tensor out when
        ``grad_fn`` is None, so that the engine differentiates it).
    example_inputs : sequence of array_like
        A point at which to check. Integer inputs (labels) are not differentiated.
    grad_fn : callable, optional
        The hand-written gradient: ``grad_fn(*inputs)`` returns the gradient with respect to each
        floating-point input (one array, or a sequence in input order).
    names : sequence of str, optional
        Input names for the report.
    bounds : sequence of (lo, hi) or None, optional
        The domain of each input: ``(0, 1)`` for probabilities; None for unbounded inputs.
        Stressed inputs push bounded inputs to their bounds and scale unbounded ones.
    stress_scale : float
        How much to scale unbounded inputs for the extreme-input check (0 disables it).

    Returns
    -------
    AuditReport
        ``.passed``; ``str(report)`` explains every wrong gradient and how to fix it.
    """
    arrays = [np.array(as_data(x)) for x in example_inputs]
    arrays = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in arrays]
    names = list(names) if names is not None else [f"input {i}" for i in range(len(arrays))]
    bounds = list(bounds) if bounds is not None else [None] * len(arrays)
    ordinary, full = _check(fn, arrays, grad_fn, names, eps, atol, rtol)
    report = AuditReport(ordinary, None)
    if not ordinary.passed:
        for check, (a, n, kinks) in zip(ordinary.inputs, full):
            if not check.passed:
                kind, detail = classify(a, n, arrays, kinks, atol, rtol)
                report.diagnoses.append(_diagnosis(check.name, kind, detail, a, n, atol, rtol))
        return report
    if stress_scale:
        extreme = stress(arrays, bounds, stress_scale)
        try:
            stressed, full_stressed = _check(fn, extreme, grad_fn, names, eps, atol, rtol)
        except (FloatingPointError, OverflowError, ZeroDivisionError) as error:
            report.diagnoses.append(Diagnosis(names[0], "overflow", f"raised {type(error).__name__}: {error}"))
            return report
        report.stressed = stressed
        for check, (a, n, _) in zip(stressed.inputs, full_stressed):
            finite_numeric = np.all(np.isfinite(n))
            if not np.all(np.isfinite(a)) or (finite_numeric and not check.passed):
                detail = "NaN or inf at extreme inputs" if not np.all(np.isfinite(a)) else "wrong at extreme inputs"
                report.diagnoses.append(_diagnosis(check.name, "overflow", detail, a, n, atol, rtol))
    return report


def _diagnosis(name: str, kind: str, detail: str, a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> Diagnosis:
    with np.errstate(invalid="ignore"):
        where = _first_wrong(a, n, atol, rtol)
    if where is None:
        return Diagnosis(name, kind, detail)
    return Diagnosis(name, kind, detail, where, float(a[where]), float(n[where]))


def _analytic(fn: Callable[..., Any], arrays: list[np.ndarray], grad_fn: Callable[..., Any] | None, wrt: list[int]) -> list[np.ndarray]:
    if grad_fn is None:
        grads = engine_gradients(fn, arrays, wrt, np.ones(()))
        return [np.zeros(arrays[i].shape) if g is None else g.numpy() for i, g in zip(wrt, grads)]
    result = grad_fn(*[x.copy() for x in arrays])
    result = [result] if len(wrt) == 1 and not isinstance(result, list | tuple) else list(result)
    if len(result) != len(wrt):
        raise ValueError(f"grad_fn returned {len(result)} gradients for {len(wrt)} floating-point inputs")
    return [np.asarray(as_data(g), dtype=np.float64) for g in result]


def _check(
    fn: Callable[..., Any], arrays: list[np.ndarray], grad_fn: Callable[..., Any] | None, names: list[str], eps: float, atol: float, rtol: float
) -> tuple[GradCheckResult, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """check_grad, keeping the full analytic and numerical arrays the classification needs."""
    wrt = floating_inputs(arrays)
    checks, full = [], []
    with np.errstate(all="ignore"):  # overflow is a finding here, not a warning
        for i, a in zip(wrt, _analytic(fn, arrays, grad_fn, wrt)):
            forward, backward_, central = one_sided_and_central(fn, arrays, i, np.ones(()), eps)
            if a.shape != forward.shape:
                raise ValueError(f"the gradient of {names[i]} has shape {a.shape}, but {names[i]} has shape {forward.shape}")
            checks.append(compare(names[i], a, forward, backward_, atol, rtol))
            full.append((a, central, kink_mask(forward, backward_, atol, rtol)))
    return GradCheckResult(checks, order=1), full


# ------------------------------------------------------------------------ command-line helpers

_DTYPES = {"float64": "float64", "float32": "float32", "double": "float64", "float": "float64", "int": "int64", "int64": "int64", "int32": "int32"}


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
    """
    import re

    rng = np.random.default_rng(seed)
    pattern = re.compile(r"^(\w+)\s*=\s*(\w+)\s*\[([\d,\s]*)\]\s*(?:<\s*(\d+)|in\s*\(\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*\))?$")
    names, arrays, bounds = [], [], []
    for entry in _split_top_level(spec):
        match = pattern.match(entry)
        if not match:
            raise ValueError(
                f"cannot read input {entry!r}: expected name=dtype[shape] with an optional <K for "
                "integers or in(lo,hi) for floats, e.g. 'pred=float64[32,10], target=int[32]<10'"
            )
        name, dtype, shape_text, classes, lo, hi = match.groups()
        if dtype not in _DTYPES:
            raise ValueError(f"input {name}: unknown dtype {dtype!r}; use one of {', '.join(sorted(_DTYPES))}")
        shape = tuple(int(s) for s in shape_text.replace(" ", "").split(",") if s)
        kind = _DTYPES[dtype]
        if kind.startswith("int"):
            if lo is not None:
                raise ValueError(f"input {name}: in(lo,hi) is for floats; integers take <K")
            arrays.append(rng.integers(0, int(classes or 2), shape).astype(kind))
            bounds.append(None)
        elif lo is not None:
            low, high = float(lo), float(hi)
            if not low < high:
                raise ValueError(f"input {name}: in({lo},{hi}) is empty")
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


def load_callable(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` or ``"path/to/file.py:function"`` -> the function."""
    import importlib
    import importlib.util
    import pathlib
    import sys

    module_name, sep, attribute = target.rpartition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:FUNCTION or FILE.py:FUNCTION, got {target!r}")
    if module_name.endswith(".py") or "/" in module_name:
        path = pathlib.Path(module_name)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules.setdefault(path.stem, module)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        module = importlib.import_module(module_name)
    try:
        fn = getattr(module, attribute)
    except AttributeError:
        raise AttributeError(f"{module_name} has no function {attribute!r}") from None
    if not callable(fn):
        raise TypeError(f"{target} is not callable")
    return fn
