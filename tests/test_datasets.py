"""The data root, face folders, named splits, the train/validation split and box jitter."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facelandmarks import datasets


# --------------------------------------------------------------------------------------------
# the data root
# --------------------------------------------------------------------------------------------
def test_data_root_from_argument_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    assert datasets.data_root(tmp_path) == tmp_path
    assert datasets.data_root(str(tmp_path)) == tmp_path
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path))
    assert datasets.data_root() == tmp_path
    assert datasets.data_root(tmp_path / "..") == tmp_path / ".."  # the argument wins over the variable


def test_missing_data_root_says_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    with pytest.raises(datasets.DataNotFoundError, match="FACELANDMARKS_DATA is not set") as err:
        datasets.data_root()
    assert "data_scripts/fetch_300w.py" in str(err.value)
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(datasets.DataNotFoundError, match="nowhere \\(from \\$FACELANDMARKS_DATA\\) does not exist"):
        datasets.data_root()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(datasets.DataNotFoundError, match="a_file \\(from argument root\\) is not a folder.*fetch_300w"):
        datasets.data_root(tmp_path / "a_file")
    assert issubclass(datasets.DataNotFoundError, FileNotFoundError)


# --------------------------------------------------------------------------------------------
# folders and splits
# --------------------------------------------------------------------------------------------
def test_list_faces_pairs_images_with_pts(tmp_path):
    for name in ("b", "a", "lonely_image"):
        Image.new("RGB", (4, 4)).save(tmp_path / f"{name}.png")
    (tmp_path / "a.pts").write_text("1 1\n")
    (tmp_path / "b.pts").write_text("1 1\n")
    (tmp_path / "lonely_points.pts").write_text("1 1\n")
    (tmp_path / "notes.txt").write_text("")
    faces = datasets.list_faces(tmp_path, subset="mine")
    assert [f.name for f in faces] == ["a", "b"]  # sorted; unpaired files are left out
    assert faces[0] == datasets.Face("a", tmp_path / "a.png", tmp_path / "a.pts", "mine")


def test_list_faces_errors(tmp_path):
    with pytest.raises(datasets.DataNotFoundError, match="missing does not exist"):
        datasets.list_faces(tmp_path / "missing")
    with pytest.raises(datasets.DataNotFoundError, match="holds no image with a .pts file"):
        datasets.list_faces(tmp_path)


def test_split_counts(train_faces, test_faces):
    # train = all 337 AFW faces + 870 HELEN train + 805 LFPW train; common = 150 LFPW test + 250 HELEN test
    subsets = [f.subset for f in train_faces]
    assert len(train_faces) == 2012 == 337 + 870 + 805
    assert subsets.count("afw") == 337 and subsets.count("helen/trainset") == 870 and subsets.count("lfpw/trainset") == 805
    assert len(test_faces) == 400
    helen, lfpw = datasets.split_faces("helen"), datasets.split_faces("lfpw")
    assert len(helen) == 250 and {f.subset for f in helen} == {"helen/testset"}
    assert len(lfpw) == 150 and {f.subset for f in lfpw} == {"lfpw/testset"}
    assert test_faces == lfpw + helen == datasets.split_faces("common") == datasets.split_faces("test")
    assert not {f.image_path for f in train_faces} & {f.image_path for f in test_faces}
    assert all(f.image_path.is_file() and f.pts_path.is_file() for f in train_faces[:5] + test_faces[:5])
    with pytest.raises(KeyError, match="unknown split 'validation'"):
        datasets.split_faces("validation")


def test_train_val_split_is_deterministic_disjoint_and_never_touches_test(train_faces, test_faces):
    train, val = datasets.train_val_split(train_faces, 0.1, seed=0)
    again_train, again_val = datasets.train_val_split(train_faces, 0.1, seed=0)
    assert (train, val) == (again_train, again_val)
    assert len(val) == round(0.1 * 2012) == 201 and len(train) == 2012 - 201
    assert not set(train) & set(val)
    assert set(train) | set(val) == set(train_faces)
    assert not {f.image_path for f in train + val} & {f.image_path for f in test_faces}
    assert {f.subset for f in val} == {"afw", "helen/trainset", "lfpw/trainset"}  # a shuffle, not the first or last folder
    _, other_val = datasets.train_val_split(train_faces, 0.1, seed=1)
    assert set(other_val) != set(val)
    with pytest.raises(ValueError, match="val_fraction"):
        datasets.train_val_split(train_faces, 1.0)


def test_face_set_loads_images_and_points(few_faces):
    assert len(few_faces) == 4 and few_faces.points.shape == (4, 68, 2)
    assert all(img.shape == (384, 384, 3) and img.dtype == np.uint8 for img in few_faces.images)
    sub = few_faces.subset([3, 1])
    assert sub.names == [few_faces.names[3], few_faces.names[1]]
    np.testing.assert_array_equal(sub.points[0], few_faces.points[3])


def test_face_set_checks_the_number_of_points(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    (tmp_path / "x.pts").write_text("1 1\n2 2\n")
    with pytest.raises(ValueError, match="x.pts: 2 points, expected 68"):
        datasets.FaceSet.load(datasets.list_faces(tmp_path), progress=False)


# --------------------------------------------------------------------------------------------
# box jitter
# --------------------------------------------------------------------------------------------
def test_jitter_boxes_statistics():
    # box 100 wide, 200 high centred on (150, 200): centre moves by N(0, 0.05) x size -> std 5 px in x and
    # 10 px in y; the size is multiplied by exp(N(0, 0.05)), width and height alike (aspect ratio kept).
    n = 20000
    boxes = np.tile([100.0, 100.0, 200.0, 300.0], (n, 1))
    out = datasets.jitter_boxes(boxes, np.random.default_rng(0), shift=0.05, scale=0.05)
    assert out.shape == (n, 4)
    centre = (out[:, :2] + out[:, 2:]) / 2 - [150.0, 200.0]
    size = out[:, 2:] - out[:, :2]
    np.testing.assert_allclose(centre.mean(axis=0), [0.0, 0.0], atol=0.3)  # std of the mean: 5/141, 10/141
    np.testing.assert_allclose(centre.std(axis=0), [5.0, 10.0], rtol=0.04)
    log_scale = np.log(size[:, 0] / 100.0)
    assert abs(log_scale.mean()) < 0.002 and log_scale.std() == pytest.approx(0.05, rel=0.04)
    np.testing.assert_allclose(size[:, 1] / size[:, 0], 2.0)
    assert abs(np.corrcoef(centre[:, 0], log_scale)[0, 1]) < 0.05  # independent draws


def test_jitter_boxes_is_seeded_and_can_be_switched_off():
    boxes = np.array([[10.0, 20.0, 50.0, 80.0], [0.0, 0.0, 5.0, 5.0]])
    first = datasets.jitter_boxes(boxes, np.random.default_rng(3))
    np.testing.assert_array_equal(first, datasets.jitter_boxes(boxes, np.random.default_rng(3)))
    np.testing.assert_allclose(datasets.jitter_boxes(boxes, np.random.default_rng(3), 0.0, 0.0), boxes)
    assert datasets.jitter_boxes(boxes[0], np.random.default_rng(3)).shape == (1, 4)
