"""Every tutorial notebook, and every exercise solution, runs top to bottom on a fresh kernel and
prints the numbers it was committed with.

The notebooks are committed with their outputs; this test re-executes each one in memory (the
files are not rewritten) with nbclient, in its folder, and fails on the first cell that raises.
Then it holds the text to the outputs:

- **every number a code cell prints reproduces**: the numbers of each re-executed cell's text
  output are compared with the committed ones, within the notebook's tolerance (its metadata
  ``nploss.rtol``, default 1e-6 relative, ``nploss.atol`` default 1e-9). A cell whose output
  legitimately changes from run to run (a timing, a machine name) carries the cell tag
  ``varies`` and a markdown cell or comment saying why; every other cell must be deterministic.
- **every number the text quotes is printed**: the notebook's metadata ``nploss.quotes`` lists the
  numbers (as strings, e.g. ``"0.904"``) that its markdown cites; each must appear in a markdown
  cell and in a committed output, so a rerun that moves a quoted number fails the comparison above.

Solutions to the exercises live in ``tutorials/solutions/`` and run the same way.
"""

from __future__ import annotations

import math
import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat", reason="the tutorials need the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="the tutorials need the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the tutorials need the test extra: pip install -e '.[test]'")

TUTORIALS = pathlib.Path(__file__).resolve().parent.parent / "tutorials"
# The curriculum in order, then the appendices.
CURRICULUM = [
    "01_autograd", "02_gradcheck", "03_likelihoods", "04_regression", "05_classification", "06_metric",
    "07_distributions", "08_multitask", "09_landscapes", "10_debugging", "11_sequences_rl",
    "A1_fewshot", "A2_gpu",
]  # fmt: skip
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9A][0-9]_*.ipynb"))
SOLUTIONS = sorted((TUTORIALS / "solutions").glob("*.ipynb"))
VARIES = "varies"  # the cell tag of an output allowed to change between runs
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)


def test_the_curriculum_is_there_and_listed():
    assert [p.stem for p in NOTEBOOKS] == CURRICULUM
    listed = (TUTORIALS / "README.md").read_text()
    for path in NOTEBOOKS + SOLUTIONS:
        assert path.relative_to(TUTORIALS).as_posix() in listed, f"{path.name} is not listed in tutorials/README.md"


def _text_outputs(cell) -> str:
    """The text a code cell shows: its streams and the plain-text form of its results."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", "") if "image/png" not in out.get("data", {}) else "")
    return "".join(parts)


def _numbers(text: str) -> list[float]:
    # Memory addresses and object ids are not results.
    text = re.sub(r"0x[0-9a-fA-F]+", "", text)
    return [float(m) for m in NUMBER.findall(text)]


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= atol + rtol * abs(b)


def _execute(path: pathlib.Path, monkeypatch):
    # One BLAS thread per kernel: the notebooks are small, and CI machines have two cores.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.delenv("NPLOSS_BACKEND", raising=False)  # the CPU, whatever the environment
    committed = nbformat.read(path, as_version=4)
    unexecuted = [i for i, c in enumerate(committed.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert not unexecuted, f"{path.name} is committed without the outputs of cells {unexecuted}"
    rerun = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        rerun, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    errors = [out for cell in rerun.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    return committed, rerun


def _check_reproduces(path, committed, rerun) -> None:
    settings = committed.metadata.get("nploss", {})
    rtol, atol = settings.get("rtol", 1e-6), settings.get("atol", 1e-9)
    moved = []
    for index, (old, new) in enumerate(zip(committed.cells, rerun.cells)):
        if old.cell_type != "code" or VARIES in old.get("metadata", {}).get("tags", []):
            continue
        before, after = _numbers(_text_outputs(old)), _numbers(_text_outputs(new))
        if len(before) != len(after) or not all(_close(a, b, rtol, atol) for a, b in zip(after, before)):
            moved.append(f"cell {index}: committed {before[:8]}..., rerun {after[:8]}...")
    assert not moved, f"{path.name}: printed numbers moved on a rerun (tag the cell '{VARIES}' if that is its point):\n" + "\n".join(moved)
    markdown = "\n".join(c.source for c in committed.cells if c.cell_type == "markdown")
    printed = "\n".join(_text_outputs(c) for c in committed.cells if c.cell_type == "code")
    for quote in settings.get("quotes", []):
        assert quote in markdown, f"{path.name}: the quoted number {quote} is not in its text"
        assert quote in printed, f"{path.name}: the text quotes {quote}, which no output prints"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.relative_to(TUTORIALS).as_posix())
def test_the_notebook_runs_and_reproduces_its_numbers(path, monkeypatch):
    committed, rerun = _execute(path, monkeypatch)
    _check_reproduces(path, committed, rerun)
