"""Augmentations move image and points together; photometric jitter and occlusion touch pixels only."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from facelandmarks import augment, geometry, train
from facelandmarks.augment import NO_AUGMENT, AugmentConfig
from facelandmarks.models.level1 import DEEP, crop_matrices
from facelandmarks.schemes import IBUG68

PERM = np.asarray(IBUG68.flip_permutation)
# well separated landmarks inside the face: outer brow ends, outer eye corners, mouth corners (three
# mirror pairs) and the top and tip of the nose (on the midline)
DOTS = [17, 26, 36, 45, 48, 54, 27, 30]


def coloured_dots(points: np.ndarray, shape: tuple[int, int], sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Black image with a Gaussian dot of its own colour at each point; returns (image, colours (K, 3))."""
    h, w = shape
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [1, 0.5, 0]])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    image = np.zeros((h, w, 3))
    for (x, y), c in zip(points, colours):
        image += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))[..., None] * c
    return (255 * image).astype(np.float32), colours[: len(points)]


def recover(crop: np.ndarray, guess: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (x, y) of the brightness in a window around ``guess`` and the window's mean colour."""
    x0, y0 = int(round(guess[0])) - radius, int(round(guess[1])) - radius
    win = crop[y0:y0 + 2 * radius + 1, x0:x0 + 2 * radius + 1].astype(np.float64)  # (h, w, 3)
    weight = win.sum(axis=2)
    ys, xs = np.mgrid[y0:y0 + 2 * radius + 1, x0:x0 + 2 * radius + 1]
    centre = np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()
    colour = (win * weight[..., None]).sum(axis=(0, 1)) / weight.sum()
    return centre, colour / colour.max()


def test_random_crops_keep_points_on_their_features(few_faces):
    # Draw a dot of its own colour at 8 landmarks of a real face, take 12 randomly rotated / scaled /
    # shifted / flipped level-1 crops, move the points with the same matrices and reorder the flipped
    # ones. Every point must sit on a dot (to 0.25 crop px), and on the RIGHT dot: landmark k of a
    # flipped crop is the mirror image of landmark perm[k], so it wears perm[k]'s colour.
    pts = few_faces.points[0]
    image, colours = coloured_dots(pts[DOTS], (384, 384), sigma=3.0)
    b = 12
    boxes = np.tile(geometry.points_box(pts), (b, 1))
    config = AugmentConfig(rotation_deg=10.0, scale=0.05, shift=0.02, flip_prob=0.5)  # dots stay inside the crops
    mats, flipped = augment.random_crop_transforms(crop_matrices(boxes, DEEP), DEEP.input_size,
                                                   np.random.default_rng(3), config)
    assert mats.shape == (b, 3, 3) and flipped.dtype == bool and 0 < flipped.sum() < b
    np.testing.assert_array_equal(np.linalg.det(mats[:, :2, :2]) < 0, flipped)  # a flip is a reflection
    crops = geometry.warp_batch(image, mats, DEEP.input_size).permute(0, 2, 3, 1).numpy()  # (B, S, S, 3)
    moved = augment.flip_points(geometry.transform_points(np.broadcast_to(pts, (b, 68, 2)), mats), flipped, IBUG68)
    assert moved[:, DOTS].min() > 5 and moved[:, DOTS].max() < DEEP.input_size - 6
    for i in range(b):
        radius = math.ceil(4 * 3.0 * geometry.matrix_scale(mats[i]))
        for k in DOTS:
            centre, colour = recover(crops[i], moved[i, k], radius)
            np.testing.assert_allclose(centre, moved[i, k], atol=0.25, err_msg=f"crop {i}, point {k}")
            source = PERM[k] if flipped[i] else k
            np.testing.assert_allclose(colour, colours[DOTS.index(source)], atol=0.05,
                                       err_msg=f"crop {i} (flipped {flipped[i]}), point {k}")


def test_no_augment_leaves_the_crop_matrices_alone():
    mats = crop_matrices(np.array([[100.0, 120.0, 290.0, 300.0]] * 3), DEEP)
    out, flipped = augment.random_crop_transforms(mats, DEEP.input_size, np.random.default_rng(0), NO_AUGMENT)
    np.testing.assert_allclose(out, mats, atol=1e-12)
    assert not flipped.any()
    flip_all = replace(NO_AUGMENT, flip_prob=1.0)
    _, always = augment.random_crop_transforms(mats, DEEP.input_size, np.random.default_rng(0), flip_all)
    assert always.all()


def test_a_flipped_crop_is_the_mirror_image_of_the_plain_crop(few_faces):
    # x' = S - 1 - x inside the crop: the flipped crop is the plain crop read right to left, pixel for pixel
    image = few_faces.images[3]
    mats = crop_matrices(geometry.points_box(few_faces.points[3])[None], DEEP)
    flip_all = replace(NO_AUGMENT, flip_prob=1.0)
    flipped_mats, _ = augment.random_crop_transforms(mats, DEEP.input_size, np.random.default_rng(0), flip_all)
    plain = geometry.warp_batch(image, mats, DEEP.input_size)
    mirrored = geometry.warp_batch(image, flipped_mats, DEEP.input_size)
    assert torch.allclose(mirrored, plain.flip(-1), atol=1e-3)


def test_random_transforms_stay_within_two_standard_deviations():
    mats = np.tile(np.eye(3), (500, 1, 1))
    config = replace(NO_AUGMENT, rotation_deg=10.0, scale=0.1)
    out, _ = augment.random_crop_transforms(mats, 64, np.random.default_rng(1), config)
    angles = np.degrees(np.arctan2(out[:, 1, 0], out[:, 0, 0]))
    scales = geometry.matrix_scale(out)
    assert np.abs(angles).max() <= 20.0 + 1e-9 and np.abs(angles).max() > 15.0
    assert np.abs(np.log(scales)).max() <= 0.2 + 1e-9
    # rotation and scale are about the crop centre ((64 - 1) / 2, 31.5): it does not move
    np.testing.assert_allclose(geometry.transform_points(np.array([[31.5, 31.5]]), out[:5]), np.full((5, 1, 2), 31.5))


def test_flip_points_reorders_only_the_flipped_faces():
    pts = np.random.default_rng(0).uniform(0, 100, (3, 68, 2))
    out = augment.flip_points(pts, np.array([True, False, True]), IBUG68)
    np.testing.assert_array_equal(out[0], pts[0][PERM])
    np.testing.assert_array_equal(out[1], pts[1])
    np.testing.assert_array_equal(out[2], pts[2][PERM])
    assert out[0, 36].tolist() == pts[0, 45].tolist()  # the outer eye corners swap names
    assert not np.shares_memory(out, pts)


def photo_batch() -> torch.Tensor:
    return torch.rand(6, 3, 20, 24, generator=torch.Generator().manual_seed(0))


def test_photometric_keeps_shape_and_range():
    images = photo_batch()
    strong = AugmentConfig(brightness=0.9, contrast=0.9, saturation=0.9, gray_prob=0.5)
    out = augment.photometric(images, torch.Generator().manual_seed(1), strong)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not torch.allclose(out, images)
    again = augment.photometric(images, torch.Generator().manual_seed(1), strong)
    assert torch.equal(out, again)  # seeded by the generator only


def test_photometric_switched_off_is_the_identity_and_gray_is_gray():
    images = photo_batch()
    assert torch.allclose(augment.photometric(images, torch.Generator().manual_seed(0), NO_AUGMENT), images, atol=1e-6)
    gray = augment.photometric(images, torch.Generator().manual_seed(0), replace(NO_AUGMENT, gray_prob=1.0))
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])


def test_occlude_paints_one_rectangle_and_copies():
    images = photo_batch()
    before = images.clone()
    config = replace(NO_AUGMENT, occlusion_prob=1.0, occlusion_size=(0.3, 0.5))
    out = augment.occlude(images, torch.Generator().manual_seed(0), config)
    assert torch.equal(images, before)  # the input is not modified
    for i in range(len(out)):
        changed = (out[i] != images[i]).any(dim=0)  # (H, W)
        rows, cols = torch.nonzero(changed, as_tuple=True)
        area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert changed.sum() == area  # one filled rectangle
        assert 0.3 * 20 - 1 <= rows.max() - rows.min() + 1 <= 0.5 * 20
    assert torch.equal(augment.occlude(images, torch.Generator(), replace(config, occlusion_prob=0.0)), images)


def test_pixel_augmentations_leave_the_points_untouched(few_faces):
    # level-1 batches with the same geometric draws, with and without occlusion and colour jitter:
    # the crops differ, the targets are identical
    index = np.arange(len(few_faces))
    boxes = geometry.points_box(few_faces.points)
    pixels_only = replace(NO_AUGMENT, occlusion_prob=1.0, brightness=0.5, contrast=0.5)
    plain = train.level1_batch(few_faces, index, DEEP, boxes, np.random.default_rng(0),
                               torch.Generator().manual_seed(0))
    jittered = train.level1_batch(few_faces, index, DEEP, boxes, np.random.default_rng(0),
                                  torch.Generator().manual_seed(0), pixels_only)
    assert not torch.allclose(plain[0], jittered[0])
    assert torch.equal(plain[1], jittered[1])
    np.testing.assert_array_equal(plain[2], jittered[2])


@pytest.mark.parametrize("config", [NO_AUGMENT, AugmentConfig()])
def test_level1_batch_targets_are_the_moved_points(few_faces, config):
    index = np.array([2, 0])
    boxes = geometry.points_box(few_faces.points[index])
    crops, targets, mats = train.level1_batch(few_faces, index, DEEP, boxes, np.random.default_rng(5),
                                              torch.Generator().manual_seed(0), config)
    assert crops.shape == (2, 3, 128, 128) and 0.0 <= crops.min() and crops.max() <= 1.0
    flipped = np.linalg.det(mats[:, :2, :2]) < 0
    expected = augment.flip_points(geometry.transform_points(few_faces.points[index], mats), flipped, IBUG68)
    np.testing.assert_allclose(targets.numpy(), (expected + 0.5) / 128, atol=1e-6)  # unit crop coordinates
