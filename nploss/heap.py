"""Keep freed memory in the process: glibc's malloc, and what makes it give memory back.

Why. A training step allocates the same large arrays every time (activations, the im2col columns
of a convolution, gradients) and frees them by the end of the step. glibc's malloc serves an
allocation above its *mmap threshold* (128 KiB at start, raised adaptively up to 32 MiB) with a
fresh mapping from the kernel and unmaps it when it is freed; memory freed on its heap beyond the
*trim threshold* is given back too. The next step then touches new pages, one page fault per
4 KiB page, every step: for the Conv-4 prototypical network, whose im2col matrices run to tens
of megabytes, a large share of the step (measured in benchmarks/RESULTS.md, "Notes on the fast
kernels"). Raising both thresholds keeps the memory in the process from one step to the next, as PyTorch's
caching allocators do for their tensors; the price is that the process keeps its peak memory.

Two remedies, of two strengths. :func:`raise_thresholds` frees one array once, which makes glibc
raise both thresholds by itself, as any NumPy program that has freed a large array has already
done: nothing is set for the process, and it is enough for the blocked losses
(:mod:`nploss.losses._blocks`), whose temporaries are a few MiB. :func:`keep_freed_memory` sets
both thresholds far above that, for arrays beyond what glibc's own adjustment reaches.

:func:`keep_freed_memory` is called by :class:`nploss.fewshot.Trainer` (and by the training-step
benchmark, which times what the trainer does). It changes the settings of the whole process, so
a library function does not call it on its own; ``NPLOSS_KEEP_FREED_MEMORY=0`` turns it off.
Other C libraries (musl, macOS, Windows) keep their own behaviour: the call does nothing there.
"""

from __future__ import annotations

import ctypes
import os
import platform

import numpy as np

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 256 << 20  # allocations up to 256 MiB come from the heap, and stay there
TRIM_THRESHOLD_BYTES = (1 << 31) - 1  # give memory back only above 2 GiB free at the heap's top (the largest int)

_applied = [False]
_raised = [False]


def raise_thresholds(nbytes: int) -> None:
    """Allocate and free one array of ``nbytes`` bytes, once per process.

    glibc serves an allocation above its mmap threshold (128 KiB at start) with a fresh mapping,
    and when such an array is freed it raises that threshold to the array's size and its trim
    threshold to twice that; memory freed below the trim threshold then stays in the process for
    the next allocation. Until then, a loss block whose formula keeps three block-sized
    temporaries alive at once (Huber's forward) gives them back to the kernel at the end of every
    block and takes page faults to get them again at the next. Other allocators ignore it.
    """
    if not _raised[0]:
        _raised[0] = True
        np.empty(nbytes, dtype=np.uint8)


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for the next allocations (see the module
    docstring). Returns whether the settings are in force: False where the C library is not
    glibc, or with ``NPLOSS_KEEP_FREED_MEMORY=0``. Calling it again does nothing more."""
    if _applied[0] or os.environ.get("NPLOSS_KEEP_FREED_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return _applied[0]
    mallopt = ctypes.CDLL(None).mallopt
    # setting either threshold also stops glibc from adjusting them by itself
    _applied[0] = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    return _applied[0]
