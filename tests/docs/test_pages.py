"""The page generator of the website (``docs/_ext/nploss_pages.py``), without Sphinx: every loss
gets a page with its formula, figure, audit and source; the README's guides and the notebooks are
found; text is escaped for reST and long formulas are split."""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys

import pytest

from nploss.losses import REGISTRY

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("nploss_pages", ROOT / "docs" / "_ext" / "nploss_pages.py")
pages = importlib.util.module_from_spec(spec)
sys.modules.setdefault("nploss_pages", pages)
spec.loader.exec_module(pages)

AUDIT = {  # the fields of nploss.report.row_json that a page reads, for a passing loss
    "name": "cross_entropy", "passed": True, "failure": None, "figure_error": None,
    "summary": {"gradient": "1.00e-09", "composite": "1.00e-09"},
    "checks": {"analytic (mean)": {"inputs": [{"name": "logits", "max_rel_error": 1e-9, "max_abs_error": 1e-10, "passed": True, "kinks": 0}]}},
    "agreement": 1e-16, "agreement_rtol": 1e-6, "fast_agreement": None, "fast_agreement_rtol": 1e-6, "stability": {"large scale": None},
}  # fmt: skip


@pytest.mark.parametrize("name", ["cross_entropy", "tversky", "ctc", "l2_penalty"])
def test_a_loss_page_has_its_formula_figure_audit_and_source(name: str) -> None:
    text = pages.loss_page(REGISTRY[name], {**AUDIT, "name": name})
    assert f"\n{name}\n{'=' * len(name)}\n" in text and text.startswith(":orphan:")
    assert ".. math::" in text and f"/_build/cache/figures/{name}.png" in text
    assert f"nploss audit --loss {name}" in text and "1.00e-09" in text
    for fn in (REGISTRY[name].forward, REGISTRY[name].vjp):
        assert f"``{fn.__name__}``" in text and f"def {fn.__name__}(" in text
    assert f".. autofunction:: nploss.losses.{name}" in text


def test_a_failed_audit_and_a_missing_figure_are_said() -> None:
    text = pages.loss_page(REGISTRY["mse"], {**AUDIT, "name": "mse", "passed": False, "failure": "mse: wrong", "figure_error": "ValueError: x"})
    assert "**failed**: mse: wrong" in text and "No figure could be drawn" in text and ".. figure::" not in text


def test_every_family_page_lists_all_its_losses() -> None:
    audits = {name: {"passed": True} for name in REGISTRY}
    for family in {s.family for s in REGISTRY.values()}:
        members = [s for s in REGISTRY.values() if s.family == family]
        text = pages.family_page(family, members, audits)
        assert all(f":doc:`{s.name}`" in text for s in members)


def test_long_formulas_split_at_top_level_quads_only() -> None:
    out = pages.display_math(r"a = \frac{1}{2}, \quad b = \text{x \quad y} (p,\ q), \qquad c,\ d = \{0,\ 1\}")
    assert out.split("\n\n")[1:] == [r"   & a = \frac{1}{2}", r"   & b = \text{x \quad y} (p,\ q), \qquad c", "   & d = \\{0,\\ 1\\}\n"]
    assert pages.display_math("x^2") == ".. math::\n\n   x^2\n"


def test_plain_text_is_escaped_for_rest() -> None:
    assert pages.plain("floors |y| at *eps* for x_ and ``a|b``") == r"floors \|y\| at \*eps\* for x\_ and ``a|b``"


def test_parameter_types_with_stars_are_escaped() -> None:
    lines = ["prediction : array or Tensor, (N, C, *spatial)", "    Probabilities *after* the softmax."]
    pages.escape_parameter_types(None, "function", "f", None, None, lines)
    assert lines == [r"prediction : array or Tensor, (N, C, \*spatial)", "    Probabilities *after* the softmax."]


def test_every_guide_is_a_section_of_the_readme() -> None:
    sections = pages.readme_sections()
    missing = [heading for _, heading in pages.GUIDES if heading not in sections]
    assert not missing, f"README sections renamed or gone (update GUIDES in docs/_ext/nploss_pages.py): {missing}"


def test_links_to_files_the_site_lacks_become_code(tmp_path: pathlib.Path) -> None:
    docs = {(ROOT / "tutorials" / "01_autograd.ipynb").resolve(): "tutorials/01_autograd.ipynb"}
    rewrite = pages._link_rewriter(pages.DOCS / "guides", ROOT, docs)
    text = "[the engine](tutorials/01_autograd.ipynb) and [results](benchmarks/RESULTS.md) and [web](https://x.org)"
    out = pages.LINK.sub(rewrite, text)
    assert "[the engine](../tutorials/01_autograd.ipynb)" in out and "results (`benchmarks/RESULTS.md`)" in out
    assert "[web](https://x.org)" in out


def test_the_notebooks_are_found_by_glob() -> None:
    found = {p.name for p in pages.notebook_paths()}
    on_disk = {p.name for p in (ROOT / "tutorials").iterdir() if re.match(r"[0-9A][0-9]_.*\.ipynb$", p.name)}
    assert on_disk and on_disk <= found
