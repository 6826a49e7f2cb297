"""The few-shot prototypical network: model, episodes, adaptive loss weights, training and
evaluation (see ``nploss train`` and ``nploss evaluate``)."""

from .adaptive import EpisodeAdaptiveLambda, episode_statistics
from .episodes import Episode, EpisodeSampler
from .model import ProtoNet, PrototypeRefiner, conv4
from .train import TrainConfig, Trainer, load_model

__all__ = [
    "ProtoNet", "PrototypeRefiner", "conv4", "Episode", "EpisodeSampler",
    "EpisodeAdaptiveLambda", "episode_statistics", "Trainer", "TrainConfig", "load_model",
]  # fmt: skip
