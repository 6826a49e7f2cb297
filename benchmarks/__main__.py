"""Run the benchmarks: ``python -m benchmarks [NAME ...]`` (all by default).

PyTorch columns appear when PyTorch is installed (``pip install torch``); it is never required.
"""

import os
import sys

# Pin BLAS threads before NumPy is imported, so nploss and PyTorch use the same count.
THREADS = os.environ.setdefault("NPLOSS_BENCH_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", THREADS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", THREADS)

from . import audit_time, engine_overhead  # noqa: E402

BENCHMARKS = {"engine": engine_overhead, "audit": audit_time}

names = sys.argv[1:] or list(BENCHMARKS)
unknown = [n for n in names if n not in BENCHMARKS]
if unknown:
    sys.exit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
for name in names:
    BENCHMARKS[name].run()
    print()
