"""Run the benchmarks: ``python -m benchmarks [NAME ...]`` (all but the long ``ablation`` by
default; ``python -m benchmarks ablation [EPISODES]`` runs the few-shot ablation, ~25 minutes).

PyTorch columns appear when PyTorch is installed (``pip install torch``); it is never required.
"""

import os
import sys

# Pin BLAS threads before NumPy is imported, so nploss and PyTorch use the same count.
THREADS = os.environ.setdefault("NPLOSS_BENCH_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", THREADS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", THREADS)

from . import audit_time, engine_overhead, fewshot_ablation  # noqa: E402

BENCHMARKS = {"engine": engine_overhead, "audit": audit_time}
LONG = {"ablation": fewshot_ablation}

if sys.argv[1:2] == ["ablation"]:
    fewshot_ablation.run(*(int(a) for a in sys.argv[2:3]))
    sys.exit(0)
names = sys.argv[1:] or list(BENCHMARKS)
unknown = [n for n in names if n not in BENCHMARKS]
if unknown:
    sys.exit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join([*BENCHMARKS, *LONG])}")
for name in names:
    BENCHMARKS[name].run()
    print()
