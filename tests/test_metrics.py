"""NME with named normalisers, CED, AUC and failure rate, with values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from facelandmarks import metrics


def hand_made_face() -> np.ndarray:
    """68 points (x, y) with easy distances.

    right eye (36..41): (0,0) (2,-1) (4,-1) (6,0) (4,1) (2,1)   -> centre (3, 0), outer corner 36 at (0, 0)
    left eye  (42..47): the same shifted by 18 px               -> centre (21, 0), outer corner 45 at (24, 0)
    point 0 at (-6, -10), point 8 at (12, 30), every other point at (0, 0)
    inter_ocular = |(24, 0) - (0, 0)| = 24;  inter_pupil = |(21, 0) - (3, 0)| = 18
    box x in [-6, 24] (w = 30), y in [-10, 30] (h = 40): bbox = sqrt(30 * 40) = sqrt(1200), diagonal = 50
    """
    gt = np.zeros((68, 2))
    eye = np.array([[0, 0], [2, -1], [4, -1], [6, 0], [4, 1], [2, 1]], dtype=float)
    gt[36:42] = eye
    gt[42:48] = eye + [18.0, 0.0]
    gt[0] = [-6.0, -10.0]
    gt[8] = [12.0, 30.0]
    return gt


GT = hand_made_face()
PRED = GT + [3.0, 4.0]  # every point 5 px off


@pytest.mark.parametrize("norm, distance", [
    ("inter_ocular", 24.0), ("inter_pupil", 18.0), ("bbox", math.sqrt(1200.0)), ("bbox_diagonal", 50.0),
])
def test_each_normaliser_by_hand(norm, distance):
    assert metrics.normalising_distance(GT, norm) == pytest.approx(distance)
    assert metrics.nme(PRED, GT, norm) == pytest.approx(5.0 / distance)
    assert norm in metrics.NORMALISERS


def test_normaliser_comes_from_the_ground_truth_not_the_prediction():
    squashed = GT * 0.5  # a prediction half the size: errors change, the normaliser (24 px) does not
    errors = np.linalg.norm(squashed - GT, axis=1)
    assert metrics.nme(squashed, GT) == pytest.approx(errors.mean() / 24.0)


def test_single_shape_gives_a_float_and_a_batch_gives_an_array():
    assert isinstance(metrics.nme(PRED, GT), float)
    # second face twice as large: same 5 px errors, inter-ocular distance 48 -> 5/48
    gt = np.stack([GT, 2 * GT])
    out = metrics.nme(gt + [3.0, 4.0], gt)
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    np.testing.assert_allclose(out, [5 / 24, 5 / 48])
    assert metrics.point_errors(gt + [3.0, 4.0], gt).shape == (2, 68)


def test_point_subsets():
    pred = PRED.copy()
    pred[:17] = GT[:17] + [5.0, 12.0]  # the jaw 13 px off, the 51 inner points 5 px off
    # all:   (17 * 13 + 51 * 5) / 68 = (221 + 255) / 68 = 7 px  -> 7 / 24
    # inner: 5 px -> 5 / 24;   jaw group: 13 / 24;   points 36 and 45 only: 5 / 24
    assert metrics.nme(pred, GT) == pytest.approx(7 / 24)
    assert metrics.nme(pred, GT, points="all") == pytest.approx(7 / 24)
    assert metrics.nme(pred, GT, points="inner") == pytest.approx(5 / 24)
    assert metrics.nme(pred, GT, points="jaw") == pytest.approx(13 / 24)
    assert metrics.nme(pred, GT, points=np.array([36, 45])) == pytest.approx(5 / 24)
    with pytest.raises(KeyError, match="no subset or group 'cheek'"):
        metrics.nme(pred, GT, points="cheek")


def test_point_errors_in_pixels_and_normalised():
    np.testing.assert_allclose(metrics.point_errors(PRED, GT, norm=None), np.full(68, 5.0))
    np.testing.assert_allclose(metrics.point_errors(PRED, GT, norm="inter_pupil"), np.full(68, 5 / 18))


@pytest.mark.parametrize("pred, gt, problem", [
    (np.zeros((68, 3)), GT, "pred must have shape"),
    (np.zeros((67, 2)), GT, "same shape"),
    (PRED[None], GT, "same shape"),
    (np.full((68, 2), np.nan), GT, "NaN or inf"),
    (np.zeros((5, 2)), np.ones((5, 2)), "needs 68 points"),
])
def test_bad_shapes_raise(pred, gt, problem):
    with pytest.raises(ValueError, match=problem):
        metrics.nme(pred, gt)


def test_unknown_and_zero_normalisers_raise():
    with pytest.raises(ValueError, match="unknown normaliser 'iod'; known: .*inter_ocular"):
        metrics.nme(PRED, GT, "iod")
    with pytest.raises(ValueError, match="normalising distance 'inter_ocular' is zero"):
        metrics.nme(PRED, np.zeros((68, 2)))


def test_ced_by_hand():
    errors = np.array([0.01, 0.02, 0.05, 0.1])
    # at 0: none; at 0.02: 0.01 and 0.02 (<= counts) -> 2/4; at 0.08: three of four
    np.testing.assert_allclose(metrics.ced(errors, np.array([0.0, 0.02, 0.08])), [0.0, 0.5, 0.75])
    assert metrics.ced(errors, np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match="at least one error"):
        metrics.ced(np.array([]), np.array([0.1]))


def test_auc_by_hand():
    assert metrics.auc(np.zeros(10), 0.08) == pytest.approx(1.0)  # CED = 1 everywhere
    assert metrics.auc(np.full(10, 0.2), 0.08) == pytest.approx(0.0)  # CED = 0 on [0, 0.08]
    assert metrics.auc(np.array([0.0, 0.0, 0.5, 0.5]), 0.08) == pytest.approx(0.5)  # CED = 1/2 throughout
    # one error at 0.04: CED jumps 0 -> 1 half-way, area 0.04 of 0.08 (up to one integration step)
    assert metrics.auc(np.array([0.04]), 0.08) == pytest.approx(0.5, abs=1e-3)
    # errors uniform on [0, 0.08]: CED(x) = x / 0.08, area 1/2
    assert metrics.auc(np.linspace(0, 0.08, 2001), 0.08) == pytest.approx(0.5, abs=1e-3)
    assert metrics.auc(np.array([0.05]), 0.1) == pytest.approx(0.5, abs=1e-3)  # the threshold scales


def test_failure_rate_by_hand():
    # 0.08 itself is not a failure (strictly above): 0.09 and 0.2 fail -> 2 / 4
    assert metrics.failure_rate(np.array([0.01, 0.09, 0.08, 0.2]), 0.08) == 0.5
    assert metrics.failure_rate(np.array([0.01, 0.09, 0.08, 0.2]), 0.1) == 0.25
    with pytest.raises(ValueError, match="at least one error"):
        metrics.failure_rate(np.array([]))


def test_summary_names_its_threshold():
    out = metrics.summary(np.array([0.0, 0.0, 0.5, 0.5]), 0.08)
    assert out == pytest.approx({"n": 4, "mean": 0.25, "median": 0.25, "auc@0.08": 0.5, "failure@0.08": 0.5})
    assert "auc@0.1" in metrics.summary(np.array([0.0]), 0.1)


def test_contour_errors_split_along_and_across_by_hand():
    gt = np.zeros((68, 2))
    gt[:17, 0] = np.arange(17) * 2.0  # a straight horizontal "jaw" at y = 0
    gt[36], gt[45] = (0.0, -10.0), (20.0, -10.0)  # outer eye corners: inter_ocular = 20
    pred = gt.copy()
    pred[3] += (3.0, 0.0)  # slides along the contour only
    pred[10] += (0.0, 4.0)  # moves across it only
    pred[16] += (3.0, 4.0)  # the end point (one-sided direction): both
    along, across = metrics.contour_errors(pred, gt, range(17), norm=None)
    assert along.shape == across.shape == (17,)
    np.testing.assert_allclose(along[[3, 10, 16]], [3.0, 0.0, 3.0])
    np.testing.assert_allclose(across[[3, 10, 16]], [0.0, 4.0, 4.0])
    np.testing.assert_allclose(np.hypot(along, across), metrics.point_errors(pred, gt, None)[:17])
    along_n, _ = metrics.contour_errors(np.stack([pred, pred]), np.stack([gt, gt]), range(17))
    np.testing.assert_allclose(along_n, np.stack([along, along]) / 20.0)  # batch, normalised by 20 px


def test_contour_errors_bad_input():
    gt = np.random.default_rng(0).normal(size=(68, 2))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.contour_errors(gt, gt, [3])
    with pytest.raises(ValueError, match="0..67"):
        metrics.contour_errors(gt, gt, [0, 70])
    with pytest.raises(ValueError, match="same shape"):
        metrics.contour_errors(gt[:10], gt, [0, 1])
    flat = gt.copy()
    flat[1] = flat[0]
    with pytest.raises(ValueError, match="coinciding"):
        metrics.contour_errors(flat, flat, [0, 1, 2])
