"""The ``nploss`` command line: a thin argparse front over the library.

``nploss audit`` checks every primitive op and every loss against finite differences (first and
second order; for losses, analytic against composite too) and exits with status 1 if any fails,
naming the entry and its worst element.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__


def _worst(row, prefix: str) -> str:  # noqa: ANN001
    errors = [r.max_rel_error for label, r in row.checks.items() if label.startswith(prefix)]
    return f"{max(errors):.2e}" if errors else "-"


def _audit(args: argparse.Namespace) -> int:
    from .audit import audit_losses, audit_ops
    from .autograd.catalogue import OP_CASES
    from .losses import REGISTRY

    ops, losses = {c.name for c in OP_CASES}, set(REGISTRY)
    families = {"op"} | {s.family for s in REGISTRY.values()}
    for kind, asked, known in (("op", args.op, ops), ("loss", args.loss, losses), ("family", args.family, families)):
        unknown = [n for n in asked or [] if n not in known]
        if unknown:
            print(f"nploss audit: unknown {kind} {unknown[0]!r}; known: {', '.join(sorted(known))}", file=sys.stderr)
            return 2
    everything = not (args.op or args.loss or args.family)
    rows = []
    if everything or args.op or (args.family and "op" in args.family):
        rows.append(audit_ops(args.op, seed=args.seed))
    if everything or args.loss or (args.family and set(args.family) - {"op"}):
        rows.append(audit_losses(args.loss, [f for f in args.family or [] if f != "op"] or None, seed=args.seed))

    width = max(len(n) for n in ops | losses)
    columns = ("gradient", "composite", "agreement", "2nd order")
    header = f"{'entry':<{width}}  {'family':<14}" + "".join(f"{c:>11}" for c in columns) + "  result"
    print(header)
    print("-" * len(header))
    failures, count, start = [], 0, time.perf_counter()
    for row in (r for group in rows for r in group):
        count += 1
        cells = (
            _worst(row, "gradient") if row.family == "op" else _worst(row, "analytic"),
            _worst(row, "composite"),
            "-" if row.agreement is None else f"{row.agreement:.2e}",
            _worst(row, "second order"),
        )
        result = "ok" if row.passed else "FAIL"
        print(f"{row.name:<{width}}  {row.family:<14}" + "".join(f"{c:>11}" for c in cells) + f"  {result}", flush=True)
        if not row.passed:
            failures.append(row.failure())
    elapsed = time.perf_counter() - start
    print(f"\n{count - len(failures)} of {count} entries passed in {elapsed:.1f} s (seed {args.seed}, float64)")
    print("columns: worst relative error against finite differences (gradient: analytic or engine VJP; "
          "composite: engine through primitive ops), analytic vs composite, second derivative")
    for message in failures:
        print(f"FAIL {message}")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nploss",
        description="The loss functions of deep learning in NumPy, each with a proven gradient.",
    )
    parser.add_argument("--version", action="version", version=f"nploss {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    audit = commands.add_parser(
        "audit",
        help="check every gradient against finite differences (exit 1 on any failure)",
        description="Check the gradient (and second derivative) of every primitive op and loss against "
        "central finite differences in float64; exit status 1 on any failure.",
    )
    audit.add_argument("--op", action="append", metavar="NAME", help="audit only this primitive op (repeatable)")
    audit.add_argument("--loss", action="append", metavar="NAME", help="audit only this loss (repeatable)")
    audit.add_argument("--family", action="append", metavar="NAME", help="audit only this family: op, regression, classification, ... (repeatable)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the sampled inputs (default 0)")
    audit.set_defaults(run=_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
