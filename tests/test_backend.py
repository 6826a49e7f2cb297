"""Backend selection: NumPy by default, clear errors for unknown names and a missing CuPy."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import nploss
from nploss import backend

HAVE_CUPY = importlib.util.find_spec("cupy") is not None


def test_numpy_is_the_default():
    assert backend.current() == "numpy"
    assert backend.get_array_module() is np
    assert backend.get_array_module(np.ones(2), 3.0) is np
    assert isinstance(nploss.Tensor([1.0, 2.0]).data, np.ndarray)


def test_unknown_backend_name_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'torch'.*'numpy', 'cupy'"):
        nploss.use("torch")
    assert backend.current() == "numpy"


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed here")
def test_missing_cupy_says_what_to_install():
    with pytest.raises(ImportError, match="pip install cupy-cuda12x"):
        nploss.use("cupy")
    assert backend.current() == "numpy"


def test_environment_variable_selects_the_backend_at_import():
    env = dict(os.environ, NPLOSS_BACKEND="bogus")
    run = subprocess.run([sys.executable, "-c", "import nploss"], env=env, capture_output=True, text=True)
    assert run.returncode != 0 and "unknown backend 'bogus'" in run.stderr


def test_to_numpy_and_scatter_add_with_repeated_indices():
    target = np.zeros(3)
    backend.scatter_add(target, np.array([0, 2, 0]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(target, [4.0, 0.0, 2.0])
    assert isinstance(backend.to_numpy([1, 2]), np.ndarray)
