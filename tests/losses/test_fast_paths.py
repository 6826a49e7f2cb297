"""Every fast path is held to its reference: the same values and gradients (float64 to round-off,
float32 within its precision), for every reduction, at sampled inputs, at the loss's edge cases
and in row blocks. A fast path can be deleted and nothing changes but the speed; a wrong one
fails here (see test_a_planted_wrong_fast_gradient_is_caught)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nploss.losses  # noqa: F401  (registers every loss)
from nploss.audit import sample_away_from_kinks
from nploss.autograd import Tensor, grad
from nploss.losses import REGISTRY, FastPath, _blocks, apply_loss

FAST = sorted(n for n, spec in REGISTRY.items() if spec.fast is not None)
# float64: the two differ by the order of their operations only
RTOL = {np.float64: 1e-12, np.float32: 2e-6}


def _value_and_grads(spec, inputs, reduction, mode, cotangent=None):
    tensors = [Tensor(x, requires_grad=i in spec.differentiable) for i, x in enumerate(inputs)]
    out = apply_loss(spec, *tensors, reduction=reduction, mode=mode, **spec.params)
    g = np.ones(out.shape, dtype=out.dtype) if cotangent is None else cotangent.astype(out.dtype)
    grads = grad(out, [tensors[i] for i in spec.differentiable], grad_outputs=g, allow_unused=True)
    return out.numpy(), [np.zeros(inputs[i].shape) if gr is None else gr.numpy() for i, gr in zip(spec.differentiable, grads)]


def _worst_difference(spec, inputs, reduction, seed=0):
    """The largest relative difference between the fast path and the reference, over the value
    and every gradient (each relative to the reference's largest magnitude)."""
    shape = np.shape(apply_loss(spec, *inputs, reduction=reduction, mode="reference", **spec.params))
    cotangent = np.random.default_rng(seed).standard_normal(shape)
    value_r, grads_r = _value_and_grads(spec, inputs, reduction, "reference", cotangent)
    value_f, grads_f = _value_and_grads(spec, inputs, reduction, "fused", cotangent)
    assert value_f.dtype == value_r.dtype and value_f.shape == value_r.shape
    worst = 0.0
    for r, f in zip([value_r, *grads_r], [value_f, *grads_f], strict=True):
        assert f.shape == r.shape and f.dtype == r.dtype
        scale = max(float(np.abs(r).max(initial=0.0)), np.finfo(r.dtype).tiny)
        worst = max(worst, float(np.abs(f.astype(np.float64) - r).max(initial=0.0)) / scale)
    return worst


def _cast(inputs, dtype):
    return [x.astype(dtype) if x.dtype.kind == "f" else x for x in inputs]


def test_the_losses_with_fast_paths():
    assert {"mse", "mae", "huber", "smooth_l1", "log_cosh", "hinge", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "cross_entropy"} <= set(FAST)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("name", FAST)
def test_fast_path_equals_reference(name, reduction, dtype):
    spec = REGISTRY[name]
    for seed in range(3):
        inputs = _cast(sample_away_from_kinks(spec, seed), dtype)
        assert _worst_difference(spec, inputs, reduction, seed) <= RTOL[dtype], f"{name}, seed {seed}"


@pytest.mark.parametrize("name, case", [(n, c) for n in FAST for c in REGISTRY[n].edge_cases])
def test_fast_path_equals_reference_at_edge_cases(name, case):
    spec = REGISTRY[name]
    inputs = spec.edge_cases[case](np.random.default_rng(0))
    with np.errstate(all="ignore"):
        assert _worst_difference(spec, inputs, "none") <= RTOL[np.float64]


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "cross_entropy", "huber"])
def test_fast_path_equals_reference_with_parameters(name):
    """The non-default parameters that select other branches of the fast formulas."""
    spec = REGISTRY[name]
    rng = np.random.default_rng(4)
    inputs = spec.sample(rng, {"N": 6})
    variants = {
        "binary_cross_entropy_with_logits": [{"weight": rng.uniform(0.5, 2, (6, 4)), "pos_weight": rng.uniform(0.5, 3, 4)}],
        "cross_entropy": [{"weight": rng.uniform(0.5, 2, 4)}, {"label_smoothing": 0.2}, {"ignore_index": 1}],
        "huber": [{"delta": 0.3}, {"delta": 5.0}],
    }[name]
    for params in variants:
        spec_p = dataclasses.replace(spec, params={**spec.params, **params})
        for reduction in ("none", "mean"):
            assert _worst_difference(spec_p, inputs, reduction) <= RTOL[np.float64], params


@pytest.mark.parametrize("name", [n for n in FAST if REGISTRY[n].fast.rowwise])
def test_fast_path_in_row_blocks_equals_reference(name, monkeypatch):
    spec = REGISTRY[name]
    monkeypatch.setattr(_blocks, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 512)
    inputs = spec.sample(np.random.default_rng(5), {"N": 300})
    assert len(_blocks.row_blocks(inputs, spec.params)) > 4
    for reduction in ("none", "mean"):
        assert _worst_difference(spec, inputs, reduction) <= RTOL[np.float64]


def test_a_planted_wrong_fast_gradient_is_caught():
    """The comparison above fails a fast VJP that is off by one part in 1e6."""
    spec = REGISTRY["huber"]

    def wrong_vjp(*args, **kwargs):
        return tuple(g * (1.0 + 1e-6) for g in spec.fast.vjp(*args, **kwargs))

    planted = dataclasses.replace(spec, fast=dataclasses.replace(spec.fast, vjp=wrong_vjp))
    inputs = sample_away_from_kinks(spec, 0)
    assert _worst_difference(spec, inputs, "mean") <= RTOL[np.float64]
    assert _worst_difference(planted, inputs, "mean") > RTOL[np.float64]


# --------------------------------------------------------------- what a fast forward saves


def _saves(spec):
    from nploss.numerics import array_namespace

    return spec.fast.forward(array_namespace(np), *spec.sample(np.random.default_rng(0)), save=True, **spec.params)[1] is not None


SAVING = [n for n in FAST if _saves(REGISTRY[n])]


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

    def vjp(*args, saved, **kwargs):
        received.append(saved)
        return spec.fast.vjp(*args, saved=saved, **kwargs)

    tensors = _tensors_of_64_samples(spec, 8, blocked, monkeypatch)
    apply_loss(dataclasses.replace(spec, fast=dataclasses.replace(spec.fast, vjp=vjp)), *tensors, **spec.params).backward()
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


def test_arrays_alone_save_nothing():
    """Without Tensors no backward pass follows: the fast forward is asked to save nothing."""
    spec = REGISTRY["cross_entropy"]
    asked = []

    def forward(*args, save, **kwargs):
        asked.append(save)
        return spec.fast.forward(*args, save=save, **kwargs)

    inputs = spec.sample(np.random.default_rng(1))
    apply_loss(dataclasses.replace(spec, fast=FastPath(forward, spec.fast.vjp)), *inputs, **spec.params)
    assert asked == [False]


def _n_d_inputs(name, rng):
    """Inputs with more than two axes: (N, C, d) logits and (N, d) labels for cross entropy,
    (N, C, d) values for the elementwise losses."""
    shape = (4, 3, 5)
    if name == "cross_entropy":
        return [2 * rng.standard_normal(shape), rng.integers(0, 3, (4, 5))]
    flat = REGISTRY[name].sample(rng, {"N": 60, "C": 1})
    return [x.reshape(shape) for x in flat] if all(x.size == 60 for x in flat) else None


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", FAST)
def test_fast_path_equals_reference_on_n_d_inputs(name, reduction):
    inputs = _n_d_inputs(name, np.random.default_rng(6))
    if inputs is None:
        pytest.skip(f"{name} takes no N-d input")
    assert _worst_difference(REGISTRY[name], inputs, reduction) <= RTOL[np.float64]


@pytest.mark.parametrize("name", [n for n in FAST if n not in ("cross_entropy", "linear_cross_entropy")])  # no class axis
def test_fast_path_equals_reference_on_0_d_inputs(name):
    spec = REGISTRY[name]
    inputs = [x.reshape(-1)[0].reshape(()) for x in spec.sample(np.random.default_rng(7), {"N": 1, "C": 1})]
    for reduction in ("none", "mean"):
        assert _worst_difference(spec, inputs, reduction) <= RTOL[np.float64]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", FAST)
def test_fast_path_equals_reference_on_arrays(name, dtype):
    """Without Tensors (no backward pass follows, nothing is saved): the values alone."""
    spec = REGISTRY[name]
    inputs = _cast(sample_away_from_kinks(spec, 8), dtype)
    for reduction in ("none", "sum", "mean"):
        fast = np.asarray(apply_loss(spec, *inputs, reduction=reduction, mode="fused", **spec.params))
        reference = np.asarray(apply_loss(spec, *inputs, reduction=reduction, mode="reference", **spec.params))
        assert fast.dtype == reference.dtype
        np.testing.assert_allclose(fast, reference, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", [np.float32])
@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize("name", [n for n in FAST if REGISTRY[n].fast.rowwise])
def test_fast_path_in_row_blocks_in_float32(name, reduction, dtype, monkeypatch):
    spec = REGISTRY[name]
    monkeypatch.setattr(_blocks, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 512)
    inputs = _cast(spec.sample(np.random.default_rng(9), {"N": 600}), dtype)
    assert len(_blocks.row_blocks(inputs, spec.params)) > 4
    # the blocked sum adds the blocks' sums: float32 round-off of the order of summation
    assert _worst_difference(spec, inputs, reduction) <= (2e-5 if reduction == "sum" else RTOL[dtype])


def test_cross_entropy_fast_path_with_every_parameter_at_once():
    spec = REGISTRY["cross_entropy"]
    rng = np.random.default_rng(10)
    logits, labels = 2 * rng.standard_normal((8, 4, 3)), rng.integers(0, 4, (8, 3))
    labels[0, 0] = labels[5, 2] = -1  # ignored
    params = {"weight": rng.uniform(0.5, 2, 4), "ignore_index": -1, "label_smoothing": 0.1}
    spec_p = dataclasses.replace(spec, params=params)
    for dtype in (np.float64, np.float32):
        for reduction in ("none", "sum", "mean"):
            assert _worst_difference(spec_p, [logits.astype(dtype), labels], reduction) <= RTOL[dtype]
