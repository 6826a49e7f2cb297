"""``nploss train`` and ``nploss evaluate``: the few-shot commands of the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import sys
import time
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import NoGPUError
from .train import TrainConfig

# Query images per class at evaluation: 15 as usual for 1-shot; a glyph class has 16 images, so
# 5-shot episodes keep 10 of the other 11 as queries.
EVAL_QUERIES = {1: 15, 5: 10}


def eval_queries(shots: int) -> int:
    """Query images per class of a test episode with ``shots`` support images per class."""
    return EVAL_QUERIES.get(shots, max(1, 16 - shots))


# ------------------------------------------------------------------ option types (argparse errors, exit 2)


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _finite_float(low: float = 0.0, high: float = math.inf) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            bounds = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f"a finite number >= {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    return parse


WAYS, POSITIVE, NON_NEGATIVE = _int_at_least(2), _int_at_least(1), _int_at_least(0)

# spelling of the episode settings in messages (see episodes.check_episode_size)
CLI_NAMES = {"ways": "--ways ", "shots": "--shots ", "queries": "--queries "}


def _check_default_queries(labels: np.ndarray, shots: int, option: str, where: str) -> None:
    """Refuse ``shots`` when the default queries (:func:`eval_queries`) make an episode need more
    images per class than ``where`` has, naming ``option`` and its limit."""
    most = int(np.unique(labels, return_counts=True)[1].max()) if len(labels) else 0
    queries = eval_queries(shots)
    if shots + queries > most:
        fits = [s for s in range(1, most) if s + eval_queries(s) <= most]
        limit = f"{option} must be at most {max(fits)}" if fits else "no number of shots fits"
        raise ValueError(
            f"{option} {shots} needs {shots + queries} images of each class ({shots} support + {queries} query), "
            f"but {where} has at most {most} images per class: {limit}"
        )


# ------------------------------------------------------------------ nploss train


def _train(args: argparse.Namespace) -> int:
    try:
        return _train_or_raise(args)
    except (ImportError, NoGPUError, ValueError, OSError, zipfile.BadZipFile) as error:  # bad options, files, data or backend
        print(f"nploss train: {error}", file=sys.stderr)
        return 2


def _options_ignored_by_resume(args: argparse.Namespace) -> list[str]:
    """The run options given with ``--resume`` (which keeps the checkpoint's configuration)."""
    defaults = TrainConfig()
    given = []
    for f in dataclasses.fields(TrainConfig):
        value = getattr(args, f.name, None)
        if f.name != "episodes" and value is not None and value != getattr(defaults, f.name):
            given.append({"var": "--no-var", "cov": "--no-cov"}.get(f.name, "--" + f.name.replace("_", "-")))
    return given


def _train_or_raise(args: argparse.Namespace) -> int:
    from .episodes import EpisodeSampler, check_episode_size
    from .evaluate import evaluate
    from .train import Trainer, load_split

    start = time.perf_counter()
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (it receives log.csv, checkpoint.npz and summary.json)")
    if args.resume:
        ignored = _options_ignored_by_resume(args)
        if ignored:
            raise ValueError(
                f"--resume continues the checkpoint's run with its own configuration; {', '.join(ignored)} cannot change it "
                "(with --resume give only --episodes, --out and the evaluation options)"
            )
        trainer = Trainer.resume(args.resume, **({"episodes": args.episodes} if args.episodes is not None else {}))
        print(f"resuming {args.resume} at episode {trainer.episode} of {trainer.config.episodes}", file=sys.stderr)
    else:
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields and v is not None})
        train_data = load_split(config, "train")
        where = "the Omniglot background set" if config.data == "omniglot" else "the training split"
        groups = train_data[2] if config.within_group > 0 else None
        check_episode_size(train_data[1], config.ways, config.shots, config.queries, groups, names=CLI_NAMES, where=where)
        trainer = Trainer(config, data=train_data)
    # the test episodes after training: checked now, not after hours of training
    test_data = None
    if trainer.config.data == "glyphs" and args.eval_episodes > 0:
        test_data = load_split(trainer.config, "test")
        for shots in args.eval_shots:
            _check_default_queries(test_data[1], shots, "--eval-shots", "the test split")
    rows = trainer.run(out, progress=not args.quiet)
    trained = time.perf_counter() - start
    summary = {"config": dataclasses.asdict(trainer.config), "train_seconds": round(trained, 1), "episodes_this_run": len(rows)}
    if trainer.config.data == "glyphs" and args.eval_episodes > 0:
        images, labels, _ = test_data
        for shots in args.eval_shots:
            acc = evaluate(trainer.model, EpisodeSampler(images, labels, 5, shots, eval_queries(shots), seed=trainer.config.seed + 1), args.eval_episodes)
            summary[f"test_5way_{shots}shot"] = {"mean": acc.mean, "ci95": acc.ci95, "episodes": acc.episodes}
            print(f"test 5-way {shots}-shot: {acc}")
    summary["total_seconds"] = round(time.perf_counter() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"trained {len(rows)} episodes in {trained:.0f} s; checkpoint {out / 'checkpoint.npz'}, log {out / 'log.csv'}")
    return 0


# ------------------------------------------------------------------ nploss evaluate


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    try:
        prepared = _prepare_evaluation(args)
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # a bad checkpoint (CheckpointError), option or file
        print(f"nploss evaluate: {error}", file=sys.stderr)
        return 2
    if prepared is not None:
        model, sampler = prepared
        acc = evaluate(model, sampler, args.episodes, progress=not args.quiet)
        print(f"{args.split} {args.ways}-way {args.shots}-shot: {acc}")
    return 0


def _prepare_evaluation(args: argparse.Namespace) -> tuple[Any, Any] | None:
    """The model and the episode sampler of ``nploss evaluate`` (None once the official Omniglot
    runs are scored); every bad checkpoint, option or file raises ValueError or OSError."""
    from .episodes import EpisodeSampler, check_episode_size
    from .evaluate import omniglot_runs, summarise
    from .train import load_model, load_split

    model, config = load_model(args.checkpoint)
    if args.omniglot_runs:
        if not pathlib.Path(args.omniglot_runs).exists():
            raise ValueError(f"{args.omniglot_runs} does not exist (the path of all_runs.zip)")
        try:
            score, per_run = omniglot_runs(model, args.omniglot_runs)
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"--omniglot-runs {args.omniglot_runs}: cannot read the official runs ({type(error).__name__}: {error})") from None
        half = summarise(per_run).ci95  # the runs are equal-sized, so their mean is the score
        print(f"Omniglot official one-shot runs (20-way within alphabet): {100 * score:.1f}% ± {100 * half:.1f}% (95% CI over {len(per_run)} runs)")
        print("per run: " + " ".join(f"{100 * s:.0f}" for s in per_run))
        return None
    data_config = dataclasses.replace(config, data="glyphs") if config.data == "omniglot" else config
    images, labels, groups = load_split(data_config, args.split)
    where = f"the {args.split} split"
    if args.queries is None:
        _check_default_queries(labels, args.shots, "--shots", where)
    queries = args.queries if args.queries is not None else eval_queries(args.shots)
    check_episode_size(labels, args.ways, args.shots, queries, groups if args.within_group else None, names=CLI_NAMES, where=where)
    sampler = EpisodeSampler(images, labels, args.ways, args.shots, queries, seed=args.seed, groups=groups, within_group=args.within_group)
    return model, sampler


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = TrainConfig()
    train = commands.add_parser(
        "train",
        help="train the few-shot prototypical network (embedded glyphs by default, or Omniglot)",
        description="Episodic training of a Conv-4 prototypical network with the total loss L_CE + λ_var L_var + λ_cov L_cov. "
        "Writes OUT/log.csv (one row per episode), OUT/checkpoint.npz (atomically, every --checkpoint-every episodes) "
        "and OUT/summary.json; on the embedded glyphs it then reports the 5-way 1-shot test accuracy (--eval-shots for more).",
    )
    add = train.add_argument
    add("--out", default="runs/fewshot", help="output folder (default runs/fewshot)")
    add("--data", choices=("glyphs", "omniglot"), default=d.data, help="training data (default: the embedded glyphs)")
    add("--omniglot", nargs="+", metavar="PATH", help="with --data omniglot: background zips, e.g. images_background_small1.zip images_background_small2.zip")
    add("--ways", type=WAYS, default=d.ways, help=f"classes per training episode (default {d.ways})")
    add("--shots", type=POSITIVE, default=d.shots, help=f"support images per class (default {d.shots})")
    add("--queries", type=POSITIVE, default=d.queries, help=f"query images per class (default {d.queries})")
    add("--episodes", type=POSITIVE, help=f"training episodes (default {d.episodes})")
    add("--loss", choices=("ce", "focal"), default=d.loss, help="classification term (default ce)")
    add("--gamma", type=_finite_float(), default=d.gamma, help=f"focal loss γ (default {d.gamma})")
    add("--no-var", dest="var", action="store_false", help="drop the prototype-variance term")
    add("--no-cov", dest="cov", action="store_false", help="drop the covariance term")
    add("--lambda-mode", choices=("fixed", "adaptive"), default=d.lambda_mode, help="fixed λs or the episode-adaptive network")
    add("--lambda-var", type=_finite_float(), default=d.lambda_var, help=f"fixed λ_var (default {d.lambda_var})")
    add("--lambda-cov", type=_finite_float(), default=d.lambda_cov, help=f"fixed λ_cov (default {d.lambda_cov})")
    add("--lambda-every", type=POSITIVE, default=d.lambda_every, help=f"episodes between updates of the λ network (default {d.lambda_every})")
    add("--lambda-target", choices=("held_out", "episode"), default=d.lambda_target,
        help="queries the λ hypergradient is measured on: the episode's own (default) or fresh images of its classes")
    add("--diagnose-every", type=POSITIVE, default=d.diagnose_every, help=f"episodes between gradient-interference measurements (default {d.diagnose_every})")
    add("--metric", choices=("euclidean", "cosine"), default=d.metric, help="logits: -squared distance or scaled cosine")
    add("--refine", action="store_true", help="refine prototypes with a self-attention layer (FEAT)")
    add("--within-group", type=_finite_float(0.0, 1.0), nargs="?", const=1.0, metavar="FRACTION",
        help="draw training episodes' classes from one script or alphabet (fine-grained episodes, as the official Omniglot runs): "
        "all of them, or this fraction (e.g. 0.5 mixes fine-grained and coarse episodes)")
    add("--augment", action="store_true", help="warp every training image by a small random affine map (rotation, shear, scale, shift)")
    add("--optimizer", choices=("adam", "sgd"), default=d.optimizer, help="optimiser (default adam)")
    add("--lr", type=_finite_float(), default=d.lr, help=f"learning rate, halved at 50%% and 75%% of the run (default {d.lr})")
    add("--backend", choices=("numpy", "cupy"), default=d.backend, help="array backend (cupy needs a GPU)")
    add("--seed", type=NON_NEGATIVE, default=d.seed, help="seed of the initialisation and the episodes")
    add("--checkpoint-every", type=POSITIVE, default=d.checkpoint_every, help="episodes between checkpoints")
    add("--resume", metavar="CHECKPOINT", help="continue the run of this checkpoint (its configuration; --episodes may extend it)")
    add("--eval-episodes", type=NON_NEGATIVE, default=600, help="test episodes after training (0: skip)")
    add("--eval-shots", type=POSITIVE, nargs="+", default=[1], help="shots of the 5-way test after training (default 1; e.g. 1 5)")
    add("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="few-shot accuracy of a checkpoint with a 95%% confidence interval, or the official Omniglot runs",
        description="N-way K-shot accuracy over test episodes of the embedded glyphs (mean and 95% CI), or, with "
        "--omniglot-runs, the official score on the 20 Omniglot one-shot runs.",
    )
    add = evaluate.add_argument
    add("checkpoint", help="a checkpoint written by nploss train")
    add("--ways", type=WAYS, default=5, help="classes per test episode (default 5)")
    add("--shots", type=POSITIVE, default=1, help="support images per class (default 1)")
    add("--queries", type=POSITIVE, help="query images per class (default 15 for 1 shot, 10 for 5 shots: a glyph class has 16 images)")
    add("--episodes", type=POSITIVE, default=600, help="test episodes (default 600)")
    add("--split", choices=("test", "val"), default="test", help="held-out classes to test on (default test)")
    add("--within-group", action="store_true", help="draw each episode's classes from one script (fine-grained episodes)")
    add("--omniglot-runs", metavar="PATH", help="score the official runs in all_runs.zip instead")
    add("--seed", type=NON_NEGATIVE, default=1, help="seed of the test episodes (default 1, as after nploss train --seed 0)")
    add("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=_evaluate)
