"""Mutation testing of the library audit: how many small bugs in the loss formulas does
``nploss audit`` catch on its own?

A *mutant* is one small change to the body of a reference function ``_<name>_forward`` or
``_<name>_vjp`` of a loss module: a ``+`` turned into ``-`` (or ``*`` into ``/``), a comparison
turned into its neighbour (``>`` into ``>=``, ``==`` into ``!=``), a term dropped from a sum, a
sign dropped, a number changed. For each mutant the audit of the module's losses runs (as
``nploss audit --loss ...`` would); the mutant is *killed* when the audit fails. The kill rate is
the share of mutants killed. Some mutants change nothing observable (an equivalent mutant: a
``+ 0.0`` dropped, a comparison flipped where no input ties), so 100 % is not the goal; the
comparison of two audits on the same mutants is.

The package is never edited on disk: the tree under test is copied to a temporary folder
(``--tree``), imported from there, and each mutant replaces the code object of one function in
memory (every reference to the function, the registry's included, sees it), restored afterwards.

Usage::

    git archive HEAD | tar -x -C /tmp/nploss_head        # the audit before
    python tools/mutants.py --before /tmp/nploss_head --after . --mutants 80

prints the kill rate of each audit on the same mutants (those whose function is the same in both
trees) and the mutants only one of them killed. ``--tree ROOT`` runs one tree (used by the
comparison, in a process of its own per tree).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import inspect
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

MODULES = (
    "nploss.losses.regression.likelihood",
    "nploss.losses.regression.robust",
    "nploss.losses.classification.cross_entropy",
    "nploss.losses.margin.multiclass",
    "nploss.losses.metric.pairs",
)
TARGET_SUFFIXES = ("_forward", "_vjp")  # the reference formula and its derivative
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
COMPARISONS = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
SECONDS_PER_MUTANT = 60


@dataclass
class Mutant:
    module: str
    function: str
    site: int  # the site's index in a walk of the function's tree
    kind: str  # 'swap', 'compare', 'drop term', 'drop sign', 'constant'
    description: str
    source_hash: str  # of the function's source: the same mutant in two trees only if equal


def _targets(module: object) -> list[tuple[str, ast.FunctionDef, str]]:
    """The module's reference functions: (name, tree, hash of the source)."""
    tree = ast.parse(inspect.getsource(module))
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_") and node.name.endswith(TARGET_SUFFIXES):
            text = ast.get_source_segment(inspect.getsource(module), node) or node.name
            found.append((node.name, node, hashlib.sha1(text.encode()).hexdigest()[:12]))
    return found


def _sites(function: ast.FunctionDef) -> list[tuple[int, str, str]]:
    """(site, kind, description) of every mutation the function's body admits."""
    sites = []
    for index, node in enumerate(ast.walk(function)):
        line = getattr(node, "lineno", 0) - function.lineno + 1
        if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            swapped = SWAPS[type(node.op)].__name__
            sites.append((index, "swap", f"line +{line}: {type(node.op).__name__} -> {swapped}"))
            if isinstance(node.op, (ast.Add, ast.Sub)):
                sites.append((index, "drop term", f"line +{line}: a {type(node.op).__name__} b -> a"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in COMPARISONS:
            new = COMPARISONS[type(node.ops[0])].__name__
            sites.append((index, "compare", f"line +{line}: {type(node.ops[0]).__name__} -> {new}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sites.append((index, "drop sign", f"line +{line}: -x -> x"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not isinstance(node.value, bool):
            sites.append((index, "constant", f"line +{line}: {node.value!r} -> {_changed(node.value)!r}"))
    return sites


def _changed(value: float) -> float:
    return 1 if value == 0 else (value + 1 if isinstance(value, int) else 2.0 * value)


class _Mutate(ast.NodeTransformer):
    def __init__(self, site: int, kind: str) -> None:
        self.site, self.kind = site, kind
        self.nodes: dict[int, ast.AST] = {}

    def mutate(self, function: ast.FunctionDef) -> ast.FunctionDef:
        self.nodes = {id(n): i for i, n in enumerate(ast.walk(function))}
        return self.visit(function)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if self.nodes.get(id(node)) != self.site:
            return node
        if self.kind == "swap":
            node.op = SWAPS[type(node.op)]()
        elif self.kind == "drop term":
            return node.left
        elif self.kind == "compare":
            node.ops = [COMPARISONS[type(node.ops[0])](), *node.ops[1:]]
        elif self.kind == "drop sign":
            return node.operand
        elif self.kind == "constant":
            node.value = _changed(node.value)
        return node


def _compile(module: object, function: ast.FunctionDef, mutant: Mutant) -> object:
    """The code object of the function with the mutant applied."""
    import copy

    tree = _Mutate(mutant.site, mutant.kind).mutate(copy.deepcopy(function))
    tree.decorator_list = []
    wrapper = ast.Module(body=[tree], type_ignores=[])
    ast.fix_missing_locations(wrapper)
    namespace = dict(vars(module))
    exec(compile(wrapper, inspect.getsourcefile(module), "exec"), namespace)  # noqa: S102 - a copy of our own code
    return namespace[function.name].__code__


def _losses_of(module: object) -> list[str]:
    from nploss.losses import REGISTRY

    return [name for name, spec in REGISTRY.items() if inspect.getmodule(spec.forward) is module]


def enumerate_mutants(modules: tuple[str, ...]) -> list[Mutant]:
    found = []
    for name in modules:
        module = importlib.import_module(name)
        for function, tree, digest in _targets(module):
            for site, kind, description in _sites(tree):
                found.append(Mutant(name, function, site, kind, description, digest))
    return found


def _audit_fails(names: list[str], seconds: int) -> str:
    """'killed', 'survived' or 'timeout' for the audit of the given losses."""
    from nploss.audit import audit_losses

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        import numpy as np

        with np.errstate(all="ignore"):
            failed = any(not row.passed for row in audit_losses(names))
        return "killed" if failed else "survived"
    except TimeoutError:
        return "timeout"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_tree(modules: tuple[str, ...], count: int, seed: int) -> dict[str, object]:
    """Apply ``count`` mutants (a seeded sample of all) to the imported tree; the verdict of each."""
    import nploss

    mutants = enumerate_mutants(modules)
    chosen = sorted(random.Random(seed).sample(range(len(mutants)), min(count, len(mutants))))
    results, start = [], time.perf_counter()
    baseline = {}
    for name in modules:
        module = importlib.import_module(name)
        baseline[name] = _audit_fails(_losses_of(module), 10 * SECONDS_PER_MUTANT)
    for i in chosen:
        mutant = mutants[i]
        module = importlib.import_module(mutant.module)
        if baseline[mutant.module] != "survived":  # the unmutated audit fails: no verdict possible
            continue
        function = getattr(module, mutant.function)
        tree = next(t for n, t, _ in _targets(module) if n == mutant.function)
        original = function.__code__
        try:
            function.__code__ = _compile(module, tree, mutant)
        except (SyntaxError, ValueError, TypeError) as error:
            results.append({**asdict(mutant), "verdict": f"not compiled: {error}"})
            continue
        try:
            verdict = _audit_fails(_losses_of(module), SECONDS_PER_MUTANT)
        finally:
            function.__code__ = original
        results.append({**asdict(mutant), "verdict": verdict})
    return {
        "package": os.path.dirname(nploss.__file__),
        "mutants": len(mutants),
        "seconds": time.perf_counter() - start,
        "baseline": baseline,
        "results": results,
    }


def _snapshot(root: str) -> str:
    """A copy of the package under ``root`` in a temporary folder (the tree is never edited)."""
    target = tempfile.mkdtemp(prefix="nploss-mutants-")
    shutil.copytree(os.path.join(root, "nploss"), os.path.join(target, "nploss"), ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _run_in_process(root: str, args: argparse.Namespace) -> dict[str, object]:
    copy = _snapshot(root)
    try:
        out = os.path.join(copy, "result.json")
        env = {**os.environ, "PYTHONPATH": copy, "OMP_NUM_THREADS": "1"}
        command = [sys.executable, os.path.abspath(__file__), "--tree", copy, "--mutants", str(args.mutants),
                   "--seed", str(args.seed), "--json", out, *[a for m in args.module for a in ("--module", m)]]  # fmt: skip
        subprocess.run(command, env=env, check=True, cwd=copy)
        with open(out) as f:
            return json.load(f)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _key(result: dict[str, object]) -> tuple[object, ...]:
    return (result["module"], result["function"], result["site"], result["kind"], result["source_hash"])


def _rate(results: list[dict[str, object]]) -> str:
    judged = [r for r in results if r["verdict"] in ("killed", "survived", "timeout")]
    killed = sum(r["verdict"] != "survived" for r in judged)
    return f"{killed} of {len(judged)} killed ({100.0 * killed / max(len(judged), 1):.0f} %)"


def compare(args: argparse.Namespace) -> int:
    before, after = _run_in_process(args.before, args), _run_in_process(args.after, args)
    b = {_key(r): r for r in before["results"]}
    a = {_key(r): r for r in after["results"]}
    common = sorted(set(a) & set(b), key=str)
    print(f"modules: {', '.join(args.module)}")
    print(f"mutants: {len(common)} applied to both trees (of {len(b)} before, {len(a)} after; a mutant counts only where its function is the same)")
    print(f"before ({args.before}): {_rate([b[k] for k in common])} in {before['seconds']:.0f} s")
    print(f"after  ({args.after}): {_rate([a[k] for k in common])} in {after['seconds']:.0f} s")
    newly = [a[k] for k in common if a[k]["verdict"] != "survived" and b[k]["verdict"] == "survived"]
    lost = [b[k] for k in common if b[k]["verdict"] != "survived" and a[k]["verdict"] == "survived"]
    survivors = [a[k] for k in common if a[k]["verdict"] == "survived"]
    for title, group in (("killed only after", newly), ("killed only before", lost), ("surviving after", survivors)):
        print(f"\n{title}: {len(group)}")
        for r in group:
            print(f"  {r['module'].rsplit('.', 1)[-1]}.{r['function']}: {r['kind']}, {r['description']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", action="append", help=f"a loss module (default: {', '.join(MODULES)})")
    parser.add_argument("--mutants", type=int, default=80, help="how many mutants, a seeded sample of all (default 80)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", help="the root of the tree whose audit is the baseline (a HEAD export)")
    parser.add_argument("--after", help="the root of the tree whose audit is compared with it")
    parser.add_argument("--tree", help=argparse.SUPPRESS)  # one tree, imported from PYTHONPATH
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.module = tuple(args.module or MODULES)
    if args.tree:
        result = run_tree(args.module, args.mutants, args.seed)
        with open(args.json, "w") as f:
            json.dump(result, f)
        return 0
    if not (args.before and args.after):
        parser.error("give --before and --after (tree roots, each holding an nploss package)")
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
