"""ONE test over every registered loss: three gradients agree, edge cases stay finite, float32
tracks float64, reductions are consistent. A new loss is covered by registering it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nploss.losses  # noqa: F401  (registers every loss)
from nploss.audit import audit_loss, sample_away_from_kinks
from nploss.autograd import Tensor, grad
from nploss.losses import REGISTRY, _blocks, apply_loss
from nploss.numerics import array_namespace

NAMES = sorted(REGISTRY)
SAVING = [n for n in NAMES if REGISTRY[n].forward_saving is not None]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_analytic_composite_and_finite_differences_agree(name, seed):
    row = audit_loss(REGISTRY[name], seed)
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


@pytest.mark.parametrize("name", SAVING)
def test_what_the_forward_saves_gives_the_gradient_the_vjp_would_recompute(name):
    spec = REGISTRY[name]
    xp = array_namespace(np)
    inputs = sample_away_from_kinks(spec, seed=7)
    value, saved = spec.forward_saving(xp, *inputs, **spec.params)
    np.testing.assert_array_equal(value, spec.forward(xp, *inputs, **spec.params))
    g = np.random.default_rng(7).standard_normal(value.shape)
    given = spec.vjp(xp, g, *inputs, **spec.params, saved=saved)
    recomputed = spec.vjp(xp, g, *inputs, **spec.params)
    for a, b in zip(given, recomputed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def _tensors_of_64_samples(spec, seed, blocked, monkeypatch):
    """Inputs of 64 samples as Tensors (the differentiable ones requiring grad); with ``blocked``,
    blocks of a few rows, as large inputs get."""
    if blocked:
        monkeypatch.setattr(_blocks, "MIN_ELEMENTS", 0)
        monkeypatch.setattr(_blocks, "BLOCK_BYTES", 512)
    inputs = spec.sample(np.random.default_rng(seed), {"N": 64})
    return [Tensor(x, requires_grad=a.differentiable) for x, a in zip(inputs, spec.args)]


@pytest.mark.parametrize("blocked", [False, True])
@pytest.mark.parametrize("name", SAVING)
def test_a_fused_backward_pass_receives_what_the_forward_saved(name, blocked, monkeypatch):
    spec = REGISTRY[name]
    received = []

    def vjp(*args, **kwargs):
        received.append(kwargs.get("saved"))
        return spec.vjp(*args, **kwargs)

    tensors = _tensors_of_64_samples(spec, 8, blocked, monkeypatch)
    apply_loss(dataclasses.replace(spec, vjp=vjp), *tensors, **spec.params).backward()
    assert len(received) > (1 if blocked else 0)
    assert all(s is not None for s in received)


@pytest.mark.parametrize("blocked", [False, True])
@pytest.mark.parametrize("name", SAVING)
def test_what_the_forward_saved_survives_a_backward_pass(name, blocked, monkeypatch):
    # a second backward pass through the same graph reads the saved arrays again: a vjp that
    # worked on them in place would give it a different gradient
    spec = REGISTRY[name]
    tensors = _tensors_of_64_samples(spec, 9, blocked, monkeypatch)
    loss = apply_loss(spec, *tensors, **spec.params)
    wrt = [t for t in tensors if t.requires_grad]
    first = [g.data.copy() for g in grad(loss, wrt)]
    second = [g.data for g in grad(loss, wrt)]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_registered_loss_has_formula_reference_and_a_public_function():
    for name, spec in REGISTRY.items():
        assert spec.formula and spec.reference, name
        assert hasattr(nploss.losses, name), f"nploss.losses has no public function {name!r}"
