"""The ``nploss`` command line: a thin argparse front over the library.

``nploss audit`` checks every primitive op and every loss against finite differences (first and
second order; for losses analytic against composite too, and a numerical-stability sweep) and
exits with status 1 if any fails, naming the entry and its worst element. ``nploss audit
MODULE:FUNCTION --inputs ...`` audits a user's own loss and gradient instead (see
:mod:`nploss.diagnosis`): the inputs are matched to the function's parameters by name, each call
of the user's code runs under ``--timeout`` (``signal.setitimer``: Unix, main thread), and
whatever the user's code does wrong (raises, exits, hangs, returns a non-number, a gradient of the
wrong count or shape, a NumPy loss without ``--grad``) is one message naming the file and line.
``--like LOSS`` (with ``--map`` and ``--like-params``) also compares the user's values and
gradients with a registered loss, and ``--params`` names the inputs that are parameters, which
the audit moves from their given values and checks again.

Exit status of ``nploss audit`` (both forms): 0 every gradient right; 1 a wrong gradient found
(for a user's loss: any verdict, including MUTATES ITS INPUT and NOT FINITE); 2 a usage or
user-code error (unknown names, unreadable ``--inputs``, a file that does not load, an exception,
``sys.exit`` or time-out in the user's code, a gradient of the wrong count or shape, a loss that
is NOT A SCALAR). ``nploss figures`` exits 2 for a ``--fewshot-log`` it cannot read. ``nploss train``
and ``nploss evaluate`` (defined in :mod:`nploss.fewshot.cli`) train and test the few-shot
prototypical network. ``nploss show LOSS`` prints a loss's formula, the source of its reference
forward and gradient, its fast path if any, and its PyTorch equivalent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from . import __version__


def _audit_library(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .audit import audit_losses, audit_ops
    from .autograd.catalogue import OP_CASES
    from .losses import REGISTRY
    from .report import COLUMNS, LEGEND, audit_json, audit_markdown, cells, summary, write_report

    ops, losses = {c.name for c in OP_CASES}, set(REGISTRY)
    families = {"op"} | {s.family for s in REGISTRY.values()}
    for kind, asked, known in (("op", args.op, ops), ("loss", args.loss, losses), ("family", args.family, families)):
        unknown = [n for n in asked or [] if n not in known]
        if unknown:
            print(f"nploss audit: unknown {kind} {unknown[0]!r}; known: {', '.join(sorted(known))}", file=sys.stderr)
            return 2
    everything = not (args.op or args.loss or args.family)
    want_ops = everything or bool(args.op) or "op" in (args.family or [])
    loss_families = [f for f in args.family or [] if f != "op"]
    want_losses = everything or bool(args.loss) or bool(loss_families)
    total = (len(args.op) if args.op else len(ops)) * want_ops + (
        sum(1 for s in REGISTRY.values() if (not args.loss or s.name in args.loss) and (not loss_families or s.family in loss_families))
        if want_losses
        else 0
    )
    groups = []
    if want_ops:
        groups.append(audit_ops(args.op, seed=args.seed, dtype=args.dtype))
    if want_losses:
        groups.append(audit_losses(args.loss, loss_families or None, seed=args.seed, dtype=args.dtype))

    table = args.format == "table"
    width = max(len(n) for n in ops | losses)
    if table:
        header = f"{'entry':<{width}}  {'family':<14}" + "".join(f"{c:>11}" for c in COLUMNS) + "  result"
        print(header)
        print("-" * len(header), flush=True)
    rows, start = [], time.perf_counter()
    # The bar goes to stderr and only on a terminal (disable=None); table rows stream above it.
    with tqdm(total=total, desc="auditing", unit="entry", disable=None, leave=False, file=sys.stderr) as bar:
        for row in (r for group in groups for r in group):
            rows.append(row)
            bar.update(1)
            if table:
                line = f"{row.name:<{width}}  {row.family:<14}" + "".join(f"{c:>11}" for c in cells(row))
                bar.write(line + f"  {'ok' if row.passed else 'FAIL'}", file=sys.stdout)
    elapsed = time.perf_counter() - start
    failures = [r.failure() for r in rows if not r.passed]
    if table:
        print(f"\n{len(rows) - len(failures)} of {len(rows)} entries passed in {elapsed:.1f} s (seed {args.seed}, {args.dtype}); {summary(rows)}")
        print(LEGEND)
        for message in failures:
            print(f"FAIL {message}")
    elif args.format == "json":
        print(json.dumps(audit_json(rows, args.seed, args.dtype, elapsed), indent=1))
    else:
        print(audit_markdown(rows, args.seed, args.dtype, elapsed), end="")
    if args.report:
        path = write_report(rows, args.report, args.seed, args.dtype, elapsed)
        print(f"report written to {path}", file=sys.stderr)
    return 1 if failures else 0


def _audit_user(args: argparse.Namespace) -> int:
    import math

    from .diagnosis import AuditError, audit, load_callable, parse_inputs
    from .diagnosis_reference import parse_mapping, parse_params

    def usage(message: str) -> int:
        print(f"nploss audit: {message}", file=sys.stderr)
        return 2

    if not args.inputs:
        return usage("auditing a function needs --inputs, e.g. --inputs 'pred=float64[32,10], target=int[32]<10'")
    if not (math.isfinite(args.timeout) and args.timeout >= 0):
        return usage(f"--timeout must be a number of seconds >= 0 (0: no limit), got {args.timeout}")
    if not math.isfinite(args.stress_scale):
        return usage(f"--stress-scale must be a finite number (0: no stress check), got {args.stress_scale}")
    timeout = args.timeout or None
    try:
        names, arrays, bounds = parse_inputs(args.inputs, seed=args.seed)
        like_map = parse_mapping(args.map) if args.map else None
        like_params = parse_params(args.like_params) if args.like_params else None
        if (like_map or like_params) and not args.like:
            raise ValueError("--map and --like-params describe the loss of --like LOSS; add --like")
        params = [p.strip() for p in args.params.split(",") if p.strip()] if args.params is not None else None
        fn = load_callable(args.target, timeout)
        grad_fn = load_callable(args.grad, timeout) if args.grad else None
    except (AuditError, ValueError, TypeError, AttributeError, ImportError, FileNotFoundError) as error:
        return usage(str(error))  # unreadable --inputs, a file or function not found, a file that fails to load
    checked = sum(x.size for x in arrays if x.dtype.kind == "f")
    if checked > 10**5:
        print(f"nploss audit: note: {checked:,} floating-point elements to check; the finite differences call "
              f"your function {2 * checked + 1:,} times (and as many again at extreme inputs)", file=sys.stderr)  # fmt: skip
    try:
        report = audit(fn, arrays, grad_fn, names=names, bounds=bounds, stress_scale=args.stress_scale,
                       timeout=timeout, match_names=True, params=params, like=args.like, like_map=like_map,
                       like_params=like_params)  # fmt: skip
    except AuditError as error:
        return usage(str(error))
    if args.format == "json":
        print(json.dumps({
            "target": args.target,
            "passed": report.passed,
            "exit_code": report.exit_code,
            "diagnoses": [
                {"input": d.name, "kind": d.kind, "detail": d.detail, "explanation": d.explanation,
                 "where": None if d.where is None else list(d.where), "analytic": d.analytic, "numerical": d.numerical}
                for d in report.diagnoses
            ],
        }, indent=1))  # fmt: skip
    else:
        print(f"auditing {args.target}" + (f" with the gradient {args.grad}" if args.grad else " with the engine's gradient"))
        print(report)
    return report.exit_code


def _audit(args: argparse.Namespace) -> int:
    return _audit_user(args) if args.target else _audit_library(args)


def _figures(args: argparse.Namespace) -> int:
    from .figures import FigureInputError, write_all

    start = time.perf_counter()
    try:
        paths = write_all(args.out, fast=args.fast, fewshot_log=args.fewshot_log)
    except FigureInputError as error:
        print(f"nploss figures: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    print(f"{len(paths)} figures written to {args.out} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    import difflib
    import inspect
    import textwrap

    from .losses import REGISTRY
    from .losses._spec import source_file

    spec = REGISTRY.get(args.loss)
    if spec is None:
        close = difflib.get_close_matches(args.loss, REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(REGISTRY))}"
        print(f"nploss show: unknown loss {args.loss!r}{hint}", file=sys.stderr)
        return 2

    def listing(title: str, fn: object) -> list[str]:
        lines, first = inspect.getsourcelines(fn)
        return [f"{title} ({source_file(fn)}:{first})", "", textwrap.dedent("".join(lines)).rstrip(), ""]

    from .equivalents import LIBRARIES, equivalents_of

    equivalents = [f"  {e.library}: {e.call}" + (f" ({e.differences})" if e.differences else "") for e in equivalents_of(spec.name)]
    out = [
        f"{spec.name} ({spec.family})",
        "",
        f"formula and derivative: {spec.formula}",
        f"reference: {spec.reference}",
        "the same number elsewhere (each verified against a fixture):" if equivalents else f"the same number elsewhere: none of the {len(LIBRARIES)} libraries has it",
        *equivalents,
        f"source: {spec.source}",
        "",
        *listing("reference forward", spec.forward),
        *listing("reference gradient (VJP)", spec.vjp),
    ]
    if spec.composite is not None:
        out += listing("composite forward (the engine differentiates it)", spec.composite)
    if spec.fast is None:
        out.append("fast path: none (apply_loss uses the reference)")
    else:
        out += [f"fast path: {spec.fast.how}", ""]
        for title, fn in (("fast forward", spec.fast.forward), ("fast gradient", spec.fast.vjp)):
            if not fn.__qualname__.startswith("FastPath.row_blocks"):  # else: the reference itself
                out += listing(title, fn)
    print("\n".join(out).rstrip())
    return 0


#: The packages of the ``docs`` extra that the build imports (Sphinx and its extensions).
DOCS_REQUIREMENTS = ("sphinx", "furo", "numpydoc", "myst_nb")


def _docs(args: argparse.Namespace) -> int:
    import importlib.util
    import pathlib
    import subprocess
    import webbrowser

    source = pathlib.Path(__file__).resolve().parents[1] / "docs"
    if not (source / "conf.py").exists():
        print(f"nploss docs: no {source / 'conf.py'}: the site is built from a source checkout of nploss", file=sys.stderr)
        return 2
    missing = [name for name in DOCS_REQUIREMENTS if importlib.util.find_spec(name) is None]
    if missing:
        print(f"nploss docs: {', '.join(missing)} not installed; install the documentation tools with "
              f"pip install -e '.[docs]'", file=sys.stderr)  # fmt: skip
        return 2
    out = pathlib.Path(args.out) if args.out else source / "_build" / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "-b", "html", str(source), str(out)]
    print("nploss docs: " + " ".join(command), file=sys.stderr)
    start = time.perf_counter()
    if subprocess.call(command) != 0:
        print("nploss docs: the build failed (warnings are errors; see the messages above)", file=sys.stderr)
        return 1
    index = out / "index.html"
    print(f"nploss docs: built in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.no_open or not webbrowser.open(index.resolve().as_uri()):
        print(index)  # no browser to open it in (or --no-open): the path, for the reader to open
    return 0


AUDIT_EPILOG = """\
exit status:
  0  every gradient checked is right
  1  a wrong gradient found (with TARGET: any verdict, MUTATES ITS INPUT and NOT FINITE included)
  2  a usage or user-code error: unknown names, unreadable --inputs, a file that does not load,
     an exception, sys.exit() or time-out in your function or gradient, a gradient of the wrong
     count or shape, a NumPy loss without --grad, a loss that is NOT A SCALAR

verdicts with TARGET: the gradient is right; WRONG SIGN, WRONG REDUCTION, CONSTANT FACTOR,
PERMUTED, KINK, WRONG BRANCH, MISSING GRADIENT, WRONG TERM, WRONG AT TIES (tied elements moved
together), PARAMETER FACTOR (wrong once a parameter moves from its given value), OVERFLOW (wrong
only at extreme inputs), UNSTABLE LOSS (the loss itself overflows there); VALUE MISMATCH (with
--like: your loss or gradient differs from nploss's); MUTATES ITS INPUT (your code changed an
input array in place); NOT FINITE (NaN or inf loss, gradient or finite differences); NOT A
SCALAR (None, a string, several values)

example:
  nploss audit my_loss.py:loss --grad my_loss.py:loss_grad \\
      --inputs 'logits=float64[8,5], labels=int[8]<5'
  (loss_grad(logits, labels) returns the gradient for logits alone: labels is an integer input)
  nploss audit my_loss.py:loss --grad my_loss.py:loss_grad \\
      --inputs 'logits=float64[8,5], labels=int[8]<5' --like cross_entropy --map 'labels=target'
  (also compares values and gradients with nploss's cross_entropy)
"""


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, width=88)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nploss",
        description="The loss functions of deep learning in NumPy, each with a proven gradient.",
    )
    parser.add_argument("--version", action="version", version=f"nploss {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    audit = commands.add_parser(
        "audit",
        help="check gradients against finite differences: the library's, or your own (exit 1 on any failure)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_wrap(
            "Without TARGET: check the gradient (and second derivative) of every primitive op and loss "
            "against central finite differences in float64, the analytic gradient of every loss against its "
            "composite version, and each loss's stability at extreme inputs. With TARGET (MODULE:FUNCTION or "
            "FILE.py:FUNCTION): audit that scalar loss and its gradient (--grad, or the engine's when the function "
            "uses nploss Tensors) at inputs drawn from --inputs, and classify what is wrong."
        ),
        epilog=AUDIT_EPILOG,
    )
    audit.add_argument("target", nargs="?", help="your loss, as MODULE:FUNCTION or FILE.py:FUNCTION")
    audit.add_argument(
        "--inputs",
        help="with TARGET: one name=dtype[shape] per parameter of the function, matched by name, e.g. "
        "'pred=float64[32,10], target=int[32]<10, p=float64[8] in(0,1)' (at most 10^8 elements in all)",
    )
    audit.add_argument(
        "--grad",
        metavar="MODULE:FUNCTION",
        help="with TARGET: its hand-written gradient, taking the same inputs and returning one gradient per "
        "floating-point input (the shape of that input), in the order of the loss's parameters; integer inputs "
        "(labels) get none. Without --grad the loss must be written on nploss Tensors",
    )
    audit.add_argument("--stress-scale", type=float, default=1e3, help="with TARGET: scale of the extreme-input check (0: off)")
    audit.add_argument(
        "--params",
        metavar="NAMES",
        help="with TARGET: the inputs that are parameters (a scale, a margin, a temperature), comma-separated: "
        "moved from their values and checked again (PARAMETER FACTOR); default: float inputs all 1 or all 0",
    )
    audit.add_argument(
        "--like",
        metavar="LOSS",
        help="with TARGET: a registered nploss loss yours should equal; the values are compared with it at the given "
        "and the extreme inputs, the gradients at the given ones (VALUE MISMATCH: a defect your loss and gradient share)",
    )
    audit.add_argument(
        "--map",
        metavar="PAIRS",
        help="with --like: which of your inputs is which argument of LOSS, e.g. 'logits=logits,labels=target' "
        "(YOUR_INPUT=ARGUMENT, either way round; an argument left out is your input of its name; default: by position)",
    )
    audit.add_argument(
        "--like-params",
        metavar="PAIRS",
        help="with --like: LOSS's parameters and reduction, e.g. 'margin=0.5,reduction=sum' "
        "(reduction: mean, the default, sum, or batchmean: the sum over the rows)",
    )
    audit.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with TARGET: the longest one call of your function or gradient may run (default 60; 0: no limit; "
        "SIGALRM, so Unix only)",
    )
    audit.add_argument("--op", action="append", metavar="NAME", help="audit only this primitive op (repeatable)")
    audit.add_argument("--loss", action="append", metavar="NAME", help="audit only this loss (repeatable)")
    audit.add_argument("--family", action="append", metavar="NAME", help="audit only this family: op, regression, classification, ... (repeatable)")
    audit.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="precision of the analytic and composite gradients (finite differences are float64)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the sampled inputs (default 0)")
    audit.add_argument("--format", choices=("table", "json", "markdown"), default="table", help="output format (json: see nploss/audit_schema.json)")
    audit.add_argument("--report", metavar="DIR", help="also write DIR/README.md with one figure per loss")
    audit.set_defaults(run=_audit)
    show = commands.add_parser(
        "show",
        help="print a loss's formula, the source of its reference forward and gradient, and its fast path",
        description="Print a registered loss's formula and derivative, where its reference forward and VJP "
        "live and their source, its fast path (if any, with its source), and the same loss in PyTorch, Keras, optax, "
        "pytorch-metric-learning, kornia, segmentation-models-pytorch and scikit-learn (nploss.equivalents).",
    )
    show.add_argument("loss", metavar="LOSS", help="a registered loss, e.g. cross_entropy (see nploss audit --format json)")
    show.set_defaults(run=_show)
    figures = commands.add_parser(
        "figures",
        help="regenerate the figures of the README and the tutorials (PNG)",
        description="Write every figure the README and the tutorials show: a loss gallery per family, focal "
        "against cross entropy, robust regression losses, a loss landscape, and (with --fewshot-log) the "
        "few-shot training dynamics. Deterministic: the same command writes the same files.",
    )
    figures.add_argument("--out", default="figures", metavar="DIR", help="output folder (default: figures)")
    figures.add_argument("--fast", action="store_true", help="coarse grids and short training (for tests)")
    figures.add_argument("--fewshot-log", metavar="PATH", help="a log.csv of `nploss train`: adds the training-dynamics figures")
    figures.set_defaults(run=_figures)
    docs = commands.add_parser(
        "docs",
        help="build the website (Sphinx) and open it in a browser",
        description="Build the website from docs/ (needs pip install -e '.[docs]'; warnings are errors): a page per "
        "loss generated from the registry, the tutorials, the guides and the API reference; then open it.",
    )
    docs.add_argument("--no-open", action="store_true", help="build only; print the path of index.html")
    docs.add_argument("--out", metavar="DIR", help="output folder (default: docs/_build/html)")
    docs.set_defaults(run=_docs)
    from .fewshot.cli import add_commands  # the few-shot commands live beside their code

    add_commands(commands)
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
