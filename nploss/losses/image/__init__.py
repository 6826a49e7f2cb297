r"""Image losses as kornia has them: multi-scale SSIM (alone and mixed with L1), PSNR, total
variation, edge-aware inverse-depth smoothness, and Parzen-window mutual information.

| module | losses |
| --- | --- |
| ``ssim`` | :func:`ms_ssim`, :func:`ms_ssim_l1` |
| ``psnr`` | :func:`psnr` |
| ``smoothness`` | :func:`total_variation`, :func:`inverse_depth_smoothness` |
| ``information`` | :func:`mutual_information`, :func:`normalized_mutual_information` |
| ``_common`` | the Gaussian band matrices and their blur, the forward differences and their adjoint |

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the formula and its
derivative), the registry entry, then the public function. Images are ``(N, C, H, W)`` unless a
loss says otherwise (:func:`total_variation` and the mutual informations take ``(*, H, W)``, as
kornia does). The filters are written as matrices: a 'same' Gaussian filter with zero padding on
an :math:`H \times W` channel is :math:`G_h Z G_w^\top`, with :math:`G_h` the :math:`H \times H`
banded matrix of the window, and its adjoint is :math:`G_h^\top R\, G_w`. Forward differences
are slices, and their adjoints scatter a cotangent back onto the two pixels of each difference.
"""

# in the order of the old single module, which is the order of the registry and of the audit
from .ssim import ms_ssim, ms_ssim_l1  # noqa: I001
from .psnr import psnr
from .smoothness import inverse_depth_smoothness, total_variation
from .information import mutual_information, normalized_mutual_information

__all__ = [
    "inverse_depth_smoothness",
    "ms_ssim",
    "ms_ssim_l1",
    "mutual_information",
    "normalized_mutual_information",
    "psnr",
    "total_variation",
]
