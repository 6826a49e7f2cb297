"""Claims with numbers behind them (issue 27): every sentence of a loss docstring that says a loss
equals, matches or is the same as another library's function has a test here, named after the
sentence, that checks exactly that statement against the library's own numbers.

The numbers come from committed fixtures, never from the libraries themselves (none is a
dependency of nploss or of its tests):

- ``tests/fixtures/torch/<family>.npz``: PyTorch 2.13, pytorch-metric-learning 2.9 and kornia
  (make_torch_fixtures.py with the case lists torch_<family>.py); the cases that no family held
  are in ``torch/claims.npz`` (torch_claims.py);
- ``tests/fixtures/references/``: scikit-learn (margin, regression, multitask), scikit-image
  (segmentation), Keras 3.15.1 on its JAX and NumPy backends (keras.npz) and optax 0.2.8
  (optax.npz), each from its make_*_references.py.

SciPy, a runtime dependency, is called directly. Where a claim repeats what a family test already
checks case by case (``Matches torch.nn.functional.X``), the test here runs that family's own
nploss call on the cases the sentence is about, so each sentence has one test named after it.
Where a sentence was wrong, the test checks the corrected one (the issue's errata) and says so.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import scipy.stats

import nploss.autograd as ag
import nploss.losses as L
from nploss import optim
from nploss.autograd import Tensor, grad

from . import test_classification as _classification
from . import test_ctc as _ctc
from . import test_distribution as _distribution
from . import test_margin as _margin
from . import test_metric as _metric
from . import test_metric_softmax as _metric_softmax
from . import test_multitask as _multitask
from . import test_regression as _regression
from . import test_rl as _rl
from . import test_segmentation as _segmentation
from .torch_reference import assert_matches_torch, load

REFERENCES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references"
CLAIMS = load("claims")


def _references(name: str) -> dict[str, dict[str, np.ndarray]]:
    """``{case: {name: array}}`` of ``references/<name>.npz`` (keys ``case/name``; deeper keys kept whole)."""
    cases: dict[str, dict[str, np.ndarray]] = {}
    with np.load(REFERENCES / f"{name}.npz") as data:
        for key in data.files:
            if "/" in key:
                case, rest = key.split("/", 1)
                cases.setdefault(case, {})[rest] = data[key]
    return cases


KERAS = _references("keras")
OPTAX = _references("optax")
SKLEARN_MARGIN = _references("margin")
SKLEARN_REGRESSION = _references("regression")
SKLEARN_MULTITASK = _references("multitask")
SKIMAGE = _references("segmentation")


def _family_cases(module, *prefixes: str, exclude: tuple[str, ...] = ()) -> list[str]:
    ids = sorted(c for c in module.NPLOSS if c.startswith(prefixes) and not (exclude and c.startswith(exclude)))
    assert ids, f"no fixture case starts with {prefixes}"
    return ids


def _matches_family(module, *prefixes: str, exclude: tuple[str, ...] = ()) -> None:
    """Every case of ``module``'s torch fixture whose id starts with one of ``prefixes``: nploss's
    value and gradients (the family's own call) against the library's."""
    for case_id in _family_cases(module, *prefixes, exclude=exclude):
        assert_matches_torch(module.TORCH[case_id], module.NPLOSS[case_id])


# Keras' ops.mean accumulates in float32 whatever the input's dtype (make_keras_references.py): the
# cases that average hold to float32 precision on the JAX backend too
KERAS_AVERAGED = {
    "squared_hinge-pm1",
    "squared_hinge-01",
    "log_cosh",
    "rmse-metric",
    "cce-documented-mean",
    "cce-class-mean",
    "scce-class-mean",
}


def _keras_values(case: str):
    """Keras' values with their tolerance: the JAX backend's (float64, except for Keras' means) and
    the NumPy backend's (float32 inside)."""
    ref = KERAS[case]
    jax = (ref["value"], 1e-6, 1e-9) if case in KERAS_AVERAGED else (ref["value"], 1e-10, 1e-12)
    return jax, (ref["value_numpy"], 1e-5, 1e-6)


def _assert_keras(got, case: str) -> None:
    for value, rtol, atol in _keras_values(case):
        np.testing.assert_allclose(got, value, rtol=rtol, atol=atol, err_msg=case)


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ==================================================================================== segmentation


def test_dice_docstring_kornia_dice_loss_macro_equals_dice_of_softmax_one_hot_smooth_1e8():
    """segmentation.py, dice: kornia ``dice_loss(logits, labels, average='macro', eps=1e-8)``, every
    class present, "equals ``dice(softmax(logits, axis=1), one_hot(labels), smooth=1e-8)`` to about 1e-9"."""
    case = _segmentation.TORCH["kornia-dice-macro"]
    logits, labels = case["input"]["logits"], case["input"]["labels"]
    one_hot = np.moveaxis(np.eye(logits.shape[1])[labels], -1, 1)
    value = float(L.dice(_softmax(logits, 1), one_hot, smooth=1e-8))
    assert abs(value - float(case["value"])) < 2e-9
    _matches_family(_segmentation, "kornia-dice-macro")  # and its gradient through the softmax


@pytest.mark.parametrize(
    "case", ["dice-logits-smooth1", "dice-logits-smooth0.25", "dice-probs-smooth1", "dice-sigmoid-smooth1"]
)
def test_dice_docstring_optax_dice_loss_smooth_s_is_dice_smooth_2s(case):
    """segmentation.py, dice (erratum 3, corrected): optax 0.2.8 ``dice_loss(logits, targets,
    smooth=s)`` (softmax over the last axis, a sigmoid for one channel, or ``apply_softmax=False``)
    is ``dice(p, g, smooth=2 * s)``, one loss per sample and class; not ``smooth=s`` as first stated."""
    ref = OPTAX[case]
    x, g = ref["predictions"], ref["targets"]
    if case.startswith("dice-probs"):
        p = x
    elif x.shape[-1] == 1:
        p = 1 / (1 + np.exp(-x))
    else:
        p = _softmax(x, -1)
    smooth = 0.25 if case.endswith("0.25") else 1.0
    nchw = lambda a: np.moveaxis(a, -1, 1)  # optax: classes last; nploss: classes on axis 1
    got = L.dice(nchw(p), nchw(g), smooth=2 * smooth, reduction="none")
    np.testing.assert_allclose(got, ref["value"], rtol=1e-12, atol=1e-14)
    # the former statement, "optax uses smooth as here", is off by far more than round-off
    assert np.max(np.abs(L.dice(nchw(p), nchw(g), smooth=smooth, reduction="none") - ref["value"])) > 1e-3


def test_dice_docstring_optax_example_is_0_137931_against_0_166667_here():
    """segmentation.py, dice (corrected): the docstring example given to optax as one-channel logits
    ``log(p / (1 - p))`` with its ``smooth=1`` gives 0.137931 (``dice(smooth=2)``), against 0.166667
    with ``smooth=1`` here."""
    ref = OPTAX["dice-docstring-example"]
    assert round(float(ref["value"].item()), 6) == 0.137931
    p = np.array([[[[0.9, 0.2], [0.1, 0.6]]]])
    g = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert float(L.dice(p, g, smooth=2.0)) == pytest.approx(float(ref["value"].item()), rel=1e-12)
    assert round(float(L.dice(p, g)), 6) == 0.166667


def test_dice_docstring_keras_dice_is_one_minus_2i_over_sums_plus_1e7_over_all_classes_together():
    """segmentation.py, dice: "Keras ``dice`` is 1 - 2 sum(y yhat) / (sum y + sum yhat + 1e-7) over all
    classes together" (with its default ``axis=None`` the sums run over every axis, the batch too:
    one number per batch); with the sums over the spatial axes it is nploss's dice up to the
    smoothing: ``dice(smooth=1e-7)`` adds 1e-7 to the numerator too."""
    ref = KERAS["dice-all"]
    y, p = ref["y_true"], ref["y_pred"]
    by_formula = 1 - 2 * (y * p).sum() / (y.sum() + p.sum() + 1e-7)
    _assert_keras(by_formula, "dice-all")
    # all classes together = one "class" holding every pixel of every class and sample; nploss's
    # smooth=1e-7 in the numerator as well makes it smaller by exactly 1e-7 / (sum y + sum yhat + 1e-7)
    together = L.dice(p.reshape(1, 1, -1), y.reshape(1, 1, -1), smooth=1e-7)
    np.testing.assert_allclose(ref["value"] - together, 1e-7 / (y.sum() + p.sum() + 1e-7), rtol=1e-6)
    per_class = L.dice(p, y, smooth=1e-7, reduction="none")
    sums = y.sum(axis=(2, 3)) + p.sum(axis=(2, 3)) + 1e-7
    np.testing.assert_allclose(KERAS["dice-axis23"]["value"] - per_class, 1e-7 / sums, rtol=1e-6)


@pytest.mark.parametrize("a, b", [(0.3, 0.7), (0.8, 0.1)])
def test_tversky_docstring_keras_tversky_alpha_a_beta_b_is_tversky_alpha_b_beta_a(a, b):
    """segmentation.py, tversky: Keras 3 (3.15.1) swaps the weights, "``keras_tversky(alpha=a,
    beta=b)`` is ``tversky(alpha=b, beta=a)`` up to the smoothing" (Keras: 1e-7 in the denominator only)."""
    case = f"tversky-a{a}-b{b}-axis23"
    y, p = KERAS[case]["y_true"], KERAS[case]["y_pred"]
    swapped = L.tversky(p, y, alpha=b, beta=a, smooth=1e-12, reduction="none")
    for value, _, _ in _keras_values(case):
        np.testing.assert_allclose(swapped, value, rtol=0, atol=1e-6)
        assert np.max(np.abs(L.tversky(p, y, alpha=a, beta=b, smooth=1e-12, reduction="none") - value)) > 1e-2
    together = L.tversky(p.reshape(1, 1, -1), y.reshape(1, 1, -1), alpha=b, beta=a, smooth=1e-12)
    np.testing.assert_allclose(together, KERAS[f"tversky-a{a}-b{b}-all"]["value"], rtol=0, atol=1e-6)


def test_tversky_docstring_half_half_with_smooth_s_equals_dice_with_smooth_2s():
    """segmentation.py, tversky: "``tversky(p, g, 0.5, 0.5, smooth=s)`` equals ``dice(p, g, smooth=2 * s)``
    exactly", checked against torch's dice with smoothing 2 (values and both gradients)."""
    assert_matches_torch(
        _segmentation.TORCH["dice-onehot-smooth2.0-none"],
        lambda prediction, target: L.tversky(prediction, target, 0.5, 0.5, smooth=1.0, reduction="none"),
    )


def test_tversky_docstring_kornia_tversky_loss_equals_tversky_of_softmax_one_hot_smooth_1e8():
    """segmentation.py, tversky: kornia ``tversky_loss(logits, labels, alpha, beta, eps=1e-8)``, every
    class present, "equals ``tversky(softmax(logits, axis=1), one_hot(labels), alpha, beta,
    smooth=1e-8)`` to about 1e-9"."""
    for a, b in ((0.3, 0.7), (0.5, 0.5)):
        case = _segmentation.TORCH[f"kornia-tversky-a{a}-b{b}"]
        logits, labels = case["input"]["logits"], case["input"]["labels"]
        one_hot = np.moveaxis(np.eye(logits.shape[1])[labels], -1, 1)
        value = float(L.tversky(_softmax(logits, 1), one_hot, a, b, smooth=1e-8))
        assert abs(value - float(case["value"])) < 2e-9
    _matches_family(_segmentation, "kornia-tversky")


@pytest.mark.parametrize(
    "case",
    [
        "dice-logits-a0.3-b0.7",
        "dice-logits-a0.8-b0.1",
        "dice-probs-a0.3-b0.7-smooth0.5",
        "dice-probs-a0.8-b0.1-smooth0.5",
    ],
)
def test_tversky_docstring_optax_dice_loss_alpha_beta_is_tversky(case):
    """segmentation.py, tversky (erratum 4, corrected): optax has no ``tversky_loss``; its
    ``dice_loss(logits, targets, alpha=a, beta=b, smooth=s)`` is ``tversky(p, g, alpha=a, beta=b,
    smooth=s)`` on the softmax of the logits (alpha on the false positives, as here)."""
    ref = OPTAX[case]
    a, b = (0.3, 0.7) if "a0.3" in case else (0.8, 0.1)
    smooth = 0.5 if case.endswith("smooth0.5") else 1.0
    p = ref["predictions"] if case.startswith("dice-probs") else _softmax(ref["predictions"], -1)
    nchw = lambda x: np.moveaxis(x, -1, 1)
    got = L.tversky(nchw(p), nchw(ref["targets"]), alpha=a, beta=b, smooth=smooth, reduction="none")
    np.testing.assert_allclose(got, ref["value"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", sorted(SKIMAGE))
def test_ssim_docstring_scikit_image_structural_similarity_is_the_mean_over_channels_of_ssim_none(case):
    """segmentation.py, ssim: "scikit-image: ``1 - structural_similarity(x[n], y[n],
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=L, channel_axis=0)``
    equals the mean over ``c`` of ``ssim(..., reduction='none')[n]``", its window ``2 * int(3.5 *
    sigma + 0.5) + 1`` (the fixture holds 1 - SSIM per image and channel)."""
    ref = SKIMAGE[case]
    params = {k.split("/", 1)[1]: v.item() for k, v in ref.items() if k.startswith("param/")}
    assert params["window_size"] == 2 * int(3.5 * params["sigma"] + 0.5) + 1
    got = L.ssim(ref["x"], ref["y"], reduction="none", **params)
    np.testing.assert_allclose(got, ref["value"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.mean(axis=1), ref["value"].mean(axis=1), rtol=1e-9, atol=1e-12)


def test_ssim_docstring_kornia_ssim_loss_valid_eps0_is_exactly_half_of_this_loss():
    """segmentation.py, ssim: kornia's ``ssim_loss`` "with ``padding='valid'`` and ``eps=0`` is exactly
    half of this loss" (the fixture holds twice kornia's per-pixel mean)."""
    _matches_family(_segmentation, "kornia-ssim")


# ==================================================================================== distribution


def test_wasserstein_1d_docstring_agrees_with_scipy_stats_wasserstein_distance():
    """wasserstein.py: "Agrees with ``scipy.stats.wasserstein_distance(u_values, v_values, u_weights,
    v_weights)``" (SciPy is a dependency: called here), for samples of different sizes, weights,
    ties and a batch of rows."""
    rng = np.random.default_rng(27)
    u, v = rng.standard_normal((3, 7)), 0.5 + 2 * rng.standard_normal((3, 5))
    v[0, :2] = u[0, :2]  # ties across the samples
    uw, vw = rng.uniform(0.1, 2, (3, 7)), rng.uniform(0.1, 2, (3, 5))
    got = L.wasserstein_1d(u, v, reduction="none")
    got_w = L.wasserstein_1d(u, v, uw, vw, reduction="none")
    for i in range(3):
        assert got[i] == pytest.approx(scipy.stats.wasserstein_distance(u[i], v[i]), rel=1e-12)
        assert got_w[i] == pytest.approx(scipy.stats.wasserstein_distance(u[i], v[i], uw[i], vw[i]), rel=1e-12)
    assert float(L.wasserstein_1d(u[0], v[0])) == pytest.approx(scipy.stats.wasserstein_distance(u[0], v[0]), rel=1e-12)


def test_gradient_penalty_docstring_torch_sqrt_of_sum_plus_1e12_is_the_same():
    """wasserstein.py, gradient_penalty: "The common PyTorch formulation ``torch.sqrt((v ** 2).sum(1)
    + 1e-12)`` is the same"."""
    _matches_family(_distribution, "gradient_penalty-")


def test_gaussian_kl_docstring_matches_torch_distributions_kl_divergence():
    """vae.py, gaussian_kl: "Matches ``torch.distributions.kl_divergence(Normal(mu, exp(logvar / 2)),
    Normal(0, 1))``"."""
    _matches_family(_distribution, "gaussian_kl-")


def test_vae_elbo_docstring_pytorch_vae_example_is_sum_and_bce_with_logits_is_the_same():
    """vae.py, vae_elbo: "The PyTorch VAE example computes ``F.binary_cross_entropy(sigmoid(s), x,
    reduction='sum')`` plus the KL, summed over the batch (our ``reduction='sum'``); with logits
    ``F.binary_cross_entropy_with_logits(s, x, reduction='sum')`` is the same"."""

    def elbo(logits, x, mu, logvar):
        return L.vae_elbo(logits, x, mu, logvar, decoder="bernoulli", reduction="sum")

    assert_matches_torch(CLAIMS["vae-pytorch-example"], elbo)
    assert_matches_torch(CLAIMS["vae-bce-with-logits"], elbo)


def test_reconstruction_docstring_mse_is_mse_loss_and_bce_is_bce_with_logits():
    """vae.py, reconstruction: "``'mse'`` is ``F.mse_loss(output, input)``, ``'bce'`` is
    ``F.binary_cross_entropy_with_logits(output, input)``"."""
    _matches_family(_distribution, "reconstruction-")


def test_gan_discriminator_docstring_equals_bce_with_logits_real_ones_plus_fake_zeros():
    """gan.py, gan_discriminator: "Equals ``F.binary_cross_entropy_with_logits(real_logits, ones,
    reduction=r) + F.binary_cross_entropy_with_logits(fake_logits, zeros, reduction=r)``"."""
    _matches_family(_distribution, "gan_discriminator-")


def test_gan_generator_docstring_bce_with_logits_of_fake_against_ones_and_minimax_minus_against_zeros():
    """gan.py, gan_generator: "PyTorch: ``F.binary_cross_entropy_with_logits(fake_logits, ones)``; the
    minimax form is ``-F.binary_cross_entropy_with_logits(fake_logits, zeros)``"."""
    _matches_family(_distribution, "gan_generator-")


def test_lsgan_discriminator_docstring_half_mse_real_ones_plus_half_mse_fake_zeros():
    """gan.py, lsgan_discriminator: "PyTorch: ``0.5 * F.mse_loss(real_scores, ones) + 0.5 *
    F.mse_loss(fake_scores, zeros)``" (the default labels 1 and 0)."""
    _matches_family(_distribution, "lsgan_discriminator-a0.0-b1.0-")


def test_lsgan_generator_docstring_half_mse_fake_ones():
    """gan.py, lsgan_generator: "PyTorch: ``0.5 * F.mse_loss(fake_scores, ones)``"."""
    _matches_family(_distribution, "lsgan_generator-c1.0-")


def test_perceptual_docstring_mean_with_one_layer_is_mse_loss_of_the_features():
    """perceptual.py: "With ``'mean'`` and one layer this is ``F.mse_loss(phi(x), phi(y))``" (and a sum
    of them over several layers)."""
    _matches_family(_distribution, "perceptual-layers1-mean", "perceptual-layers3-mean", "perceptual-layers1-3-mean")


# ==================================================================================== classification


def test_binary_cross_entropy_docstring_matches_torch_binary_cross_entropy():
    """bce.py: "Matches ``torch.nn.functional.binary_cross_entropy``, values and gradients, including the
    clamp and the floored gradient at p in {0, 1}"."""
    _matches_family(_classification, "bce-")


def test_binary_cross_entropy_with_logits_docstring_matches_torch():
    """bce.py: "Matches ``torch.nn.functional.binary_cross_entropy_with_logits``, values and gradients"."""
    _matches_family(_classification, "bcel-")


def test_cross_entropy_docstring_matches_torch_cross_entropy_for_every_combination():
    """cross_entropy.py, cross_entropy: "Matches ``torch.nn.functional.cross_entropy``, values and
    gradients, for every combination of ``weight``, ``ignore_index`` and ``label_smoothing``, also when
    no sample is left to average"."""
    _matches_family(_classification, "xent-", "ce-unbatched-", exclude=("xent-prob", "ce-unbatched-probabilities"))


def test_soft_target_cross_entropy_docstring_matches_torch_cross_entropy_with_probability_targets():
    """cross_entropy.py, soft_target_cross_entropy: "Matches ``torch.nn.functional.cross_entropy`` with
    probability targets (values and both gradients)"."""
    for r in ("mean", "sum", "none"):
        assert_matches_torch(
            _classification.TORCH[f"xent-prob-{r}"], lambda r=r, **x: L.soft_target_cross_entropy(**x, reduction=r)
        )
    for r in ("mean", "none"):
        assert_matches_torch(
            _classification.TORCH[f"xent-prob-weight-smooth-{r}"],
            lambda r=r, **x: L.soft_target_cross_entropy(**x, label_smoothing=0.15, reduction=r),
        )
    assert_matches_torch(_classification.TORCH["xent-prob-kdim"], lambda **x: L.soft_target_cross_entropy(**x))


def test_nll_docstring_matches_torch_nll_loss():
    """cross_entropy.py, nll: "Matches ``torch.nn.functional.nll_loss`` (values and gradients)"."""
    _matches_family(_classification, "nll-")


@pytest.mark.parametrize(
    "case_id",
    [
        "xent-mean",
        "xent-sum",
        "xent-none",
        "xent-weight-mean",
        "xent-weight-none",
        "xent-ignore-mean",
        "xent-ignore-none",
    ],
)
def test_nll_docstring_nll_of_log_softmax_equals_cross_entropy(case_id):
    """cross_entropy.py, nll: "``nll(log_softmax(z), y)`` equals ``cross_entropy(z, y)``", against
    torch's cross entropy (values and the gradient through the log-softmax; weights and ignored
    labels as the case has them)."""
    reduction = case_id.rsplit("-", 1)[1]
    assert_matches_torch(
        _classification.TORCH[case_id],
        lambda logits, target, **weight: L.nll(ag.log_softmax(logits, axis=1), target, **weight, reduction=reduction),
    )


def test_kl_div_docstring_matches_torch_kl_div():
    """divergence.py, kl_div: "Matches ``torch.nn.functional.kl_div`` (values and both gradients)"."""
    _matches_family(_classification, "kl-")


@pytest.mark.parametrize("case_id", ["distillation-recipe-2d-T2-a0.3", "distillation-recipe-2d-T4-a0.7"])
def test_distillation_docstring_equals_the_usual_pytorch_recipe_for_n_c_inputs(case_id):
    """divergence.py, distillation (erratum 2, corrected): "the usual recipe ``alpha *
    F.cross_entropy(s, y) + (1 - alpha) * T**2 * F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T,
    1), reduction='batchmean')``, which this equals for (N, C) inputs"."""
    t, a = (2.0, 0.3) if "T2" in case_id else (4.0, 0.7)
    assert_matches_torch(
        CLAIMS[case_id],
        lambda student, teacher, target: L.distillation(student, teacher, target, temperature=t, alpha=a),
    )


def test_distillation_docstring_for_n_c_d_inputs_batchmean_recipe_soft_term_is_d1_times_this_one():
    """divergence.py, distillation (erratum 2, corrected): for (N, C, d1, ...) logits the recipe's
    ``'batchmean'`` divides the KL's sum by N alone, "so that recipe's soft term is d1... times this
    one (20 times for (2, 3, 4, 5) logits)"; "its PyTorch equivalent for any shape replaces
    ``reduction='batchmean'`` by ``reduction='sum'`` and divides by ``s.numel() // s.shape[1]``"."""
    recipe = CLAIMS["distillation-recipe-kdim-T2-a0.3"]
    s, t, y = (recipe["input"][k] for k in ("student", "teacher", "target"))
    hard = float(L.distillation(s, t, y, temperature=2.0, alpha=1.0))
    soft = float(L.distillation(s, t, y, temperature=2.0, alpha=0.0))
    assert float(recipe["value"]) == pytest.approx(0.3 * hard + 0.7 * 20 * soft, rel=1e-12)
    assert float(recipe["value"]) != pytest.approx(float(L.distillation(s, t, y, temperature=2.0, alpha=0.3)), rel=1e-3)
    assert_matches_torch(
        CLAIMS["distillation-sum-kdim-T2-a0.3"],
        lambda student, teacher, target: L.distillation(student, teacher, target, temperature=2.0, alpha=0.3),
    )


def test_sigmoid_focal_docstring_matches_torchvision_sigmoid_focal_loss():
    """focal.py, sigmoid_focal: "Matches ``torchvision.ops.sigmoid_focal_loss`` (values and gradients
    with respect to the logits) with the same ``reduction``" (torchvision's function body, reproduced
    in torch ops: torchvision is not installed beside torch 2.13)."""
    _matches_family(_classification, "sfocal-")


@pytest.mark.parametrize("reduction", ["sum", "none", "mean"])
def test_softmax_focal_docstring_gamma_0_sum_and_none_equal_weighted_cross_entropy_but_mean_does_not(reduction):
    """focal.py, softmax_focal: "with ``gamma=0``, ``'sum'`` and ``'none'`` equal
    ``cross_entropy(weight=alpha)``, but ``'mean'`` does not divide by sum(alpha_y) as PyTorch's
    weighted cross entropy does", against torch's weighted cross entropy."""
    case = _classification.TORCH[f"xent-weight-{reduction}"]
    logits, target, weight = (case["input"][k] for k in ("logits", "target", "weight"))
    got = L.softmax_focal(logits, target, gamma=0.0, alpha=weight, reduction=reduction)
    if reduction != "mean":
        assert_matches_torch(
            case, lambda logits, target, weight: L.softmax_focal(logits, target, 0.0, weight, reduction)
        )
    else:
        total = _classification.TORCH["xent-weight-sum"]["value"]
        assert float(got) == pytest.approx(float(total) / len(target), rel=1e-12)
        assert float(got) != pytest.approx(float(case["value"]), rel=1e-3)
        assert float(case["value"]) == pytest.approx(float(total) / weight[target].sum(), rel=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_focal_docstring_gamma_0_and_alpha_none_is_exactly_cross_entropy(reduction):
    """focal.py, softmax_focal: "With ``gamma=0`` and ``alpha=None`` it is exactly :func:`cross_entropy`",
    against torch's cross entropy (values and gradients)."""
    assert_matches_torch(
        _classification.TORCH[f"xent-{reduction}"],
        lambda logits, target: L.softmax_focal(logits, target, gamma=0.0, reduction=reduction),
    )


@pytest.mark.parametrize("case", ["cce-onehot", "cce-soft", "cce-logits", "cce-3d"])
def test_categorical_cross_entropy_docstring_follows_keras_3_categorical_crossentropy(case):
    """keras.py, categorical_cross_entropy: "Follows Keras 3's ``categorical_crossentropy`` (every backend
    renormalises, then clips)": rows that do not sum to 1, entries below epsilon, logits, 3-D."""
    ref = KERAS[case]
    got = L.categorical_cross_entropy(ref["y_pred"], ref["y_true"], from_logits=case == "cce-logits", reduction="none")
    _assert_keras(got, case)


def test_categorical_cross_entropy_docstring_mean_is_keras_sum_over_batch_size_and_1_177():
    """keras.py, categorical_cross_entropy: "``'mean'`` averages over the rows, which is Keras' default
    ``'sum_over_batch_size'``", and the example "Keras documents 1.177"."""
    for case in ("cce-class-mean", "cce-documented-mean"):
        ref = KERAS[case]
        _assert_keras(L.categorical_cross_entropy(ref["y_pred"], ref["y_true"]), case)
    assert round(float(KERAS["cce-documented-mean"]["value"]), 3) == 1.177


@pytest.mark.parametrize("case", ["scce-probs", "scce-logits", "scce-class-mean"])
def test_sparse_categorical_cross_entropy_docstring_follows_keras_3_on_its_numpy_and_jax_backends(case):
    """keras.py, sparse_categorical_cross_entropy: "Follows Keras 3's ``sparse_categorical_crossentropy``
    on its NumPy and JAX backends (renormalise, clip, log)"."""
    ref = KERAS[case]
    reduction = "mean" if case.endswith("mean") else "none"
    got = L.sparse_categorical_cross_entropy(
        ref["y_pred"], ref["y_true"], from_logits=case == "scce-logits", reduction=reduction
    )
    _assert_keras(got, case)


@pytest.mark.parametrize("case", ["smooth_labels-onehot-e0.1", "smooth_labels-onehot-e0.4", "smooth_labels-soft-e0.2"])
def test_smooth_labels_docstring_as_optax_smooth_labels(case):
    """keras.py, smooth_labels: "y' = (1 - eps) y + eps / K over the K classes of the last axis, as
    optax's ``smooth_labels``"."""
    ref = OPTAX[case]
    eps = float(case.rsplit("-e", 1)[1])
    np.testing.assert_allclose(L.smooth_labels(ref["labels"], eps), ref["value"], rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize(
    "case", ["cce-smoothing0.1", "cce-smoothing0.3", "cce-logits-smoothing0.1", "cce-logits-smoothing0.3"]
)
def test_smooth_labels_docstring_as_keras_categorical_label_smoothing(case):
    """keras.py, smooth_labels: "... as Keras' categorical ``label_smoothing``": Keras'
    ``categorical_crossentropy(y, p, label_smoothing=e)`` is the loss of ``smooth_labels(y, e)``."""
    ref = KERAS[case]
    eps = float(case.rsplit("smoothing", 1)[1])
    got = L.categorical_cross_entropy(
        ref["y_pred"], L.smooth_labels(ref["y_true"], eps), from_logits="logits" in case, reduction="none"
    )
    _assert_keras(got, case)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smooth_labels_docstring_torch_label_smoothing_equals_cross_entropy_of_smoothed_one_hot(reduction):
    """keras.py, smooth_labels: "``cross_entropy(z, y, label_smoothing=e)`` equals ``cross_entropy(z,
    smooth_labels(onehot(y), e))`` (without class weights)", against torch's ``label_smoothing=0.1``."""
    case = _classification.TORCH[f"xent-smooth-{reduction}"]
    c = case["input"]["logits"].shape[1]
    assert_matches_torch(
        case,
        lambda logits, target: L.cross_entropy(
            logits, L.smooth_labels(np.eye(c)[ag.as_data(target)], 0.1), reduction=reduction
        ),
    )


# ==================================================================================== margin


@pytest.mark.parametrize("case", ["binary", "binary-kinks"])
def test_hinge_docstring_margin_1_mean_equals_sklearn_hinge_loss_binary(case):
    """binary.py, hinge: "With ``margin=1`` and ``'mean'`` it equals ``sklearn.metrics.hinge_loss`` in the
    binary case"."""
    ref = SKLEARN_MARGIN[case]
    got = L.hinge(ref["scores"], ref["target"].astype(float), margin=1.0)
    assert float(got) == pytest.approx(float(ref["value"]), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("case", ["squared_hinge-pm1", "squared_hinge-01"])
def test_squared_hinge_docstring_keras_squared_hinge_computes_the_same_values(case):
    """binary.py, squared_hinge: "Keras ``squared_hinge`` computes the same values but silently maps labels
    in {0, 1} to {-1, 1} (and averages over the last axis first, which for a mean over equal rows is
    the same number)"."""
    ref = KERAS[case]
    y = ref["y_true"] if case.endswith("pm1") else 2 * ref["y_true"] - 1
    _assert_keras(L.squared_hinge(ref["y_pred"], y, reduction="none").mean(axis=-1), case)
    for value, rtol, atol in _keras_values(case):
        assert float(L.squared_hinge(ref["y_pred"], y)) == pytest.approx(value.mean(), rel=rtol, abs=atol)


def test_logistic_docstring_equals_torch_soft_margin_loss_and_bce_with_logits_of_y_plus_1_over_2():
    """binary.py, logistic: "Equals ``torch.nn.functional.soft_margin_loss`` (values and gradients), and
    ``binary_cross_entropy_with_logits(f, (y + 1) / 2)``"."""
    _matches_family(_margin, "logistic-")
    for r in ("mean", "sum", "none"):
        assert_matches_torch(
            _margin.TORCH[f"logistic-{r}"],
            lambda scores, target, r=r: L.binary_cross_entropy_with_logits(scores, (target + 1) / 2, reduction=r),
        )


def test_multiclass_hinge_docstring_exactly_as_torch_multi_margin_loss():
    """multiclass.py, multiclass_hinge: "Multiclass hinge loss of Weston and Watkins, exactly as
    ``torch.nn.functional.multi_margin_loss``"."""
    _matches_family(_margin, "multiclass_hinge-")


@pytest.mark.parametrize("case", ["multiclass_hinge-random", "multiclass_hinge-ties"])
def test_crammer_singer_hinge_docstring_equals_optax_multiclass_hinge_loss(case):
    """multiclass.py, crammer_singer_hinge: "Equals optax ``multiclass_hinge_loss`` (max_j(s_j + [j != y])
    - s_y)"."""
    ref = OPTAX[case]
    got = L.crammer_singer_hinge(ref["scores"], ref["labels"], reduction="none")
    np.testing.assert_allclose(got, ref["value"], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("case", ["multiclass", "multiclass-ties"])
def test_crammer_singer_hinge_docstring_mean_equals_sklearn_multiclass_hinge_loss(case):
    """multiclass.py, crammer_singer_hinge: "... and, with ``'mean'``, scikit-learn's multiclass
    ``hinge_loss``"."""
    ref = SKLEARN_MARGIN[case]
    assert float(L.crammer_singer_hinge(ref["scores"], ref["target"])) == pytest.approx(float(ref["value"]), rel=1e-12)


def test_crammer_singer_hinge_docstring_keras_categorical_hinge_replaces_the_runner_up_by_0_when_all_wrong_scores_are_negative():
    """multiclass.py, crammer_singer_hinge: Keras' ``categorical_hinge`` (one-hot ``y_true``; pass its
    argmax here) "agrees with this loss when some wrong class scores >= 0 and otherwise replaces the
    runner-up score by 0"."""
    ref = KERAS["categorical_hinge"]
    s, labels = ref["y_pred"], ref["y_true"].argmax(axis=1)
    ours = L.crammer_singer_hinge(s, labels, reduction="none")
    wrong = np.where(ref["y_true"] == 1, -np.inf, s).max(axis=1)
    expected = np.where(wrong >= 0, ours, np.maximum(0, 1 - s[np.arange(len(s)), labels]))
    assert (wrong < 0).sum() >= 3 and (wrong >= 0).sum() >= 3  # both branches are exercised
    _assert_keras(expected, "categorical_hinge")
    assert np.max(np.abs(ours - ref["value"])) > 0.1  # where every wrong score is negative they differ


# ==================================================================================== metric


def test_triplet_docstring_matches_torch_triplet_margin_loss():
    """triplet.py, triplet: "Matches ``torch.nn.functional.triplet_margin_loss`` (values and gradients;
    at the kink the slope is 1, as its ``clamp_min``)" (``squared`` is not in PyTorch)."""
    _matches_family(_metric, "triplet-", exclude=("triplet-squared",))


def test_batch_triplet_docstring_pml_triplet_margin_loss_with_no_miner_batch_hard_and_semihard_miners():
    """triplet.py, batch_triplet: pytorch-metric-learning ``TripletMarginLoss(margin,
    distance=LpDistance(normalize_embeddings=normalize, power=2 if squared else 1))`` with no miner is
    ``strategy='all'``, with ``BatchHardMiner`` ``'hard'``, with ``TripletMarginMiner(margin,
    type_of_triplets="semihard")`` ``'semi-hard'`` (``AvgNonZeroReducer``: ``'avg_nonzero'``;
    ``MeanReducer``: ``'mean'``)."""
    _matches_family(_metric, "batch_triplet-pml-")


def test_lifted_structured_docstring_pml_lifted_structure_loss_equals_mean():
    """lifted.py: "pytorch-metric-learning's ``LiftedStructureLoss(neg_margin=margin, pos_margin=0,
    distance=LpDistance(normalize_embeddings=normalize))`` (default ``MeanReducer``) equals 'mean'"."""
    _matches_family(_metric, "lifted_structured-pml-")


def test_contrastive_docstring_pml_contrastive_loss_is_power_1_avg_nonzero():
    """pairs.py, contrastive: "pytorch-metric-learning's ``ContrastiveLoss(pos_margin, neg_margin)`` is
    ``contrastive(x1, x2, y, margin=neg_margin, pos_margin=pos_margin, power=1, normalize=True,
    reduction='avg_nonzero')`` when given the pairs as an ``indices_tuple``" (and with
    ``normalize=False`` for an ``LpDistance`` that does not normalise)."""
    _matches_family(_metric, "contrastive-pml-")


def test_cosine_embedding_docstring_matches_torch_cosine_embedding_loss():
    """pairs.py, cosine_embedding: "Matches ``torch.nn.functional.cosine_embedding_loss`` (values and
    gradients, its epsilon included; at cos = m the slope is 1)"."""
    _matches_family(_metric, "cosine_embedding-")


def test_margin_ranking_docstring_matches_torch_margin_ranking_loss():
    """pairs.py, margin_ranking: "Matches ``torch.nn.functional.margin_ranking_loss`` (the slope at the
    kink is 1, as its ``clamp_min``)"."""
    _matches_family(_metric, "margin_ranking-")


def test_center_docstring_kaiyangzhou_center_loss_is_twice_this_mean():
    """center.py: "The widely used PyTorch implementation (KaiyangZhou/pytorch-center-loss) computes the
    mean of |x_i - c_{y_i}|^2 without the 1/2, twice this 'mean'" (its clamp adds 1e-12 for each of
    the N (C - 1) masked entries, 3e-12 here)."""
    case = CLAIMS["center-kaiyangzhou"]
    x, labels, centers = (case["input"][k] for k in ("x", "labels", "centers"))
    assert float(case["value"]) == pytest.approx(2 * float(L.center(x, labels, centers)), rel=0, abs=1e-11)
    doubled = {**case, "value": case["value"] - 3e-12}
    assert_matches_torch(doubled, lambda x, labels, centers: 2 * L.center(x, labels, centers))


# ==================================================================================== metric_softmax


def test_cosface_docstring_matches_pml_cosface_loss_with_its_w_set_to_weight_t():
    """margin_softmax.py, cosface: "Matches pytorch-metric-learning's ``CosFaceLoss(num_classes=C,
    embedding_size=D, margin=m, scale=s)`` when its learnable ``W`` is set to ``weight.T``"."""
    _matches_family(_metric_softmax, "cosface-")


def test_arcface_docstring_pml_arcface_loss_with_margin_in_degrees_computes_this_loss():
    """margin_softmax.py, arcface: "pytorch-metric-learning's ``ArcFaceLoss(..., margin=deg, scale=s)``
    ... with ``margin=degrees(m)`` and ``W = weight.T`` it computes this loss (it switches to the
    fallback where theta > pi - m, the same condition)"."""
    _matches_family(_metric_softmax, "arcface-s")


def test_arcface_docstring_easy_margin_follows_insightface():
    """margin_softmax.py, arcface: "PML has no ``easy_margin``; that branch follows insightface"
    (insightface's ArcMarginProduct, both branches)."""
    _matches_family(_metric_softmax, "arcface-insightface-")


def test_n_pair_docstring_pml_npairs_loss_with_dot_product_computes_this_loss_and_its_regulariser():
    """contrastive.py, n_pair: PML's ``NPairsLoss`` on ``concat(anchors, positives)``, labels
    ``concat(arange(N), arange(N))``, ``DotProductSimilarity(normalize_embeddings=False)`` "computes this
    loss with ``l2_reg = 0``"; "``embedding_regularizer=LpRegularizer(power=2)`` with
    ``embedding_reg_weight = l2_reg / 2`` ... adds the same regulariser"."""
    _matches_family(_metric_softmax, "n_pair-")


@pytest.mark.parametrize("l2", [0.0, 0.002, 0.5])
def test_n_pair_docstring_mean_equals_tensorflow_npairs_loss_with_reg_lambda_l2_reg(l2):
    """contrastive.py, n_pair: "Its lambda/4 follows TensorFlow's ``npairs_loss`` (``0.25 * reg_lambda *
    (mean |a|^2 + mean |p|^2)``, default 0.002) ..., so that ``'mean'`` equals their loss with
    ``reg_lambda = l2_reg``" (TensorFlow's function body in torch ops: TensorFlow is not installed)."""
    assert_matches_torch(
        CLAIMS[f"n_pair-tf-l2{l2:g}"], lambda anchors, positives: L.n_pair(anchors, positives, l2_reg=l2)
    )


def test_nt_xent_docstring_pml_ntxent_loss_computes_the_same_loss():
    """contrastive.py, nt_xent: "pytorch-metric-learning's ``NTXentLoss(temperature=tau)`` on ``z`` with
    ``labels = concat(arange(N), arange(N))`` computes the same loss"."""
    _matches_family(_metric_softmax, "nt_xent-")


def test_supcon_docstring_matches_pml_supcon_loss():
    """contrastive.py, supcon: "Matches pytorch-metric-learning's ``SupConLoss(temperature=tau)`` (cosine
    similarity, ``AvgNonZeroReducer``) on the same ``features`` and ``labels``"."""
    _matches_family(_metric_softmax, "supcon-")


def test_supcon_docstring_no_positive_mean_is_0_with_a_zero_gradient_as_pml():
    """contrastive.py, supcon: "If no anchor has a positive, ``'mean'`` is 0 with a zero gradient, never
    NaN (PML also returns 0)"."""
    assert_matches_torch(
        CLAIMS["supcon-pml-nopositive"], lambda features, labels: L.supcon(features, labels, temperature=0.1)
    )


# ==================================================================================== fewshot


def test_covariance_docstring_pml_vicreg_loss_computes_the_same_term_per_branch():
    """fewshot/regularisers.py, covariance: "pytorch-metric-learning's ``VICRegLoss`` computes the same
    term per branch" (its covariance term alone, of both branches: ``covariance(Z) + covariance(Z')``)."""
    assert_matches_torch(
        CLAIMS["vicreg-pml-covariance"],
        lambda embeddings, reference: L.covariance(embeddings) + L.covariance(reference),
    )


# ==================================================================================== multitask


def test_l2_penalty_docstring_keras_l2_has_no_half_and_the_same_default():
    """regularisers.py, l2_penalty: "Convention: as ... ``keras.regularizers.L2`` (no 1/2)"; "0.01 by
    default, as ``keras.regularizers.L2``"."""
    w = KERAS["regularizer-L2-default"]["w"]
    _assert_keras(L.l2_penalty(w), "regularizer-L2-default")
    _assert_keras(L.l2_penalty(w, lam=0.03), "regularizer-L2-0.03")


def test_l1_penalty_docstring_keras_l1_and_the_same_default():
    """regularisers.py, l1_penalty: "0.01 by default, as ``keras.regularizers.L1``" (the sum of |w|)."""
    w = KERAS["regularizer-L1-default"]["w"]
    _assert_keras(L.l1_penalty(w), "regularizer-L1-default")
    _assert_keras(L.l1_penalty(w, lam=0.03), "regularizer-L1-0.03")


def test_elastic_net_docstring_keras_l1l2_has_no_half_on_the_l2_term():
    """regularisers.py, elastic_net: "The L2 part has no 1/2, as in ... ``keras.regularizers.L1L2``".
    (The default, "0.01 each by default, as ``keras.regularizers.l1_l2``", holds for Keras 2 only:
    Keras 3's ``L1L2`` and its alias ``l1_l2`` default to 0 each; the defaults are those of Keras 3's
    ``L1`` and ``L2``.)"""
    w = KERAS["regularizer-L1L2-0.02-0.05"]["w"]
    _assert_keras(L.elastic_net(w, l1=0.02, l2=0.05), "regularizer-L1L2-0.02-0.05")
    for (l1_default, rtol, atol), (l2_default, _, _) in zip(
        _keras_values("regularizer-L1-default"), _keras_values("regularizer-L2-default")
    ):
        assert float(L.elastic_net(w)) == pytest.approx(float(l1_default + l2_default), rel=rtol, abs=atol)
    assert (
        float(KERAS["regularizer-l1_l2-default"]["value"]) == 0.0 == float(KERAS["regularizer-L1L2-default"]["value"])
    )


@pytest.mark.parametrize("case", sorted(c for c in SKLEARN_MULTITASK if c.startswith("elastic_net")))
def test_elastic_net_docstring_sklearn_elastic_net_alpha_l1_ratio_are_l1_alpha_ratio_and_l2_alpha_1_minus_ratio_over_2(
    case,
):
    """regularisers.py, elastic_net: "scikit-learn's ``ElasticNet`` puts a 1/2 on the L2 term and a mixing
    ratio in front: its ``alpha``, ``l1_ratio`` are ``l1 = alpha * l1_ratio``, ``l2 = alpha * (1 -
    l1_ratio) / 2`` here": ElasticNet's coefficients minimise ``|y - X w|^2 / (2n) + elastic_net(w, l1,
    l2)``, its (sub)gradient, from nploss's elastic_net, is 0 there."""
    ref = SKLEARN_MULTITASK[case]
    x, y, w = ref["x"], ref["y"], ref["value"]
    alpha, ratio = float(ref["alpha"]), float(ref["l1_ratio"])
    data_grad = -x.T @ (y - x @ w) / len(y)

    def residual(l1, l2):
        weights = Tensor(w, requires_grad=True)
        (penalty,) = grad(L.elastic_net(weights, l1=l1, l2=l2), [weights])
        nonzero = w != 0
        stationary = np.abs(data_grad + penalty.numpy())[nonzero]  # sign(w) is the gradient of |w| there
        inside = np.maximum(np.abs(data_grad[~nonzero]) - l1, 0)  # at w = 0: 0 in the subdifferential
        return max(stationary.max(initial=0), inside.max(initial=0))

    assert residual(alpha * ratio, alpha * (1 - ratio) / 2) < 1e-9
    assert residual(alpha * ratio, alpha * (1 - ratio)) > 1e-4  # without the 1/2 it is not the minimiser


@pytest.mark.parametrize("case", ["class_weight-imbalanced", "class_weight-two"])
def test_class_weights_docstring_samples_with_inverse_is_sklearn_compute_class_weight_balanced(case):
    """class_weights.py: "``'samples'``: ... with ``'inverse'`` this is scikit-learn's
    ``compute_class_weight('balanced')`` N / (C n_c)"."""
    ref = SKLEARN_MULTITASK[case]
    got = L.class_weights(ref["labels"], scheme="inverse", normalize="samples")
    np.testing.assert_allclose(got, ref["value"], rtol=1e-14)


def _trained(optimiser, case, lam=0.0, **hyper):
    """nploss's optimiser on ``mse(a @ w, b) (+ l2_penalty(w, lam))``, the steps of the torch case."""
    inputs = case["input"]
    w = Tensor(inputs["w0"].copy(), requires_grad=True)
    opt = optimiser([w], **hyper)
    for _ in range(20):
        opt.zero_grad()
        loss = L.mse(ag.matmul(inputs["a"], w), inputs["b"])
        if lam:
            loss = loss + L.l2_penalty(w, lam=lam)
        loss.backward()
        opt.step()
    return w.numpy()


def test_l2_penalty_docstring_sgd_weight_decay_wd_equals_l2_penalty_of_wd_over_2():
    """regularisers.py, l2_penalty: "PyTorch's ``weight_decay=wd`` in ``torch.optim.SGD`` (and
    ``nploss.optim.SGD``) adds wd w to the gradient ...: it equals ``l2_penalty(w, lam=wd / 2)``"
    (20 steps with momentum, against torch's)."""
    case = CLAIMS["optim-sgd-wd0.1"]
    np.testing.assert_allclose(
        _trained(optim.SGD, case, lam=0.05, lr=0.1, momentum=0.9), case["value"], rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        _trained(optim.SGD, case, lr=0.1, momentum=0.9, weight_decay=0.1), case["value"], rtol=1e-12, atol=1e-14
    )


def test_l2_penalty_docstring_adam_weight_decay_wd_equals_l2_penalty_of_wd_over_2_and_adamw_differs():
    """regularisers.py, l2_penalty (erratum 13, corrected; it said "With Adam the two differ"):
    ``torch.optim.Adam(weight_decay=wd)`` and ``nploss.optim.Adam`` add wd w to the gradient before the
    moments, so Adam on the loss plus ``l2_penalty(w, lam=wd / 2)`` takes the same steps; what differs
    is decoupled decay, ``torch.optim.AdamW``, which no penalty reproduces."""
    adam, adamw = CLAIMS["optim-adam-wd0.1"], CLAIMS["optim-adamw-wd0.1"]
    with_penalty = _trained(optim.Adam, adam, lam=0.05, lr=0.05)
    np.testing.assert_allclose(with_penalty, adam["value"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        _trained(optim.Adam, adam, lr=0.05, weight_decay=0.1), adam["value"], rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        _trained(optim.AdamW, adamw, lr=0.05, weight_decay=0.1), adamw["value"], rtol=1e-12, atol=1e-14
    )
    assert np.max(np.abs(with_penalty - adamw["value"])) > 1e-2


def test_consistency_docstring_is_mse_loss_none_summed_over_the_features():
    """consistency.py: "the squared L2 distance, without the 1/2 and summed over the features, i.e.
    ``torch.nn.functional.mse_loss(f_x, f_aug, reduction='none')`` summed over the feature axes"."""
    _matches_family(_multitask, "consistency-")


def test_gradnorm_docstring_is_l1_loss_with_reduction_sum_in_the_norms():
    """gradnorm.py: "as a function of ``norms`` it is the L1 distance ``torch.nn.functional.l1_loss``
    with ``reduction='sum'``"."""
    _matches_family(_multitask, "gradnorm-none", "gradnorm-sum")


# ==================================================================================== regression


def test_mse_docstring_matches_torch_mse_loss():
    """errors.py, mse: "Matches ``torch.nn.functional.mse_loss``"."""
    _matches_family(_regression, "mse-")


def test_mae_docstring_matches_torch_l1_loss():
    """errors.py, mae: "Matches ``torch.nn.functional.l1_loss``"."""
    _matches_family(_regression, "mae-")


def test_rmse_docstring_mean_is_keras_root_mean_squared_error():
    """errors.py, rmse: "``'mean'`` gives sqrt(mean(e^2)) (Keras ``RootMeanSquaredError``)"."""
    ref = KERAS["rmse-metric"]
    _assert_keras(L.rmse(ref["y_pred"], ref["y_true"]), "rmse-metric")


def test_rmse_docstring_torch_sqrt_mse_loss_has_the_same_value_but_a_nan_gradient_at_a_perfect_prediction():
    """errors.py, rmse: "``torch.sqrt(F.mse_loss(p, y))`` has the same value, but its gradient at a perfect
    prediction is NaN" (nploss's is 0 there)."""
    _matches_family(_regression, "rmse-mean")  # the same value and gradient away from 0
    case = CLAIMS["rmse-torch-sqrt-mse-perfect"]
    assert float(case["value"]) == 0.0 == float(L.rmse(case["input"]["prediction"], case["input"]["target"]))
    assert np.isnan(case["grad"]["prediction"]).all() and np.isnan(case["grad"]["target"]).all()
    p = Tensor(case["input"]["prediction"], requires_grad=True)
    (g,) = grad(L.rmse(p, case["input"]["target"]), [p])
    assert np.all(g.numpy() == 0)


def test_huber_docstring_matches_torch_huber_loss():
    """robust.py, huber: "Matches ``torch.nn.functional.huber_loss``"."""
    _matches_family(_regression, "huber-")


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_docstring_equals_delta_times_smooth_l1_with_beta_delta(delta):
    """robust.py, huber: "it equals ``delta * smooth_l1(beta=delta)``", against torch's huber_loss."""
    assert_matches_torch(
        _regression.TORCH[f"huber-d{delta}-none"],
        lambda prediction, target: delta * L.smooth_l1(prediction, target, beta=delta, reduction="none"),
    )


def test_smooth_l1_docstring_matches_torch_smooth_l1_loss():
    """robust.py, smooth_l1: "Matches ``torch.nn.functional.smooth_l1_loss``"."""
    _matches_family(_regression, "smooth_l1-")


@pytest.mark.parametrize("case", sorted(c for c in SKLEARN_REGRESSION if c.startswith("pinball")))
def test_quantile_docstring_mean_equals_sklearn_mean_pinball_loss(case):
    """robust.py, quantile: "``'mean'`` equals ``sklearn.metrics.mean_pinball_loss(target, prediction,
    alpha=tau)`` (for 2-D inputs, its default average over outputs is the same mean over every element)"."""
    ref = SKLEARN_REGRESSION[case]
    got = L.quantile(ref["prediction"], ref["target"], tau=float(ref["tau"]))
    assert float(got) == pytest.approx(float(ref["value"]), rel=1e-12, abs=1e-15)


def test_log_cosh_docstring_mean_equals_keras_log_cosh_averaged_over_the_batch():
    """robust.py, log_cosh: "``'mean'`` equals Keras ``log_cosh(y_true, y_pred)`` averaged over the batch
    (Keras takes the mean over the last axis, then over samples: the same mean)" (errors from 1e-4 to
    30; Keras's own form loses the relative precision of the smallest values, hence the atol)."""
    ref = KERAS["log_cosh"]
    _assert_keras(L.log_cosh(ref["y_pred"], ref["y_true"], reduction="none").mean(axis=-1), "log_cosh")
    for value, rtol, atol in _keras_values("log_cosh"):
        assert float(L.log_cosh(ref["y_pred"], ref["y_true"])) == pytest.approx(value.mean(), rel=rtol, abs=atol)


def test_poisson_nll_docstring_matches_torch_poisson_nll_loss():
    """likelihood.py, poisson_nll: "Matches ``torch.nn.functional.poisson_nll_loss`` in value and in both
    gradients"."""
    _matches_family(_regression, "poisson_nll-")


def test_gaussian_nll_docstring_matches_torch_gaussian_nll_loss():
    """likelihood.py, gaussian_nll: "Matches ``torch.nn.functional.gaussian_nll_loss`` in value and in all
    three gradients"."""
    _matches_family(_regression, "gaussian_nll-")


@pytest.mark.parametrize("case", sorted(c for c in SKLEARN_REGRESSION if c.startswith("tweedie")))
def test_tweedie_docstring_sklearn_unit_deviance_is_twice_the_loss_minus_its_minimum(case):
    """likelihood.py, tweedie: "The unit deviance of scikit-learn is the loss minus its value at that
    minimum, doubled: d(y, mu) = 2 (l(yhat) - l(log y)) for y > 0, and 2 l(yhat) for y = 0, with
    l(log y) = y^(2-p) / ((p-1)(2-p))"."""
    ref = SKLEARN_REGRESSION[case]
    y, yhat, p = ref["target"], ref["prediction"], float(ref["power"])
    loss = L.tweedie(yhat, y, power=p, reduction="none")
    minimum = np.where(y > 0, y ** (2 - p) / ((p - 1) * (2 - p)), 0.0)
    assert float(np.mean(2 * (loss - minimum))) == pytest.approx(float(ref["value"]), rel=1e-12)


# ==================================================================================== rl, ctc


def test_td_docstring_equals_half_mse_loss_and_huber_loss():
    """rl.py, td: "Equals ``0.5 * F.mse_loss(q_sa, target)`` and, with ``huber=True``,
    ``F.huber_loss(q_sa, target, delta=delta)``" (and ``smooth_l1_loss`` for delta = 1)."""
    _matches_family(_rl, "td-")


def test_policy_gradient_docstring_standardises_as_pytorch_reinforce_example():
    """rl.py, policy_gradient: the returns, baseline and standardisation "plus the float32 epsilon, as
    PyTorch's ``examples/reinforcement_learning/reinforce.py``" (its recipe, every setting)."""
    _matches_family(_rl, "pg-")


def test_ctc_docstring_through_a_log_softmax_gradients_match_torch_ctc_loss():
    """ctc.py: "Through a ``log_softmax`` the two agree exactly ..., so gradients with respect to the
    logits match PyTorch's" (every case through the log-softmax; the leaf cases are the family's)."""
    _matches_family(_ctc, "ctc-", exclude=("ctc-leaf",))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_docstring_with_no_frames_and_no_labels_the_loss_is_0_as_pytorch(reduction):
    """ctc.py: "With T_n = 0 and L_n = 0 the loss is 0, as PyTorch" (beside an ordinary sample; the
    'mean' divides by max(L_n, 1))."""
    case = CLAIMS[f"ctc-zero-length-{reduction}"]
    assert_matches_torch(
        case,
        lambda logits, targets, input_lengths, target_lengths: L.ctc(
            ag.log_softmax(logits, axis=2), targets, input_lengths, target_lengths, reduction=reduction
        ),
    )
    if reduction == "none":
        assert case["value"][1] == 0.0
