"""The notebook in examples/ runs from top to bottom (issue 15 item 5): executed with
nbclient at a small size, it fails if any cell raises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_quickstart_notebook_runs(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if c.cell_type == "code" and "SIZE =" in c.source)
    # The parameter cell, as a papermill-style override: a small size, outputs in tmp.
    params.source = (
        f"from pathlib import Path\nSCENARIOS = Path({str(REPO / 'scenarios')!r})\n"
        f"SIZE = 2_000\nOUT = Path({str(tmp_path / 'quickstart')!r})\n"
    )
    env_path = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"] = env_path  # the kernel imports this checkout's povsim
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "examples")}},
    )
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
    assert (tmp_path / "quickstart" / "report.html").is_file()
    # The last cells display a table and a figure.
    kinds = {
        k for c in nb.cells if c.cell_type == "code" for o in c.outputs for k in o.get("data", {})
    }
    assert {"text/html", "image/png"} <= kinds
