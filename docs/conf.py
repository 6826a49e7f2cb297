"""Sphinx configuration of the nploss website.

Build it from the repository root (warnings are errors)::

    pip install -e '.[docs]' && python -m sphinx -W -b html docs docs/_build/html

or ``nploss docs``, which runs the same build and opens the result. The pages of the losses, the
tutorials and the guides are generated at build time by ``_ext/nploss_pages.py``.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import nploss  # noqa: E402

project = "nploss"
author = "the nploss authors"
copyright = "the nploss authors"  # noqa: A001
version = release = nploss.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "nploss_pages",
]

exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints", "README.md"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# ---------------------------------------------------------------------------- the theme

html_theme = "furo"
html_title = "nploss"  # the browser tab reads "cross_entropy - nploss"
html_static_path = ["_static"]
html_css_files = ["nploss.css"]
html_show_sourcelink = False
html_copy_source = False
pygments_style = "default"

# ---------------------------------------------------------------------------- math


def _mathjax_folder() -> pathlib.Path | None:
    """The MathJax 3 that the ``django-static-mathjax`` package ships (a dependency of the docs
    extra; Sphinx's mathjax extension targets MathJax 3), or None."""
    try:
        import mathjax  # django-static-mathjax
    except ImportError:
        return None
    folder = pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    return folder if (folder / "tex-chtml.js").exists() else None


def _copy_mathjax() -> str | None:
    """Copy the parts of MathJax the pages load (the TeX input, the CommonHTML output and its
    fonts, the menu) into ``_build/mathjax_static``; return the folder, or None without MathJax.

    The site must render its math without a network, so MathJax is served from the build."""
    source = _mathjax_folder()
    if source is None:
        return None
    target = DOCS / "_build" / "mathjax_static" / "mathjax"
    parts = ["tex-chtml.js", "input", "output", "ui", "a11y", "adaptors"]
    stamp = target / ".source"
    if not (stamp.exists() and stamp.read_text() == str(source)):
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for part in parts:
            path = source / part
            if path.is_dir():
                shutil.copytree(path, target / part)
            elif path.exists():
                shutil.copyfile(path, target / part)
        stamp.write_text(str(source))
    return str(target.parent)


_mathjax_static = _copy_mathjax()
if _mathjax_static is not None:
    html_static_path.append(_mathjax_static)
    mathjax_path = "mathjax/tex-chtml.js"
else:  # no local copy: the pages load MathJax from Sphinx's default CDN (needs a network)
    print("nploss docs: django-static-mathjax is not installed; the math loads MathJax from its CDN")
# Without "noundefined", an unknown command is a parse error that MathJax shows as such (an
# <mjx-merror>, which tests/docs/test_site.py looks for) rather than red text.
mathjax3_config = {"tex": {"packages": {"[-]": ["noundefined"]}}}

# ---------------------------------------------------------------------------- API and docstrings

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections give the types, in words
numpydoc_show_class_members = False  # autodoc lists the members; numpydoc's tables would repeat them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# ---------------------------------------------------------------------------- notebooks

nb_execution_mode = "off"  # the notebooks are shown with their stored outputs, never re-executed
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_merge_streams = True
