"""Timing helpers shared by the benchmarks: medians over repeats, PyTorch when it is there, and the
machine description that heads ``RESULTS.md``."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

THREADS = int(os.environ.get("NPLOSS_BENCH_THREADS", "2"))
# Repeats per measurement (medians); NPLOSS_BENCH_REPEATS=3 for a quicker, noisier run.
REPEATS = int(os.environ.get("NPLOSS_BENCH_REPEATS", "5"))
SETTLE_SECONDS = 0.05  # pause before each timed call (see interleaved_medians)


def median_seconds(fn: Callable[[], Any], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(
    fns: dict[str, Callable[[], Any]], repeats: int = REPEATS, warmup: int = 1, synchronize: Callable[[], Any] | None = None
) -> dict[str, float]:
    """Median wall time of each ``fn()``, the functions run round-robin (a, b, c, a, b, c ...);
    with ``synchronize`` (a GPU: see ``benchmarks.device``), each timed call ends with it.

    Interleaving makes a ratio between two of them fair on a shared machine: a burst of load
    from another process slows both sides of the ratio alike, instead of whichever ran then.
    Each timed call starts after a pause of ``SETTLE_SECONDS``: the OpenMP and BLAS threads of
    the call before it (PyTorch's, NumPy's) keep spinning for a few milliseconds after their
    work, and would otherwise hold a core at the start of the next call.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    if synchronize is not None:
        synchronize()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            fn()
            if synchronize is not None:
                synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def load_torch(gpu: bool = False) -> Any:
    """PyTorch with the benchmark's thread count, or None (with a message) when absent or, for
    the GPU, without CUDA."""
    try:
        import torch
    except ImportError:
        print("  (PyTorch is not installed: its column is skipped; `pip install torch` to compare)")
        return None
    if gpu and not torch.cuda.is_available():
        print("  (this PyTorch sees no CUDA GPU: its column is skipped)")
        return None
    torch.set_num_threads(THREADS)
    return torch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), with its family and model numbers and
    its widest vector instructions (a virtual machine may name only the brand), else what
    ``platform`` knows."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not line.strip():  # the first processor is enough
                    break
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    flags = fields.get("flags", "").split()
    vector = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")) if flag in flags), "")
    details = [f"family {fields['cpu family']}, model {fields['model']}" if "cpu family" in fields and "model" in fields else "", vector]
    details = [d for d in details if d]
    return fields["model name"] + (f" ({'; '.join(details)})" if details else "")


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def machine() -> dict[str, str]:
    """What a reader needs to weigh the numbers: CPU, cores, threads, load, versions, date."""
    import numpy

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    load = load_average()
    cores = os.cpu_count() or 0
    info = {
        "CPU": f"{cpu_model()}, {cores} cores visible",
        "threads": f"{THREADS} (NumPy's BLAS, nploss's thread pool and PyTorch alike; OpenBLAS thread timeout "
        f"{os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'default')})",
        "load average (1, 5, 15 min)": "unknown" if load is None else ", ".join(f"{x:.2f}" for x in load),
        "Python": platform.python_version(),
        "NumPy": numpy.__version__,
        "PyTorch": torch_version,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
    }
    if load is not None and cores and load[0] > 0.5 * cores:
        info["note"] = (
            f"the machine was shared (1-minute load {load[0]:.2f} on {cores} cores): absolute times are "
            "inflated; the ratios are measured interleaved in the same run, so both sides share the load"
        )
    return info
