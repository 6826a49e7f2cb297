"""Image losses: kornia 0.9 reference values and gradients, closed forms, edges and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.losses.image as I
from nploss.autograd import Tensor, grad
from nploss.losses import composite
from nploss.losses.image._common import _same_band

from .torch_reference import assert_matches_torch, load

KORNIA = load("image")
OPTIONS = {"sigmas": (0.5, 1.0, 2.0), "data_range": 2.0, "k1": 0.02, "k2": 0.05}


def _call(fn, **fixed):
    return lambda **inputs: fn(**inputs, **fixed)


NPLOSS = {
    **{f"ms_ssim_l1-{r}": _call(I.ms_ssim_l1, reduction=r) for r in ("mean", "sum", "none")},
    **{f"ms_ssim-{r}": _call(I.ms_ssim, reduction=r) for r in ("mean", "sum", "none")},
    "ms_ssim_l1-options": _call(I.ms_ssim_l1, alpha=0.84, compensation=1.0, reduction="none", **OPTIONS),
    "ms_ssim-options": _call(I.ms_ssim, reduction="none", **OPTIONS),
    "ms_ssim_l1-wide": _call(I.ms_ssim_l1, sigmas=(0.5, 1.0, 2.0, 4.0), reduction="none"),
    "psnr-max1.0": _call(I.psnr, max_val=1.0),
    "psnr-max255.0": _call(I.psnr, max_val=255.0),
    "psnr-flat": _call(I.psnr, max_val=2.0),
    **{
        f"total_variation-{s}{tail}": _call(I.total_variation, spatial=s, reduction="none")
        for s in ("sum", "mean")
        for tail in ("", "-2d", "-one-row")
    },
    "inverse_depth_smoothness": _call(I.inverse_depth_smoothness),
    "inverse_depth_smoothness-gray": _call(I.inverse_depth_smoothness),
    **{
        f"{name}-{tail}": _call(getattr(I, name), reduction="none", **kw)
        for name in ("mutual_information", "normalized_mutual_information")
        for tail, kw in (
            ("default", {}),
            ("b8-r1.0", {"num_bins": 8, "window_radius": 1.0}),
            ("b5-r1.7", {"num_bins": 5, "window_radius": 1.7}),
            ("one-image", {"num_bins": 16}),
        )
    },
}


def test_every_fixture_case_has_an_nploss_call():
    assert set(NPLOSS) == set(KORNIA)


@pytest.mark.parametrize("mode", ["fused", "composite"])
@pytest.mark.parametrize("case_id", sorted(KORNIA))
def test_matches_kornia(case_id, mode):
    if mode == "composite":
        with composite():
            assert_matches_torch(KORNIA[case_id], NPLOSS[case_id])
    else:
        assert_matches_torch(KORNIA[case_id], NPLOSS[case_id])


# ------------------------------------------------------------------------------------ closed forms


def test_ms_ssim_l1_is_ms_ssim_at_alpha_one():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (2, 2, 5, 6)), rng.uniform(0, 1, (2, 2, 5, 6))
    np.testing.assert_allclose(I.ms_ssim_l1(x, y, alpha=1.0, compensation=1.0, reduction="none"),
                               I.ms_ssim(x, y, reduction="none"), rtol=1e-13)  # fmt: skip
    # alpha = 0: the filtered L1 error alone; a constant error e gives e times the window's mass
    e = 0.3 * np.ones((1, 1, 5, 6))
    band = _same_band(5, 16, 8.0), _same_band(6, 16, 8.0)
    expected = 0.3 * band[0].sum(axis=1)[:, None] * band[1].sum(axis=1)[None, :]
    np.testing.assert_allclose(I.ms_ssim_l1(e, 0 * e, alpha=0.0, compensation=1.0, reduction="none")[0], expected)


def test_ms_ssim_of_identical_images_is_zero_with_zero_gradient():
    x = Tensor(np.random.default_rng(1).uniform(0, 1, (1, 2, 6, 6)), requires_grad=True)
    loss = I.ms_ssim(x, x.data.copy())
    assert abs(float(loss.data)) < 1e-12
    (g,) = grad(loss, [x])
    assert np.abs(g.numpy()).max() < 1e-12


def test_psnr_sign_and_infinity():
    # kornia's docstring: psnr(1, 1.2, max 2) = 20 dB, psnr_loss = -20
    assert float(I.psnr(np.ones(1), np.full(1, 1.2), max_val=2.0)) == pytest.approx(-20.0)
    with np.errstate(divide="ignore"):
        assert float(I.psnr(np.ones(3), np.ones(3))) == -np.inf  # identical images, as kornia
    with pytest.raises(ValueError, match="reduction"):
        I.psnr(np.ones(3), np.zeros(3), reduction="sum")


def test_total_variation_reductions_over_the_leading_axes():
    image = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    per = I.total_variation(image, reduction="none")
    assert per.shape == (2, 3)
    expected = np.abs(np.diff(image, axis=-1)).sum((-2, -1)) + np.abs(np.diff(image, axis=-2)).sum((-2, -1))
    np.testing.assert_allclose(per, expected)
    assert float(I.total_variation(image)) == pytest.approx(expected.mean())
    assert float(I.total_variation(image, reduction="sum")) == pytest.approx(expected.sum())
    mean = np.abs(np.diff(image, axis=-1)).mean((-2, -1)) + np.abs(np.diff(image, axis=-2)).mean((-2, -1))
    np.testing.assert_allclose(I.total_variation(image, spatial="mean", reduction="none"), mean)


def test_inverse_depth_smoothness_ignores_a_constant_depth_and_weighs_edges():
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 1, (2, 3, 4, 5))
    assert float(I.inverse_depth_smoothness(np.full((2, 1, 4, 5), 0.7), image)) == 0.0
    idepth = rng.uniform(0, 1, (2, 1, 4, 5))
    flat = I.inverse_depth_smoothness(idepth, np.zeros_like(image), reduction="none")
    plain = np.abs(np.diff(idepth, axis=-1)).mean((1, 2, 3)) + np.abs(np.diff(idepth, axis=-2)).mean((1, 2, 3))
    np.testing.assert_allclose(flat, plain)
    assert np.all(I.inverse_depth_smoothness(idepth, image, reduction="none") < flat)


def test_mutual_information_is_symmetric_and_scale_invariant():
    rng = np.random.default_rng(4)
    p, t = rng.uniform(0, 1, (2, 4, 5)), rng.uniform(0, 1, (2, 4, 5))
    for fn in (I.mutual_information, I.normalized_mutual_information):
        a = fn(p, t, num_bins=8, reduction="none")
        np.testing.assert_allclose(fn(t, p, num_bins=8, reduction="none"), a, rtol=1e-12)
        np.testing.assert_allclose(fn(3 * p + 1, t, num_bins=8, reduction="none"), a, rtol=1e-10)
    # one constant image: no information, NMI = -1
    const = np.full((4, 5), 0.5)
    assert float(I.mutual_information(const, t[0], num_bins=8)) == pytest.approx(0.0, abs=1e-9)
    assert float(I.normalized_mutual_information(const, t[0], num_bins=8)) == pytest.approx(-1.0, abs=1e-9)


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: I.ms_ssim(np.ones((2, 3, 4)), np.ones((2, 3, 4))), "x must be a batch of images"),
        (lambda: I.ms_ssim(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 5))), "y must have the shape of x"),
        (
            lambda: I.ms_ssim(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), sigmas=(1.0, -2.0)),
            r"sigmas\[1\] must be positive",
        ),
        (lambda: I.ms_ssim(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), data_range=0), "data_range must be positive"),
        (lambda: I.ms_ssim_l1(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), alpha=1.5), r"alpha must be in \[0, 1\]"),
        (
            lambda: I.ms_ssim_l1(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), compensation=0),
            "compensation must be positive",
        ),
        (lambda: I.psnr(np.ones(3), np.ones(4)), "target must have the shape of prediction"),
        (lambda: I.psnr(np.ones(3), np.zeros(3), max_val=-1), "max_val must be positive"),
        (lambda: I.total_variation(np.ones(3)), r"image must have shape \(\*, H, W\)"),
        (lambda: I.total_variation(np.ones((3, 3)), spatial="average"), "spatial must be one of"),
        (
            lambda: I.inverse_depth_smoothness(np.ones((1, 2, 4, 4)), np.ones((1, 3, 4, 4))),
            r"idepth must have shape \(N, 1, H, W\)",
        ),
        (lambda: I.inverse_depth_smoothness(np.ones((1, 1, 4, 4)), np.ones((1, 3, 4, 5))), "image must have shape"),
        (lambda: I.inverse_depth_smoothness(np.ones((1, 1, 1, 4)), np.ones((1, 3, 1, 4))), "at least 2 pixels"),
        (lambda: I.mutual_information(np.ones(4), np.ones(4)), r"prediction must have shape \(\*, H, W\)"),
        (
            lambda: I.mutual_information(np.ones((3, 3)), np.ones((3, 3)), num_bins=1),
            "num_bins must be an integer >= 2",
        ),
        (
            lambda: I.normalized_mutual_information(np.ones((3, 3)), np.ones((3, 3)), window_radius=0),
            "window_radius must be positive",
        ),
    ],
)
def test_bad_input_is_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_parameter_types_are_refused_by_name():
    with pytest.raises(TypeError, match="sigmas must be a non-empty sequence"):
        I.ms_ssim(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), sigmas=2.0)
    with pytest.raises(TypeError, match="num_bins must be an integer"):
        I.mutual_information(np.ones((3, 3)), np.ones((3, 3)), num_bins=8.0)
