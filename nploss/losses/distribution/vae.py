r"""Variational autoencoders and autoencoders: the closed-form KL of a Gaussian posterior from the
standard normal, the negative ELBO, and the reconstruction loss.

Conventions (see also :mod:`nploss.losses.distribution`):

- **Per-sample losses** (``vae_elbo``) sum over the features of a sample and leave the batch
  axis to ``reduction``; :func:`gaussian_kl` and :func:`reconstruction` are elementwise.
- **Decoders output logits** for Bernoulli data (``vae_elbo``'s ``decoder='bernoulli'``,
  ``reconstruction``'s ``kind='bce'``), so that :math:`-\log p` is a softplus that stays finite
  for a confident decoder.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import _params
from .._apply import apply_loss
from .._reduction import mean_weight
from .._spec import Arg, LossSpec, OnInputs, elementwise, register
from .._validate import in_range, same_shape
from ._common import column, flat

__all__ = ["gaussian_kl", "vae_elbo", "reconstruction"]


# ------------------------------------------------------------------------------------ Gaussian KL


def _gaussian_kl_forward(xp: Any, mu: Any, logvar: Any) -> Any:
    # expm1(l) - l keeps its precision when sigma^2 is near 1 (exp(l) - 1 - l cancels to noise)
    return 0.5 * (mu * mu + (xp.expm1(logvar) - logvar))


def _gaussian_kl_vjp(xp: Any, g: Any, mu: Any, logvar: Any) -> tuple[Any, Any]:
    return g * mu, (0.5 * g) * (xp.exp(logvar) - 1.0)


def _gaussian_kl_composite(xp: Any, mu: Any, logvar: Any) -> Any:
    # The engine has no expm1: the same formula with exp(l) - 1.
    return 0.5 * (mu * mu + ((xp.exp(logvar) - 1.0) - logvar))


def _kl_weights(xp: Any, reduction: str, mu: Any, logvar: Any) -> float:
    if reduction == "batchmean":
        return mean_weight(mu.shape[0] if mu.ndim else 1)
    return mean_weight(mu.size)


def _check_gaussian(mu: Any, logvar: Any, **_: Any) -> None:
    same_shape("mu", mu, "logvar", logvar)


_KL_OVERFLOW = (
    "sigma^2 = exp(logvar) overflows for logvar above about 709 (88 in float32): the KL itself is "
    "that large, whatever the implementation"
)


def _gaussian_edges() -> dict[str, Any]:
    return {
        "posterior equal to the prior": lambda rng: [numpy.zeros((2, 3)), numpy.zeros((2, 3))],
        "logvar of +-30 and tiny": lambda rng: [numpy.array([[0.0, 1e4, -2.0]]), numpy.array([[30.0, -30.0, 1e-10]])],
    }


GAUSSIAN_KL = register(
    LossSpec(
        name="gaussian_kl",
        unreduced=elementwise,
        family="distribution",
        args=(Arg("mu", "real", ("N", "D")), Arg("logvar", "real", ("N", "D"))),
        forward=_gaussian_kl_forward,
        vjp=_gaussian_kl_vjp,
        composite=_gaussian_kl_composite,
        reductions=("mean", "sum", "none", "batchmean"),
        reduction_weights=_kl_weights,
        check=_check_gaussian,
        edge_cases=_gaussian_edges(),
        stability_exceptions={"large scale": _KL_OVERFLOW},
        formula=r"\mathrm{KL}(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, 1)) = \tfrac12 (\mu^2 + \sigma^2 - 1 - \log \sigma^2), \quad \partial / \partial \mu = \mu, \ \partial / \partial \log\sigma^2 = \tfrac12 (\sigma^2 - 1)",
        reference="Kingma & Welling 2014, Auto-Encoding Variational Bayes (appendix B); torch.distributions.kl_divergence",
        torch="distributions.kl_divergence",
    )
)


def gaussian_kl(mu: Any, logvar: Any, reduction: str = "mean") -> Any:
    r"""KL divergence of a diagonal Gaussian from the standard normal, in closed form.

    .. math::  \mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, 1)\big)
               = \tfrac12\,(\mu^2 + \sigma^2 - 1 - \log \sigma^2), \qquad
               \frac{\partial}{\partial \mu} = \mu, \quad
               \frac{\partial}{\partial \log \sigma^2} = \tfrac12 (\sigma^2 - 1)

    per latent dimension, with :math:`\sigma^2 = e^{\text{logvar}}`. The forward computes
    :math:`\sigma^2 - 1 - \log\sigma^2` as ``expm1(logvar) - logvar``, which stays accurate when
    the posterior is close to the prior (where the KL is tiny and the naive form is rounding
    noise). A ``logvar`` beyond about 709 overflows :math:`\sigma^2` (the KL itself is that
    large).

    Parameters
    ----------
    mu, logvar : array or Tensor, same shape (N, d) (or any shape)
        Mean and log-variance of the encoder's posterior :math:`q(z|x)`.
    reduction : {'mean', 'sum', 'none', 'batchmean'}
        ``'none'``: the KL per dimension; ``'mean'``: their mean; ``'batchmean'``: the sum over
        dimensions averaged over the batch (axis 0), the per-sample KL of a VAE.

    Matches ``torch.distributions.kl_divergence(Normal(mu, exp(logvar / 2)), Normal(0, 1))``,
    which is elementwise (``'none'``).

    Examples
    --------
    >>> import numpy as np
    >>> float(gaussian_kl(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), reduction="batchmean"))
    0.5
    """
    return apply_loss(GAUSSIAN_KL, mu, logvar, reduction=reduction)


# ------------------------------------------------------------------------------------ VAE


def _vae_elbo_forward(xp: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str) -> Any:
    return _vae_elbo(xp, reconstruction, x, mu, logvar, beta, decoder, _gaussian_kl_forward)


def _vae_elbo_vjp(
    xp: Any, g: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str
) -> tuple[Any, ...]:
    grad_r, grad_x = _reconstruction_grad(xp, reconstruction, x, decoder)
    g_data = column(xp, g, reconstruction.ndim)
    grad_mu, grad_logvar = _gaussian_kl_vjp(xp, beta * column(xp, g, mu.ndim), mu, logvar)
    return g_data * grad_r, g_data * grad_x, grad_mu, grad_logvar


def _vae_elbo_composite(
    xp: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str
) -> Any:
    # The engine has no expm1: the KL term of _gaussian_kl_composite.
    return _vae_elbo(xp, reconstruction, x, mu, logvar, beta, decoder, _gaussian_kl_composite)


def _vae_elbo(xp: Any, reconstruction: Any, x: Any, mu: Any, logvar: Any, beta: float, decoder: str, kl: Any) -> Any:
    recon = xp.sum(flat(xp, _reconstruction_terms(xp, reconstruction, x, decoder)), axis=1)
    return recon + beta * xp.sum(flat(xp, kl(xp, mu, logvar)), axis=1)


def _reconstruction_terms(xp: Any, reconstruction: Any, x: Any, decoder: str) -> Any:
    if decoder == "bernoulli":
        # -log p(x|z) with p = sigma(logit): BCE with logits, softplus(s) - x s, finite for any s
        return xp.softplus(reconstruction) - x * reconstruction
    e = reconstruction - x
    return 0.5 * (e * e)  # unit-variance Gaussian, without the constant (1/2) log(2 pi)


def _reconstruction_grad(xp: Any, reconstruction: Any, x: Any, decoder: str) -> tuple[Any, Any]:
    """d/d reconstruction and d/d x of the terms above."""
    if decoder == "bernoulli":
        return xp.sigmoid(reconstruction) - x, -reconstruction
    e = reconstruction - x
    return e, -e


DECODERS = ("bernoulli", "gaussian")


def _check_vae(reconstruction: Any, x: Any, mu: Any, logvar: Any, *, beta: float, decoder: str) -> None:
    _params.choice("decoder", decoder, DECODERS)
    _params.real("beta", beta, low=0.0)
    same_shape("reconstruction", reconstruction, "x", x)
    same_shape("mu", mu, "logvar", logvar)
    if reconstruction.ndim < 2:
        raise ValueError(f"reconstruction must be a batch (N, features...), got shape {reconstruction.shape}")
    if mu.ndim != 2 or mu.shape[0] != reconstruction.shape[0]:
        raise ValueError(
            f"mu must have shape (N, latent) with N = {reconstruction.shape[0]} (the batch of x), got {mu.shape}"
        )
    if decoder == "bernoulli":
        in_range("x", x, 0.0, 1.0, "in [0, 1] for a Bernoulli decoder")


def _vae_sampler(rng: numpy.random.Generator, sizes: dict[str, int]) -> list[numpy.ndarray]:
    n, t, d = sizes["N"], sizes["T"], sizes["D"]
    data = [2.0 * rng.standard_normal((n, t)), rng.uniform(0.0, 1.0, (n, t))]
    return data + [rng.standard_normal((n, d)), 0.5 * rng.standard_normal((n, d))]


VAE_ELBO = register(
    LossSpec(
        name="vae_elbo",
        family="distribution",
        args=(
            Arg("reconstruction", "real", ("N", "T")),
            Arg("x", "real", ("N", "T")),
            Arg("mu", "real", ("N", "D")),
            Arg("logvar", "real", ("N", "D")),
        ),
        forward=_vae_elbo_forward,
        vjp=_vae_elbo_vjp,
        composite=_vae_elbo_composite,
        params={"beta": 1.0, "decoder": "bernoulli"},
        check=_check_vae,
        sampler=_vae_sampler,
        edge_cases={
            "logits of +-1e4, binary x": lambda rng: [
                numpy.array([[1e4, -1e4, 1e4], [-1e4, 0.0, 3.0]]), numpy.array([[1.0, 0.0, 0.0], [1.0, 0.5, 1.0]]),
                numpy.zeros((2, 2)), numpy.zeros((2, 2)),
            ],
            "logvar of +-30": lambda rng: [
                numpy.zeros((1, 2)), numpy.full((1, 2), 0.5), numpy.array([[1e3, 0.0]]), numpy.array([[30.0, -30.0]])
            ],
        },
        stability_exceptions={
            "large scale": _KL_OVERFLOW + "; and x scaled out of [0, 1] is refused by a Bernoulli decoder"
        },
        formula=r"\ell_i = -\log p(x_i | z) + \beta\, \mathrm{KL}(\mathcal{N}(\mu_i, \sigma_i^2) \| \mathcal{N}(0, I)), \ -\log p = \sum_j \mathrm{softplus}(s_{ij}) - x_{ij} s_{ij} \ \text{or}\ \tfrac12 \sum_j (\hat{x}_{ij} - x_{ij})^2",
        reference="Kingma & Welling 2014, Auto-Encoding Variational Bayes (eq. 10, appendix B); Higgins et al. 2017 (beta-VAE)",
    )
)


def vae_elbo(
    reconstruction: Any,
    x: Any,
    mu: Any,
    logvar: Any,
    beta: float = 1.0,
    decoder: str = "bernoulli",
    reduction: str = "mean",
) -> Any:
    r"""Negative evidence lower bound of a VAE (the loss to minimise), per sample.

    .. math::  \ell_i = \underbrace{-\log p(x_i \mid z_i)}_{\text{reconstruction}}
               + \beta\,\underbrace{\tfrac12 \sum_k (\mu_{ik}^2 + \sigma_{ik}^2 - 1 - \log \sigma_{ik}^2)}_{\mathrm{KL}(q(z|x_i)\,\|\,\mathcal{N}(0, I))}

    with the reconstruction term summed over the features of a sample:

    - ``decoder="bernoulli"``: ``reconstruction`` holds the decoder's **logits** :math:`s`
      (before its sigmoid) and :math:`-\log p = \sum_j \mathrm{softplus}(s_j) - x_j s_j`, the
      binary cross entropy with logits, :math:`\partial/\partial s_j = \sigma(s_j) - x_j`.
      Logits rather than probabilities keep the term finite for a confident decoder;
      ``x`` must lie in [0, 1] (binary or grey levels).
    - ``decoder="gaussian"``: ``reconstruction`` is the mean :math:`\hat{x}` of a unit-variance
      Gaussian and :math:`-\log p = \tfrac12 \sum_j (\hat{x}_j - x_j)^2`,
      :math:`\partial/\partial \hat{x}_j = \hat{x}_j - x_j`. The constant
      :math:`\tfrac{D}{2}\log 2\pi` of the true negative log-likelihood is left out (it has no
      gradient), so a perfect reconstruction with :math:`q = \mathcal{N}(0, I)` gives 0.

    The KL gradients are :math:`\beta\mu` and :math:`\tfrac{\beta}{2}(\sigma^2 - 1)` (see
    :func:`gaussian_kl`). ``'mean'`` averages over the batch: the usual VAE objective
    (Kingma & Welling's estimator with one sample of :math:`z` per :math:`x`).

    Parameters
    ----------
    reconstruction : array or Tensor (N, ...)
        Decoder output for the sampled :math:`z_i` (logits or means, see above).
    x : array or Tensor (N, ...)
        The data, same shape. Differentiable too (:math:`-s` or :math:`x - \hat{x}`).
    mu, logvar : array or Tensor (N, latent)
        The encoder's posterior :math:`q(z|x) = \mathcal{N}(\mu, \mathrm{diag}\,e^{\text{logvar}})`.
    beta : float
        Weight :math:`\beta \ge 0` of the KL term (1: the ELBO; > 1: the beta-VAE of Higgins et al.).
    decoder : {'bernoulli', 'gaussian'}
    reduction : {'mean', 'sum', 'none'}
        Over the batch; ``'none'`` gives :math:`\ell_i` (N,).

    The PyTorch VAE example computes ``F.binary_cross_entropy(sigmoid(s), x, reduction='sum')``
    plus the KL, summed over the batch (our ``reduction='sum'``); with logits
    ``F.binary_cross_entropy_with_logits(s, x, reduction='sum')`` is the same without the
    clamp of :math:`\log` at -100.

    Raises
    ------
    ValueError
        Unknown ``decoder``; ``beta < 0``; ``x`` outside [0, 1] for a Bernoulli decoder; shapes
        that differ or batch sizes that disagree; NaN anywhere.

    Examples
    --------
    >>> import numpy as np
    >>> x, mean = np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]])
    >>> float(vae_elbo(mean, x, np.array([[1.0]]), np.array([[0.0]]), decoder="gaussian"))  # 1/2 + 1/2
    1.0
    """
    return apply_loss(VAE_ELBO, reconstruction, x, mu, logvar, reduction=reduction, beta=beta, decoder=decoder)


# ------------------------------------------------------------------------------------ reconstruction


def _reconstruction_forward(xp: Any, output: Any, input: Any, *, kind: str) -> Any:  # noqa: A002
    if kind == "bce":
        return _reconstruction_terms(xp, output, input, "bernoulli")
    e = output - input
    return e * e


def _reconstruction_vjp(xp: Any, g: Any, output: Any, input: Any, *, kind: str) -> tuple[Any, Any]:  # noqa: A002
    if kind == "bce":
        grad_o, grad_i = _reconstruction_grad(xp, output, input, "bernoulli")
        return g * grad_o, g * grad_i
    grad = 2.0 * g * (output - input)
    return grad, -grad


KINDS = ("mse", "bce")


def _check_reconstruction(output: Any, input: Any, *, kind: str) -> None:  # noqa: A002
    _params.choice("kind", kind, KINDS)
    same_shape("output", output, "input", input)
    if kind == "bce":
        in_range("input", input, 0.0, 1.0, "in [0, 1] for kind='bce'")


RECONSTRUCTION = register(
    LossSpec(
        name="reconstruction",
        grid={"kind": ("mse", OnInputs("bce", lambda rng, s: [rng.uniform(0.05, 0.95, s["N"]), rng.uniform(0.05, 0.95, s["N"])]))},
        family="distribution",
        args=(Arg("output", "real"), Arg("input", "real")),
        forward=_reconstruction_forward,
        vjp=_reconstruction_vjp,
        params={"kind": "mse"},
        check=_check_reconstruction,
        edge_cases={
            "perfect reconstruction": lambda rng: [numpy.full(3, 0.25), numpy.full(3, 0.25)],
            "errors of 1e4": lambda rng: [numpy.array([1e4, -1e4]), numpy.zeros(2)],
        },
        formula=r"\ell = (\hat{x} - x)^2 \ \text{(mse)} \ \text{or} \ \mathrm{softplus}(s) - x s \ \text{(bce, logits)}",
        reference="seed 004, section 4 (autoencoder reconstruction loss); torch mse_loss / binary_cross_entropy_with_logits",
        torch="mse_loss",
    )
)


def reconstruction(output: Any, input: Any, kind: str = "mse", reduction: str = "mean") -> Any:  # noqa: A002
    r"""Reconstruction loss of an autoencoder: the output against the input it reconstructs.

    .. math::  \text{mse:}\ \ \ell = (\hat{x} - x)^2, \ \ \frac{\partial \ell}{\partial \hat{x}} = 2(\hat{x} - x);
               \qquad
               \text{bce:}\ \ \ell = \mathrm{softplus}(s) - x s, \ \
               \frac{\partial \ell}{\partial s} = \sigma(s) - x, \ \ \frac{\partial \ell}{\partial x} = -s

    elementwise, with ``'mean'`` over every element (PyTorch's convention, unlike
    :func:`vae_elbo`, which sums over the features of a sample).

    Parameters
    ----------
    output : array or Tensor
        The reconstruction: values :math:`\hat{x}` for ``'mse'``; **logits** :math:`s` (the
        decoder before its sigmoid) for ``'bce'``, so that the loss stays finite for any output.
    input : array or Tensor, same shape
        The original input; in [0, 1] for ``'bce'``.
    kind : {'mse', 'bce'}
    reduction : {'mean', 'sum', 'none'}

    ``'mse'`` is ``F.mse_loss(output, input)``, ``'bce'`` is
    ``F.binary_cross_entropy_with_logits(output, input)``.

    Raises
    ------
    ValueError
        Unknown ``kind``; shapes that differ; ``input`` outside [0, 1] for ``'bce'``.

    Examples
    --------
    >>> import numpy as np
    >>> float(reconstruction(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    2.0
    """
    return apply_loss(RECONSTRUCTION, output, input, reduction=reduction, kind=kind)


