"""The few-shot prototypical network on tiny synthetic data: episodes, prototypes, one optimiser
step, the adaptive-λ hypergradient against finite differences, a short training run, checkpoints."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import nploss.autograd as ag
from nploss.fewshot import (
    EpisodeAdaptiveLambda,
    EpisodeSampler,
    ProtoNet,
    TrainConfig,
    Trainer,
    checkpoint,
    episode_statistics,
)
from nploss.fewshot.evaluate import evaluate, summarise
from nploss.gradcheck import numerical_grad, relative_error


def toy_images(classes: int = 24, per_class: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each class a random pattern of bright 4x4 squares; instances shifted by up to 2 pixels and noisy."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(classes):
        template = np.zeros((28, 28), np.float32)
        for r, col in rng.integers(4, 20, (4, 2)):
            template[r : r + 4, col : col + 4] = 1.0
        for _ in range(per_class):
            shifted = np.roll(template, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
            images.append(np.clip(shifted + 0.2 * rng.standard_normal((28, 28)), 0, 1).astype(np.float32))
            labels.append(c)
    return np.stack(images), np.array(labels), np.zeros(classes, dtype=int)


TOY = toy_images()


def tiny_config(**overrides) -> TrainConfig:
    base = dict(ways=5, shots=1, queries=3, episodes=4, hidden=8, lr=3e-3, diagnose_every=2, checkpoint_every=2)
    return TrainConfig(**{**base, **overrides})


def test_episodes_are_disjoint_and_relabelled():
    images, labels, _ = TOY
    ep = EpisodeSampler(images, labels, ways=5, shots=2, queries=3, seed=1).sample()
    assert ep.support_images.shape == (10, 28, 28) and ep.query_images.shape == (15, 28, 28)
    np.testing.assert_array_equal(np.bincount(ep.support_labels), [2] * 5)
    np.testing.assert_array_equal(np.bincount(ep.query_labels), [3] * 5)
    # no image is both support and query
    s = {x.tobytes() for x in ep.support_images}
    assert not s & {x.tobytes() for x in ep.query_images}
    with pytest.raises(ValueError, match="need 30 classes with at least 5 images each; the data has 24"):
        EpisodeSampler(images, labels, ways=30, shots=2, queries=3)


def test_augmented_episodes_warp_the_same_images_and_within_group_episodes_stay_in_one_group():
    images, labels, _ = TOY
    plain = EpisodeSampler(images, labels, ways=5, shots=1, queries=3, seed=4).sample()
    warped = EpisodeSampler(images, labels, ways=5, shots=1, queries=3, seed=4, augment=lambda x, rng: x[:, ::-1]).sample()
    # augmentation draws after the episode is chosen: same classes, same images, then warped
    np.testing.assert_array_equal(warped.classes, plain.classes)
    np.testing.assert_array_equal(warped.query_images, plain.query_images[:, ::-1])
    groups = np.arange(24) % 3
    sampler = EpisodeSampler(images, labels, ways=4, shots=1, queries=3, seed=5, groups=groups, within_group=True)
    for _ in range(20):
        assert len(set(groups[sampler.sample().classes])) == 1
    trainer = Trainer(tiny_config(within_group=True, augment=True), data=(images, labels, groups))
    assert len(set(groups[trainer.sampler.sample().classes])) == 1
    # a fraction mixes them: 4 of 24 classes in 3 groups of 8 fall in one group by chance with
    # probability 3 * C(8,4) / C(24,4) = 0.02, so about 0.5 + 0.5 * 0.02 of the episodes are in one
    mixed = EpisodeSampler(images, labels, ways=4, shots=1, queries=3, seed=6, groups=groups, within_group=0.5)
    single = np.mean([len(set(groups[mixed.sample().classes])) == 1 for _ in range(400)])
    assert 0.42 < single < 0.6
    with pytest.raises(ValueError, match="within_group must be a fraction"):
        TrainConfig(within_group=1.5)


def test_held_out_queries_are_fresh_images_of_the_same_classes():
    images, labels, _ = TOY  # 8 images per class
    sampler = EpisodeSampler(images, labels, ways=5, shots=2, queries=3, seed=3)
    ep = sampler.sample()
    val = sampler.held_out(ep, queries=5)  # only 3 are left per class
    np.testing.assert_array_equal(val.classes, ep.classes)
    np.testing.assert_array_equal(val.support_images, ep.support_images)
    assert not set(val.query_index) & set(ep.query_index) | set(ep.support_index) & set(val.query_index)
    np.testing.assert_array_equal(labels[val.query_index], ep.classes[val.query_labels])
    assert len(val.query_index) == 5 * 3
    np.testing.assert_array_equal(val.query_images, images[val.query_index])


def test_prototypes_are_class_means_of_the_support_embeddings():
    images, labels, _ = TOY
    ep = EpisodeSampler(images, labels, ways=4, shots=3, queries=2, seed=2).sample()
    model = ProtoNet(hidden=8, dtype="float64")
    out = model(ep.support_images, ep.support_labels, ep.query_images, 4)
    support = out["support"].numpy()
    expected = np.stack([support[ep.support_labels == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(out["prototypes"].numpy(), expected, rtol=1e-12)
    # the Euclidean logits are minus squared distances to those means
    q = out["query"].numpy()
    np.testing.assert_allclose(model.logits(out["query"], out["prototypes"]).numpy(), -((q[:, None] - expected[None]) ** 2).sum(-1), rtol=1e-9)


@pytest.mark.parametrize("overrides", [{}, {"loss": "focal"}, {"metric": "cosine"}, {"refine": True}, {"lambda_mode": "adaptive", "lambda_every": 1}])
def test_one_optimiser_step_lowers_the_loss_on_a_fixed_episode(overrides):
    trainer = Trainer(tiny_config(dtype="float64", lr=1e-3, **overrides), data=TOY)
    ep = trainer.sampler.sample()

    def total() -> float:
        trainer.model.train()
        out = trainer.terms(ep)
        lam = np.asarray(ag.as_data(trainer.lambda_values(out, ep)))
        return float(out["ce"].data + lam[0] * out["var"].data + lam[1] * out["cov"].data)

    state = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    before = total()
    trainer.model.load_state_dict(state)  # undo the running-statistics update of the measurement
    trainer.step(ep)
    assert total() < before


def test_the_lambda_hypergradient_matches_finite_differences():
    trainer = Trainer(tiny_config(dtype="float64", lambda_mode="adaptive"), data=TOY)
    ep = trainer.sampler.sample()
    trainer.model.train()
    out = trainer.terms(ep)
    per_term = trainer.term_gradients(out)
    lam0 = np.array([0.2, 0.05])
    lam = ag.Tensor(lam0, requires_grad=True)
    val = trainer.sampler.held_out(ep, trainer.config.queries)
    (analytic,) = ag.grad(trainer.lookahead_loss(ep, lam, per_term, val), [lam])
    numeric = numerical_grad(lambda x: trainer.lookahead_loss(ep, x, per_term, val).data, [lam0])[0]
    assert np.max(relative_error(analytic.numpy(), numeric)) < 1e-6
    # and the closed form: dL(θ')/dλ_t = -α ∇L(θ') · g_t
    alpha = trainer.config.lookahead_lr
    ahead = {n: p.data - alpha * (per_term["ce"][i] + lam0[0] * per_term["var"][i] + lam0[1] * per_term["cov"][i])
             for i, (n, p) in enumerate(zip(trainer.names, trainer.params))}  # fmt: skip
    params = {n: ag.Tensor(v, requires_grad=True) for n, v in ahead.items()}
    g_ahead = ag.grad(trainer.terms(val, params=params)["ce"], list(params.values()), allow_unused=True)
    for k, term in enumerate(("var", "cov")):
        dot = sum(float(np.vdot(g.numpy(), per_term[term][i])) for i, g in enumerate(g_ahead) if g is not None)
        assert analytic.numpy()[k] == pytest.approx(-alpha * dot, rel=1e-8)


def test_adaptive_lambdas_stay_in_the_seed_ranges_and_are_smoothed():
    net = EpisodeAdaptiveLambda(ema=0.5)
    first = net.average.data.copy()
    for stats in ([0.9, 1.0, -2.0], [0.0, 0.1, 3.0], [1e3, -1e3, 1e3]):
        lam = net(np.array(stats)).data
        assert 0.05 <= lam[0] <= 0.3 and 0.005 <= lam[1] <= 0.1
    assert not np.allclose(net.average.data, first)
    raw = net.predict(np.array([0.0, 0.1, 3.0])).data
    smoothed = 0.5 * net.average.data + 0.5 * raw
    np.testing.assert_allclose(net(np.array([0.0, 0.1, 3.0])).data, smoothed)


def test_episode_statistics_separate_fine_from_coarse_episodes():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 16)) * 5
    labels = np.repeat(np.arange(5), 4)
    coarse_z = centres[labels] + 0.1 * rng.standard_normal((20, 16))
    fine_centres = centres[0] + 0.2 * rng.standard_normal((5, 16))
    fine_z = fine_centres[labels] + 0.1 * rng.standard_normal((20, 16))
    coarse, fine = episode_statistics(centres, coarse_z, labels), episode_statistics(fine_centres, fine_z, labels)
    assert fine[0] > coarse[0] and fine[1] > coarse[1] and fine[2] < coarse[2]


def test_short_training_beats_chance_by_a_wide_margin(tmp_path):
    images, labels, groups = TOY
    train = labels < 16
    trainer = Trainer(tiny_config(episodes=60, hidden=16, ways=8, shots=1, queries=3, diagnose_every=20, checkpoint_every=60), data=(images[train], labels[train], groups))
    rows = trainer.run(tmp_path, progress=False)
    assert len(rows) == 60 and (tmp_path / "log.csv").read_text().count("\n") == 61
    held_out = EpisodeSampler(images[~train], labels[~train], ways=5, shots=1, queries=3, seed=5)
    acc = evaluate(trainer.model, held_out, episodes=40)
    assert acc.mean > 0.6, f"5-way accuracy {acc} (chance 0.2)"


@pytest.mark.parametrize("overrides", [{"lambda_mode": "adaptive", "lambda_every": 1}, {"augment": True, "within_group": True}])
def test_a_checkpoint_round_trip_is_exact(tmp_path, overrides):
    config = tiny_config(**overrides)
    straight = Trainer(config, data=TOY)
    straight.run(tmp_path / "a", progress=False)

    first = Trainer(config, data=TOY)
    first.run(tmp_path / "b", progress=False, until=2)
    resumed = Trainer.resume(tmp_path / "b" / "checkpoint.npz", data=TOY)
    assert resumed.episode == 2
    resumed.run(tmp_path / "b", progress=False)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    if config.lambda_mode == "adaptive":
        np.testing.assert_array_equal(straight.lambdas.average.data, resumed.lambdas.average.data)
    assert (tmp_path / "b" / "log.csv").read_text().count("\n") == 5
    assert not list(tmp_path.rglob("*.partial"))


def test_broken_checkpoints_give_clear_errors(tmp_path):
    trainer = Trainer(tiny_config(episodes=1), data=TOY)
    good = trainer.save(tmp_path / "c.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt"):
        Trainer.resume(truncated, data=TOY)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt"):
        checkpoint.load(garbage)
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(checkpoint.CheckpointError, match="not an nploss checkpoint"):
        checkpoint.load(other)
    arrays, meta = checkpoint.load(good)
    bigger = ProtoNet(hidden=16)
    with pytest.raises(checkpoint.CheckpointError, match="does not fit this model"):
        checkpoint.restore(arrays, meta, bigger, {})


def test_confidence_interval_is_the_normal_one():
    acc = summarise(np.array([0.5, 0.7, 0.9, 0.7]))
    assert acc.mean == pytest.approx(0.7)
    assert acc.ci95 == pytest.approx(1.96 * np.std([0.5, 0.7, 0.9, 0.7], ddof=1) / 2)


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="hinge")
    with pytest.raises(ValueError, match="ways must be at least 2"):
        TrainConfig(ways=1)
    with pytest.raises(ValueError, match="needs the paths of the background zips"):
        TrainConfig(data="omniglot")
    with pytest.raises(ValueError, match="lambda_var must be >= 0"):
        TrainConfig(lambda_var=-0.1)


def test_the_evaluate_command_reports_bad_paths_clearly(tmp_path, capsys):
    from nploss.cli import main

    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    good = Trainer(tiny_config(episodes=1), data=TOY).save(tmp_path / "c.npz")
    assert main(["evaluate", str(good), "--omniglot-runs", str(tmp_path / "all_runs.zip")]) == 2
    assert "all_runs.zip does not exist" in capsys.readouterr().err


def test_the_train_command_reports_bad_data_and_options_clearly(tmp_path, capsys):
    from nploss.cli import main

    assert main(["train", "--data", "omniglot", "--omniglot", str(tmp_path / "nope.zip"), "--out", str(tmp_path)]) == 2
    assert "nope.zip does not exist" in capsys.readouterr().err
    assert main(["train", "--data", "omniglot", "--out", str(tmp_path)]) == 2
    assert "needs the paths of the background zips" in capsys.readouterr().err


OMNIGLOT_RUNS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot" / "all_runs.zip"


@pytest.mark.skipif(not OMNIGLOT_RUNS.exists(), reason=f"Omniglot runs not found at {OMNIGLOT_RUNS}")
def test_the_evaluate_command_scores_the_official_omniglot_runs_with_an_interval(tmp_path, capsys):
    from nploss.cli import main
    from nploss.fewshot.evaluate import omniglot_runs
    from nploss.fewshot.train import load_model

    path = Trainer(tiny_config(episodes=1), data=TOY).save(tmp_path / "c.npz")
    assert main(["evaluate", str(path), "--omniglot-runs", str(OMNIGLOT_RUNS)]) == 0
    printed = capsys.readouterr().out
    score, per_run = omniglot_runs(load_model(path)[0], str(OMNIGLOT_RUNS))
    summary = summarise(np.array(per_run))
    assert len(per_run) == 20 and summary.mean == pytest.approx(score)
    assert f"{100 * score:.1f}% ± {100 * summary.ci95:.1f}% (95% CI over 20 runs)" in printed


@pytest.mark.parametrize("overrides", [{}, {"lambda_mode": "adaptive"}])
def test_a_training_step_brings_only_a_few_small_arrays_to_the_host(monkeypatch, overrides):
    """On the GPU every ``backend.to_numpy`` is a device-to-host copy. Counted with a spy on the
    NumPy backend, a plain training step may bring back the input checks' booleans, the query
    logits (for the accuracy) and, with adaptive λ, the embeddings for the episode statistics and
    the two λs: nothing the size of the network, and a bounded number of copies."""
    from nploss import backend

    sizes: list[int] = []
    real = backend.to_numpy

    def spy(a):  # noqa: ANN001, ANN202
        sizes.append(int(np.size(a)))
        return real(a)

    monkeypatch.setattr(backend, "to_numpy", spy)
    trainer = Trainer(tiny_config(diagnose_every=100, lambda_every=100, **overrides), data=TOY)
    trainer.episode = 1  # not a diagnostic step (those copy every gradient for the cosines)
    episode = trainer.sampler.sample()
    trainer.step(episode)
    parameters = sum(p.data.size for p in trainer.params)
    images, dim = len(episode.support_images) + len(episode.query_images), trainer.config.hidden
    arrays = [n for n in sizes if n > 1]  # support labels, logits; prototypes, embeddings, λs
    assert 0 < len(arrays) <= 6, sizes
    assert max(arrays) <= max(images * dim, len(episode.query_images) * episode.ways) < parameters / 10, sizes
    assert len(sizes) - len(arrays) <= 20, sizes  # the input checks' flags, one byte each
