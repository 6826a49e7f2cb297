"""A small thread pool for NumPy work on large arrays.

NumPy's ufuncs and copies run on one core, but they release the GIL while they loop, so
independent slices of one large computation can run on several threads at once. nploss uses
this for losses on large inputs, evaluated in row blocks (:mod:`nploss.losses._blocks`), and for
the per-channel work of the fast kernels of a convolutional network (:mod:`nploss.nn._fused`:
the copies of the convolution, batch norm, ReLU, max-pooling, with :func:`for_each_block`, in
pieces that stay in cache between passes). The reference ops of :mod:`nploss.autograd` use no
threads. ``NPLOSS_NUM_THREADS`` (or :func:`set_num_threads`) sets the threads; the default is
the number of cores this process may use. Only NumPy arrays are split: CuPy already runs every
kernel on the whole GPU.

One condition for any gain: OpenBLAS, NumPy's usual BLAS, keeps its threads spinning for a
while after every matrix product (``OPENBLAS_THREAD_TIMEOUT``, 2^28 cycles by default), so
between the products of a network they hold the cores these threads need (two threads then do
no better than one). ``import nploss`` shortens that wait to 2^18 cycles unless you set the
variable yourself; OpenBLAS reads it once, when NumPy is first imported, so import nploss first
or export it (``OPENBLAS_THREAD_TIMEOUT=18``).
"""

from __future__ import annotations

import math
import os
import queue
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np

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


def map_in_order(fn: Callable[[T], Any], items: Iterable[T], tasks: int | None = None) -> list[Any]:
    """``[fn(item) for item in items]``, on the calling thread and the pool's, handed out as
    ``tasks`` runs of consecutive items (default: four per thread).

    The caller works too: the pool holds one thread fewer than :func:`get_num_threads`, and
    every thread, the caller's included, takes the next run not yet taken until none is left.
    Why: the caller's core is already awake, where a pool thread must be woken first (and after
    a pause, a virtualised core may first have to be scheduled again by its host). The
    measurements behind this choice are in benchmarks/RESULTS.md ("Notes on the fast kernels").
    """
    items = list(items)
    threads = _threads[0]  # read once: another thread may change the setting meanwhile
    if threads == 1 or len(items) < 2:
        return [fn(item) for item in items]
    if _pool[0] is None:
        _pool[0] = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="nploss")
    pool = _pool[0]
    # contiguous runs of items per task: fewer hand-offs, and each thread walks memory in order
    per_task = -(-len(items) // tasks) if tasks else max(1, len(items) // (4 * threads))
    runs = [items[i : i + per_task] for i in range(0, len(items), per_task)]
    results: list[list[Any]] = [[] for _ in runs]
    untaken: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(runs)):
        untaken.put(i)

    def take() -> int | None:
        """The next run not yet taken, or None when none is left."""
        try:
            return untaken.get_nowait()
        except queue.Empty:
            return None

    def work() -> None:
        while (i := take()) is not None:
            results[i] = [fn(item) for item in runs[i]]

    helpers = [pool.submit(work) for _ in range(min(threads, len(runs)) - 1)]
    try:
        work()
    finally:
        while take() is not None:  # after an error, nothing more is taken (the helpers stop after their run)
            pass
        # a helper not started yet is cancelled: nothing left for it, no thread to wait for (a
        # call from inside a pool thread, whose helpers queue behind it, must not wait for them)
        started = [helper for helper in helpers if not helper.cancel()]
        wait(started)  # no helper may still write into the caller's arrays once this returns
    for helper in started:
        helper.result()  # a helper's exception, raised here
    return [r for run_results in results for r in run_results]


# Below this many elements a block is not worth a hand-off to another thread.
MIN_BLOCK_ELEMENTS = 1 << 16
# Above this many elements (2 MiB of float32) a thread's block is cut into pieces that it works
# through one after the other: an op that passes over its block several times (batch norm: a
# mean, a centring, a variance, a scaling; the folding of a convolution: kh * kw additions into
# the same image) then finds much of the piece in cache after the first pass. Not smaller: every
# NumPy call releases the GIL and takes it back, and when another thread holds it then, the
# caller sleeps until it is handed over, a wake-up that costs as much as a call on a small
# piece (more so on a virtualised core): with many small calls two threads do hardly better
# than one (benchmarks/RESULTS.md, "Notes on the fast kernels").
MAX_BLOCK_ELEMENTS = 1 << 19


def for_each_block(fn: Callable[[tuple[Any, ...]], Any], shape: tuple[int, ...], axis: int | None, xp: Any = None) -> None:
    """Call ``fn(index)`` for contiguous blocks of ``axis`` that together cover an array of
    ``shape``, the threads concurrently, each block of at most about :data:`MAX_BLOCK_ELEMENTS`
    where ``axis`` is long enough; ``index`` selects the block (``array[index]``). ``fn`` must
    write its results into its block only.

    Each thread takes the next block not yet taken, one at a time, rather than a fixed share of
    them: on a machine shared with other work, a thread whose core is taken away for a while
    then leaves its blocks to the others, instead of holding up the whole call (the caller waits
    for the last block). Their number is a multiple of the threads where the axis is long
    enough, so that no thread is left with the last block alone while the others wait.

    One block, the whole array (``fn`` called once, here), when ``axis`` is None, when the array
    is too small to share or to cut, or when ``xp`` is not NumPy (a GPU runs each kernel on all
    its cores).
    """
    if axis is None or (xp is not None and xp is not np):
        fn((Ellipsis,))
        return
    size, n = math.prod(shape), shape[axis]
    threads = min(_threads[0], n, size // MIN_BLOCK_ELEMENTS)
    blocks = max(threads, -(-size // MAX_BLOCK_ELEMENTS))
    if threads > 1:  # a whole number of blocks per thread: none left to one thread at the end
        blocks = -(-blocks // threads) * threads
    blocks = min(n, blocks)
    if blocks < 2:
        fn((Ellipsis,))
        return
    lead = (slice(None),) * axis
    bounds = [n * i // blocks for i in range(blocks + 1)]
    index = [lead + (slice(bounds[i], bounds[i + 1]),) for i in range(blocks)]
    if threads < 2:  # too small to share: the caller alone, piece after piece
        for block in index:
            fn(block)
        return
    map_in_order(fn, index, tasks=blocks)


def memory_order(array: Any) -> tuple[int, ...]:
    """The axes of ``array`` from the largest stride to the smallest: outermost first in memory,
    whatever view of the data ``array`` is (axes of length 1, whose stride means nothing, last)."""
    return tuple(sorted(range(array.ndim), key=lambda a: -abs(array.strides[a]) * (array.shape[a] > 1)))


def outermost_axis(array: Any) -> int | None:
    """The axis with the largest stride (None for a 0-d array): its blocks are contiguous in
    memory, whatever view of the data ``array`` is (a transposed one, after a convolution)."""
    return memory_order(array)[0] if array.ndim else None
