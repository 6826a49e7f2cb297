"""Large rowwise losses are evaluated in row blocks on threads (nploss.losses._blocks): the
values must be those of one whole call (up to the order of the final sum) and the gradients
bitwise the same; a fast path wrongly marked rowwise fails here."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
from nploss import parallel
from nploss.losses import REGISTRY, _blocks, apply_loss

ROWWISE = sorted(n for n, spec in REGISTRY.items() if spec.fast is not None and spec.fast.rowwise)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocking for any size, in blocks of a few rows, on two threads."""
    monkeypatch.setattr(_blocks, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 512)
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(parallel._default_threads())


def _value_and_grads(spec, inputs, reduction):
    tensors = [ag.Tensor(x, requires_grad=a.differentiable) for x, a in zip(inputs, spec.args)]
    value = apply_loss(spec, *tensors, reduction=reduction, **spec.params)
    ag.sum(value).backward()
    return value.numpy(), [tensors[i].grad.numpy() for i in spec.differentiable]


def test_the_usual_elementwise_losses_and_cross_entropy_are_rowwise():
    assert {"mse", "mae", "huber", "smooth_l1", "log_cosh", "hinge", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "cross_entropy"} <= set(ROWWISE)  # fmt: skip


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ROWWISE)
def test_blocked_losses_equal_whole_ones(name, reduction, small_blocks, monkeypatch):
    spec = REGISTRY[name]
    inputs = spec.sample(np.random.default_rng(0), {"N": 300})
    assert _blocks.row_blocks(inputs, spec.params) is not None and len(_blocks.row_blocks(inputs, spec.params)) > 4
    blocked, blocked_grads = _value_and_grads(spec, inputs, reduction)
    monkeypatch.setattr(_blocks, "MIN_ELEMENTS", 1 << 62)
    whole, whole_grads = _value_and_grads(spec, inputs, reduction)
    np.testing.assert_allclose(blocked, whole, rtol=1e-13, atol=0)
    for b, w in zip(blocked_grads, whole_grads):
        np.testing.assert_array_equal(b, w)
    assert blocked.dtype == whole.dtype


def test_blocks_keep_float32_and_one_thread_gives_the_same(small_blocks):
    spec = REGISTRY["huber"]
    inputs = [x.astype(np.float32) for x in spec.sample(np.random.default_rng(1), {"N": 500})]
    two, grads_two = _value_and_grads(spec, inputs, "mean")
    parallel.set_num_threads(1)
    one, grads_one = _value_and_grads(spec, inputs, "mean")
    assert two.dtype == np.float32 and grads_two[0].dtype == np.float32
    assert one == two
    np.testing.assert_array_equal(grads_one[0], grads_two[0])
    with pytest.raises(ValueError, match="positive int"):
        parallel.set_num_threads(0)


def test_array_parameters_and_recorded_backward_passes_are_not_blocked(small_blocks):
    rng = np.random.default_rng(2)
    logits, target = rng.standard_normal((50, 4)), rng.integers(0, 2, (50, 4)).astype(float)
    assert _blocks.row_blocks([logits, target], {"weight": None, "pos_weight": None}) is not None
    assert _blocks.row_blocks([logits, target], {"weight": None, "pos_weight": np.ones(4)}) is None
    assert _blocks.row_blocks([logits, target[:10]], {}) is None  # rows differ
    # a gradient recorded for a second derivative takes the loss's own (differentiable) VJP
    x = ag.Tensor(rng.standard_normal(200), requires_grad=True)
    (g,) = ag.grad(apply_loss(REGISTRY["log_cosh"], x, np.zeros(200)), [x], create_graph=True)
    (h,) = ag.grad(ag.sum(g), [x])
    np.testing.assert_allclose(h.numpy(), (1 - np.tanh(x.numpy()) ** 2) / 200, rtol=1e-12)


@pytest.mark.parametrize(
    "name, arg, bad, message",
    [
        ("mse", 1, np.nan, "target contains NaN or infinite values"),
        ("huber", 0, np.inf, "prediction contains NaN or infinite values"),
        ("hinge", 1, 0.5, r"target must hold targets in \{-1, \+1\}"),
        ("binary_cross_entropy_with_logits", 1, 2.0, r"target must be in \[0, 1\]"),
        ("cross_entropy", 1, 7, r"target must be class labels in \[0, 4\)"),
    ],
)
def test_blocked_losses_check_every_block_of_their_inputs(name, arg, bad, message, small_blocks, monkeypatch):
    """The domains of a blocked loss are checked block by block, in its forward: one bad value
    in the last block is refused as it would be in a whole call."""
    spec = REGISTRY[name]
    rng = np.random.default_rng(3)
    inputs = spec.sample(rng, {"N": 300, "C": 4})
    inputs[arg] = inputs[arg].copy()
    inputs[arg][-1] = bad
    assert len(_blocks.row_blocks(inputs, spec.params)) > 4
    for min_elements in (0, 1 << 62):  # blocked, then whole
        monkeypatch.setattr(_blocks, "MIN_ELEMENTS", min_elements)
        with pytest.raises(ValueError, match=message):
            apply_loss(spec, *inputs, **spec.params)
