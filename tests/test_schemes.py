"""Landmark schemes are data: flip permutation, groups, normalisers, subsets, and a new scheme
working through the metrics without code changes."""
from __future__ import annotations

import numpy as np
import pytest

from facelandmarks import geometry, io, metrics
from facelandmarks.schemes import FIVE_POINT, IBUG68, IBUG68_INNER, SCHEMES, LandmarkScheme, get_scheme

PERM = np.asarray(IBUG68.flip_permutation)


def test_flip_permutation_is_an_involution():
    assert sorted(PERM.tolist()) == list(range(68))
    np.testing.assert_array_equal(PERM[PERM], np.arange(68))


@pytest.mark.parametrize("side", ["brow", "eye"])
def test_flip_maps_each_left_group_onto_its_right_group(side):
    left, right = IBUG68.groups[f"left_{side}"], IBUG68.groups[f"right_{side}"]
    assert sorted(PERM[list(left)].tolist()) == sorted(right)
    assert sorted(PERM[list(right)].tolist()) == sorted(left)


@pytest.mark.parametrize("group", ["jaw", "nose", "mouth"])
def test_flip_keeps_the_midline_groups(group):
    idx = IBUG68.groups[group]
    assert sorted(PERM[list(idx)].tolist()) == sorted(idx)


def test_flip_pairs_from_the_literature():
    # 1-based pairs of the 300-W markup, written out by hand: jaw ends 1<->17, outer brow ends 18<->27,
    # outer eye corners 37<->46, inner eye corners 40<->43, mouth corners 49<->55, inner-mouth corners
    # 61<->65; on the midline: chin 9, nose tip 31, lip centres 52, 58, 63, 67.
    pairs = [(1, 17), (18, 27), (37, 46), (40, 43), (49, 55), (61, 65), (32, 36), (42, 47)]
    for a, b in pairs:
        assert PERM[a - 1] == b - 1 and PERM[b - 1] == a - 1, (a, b)
    for a in (9, 28, 31, 34, 52, 58, 63, 67):
        assert PERM[a - 1] == a - 1, a


def test_groups_partition_the_points_and_edges_stay_in_their_group():
    every = sorted(i for idx in IBUG68.groups.values() for i in idx)
    assert every == list(range(68))
    group = IBUG68.point_group()
    for a, b in IBUG68.edges:
        assert a != b and group[a] == group[b], (a, b)
    assert len(set(IBUG68.point_colors())) >= 5


def test_normaliser_pairs():
    # inter_ocular: outer eye corners, 1-based 37 and 46; inter_pupil: the two eye centres.
    assert IBUG68.normalisers["inter_ocular"] == ((36,), (45,))
    assert IBUG68.normalisers["inter_pupil"] == (tuple(range(36, 42)), tuple(range(42, 48)))
    for a, b in IBUG68.normalisers.values():  # each normaliser is mirror symmetric
        assert sorted(PERM[list(a)].tolist()) == sorted(b)


def test_inner_subset_is_the_51_points_without_the_jaw():
    inner = IBUG68.subset("inner")
    assert len(inner) == 51
    np.testing.assert_array_equal(inner, np.arange(17, 68))
    assert not set(inner.tolist()) & set(IBUG68.groups["jaw"])
    np.testing.assert_array_equal(PERM[inner], inner[np.asarray(IBUG68_INNER.flip_permutation)])


def test_inner_scheme_agrees_with_the_68_point_scheme():
    assert IBUG68_INNER.n_points == 51 and "jaw" not in IBUG68_INNER.groups
    assert IBUG68_INNER.normalisers["inter_ocular"] == ((36 - 17,), (45 - 17,))
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 200, (3, 68, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    np.testing.assert_allclose(
        metrics.nme(pred[:, 17:], gt[:, 17:], "inter_pupil", scheme=IBUG68_INNER),
        metrics.nme(pred, gt, "inter_pupil", points="inner"),
    )


def test_subset_lookup():
    np.testing.assert_array_equal(IBUG68.subset(None), np.arange(68))
    np.testing.assert_array_equal(IBUG68.subset("all"), np.arange(68))
    np.testing.assert_array_equal(IBUG68.subset("mouth"), np.arange(48, 68))
    with pytest.raises(KeyError, match="no subset or group 'cheeks'.*inner"):
        IBUG68.subset("cheeks")


def test_get_scheme_by_name_and_by_size():
    assert get_scheme("ibug68") is IBUG68 and get_scheme(68) is IBUG68
    assert get_scheme(51) is IBUG68_INNER and get_scheme(5) is FIVE_POINT
    assert set(SCHEMES) == {"ibug68", "ibug68_inner", "five_point"}
    with pytest.raises(KeyError, match="unknown landmark scheme"):
        get_scheme("ibug69")
    with pytest.raises(KeyError, match="no landmark scheme with 7 points"):
        get_scheme(7)


def test_five_point_scheme_through_nme_without_code_changes():
    # eye centres 10 px apart, every point 5 px off (3-4-5 triangle): NME = 5 / 10 = 0.5
    gt = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 6.0], [1.0, 10.0], [9.0, 10.0]])
    pred = gt + [3.0, 4.0]
    assert metrics.nme(pred, gt, "inter_pupil", scheme=FIVE_POINT) == pytest.approx(0.5)
    # bbox normaliser needs no scheme facts: box 10 x 10 -> sqrt(100) = 10 -> 0.5 again
    assert metrics.nme(pred, gt, "bbox", scheme=FIVE_POINT) == pytest.approx(0.5)
    assert metrics.nme(pred, gt, "inter_pupil", points="mouth", scheme=FIVE_POINT) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown normaliser 'inter_ocular'"):
        metrics.nme(pred, gt, "inter_ocular", scheme=FIVE_POINT)


def test_a_brand_new_scheme_works_everywhere():
    # three points: two ends of a bar and its middle; the normaliser is the bar length
    bar = LandmarkScheme(name="bar", n_points=3, groups={"ends": (0, 2), "middle": (1,)},
                         flip_permutation=(2, 1, 0), normalisers={"length": ((0,), (2,))}, edges=((0, 1), (1, 2)))
    gt = np.array([[0.0, 0.0], [4.0, 0.0], [8.0, 0.0]])
    pred = gt + [[0.0, 2.0], [0.0, 0.0], [0.0, 2.0]]  # errors 2, 0, 2 px; length 8 px
    assert metrics.nme(pred, gt, "length", scheme=bar) == pytest.approx(4.0 / 3 / 8)
    assert metrics.nme(pred, gt, "length", points="ends", scheme=bar) == pytest.approx(2.0 / 8)


def test_bad_schemes_are_refused():
    with pytest.raises(ValueError, match="not a permutation"):
        LandmarkScheme("bad", 3, {}, (0, 0, 1), {}, ())
    with pytest.raises(ValueError, match="not an involution"):
        LandmarkScheme("bad", 3, {}, (1, 2, 0), {}, ())
    with pytest.raises(ValueError, match="out of range"):
        LandmarkScheme("bad", 3, {"g": (0, 3)}, (0, 1, 2), {}, ())


def test_flip_permutation_fits_real_faces(train_faces):
    # A mirrored face, re-ordered by the permutation, must look like a face again. The mean shape of
    # 101 training faces is nearly symmetric: its mirror image aligns back onto it with every point
    # within 0.024 IOD (measured). Without the permutation the worst point is ~1 IOD off; pairing an
    # outer eye corner with the other eye's inner corner, or crossing the upper lids (1-based 38<->44,
    # 39<->45 instead of 38<->45, 39<->44), puts a point 0.1-0.3 IOD off.
    shapes = np.stack([io.read_pts(f.pts_path, 68) for f in train_faces[::12]])
    mean = geometry.procrustes_mean(shapes)
    mirrored = mean * [-1.0, 1.0]

    def worst_point(perm):
        moved = mirrored[list(perm)]
        back = geometry.transform_points(moved, geometry.fit_similarity(moved, mean))
        return metrics.point_errors(back, mean, "inter_ocular").max()

    assert worst_point(IBUG68.flip_permutation) < 0.05
    assert worst_point(range(68)) > 0.5
    corners = list(IBUG68.flip_permutation)
    corners[36], corners[42], corners[39], corners[45] = 42, 36, 45, 39
    lids = list(IBUG68.flip_permutation)
    lids[37], lids[43], lids[38], lids[44] = 43, 37, 44, 38
    for wrong in (corners, lids):
        assert sorted(wrong) == list(range(68))
        assert worst_point(wrong) > 0.08


def test_right_means_the_subjects_right(train_faces):
    # The subject's right eye is on the image left in (nearly) every frontal photo.
    shapes = np.stack([io.read_pts(f.pts_path, 68) for f in train_faces[::10]])
    right = shapes[:, IBUG68.groups["right_eye"]].mean(axis=1)[:, 0]
    left = shapes[:, IBUG68.groups["left_eye"]].mean(axis=1)[:, 0]
    assert (right < left).mean() > 0.98
