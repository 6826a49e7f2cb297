"""Every example in nploss's docstrings, run as a test (issue 27), so that a number shown in an
example cannot drift from what the code returns.

Each docstring with examples is one test, named after its object (``nploss.losses...dice``).
The modules are found by walking the package; a module whose import needs an optional dependency
that is missing (CuPy, for the GPU backend) is reported as skipped, any other import error fails
the collection. The examples compare their output exactly, as the doctest module does; only
``NORMALIZE_WHITESPACE`` and ``ELLIPSIS`` are set, which leave numbers alone. A second test checks
that every docstring in the source that holds an example (``>>>``) was collected, so that an
example cannot escape by living where the finder does not look (an object re-exported from
another module, a wrapped function).
"""

from __future__ import annotations

import ast
import copy
import doctest
import importlib
import pathlib
import pkgutil

import pytest

import nploss

OPTIONAL = {"cupy", "cupyx"}  # the gpu extra: its absence skips a module, never fails it
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
PACKAGE = pathlib.Path(nploss.__file__).resolve().parent


def _module_names() -> list[str]:
    names = ["nploss"]
    for info in pkgutil.walk_packages(nploss.__path__, "nploss."):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # runs the command line when imported
            names.append(info.name)
    return sorted(names)


def _collect() -> tuple[list, dict[str, str]]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests, skipped = [], {}
    for name in _module_names():
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            if (getattr(error, "name", None) or "").split(".")[0] not in OPTIONAL:
                raise
            skipped[name] = f"needs the optional {error.name}"
            continue
        tests.extend(t for t in finder.find(module) if t.examples)
    return sorted(tests, key=lambda t: t.name), skipped


DOCTESTS, SKIPPED = _collect()
CASES = [pytest.param(t, id=t.name) for t in DOCTESTS] + [
    pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"{name} {why}")) for name, why in sorted(SKIPPED.items())
]


@pytest.mark.parametrize("test", CASES)
def test_docstring_example(test):
    test = copy.copy(test)
    test.globs = dict(test.globs)  # a fresh namespace each run, the module's own left alone
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, f"{test.filename}:{test.lineno + 1}\n" + "".join(report)


def _docstrings_with_examples() -> set[str]:
    """The dotted name of every module, class and function of the package whose docstring holds ``>>>``."""
    found = set()

    def visit(node, qualname: str) -> None:
        doc = ast.get_docstring(node, clean=False)
        if doc and ">>>" in doc:
            found.add(qualname)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, f"{qualname}.{child.name}")

    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        visit(ast.parse(path.read_text(encoding="utf-8")), module)
    return found


def test_every_docstring_example_in_the_source_is_collected():
    """No example escapes: one defined where the finder does not look (inside a function, in an
    object whose ``__module__`` is another module's) would show here."""
    missing = {
        name for name in _docstrings_with_examples() - {t.name for t in DOCTESTS}
        if not any(name == m or name.startswith(f"{m}.") for m in SKIPPED)
    }  # fmt: skip
    assert not missing, f"docstring examples that no test runs: {sorted(missing)}"
    assert len(DOCTESTS) >= 80  # the count when this test was written (issue 27): examples only grow
