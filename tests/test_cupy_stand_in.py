"""The ``cupy`` backend's paths, run without a GPU on a stand-in for CuPy (``tests/fake_cupy.py``:
NumPy's arithmetic under CuPy's rule that a kernel takes no host array, and NumPy's conversions
refusing device arrays). What this proves: every array of the engine, of every loss and of a
training run lives on the device, nothing is converted on the host behind CuPy's back, and the
values are those of the NumPy backend. What it cannot: CuPy's own routines (``tests/test_gpu.py``
runs the engine on a real GPU)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import nploss
import nploss.autograd as ag
from nploss import backend
from nploss.autograd.catalogue import OP_CASES
from nploss.losses import REGISTRY, apply_loss
from tests import fake_cupy
from tests.fake_cupy import cupy, cupyx, refusing_implicit_copies
from tests.fewshot.test_fewshot import TOY, tiny_config


@pytest.fixture
def stand_in(monkeypatch):
    """The ``cupy`` backend, on the stand-in."""
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    nploss.use("cupy")
    try:
        with refusing_implicit_copies():
            yield
    finally:
        nploss.use("numpy")


def test_the_stand_in_keeps_cupys_rules(stand_in):
    device = cupy.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Unsupported type"):
        device + np.ones(3)  # a ufunc given a host array
    with pytest.raises(TypeError, match="Unsupported type"):
        cupy.maximum(device, np.asarray(0.0))  # a 0-d host array too
    with pytest.raises(TypeError, match="Unsupported type"):
        cupy.concatenate([device, np.ones(2)])  # a routine given a host array
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(device)
    assert isinstance(device * np.float64(2.0) + 1, cupy.ndarray)  # scalars are welcome
    total = cupy.sum(device)
    fake_cupy.transfers.clear()
    assert isinstance(total, cupy.ndarray) and total.ndim == 0 and float(total) == 3.0
    assert fake_cupy.transfers == [1]  # float() of a device array: a copy to the host, counted
    assert type(device.get()) is np.ndarray and type(backend.to_numpy(device)) is np.ndarray


def test_a_tensor_of_host_data_lives_on_the_device(stand_in):
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    assert isinstance(x.data, cupy.ndarray)
    on_device = cupy.asarray(np.ones(3))
    assert ag.Tensor(on_device).data is on_device  # not copied
    assert isinstance(ag.Tensor([1.0, 2.0]).data, cupy.ndarray)


def _network(x_host, w_host):
    x, w = ag.Tensor(x_host, requires_grad=True), ag.Tensor(w_host, requires_grad=True)
    y = ag.logsumexp(ag.reshape(ag.max_pool2d(ag.relu(ag.conv2d(x, w, padding=1)), 2), (2, -1)), axis=1).sum()
    y.backward()
    return y, x, w


def test_the_engine_on_the_device_gives_the_values_of_numpy(stand_in):
    rng = np.random.default_rng(0)
    x_host, w_host = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    on_device = _network(x_host, w_host)
    nploss.use("numpy")
    on_host = _network(x_host, w_host)
    for a, b in zip(on_device, on_host, strict=True):
        assert isinstance(a.data, cupy.ndarray) and type(b.data) is not cupy.ndarray
        np.testing.assert_allclose(a.data.get(), b.data, rtol=1e-12)
        if a.grad is not None:
            assert isinstance(a.grad.data, cupy.ndarray)
            np.testing.assert_allclose(a.grad.data.get(), b.grad.data, rtol=1e-12)


def _loss_and_gradients(spec, inputs, mode, on_device):
    """The loss and its gradients; on the device, the differentiable inputs are device Tensors and
    the others (labels, targets) stay NumPy arrays on the host, as a user would pass them."""
    tensors = [ag.Tensor(cupy.asarray(x) if on_device else x, requires_grad=True) if a.differentiable else x for x, a in zip(inputs, spec.args)]
    loss = apply_loss(spec, *tensors, mode=mode, **spec.params)
    loss.backward()
    return loss.data, [t.grad.data for t in tensors if isinstance(t, ag.Tensor)]


@pytest.mark.parametrize("mode", ["fused", "reference", "composite"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_loss_on_the_device_gives_the_values_of_numpy(stand_in, name, mode):
    spec = REGISTRY[name]
    inputs = spec.sample(np.random.default_rng(0), {"N": 6})
    value, grads = _loss_and_gradients(spec, inputs, mode, on_device=True)
    assert isinstance(value, cupy.ndarray) and all(isinstance(g, cupy.ndarray) for g in grads)
    nploss.use("numpy")
    expected_value, expected_grads = _loss_and_gradients(spec, inputs, mode, on_device=False)
    np.testing.assert_allclose(value.get(), expected_value, rtol=1e-10, atol=1e-12)
    for g, expected in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g.get(), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("overrides", [{}, {"lambda_mode": "adaptive", "metric": "cosine", "refine": True, "optimizer": "sgd"}])
def test_a_training_run_on_the_device_logs_what_numpy_logs(stand_in, overrides, tmp_path):
    from nploss.fewshot import Trainer

    trainer = Trainer(tiny_config(backend="cupy", **overrides), data=TOY)
    log = trainer.run(tmp_path / "device", progress=False)
    assert all(isinstance(p.data, cupy.ndarray) for p in trainer.params)
    resumed = Trainer.resume(tmp_path / "device" / "checkpoint.npz", data=TOY)  # host file, device run
    for p, q in zip(resumed.params, trainer.params, strict=True):
        assert isinstance(p.data, cupy.ndarray)
        np.testing.assert_array_equal(p.data.get(), q.data.get())
    expected = Trainer(tiny_config(backend="numpy", **overrides), data=TOY).run(tmp_path / "host", progress=False)
    assert len(log) == len(expected) == 4
    for row, expected_row in zip(log, expected, strict=True):
        for key, value in expected_row.items():
            if key != "seconds":
                np.testing.assert_allclose(row[key], value, rtol=1e-4, atol=1e-6, err_msg=key)


def test_a_model_classifies_images_given_on_the_device(stand_in):
    from nploss.fewshot import EpisodeSampler, ProtoNet
    from nploss.fewshot.evaluate import classify

    images, labels, _ = TOY
    episode = EpisodeSampler(images, labels, ways=5, shots=2, queries=3, seed=4).sample()
    model = ProtoNet(hidden=8)
    args = (episode.support_labels, cupy.asarray(episode.query_images), episode.ways)
    on_device = classify(model, cupy.asarray(episode.support_images), *args)
    from_host = classify(model, episode.support_images, episode.support_labels, episode.query_images, episode.ways)
    assert type(on_device) is np.ndarray  # the predictions come back to the host
    np.testing.assert_array_equal(on_device, from_host)


def _op_derivatives(case, inputs):
    """An op's value, first derivatives and (by a recorded backward pass) second derivatives of
    the sum of its output, as host arrays."""
    tensors = [ag.Tensor(x, requires_grad=True) for x in inputs]
    total = ag.sum(case.fn(*tensors))
    first = ag.grad(total, tensors, create_graph=True)
    squares = ag.sum(ag.stack([ag.sum(g * g) for g in first]))  # constant for a linear op
    second = ag.grad(squares, tensors, allow_unused=True) if squares.requires_grad else []
    values = [total.data, *(g.data for g in first), *(g.data for g in second if g is not None)]
    assert all(isinstance(v, cupy.ndarray) for v in values) or backend.current() == "numpy"
    return [backend.to_numpy(v) for v in values]


@pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.name)
def test_every_op_on_the_device_gives_the_derivatives_of_numpy(stand_in, case):
    inputs = case.inputs(seed=1)
    on_device = _op_derivatives(case, inputs)
    nploss.use("numpy")
    for a, b in zip(on_device, _op_derivatives(case, inputs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_the_gpu_benchmarks_time_device_work_to_its_end(stand_in, monkeypatch):
    """``python -m benchmarks --gpu`` on the stand-in, at small sizes: every input, floor and step
    is on the device (NumPy's conversions refuse device arrays here), and every timed call ends by
    waiting for it."""
    from benchmarks import common, device, fused_losses, protonet_step

    waits = []
    monkeypatch.setattr(cupy.cuda.runtime, "deviceSynchronize", lambda: waits.append(1))
    monkeypatch.setattr(common, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(fused_losses, "BIG", 1000)
    monkeypatch.setattr(fused_losses, "CE_SHAPE", (64, 10))
    monkeypatch.setattr(fused_losses, "METRIC_SHAPE", (16, 8))
    gpu = device.gpu()
    assert gpu.xp is cupy and device.describe(gpu)["GPU"] == "CPU stand-in for a GPU"
    monkeypatch.setattr(fused_losses, "load_torch", lambda gpu: None)  # no PyTorch column
    rows = fused_losses.run(dtypes=("float32",), device=gpu)
    assert [r["loss"] for r in rows] == [case.name for case in fused_losses.cases()]
    for row, case in zip(rows, fused_losses.cases(), strict=True):
        assert row["nploss_ms"] > 0 and row["memcpy_ms"] > 0 and row["target"] is None, case.name
        assert (row["transcendentals_ms"] > 0) == bool(case.transcendentals), case.name
    timed = len(waits)
    assert timed >= len(rows) * common.REPEATS * 2  # nploss and the copy, per repeat
    monkeypatch.setattr(protonet_step, "EPISODES", ((5, 1, 2), (3, 2, 1)))
    monkeypatch.setattr(protonet_step, "HIDDEN", 8)
    monkeypatch.setattr(protonet_step, "load_torch", lambda gpu: None)
    rows = protonet_step.measure(1, gpu)
    assert [r["where"] for r in rows] == ["GPU", "GPU"] and protonet_step.verdict(rows[0]) == ""
    assert len(waits) > timed


def test_cupy_without_a_gpu_is_refused_with_a_clear_message(monkeypatch, capsys):
    from nploss.cli import main

    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(cupy.cuda.runtime, "getDeviceCount", lambda: 0)
    with pytest.raises(backend.NoGPUError, match="sees no GPU"):
        nploss.use("cupy")
    assert backend.current() == "numpy"
    assert main(["train", "--backend", "cupy", "--episodes", "1"]) == 2  # a message, not a traceback
    assert "sees no GPU" in capsys.readouterr().err


@pytest.mark.parametrize("overrides", [{}, {"lambda_mode": "adaptive"}])
def test_a_training_step_on_the_device_copies_little_to_the_host(stand_in, overrides):
    """Every copy from the device (``.get()``, and the implicit ones of ``float``, ``bool``,
    ``.item()`` ...) counted: a plain step brings back the input checks' flags, the query logits
    (for the accuracy) and, with adaptive λ, the episode's embeddings for its statistics and the
    two λs; nothing the size of the network or of its activations."""
    from nploss.fewshot import Trainer

    trainer = Trainer(tiny_config(backend="cupy", diagnose_every=100, lambda_every=100, **overrides), data=TOY)
    trainer.episode = 1  # not a diagnostic step (those copy every gradient for the cosines)
    episode = trainer.sampler.sample()
    fake_cupy.transfers.clear()
    trainer.step(episode)
    parameters = sum(p.data.size for p in trainer.params)
    images, dim = len(episode.support_images) + len(episode.query_images), trainer.config.hidden
    assert 0 < len(fake_cupy.transfers) <= 30, fake_cupy.transfers
    assert max(fake_cupy.transfers) <= max(images * dim, len(episode.query_images) * episode.ways) < parameters / 10
