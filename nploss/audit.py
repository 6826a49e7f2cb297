"""The library audit: every registered entry checked against finite differences.

For each primitive op of :mod:`nploss.autograd.catalogue` it runs, at a seeded point in float64:

1. the first-order check: the engine's VJP against central differences (``check_grad``);
2. the second-order check: Hessian-vector products through ``create_graph=True`` against
   central differences of the gradient (``check_gradgrad``).

An entry passes when both do (see :mod:`nploss.gradcheck` for the tolerances). ``nploss audit``
prints one row per entry and exits with status 1 when any fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .autograd.catalogue import OP_CASES, OpCase
from .gradcheck import GradCheckResult, check_grad, check_gradgrad


@dataclass
class AuditRow:
    """The audit of one entry."""

    name: str
    first: GradCheckResult
    second: GradCheckResult | None

    @property
    def passed(self) -> bool:
        return self.first.passed and (self.second is None or self.second.passed)

    def failure(self) -> str:
        """Which check failed, for which input, at which element, with both values."""
        for result in (self.first, self.second):
            if result is None:
                continue
            for c in result.inputs:
                if not c.passed:
                    what = "gradient" if result.order == 1 else "second derivative"
                    return (
                        f"{self.name}: {what} wrong for {c.name} at element {c.worst_index}: "
                        f"analytic {c.analytic:.10g} vs numerical {c.numerical:.10g} "
                        f"(relative error {c.max_rel_error:.2e}, {c.failures} failing elements)"
                    )
        return ""


def audit_op(case: OpCase, seed: int = 0) -> AuditRow:
    inputs = case.inputs(seed)
    names = [f"x{i}" for i in range(len(inputs))]
    first = check_grad(case.fn, inputs, names=names, seed=seed)
    second = check_gradgrad(case.fn, inputs, names=names, seed=seed)
    return AuditRow(case.name, first, second)


def audit_ops(names: Iterable[str] | None = None, seed: int = 0) -> Iterator[AuditRow]:
    """Audit the registered op cases (all, or those whose name is in ``names``)."""
    wanted = None if names is None else set(names)
    for case in list(OP_CASES):
        if wanted is None or case.name in wanted:
            yield audit_op(case, seed)
