r"""The figures of the README and the tutorials, regenerated deterministically (``nploss figures``).

Every function here builds one :class:`matplotlib.figure.Figure` (no pyplot state, so it is safe
to call from tests and notebooks) and returns it; :func:`write_all` saves them all as PNGs.

- ``gallery_<family>.png`` (:func:`loss_gallery`): for each family of :data:`nploss.losses.REGISTRY`,
  the value and the derivative of representative losses along one scalar input (a residual, a
  margin, a distance, a score...). The derivatives come from the autograd engine: each grid point
  is one sample of a batch, so the gradient of the summed loss is the derivative at every point.
- ``focal.png`` (:func:`focal_vs_ce`): the focal loss against the cross entropy as a function of
  the probability of the true class :math:`p_t`, for several :math:`\gamma` (Lin et al. 2017,
  Fig. 1), and the size of its gradient with respect to the logit.
- ``robust_regression.png`` (:func:`robust_regression`): MSE, MAE, Huber and log-cosh side by
  side, value and gradient of the residual.
- ``landscape.png`` (:func:`loss_landscape`): a small MLP trained on a toy problem; the loss
  along the segment from its initial to its trained weights, a 2-D filter-normalised slice around
  the trained weights (Li et al. 2018), and 1-D slices along a random direction and along the top
  Hessian eigenvector (:mod:`nploss.landscape`).
- ``fewshot_dynamics.png`` and ``fewshot_interference.png``, from a few-shot training log when one
  is given (:mod:`nploss.fewshot.figures`).

``fast=True`` uses coarser grids and fewer training steps (for the tests); the committed figures
are the default ones.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import autograd as ag
from . import losses as L

__all__ = [
    "GALLERY", "FAMILIES", "loss_gallery", "focal_vs_ce", "robust_regression", "loss_landscape", "train_toy_mlp",
    "figure_functions", "write_all", "save", "read_fewshot_log", "FigureInputError",
]  # fmt: skip

DPI = 100


def _figure(width: float, height: float, panels: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def _derivative(fn: Callable[[ag.Tensor], ag.Tensor], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and derivative of an elementwise ``fn`` at every point of ``x``, by the engine."""
    t = ag.Tensor(x, requires_grad=True)
    values = ag.reshape(fn(t), (x.size,))
    (g,) = ag.grad(ag.sum(values), [t])
    return values.numpy(), g.numpy()


# ---------------------------------------------------------------------------- the gallery


@dataclass(frozen=True)
class Gallery:
    """The probes of one family: what the x-axis is, its range, and ``(label, x -> losses)``."""

    title: str
    xlabel: str
    x: tuple[float, float]
    curves: tuple[tuple[str, Callable[[ag.Tensor], ag.Tensor]], ...]
    ylim: tuple[float, float] | None = None
    dylim: tuple[float, float] | None = None


def _col(x: ag.Tensor) -> ag.Tensor:
    return ag.reshape(x, (x.shape[0], 1))


def _ones(x: ag.Tensor) -> np.ndarray:
    return np.ones(x.shape[0])


def _zeros(x: ag.Tensor, *shape: int) -> np.ndarray:
    return np.zeros((x.shape[0], *shape))


def _two_class(x: ag.Tensor) -> ag.Tensor:
    return ag.stack([x, 0.0 * x], axis=1)


def _segmentation(x: ag.Tensor, loss: Callable[..., Any]) -> ag.Tensor:
    """An 8x8 mask with 8 foreground pixels; the prediction gives every pixel the logit x for its
    correct label (sigmoid(x) on the foreground, 1 - sigmoid(x) on the background)."""
    mask = (np.arange(64).reshape(1, 1, 8, 8) < 8).astype(np.float64)
    target = np.broadcast_to(mask, (x.shape[0], 1, 8, 8))
    prediction = ag.sigmoid(ag.reshape(x, (x.shape[0], 1, 1, 1)) * (2.0 * target - 1.0))
    return loss(prediction, target)


def _prototypical(x: ag.Tensor, **kwargs: Any) -> ag.Tensor:
    """A 1-D embedding: the query at x, its class's prototype at 0, the other class's at 1."""
    support = np.array([[0.0], [1.0]])
    return L.prototypical(_col(x), support, np.array([0, 1]), np.zeros(x.shape[0], dtype=int), reduction="none", **kwargs)


def _td(x: ag.Tensor, **kwargs: Any) -> ag.Tensor:
    """One action, reward 0, a terminal next state: the TD error is the Q-value x itself."""
    n = x.shape[0]
    return L.td(_col(x), np.zeros(n, dtype=int), np.zeros(n), np.zeros((n, 1)), np.ones(n), reduction="none", **kwargs)


GALLERY: dict[str, Gallery] = {
    "regression": Gallery(
        "regression losses of the residual", "residual  prediction − target", (-3.0, 3.0),
        (
            ("MSE  x²", lambda x: L.mse(x, _zeros(x), reduction="none")),
            ("MAE  |x|", lambda x: L.mae(x, _zeros(x), reduction="none")),
            ("Huber δ = 1", lambda x: L.huber(x, _zeros(x), delta=1.0, reduction="none")),
            ("smooth L1 β = 0.5", lambda x: L.smooth_l1(x, _zeros(x), beta=0.5, reduction="none")),
            ("log-cosh", lambda x: L.log_cosh(x, _zeros(x), reduction="none")),
            ("quantile τ = 0.2", lambda x: L.quantile(x, _zeros(x), tau=0.2, reduction="none")),
        ),
        ylim=(0.0, 4.5),
    ),
    "classification": Gallery(
        "classification losses of the margin", "margin  y·f(x)  (logit of the true class)", (-3.0, 3.0),
        (
            ("logistic = BCE with logits", lambda x: L.logistic(x, _ones(x), reduction="none")),
            ("focal γ = 2", lambda x: L.sigmoid_focal(x, _ones(x), alpha=-1.0, gamma=2.0, reduction="none")),
            ("CE, label smoothing 0.1", lambda x: L.cross_entropy(_two_class(x), np.zeros(x.shape[0], dtype=int), label_smoothing=0.1, reduction="none")),
            ("hinge", lambda x: L.hinge(x, _ones(x), reduction="none")),
            ("squared hinge", lambda x: L.squared_hinge(x, _ones(x), reduction="none")),
            ("smoothed hinge", lambda x: L.smoothed_hinge(x, _ones(x), reduction="none")),
            ("exponential (AdaBoost)", lambda x: L.exponential(x, _ones(x), reduction="none")),
        ),
        ylim=(0.0, 4.5),
        dylim=(-4.0, 0.5),
    ),
    "segmentation": Gallery(
        "overlap losses on a mask with 1/8 foreground", "logit of the correct label at every pixel", (-4.0, 6.0),
        (
            ("Dice", lambda x: _segmentation(x, lambda p, t: L.dice(p, t, reduction="none"))),
            ("Tversky α = 0.3, β = 0.7", lambda x: _segmentation(x, lambda p, t: L.tversky(p, t, alpha=0.3, beta=0.7, reduction="none"))),
            ("1 − SSIM (3x3 window)", lambda x: _segmentation(x, lambda p, t: L.ssim(p, t, window_size=3, reduction="none"))),
            ("BCE, mean over pixels", lambda x: _segmentation(x, lambda p, t: ag.mean(L.binary_cross_entropy(p, t, reduction="none"), axis=(1, 2, 3)))),
        ),
    ),
    "metric": Gallery(
        "metric-learning losses of a distance", "distance d  (margin m = 1)", (0.0, 3.0),
        (
            ("contrastive, similar pair  ½d²", lambda x: L.contrastive(_col(x), _zeros(x, 1), _ones(x), reduction="none")),
            ("contrastive, dissimilar pair  ½max(0, m − d)²", lambda x: L.contrastive(_col(x), _zeros(x, 1), _zeros(x), reduction="none")),
            ("triplet, d(a, n) = d, d(a, p) = 1", lambda x: L.triplet(_zeros(x, 1), np.ones((x.shape[0], 1)), _col(x), reduction="none")),
            ("margin ranking, s₁ − s₂ = d", lambda x: L.margin_ranking(x, _zeros(x), _ones(x), margin=1.0, reduction="none")),
        ),
    ),
    "distribution": Gallery(
        "generator losses and the Gaussian KL", "critic score on a fake sample (KL: μ)", (-4.0, 4.0),
        (
            ("GAN generator, saturating  log(1 − σ(x))", lambda x: L.gan_generator(x, non_saturating=False, reduction="none")),
            ("GAN generator, non-saturating  −log σ(x)", lambda x: L.gan_generator(x, non_saturating=True, reduction="none")),
            ("LSGAN generator", lambda x: L.lsgan_generator(x, reduction="none")),
            ("WGAN generator  −x", lambda x: L.wgan_generator(x, reduction="none")),
            ("KL(N(μ, 1) ‖ N(0, 1))", lambda x: L.gaussian_kl(_col(x), _zeros(x, 1), reduction="none")),
        ),
        ylim=(-4.5, 6.0),
    ),
    "multitask": Gallery(
        "regularisers and uncertainty weighting", "weight w  (uncertainty weighting: log σ, task loss 1)", (-2.0, 2.0),
        (
            ("L1 penalty  |w|", lambda x: L.l1_penalty(_col(x), lam=1.0, reduction="none")),
            ("L2 penalty  w²", lambda x: L.l2_penalty(_col(x), lam=1.0, reduction="none")),
            ("elastic net  ½|w| + ½w²", lambda x: L.elastic_net(_col(x), l1=0.5, l2=0.5, reduction="none")),
            ("uncertainty weighting  1/(2σ²) + log σ", lambda x: L.uncertainty_weighting(_ones(x), x, reduction="none")),
        ),
        ylim=(-2.0, 5.0),
        dylim=(-4.0, 4.0),
    ),
    "fewshot": Gallery(
        "prototypical loss of a query", "query position  (own prototype at 0, other at 1)", (-1.0, 2.0),
        (
            ("cross entropy, scale 1", lambda x: _prototypical(x)),
            ("cross entropy, scale 4", lambda x: _prototypical(x, scale=np.array(4.0))),
            ("focal γ = 2, scale 4", lambda x: _prototypical(x, scale=np.array(4.0), loss="focal", gamma=2.0)),
        ),
        ylim=(0.0, 6.0),
    ),
    "reinforcement": Gallery(
        "temporal-difference and policy-gradient losses", "TD error  (policy gradient: log π(a|s), return 1)", (-3.0, 3.0),
        (
            ("TD, squared", lambda x: _td(x)),
            ("TD, Huber δ = 1", lambda x: _td(x, huber=True)),
            ("policy gradient  −G log π", lambda x: L.policy_gradient(_col(x), np.ones((x.shape[0], 1)), reduction="none")),
        ),
    ),
}  # fmt: skip

FAMILIES = tuple(GALLERY)


def loss_gallery(family: str, fast: bool = False) -> Any:
    """Value and derivative of representative losses of ``family`` along one scalar input."""
    if family not in GALLERY:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    spec = GALLERY[family]
    x = np.linspace(*spec.x, 61 if fast else 401)
    fig, (ax, dax) = _figure(11, 4.0, 2)
    for label, fn in spec.curves:
        value, derivative = _derivative(fn, x)
        (line,) = ax.plot(x, value, label=label)
        dax.plot(x, derivative, color=line.get_color(), label=label)
    ax.set(xlabel=spec.xlabel, ylabel="loss", title="value")
    dax.set(xlabel=spec.xlabel, ylabel="d loss / dx  (autograd)", title="derivative")
    if spec.ylim:
        ax.set_ylim(*spec.ylim)
    if spec.dylim:
        dax.set_ylim(*spec.dylim)
    for a in (ax, dax):
        a.axhline(0.0, color="k", lw=0.6)
        a.grid(alpha=0.3)
    ax.legend(fontsize=8)
    dax.legend(fontsize=8)
    fig.suptitle(f"{family}: {spec.title}")
    return fig


# ---------------------------------------------------------------------------- focal and robust


def focal_vs_ce(fast: bool = False, gammas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 5.0)) -> Any:
    r"""The focal loss :math:`-(1 - p_t)^\gamma \log p_t` against :math:`p_t` (γ = 0 is the cross
    entropy), and the magnitude of its derivative with respect to the logit."""
    p = np.linspace(0.01, 0.99, 50 if fast else 300)
    logits = np.log(p) - np.log1p(-p)
    fig, (ax, dax) = _figure(11, 4.0, 2)
    for gamma in gammas:
        def focal(z: ag.Tensor, gamma: float = gamma) -> ag.Tensor:
            return L.sigmoid_focal(z, np.ones(z.shape[0]), alpha=-1.0, gamma=gamma, reduction="none")

        value, derivative = _derivative(focal, logits)
        label = "cross entropy (γ = 0)" if gamma == 0 else f"focal γ = {gamma:g}"
        ax.plot(p, value, label=label)
        dax.plot(p, np.abs(derivative), label=label)
    ax.axvspan(0.6, 1.0, color="0.9", zorder=0, label="well-classified examples")
    ax.set(xlabel="probability of the true class  $p_t$", ylabel="loss", title="focal loss against cross entropy", ylim=(0, 5))
    dax.set(xlabel="probability of the true class  $p_t$", ylabel="|d loss / d logit|",
            title="gradient with respect to the logit", yscale="log", ylim=(1e-6, 2))
    for a in (ax, dax):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("focal loss (Lin et al. 2017): easy examples are down-weighted by $(1 - p_t)^\\gamma$")
    return fig


def robust_regression(fast: bool = False) -> Any:
    """MSE, MAE, Huber and log-cosh of the residual: value and gradient side by side."""
    x = np.linspace(-3.0, 3.0, 61 if fast else 401)
    zeros = np.zeros_like(x)
    curves = (
        ("MSE", lambda t: L.mse(t, zeros, reduction="none")),
        ("MAE", lambda t: L.mae(t, zeros, reduction="none")),
        ("Huber δ = 1", lambda t: L.huber(t, zeros, delta=1.0, reduction="none")),
        ("log-cosh", lambda t: L.log_cosh(t, zeros, reduction="none")),
    )
    fig, (ax, dax) = _figure(11, 4.0, 2)
    for label, fn in curves:
        value, derivative = _derivative(fn, x)
        ax.plot(x, value, label=label)
        dax.plot(x, derivative, label=label)
    ax.set(xlabel="residual  prediction − target", ylabel="loss", title="value", ylim=(0, 4.5))
    dax.set(xlabel="residual  prediction − target", ylabel="d loss / d prediction", title="gradient: bounded for MAE, Huber and log-cosh")
    for a in (ax, dax):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("robust regression losses: how hard an outlier pulls")
    return fig


# ---------------------------------------------------------------------------- the landscape


def _toy_problem(seed: int = 0, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-moons with noise: a problem a linear model cannot solve."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    y = rng.integers(0, 2, n)
    x = np.where(y[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    return x + 0.25 * rng.standard_normal((n, 2)), y


def train_toy_mlp(steps: int = 300, seed: int = 0, hidden: int = 16) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """A 2-``hidden``-``hidden``-2 ReLU MLP trained by full-batch Adam on :func:`_toy_problem`.

    Returns ``(model, loss_fn, initial_params, trained_params)``.
    """
    from . import landscape, nn, optim

    rng = np.random.default_rng(seed)
    x, y = _toy_problem(seed)
    model = nn.Sequential(
        nn.Linear(2, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 2, rng=rng)
    )
    initial = landscape.parameters_of(model)
    opt = optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        L.cross_entropy(model(x), y).backward()
        opt.step()
    return model, landscape.model_loss(model, L.cross_entropy, x, y), initial, landscape.parameters_of(model)


def loss_landscape(fast: bool = False) -> Any:
    """Three panels of a small MLP's loss: interpolation init → trained, a 2-D filter-normalised
    slice around the trained weights, and 1-D slices along a random unit direction and the unit
    top Hessian eigenvector, with the quadratic model along the latter."""
    from . import landscape

    _, loss_fn, initial, trained = train_toy_mlp(steps=60 if fast else 300)
    fig, (ax, cax, sax) = _figure(13.5, 4.0, 3)

    alphas = np.linspace(-0.25, 1.25, 13 if fast else 61)
    ax.plot(alphas, landscape.interpolate(loss_fn, initial, trained, alphas), label=r"$L((1-\alpha)\theta_0 + \alpha\theta_1)$")
    ends = [landscape.evaluate(loss_fn, initial), landscape.evaluate(loss_fn, trained)]
    ax.plot([0, 1], ends, "o", color="k", label="initial (α = 0) and trained (α = 1)")
    ax.set(xlabel="α", ylabel="cross entropy", title="1-D linear interpolation")

    d1, d2 = landscape.random_direction(trained, rng=1), landscape.random_direction(trained, rng=2)
    grid = np.linspace(-1.0, 1.0, 9 if fast else 41)
    surface = landscape.slice_2d(loss_fn, trained, d1, d2, grid, grid)
    levels = np.quantile(surface, np.linspace(0.02, 0.98, 12))
    contour = cax.contour(grid, grid, surface, levels=np.unique(levels), cmap="viridis", linewidths=1)
    cax.clabel(contour, fontsize=7, fmt="%.2f")
    cax.plot(0, 0, "*", color="crimson", ms=12, label="trained weights")
    cax.set(xlabel="α  (filter-normalised direction δ)", ylabel="β  (filter-normalised direction η)",
            title="2-D slice  L(θ + αδ + βη)", aspect="equal")

    eig = landscape.top_eigenvalues(loss_fn, trained, k=1, iters=20 if fast else 100, tol=1e-4)
    lam, top = eig.values[0], eig.vectors[0]  # a unit vector
    unit = {k: v / landscape.norm(d1) for k, v in d1.items()}
    t = np.linspace(-1.0, 1.0, 13 if fast else 61)
    center = landscape.evaluate(loss_fn, trained)
    sax.plot(t, landscape.slice_1d(loss_fn, trained, unit, t), label="random filter-normalised direction")
    sax.plot(t, landscape.slice_1d(loss_fn, trained, top, t), label=f"top Hessian eigenvector, λ = {lam:.3g}")
    sax.plot(t, center + 0.5 * lam * t**2, "--", color="0.4", label=r"quadratic model $L(\theta) + \frac{1}{2}\lambda t^2$")
    sax.set(xlabel="distance t from the trained weights  (unit directions)", ylabel="cross entropy",
            title="1-D slices: the sharpest direction", ylim=(0, None))
    for a in (ax, cax, sax):
        a.legend(fontsize=8, loc="upper center" if a is not cax else "upper right")
        a.grid(alpha=0.3)
    fig.suptitle("loss landscape of a 2-16-16-2 ReLU MLP on two moons (Li et al. 2018)")
    return fig


# ---------------------------------------------------------------------------- all of them


def figure_functions(fast: bool = False) -> dict[str, Callable[[], Any]]:
    """``{file name: () -> Figure}`` for every figure that needs no input."""
    figures: dict[str, Callable[[], Any]] = {
        f"gallery_{family}.png": (lambda family=family: loss_gallery(family, fast)) for family in FAMILIES
    }
    figures["focal.png"] = lambda: focal_vs_ce(fast)
    figures["robust_regression.png"] = lambda: robust_regression(fast)
    figures["landscape.png"] = lambda: loss_landscape(fast)
    return figures


def save(fig: Any, path: str | pathlib.Path) -> pathlib.Path:
    """Write ``fig`` as a PNG without a timestamp or version in its metadata (reproducible bytes)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


class FigureInputError(ValueError):
    """An input of ``nploss figures`` that cannot be used (a ``--fewshot-log`` that is missing,
    unreadable, empty or lacks a column); the command prints it and exits 2."""


#: The columns of ``log.csv`` the few-shot figures draw.
FEWSHOT_LOG_COLUMNS = ("episode", "ce", "var", "cov", "lambda_var", "lambda_cov", "accuracy", "cos_ce_var", "cos_ce_cov", "cos_var_cov")


def read_fewshot_log(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """The columns of a ``log.csv`` of ``nploss train``, or :class:`FigureInputError` saying why not."""
    import csv

    from .fewshot import figures as fewshot_figures

    path = pathlib.Path(path)
    what = f"--fewshot-log {path}"
    if not path.exists():
        raise FigureInputError(f"{what}: no such file (expected the log.csv that nploss train writes)")
    if not path.is_file():
        raise FigureInputError(f"{what}: not a file (expected the log.csv that nploss train writes)")
    try:
        log = fewshot_figures.read_log(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise FigureInputError(f"{what}: cannot be read as a CSV file ({error})") from None
    except (ValueError, TypeError) as error:  # no rows, a cell that is not a number, a short row
        raise FigureInputError(f"{what}: not a training log of nploss train ({error or type(error).__name__})") from None
    missing = [c for c in FEWSHOT_LOG_COLUMNS if c not in log]
    if missing:
        raise FigureInputError(f"{what}: no column {', '.join(missing)} (expected the log.csv that nploss train writes)")
    return log


def write_all(out: str | pathlib.Path = "figures", fast: bool = False, fewshot_log: str | pathlib.Path | None = None) -> list[pathlib.Path]:
    """Regenerate every figure into ``out``; returns the paths written, in order.

    ``fewshot_log``: a ``log.csv`` of ``nploss train``, which adds ``fewshot_dynamics.png`` and
    ``fewshot_interference.png``; it is read first, and one that cannot be used raises
    :class:`FigureInputError` before any figure is drawn.
    """
    out = pathlib.Path(out)
    log = None if fewshot_log is None else read_fewshot_log(fewshot_log)
    paths = [save(make(), out / name) for name, make in figure_functions(fast).items()]
    if log is not None:
        from .fewshot import figures as fewshot_figures

        paths.append(fewshot_figures.training_dynamics(log, out / "fewshot_dynamics.png"))
        paths.append(fewshot_figures.gradient_interference(log, out / "fewshot_interference.png"))
    return paths
