"""CTC: PyTorch references, a brute-force sum over alignments, closed forms, properties, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nploss.autograd as ag
import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import ATOL, RTOL, assert_matches_torch, load

TORCH = load("ctc")
# PyTorch differentiated with respect to log_probs itself: compared after the documented conversion
LEAF = sorted(c for c in TORCH if c.startswith("ctc-leaf"))


def _through_log_softmax(**fixed):
    """The fixture's call: ``ctc(log_softmax(logits), ...)``, differentiated with respect to the logits."""

    def call(logits, targets, input_lengths, target_lengths):
        return L.ctc(ag.log_softmax(logits, axis=2), targets, input_lengths, target_lengths, **fixed)

    return call


NPLOSS = {
    **{f"ctc-{r}": _through_log_softmax(reduction=r) for r in ("mean", "sum", "none")},
    "ctc-padding-minus-one": _through_log_softmax(reduction="none"),
    "ctc-concatenated": _through_log_softmax(reduction="none"),
    **{f"ctc-blank4-{r}": _through_log_softmax(blank=4, reduction=r) for r in ("mean", "none")},
    "ctc-blank2-sum": _through_log_softmax(blank=2, reduction="sum"),
    "ctc-repeats": _through_log_softmax(reduction="none"),
    **{
        f"ctc-impossible-zero_infinity{z}-{r}": _through_log_softmax(zero_infinity=z, reduction=r)
        for z in (False, True)
        for r in ("none", "sum", "mean")
    },
    **{f"ctc-empty-targets-{r}": _through_log_softmax(reduction=r) for r in ("mean", "none")},
    "ctc-confident": _through_log_softmax(reduction="none"),
}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS) | set(LEAF)
    assert LEAF


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch_through_log_softmax(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch_through_log_softmax(case_id):
    case = TORCH[case_id]
    if np.all(np.isfinite(case["value"])):
        with L.composite():
            assert_matches_torch(case, NPLOSS[case_id])
        return
    # the composite graph treats the inf of an impossible sample as a constant: its gradient is 0
    # where PyTorch (and the fused node) give NaN; everything else matches
    logits = Tensor(case["input"]["logits"], requires_grad=True)
    with L.composite():
        out = NPLOSS[case_id](**{**case["input"], "logits": logits})
    np.testing.assert_allclose(out.numpy(), case["value"], rtol=RTOL, atol=ATOL)
    (g,) = grad(out, [logits], grad_outputs=case["cotangent"])
    expected = case["grad"]["logits"]
    assert np.isnan(expected).any()
    np.testing.assert_allclose(g.numpy(), np.where(np.isnan(expected), 0.0, expected), rtol=RTOL, atol=ATOL)


def _feasible(targets, input_lengths, target_lengths):
    t = np.asarray(targets)
    if t.ndim == 1:
        return np.ones(len(target_lengths), dtype=bool)  # not used with 1-D targets here
    inside = np.arange(t.shape[1]) < target_lengths[:, None]
    repeats = ((t[:, 1:] == t[:, :-1]) & inside[:, 1:]).sum(axis=1)
    return input_lengths >= target_lengths + repeats


@pytest.mark.parametrize("case_id", LEAF)
@pytest.mark.parametrize("composite", [False, True])
def test_gradient_wrt_log_probs_is_pytorchs_minus_exp_log_probs(case_id, composite):
    # PyTorch's ctc_loss backward returns g (exp(log_probs) - gamma) on the frames t < T_n of the
    # feasible samples: the gradient with respect to logits under a log_softmax. The derivative
    # with respect to log_probs, which nploss returns, is -g gamma.
    case = TORCH[case_id]
    inputs, zero_infinity = case["input"], case_id.endswith("zero_infinityTrue-none")
    lp = Tensor(inputs["log_probs"], requires_grad=True)
    args = (inputs["targets"], inputs["input_lengths"], inputs["target_lengths"])
    if composite:
        with L.composite():
            out = L.ctc(lp, *args, reduction="none", zero_infinity=zero_infinity)
    else:
        out = L.ctc(lp, *args, reduction="none", zero_infinity=zero_infinity)
    np.testing.assert_allclose(out.numpy(), case["value"], rtol=RTOL, atol=ATOL)
    (g,) = grad(out, [lp], grad_outputs=case["cotangent"])
    time = inputs["log_probs"].shape[0]
    feasible = _feasible(*args)
    frames = (np.arange(time)[:, None] < inputs["input_lengths"]) & feasible
    exp_term = case["cotangent"][None, :, None] * np.exp(inputs["log_probs"])
    expected = case["grad"]["log_probs"] - np.where(frames[:, :, None], exp_term, 0.0)
    if composite and not zero_infinity:
        expected = np.where(np.isnan(expected), 0.0, expected)  # the composite's 0 for the impossible samples
    np.testing.assert_allclose(g.numpy(), expected, rtol=RTOL, atol=ATOL)
    if not zero_infinity and not composite:
        assert np.isnan(g.numpy()).any() == (~feasible).any()


# ------------------------------------------------------------------------------------ brute force


def _collapse(path, blank):
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return tuple(k for k in merged if k != blank)


def _brute_force(log_probs, target, frames, blank):
    """-log p(target) by enumerating every alignment of the first ``frames`` frames, and its
    derivative with respect to ``log_probs`` (T, C): -(sum of the probabilities of the paths
    through (t, k)) / p."""
    total, through = 0.0, np.zeros_like(log_probs)
    for path in itertools.product(range(log_probs.shape[1]), repeat=frames):
        if _collapse(path, blank) == tuple(target):
            p = math.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
            total += p
            for t, k in enumerate(path):
                through[t, k] += p
    if total == 0.0:
        return math.inf, None
    return -math.log(total), -through / total


@st.composite
def _batches(draw):
    time, classes, n = draw(st.integers(1, 4)), draw(st.integers(2, 4)), draw(st.integers(1, 3))
    blank = draw(st.integers(0, classes - 1))
    labels = [k for k in range(classes) if k != blank]
    width = draw(st.integers(0, 3))
    lengths = np.array([draw(st.integers(0, width)) for _ in range(n)])
    targets = np.array([[draw(st.sampled_from(labels)) for _ in range(width)] for _ in range(n)], dtype=np.int64)
    targets = targets.reshape(n, width)
    frames = np.array([draw(st.integers(0, time)) for _ in range(n)])
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):  # log_softmax outputs
        log_probs = _log_softmax(2.0 * rng.standard_normal((time, n, classes)))
    else:  # any log-probabilities <= 0, not normalised: the derivative is still -gamma
        log_probs = rng.uniform(-3.0, 0.0, (time, n, classes))
    return log_probs, targets, frames, lengths, blank


@given(_batches(), st.booleans())
def test_likelihood_is_the_sum_over_every_alignment(batch, composite):
    log_probs, targets, frames, lengths, blank = batch
    n = len(lengths)
    expected = np.zeros(n)
    expected_grad = np.zeros_like(log_probs)
    for i in range(n):
        value, g = _brute_force(log_probs[:, i], targets[i, : lengths[i]], frames[i], blank)
        expected[i] = value
        if g is not None:
            expected_grad[:, i] = g
    lp = Tensor(log_probs, requires_grad=True)
    if composite:
        with L.composite():
            out = L.ctc(lp, targets, frames, lengths, blank=blank, reduction="none", zero_infinity=True)
    else:
        out = L.ctc(lp, targets, frames, lengths, blank=blank, reduction="none", zero_infinity=True)
    value = L.ctc(log_probs, targets, frames, lengths, blank=blank, reduction="none")
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-14)  # inf where no alignment exists
    np.testing.assert_allclose(out.numpy(), np.where(np.isinf(expected), 0.0, expected), rtol=1e-12, atol=1e-14)
    (g,) = grad(out, [lp], grad_outputs=np.ones(n))
    np.testing.assert_allclose(g.numpy(), expected_grad, rtol=1e-10, atol=1e-13)


def test_brute_force_on_the_docstring_example():
    # two frames uniform over {blank, a}: "a a", "a -", "- a" give p = 3/4
    log_probs = np.log(np.full((2, 1, 2), 0.5))
    assert _brute_force(log_probs[:, 0], (1,), 2, 0)[0] == pytest.approx(-math.log(0.75), rel=1e-15)
    assert float(L.ctc(log_probs, np.array([[1]]), np.array([2]), np.array([1]))) == pytest.approx(-math.log(0.75), rel=1e-15)


# ------------------------------------------------------------------------------------ closed forms


def _uniform_counts(time):
    """The number of alignments of ``time`` frames for the targets "", "a", "a b" and "a a"."""
    return {(): 1, (1,): math.comb(time + 1, 2), (1, 2): math.comb(time + 2, 4), (1, 1): math.comb(time + 1, 4)}


def test_alignment_counts_by_brute_force():
    for time in range(1, 7):
        for target, count in _uniform_counts(time).items():
            paths = sum(_collapse(p, 0) == target for p in itertools.product(range(3), repeat=time))
            assert paths == count, (time, target)


@pytest.mark.parametrize("time", [5, 400])
def test_uniform_probabilities_closed_form_without_underflow(time):
    # with y = 1/C everywhere, p(l) = (number of alignments) C^{-T}: at T = 400, C = 10 that is
    # below 1e-400, zero in float64, yet the log-space recursion keeps every digit
    classes = 10
    counts = _uniform_counts(time)
    targets = np.array([[0, 0], [1, 0], [1, 2], [1, 1]])
    lengths = np.array([0, 1, 2, 2])
    log_probs = np.full((time, 4, classes), -math.log(classes))
    got = L.ctc(log_probs, targets, np.full(4, time), lengths, reduction="none")
    expected = [time * math.log(classes) - math.log(counts[tuple(t[:k])]) for t, k in zip(targets, lengths)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    lp = Tensor(log_probs, requires_grad=True)
    (g,) = grad(L.ctc(lp, targets, np.full(4, time), lengths, reduction="sum"), [lp])
    assert np.all(np.isfinite(g.numpy()))
    np.testing.assert_allclose(g.numpy().sum(axis=2), -1.0, rtol=1e-12)  # the occupations of a frame sum to 1


def test_empty_targets_are_all_blank_and_width_zero_is_accepted():
    rng = np.random.default_rng(0)
    log_probs = _log_softmax(rng.standard_normal((5, 3, 4)))
    frames, lengths = np.array([5, 2, 0]), np.zeros(3, dtype=np.int64)
    expected = [-log_probs[:f, i, 1].sum() for i, f in enumerate(frames)]
    for targets in (np.zeros((3, 0), dtype=np.int64), np.zeros(0, dtype=np.int64), np.full((3, 2), 3)):
        np.testing.assert_allclose(L.ctc(log_probs, targets, frames, lengths, blank=1, reduction="none"), expected, rtol=1e-14)


# ------------------------------------------------------------------------------------ properties


def _log_softmax(logits):
    shifted = logits - logits.max(axis=2, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))


def _case(seed=0, time=7, n=4, classes=5):
    rng = np.random.default_rng(seed)
    log_probs = _log_softmax(2.0 * rng.standard_normal((time, n, classes)))
    targets = rng.integers(1, classes, (n, 3))
    targets[0, 1] = targets[0, 0]
    return log_probs, targets, np.array([7, 6, 5, 3])[:n], np.array([3, 2, 3, 1])[:n]


def test_reductions():
    log_probs, targets, frames, lengths = _case()
    none = L.ctc(log_probs, targets, frames, lengths, reduction="none")
    assert none.shape == (4,) and np.all(none > 0)
    assert float(L.ctc(log_probs, targets, frames, lengths, reduction="sum")) == pytest.approx(none.sum(), rel=1e-14)
    # PyTorch's 'mean': each loss divided by its target length (at least 1), then the batch mean
    assert float(L.ctc(log_probs, targets, frames, lengths)) == pytest.approx(np.mean(none / np.maximum(lengths, 1)), rel=1e-14)
    assert float(L.ctc(log_probs, targets, frames, lengths)) != pytest.approx(none.mean())


def test_padded_and_concatenated_targets_agree_whatever_the_padding():
    log_probs, targets, frames, lengths = _case(1)
    reference = L.ctc(log_probs, targets, frames, lengths, reduction="none")
    inside = np.arange(3) < lengths[:, None]
    for pad in (-1, 0, 99):
        np.testing.assert_array_equal(L.ctc(log_probs, np.where(inside, targets, pad), frames, lengths, reduction="none"), reference)
    wider = np.concatenate([targets, np.full((4, 2), 7)], axis=1)
    np.testing.assert_array_equal(L.ctc(log_probs, wider, frames, lengths, reduction="none"), reference)
    concatenated = np.concatenate([t[:k] for t, k in zip(targets, lengths)])
    np.testing.assert_allclose(L.ctc(log_probs, concatenated, frames, lengths, reduction="none"), reference, rtol=1e-15)


@pytest.mark.parametrize("composite", [False, True])
def test_frames_beyond_input_lengths_are_ignored(composite):
    log_probs, targets, frames, lengths = _case(2)
    changed = log_probs.copy()
    changed[5:, 2] = -50.0  # sample 2 uses 5 of 7 frames
    changed[3:, 3] = -0.01
    np.testing.assert_array_equal(
        L.ctc(changed, targets, frames, lengths, reduction="none"), L.ctc(log_probs, targets, frames, lengths, reduction="none")
    )
    lp = Tensor(log_probs, requires_grad=True)
    cot = np.array([0.5, -1.0, 2.0, 1.5])
    if composite:
        with L.composite():
            out = L.ctc(lp, targets, frames, lengths, reduction="none")
    else:
        out = L.ctc(lp, targets, frames, lengths, reduction="none")
    g = grad(out, [lp], grad_outputs=cot)[0].numpy()
    valid = np.arange(7)[:, None] < frames
    np.testing.assert_array_equal(g[~valid], 0.0)
    # on the valid frames the occupations sum to 1: the class sum of the gradient is -cotangent
    np.testing.assert_allclose(g.sum(axis=2)[valid], np.broadcast_to(-cot, (7, 4))[valid], rtol=1e-12)


@given(shift=st.lists(st.floats(-5, 0), min_size=7, max_size=7))
def test_a_frame_scale_factor_adds_its_log(shift):
    # every alignment takes exactly one class per frame: scaling frame t by e^{c_t} scales p by
    # e^{sum c_t} over the frames used
    log_probs, targets, frames, lengths = _case(3)
    c = np.array(shift)
    shifted = L.ctc(log_probs + c[:, None, None], targets, frames, lengths, reduction="none")
    expected = L.ctc(log_probs, targets, frames, lengths, reduction="none") - np.array([c[:f].sum() for f in frames])
    np.testing.assert_allclose(shifted, expected, rtol=1e-12, atol=1e-12)


def test_relabelling_the_classes_changes_nothing():
    log_probs, targets, frames, lengths = _case(4)
    perm = np.array([3, 0, 4, 1, 2])  # class k becomes perm[k]; the blank 0 becomes 3
    moved = np.empty_like(log_probs)
    moved[:, :, perm] = log_probs
    np.testing.assert_allclose(
        L.ctc(moved, perm[targets], frames, lengths, blank=3, reduction="none"),
        L.ctc(log_probs, targets, frames, lengths, reduction="none"),
        rtol=1e-14,
    )


# ------------------------------------------------------------------------------------ impossible targets


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_impossible_alignment_is_inf_or_zero_with_zero_infinity(reduction):
    # "1 1" in 2 frames (needs 3 for the blank between), three labels in 2 frames, one possible
    rng = np.random.default_rng(5)
    log_probs = _log_softmax(rng.standard_normal((5, 3, 3)))
    targets, frames, lengths = np.array([[1, 1, 0], [1, 2, 1], [2, 1, 0]]), np.array([2, 2, 5]), np.array([2, 3, 2])
    possible = float(L.ctc(log_probs[:, 2:], targets[2:], frames[2:], lengths[2:], reduction="none")[0])
    for zero_infinity in (False, True):
        lp = Tensor(log_probs, requires_grad=True)
        out = L.ctc(lp, targets, frames, lengths, reduction=reduction, zero_infinity=zero_infinity)
        value = out.numpy()
        if zero_infinity:
            expected = {"none": [0.0, 0.0, possible], "sum": possible, "mean": possible / 6}[reduction]
            np.testing.assert_allclose(value, expected, rtol=1e-14)
        else:
            assert np.all(np.isinf(value) == {"none": [True, True, False], "sum": True, "mean": True}[reduction])
        # an explicit cotangent: the engine's default seed, 1 + 0 * value, is NaN for a loss of inf
        cot = np.ones(3) if reduction == "none" else np.ones(())
        g = grad(out, [lp], grad_outputs=cot)[0].numpy()
        if zero_infinity:
            np.testing.assert_array_equal(g[:, :2], 0.0)
        else:  # the derivative of +inf: NaN on the sample's frames, as PyTorch
            assert np.all(np.isnan(g[:2, :2])) and np.all(g[2:, :2] == 0.0)
        assert np.all(np.isfinite(g[:, 2]))
        # the composite graph: the inf is a constant, so the gradient is 0 rather than NaN
        lp = Tensor(log_probs, requires_grad=True)
        with L.composite():
            out = L.ctc(lp, targets, frames, lengths, reduction=reduction, zero_infinity=zero_infinity)
        np.testing.assert_allclose(out.numpy(), value, rtol=1e-14)
        g_c = grad(out, [lp], grad_outputs=cot)[0].numpy()
        np.testing.assert_array_equal(g_c[:, :2], 0.0)
        np.testing.assert_allclose(g_c[:, 2], g[:, 2], rtol=1e-12)


def test_exactly_enough_frames_leaves_one_alignment():
    # "1 1 2 2" in 6 frames: only "1 - 1 2 - 2"
    log_probs = np.log(np.random.default_rng(6).dirichlet(np.ones(3), (6, 1)))
    path = [1, 0, 1, 2, 0, 2]
    expected = -sum(log_probs[t, 0, k] for t, k in enumerate(path))
    assert float(L.ctc(log_probs, np.array([[1, 1, 2, 2]]), np.array([6]), np.array([4]), reduction="sum")) == pytest.approx(expected, rel=1e-14)
    lp = Tensor(log_probs, requires_grad=True)
    (g,) = grad(L.ctc(lp, np.array([[1, 1, 2, 2]]), np.array([6]), np.array([4]), reduction="sum"), [lp])
    one_hot = np.zeros((6, 1, 3))
    one_hot[np.arange(6), 0, path] = 1.0
    np.testing.assert_allclose(g.numpy(), -one_hot, atol=1e-15)


# ------------------------------------------------------------------------------------ stability


@pytest.mark.parametrize("composite", [False, True])
def test_confident_log_probs_of_minus_2e4_stay_finite(composite):
    log_probs, targets, frames, lengths = _case(7)
    logits = 1e4 * np.sign(log_probs - np.median(log_probs, axis=2, keepdims=True))
    lp = Tensor(_log_softmax(logits), requires_grad=True)
    assert lp.numpy().min() < -1e4
    if composite:
        with L.composite():
            out = L.ctc(lp, targets, frames, lengths, reduction="none")
    else:
        out = L.ctc(lp, targets, frames, lengths, reduction="none")
    assert np.all(np.isfinite(out.numpy())) and np.all(out.numpy() >= 0)
    (g,) = grad(out, [lp], grad_outputs=np.ones(4))
    assert np.all(np.isfinite(g.numpy()))


def test_float32_stays_float32():
    log_probs, targets, frames, lengths = _case(8)
    v32 = L.ctc(log_probs.astype(np.float32), targets, frames, lengths, reduction="none")
    assert v32.dtype == np.float32
    np.testing.assert_allclose(v32, L.ctc(log_probs, targets, frames, lengths, reduction="none"), rtol=1e-5)


# ------------------------------------------------------------------------------------ bad input


def test_bad_input():
    log_probs, targets, frames, lengths = _case(9)
    with pytest.raises(ValueError, match=r"log_probs must have shape \(T, N, C\), got shape \(7, 5\)"):
        L.ctc(log_probs[:, 0], targets, frames, lengths)
    with pytest.raises(ValueError, match=r"log_probs must be log-probabilities \(<= 0\)"):
        L.ctc(-log_probs, targets, frames, lengths)
    with pytest.raises(ValueError, match="log_probs contains NaN or infinite values"):
        L.ctc(np.where(log_probs < -3, -np.inf, log_probs), targets, frames, lengths)
    with pytest.raises(ValueError, match=r"targets must be class labels in \[0, 5\), got values from \d to 5"):
        L.ctc(log_probs, np.where(targets == 1, 5, targets), frames, lengths)
    with pytest.raises(ValueError, match=r"targets must not contain the blank class 0"):
        L.ctc(log_probs, np.where(targets == 2, 0, targets), frames, lengths)
    with pytest.raises(TypeError, match="targets must hold integer class labels, got dtype float64"):
        L.ctc(log_probs, targets.astype(float), frames, lengths)
    with pytest.raises(TypeError, match="targets must hold integer class labels, got dtype float64"):
        L.ctc(log_probs, np.ones(9), frames, lengths)
    with pytest.raises(ValueError, match=r"targets must have shape \(N, S\) = \(4, S\) \(padded\), got \(3, 3\)"):
        L.ctc(log_probs, targets[:3], frames, lengths)
    with pytest.raises(ValueError, match=r"concatenated 1-D targets must have sum\(target_lengths\) = 9 entries, got 8"):
        L.ctc(log_probs, np.ones(8, dtype=int), frames, lengths)
    with pytest.raises(ValueError, match=r"input_lengths must be in \[0, 7\] \(at most T frames\), got values from 3 to 8"):
        L.ctc(log_probs, targets, np.array([8, 6, 5, 3]), lengths)
    with pytest.raises(ValueError, match=r"input_lengths must be non-negative, got values from -1 to 7"):
        L.ctc(log_probs, targets, np.array([7, 6, 5, -1]), lengths)
    with pytest.raises(TypeError, match="input_lengths must hold integers, got dtype float64"):
        L.ctc(log_probs, targets, frames.astype(float), lengths)
    with pytest.raises(ValueError, match=r"input_lengths must have shape \(4,\), got \(3,\)"):
        L.ctc(log_probs, targets, frames[:3], lengths)
    with pytest.raises(ValueError, match=r"target_lengths must be in \[0, 3\] \(at most S, the width of targets\), got values from 1 to 4"):
        L.ctc(log_probs, targets, frames, np.array([4, 2, 3, 1]))
    with pytest.raises(ValueError, match=r"blank must be a class index in \[0, 5\), got 5"):
        L.ctc(log_probs, targets, frames, lengths, blank=5)
    with pytest.raises(TypeError, match="blank must be an integer, got float"):
        L.ctc(log_probs, targets, frames, lengths, blank=0.0)
    with pytest.raises(TypeError, match="blank must be an integer, got bool"):
        L.ctc(log_probs, targets, frames, lengths, blank=False)
    with pytest.raises(TypeError, match="zero_infinity must be True or False, got int 1"):
        L.ctc(log_probs, targets, frames, lengths, zero_infinity=1)
    with pytest.raises(ValueError, match="reduction must be one of .* got 'batchmean'"):
        L.ctc(log_probs, targets, frames, lengths, reduction="batchmean")


def test_arrays_in_arrays_out_tensors_in_tensor_out():
    log_probs, targets, frames, lengths = _case(10)
    assert isinstance(L.ctc(log_probs, targets, frames, lengths), np.ndarray)
    assert isinstance(L.ctc(Tensor(log_probs), targets, frames, lengths), Tensor)
