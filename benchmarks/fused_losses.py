"""Fused losses, forward + backward, against PyTorch and against the hardware floor.

Each row times one training-style call: the inputs are Tensors that require a gradient (labels
and signs excepted), the loss is reduced with ``'mean'`` and ``loss.backward()`` fills every
gradient. The same call runs in PyTorch (CPU, same thread count, same dtype); nploss evaluates
these large losses in row blocks on the same number of threads (``nploss.losses._blocks``). Two
plain NumPy floors, each on one core, bound what one core could do:

- **memcpy**: copying as many bytes as the loss must move at least (its inputs read once, its
  gradients written once), i.e. ``np.copyto`` of half that many bytes;
- **transcendentals**: the bare functions the loss cannot avoid, each once over its input with a
  preallocated output (``np.exp`` + ``np.log1p`` for BCE with logits, ...).

*GB/s* is the effective bandwidth: (bytes of the inputs + bytes of the gradients) / time. All
timings of a row are medians over interleaved repeats (nploss, PyTorch, floors, nploss, ...), so
that load from other processes affects both sides of the ratio alike.

Targets: at most 1.0x PyTorch for the memory-bound losses (MSE, Huber, hinge) and 2.0x
for the transcendental-bound ones (BCE with logits, log-cosh, cross entropy). Log-cosh and hinge
have no PyTorch function: their PyTorch column is the formula composed from PyTorch ops.
Triplet and NT-Xent on 512 x 128 (no target) mostly measure per-call overheads; on a machine
shared with other work, PyTorch's OpenMP threads waiting for each other can inflate its times
there by orders of magnitude at 2 threads: compare those rows at 1 thread
(``NPLOSS_BENCH_THREADS=1 python -m benchmarks losses``). The *small* rows (a few hundred
values: triplet on 16 x 16, NT-Xent on 32 x 8) measure nothing but the per-call cost (input
checks, recording the node, the backward pass's bookkeeping), with a target of 1.5x PyTorch;
each of their timings is a run of ``SMALL_CALLS`` calls, divided by that count.

With ``--gpu`` (``benchmarks/device.py``) the same rows run on the GPU: nploss on CuPy, PyTorch
CUDA, the floors with CuPy (a copy on the device, the bare CuPy functions); the targets are the
CPU's, so GPU rows carry none.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import REPEATS, THREADS, interleaved_medians, load_torch
from .device import CPU, Device

BIG = 10_000_000  # elements of the elementwise losses
CE_SHAPE = (65_536, 100)
METRIC_SHAPE = (512, 128)  # triplet: 512 triplets; NT-Xent: 512 samples, two views each (1024 rows)
SMALL_TRIPLETS = (16, 16)  # a few hundred values: the per-call cost only
SMALL_VIEWS = (16, 8)  # 16 samples, two views each (32 rows)
SMALL_CALLS = 100  # calls per timing of a small row
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Case:
    """One loss: its inputs, the nploss call, the PyTorch call and the floor's functions."""

    name: str
    kind: str  # "memory", "transcendental" or "" (no target)
    target: float | None  # the largest acceptable ratio nploss / PyTorch
    size: str
    make: Callable[[np.random.Generator, str], list[np.ndarray]]
    differentiable: tuple[int, ...]  # indices of the inputs that require a gradient
    ours: Callable[..., Any]  # (*inputs as nploss Tensors or arrays) -> loss Tensor
    theirs: Callable[..., Any]  # (torch, *inputs as torch tensors) -> loss tensor
    transcendentals: tuple[str, ...] = ()  # NumPy ufuncs, each applied once to the first input
    note: str = ""
    calls: int = 1  # calls per timing (small inputs: many, the time divided by their count)


def _pair(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    return [rng.standard_normal(BIG).astype(dtype), rng.standard_normal(BIG).astype(dtype)]


def _logits_binary(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    return [2.0 * rng.standard_normal(BIG).astype(dtype), rng.integers(0, 2, BIG).astype(dtype)]


def _scores_sign(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    return [rng.standard_normal(BIG).astype(dtype), rng.choice(np.array([-1.0, 1.0], dtype=dtype), BIG)]


def _classes(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    n, c = CE_SHAPE
    return [2.0 * rng.standard_normal(CE_SHAPE).astype(dtype), rng.integers(0, c, n)]


def _triplets(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    return [rng.standard_normal(METRIC_SHAPE).astype(dtype) for _ in range(3)]


def _views(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    n, d = METRIC_SHAPE
    return [rng.standard_normal((2 * n, d)).astype(dtype)]


def _small_triplets(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    return [rng.standard_normal(SMALL_TRIPLETS).astype(dtype) for _ in range(3)]


def _small_views(rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    n, d = SMALL_VIEWS
    return [rng.standard_normal((2 * n, d)).astype(dtype)]


def _torch_nt_xent(torch: Any, z: Any, temperature: float = 0.5) -> Any:
    u = torch.nn.functional.normalize(z, dim=1)
    s = (u @ u.T) / temperature
    rows = s.shape[0]
    s = s.masked_fill(torch.eye(rows, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(rows, device=z.device) + rows // 2) % rows
    return torch.nn.functional.cross_entropy(s, positives)


def _torch_log_cosh(torch: Any, p: Any, t: Any) -> Any:
    e = p - t
    return (e.abs() + torch.nn.functional.softplus(-2.0 * e.abs()) - math.log(2.0)).mean()


def cases() -> list[Case]:
    import nploss.losses as L

    big = f"N = {BIG:.0e}".replace("+0", "")
    return [
        Case("MSE", "memory", 1.0, big, _pair, (0, 1), L.mse, lambda th, p, t: th.nn.functional.mse_loss(p, t)),
        Case("Huber", "memory", 1.0, big, _pair, (0, 1), L.huber, lambda th, p, t: th.nn.functional.huber_loss(p, t)),
        Case(
            "hinge", "memory", 1.0, big, _scores_sign, (0,), L.hinge,
            lambda th, f, y: th.clamp(1.0 - y * f, min=0).mean(), note="PyTorch: clamp(1 - y f, min=0).mean()",
        ),
        Case(
            "BCE with logits", "transcendental", 2.0, big, _logits_binary, (0, 1), L.binary_cross_entropy_with_logits,
            lambda th, z, y: th.nn.functional.binary_cross_entropy_with_logits(z, y), ("exp", "log1p"),
        ),
        Case(
            "log-cosh", "transcendental", 2.0, big, _pair, (0, 1), L.log_cosh, _torch_log_cosh, ("tanh", "exp", "log1p"),
            note="PyTorch: |e| + softplus(-2|e|) - log 2, composed",
        ),
        Case(
            "cross entropy", "transcendental", 2.0, f"{CE_SHAPE[0]:,} x {CE_SHAPE[1]}", _classes, (0,), L.cross_entropy,
            lambda th, z, y: th.nn.functional.cross_entropy(z, y), ("exp",),
        ),
        Case(
            "triplet", "", None, f"{METRIC_SHAPE[0]} x {METRIC_SHAPE[1]}", _triplets, (0, 1, 2), L.triplet,
            lambda th, a, p, n: th.nn.functional.triplet_margin_loss(a, p, n), ("sqrt",),
        ),
        Case(
            "NT-Xent", "", None, f"{2 * METRIC_SHAPE[0]} x {METRIC_SHAPE[1]}", _views, (0,), L.nt_xent, _torch_nt_xent,
            note="PyTorch: normalize, u u^T / tau, diagonal masked, cross_entropy",
        ),
        Case(
            "triplet (small)", "overhead", 1.5, f"{SMALL_TRIPLETS[0]} x {SMALL_TRIPLETS[1]}", _small_triplets, (0, 1, 2), L.triplet,
            lambda th, a, p, n: th.nn.functional.triplet_margin_loss(a, p, n), ("sqrt",), calls=SMALL_CALLS,
        ),
        Case(
            "NT-Xent (small)", "overhead", 1.5, f"{2 * SMALL_VIEWS[0]} x {SMALL_VIEWS[1]}", _small_views, (0,), L.nt_xent,
            _torch_nt_xent, calls=SMALL_CALLS,
        ),
    ]  # fmt: skip


def _floor_functions(case: Case, inputs: list[Any], total_bytes: int, xp: Any = np) -> dict[str, Callable[[], Any]]:
    """The memcpy of ``total_bytes`` (read + write) and the bare transcendentals of ``case``, with
    the array module ``xp`` (NumPy, or CuPy on the GPU)."""
    half = max(total_bytes // 2, 1)
    src, dst = xp.ones(half, dtype=np.uint8), xp.empty(half, dtype=np.uint8)
    floors: dict[str, Callable[[], Any]] = {"memcpy": lambda: xp.copyto(dst, src)}
    if case.transcendentals:
        x = xp.abs(inputs[0]) * 0.5  # in every function's domain (log1p, sqrt), no overflow
        out = xp.empty_like(x)
        ufuncs = [getattr(xp, name) for name in case.transcendentals]

        def bare() -> None:
            for f in ufuncs:
                f(x, out=out)

        floors["transcendentals"] = bare
    return floors


def _repeated(fn: Callable[[], Any], calls: int) -> Callable[[], Any]:
    """``fn`` called ``calls`` times in a row."""

    def run() -> None:
        for _ in range(calls):
            fn()

    return run


def measure(case: Case, dtype: str, torch: Any, rng: np.random.Generator, device: Device = CPU) -> dict[str, Any]:
    import nploss.autograd as ag

    on_host = case.make(rng, dtype)
    inputs = [device.put(x) for x in on_host]
    grad_bytes = sum(inputs[i].nbytes for i in case.differentiable)
    total = sum(x.nbytes for x in inputs) + grad_bytes

    def ours() -> None:
        args = [ag.Tensor(x, requires_grad=True) if i in case.differentiable else x for i, x in enumerate(inputs)]
        case.ours(*args).backward()

    fns: dict[str, Callable[[], Any]] = {"nploss": ours}
    if torch is not None:
        theirs_inputs = [torch.from_numpy(x).to(device.torch_device) for x in on_host]

        def theirs() -> None:
            args = [x.detach().requires_grad_() if i in case.differentiable else x for i, x in enumerate(theirs_inputs)]
            case.theirs(torch, *args).backward()

        fns["torch"] = theirs
    fns.update(_floor_functions(case, inputs, total, device.xp))
    if case.calls > 1:
        fns = {name: _repeated(fn, case.calls) for name, fn in fns.items()}
    t = interleaved_medians(fns, synchronize=device.synchronize)
    t = {name: seconds / case.calls for name, seconds in t.items()}
    row: dict[str, Any] = {
        "loss": case.name, "dtype": dtype, "size": case.size, "bytes": total,
        "nploss_ms": 1e3 * t["nploss"], "calls": case.calls, "nploss_GBps": total / t["nploss"] / 1e9,
        "memcpy_ms": 1e3 * t["memcpy"], "transcendentals_ms": 1e3 * t.get("transcendentals", math.nan),
        "torch_ms": math.nan, "torch_GBps": math.nan, "ratio": math.nan, "note": case.note,
        "target": case.target if device is CPU else None,  # the targets are the CPU's
    }  # fmt: skip
    if "torch" in t:
        row.update(torch_ms=1e3 * t["torch"], torch_GBps=total / t["torch"] / 1e9, ratio=t["nploss"] / t["torch"])
    return row


def verdict(row: dict[str, Any]) -> str:
    if row["target"] is None or math.isnan(row["ratio"]):
        return ""
    return f"{'met' if row['ratio'] <= row['target'] else 'MISSED'} (<= {row['target']:.1f}x)"


def run(names: list[str] | None = None, dtypes: tuple[str, ...] = DTYPES, device: Device = CPU) -> list[dict[str, Any]]:
    where = f"{THREADS} threads" if device is CPU else "on the GPU (CuPy; PyTorch CUDA; floors with CuPy)"
    print(
        f"Fused losses, forward + backward, reduction 'mean', {where}, medians of {REPEATS} interleaved "
        "repeats (ms; GB/s = (inputs + gradients) bytes / time)"
    )
    torch = load_torch(gpu=device is not CPU)
    rng = np.random.default_rng(0)
    rows = []
    header = f"  {'loss':<18}{'dtype':<8}{'nploss':>9}{'PyTorch':>9}{'ratio':>7}{'memcpy':>8}{'transc.':>9}{'GB/s':>7}{'GB/s pt':>8}  target"
    print(header)
    for case in cases():
        if names and case.name not in names:
            continue
        for dtype in dtypes:
            row = measure(case, dtype, torch, rng, device)
            rows.append(row)
            print(
                f"  {row['loss']:<18}{dtype:<8}{_ms(row['nploss_ms']):>9}{_ms(row['torch_ms']):>9}{row['ratio']:7.2f} "
                f"{_ms(row['memcpy_ms']):>8}{_ms(row['transcendentals_ms']):>9}{row['nploss_GBps']:7.2f}{row['torch_GBps']:8.2f}  {verdict(row)}",
                flush=True,
            )  # fmt: skip
    return rows


def _ms(value: float) -> str:
    """A time in ms, to 0.1 ms, or to 3 significant digits below 1 ms (the small rows)."""
    return f"{value:.1f}" if not value < 1.0 else f"{value:.3g}"


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| loss | size | dtype | nploss ms | PyTorch ms | ratio | memcpy floor ms | transcendentals floor ms | nploss GB/s | PyTorch GB/s | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['loss']} | {r['size']} | {r['dtype']} | {_ms(r['nploss_ms'])} | {_ms(r['torch_ms'])} | {r['ratio']:.2f} | "
            f"{_ms(r['memcpy_ms'])} | {_ms(r['transcendentals_ms'])} | {r['nploss_GBps']:.2f} | {r['torch_GBps']:.2f} | {verdict(r)} |"
        )
    notes = sorted({r["loss"] + ": " + r["note"] for r in rows if r["note"]})
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return [line.replace("| nan |", "| – |") for line in lines]


if __name__ == "__main__":
    run()
