"""Engine overhead per op: a 1,000-op chain on tiny arrays, forward and backward.

On arrays of 4 elements the arithmetic is free, so the time measures the engine itself: making
Tensors, recording the graph, sorting it and calling the VJPs. The same chain runs in PyTorch
(CPU, same thread count) and on a bare NumPy loop without any graph (the floor).
"""

from __future__ import annotations

import numpy as np

from .common import THREADS, load_torch, median_seconds

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
    ours = median_seconds(nploss_chain) / OPS * 1e6
    floor = median_seconds(numpy_chain) / OPS * 1e6
    rows = [{"what": "nploss", "us_per_op": ours}, {"what": "NumPy, forward only, no graph (floor)", "us_per_op": floor}]
    torch = load_torch()
    if torch is not None:
        theirs = median_seconds(lambda: torch_chain(torch)) / OPS * 1e6
        rows.append({"what": "PyTorch CPU", "us_per_op": theirs})
    for row in rows:
        print(f"  {row['what']:<40} {row['us_per_op']:7.2f} us/op")
    if torch is not None:
        print(f"  ratio nploss / PyTorch: {ours / theirs:.2f}")
    return rows


if __name__ == "__main__":
    run()
