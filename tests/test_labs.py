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
    assert capsys.readouterr().out.count("correct") == 5


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
    with pytest.raises(LabCheckError, match="bright pixel is at"):
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
