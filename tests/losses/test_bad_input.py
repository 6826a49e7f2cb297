"""Every registered loss answers every input: a clear error naming the argument, or the right
number, never a wrong one (the input policy of nploss.losses._validate).

The cases are generated from each LossSpec's arguments, so a loss registered later is covered
without a line here: for each argument, NaN and inf, other dtypes (int8, uint8, int64, bool,
float16), an extra or a missing axis, empty axes, values outside its domain, ragged nested
lists, masked arrays, read-only and non-contiguous views. Each must raise a ValueError or
TypeError whose message names an argument of the loss, or give the value the same input gives
after an explicit cast to float64 (within round-off); no input is ever mutated.
"""

from __future__ import annotations

import numpy as np
import pytest

import nploss.losses  # noqa: F401  (registers every loss)
from nploss.audit import sample_away_from_kinks
from nploss.losses import REGISTRY, apply_loss
from nploss.losses._validate import INTEGER_DOMAINS

NAMES = sorted(REGISTRY)
OUT_OF_DOMAIN = {  # a value outside each domain (None: every finite real number is in it)
    "real": None, "logits": None, "prob": 1.5, "binary": -0.5, "flag": 0.5, "simplex": 1.5,
    "log_simplex": 0.5, "label": -3, "sign": 0.5, "positive": -1.0, "nonnegative": -1.0,
    "count": -1, "weight": -1.0,
}  # fmt: skip


def _call(spec, inputs, reduction="mean"):
    return apply_loss(spec, *inputs, reduction=reduction, **spec.params)


def _names(spec):
    return [a.name for a in spec.args]


def _explicit(x, integer):
    """The explicit cast the policy promises to equal: to int64 for labels and counts, else to
    float64."""
    return np.asarray(x).astype(np.int64 if integer else np.float64)


def _answers(spec, inputs, expected=None, what=""):
    """The loss on ``inputs`` raises a ValueError/TypeError naming an argument, or returns a
    value (equal to ``expected()``'s, when given); the inputs are not mutated."""
    copies = [np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in inputs]
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(_call(spec, inputs))
    except (ValueError, TypeError) as error:
        assert any(n in str(error) for n in _names(spec)), f"{spec.name} [{what}]: {type(error).__name__}: {error}"
        value = None
    for before, after in zip(copies, inputs):
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(np.asarray(after), before, err_msg=f"{spec.name} [{what}] mutated an input")
    if value is not None and expected is not None:
        want = np.asarray(expected())
        assert value.shape == want.shape, f"{spec.name} [{what}]"
        # float32 inputs are computed in float32 until they meet a float64 one (NumPy's promotion)
        rtol = 1e-5 if "float32" in what or value.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(value, want, rtol=rtol, atol=1e-12,
                                   err_msg=f"{spec.name} [{what}]: a different value than after a float64 cast")  # fmt: skip
    return value


def _cases(name):
    """(label, inputs, expected) for every argument of the loss."""
    spec = REGISTRY[name]
    base = sample_away_from_kinks(spec, 0)
    out = []
    for i, (arg, x) in enumerate(zip(spec.args, base)):

        def swap(value, i=i):
            return [value if j == i else y for j, y in enumerate(base)]

        integer = arg.domain in INTEGER_DOMAINS

        def cast(value, i=i, integer=integer):
            return lambda: _call(spec, [_explicit(value, integer) if j == i else y for j, y in enumerate(base)])

        if not integer:
            for bad in (np.nan, np.inf):
                y = x.astype(np.float64).copy()
                y.flat[0] = bad
                out.append((f"{arg.name} holding {bad}", swap(y), None))
        for dtype in ("int8", "uint8", "int64", "bool", "float16", "float32"):
            rounded = x if integer else np.round(x)
            out.append((f"{arg.name} as {dtype}", swap(rounded.astype(dtype)), None if dtype in ("float16", "bool") else cast(rounded.astype(dtype))))
        out.append((f"{arg.name} with an extra axis", swap(x[..., None]), None))
        if x.ndim:
            out.append((f"{arg.name} without its first axis", swap(x[0]), None))
            out.append((f"{arg.name} with an empty first axis", swap(x[:0]), None))
            out.append((f"{arg.name} read-only", swap(_read_only(x)), lambda: _call(spec, base)))
            out.append((f"{arg.name} non-contiguous", swap(_strided(x)), lambda: _call(spec, base)))
            out.append((f"{arg.name} as a nested list", swap(x.tolist()), lambda: _call(spec, base)))
            out.append((f"{arg.name} as a masked array", swap(np.ma.masked_array(x, mask=np.zeros(x.shape, bool))), None))
        if x.ndim >= 1 and x.shape[0] >= 2:
            out.append((f"{arg.name} as a ragged list", swap([x[0].tolist(), x[1].tolist()[:-1] if x.ndim > 1 else []]), None))
        if x.ndim >= 2:
            out.append((f"{arg.name} with an empty last axis", swap(x[..., :0]), None))
        bad = OUT_OF_DOMAIN[arg.domain]
        if bad is not None and x.size:
            y = (x.astype(np.float64) if not integer else x).copy()
            y.flat[0] = bad
            out.append((f"{arg.name} outside its domain", swap(y.astype(x.dtype) if integer else y), None))
    return [(name, label, inputs, expected) for label, inputs, expected in out]


def _read_only(x):
    y = x.copy()
    y.flags.writeable = False
    return y


def _strided(x):
    """The same values, as a view with non-unit strides."""
    wide = np.repeat(x[..., None], 2, axis=-1)
    return wide[..., 0]


CASES = [case for name in NAMES for case in _cases(name)]


def test_every_loss_gets_every_kind_of_bad_input():
    assert len(CASES) > 1500
    assert {name for name, *_ in CASES} == set(NAMES)


@pytest.mark.parametrize("name, label, inputs, expected", CASES, ids=[f"{n}: {lab}" for n, lab, _, _ in CASES])
def test_bad_input_is_refused_by_name_or_answered_right(name, label, inputs, expected):
    spec = REGISTRY[name]
    value = _answers(spec, inputs, expected, label)
    if value is not None and ("holding nan" in label or "holding inf" in label):
        pytest.fail(f"{name} [{label}]: accepted, value {value}")
    if value is not None and ("extra axis" in label or "without its first axis" in label) and not spec.reduces_itself:
        # accepted with another shape: then no silent broadcasting, (N, 1) against (N,) giving (N, N)
        none = np.asarray(_call(spec, inputs, "none"))
        assert none.size <= max(np.size(x) for x in inputs), f"{name} [{label}]: broadcast to {none.shape}"
    if value is not None and ("as float16" in label or "masked array" in label or "ragged list" in label):
        pytest.fail(f"{name} [{label}]: accepted, value {value}")
    if value is not None and "outside its domain" in label:
        pytest.fail(f"{name} [{label}]: accepted, value {value}")
    if value is not None and ("bool" in label and spec.args[[a.name for a in spec.args].index(label.split()[0])].domain != "flag"):
        pytest.fail(f"{name} [{label}]: a boolean array accepted as numbers, value {value}")


# means over mined pairs or triplets, 0 when there are none (pytorch-metric-learning's reducers)
EMPTY_MEAN_IS_ZERO = {"batch_triplet", "lifted_structured"}


@pytest.mark.parametrize("name", [n for n in NAMES if not REGISTRY[n].reduces_itself])
def test_an_empty_batch_gives_nan_for_mean_and_zero_for_sum_or_is_refused(name):
    spec = REGISTRY[name]
    inputs = sample_away_from_kinks(spec, 0)
    batch = [x[:0] if x.ndim and spec.args[i].shape[:1] == ("N",) else x for i, x in enumerate(inputs)]
    try:
        mean, total, none = (np.asarray(_call(spec, batch, r)) for r in ("mean", "sum", "none"))
    except (ValueError, TypeError) as error:
        assert any(n in str(error) for n in _names(spec)), f"{name}: {error}"
        return
    if none.size:  # the batch is not the "N" of these arguments (per-task vectors, a support set)
        return
    assert total == 0.0
    if name in EMPTY_MEAN_IS_ZERO:
        assert mean == 0.0
    else:
        assert np.isnan(mean), f"{name}: the mean over an empty batch is {mean}, not NaN"
