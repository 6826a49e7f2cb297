"""Distribution and generative losses: PyTorch reference values, SciPy's Wasserstein distance,
the WGAN-GP penalty against finite differences in the critic's weights, closed forms,
properties, non-default parameters through the audit, and bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

import nploss.autograd as ag
import nploss.losses as L
from nploss import nn
from nploss.audit import audit_loss
from nploss.autograd import Tensor, grad
from nploss.gradcheck import check_grad
from nploss.losses import REGISTRY, Arg

from .torch_reference import assert_matches_torch, load

TORCH = load("distribution")
REDUCTIONS = ("mean", "sum", "none")


class Tanh(nn.Module):
    def forward(self, x):
        return ag.tanh(x)


def _call(fn, **fixed):
    return lambda **inputs: fn(**inputs, **fixed)


def _critic_penalty(lam):
    def fn(W1, b1, W2, b2, real, fake, epsilon):
        critic = lambda x: ag.matmul(ag.tanh(ag.matmul(x, ag.transpose(W1)) + b1), ag.transpose(W2)) + b2  # noqa: E731
        return L.gradient_penalty(critic, real, fake, lambda_=lam, epsilon=epsilon)

    return fn


def _conv_net(w1, b1, w2, b2):
    """The fixture's feature network: conv, tanh, conv (stride 2), ReLU."""
    w1, b1, w2, b2 = (ag.as_data(t) for t in (w1, b1, w2, b2))
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), Tanh(), nn.Conv2d(2, 3, 3, stride=2), nn.ReLU())
    net.load_state_dict({"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2})
    return net


def _perceptual(layers, reduction):
    return lambda x, y, w1, b1, w2, b2: L.perceptual(x, y, _conv_net(w1, b1, w2, b2), layers=list(layers), reduction=reduction)


NPLOSS = {
    **{f"wgan_critic-{r}": _call(L.wgan_critic, reduction=r) for r in REDUCTIONS},
    **{f"wgan_generator-{r}": _call(L.wgan_generator, reduction=r) for r in REDUCTIONS},
    **{f"gan_discriminator{t}-{r}": _call(L.gan_discriminator, reduction=r) for t in ("", "-extreme") for r in REDUCTIONS},
    **{f"gan_generator{t}-{r}": _call(L.gan_generator, reduction=r) for t in ("", "-extreme") for r in REDUCTIONS},
    **{
        f"gan_generator-minimax{t}-{r}": _call(L.gan_generator, non_saturating=False, reduction=r)
        for t in ("", "-extreme")
        for r in REDUCTIONS
    },
    **{
        f"lsgan_discriminator-a{a}-b{b}-{r}": _call(L.lsgan_discriminator, real_label=b, fake_label=a, reduction=r)
        for a, b in ((0.0, 1.0), (-1.0, 1.0))
        for r in REDUCTIONS
    },
    **{f"lsgan_generator-c{c}-{r}": _call(L.lsgan_generator, real_label=c, reduction=r) for c in (1.0, 0.0) for r in REDUCTIONS},
    **{f"gaussian_kl{t}-{r}": _call(L.gaussian_kl, reduction=r) for t in ("", "-edge") for r in ("none", "mean", "sum", "batchmean")},
    **{
        f"vae_elbo-{d}-beta{b}-{r}": _call(L.vae_elbo, beta=b, decoder=d, reduction=r)
        for d in ("bernoulli", "gaussian")
        for b in (1.0, 4.0)
        for r in (REDUCTIONS if b == 1.0 else ("mean",))
    },
    "vae_elbo-bernoulli-images": _call(L.vae_elbo, beta=0.5),
    **{f"reconstruction-{k}-{r}": _call(L.reconstruction, kind=k, reduction=r) for k in ("mse", "bce") for r in REDUCTIONS},
    **{
        f"gradient_penalty-lambda{lam}-{r}": _call(L.gradient_norm_penalty, lambda_=lam, reduction=r)
        for lam in (10.0, 1.0)
        for r in REDUCTIONS
    },
    **{f"wgan_gp-critic-lambda{lam}": _critic_penalty(lam) for lam in (10.0, 2.5)},
    **{
        f"perceptual-layers{'-'.join(map(str, layers))}-{r}": _perceptual(layers, r)
        for layers in ((1, 3), (3,), (1,))
        for r in (REDUCTIONS if layers == (1, 3) else ("mean",))
    },
}


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def _audit(name, **changes):
    row = audit_loss(dataclasses.replace(REGISTRY[name], **changes), seed=0)
    assert row.passed, row.failure()


# ------------------------------------------------------------------------------------ non-default parameters


def test_audit_of_the_minimax_generator_and_other_lsgan_labels():
    _audit("gan_generator", params={"non_saturating": False}, nonnegative=False)
    _audit("lsgan_discriminator", params={"real_label": 1.0, "fake_label": -1.0})
    _audit("lsgan_generator", params={"real_label": 0.0})


def test_audit_of_the_gaussian_decoder_and_beta():
    _audit("vae_elbo", params={"beta": 2.5, "decoder": "gaussian"})
    _audit("vae_elbo", params={"beta": 0.0, "decoder": "bernoulli"})


def test_audit_of_bce_reconstruction():
    def sampler(rng, sizes):
        return [2.0 * rng.standard_normal((4, 3)), rng.uniform(0.0, 1.0, (4, 3))]

    _audit("reconstruction", params={"kind": "bce"}, sampler=sampler, edge_cases={}, stability_exceptions={"large scale": "input out of [0, 1]"})


def test_audit_of_the_gradient_penalty_of_image_gradients():
    _audit("gradient_penalty", args=(Arg("gradients", "real", ("N", "S", "D")),), params={"lambda_": 1.0, "eps": 1e-12})


def test_audit_of_wasserstein_on_one_pair_of_samples():
    def sampler(rng, sizes):
        return [rng.standard_normal(7), rng.standard_normal(4), np.ones(7), rng.uniform(0.1, 1.0, 4)]

    _audit("wasserstein_1d", sampler=sampler, edge_cases={})


def test_audit_of_perceptual_with_a_linear_network():
    rng = np.random.default_rng(1)
    mlp = nn.Sequential(nn.Linear(3, 4, rng=rng), Tanh(), nn.Linear(4, 2, rng=rng), nn.BatchNorm1d(2))
    mlp.train()  # the loss runs it in eval mode (BatchNorm on its running statistics)
    args = (Arg("x", "real", ("N", "D")), Arg("y", "real", ("N", "D")))
    _audit("perceptual", args=args, params={"network": mlp, "layers": (1, 3)}, edge_cases={})
    assert mlp.training and mlp[3].training


# ------------------------------------------------------------------------------------ Wasserstein


@pytest.mark.parametrize("seed", range(4))
def test_wasserstein_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 9, 2)
    u, v = rng.standard_normal(n), 2 * rng.standard_normal(m) + 0.3
    uw, vw = rng.uniform(0, 2, n), rng.uniform(0, 2, m)
    assert float(L.wasserstein_1d(u, v)) == pytest.approx(scipy.stats.wasserstein_distance(u, v), rel=1e-12, abs=1e-15)
    assert float(L.wasserstein_1d(u, v, uw, vw)) == pytest.approx(
        scipy.stats.wasserstein_distance(u, v, uw, vw), rel=1e-12, abs=1e-15
    )


def test_wasserstein_rows_are_independent_distances():
    rng = np.random.default_rng(7)
    u, v, vw = rng.standard_normal((3, 5)), rng.standard_normal((3, 2)), rng.uniform(0.2, 1, (3, 2))
    rows = L.wasserstein_1d(u, v, v_weights=vw, reduction="none")
    expected = [scipy.stats.wasserstein_distance(u[i], v[i], None, vw[i]) for i in range(3)]
    np.testing.assert_allclose(rows, expected, rtol=1e-12)
    assert float(L.wasserstein_1d(u, v, v_weights=vw)) == pytest.approx(np.mean(expected), rel=1e-12)
    assert float(L.wasserstein_1d(u, v, v_weights=vw, reduction="sum")) == pytest.approx(np.sum(expected), rel=1e-12)


def test_wasserstein_gradient_of_equal_sizes_is_the_sign_of_the_matched_gap():
    # equal sizes and weights: W = mean |u_(i) - v_(i)|, so dW/du_j = sign(u_j - v matched to j) / n
    u, v = np.array([0.3, -1.0, 2.0, 0.9]), np.array([1.5, 0.0, -0.2, 0.4])
    ut, vt = Tensor(u, requires_grad=True), Tensor(v, requires_grad=True)
    w = L.wasserstein_1d(ut, vt)
    assert float(w.numpy()) == pytest.approx(np.mean(np.abs(np.sort(u) - np.sort(v))), rel=1e-14)
    gu, gv = grad(w, [ut, vt])
    rank_u, rank_v = np.argsort(np.argsort(u)), np.argsort(np.argsort(v))
    np.testing.assert_allclose(gu.numpy(), np.sign(u - np.sort(v)[rank_u]) / 4, rtol=1e-14)
    np.testing.assert_allclose(gv.numpy(), np.sign(v - np.sort(u)[rank_v]) / 4, rtol=1e-14)


def test_wasserstein_gradient_with_weights_and_sizes_against_finite_differences():
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal(6), rng.standard_normal(3)
    uw, vw = rng.uniform(0.2, 2, 6), rng.uniform(0.2, 2, 3)
    result = check_grad(lambda a, b: L.wasserstein_1d(a, b, uw, vw), [u, v], atol=1e-8, rtol=1e-6)
    assert result.passed, str(result)
    with L.composite():
        result = check_grad(lambda a, b: L.wasserstein_1d(a, b, uw, vw), [u, v], atol=1e-8, rtol=1e-6)
    assert result.passed, str(result)


@given(
    u=st.lists(st.floats(-100, 100), min_size=1, max_size=8),
    v=st.lists(st.floats(-100, 100), min_size=1, max_size=8),
    shift=st.floats(-50, 50),
    scale=st.floats(-4, 4),
)
def test_wasserstein_is_a_metric_with_the_scaling_of_a_distance(u, v, shift, scale):
    u, v = np.array(u), np.array(v)
    w = float(L.wasserstein_1d(u, v))
    assert w >= 0
    assert w == pytest.approx(scipy.stats.wasserstein_distance(u, v), rel=1e-9, abs=1e-9)
    assert float(L.wasserstein_1d(v, u)) == pytest.approx(w, rel=1e-9, abs=1e-9)
    assert float(L.wasserstein_1d(u + shift, v + shift)) == pytest.approx(w, rel=1e-9, abs=1e-7)
    assert float(L.wasserstein_1d(scale * u, scale * v)) == pytest.approx(abs(scale) * w, rel=1e-9, abs=1e-7)
    assert float(L.wasserstein_1d(u[::-1], v)) == pytest.approx(w, rel=1e-12, abs=1e-12)
    assert float(L.wasserstein_1d(u, u)) == 0.0


def test_wasserstein_gradient_sums_to_zero():
    # translation invariance: moving every sample of both sets by c changes nothing
    rng = np.random.default_rng(5)
    ut, vt = Tensor(rng.standard_normal(5), requires_grad=True), Tensor(rng.standard_normal(8), requires_grad=True)
    gu, gv = grad(L.wasserstein_1d(ut, vt, v_weights=rng.uniform(0.5, 1, 8)), [ut, vt])
    assert gu.numpy().sum() + gv.numpy().sum() == pytest.approx(0.0, abs=1e-14)
    assert np.all(np.abs(gu.numpy()) <= 1 / 5 + 1e-15)  # |F_u - F_v| <= 1 on each side of a sample of mass 1/5


def test_wasserstein_of_single_samples_and_ties():
    assert float(L.wasserstein_1d(np.array([2.0]), np.array([-1.0]))) == 3.0
    ut = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    value = L.wasserstein_1d(ut, np.array([1.0, 1.0]))
    (g,) = grad(value, [ut])
    assert float(value.numpy()) == 0.0 and np.all(np.isfinite(g.numpy()))


# ------------------------------------------------------------------------------------ gradient penalty


def _mlp_critic(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 5, rng=rng), Tanh(), nn.Linear(5, 1, rng=rng))


def test_gradient_penalty_gradient_in_the_critic_weights_matches_finite_differences():
    critic = _mlp_critic()
    rng = np.random.default_rng(1)
    real, fake, eps = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.uniform(0, 1, 6)
    names = [n for n, _ in critic.named_parameters()]

    def penalty(*weights):
        return L.gradient_penalty(lambda x: nn.functional_call(critic, dict(zip(names, weights)), x), real, fake, epsilon=eps)

    weights = [p.numpy().copy() for p in critic.parameters()]
    result = check_grad(penalty, weights, names=names, atol=1e-8, rtol=1e-6)
    assert result.passed, str(result)
    assert result.inputs[-1].max_abs_error == 0.0  # the last bias shifts D, not its input gradient

    # the same through backward() on the module's own parameters, fused and composite
    numerical = _central(penalty, weights)
    for mode in ("fused", "composite"):
        critic.zero_grad()
        with L.composite() if mode == "composite" else contextlib.nullcontext():
            value = L.gradient_penalty(critic, real, fake, epsilon=eps)
        value.backward()
        analytic = [np.zeros(p.shape) if p.grad is None else p.grad.numpy() for p in critic.parameters()]
        for a, n, name in zip(analytic, numerical, names):
            np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8, err_msg=f"{mode}: {name}")


def _central(f, arrays, h=1e-6):
    grads = []
    for i, x in enumerate(arrays):
        g = np.zeros_like(x)
        for j in range(x.size):
            plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
            plus[i].flat[j] += h
            minus[i].flat[j] -= h
            g.flat[j] = (float(f(*plus).numpy()) - float(f(*minus).numpy())) / (2 * h)
        grads.append(g)
    return grads


def test_gradient_penalty_of_a_linear_critic_in_closed_form():
    # D(x) = x . w + b has the input gradient w everywhere: lambda (||w|| - 1)^2, whatever x_hat
    w = Tensor(np.array([1.0, -2.0, 2.0]), requires_grad=True)
    rng = np.random.default_rng(2)
    value = L.gradient_penalty(lambda x: ag.matmul(x, w) + 0.5, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), lambda_=3.0, rng=rng)
    assert float(value.numpy()) == pytest.approx(3.0 * (3.0 - 1.0) ** 2, rel=1e-12)
    value.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * 3.0 * (3.0 - 1.0) * w.numpy() / 3.0, rtol=1e-12)


def test_gradient_penalty_training_drives_the_gradient_norm_to_one():
    from nploss.optim import SGD

    w = nn.Parameter(np.array([3.0, 4.0]))
    opt = SGD([w], lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        L.gradient_penalty(lambda x: ag.matmul(x, w), np.zeros((2, 2)), np.ones((2, 2)), epsilon=np.array([0.2, 0.7])).backward()
        opt.step()
    assert np.linalg.norm(w.numpy()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(w.numpy() / np.linalg.norm(w.numpy()), [0.6, 0.8], rtol=1e-12)  # only the norm moves


def test_gradient_penalty_interpolates_with_the_given_epsilon():
    seen = []

    def critic(x):
        seen.append(x.numpy().copy())
        return ag.sum(x * x, axis=1)

    real, fake = np.array([[1.0, 1.0], [2.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])
    value = L.gradient_penalty(critic, real, fake, epsilon=np.array([0.25, 1.0]), reduction="none")
    np.testing.assert_allclose(seen[0], [[0.25, 0.25], [2.0, 0.0]])
    norms = np.linalg.norm(2 * seen[0], axis=1)  # grad of ||x||^2 is 2x
    np.testing.assert_allclose(value.numpy(), 10.0 * (norms - 1) ** 2, rtol=1e-10)
    a = L.gradient_penalty(critic, real, fake, rng=np.random.default_rng(4))
    b = L.gradient_penalty(critic, real, fake, rng=np.random.default_rng(4))
    assert float(a.numpy()) == float(b.numpy())


def test_gradient_norm_penalty_at_zero_gradient_is_finite():
    v = Tensor(np.zeros((2, 3)), requires_grad=True)
    value = L.gradient_norm_penalty(v, reduction="sum")
    (g,) = grad(value, [v])
    assert float(value.numpy()) == pytest.approx(20.0, rel=1e-5)
    np.testing.assert_array_equal(g.numpy(), 0.0)
    (g2,) = grad(L.gradient_norm_penalty(v, eps=1e-6), [v], create_graph=True)
    assert np.all(np.isfinite(g2.numpy()))


# ------------------------------------------------------------------------------------ GAN, LSGAN, WGAN


@given(r=st.floats(-30, 30), f=st.floats(-30, 30))
def test_gan_losses_are_the_negative_log_likelihoods_of_the_probabilities(r, f):
    # -log sigma(z) = log(1 + e^{-z}) and -log(1 - sigma(z)) = log(1 + e^{z}), exact for |z| <= 30
    d = float(L.gan_discriminator(np.array([r]), np.array([f])))
    assert d == pytest.approx(math.log1p(math.exp(-r)) + math.log1p(math.exp(f)), rel=1e-12, abs=1e-15)
    assert float(L.gan_generator(np.array([f]))) == pytest.approx(math.log1p(math.exp(-f)), rel=1e-12, abs=1e-15)
    assert float(L.gan_generator(np.array([f]), non_saturating=False)) == pytest.approx(-math.log1p(math.exp(f)), rel=1e-12, abs=1e-15)
    if abs(f) < 5:  # and, where the probabilities are well away from 0 and 1, their logs
        s = 1 / (1 + math.exp(-f))
        assert float(L.gan_generator(np.array([f]), non_saturating=False)) == pytest.approx(math.log(1 - s), rel=1e-12)


def test_the_minimax_generator_saturates_and_the_non_saturating_one_does_not():
    z = Tensor(np.array([-20.0]), requires_grad=True)  # a discriminator that rejects the sample
    (ns,) = grad(L.gan_generator(z), [z])
    (mm,) = grad(L.gan_generator(z, non_saturating=False), [z])
    assert float(ns.numpy()[0]) == pytest.approx(-1.0, abs=1e-8)
    assert abs(float(mm.numpy()[0])) < 1e-8


def test_gan_discriminator_at_the_equilibrium_and_when_confident():
    assert float(L.gan_discriminator(np.zeros(3), np.zeros(3))) == pytest.approx(math.log(4), rel=1e-15)
    assert float(L.gan_discriminator(np.array([1e4]), np.array([-1e4]))) == 0.0


def test_lsgan_and_wgan_closed_forms():
    r, f = np.array([0.5, 2.0, -1.0]), np.array([0.0, 1.0, 3.0])
    assert float(L.lsgan_discriminator(r, f)) == pytest.approx(np.mean(0.5 * (r - 1) ** 2 + 0.5 * f**2), rel=1e-15)
    assert float(L.lsgan_generator(f)) == pytest.approx(np.mean(0.5 * (f - 1) ** 2), rel=1e-15)
    assert float(L.lsgan_discriminator(np.ones(2), np.zeros(2))) == 0.0
    assert float(L.wgan_critic(r, f)) == pytest.approx(f.mean() - r.mean(), rel=1e-15)
    assert float(L.wgan_generator(f, reduction="sum")) == -4.0


# ------------------------------------------------------------------------------------ VAE and KL


def test_gaussian_kl_against_numerical_integration():
    for mu, logvar in ((0.7, -0.4), (-1.5, 1.2)):
        sd = math.exp(0.5 * logvar)
        q, p = scipy.stats.norm(mu, sd), scipy.stats.norm(0.0, 1.0)
        integral, _ = scipy.integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), mu - 12 * sd, mu + 12 * sd)
        assert float(L.gaussian_kl(np.array([mu]), np.array([logvar]))) == pytest.approx(integral, rel=1e-8)


def test_gaussian_kl_keeps_its_precision_near_the_prior():
    # 1/2 (e^l - 1 - l) = l^2/4 + l^3/12 + ...; computed as exp(l) - 1 - l it would be rounding noise
    for lv in (1e-4, -3e-6, 1e-8):
        expected = lv**2 / 4 + lv**3 / 12 + lv**4 / 48
        assert float(L.gaussian_kl(np.array([0.0]), np.array([lv]))) == pytest.approx(expected, rel=1e-10)


def test_gaussian_kl_reductions():
    rng = np.random.default_rng(0)
    mu, lv = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    none = L.gaussian_kl(mu, lv, reduction="none")
    assert none.shape == (4, 3) and np.all(none >= 0)
    assert float(L.gaussian_kl(mu, lv, reduction="batchmean")) == pytest.approx(none.sum() / 4, rel=1e-14)
    assert float(L.gaussian_kl(mu, lv)) == pytest.approx(none.mean(), rel=1e-14)
    assert float(L.gaussian_kl(np.zeros((2, 2)), np.zeros((2, 2)), reduction="sum")) == 0.0


def test_vae_elbo_is_reconstruction_plus_beta_kl():
    rng = np.random.default_rng(1)
    s, x = 3 * rng.standard_normal((3, 2, 2)), rng.integers(0, 2, (3, 2, 2)).astype(float)
    mu, lv = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    p = 1 / (1 + np.exp(-s))
    nll = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(1)
    kl = L.gaussian_kl(mu, lv, reduction="none").sum(1)
    np.testing.assert_allclose(L.vae_elbo(s, x, mu, lv, beta=0.3, reduction="none"), nll + 0.3 * kl, rtol=1e-12)
    np.testing.assert_allclose(
        L.vae_elbo(s, x, mu, lv, decoder="gaussian", reduction="none"), 0.5 * ((s - x) ** 2).reshape(3, -1).sum(1) + kl, rtol=1e-12
    )
    assert float(L.vae_elbo(s, x, mu, lv)) == pytest.approx(float(np.mean(nll + kl)), rel=1e-12)
    assert float(L.vae_elbo(s, x, mu, lv, beta=0.0, reduction="sum")) == pytest.approx(nll.sum(), rel=1e-12)


def test_vae_elbo_is_zero_at_a_perfect_gaussian_reconstruction_and_prior_posterior():
    x = np.random.default_rng(2).standard_normal((2, 5))
    assert float(L.vae_elbo(x, x, np.zeros((2, 3)), np.zeros((2, 3)), decoder="gaussian")) == 0.0


def test_vae_elbo_is_finite_for_confident_decoders():
    s = Tensor(np.array([[1e4, -1e4, 1e4]]), requires_grad=True)
    value = L.vae_elbo(s, np.array([[1.0, 0.0, 0.0]]), np.zeros((1, 1)), np.zeros((1, 1)))
    (g,) = grad(value, [s])
    assert float(value.numpy()) == pytest.approx(1e4, rel=1e-12)
    np.testing.assert_allclose(g.numpy(), [[0.0, 0.0, 1.0]])


# ------------------------------------------------------------------------------------ reconstruction


def test_reconstruction_mse_is_the_regression_mse_and_bce_is_per_element():
    rng = np.random.default_rng(3)
    out, inp = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    assert float(L.reconstruction(out, inp)) == pytest.approx(float(np.mean((out - inp) ** 2)), rel=1e-14)
    per_sample = L.vae_elbo(out, inp, np.zeros((4, 1)), np.zeros((4, 1)), reduction="none")
    assert float(L.reconstruction(out, inp, kind="bce", reduction="sum")) == pytest.approx(per_sample.sum(), rel=1e-12)
    assert float(L.reconstruction(out, inp, kind="bce")) == pytest.approx(per_sample.sum() / 12, rel=1e-12)


def test_reconstruction_bce_at_exact_targets_and_extreme_logits():
    o = Tensor(np.array([1e4, -1e4, 1e4, -1e4]), requires_grad=True)
    value = L.reconstruction(o, np.array([1.0, 0.0, 0.0, 1.0]), kind="bce", reduction="none")
    (g,) = grad(value, [o], grad_outputs=np.ones(4))
    np.testing.assert_array_equal(value.numpy(), [0.0, 0.0, 1e4, 1e4])
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 1.0, -1.0])


# ------------------------------------------------------------------------------------ perceptual


def _net(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=rng), Tanh(), nn.Conv2d(2, 2, 3, rng=rng), nn.BatchNorm2d(2), Tanh())


def test_perceptual_is_symmetric_zero_at_equality_and_sums_layers():
    rng = np.random.default_rng(0)
    net = _net()
    x, y = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((2, 1, 5, 5))
    both = L.perceptual(x, y, net, layers=[1, -1], reduction="none")
    np.testing.assert_allclose(L.perceptual(y, x, net, layers=[1, 4], reduction="none"), both, rtol=1e-14)
    np.testing.assert_allclose(
        both, L.perceptual(x, y, net, layers=1, reduction="none") + L.perceptual(x, y, net, reduction="none"), rtol=1e-14
    )
    np.testing.assert_allclose(L.perceptual(x, y, net, layers=[4], reduction="none"), L.perceptual(x, y, net, reduction="none"))
    assert float(L.perceptual(x, x, net, layers=[0, 2])) == 0.0


def test_perceptual_keeps_the_network_fixed():
    rng = np.random.default_rng(1)
    net = _net()
    net.train()
    state = net.state_dict()
    x, y = Tensor(rng.standard_normal((2, 1, 5, 5)), requires_grad=True), rng.standard_normal((2, 1, 5, 5))
    for mode in ("fused", "composite"):
        with L.composite() if mode == "composite" else contextlib.nullcontext():
            L.perceptual(x, y, net, layers=[1, 4]).backward()
        assert x.grad is not None
        assert all(p.grad is None for p in net.parameters()), mode
        assert all(m.training for m in net.modules()), mode
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(v, state[k], err_msg=k)  # BatchNorm statistics included


def test_perceptual_gradients_against_finite_differences():
    rng = np.random.default_rng(2)
    net = _net()
    net[3].running_mean.data[...] = [0.1, -0.2]  # non-trivial eval-mode statistics
    x, y = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((2, 1, 5, 5))
    for mode in ("fused", "composite"):
        with L.composite() if mode == "composite" else contextlib.nullcontext():
            result = check_grad(lambda a, b: L.perceptual(a, b, net, layers=[1, 4], reduction="none"), [x, y], atol=1e-8, rtol=1e-6)
        assert result.passed, f"{mode}: {result}"


def test_perceptual_runs_in_the_dtype_of_its_input():
    x = np.random.default_rng(3).standard_normal((1, 1, 5, 5))
    v32 = L.perceptual(x.astype(np.float32), np.zeros((1, 1, 5, 5), np.float32), _net(), layers=[1, 4])
    assert v32.dtype == np.float32
    assert float(v32) == pytest.approx(float(L.perceptual(x, np.zeros((1, 1, 5, 5)), _net(), layers=[1, 4])), rel=1e-5)


# ------------------------------------------------------------------------------------ bad input


def test_bad_input():
    z3, z4 = np.zeros(3), np.zeros(4)
    with pytest.raises(ValueError, match=r"fake_scores must have the shape of real_scores \(4,\), got \(3,\)"):
        L.wgan_critic(z4, z3)
    with pytest.raises(ValueError, match=r"fake_logits must have the shape of real_logits \(4, 1\), got \(4,\)"):
        L.gan_discriminator(np.zeros((4, 1)), z4)
    with pytest.raises(ValueError, match="fake_scores must have the shape"):
        L.lsgan_discriminator(z4, z3)
    with pytest.raises(TypeError, match="non_saturating must be True or False"):
        L.gan_generator(z3, non_saturating="yes")
    with pytest.raises(ValueError, match="real_label must be a finite number"):
        L.lsgan_generator(z3, real_label=float("nan"))
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.gaussian_kl(z3, z3, reduction="batch")


def test_bad_input_vae_and_kl():
    s, x, mu, lv = np.zeros((2, 3)), np.full((2, 3), 0.5), np.zeros((2, 2)), np.zeros((2, 2))
    bad = lv.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="logvar contains NaN"):
        L.vae_elbo(s, x, mu, bad)
    with pytest.raises(ValueError, match="logvar contains NaN"):
        L.gaussian_kl(mu, bad)
    with pytest.raises(ValueError, match="decoder must be one of 'bernoulli', 'gaussian', got 'poisson'"):
        L.vae_elbo(s, x, mu, lv, decoder="poisson")
    with pytest.raises(ValueError, match="beta must be non-negative, got -1"):
        L.vae_elbo(s, x, mu, lv, beta=-1.0)
    outside = x.copy()
    outside[1, 2] = -1.0
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\] for a Bernoulli decoder, got values from -1 to 0.5"):
        L.vae_elbo(s, outside, mu, lv)
    L.vae_elbo(s, x - 3.0, mu, lv, decoder="gaussian")  # real-valued data is fine for a Gaussian decoder
    with pytest.raises(ValueError, match=r"mu must have shape \(N, latent\) with N = 2"):
        L.vae_elbo(s, x, np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"logvar must have the shape of mu \(2, 2\), got \(2, 3\)"):
        L.gaussian_kl(mu, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"x must have the shape of reconstruction \(2, 3\), got \(2, 1, 3\)"):
        L.vae_elbo(s, x[:, None], mu, lv)


def test_bad_input_reconstruction_and_wasserstein():
    with pytest.raises(ValueError, match="kind must be one of 'mse', 'bce', got 'l1'"):
        L.reconstruction(np.zeros(2), np.zeros(2), kind="l1")
    with pytest.raises(ValueError, match=r"input must be in \[0, 1\] for kind='bce'"):
        L.reconstruction(np.zeros(2), np.array([0.5, 2.0]), kind="bce")
    with pytest.raises(ValueError, match="input must have the shape of output"):
        L.reconstruction(np.zeros((2, 1)), np.zeros(2))
    with pytest.raises(ValueError, match=r"v_values must have the batch shape of u_values \(2,\)"):
        L.wasserstein_1d(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least one sample each"):
        L.wasserstein_1d(np.zeros(3), np.zeros(0))
    with pytest.raises(ValueError, match="u_weights must be non-negative"):
        L.wasserstein_1d(np.zeros(2), np.zeros(2), u_weights=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="v_weights must have a positive sum"):
        L.wasserstein_1d(np.zeros(2), np.zeros(2), v_weights=np.zeros(2))
    with pytest.raises(ValueError, match=r"u_weights must have the shape of u_values \(3,\), got \(2,\)"):
        L.wasserstein_1d(np.zeros(3), np.zeros(2), u_weights=np.ones(2))
    with pytest.raises(ValueError, match="u_values contains NaN"):
        L.wasserstein_1d(np.array([np.nan]), np.zeros(2))


def test_bad_input_gradient_penalty():
    critic = _mlp_critic()
    real = np.zeros((4, 3))
    with pytest.raises(ValueError, match="lambda_ must be non-negative, got -10"):
        L.gradient_penalty(critic, real, real, lambda_=-10.0)
    with pytest.raises(ValueError, match="lambda_ must be non-negative"):
        L.gradient_norm_penalty(np.ones((2, 2)), lambda_=-1.0)
    with pytest.raises(ValueError, match="eps must be positive, got 0"):
        L.gradient_norm_penalty(np.ones((2, 2)), eps=0.0)
    with pytest.raises(ValueError, match=r"fake must have the shape of real \(4, 3\), got \(3, 3\)"):
        L.gradient_penalty(critic, real, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"epsilon must have shape \(N,\) = \(4,\)"):
        L.gradient_penalty(critic, real, real, epsilon=np.full(3, 0.5))
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        L.gradient_penalty(critic, real, real, epsilon=np.array([0.5, 0.5, 0.5, 1.5]))
    with pytest.raises(TypeError, match="critic must be callable"):
        L.gradient_penalty("critic", real, real)
    with pytest.raises(TypeError, match="critic must return a Tensor computed from its input"):
        L.gradient_penalty(lambda x: Tensor(np.zeros(4)), real, real)


def test_bad_input_perceptual():
    net = _net()
    x = np.zeros((1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"y must have the shape of x \(1, 1, 5, 5\), got \(1, 1, 4, 4\)"):
        L.perceptual(x, np.zeros((1, 1, 4, 4)), net)
    with pytest.raises(ValueError, match=r"layers must be indices in \[-5, 5\) for a network of 5 layers, got 5"):
        L.perceptual(x, x, net, layers=[1, 5])
    with pytest.raises(TypeError, match="needs network to be an nploss.nn.Sequential"):
        L.perceptual(x, x, Tanh(), layers=[0])
    with pytest.raises(TypeError, match="network must be an nploss.nn.Module, got function"):
        L.perceptual(x, x, lambda v: v)
    with pytest.raises(ValueError, match="layers must name at least one layer"):
        L.perceptual(x, x, net, layers=[])


def test_arrays_in_arrays_out_tensors_in_tensor_out():
    assert isinstance(L.gan_generator(np.zeros(2)), np.ndarray)
    assert isinstance(L.wasserstein_1d(np.zeros(2), np.ones(3)), np.ndarray)
    assert isinstance(L.gan_generator(Tensor(np.zeros(2))), Tensor)
    assert isinstance(L.vae_elbo(Tensor(np.zeros((1, 2))), np.zeros((1, 2)), np.zeros((1, 1)), np.zeros((1, 1))), Tensor)
