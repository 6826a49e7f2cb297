"""The library audit: every registered op and loss checked against finite differences.

Each entry is checked in float64 at seeded points, away from its kinks:

- **ops** (:mod:`nploss.autograd.catalogue`): the engine's VJP against central differences,
  and the second derivative (``create_graph=True``) likewise;
- **losses** (:data:`nploss.losses.REGISTRY`), three gradients held against each other: the
  analytic VJP of the reference (the textbook formula), the engine's gradient of the composite
  graph, and central differences; then the analytic VJP differentiated again (second order).
  A loss with a fast path has it checked the same way, and held to the reference (values and
  gradients). Losses are checked unreduced with a random cotangent (a VJP that mixes up
  samples fails) and with their default reduction (the reduction weights are checked too).
- every **path** of a loss: the checks above are repeated at every point of its parameter grid
  (:mod:`nploss.audit_grid`: one parameter varied at a time from the defaults, each point on
  inputs drawn with its own seed), at the defaults on inputs of a second seed, and on 3-D inputs
  where an elementwise loss accepts them;
- the **shape** of the value under every reduction against the documented one (``'none'``: one
  value per sample, or what ``LossSpec.unreduced`` declares; the others: a scalar);
- the **ties** a loss declares (:mod:`nploss.audit_ties`): inputs exactly at a kink, where the
  analytic and composite gradients must equal the documented subgradient and lie between the
  one-sided slopes.

The triangulation tells what is wrong: analytic off while composite ≈ numerical means the hand
derivative is wrong; composite off while analytic ≈ numerical means a primitive's VJP is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .autograd import Tensor, grad
from .autograd.catalogue import OP_CASES, OpCase
from .gradcheck import GradCheckResult, check_grad, check_gradgrad, compare, host_float64, one_sided_and_central

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
    grid: dict[str, AuditRow] = field(default_factory=dict)  # the other grid points, by label
    shapes: dict[str, str | None] = field(default_factory=dict)  # reduction -> problem or None
    ties: dict[str, str | None] = field(default_factory=dict)  # tie fixture -> problem or None

    @property
    def points(self) -> int:
        """Grid points audited: the defaults and every other point."""
        return 1 + len(self.grid)

    @property
    def points_passed(self) -> int:
        return int(self.defaults_passed) + sum(p.passed for p in self.grid.values())

    @property
    def defaults_passed(self) -> bool:
        """Whether the checks at the defaults (all of an op's) passed, the other points aside."""
        return (
            self.error is None
            and all(c.passed for c in self.checks.values())
            and (self.agreement is None or self.agreement <= self.agreement_rtol)
            and (self.fast_agreement is None or self.fast_agreement <= self.fast_agreement_rtol)
            and not any(self.stability.values())
            and not any(self.shapes.values())
        )

    @property
    def passed(self) -> bool:
        return self.defaults_passed and all(p.passed for p in self.grid.values()) and not any(self.ties.values())

    def max_rel_error(self, check: str) -> float | None:
        return self.checks[check].max_rel_error if check in self.checks else None

    def failure(self) -> str:
        """Which check failed, at which grid point or tie, for which input, at which element,
        with both values (the first failure; '' when all passed)."""
        found = self.defaults_failure()
        if found:
            return found
        for name, problem in self.ties.items():
            if problem:
                return f"{self.name}[tie: {name}]: {problem}"
        for point in self.grid.values():
            if not point.passed:
                return point.failure()
        return ""

    def defaults_failure(self) -> str:
        """The first failing check at the defaults, or ''."""
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
        for reduction, problem in self.shapes.items():
            if problem:
                return f"{self.name}: reduction {reduction!r} {problem}"
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


def sample_away_from_kinks(spec, seed: int = 0, tries: int = 50, params: dict | None = None, draw=None) -> list[np.ndarray]:  # noqa: ANN001
    """Inputs of a loss drawn from its domains (or by ``draw(rng)``), redrawn while any lies
    near a kink (of the loss with ``params``, by default its own)."""
    rng = np.random.default_rng(seed)
    params = spec.params if params is None else params
    for _ in range(tries):
        inputs = spec.sample(rng) if draw is None else draw(rng)
        if spec.kinks is None or np.min(spec.kinks(*inputs, **params), initial=np.inf) > KINK_DISTANCE:
            return inputs
    raise RuntimeError(f"{spec.name}: could not sample inputs away from its kinks in {tries} tries")


TOLERANCES = {  # (atol, rtol, agreement) per dtype of the analytic computation
    "float64": (LOSS_ATOL, LOSS_RTOL, AGREEMENT_RTOL),
    # float32 carries about 7 digits: JAX's check_grads uses 2e-3 for float32
    "float32": (2e-3, 2e-3, 2e-3),
}
SCALES = {"large scale": 1e4, "small scale": 1e-4}  # applied to real-valued inputs and logits


def _loss_fn(spec, reduction: str, mode: str, dtype: str = "float64", params: dict | None = None):  # noqa: ANN001, ANN202
    """The loss as a function of its inputs (with ``params``, by default its own). Tensors (the
    analytic or engine path) are cast to ``dtype`` inside the graph; arrays (finite differences)
    stay float64 on the host."""
    from .autograd import astype
    from .losses import apply_loss

    params = spec.params if params is None else params

    def fn(*xs):  # noqa: ANN002, ANN202
        if dtype != "float64":
            xs = tuple(astype(x, dtype) if isinstance(x, Tensor) and x.dtype.kind == "f" else x for x in xs)
        out = apply_loss(spec, *xs, reduction=reduction, mode=mode, **params)
        return astype(out, "float64") if isinstance(out, Tensor) and dtype != "float64" else out

    return fn


def _gradients(spec, inputs: list[np.ndarray], reduction: str, mode: str, cotangent: np.ndarray, dtype: str = "float64", params: dict | None = None) -> list[np.ndarray]:  # noqa: ANN001
    tensors = [Tensor(x, requires_grad=i in spec.differentiable) for i, x in enumerate(inputs)]
    out = _loss_fn(spec, reduction, mode, dtype, params)(*tensors)
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


def documented_shape(spec, inputs: list[np.ndarray], params: dict | None = None) -> tuple[int, ...]:  # noqa: ANN001
    """The shape of the loss with ``reduction='none'`` as documented: ``spec.unreduced`` (symbolic
    axes, sized from the inputs, or a function of the inputs), else one value per sample: the
    shape of the first input without the per-sample axes its symbolic shape names after the
    batch axis (``(N, C)`` logits give ``(N,)``, an unbatched ``(C,)`` row ``()``; an input of
    symbolic shape ``(N,)`` is elementwise, one value per element whatever its shape)."""
    documented = spec.unreduced
    if documented is None:
        shape = np.shape(inputs[0])
        return tuple(shape[: max(len(shape) - (len(spec.args[0].shape) - 1), 0)])
    if callable(documented):
        return tuple(documented(*inputs, **(spec.params if params is None else params)))
    sizes: dict[str, int] = {}
    for arg, x in zip(spec.args, inputs):
        for axis, size in zip(arg.shape, np.shape(x)):
            sizes.setdefault(axis, size)
    return tuple(sizes[axis] for axis in documented)


def check_shapes(spec, inputs: list[np.ndarray], params: dict | None = None, unreduced: tuple[int, ...] | None = None) -> dict[str, str | None]:  # noqa: ANN001
    """``{reduction: None}`` where the value has its documented shape under every reduction (the
    reference and the fast path), else what it has instead."""
    expected_none = documented_shape(spec, inputs, params) if unreduced is None else unreduced
    found: dict[str, str | None] = {}
    for reduction in spec.reductions:
        expected = expected_none if reduction == "none" else ()
        problem = None
        for mode in ("reference", "fused") if spec.fast is not None else ("reference",):
            with np.errstate(all="ignore"):
                shape = np.shape(_loss_fn(spec, reduction, mode, params=params)(*inputs))
            if shape != expected:
                where = "" if mode == "reference" else " (fast path)"
                problem = f"gives shape {shape}{where}, documented {expected}"
                break
        found[reduction] = problem
    return found


# Beside the defaults the second order is checked where the differentiable inputs have at most
# this many elements: it costs a finite difference of the whole gradient per element (images
# would take most of the audit's time for paths the first order already covers).
GRID_SECOND_ORDER_ELEMENTS = 64


def _audit_point(spec, name: str, inputs: list[np.ndarray], params: dict, reductions: list[str], seed: int, dtype: str, unreduced: tuple[int, ...] | None = None, second_order: bool = True) -> AuditRow:  # noqa: ANN001
    """Analytic vs composite (vs fast path) vs finite differences at one point of the grid, under
    the given reductions, and (``second_order``) the analytic VJP differentiated again."""
    atol, rtol, agreement_rtol = TOLERANCES[dtype]
    row = AuditRow(name, spec.family, agreement_rtol=agreement_rtol, fast_agreement_rtol=FAST_AGREEMENT_RTOL[dtype])
    try:
        names = [a.name for a in spec.args]
        wrt = list(spec.differentiable)
        agreement, fast_agreement = 0.0, 0.0
        rng = np.random.default_rng(seed + 1)
        modes = [("reference", "analytic"), ("composite", "composite")]
        if spec.fast is not None:
            modes.append(("fused", "fast path"))
        documented = documented_shape(spec, inputs, params) if unreduced is None else unreduced
        for reduction in reductions:
            # the unreduced cotangent has the documented shape: a value of another shape fails
            shape = documented if reduction == "none" and not spec.reduces_itself else ()
            cotangent = rng.standard_normal(shape) if shape else np.ones(())
            gradients = {mode: _gradients(spec, inputs, reduction, mode, cotangent, dtype, params) for mode, _ in modes}
            # one set of finite differences (of the float64 reference) serves every mode
            differences = _differences(_loss_fn(spec, reduction, "reference", params=params), inputs, wrt, cotangent)
            for mode, label in modes:
                row.checks[f"{label} ({reduction})"] = GradCheckResult([
                    compare(names[i], g, forward, backward, atol, rtol, scale_atol=True)
                    for i, g, (forward, backward) in zip(wrt, gradients[mode], differences, strict=True)
                ])  # fmt: skip
            analytic, engine = gradients["reference"], gradients["composite"]
            agreement = max(agreement, _relative_difference(analytic, engine))
            if spec.fast is not None:  # the same numbers in another order: values and gradients
                fast = gradients["fused"]
                values = [np.asarray(_loss_fn(spec, reduction, m, dtype, params)(*inputs)) for m in ("reference", "fused")]
                fast_agreement = max(fast_agreement, _relative_difference(analytic + values[:1], fast + values[1:]))
        row.agreement = agreement
        row.fast_agreement = fast_agreement if spec.fast is not None else None
        if second_order and spec.second_order and dtype == "float64":
            row.checks["second order"] = check_gradgrad(
                _loss_fn(spec, reductions[-1], "reference", params=params), inputs, wrt=wrt, names=names, seed=seed
            )
    except Exception as error:  # reported as a failing row, not a crash of the whole audit
        row.error = f"{type(error).__name__}: {error}"
    return row


ELEMENTWISE_3D = (2, 3)  # the trailing axes of the 3-D inputs given to an elementwise loss


def _three_d_draw(spec):  # noqa: ANN001, ANN202
    """Drawing 3-D inputs ``(N, 2, 3)`` for an elementwise loss (every input of symbolic shape
    ``("N",)``, drawn from its domain), or None for a loss that is not one."""
    from .losses._spec import DOMAINS, SIZES

    if spec.sampler is not None or spec.reduces_itself or spec.reduction_weights is not None:
        return None
    if any(a.shape != ("N",) for a in spec.args):
        return None
    shape = ({**SIZES, **spec.sizes}["N"], *ELEMENTWISE_3D)
    return lambda rng: [DOMAINS[a.domain][1](rng, shape, 2) for a in spec.args]


def _accepts(spec, inputs: list[np.ndarray]) -> bool:  # noqa: ANN001
    """Whether the loss takes these inputs (3-D ones, say) without refusing them."""
    try:
        with np.errstate(all="ignore"):
            _loss_fn(spec, "none", "reference")(*inputs)
    except (ValueError, TypeError):
        return False
    return True


def audit_loss(spec, seed: int = 0, dtype: str = "float64", grid: bool = True) -> AuditRow:  # noqa: ANN001
    """Analytic vs composite vs finite differences, unreduced and reduced; second order; the
    stability sweep; the shapes under every reduction; then (``grid``) the same checks at every
    other point of the parameter grid and on 3-D inputs, and the tie fixtures. ``dtype`` is the
    precision of the analytic and composite computations (finite differences are always
    float64)."""
    from .audit_grid import drawing, grid_points, resolve
    from .audit_ties import check_ties
    from .losses._spec import SIZES

    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be one of {', '.join(TOLERANCES)}, got {dtype!r}")
    own = ["mean"] if spec.reduces_itself else ["none", "mean"]
    try:
        inputs = sample_away_from_kinks(spec, seed)
    except Exception as error:  # noqa: BLE001
        row = AuditRow(spec.name, spec.family)
        row.error = f"{type(error).__name__}: {error}"
        return row
    # the defaults: 'none' and 'mean', and any reduction of the loss's own ('batchmean', ...)
    extra = [r for r in spec.reductions if r not in ("none", "mean", "sum")] if not spec.reduces_itself else []
    row = _audit_point(spec, spec.name, inputs, spec.params, own + extra, seed, dtype)
    try:
        row.shapes = check_shapes(spec, inputs)
        row.stability = stability(spec, seed)
    except Exception as error:  # noqa: BLE001
        row.error = row.error or f"{type(error).__name__}: {error}"
    if not grid:
        return row
    # beside the defaults 'none' carries every path; a weighted mean is checked too where the
    # reduction weights depend on the inputs or parameters (class weights)
    reductions = own if spec.reduces_itself or spec.reduction_weights is not None else ["none"]

    def point(label: str, seed: int, draw=None, value=None, name=None, elementwise: bool = False) -> None:  # noqa: ANN001
        """One more grid point: the defaults, ``name`` set to ``value``, on inputs of ``seed``
        (drawn by ``draw``, else from the domains); a failure to set it up fails the point."""
        params = dict(spec.params)
        try:
            if name is not None:
                base = inputs if draw is None else draw(np.random.default_rng(seed))
                params[name] = resolve(value, np.random.default_rng(seed), base)
            xs = sample_away_from_kinks(spec, seed, params=params, draw=draw)
            if name is not None:
                params[name] = resolve(value, np.random.default_rng(seed), xs)
            shape = np.shape(xs[0]) if elementwise else None
            small = sum(np.size(xs[i]) for i in spec.differentiable) <= GRID_SECOND_ORDER_ELEMENTS
            sub = _audit_point(spec, f"{spec.name}[{label}]", xs, params, reductions, seed, dtype, shape, small and not elementwise)
            sub.shapes = {} if sub.error else check_shapes(spec, xs, params, shape)
        except Exception as error:  # noqa: BLE001 - reported as the point's failure
            sub = AuditRow(f"{spec.name}[{label}]", spec.family, error=f"{type(error).__name__}: {error}")
        row.grid[label] = sub

    try:
        points = grid_points(spec, inputs)
    except Exception as error:  # noqa: BLE001
        row.error = row.error or f"grid: {type(error).__name__}: {error}"
        points = []
    for k, (label, name, value) in enumerate(points, start=1):  # every point on inputs of its own
        point(label, seed + 100 * k, drawing(spec, value), value, name)
    sizes = {**SIZES, **spec.sizes}
    for k, (name, sample) in enumerate(spec.layouts.items(), start=1):  # other layouts of the inputs
        point(f"layout: {name}", seed + 7 * k, lambda rng, sample=sample: sample(rng, sizes))
    # the defaults once more on inputs of another seed: five samples are few to reach every branch
    point(f"seed {seed + 1}", seed + 1)
    draw = _three_d_draw(spec)
    if draw is not None and _accepts(spec, draw(np.random.default_rng(seed + 1))):
        point("3-D inputs", seed + 1, draw, elementwise=True)
    row.ties = check_ties(spec, dtype)
    return row


def _differences(fn, inputs: list[np.ndarray], wrt: list[int], cotangent: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:  # noqa: ANN001
    """Forward and backward differences of ``<cotangent, fn(inputs)>`` for every input in ``wrt``."""
    arrays = host_float64(inputs)
    with np.errstate(all="ignore"):
        value = np.asarray(fn(*arrays))
    if value.shape != cotangent.shape:
        raise ValueError(f"the loss has shape {value.shape}, its documented shape is {cotangent.shape}")
    return [one_sided_and_central(fn, arrays, i, cotangent)[:2] for i in wrt]


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
    names: Iterable[str] | None = None, families: Iterable[str] | None = None, seed: int = 0, dtype: str = "float64", grid: bool = True
) -> Iterator[AuditRow]:
    """Audit the registered losses (all, or those named, or those of the given families)."""
    from .losses import REGISTRY

    wanted, fams = (None if names is None else set(names)), (None if families is None else set(families))
    for spec in list(REGISTRY.values()):
        if (wanted is None or spec.name in wanted) and (fams is None or spec.family in fams):
            yield audit_loss(spec, seed, dtype, grid)


__all__ = ["AuditRow", "audit_loss", "audit_losses", "audit_op", "audit_ops", "check_shapes", "documented_shape"]
