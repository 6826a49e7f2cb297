r"""Auditing a user's gradient: is it right, and if not, where and how is it wrong?

:func:`audit` checks a loss and its gradient (hand-written, or the engine's when the loss uses
nploss Tensors) against central finite differences, at the given inputs and at *stressed*
versions of them (extreme magnitudes, probabilities at exactly 0 and 1). When it fails it points
at the first wrong element and classifies the error by comparing the analytic gradient
:math:`a` with the numerical one :math:`n`:

=================  ==========================================================================
class              test
=================  ==========================================================================
overflow           right at ordinary inputs; NaN/inf or wrong at extreme ones, where the loss
                   itself is finite
wrong sign         :math:`a = -n`
wrong reduction    :math:`a = c\,n` with :math:`c` a size of the inputs or its inverse (N, N·C…),
                   and :math:`c` follows that size when the inputs are cut or grown along it;
                   also :math:`c` near a size, off by the share of a term scaled right
constant factor    :math:`a = c\,n` with any other constant (2, 1/2, …), or one that stays the
                   same at a second size
permuted           the right values in the wrong places (:math:`a = n^\top`, rows swapped…)
kink               wrong only where the function is not differentiable (one-sided slopes differ)
missing gradient   :math:`a = 0` where :math:`n \ne 0`: everywhere, or on some elements only
                   (N of M, with the rows, or where a loop stopped), the rest right
wrong branch       wrong exactly where one condition holds: a label equality (class == label,
                   labels[i] == labels[j]), a signed margin :math:`y f < 1`, an input's size,
                   a row's norm, distance or cosine against a margin (within one label group)
wrong term         none of the above: a term is missing, extra or wrong
wrong at ties      every element passes alone, but tied elements (equal maxima, equal values
                   across inputs) moved together change the loss at a rate their gradients'
                   sum is outside of (:math:`k G` given where :math:`G` is due)
parameter factor   right at the given parameters (γ = 1, β = 0, or ``params``), wrong once they
                   move: a factor of a parameter missing or extra
unstable loss      the loss itself is NaN or inf at (or within a step of) finite extreme
                   inputs: the loss's formula, not its gradient, overflows
value mismatch     with ``like=``: the loss or gradient differs from nploss's verified loss of
                   that name (a defect the loss and its gradient share)
=================  ==========================================================================

The classes of the gradient at the given inputs are tried in the order that
:mod:`nploss.diagnosis_classify` gives (not finite, wrong sign, a gradient of zero everywhere,
then the factors, permuted, kinks, partial zeros, branches, other zeros, wrong term); the first
that fits is reported, with one sentence on what it means and the fix a student would
need. When the gradient is right at the given inputs, the audit looks further, in this order:
tied elements moved together; the loss against ``like``; the parameters moved; the extreme
inputs. The topics live in modules of their own: the classes at the given inputs in
:mod:`nploss.diagnosis_classify`, the conditions of WRONG BRANCH in
:mod:`nploss.diagnosis_conditions`, the second looks (another size, ties, parameters moved) in
:mod:`nploss.diagnosis_probes`, the comparison with ``like`` in :mod:`nploss.diagnosis_reference`,
and ``--inputs`` in :mod:`nploss.diagnosis_inputs`. At the extreme inputs an element where the loss is flat
(a clamp) or where the loss's own slope and the gradient are both infinite is not held against
the gradient.

Three verdicts are not about the gradient's formula but about the code around it, and are found
before any classification:

- **mutates its input**: the loss or the gradient changed one of its input arrays in place (every
  call gets a copy, compared with the original afterwards);
- **not finite**: the loss, the gradient or the finite differences are NaN or infinite at the
  given inputs (or the loss at extreme inputs so large that their squares overflow);
- **not a scalar**: the loss returned None, a string, or an array of more than one element.

User code is the user's: an exception raised in the loss or the gradient (``SystemExit``
included), a call that runs past ``timeout`` seconds, a gradient of the wrong count or shape, a
NumPy loss audited without a gradient, or input names that match no parameter raise
:class:`UserCodeError` or :class:`AuditUsageError` with a message naming the function, the file
and the line, instead of a traceback through nploss.
"""

from __future__ import annotations

import contextlib
import inspect
import pathlib
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import diagnosis_probes as probes
from .autograd import Tensor, as_data, grad
from .diagnosis_classify import _failing, _first_wrong, _size_matches, classify, least_squares_factor
from .diagnosis_inputs import MAX_ELEMENTS, parse_inputs  # noqa: F401 - public names of nploss.diagnosis
from .diagnosis_reference import Reference
from .diagnosis_reference import bind as bind_reference
from .diagnosis_reference import mismatch as reference_mismatch
from .gradcheck import (
    ATOL,
    EPS,
    RTOL,
    GradCheckResult,
    compare,
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
    "wrong at ties": "Each tied element's gradient is a valid subgradient on its own, but together they are "
    "not: where k elements tie (equal maxima, equal distances, zero margins) moving them together changes the "
    "loss at the rate of one, and their gradients must sum to it; give the gradient to one of the tied elements "
    "(the first argmax) or split it between them, not the whole of it to each.",
    "value mismatch": "Your loss and its gradient agree with each other but not with the verified loss they "
    "should equal: a defect they share (an epsilon added inside a log, a clip, a mean over another axis, a "
    "missing term) that no finite-difference check can see; compare the formula with the reference "
    "(nploss show LOSS) at the inputs named.",
    "parameter factor": "The gradient is right only at the given value of a parameter (a scale gamma = 1, a "
    "shift beta = 0, a unit temperature or weight) and wrong once it moves: a factor of that parameter is "
    "missing or extra in the chain rule; multiply the upstream gradient by the parameter where the loss does.",
    "unstable loss": "The loss itself overflows at these inputs (NaN or inf where its value should be a "
    "number), so no gradient can be right there: the fault is in the loss's formula, not in its gradient; "
    "write the loss in its stable form (log-sum-exp with the max shifted out, softplus, log1p, clipped "
    "probabilities) and the gradient to match.",
    "mutates its input": "The code changes an input array in place (p -= t, p[mask] = 0, "
    "np.clip(p, a, b, out=p), x.sort()): the caller's data is corrupted and every later "
    "evaluation, the finite differences included, sees another point; work on a copy "
    "(p = p - t, p = p.copy()).",
    "not finite": "NaN or infinite values where the loss should be an ordinary number: a log of "
    "0 or of a negative number, 0/0, an exp that overflows, or a NaN in the inputs' arithmetic; "
    "no gradient can be judged there. Evaluate the loss and its gradient at these inputs and "
    "find the first operation that is not finite (np.seterr(all='raise') stops at it).",
    "not a scalar": "The loss must return one number: a NumPy scalar, a float, a one-element "
    "array or Tensor. A loss returning None has no return statement on some path; one returning "
    "an array of several elements needs a reduction (mean or sum).",
}

#: Verdicts that mean the audit could not judge a gradient because the loss is not a number:
#: the command line exits 2 for them (a user-code error), 1 for every other verdict.
USER_CODE_VERDICTS = frozenset({"not a scalar"})


class AuditError(Exception):
    """The audit could not run; the message says why (the command line prints it, exit 2)."""


class AuditUsageError(AuditError, ValueError):
    """The inputs or names given to the audit do not fit the function (exit 2)."""


class UserCodeError(AuditError):
    """The user's loss or gradient raised, exited, ran out of time, or returned something the
    audit cannot use. ``__cause__`` is the original exception, if any (exit 2)."""


class _Timeout(BaseException):
    """Raised by the alarm inside the user's code (a BaseException, so that ``except Exception``
    in that code does not swallow it)."""


class _Finding(Exception):  # noqa: N818 - a verdict found before the gradient check, not an error
    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.detail)
        self.diagnosis = diagnosis


@dataclass
class Diagnosis:
    """The verdict on one input's gradient (or, for the code verdicts, on the loss)."""

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
    """What :func:`audit` found: the check at the given inputs (None when a code verdict came
    first), at stressed inputs, and a diagnosis for every input whose gradient is wrong."""

    ordinary: GradCheckResult | None
    stressed: GradCheckResult | None
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diagnoses

    @property
    def exit_code(self) -> int:
        """0 right; 2 when the loss is not a number (a user-code error); 1 for any other verdict."""
        if self.passed:
            return 0
        return 2 if any(d.kind in USER_CODE_VERDICTS for d in self.diagnoses) else 1

    def __str__(self) -> str:
        lines = []
        if self.ordinary is not None:
            lines.append("at the given inputs: " + str(self.ordinary).replace("\n", "\n  "))
        if self.stressed is not None:
            lines.append("at extreme inputs: " + str(self.stressed).replace("\n", "\n  "))
        if self.passed:
            lines.append("verdict: the gradient is right")
        for d in self.diagnoses:
            lines.append(f"verdict for {d.name}: {d.kind.upper()}" + (f" ({d.detail})" if d.detail else ""))
            if d.where is not None and d.kind == "value mismatch":
                lines.append(f"  first differing element {d.where}: yours {d.analytic:.10g} vs the reference {d.numerical:.10g}")
            elif d.where is not None:
                lines.append(f"  first wrong element {d.where}: analytic {d.analytic:.10g} vs numerical {d.numerical:.10g}")
            lines.append(f"  {d.explanation}")
        return "\n".join(lines)


def _defaults(fn: Any) -> list[tuple[str, float]]:
    """The numeric default arguments of the user's loss (``margin=1.0``): thresholds to name."""
    sig = _signature(fn)
    if sig is None:
        return []
    return [(p.name, float(p.default)) for p in sig.parameters.values() if isinstance(p.default, int | float) and not isinstance(p.default, bool)]


def stress(inputs: Sequence[np.ndarray], bounds: Sequence[tuple[float, float] | None], scale: float = 1e3) -> list[np.ndarray]:
    """Extreme versions of the inputs: unbounded floats scaled by ``scale``; bounded ones pushed
    to their bounds (probabilities of exactly 0 and 1) at every other element; integers kept."""
    out = []
    for x, bound in zip(inputs, bounds):
        if x.dtype.kind != "f":
            out.append(x)
        elif bound is None:
            with np.errstate(over="ignore"):
                out.append(x * scale)
        else:
            lo, hi = bound
            pushed = x.copy().reshape(-1)
            pushed[0::4], pushed[1::4] = lo, hi
            out.append(pushed.reshape(x.shape))
    return out


# ------------------------------------------------------------------ running the user's code


def _file_of(fn: Any) -> str | None:
    """The resolved source file of a function (of its class's ``__call__`` for an instance)."""
    target = inspect.unwrap(fn) if callable(fn) else fn
    for candidate in (target, getattr(target, "__func__", None), type(target).__call__ if not inspect.isroutine(target) else None):
        if candidate is None:
            continue
        try:
            path = inspect.getsourcefile(candidate) or inspect.getfile(candidate)
        except TypeError:
            continue
        return str(pathlib.Path(path).resolve())
    return None


def _display(path: str) -> str:
    """A path as the user would write it: relative to the working directory when inside it."""
    p = pathlib.Path(path)
    try:
        return str(p.resolve().relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(p)


_PACKAGE = str(pathlib.Path(__file__).resolve().parent)


def _user_frame(error: BaseException, files: set[str]) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback inside the user's files; else the innermost frame
    outside nploss; else None."""
    frames = traceback.extract_tb(error.__traceback__)
    inside = [f for f in frames if str(pathlib.Path(f.filename).resolve()) in files]
    if inside:
        return inside[-1]
    outside = [f for f in frames if not str(pathlib.Path(f.filename).resolve()).startswith(_PACKAGE)]
    return outside[-1] if outside else None


def _where(frame: traceback.FrameSummary | None) -> str:
    if frame is None:
        return ""
    text = f" at {_display(frame.filename)}:{frame.lineno}"
    return text + (f"\n    {frame.lineno} | {frame.line.strip()}" if frame.line else "")


def describe_exception(error: BaseException, who: str, files: set[str], context: str = "", timeout: float | None = None) -> str:
    """``your function 'loss' raised ZeroDivisionError at loss.py:5: division by zero``, with
    the line's source; ``who`` names the function (``"function 'loss'"``)."""
    frame = _user_frame(error, files)
    where = _where(frame)
    first, _, rest = where.partition("\n")
    rest = f"\n{rest}" if rest else ""
    tail = f" ({context})" if context else ""
    if isinstance(error, _Timeout):
        context = f" {context}" if context else ""
        return f"your {who} did not return within {timeout:g} s (--timeout {timeout:g}){context}; it was running{first}{rest}"
    if isinstance(error, SystemExit):
        return f"your {who} called sys.exit({error.code!r}){first}{tail}: a loss or gradient must return, not exit{rest}"
    message = str(error)
    return f"your {who} raised {type(error).__name__}{first}{': ' + message if message else ''}{tail}{rest}"


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the code inside after ``seconds`` (raising ``_Timeout`` in it).

    Implemented with ``signal.setitimer(ITIMER_REAL)`` and ``SIGALRM``, so only on Unix and on
    the main thread (where the command line runs); elsewhere, and for ``seconds`` None or 0, the
    code runs without a limit. A running C function (a large NumPy operation) is interrupted
    when it returns to Python.
    """
    if not _can_alarm(seconds):
        yield
        return
    with _alarm_handler(seconds):
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _can_alarm(seconds: float | None) -> bool:
    return bool(seconds) and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


@contextlib.contextmanager
def _alarm_handler(seconds: float | None) -> Iterator[None]:
    """Install the SIGALRM handler of :func:`time_limit` for the block (once for a whole audit,
    not once per call: the thousands of calls of the finite differences)."""
    if not _can_alarm(seconds) or signal.getsignal(signal.SIGALRM) is _alarm:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, previous)


def _first_change(before: np.ndarray, after: Any) -> str | None:
    """None when ``after`` holds the values of ``before``; else where it differs."""
    from . import backend

    after = np.asarray(backend.to_numpy(as_data(after)))
    if after.shape != before.shape:
        return f"its shape changed from {before.shape} to {after.shape}"
    if before.dtype.kind in "fc":
        same = (after == before) | (np.isnan(after) & np.isnan(before))
    else:
        same = after == before
    if np.all(same):
        return None
    index = tuple(int(i) for i in np.unravel_index(int(np.argmin(same)), before.shape))
    was, now = before[index].item(), after[index].item()
    return f"element {index} was {was!r} and became {now!r}" if index else f"its value {was!r} became {now!r}"


class _UserCode:
    """Calls into the user's loss and gradient: each call with fresh copies of the inputs (then
    compared with the originals: MUTATES ITS INPUT), under the time limit, with every exception
    turned into a :class:`UserCodeError` that names the function, the file and the line."""

    def __init__(self, fn: Callable[..., Any], grad_fn: Callable[..., Any] | None, names: list[str], timeout: float | None) -> None:
        self.fn, self.grad_fn, self.names, self.timeout = fn, grad_fn, names, timeout
        self.files = {f for f in (_file_of(fn), _file_of(grad_fn) if grad_fn is not None else None) if f}
        self.context = "at the inputs given"
        self.fn_label = f"function {getattr(fn, '__name__', repr(fn))!r}"
        self.grad_label = f"gradient {getattr(grad_fn, '__name__', repr(grad_fn))!r}"
        self.fn_call = self.grad_call = None  # set by bind_names: how to pass the inputs

    def run(self, who: str, call: Callable[[], Any]) -> Any:
        try:
            with time_limit(self.timeout):
                return call()
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - SystemExit and the alarm are the user's too
            message = describe_exception(error, who, self.files, self.context, self.timeout)
            raise UserCodeError(message) from error

    def _checked(
        self, who: str, f: Callable[..., Any], caller: Any, arrays: Sequence[np.ndarray], wrap: Callable[[np.ndarray], Any]
    ) -> Any:
        copies = [wrap(x.copy()) for x in arrays]
        out = self.run(who, lambda: caller(f, copies) if caller is not None else f(*copies))
        for name, x, c in zip(self.names, arrays, copies):
            change = _first_change(x, c)
            if change is not None:
                raise _Finding(Diagnosis(name, "mutates its input", f"your {who} changed {name} in place {self.context}: {change}"))
        return out

    def loss(self, arrays: Sequence[np.ndarray]) -> Any:
        return self._checked(self.fn_label, self.fn, self.fn_call, arrays, lambda x: x)

    def loss_on_tensors(self, arrays: Sequence[np.ndarray], wrt: Sequence[int]) -> tuple[list[Tensor], Any]:
        tensors: list[Tensor] = []

        def wrap(x: np.ndarray) -> Tensor:
            tensors.append(Tensor(x, requires_grad=len(tensors) in wrt))
            return tensors[-1]

        return tensors, self._checked(self.fn_label, self.fn, self.fn_call, arrays, wrap)

    def gradient(self, arrays: Sequence[np.ndarray]) -> Any:
        return self._checked(self.grad_label, self.grad_fn, self.grad_call, arrays, lambda x: x)  # type: ignore[arg-type]

    def value(self, arrays: Sequence[np.ndarray]) -> np.float64:
        """The loss as one float64 (NOT A SCALAR otherwise)."""
        return _as_scalar(self.loss(arrays), self.fn_label, self.context)


def _as_scalar(out: Any, who: str, context: str) -> np.float64:
    def refuse(what: str) -> _Finding:
        return _Finding(Diagnosis("the loss", "not a scalar", f"your {who} returned {what} {context}"))

    if out is None:
        return _raise(refuse("None"))
    if isinstance(out, str | bytes):
        return _raise(refuse(f"a string ({out[:40]!r})"))
    try:
        from . import backend

        value = np.asarray(backend.to_numpy(as_data(out)))
    except Exception:  # noqa: BLE001 - anything that is not an array is refused below
        return _raise(refuse(f"a {type(out).__name__}"))
    if value.dtype.kind not in "iuf":
        kinds = {"b": "a bool", "c": "a complex number", "U": "a string", "S": "bytes"}
        kind = kinds.get(value.dtype.kind, f"a {type(out).__name__} of dtype {value.dtype}")
        return _raise(refuse(kind if value.size == 1 else f"{kind} array of shape {value.shape}"))
    if value.size != 1:
        return _raise(refuse(f"an array of shape {value.shape} ({value.size} values)"))
    return np.float64(value.reshape(()))


def _raise(finding: _Finding) -> Any:
    raise finding


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _plan(fn: Callable[..., Any], names: list[str], label: str) -> tuple[list[str], Callable[..., Any]] | None:
    """How to call ``fn`` with inputs named ``names``: the order of its parameters, and a caller
    ``(f, values_in_that_order) -> f(...)``. None when ``fn`` has no readable signature.
    Raises :class:`AuditUsageError` for a name that is no parameter or a parameter left out."""
    sig = _signature(fn)
    if sig is None:
        return None
    kinds = inspect.Parameter
    params = list(sig.parameters.values())
    named = {p.name: p for p in params if p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)}
    var_positional = any(p.kind is kinds.VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind is kinds.VAR_KEYWORD for p in params)
    listing = f"{label}({', '.join(str(p) for p in params)})"
    extra = [n for n in names if n not in named]
    if extra and not (var_positional or var_keyword):
        raise AuditUsageError(
            f"--inputs names {extra[0]!r}, but {listing} has no parameter {extra[0]!r}; "
            "name each input after the parameter it is passed as"
        )
    missing = [p.name for p in named.values() if p.default is p.empty and p.name not in names]
    if missing:
        raise AuditUsageError(
            f"--inputs gives no {missing[0]!r}, a parameter of {listing} without a default; add {missing[0]}=dtype[shape]"
        )
    positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    if extra and var_positional and not var_keyword:  # the extra inputs go to *args, in the order given
        skipped = [p.name for p in positional if p.name not in names]
        if skipped:
            raise AuditUsageError(f"{listing} takes the extra inputs {', '.join(extra)} as *args, so {skipped[0]!r} must be given too")
        by_position = [p.name for p in positional] + extra
    else:
        by_position = []
        for p in positional:
            if p.kind is kinds.POSITIONAL_ONLY and p.name in names:
                by_position.append(p.name)
    order = {p.name: i for i, p in enumerate(params)}
    by_keyword = sorted((n for n in names if n not in by_position), key=lambda n: order.get(n, len(order)))
    ordered = by_position + by_keyword
    try:
        sig.bind(*by_position, **dict.fromkeys(by_keyword))
    except TypeError as error:
        raise AuditUsageError(f"cannot pass --inputs {', '.join(names)} to {listing}: {error}") from None
    count = len(by_position)

    def caller(f: Callable[..., Any], values: Sequence[Any]) -> Any:
        return f(*values[:count], **dict(zip(by_keyword, values[count:])))

    return ordered, caller


def bind_names(code: _UserCode, names: list[str]) -> list[str]:
    """Match the input names to the parameters of the loss (and of the gradient): returns the
    names in the order the gradient's results are expected (the loss's parameter order)."""
    plan = _plan(code.fn, names, getattr(code.fn, "__name__", "the function"))
    if plan is None:
        return names
    ordered, code.fn_call = plan
    if code.grad_fn is not None:
        try:
            grad_plan = _plan(code.grad_fn, ordered, getattr(code.grad_fn, "__name__", "the gradient"))
        except AuditUsageError:
            grad_plan = None  # other parameter names: the inputs go in the loss's parameter order
        if grad_plan is None:
            code.grad_call = None
        else:  # by name, whatever the order of the gradient's parameters
            grad_order, grad_caller = grad_plan
            permutation = [ordered.index(n) for n in grad_order]
            code.grad_call = lambda f, values: grad_caller(f, [values[i] for i in permutation])
    return ordered


# ---------------------------------------------------------------------------------- the audit


@dataclass
class _Settings:
    """How the audit runs: the tolerances, the stress scale, the parameters to move, the
    registered loss to compare with (see :func:`audit`)."""

    stress_scale: float
    eps: float
    atol: float
    rtol: float
    params: list[str] | None = None
    reference: Reference | None = None


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
    timeout: float | None = None,
    match_names: bool = False,
    params: Sequence[str] | None = None,
    like: str | None = None,
    like_map: dict[str, str] | None = None,
    like_params: dict[str, Any] | None = None,
) -> AuditReport:
    """Audit the gradient of a scalar loss ``fn(*inputs)``.

    Parameters
    ----------
    fn : callable
        The loss: NumPy arrays in, a scalar out (or nploss Tensors in, a Tensor out when
        ``grad_fn`` is None, so that the engine differentiates it).
    example_inputs : sequence of array_like
        A point at which to check (no input may be empty). Integer inputs (labels) are not
        differentiated.
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
    timeout : float, optional
        Seconds one call of ``fn`` or ``grad_fn`` may take (see :func:`time_limit`; None: no limit).
    match_names : bool
        Pass each input as the parameter of ``fn`` that ``names`` gives it (reordered to the
        parameter order, which the gradients then follow) instead of by position; a name that is
        no parameter, or a parameter without a default left out, raises :class:`AuditUsageError`.
    params : sequence of str, optional
        The inputs that are parameters (a scale γ, a margin, a temperature): moved away from
        their given values and checked again (PARAMETER FACTOR). By default the floating-point
        inputs whose values are all exactly 1 or all exactly 0.
    like : str, optional
        A loss of :data:`nploss.losses.REGISTRY` the user's loss should equal: its values and
        gradients are compared with the user's (VALUE MISMATCH), at the given and the extreme
        inputs. ``like_map`` maps input names to its arguments (default: by position),
        ``like_params`` sets its parameters (and ``reduction``, default ``"mean"``).

    Returns
    -------
    AuditReport
        ``.passed``; ``str(report)`` explains every wrong gradient and how to fix it.

    Raises
    ------
    UserCodeError
        ``fn`` or ``grad_fn`` raised (``SystemExit`` included) or ran past ``timeout``; the
        gradient has the wrong count or shapes; a NumPy ``fn`` without ``grad_fn``.
    AuditUsageError
        An empty input; names that do not match (with ``match_names``); an unknown ``like``
        loss, argument or parameter, or a ``params`` name that is no input.
    """
    arrays = [np.array(as_data(x)) for x in example_inputs]
    arrays = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in arrays]
    names = list(names) if names is not None else [f"input {i}" for i in range(len(arrays))]
    bounds = list(bounds) if bounds is not None else [None] * len(arrays)
    if len(names) != len(arrays) or len(bounds) != len(arrays):
        raise AuditUsageError(f"{len(arrays)} inputs but {len(names)} names and {len(bounds)} bounds")
    for name, x in zip(names, arrays):
        if x.size == 0:
            raise AuditUsageError(f"input {name} is empty (shape {x.shape}): the audit needs at least one element in every input")
    unknown = [p for p in params or [] if p not in names]
    if unknown:
        raise AuditUsageError(f"params names {unknown[0]!r}, which is no input (the inputs: {', '.join(names)})")
    code = _UserCode(fn, grad_fn, names, timeout)
    if match_names:
        ordered = bind_names(code, names)
        index = [names.index(n) for n in ordered]
        arrays, bounds, names = [arrays[i] for i in index], [bounds[i] for i in index], ordered
        code.names = names
    settings = _Settings(stress_scale, eps, atol, rtol, None if params is None else list(params))
    if like is not None:
        settings.reference = bind_reference(like, names, arrays, like_map, like_params, AuditUsageError)
        for i, bound in settings.reference.bounds().items():
            bounds[i] = bounds[i] if bounds[i] is not None else bound
    try:
        with _alarm_handler(timeout):
            return _audit(code, arrays, names, bounds, settings)
    except _Finding as finding:
        return AuditReport(None, None, [finding.diagnosis])


#: Inputs beyond the square root of the largest float64: any square of them overflows, so a loss
#: that is not finite there says nothing about its formula (NOT FINITE, not UNSTABLE LOSS).
_SQUARE_OVERFLOWS = 1e154


def _audit(code: _UserCode, arrays: list[np.ndarray], names: list[str], bounds: list[Any], s: _Settings) -> AuditReport:
    with np.errstate(all="ignore"):
        value = code.value(arrays)
    if not np.isfinite(value):
        raise _Finding(Diagnosis("the loss", "not finite", f"the loss is {value} at the inputs given"))
    ordinary, full = _check(code, arrays, names, s.eps, s.atol, s.rtol)
    report = AuditReport(ordinary, None)
    wrt = floating_inputs(arrays)
    if not ordinary.passed:
        for i, check, (a, n, kinks, forward, backward_) in zip(wrt, ordinary.inputs, full):
            if not check.passed:
                failing = _failing(a, forward, backward_, s.atol, s.rtol)
                kind, detail = classify(a, n, arrays, kinks, s.atol, s.rtol, names, failing, _defaults(code.fn))
                if kind in ("constant factor", "wrong branch", "wrong term"):
                    kind, detail = _parameter_at_given(arrays, names, i, a, n, kind, detail, s)
                if kind in ("wrong reduction", "constant factor") or (kind == "wrong term" and _nearly_proportional(a, n)):
                    kind, detail = _second_size(code, arrays, names, i, a, n, kind, detail, s)
                report.diagnoses.append(_diagnosis(check.name, kind, detail, a, n, s.atol, s.rtol))
        return report
    for step in (_ties, _against_reference, _moved_parameters):
        found = step(code, arrays, names, full, value, s)
        if found:
            report.diagnoses.extend(found)
            return report
    if not s.stress_scale:
        return report
    extreme = stress(arrays, bounds, s.stress_scale)
    for i, x in enumerate(arrays):  # targets of 0/1 or -1/+1 stay what they are: scaling them means nothing
        if x.dtype.kind == "f" and bounds[i] is None and x.size > 1 and set(np.unique(x).tolist()) in ({0.0, 1.0}, {-1.0, 1.0}):
            extreme[i] = x
    code.context = f"at the extreme inputs of the stress check (--stress-scale {s.stress_scale:g}; 0 turns it off)"
    try:
        return _stressed(code, report, extreme, names, s)
    except _Finding as finding:  # a code verdict at the extreme inputs: keep the ordinary check
        report.diagnoses.append(finding.diagnosis)
        return report


@contextlib.contextmanager
def _elsewhere(code: _UserCode, context: str) -> Iterator[None]:
    """Run the user's code at other inputs than the given ones (named in its error messages)."""
    previous, code.context = code.context, context
    try:
        yield
    finally:
        code.context = previous


def _parameter_at_given(
    arrays: list[np.ndarray], names: list[str], i: int, a: np.ndarray, n: np.ndarray, kind: str, detail: str, s: _Settings
) -> tuple[str, str]:
    """A gradient off by exactly the values of a parameter (a per-feature γ, a scalar
    temperature) at the given inputs: a PARAMETER FACTOR rather than a term or a constant."""
    if s.params is not None:
        which = [j for j in probes.parameters(arrays, names, s.params) if j != i]
    else:  # scalars and vectors other than the input itself, whose values are not all 1
        which = [j for j, x in enumerate(arrays) if j != i and x.dtype.kind == "f" and x.ndim <= 1 and x.size < a.size]
    which = [j for j in which if not np.all(arrays[j] == 1.0)]
    factor = probes.parameter_factor(a, n, [(names[j], arrays[j]) for j in which], s.atol, s.rtol)
    return ("parameter factor", factor) if factor else (kind, detail)


def _nearly_proportional(a: np.ndarray, n: np.ndarray) -> bool:
    """``a`` within 5% of ``c n`` for its least-squares ``c``: a factor, blurred by a term that
    does not share it (a regulariser scaled right beside a data term scaled wrong)."""
    c = least_squares_factor(a, n)
    return c is not None and bool(np.linalg.norm(a - c * n) <= 0.05 * np.linalg.norm(a))


def _second_size(
    code: _UserCode, arrays: list[np.ndarray], names: list[str], i: int, a: np.ndarray, n: np.ndarray, kind: str, detail: str, s: _Settings
) -> tuple[str, str]:
    """A factor that equals (or nearly equals) a size of the inputs, checked at a second length
    of that axis: a reduction's factor follows the length, a constant stays."""
    c = least_squares_factor(a, n)
    matches = _size_matches(c, arrays, 0.02) if c is not None else []
    if not matches:
        return kind, detail
    label, size, power = matches[0]
    dims = [int(d) for d in label.split("x")]
    length = dims[0]
    other, new = probes.resized(arrays, length)
    try:
        with _elsewhere(code, f"with every axis of length {length} changed to {new}"), np.errstate(all="ignore"):
            _, full = _check(code, other, names, s.eps, s.atol, s.rtol, which=[i])
    except (AuditError, _Finding, ValueError):
        return kind, detail  # the code works at the given size only: the first verdict stands
    a2, n2 = full[0][0], full[0][1]
    c2 = least_squares_factor(a2, n2) if np.all(np.isfinite(a2)) else None
    if c2 is None:
        return kind, detail
    verdict = probes.follows(c, c2, length, new, power * dims.count(length))
    text = f"N = {label}" if power == 1 else f"1/N, N = {label}"
    if verdict == "constant":
        return "constant factor", (
            f"a = {c:.6g} n at every size (also with the axis of {length} at {new}): a constant that equals a size "
            "by chance, not a reduction"
        )
    if verdict != "size":
        return kind, detail
    if kind == "wrong reduction":
        return kind, detail
    factor = size if power == 1 else 1 / size
    share = (factor - c) / (factor - 1) if factor != 1 else 0.0
    return "wrong reduction", (
        f"a = {c:.6g} n, a factor of {text} on all but a share of about {abs(share):.2g} of the gradient (a term "
        f"that is scaled right, such as a regulariser); with the axis of {length} at {new} the factor is {c2:.6g}"
    )


def _ties(code: _UserCode, arrays: list[np.ndarray], names: list[str], full: list[Any], value: float, s: _Settings) -> list[Diagnosis]:
    """Tied kinks moved together: the sum of their gradients within the joint one-sided slopes."""
    wrt = floating_inputs(arrays)
    gradients = {i: entry[0] for i, entry in zip(wrt, full)}
    checked = [(i, kinks, forward, backward_) for i, (_, _, kinks, forward, backward_) in zip(wrt, full)]
    for group in probes.tie_groups(arrays, checked):
        with np.errstate(all="ignore"):
            up, down = probes.joint_slopes(code.value, arrays, group, s.eps)
        total = float(sum(gradients[i].reshape(-1)[k].sum() for i, k in group.items()))
        count = sum(k.size for k in group.values())
        if not probes.outside(total, up, down, s.atol, s.rtol, count):
            continue
        first = min(group)
        a, n = gradients[first], full[wrt.index(first)][1]
        where = tuple(int(k) for k in np.unravel_index(int(group[first][0]), a.shape))
        listed = ", ".join(
            (f"{names[i]}" if len(group) > 1 else "") + str(tuple(int(j) for j in np.unravel_index(int(k), arrays[i].shape)))
            for i, ks in group.items() for k in ks[:4]
        )  # fmt: skip
        detail = (
            f"{count} tied elements ({listed}) get gradients summing to {total:.6g}, but moving them together "
            f"changes the loss at {down:.6g} (down) to {up:.6g} (up)"
        )
        return [Diagnosis(names[first], "wrong at ties", detail, where, float(a[where]), float(n[where]))]
    return []


def _against_reference(code: _UserCode, arrays: list[np.ndarray], names: list[str], full: list[Any], value: float, s: _Settings) -> list[Diagnosis]:
    """The user's value and gradients against the registered loss of ``like`` (VALUE MISMATCH)."""
    if s.reference is None:
        return []
    gradients = {i: entry[0] for i, entry in zip(floating_inputs(arrays), full)}
    return _localised(code, s.reference, _mismatch(s.reference, value, gradients, arrays, names, "at the inputs given"), arrays)


def _localised(code: _UserCode, reference: Reference, found: list[Diagnosis], arrays: list[np.ndarray]) -> list[Diagnosis]:
    """A mismatch of the loss's value, narrowed to the first row (sample) at which the two losses
    differ when both are evaluated on that row alone; unchanged when the inputs have no common
    first axis, or when no single row differs (the difference is in how rows are combined)."""
    if not found or found[0].where is not None:
        return found
    rows = {x.shape[0] for x in arrays if x.ndim >= 1}
    if len(rows) != 1 or next(iter(rows)) < 2:
        return found
    for row in range(next(iter(rows))):
        one = [x[row : row + 1] for x in arrays]
        try:
            with _elsewhere(code, f"at row {row} alone"), np.errstate(all="ignore"):
                yours, expected = float(code.value(one)), reference.value(one)
        except (AuditError, _Finding, ValueError, TypeError, IndexError):
            return found
        if not np.isclose(yours, expected, rtol=1e-6, atol=1e-9, equal_nan=True):
            d = found[0]
            detail = f"{d.detail}; on row {row} alone: yours {yours:.10g}, {reference.name} {expected:.10g}"
            return [Diagnosis(d.name, d.kind, detail, None, d.analytic, d.numerical)]
    return found


def _mismatch(reference: Reference, value: float, gradients: dict[int, np.ndarray], arrays: list[np.ndarray], names: list[str], where: str) -> list[Diagnosis]:
    try:
        found = reference_mismatch(reference, value, gradients, arrays, names, where)
    except ValueError as error:
        if gradients:  # at the inputs given: the mapping or the parameters do not fit
            raise AuditUsageError(str(error)) from None
        return []  # at extreme inputs outside the registered loss's domain: nothing to compare
    if found is None:
        return []
    name, detail, index, yours, expected = found
    return [Diagnosis(name, "value mismatch", detail, index, yours, expected)]


def _moved_parameters(code: _UserCode, arrays: list[np.ndarray], names: list[str], full: list[Any], value: float, s: _Settings) -> list[Diagnosis]:
    """The check again with the parameters moved from their given values (PARAMETER FACTOR)."""
    which = probes.parameters(arrays, names, s.params)
    if not which:
        return []
    moved = probes.varied(arrays, which)
    listing = ", ".join(names[i] for i in which)
    try:
        with _elsewhere(code, f"with the parameters {listing} moved from their given values"), np.errstate(all="ignore"):
            if not np.isfinite(code.value(moved)):
                return []  # the loss is not defined there: nothing to judge
            result, checked = _check(code, moved, names, s.eps, s.atol, s.rtol)
    except (AuditError, _Finding):
        return []
    found = []
    given = ", ".join(f"{names[i]} = {_describe_value(arrays[i])}" for i in which)
    for check, (a, n, kinks, _, _) in zip(result.inputs, checked):
        if check.passed:
            continue
        factor = probes.parameter_factor(a, n, [(names[i], moved[i]) for i in which], s.atol, s.rtol)
        if not factor:
            kind, what = classify(a, n, moved, kinks, s.atol, s.rtol, names)
            factor = f"{kind}: {what}"
        detail = f"right at {given} only; with {listing} moved, {factor}"
        found.append(_diagnosis(check.name, "parameter factor", detail, a, n, s.atol, s.rtol))
    return found


def _describe_value(x: np.ndarray) -> str:
    values = np.unique(x)
    return f"{values[0]:g}" if values.size == 1 else f"its values {np.array2string(x.reshape(-1)[:4], precision=3)}"


def _stressed(code: _UserCode, report: AuditReport, extreme: list[np.ndarray], names: list[str], s: _Settings) -> AuditReport:
    atol, rtol = s.atol, s.rtol
    try:
        with np.errstate(all="ignore"):
            value = code.value(extreme)
        stressed, full_stressed = _check(code, extreme, names, s.eps, atol, rtol)
    except UserCodeError as error:
        if isinstance(error.__cause__, FloatingPointError | OverflowError | ZeroDivisionError):
            report.diagnoses.append(Diagnosis(names[0], "overflow", str(error).partition("\n")[0].removeprefix("your ")))
            return report
        raise
    report.stressed = stressed
    if not np.isfinite(value):
        overflowing = [n for n, x in zip(names, extreme) if x.dtype.kind == "f" and not np.all(np.abs(x) < _SQUARE_OVERFLOWS)]
        if overflowing:
            why = f"; the extreme inputs themselves overflow ({', '.join(overflowing)} times {s.stress_scale:g})"
            report.diagnoses.append(Diagnosis("the loss", "not finite", f"the loss is {value} at the extreme inputs{why}"))
        else:
            detail = f"the loss itself is {value} at the extreme inputs, which are finite: its formula overflows there, whatever the gradient"
            report.diagnoses.append(Diagnosis("the loss", "unstable loss", detail))
        return report
    if s.reference is not None:  # values only: at the bounds, subgradient conventions may differ
        found = _localised(code, s.reference, _mismatch(s.reference, value, {}, extreme, names, "at the extreme inputs"), extreme)
        if found:
            report.diagnoses.extend(found)
            return report
    unstable = False
    for k, (check, (a, n, _, forward, backward_)) in enumerate(zip(stressed.inputs, full_stressed)):
        if check.passed:
            continue
        # Excused: where the loss is flat on one side only (at a clamp: a finite gradient turned
        # the way of the other side is the intended one, the slope inside the clamp); where it is
        # flat on both sides, only a gradient of zero (a gradient that goes on through a clamp
        # is the bug this check is for); and where the loss's own slope is infinite and the
        # gradient says so.
        forward_flat, backward_flat = forward == 0, backward_ == 0
        one_side_flat = (forward_flat & ~backward_flat & (np.sign(backward_) * np.sign(a) >= 0)) | (
            backward_flat & ~forward_flat & (np.sign(forward) * np.sign(a) >= 0)
        )
        both_flat = forward_flat & backward_flat & (np.abs(a) <= atol)
        flat = (one_side_flat | both_flat) & np.isfinite(a)
        infinite = np.isinf(a) & np.isinf(forward) & np.isinf(backward_) & (np.sign(a) == np.sign(forward)) & (np.sign(a) == np.sign(backward_))
        excused = flat | infinite
        if excused.any():
            again = compare(check.name, np.where(excused, 0.0, a), np.where(excused, 0.0, forward), np.where(excused, 0.0, backward_), atol, rtol)
            if again.passed:
                stressed.inputs[k] = again
                continue
        rest = ~excused
        if not np.all(np.isfinite(n[rest])):
            unstable = True
        elif not np.all(np.isfinite(a)):
            report.diagnoses.append(_diagnosis(check.name, "overflow", "NaN or inf at extreme inputs", a, n, atol, rtol))
        else:
            report.diagnoses.append(_diagnosis(check.name, "overflow", "wrong at extreme inputs", a, n, atol, rtol))
    if unstable:
        detail = (
            f"the loss is {value:.6g} at the extreme inputs but not finite within a step of them (its finite differences "
            "are NaN or inf): the loss's formula overflows there, so its gradient cannot be judged"
        )
        report.diagnoses.append(Diagnosis("the loss", "unstable loss", detail))
    return report


def _diagnosis(name: str, kind: str, detail: str, a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> Diagnosis:
    with np.errstate(invalid="ignore"):
        where = _first_wrong(a, n, atol, rtol)
    if where is None:
        return Diagnosis(name, kind, detail)
    return Diagnosis(name, kind, detail, where, float(a[where]), float(n[where]))


def _expected(names: list[str], arrays: list[np.ndarray], wrt: list[int]) -> str:
    """``one gradient per floating-point input: logits; labels is an integer input``."""
    floats = ", ".join(names[i] for i in wrt) or "none"
    others = [names[i] for i in range(len(arrays)) if i not in wrt]
    text = f"one gradient per floating-point input, in this order: {floats}"
    if others:
        text += f"; {', '.join(others)} {'is an integer input' if len(others) == 1 else 'are integer inputs'} (no gradient)"
    return text


def _analytic(code: _UserCode, arrays: list[np.ndarray], names: list[str], wrt: list[int]) -> list[np.ndarray]:
    if code.grad_fn is None:
        return _engine(code, arrays, names, wrt)
    result = code.gradient(arrays)
    who = f"your {code.grad_label}"
    if result is None:
        raise UserCodeError(f"{who} returned None; expected {_expected(names, arrays, wrt)}")
    if isinstance(result, list | tuple):
        result = list(result)
    elif len(wrt) == 1:
        result = [result]
    else:
        shape = getattr(as_data(result), "shape", None)
        raise UserCodeError(
            f"{who} returned one {type(result).__name__}" + (f" of shape {shape}" if shape is not None else "")
            + f"; expected a tuple of {len(wrt)} arrays, {_expected(names, arrays, wrt)}"
        )
    if len(result) != len(wrt):
        raise UserCodeError(f"{who} returned {len(result)} gradients; expected {_expected(names, arrays, wrt)}")
    out = []
    for i, g in zip(wrt, result):
        if g is None:  # no gradient: zero (as check_grad reads it)
            out.append(np.zeros(arrays[i].shape))
            continue
        try:
            a = np.asarray(as_data(g), dtype=np.float64)
        except (TypeError, ValueError):
            raise UserCodeError(
                f"{who} returned a {type(g).__name__} as the gradient of {names[i]}, not an array of numbers; "
                f"expected {_expected(names, arrays, wrt)}"
            ) from None
        if a.shape != arrays[i].shape:
            raise UserCodeError(
                f"{who} returned a gradient of shape {a.shape} for {names[i]}, which has shape {arrays[i].shape}: "
                f"each gradient has the shape of its input; expected {_expected(names, arrays, wrt)}"
            )
        out.append(a)
    return out


_NEEDS_GRAD = (
    "without --grad the audit differentiates the loss with nploss's engine, which needs it written with "
    "nploss Tensor operations (nploss.autograd: ag.exp, ag.log, ag.sum, ...); pass its hand-written gradient "
    "with --grad FILE.py:GRADIENT, or write the loss on nploss Tensors"
)


def _engine(code: _UserCode, arrays: list[np.ndarray], names: list[str], wrt: list[int]) -> list[np.ndarray]:
    """The engine's gradient of the user's loss, called on Tensors."""
    try:
        tensors, out = code.loss_on_tensors(arrays, wrt)
    except UserCodeError as error:
        cause = error.__cause__
        if isinstance(cause, _Timeout | SystemExit):
            raise
        frame = _where(_user_frame(cause, code.files)).partition("\n")[0] if cause is not None else ""
        raise UserCodeError(
            f"your {code.fn_label} works on NumPy arrays but raised {type(cause).__name__}{frame} on nploss Tensors "
            f"({cause}): {_NEEDS_GRAD}"
        ) from cause
    if not isinstance(out, Tensor):
        raise UserCodeError(
            f"your {code.fn_label} returned a {type(out).__name__}, not an nploss Tensor, when called on Tensors: {_NEEDS_GRAD}"
        )
    if out.size != 1:
        raise _Finding(Diagnosis("the loss", "not a scalar", f"your {code.fn_label} returned a Tensor of shape {out.shape} on Tensors"))
    if not wrt:
        return []
    if not out.requires_grad:
        raise UserCodeError(
            f"the Tensor your {code.fn_label} returned does not depend on its floating-point inputs through "
            f"nploss operations (it was computed from .data or NumPy arrays): {_NEEDS_GRAD}"
        )
    who = f"{code.fn_label}, differentiated by the engine,"
    grads = code.run(who, lambda: grad(out, [tensors[i] for i in wrt], grad_outputs=Tensor(np.ones(out.shape)), allow_unused=True))
    return [np.zeros(arrays[i].shape) if g is None else np.asarray(g.numpy(), dtype=np.float64) for i, g in zip(wrt, grads)]


def _check(
    code: _UserCode, arrays: list[np.ndarray], names: list[str], eps: float, atol: float, rtol: float, which: Sequence[int] | None = None
) -> tuple[GradCheckResult, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]]:
    """check_grad, keeping the full arrays the classification needs: per floating-point input
    (or per input in ``which``) the analytic gradient, the central differences, the kinks and the
    two one-sided differences."""
    wrt = floating_inputs(arrays)
    checks, full = [], []
    with np.errstate(all="ignore"):  # overflow is a finding here, not a warning
        analytic = _analytic(code, arrays, names, wrt)
        for i, a in zip(wrt, analytic):
            if which is not None and i not in which:
                continue
            forward, backward_, central = one_sided_and_central(lambda *xs: code.value(xs), arrays, i, np.ones(()), eps)
            checks.append(compare(names[i], a, forward, backward_, atol, rtol))
            full.append((a, central, kink_mask(forward, backward_, atol, rtol), forward, backward_))
    return GradCheckResult(checks, order=1), full


# ------------------------------------------------------------------------ command-line helpers


def load_callable(target: str, timeout: float | None = None) -> Callable[..., Any]:
    """``"package.module:function"`` or ``"path/to/file.py:function"`` -> the function.

    A file or module that cannot be found, or has no such function, raises ``ValueError``
    (``FileNotFoundError``, ``ImportError``, ``AttributeError``); a syntax error in the file, or
    an exception while it runs (``SystemExit`` and the ``timeout`` included), raises
    :class:`UserCodeError` naming the file and the line.
    """
    import importlib
    import importlib.util
    import sys

    module_name, sep, attribute = target.rpartition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:FUNCTION or FILE.py:FUNCTION, got {target!r}")
    from_file = module_name.endswith(".py") or "/" in module_name
    if from_file:
        path = pathlib.Path(module_name)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        files = {str(path.resolve())}
    else:
        try:
            spec = importlib.util.find_spec(module_name)  # imports the parent packages
        except (ModuleNotFoundError, ValueError):
            spec = None
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - a parent package failed while being loaded
            raise UserCodeError(describe_exception(error, f"module {module_name}", set(), "while it was being loaded")) from error
        if spec is None:
            raise ImportError(f"no module named {module_name!r} (for a file, write FILE.py:FUNCTION)")
        files = {str(pathlib.Path(spec.origin).resolve())} if spec.origin else set()

    def load() -> Any:
        if not from_file:
            return importlib.import_module(module_name)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules.setdefault(path.stem, module)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module

    try:
        with time_limit(timeout):
            module = load()
    except KeyboardInterrupt:
        raise
    except SyntaxError as error:  # the file's own, or one it imports
        where = f"{_display(error.filename)}:{error.lineno}" if error.filename else module_name
        line = f"\n    {error.lineno} | {error.text.strip()}" if error.text and error.text.strip() else ""
        raise UserCodeError(f"{where}: {type(error).__name__}: {error.msg}{line}") from error
    except BaseException as error:  # noqa: BLE001 - the file's code failed while being loaded
        raise UserCodeError(describe_exception(error, f"file {module_name}", files, "while it was being loaded", timeout)) from error
    try:
        fn = getattr(module, attribute)
    except AttributeError:
        raise AttributeError(f"{module_name} has no function {attribute!r}") from None
    if not callable(fn):
        raise TypeError(f"{target} is not callable")
    return fn
