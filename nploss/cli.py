"""The ``nploss`` command line: a thin argparse front over the library.

``nploss audit`` checks every primitive op of the engine against finite differences (first
and second order) and exits with status 1 if any fails, naming the entry and its worst element.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__


def _audit(args: argparse.Namespace) -> int:
    from .audit import audit_ops
    from .autograd.catalogue import OP_CASES

    known = {c.name for c in OP_CASES}
    unknown = [n for n in args.op or [] if n not in known]
    if unknown:
        print(f"nploss audit: unknown op {unknown[0]!r}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    width = max(len(n) for n in known)
    header = f"{'entry':<{width}}  {'1st-order rel err':>17}  {'2nd-order rel err':>17}  result"
    print(header)
    print("-" * len(header))
    failures = []
    start = time.perf_counter()
    count = 0
    for row in audit_ops(args.op, seed=args.seed):
        count += 1
        second = f"{row.second.max_rel_error:17.2e}" if row.second is not None else f"{'-':>17}"
        print(f"{row.name:<{width}}  {row.first.max_rel_error:17.2e}  {second}  {'ok' if row.passed else 'FAIL'}", flush=True)
        if not row.passed:
            failures.append(row.failure())
    elapsed = time.perf_counter() - start
    print(f"\n{count - len(failures)} of {count} entries passed in {elapsed:.1f} s (seed {args.seed}, float64)")
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
        description="Check the gradient (and second derivative) of every primitive op against "
        "central finite differences in float64; exit status 1 on any failure.",
    )
    audit.add_argument("--op", action="append", metavar="NAME", help="audit only this entry (repeatable)")
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
