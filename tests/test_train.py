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


def test_upright_crops_turn_tilted_faces_upright(four_faces):
    """TrainConfig.upright: the crop of a face turned by 30 degrees is the crop of the upright face (the
    recrop pass's frame), where the plain crop keeps the tilt."""
    from facelandmarks.geometry import transform_points, warp_image
    from facelandmarks.models.level1 import DEEP
    from facelandmarks.train import _level1_boxes, level1_batch

    face = datasets.FaceSet(four_faces.names[:1], four_faces.images[:1], four_faces.points[:1], four_faces.scheme)
    h, w = face.images[0].shape[:2]
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    turn = np.array([[c, -s, w / 2 - c * w / 2 + s * h / 2], [s, c, h / 2 - s * w / 2 - c * h / 2], [0, 0, 1.0]])
    tilted = datasets.FaceSet(face.names, [warp_image(face.images[0], turn, (h, w))],
                              transform_points(face.points, turn[None]), face.scheme)
    reference = face.points[0] - face.points[0].mean(0)  # this face, upright as annotated
    cfg = TrainConfig(box_shift=0.0, box_scale=0.0, upright=True)

    def eye_angle(targets: torch.Tensor) -> float:
        left, right = targets[0, 36:42].numpy().mean(0), targets[0, 42:48].numpy().mean(0)
        return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))

    rng = np.random.default_rng(0)
    angles = {}
    for name, faces in (("upright", face), ("tilted", tilted)):
        boxes, turned = _level1_boxes(faces.points, cfg, reference, 68, rng)
        _, targets, _ = level1_batch(faces, np.arange(1), DEEP, boxes, rng, torch.Generator(), turn=turned)
        angles[name] = eye_angle(targets)
        plain_boxes, no_turn = _level1_boxes(faces.points, replace(cfg, upright=False), reference, 68, rng)
        assert no_turn is None
        _, plain, _ = level1_batch(faces, np.arange(1), DEEP, plain_boxes, rng, torch.Generator())
        angles[name + " plain"] = eye_angle(plain)
    assert abs(angles["tilted"] - angles["upright"]) < 0.5, angles  # the same upright crop
    assert abs(angles["tilted plain"] - angles["upright plain"]) > 25, angles  # without it, the tilt stays


def test_level2_with_a_second_pass_level1_records_it(four_faces, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=1, batch_size=2, seed=1)
    train_level1(TINY_L1, cfg, four_faces, four_faces, tmp_path / "l1", progress=False)
    train_level1(TINY_L1, replace(cfg, upright=True), four_faces, four_faces, tmp_path / "l1b", progress=False)
    assert read_model_file(tmp_path / "l1b" / "level1.pt")["train_config"]["upright"] is True
    with pytest.raises(ValueError, match="give level1 and recrop=True"):
        train_level2(TINY_L2, cfg, SimulatedErrors(), four_faces, four_faces, tmp_path / "x", progress=False,
                     level1=tmp_path / "l1" / "level1.pt", level1_recrop=tmp_path / "l1b" / "level1.pt")
    train_level2(TINY_L2, cfg, SimulatedErrors(), four_faces, four_faces, tmp_path / "l2", progress=False,
                 level1=tmp_path / "l1" / "level1.pt", recrop=True, level1_recrop=tmp_path / "l1b" / "level1.pt",
                 level1_variants=1)
    saved = read_model_file(tmp_path / "l2" / "level2.pt")
    assert saved["recrop"] is True and saved["level1_recrop"].endswith("level1.pt")
    from facelandmarks.models.cascade import Cascade

    with pytest.warns(UserWarning, match="second-pass level 1"):  # built without the network it was trained after
        Cascade.from_files(tmp_path / "l1" / "level1.pt", tmp_path / "l2" / "level2.pt")
    built = Cascade.from_files(tmp_path / "l1" / "level1.pt", tmp_path / "l2" / "level2.pt",
                               level1_recrop=tmp_path / "l1b" / "level1.pt")
    assert built.recrop and built.level1_recrop is not None
