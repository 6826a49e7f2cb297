"""Peak resident memory: one training step of the prototypical network and one MSE forward +
backward on 1e7 float32 values, nploss against PyTorch.

Each measurement runs in a fresh Python process of its own (``python -m benchmarks.memory
--one SIDE CASE``), so that no other allocation, no memory kept by an earlier case and no
library of the other side counts. The process imports its library, makes the inputs (and the
network), resets its peak resident set size (RSS) to the RSS now (``/proc/self/clear_refs``),
records that RSS, runs the call once and reads the peak (``VmHWM`` in ``/proc/self/status``).
*step peak MB* is that peak less the RSS before the call: the memory the call itself needed at
its highest point (the graph, the saved intermediates, the gradients, the work arrays; for the
step also the optimizer's state on its first call); *process peak MB* the whole process's
peak (the library and the inputs included). The step is the one of the ``protonet`` benchmark
(5-way 5-shot 15-query, 100 images of 28 x 28, Conv-4 with 64 filters, float32, Adam), with
the setting that nploss's trainer uses (:func:`nploss.heap.keep_freed_memory`), at the
benchmark's thread count.

For nploss, ``tracemalloc`` also gives the peak of the NumPy arrays alone (NumPy reports its
array buffers to it), with none of the allocator's slack: *arrays peak MB*. PyTorch's tensors
are not visible to it.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .common import THREADS

CASES = ("protonet", "mse")
TITLES = {"protonet": "ProtoNet step, 5-way 5-shot 15-query (100 images)", "mse": "MSE forward + backward, N = 1e7, float32"}
MSE_N = 10_000_000
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    """The resident set size now (Linux: /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _peak_rss_bytes() -> int:
    """The peak RSS of this process's memory since it started or since :func:`_reset_peak`
    (VmHWM; ``ru_maxrss`` would carry the parent's peak across ``exec`` on Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> bool:
    """Reset the peak RSS to the RSS now (Linux 4.0 and later); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _call(side: str, case: str) -> Callable[[], Any]:
    """The call to measure, with its inputs made (``side``: "nploss" or "torch")."""
    if case == "protonet":
        from . import protonet_step

        if side == "nploss":
            return protonet_step.nploss_step(5, 5, 15)
        import torch

        torch.set_num_threads(THREADS)
        return protonet_step.torch_step(torch, 5, 5, 15)
    rng = np.random.default_rng(0)
    prediction, target = (rng.standard_normal(MSE_N).astype("float32") for _ in range(2))
    if side == "nploss":
        import nploss.autograd as ag
        import nploss.losses as L

        def mse() -> None:
            L.mse(ag.Tensor(prediction, requires_grad=True), ag.Tensor(target, requires_grad=True)).backward()

        return mse
    import torch

    torch.set_num_threads(THREADS)
    p, t = torch.from_numpy(prediction), torch.from_numpy(target)

    def torch_mse() -> None:
        torch.nn.functional.mse_loss(p.detach().requires_grad_(), t.detach().requires_grad_()).backward()

    return torch_mse


def one(side: str, case: str) -> dict[str, Any]:
    """Measure one call in this process (see the module docstring)."""
    import tracemalloc

    call = _call(side, case)
    reset = _reset_peak()  # where refused, the peak may be the setup's, above the call's own
    before = _rss_bytes()
    if side == "nploss":
        tracemalloc.start()
    call()
    arrays_peak = tracemalloc.get_traced_memory()[1] if side == "nploss" else float("nan")
    tracemalloc.stop()
    peak = _peak_rss_bytes()
    step = (peak - before) / 1e6 if reset else float("nan")  # unknown where the peak could not be reset
    return {"side": side, "case": case, "step_MB": step, "process_MB": peak / 1e6, "arrays_MB": arrays_peak / 1e6}


def _in_child(side: str, case: str) -> dict[str, Any] | None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--one", side, case], capture_output=True, text=True, check=False,
                          cwd=pathlib.Path(__file__).resolve().parent.parent)  # fmt: skip
    if done.returncode != 0:
        print(f"  ({side} {case} failed: {done.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> list[dict[str, Any]]:
    print("Peak resident memory, each call once in a fresh process (MB = 10^6 bytes)")
    try:
        import torch  # noqa: F401

        sides = ("nploss", "torch")
    except ImportError:
        print("  (PyTorch is not installed: its column is skipped)")
        sides = ("nploss",)
    rows = []
    for case in CASES:
        found = {side: _in_child(side, case) for side in sides}
        ours, theirs = found.get("nploss"), found.get("torch")
        if ours is None:
            continue
        row = {
            "case": TITLES[case], "nploss_step_MB": ours["step_MB"], "nploss_process_MB": ours["process_MB"],
            "nploss_arrays_MB": ours["arrays_MB"], "torch_step_MB": float("nan"), "torch_process_MB": float("nan"),
        }  # fmt: skip
        if theirs is not None:
            row.update(torch_step_MB=theirs["step_MB"], torch_process_MB=theirs["process_MB"])
        rows.append(row)
        print(f"  {row['case']:<52} nploss: step peak {row['nploss_step_MB']:7.1f} MB (arrays {row['nploss_arrays_MB']:6.1f}), "
              f"process {row['nploss_process_MB']:7.1f} MB   PyTorch: step peak {row['torch_step_MB']:7.1f} MB, "
              f"process {row['torch_process_MB']:7.1f} MB", flush=True)  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| call | nploss step peak MB | nploss arrays peak MB | PyTorch step peak MB | ratio | nploss process peak MB | PyTorch process peak MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ratio = r["nploss_step_MB"] / r["torch_step_MB"] if r["torch_step_MB"] > 0 else float("nan")
        lines.append(
            f"| {r['case']} | {r['nploss_step_MB']:.1f} | {r['nploss_arrays_MB']:.1f} | {r['torch_step_MB']:.1f} | {ratio:.2f} | "
            f"{r['nploss_process_MB']:.1f} | {r['torch_process_MB']:.1f} |"
        )
    return [line.replace("| nan |", "| – |") for line in lines]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(sys.argv[2], sys.argv[3])))
    else:
        run()
