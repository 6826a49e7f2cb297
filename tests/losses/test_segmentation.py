"""Segmentation losses: kornia and torch reference values, scikit-image SSIM, closed forms,
properties, edge cases and bad input."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nploss.autograd as ag
import nploss.losses as L
from nploss.autograd import Tensor
from nploss.gradcheck import check_grad

from .torch_reference import assert_matches_torch, load

TORCH = load("segmentation")
REFERENCES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references" / "segmentation.npz"


def _one_hot(labels, classes):
    return np.moveaxis(np.eye(classes)[ag.as_data(labels)], -1, 1)


def _kornia_dice(logits, labels):
    # kornia applies the softmax inside; nploss takes probabilities, so it is composed here
    return L.dice(ag.softmax(logits, axis=1), _one_hot(labels, logits.shape[1]), smooth=1e-8)


def _kornia_tversky(a, b):
    return lambda logits, labels: L.tversky(
        ag.softmax(logits, axis=1), _one_hot(labels, logits.shape[1]), alpha=a, beta=b, smooth=1e-8
    )


def _ssim(**kw):
    return lambda x, y: L.ssim(x, y, **kw)


NPLOSS = {
    **{
        f"dice-soft-{r}": lambda prediction, target, r=r: L.dice(prediction, target, reduction=r)
        for r in ("mean", "none")
    },
    **{
        f"dice-onehot-smooth{s}-none": lambda prediction, target, s=s: L.dice(prediction, target, s, reduction="none")
        for s in (1e-3, 2.0)
    },
    "dice-saturated-none": lambda prediction, target: L.dice(prediction, target, reduction="none"),
    "dice-volume-none": lambda prediction, target: L.dice(prediction, target, reduction="none"),
    **{
        f"tversky-a{a}-b{b}-{r}": lambda prediction, target, a=a, b=b, r=r: L.tversky(
            prediction, target, a, b, reduction=r
        )
        for a, b in ((0.3, 0.7), (0.7, 0.3), (1.0, 1.0), (0.5, 0.5), (0.0, 2.0))
        for r in (("mean", "none") if a == 0.3 else ("none",))
    },
    "tversky-onehot-sum": lambda prediction, target: L.tversky(
        prediction, target, 0.3, 0.7, smooth=0.5, reduction="sum"
    ),
    "tversky-saturated-none": lambda prediction, target: L.tversky(prediction, target, 0.3, 0.7, reduction="none"),
    "kornia-dice-macro": _kornia_dice,
    "kornia-tversky-a0.3-b0.7": _kornia_tversky(0.3, 0.7),
    "kornia-tversky-a0.5-b0.5": _kornia_tversky(0.5, 0.5),
    "kornia-ssim-mean": _ssim(),
    "kornia-ssim-none": _ssim(reduction="none"),
    "kornia-ssim-window7": _ssim(window_size=7, reduction="none"),
    "kornia-ssim-range255": _ssim(data_range=255.0, reduction="none"),
    "kornia-ssim-identical": _ssim(reduction="none"),
    "kornia-ssim-constant": _ssim(reduction="none"),
}


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
@pytest.mark.parametrize("mode", ["fused", "composite"])
def test_matches_torch_and_kornia(case_id, mode):
    if mode == "composite":
        with L.composite():
            assert_matches_torch(TORCH[case_id], NPLOSS[case_id])
    else:
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def _skimage_cases():
    with np.load(REFERENCES) as data:
        cases: dict[str, dict] = {}
        for key in data.files:
            if key == "skimage_version":
                continue
            case, *rest = key.split("/")
            entry = cases.setdefault(case, {"param": {}})
            if rest[0] == "param":
                entry["param"][rest[1]] = data[key].item()
            else:
                entry[rest[0]] = data[key]
    return cases


SKIMAGE = _skimage_cases()


@pytest.mark.parametrize("case", sorted(SKIMAGE))
def test_ssim_matches_scikit_image(case):
    c = SKIMAGE[case]
    got = L.ssim(c["x"], c["y"], reduction="none", **c["param"])
    assert got.shape == c["value"].shape
    np.testing.assert_allclose(got, c["value"], rtol=1e-9, atol=1e-12)
    # 'mean' is 1 - the mean SSIM over the batch and the channels
    assert float(L.ssim(c["x"], c["y"], **c["param"])) == pytest.approx(c["value"].mean(), rel=1e-9, abs=1e-12)


def test_skimage_windows_follow_its_truncation_rule():
    assert {c["param"]["sigma"]: c["param"]["window_size"] for c in SKIMAGE.values()} == {1.5: 11, 0.8: 7, 2.0: 15}


# ------------------------------------------------------------------------------------ closed forms


def test_dice_by_hand():
    p = np.array([[[[0.9, 0.2], [0.1, 0.6]], [[0.1, 0.8], [0.9, 0.4]]]])  # (1, 2, 2, 2)
    g = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    # class 0: I = 1.5, sums 1.8 and 2; class 1: I = 1.7, sums 2.2 and 2
    expected = [1 - (2 * 1.5 + 1) / (1.8 + 2 + 1), 1 - (2 * 1.7 + 1) / (2.2 + 2 + 1)]
    np.testing.assert_allclose(L.dice(p, g, reduction="none"), [expected], rtol=1e-14)
    assert float(L.dice(p, g)) == pytest.approx(np.mean(expected), rel=1e-14)
    assert float(L.dice(p, g, reduction="sum")) == pytest.approx(np.sum(expected), rel=1e-14)


def test_dice_gradient_by_hand():
    p, g = np.array([[[0.25, 0.5]]]), np.array([[[1.0, 0.0]]])  # (1, 1, 2)
    x = Tensor(p, requires_grad=True)
    L.dice(x, g).backward()
    d, q = (2 * 0.25 + 1) / (0.75 + 1 + 1), 0.75 + 1 + 1  # D and Q
    np.testing.assert_allclose(x.grad.numpy(), [[[(d - 2) / q, d / q]]], rtol=1e-14)


def test_tversky_alpha_weighs_false_positives():
    # one true positive, one false negative, no false positive (the CONVENTIONS.md check of Keras)
    p, g = np.array([[[1.0, 0.0]]]), np.array([[[1.0, 1.0]]])
    assert float(L.tversky(p, g, alpha=1.0, beta=0.0, smooth=1e-3)) == pytest.approx(0.0, abs=1e-15)
    assert float(L.tversky(p, g, alpha=0.0, beta=1.0, smooth=1e-3)) == pytest.approx(1 - 1.001 / 2.001, rel=1e-14)


@given(seed=st.integers(0, 2**32 - 1), smooth=st.floats(1e-3, 10.0))
def test_tversky_at_one_half_is_dice_with_twice_the_smoothing(seed, smooth):
    rng = np.random.default_rng(seed)
    p, g = rng.uniform(0, 1, (2, 3, 4, 3)), rng.uniform(0, 1, (2, 3, 4, 3))
    np.testing.assert_allclose(
        L.tversky(p, g, 0.5, 0.5, smooth=smooth, reduction="none"),
        L.dice(p, g, smooth=2 * smooth, reduction="none"),
        rtol=1e-12,
    )


def test_tversky_at_one_is_tanimoto():
    rng = np.random.default_rng(1)
    p, g = rng.uniform(0, 1, (2, 2, 5)), rng.uniform(0, 1, (2, 2, 5))
    tp = (p * g).sum(-1)
    expected = 1 - (tp + 1) / ((p + g - p * g).sum(-1) + 1)  # 1 - |P ∩ G| / |P ∪ G|, fuzzy
    np.testing.assert_allclose(L.tversky(p, g, 1.0, 1.0, reduction="none"), expected, rtol=1e-13)


def test_ssim_of_a_constant_pair_by_hand():
    # constant images: every variance is 0, so S = (2ab + C1) / (a^2 + b^2 + C1) everywhere
    a, b, c1 = 0.2, 0.7, 0.01**2
    x, y = np.full((1, 1, 11, 12), a), np.full((1, 1, 11, 12), b)
    assert float(L.ssim(x, y)) == pytest.approx(1 - (2 * a * b + c1) / (a * a + b * b + c1), rel=1e-12)


# ------------------------------------------------------------------------------------ properties


@given(seed=st.integers(0, 2**32 - 1), smooth=st.floats(1e-6, 10.0))
def test_overlap_losses_lie_in_0_1_and_mean_is_sum_over_count(seed, smooth):
    rng = np.random.default_rng(seed)
    p, g = rng.uniform(0, 1, (3, 2, 4, 4)), (rng.uniform(0, 1, (3, 2, 4, 4)) > 0.5) * 1.0
    for loss in (
        lambda r: L.dice(p, g, smooth=smooth, reduction=r),
        lambda r: L.tversky(p, g, 0.3, 0.7, smooth=smooth, reduction=r),
    ):
        none = loss("none")
        assert none.shape == (3, 2)
        assert np.all(none >= 0) and np.all(none <= 1)
        assert float(loss("mean")) == pytest.approx(float(loss("sum")) / 6, rel=1e-12)


def test_overlap_losses_are_zero_at_a_perfect_one_hot_prediction():
    g = np.moveaxis(np.eye(4)[np.random.default_rng(2).integers(0, 4, (3, 5, 5))], -1, 1)
    assert float(L.dice(g, g)) == 0.0
    assert float(L.tversky(g, g, 0.3, 0.7)) == 0.0


def test_overlap_losses_ignore_the_pixel_order():
    rng = np.random.default_rng(3)
    p, g = rng.uniform(0, 1, (2, 3, 4, 5)), rng.uniform(0, 1, (2, 3, 4, 5))
    perm = rng.permutation(20)

    def shuffle(a):
        return a.reshape(2, 3, 20)[..., perm].reshape(2, 3, 4, 5)

    np.testing.assert_allclose(
        L.dice(shuffle(p), shuffle(g), reduction="none"), L.dice(p, g, reduction="none"), rtol=1e-13
    )
    np.testing.assert_allclose(
        L.tversky(shuffle(p), shuffle(g), 0.2, 0.9, reduction="none"),
        L.tversky(p, g, 0.2, 0.9, reduction="none"),
        rtol=1e-13,
    )


def test_dice_is_symmetric_and_tversky_swaps_alpha_and_beta_with_the_arguments():
    rng = np.random.default_rng(4)
    p, g = rng.uniform(0, 1, (2, 2, 3, 3)), rng.uniform(0, 1, (2, 2, 3, 3))
    np.testing.assert_allclose(L.dice(p, g, reduction="none"), L.dice(g, p, reduction="none"), rtol=1e-14)
    # a false positive of (p, g) is a false negative of (g, p)
    np.testing.assert_allclose(
        L.tversky(p, g, 0.2, 0.9, reduction="none"), L.tversky(g, p, 0.9, 0.2, reduction="none"), rtol=1e-13
    )


@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.01, 300.0))
def test_ssim_is_symmetric_and_invariant_to_a_common_scale_of_images_and_range(seed, scale):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 1, (2, 2, 12, 11)), rng.uniform(0, 1, (2, 2, 12, 11))
    base = L.ssim(x, y, reduction="none")
    assert np.all(base >= 0) and np.all(base <= 2)
    np.testing.assert_allclose(L.ssim(y, x, reduction="none"), base, rtol=1e-12)
    np.testing.assert_allclose(L.ssim(scale * x, scale * y, data_range=scale, reduction="none"), base, rtol=1e-9)
    # the Gaussian window is symmetric: flipping both images changes nothing
    np.testing.assert_allclose(L.ssim(x[..., ::-1, ::-1], y[..., ::-1, ::-1], reduction="none"), base, rtol=1e-12)


def test_ssim_none_is_one_value_per_image_and_channel():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 1, (3, 2, 11, 14)), rng.uniform(0, 1, (3, 2, 11, 14))
    none = L.ssim(x, y, reduction="none")
    assert none.shape == (3, 2)
    assert float(L.ssim(x[1:2, 1:], y[1:2, 1:])) == pytest.approx(none[1, 1], rel=1e-14)
    assert float(L.ssim(x, y, reduction="sum")) == pytest.approx(none.sum(), rel=1e-14)


@pytest.mark.parametrize(
    "params",
    [
        {"window_size": 7, "sigma": 1.0, "data_range": 2.0, "k1": 0.02, "k2": 0.05},
        {"window_size": 3, "sigma": 0.6, "data_range": 1.0, "k1": 0.01, "k2": 0.03},
    ],
)
def test_ssim_gradients_with_other_parameters(params):
    """The audit uses the default window; the analytic and composite gradients must agree with
    finite differences for other windows and constants too."""
    rng = np.random.default_rng(6)
    x, y = rng.uniform(0, 1, (1, 2, 8, 9)), rng.uniform(0, 1, (1, 2, 8, 9))
    for mode in ("fused", "composite"):

        def fn(a, b, mode=mode):
            return L.apply_loss(L.REGISTRY["ssim"], a, b, reduction="none", mode=mode, **params)

        result = check_grad(fn, [x, y], atol=1e-8, rtol=1e-6, seed=0)
        assert result.passed, str(result)


# ------------------------------------------------------------------------------------ edge cases


def test_identical_images_give_zero_loss_and_zero_gradient():
    x = np.random.default_rng(7).uniform(0, 1, (2, 3, 12, 12))
    a, b = Tensor(x, requires_grad=True), Tensor(x.copy(), requires_grad=True)
    out = L.ssim(a, b, reduction="none")
    assert np.all(np.abs(out.numpy()) <= 1e-15)
    out.sum().backward()
    for t in (a, b):
        assert np.all(np.isfinite(t.grad.numpy())) and np.abs(t.grad.numpy()).max() < 1e-12


def test_constant_images_keep_finite_gradients():
    for x, y in (
        (np.zeros((1, 1, 11, 11)), np.zeros((1, 1, 11, 11))),
        (np.full((1, 1, 11, 11), 3.0), np.ones((1, 1, 11, 11))),
    ):
        a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
        out = L.ssim(a, b)
        out.backward()
        assert np.isfinite(out.numpy()) and np.all(np.isfinite(a.grad.numpy())) and np.all(np.isfinite(b.grad.numpy()))


def test_empty_classes_are_finite_and_count_as_perfect():
    p = np.zeros((1, 2, 3, 3))
    p[0, 0] = 0.7
    g = np.zeros((1, 2, 3, 3))
    g[0, 0, 0] = 1.0
    for loss in (L.dice, lambda a, b, **k: L.tversky(a, b, 0.3, 0.7, **k)):
        t = Tensor(p, requires_grad=True)
        none = loss(t, g, reduction="none")
        assert none.numpy()[0, 1] == 0.0  # class 1: nothing predicted, nothing there
        none.sum().backward()
        assert np.all(np.isfinite(t.grad.numpy()))


def test_float32_stays_float32_with_tensors():
    rng = np.random.default_rng(8)
    x, y = rng.uniform(0, 1, (1, 1, 11, 12)).astype(np.float32), rng.uniform(0, 1, (1, 1, 11, 12)).astype(np.float32)
    for mode in ("fused", "composite"):
        a = Tensor(x, requires_grad=True)
        out = L.apply_loss(L.REGISTRY["ssim"], a, y, mode=mode, **L.REGISTRY["ssim"].params)
        out.backward()
        assert out.dtype == np.float32 and a.grad.numpy().dtype == np.float32, mode


# ------------------------------------------------------------------------------------ bad input


def test_bad_input_overlap():
    p = np.full((2, 3, 4, 4), 0.5)
    with pytest.raises(ValueError, match=r"target must have the shape of prediction \(2, 3, 4, 4\), got \(2, 3, 4\)"):
        L.dice(p, p[..., 0])
    with pytest.raises(ValueError, match=r"prediction must have shape \(N, C, \*spatial\).*got \(2, 3\)"):
        L.dice(np.full((2, 3), 0.5), np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"prediction must be in \[0, 1\], got values from .* to 1\.5"):
        L.dice(p + 1.0, p)
    with pytest.raises(ValueError, match=r"target must be in \[0, 1\]"):
        L.tversky(p, -p)
    with pytest.raises(ValueError, match="smooth must be positive, got 0"):
        L.dice(p, p, smooth=0.0)
    with pytest.raises(TypeError, match="smooth must be a real number, got str"):
        L.dice(p, p, smooth="1")
    with pytest.raises(ValueError, match="alpha must be non-negative, got -0.1"):
        L.tversky(p, p, alpha=-0.1)
    with pytest.raises(ValueError, match="beta must be a finite number, got inf"):
        L.tversky(p, p, beta=float("inf"))
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.dice(p, p, reduction="macro")
    q = p.copy()
    q[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="prediction contains NaN"):
        L.dice(q, p)


def test_bad_input_ssim():
    x = np.zeros((1, 1, 12, 12))
    with pytest.raises(ValueError, match=r"y must have the shape of x \(1, 1, 12, 12\), got \(1, 1, 12, 11\)"):
        L.ssim(x, x[..., :11])
    with pytest.raises(ValueError, match=r"x must be a batch of images \(N, C, H, W\), got shape \(12, 12\)"):
        L.ssim(x[0, 0], x[0, 0])
    with pytest.raises(ValueError, match=r"at least window_size=11 pixels high and wide, got \(10, 12\)"):
        L.ssim(x[..., :10, :], x[..., :10, :])
    with pytest.raises(ValueError, match="window_size must be a positive odd integer, got 4"):
        L.ssim(x, x, window_size=4)
    with pytest.raises(TypeError, match="window_size must be an integer, got float"):
        L.ssim(x, x, window_size=11.0)
    for name in ("sigma", "data_range", "k1", "k2"):
        with pytest.raises(ValueError, match=f"{name} must be positive, got 0"):
            L.ssim(x, x, **{name: 0.0})
    with pytest.raises(ValueError, match="y contains NaN"):
        L.ssim(x, np.full_like(x, np.nan))
