"""Where the losses and the training step are benchmarked: the CPU (NumPy; PyTorch on as many
threads) or the GPU (``python -m benchmarks --gpu``: CuPy through ``nploss.use("cupy")``, against
PyTorch CUDA).

A GPU kernel returns before it has run: every timed call ends by waiting for the device (CuPy's
kernels and PyTorch's alike), so that the clock stops when the work is done, not when it was
queued.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Device:
    name: str  # "CPU" or "GPU"
    xp: Any  # the array module nploss computes with there
    torch_device: str  # PyTorch's name for it

    def put(self, array: np.ndarray) -> Any:
        """A host array on this device (the array itself on the CPU)."""
        return self.xp.asarray(array)

    def synchronize(self) -> None:
        """Wait until every kernel launched so far has run (on the CPU, nothing to wait for)."""
        if self.name == "CPU":
            return
        self.xp.cuda.runtime.deviceSynchronize()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.synchronize()


CPU = Device("CPU", np, "cpu")


def gpu() -> Device:
    """The GPU, with CuPy as nploss's backend from here on (an error that says what to install
    when CuPy or a GPU is missing)."""
    import nploss
    from nploss import backend

    nploss.use("cupy")
    return Device("GPU", backend.xp(), "cuda")


def describe(device: Device) -> dict[str, str]:
    """The GPU's name and the CUDA versions, for the head of the results (nothing on the CPU)."""
    if device.name == "CPU":
        return {}
    properties = device.xp.cuda.runtime.getDeviceProperties(0)
    name = properties["name"]
    info = {"GPU": name.decode() if isinstance(name, bytes) else str(name), "CuPy": device.xp.__version__}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["PyTorch CUDA"] = str(torch.version.cuda)
    return info
