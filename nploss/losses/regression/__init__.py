r"""Regression losses: the error between a prediction and a real target.

| module | losses |
| --- | --- |
| ``errors`` | :func:`mse`, :func:`mae`, :func:`rmse` |
| ``robust`` | :func:`huber`, :func:`smooth_l1`, :func:`quantile`, :func:`log_cosh` |
| ``likelihood`` | :func:`poisson_nll`, :func:`gaussian_nll`, :func:`tweedie` |
| ``deviance`` | :func:`tweedie_deviance`, :func:`gamma_deviance` (on the mean; the target is a constant) |
| ``log_errors`` | :func:`msle`, :func:`rmsle`, :func:`mape` |
| ``barron`` | :func:`barron`, :func:`charbonnier`, :func:`cauchy`, :func:`geman_mcclure`, :func:`welsch` |
| ``_common`` | the ``(prediction, target)`` pair, its shape check, edge cases and kink |

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the formula and its
derivative), its fast path where it has one, the registry entry, then the public function with
the formula in its docstring. Argument order is
``(prediction, target)``, as in PyTorch. The error is :math:`e = \hat{y} - y` except in
:func:`quantile`, which follows scikit-learn's pinball loss with :math:`e = y - \hat{y}`.

Every input is differentiable, targets included, as in PyTorch: for the losses of an error the
target's gradient is the negative of the prediction's; for :func:`poisson_nll` and
:func:`tweedie` it is the derivative with respect to the (real-valued) count; for
:func:`gaussian_nll` the variance is an input too.
"""

# in the order of the old single module, which is the order of the registry and of the audit
from .errors import mae, mse, rmse  # noqa: I001
from .robust import huber, log_cosh, quantile, smooth_l1
from .likelihood import gaussian_nll, poisson_nll, tweedie

__all__ = ["mse", "mae", "rmse", "huber", "smooth_l1", "quantile", "log_cosh", "poisson_nll", "gaussian_nll", "tweedie"]

# issue 20: deviances on the mean, relative errors, Barron's robust family
from .deviance import gamma_deviance, tweedie_deviance
from .log_errors import mape, msle, rmsle
from .barron import barron, cauchy, charbonnier, geman_mcclure, welsch

__all__ += ["tweedie_deviance", "gamma_deviance", "msle", "rmsle", "mape"]
__all__ += ["barron", "charbonnier", "cauchy", "geman_mcclure", "welsch"]
