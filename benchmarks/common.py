"""Timing helpers shared by the benchmarks: medians over repeats, PyTorch when it is there."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

THREADS = int(os.environ.get("NPLOSS_BENCH_THREADS", "2"))


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


def load_torch() -> Any:
    """PyTorch with the benchmark's thread count, or None (with a message) when absent."""
    try:
        import torch
    except ImportError:
        print("  (PyTorch is not installed: its column is skipped; `pip install torch` to compare)")
        return None
    torch.set_num_threads(THREADS)
    return torch
