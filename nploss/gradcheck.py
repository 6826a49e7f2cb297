r"""Gradient checking by central finite differences, in float64 on the host.

The question: is the gradient ``a`` that some code computes for a function ``f`` right? We
compare it, element by element, with the central difference

.. math::  n_i = \frac{s(x + h e_i) - s(x - h e_i)}{2h}, \qquad s(x) = \langle g, f(x) \rangle

where ``g`` is a fixed random cotangent of the same shape as ``f(x)`` (for a scalar ``f``,
``g = 1``). A random ``g`` rather than a sum catches a gradient that mixes up rows (HIPS
autograd's covector check). The central difference has truncation error
:math:`h^2 f'''/6` and round-off error about :math:`\epsilon_{64} |s| / h`; with
:math:`h = 10^{-6}` both are far below the tolerances below for well-scaled functions. For an
entry larger than 1 in magnitude the step is relative, :math:`h = 10^{-6} |x_i|`: at
:math:`x = 10^3` an absolute step would lose six digits to round-off.

**Pass bar** (per element): :math:`|a - n| \le \mathrm{atol} + \mathrm{rtol}\,|n|` with
``eps=1e-6, atol=1e-5, rtol=1e-3``, exactly ``torch.autograd.gradcheck``'s defaults: loose
enough for finite differences in float64, tight enough that a wrong factor of 2, a sign or a
missing term fails. **Reported error**: CS231n's relative error
:math:`|a - n| / \max(10^{-8}, |a| + |n|)`, whose rule of thumb reads: > 1e-2 wrong, < 1e-4
fine with kinks, < 1e-7 the precision a correct smooth gradient reaches. Two exact gradients
(analytic against autograd) should agree far tighter; compare them with ``rtol=1e-7``.

**Kinks** (points where ``f`` is not differentiable: ``|x|`` at 0, a hinge at its margin): the
one-sided differences :math:`(s(x+h)-s(x))/h` and :math:`(s(x)-s(x-h))/h` disagree there. Such
an element is reported as a kink, not as a failure, provided the gradient lies between the two
one-sided slopes (any subgradient is acceptable; caffe#1334). A gradient outside them fails.

**Second order**: :func:`check_gradgrad` compares Hessian-vector products from the engine
(``grad(..., create_graph=True)`` twice) with central differences of the first gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import backend
from .autograd import Tensor, as_data, enable_grad, grad, no_grad

EPS = 1e-6
ATOL = 1e-5
RTOL = 1e-3


def relative_error(a: Any, b: Any) -> np.ndarray:
    """The elementwise relative error :math:`|a - b| / \\max(10^{-8}, |a| + |b|)`.

    The sum :math:`|a| + |b|` in the denominator (CS231n's notes divide by
    :math:`\\max(|a|, |b|)`) keeps the error in [0, 1] (the max form reaches 2 where the signs
    differ); it is at most a factor 2 below the max form, so CS231n's thresholds read the same to
    within that factor.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))


def _host64(x: Any) -> np.ndarray:
    return np.array(backend.to_numpy(as_data(x)), dtype=np.float64)


def _scalar(f: Callable[..., Any], inputs: Sequence[Any], cotangent: np.ndarray) -> float:
    """s(x) = <g, f(x)>, evaluated without recording a graph."""
    with no_grad():
        out = _host64(f(*inputs))
    if out.shape != cotangent.shape:
        raise ValueError(f"f returned shape {out.shape}, expected {cotangent.shape}")
    return float(np.vdot(cotangent, out))


def one_sided_and_central(
    f: Callable[..., Any], inputs: Sequence[Any], wrt: int, cotangent: np.ndarray, eps: float = EPS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward, backward and central differences of <g, f> with respect to ``inputs[wrt]``.

    The inputs are float64 host copies; the element being perturbed is restored after use.
    """
    inputs = list(inputs)
    x = inputs[wrt]
    s0 = _scalar(f, inputs, cotangent)
    forward, backward_ = np.empty(x.shape), np.empty(x.shape)
    flat = x.reshape(-1)  # a view: perturbing it perturbs x
    for i in range(flat.size):
        original = flat[i]
        h = eps * max(1.0, abs(float(original)))  # relative for large entries (see module docstring)
        flat[i] = original + h
        s_plus = _scalar(f, inputs, cotangent)
        flat[i] = original - h
        s_minus = _scalar(f, inputs, cotangent)
        flat[i] = original
        forward.flat[i] = (s_plus - s0) / h
        backward_.flat[i] = (s0 - s_minus) / h
    return forward, backward_, (forward + backward_) / 2


def numerical_grad(
    f: Callable[..., Any], inputs: Sequence[Any], eps: float = EPS, grad_output: Any = None, wrt: Sequence[int] | None = None
) -> list[np.ndarray]:
    """Central-difference gradients of ``<grad_output, f(*inputs)>`` with respect to each input.

    Parameters
    ----------
    f : callable
        Takes the inputs (float64 NumPy arrays) and returns an array or Tensor.
    inputs : sequence of array_like
    eps : float
        The step ``h``.
    grad_output : array_like, optional
        The cotangent ``g``; defaults to 1 for a one-element output (required otherwise).
    wrt : sequence of int, optional
        Which inputs to differentiate (default: all floating-point ones).
    """
    arrays = host_float64(inputs)
    wrt = floating_inputs(arrays) if wrt is None else list(wrt)
    cotangent = _cotangent(f, arrays, grad_output, rng=None)
    return [one_sided_and_central(f, arrays, i, cotangent, eps)[2] for i in wrt]


@dataclass
class InputCheck:
    """How one input's gradient compares with finite differences."""

    name: str
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numerical: float
    failures: int
    kinks: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failures == 0


@dataclass
class GradCheckResult:
    """The outcome of :func:`check_grad` or :func:`check_gradgrad`: one :class:`InputCheck` each."""

    inputs: list[InputCheck]
    order: int = 1

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.inputs)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.inputs), default=0.0)

    def __str__(self) -> str:
        what = "gradient" if self.order == 1 else "Hessian-vector product"
        lines = [f"{what} check: {'PASS' if self.passed else 'FAIL'}"]
        for c in self.inputs:
            lines.append(
                f"  {c.name}: max rel error {c.max_rel_error:.2e}, max abs error {c.max_abs_error:.2e}, "
                f"worst element {c.worst_index}: analytic {c.analytic:.10g} vs numerical {c.numerical:.10g}"
                + (f", {c.failures} failing elements" if c.failures else "")
                + (f", {len(c.kinks)} kinks skipped" if c.kinks else "")
            )
        return "\n".join(lines)

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise AssertionError(str(self))


def kink_mask(forward: np.ndarray, backward_: np.ndarray, atol: float = ATOL, rtol: float = RTOL) -> np.ndarray:
    """Elements at a kink: the one-sided slopes disagree by more than the tolerance (those of a
    smooth function differ only by about h f'', far below it)."""
    return np.abs(forward - backward_) > atol + rtol * np.maximum(np.abs(forward), np.abs(backward_))


def compare(
    name: str,
    analytic: Any,
    forward: np.ndarray,
    backward_: np.ndarray,
    atol: float = ATOL,
    rtol: float = RTOL,
    scale_atol: bool = False,
) -> InputCheck:
    """Compare a gradient with the one-sided differences around it (see the module docstring).
    ``scale_atol`` multiplies ``atol`` by the largest ``|numerical|`` entry (at least 1)."""
    a = _host64(analytic)
    if a.shape != forward.shape:
        raise ValueError(f"{name}: the gradient has shape {a.shape}, but the input has shape {forward.shape}")
    central = (forward + backward_) / 2
    if scale_atol:
        atol = atol * max(1.0, float(np.max(np.abs(central), initial=0.0)))
    error = np.abs(a - central)
    bad = ~(error <= atol + rtol * np.abs(central))  # written so that NaN counts as wrong
    # A kink is judged at the checker's own (looser) tolerance, whatever the comparison's: a
    # smooth element's one-sided slopes differ by h|f''|, which a tight comparison tolerance
    # would mistake for a kink and so check only loosely.
    kink = kink_mask(forward, backward_)
    lo, hi = np.minimum(forward, backward_), np.maximum(forward, backward_)
    between = (a >= lo - atol - rtol * np.abs(lo)) & (a <= hi + atol + rtol * np.abs(hi))
    failing = bad & ~(kink & between)
    smooth = ~kink
    rel = relative_error(a, central)
    # Report the worst failing element, else the worst smooth one.
    pool = failing if failing.any() else smooth
    if pool.any():
        flat = int(np.argmax(np.where(pool, rel, -1.0)))
    else:
        flat = 0
    worst = tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.size else ()
    return InputCheck(
        name=name,
        max_abs_error=float(error[smooth].max()) if smooth.any() else 0.0,
        max_rel_error=float(rel[smooth].max()) if smooth.any() else 0.0,
        worst_index=worst,
        analytic=float(a.flat[flat]) if a.size else 0.0,
        numerical=float(central.flat[flat]) if a.size else 0.0,
        failures=int(failing.sum()),
        kinks=[tuple(int(i) for i in idx) for idx in np.argwhere(kink & ~failing)],
    )


def host_float64(inputs: Sequence[Any]) -> list[np.ndarray]:
    """Float64 host copies of floating inputs; other inputs (labels) as host arrays."""
    arrays = []
    for x in inputs:
        a = np.array(backend.to_numpy(as_data(x)))
        arrays.append(a.astype(np.float64) if a.dtype.kind == "f" else a)
    return arrays


def floating_inputs(arrays: Sequence[np.ndarray]) -> list[int]:
    return [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]


def _checker_rng(seed: int | None) -> np.random.Generator:
    """The checker's own random stream for cotangents and directions. It must not be
    ``default_rng(seed)``: a caller who drew the inputs from that same seed would get a direction
    equal to the input, and for a scale-invariant loss the derivative along it is exactly 0."""
    return np.random.default_rng(None if seed is None else (seed, 0x6772616463686B))


def _cotangent(f: Callable[..., Any], arrays: Sequence[np.ndarray], grad_output: Any, rng: Any) -> np.ndarray:
    with no_grad():
        shape = _host64(f(*arrays)).shape
    if grad_output is not None:
        g = _host64(grad_output)
        if g.shape != shape:
            raise ValueError(f"grad_output has shape {g.shape}, but f returns shape {shape}")
        return g
    if int(np.prod(shape)) == 1:
        return np.ones(shape)
    if rng is None:
        raise ValueError(f"f returns shape {shape}, not a scalar: pass grad_output")
    return rng.standard_normal(shape)


def engine_gradients(f: Callable[..., Any], arrays: Sequence[np.ndarray], wrt: Sequence[int], cotangent: np.ndarray) -> list[Tensor]:
    tensors = [Tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out = f(*tensors)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise TypeError("f must return a Tensor computed from its inputs to be differentiated by the engine")
    return grad(out, [tensors[i] for i in wrt], grad_outputs=Tensor(cotangent.reshape(out.shape)), allow_unused=True)


def check_grad(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    grad_fn: Callable[..., Any] | None = None,
    *,
    wrt: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    grad_output: Any = None,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int = 0,
    scale_atol: bool = False,
) -> GradCheckResult:
    """Check a gradient of ``f`` against central finite differences, element by element.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returning an array or Tensor (any shape).
    inputs : sequence of array_like
        The point at which to check; copied to float64 on the host.
    grad_fn : callable, optional
        The gradient under test: ``grad_fn(*inputs)`` returns the gradient of a scalar ``f``
        with respect to each checked input (a sequence, or one array for one input); for a
        non-scalar ``f`` it is called as ``grad_fn(*inputs, grad_output=g)`` and returns the
        vector-Jacobian product. When omitted, the autograd engine differentiates ``f``
        (which must then be written with Tensor ops).
    wrt : sequence of int, optional
        Indices of the inputs to check (default: every floating-point input).
    names : sequence of str, optional
        Names of the inputs, for the report.
    grad_output : array_like, optional
        The cotangent ``g`` for a non-scalar ``f`` (default: standard normal, from ``seed``).
    eps, atol, rtol : float
        Step and tolerances (see the module docstring for why these defaults).
    scale_atol : bool
        Use ``atol`` times the largest ``|numerical|`` entry of each input (at least 1): the
        roundoff of a difference quotient grows with the size of the function, and so with the
        gradient, so a tight absolute tolerance is only meaningful relative to that size (the
        tight loss audit, ``atol=1e-8``, uses it; a loss with a scale of 64 has gradients of
        hundreds).

    Returns
    -------
    GradCheckResult
        ``.passed``, and per input the worst element with both values. ``str()`` prints it.
    """
    arrays = host_float64(inputs)
    wrt = floating_inputs(arrays) if wrt is None else list(wrt)
    names = list(names) if names is not None else [f"input {i}" for i in range(len(arrays))]
    cotangent = _cotangent(f, arrays, grad_output, _checker_rng(seed))
    if grad_fn is None:
        analytic = engine_gradients(f, arrays, wrt, cotangent)
    else:
        copies = [a.copy() for a in arrays]
        scalar = cotangent.size == 1 and grad_output is None
        result = grad_fn(*copies) if scalar else grad_fn(*copies, grad_output=cotangent)
        analytic = [result] if len(wrt) == 1 and not isinstance(result, list | tuple) else list(result)
        if len(analytic) != len(wrt):
            raise ValueError(f"grad_fn returned {len(analytic)} gradients for {len(wrt)} checked inputs")
    checks = []
    for i, a in zip(wrt, analytic):
        forward, backward_, _ = one_sided_and_central(f, arrays, i, cotangent, eps)
        a = np.zeros_like(forward) if a is None else a
        checks.append(compare(names[i], a, forward, backward_, atol, rtol, scale_atol))
    return GradCheckResult(checks, order=1)


def check_gradgrad(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    grad_fn: Callable[..., Sequence[Tensor]] | None = None,
    *,
    wrt: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int = 0,
) -> GradCheckResult:
    r"""Check second derivatives: the VJP differentiated again, against finite differences.

    With a random cotangent ``g`` and random directions ``v``, the first derivative is
    :math:`G(x, g) = \nabla_x \langle g, f(x) \rangle` (``grad_fn(*tensors, grad_output=g)``, by
    default the engine's ``grad(..., create_graph=True)``). The checked quantity is the gradient
    of the scalar :math:`\langle G(x, g), v \rangle`, computed by differentiating ``G`` with the
    engine, against its central differences element by element:

    - with respect to ``x`` it is the Hessian-vector product :math:`H v`;
    - with respect to ``g`` it is the Jacobian-vector product :math:`J v`. This part is what
      checks the VJP of a *linear* op (whose Hessian is zero), as
      ``torch.autograd.gradgradcheck`` does by differentiating with respect to the
      ``grad_outputs`` too.

    Every op's VJP must itself be differentiable for this to pass.
    """
    arrays = host_float64(inputs)
    wrt = floating_inputs(arrays) if wrt is None else list(wrt)
    names = list(names) if names is not None else [f"input {i}" for i in range(len(arrays))]
    rng = _checker_rng(seed)
    cotangent = _cotangent(f, arrays, None, rng)
    directions = [rng.standard_normal(arrays[i].shape) for i in wrt]
    # The cotangent joins the inputs, as the last one.
    arrays, g_index = arrays + [cotangent], len(arrays)
    checked, names = wrt + [g_index], names + ["grad_output"]

    def first_derivative(*xs: Any) -> list[Tensor]:
        tensors = [x if isinstance(x, Tensor) else Tensor(x, requires_grad=i in checked) for i, x in enumerate(xs)]
        *tensors, g = tensors
        with enable_grad():  # also when called by the finite differences, under no_grad
            if grad_fn is not None:
                return list(grad_fn(*tensors, grad_output=g))
            out = f(*tensors)
            g = g.reshape(out.shape)
            return grad(out, [tensors[i] for i in wrt], grad_outputs=g, create_graph=True, allow_unused=True)

    def directional(*xs: Any) -> Tensor:
        total: Any = 0.0
        for d, v in zip(first_derivative(*xs), directions):
            if d is not None:
                total = total + (d * Tensor(v.reshape(d.shape))).sum()
        return total if isinstance(total, Tensor) else Tensor(total)

    tensors = [Tensor(a, requires_grad=i in checked) for i, a in enumerate(arrays)]
    value = directional(*tensors)
    if not value.requires_grad:  # the first derivative does not depend on x or g
        second: list[Any] = [np.zeros(arrays[i].shape) for i in checked]
    else:
        second = grad(value, [tensors[i] for i in checked], allow_unused=True)
    checks = []
    for i, h in zip(checked, second):
        forward, backward_, _ = one_sided_and_central(directional, arrays, i, np.ones(()), eps)
        h = np.zeros_like(forward) if h is None else h
        checks.append(compare(names[i], h, forward, backward_, atol, rtol))
    return GradCheckResult(checks, order=2)


def audit(*args: Any, **kwargs: Any) -> Any:
    """Audit a user's loss and gradient and classify what is wrong: :func:`nploss.diagnosis.audit`
    (which builds on this module; it is reachable from here too, where one looks for it)."""
    from .diagnosis import audit as _audit

    return _audit(*args, **kwargs)
