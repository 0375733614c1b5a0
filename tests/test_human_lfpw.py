"""Tests of facelandmarks.human.lfpw_test: the LFPW test faces paired with LFPW's own annotations."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facelandmarks import datasets, geometry, io, metrics
from facelandmarks.human import lfpw_test as T
from facelandmarks.human.formats import LFPW_POINTS, LFPW_TO_IBUG68, LfpwAnnotations, load_lfpw


@pytest.fixture(scope="module")
def test_set(data_root: Path) -> T.LfpwTestSet:
    return T.pair_lfpw_test(data_root)


# --- coordinate mapping -----------------------------------------------------------------------

def test_known_point_lands_on_its_prepared_coordinate(data_root: Path) -> None:
    window = T.read_crop_windows(data_root)["image_0002"]
    assert (window.x0, window.y0, window.size, window.out_size) == (122, 101, 371, 384)  # manifest.csv, by eye
    # By hand: scale s = 384 / 371; x' = (x - (x0 - 0.5)) * s - 0.5.
    # The window's centre pixel 122 + 371/2 - 0.5 = 307 -> 185.5 * s - 0.5 = 191.5 (the prepared centre);
    # the window's first pixel centre (122, 101) -> 0.5 * s - 0.5 = 0.0175202...
    # the photo's origin pixel (0, 0) -> (-121.5 * s - 0.5, -100.5 * s - 0.5) = (-126.2547..., -104.5202...)
    photo = np.array([[307.0, 286.0], [122.0, 101.0], [0.0, 0.0]])
    want = np.array([[191.5, 191.5], [0.5 * 384 / 371 - 0.5] * 2, [-121.5 * 384 / 371 - 0.5, -100.5 * 384 / 371 - 0.5]])
    np.testing.assert_allclose(T.lfpw_to_prepared(photo, window), want, atol=1e-3)
    np.testing.assert_allclose(want[1], [0.0175202, 0.0175202], atol=1e-6)


def test_manifest_windows_are_the_crops_of_the_prepared_points(data_root: Path) -> None:
    """Mapping each prepared face's 300-W points back to the photo with the inverse window matrix
    must give points whose crop window (data README: square of 2 x the larger side of their box,
    centred on it, whole pixels) is the manifest's own: the mapping's direction and pixel convention
    agree with the data."""
    windows = T.read_crop_windows(data_root)
    faces = datasets.split_faces("lfpw", data_root)
    assert len(faces) == len(windows) == 150
    for face in faces:
        w = windows[face.name]
        photo = geometry.transform_points(io.read_pts(face.pts_path), np.linalg.inv(w.matrix))
        box = geometry.points_box(photo)
        size = int(np.floor(2 * max(box[2] - box[0], box[3] - box[1]) + 0.5))
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        assert (int(np.floor(cx - size / 2 + 0.5)), int(np.floor(cy - size / 2 + 0.5)), size) == (w.x0, w.y0, w.size), face.name


def test_bad_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text("subset,name,crop_x0\nlfpw/testset,a,1\n")
    with pytest.raises(ValueError, match="no column"):
        T.read_crop_windows(path=path)
    path.write_text("subset,name,crop_x0,crop_y0,crop_size,out_size\nlfpw/testset,a,1,2,x,384\n")
    with pytest.raises(ValueError, match="line 2"):
        T.read_crop_windows(path=path)
    with pytest.raises(FileNotFoundError, match="manifest"):
        T.read_crop_windows(path=tmp_path / "nothing.csv")


# --- pairing ------------------------------------------------------------------------------------

def test_pairing_on_the_real_data(test_set: T.LfpwTestSet) -> None:
    p = test_set.pairing
    assert len(p) == 150
    assert 140 <= p.paired.sum() < 150
    assert (p.residual[p.paired] <= T.PAIR_MAX_RESIDUAL).all()
    assert (p.runner_up[p.paired] >= T.PAIR_MIN_MARGIN * p.residual[p.paired]).all()
    urls = p.url_index[p.paired]
    assert len(set(urls.tolist())) == len(urls)  # one face per URL
    assert all(s == "paired" for s, ok in zip(p.status, p.paired) if ok)
    assert all(s.startswith(("no match", "ambiguous")) for s, ok in zip(p.status, p.paired) if not ok)
    # the corners agree to about the human spread: median a few hundredths of the eye distance
    assert 0.01 < np.median(p.residual[p.paired]) < 0.04


def _without_url(ann: LfpwAnnotations, drop: int) -> LfpwAnnotations:
    keep = [u for u in range(len(ann)) if u != drop]
    return LfpwAnnotations([ann.urls[u] for u in keep], ann.points[keep], ann.codes[keep], ann.average[keep],
                           ann.average_codes[keep])


def test_a_face_without_its_annotation_must_not_pair(test_set: T.LfpwTestSet) -> None:
    p, faces = test_set.pairing, test_set.faces
    f = faces.names.index("image_0002")
    assert p.paired[f]
    ann = _without_url(test_set.annotations, int(p.url_index[f]))
    again = T.pair_faces(ann, faces.names[f:f + 1], faces.points[f:f + 1], test_set.windows)
    assert not again.paired[0]
    assert again.status[0].startswith("no match")


def test_a_duplicated_annotation_is_ambiguous(test_set: T.LfpwTestSet) -> None:
    p, faces, ann = test_set.pairing, test_set.faces, test_set.annotations
    f = faces.names.index("image_0002")
    u = int(p.url_index[f])
    twin = LfpwAnnotations(ann.urls + ["copy"], np.concatenate([ann.points, ann.points[u:u + 1]]),
                           np.concatenate([ann.codes, ann.codes[u:u + 1]]),
                           np.concatenate([ann.average, ann.average[u:u + 1] + 0.5]),
                           np.concatenate([ann.average_codes, ann.average_codes[u:u + 1]]))
    again = T.pair_faces(twin, faces.names[f:f + 1], faces.points[f:f + 1], test_set.windows)
    assert not again.paired[0] and again.status[0].startswith("ambiguous")


def test_two_faces_cannot_share_one_url(test_set: T.LfpwTestSet) -> None:
    faces = test_set.faces
    f = faces.names.index("image_0002")
    windows = {**test_set.windows, "twin": replace(test_set.windows["image_0002"], name="twin")}
    again = T.pair_faces(test_set.annotations, ["image_0002", "twin"], faces.points[[f, f]], windows)
    assert not again.paired.any()
    assert all("also the best match" in s for s in again.status)


def test_pairing_bad_input(test_set: T.LfpwTestSet) -> None:
    with pytest.raises(ValueError, match="crop window"):
        T.pair_faces(test_set.annotations, ["nobody"], test_set.faces.points[:1], test_set.windows)
    with pytest.raises(ValueError):
        T.pair_faces(test_set.annotations, ["image_0002"], test_set.faces.points[:1, :10], test_set.windows)


# --- correspondence -----------------------------------------------------------------------------

def test_correspondence_table_covers_every_lfpw_point() -> None:
    assert tuple(T.LFPW_CANDIDATES) == LFPW_POINTS
    kept = {n: c for n, (c, why) in T.LFPW_CANDIDATES.items() if not why.startswith("left out")}
    assert kept == {n: (i,) for n, i in LFPW_TO_IBUG68.items()}


def test_kept_points_sit_closer_than_the_nostrils(test_set: T.LfpwTestSet) -> None:
    off = T.candidate_offsets(test_set.pairing, test_set.annotations, test_set.faces.points, test_set.windows)
    kept = [off[n] for n in LFPW_TO_IBUG68]
    assert max(kept) < 0.06 < min(off["left_nose_out"], off["right_nose_out"])


# --- comparison ------------------------------------------------------------------------------------

def test_errors_by_hand() -> None:
    """One synthetic face on an identity window (384 px from (0, 0)): the workers are 3 px right and
    4 px below the 300-W points (5 px), the model is exact. With outer eye corners 100 px apart the
    worker NME is 5 / 100 = 0.05 and the model's 0."""
    ref = np.zeros((68, 2))
    ref[:, 0] = np.linspace(100, 280, 68)
    ref[:, 1] = np.linspace(120, 300, 68) % 97 + 150
    ref[36], ref[45] = [140.0, 160.0], [240.0, 160.0]  # inter_ocular = 100
    ref[48], ref[54] = [160.0, 260.0], [220.0, 260.0]
    lfpw = np.full((1, 35, 2), 7.0)
    for name, i in LFPW_TO_IBUG68.items():
        lfpw[0, LFPW_POINTS.index(name)] = ref[i - 1]
    ann = LfpwAnnotations(["u0"], np.repeat(lfpw[:, None] + [3.0, 4.0], 3, axis=1), np.zeros((1, 3, 35), int), lfpw,
                          np.zeros((1, 35), int))
    windows = {"face": T.CropWindow("face", 0, 0, 384, 384)}
    p = T.pair_faces(ann, ["face"], ref[None], windows)
    assert p.paired[0] and p.residual[0] == pytest.approx(0.0, abs=1e-9)
    c = T.compare(p, ann, ref[None], windows, ref[None])
    np.testing.assert_allclose(c.nme["inter_ocular"]["worker_1"], [0.05])
    np.testing.assert_allclose(c.nme["inter_ocular"]["average"], [0.0], atol=1e-12)
    np.testing.assert_allclose(c.nme["inter_ocular"]["model"], [0.0], atol=1e-12)
    eye_centres = metrics.normalising_distance(ref, "inter_pupil")
    np.testing.assert_allclose(c.nme["inter_pupil"]["worker_0"], [5.0 / eye_centres])
    with pytest.raises(ValueError, match="one per face"):
        T.compare(p, ann, ref[None], windows, np.repeat(ref[None], 2, axis=0))


# --- verdict ----------------------------------------------------------------------------------------

def test_verdict_logic() -> None:
    workers = np.array([[0.03, 0.04, 0.05]] * 10)
    average = np.full(10, 0.025)
    better = T.lfpw_verdict(np.full(10, 0.02), workers, average)
    assert (better.level, better.beats_average, better.fraction_beating_median_worker) == ("better than", True, 1.0)
    worse = T.lfpw_verdict(np.full(10, 0.06), workers, average)
    assert (worse.level, worse.beats_average, worse.fraction_beating_median_worker) == ("worse than", False, 0.0)
    # 5 of 10 faces below the median worker (0.04): about as good; a tie does not count as beating
    mixed = T.lfpw_verdict(np.array([0.03] * 5 + [0.04] * 5), workers, average)
    assert (mixed.level, mixed.fraction_beating_median_worker) == ("about as good as", 0.5)
    assert "50%" in mixed.text and "inter_ocular" in mixed.text
    # boundaries: 6 of 10 -> better, 4 of 10 -> about as good, 3 of 10 -> worse
    for k, level in ((6, "better than"), (4, "about as good as"), (3, "worse than")):
        assert T.lfpw_verdict(np.array([0.01] * k + [0.09] * (10 - k)), workers, average).level == level
    # the tail: worse than every worker on 2 of 10 faces; one huge error lifts the mean above the workers'
    tail = T.lfpw_verdict(np.array([0.02] * 8 + [0.06, 1.0]), workers, average)
    assert (tail.level, tail.fraction_worse_than_every_worker) == ("better than", 0.2)
    assert "worse than every worker on 20%" in tail.text and "tail of large errors" in tail.text
    assert "tail of large errors" not in better.text and better.fraction_worse_than_every_worker == 0.0
    # a missing worker: the median of the two present
    gap = workers.copy()
    gap[:, 2] = np.nan
    assert T.lfpw_verdict(np.full(10, 0.034), gap, average).fraction_beating_median_worker == 1.0
    with pytest.raises(ValueError, match="workers"):
        T.lfpw_verdict(np.zeros(3), np.zeros(3), np.zeros(3))


# --- the --doc output block ---------------------------------------------------------------------------

def test_write_into_doc(tmp_path: Path) -> None:
    from facelandmarks.human import study

    doc = tmp_path / "human.md"
    doc.write_text(f"# t\nbefore\n{study.DOC_BEGIN}\n```\nold numbers\n```\n{study.DOC_END}\nafter\n")
    study.write_into_doc(doc, "new numbers\n")
    study.write_into_doc(doc, "newer numbers")  # idempotent: the markers survive
    assert doc.read_text() == f"# t\nbefore\n{study.DOC_BEGIN}\n```\nnewer numbers\n```\n{study.DOC_END}\nafter\n"
    doc.write_text(f"no markers\n{study.DOC_END}\n")
    with pytest.raises(ValueError, match="exactly one line"):
        study.write_into_doc(doc, "x")
    with pytest.raises(FileNotFoundError, match="--doc"):
        study.write_into_doc(tmp_path / "missing.md", "x")
