r"""Episode-adaptive weights of the regularisers: :math:`\lambda_{var}` and :math:`\lambda_{cov}`
predicted per episode from how fine-grained it is (seed 000 §3.1), smoothed by an EMA (§5).

**Inputs.** Three statistics of the episode's embeddings, held constant (no gradient flows into
the backbone through them): the mean and the maximum cosine similarity between prototypes
(high when the classes look alike) and :math:`\log(\bar d_{between} / \bar d_{within})`, the mean
distance between prototypes over the mean distance of the embeddings to their own prototype
(low when the classes overlap).

**Outputs.** A small MLP ends in a sigmoid mapped into the seed's ranges,
:math:`\lambda_{var} \in [0.05, 0.3]` and :math:`\lambda_{cov} \in [0.005, 0.1]`.

**Training signal.** Minimising the total loss over :math:`\lambda` itself would learn nothing
useful: the total is linear in each weight, with slope its regulariser's value, so each weight
would go to an end of its range. :math:`\mathcal{L}_{cov} \ge 0` (a sum of squares) sends
:math:`\lambda_{cov}` to its lower bound; :math:`\mathcal{L}_{var}`, the mean pairwise cosine
between prototypes, lies in :math:`[-\frac{1}{K-1}, 1]` (``prototype_variance([[1, 0], [-1, 0]])``
is :math:`-1`), so :math:`\lambda_{var}` goes to its lower bound while the prototypes' mean
cosine is positive and to its upper bound once it is negative. Instead the network is trained by
a *hypergradient*: the query loss after a one-step look-ahead update of the backbone,

.. math::  \theta'(\lambda) = \theta - \alpha\,(g_{CE} + \lambda_{var} g_{var} + \lambda_{cov} g_{cov}),
           \qquad \min_\phi\; \mathcal{L}_{CE}(\theta'(\lambda_\phi)),

with :math:`g_t = \nabla_\theta \mathcal{L}_t(\theta)`. The autograd engine differentiates
through the look-ahead (the backbone is called with :math:`\theta'` as Tensors that depend on
:math:`\lambda`). Because the :math:`g_t` do not depend on :math:`\lambda`, this is exact:
:math:`\partial \mathcal{L}_{CE}(\theta')/\partial\lambda_t = -\alpha\, \nabla\mathcal{L}_{CE}(\theta') \cdot g_t`,
positive (so :math:`\lambda_t` shrinks) when the regulariser's gradient points against what
helps classification after the step, and negative when it helps. This is the first-order
hypergradient of Baydin et al. 2018 ("Online Learning Rate Adaptation with Hypergradient
Descent") applied to loss weights, as in meta-learned loss weighting (e.g. Shu et al. 2019).
With ``lambda_target="held_out"`` the look-ahead loss is measured on fresh query images of the
episode's classes instead (:meth:`EpisodeSampler.held_out`), so that λ is judged by how the
regularised step generalises rather than by how it fits the episode's own queries.

**What it learns** (README, few-shot results): on the embedded glyphs neither signal makes
:math:`\lambda_{var}` lower on fine-grained episodes, as seed 000 expects; both settle on one level
for every kind of episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autograd as ag
from .. import backend, nn
from ..autograd import Tensor

LAMBDA_VAR_RANGE = (0.05, 0.3)
LAMBDA_COV_RANGE = (0.005, 0.1)
N_STATISTICS = 3


def episode_statistics(prototypes: Any, embeddings: Any, labels: Any) -> np.ndarray:
    """The network's inputs (see the module docstring) as a constant float array of shape (3,).

    ``prototypes`` (K, D); ``embeddings`` (M, D) of the episode with their class ``labels`` (M,).
    """
    # two small arrays (K x D, M x D) come to the host once per episode: the statistics are
    # a handful of numbers, and NumPy refuses implicit conversions of CuPy arrays
    c = backend.to_numpy(ag.as_data(prototypes)).astype(np.float64)
    z = backend.to_numpy(ag.as_data(embeddings)).astype(np.float64)
    labels = np.asarray(labels)
    unit = c / np.sqrt((c * c).sum(axis=1, keepdims=True) + 1e-12)
    cos = unit @ unit.T
    off = ~np.eye(len(c), dtype=bool)
    between = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))[off].mean()
    within = np.sqrt(((z - c[labels]) ** 2).sum(-1)).mean()
    return np.array([cos[off].mean(), cos[off].max(), np.log((between + 1e-12) / (within + 1e-12))])


class EpisodeAdaptiveLambda(nn.Module):
    r"""Predicts :math:`(\lambda_{var}, \lambda_{cov})` for an episode, smoothed by an EMA.

    Parameters
    ----------
    hidden : int
        Width of the MLP's hidden layer.
    ema : float
        Weight of the running average in the weights used: :math:`\lambda = m\,\bar\lambda +
        (1 - m)\,\lambda_\phi(\text{episode})`, then :math:`\bar\lambda \leftarrow \lambda`. The
        prediction's share keeps its gradient.
    var_range, cov_range : (float, float)
        The seed's ranges.
    """

    def __init__(
        self,
        hidden: int = 16,
        ema: float = 0.9,
        var_range: tuple[float, float] = LAMBDA_VAR_RANGE,
        cov_range: tuple[float, float] = LAMBDA_COV_RANGE,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"EpisodeAdaptiveLambda: ema must be in [0, 1), got {ema!r}")
        rng = np.random.default_rng(seed)
        self.net = nn.Sequential(nn.Linear(N_STATISTICS, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 2, rng=rng))
        self.net[2].weight.data *= 0.1  # start near the middle of the ranges
        self.net[2].bias.data[...] = 0.0
        self.ema = ema
        self.low = np.array([var_range[0], cov_range[0]])
        self.width = np.array([var_range[1] - var_range[0], cov_range[1] - cov_range[0]])
        self.register_buffer("average", self.low + 0.5 * self.width)

    def predict(self, statistics: Any) -> Tensor:
        """:math:`\\lambda_\\phi` in the ranges, without smoothing: shape (2,)."""
        return self.low + self.width * ag.sigmoid(self.net(ag.reshape(Tensor(np.asarray(statistics, dtype=np.float64)), (1, -1))))[0]

    def forward(self, statistics: Any) -> Tensor:
        """The smoothed weights; in training mode the running average moves toward them."""
        smoothed = self.ema * self.average.data + (1.0 - self.ema) * self.predict(statistics)
        if self.training:
            self.average.data[...] = smoothed.data
        return smoothed
