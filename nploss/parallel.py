"""A small thread pool for NumPy work on large arrays.

NumPy's ufuncs and copies run on one core, but they release the GIL while they loop, so
independent slices of one large computation can run on several threads at once. nploss uses
this for losses on large inputs, evaluated in row blocks (:mod:`nploss.losses._blocks`). (The
convolution's copies gained nothing this way, most likely because the BLAS threads of its
matrix products, still spinning after each product, already occupy the cores.)
``NPLOSS_NUM_THREADS`` (or :func:`set_num_threads`) sets the threads; the default is the number
of cores this process may use. Only NumPy arrays are split: CuPy already runs every kernel on
the whole GPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _default_threads() -> int:
    value = os.environ.get("NPLOSS_NUM_THREADS", "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"NPLOSS_NUM_THREADS must be a positive integer, got {value!r}")
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_threads = [_default_threads()]
_pool: list[ThreadPoolExecutor | None] = [None]


def set_num_threads(n: int) -> None:
    """Threads for large array work (default: ``NPLOSS_NUM_THREADS``, else the usable cores)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    if _pool[0] is not None:
        _pool[0].shutdown()
        _pool[0] = None
    _threads[0] = n


def get_num_threads() -> int:
    """Threads for large array work."""
    return _threads[0]


def map_in_order(fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
    """``[fn(item) for item in items]``, on the thread pool (one thread: in the caller)."""
    items = list(items)
    if _threads[0] == 1 or len(items) < 2:
        return [fn(item) for item in items]
    if _pool[0] is None:
        _pool[0] = ThreadPoolExecutor(max_workers=_threads[0], thread_name_prefix="nploss")
    # contiguous runs of items per task: fewer hand-offs, and each thread walks memory in order
    per_task = max(1, len(items) // (4 * _threads[0]))
    runs = [items[i : i + per_task] for i in range(0, len(items), per_task)]
    return [r for results in _pool[0].map(lambda run: [fn(item) for item in run], runs) for r in results]
