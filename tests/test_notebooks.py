"""The notebooks' form (their execution is checked by book/build.sh, which runs each one once).

Stored without outputs, kernel ``python3``, "What you will learn" first, then the visible mode cell;
the step-by-step notebooks are exactly what ``tools/make_notebooks.py`` writes.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FAST_LINE = 'FAST = os.environ.get("FACELANDMARKS_FAST", "0") == "1"'

_spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "tools" / "make_notebooks.py")
make_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_notebooks)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_all_numbered_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    for number in range(1, 10):
        assert any(n.startswith(f"{number:02d}_") for n in names), f"no notebook {number:02d}_*.ipynb in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_form(path: Path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3", f"{path.name}: kernel must be python3"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has stored outputs (store notebooks without them)"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"
    first = _source(nb["cells"][0])
    assert nb["cells"][0]["cell_type"] == "markdown" and "What you will learn" in first, \
        f"{path.name}: the first cell must say what you will learn"
    code = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    assert FAST_LINE in code[0], f"{path.name}: the first code cell must be the visible mode cell"
    assert "FACELANDMARKS_DATA" in code[0] or "data_root" in code[0], f"{path.name}: the mode cell must find the data"


@pytest.mark.parametrize("name", sorted(make_notebooks.NOTEBOOKS), ids=str)
def test_generated_notebooks_are_up_to_date(name: str):
    """Edit tools/make_notebooks.py, then run it: the stored notebook must be what it writes."""
    path = ROOT / "notebooks" / name
    want = make_notebooks.nb(make_notebooks.NOTEBOOKS[name], name.split("_")[0])
    got = _load(path)
    assert [(c["cell_type"], _source(c)) for c in got["cells"]] == \
        [(c.cell_type, c.source) for c in want.cells], \
        f"{name} differs from tools/make_notebooks.py: run `.venv/bin/python tools/make_notebooks.py {name}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_the_library_and_do_not_redefine_it(path: Path):
    """Exercise stubs (my_*) and small helpers are fine; a def with a library function's name is not."""
    import facelandmarks.geometry as geometry
    import facelandmarks.metrics as metrics

    library = {n for m in (geometry, metrics) for n in getattr(m, "__all__", dir(m)) if not n.startswith("_")}
    code = "\n".join(_source(c) for c in _load(path)["cells"] if c["cell_type"] == "code")
    assert "facelandmarks" in code, f"{path.name} does not use the library"
    defined = set(re.findall(r"^\s*def (\w+)\(", code, flags=re.M))
    assert not defined & library, f"{path.name} redefines library functions {sorted(defined & library)}"


def test_exercise_cells_use_try_exercise():
    """Every exercise stub is checked through labs.try_exercise, so the notebooks run headless with stubs."""
    for name, cells in make_notebooks.NOTEBOOKS.items():
        for kind, src in cells:
            if kind == "code" and "raise NotImplementedError" in src:
                assert "# YOUR CODE HERE" in src and "labs.try_exercise(labs.check_" in src, name
