r"""Few-shot evaluation: N-way K-shot accuracy over test episodes with a 95% confidence interval,
and the 20 official Omniglot one-shot runs.

The interval is the normal one over episodes, :math:`\bar a \pm 1.96\, s / \sqrt{n}` (``s`` the
sample standard deviation of the per-episode accuracies), as reported by Snell et al. 2017 and
most few-shot papers. The model is in evaluation mode: batch norm uses its running statistics,
so an episode's queries do not influence each other (no transduction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd import no_grad
from .episodes import EpisodeSampler
from .model import ProtoNet


@dataclass
class Accuracy:
    """Mean accuracy over episodes and the half-width of its 95% confidence interval."""

    mean: float
    ci95: float
    episodes: int

    def __str__(self) -> str:
        return f"{100 * self.mean:.2f}% ± {100 * self.ci95:.2f}% (95% CI, {self.episodes} episodes)"


def summarise(accuracies: np.ndarray) -> Accuracy:
    accuracies = np.asarray(accuracies, dtype=np.float64)
    n = len(accuracies)
    half = 1.96 * accuracies.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
    return Accuracy(float(accuracies.mean()), float(half), n)


def classify(model: ProtoNet, support_images: np.ndarray, support_labels: np.ndarray, query_images: np.ndarray, ways: int) -> np.ndarray:
    """Predicted episode label of every query image."""
    model.eval()
    with no_grad():
        out = model(support_images, support_labels, query_images, ways)
        logits = model.logits(out["query"], out["prototypes"])
    return np.argmax(backend.to_numpy(logits.data), axis=1)


def evaluate(model: ProtoNet, sampler: EpisodeSampler, episodes: int = 600, progress: bool = False) -> Accuracy:
    """Accuracy over ``episodes`` episodes drawn by ``sampler``."""
    from tqdm import tqdm

    accuracies = []
    for _ in tqdm(range(episodes), desc="evaluating", unit="episode", disable=not progress):
        episode = sampler.sample()
        predicted = classify(model, episode.support_images, episode.support_labels, episode.query_images, episode.ways)
        accuracies.append(np.mean(predicted == episode.query_labels))
    return summarise(np.array(accuracies))


def omniglot_runs(model: ProtoNet, path: str) -> tuple[float, list[float]]:
    """The official one-shot score (Lake et al. 2015) on ``all_runs.zip``: each run's 20
    training images are the prototypes, each test image picks the nearest."""
    from ..data import omniglot

    runs = omniglot.load_runs(path)
    return omniglot.score_runs(runs, lambda train, test: classify(model, train, np.arange(len(train)), test, len(train)))
