"""CI's test command installs every optional extra, so that no test of an extra is skipped there.

Tests of an optional extra (``tests/test_onnx.py`` for ``[onnx]``, dlib's shape predictor for
``[dlib]``) skip themselves where the extra is missing, so that a plain ``pip install -e .`` can run
the rest. CI runs ``make test`` (``.ci/run``), whose venv is built by the Makefile: this checks that
the Makefile's install line names every extra of ``pyproject.toml``.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_test_installs_every_optional_extra():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # tomllib is Python >= 3.11 only
    section = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    extras = set(re.findall(r"^([a-z0-9_-]+) = \[", section, flags=re.M))
    assert {"dev", "dlib"} <= extras, extras  # the parse found the section
    assert "onnx" in extras  # ONNX export and the onnxruntime backend (docs/deploy.md)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installed = re.findall(r'pip install[^\n]*-e "\.\[([a-z,]+)\]"', makefile)
    assert installed, "the Makefile's venv target no longer installs the package with extras"
    missing = extras - set(installed[0].split(","))
    assert not missing, f"the Makefile (CI's `make test`) does not install the extras {sorted(missing)}"
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
