"""Engine overhead per op: a 1,000-op chain on tiny arrays, forward and backward.

On arrays of 4 elements the arithmetic is free, so the time measures the engine itself: making
Tensors, recording the graph, sorting it and calling the VJPs. The same chain runs in PyTorch
(CPU, same thread count) and on a bare NumPy loop without any graph (the floor).
"""

from __future__ import annotations

import numpy as np

from .common import THREADS, interleaved_medians, load_torch

OPS = 1000  # each step below is 4 ops: multiply, add, tanh, multiply


def nploss_chain() -> None:
    import nploss.autograd as ag

    x = ag.Tensor(np.full(4, 0.5), requires_grad=True)
    y = x
    for _ in range(OPS // 4):
        y = ag.tanh(y * 1.01 + 0.01) * 0.99
    ag.sum(y).backward()


def numpy_chain() -> None:
    y = np.full(4, 0.5)
    for _ in range(OPS // 4):
        y = np.tanh(y * 1.01 + 0.01) * 0.99


def torch_chain(torch) -> None:  # noqa: ANN001
    x = torch.full((4,), 0.5, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(OPS // 4):
        y = torch.tanh(y * 1.01 + 0.01) * 0.99
    y.sum().backward()


def run() -> list[dict[str, float | str]]:
    print(f"Engine overhead: {OPS}-op chain on float64 arrays of 4 elements, forward + backward, {THREADS} threads")
    torch = load_torch()
    fns = {"nploss": nploss_chain, "floor": numpy_chain}
    if torch is not None:
        fns["torch"] = lambda: torch_chain(torch)
    # a chain takes a few milliseconds: with a handful of repeats one pause of the machine moves
    # the median, so many repeats, at little cost
    t = {k: v / OPS * 1e6 for k, v in interleaved_medians(fns, repeats=31, warmup=3).items()}
    rows = [{"what": "nploss", "us_per_op": t["nploss"]}, {"what": "NumPy, forward only, no graph (floor)", "us_per_op": t["floor"]}]
    if torch is not None:
        rows.append({"what": "PyTorch CPU", "us_per_op": t["torch"]})
    for row in rows:
        print(f"  {row['what']:<40} {row['us_per_op']:7.2f} us/op")
    if torch is not None:
        print(f"  ratio nploss / PyTorch: {t['nploss'] / t['torch']:.2f}")
    return rows


def markdown(rows: list[dict[str, float | str]]) -> list[str]:
    lines = ["| what | us per op |", "| --- | ---: |"]
    lines += [f"| {r['what']} | {r['us_per_op']:.2f} |" for r in rows]
    by_name = {r["what"]: r["us_per_op"] for r in rows}
    if "PyTorch CPU" in by_name:
        lines += ["", f"Ratio nploss / PyTorch: {by_name['nploss'] / by_name['PyTorch CPU']:.2f}."]
    return lines


if __name__ == "__main__":
    run()
