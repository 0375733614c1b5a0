"""Boxes, similarity fits, 3x3 frame matrices, and warps that move pixels and points together."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facelandmarks import augment, geometry, io
from facelandmarks.schemes import IBUG68

RNG = np.random.default_rng(7)
SHAPE = RNG.uniform(0, 100, (12, 2))


# --------------------------------------------------------------------------------------------
# points and boxes
# --------------------------------------------------------------------------------------------
def test_as_points_checks_shape_count_and_values():
    assert geometry.as_points([[1, 2]]).dtype == np.float64
    assert geometry.as_points(np.zeros((2, 5, 2)), n_points=5).shape == (2, 5, 2)
    with pytest.raises(ValueError, match="gt must have shape \\(N, 2\\) or \\(B, N, 2\\).*\\(5, 3\\)"):
        geometry.as_points(np.zeros((5, 3)), "gt")
    with pytest.raises(ValueError, match="must have shape"):
        geometry.as_points(np.zeros(4))
    with pytest.raises(ValueError, match="must hold 68 points, got 5"):
        geometry.as_points(np.zeros((5, 2)), n_points=68)
    with pytest.raises(ValueError, match="NaN or inf"):
        geometry.as_points([[0.0, np.inf]])


def test_points_box_and_square_box_by_hand():
    pts = np.array([[1.0, 2.0], [3.0, 7.0], [2.0, 4.0]])
    np.testing.assert_array_equal(geometry.points_box(pts), [1, 2, 3, 7])
    np.testing.assert_array_equal(geometry.points_box(np.stack([pts, pts + 1])), [[1, 2, 3, 7], [2, 3, 4, 8]])
    np.testing.assert_array_equal(geometry.box_size([1, 2, 3, 7]), [2, 5])
    # box 2 x 5 centred on (2, 4.5): square side 5, scaled by 2 -> side 10
    np.testing.assert_allclose(geometry.square_box([1, 2, 3, 7], scale=2.0), [-3, -0.5, 7, 9.5])
    # offset (0.1, 0) x side 5 moves the centre by 0.5 px to the right
    np.testing.assert_allclose(geometry.square_box([1, 2, 3, 7], offset=(0.1, 0.0)), [0, 2, 5, 7])


def test_check_box():
    out = geometry.check_box((10, 20, 50, 60), (100, 100, 3))
    assert out.dtype == np.float64 and out.shape == (4,)
    with pytest.raises(ValueError, match="face box must be 4 finite numbers"):
        geometry.check_box((1, 2, 3), name="face box")
    with pytest.raises(ValueError, match="4 finite numbers"):
        geometry.check_box((1, 2, np.nan, 4))
    with pytest.raises(ValueError, match="degenerate"):
        geometry.check_box((10, 10, 10.5, 40))
    with pytest.raises(ValueError, match="degenerate"):
        geometry.check_box((10, 40, 20, 30))  # y1 < y0
    with pytest.raises(ValueError, match="lies outside the 100x80 image"):
        geometry.check_box((120, 10, 150, 40), (80, 100, 3))
    with pytest.raises(ValueError, match="lies outside"):
        geometry.crop_box(np.zeros((80, 100, 3), np.uint8), (-50, -50, -0.5, -0.5), 16)


# --------------------------------------------------------------------------------------------
# matrices
# --------------------------------------------------------------------------------------------
def test_similarity_matrix_by_hand():
    # scale 2, a quarter turn: (1, 0) -> (0, 2), then + (3, -1) -> (3, 1)
    m = geometry.similarity_matrix(2.0, math.pi / 2, 3.0, -1.0)
    np.testing.assert_allclose(geometry.transform_points([[1.0, 0.0]], m), [[3.0, 1.0]], atol=1e-12)
    assert geometry.matrix_scale(m) == pytest.approx(2.0)
    np.testing.assert_allclose(geometry.transform_points([[0.0, 0.0], [9.0, 5.0]], geometry.hflip_matrix(10)),
                               [[9.0, 0.0], [0.0, 5.0]])  # x' = W - 1 - x


def test_fit_similarity_recovers_a_known_matrix():
    m = geometry.similarity_matrix(1.7, -0.4, 12.0, -30.0)
    np.testing.assert_allclose(geometry.fit_similarity(SHAPE, geometry.transform_points(SHAPE, m)), m, atol=1e-10)
    # noise on the targets only moves the fit a little; weights of zero ignore wild points
    dst = geometry.transform_points(SHAPE, m)
    dst[:3] += 500.0
    weights = np.r_[np.zeros(3), np.ones(9)]
    np.testing.assert_allclose(geometry.fit_similarity(SHAPE, dst, weights), m, atol=1e-10)


def test_fit_similarity_batched_shapes():
    mats = np.stack([geometry.similarity_matrix(s, a, tx, 0.0) for s, a, tx in [(1, 0, 0), (2, 1, 5), (0.5, -2, -9)]])
    dst = geometry.transform_points(np.broadcast_to(SHAPE, (3, 12, 2)), mats)
    assert dst.shape == (3, 12, 2)
    fitted = geometry.fit_similarity(SHAPE, dst)  # (N, 2) source with (B, N, 2) targets
    assert fitted.shape == (3, 3, 3)
    np.testing.assert_allclose(fitted, mats, atol=1e-10)
    back = geometry.fit_similarity(dst, SHAPE)  # and the other way round: the inverses
    np.testing.assert_allclose(back, np.linalg.inv(mats), atol=1e-10)


def test_fit_similarity_never_reflects():
    mirrored = SHAPE * [-1.0, 1.0]
    m = geometry.fit_similarity(SHAPE, mirrored)
    assert np.linalg.det(m[:2, :2]) > 0


def test_fit_similarity_rejects_degenerate_input():
    with pytest.raises(ValueError, match="all at one place"):
        geometry.fit_similarity(np.ones((5, 2)), SHAPE[:5])
    with pytest.raises(ValueError, match="at least 2 points"):
        geometry.fit_similarity(SHAPE[:1], SHAPE[:1])
    with pytest.raises(ValueError, match="dst must have shape"):
        geometry.fit_similarity(SHAPE, SHAPE[:, :1])
    with pytest.raises(ValueError):
        geometry.fit_similarity(SHAPE, SHAPE[:5])  # 12 and 5 points do not pair up


def test_transform_points_batched_equals_one_by_one():
    mats = np.stack([geometry.similarity_matrix(1 + i, 0.3 * i, i, -i) for i in range(4)])
    pts = RNG.uniform(0, 50, (4, 9, 2))
    out = geometry.transform_points(pts, mats)
    for i in range(4):
        np.testing.assert_allclose(out[i], geometry.transform_points(pts[i], mats[i]))
    with pytest.raises(ValueError, match="matrix must be"):
        geometry.transform_points(pts, np.eye(2))


def test_box_to_crop_matrix_maps_box_edges_to_crop_edges():
    # box extent [10, 74] x [20, 52] onto a 16 x 16 crop spanning [-0.5, 15.5]
    m = geometry.box_to_crop_matrix(np.array([10.0, 20.0, 74.0, 52.0]), 16)
    np.testing.assert_allclose(geometry.transform_points([[10.0, 20.0], [74.0, 52.0]], m), [[-0.5, -0.5], [15.5, 15.5]])
    boxes = np.array([[10.0, 20.0, 74.0, 52.0], [0.0, 0.0, 8.0, 8.0]])
    batched = geometry.box_to_crop_matrix(boxes, 16)
    assert batched.shape == (2, 3, 3)
    np.testing.assert_allclose(batched[1], geometry.box_to_crop_matrix(boxes[1], 16))


def test_crop_points_uncrop_round_trip_on_real_faces(train_faces):
    shapes = np.stack([io.read_pts(f.pts_path, 68) for f in train_faces[::40]])  # (31, 68, 2)
    boxes = geometry.square_box(geometry.points_box(shapes), 1.3)
    to_crop = geometry.box_to_crop_matrix(boxes, 128)
    in_crop = geometry.transform_points(shapes, to_crop)
    assert in_crop.min() > -0.5 and in_crop.max() < 127.5  # a 1.3x box holds the whole face
    back = geometry.transform_points(in_crop, np.linalg.inv(to_crop))
    np.testing.assert_allclose(back, shapes, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------
# warps
# --------------------------------------------------------------------------------------------
def dots_image(points: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """Black float image (H, W, 3) with a Gaussian dot of peak 1 at every point (x, y)."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w))
    for x, y in points:
        img += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
    return np.repeat(img[..., None], 3, axis=2).astype(np.float32)


def dot_centres(image: np.ndarray, guesses: np.ndarray, radius: int) -> np.ndarray:
    """Intensity centroid of ``image[..., 0]`` in a window of ``radius`` around each guess -> (K, 2)."""
    out = []
    for gx, gy in guesses:
        x0, y0 = int(round(gx)) - radius, int(round(gy)) - radius
        win = image[y0:y0 + 2 * radius + 1, x0:x0 + 2 * radius + 1, 0].astype(np.float64)
        ys, xs = np.mgrid[y0:y0 + 2 * radius + 1, x0:x0 + 2 * radius + 1]
        out.append([(win * xs).sum() / win.sum(), (win * ys).sum() / win.sum()])
    return np.array(out)


# landmarks far apart on a face: jaw ends, chin, nose tip, outer eye corners, mouth corners
SPREAD = [0, 16, 8, 30, 36, 45, 48, 54]


@pytest.mark.parametrize("scale", [1.3, 0.45])  # 0.45 < 0.7 goes through the antialiasing pre-scale
def test_warp_moves_dots_exactly_where_transform_points_says(few_faces, scale):
    # Draw dots at real landmarks (sub-pixel positions), warp the image by a rotation + scale about the
    # face centre, and find the dots again: their centroids must sit on transform_points(points, M)
    # to a small fraction of a pixel. A half-pixel convention slip would show up as ~0.5 px.
    pts = few_faces.points[0][SPREAD]
    image = dots_image(pts, (384, 384), sigma=3.0)
    centre = geometry.points_box(pts).reshape(2, 2).mean(axis=0)
    out = 480
    m = (geometry.translation_matrix(out / 2, out / 2) @ geometry.similarity_matrix(scale, math.radians(25))
         @ geometry.translation_matrix(*-centre))
    warped = geometry.warp_image(image, m, out)
    assert warped.shape == (out, out, 3) and warped.dtype == np.float32
    expected = geometry.transform_points(pts, m)
    found = dot_centres(warped, expected, radius=math.ceil(4 * 3.0 * scale))
    np.testing.assert_allclose(found, expected, rtol=0, atol=0.1)


def test_warp_of_a_real_face_keeps_features_under_the_points(few_faces):
    # Rotate a real face by 30 degrees about its centre. Around each eye corner, the nose tip and the
    # mouth corners, a 15 x 15 grey patch of the original is searched for (normalised correlation) in
    # the rotated image, read back through the inverse matrix, over shifts of up to 4 px: the best
    # match must be at the point itself (within 1 px), and it must be a clear match (> 0.9).
    image, pts = few_faces.images[1], few_faces.points[1]
    centre = geometry.points_box(pts).reshape(2, 2).mean(axis=0)
    m = (geometry.translation_matrix(*centre) @ geometry.similarity_matrix(1.0, math.radians(30))
         @ geometry.translation_matrix(*-centre))
    rotated = geometry.warp_image(image, m, image.shape[:2])
    assert np.linalg.norm(geometry.transform_points(pts, m)[36] - pts[36]) > 10  # the points really moved

    def grey_patch(img, at, side, through=np.eye(3)):
        half = (side - 1) / 2
        to_patch = geometry.translation_matrix(half - at[0], half - at[1]) @ through  # side x side around ``at``
        return geometry.warp_image(img, to_patch, side).astype(np.float64).mean(axis=2)

    def ncc(a, b):
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    back = np.linalg.inv(m)
    for k in (36, 39, 42, 45, 30, 48, 54):
        template = grey_patch(image, pts[k], 15)
        search = grey_patch(rotated, pts[k], 23, back)  # the rotated image, seen in the original frame
        scores = np.array([[ncc(template, search[dy:dy + 15, dx:dx + 15]) for dx in range(9)] for dy in range(9)])
        dy, dx = np.unravel_index(scores.argmax(), scores.shape)
        assert max(abs(dx - 4), abs(dy - 4)) <= 1 and scores.max() > 0.9, (k, dx - 4, dy - 4, scores.max())


def test_flip_twice_is_the_identity_on_image_and_points(few_faces):
    image, pts = few_faces.images[2], few_faces.points[2]
    h, w = image.shape[:2]
    flip = geometry.hflip_matrix(w)
    once = geometry.warp_image(image, flip, (h, w))
    np.testing.assert_array_equal(once, image[:, ::-1])  # pixel centres land on pixel centres
    np.testing.assert_array_equal(geometry.warp_image(once, flip, (h, w)), image)
    flipped = augment.flip_points(geometry.transform_points(pts[None], flip), np.array([True]), IBUG68)
    twice = augment.flip_points(geometry.transform_points(flipped, flip), np.array([True]), IBUG68)
    np.testing.assert_allclose(twice[0], pts, rtol=0, atol=1e-12)
    # after one flip the face is a face again: the subject's right eye is on the image left
    right, left = IBUG68.groups["right_eye"], IBUG68.groups["left_eye"]
    assert flipped[0, list(right), 0].mean() < flipped[0, list(left), 0].mean()
    # and its outer right eye corner is the mirror image of the original outer left corner
    np.testing.assert_allclose(flipped[0, 36], [w - 1 - pts[45, 0], pts[45, 1]])


def test_warp_batch_shapes_and_dtypes():
    image = np.full((40, 60, 3), 200, np.uint8)
    mats = np.stack([geometry.translation_matrix(-i, 0.0) for i in range(5)])
    out = geometry.warp_batch(image, mats, (20, 30))
    assert isinstance(out, torch.Tensor) and out.shape == (5, 3, 20, 30) and out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor(200.0))  # the value range of the source is kept
    # outside the source is black: shifting right by 50 px leaves the left 50 columns empty
    far = geometry.warp_batch(image, geometry.translation_matrix(50.0, 0.0)[None], (40, 60))
    assert far[0, :, :, :49].abs().max() == 0 and far[0, :, :, 51:].min() == pytest.approx(200.0)
    assert geometry.warp_batch(torch.zeros(10, 10, 3), np.eye(3)[None], 4).shape == (1, 3, 4, 4)
    assert geometry.warp_image(image, np.eye(3), 8).dtype == np.uint8
    assert geometry.warp_image(image.astype(np.float32), np.eye(3), 8).dtype == np.float32
    with pytest.raises(ValueError, match="image must be"):
        geometry.warp_batch(np.zeros((4, 4)), np.eye(3)[None], 4)


def test_crop_box_cuts_the_box(few_faces):
    image = few_faces.images[0]
    # the box is an extent: pixel 100 covers [99.5, 100.5], so [99.5, 163.5] holds pixels 100..163
    crop, m = geometry.crop_box(image, (99.5, 49.5, 163.5, 113.5), 64)  # one crop pixel per image pixel
    np.testing.assert_array_equal(crop, image[50:114, 100:164])
    np.testing.assert_allclose(m, geometry.translation_matrix(-100.0, -50.0))


def test_procrustes_mean_ignores_position_rotation_and_scale():
    mats = np.stack([geometry.similarity_matrix(s, a, tx, ty) for s, a, tx, ty in
                     [(1, 0, 0, 0), (3, 1.0, 50, 9), (0.2, -2.5, -4, 7)]])
    shapes = geometry.transform_points(np.broadcast_to(SHAPE, (3, 12, 2)), mats)
    mean = geometry.procrustes_mean(shapes)
    np.testing.assert_allclose(mean.mean(axis=0), 0.0, atol=1e-12)
    assert np.sqrt((mean ** 2).sum(axis=1).mean()) == pytest.approx(1.0)
    fitted = geometry.transform_points(SHAPE, geometry.fit_similarity(SHAPE, mean))
    np.testing.assert_allclose(fitted, mean, atol=1e-10)  # the mean is the shape itself, up to a similarity
    with pytest.raises(ValueError, match="needs \\(B, N, 2\\)"):
        geometry.procrustes_mean(SHAPE)
