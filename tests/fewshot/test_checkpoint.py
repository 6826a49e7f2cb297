"""Checkpoints: every bad file is a CheckpointError with a message naming what is wrong, refused
before any model is built, and `nploss evaluate` / `nploss train --resume` exit 2 with that
message; writing is atomic and durable (fsync, rename, fsync of the directory), stale .partial
files are never read and are cleaned by the next save. Also: the command-line options of the
few-shot commands refuse settings the data cannot give, naming the option and its limit."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import stat
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nploss.cli import main
from nploss.fewshot import ProtoNet, Trainer, checkpoint
from nploss.fewshot.checkpoint import CheckpointError
from tests.fewshot.test_fewshot import TOY, tiny_config, toy_images


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A checkpoint after two training episodes (so the optimiser has state)."""
    out = tmp_path_factory.mktemp("good")
    Trainer(tiny_config(episodes=2), data=TOY).run(out, progress=False)
    return out / "checkpoint.npz"


def contents(path: pathlib.Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def rewrite(good: pathlib.Path, path: pathlib.Path, meta: Callable[[dict], Any] | None = None, arrays: Callable[[dict], dict] | None = None) -> pathlib.Path:
    """``good`` with its meta and/or arrays changed, written to ``path``."""
    a, m = contents(good)
    m = meta(m) if meta else m
    a = arrays(a) if arrays else a
    np.savez(path, meta=np.array(json.dumps(m)), **a)
    return path


def with_config(**changes: Any) -> Callable[[dict], dict]:
    return lambda m: {**m, "config": {**m["config"], **changes}}


def without(key: str) -> Callable[[dict], dict]:
    return lambda m: {k: v for k, v in m.items() if k != key}


def poisoned(name: str, value: float) -> Callable[[dict], dict]:
    def change(a: dict) -> dict:
        w = a[name].copy()
        w.flat[0] = value
        return {**a, name: w}

    return change


def optimizer_meta(change: Callable[[dict], None]) -> Callable[[dict], dict]:
    def edit(m: dict) -> dict:
        m = json.loads(json.dumps(m))
        change(m["optimizers"]["model"])
        return m

    return edit


def _raw(data: bytes) -> Callable[[pathlib.Path, pathlib.Path], pathlib.Path]:
    def write(good: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
        path.write_bytes(data)
        return path

    return write


def _npy_renamed(good: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    np.save(path.with_suffix(".npy"), np.zeros(3))
    return path.with_suffix(".npy").rename(path)


def _truncated(good: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return path


def _object_array(good: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    a, m = contents(good)
    np.savez(path, meta=np.array(json.dumps(m)), **{**a, "model/backbone.0.bias": np.array([{"x": 1}], dtype=object)})
    return path


def _meta(change: Callable[[dict], Any] | None = None, arrays: Callable[[dict], dict] | None = None) -> Callable[[pathlib.Path, pathlib.Path], pathlib.Path]:
    return lambda good, path: rewrite(good, path, change, arrays)


def _other_architecture(good: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    _, m = contents(good)
    np.savez(path, meta=np.array(json.dumps(m)), **{f"model/{k}": v for k, v in ProtoNet(hidden=16, refine=True).state_dict().items()})
    return path


def _meta_not_a_string(good: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    a, _ = contents(good)
    np.savez(path, meta=np.zeros(3), **a)
    return path


# (case, how to write it, what the message must say)
BAD_FILES = [
    ("npy renamed npz", _npy_renamed, r"single NumPy array \(an \.npy file\), not an \.npz checkpoint"),
    ("truncated", _truncated, "truncated or corrupt"),
    ("empty", _raw(b""), r"is empty \(0 bytes\)"),
    ("random bytes", _raw(np.random.default_rng(0).bytes(4096)), "truncated or corrupt: not a zip archive"),
    ("pickle", _raw(pickle.dumps({"meta": "{}"}, protocol=4)), "is a pickle, not an .npz checkpoint: it is refused unread"),
    ("object array", _object_array, r"array model/backbone\.0\.bias holds pickled Python objects"),
    ("meta is a JSON list", _meta(lambda m: [m]), "meta must be a JSON object, got a list"),
    ("meta is a number array", _meta_not_a_string, r"'meta' must be a JSON string, got an array of float64\[3\]"),
    ("meta without config", _meta(without("config")), "meta has no 'config'"),
    ("meta without episode", _meta(without("episode")), "meta has no 'episode'"),
    ("unknown key in meta", _meta(lambda m: {**m, "format": 2}), r"meta has unknown key 'format' \(known: config, episode, sampler, optimizers\)"),
    ("unknown key in config", _meta(with_config(depth=6)), r"meta\.config has unknown key 'depth'"),
    ("hidden is a string", _meta(with_config(hidden="64")), r"meta\.config\.hidden must be an int, got str '64'"),
    ("hidden is a bool", _meta(with_config(hidden=True)), r"meta\.config\.hidden must be an int, got a bool"),
    ("refine is a string", _meta(with_config(refine="False")), r"meta\.config\.refine must be a bool, got str 'False'"),
    ("lr is infinite", _meta(with_config(lr=float("inf"))), r"meta\.config\.lr must be finite, got inf"),
    ("dtype float16", _meta(with_config(dtype="float16")), r"dtype must be one of \('float32', 'float64'\), got 'float16'"),
    ("negative seed", _meta(with_config(seed=-1)), r"meta\.config\.seed must be >= 0"),
    ("hidden 100000", _meta(with_config(hidden=100000)), r"model/backbone\.0\.weight is float32\[8, 1, 3, 3\] but the configuration \(hidden=100000.*needs float32\[100000, 1, 3, 3\]"),
    ("dtype float64 over float32 arrays", _meta(with_config(dtype="float64")), r"is float32\[.*\] but the configuration .* needs float64"),
    ("other architecture", _other_architecture, r"not those of the configuration's model \(hidden=8.*another architecture: unexpected model/refiner\.attention"),
    ("metric says cosine", _meta(with_config(metric="cosine")), "another architecture: missing model/log_scale"),
    ("lambda arrays without adaptive mode", _meta(arrays=lambda a: {**a, "lambda/average": np.zeros(2)}), r"unknown array lambda/average"),
    ("adaptive mode without lambda arrays", _meta(with_config(lambda_mode="adaptive")), r"missing lambda/"),
    ("NaN weight", _meta(arrays=poisoned("model/backbone.4.weight", np.nan)), r"array model/backbone\.4\.weight holds 1 NaN value of 576"),
    ("inf running variance", _meta(arrays=poisoned("model/backbone.5.running_var", np.inf)), r"array model/backbone\.5\.running_var holds 1 infinite value"),
    ("NaN optimiser state", _meta(arrays=poisoned("optimizer/model/4/exp_avg_sq", np.nan)), r"array optimizer/model/4/exp_avg_sq holds 1 NaN"),
    ("episode past the run", _meta(lambda m: {**m, "episode": 99}), r"meta\.episode must be an int in \[0, config\.episodes = 2\], got int 99"),
    ("sampler state of another generator", _meta(lambda m: {**m, "sampler": {**m["sampler"], "bit_generator": "MT19937"}}), r"meta\.sampler\.bit_generator must be 'PCG64'"),
    ("optimiser lr a string", _meta(optimizer_meta(lambda o: o["hyperparameters"].update(lr="0.1"))), r"meta\.optimizers\.model\.hyperparameters\.lr must be a number, got str"),
    ("optimiser of another kind", _meta(optimizer_meta(lambda o: o["hyperparameters"].update(momentum=0.9))), r"hyperparameters has unknown key 'momentum'"),
    ("optimiser state for a missing parameter", _meta(optimizer_meta(lambda o: o["scalars"].update({"99/step": 1}))), r"parameter index '99' is not one of the 16 parameters of model"),
    ("optimiser state incomplete", _meta(arrays=lambda a: {k: v for k, v in a.items() if k != "optimizer/model/0/exp_avg"}), r"model optimiser state of parameter 0 \(backbone\.0\.weight\) lacks exp_avg"),
    ("optimiser state of the wrong shape", _meta(arrays=lambda a: {**a, "optimizer/model/0/exp_avg": np.zeros((8,), np.float32)}), r"optimizer/model/0/exp_avg is float32\[8\] but its parameter backbone\.0\.weight is float32\[8, 1, 3, 3\]"),
    ("unknown array", _meta(arrays=lambda a: {**a, "extra": np.zeros(1)}), "unknown array extra"),
]


@pytest.mark.parametrize("case, write, message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_every_bad_checkpoint_is_a_checkpoint_error_and_exit_2(good, tmp_path, capsys, monkeypatch, case, write, message):
    path = write(good, tmp_path / "bad.npz")
    built = []
    monkeypatch.setattr("nploss.fewshot.train.ProtoNet", lambda *a, **k: built.append(1))  # nothing is built
    with pytest.raises(CheckpointError, match=message) as caught:
        checkpoint.load(path)
    assert str(path) in str(caught.value)
    for command in (["evaluate", str(path)], ["train", "--resume", str(path), "--out", str(tmp_path / "out"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"nploss {command[0]}: checkpoint {path}") and "Traceback" not in err
        assert caught.value.args[0] in err
    assert not built


def test_a_pickled_payload_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):  # noqa: ANN204 - unpickling it would create the marker file
            return (pathlib.Path.touch, (marker,))

    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Payload()))
    inside = tmp_path / "inside.npz"
    np.savez(inside, meta=np.array("{}"), model=np.array([Payload()], dtype=object))
    for path in (raw, inside):
        with pytest.raises(CheckpointError, match="never unpickles"):
            checkpoint.load(path)
    assert not marker.exists()


def test_hidden_100000_is_refused_without_allocating(good, tmp_path):
    import tracemalloc

    path = rewrite(good, tmp_path / "huge.npz", with_config(hidden=100000))
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="hidden=100000"):
            from nploss.fewshot.train import load_model

            load_model(path)
        assert tracemalloc.get_traced_memory()[1] < 20 * 2**20  # a 100000-filter Conv-4 would be ~335 GiB
    finally:
        tracemalloc.stop()


def test_every_damaged_byte_or_cut_gives_a_checkpoint_error_or_the_same_checkpoint(good, tmp_path):
    data = good.read_bytes()
    expected_arrays, expected_meta = checkpoint.load(good)
    rng = np.random.default_rng(1)
    path = tmp_path / "damaged.npz"
    cuts = [bytes(data[:n]) for n in range(0, len(data), max(1, len(data) // 300))]
    flips = []
    for i in rng.integers(0, len(data), 600):
        b = bytearray(data)
        b[i] ^= 1 << int(rng.integers(8))
        flips.append(bytes(b))
    for damaged in cuts + flips:
        path.write_bytes(damaged)
        try:
            arrays, meta = checkpoint.load(path)
        except CheckpointError:
            continue
        # a flip in a zip field nothing reads (a timestamp, ...): the checkpoint is unchanged
        assert meta == expected_meta and arrays.keys() == expected_arrays.keys()
        for name, array in arrays.items():
            np.testing.assert_array_equal(array, expected_arrays[name], err_msg=name)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_layout_the_loader_checks_is_the_models(metric, refine, dtype):
    model = ProtoNet(hidden=5, metric=metric, refine=refine, dtype=dtype)
    layout = checkpoint.protonet_layout(5, metric, refine, dtype)
    assert list(layout) == list(model.state_dict())
    for name, value in model.state_dict().items():
        assert (layout[name].shape, layout[name].dtype) == (value.shape, value.dtype), name
    assert [n for n, e in layout.items() if e.parameter] == [n for n, _ in model.named_parameters()]


@pytest.mark.parametrize(
    "overrides",
    [{"metric": "cosine"}, {"lambda_mode": "adaptive", "lambda_every": 1, "metric": "cosine", "refine": True, "optimizer": "sgd"}, {"dtype": "float64", "within_group": True}],
)
def test_checkpoints_of_every_kind_of_run_pass_the_schema(tmp_path, overrides):
    groups = np.arange(24) % 2
    trainer = Trainer(tiny_config(**overrides), data=(TOY[0], TOY[1], groups))
    trainer.run(tmp_path, progress=False, until=2)
    arrays, meta = checkpoint.load(tmp_path / "checkpoint.npz")
    assert meta["episode"] == 2 and all(k.split("/")[0] in ("model", "lambda", "optimizer") for k in arrays)
    resumed = Trainer.resume(tmp_path / "checkpoint.npz", data=(TOY[0], TOY[1], groups))
    for a, b in zip(trainer.params, resumed.params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_checkpoint_is_fsynced_before_the_rename_and_its_directory_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):  # noqa: ANN001, ANN202
        events.append("fsync directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        return real_fsync(fd)

    def replace(src, dst):  # noqa: ANN001, ANN202
        events.append(f"replace {pathlib.Path(src).name} -> {pathlib.Path(dst).name}")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    Trainer(tiny_config(episodes=1), data=TOY).save(tmp_path / "c.npz")
    expected = ["fsync file", "replace c.npz.partial -> c.npz"] + (["fsync directory"] if os.name == "posix" else [])
    assert events == expected
    checkpoint.load(tmp_path / "c.npz")


def test_stale_partial_files_are_never_read_and_removed_by_the_next_save(tmp_path):
    path = tmp_path / "checkpoint.npz"
    stale = checkpoint.partial_path(path)
    assert stale.name == "checkpoint.npz.partial"
    stale.write_bytes(b"half a checkpoint from a killed run")
    with pytest.raises(CheckpointError, match=r"does not exist \(checkpoint\.npz\.partial beside it is an unfinished save .* never read\)"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="unfinished checkpoint left by an interrupted save and is never read"):
        checkpoint.load(stale)
    trainer = Trainer(tiny_config(episodes=1), data=TOY)
    trainer.save(path)
    assert not stale.exists()
    checkpoint.load(path)
    # a stale one beside a good checkpoint is ignored by the loader, and by a resumed run's save
    stale.write_bytes(b"junk")
    resumed = Trainer.resume(path, data=TOY)
    resumed.run(tmp_path, progress=False)
    assert not stale.exists() and not list(tmp_path.glob("*.partial"))


def test_a_failed_save_keeps_the_previous_checkpoint_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    trainer = Trainer(tiny_config(episodes=1), data=TOY)
    trainer.save(path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        trainer.save(path)
    assert path.read_bytes() == before and not checkpoint.partial_path(path).exists()


def test_resume_refuses_options_it_would_ignore_and_fewer_episodes_than_done(good, tmp_path, capsys):
    assert main(["train", "--resume", str(good), "--lr", "0.1", "--ways", "7", "--out", str(tmp_path)]) == 2
    assert "--ways, --lr cannot change it" in capsys.readouterr().err
    assert main(["train", "--resume", str(good), "--episodes", "1", "--out", str(tmp_path)]) == 2
    assert "episodes=1 is fewer than the 2 episodes checkpoint" in capsys.readouterr().err


# ------------------------------------------------------------------ options the data cannot give


@pytest.fixture
def toy_splits(monkeypatch):
    """The command line on toy data shaped as the glyphs' splits (16 images per class; 24 classes in
    two scripts of 20 and 4) instead of the glyphs."""
    images, labels, _ = toy_images(classes=24, per_class=16)
    groups = np.array(["a"] * 20 + ["b"] * 4)
    monkeypatch.setattr("nploss.fewshot.train.load_split", lambda config, split: (images, labels, groups))


@pytest.mark.parametrize(
    "options, message",
    [
        (["--shots", "20"], r"--shots 20 needs 21 images of each class \(20 support \+ 1 query\), but the test split has at most 16 images per class: --shots must be at most 15"),
        (["--shots", "15"], None),
        (["--shots", "5"], None),
        (["--shots", "10", "--queries", "7"], r"--shots 10 \+ --queries 7 need 17 images of each class, but the test split has at most 16 images per class: --shots \+ --queries must be at most 16"),
        (["--ways", "30"], r"--ways 30: 30-way episodes with 1 shot and 15 queries need 30 classes with at least 16 images each; the test split has 24: --ways must be at most 24"),
        (["--ways", "21", "--within-group"], r"--ways 21 within one group: .* the largest has 20: --ways must be at most 20"),
    ],
)
def test_evaluate_names_the_option_and_its_limit(good, toy_splits, capsys, options, message):
    code = main(["evaluate", str(good), "--episodes", "2", "--quiet", *options])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
    else:
        assert code == 2 and "Traceback" not in err
        assert err.startswith("nploss evaluate: ")
        import re

        assert re.search(message, err), err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--shots", "20"], r"--shots 20 \+ --queries 5 need 25 images of each class, but the training split has at most 16 images per class: --shots \+ --queries must be at most 16"),
        (["--ways", "25", "--queries", "3"], r"--ways 25: .* the training split has 24: --ways must be at most 24"),
        (["--eval-shots", "1", "20"], r"--eval-shots 20 needs 21 images of each class \(20 support \+ 1 query\), but the test split has at most 16 images per class: --eval-shots must be at most 15"),
    ],
)
def test_train_names_the_option_and_its_limit_before_training(toy_splits, tmp_path, capsys, options, message):
    import re

    assert main(["train", "--out", str(tmp_path), "--episodes", "2", "--quiet", "--eval-episodes", "2", *options]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not (tmp_path / "log.csv").exists()  # refused before the first episode


@pytest.mark.parametrize(
    "command, message",
    [
        (["evaluate", "c.npz", "--ways", "1"], "argument --ways: must be at least 2, got 1"),
        (["evaluate", "c.npz", "--shots", "0"], "argument --shots: must be at least 1, got 0"),
        (["evaluate", "c.npz", "--queries", "-3"], "argument --queries: must be at least 1, got -3"),
        (["evaluate", "c.npz", "--episodes", "0"], "argument --episodes: must be at least 1, got 0"),
        (["evaluate", "c.npz", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
        (["evaluate", "c.npz", "--shots", "two"], "argument --shots: expected an integer, got 'two'"),
        (["train", "--episodes", "-5"], "argument --episodes: must be at least 1, got -5"),
        (["train", "--ways", "1"], "argument --ways: must be at least 2, got 1"),
        (["train", "--lr", "nan"], r"argument --lr: must be a finite number >= 0, got nan"),
        (["train", "--lr", "inf"], r"argument --lr: must be a finite number >= 0, got inf"),
        (["train", "--gamma", "-1"], r"argument --gamma: must be a finite number >= 0, got -1"),
        (["train", "--within-group", "1.5"], r"argument --within-group: must be in \[0, 1\], got 1.5"),
        (["train", "--checkpoint-every", "0"], "argument --checkpoint-every: must be at least 1, got 0"),
        (["train", "--eval-episodes", "-1"], "argument --eval-episodes: must be at least 0, got -1"),
        (["train", "--eval-shots", "0"], "argument --eval-shots: must be at least 1, got 0"),
        (["train", "--lambda-every", "0"], "argument --lambda-every: must be at least 1, got 0"),
        (["train", "--seed", "-2"], "argument --seed: must be at least 0, got -2"),
    ],
)
def test_options_out_of_range_are_usage_errors(capsys, command, message):
    import re

    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert exit_.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_the_sampler_names_its_parameter_and_limit():
    from nploss.fewshot import EpisodeSampler

    images, labels, _ = TOY
    with pytest.raises(ValueError, match=r"EpisodeSampler: shots=6 \+ queries=3 need 9 images of each class, but the data has at most 8 images per class: shots \+ queries must be at most 8"):
        EpisodeSampler(images, labels, ways=5, shots=6, queries=3)
    with pytest.raises(ValueError, match=r"EpisodeSampler: ways=5 within one group: .* the largest has 4"):
        EpisodeSampler(images, labels, ways=5, shots=1, queries=3, groups=np.arange(24) % 6, within_group=True)
    with pytest.raises(ValueError, match="shots must be a positive int, got True"):
        EpisodeSampler(images, labels, ways=5, shots=True, queries=3)


def test_train_then_resume_then_evaluate_from_the_command_line(toy_splits, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--out", out, "--episodes", "2", "--ways", "5", "--queries", "3", "--eval-episodes", "2", "--quiet"]) == 0
    assert "test 5-way 1-shot" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["test_5way_1shot"]["episodes"] == 2
    assert main(["train", "--resume", out + "/checkpoint.npz", "--episodes", "3", "--out", out, "--eval-episodes", "0", "--quiet"]) == 0
    assert (tmp_path / "run" / "log.csv").read_text().count("\n") == 4
    assert main(["evaluate", out + "/checkpoint.npz", "--shots", "5", "--episodes", "2", "--quiet"]) == 0
    assert "test 5-way 5-shot" in capsys.readouterr().out


def test_any_change_to_a_meta_value_is_refused_or_loads(good, tmp_path):
    """Each value of meta (and meta itself) replaced by a value of another type or range, or
    deleted: ``load`` raises CheckpointError or gives a checkpoint that builds and restores."""
    from nploss.fewshot.train import load_model

    arrays, meta = contents(good)

    def paths(obj: Any, path: tuple = ()):  # noqa: ANN202
        yield path
        children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
        for key, value in children:
            yield from paths(value, path + (key,))

    replacements = [None, True, "64", -1, 1.5, 10**400, 2**70, float("nan"), [], {}]
    refused = accepted = 0
    for path in list(paths(meta)):
        for change in [("set", v) for v in replacements] + [("delete", None)] * bool(path):
            m = json.loads(json.dumps(meta))
            if not path:
                m = change[1]
            else:
                parent = m
                for key in path[:-1]:
                    parent = parent[key]
                if change[0] == "delete":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = change[1]
            file = tmp_path / "changed.npz"
            np.savez(file, meta=np.array(json.dumps(m)), **arrays)
            try:
                checkpoint.load(file)
            except CheckpointError:
                refused += 1
                continue
            accepted += 1
            load_model(file)
    assert refused > 5 * accepted > 0


def test_optimiser_hyperparameters_follow_the_optimisers_own_rules(tmp_path):
    Trainer(tiny_config(optimizer="sgd", episodes=2), data=TOY).run(tmp_path, progress=False)
    path = rewrite(tmp_path / "checkpoint.npz", tmp_path / "bad.npz", optimizer_meta(lambda o: o["hyperparameters"].update(momentum=0.0)))
    with pytest.raises(CheckpointError, match=r"meta\.optimizers\.model\.hyperparameters: SGD: nesterov=True requires momentum > 0"):
        checkpoint.load(path)
