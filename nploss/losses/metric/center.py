r"""Center loss (Wen et al. 2016): each embedding pulled toward the centre of its class.

:func:`center` takes the class centres as an input (differentiable, or a constant array);
:class:`CenterLoss` keeps them as state and moves them by the paper's own update rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import backend
from ...autograd import as_data
from .._apply import apply_loss
from .._params import integer, real
from .._spec import Arg, LossSpec, register
from ._common import _check_batch, _host

# ------------------------------------------------------------------------------------ center


def _center_forward(xp: Any, embeddings: Any, labels: Any, centers: Any) -> Any:
    diff = embeddings - centers[as_data(labels)]
    return 0.5 * xp.sum(diff * diff, axis=-1)


def _center_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, centers: Any) -> tuple[Any, Any]:
    y = as_data(labels)
    grad = xp.reshape(g, (-1, 1)) * (embeddings - centers[y])
    # each centre collects -(x_i - c_j) from the samples of its class, repeated labels adding up
    return grad, -xp.scatter_add(grad, y, centers.shape)


def _check_center(embeddings: Any, labels: Any, centers: Any, **_: Any) -> None:
    _check_batch(embeddings, labels)
    if centers.ndim != 2 or centers.shape[1] != embeddings.shape[1]:
        raise ValueError(
            f"centers must have shape (C, {embeddings.shape[1]}), one row per class, got {tuple(centers.shape)}"
        )
    values = _host(labels)
    if values.size and values.max() >= centers.shape[0]:
        raise ValueError(
            f"labels must be class labels in [0, {centers.shape[0]}), "
            f"got values from {int(values.min())} to {int(values.max())}"
        )


CENTER = register(
    LossSpec(
        name="center",
        family="metric",
        args=(
            Arg("embeddings", "real", ("N", "D")),
            Arg("labels", "label", ("N",), differentiable=False),
            Arg("centers", "real", ("C", "D")),
        ),
        forward=_center_forward,
        vjp=_center_vjp,
        check=_check_center,
        edge_cases={
            "embeddings at their centres": lambda rng: [
                np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
                np.array([1, 1, 0]),
                np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]),
            ],
            "distances of 1e4": lambda rng: [
                1e4 * rng.standard_normal((4, 3)),
                np.array([0, 1, 1, 2]),
                rng.standard_normal((3, 3)),
            ],
        },
        formula=r"\ell_i = \tfrac12 \|x_i - c_{y_i}\|^2",
        reference="Wen, Zhang, Li & Qiao 2016 (center loss)",
    )
)


def center(embeddings: Any, labels: Any, centers: Any, reduction: str = "mean") -> Any:
    r"""Center loss (Wen et al. 2016): the squared distance of each embedding to its class centre.

    .. math::  \ell_i = \tfrac12 \|x_i - c_{y_i}\|^2, \qquad
               \nabla_{x_i} \ell_i = x_i - c_{y_i}, \qquad
               \nabla_{c_j} \textstyle\sum_i \ell_i = -\sum_{i : y_i = j} (x_i - c_j)

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), values in [0, C)
    centers : array or Tensor, shape (C, D)
        The class centres, an input: differentiable, although Wen et al. update them by their own
        rule instead (:class:`CenterLoss`); pass them as a constant array to do so.
    reduction : {'mean', 'sum', 'none'}
        'sum' is the paper's :math:`L_C = \tfrac12 \sum_{i=1}^m \|x_i - c_{y_i}\|^2` over a
        mini-batch; 'mean' divides it by N.

    The widely used PyTorch implementation (KaiyangZhou/pytorch-center-loss) computes the mean of
    :math:`\|x_i - c_{y_i}\|^2` without the :math:`\tfrac12`, twice this 'mean'. Not in PyTorch or
    pytorch-metric-learning.

    Examples
    --------
    >>> import numpy as np
    >>> float(center(np.array([[1.0, 1.0], [0.0, 3.0]]), np.array([0, 1]), np.array([[0.0, 0.0], [0.0, 1.0]])))
    1.5
    """
    return apply_loss(CENTER, embeddings, labels, centers, reduction=reduction)


class CenterLoss:
    r"""Center loss with its centres kept as state and updated by the rule of Wen et al. 2016.

    After each mini-batch, with :math:`\delta_{ij} = [y_i = j]`,

    .. math::  \Delta c_j = \frac{\sum_i \delta_{ij} (c_j - x_i)}{1 + \sum_i \delta_{ij}}, \qquad
               c_j \leftarrow c_j - \alpha \, \Delta c_j

    (their equation 4): each centre moves a fraction of the way toward the mean of its class in
    the batch; the ``1 +`` damps classes with few samples, and classes absent from the batch stay
    where they are. The centres are not trained by the gradient of the loss: calling the object
    passes them as a constant.

    Parameters
    ----------
    num_classes, dim : int
        The shape of the centres, (num_classes, dim).
    alpha : float in (0, 1]
        The centres' learning rate (0.5 in the paper's experiments).
    centers : array, optional
        Initial centres (copied); zeros by default, as the paper.

    Examples
    --------
    >>> import numpy as np
    >>> loss = CenterLoss(num_classes=2, dim=2, alpha=0.5)
    >>> x, y = np.array([[2.0, 0.0], [4.0, 0.0]]), np.array([1, 1])
    >>> float(loss(x, y))  # the centres start at 0: (4 + 16) / 2 / 2
    5.0
    >>> loss.update(x, y)[1].tolist()  # c_1 - 0.5 * (2 * c_1 - 6) / 3
    [1.0, 0.0]
    """

    def __init__(self, num_classes: int, dim: int, alpha: float = 0.5, centers: Any = None) -> None:
        num_classes, dim = integer("num_classes", num_classes, low=1), integer("dim", dim, low=1)
        self.alpha = real("alpha", alpha, low=0.0, high=1.0, low_open=True)
        module = backend.xp()
        if centers is None:
            self.centers = module.zeros((num_classes, dim))
        else:
            self.centers = module.array(as_data(centers), dtype=float)
            if self.centers.shape != (num_classes, dim):
                raise ValueError(f"centers must have shape ({num_classes}, {dim}), got {tuple(self.centers.shape)}")

    def __call__(self, embeddings: Any, labels: Any, reduction: str = "mean") -> Any:
        """:func:`center` with the current centres (a constant)."""
        return center(embeddings, labels, self.centers, reduction=reduction)

    def update(self, embeddings: Any, labels: Any) -> Any:
        """Move the centres by Wen et al.'s rule (not differentiated); returns the new centres."""
        x, y = as_data(embeddings), as_data(labels)
        _check_center(x, backend.get_array_module(y).asarray(y), self.centers)
        xp = backend.get_array_module(x)
        counts, sums = xp.zeros(self.centers.shape[0]), xp.zeros(self.centers.shape)
        backend.scatter_add(counts, y, xp.ones(y.shape[0]))  # repeated labels add up
        backend.scatter_add(sums, y, x)
        delta = (counts[:, None] * self.centers - sums) / (1.0 + counts[:, None])
        self.centers = self.centers - self.alpha * delta
        return self.centers
