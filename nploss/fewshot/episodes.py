"""N-way K-shot episodes drawn from a labelled image set.

An episode picks ``ways`` classes at random, then ``shots`` support and ``queries`` query images
of each, without overlap; its labels are renumbered 0..ways-1 in the order the classes were
drawn, so a model can never learn a class's identity across episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Episode:
    """Support images (ways*shots, H, W) with labels, query images (ways*queries, H, W) with labels,
    the original class of each episode label, and the indices of the images in the sampler's set."""

    support_images: np.ndarray
    support_labels: np.ndarray
    query_images: np.ndarray
    query_labels: np.ndarray
    classes: np.ndarray
    support_index: np.ndarray | None = None
    query_index: np.ndarray | None = None

    @property
    def ways(self) -> int:
        return len(self.classes)


API_NAMES = {"ways": "ways=", "shots": "shots=", "queries": "queries="}


def check_episode_size(
    labels: np.ndarray,
    ways: int,
    shots: int,
    queries: int,
    groups: np.ndarray | None = None,
    names: dict[str, str] | None = None,
    where: str = "the data",
    prefix: str = "",
) -> None:
    """Refuse episodes the data cannot give, with a message naming the setting and its limit.

    ``ways`` classes of ``shots + queries`` images each are needed (all from one group when
    ``groups``, a group per class, is given). ``names`` maps ``ways``/``shots``/``queries`` to how
    the caller spells them before a value (``"shots="`` by default, ``"--shots "`` on the command
    line); ``where`` names the data in the message.
    """
    n = {**API_NAMES, **(names or {})}
    bare = {k: v.strip().rstrip("=") for k, v in n.items()}
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    need = shots + queries
    most = int(counts.max()) if counts.size else 0
    if need > most:
        raise ValueError(
            f"{prefix}{n['shots']}{shots} + {n['queries']}{queries} need {need} images of each class, but {where} has at most "
            f"{most} images per class: {bare['shots']} + {bare['queries']} must be at most {most}"
        )
    enough = int((counts >= need).sum())
    if ways > enough:
        raise ValueError(
            f"{prefix}{n['ways']}{ways}: {ways}-way episodes with {shots} shot{'s' * (shots != 1)} and {queries} quer{'ies' if queries != 1 else 'y'} need {ways} classes "
            f"with at least {need} images each; {where} has {enough}: {bare['ways']} must be at most {enough}"
        )
    if groups is not None:
        groups = np.asarray(groups)
        if int(classes.min()) < 0 or len(groups) <= int(classes.max()):
            raise ValueError(f"{prefix}groups has {len(groups)} entries (a group per class) but the labels run from {int(classes.min())} to {int(classes.max())}")
        _, per_group = np.unique(groups[classes[counts >= need]], return_counts=True)
        largest = int(per_group.max()) if per_group.size else 0
        if ways > largest:
            raise ValueError(
                f"{prefix}{n['ways']}{ways} within one group: no group (script or alphabet) of {where} has {ways} classes with "
                f"at least {need} images each; the largest has {largest}: {bare['ways']} must be at most {largest} for episodes within a group"
            )


class EpisodeSampler:
    """Draws episodes from ``images`` (M, H, W) with class ``labels`` (M,).

    Parameters
    ----------
    ways, shots, queries : int
        Classes per episode, support and query images per class.
    seed : int
        Seeds the sampler's generator: the same seed gives the same sequence of episodes.
    groups : array of shape (num_classes,), optional
        A group per class (the script of a glyph, the alphabet of an Omniglot character). With
        ``within_group=True`` every episode draws its classes from one group, as the official
        Omniglot runs do (fine-grained episodes); a fraction in (0, 1) draws that share of the
        episodes within one group and the others from all classes (a mix of fine-grained and
        coarse episodes).
    augment : callable, optional
        ``augment(images, rng) -> images``, applied to the support and query images of every
        episode with the sampler's own generator (so a resumed run draws the same warps), e.g.
        :func:`nploss.data.augment.random_affine` for training.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        ways: int,
        shots: int,
        queries: int,
        seed: int = 0,
        groups: np.ndarray | None = None,
        within_group: bool | float = False,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    ) -> None:
        for name, value in (("ways", ways), ("shots", shots), ("queries", queries)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ValueError(f"EpisodeSampler: {name} must be a positive int, got {value!r}")
        if len(images) != len(labels):
            raise ValueError(f"EpisodeSampler: {len(images)} images but {len(labels)} labels")
        self.within_group = float(within_group)
        if not 0.0 <= self.within_group <= 1.0:
            raise ValueError(f"EpisodeSampler: within_group must be a bool or a fraction in [0, 1], got {within_group!r}")
        if self.within_group > 0 and groups is None:
            raise ValueError("EpisodeSampler: within_group=True needs groups")
        check_episode_size(labels, ways, shots, queries, groups if self.within_group > 0 else None, prefix="EpisodeSampler: ")
        self.images, self.ways, self.shots, self.queries = images, int(ways), int(shots), int(queries)
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        order = np.argsort(labels, kind="stable")
        classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
        need = shots + queries
        usable = counts >= need
        self.classes = classes[usable]
        self.members = {int(c): order[s : s + n] for c, s, n in zip(classes, starts, counts) if n >= need}
        self.pools: list[np.ndarray] = []
        if self.within_group > 0:
            groups = np.asarray(groups)[self.classes]
            self.pools = [self.classes[groups == g] for g in np.unique(groups)]
            self.pools = [p for p in self.pools if len(p) >= ways]

    def sample(self) -> Episode:
        # (only a mix draws the coin, so all-coarse and all-fine runs keep their episode sequences)
        fine = self.within_group == 1.0 or (self.within_group > 0 and self.rng.random() < self.within_group)
        pool = self.pools[self.rng.integers(len(self.pools))] if fine else self.classes
        chosen = self.rng.choice(pool, self.ways, replace=False)
        support, query = [], []
        for c in chosen:
            picked = self.rng.choice(self.members[int(c)], self.shots + self.queries, replace=False)
            support.append(picked[: self.shots])
            query.append(picked[self.shots :])
        support_index, query_index = np.concatenate(support), np.concatenate(query)
        support_images, query_images = self.images[support_index], self.images[query_index]
        if self.augment is not None:
            support_images, query_images = self.augment(support_images, self.rng), self.augment(query_images, self.rng)
        return Episode(
            support_images,
            np.repeat(np.arange(self.ways), self.shots),
            query_images,
            np.repeat(np.arange(self.ways), self.queries),
            chosen,
            support_index,
            query_index,
        )

    def held_out(self, episode: Episode, queries: int) -> Episode:
        """``episode`` with fresh query images: up to ``queries`` per class of its classes, none of
        them in the episode (the same number for every class). The validation queries of the
        adaptive λ's hypergradient (:mod:`nploss.fewshot.adaptive`)."""
        if episode.support_index is None or episode.query_index is None:
            raise ValueError("EpisodeSampler.held_out needs an episode drawn by a sampler (with its image indices)")
        used = np.concatenate([episode.support_index, episode.query_index])
        left = [np.setdiff1d(self.members[int(c)], used) for c in episode.classes]
        n = min(queries, *(len(x) for x in left))
        if n == 0:
            raise ValueError("EpisodeSampler.held_out: a class of the episode has no image left")
        query_index = np.concatenate([self.rng.choice(x, n, replace=False) for x in left])
        query_images = self.images[query_index]
        if self.augment is not None:
            query_images = self.augment(query_images, self.rng)
        labels = np.repeat(np.arange(episode.ways), n)
        return Episode(episode.support_images, episode.support_labels, query_images, labels, episode.classes, episode.support_index, query_index)
