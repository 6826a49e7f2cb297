"""One training step of the Conv-4 prototypical network, nploss against the same network in PyTorch.

A step is what :class:`nploss.fewshot.Trainer` does per episode without its diagnostics: embed
support and queries in one batch (batch norm in training mode), class-mean prototypes, logits
minus the squared Euclidean distance, cross entropy over the queries, backward, one Adam step.
The PyTorch network is the same: four blocks of Conv2d(3x3, padding 1, 64 filters),
BatchNorm2d, ReLU, MaxPool2d(2); float32; same thread count. The two sides run interleaved, and
the table gives the median over the repeats. Target: at most 1.2x PyTorch.

As the trainer does, the benchmark first calls :func:`nploss.heap.keep_freed_memory`, which
keeps the memory of each step's large arrays in the process instead of taking it from the
kernel again, page by page, at the next step. It sets the C library's malloc for the whole
process, so PyTorch's step, in the same process, runs under the same settings.

With more than one thread the same rows are measured again at 1 thread, in a child process:
on a machine shared with other work, BLAS and OpenMP threads that wait for each other (a
matrix product with a long inner dimension, such as a convolution's weight gradient, syncs its
threads once per block) can dominate both sides at 2 threads.

Where nploss's step spends its time: every matrix product of the step (the convolutions, their
VJPs, the distances) goes through ``operator.matmul``, which the benchmark wraps with a timer
while nploss's step runs (:func:`blas_timer`). *BLAS ms* is their time per step (median over the
repeats), *other ms* (median over the same repeats) the rest of the step (batch norm, max-pooling, ReLU, im2col and col2im
copies, reductions, the engine, the optimizer): the part that nploss's own kernels and thread
pool do, not the BLAS. Its scaling from 1 to 2 threads is printed under the table, beside the
scaling of PyTorch's whole step.

With ``--gpu`` (``benchmarks/device.py``) both steps run on the GPU: nploss on CuPy, the same
network in PyTorch CUDA; the target is the CPU's, so GPU rows carry none.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def blas_timer(seconds: list[float]) -> Iterator[None]:
    """Within the block, ``operator.matmul`` (what nploss's matmul calls, looked up at each call)
    adds its wall time to ``seconds[0]``; restored afterwards. PyTorch does not call it."""
    plain = operator.matmul

    def timed(a: Any, b: Any) -> Any:
        start = time.perf_counter()
        try:
            return plain(a, b)
        finally:
            seconds[0] += time.perf_counter() - start

    operator.matmul = timed
    try:
        yield
    finally:
        operator.matmul = plain


def _with_blas_time(step: Callable[[], Any], per_step: list[tuple[float, float]]) -> Callable[[], Any]:
    """``step``, appending (the time of its matrix products, the time of the rest) to
    ``per_step`` at each call."""

    def timed_step() -> None:
        seconds = [0.0]
        start = time.perf_counter()
        with blas_timer(seconds):
            step()
        per_step.append((seconds[0], time.perf_counter() - start - seconds[0]))

    return timed_step


def measure(threads: int, device: Device = CPU) -> list[dict[str, Any]]:
    """Both episodes at ``threads`` threads (this process's setting) or on the GPU, interleaved."""
    torch = load_torch(gpu=device is not CPU)
    rows = []
    for ways, shots, queries in EPISODES:
        blas_seconds: list[tuple[float, float]] = []
        step = nploss_step(ways, shots, queries, device)
        fns = {"nploss": _with_blas_time(step, blas_seconds) if device is CPU else step}
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
        # medians per part over the same calls (the warm-up ones left out); on the GPU products
        # run asynchronously: their host-side time means nothing there
        timed = blas_seconds[2:]
        row["blas_ms"] = 1e3 * statistics.median(b for b, _ in timed) if timed else float("nan")
        row["other_ms"] = 1e3 * statistics.median(o for _, o in timed) if timed else float("nan")
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
        print(f"  {row['episode']:<36} {row['where']:>5}  nploss {row['nploss_ms']:7.1f} ms (BLAS {row['blas_ms']:5.1f}, "
              f"other {row['other_ms']:5.1f})   PyTorch {row['torch_ms']:7.1f} ms   ratio {row['ratio']:.2f}  {verdict(row)}",
              flush=True)  # fmt: skip
    for line in scaling(rows):
        print(f"  {line}")
    return rows


def scaling(rows: list[dict[str, Any]]) -> list[str]:
    """Per episode: the non-BLAS part of nploss's step from 1 to THREADS threads, and PyTorch's
    whole step, as speed-ups (time at 1 thread / time at THREADS)."""
    lines = []
    for row in rows:
        one = next((r for r in rows if r["episode"] == row["episode"] and r["where"] == "1 thr"), None)
        if row["where"] in ("1 thr", "GPU") or one is None or row["where"] != f"{THREADS} thr":
            continue
        torch_speedup = one["torch_ms"] / row["torch_ms"]
        lines.append(
            f"{row['episode']}: nploss's non-BLAS part {one['other_ms']:.1f} ms at 1 thread, {row['other_ms']:.1f} ms at "
            f"{THREADS}: {one['other_ms'] / row['other_ms']:.2f}x (its BLAS part {one['blas_ms'] / row['blas_ms']:.2f}x, "
            f"its whole step {one['nploss_ms'] / row['nploss_ms']:.2f}x; PyTorch's whole step {torch_speedup:.2f}x)"
        )
    return lines


def verdict(row: dict[str, Any]) -> str:
    if row["ratio"] != row["ratio"] or row["where"] == "GPU":  # NaN: no PyTorch; the target is the CPU's
        return ""
    return f"{'met' if row['ratio'] <= TARGET else 'MISSED'} (<= {TARGET}x)"


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| episode | where | nploss ms | of which BLAS ms | other ms | PyTorch ms | ratio | target |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['episode']} | {r['where']} | {r['nploss_ms']:.1f} | {r['blas_ms']:.1f} | {r['other_ms']:.1f} | "
                     f"{r['torch_ms']:.1f} | {r['ratio']:.2f} | {verdict(r)} |")  # fmt: skip
    speedups = scaling(rows)
    if speedups:
        lines += ["", "Scaling from 1 thread to " + str(THREADS) + " (time at 1 thread / time at " + str(THREADS) + "):", ""]
        lines += [f"- {line}" for line in speedups]
    return [line.replace("| nan |", "| – |") for line in lines]


if __name__ == "__main__":
    if "--json" in sys.argv:
        print(json.dumps(measure(THREADS)))
    else:
        run()
