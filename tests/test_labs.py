"""Each lab check fails on a typical wrong answer with a helpful message and passes the reference solution."""
from __future__ import annotations

import importlib.util
import re
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
    (lambda p, g: np.linalg.norm(p - g, axis=1).mean() / np.linalg.norm(g[35] - g[44]), "subtracted 1 twice"),
    # the literal 1-based slip: the literature's numbers used as Python indices
    (lambda p, g: np.linalg.norm(p - g, axis=1).mean() / np.linalg.norm(g[37] - g[46]), "counts points from 1"),
    (lambda p, g: 100 * solutions.nme(p, g), "percentage"),
    (lambda p, g: np.linalg.norm(p - g, axis=1).mean() / np.linalg.norm(p[36] - p[45]), "predicted eye corners"),
    (lambda p, g: (np.linalg.norm(p - g, axis=1) ** 2).mean() / np.linalg.norm(g[36] - g[45]), "squared"),
    (lambda p, g: np.linalg.norm(p - g, axis=1).sum() / np.linalg.norm(g[36] - g[45]), "sum over points"),
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
    with pytest.raises(LabCheckError, match="translation is not"):
        labs.check_similarity_fit(lambda src, dst: geometry.fit_similarity(src, dst) + np.array([[0, 0, 3.0], [0, 0, 0], [0, 0, 0]]))


def _similarity(a: float, b: float, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """[[a, -b, tx], [b, a, ty], [0, 0, 1]] with the translation that maps mean(src) to mean(dst)."""
    m = np.array([[a, -b, 0.0], [b, a, 0.0], [0.0, 0.0, 1.0]])
    m[:2, 2] = dst.mean(0) - m[:2, :2] @ src.mean(0)
    return m


def test_check_similarity_fit_names_the_typical_mistakes():
    """Each hint fires on the mistake it names, and none is given for another (issue 18: "centre both
    point sets" used to be the hint for a rotation that turned the wrong way)."""
    def flipped_angle(src, dst):  # b with the wrong sign: the transposed rotation
        m = solutions.similarity_fit(src, dst)
        return _similarity(m[0, 0], -m[1, 0], src, dst)

    def uncentred(src, dst):  # a and b fitted on the raw points, translation then from the means
        return _similarity(*labs._uncentred_rotation(src, dst), src, dst)

    def affine(src, dst):  # 6-parameter least squares
        m = np.eye(3)
        m[:2] = np.linalg.lstsq(np.c_[src, np.ones(len(src))], dst, rcond=None)[0].T
        return m

    def wrong_scale(src, dst):
        m = solutions.similarity_fit(src, dst)
        return _similarity(1.1 * m[0, 0], 1.1 * m[1, 0], src, dst)

    def rotated_more(src, dst):  # 10 degrees too far
        m = solutions.similarity_fit(src, dst)
        return _similarity(*(geometry.similarity_matrix(1.0, np.radians(10))[:2, :2] @ m[:2, :2])[:, 0], src, dst)

    cases = [
        (flipped_angle, "turns the wrong way"),
        (uncentred, "centre both point sets"),
        (affine, "general affine"),
        (lambda src, dst: solutions.similarity_fit(src, dst).T, "transposed"),
        (wrong_scale, r"scale is 1\.\d+, expected"),
        (rotated_more, "off by 10.0 degrees"),
    ]
    for wrong, message in cases:
        with pytest.raises(LabCheckError) as err:
            labs.check_similarity_fit(wrong)
        assert re.search(message, str(err.value)), (wrong.__name__, str(err.value))
        if message != "centre both point sets":
            assert "centre" not in str(err.value), str(err.value)


def test_check_patch_extraction_explains_wrong_answers():
    with pytest.raises(LabCheckError, match="black"):
        labs.check_patch_extraction(lambda image, m, size: np.zeros((size, size, 3)))
    with pytest.raises(LabCheckError, match=r"bright pixel lands at \(14.50, 11.50\)"):
        labs.check_patch_extraction(lambda image, m, size: geometry.warp_image(image, geometry.translation_matrix(3, 0) @ m, size))
    with pytest.raises(LabCheckError, match=r"\(24, 24, 3\)"):
        labs.check_patch_extraction(lambda image, m, size: np.zeros((size, size)))
    with pytest.raises(LabCheckError, match=r"\(channels, height, width\)"):  # PyTorch's order
        labs.check_patch_extraction(lambda image, m, size: solutions.patch(image, m, size).transpose(2, 0, 1))


def test_check_ced_auc_explains_wrong_answers():
    with pytest.raises(LabCheckError, match="divide the area"):
        labs.check_ced_auc(lambda e, t: solutions.auc(e, t) * t)
    with pytest.raises(LabCheckError, match="CED at 0.08"):
        labs.check_ced_auc(lambda e, t: float((np.asarray(e) <= t).mean()))
    with pytest.raises(LabCheckError, match="percentage"):
        labs.check_ced_auc(lambda e, t: 100 * solutions.auc(e, t))

    def no_grid(errors, threshold):  # np.trapezoid(ced) without its x values
        xs = np.linspace(0, threshold, 101)
        ced = (np.asarray(errors)[None, :] <= xs[:, None]).mean(axis=1)
        return float(np.trapezoid(ced) / threshold)

    with pytest.raises(LabCheckError, match="without its x values"):
        labs.check_ced_auc(no_grid)


def test_try_exercise_tolerates_unfinished_and_reports_wrong(capsys):
    def unfinished(pred, gt):
        raise NotImplementedError

    assert labs.try_exercise(labs.check_nme, unfinished) is False
    out = capsys.readouterr().out
    assert "not done yet" in out
    assert "solutions" not in out  # the instructor guide keeps the reference solutions from students
    assert labs.try_exercise(labs.check_nme, solutions.nme) is True
    capsys.readouterr()
    # a wrong answer: one clean line with the hint, no traceback
    assert labs.try_exercise(labs.check_nme, lambda p, g: 100 * solutions.nme(p, g)) is False
    out = capsys.readouterr().out
    assert out.startswith("not right yet - check_nme: got") and "percentage" in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
    # the learner's own bug still propagates, with its own traceback
    with pytest.raises(IndexError):
        labs.try_exercise(labs.check_nme, lambda p, g: p[100])


def test_a_wrong_answer_shows_no_source_in_ipython():
    """Called directly in a notebook, a failed check shows IPython one line: the message, no source."""
    with pytest.raises(LabCheckError) as err:
        labs.check_nme(lambda p, g: 0.0)
    assert err.value._render_traceback_() == [f"LabCheckError: {err.value}"]
    assert "metrics.nme" not in str(err.value)


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
    with pytest.raises(LabCheckError, match="wrong way round"):
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
    with pytest.raises(LabCheckError, match=r"that is \(height, width, channels\)"):
        labs.check_feature_shape(lambda config: tuple(np.roll(solutions.feature_shape(config), -1)))


# --- the instructor guide's 2-hour agenda ------------------------------------------------------------

GUIDE = Path(__file__).parent.parent / "labs" / "INSTRUCTOR.md"
NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table after ``heading``, header and rule left out."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return [r for r in rows[2:]]


def test_the_two_hour_agenda_adds_up_and_names_real_notebooks_and_checks():
    """Issue 18: the guide's labs added up to 215 minutes. The agenda must fill exactly 120, start
    each block when the one before ends, and name notebooks and checks that exist."""
    text = GUIDE.read_text(encoding="utf-8")
    rows = _table_after(text, "## The 2-hour lab")
    clock = 0
    labs_seen = set()
    for start, minutes, block, notebooks, what in rows:
        hours, mins = start.split(":")
        assert int(hours) * 60 + int(mins) == clock, f"{block} starts at {start}, the block before ends at {clock} min"
        clock += int(minutes)
        names = re.findall(r"`(\d\d_\w+)`", notebooks)
        for name in names:
            assert (NOTEBOOKS / f"{name}.ipynb").is_file(), f"the agenda names {name}, which is not in notebooks/"
        checks = re.findall(r"`(check_\w+)`", what)
        assert set(checks) <= set(labs.__all__), f"{block}: unknown checks {set(checks) - set(labs.__all__)}"
        code = "".join((NOTEBOOKS / f"{n}.ipynb").read_text(encoding="utf-8") for n in names)
        for check in checks:
            assert f"labs.{check}" in code, f"{block}: {check} is not an exercise of {names}"
        if block.startswith("lab "):
            number = int(block.split()[1])
            assert names and names[0].startswith(f"{number:02d}_"), f"{block} must be notebook {number:02d}"
            labs_seen.add(number)
    assert clock == 120, f"the agenda lasts {clock} minutes, not 120"
    assert labs_seen == set(range(1, 8))
    for number in range(1, 8):  # objectives for every lab, discussion questions for labs 4, 6, 7
        section = text[text.index(f"#### Lab {number}:"):].split("\n#### ", 1)[0]
        assert "Objectives:" in section and "Students should see:" in section, f"lab {number}"
        assert ("Discussion:" in section) == (number in (4, 6, 7)), f"lab {number}"


def test_each_notebook_ran_within_its_slot_in_the_timing_run():
    """The measured run time (quiet machine) of a lab's notebooks leaves time for its exercises:
    at most half of its minutes."""
    text = GUIDE.read_text(encoding="utf-8")
    timing = _table_after(text, "**How it was timed.**")
    header = [c.strip() for c in text[text.index("| notebook | 01 |"):].splitlines()[0].strip("|").split("|")]
    quiet = next(r for r in timing if r[0].startswith("seconds, quiet"))
    seconds = {f"{int(n):02d}": float(v) for n, v in zip(header[1:], quiet[1:]) if n.isdigit()}
    assert set(seconds) == {f"{n:02d}" for n in range(1, 10)}, "time every notebook"
    for start, minutes, block, notebooks, what in _table_after(text, "## The 2-hour lab"):
        names = re.findall(r"`(\d\d)_\w+`", notebooks)
        if block.startswith("lab "):
            run = sum(seconds[n] for n in names)
            assert run <= 30 * int(minutes), f"{block}: its notebooks ran {run:.0f} s of its {minutes} min"


def test_the_stated_numpy_minimum_has_np_trapezoid():
    """Issue 18: pyproject said numpy>=1.24 while metrics.auc (and the AUC exercise) use np.trapezoid,
    which NumPy 1.x lacks; the guide's laptop path states the minimum."""
    root = Path(__file__).parent.parent
    uses = [p.name for p in (root / "facelandmarks").rglob("*.py") if "np.trapezoid" in p.read_text(encoding="utf-8")]
    minimum = re.search(r'"numpy>=(\d+)', (root / "pyproject.toml").read_text(encoding="utf-8"))
    assert minimum, "pyproject.toml must state a numpy minimum"
    assert not uses or int(minimum.group(1)) >= 2, f"{uses} use np.trapezoid (NumPy 2): require numpy>=2"
    assert "NumPy 2 or later" in GUIDE.read_text(encoding="utf-8")


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
