"""Level 2's linear shape correction: the fit recovers a known offset and map, and the cascade applies it."""
from __future__ import annotations

import numpy as np
import pytest

from facelandmarks import datasets, load_pretrained
from facelandmarks.geometry import points_box, similarity_matrix, transform_points
from facelandmarks.models.shape_correction import ShapeCorrection, fit_shape_correction


def _faces(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random 5-point shapes in random image frames, and their rectify matrices."""
    rng = np.random.default_rng(seed)
    base = np.array([[30, 40], [66, 40], [48, 60], [36, 75], [60, 75]], dtype=np.float64)
    shapes = base + rng.normal(0, 2.0, (n, 5, 2))
    turns = np.stack([similarity_matrix(rng.uniform(1.5, 3.0), rng.uniform(-0.3, 0.3)) for _ in range(n)])
    turns[:, :2, 2] = rng.uniform(50, 300, (n, 2))
    return transform_points(shapes, turns), np.linalg.inv(turns)  # image points, image -> rectified


def test_the_fit_recovers_a_pixel_offset_in_the_rectified_frame():
    truth, rectify = _faces()
    offset = np.array([1.0, -0.5])  # what the predictions miss by, rectified frame
    rect_truth = transform_points(truth, rectify)
    predicted = transform_points(rect_truth - offset, np.linalg.inv(rectify))
    correction = fit_shape_correction(predicted, rectify, truth, ridge=100.0)
    np.testing.assert_allclose(correction.bias.reshape(-1, 2), np.tile(offset, (5, 1)), atol=1e-9)
    np.testing.assert_allclose(correction.apply(predicted, rectify), truth, atol=1e-6)
    again = ShapeCorrection.from_dict(correction.to_dict())
    np.testing.assert_allclose(again.apply(predicted, rectify), truth, atol=1e-6)


def test_the_fit_learns_a_shrinkage_towards_the_mean():
    """Predictions pulled 20% towards the mean shape are pushed back out (the linear part)."""
    truth, rectify = _faces(600)
    rect = transform_points(truth, rectify)
    mean = rect.mean(0)
    predicted = transform_points(mean + 0.8 * (rect - mean), np.linalg.inv(rectify))
    correction = fit_shape_correction(predicted, rectify, truth, ridge=1.0)
    before = np.abs(predicted - truth).mean()
    after = np.abs(correction.apply(predicted, rectify) - truth).mean()
    assert after < 0.05 * before, (before, after)


def test_bad_input_is_refused():
    truth, rectify = _faces(10)
    with pytest.raises(ValueError, match="ridge must be > 0"):
        fit_shape_correction(truth, rectify, truth, 0.0)
    with pytest.raises(ValueError, match="must match"):
        fit_shape_correction(truth[:5], rectify, truth, 1.0)
    correction = fit_shape_correction(truth, rectify, truth, 1.0)
    with pytest.raises(ValueError, match=r"points must be \(B, 5, 2\)"):
        correction.apply(truth[:, :4], rectify)
    with pytest.raises(ValueError, match="not a shape correction"):
        ShapeCorrection.from_dict({"mean": [0.0, 0.0]})
    with pytest.raises(ValueError, match="shapes do not fit"):
        ShapeCorrection.from_dict({"mean": [0.0, 0.0], "weight": [[1.0]], "bias": [0.0, 0.0], "ridge": 1, "faces": 1})


def test_the_shipped_cascade_applies_it_once_also_with_flip(data_root):
    faces = datasets.load_split("lfpw", data_root, limit=4, progress=False)
    cascade = load_pretrained()
    assert cascade.shape_correction is not None  # the shipped level 2 carries one
    boxes = points_box(faces.points)
    raw = cascade.predict_batch(faces.images, boxes, shape_correction=False)
    fixed = cascade.predict_batch(faces.images, boxes)
    np.testing.assert_allclose(fixed.points, cascade.shape_correction.apply(raw.level2_points, raw.rectify_matrix))
    np.testing.assert_allclose(fixed.level1_points, raw.level1_points)  # level 1 untouched
    # its mean move is about the +1 px (x) annotation offset the module describes
    assert 0.5 < (fixed.points - raw.points)[..., 0].mean() < 1.5
    flipped_raw = cascade.predict_batch(faces.images, boxes, flip=True, shape_correction=False)
    flipped = cascade.predict_batch(faces.images, boxes, flip=True)
    assert 0.5 < (flipped.points - flipped_raw.points)[..., 0].mean() < 1.5  # the mirrored pass does not undo it
