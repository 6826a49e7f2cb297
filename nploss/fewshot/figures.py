"""Figures of a few-shot run: the training dynamics of seed 000 §5, the gradient-interference
diagnostic of §3, and the adaptive λ_var on fine-grained against coarse episodes (§3.1)."""

from __future__ import annotations

import csv
import pathlib
from typing import Any

import numpy as np


def read_log(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """The columns of a ``log.csv`` as float arrays (empty cells are NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no episodes")
    return {k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows]) for k in rows[0]}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` episodes (NaNs skipped; same length as the input)."""
    ok = np.isfinite(values)
    kernel = np.ones(window)
    total = np.convolve(np.where(ok, values, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def training_dynamics(log: dict[str, np.ndarray], path: str | pathlib.Path, title: str = "") -> pathlib.Path:
    """Three panels over episodes: the loss terms, the λs and the training accuracy."""
    import matplotlib.pyplot as plt

    window = max(1, len(log["episode"]) // 50)
    x = log["episode"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, label in (("ce", r"$\mathcal{L}_{CE}$"), ("var", r"$\mathcal{L}_{var}$"), ("cov", r"$\mathcal{L}_{cov}$")):
        if np.isfinite(log[name]).any():
            axes[0].plot(x, smooth(log[name], window), label=label)
    axes[0].set(xlabel="episode", ylabel="loss term", yscale="log", title="loss terms")
    for name, label in (("lambda_var", r"$\lambda_{var}$"), ("lambda_cov", r"$\lambda_{cov}$")):
        axes[1].plot(x, log[name], label=label)
    axes[1].set(xlabel="episode", ylabel="weight", title="regulariser weights")
    axes[2].plot(x, smooth(log["accuracy"], window), label="query accuracy")
    axes[2].set(xlabel="episode", ylabel="accuracy", ylim=(0, 1.02), title="training accuracy")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"training dynamics (moving average over {window} episodes)")
    fig.tight_layout()
    return _save(fig, path)


def gradient_interference(log: dict[str, np.ndarray], path: str | pathlib.Path, title: str = "") -> pathlib.Path:
    """Cosines between the backbone gradients of the three terms over training."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, label in (("cos_ce_var", r"cos($g_{CE}$, $g_{var}$)"), ("cos_ce_cov", r"cos($g_{CE}$, $g_{cov}$)"), ("cos_var_cov", r"cos($g_{var}$, $g_{cov}$)")):
        ok = np.isfinite(log[name])
        if ok.any():
            ax.plot(log["episode"][ok], log[name][ok], marker=".", lw=1, label=label)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(xlabel="episode", ylabel="cosine", ylim=(-1, 1), title=title or "gradient interference on the backbone")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def lambda_by_granularity(fine: np.ndarray, coarse: np.ndarray, path: str | pathlib.Path) -> pathlib.Path:
    """Histograms of the predicted λ_var on fine-grained and on coarse episodes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    bins = np.linspace(min(fine.min(), coarse.min()), max(fine.max(), coarse.max()), 30)
    ax.hist(fine, bins=bins, alpha=0.6, label=f"fine-grained (one script), mean {fine.mean():.3f}")
    ax.hist(coarse, bins=bins, alpha=0.6, label=f"coarse (any scripts), mean {coarse.mean():.3f}")
    ax.set(xlabel=r"predicted $\lambda_{var}$", ylabel="episodes", title=r"episode-adaptive $\lambda_{var}$")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def predicted_lambdas(trainer: Any, sampler: Any, episodes: int) -> np.ndarray:
    """The λ network's raw prediction (no EMA) on ``episodes`` episodes of ``sampler``: (episodes, 2)."""
    from ..autograd import no_grad
    from .adaptive import episode_statistics

    trainer.model.eval()
    values = []
    with no_grad():
        for _ in range(episodes):
            ep = sampler.sample()
            out = trainer.model(ep.support_images, ep.support_labels, ep.query_images, ep.ways)
            labels = np.concatenate([ep.support_labels, ep.query_labels])
            values.append(trainer.lambdas.predict(episode_statistics(out["prototypes"], out["embeddings"], labels)).data)
    return np.array(values)


def _save(fig: Any, path: str | pathlib.Path) -> pathlib.Path:
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
