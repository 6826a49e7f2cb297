"""ONE test over every registered loss: three gradients agree, edge cases stay finite, float32
tracks float64, reductions are consistent. A new loss is covered by registering it."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.losses  # noqa: F401  (registers every loss)
from nploss.audit import audit_loss, sample_away_from_kinks
from nploss.autograd import Tensor, grad
from nploss.losses import REGISTRY, apply_loss

NAMES = sorted(REGISTRY)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_analytic_composite_and_finite_differences_agree(name, seed):
    # The parameter grid and the tie fixtures are seed-independent in what they cover: seed 0
    # audits them, seeds 1 and 2 add fresh samples at the defaults.
    row = audit_loss(REGISTRY[name], seed, grid=seed == 0)
    assert row.passed, row.failure()


def _value_and_grads(spec, inputs, mode):
    tensors = [Tensor(x, requires_grad=i in spec.differentiable) for i, x in enumerate(inputs)]
    out = apply_loss(spec, *tensors, mode=mode, **spec.params)
    grads = grad(out, [tensors[i] for i in spec.differentiable], allow_unused=True)
    return out.numpy(), [g.numpy() for g in grads if g is not None]


@pytest.mark.parametrize(
    "name, case",
    [(n, c) for n in NAMES for c in REGISTRY[n].edge_cases] or [pytest.param(None, None, marks=pytest.mark.skip)],
)
def test_edge_cases_give_finite_values_and_gradients(name, case):
    spec = REGISTRY[name]
    inputs = spec.edge_cases[case](np.random.default_rng(0))
    value, grads = _value_and_grads(spec, inputs, "fused")
    assert np.all(np.isfinite(value)), f"{name} [{case}]: value {value}"
    assert all(np.all(np.isfinite(g)) for g in grads), f"{name} [{case}]: non-finite gradient"
    value_c, grads_c = _value_and_grads(spec, inputs, "composite")
    np.testing.assert_allclose(value_c, value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_float32_forward_tracks_float64(name):
    spec = REGISTRY[name]
    inputs = sample_away_from_kinks(spec, seed=3)
    v64 = np.asarray(apply_loss(spec, *inputs, reduction="mean", **spec.params))
    single = [x.astype(np.float32) if x.dtype.kind == "f" else x for x in inputs]
    v32 = np.asarray(apply_loss(spec, *single, reduction="mean", **spec.params))
    assert v32.dtype == np.float32, f"{name} promoted float32 inputs to {v32.dtype}"
    np.testing.assert_allclose(v32, v64, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(v64).max())))


@pytest.mark.parametrize("name", [n for n in NAMES if not REGISTRY[n].reduces_itself])
def test_reductions_are_consistent(name):
    spec = REGISTRY[name]
    inputs = sample_away_from_kinks(spec, seed=4)
    none = np.asarray(apply_loss(spec, *inputs, reduction="none", **spec.params))
    total = np.asarray(apply_loss(spec, *inputs, reduction="sum", **spec.params))
    mean = np.asarray(apply_loss(spec, *inputs, reduction="mean", **spec.params))
    assert total == pytest.approx(none.sum(), rel=1e-12, abs=1e-12)
    if spec.reduction_weights is None:
        assert mean == pytest.approx(none.sum() / none.size, rel=1e-12, abs=1e-12)
    if spec.nonnegative:
        assert np.all(none >= 0), f"{name} is negative somewhere: {none.min()}"


@pytest.mark.parametrize("name", NAMES)
def test_unknown_reduction_is_refused(name):
    spec = REGISTRY[name]
    inputs = sample_away_from_kinks(spec, seed=5)
    with pytest.raises(ValueError, match="reduction must be one of .* got 'average'"):
        apply_loss(spec, *inputs, reduction="average", **spec.params)


@pytest.mark.parametrize("name", NAMES)
def test_nan_inputs_are_refused(name):
    spec = REGISTRY[name]
    inputs = sample_away_from_kinks(spec, seed=6)
    i = next(i for i, a in enumerate(spec.args) if inputs[i].dtype.kind == "f")
    inputs[i] = inputs[i].copy()
    inputs[i].flat[0] = np.nan
    with pytest.raises(ValueError, match=f"{spec.args[i].name} contains NaN"):
        apply_loss(spec, *inputs, **spec.params)


def test_every_registered_loss_has_formula_reference_and_a_public_function():
    for name, spec in REGISTRY.items():
        assert spec.formula and spec.reference, name
        assert hasattr(nploss.losses, name), f"nploss.losses has no public function {name!r}"


def test_every_public_loss_docstring_ends_with_where_its_reference_lives():
    import pathlib

    root = pathlib.Path(nploss.losses.__file__).resolve().parents[2]
    for name, spec in REGISTRY.items():
        doc = getattr(nploss.losses, name).__doc__.rstrip()
        assert doc.endswith(spec.signpost()), name
        path, forward, vjp = spec.source.split(", ")
        text = (root / path).read_text()
        assert f"def {forward}(" in text and f"def {vjp}(" in text, spec.source
