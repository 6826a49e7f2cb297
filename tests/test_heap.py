"""nploss.heap: after keep_freed_memory, a large array comes from malloc's heap and its memory
stays there once freed, where by default it is a fresh mapping given back to the kernel when
freed (each case in its own process, since the settings are process-wide; glibc's mallinfo2
tells where the bytes are)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or tuple(map(int, platform.libc_ver()[1].split(".")[:2])) < (2, 33),
    reason="glibc's malloc settings (mallinfo2 needs glibc 2.33)",
)

# Allocates and frees a 64 MiB array; prints whether the settings applied, the bytes held in
# separate mappings while the array lives, and the heap's size once it is freed.
PROGRAM = """
import ctypes, sys
import numpy as np
from nploss import heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
applied = heap.keep_freed_memory() if sys.argv[1] == "keep" else None
a = np.ones(1 << 23)  # 64 MiB: above the largest threshold glibc picks by itself (32 MiB)
mapped = mallinfo2().hblkhd
del a
print(applied, mapped, mallinfo2().arena)
"""
MIB = 1 << 20


def _run(mode: str, **env: str) -> tuple[str, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1]), int(out[2])


def test_a_large_array_comes_from_the_heap_and_its_memory_stays_there():
    applied, mapped, heap_after_free = _run("keep")
    assert applied == "True"
    assert mapped < 64 * MIB and heap_after_free >= 64 * MIB


def test_by_default_the_same_array_is_a_mapping_of_its_own():
    _, mapped, heap_after_free = _run("plain")
    assert mapped >= 64 * MIB and heap_after_free < 64 * MIB


def test_the_environment_variable_turns_it_off():
    applied, mapped, _ = _run("keep", NPLOSS_KEEP_FREED_MEMORY="0")
    assert applied == "False" and mapped >= 64 * MIB
