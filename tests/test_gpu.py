"""The CuPy backend on a GPU: skipped cleanly where CuPy or a GPU is missing."""

from __future__ import annotations

import numpy as np
import pytest

cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
try:
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no GPU", allow_module_level=True)
except Exception:  # no driver
    pytest.skip("no usable GPU", allow_module_level=True)

import nploss  # noqa: E402
import nploss.autograd as ag  # noqa: E402
from nploss import backend  # noqa: E402


@pytest.fixture
def on_gpu():
    nploss.use("cupy")
    yield
    nploss.use("numpy")


def test_engine_runs_on_the_gpu_and_matches_the_cpu(on_gpu):
    rng = np.random.default_rng(0)
    x_host, w_host = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    x, w = ag.Tensor(x_host, requires_grad=True), ag.Tensor(w_host, requires_grad=True)
    assert isinstance(x.data, cupy.ndarray)
    y = ag.logsumexp(ag.reshape(ag.max_pool2d(ag.relu(ag.conv2d(x, w, padding=1)), 2), (2, -1)), axis=1).sum()
    y.backward()
    nploss.use("numpy")
    xc, wc = ag.Tensor(x_host, requires_grad=True), ag.Tensor(w_host, requires_grad=True)
    yc = ag.logsumexp(ag.reshape(ag.max_pool2d(ag.relu(ag.conv2d(xc, wc, padding=1)), 2), (2, -1)), axis=1).sum()
    yc.backward()
    np.testing.assert_allclose(backend.to_numpy(y.data), yc.data, rtol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(w.grad.data), wc.grad.data, rtol=1e-9)
    np.testing.assert_allclose(backend.to_numpy(x.grad.data), xc.grad.data, rtol=1e-9)
