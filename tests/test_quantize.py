"""int8 trunks: close to the float cascade, saved and reloaded exactly, clear errors on wrong files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from facelandmarks import datasets, load_pretrained, metrics
from facelandmarks.geometry import points_box
from facelandmarks.models import quantize
from facelandmarks.models.pretrained import LEVEL1_RECROP_WEIGHTS, LEVEL1_WEIGHTS, LEVEL2_WEIGHTS, WEIGHTS_DIR


@pytest.fixture(scope="module")
def faces(data_root):
    return datasets.load_split("helen", data_root, limit=8, progress=False)


@pytest.fixture(scope="module")
def calibrated(few_faces):
    boxes = datasets.jitter_boxes(points_box(few_faces.points), np.random.default_rng(0))
    return quantize.quantize_trunks(load_pretrained(), quantize.calibrate_cascade(few_faces.images, boxes))


def test_int8_points_stay_close_to_float(calibrated, faces):
    boxes = points_box(faces.points)
    ref = load_pretrained(fuse=True).predict_batch(faces.images, boxes)
    q = calibrated.predict_batch(faces.images, boxes)
    assert isinstance(calibrated.level1.features, torch.fx.GraphModule)  # really quantized
    iod = metrics.normalising_distance(faces.points)
    gap = np.linalg.norm(q.points - ref.points, axis=-1).mean(axis=1) / iod
    assert gap.max() < 0.01, gap  # within 1% of the eye distance of the float model, face by face
    assert abs(np.mean(metrics.nme(q.points, faces.points)) - np.mean(metrics.nme(ref.points, faces.points))) < 0.003


def test_saved_trunks_reload_exactly(calibrated, faces, tmp_path):
    assert list(calibrated.levels()) == ["level1", "level2", "level1_recrop"]  # every network of the default
    for name, net in calibrated.levels().items():
        quantize.save_int8(net, tmp_path / f"{name}.int8.pt", name, "test")
    fresh = load_pretrained(fuse=True)
    for name, net in fresh.levels().items():
        quantize.load_int8(net, tmp_path / f"{name}.int8.pt")
    boxes = points_box(faces.points[:3])
    np.testing.assert_array_equal(fresh.predict_batch(faces.images[:3], boxes).points,
                                  calibrated.predict_batch(faces.images[:3], boxes).points)


def test_shipped_int8_files_load_and_agree(faces):
    for name in (LEVEL1_WEIGHTS["deep"], LEVEL2_WEIGHTS["k3"], LEVEL1_RECROP_WEIGHTS["deep"]):
        assert quantize.int8_path(WEIGHTS_DIR / name).is_file(), name
    q = load_pretrained(int8=True)
    boxes = points_box(faces.points)
    ref = load_pretrained(fuse=True).predict_batch(faces.images, boxes).points
    iod = metrics.normalising_distance(faces.points)
    assert (np.linalg.norm(q.predict_batch(faces.images, boxes).points - ref, axis=-1).mean(axis=1) / iod).max() < 0.01


def test_wrong_files_are_named(calibrated, tmp_path):
    quantize.save_int8(calibrated.level2, tmp_path / "l2.int8.pt", "l2", "test")
    fresh = load_pretrained(fuse=True)
    with pytest.raises(ValueError, match="l2.int8.pt"):
        quantize.load_int8(fresh.level1, tmp_path / "l2.int8.pt")  # a level-2 trunk offered to level 1
    (tmp_path / "junk.int8.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.int8.pt"):
        quantize.load_int8(fresh.level1, tmp_path / "junk.int8.pt")
    with pytest.raises(FileNotFoundError, match="missing.int8.pt"):
        quantize.load_int8(fresh.level1, tmp_path / "missing.int8.pt")
    with pytest.raises(ValueError, match="already quantized"):
        quantize.quantize_trunks(calibrated, lambda c: None)


def test_int8_trunk_is_tied_to_its_float_file(calibrated, tmp_path):
    float_a, float_b = tmp_path / "a.pt", tmp_path / "b.pt"
    float_a.write_bytes(b"weights, version a")
    float_b.write_bytes(b"weights, version b")
    quantize.save_int8(calibrated.level2, tmp_path / "a.int8.pt", float_a, "test")
    fresh = load_pretrained(fuse=True)
    quantize.load_int8(fresh.level2, tmp_path / "a.int8.pt", float_weights=float_a)  # its own file: fine
    with pytest.raises(ValueError, match="another version of .*b.pt"):
        quantize.load_int8(load_pretrained(fuse=True).level2, tmp_path / "a.int8.pt", float_weights=float_b)


def test_missing_x86_engine_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(quantize, "_engines", lambda: ["qnnpack", "none"])  # e.g. an ARM build
    with pytest.raises(RuntimeError, match="x86 quantized engine.*qnnpack.*fuse=True"):
        load_pretrained(int8=True)
