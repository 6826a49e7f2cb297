"""Checkpoints as ``.npz`` files: written atomically, read without pickle.

Layout: ``model/<name>`` and ``lambda/<name>`` hold the state dicts of the network and of the
adaptive-λ network; ``optimizer/<which>/<i>/<key>`` the per-parameter optimiser state;
``meta`` a JSON string with the configuration, the episode reached, the generators' states and
the optimisers' hyperparameters. A checkpoint is written to ``<path>.partial`` and renamed over
``<path>``, so an interrupted save never leaves a broken file behind.
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from typing import Any

import numpy as np

from .. import backend


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing, truncated, corrupt, or of another model."""


def _flatten_optimizer(prefix: str, state_dict: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    scalars: dict[str, Any] = {}
    for i, entry in state_dict["state"].items():
        for key, value in entry.items():
            if hasattr(value, "shape") and value.shape != ():
                arrays[f"optimizer/{prefix}/{i}/{key}"] = backend.to_numpy(value)
            else:
                scalars[f"{i}/{key}"] = value.item() if hasattr(value, "item") else value
    return {"hyperparameters": state_dict["hyperparameters"], "scalars": scalars}


def _unflatten_optimizer(prefix: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    head = f"optimizer/{prefix}/"
    for name, value in arrays.items():
        if name.startswith(head):
            i, key = name[len(head) :].split("/", 1)
            state.setdefault(int(i), {})[key] = value
    for name, value in meta["scalars"].items():
        i, key = name.split("/", 1)
        state.setdefault(int(i), {})[key] = value
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["hyperparameters"].items()}
    return {"hyperparameters": hyper, "state": state}


def save(path: str | os.PathLike[str], model: Any, optimizers: dict[str, Any], meta: dict[str, Any], extra_modules: dict[str, Any] | None = None) -> pathlib.Path:
    """Write a checkpoint (see the module docstring); returns its path."""
    path = pathlib.Path(path)
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.state_dict().items()}
    for prefix, module in (extra_modules or {}).items():
        arrays.update({f"{prefix}/{k}": v for k, v in module.state_dict().items()})
    meta = dict(meta, optimizers={name: _flatten_optimizer(name, opt.state_dict(), arrays) for name, opt in optimizers.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        np.savez(f, **arrays)
    os.replace(partial, path)
    return path


def load(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a checkpoint, with a clear :class:`CheckpointError` when it is
    missing, truncated or not a checkpoint."""
    path = pathlib.Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({type(error).__name__}: {error})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is not an nploss checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint {path} has an unreadable 'meta' entry ({error})") from None
    return arrays, meta


def restore(arrays: dict[str, np.ndarray], meta: dict[str, Any], model: Any, optimizers: dict[str, Any], extra_modules: dict[str, Any] | None = None) -> None:
    """Load what :func:`save` wrote into freshly built objects of the same configuration."""
    def part(prefix: str) -> dict[str, np.ndarray]:
        head = prefix + "/"
        return {k[len(head) :]: v for k, v in arrays.items() if k.startswith(head)}

    try:
        model.load_state_dict(part("model"))
        for prefix, module in (extra_modules or {}).items():
            module.load_state_dict(part(prefix))
        for name, opt in optimizers.items():
            opt.load_state_dict(_unflatten_optimizer(name, meta["optimizers"][name], arrays))
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"checkpoint does not fit this model: {error}") from None
