"""One training step of the Conv-4 prototypical network, nploss against the same network in PyTorch.

A step is what :class:`nploss.fewshot.Trainer` does per episode without its diagnostics: embed
support and queries in one batch (batch norm in training mode), class-mean prototypes, logits
minus the squared Euclidean distance, cross entropy over the queries, backward, one Adam step.
The PyTorch network is the same: four blocks of Conv2d(3x3, padding 1, 64 filters),
BatchNorm2d, ReLU, MaxPool2d(2); float32; same thread count. The two sides run interleaved, and
the table gives the median over the repeats. Target (issue 8): at most 1.2x PyTorch.

As the trainer does, the benchmark first calls :func:`nploss.heap.keep_freed_memory`, which
keeps the memory of each step's large arrays in the process instead of taking it from the
kernel again, page by page, at the next step. It sets the C library's malloc for the whole
process, so PyTorch's step, in the same process, runs under the same settings.

With more than one thread the same rows are measured again at 1 thread, in a child process:
on a machine shared with other work, BLAS and OpenMP threads that wait for each other (a
matrix product with a long inner dimension, such as a convolution's weight gradient, syncs its
threads once per block) can dominate both sides at 2 threads.

With ``--gpu`` (``benchmarks/device.py``) both steps run on the GPU: nploss on CuPy, the same
network in PyTorch CUDA; the target is the CPU's, so GPU rows carry none.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .common import REPEATS, THREADS, interleaved_medians, load_torch
from .device import CPU, Device

EPISODES = ((5, 5, 15), (20, 5, 5))  # (ways, shots, queries per class)
HIDDEN = 64
TARGET = 1.2


def _episode(ways: int, shots: int, queries: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    support = rng.random((ways * shots, 28, 28), dtype=np.float32)
    query = rng.random((ways * queries, 28, 28), dtype=np.float32)
    return support, np.repeat(np.arange(ways), shots), query, np.repeat(np.arange(ways), queries)


def nploss_step(ways: int, shots: int, queries: int, device: Device = CPU) -> Callable[[], Any]:
    """One step on ``device`` (on the GPU, nploss's backend must be CuPy: ``device.gpu()``)."""
    import nploss.losses as L
    from nploss import heap, optim
    from nploss.fewshot import ProtoNet

    support, support_labels, query, query_labels = _episode(ways, shots, queries)
    support, query = device.put(support), device.put(query)
    heap.keep_freed_memory()  # as Trainer does (process-wide: PyTorch, in the same process, gains as much)
    model = ProtoNet(hidden=HIDDEN, dtype="float32")
    model.train()
    optimizer = optim.Adam(list(model.parameters()), lr=1e-3)

    def step() -> None:
        out = model.forward(support, support_labels, query, ways)
        loss = L.prototypical(out["query"], out["prototypes"], np.arange(ways), query_labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def torch_step(torch: Any, ways: int, shots: int, queries: int, device: Device = CPU) -> Callable[[], Any]:
    nn = torch.nn
    torch.manual_seed(0)

    def block(c_in: int) -> list[Any]:
        return [nn.Conv2d(c_in, HIDDEN, 3, padding=1), nn.BatchNorm2d(HIDDEN), nn.ReLU(), nn.MaxPool2d(2)]

    net = nn.Sequential(*block(1), *block(HIDDEN), *block(HIDDEN), *block(HIDDEN), nn.Flatten()).to(device.torch_device)
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    support, support_labels, query, query_labels = _episode(ways, shots, queries)
    images = torch.from_numpy(np.concatenate([support, query])[:, None]).to(device.torch_device)
    labels = torch.from_numpy(query_labels).to(device.torch_device)
    n_support = len(support_labels)

    def step() -> None:
        z = net(images)
        s, q = z[:n_support], z[n_support:]
        prototypes = s.reshape(ways, shots, -1).mean(dim=1)  # support sorted by class
        logits = -(q.pow(2).sum(1, keepdim=True) - 2.0 * q @ prototypes.T + prototypes.pow(2).sum(1))
        loss = nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def measure(threads: int, device: Device = CPU) -> list[dict[str, Any]]:
    """Both episodes at ``threads`` threads (this process's setting) or on the GPU, interleaved."""
    torch = load_torch(gpu=device is not CPU)
    rows = []
    for ways, shots, queries in EPISODES:
        fns = {"nploss": nploss_step(ways, shots, queries, device)}
        if torch is not None:
            fns["torch"] = torch_step(torch, ways, shots, queries, device)
        # short steps: more repeats
        t = interleaved_medians(fns, repeats=2 * REPEATS, warmup=2, synchronize=device.synchronize)
        images = ways * (shots + queries)
        where = f"{threads} thr" if device is CPU else device.name
        row = {"episode": f"{ways}-way {shots}-shot {queries}-query ({images} images)", "where": where}
        row["nploss_ms"] = 1e3 * t["nploss"]
        row["torch_ms"] = 1e3 * t["torch"] if "torch" in t else float("nan")
        row["ratio"] = row["nploss_ms"] / row["torch_ms"]
        rows.append(row)
    return rows


def _one_thread() -> list[dict[str, Any]]:
    """The same rows measured at 1 thread, in a child process (BLAS fixes its thread count when
    NumPy is imported)."""
    env = {**os.environ, "NPLOSS_BENCH_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NPLOSS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "benchmarks.protonet_step", "--json"], env=env, capture_output=True, text=True,
                          cwd=pathlib.Path(__file__).resolve().parent.parent)  # fmt: skip
    if done.returncode != 0:
        print(f"  (the 1-thread run failed: {done.stderr.strip().splitlines()[-1:]})")
        return []
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(device: Device = CPU) -> list[dict[str, Any]]:
    on_cpu = device is CPU
    where = f"{THREADS} threads{', then 1 thread' if THREADS != 1 else ''}" if on_cpu else "on the GPU (CuPy; PyTorch CUDA)"
    print(f"Prototypical network (Conv-4, {HIDDEN} filters, float32), one training step with Adam, "
          f"median of {2 * REPEATS} interleaved repeats; {where}")  # fmt: skip
    rows = measure(THREADS, device)
    if on_cpu and THREADS != 1:
        rows += _one_thread()
    for row in rows:
        print(f"  {row['episode']:<36} {row['where']:>5}  nploss {row['nploss_ms']:7.1f} ms   PyTorch {row['torch_ms']:7.1f} ms   "
              f"ratio {row['ratio']:.2f}  {verdict(row)}", flush=True)  # fmt: skip
    return rows


def verdict(row: dict[str, Any]) -> str:
    if row["ratio"] != row["ratio"] or row["where"] == "GPU":  # NaN: no PyTorch; the target is the CPU's
        return ""
    return f"{'met' if row['ratio'] <= TARGET else 'MISSED'} (<= {TARGET}x)"


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| episode | where | nploss ms | PyTorch ms | ratio | target |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['episode']} | {r['where']} | {r['nploss_ms']:.1f} | {r['torch_ms']:.1f} | {r['ratio']:.2f} | {verdict(r)} |")
    return [line.replace("| nan |", "| – |") for line in lines]


if __name__ == "__main__":
    if "--json" in sys.argv:
        print(json.dumps(measure(THREADS)))
    else:
        run()
