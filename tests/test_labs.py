"""Each lab check fails on a typical wrong answer with a helpful message and passes the reference solution."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from facelandmarks import geometry, labs
from facelandmarks.labs import LabCheckError
from facelandmarks.schemes import IBUG68

_spec = importlib.util.spec_from_file_location("solutions", Path(__file__).parent.parent / "labs" / "solutions.py")
solutions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(solutions)


def test_references_pass(capsys):
    labs.check_nme(solutions.nme)
    labs.check_flip(solutions.flip)
    labs.check_similarity_fit(solutions.similarity_fit)
    labs.check_patch_extraction(solutions.patch)
    labs.check_ced_auc(solutions.auc)
    labs.check_feature_shape(solutions.feature_shape)
    labs.check_worker_nme(solutions.worker_nme)
    assert capsys.readouterr().out.count("correct") == 7


@pytest.mark.parametrize("wrong, message", [
    (lambda p, g: np.linalg.norm(p - g, axis=1).mean() / np.linalg.norm(g[36:42].mean(0) - g[42:48].mean(0)), "pupils"),
    (lambda p, g: np.linalg.norm(p - g, axis=1).mean(), "forgot to divide"),
    (lambda p, g: np.abs(p - g).sum(1).mean() / np.linalg.norm(g[36] - g[45]), "Euclidean"),
    (lambda p, g: np.linalg.norm(p - g, axis=1).mean() / np.linalg.norm(g[35] - g[44]), "0-based"),
])
def test_check_nme_explains_wrong_answers(wrong, message):
    with pytest.raises(LabCheckError, match=message):
        labs.check_nme(wrong)


def test_check_flip_explains_wrong_answers():
    def no_permutation(image, points):
        out = points.copy()
        out[:, 0] = image.shape[1] - 1 - points[:, 0]
        return image[:, ::-1], out

    def off_by_one(image, points):
        out = points.copy()
        out[:, 0] = image.shape[1] - points[:, 0]
        return image[:, ::-1], out[list(IBUG68.flip_permutation)]

    with pytest.raises(LabCheckError, match="forgot to reorder"):
        labs.check_flip(no_permutation)
    with pytest.raises(LabCheckError, match="off by one"):
        labs.check_flip(off_by_one)
    with pytest.raises(LabCheckError, match="not mirrored"):
        labs.check_flip(lambda image, points: (image, points))


def test_check_similarity_fit_explains_wrong_answers():
    def no_scale(src, dst):
        m = geometry.fit_similarity(src, dst)
        s = np.sqrt(np.linalg.det(m[:2, :2]))
        m[:2, :2] /= s
        return m

    with pytest.raises(LabCheckError, match="ignores scale"):
        labs.check_similarity_fit(no_scale)
    with pytest.raises(LabCheckError, match="dst -> src"):
        labs.check_similarity_fit(lambda src, dst: geometry.fit_similarity(dst, src))
    with pytest.raises(LabCheckError, match="reflection"):
        labs.check_similarity_fit(lambda src, dst: np.diag([-1.0, 1.0, 1.0]) @ geometry.fit_similarity(src, dst))
    with pytest.raises(LabCheckError, match="translation"):
        labs.check_similarity_fit(lambda src, dst: geometry.fit_similarity(src, dst) + np.array([[0, 0, 3.0], [0, 0, 0], [0, 0, 0]]))


def test_check_patch_extraction_explains_wrong_answers():
    with pytest.raises(LabCheckError, match="black"):
        labs.check_patch_extraction(lambda image, m, size: np.zeros((size, size, 3)))
    with pytest.raises(LabCheckError, match=r"bright pixel lands at \(14.50, 11.50\)"):
        labs.check_patch_extraction(lambda image, m, size: geometry.warp_image(image, geometry.translation_matrix(3, 0) @ m, size))
    with pytest.raises(LabCheckError, match=r"\(24, 24, 3\)"):
        labs.check_patch_extraction(lambda image, m, size: np.zeros((size, size)))


def test_check_ced_auc_explains_wrong_answers():
    with pytest.raises(LabCheckError, match="divide the area"):
        labs.check_ced_auc(lambda e, t: solutions.auc(e, t) * t)
    with pytest.raises(LabCheckError, match="CED at 0.08"):
        labs.check_ced_auc(lambda e, t: float((np.asarray(e) <= t).mean()))


def test_try_exercise_tolerates_unfinished_and_reports_wrong(capsys):
    def unfinished(pred, gt):
        raise NotImplementedError

    assert labs.try_exercise(labs.check_nme, unfinished) is False
    assert "not done yet" in capsys.readouterr().out
    assert labs.try_exercise(labs.check_nme, solutions.nme) is True
    with pytest.raises(LabCheckError):
        labs.try_exercise(labs.check_nme, lambda p, g: 0.0)


def test_check_patch_extraction_names_half_pixel_and_frame_mistakes():
    def integer_slice(image, m, size):  # centre rounded to a whole pixel: 12 instead of 11.5
        x0, y0 = np.floor(np.linalg.inv(m)[:2, 2]).astype(int)
        return image[y0:y0 + size, x0:x0 + size].astype(float)

    def shift_only(image, m, size):  # ignores the rotation and scale of the matrix
        t = np.eye(3)
        t[:2, 2] = m[:2, 2]
        return solutions.patch(image, t, size)

    def swapped(image, m, size):
        return solutions.patch(image.transpose(1, 0, 2), m, size)

    with pytest.raises(LabCheckError, match="half a pixel off"):
        labs.check_patch_extraction(integer_slice)
    with pytest.raises(LabCheckError, match="inverse"):
        labs.check_patch_extraction(lambda image, m, size: solutions.patch(image, np.linalg.inv(m), size))
    with pytest.raises(LabCheckError, match="rotated and scaled"):
        labs.check_patch_extraction(shift_only)
    with pytest.raises(LabCheckError, match="swapped"):
        labs.check_patch_extraction(swapped)


def test_check_feature_shape_explains_wrong_answers():
    def mistaken(**kw):
        return lambda config: labs._trunk_shape(config, **kw)

    with pytest.raises(LabCheckError, match="pooled after the last block"):
        labs.check_feature_shape(mistaken(pool_last=True))
    with pytest.raises(LabCheckError, match="ignored the padding"):
        labs.check_feature_shape(mistaken(ignore_padding=True))
    with pytest.raises(LabCheckError, match="rounded the pooled size up"):
        labs.check_feature_shape(mistaken(ceil=True))
    with pytest.raises(LabCheckError, match="removes 2 pixels"):
        labs.check_feature_shape(mistaken(shrink=1))
    with pytest.raises(LabCheckError, match="channels"):
        labs.check_feature_shape(lambda config: (config.blocks[0][0], 2, 2))


def test_check_worker_nme_explains_wrong_answers():
    from facelandmarks.human import LFPW_POINTS, LFPW_TO_IBUG68

    kept = [LFPW_POINTS.index(n) for n in LFPW_TO_IBUG68]
    ibug = np.array([LFPW_TO_IBUG68[n] - 1 for n in LFPW_TO_IBUG68])

    def answer(move=lambda p, w: geometry.transform_points(p, w.matrix), idx=ibug, norm=lambda r: np.linalg.norm(r[36] - r[45])):
        return lambda p, w, r: np.linalg.norm(move(p, w)[kept] - r[idx], axis=1).mean() / norm(r)

    with pytest.raises(LabCheckError, match="photo's pixels"):
        labs.check_worker_nme(answer(move=lambda p, w: p))
    with pytest.raises(LabCheckError, match="half pixel"):
        labs.check_worker_nme(answer(move=lambda p, w: (p - [w.x0, w.y0]) * w.out_size / w.size))
    with pytest.raises(LabCheckError, match="1-based"):
        labs.check_worker_nme(answer(idx=np.minimum(ibug + 1, 67)))
    with pytest.raises(LabCheckError, match="inter_pupil"):
        labs.check_worker_nme(answer(norm=lambda r: np.linalg.norm(r[36:42].mean(0) - r[42:48].mean(0))))
    with pytest.raises(LabCheckError, match="expected"):
        labs.check_worker_nme(answer(move=lambda p, w: geometry.transform_points(p, np.linalg.inv(w.matrix))))
