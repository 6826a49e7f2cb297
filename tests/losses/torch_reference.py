"""Compare nploss with the PyTorch reference values of tests/fixtures/torch/<family>.npz."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np

import nploss.autograd as ag

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "torch"
RTOL, ATOL = 1e-6, 1e-10


def load(family: str) -> dict[str, dict[str, Any]]:
    """``{case_id: {"input": {...}, "grad": {...}, "value": ..., "cotangent": ...}}``."""
    cases: dict[str, dict[str, Any]] = {}
    with np.load(FIXTURES / f"{family}.npz") as data:
        for key in data.files:
            if key == "torch_version":
                continue
            case_id, kind, *name = key.split("/")
            entry = cases.setdefault(case_id, {"input": {}, "grad": {}})
            if name:
                entry[kind][name[0]] = data[key]
            else:
                entry[kind] = data[key]
    return cases


def assert_matches_torch(case: dict[str, Any], fn: Callable[..., Any]) -> None:
    """Value and gradients of ``fn(**inputs)`` against PyTorch's, one-sided and tight."""
    tensors = {
        name: ag.Tensor(value, requires_grad=name in case["grad"]) for name, value in case["input"].items()
    }
    out = fn(**tensors)
    np.testing.assert_allclose(ag.as_data(out), case["value"], rtol=RTOL, atol=ATOL, err_msg="value")
    if case["grad"]:
        wrt = list(case["grad"])
        grads = ag.grad(out, [tensors[n] for n in wrt], grad_outputs=case["cotangent"], allow_unused=True)
        for name, g in zip(wrt, grads):
            got = np.zeros_like(case["grad"][name]) if g is None else g.numpy()
            np.testing.assert_allclose(got, case["grad"][name], rtol=RTOL, atol=ATOL, err_msg=f"gradient of {name}")
