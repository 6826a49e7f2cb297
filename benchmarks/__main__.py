"""Run every benchmark: ``python -m benchmarks`` (PyTorch columns appear when it is installed)."""

import os

# Pin BLAS threads before NumPy is imported, so nploss and PyTorch use the same count.
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("NPLOSS_BENCH_THREADS", "2"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ.get("NPLOSS_BENCH_THREADS", "2"))

from . import engine_overhead  # noqa: E402

engine_overhead.run()
