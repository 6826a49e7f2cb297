"""adaptive_log_softmax against PyTorch's AdaptiveLogSoftmaxWithLoss (tests/fixtures/torch/adaptive.npz),
fused and composite, plus edge cases and bad input named by argument."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
from nploss.losses import adaptive_log_softmax, composite

from .torch_reference import assert_matches_torch, load

CASES = load("adaptive")


def _call(case_id):
    reduction = case_id.rsplit("-", 1)[1]

    def fn(features, target, head_weight, head_bias=None, **tails):
        k = len(tails) // 2
        cutoffs = [int(c) for c in CUTOFFS[case_id.split("-")[1]]]
        return adaptive_log_softmax(
            features, target, head_weight,
            [tails[f"tail_projection_{i}"] for i in range(k)], [tails[f"tail_output_{i}"] for i in range(k)],
            cutoffs, head_bias=head_bias, reduction=reduction,
        )  # fmt: skip

    return fn


CUTOFFS = {"two": [3, 6], "one": [4], "three": [2, 5, 11]}


def test_every_layout_is_in_the_fixtures():
    assert len(CASES) == 10
    assert {k.split("-")[1] for k in CASES} == set(CUTOFFS)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_matches_torch_fused(case_id):
    assert_matches_torch(CASES[case_id], _call(case_id))


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_matches_torch_composite(case_id):
    with composite():
        assert_matches_torch(CASES[case_id], _call(case_id))


def _small():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    return {
        "features": x, "target": np.array([0, 2, 4, 5]), "head_weight": rng.standard_normal((4, 3)),
        "tail_projections": [rng.standard_normal((2, 3)), rng.standard_normal((1, 3))],
        "tail_outputs": [rng.standard_normal((2, 2)), rng.standard_normal((2, 1))], "cutoffs": [2, 4],
    }  # fmt: skip


def test_one_sample_without_batch_axis_equals_a_batch_of_one():
    kw = _small()
    x, t = kw.pop("features"), kw.pop("target")
    one = adaptive_log_softmax(x[1], t[1], reduction="none", **kw)
    batch = adaptive_log_softmax(x[1:2], t[1:2], reduction="none", **kw)
    assert np.shape(one) == ()
    np.testing.assert_allclose(one, batch[0], rtol=1e-14)


def test_probabilities_of_all_classes_sum_to_one():
    kw = _small()
    x = kw.pop("features")[:1]
    kw.pop("target")
    p = [np.exp(-adaptive_log_softmax(x, np.array([c]), reduction="sum", **kw)) for c in range(6)]
    assert sum(p) == pytest.approx(1.0, rel=1e-12)


def test_without_head_bias_has_no_bias_gradient_and_gradients_flow_to_every_weight():
    kw = _small()
    tensors = {k: ag.Tensor(v, requires_grad=True) for k, v in kw.items() if k in ("features", "head_weight")}
    tp = [ag.Tensor(m, requires_grad=True) for m in kw["tail_projections"]]
    to = [ag.Tensor(m, requires_grad=True) for m in kw["tail_outputs"]]
    out = adaptive_log_softmax(tensors["features"], kw["target"], tensors["head_weight"], tp, to, kw["cutoffs"])
    grads = ag.grad(out, [tensors["features"], tensors["head_weight"], *tp, *to])
    assert all(np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0) for g in grads)


def test_large_logits_stay_finite():
    kw = _small()
    kw["head_weight"] = kw["head_weight"] * 1e4
    value = adaptive_log_softmax(reduction="none", **kw)
    assert np.all(np.isfinite(value))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"cutoffs": [4, 2]}, "cutoffs"),
        ({"cutoffs": [2]}, "cutoffs"),
        ({"cutoffs": [0, 4]}, "cutoffs"),
        ({"cutoffs": [2.5, 4]}, "cutoffs"),
        ({"target": np.array([0, 2, 4, 6])}, "target"),
        ({"target": np.array([0, 2, 4])}, "target"),
        ({"head_weight": np.zeros((5, 3))}, "head_weight"),
        ({"head_weight": np.zeros((4, 2))}, "head_weight"),
        ({"head_bias": np.zeros(3)}, "head_bias"),
        ({"tail_outputs": [np.zeros((3, 2)), np.zeros((2, 1))]}, "tail_output_0"),
        ({"tail_outputs": [np.zeros((2, 2)), np.zeros((2, 2))]}, "tail_output_1"),
        ({"tail_projections": [np.zeros((2, 4)), np.zeros((1, 3))]}, "tail_projection_0"),
        ({"tail_projections": [np.zeros((2, 3))]}, "tail_projections"),
    ],
)
def test_bad_input_is_refused_by_name(change, match):
    kw = {**_small(), **change}
    with pytest.raises((ValueError, TypeError), match=match):
        adaptive_log_softmax(**kw)


def test_float_target_is_refused():
    kw = {**_small(), "target": np.array([0.0, 2.0, 4.0, 5.0])}
    with pytest.raises(TypeError, match="target"):
        adaptive_log_softmax(**kw)
