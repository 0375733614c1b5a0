"""Shared fixtures: the data root from $FACELANDMARKS_DATA (tests needing data skip without it)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root() -> Path:
    env = os.environ.get("FACELANDMARKS_DATA")
    if not env or not (Path(env) / "300w").is_dir():
        pytest.skip("set FACELANDMARKS_DATA to the data folder (holding 300w/) to run the tests on real faces")
    return Path(env)
