"""The pages of the website that are generated at build time, so that they never go stale.

Before Sphinx reads its sources (``builder-inited``) this extension writes, into folders that
git ignores:

- ``losses/``: one page per loss of :data:`nploss.losses.REGISTRY` (a new loss gets its page
  without anyone writing one), one page per family, and the index of the families. A loss's
  page holds its formula and derivative, its figure (``nploss.report.slice_figure``: the loss
  and its directional derivative along a random slice, analytic against finite differences),
  its audit (``nploss.audit.audit_losses``), the source of its reference forward and VJP, its
  docstring (signature, parameters, reference) and its equivalents in other libraries
  (:mod:`nploss.equivalents`); ``equivalents`` and ``traps`` list the whole table.
- ``tutorials/``: the notebooks (``tutorials/[0-9A][0-9]_*.ipynb`` and
  ``tutorials/solutions/*.ipynb``, picked up by glob), copied with their stored outputs, and an
  index built from their titles.
- ``guides/``: sections of the README, one page each.

The audit and the figure of a loss take about a third of a second each, so they are computed
in a pool of processes and cached under ``_build/cache``, keyed by the package's source: a
rebuild after a change to the package recomputes them all, one that changes only the pages
recomputes none.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import pathlib
import re
import shutil
import textwrap
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

DOCS = pathlib.Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
CACHE = DOCS / "_build" / "cache"
FIGURE_POINTS = 61  # points along the slice of a loss's figure (the audit report's default is 121)

# The README sections that become guides: (page name, heading in the README).
GUIDES = (
    ("reading_a_loss", "Reading a loss: the reference first"),
    ("audit", "An audit"),
    ("audit_your_loss", "Auditing your own loss"),
    ("fewshot", "Few-shot learning"),
    ("figures", "Figures"),
    ("benchmarks", "Benchmarks"),
    ("gpu", "GPU"),
)

FAMILY_TITLES = {
    "regression": "Regression",
    "classification": "Classification",
    "segmentation": "Segmentation and images",
    "metric": "Metric learning",
    "distribution": "Distributions and generative models",
    "multitask": "Multi-task learning and regularisation",
    "fewshot": "Few-shot learning",
    "reinforcement": "Reinforcement learning",
}


def write_if_changed(path: pathlib.Path, text: str) -> None:
    """Write ``text`` unless ``path`` already holds it (Sphinx rereads only changed pages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def copy_if_changed(source: pathlib.Path, target: pathlib.Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)


def remove_stale(folder: pathlib.Path, keep: Iterable[pathlib.Path]) -> None:
    """Delete the files of ``folder`` not in ``keep`` (a loss or notebook that went away)."""
    keep = {p.resolve() for p in keep}
    for path in folder.rglob("*"):
        if path.is_file() and path.resolve() not in keep:
            path.unlink()


def rst_title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def plain(text: str) -> str:
    """Plain text as reST: the characters reST reads as markup (``|y|``, ``*``, a trailing ``_``)
    are escaped; double-backquoted code stays code."""
    parts = re.split(r"(``.+?``)", " ".join(str(text).split()))
    return "".join(part if part.startswith("``") else re.sub(r"([\\*|`_])", r"\\\1", part) for part in parts)


def indent(text: str, by: int = 3) -> str:
    return textwrap.indent(text, " " * by)


# ---------------------------------------------------------------------------- audit and figures


def _cache_key() -> str:
    """A hash of the package's source and of the figure's settings. The whole package, not the
    loss's own files: its audit runs through the family's shared helpers, the engine, the layers
    and the audit itself, and a page must never show the verdict of code that has changed."""
    digest = hashlib.sha256(f"{FIGURE_POINTS}".encode())
    for path in sorted((ROOT / "nploss").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _audit_and_figure(name: str, key: str) -> str:
    """Audit one loss and draw its figure, into the cache (runs in a worker process)."""
    import matplotlib

    matplotlib.use("Agg")
    from nploss.audit import audit_losses
    from nploss.losses import REGISTRY
    from nploss.report import COLUMNS, cells, row_json, slice_figure

    (row,) = audit_losses([name])
    data = row_json(row)
    data["summary"] = dict(zip(COLUMNS, cells(row)))
    data["agreement_rtol"] = row.agreement_rtol
    data["fast_agreement_rtol"] = row.fast_agreement_rtol
    figure = CACHE / "figures" / f"{name}.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    try:
        slice_figure(REGISTRY[name], figure, points=FIGURE_POINTS)
        data["figure_error"] = None
    except Exception as error:  # noqa: BLE001 - one loss without a figure still gets its page, saying why
        data["figure_error"] = f"{type(error).__name__}: {error}"
    data["cache_key"] = key
    (CACHE / "audit" / f"{name}.json").write_text(json.dumps(data, indent=1, default=float))
    return name


def audit_and_figures(names: list[str], workers: int) -> dict[str, dict[str, Any]]:
    """The cached audit of every loss (recomputed where its key changed), by name."""
    (CACHE / "audit").mkdir(parents=True, exist_ok=True)
    key = _cache_key()
    keys = {name: key for name in names}
    stale = []
    for name in names:
        path = CACHE / "audit" / f"{name}.json"
        if not path.exists() or json.loads(path.read_text()).get("cache_key") != keys[name]:
            stale.append(name)
    if stale:
        print(f"nploss docs: auditing and drawing {len(stale)} of {len(names)} losses on {workers} processes")
        if workers > 1 and len(stale) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                list(pool.map(_audit_and_figure, stale, [keys[n] for n in stale], chunksize=4))
        else:
            for name in stale:
                _audit_and_figure(name, keys[name])
    return {name: json.loads((CACHE / "audit" / f"{name}.json").read_text()) for name in names}


# ---------------------------------------------------------------------------- one page per loss


def function_source(fn: Any) -> tuple[str, int]:
    """The source of ``fn`` as its file holds it now, and its first line.

    Found by name in the file's syntax tree rather than by the line numbers recorded at import,
    which go stale if the file is edited while the site is built."""
    path = pathlib.Path(inspect.getsourcefile(fn) or "")
    text = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == fn.__name__:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.splitlines()[first - 1 : node.end_lineno]), first
    lines, first = inspect.getsourcelines(fn)  # a lambda or a generated function
    return "".join(lines), first


def _source_block(title: str, fn: Any) -> str:
    from nploss.losses._spec import source_file

    code, first = function_source(fn)
    code = textwrap.dedent(code).rstrip()
    return (
        f".. code-block:: python\n   :caption: {title}: ``{fn.__name__}`` in ``{source_file(fn)}``, line {first}\n"
        f"   :class: nploss-source\n\n{indent(code)}\n"
    )


def _audit_section(audit: dict[str, Any]) -> str:
    from nploss.report import LEGEND

    verdict = "passed" if audit["passed"] else f"**failed**: {audit['failure']}"
    out = [rst_title("Audit", "-"), f"``nploss audit --loss {audit['name']}`` (seed 0, float64): {verdict}.", ""]
    out += [".. list-table::", "   :header-rows: 1", ""]
    out += ["   * - " + "\n     - ".join(audit["summary"]), "   * - " + "\n     - ".join(audit["summary"].values()), ""]
    out += [LEGEND, ""]
    rows = []
    for label, check in audit["checks"].items():
        for item in check["inputs"]:
            rows.append((label, item["name"], f"{item['max_rel_error']:.2e}", f"{item['max_abs_error']:.2e}",
                         "ok" if item["passed"] else "FAIL", str(item["kinks"])))  # fmt: skip
    if rows:
        out += [".. list-table:: Every check against central finite differences, per input", "   :header-rows: 1", ""]
        out += ["   * - check\n     - input\n     - max rel. error\n     - max abs. error\n     - result\n     - kinks"]
        out += ["   * - " + "\n     - ".join(r) for r in rows]
        out.append("")
    if audit.get("agreement") is not None:
        out.append(f"Analytic against composite gradient: worst relative difference {audit['agreement']:.2e} "
                   f"(tolerance {audit['agreement_rtol']:.0e}).")  # fmt: skip
    if audit.get("fast_agreement") is not None:
        out.append(f"Fast path against the reference: worst relative difference {audit['fast_agreement']:.2e} "
                   f"(tolerance {audit['fast_agreement_rtol']:.0e}).")  # fmt: skip
    if audit.get("stability"):
        cases = ", ".join(f"{case} ({'finite' if not problem else problem})" for case, problem in audit["stability"].items())
        out.append(f"Stability sweep: {cases}.")
    return "\n".join(out) + "\n"


def _equivalents_list(rows: list[Any]) -> str:
    """One entry per library: the call, then how the arguments map, what differs and the fixture
    that verifies it (a list rather than a table: the calls and mappings are long)."""
    out = []
    for e in rows:
        out += [
            f"**{plain(e.library)}**: ``{' '.join(e.call.split())}``\n",
            f"- argument mapping: {plain(e.mapping or '-')}",
            f"- differences: {plain(e.differences or 'none')}",
            f"- verified by ``{e.fixture}``\n",
        ]
    return "\n".join(out) + "\n"


def display_math(formula: str) -> str:
    """A ``math`` directive for ``formula``, one line per part between top-level ``\\quad`` or
    ``,\\ `` (the loss, its definitions, its derivative), so that it does not run off the page.
    Braces and parentheses are tracked: a separator inside a group never splits."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"\\[{}]|[{}()]|\\quad(?![a-zA-Z])|,\\ ", formula):
        token = match.group(0)
        depth += 1 if token[-1] in "{(" else -1 if token[-1] in "})" else 0  # \{ and \} too: a set
        if token in (",\\ ", "\\quad") and depth == 0:
            parts.append(formula[start : match.start()])
            start = match.end()
    parts.append(formula[start:])
    parts = [part.strip().rstrip(",").strip() for part in parts]
    if len([part for part in parts if part]) > 1:  # several equations: aligned on the left
        parts = ["& " + part for part in parts if part]
    return ".. math::\n\n" + "\n\n".join(indent(part) for part in parts if part) + "\n"


def loss_page(spec: Any, audit: dict[str, Any]) -> str:
    import nploss.equivalents as equivalents
    import nploss.losses as L

    public = getattr(L, spec.name)
    module = public.__module__
    family = spec.family
    viewcode = "../_modules/" + module.replace(".", "/") + ".html"
    out = [
        ":orphan:\n",  # reached from its family's page: in the sidebar, 137 entries would slow every page
        f".. _loss-{spec.name}:\n",
        rst_title(spec.name),
        f"A loss of the :doc:`{FAMILY_TITLES.get(family, family)} <{family}>` family, "
        f"``nploss.losses.{spec.name}`` (defined in ``{module}``).\n",
        f"**Reference:** {plain(spec.reference)}.\n",
    ]
    out += [rst_title("Formula and derivative", "-"), display_math(spec.formula)]
    out.append(rst_title("Loss and gradient", "-"))
    if audit.get("figure_error"):
        out.append(f"No figure could be drawn for this loss: ``{audit['figure_error']}``.\n")
    else:
        out.append(
            f".. figure:: /_build/cache/figures/{spec.name}.png\n   :alt: {spec.name}: value and directional derivative along a random slice\n"
            f"   :figclass: nploss-figure\n\n"
            f"   The loss (mean reduction) along a random line through sampled inputs, and its derivative along\n"
            f"   that line: the analytic gradient (line) against central finite differences (dots).\n"
        )
    out.append(_audit_section(audit))
    out.append(rst_title("Reference forward and gradient", "-"))
    out.append(
        f"The textbook formula and its derivative, as the audit checks them (``nploss show {spec.name}`` prints the same); "
        f"the whole module is in the `highlighted source <{viewcode}>`__.\n"
    )
    out.append(_source_block("reference forward", spec.forward))
    out.append(_source_block("reference gradient (VJP)", spec.vjp))
    if spec.fast is not None:
        out.append(f"A fast path is held to this reference by the tests: {spec.fast.how}.\n")
    out.append(rst_title("Equivalents in other libraries", "-"))
    rows = equivalents.equivalents_of(spec.name)
    if rows:
        out.append(_equivalents_list(rows))
    else:
        out.append("No equivalent recorded in :mod:`nploss.equivalents` yet (see :doc:`equivalents`).\n")
    out += [rst_title("Signature, parameters and docstring", "-"), f".. autofunction:: nploss.losses.{spec.name}\n"]
    return "\n".join(out)


def family_page(family: str, specs: list[Any], audits: dict[str, dict[str, Any]]) -> str:
    title = FAMILY_TITLES.get(family, family)
    out = [rst_title(title), f"The {len(specs)} losses of the ``{family}`` family (``nploss audit --family {family}``).\n"]
    gallery = ROOT / "figures" / f"gallery_{family}.png"
    if gallery.exists():
        out.append(f".. figure:: _figures/gallery_{family}.png\n   :alt: gallery of the {family} losses\n\n"
                   f"   Representative losses of the family and their derivatives (``nploss figures``).\n")  # fmt: skip
    out += [".. list-table::", "   :header-rows: 1", "", "   * - loss\n     - reference\n     - audit"]
    for spec in specs:
        verdict = "ok" if audits[spec.name]["passed"] else "FAIL"
        out.append(f"   * - :doc:`{spec.name}`\n     - {plain(spec.reference)}\n     - {verdict}")
    return "\n".join(out) + "\n"


def losses_index(families: dict[str, list[Any]]) -> str:
    total = sum(len(v) for v in families.values())
    out = [
        rst_title("The losses"),
        f"{total} losses in {len(families)} families, each with its formula and derivative, its figure, its audit, "
        "the source of its reference forward and gradient and its equivalents in other libraries. These pages are "
        "generated from the registry, ``nploss.losses.REGISTRY``, when the site is built.\n",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    out += [f"   {family}" for family in families] + ["   formulas", "   equivalents", "   traps"]
    out.append("")
    for family, specs in families.items():
        out.append(f"**{FAMILY_TITLES.get(family, family)}**: " + ", ".join(f":doc:`{s.name}`" for s in specs) + "\n")
    return "\n".join(out)


def formulas_page(families: dict[str, list[Any]]) -> str:
    """Every formula and derivative on one page (and so checked by MathJax in one page load)."""
    out = [rst_title("Every formula"), "The formula and derivative of every registered loss, by family.\n"]
    for family, specs in families.items():
        out.append(rst_title(FAMILY_TITLES.get(family, family), "-"))
        for spec in specs:
            out += [f":doc:`{spec.name}`\n", display_math(spec.formula)]
    return "\n".join(out)


def equivalents_page() -> str:
    import nploss.equivalents as equivalents

    out = [
        rst_title("Equivalents in other libraries"),
        "The call in another library that gives nploss's number, loss by loss, with the argument mapping and the "
        "defaults that differ (:mod:`nploss.equivalents`). Every row names the committed fixture that verifies it.\n",
    ]
    names = sorted({e.loss for e in equivalents.EQUIVALENTS})
    if not names:
        out.append("No equivalents are recorded yet.\n")
    for name in names:
        out += [rst_title(name, "-"), f"The page of :doc:`{name}`.\n", _equivalents_list(equivalents.equivalents_of(name))]
    out.append("See also :doc:`traps`.\n")
    return "\n".join(out)


def traps_page() -> str:
    import nploss.equivalents as equivalents

    out = [rst_title("Convention traps"),
           "Conventions that differ between libraries under the same name, or the same loss under two names "
           "(:data:`nploss.equivalents.TRAPS`).\n"]  # fmt: skip
    if not equivalents.TRAPS:
        out.append("No traps are recorded yet.\n")
    for trap in equivalents.TRAPS:
        out += [rst_title(plain(trap.title), "-"), f"**Libraries:** {plain(', '.join(trap.libraries))}.\n", f"{plain(trap.detail)}\n",
                f"Shown by the fixture ``{trap.fixture}``.\n"]  # fmt: skip
    return "\n".join(out)


# ---------------------------------------------------------------------------- tutorials and guides


def notebook_paths() -> list[pathlib.Path]:
    tutorials = ROOT / "tutorials"
    return sorted(tutorials.glob("[0-9A][0-9]_*.ipynb")) + sorted((tutorials / "solutions").glob("*.ipynb"))


def _notebook_title(path: pathlib.Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _link_rewriter(page_dir: pathlib.Path, from_dir: pathlib.Path, docs: dict[pathlib.Path, str]):  # noqa: ANN202
    """Rewrite the relative links of Markdown written in ``from_dir`` for a page in ``page_dir``:
    a notebook that has a page links to it, an image is linked where it lies, anything else (a
    source file, a folder) becomes its path in code, since the site has no page for it."""

    def rewrite(match: re.Match[str]) -> str:
        bang, text, target = match.group(1), match.group(2), match.group(3)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return match.group(0)
        path_part, _, anchor = target.partition("#")
        resolved = (from_dir / path_part).resolve()
        if resolved in docs:
            return f"{bang}[{text}]({os.path.relpath(DOCS / docs[resolved], page_dir)}{'#' + anchor if anchor else ''})"
        if bang and resolved.exists():
            return f"{bang}[{text}]({os.path.relpath(resolved, page_dir)})"
        if bang:
            return f"*({text}: not present)*"
        label = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else path_part
        return text if text.strip("`") == label else f"{text} (`{label}`)"

    return rewrite


LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def copy_notebooks(out: pathlib.Path) -> list[tuple[str, str]]:
    """Copy the notebooks into ``out`` (links rewritten), return ``(page, title)`` for each."""
    paths = notebook_paths()
    docs = {p.resolve(): f"tutorials/{p.relative_to(ROOT / 'tutorials').with_suffix('').as_posix()}.ipynb" for p in paths}
    pages, written = [], []
    for path in paths:
        relative = path.relative_to(ROOT / "tutorials")
        target = out / relative
        notebook = json.loads(path.read_text(encoding="utf-8"))
        rewrite = _link_rewriter(target.parent, path.parent, docs)
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "markdown":
                source = "".join(cell.get("source", []))
                cell["source"] = LINK.sub(rewrite, source)
        notebook.setdefault("metadata", {})["mystnb"] = {"execution_mode": "off"}
        write_if_changed(target, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
        pages.append((relative.with_suffix("").as_posix(), _notebook_title(path)))
    lines = ["# Tutorials", "",
             "Notebooks that derive, plot and verify the losses, shown with the outputs they were saved with "
             "(the test suite re-runs each one on a fresh kernel and checks its numbers). Run them with "
             "`jupyter lab tutorials/`.", ""]  # fmt: skip
    main = [(p, t) for p, t in pages if not p.startswith("solutions/")]
    solutions = [(p, t) for p, t in pages if p.startswith("solutions/")]
    lines += ["```{toctree}", ":maxdepth: 1", ""] + [p for p, _ in main] + ["```", ""]
    if solutions:
        lines += ["## Solutions to the exercises", "", "```{toctree}", ":maxdepth: 1", ""] + [p for p, _ in solutions] + ["```", ""]
    index = out / "index.md"
    write_if_changed(index, "\n".join(lines))
    remove_stale(out, written + [index])
    return pages


def readme_sections() -> dict[str, str]:
    """The README's ``##`` sections by heading (fenced code is never taken for a heading)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
            continue
        if not fenced and line.startswith("# "):
            current = None
            continue
        if current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() + "\n" for k, v in sections.items()}


def write_guides(out: pathlib.Path) -> list[tuple[str, str]]:
    sections = readme_sections()
    docs = {p.resolve(): f"tutorials/{p.relative_to(ROOT / 'tutorials').with_suffix('').as_posix()}.ipynb" for p in notebook_paths()}
    docs[(ROOT / "tutorials" / "README.md").resolve()] = "tutorials/index.md"
    docs[(ROOT / "tutorials").resolve()] = "tutorials/index.md"
    pages, written = [], []
    for page, heading in GUIDES:
        if heading not in sections:
            continue  # the README no longer has it: the guide goes, the build does not break
        body = LINK.sub(_link_rewriter(out, ROOT, docs), sections[heading])
        body = re.sub(r"^###(#*) ", r"##\1 ", body, flags=re.M)
        target = out / f"{page}.md"
        write_if_changed(target, f"# {heading}\n\n{body}")
        written.append(target)
        pages.append((page, heading))
    index = out / "index.md"
    write_if_changed(index, "\n".join(["# Guides", "", "```{toctree}", ":maxdepth: 1", ""] + [p for p, _ in pages] + ["```", ""]))
    remove_stale(out, [*written, index])
    return pages


# ---------------------------------------------------------------------------- the entry point


def generate(app: Any) -> None:
    import nploss.losses as L

    specs = list(L.REGISTRY.values())
    families: dict[str, list[Any]] = {}
    for spec in specs:
        families.setdefault(spec.family, []).append(spec)
    workers = int(os.environ.get("NPLOSS_DOCS_JOBS", min(2, os.cpu_count() or 1)))
    audits = audit_and_figures([s.name for s in specs], workers)

    losses = DOCS / "losses"
    written = []
    for spec in specs:
        written.append(losses / f"{spec.name}.rst")
        write_if_changed(written[-1], loss_page(spec, audits[spec.name]))
    for family, members in families.items():
        written.append(losses / f"{family}.rst")
        write_if_changed(written[-1], family_page(family, members, audits))
    for page, text in (("index", losses_index(families)), ("formulas", formulas_page(families)), ("equivalents", equivalents_page()),
                       ("traps", traps_page())):  # fmt: skip
        written.append(losses / f"{page}.rst")
        write_if_changed(written[-1], text)
    for family in families:
        gallery = ROOT / "figures" / f"gallery_{family}.png"
        if gallery.exists():
            written.append(losses / "_figures" / gallery.name)
            copy_if_changed(gallery, written[-1])
    remove_stale(losses, written)

    copy_notebooks(DOCS / "tutorials")
    write_guides(DOCS / "guides")


# A numpydoc parameter line, ``name : type``: the type is shown as text, so a shape such as
# ``(N, C, *spatial)`` or ``(*, H, W)`` would open reST emphasis that never closes.
PARAMETER_LINE = re.compile(r"^(\s*[\w*][\w*, ]* : )(?P<type>[^`]*)$")


def escape_parameter_types(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Escape the stars of parameter types (``*spatial`` is a shape, not emphasis), before numpydoc
    reads the docstring."""
    for i, line in enumerate(lines):
        match = PARAMETER_LINE.match(line)
        if match and "*" in match["type"]:
            lines[i] = match.group(1) + re.sub(r"(?<!\\)\*", r"\\*", match["type"])


def keep_unknown_sections(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """numpydoc drops a section it does not know (a layer's ``Shapes``) with a warning: move each
    such section into ``Notes``, under a rubric of its own title, so that its text is shown."""
    from numpydoc.docscrape import NumpyDocString

    known = set(NumpyDocString.sections)
    heads = [i for i in range(len(lines) - 1)
             if lines[i].strip() and not lines[i].startswith(" ") and re.fullmatch(r"-{3,}", lines[i + 1].strip())
             and len(lines[i + 1].strip()) >= len(lines[i].strip())]  # fmt: skip
    if not any(lines[i].strip() not in known for i in heads):
        return
    bounds = [*heads, len(lines)]
    sections = [(lines[i].strip(), lines[i + 2 : bounds[k + 1]]) for k, i in enumerate(heads)]
    kept = [(title, body) for title, body in sections if title in known]
    moved = [line for title, body in sections if title not in known for line in ["", f".. rubric:: {title}", "", *body]]
    notes = next((body for title, body in kept if title == "Notes"), None)
    if notes is None:
        kept.append(("Notes", moved))
    else:
        notes.extend(moved)
    lines[:] = lines[: heads[0]] + [line for title, body in kept for line in [title, "-" * len(title), *body, ""]]


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    app.connect("autodoc-process-docstring", escape_parameter_types, priority=100)  # before numpydoc's (500)
    app.connect("autodoc-process-docstring", keep_unknown_sections, priority=101)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
