r"""Episodic training of the prototypical network with the seed's total loss.

.. math::  \mathcal{L} = \mathcal{L}_{CE} + \lambda_{var}\,\mathcal{L}_{var} + \lambda_{cov}\,\mathcal{L}_{cov}

(:func:`nploss.losses.prototypical`, :func:`~nploss.losses.prototype_variance`,
:func:`~nploss.losses.covariance`), with :math:`\mathcal{L}_{CE}` switchable to the focal loss and
the λs fixed or predicted per episode (:mod:`nploss.fewshot.adaptive`).

Every ``diagnose_every`` episodes (and on every update of the adaptive λ network) the three
terms are differentiated separately, which gives (a) the step itself,
:math:`g = g_{CE} + \lambda_{var} g_{var} + \lambda_{cov} g_{cov}`; (b) the gradient-interference
diagnostic of seed 000 §3: the cosines between the backbone gradients of the terms; and (c) the
look-ahead hypergradient that trains the λ network. Other episodes take one backward pass of
the total.

Each episode appends a row to ``log.csv``; checkpoints (``checkpoint.npz``) are written
atomically and a run resumes from one exactly where it stopped.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import autograd as ag
from .. import backend, heap, nn, optim
from .. import losses as L
from ..data.augment import random_affine
from . import checkpoint
from .adaptive import EpisodeAdaptiveLambda, episode_statistics
from .episodes import Episode, EpisodeSampler
from .model import ProtoNet

# Training-time warps of 28x28 images (``augment=True``): milder than the glyphs' own distortions,
# which are drawn at twice the resolution.
TRAIN_AUGMENT = {"degrees": 10.0, "shear": 0.15, "scale": (0.9, 1.1), "shift": 2.0}

LOG_COLUMNS = (
    "episode", "loss", "ce", "var", "cov", "lambda_var", "lambda_cov", "accuracy",
    "cos_ce_var", "cos_ce_cov", "cos_var_cov", "lr", "seconds",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a run depends on; saved in its checkpoints. See ``nploss train --help``."""

    data: str = "glyphs"
    omniglot: list[str] = field(default_factory=list)
    ways: int = 10
    shots: int = 1
    queries: int = 5
    episodes: int = 1500
    loss: str = "ce"
    gamma: float = 2.0
    var: bool = True
    cov: bool = True
    lambda_mode: str = "fixed"
    lambda_var: float = 0.1
    lambda_cov: float = 0.01
    lambda_every: int = 10
    lambda_target: str = "episode"  # queries of the λ hypergradient: the episode's own, or fresh images ("held_out")
    lookahead_lr: float = 0.1
    diagnose_every: int = 25
    metric: str = "euclidean"
    refine: bool = False
    within_group: float = 0.0  # share of training episodes drawn from one script/alphabet
    augment: bool = False
    hidden: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    dtype: str = "float32"
    backend: str = "numpy"
    checkpoint_every: int = 250

    def __post_init__(self) -> None:
        choices = {"data": ("glyphs", "omniglot"), "loss": ("ce", "focal"), "lambda_mode": ("fixed", "adaptive"),
                   "metric": ("euclidean", "cosine"), "lambda_target": ("held_out", "episode"), "optimizer": ("adam", "sgd"), "backend": ("numpy", "cupy"),
                   "dtype": ("float32", "float64")}  # fmt: skip
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("ways", "shots", "queries", "episodes", "lambda_every", "diagnose_every", "hidden", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        if self.ways < 2:
            raise ValueError(f"ways must be at least 2, got {self.ways}")
        if not 0.0 <= float(self.within_group) <= 1.0:
            raise ValueError(f"within_group must be a fraction in [0, 1], got {self.within_group!r}")
        for name in ("lambda_var", "lambda_cov", "gamma", "lr", "weight_decay", "lookahead_lr"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.data == "omniglot" and not self.omniglot:
            raise ValueError("data='omniglot' needs the paths of the background zips (--omniglot PATH ...)")


def load_split(config: TrainConfig, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and a group per class (script or alphabet) of the ``split`` of the run's data."""
    if config.data == "omniglot":
        from ..data import omniglot

        if split != "train":
            raise ValueError("the Omniglot background sets are for training; evaluate on the official runs")
        background = omniglot.load_background(config.omniglot)
        alphabets = np.array([name.split("/")[0] for name in background.classes])
        return background.images, background.labels, alphabets
    from ..data import glyphs

    data = glyphs.load()
    images, labels = data.split(split)
    return images, labels, data.scripts[data.splits == split]


def _flat(grads: list[Any]) -> np.ndarray:
    return np.concatenate([backend.to_numpy(g).ravel().astype(np.float64) for g in grads])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else math.nan


class Trainer:
    """Builds the model, the optimiser(s) and the sampler from a :class:`TrainConfig`, and
    trains episode by episode (:meth:`step`, :meth:`run`)."""

    def __init__(self, config: TrainConfig, data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        self.config = config
        backend.use(config.backend)
        heap.keep_freed_memory()  # the same large arrays every step: keep their memory (nploss.heap)
        images, labels, groups = data if data is not None else load_split(config, "train")
        augment = functools.partial(random_affine, **TRAIN_AUGMENT) if config.augment else None
        self.sampler = EpisodeSampler(
            images, labels, config.ways, config.shots, config.queries, seed=config.seed,
            groups=groups, within_group=config.within_group, augment=augment,
        )  # fmt: skip
        self.model = ProtoNet(hidden=config.hidden, metric=config.metric, refine=config.refine, dtype=config.dtype, seed=config.seed)
        self.params = list(self.model.parameters())
        self.names = [n for n, _ in self.model.named_parameters()]
        if config.optimizer == "adam":
            self.optimizer: optim.Optimizer = optim.Adam(self.params, lr=config.lr, weight_decay=config.weight_decay)
        else:
            self.optimizer = optim.SGD(self.params, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)
        self.lambdas = EpisodeAdaptiveLambda(seed=config.seed) if config.lambda_mode == "adaptive" else None
        self.lambda_optimizer = optim.Adam(self.lambdas.parameters(), lr=1e-2) if self.lambdas else None
        self.episode = 0

    # ---------------------------------------------------------------- the loss of one episode

    def terms(self, episode: Episode, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Embeddings, prototypes and the three loss terms of an episode (``params`` replaces the
        model's parameters, for the look-ahead)."""
        c = self.config
        call = (lambda *a: nn.functional_call(self.model, params, *a)) if params else self.model
        out = call(episode.support_images, episode.support_labels, episode.query_images, episode.ways)
        protos = out["prototypes"]
        # The prototypes are already class means; as "support" with one label each they are
        # their own means, which lets the loss also score refined prototypes.
        ce = L.prototypical(
            out["query"], protos, np.arange(episode.ways), episode.query_labels,
            metric=c.metric, scale=self.model.scale() if not params else _scale(self.model, params), loss=c.loss, gamma=c.gamma,
        )  # fmt: skip
        out["ce"] = ce
        out["var"] = L.prototype_variance(protos) if c.var else None
        out["cov"] = L.covariance(out["embeddings"]) if c.cov else None
        return out

    def lambda_values(self, out: dict[str, Any], episode: Episode) -> Any:
        """(λ_var, λ_cov): constants, or a Tensor from the adaptive network."""
        if self.lambdas is None:
            return np.array([self.config.lambda_var, self.config.lambda_cov])
        labels = np.concatenate([episode.support_labels, episode.query_labels])
        return self.lambdas(episode_statistics(out["prototypes"], out["embeddings"], labels))

    # ---------------------------------------------------------------- one training step

    def step(self, episode: Episode) -> dict[str, float]:
        c = self.config
        start = time.perf_counter()
        self.model.train()
        out = self.terms(episode)
        lam = self.lambda_values(out, episode)
        lam_value = backend.to_numpy(ag.as_data(lam)).astype(np.float64)  # two numbers, for the log
        active = [(name, out[name], w) for name, w in (("ce", 1.0), ("var", lam_value[0]), ("cov", lam_value[1])) if out[name] is not None]
        total = sum(float(w) * t for _, t, w in active)
        row: dict[str, float] = {k: math.nan for k in LOG_COLUMNS}
        diagnose = self.episode % c.diagnose_every == 0 or (self.lambdas is not None and self.episode % c.lambda_every == 0)
        self.optimizer.zero_grad()
        if diagnose:
            per_term = self.term_gradients(out)
            for i, p in enumerate(self.params):
                p.grad = ag.Tensor(sum(float(w) * per_term[name][i] for name, _, w in active))
            backbone = [i for i, n in enumerate(self.names) if n.startswith("backbone.")]
            flat = {name: _flat([g[i] for i in backbone]) for name, g in per_term.items()}
            for a, b in (("ce", "var"), ("ce", "cov"), ("var", "cov")):
                if a in flat and b in flat:
                    row[f"cos_{a}_{b}"] = _cosine(flat[a], flat[b])
            if self.lambdas is not None and self.episode % c.lambda_every == 0:
                self.lambda_optimizer.zero_grad()
                target = self.sampler.held_out(episode, c.queries) if c.lambda_target == "held_out" else episode
                self.lookahead_loss(episode, lam, per_term, target).backward()
                self.lambda_optimizer.step()
        else:
            total.backward()
        self.optimizer.step()
        queries = out["query"]
        predicted = np.argmax(backend.to_numpy(self.model.logits(queries, out["prototypes"]).data), axis=1)
        row.update(
            episode=self.episode, loss=float(total.data), ce=float(out["ce"].data),
            var=float(out["var"].data) if out["var"] is not None else math.nan,
            cov=float(out["cov"].data) if out["cov"] is not None else math.nan,
            lambda_var=float(lam_value[0]), lambda_cov=float(lam_value[1]),
            accuracy=float(np.mean(predicted == episode.query_labels)), lr=float(self.optimizer.lr),
            seconds=time.perf_counter() - start,
        )  # fmt: skip
        self.episode += 1
        return row

    def term_gradients(self, out: dict[str, Any]) -> dict[str, list[Any]]:
        """``{term: [gradient array per parameter]}`` for each active loss term, one backward pass
        each (zeros where a term does not reach a parameter)."""
        grads = {}
        for name in ("ce", "var", "cov"):
            if out[name] is not None:
                gs = ag.grad(out[name], self.params, allow_unused=True)
                grads[name] = [g.data if g is not None else backend.xp().zeros_like(p.data) for g, p in zip(gs, self.params)]
        return grads

    def lookahead_loss(self, episode: Episode, lam: Any, per_term: dict[str, list[Any]], target: Episode | None = None) -> Any:
        r"""The query loss :math:`\mathcal{L}_{CE}(\theta'(\lambda))` after one look-ahead step (see
        :mod:`nploss.fewshot.adaptive`) on the queries of ``target`` (default ``episode``), as a
        Tensor that depends on ``lam`` (2,). The batch-norm running statistics are left as they were."""
        alpha = self.config.lookahead_lr
        lam = ag.astype(lam, self.params[0].dtype) if isinstance(lam, ag.Tensor) else lam
        ahead = {}
        for i, (name, p) in enumerate(zip(self.names, self.params)):
            step = per_term["ce"][i]
            for k, term in ((0, "var"), (1, "cov")):
                if term in per_term:
                    step = step + lam[k] * per_term[term][i]
            ahead[name] = ag.Tensor(p.data) - alpha * step
        saved = {name: b.data.copy() for name, b in self.model.named_buffers()}
        try:
            return self.terms(target if target is not None else episode, params=ahead)["ce"]
        finally:
            for name, b in self.model.named_buffers():
                b.data[...] = saved[name]

    # ---------------------------------------------------------------- the whole run

    def learning_rate(self) -> float:
        """Step decay: the rate halves at 50% and again at 75% of the episodes."""
        done = self.episode / self.config.episodes
        return self.config.lr * (0.5 if done >= 0.5 else 1.0) * (0.5 if done >= 0.75 else 1.0)

    def run(self, out_dir: str | pathlib.Path, progress: bool = True, until: int | None = None) -> list[dict[str, float]]:
        """Train until ``config.episodes`` (or stop early at episode ``until``), logging to
        ``out_dir/log.csv`` and checkpointing to ``out_dir/checkpoint.npz``; returns the rows
        of this call. The learning-rate schedule always follows ``config.episodes``."""
        stop = self.config.episodes if until is None else min(until, self.config.episodes)
        from tqdm import tqdm

        out_dir = pathlib.Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        log_path = out_dir / "log.csv"
        fresh = self.episode == 0 or not log_path.exists()
        rows = []
        with open(log_path, "w" if fresh else "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
            if fresh:
                writer.writeheader()
            bar = tqdm(total=self.config.episodes, initial=self.episode, desc="training", unit="episode", disable=not progress)
            with bar:
                while self.episode < stop:
                    self.optimizer.lr = self.learning_rate()
                    row = self.step(self.sampler.sample())
                    rows.append(row)
                    writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
                    recent = rows[-50:]
                    bar.set_postfix(
                        ce=f"{row['ce']:.3f}", var=f"{row['var']:.3f}", cov=f"{row['cov']:.3f}",
                        lv=f"{row['lambda_var']:.3f}", lc=f"{row['lambda_cov']:.3f}",
                        acc=f"{np.mean([r['accuracy'] for r in recent]):.3f}",
                    )  # fmt: skip
                    bar.update(1)
                    if self.episode % self.config.checkpoint_every == 0 or self.episode == stop:
                        f.flush()
                        self.save(out_dir / "checkpoint.npz")
        return rows

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        optimizers = {"model": self.optimizer}
        extra = {}
        if self.lambdas is not None:
            optimizers["lambda"] = self.lambda_optimizer
            extra["lambda"] = self.lambdas
        meta = {"config": dataclasses.asdict(self.config), "episode": self.episode, "sampler": self.sampler.rng.bit_generator.state}
        return checkpoint.save(path, self.model, optimizers, meta, extra)

    @classmethod
    def resume(cls, path: str | pathlib.Path, data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, **overrides: Any) -> Trainer:
        """A trainer restored from a checkpoint (``overrides`` may extend ``episodes``)."""
        arrays, meta = checkpoint.load(path)  # validated: meta's schema, the arrays' shapes, finite values
        config = TrainConfig(**{**meta["config"], **overrides})
        if config.episodes < meta["episode"]:
            raise ValueError(f"episodes={config.episodes} is fewer than the {meta['episode']} episodes checkpoint {path} has already trained")
        trainer = cls(config, data)
        optimizers = {"model": trainer.optimizer}
        extra = {}
        if trainer.lambdas is not None:
            optimizers["lambda"] = trainer.lambda_optimizer
            extra["lambda"] = trainer.lambdas
        checkpoint.restore(arrays, meta, trainer.model, optimizers, extra)
        trainer.episode = int(meta["episode"])
        trainer.sampler.rng.bit_generator.state = meta["sampler"]
        return trainer


def _scale(model: ProtoNet, params: dict[str, Any]) -> Any:
    return ag.exp(params["log_scale"]) if model.metric == "cosine" else 1.0


def load_model(path: str | pathlib.Path) -> tuple[ProtoNet, TrainConfig]:
    """The network of a checkpoint, in evaluation mode, and its configuration."""
    arrays, meta = checkpoint.load(path)
    config = TrainConfig(**meta["config"])
    model = ProtoNet(hidden=config.hidden, metric=config.metric, refine=config.refine, dtype=config.dtype, seed=config.seed)
    checkpoint.restore(arrays, meta, model, {})
    return model.eval(), config
