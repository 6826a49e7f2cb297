r"""GANs with a discriminator: the original GAN, from logits (Goodfellow et al. 2014), and the
least-squares GAN (Mao et al. 2017).

Conventions (see also :mod:`nploss.losses.distribution`):

- **Scores and logits.** The discriminator of an LSGAN outputs real *scores* :math:`D(x)`; the
  discriminator of the original GAN outputs *logits* :math:`s` with :math:`D(x) = \sigma(s)`,
  so that every :math:`\log D` is a softplus that cannot overflow or take the log of 0.
- **Real and fake batches** have the same shape: the unreduced loss pairs the :math:`i`-th real
  sample with the :math:`i`-th generated one (Goodfellow et al.'s algorithm draws :math:`m` of
  each), so ``'mean'`` is :math:`\mathbb{E}` over both batches.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import _params
from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from .._validate import same_shape

__all__ = ["gan_discriminator", "gan_generator", "lsgan_discriminator", "lsgan_generator"]


# ------------------------------------------------------------------------------------ GAN discriminator (from logits)


def _gan_discriminator_forward(xp: Any, real_logits: Any, fake_logits: Any) -> Any:
    # -log sigma(r) = softplus(-r) and -log(1 - sigma(f)) = softplus(f): no log of an underflowed 0
    return xp.softplus(-real_logits) + xp.softplus(fake_logits)


def _gan_discriminator_vjp(xp: Any, g: Any, real_logits: Any, fake_logits: Any) -> tuple[Any, Any]:
    # sigma(r) - 1 written as -sigma(-r), which keeps its precision when sigma(r) is near 1
    return -g * xp.sigmoid(-real_logits), g * xp.sigmoid(fake_logits)


GAN_DISCRIMINATOR = register(
    LossSpec(
        name="gan_discriminator",
        family="distribution",
        args=(Arg("real_logits", "logits"), Arg("fake_logits", "logits")),
        forward=_gan_discriminator_forward,
        vjp=_gan_discriminator_vjp,
        check=lambda r, f: same_shape("real_logits", r, "fake_logits", f),
        edge_cases={
            "logits of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 1e4, -1e4]), numpy.array([1e4, -1e4, -1e4, 1e4])],
            "logits of 0": lambda rng: [numpy.zeros(3), numpy.zeros(3)],
        },
        formula=r"\ell = \log(1 + e^{-s_r}) + \log(1 + e^{s_f}), \quad \partial \ell / \partial s_r = -\sigma(-s_r), \ \partial \ell / \partial s_f = \sigma(s_f)",
        reference="Goodfellow et al. 2014, Generative Adversarial Nets; BCE with logits",
        torch="binary_cross_entropy_with_logits",
    )
)


def gan_discriminator(real_logits: Any, fake_logits: Any, reduction: str = "mean") -> Any:
    r"""Discriminator loss of the original GAN, from logits.

    .. math::  L_D = -\mathbb{E}_x \log D(x) - \mathbb{E}_z \log(1 - D(G(z))), \quad
               D = \sigma(s), \qquad
               \ell_i = \log(1 + e^{-s_{r,i}}) + \log(1 + e^{s_{f,i}})

    .. math::  \frac{\partial \ell_i}{\partial s_{r,i}} = -\sigma(-s_{r,i}) = \sigma(s_{r,i}) - 1,
               \qquad \frac{\partial \ell_i}{\partial s_{f,i}} = \sigma(s_{f,i})

    Both terms are softplus functions of the logits, finite for logits of any size (a
    discriminator that outputs probabilities would have :math:`\log 0` once it is confident).

    Parameters
    ----------
    real_logits, fake_logits : array or Tensor, same shape (N,) or (N, 1)
        Logits :math:`s` of the discriminator on real and on generated samples.
    reduction : {'mean', 'sum', 'none'}

    Equals ``F.binary_cross_entropy_with_logits(real_logits, ones, reduction=r) +
    F.binary_cross_entropy_with_logits(fake_logits, zeros, reduction=r)`` in PyTorch (real
    labelled 1, fake labelled 0), also for ``'none'``, which pairs the two batches.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gan_discriminator(np.array([0.0]), np.array([0.0]))), 6)  # 2 log 2
    1.386294
    """
    return apply_loss(GAN_DISCRIMINATOR, real_logits, fake_logits, reduction=reduction)


# ------------------------------------------------------------------------------------ GAN generator (from logits)


def _gan_generator_forward(xp: Any, fake_logits: Any, *, non_saturating: bool) -> Any:
    if non_saturating:
        return xp.softplus(-fake_logits)  # -log D(G(z))
    return -xp.softplus(fake_logits)  # log(1 - D(G(z)))


def _gan_generator_vjp(xp: Any, g: Any, fake_logits: Any, *, non_saturating: bool) -> tuple[Any]:
    if non_saturating:
        return (-g * xp.sigmoid(-fake_logits),)
    return (-g * xp.sigmoid(fake_logits),)


def _check_gan_generator(fake_logits: Any, *, non_saturating: Any) -> None:
    _params.flag("non_saturating", non_saturating)


GAN_GENERATOR = register(
    LossSpec(
        name="gan_generator",
        family="distribution",
        args=(Arg("fake_logits", "logits"),),
        forward=_gan_generator_forward,
        vjp=_gan_generator_vjp,
        params={"non_saturating": True},
        check=_check_gan_generator,
        edge_cases={"logits of +-1e4": lambda rng: [numpy.array([1e4, -1e4, 0.0])]},
        formula=r"\ell = -\log \sigma(s_f) = \log(1 + e^{-s_f}), \quad \partial \ell / \partial s_f = -\sigma(-s_f)",
        reference="Goodfellow et al. 2014, Generative Adversarial Nets (non-saturating generator, section 3)",
        torch="binary_cross_entropy_with_logits",
    )
)


def gan_generator(fake_logits: Any, non_saturating: bool = True, reduction: str = "mean") -> Any:
    r"""Generator loss of the original GAN, from logits; the non-saturating form by default.

    .. math::  \text{non-saturating:}\quad \ell_i = -\log D(G(z_i)) = \log(1 + e^{-s_i}),
               \qquad \frac{\partial \ell_i}{\partial s_i} = -\sigma(-s_i)

    .. math::  \text{minimax:}\quad \ell_i = \log(1 - D(G(z_i))) = -\log(1 + e^{s_i}),
               \qquad \frac{\partial \ell_i}{\partial s_i} = -\sigma(s_i)

    Both push :math:`D(G(z))` up, but early in training, when the discriminator rejects the
    samples (:math:`s \ll 0`), the minimax gradient :math:`-\sigma(s)` vanishes (it
    *saturates*) while the non-saturating one tends to -1. Goodfellow et al. recommend the
    non-saturating loss in practice.

    Parameters
    ----------
    fake_logits : array or Tensor (N,) or (N, 1)
        Discriminator logits on generated samples.
    non_saturating : bool
        True (default): :math:`-\log D(G(z))`, non-negative. False: the minimax
        :math:`\log(1 - D(G(z)))`, which is negative.
    reduction : {'mean', 'sum', 'none'}

    PyTorch: ``F.binary_cross_entropy_with_logits(fake_logits, ones)`` (fake labelled as real);
    the minimax form is ``-F.binary_cross_entropy_with_logits(fake_logits, zeros)``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gan_generator(np.array([0.0]))), 6)  # log 2
    0.693147
    """
    return apply_loss(GAN_GENERATOR, fake_logits, reduction=reduction, non_saturating=non_saturating)


# ------------------------------------------------------------------------------------ LSGAN discriminator


def _lsgan_discriminator_forward(
    xp: Any, real_scores: Any, fake_scores: Any, *, real_label: float, fake_label: float
) -> Any:
    r, f = real_scores - real_label, fake_scores - fake_label
    return 0.5 * (r * r) + 0.5 * (f * f)


def _lsgan_discriminator_vjp(
    xp: Any, g: Any, real_scores: Any, fake_scores: Any, *, real_label: float, fake_label: float
) -> tuple[Any, Any]:
    return g * (real_scores - real_label), g * (fake_scores - fake_label)


def _check_labels(**labels: Any) -> None:
    """The labels a, b, c: finite real numbers."""
    for name, value in labels.items():
        _params.real(name, value)


def _check_lsgan_discriminator(real_scores: Any, fake_scores: Any, *, real_label: Any, fake_label: Any) -> None:
    same_shape("real_scores", real_scores, "fake_scores", fake_scores)
    _check_labels(real_label=real_label, fake_label=fake_label)


LSGAN_DISCRIMINATOR = register(
    LossSpec(
        name="lsgan_discriminator",
        family="distribution",
        args=(Arg("real_scores", "real"), Arg("fake_scores", "real")),
        forward=_lsgan_discriminator_forward,
        vjp=_lsgan_discriminator_vjp,
        params={"real_label": 1.0, "fake_label": 0.0},
        check=_check_lsgan_discriminator,
        edge_cases={
            "perfect discriminator": lambda rng: [numpy.ones(3), numpy.zeros(3)],
            "scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4]), numpy.array([-1e4, 1e4])],
        },
        formula=r"\ell = \tfrac12 (D(x) - b)^2 + \tfrac12 (D(G(z)) - a)^2, \quad \partial \ell / \partial D(x) = D(x) - b, \ \partial \ell / \partial D(G(z)) = D(G(z)) - a",
        reference="Mao et al. 2017, Least Squares Generative Adversarial Networks (the a-b-c objective with the 0-1 coding a = 0, b = 1)",
        torch="mse_loss",
    )
)


def lsgan_discriminator(
    real_scores: Any, fake_scores: Any, real_label: float = 1.0, fake_label: float = 0.0, reduction: str = "mean"
) -> Any:
    r"""Least-squares GAN discriminator loss (Mao et al. 2017).

    .. math::  L_D = \tfrac12\,\mathbb{E}_x (D(x) - b)^2 + \tfrac12\,\mathbb{E}_z (D(G(z)) - a)^2,
               \qquad \frac{\partial \ell_i}{\partial D(x_i)} = D(x_i) - b, \quad
               \frac{\partial \ell_i}{\partial D(G(z_i))} = D(G(z_i)) - a

    with the labels :math:`b` = ``real_label`` (1) and :math:`a` = ``fake_label`` (0) of the
    paper's 0-1 coding. The scores are raw outputs (no sigmoid).

    Parameters
    ----------
    real_scores, fake_scores : array or Tensor, same shape (N,) or (N, 1)
    real_label, fake_label : float
    reduction : {'mean', 'sum', 'none'}

    PyTorch: ``0.5 * F.mse_loss(real_scores, ones) + 0.5 * F.mse_loss(fake_scores, zeros)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(lsgan_discriminator(np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    0.5
    """
    return apply_loss(
        LSGAN_DISCRIMINATOR, real_scores, fake_scores, reduction=reduction, real_label=real_label, fake_label=fake_label
    )


# ------------------------------------------------------------------------------------ LSGAN generator


def _lsgan_generator_forward(xp: Any, fake_scores: Any, *, real_label: float) -> Any:
    f = fake_scores - real_label
    return 0.5 * (f * f)


def _lsgan_generator_vjp(xp: Any, g: Any, fake_scores: Any, *, real_label: float) -> tuple[Any]:
    return (g * (fake_scores - real_label),)


LSGAN_GENERATOR = register(
    LossSpec(
        name="lsgan_generator",
        family="distribution",
        args=(Arg("fake_scores", "real"),),
        forward=_lsgan_generator_forward,
        vjp=_lsgan_generator_vjp,
        params={"real_label": 1.0},
        check=lambda f, **labels: _check_labels(**labels),
        edge_cases={
            "fooled discriminator": lambda rng: [numpy.ones(3)],
            "scores of +-1e4": lambda rng: [numpy.array([1e4, -1e4])],
        },
        formula=r"\ell = \tfrac12 (D(G(z)) - c)^2, \quad \partial \ell / \partial D(G(z)) = D(G(z)) - c",
        reference="Mao et al. 2017, Least Squares Generative Adversarial Networks (the a-b-c objective with the 0-1 coding c = 1)",
        torch="mse_loss",
    )
)


def lsgan_generator(fake_scores: Any, real_label: float = 1.0, reduction: str = "mean") -> Any:
    r"""Least-squares GAN generator loss (Mao et al. 2017).

    .. math::  L_G = \tfrac12\,\mathbb{E}_z (D(G(z)) - c)^2, \qquad
               \frac{\partial \ell_i}{\partial D(G(z_i))} = D(G(z_i)) - c

    with :math:`c` = ``real_label`` = 1, the value the generator wants the discriminator to
    believe.

    PyTorch: ``0.5 * F.mse_loss(fake_scores, ones)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(lsgan_generator(np.array([0.0, 1.0])))
    0.25
    """
    return apply_loss(LSGAN_GENERATOR, fake_scores, reduction=reduction, real_label=real_label)


