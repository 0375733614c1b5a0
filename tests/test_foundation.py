"""Foundation on the real faces: every .pts parses inside its image, frames round-trip, flips undo,
metrics match values worked out by hand, schemes are consistent, splits have the right counts."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facelandmarks import augment, datasets, detect, geometry, io, metrics
from facelandmarks.schemes import FIVE_POINT, IBUG68, IBUG68_INNER, LandmarkScheme


def test_every_shared_pts_has_68_points_inside_its_image(data_root):
    files = sorted((data_root / "300w").rglob("*.pts")) + sorted((data_root / "samples").glob("*.pts"))
    assert len(files) == 1457 + 3
    for pts_file in files:
        image_file = next(p for p in pts_file.parent.glob(pts_file.stem + ".*") if p.suffix != ".pts")
        points = io.read_pts(pts_file, n_points=68)
        with Image.open(image_file) as img:  # size only, no decoding
            w, h = img.size
        assert (points >= -0.5).all() and (points[:, 0] <= w - 0.5).all() and (points[:, 1] <= h - 0.5).all(), pts_file


def test_split_counts_and_validation_split(data_root):
    train, test = datasets.split_faces("train", data_root), datasets.split_faces("test", data_root)
    assert len(train) == 1207 and sum(f.subset == "afw" for f in train) == 337 and len(test) == 250
    a, b = datasets.train_val_split(train, 0.1, seed=0)
    a2, b2 = datasets.train_val_split(train, 0.1, seed=0)
    assert a == a2 and b == b2 and len(b) == 121 and not {f.name for f in a} & {f.name for f in b}
    assert not {f.image_path for f in b} & {f.image_path for f in test}


def test_crop_points_uncrop_round_trip_on_real_faces(data_root):
    faces = datasets.load_split("test", data_root, limit=5, progress=False)
    for image, points in zip(faces.images, faces.points):
        box = geometry.square_box(geometry.points_box(points), 1.3)
        crop, m = geometry.crop_box(image, box, 128)
        back = geometry.transform_points(geometry.transform_points(points, m), np.linalg.inv(m))
        np.testing.assert_allclose(back, points, atol=1e-6)
        assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8


def test_flip_twice_is_identity_on_a_real_face(data_root):
    faces = datasets.load_split("test", data_root, limit=1, progress=False)
    image, points = faces.images[0], faces.points[0]
    f = geometry.hflip_matrix(image.shape[1])
    once_img = geometry.warp_image(image, f, image.shape[:2], antialias=False)
    np.testing.assert_array_equal(once_img, image[:, ::-1])  # the matrix flip is the exact mirror
    once = augment.flip_points(geometry.transform_points(points[None], f), np.array([True]), IBUG68)[0]
    twice = augment.flip_points(geometry.transform_points(once[None], f), np.array([True]), IBUG68)[0]
    np.testing.assert_allclose(twice, points, atol=1e-12)
    # after one flip the "right eye" (points 37-42) is on the image's other side, where the left eye was
    assert once[36:42, 0].mean() == pytest.approx(image.shape[1] - 1 - points[42:48, 0].mean())


def test_scheme_facts():
    perm = np.array(IBUG68.flip_permutation)
    assert (perm[perm] == np.arange(68)).all()
    assert perm[36] == 45 and perm[0] == 16 and perm[30] == 30 and perm[48] == 54
    for left, right in (("left_eye", "right_eye"), ("left_brow", "right_brow")):
        assert sorted(perm[list(IBUG68.groups[left])]) == sorted(IBUG68.groups[right])
    assert list(IBUG68.subset("inner")) == list(range(17, 68)) and IBUG68_INNER.n_points == 51
    with pytest.raises(ValueError, match="permutation"):
        LandmarkScheme("bad", 3, {}, (0, 0, 1), {}, ())


def test_a_new_scheme_works_through_the_metrics():
    gt = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [2.0, 8.0], [8.0, 8.0]])
    pred = gt + [0.0, 1.0]  # every point 1 px off; the eye centres are 10 px apart
    assert metrics.nme(pred, gt, "inter_pupil", scheme=FIVE_POINT) == pytest.approx(0.1)


def test_nme_by_hand():
    gt = np.zeros((68, 2))
    gt[:, 0] = np.arange(68) * 0.1  # points on a line: the box is 6.7 x 0
    gt[36] = [0.0, 0.0]
    gt[45] = [30.0, 40.0]  # outer eye corners 50 px apart
    pred = gt.copy()
    pred[0] += [3.0, 4.0]  # one point 5 px off -> mean error 5 / 68
    assert metrics.nme(pred, gt) == pytest.approx(5 / 68 / 50)
    assert metrics.nme(pred, gt, points="inner") == pytest.approx(0.0)  # point 1 is on the jaw
    batch = metrics.nme(np.stack([pred, gt]), np.stack([gt, gt]))
    np.testing.assert_allclose(batch, [5 / 68 / 50, 0.0])
    box = geometry.points_box(gt)
    w, h = box[2] - box[0], box[3] - box[1]
    assert metrics.nme(pred, gt, "bbox") == pytest.approx(5 / 68 / np.sqrt(w * h))
    assert metrics.nme(pred, gt, "bbox_diagonal") == pytest.approx(5 / 68 / np.hypot(w, h))
    with pytest.raises(ValueError, match="same shape"):
        metrics.nme(pred[:67], gt)
    with pytest.raises(ValueError, match="unknown normaliser"):
        metrics.nme(pred, gt, "ears")


def test_ced_auc_failure_by_hand():
    errors = np.array([0.0, 0.04, 1.0])
    np.testing.assert_allclose(metrics.ced(errors, [0.0, 0.04, 0.08]), [1 / 3, 2 / 3, 2 / 3])
    # CED = 1/3 on [0, 0.04) and 2/3 on [0.04, 0.08]: area / 0.08 = (1/3 + 2/3) / 2 = 0.5
    assert metrics.auc(errors, 0.08) == pytest.approx(0.5, abs=1e-3)
    assert metrics.auc(np.zeros(5)) == pytest.approx(1.0)
    assert metrics.auc(np.full(5, 0.5)) == 0.0
    assert metrics.failure_rate(errors) == pytest.approx(1 / 3)


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(-20, 20, (10, 2))
    m = geometry.similarity_matrix(1.3, -0.6, 4.0, 9.0)
    np.testing.assert_allclose(geometry.fit_similarity(src, geometry.transform_points(src, m)), m, atol=1e-10)
    batch = geometry.fit_similarity(src, np.stack([geometry.transform_points(src, m)] * 3))
    assert batch.shape == (3, 3, 3)
    with pytest.raises(ValueError, match="one place"):
        geometry.fit_similarity(np.zeros((4, 2)), src[:4])


def test_detector_finds_the_astronaut_and_maps_boxes():
    import skimage.data

    box = detect.find_face(skimage.data.astronaut(), name="astronaut")
    assert 150 < box[0] < 200 and 60 < box[1] < 130 and 230 < box[2] < 290  # her face
    with pytest.raises(detect.NoFaceError, match="blank.png: no face found"):
        detect.find_face(np.zeros((200, 200, 3), np.uint8), name="blank.png")
    np.testing.assert_array_equal(detect.to_landmark_box(np.array([1.0, 2, 3, 4]), "landmarks"), [1, 2, 3, 4])
    m = detect.BOX_MAPPINGS["dlib_hog"]
    mapped = detect.to_landmark_box(np.array([0.0, 0.0, 100.0, 100.0]), "dlib_hog")
    np.testing.assert_allclose(mapped[2] - mapped[0], 100 * m.sw)
    np.testing.assert_allclose((mapped[1] + mapped[3]) / 2, 50 + 100 * m.dy)
    with pytest.raises(ValueError, match="unknown box kind"):
        detect.to_landmark_box(np.zeros(4), "nope")
