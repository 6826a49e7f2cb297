"""The library audit: every registered op and loss checked against finite differences.

Each entry is checked in float64 at a seeded point, away from its kinks:

- **ops** (:mod:`nploss.autograd.catalogue`): the engine's VJP against central differences,
  and the second derivative (``create_graph=True``) likewise;
- **losses** (:data:`nploss.losses.REGISTRY`), three gradients held against each other: the
  analytic VJP of the reference (the textbook formula), the engine's gradient of the composite
  graph, and central differences; then the analytic VJP differentiated again (second order).
  A loss with a fast path has it checked the same way, and held to the reference (values and
  gradients). Losses are checked unreduced with a random cotangent (a VJP that mixes up
  samples fails) and with their default reduction (the reduction weights are checked too).

The triangulation tells what is wrong: analytic off while composite ≈ numerical means the hand
derivative is wrong; composite off while analytic ≈ numerical means a primitive's VJP is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .autograd import Tensor, grad
from .autograd.catalogue import OP_CASES, OpCase
from .gradcheck import GradCheckResult, check_grad, check_gradgrad

# Two exact gradients (analytic and composite) must agree to this relative error.
AGREEMENT_RTOL = 1e-6
# Losses: finite differences must agree with |a - n| <= atol max(1, max|n|) + rtol |n| (tighter
# than torch's gradcheck bar, which the primitive ops use): relative error 1e-6 away from kinks,
# with an absolute floor that follows the size of the gradient (see check_grad's scale_atol).
LOSS_ATOL, LOSS_RTOL = 1e-8, 1e-6
KINK_DISTANCE = 1e-4  # resample inputs closer than this to a kink
# A fast path computes the reference's numbers in another order: they may differ by round-off only.
FAST_AGREEMENT_RTOL = {"float64": 1e-12, "float32": 1e-5}


@dataclass
class AuditRow:
    """The audit of one entry: named checks, and for losses the analytic-composite agreement."""

    name: str
    family: str
    checks: dict[str, GradCheckResult] = field(default_factory=dict)
    agreement: float | None = None  # max relative error, analytic vs composite
    agreement_rtol: float = AGREEMENT_RTOL
    fast_agreement: float | None = None  # max relative error, fast path vs reference (values and gradients)
    fast_agreement_rtol: float = FAST_AGREEMENT_RTOL["float64"]
    stability: dict[str, str | None] = field(default_factory=dict)  # sweep case -> problem or None
    error: str | None = None  # an exception raised while auditing

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and all(c.passed for c in self.checks.values())
            and (self.agreement is None or self.agreement <= self.agreement_rtol)
            and (self.fast_agreement is None or self.fast_agreement <= self.fast_agreement_rtol)
            and not any(self.stability.values())
        )

    def max_rel_error(self, check: str) -> float | None:
        return self.checks[check].max_rel_error if check in self.checks else None

    def failure(self) -> str:
        """Which check failed, for which input, at which element, with both values."""
        if self.error is not None:
            return f"{self.name}: raised {self.error}"
        for label, result in self.checks.items():
            for c in result.inputs:
                if not c.passed:
                    return (
                        f"{self.name}: {label} wrong for {c.name} at element {c.worst_index}: "
                        f"analytic {c.analytic:.10g} vs numerical {c.numerical:.10g} "
                        f"(relative error {c.max_rel_error:.2e}, {c.failures} failing elements)"
                    )
        if self.agreement is not None and self.agreement > self.agreement_rtol:
            return f"{self.name}: analytic and composite gradients differ (relative error {self.agreement:.2e})"
        if self.fast_agreement is not None and self.fast_agreement > self.fast_agreement_rtol:
            return f"{self.name}: the fast path differs from the reference (relative error {self.fast_agreement:.2e})"
        for case, problem in self.stability.items():
            if problem:
                return f"{self.name}: not finite at {case}: {problem}"
        return ""


def audit_op(case: OpCase, seed: int = 0, dtype: str = "float64") -> AuditRow:
    """The engine's VJP of one op against finite differences, and its second derivative."""
    from .autograd import astype

    atol, rtol, _ = TOLERANCES[dtype]
    inputs = case.inputs(seed)
    names = [f"x{i}" for i in range(len(inputs))]
    fn = case.fn
    if dtype != "float64":  # the op in dtype inside the graph; finite differences in float64

        def fn(*xs):  # noqa: ANN002, ANN202
            if not isinstance(xs[0], Tensor):
                return case.fn(*xs)
            return astype(case.fn(*(astype(x, dtype) for x in xs)), "float64")

    row = AuditRow(case.name, "op")
    row.checks["gradient"] = check_grad(fn, inputs, names=names, seed=seed, atol=atol, rtol=rtol)
    if dtype == "float64":
        row.checks["second order"] = check_gradgrad(case.fn, inputs, names=names, seed=seed)
    return row


def sample_away_from_kinks(spec, seed: int = 0, tries: int = 50) -> list[np.ndarray]:  # noqa: ANN001
    """Inputs of a loss drawn from its domains, redrawn while any lies near a kink."""
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        inputs = spec.sample(rng)
        if spec.kinks is None or np.min(spec.kinks(*inputs, **spec.params), initial=np.inf) > KINK_DISTANCE:
            return inputs
    raise RuntimeError(f"{spec.name}: could not sample inputs away from its kinks in {tries} tries")


TOLERANCES = {  # (atol, rtol, agreement) per dtype of the analytic computation
    "float64": (LOSS_ATOL, LOSS_RTOL, AGREEMENT_RTOL),
    # float32 carries about 7 digits: JAX's check_grads uses 2e-3 for float32
    "float32": (2e-3, 2e-3, 2e-3),
}
SCALES = {"large scale": 1e4, "small scale": 1e-4}  # applied to real-valued inputs and logits


def _loss_fn(spec, reduction: str, mode: str, dtype: str = "float64"):  # noqa: ANN001, ANN202
    """The loss as a function of its inputs. Tensors (the analytic or engine path) are cast to
    ``dtype`` inside the graph; arrays (finite differences) stay float64 on the host."""
    from .autograd import astype
    from .losses import apply_loss

    def fn(*xs):  # noqa: ANN002, ANN202
        if dtype != "float64":
            xs = tuple(astype(x, dtype) if isinstance(x, Tensor) and x.dtype.kind == "f" else x for x in xs)
        out = apply_loss(spec, *xs, reduction=reduction, mode=mode, **spec.params)
        return astype(out, "float64") if isinstance(out, Tensor) and dtype != "float64" else out

    return fn


def _gradients(spec, inputs: list[np.ndarray], reduction: str, mode: str, cotangent: np.ndarray, dtype: str = "float64") -> list[np.ndarray]:  # noqa: ANN001
    tensors = [Tensor(x, requires_grad=i in spec.differentiable) for i, x in enumerate(inputs)]
    out = _loss_fn(spec, reduction, mode, dtype)(*tensors)
    grads = grad(out, [tensors[i] for i in spec.differentiable], grad_outputs=cotangent.reshape(out.shape), allow_unused=True)
    return [np.zeros(inputs[i].shape) if g is None else g.numpy() for i, g in zip(spec.differentiable, grads)]


def stability_cases(spec, seed: int = 0) -> dict[str, list[np.ndarray]]:  # noqa: ANN001
    """The numerical-stability sweep of a loss: its own edge cases, and every real-valued input
    (domains ``real`` and ``logits``) scaled to very large and very small magnitudes."""
    cases = {name: make(np.random.default_rng(seed)) for name, make in spec.edge_cases.items()}
    base = sample_away_from_kinks(spec, seed)
    for label, scale in SCALES.items():
        cases[label] = [x * scale if a.domain in ("real", "logits") else x for a, x in zip(spec.args, base)]
    return cases


def stability(spec, seed: int = 0) -> dict[str, str | None]:  # noqa: ANN001
    """``{case: None}`` where value and gradients are finite, else what went wrong (a case the
    spec lists in ``stability_exceptions`` passes with its documented reason)."""
    found: dict[str, str | None] = {}
    for case, inputs in stability_cases(spec, seed).items():
        problem = None
        for mode in ("reference", "fused") if spec.fast is not None else ("reference",):
            where = "" if mode == "reference" else " (fast path)"
            try:
                with np.errstate(all="ignore"):
                    value = np.asarray(_loss_fn(spec, "mean", mode)(*inputs))
                    grads = _gradients(spec, inputs, "mean", mode, np.ones(value.shape))
                if not np.all(np.isfinite(value)):
                    problem = f"value {value}{where}"
                elif not all(np.all(np.isfinite(g)) for g in grads):
                    problem = f"non-finite gradient{where}"
            except Exception as error:  # a loss that refuses the input must say so in its exceptions
                problem = f"raised {type(error).__name__}: {error}{where}"
            if problem is not None:
                break
        if problem is not None and case in spec.stability_exceptions:
            problem = None
        found[case] = problem
    return found


def audit_loss(spec, seed: int = 0, dtype: str = "float64") -> AuditRow:  # noqa: ANN001
    """Analytic vs composite vs finite differences, unreduced and reduced; second order; the
    stability sweep. ``dtype`` is the precision of the analytic and composite computations
    (finite differences are always float64)."""
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be one of {', '.join(TOLERANCES)}, got {dtype!r}")
    atol, rtol, agreement_rtol = TOLERANCES[dtype]
    row = AuditRow(spec.name, spec.family, agreement_rtol=agreement_rtol, fast_agreement_rtol=FAST_AGREEMENT_RTOL[dtype])
    try:
        inputs = sample_away_from_kinks(spec, seed)
        names = [a.name for a in spec.args]
        wrt = list(spec.differentiable)
        reductions = ["mean"] if spec.reduces_itself else ["none", "mean"]
        agreement, fast_agreement = 0.0, 0.0
        rng = np.random.default_rng(seed + 1)
        modes = [("reference", "analytic"), ("composite", "composite")]
        if spec.fast is not None:
            modes.append(("fused", "fast path"))
        for reduction in reductions:
            shape = np.shape(_loss_fn(spec, reduction, "reference")(*inputs))
            cotangent = rng.standard_normal(shape) if shape else np.ones(())
            for mode, label in modes:
                row.checks[f"{label} ({reduction})"] = check_grad(
                    _loss_fn(spec, reduction, mode, dtype), inputs, wrt=wrt, names=names, grad_output=cotangent,
                    atol=atol, rtol=rtol, seed=seed, scale_atol=True,
                )  # fmt: skip
            analytic = _gradients(spec, inputs, reduction, "reference", cotangent, dtype)
            engine = _gradients(spec, inputs, reduction, "composite", cotangent, dtype)
            agreement = max(agreement, _relative_difference(analytic, engine))
            if spec.fast is not None:  # the same numbers in another order: values and gradients
                fast = _gradients(spec, inputs, reduction, "fused", cotangent, dtype)
                values = [np.asarray(_loss_fn(spec, reduction, m, dtype)(*inputs)) for m in ("reference", "fused")]
                fast_agreement = max(fast_agreement, _relative_difference(analytic + values[:1], fast + values[1:]))
        row.agreement = agreement
        row.fast_agreement = fast_agreement if spec.fast is not None else None
        if spec.second_order and dtype == "float64":
            row.checks["second order"] = check_gradgrad(
                _loss_fn(spec, reductions[-1], "reference"), inputs, wrt=wrt, names=names, seed=seed
            )
        row.stability = stability(spec, seed)
    except Exception as error:  # reported as a failing row, not a crash of the whole audit
        row.error = f"{type(error).__name__}: {error}"
    return row


def _relative_difference(expected: list[np.ndarray], given: list[np.ndarray]) -> float:
    """The largest difference between two lists of arrays, relative to the largest magnitude of each expected one."""
    worst = 0.0
    for e, g in zip(expected, given, strict=True):
        scale = max(np.abs(e).max(initial=0.0), 1e-12)
        worst = max(worst, float(np.max(np.abs(np.asarray(g) - e), initial=0.0) / scale))
    return worst


def audit_ops(names: Iterable[str] | None = None, seed: int = 0, dtype: str = "float64") -> Iterator[AuditRow]:
    """Audit the registered op cases (all, or those whose name is in ``names``)."""
    wanted = None if names is None else set(names)
    for case in list(OP_CASES):
        if wanted is None or case.name in wanted:
            yield audit_op(case, seed, dtype)


def audit_losses(
    names: Iterable[str] | None = None, families: Iterable[str] | None = None, seed: int = 0, dtype: str = "float64"
) -> Iterator[AuditRow]:
    """Audit the registered losses (all, or those named, or those of the given families)."""
    from .losses import REGISTRY

    wanted, fams = (None if names is None else set(names)), (None if families is None else set(families))
    for spec in list(REGISTRY.values()):
        if (wanted is None or spec.name in wanted) and (fams is None or spec.family in fams):
            yield audit_loss(spec, seed, dtype)


__all__ = ["AuditRow", "audit_op", "audit_loss", "audit_ops", "audit_losses"]
