"""Shared fixtures.

The data root comes from ``$FACELANDMARKS_DATA`` (the folder holding ``300w/``); every test that
needs real faces asks for one of the fixtures below and is skipped, with the reason, when the
data is missing. In CI the data is present, so nothing is skipped there.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from facelandmarks import datasets


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data folder from ``$FACELANDMARKS_DATA`` (skips the test when it is unset or has no 300w/)."""
    env = os.environ.get(datasets.ENV_VAR)
    if not env or not (Path(env) / "300w").is_dir():
        pytest.skip(f"set {datasets.ENV_VAR} to the data folder (holding 300w/) to run the tests on real faces")
    return Path(env)


@pytest.fixture(scope="session")
def train_faces(data_root: Path) -> list[datasets.Face]:
    """The 2,012 training faces (AFW + HELEN train + LFPW train), on disk only."""
    return datasets.split_faces("train", data_root)


@pytest.fixture(scope="session")
def test_faces(data_root: Path) -> list[datasets.Face]:
    """The 400 test faces of the ``common`` split (LFPW test + HELEN test), on disk only."""
    return datasets.split_faces("common", data_root)


@pytest.fixture(scope="session")
def few_faces(train_faces: list[datasets.Face]) -> datasets.FaceSet:
    """Four training faces loaded in memory (two AFW, two HELEN), read once per session.

    Treat it as read-only: it is shared by every test that asks for it.
    """
    afw = [f for f in train_faces if f.subset == "afw"]
    helen = [f for f in train_faces if f.subset == "helen/trainset"]
    return datasets.FaceSet.load(afw[:2] + helen[:2], progress=False)
