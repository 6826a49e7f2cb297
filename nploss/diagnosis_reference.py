r"""Comparing a user's loss with a verified one: the VALUE MISMATCH test of the audit.

A defect that the loss and its gradient share (a ``log(p + 1e-12)`` written in both, a mean over
the wrong axis in both) leaves them consistent with each other, so no finite-difference check
can see it. Only a comparison with a loss known to be right can: ``audit(..., like="NAME")``
evaluates :data:`nploss.losses.REGISTRY` ``[NAME]`` (its reference formula, with its default
parameters updated by ``like_params``, and ``reduction``: ``mean``, ``sum``, or ``batchmean``, the
sum divided by the rows) at the same inputs, and compares the values and the
gradients with the user's, at the given inputs and at the extreme ones. The first difference
beyond :data:`VALUE_RTOL` is a VALUE MISMATCH, naming where and by how much.

The user's inputs are passed to the registered loss by position (the first input as its first
argument, ...), or by a mapping of names, ``{"logits": "prediction", "labels": "target"}``:
either side may be the user's name, the other the loss's argument; an argument left out is the
input of its own name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Relative tolerance of the value and gradient comparison (both are exact formulas: they agree
#: to round-off when they compute the same thing).
VALUE_RTOL = 1e-6
VALUE_ATOL = 1e-9


@dataclass
class Reference:
    """A registered loss bound to the user's inputs: which user input is which argument."""

    name: str
    spec: Any
    order: list[int]  # order[k]: the user input passed as the loss's argument k
    params: dict[str, Any]
    reduction: str

    def _apply(self, inputs: Sequence[Any]) -> Any:
        """The registered loss, reduced: ``batchmean`` is the sum divided by the rows."""
        from .losses import apply_loss

        reduction = "sum" if self.reduction == "batchmean" else self.reduction
        out = apply_loss(self.spec, *inputs, reduction=reduction, mode="reference", **self.params)
        return out / len(inputs[0]) if self.reduction == "batchmean" else out

    def value(self, arrays: Sequence[np.ndarray]) -> float:
        with np.errstate(all="ignore"):
            out = self._apply([arrays[i] for i in self.order])
        return float(np.asarray(out).reshape(()))

    def gradients(self, arrays: Sequence[np.ndarray]) -> dict[int, np.ndarray]:
        """The reference gradient for every user input that is a differentiable argument."""
        from .autograd import Tensor, grad

        wanted = [k for k, i in enumerate(self.order) if self.spec.args[k].differentiable and arrays[i].dtype.kind == "f"]
        if not wanted:
            return {}
        inputs: list[Any] = [arrays[i] for i in self.order]
        for k in wanted:
            inputs[k] = Tensor(arrays[self.order[k]].copy(), requires_grad=True)
        with np.errstate(all="ignore"):
            out = self._apply(inputs)
            grads = grad(out, [inputs[k] for k in wanted], allow_unused=True)
        return {self.order[k]: (np.zeros(arrays[self.order[k]].shape) if g is None else np.asarray(g.numpy(), dtype=np.float64)) for k, g in zip(wanted, grads)}

    def bounds(self) -> dict[int, tuple[float, float]]:
        """Bounded domains of the registered loss's arguments, by user input: probabilities."""
        return {i: (0.0, 1.0) for k, i in enumerate(self.order) if self.spec.args[k].domain == "prob"}


def parse_mapping(text: str) -> dict[str, str]:
    """``"logits=prediction, labels=target"`` -> a dict (a ValueError names a malformed pair)."""
    mapping = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        left, sep, right = (s.strip() for s in pair.partition("="))
        if not sep or not left or not right:
            raise ValueError(f"--map: cannot read {pair!r}; expected YOUR_INPUT=LOSS_ARGUMENT pairs, e.g. 'logits=logits,labels=target'")
        mapping[left] = right
    return mapping


def parse_params(text: str) -> dict[str, Any]:
    """``"margin=0.5, reduction=sum"`` -> ``{"margin": 0.5, "reduction": "sum"}`` (numbers, true,
    false and none read as such; anything else is a string)."""
    params: dict[str, Any] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, raw = (s.strip() for s in pair.partition("="))
        if not sep or not key:
            raise ValueError(f"--like-params: cannot read {pair!r}; expected NAME=VALUE pairs, e.g. 'margin=0.5'")
        lowered = raw.lower()
        if lowered in ("true", "false"):
            params[key] = lowered == "true"
        elif lowered == "none":
            params[key] = None
        else:
            try:
                params[key] = int(raw)
            except ValueError:
                try:
                    params[key] = float(raw)
                except ValueError:
                    params[key] = raw
    return params


def bind(
    like: str, names: Sequence[str], arrays: Sequence[np.ndarray], mapping: Mapping[str, str] | None, params: Mapping[str, Any] | None,
    error: Callable[[str], Exception],
) -> Reference:
    """The registered loss ``like`` bound to the user's inputs; ``error(message)`` builds the
    exception for an unknown loss, argument, input or parameter."""
    from .losses import REGISTRY

    spec = REGISTRY.get(like)
    if spec is None:
        close = difflib.get_close_matches(like, REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `nploss show LOSS` lists one, `nploss audit --format json` all"
        raise error(f"--like {like!r} is no registered loss{hint}")
    args = [a.name for a in spec.args]
    if mapping:
        by_arg: dict[str, int] = {}
        for left, right in mapping.items():
            if left in names and right in args:
                by_arg[right] = names.index(left)
            elif right in names and left in args:
                by_arg[left] = names.index(right)
            else:
                raise error(
                    f"--map {left}={right}: one side must be an input of yours ({', '.join(names)}) and the other "
                    f"an argument of {like} ({', '.join(args)})"
                )
        for a in args:  # an argument left out of the mapping: the input of the same name
            if a not in by_arg and a in names:
                by_arg[a] = names.index(a)
        missing = [a for a in args if a not in by_arg]
        if missing:
            raise error(f"--map gives no input for {like}'s argument {missing[0]!r} (its arguments: {', '.join(args)})")
        order = [by_arg[a] for a in args]
    else:
        if len(names) < len(args):
            raise error(f"{like} takes {len(args)} inputs ({', '.join(args)}) and you gave {len(names)}; map them with --map")
        order = list(range(len(args)))
    given = dict(params or {})
    reduction = str(given.pop("reduction", "mean"))
    unknown = [k for k in given if k not in spec.params]
    if unknown:
        known = ", ".join(sorted(spec.params)) or "none"
        raise error(f"--like-params: {like} has no parameter {unknown[0]!r} (its parameters: {known}; and reduction)")
    if reduction not in spec.reductions + ("batchmean",) or (reduction == "batchmean" and "sum" not in spec.reductions):
        raise error(f"--like-params: reduction={reduction!r}; {like} takes {', '.join(spec.reductions)} (and batchmean: the sum over the rows)")
    return Reference(like, spec, order, {**spec.params, **given}, reduction)


def mismatch(
    reference: Reference, value: float, gradients: Mapping[int, np.ndarray], arrays: Sequence[np.ndarray], names: Sequence[str], where: str
) -> tuple[str, str, tuple[int, ...] | None, float | None, float | None] | None:
    """The first disagreement with the reference at ``arrays`` (``where`` says which inputs):
    ``(input name, detail, element, yours, reference)``; None when they agree."""
    try:
        expected = reference.value(arrays)
    except Exception as error:  # the registered loss refuses these inputs
        raise ValueError(f"{reference.name} cannot be evaluated at your inputs ({error}); check --map and --like-params") from error
    if not _agree(np.float64(value), np.float64(expected)):
        detail = f"your loss is {value:.10g} {where} where {reference.name} gives {expected:.10g} (a difference of {_difference(value, expected)})"
        return ("the loss", detail, None, value, expected)
    if not gradients:
        return None
    try:
        reference_gradients = reference.gradients(arrays)
    except Exception:  # noqa: BLE001 - no gradient to compare with: the values agreed
        return None
    for i, g in gradients.items():
        r = reference_gradients.get(i)
        if r is None or r.shape != g.shape:
            continue
        wrong = ~_close(g, r)
        if wrong.any():
            index = tuple(int(k) for k in np.unravel_index(int(np.argmax(wrong)), g.shape))
            detail = (f"your gradient of {names[i]} differs from {reference.name}'s {where} at {int(wrong.sum())} of {g.size} "
                      f"elements, first at {index}: {g[index]:.10g} vs {r[index]:.10g}")  # fmt: skip
            return (names[i], detail, index, float(g[index]), float(r[index]))
    return None


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    with np.errstate(invalid="ignore"):
        return both_inf | (np.abs(a - b) <= VALUE_ATOL + VALUE_RTOL * np.abs(b)) | (np.isnan(a) & np.isnan(b))


def _agree(a: np.float64, b: np.float64) -> bool:
    return bool(_close(np.asarray(a), np.asarray(b)))


def _difference(a: float, b: float) -> str:
    if not (np.isfinite(a) and np.isfinite(b)):
        return "a non-finite value"
    rel = abs(a - b) / max(abs(b), 1e-300)
    return f"{abs(a - b):.3g}, {rel:.2g} relative"
