"""The package's structure, read from its own imports: no import cycle, and imports run only down the
layers that ``docs/architecture.md`` draws (a module may import its own layer and those below it).

Every import counts, also those inside functions and under ``if TYPE_CHECKING:``: an import delayed to
run time is still a dependency, and a cycle of delayed imports is still a cycle.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "facelandmarks"

# Bottom to top. A new module goes into one layer here and in docs/architecture.md.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundations", {"version", "schemes", "io", "geometry"}),
    ("data and measures", {"augment", "datasets", "metrics", "detect"}),
    ("models", {"models", "models.level1", "models.level2", "models.files", "models.confidence", "models.cascade", "models.quantize",
                "models.shape_correction",
                "models.pretrained", "models.onnx"}),
    ("training", {"train"}),
    ("evaluation", {"evaluation", "benchmark", "human", "human.formats", "human.lfpw_test", "human.analysis", "human.repeatability",
                    "human.figures", "human.session", "human.study", "human.__main__"}),
    ("presentation", {"viz", "widgets", "widgets.drawing", "widgets.browser", "widgets.cascade_viewer",
                      "widgets.ced_explorer", "widgets.annotator", "labs", "course", "cli", "recipe"}),
    ("package face", {""}),  # facelandmarks/__init__.py
]
LAYER_OF = {f"facelandmarks.{m}".rstrip("."): rank for rank, (_, mods) in enumerate(LAYERS) for m in mods}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The ``facelandmarks.*`` modules that module ``name`` imports anywhere in its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from X import y` imports the module X.y when there is one, else the name y of X
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t.split(".")[0] == "facelandmarks" and t != name}
    unknown = {t for t in found if t not in MODULES}
    assert not unknown, f"{path}: imports {sorted(unknown)}, which are not modules of the package"
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first = last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer():
    missing = sorted(set(MODULES) - set(LAYER_OF))
    assert not missing, (f"modules without a layer: {missing}; add each to LAYERS in {Path(__file__).name} "
                         "and to docs/architecture.md")
    gone = sorted(set(LAYER_OF) - set(MODULES))
    assert not gone, f"LAYERS names modules that do not exist: {gone}"


def test_imports_run_down_the_layers():
    upward = [f"{a} ({LAYERS[LAYER_OF[a]][0]}) imports {b} ({LAYERS[LAYER_OF[b]][0]})"
              for a, targets in sorted(GRAPH.items()) for b in sorted(targets)
              if a in LAYER_OF and b in LAYER_OF and LAYER_OF[b] > LAYER_OF[a]]
    assert not upward, "imports that run up the layers of docs/architecture.md:\n" + "\n".join(upward)


def test_detection_does_not_need_the_models():
    below = {m for m in MODULES if m.startswith("facelandmarks.models")}
    assert not GRAPH["facelandmarks.detect"] & below


def test_the_architecture_page_draws_these_layers():
    """docs/architecture.md draws each module in the layer LAYERS gives it (diagram line ``N name ...``)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = text.split("```")[1]
    drawn: dict[int, set[str]] = {}
    layer = None
    for line in diagram.splitlines():
        head = line.split()[:1]
        if head and head[0].isdigit():
            layer = int(head[0]) - 1
        elif not line.startswith("  "):
            layer = None
        if layer is not None:
            drawn.setdefault(layer, set()).update(re.findall(r"[a-z_0-9]+", line))
    for name, rank in LAYER_OF.items():
        word = name.rpartition(".")[2]
        if rank < len(LAYERS) - 1 and word != "__main__":
            assert word in drawn.get(rank, set()), f"docs/architecture.md does not draw {name} in layer {rank + 1}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODULES), ids=str)
def test_each_module_imports_on_its_own(name: str):
    """A fresh interpreter per module: an import that works only after another module is caught here."""
    run = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, timeout=120)
    assert run.returncode == 0, f"import {name} failed:\n{run.stderr[-2000:]}"
