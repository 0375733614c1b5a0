"""The recipe that rebuilds the shipped weights: order, resume, no double start, install."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from facelandmarks import recipe


def _tiny(steps: tuple[recipe.Step, ...]) -> tuple[recipe.Step, ...]:
    """The same steps with 1 epoch on 8 training faces each (the recipe's structure, not its budget)."""
    out = []
    for step in steps:
        args = list(step.args)
        args[args.index("--epochs") + 1] = "1"
        out.append(replace(step, args=tuple(args) + ("--limit", "8")))
    return tuple(out)


def test_recipe_steps_depend_only_on_earlier_steps_and_ship_what_the_package_loads():
    names = [s.name for s in recipe.STEPS]
    for i, step in enumerate(recipe.STEPS):
        assert set(step.after) <= set(names[:i]), step
    from facelandmarks.models.pretrained import LEVEL1_RECROP_WEIGHTS, LEVEL1_WEIGHTS, LEVEL2_WEIGHTS

    shipped = set(recipe.SHIPPED.values())
    assert {LEVEL1_WEIGHTS["deep"], LEVEL1_WEIGHTS["shallow"], LEVEL2_WEIGHTS["k3"], LEVEL2_WEIGHTS["k3_sim"],
            LEVEL1_RECROP_WEIGHTS["deep"]} <= shipped
    for src in recipe.SHIPPED:
        assert src.split("/")[0] in names


@pytest.mark.slow
def test_tiny_recipe_runs_resumes_and_installs(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    steps = _tiny(recipe.STEPS)
    out = tmp_path / "recipe"
    total = recipe.run_recipe(out, steps=steps)
    assert total > 0
    for step in steps:
        assert (out / step.name / step.weights).is_file()
    log = (out / "recipe_log.csv").read_text().splitlines()
    assert len(log) == 1 + len(steps) and all(line.endswith(",0") for line in log[1:])
    # a second run finds every step finished: nothing is retrained, one more (short) attempt is counted
    mtimes = {s.name: (out / s.name / s.weights).stat().st_mtime_ns for s in steps}
    again = recipe.run_recipe(out, steps=steps)
    assert again >= total and len(list((out / "attempts").glob("*.txt"))) >= 1
    assert mtimes == {s.name: (out / s.name / s.weights).stat().st_mtime_ns for s in steps}
    weights = tmp_path / "weights"
    weights.mkdir()
    written = recipe.install(out, weights)
    assert {p.name for p in written} >= set(recipe.SHIPPED.values()) | {"recipe_log.csv", "split.json"}
    from facelandmarks.models.cascade import Cascade

    cascade = Cascade.from_files(weights / "level1_deep.pt", weights / "level2_k3.pt",
                                 level1_recrop=weights / "level1_recrop.pt")
    assert cascade.level2 is not None and cascade.level1_recrop is not None and cascade.recrop
    assert cascade.shape_correction is not None  # fitted by the recipe's level2_ft


def test_a_step_still_running_from_an_earlier_attempt_is_not_started_twice(tmp_path):
    """A live ``running.pid`` makes the recipe wait for that process instead of starting the step again."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    step = recipe.Step("only", ("level1", "--epochs", "1"), "level1.pt")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "running.pid").write_text(str(sleeper.pid))
    with pytest.raises(RuntimeError, match="step only failed"):  # it ended without writing its weights
        recipe.run_recipe(tmp_path, steps=(step,))
    assert sleeper.poll() is not None
    assert not (tmp_path / "only" / "stdout.txt").exists()  # never started by this run


def test_install_refuses_an_unfinished_recipe(tmp_path):
    with pytest.raises(FileNotFoundError, match="has not finished"):
        recipe.install(tmp_path, tmp_path)
