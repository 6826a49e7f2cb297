"""Which array module nploss computes with: NumPy by default, CuPy when asked.

Every array operation in nploss goes through the module returned here (called ``xp`` by
convention, as in DeZero and the Python array API), so the same code runs on the CPU with NumPy
and on an NVIDIA GPU with CuPy. This file is the only place that imports CuPy.

Choose the backend with ``nploss.use("cupy")`` or the environment variable
``NPLOSS_BACKEND=cupy`` (read once, at import).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy

BACKENDS = ("numpy", "cupy")

_current: dict[str, Any] = {"name": "numpy", "xp": numpy}


class NoGPUError(RuntimeError):
    """CuPy is installed, but no GPU answers: the 'cupy' backend cannot run here."""


def _import_cupy() -> ModuleType:
    """Import CuPy and check that a GPU answers, or explain what to install."""
    try:
        import cupy
    except ImportError as error:
        raise ImportError(
            "the 'cupy' backend needs CuPy, which is not installed. Install the wheel that matches "
            "your CUDA version, e.g. `pip install cupy-cuda12x` (or `pip install nploss[gpu]`), "
            "or use the default backend with nploss.use('numpy')."
        ) from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDA driver missing or broken: CuPy raises its own error types
        raise NoGPUError(
            f"CuPy is installed but no usable GPU was found ({error}). The 'cupy' backend needs an "
            "NVIDIA GPU with a working driver; use nploss.use('numpy') on a machine without one."
        ) from error
    if count == 0:
        raise NoGPUError("CuPy is installed but sees no GPU; use nploss.use('numpy') instead.")
    return cupy


def use(name: str) -> None:
    """Select the array backend: ``"numpy"`` (default) or ``"cupy"``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`BACKENDS`.
    ImportError, NoGPUError
        If ``"cupy"`` is asked for but CuPy or a GPU is missing; the message says what to install.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(map(repr, BACKENDS))}")
    xp = numpy if name == "numpy" else _import_cupy()
    _current["name"], _current["xp"] = name, xp


def current() -> str:
    """Name of the backend in use (``"numpy"`` or ``"cupy"``)."""
    return _current["name"]


def xp() -> ModuleType:
    """The array module of the backend in use (``numpy`` or ``cupy``)."""
    return _current["xp"]


# What NumPy data is: an array or a NumPy scalar (a 0-d result)
NUMPY_DATA = (numpy.ndarray, numpy.generic)


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module that owns ``arrays``: CuPy if any of them lives on the GPU, else NumPy.

    With no arrays (or only Python numbers) it returns the module of the backend in use.
    """
    if _current["name"] == "cupy":
        cupy = _current["xp"]
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
        if any(isinstance(a, numpy.ndarray) for a in arrays):
            return numpy
        return cupy
    # a plain loop, not any(<generator>): the engine asks this for every op on tiny arrays
    for a in arrays:
        if isinstance(a, NUMPY_DATA):
            return numpy
    return _current["xp"]


def asarray(data: Any, dtype: Any = None) -> Any:
    """``data`` as an array of the backend in use (copied to the GPU when the backend is CuPy)."""
    return _current["xp"].asarray(data, dtype=dtype)


def to_numpy(a: Any) -> numpy.ndarray:
    """``a`` as a NumPy array on the host (a device-to-host copy when ``a`` is a CuPy array)."""
    if type(a) is not numpy.ndarray and hasattr(a, "get"):  # a device array: CuPy's copy to the host
        return a.get()
    return numpy.asarray(a)


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, adding once per occurrence of a repeated index.

    Plain ``target[index] += values`` keeps only the last write of a repeated index; gradients of
    indexing need every one (``numpy.add.at``; ``cupyx.scatter_add`` on the GPU).
    """
    if type(target) is numpy.ndarray:
        numpy.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


def _use_from_environment() -> None:
    name = os.environ.get("NPLOSS_BACKEND", "").strip().lower()
    if name:
        use(name)


_use_from_environment()
