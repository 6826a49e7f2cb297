"""Every tutorial notebook runs top to bottom on a fresh kernel, on the CPU, without an error.

The notebooks are committed with their outputs; this test re-executes each one in memory (the
files are not rewritten) with nbclient, in the tutorials folder, and fails on the first cell
that raises. Each notebook takes seconds (well under a minute on a 2-core machine).
"""

from __future__ import annotations

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat", reason="the tutorials need the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="the tutorials need the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the tutorials need the test extra: pip install -e '.[test]'")

TUTORIALS = pathlib.Path(__file__).resolve().parent.parent / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))


def test_the_ten_tutorials_are_there():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, 11)]
    listed = (TUTORIALS / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name in listed, f"{path.name} is not listed in tutorials/README.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_on_a_fresh_kernel(path, monkeypatch):
    # One BLAS thread per kernel: the notebooks are small, and CI machines have two cores.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.delenv("NPLOSS_BACKEND", raising=False)  # the CPU, whatever the environment
    notebook = nbformat.read(path, as_version=4)
    unexecuted = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and cell.get("execution_count") is None]
    assert not unexecuted, f"{path.name} is committed without the outputs of cells {unexecuted}"
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(TUTORIALS)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
