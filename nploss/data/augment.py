"""Random affine warps of image batches: the distortions of the embedded glyphs, and the
training-time augmentation of few-shot episodes (``nploss train --augment``).

Each output pixel :math:`o` of an :math:`S \\times S` image reads the input at :math:`A o + b`
(bilinear interpolation, blank outside), with

.. math:: A = R(\\theta)\\, \\begin{pmatrix} 1 & h \\\\ 0 & 1 \\end{pmatrix} / s, \\qquad
          b = c - A c + t,

a rotation by :math:`\\theta` times a shear :math:`h` over a scale :math:`s` about the centre
:math:`c`, then a shift :math:`t`. Small warps like these model how two people draw the same
character (Lake et al. 2015 call them the affine part of the motor variability), which is why
they are the usual augmentation of Omniglot-style data.
"""

from __future__ import annotations

import numpy as np


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    degrees: float = 12.0,
    shear: float = 0.2,
    scale: tuple[float, float] = (0.85, 1.1),
    shift: float = 3.0,
) -> np.ndarray:
    """Warp each image of ``images`` (N, S, S) by its own random affine map.

    Draws, in this order and each uniformly: N angles in ±``degrees``, N shears in ±``shear``,
    N scales in ``scale`` (above 1 enlarges), N shifts of up to ``shift`` pixels per axis.
    """
    from scipy import ndimage

    n, size = len(images), images.shape[-1]
    angle = np.deg2rad(rng.uniform(-degrees, degrees, n))
    shears, scales = rng.uniform(-shear, shear, n), rng.uniform(scale[0], scale[1], n)
    shifts = rng.uniform(-shift, shift, (n, 2))
    centre = np.full(2, size / 2)
    warped = np.empty_like(images)
    for k in range(n):
        c, s = np.cos(angle[k]), np.sin(angle[k])
        matrix = np.array([[c, -s], [s, c]]) @ np.array([[1.0, shears[k]], [0.0, 1.0]]) / scales[k]
        offset = centre - matrix @ centre + shifts[k]
        warped[k] = ndimage.affine_transform(images[k], matrix, offset=offset, order=1)
    return warped
