r"""Distribution and generative losses: GANs, Wasserstein distances, the VAE and its KL term,
reconstruction and perceptual losses.

| module | losses |
| --- | --- |
| ``wasserstein`` | ``wgan_critic``, ``wgan_generator``, ``wasserstein_1d``, ``gradient_norm_penalty``, ``gradient_penalty`` |
| ``gan`` | ``gan_discriminator``, ``gan_generator`` (from logits), ``lsgan_discriminator``, ``lsgan_generator`` |
| ``vae`` | ``gaussian_kl``, ``vae_elbo``, ``reconstruction`` |
| ``perceptual`` | ``perceptual`` |

Each loss is one block, as in :mod:`nploss.losses.regression`: the formula and its derivative in
the docstring, ``_x_forward`` (unreduced) and ``_x_vjp`` right below, the registry entry, then the
public function. ``_common`` holds the per-sample shapes they share.

Conventions of this family:

- **Scores and logits.** The critic of a WGAN and the discriminator of an LSGAN output real
  *scores* :math:`D(x)`; the discriminator of the original GAN outputs *logits* :math:`s` with
  :math:`D(x) = \sigma(s)`, so that every :math:`\log D` is a softplus that cannot overflow or
  take the log of 0.
- **Real and fake batches** have the same shape: the unreduced loss pairs the :math:`i`-th real
  sample with the :math:`i`-th generated one (Arjovsky et al.'s and Goodfellow et al.'s
  algorithms draw :math:`m` of each), so ``'mean'`` is :math:`\mathbb{E}` over both batches.
- **Per-sample losses** (``vae_elbo``, ``perceptual``, ``gradient_penalty``) sum or average over
  the features of a sample and leave the batch axis to ``reduction``.
- **Networks** (``perceptual``'s fixed feature network, ``gradient_penalty``'s critic) are
  ``nploss.nn`` modules, or for the critic any callable built from :mod:`nploss.autograd` ops.
"""

# in the order the losses were registered before the split, which the registry keeps
from .wasserstein import (  # isort: skip
    gradient_norm_penalty,
    gradient_penalty,
    wasserstein_1d,
    wgan_critic,
    wgan_generator,
)
from .gan import gan_discriminator, gan_generator, lsgan_discriminator, lsgan_generator  # isort: skip
from .vae import gaussian_kl, reconstruction, vae_elbo  # isort: skip
from .perceptual import perceptual  # isort: skip

__all__ = [
    "wgan_critic",
    "wgan_generator",
    "wasserstein_1d",
    "gradient_penalty",
    "gradient_norm_penalty",
    "gan_discriminator",
    "gan_generator",
    "lsgan_discriminator",
    "lsgan_generator",
    "vae_elbo",
    "gaussian_kl",
    "perceptual",
    "reconstruction",
]
