"""Input checks shared by every loss. Each error names the argument, what was expected and what
came, so a wrong call fails at the call site rather than as a NaN three layers later.

**The input policy** (:func:`as_arrays`, applied to every registered loss before anything else):

| argument's domain | integer dtype | bool | float16, longdouble, complex |
| --- | --- | --- | --- |
| ``label``, ``count`` (class indices, lengths) | int64 | refused | refused |
| ``flag`` (done flags) | converted | converted | refused |
| every other one (real numbers, logits, probabilities, targets, signs, weights) | converted | refused | refused |

*Converted* means cast, before any arithmetic, to the floating dtype of the loss's other real
inputs (float32 with float32 predictions, as PyTorch promotes an integer target against a float
one; float64 when no input is floating), so that no formula ever sees an integer (whose
constants would be truncated and whose arithmetic would wrap around). *Refused* is a
``TypeError`` naming the argument. Masked arrays are refused (their mask would be dropped
silently), and so are nested lists that do not make a rectangular array.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from .. import backend
from ..autograd import Tensor
from ..backend import get_array_module
from ._spec import DOMAINS, LossSpec


def _host_any(mask: Any) -> bool:
    """One boolean to the host (on a GPU, a device-to-host copy of one byte per check)."""
    return _host_bool(mask.any())


def _host_all(mask: Any) -> bool:
    """As :func:`_host_any`, for ``all``."""
    return _host_bool(mask.all())


def _host_bool(value: Any) -> bool:
    # NumPy's reductions give a NumPy scalar, already on the host: bool() at once, without the
    # array that to_numpy would wrap it in (checks run several times per call of a loss)
    return bool(value) if isinstance(value, numpy.generic) else bool(backend.to_numpy(value))


FLOATING = ("float32", "float64")  # the dtypes the losses compute in
FLOATING_CHARS = "fd"  # their one-letter codes (numpy.dtype(...).char), in the same order
INTEGER_DOMAINS = ("label", "count")
NONEMPTY_AXES = {"C": "class", "D": "feature"}  # the symbolic axes (see Arg.shape) that may not be empty


def as_arrays(spec: LossSpec, inputs: Sequence[Any]) -> list[Any]:
    """The inputs as arrays of one array module (labels or targets given on the host join inputs
    on the GPU, as CuPy's kernels take no host arrays), under the input policy of the module
    docstring."""
    arity(spec, inputs)
    arrays = [_as_array(arg.name, x) for arg, x in zip(spec.args, inputs)]
    module = get_array_module(*arrays)
    arrays = [a if get_array_module(a) is module else module.asarray(a) for a in arrays]
    for arg, a in zip(spec.args, arrays):
        empty = [i for i, (symbol, n) in enumerate(zip(arg.shape, a.shape)) if n == 0 and symbol in NONEMPTY_AXES]
        if empty:  # an empty batch is a batch; a loss over no features or no classes is no loss
            what = NONEMPTY_AXES[arg.shape[empty[0]]]
            raise ValueError(f"{arg.name} must have at least one {what} (axis {empty[0]}), got shape {tuple(a.shape)}")
    reals = [a.dtype for arg, a in zip(spec.args, arrays) if arg.domain not in INTEGER_DOMAINS and a.dtype.kind == "f"]
    dtype = module.result_type(*reals) if reals else module.dtype("float64")
    return [_policy(arg.name, arg.domain, a, dtype) for arg, a in zip(spec.args, arrays)]


def _as_array(name: str, x: Any) -> Any:
    """``x`` as an array: a Tensor's data, or an array of its module; refused where the array
    would not be what the user gave (a masked array loses its mask, a ragged list is no array)."""
    if isinstance(x, Tensor):
        array = x.data  # as it is, so that a Tensor not converted below keeps its place in the graph
    elif isinstance(x, numpy.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array, whose mask the loss would ignore: pass the values to use "
            f"({name}.filled(value) or {name}.compressed())"
        )
    else:
        try:
            array = get_array_module(x).asarray(x)
        except (ValueError, TypeError) as error:  # ragged nested lists, objects NumPy cannot convert
            raise ValueError(f"{name} cannot be made an array of numbers ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got dtype {array.dtype}")
    return array


def _policy(name: str, domain: str, x: Any, dtype: Any) -> Any:
    """``x`` under the input policy: integer domains keep their integers, the others compute in
    ``dtype`` (float32 or float64)."""
    kind = x.dtype.kind
    if kind == "b" and domain != "flag":
        raise TypeError(
            f"{name} must hold {DOMAINS[domain][0]}, got a boolean array; cast it if that is meant "
            f"({name}.astype(float) or .astype(int))"
        )
    if domain in INTEGER_DOMAINS:  # indices: int64, whose arithmetic (length - 1) cannot wrap around
        return x if kind == "f" or x.dtype == "int64" else x.astype("int64")
    # dtype.char ('f' float32, 'd' float64) rather than dtype.name, which NumPy builds in Python
    # at each access: a measurable part of a call on a few hundred values
    if kind == "f" and x.dtype.char not in FLOATING_CHARS:
        raise TypeError(f"{name} must be float32 or float64 (or an integer array), got dtype {x.dtype}; cast it")
    return x.astype(dtype) if kind in "biu" else x


def reduction(name: Any, allowed: Sequence[str]) -> None:
    if name not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, allowed))}, got {name!r}")


def same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Refuse shapes that differ, even where they would broadcast: (N, 1) against (N,) silently
    gives an (N, N) loss in NumPy and PyTorch alike."""
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the shape of {name_a} {tuple(a.shape)}, got {tuple(b.shape)}")


def labels(name: str, y: Any, classes: int | None, ignore_index: int | None = None) -> None:
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    valid = y != ignore_index if ignore_index is not None else None
    values = y[valid] if valid is not None else y
    if values.size and (_host_any(values < 0) or (classes is not None and _host_any(values >= classes))):
        bound = f"in [0, {classes})" if classes is not None else ">= 0"
        raise ValueError(
            f"{name} must be class labels {bound}"
            + (f" or ignore_index={ignore_index}" if ignore_index is not None else "")
            + f", got values from {int(values.min())} to {int(values.max())}"
        )


def finite(name: str, x: Any) -> None:
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
    # isfinite(x).all() rather than (~isfinite(x)).any(): one pass over the booleans fewer
    if x.dtype.kind == "f" and not _host_all(get_array_module(x).isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")


def in_range(name: str, x: Any, lo: float | None, hi: float | None, what: str) -> None:
    if (lo is not None and _host_any(x < lo)) or (hi is not None and _host_any(x > hi)):
        raise ValueError(f"{name} must be {what}, got values from {float(x.min()):.6g} to {float(x.max()):.6g}")


def matrix(name: str, x: Any, what: str = "(N, D)") -> None:
    """A 2-D array: one row per sample (or class, or prototype)."""
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array {what}, got shape {tuple(x.shape)}")


def class_weights(name: str, w: Any, classes: int) -> None:
    """Per-class weights (or focal ``alpha``): None, or a finite non-negative vector of length C."""
    if w is None:
        return
    if not hasattr(w, "shape") or tuple(w.shape) != (classes,):
        shape = tuple(w.shape) if hasattr(w, "shape") else type(w).__name__
        raise ValueError(f"{name} must have one entry per class, shape ({classes},), got {shape}")
    finite(name, w)
    in_range(name, w, 0.0, None, "non-negative")


def domain(name: str, x: Any, kind: str, classes: int | None = None, ignore_index: int | None = None) -> None:
    """Check ``x`` against one of the domains of :data:`nploss.losses._spec.DOMAINS`."""
    if kind in ("label", "count"):
        if kind == "label":
            labels(name, x, classes, ignore_index)
        else:
            if x.dtype.kind not in "iuf":
                raise TypeError(f"{name} must hold counts, got dtype {x.dtype}")
            finite(name, x)
            in_range(name, x, 0, None, "non-negative")
        return
    finite(name, x)
    if kind == "prob" or kind == "binary":
        in_range(name, x, 0.0, 1.0, "in [0, 1]")
    elif kind == "simplex":
        in_range(name, x, 0.0, 1.0, "in [0, 1]")
        sums = x.sum(axis=-1)
        if _host_any(abs(sums - 1) > 1e-6 * x.shape[-1]):
            raise ValueError(f"{name} rows must sum to 1 (probabilities or one-hot), got sums from {float(sums.min()):.6g} to {float(sums.max()):.6g}")
    elif kind == "flag":
        if _host_any((x != 0) & (x != 1)):
            raise ValueError(f"{name} must hold 0 or 1 (or booleans), got values {sorted(set(x.ravel().tolist()))[:5]}")
    elif kind == "log_simplex":
        in_range(name, x, None, 0.0, "log-probabilities (<= 0)")
    elif kind == "sign":
        if _host_any((x != 1) & (x != -1)):
            raise ValueError(f"{name} must hold targets in {{-1, +1}}, got values {sorted(set(x.ravel().tolist()))[:5]}")
    elif kind == "positive":
        if _host_any(x <= 0):
            raise ValueError(f"{name} must be positive, got a minimum of {float(x.min()):.6g}")
    elif kind in ("nonnegative", "weight"):
        in_range(name, x, 0.0, None, "non-negative")
    elif kind not in DOMAINS:
        raise ValueError(f"unknown domain {kind!r}")


def arity(spec: LossSpec, inputs: Sequence[Any]) -> None:
    if len(inputs) != len(spec.args):
        raise TypeError(f"{spec.name} takes {len(spec.args)} inputs ({', '.join(a.name for a in spec.args)}), got {len(inputs)}")


def domains(spec: LossSpec, arrays: Sequence[Any], params: dict[str, Any]) -> None:
    """The domain of every argument. Elementwise (per row, for a simplex), so that it may run
    on row blocks of the arguments as well as on the whole (:mod:`nploss.losses._blocks`)."""
    named = {a.name: x for a, x in zip(spec.args, arrays)}
    classes = None
    if spec.classes_from is not None:
        source = named[spec.classes_from]
        classes = source.shape[1] if source.ndim > 1 else None
    for arg, x in zip(spec.args, arrays):
        domain(arg.name, x, arg.domain, classes, params.get("ignore_index"))
