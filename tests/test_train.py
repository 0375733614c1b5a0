"""Training: a tiny model overfits a few faces; resume gives the same weights; logs and files."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from facelandmarks import datasets
from facelandmarks.augment import NO_AUGMENT
from facelandmarks.models.level1 import Level1Config
from facelandmarks.models.files import atomic_save, read_model_file
from facelandmarks.models.level2 import Level2Config
from facelandmarks.train import (CheckpointMismatchError, SimulatedErrors, TrainConfig, load_model, read_log,
                                 train_level1, train_level2)

TINY_L1 = Level1Config(input_size=32, blocks=((8,), (16,), (16,)), padding=1, fc=64)
TINY_L2 = Level2Config(blocks=((8,), (8,), (16,)), padding=(1, 1, 1), fc=32, face_size=48)


@pytest.fixture(scope="module")
def four_faces(data_root):
    return datasets.load_split("train", data_root, limit=4, progress=False)


def test_tiny_level1_overfits_four_faces(four_faces, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=150, batch_size=4, lr=3e-3, warmup_epochs=5, box_shift=0.0, box_scale=0.0,
                      augment=NO_AUGMENT, weight_decay=0.0)
    _, log = train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path, progress=False)
    assert log[0]["val_nme"] > 0.08  # starts from the mean shape
    assert log[-1]["val_nme"] < 0.5 * log[0]["val_nme"]  # and learns these four faces
    assert log[-1]["train_loss"] < 0.3 * log[0]["train_loss"]
    assert [row["epoch"] for row in read_log(tmp_path / "level1_log.csv")] == list(range(1, 151))
    model, saved = load_model(tmp_path / "level1.pt", "level1")
    assert model.config == TINY_L1 and saved["train_config"]["epochs"] == 150


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


class Interrupted(Exception):
    pass


def _stop_after(epoch: int):
    def on_epoch(row: dict) -> None:
        if row["epoch"] == epoch:
            raise Interrupted  # like Ctrl-C or a killed process, right after a checkpoint
    return on_epoch


def test_level1_resume_gives_the_same_weights(four_faces, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=3, batch_size=2, seed=3)
    straight, _ = train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path / "a", progress=False)
    with pytest.raises(Interrupted):  # interrupted after epoch 2 ...
        train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path / "b", progress=False, on_epoch=_stop_after(2))
    assert not (tmp_path / "b" / "level1.pt").exists()
    resumed, log = train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path / "b", progress=False)
    assert [row["epoch"] for row in log] == [1, 2, 3]
    for a, b in zip(_weights(straight), _weights(resumed)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # bitwise (docs/training.md)


def test_resume_refuses_another_config(four_faces, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=4)
    train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path, progress=False)
    with pytest.raises(CheckpointMismatchError, match="another config"):
        train_level1(replace(TINY_L1, fc=32), cfg, four_faces, four_faces, tmp_path, progress=False)


def test_resume_takes_other_runtime_options_and_checkpoints_from_before_precision_and_workers(four_faces, tmp_path):
    """A resume may change device/workers/threads; a checkpoint written before ``precision`` and
    ``workers`` existed (the recipe's runs of 2026-12-01) resumes as fp32, and refuses bf16."""
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=2, batch_size=2, seed=3)
    with pytest.raises(Interrupted):
        train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path, progress=False, on_epoch=_stop_after(1))
    last = tmp_path / "level1_last.pt"
    ck = read_model_file(last)
    del ck["train_config"]["precision"], ck["train_config"]["workers"]
    atomic_save(ck, last)
    with pytest.raises(CheckpointMismatchError, match="another train_config"):
        train_level1(TINY_L1, replace(cfg, precision="bf16"), four_faces, four_faces, tmp_path, progress=False)
    _, log = train_level1(TINY_L1, replace(cfg, workers=1, threads=1), four_faces, four_faces, tmp_path, progress=False)
    assert [row["epoch"] for row in log] == [1, 2]


def test_level2_learns_and_resumes(four_faces, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=2, batch_size=2, seed=1)
    sim = SimulatedErrors()
    straight, log = train_level2(TINY_L2, cfg, sim, four_faces, four_faces, tmp_path / "a", progress=False)
    assert {"val_start_nme", "val_nme", "train_loss"} <= set(log[0])
    with pytest.raises(Interrupted):
        train_level2(TINY_L2, cfg, sim, four_faces, four_faces, tmp_path / "b", progress=False, on_epoch=_stop_after(1))
    resumed, _ = train_level2(TINY_L2, cfg, sim, four_faces, four_faces, tmp_path / "b", progress=False)
    for a, b in zip(_weights(straight), _weights(resumed)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    model, _ = load_model(tmp_path / "a" / "level2.pt", "level2")
    np.testing.assert_allclose(model.canonical.numpy(), straight.canonical.numpy())
