r"""The prototypical network: a Conv-4 embedding, class-mean prototypes, distance logits, and an
optional set-to-set refinement of the prototypes.

Snell et al. 2017 ("Prototypical Networks for Few-shot Learning"): an episode has K classes
with a few labelled *support* images each; every class is represented by the mean of its
support embeddings, :math:`c_k = \frac{1}{|S_k|}\sum_{x \in S_k} f_\theta(x)`, and a *query*
:math:`x` is classified by a softmax over

.. math::  \text{logits}_k(x) = -\,\lVert f_\theta(x) - c_k \rVert^2
           \qquad\text{or}\qquad s \cos(f_\theta(x), c_k)

(squared Euclidean distance, the paper's choice, or a scaled cosine with a learned scale
:math:`s`). The prototype refinement is FEAT's (Ye et al. 2020, "Few-Shot Learning via
Embedding Adaptation with Set-to-Set Functions"): one self-attention layer over the K
prototypes with a residual connection, :math:`c \leftarrow c + \mathrm{Attn}(c)`, so that each
prototype can move in the light of the others in its episode (seed 000's "Transformer").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import autograd as ag
from .. import backend, losses, nn
from ..autograd import Tensor

METRICS = ("euclidean", "cosine")


def conv_block(in_channels: int, out_channels: int, dtype: Any, rng: np.random.Generator) -> list[nn.Module]:
    r"""3x3 convolution (padding 1), batch norm, ReLU, 2x2 max-pooling: halves the image.

    The ReLU is applied after the pooling: the two commute, since both are monotone
    (:math:`\max_i \mathrm{relu}(x_i) = \mathrm{relu}(\max_i x_i)`), with the same gradient
    (a window whose maximum is not positive passes none either way), and the ReLU then runs
    on a quarter of the values.
    """
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, dtype=dtype, rng=rng),
        nn.BatchNorm2d(out_channels, dtype=dtype),
        nn.MaxPool2d(2),
        nn.ReLU(),
    ]


def conv4(in_channels: int = 1, hidden: int = 64, dtype: Any = "float32", rng: np.random.Generator | None = None) -> nn.Sequential:
    """The Conv-4 embedding of Vinyals et al. 2016 and Snell et al. 2017: four conv blocks of
    ``hidden`` filters; a 28x28 image becomes a vector of ``hidden`` numbers (1x1 spatially
    after 28 -> 14 -> 7 -> 3 -> 1)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    blocks: list[nn.Module] = []
    for i in range(4):
        blocks += conv_block(in_channels if i == 0 else hidden, hidden, dtype, rng)
    return nn.Sequential(*blocks, nn.Flatten())


class PrototypeRefiner(nn.Module):
    r"""FEAT's set-to-set adaptation of the prototypes: :math:`c \leftarrow c + \mathrm{Attn}(\mathrm{LN}(c))`.

    The residual form starts near the identity (the output projection is initialised small),
    so adding the refiner to a trained embedding does not throw its prototypes away.
    """

    def __init__(self, dim: int, dtype: Any = "float32", rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, dtype=dtype)
        self.attention = nn.SelfAttention(dim, dtype=dtype, rng=rng)
        self.attention.out.weight.data *= 0.1

    def forward(self, prototypes: Any) -> Tensor:
        return prototypes + self.attention(self.norm(prototypes))


class ProtoNet(nn.Module):
    """Embedding network plus the episode logic of a prototypical network.

    Parameters
    ----------
    hidden : int
        Filters per conv block (and the embedding's dimension).
    metric : {'euclidean', 'cosine'}
        Logits are minus the squared Euclidean distance to each prototype, or the cosine times
        a learned scale (initialised to ``cosine_scale``, learned as its logarithm so it stays
        positive).
    refine : bool
        Refine the prototypes with one self-attention layer (:class:`PrototypeRefiner`).
    dtype : str
        Parameter dtype; float32 moves half the bytes of float64 and is what the CLI uses.
    seed : int
        Seeds the initialisation.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden: int = 64,
        metric: str = "euclidean",
        refine: bool = False,
        cosine_scale: float = 10.0,
        dtype: Any = "float32",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"ProtoNet: metric must be one of {METRICS}, got {metric!r}")
        rng = np.random.default_rng(seed)
        self.metric, self.refine, self.hidden = metric, refine, hidden
        self.backbone = conv4(in_channels, hidden, dtype, rng)
        self.refiner = PrototypeRefiner(hidden, dtype, rng) if refine else None
        if metric == "cosine":
            self.log_scale = nn.Parameter(np.array(math.log(cosine_scale), dtype=dtype))

    def embed(self, images: Any) -> Tensor:
        """(M, 28, 28) or (M, C, 28, 28) images -> (M, hidden) embeddings."""
        x = images if isinstance(images, Tensor) else Tensor(images)
        if x.ndim == 3:
            x = ag.reshape(x, (x.shape[0], 1) + x.shape[1:])
        return self.backbone(x)

    def prototypes(self, support: Tensor, support_labels: Any, ways: int) -> Tensor:
        """Class means of the support embeddings, refined if the model has a refiner."""
        protos = losses.prototypes(support, support_labels, ways)
        return self.refiner(protos) if self.refiner is not None else protos

    def scale(self) -> Any:
        """The logits' scale: 1 for the Euclidean metric, the learned :math:`e^{\\log s}` for cosine."""
        return ag.exp(self.log_scale) if self.metric == "cosine" else 1.0

    def forward(self, support_images: Any, support_labels: Any, query_images: Any, ways: int) -> dict[str, Tensor]:
        """Embed an episode in one batch (batch norm then sees support and queries together, as
        in training) and return its ``support``, ``query`` and ``prototypes`` embeddings."""
        n_support = len(support_labels)
        xp = backend.get_array_module(support_images, query_images)  # images on the GPU stay there
        images = xp.concatenate([xp.asarray(support_images), xp.asarray(query_images)])
        z = self.embed(images)
        support, query = z[:n_support], z[n_support:]
        return {"support": support, "query": query, "embeddings": z, "prototypes": self.prototypes(support, support_labels, ways)}

    def logits(self, query: Tensor, prototypes: Tensor) -> Tensor:
        """(Q, K) logits of the queries against the prototypes (see the module docstring)."""
        if self.metric == "euclidean":
            # ||q - c||^2 = ||q||^2 - 2 q.c + ||c||^2: one matmul instead of a (Q, K, D) difference
            q2 = ag.sum(query * query, axis=1, keepdims=True)
            c2 = ag.sum(prototypes * prototypes, axis=1)
            return -(q2 - 2.0 * ag.matmul(query, ag.transpose(prototypes)) + c2)
        qn = query / ag.sqrt(ag.sum(query * query, axis=1, keepdims=True) + 1e-12)
        cn = prototypes / ag.sqrt(ag.sum(prototypes * prototypes, axis=1, keepdims=True) + 1e-12)
        return self.scale() * ag.matmul(qn, ag.transpose(cn))
