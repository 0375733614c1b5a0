"""The widgets' logic without a browser: sorting, filtering, stepping and slider sync, failing faces,
the cascade's stages, the annotator's click mapping and scoring glue.

Most tests use a small synthetic Evaluation whose errors are known by construction; the cascade
and annotator tests use the shipped model and the real data (skipped without the data).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from facelandmarks import metrics, widgets
from facelandmarks.datasets import FaceSet
from facelandmarks.evaluation import Evaluation
from facelandmarks.geometry import transform_points

JAW = slice(0, 17)
# face i: jaw points off by JAW_ERR[i], the 51 others by OTHER_ERR[i] (pixels, along x); the
# outer eye corners are 20 px apart, so NME_i = (17 * JAW_ERR[i] + 51 * OTHER_ERR[i]) / 68 / 20.
JAW_ERR = np.array([8.0, 0.0, 2.0, 4.0, 1.0, 6.0])
OTHER_ERR = np.array([0.0, 3.0, 1.0, 0.5, 2.0, 0.2])
NAMES = ["f", "b", "d", "a", "e", "c"]


@pytest.fixture(scope="module")
def synthetic() -> Evaluation:
    rng = np.random.default_rng(0)
    gt = rng.uniform(10, 54, size=(6, 68, 2))
    gt[:, 36], gt[:, 45] = (20.0, 30.0), (40.0, 30.0)  # inter_ocular = 20 px, so the errors are not moved
    pred = gt.copy()
    pred[:, JAW, 0] += JAW_ERR[:, None]
    pred[:, 17:, 0] += OTHER_ERR[:, None]
    level1 = gt + 1.0
    images = [np.full((64, 64, 3), 40 * k, np.uint8) for k in range(6)]
    faces = FaceSet(list(NAMES), images, gt)
    fallback = np.array([False, False, True, False, True, False])
    boxes = np.tile([8.0, 8.0, 56.0, 56.0], (6, 1))
    return Evaluation(faces, pred, level1, pred, boxes, "detector:test", fallback)


def test_synthetic_errors_are_the_hand_computed_ones(synthetic):
    np.testing.assert_allclose(synthetic.nme, (17 * JAW_ERR + 51 * OTHER_ERR) / 68 / 20)
    names, per_group = widgets.group_errors(synthetic.point_errors, synthetic.faces.scheme)
    np.testing.assert_allclose(per_group[:, names.index("jaw")], JAW_ERR / 20)
    np.testing.assert_allclose(per_group[:, names.index("mouth")], OTHER_ERR / 20)


# ------------------------------------------------------------------------------------------------
# BrowserState
# ------------------------------------------------------------------------------------------------

def test_order_and_bounded_stepping(synthetic):
    state = widgets.BrowserState(synthetic, order="worst")
    nme = synthetic.nme
    assert list(state.indices) == list(np.argsort(-nme))
    assert state.current == int(np.argmax(nme)) and state.rank == 1 and state.count == 6
    assert state.step(-1) == int(np.argmax(nme)) and state.position == 0  # clipped at the start
    assert state.step(+2) == int(np.argsort(-nme)[2]) and state.rank == 3
    assert state.go(100) == int(np.argmin(nme)) and state.rank == 6  # clipped at the end
    assert state.step(+1) == int(np.argmin(nme))
    assert state.update(order="best") == int(np.argmin(nme)) and state.rank == 1  # a new order starts over
    state.update(order="name")
    assert [NAMES[i] for i in state.indices] == sorted(NAMES)


def test_group_filter_sorts_by_the_groups_nme(synthetic):
    state = widgets.BrowserState(synthetic, group="jaw")
    np.testing.assert_allclose(state.errors(), JAW_ERR / 20)
    assert list(state.indices) == list(np.argsort(-JAW_ERR, kind="stable"))
    n = state.numbers()
    assert n["group"] == "jaw" and n["group_nme"] == pytest.approx(JAW_ERR.max() / 20)
    assert n["worst_group"] == "jaw" and n["norm"] == "inter_ocular"
    assert "jaw 40.00%" in state.describe() and "normalised by inter_ocular" in state.describe()
    with pytest.raises(KeyError, match="no subset or group"):
        state.update(group="ears")


def test_subsets_and_nme_range(synthetic):
    subsets = widgets.face_subsets(synthetic, labels=["afw", "afw", "helen", "helen", "helen", "afw"])
    assert list(subsets) == ["all faces", "afw", "helen", "detector box", "fallback box"]
    np.testing.assert_array_equal(subsets["fallback box"], synthetic.fallback)
    state = widgets.BrowserState(synthetic, subsets=subsets)
    state.update(subset="helen")
    assert sorted(state.indices) == [2, 3, 4]
    state.update(subset="fallback box")
    assert sorted(state.indices) == [2, 4]
    assert "detector found no face" in state.numbers()["box"]
    state.update(subset="all faces", nme_range=(0.05, 0.1))
    inside = np.flatnonzero((synthetic.nme >= 0.05) & (synthetic.nme <= 0.1))
    assert sorted(state.indices) == sorted(inside) and len(inside) not in (0, 6)
    state.update(nme_range=(0.9, 1.0))
    assert state.current is None and state.rank == 0 and state.numbers() is None
    assert state.describe() == "no face matches the filters"
    assert state.step(1) is None


def test_bad_browser_input(synthetic):
    with pytest.raises(ValueError, match="order"):
        widgets.BrowserState(synthetic, order="random")
    with pytest.raises(ValueError, match="unknown subset"):
        widgets.BrowserState(synthetic, subset="lfpw")
    with pytest.raises(ValueError, match="low <= high"):
        widgets.BrowserState(synthetic, nme_range=(0.2, 0.1))
    with pytest.raises(TypeError, match="update"):
        widgets.BrowserState(synthetic).update(position=3)
    with pytest.raises(ValueError, match="one per face"):
        widgets.face_subsets(synthetic, labels=["afw"])
    with pytest.raises(ValueError, match="unknown layers"):
        widgets.render_face(synthetic, 0, ("truth", "heatmap"))


# ------------------------------------------------------------------------------------------------
# Failures at a threshold
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("threshold", [0.0, 0.02, 0.05, 0.08, 1.0])
def test_failing_faces_are_the_ones_failure_rate_counts(synthetic, threshold):
    bad = widgets.failing_faces(synthetic.nme, threshold)
    assert len(bad) == round(metrics.failure_rate(synthetic.nme, threshold) * 6)
    assert list(synthetic.nme[bad]) == sorted(synthetic.nme[bad], reverse=True)
    assert set(bad) == set(np.flatnonzero(synthetic.nme > threshold))


def test_ced_failures_name_the_worst_groups(synthetic):
    rows = widgets.ced_failures(synthetic, 0.05)
    assert [r["index"] for r in rows] == list(widgets.failing_faces(synthetic.nme, 0.05))
    assert rows[0]["name"] == "b"  # face 1: NME 51 * 3 / 68 / 20 = 0.1125, its jaw exact
    assert rows[0]["worst_groups"][0][1] == pytest.approx(0.15) and rows[0]["worst_groups"][0][0] != "jaw"
    face0 = next(r for r in rows if r["name"] == "f")  # NME 17 * 8 / 68 / 20 = 0.1: jaw 8 px off, the rest exact
    assert face0["worst_groups"][0] == ("jaw", pytest.approx(0.4)) and face0["worst_groups"][1][1] == 0.0


# ------------------------------------------------------------------------------------------------
# The widgets' wiring (Python side): slider sync, filters, redraws
# ------------------------------------------------------------------------------------------------

def test_browser_buttons_and_slider_stay_in_sync(synthetic):
    b = widgets.prediction_browser(synthetic)
    assert b.image.value[:4] == b"\x89PNG" and "rank 1 of 6" in b.info.value
    assert b.prev_button.disabled and not b.next_button.disabled
    first = b.image.value
    b.next_button.click()
    assert b.state.rank == 2 and b.slider.value == 2 and "rank 2 of 6" in b.info.value
    assert b.image.value != first and not b.prev_button.disabled
    b.slider.value = 6
    assert b.state.rank == 6 and b.state.current == int(np.argmin(synthetic.nme)) and b.next_button.disabled
    b.next_button.click()  # at the end: nothing moves
    assert b.state.rank == 6 and b.slider.value == 6
    b.prev_button.click()
    assert b.state.rank == 5 and b.slider.value == 5


def test_browser_filters_and_layers(synthetic):
    b = widgets.prediction_browser(synthetic, labels=["afw", "afw", "helen", "helen", "helen", "afw"])
    b.slider.value = 3
    b.group.value = "jaw"
    assert b.state.group == "jaw" and b.slider.value == 1 and b.state.current == 0
    assert "NME jaw" in b.info.value and "40.00%" in b.info.value
    b.subset.value = "helen"
    assert b.slider.max == 3 and sorted(b.state.indices) == [2, 3, 4]
    before = b.image.value
    b.layers["level 1"].value = True
    assert b.image.value != before
    b.nme_range.value = (25.0, b.nme_range.max)  # the worst helen jaw is 4 px / 20 px = 20%
    assert b.state.count == 0 and "no face matches" in b.info.value
    assert b.slider.disabled and b.next_button.disabled and b.prev_button.disabled
    b.nme_range.value = (0.0, b.nme_range.max)
    assert b.state.count == 3 and not b.next_button.disabled


def test_ced_explorer_follows_its_threshold(synthetic):
    ced = widgets.ced_explorer(synthetic, threshold=0.08)
    n = len(widgets.failing_faces(synthetic.nme, 0.08))
    assert f"{n} of 6 faces fail at 0.080" in ced.info.value and len(ced.thumbnails.children) == n
    curve = ced.curve.value
    ced.slider.value = 0.02
    n = len(widgets.failing_faces(synthetic.nme, 0.02))
    assert f"{n} of 6 faces fail at 0.020" in ced.info.value and len(ced.thumbnails.children) == min(n, 8)
    assert f"failure rate {100 * metrics.failure_rate(synthetic.nme, 0.02):.1f}%" in ced.info.value
    assert ced.curve.value != curve
    assert list(ced.failing) == list(widgets.failing_faces(synthetic.nme, 0.02))


# ------------------------------------------------------------------------------------------------
# One face through the shipped cascade
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stages(data_root):
    from facelandmarks import datasets, load_pretrained
    from facelandmarks.geometry import points_box

    faces = datasets.load_split("helen", data_root, limit=1, progress=False)
    return widgets.cascade_stages(load_pretrained(), faces.images[0], points_box(faces.points[0]), faces.points[0])


def test_cascade_stages_are_consistent_frames(stages):
    from facelandmarks import load_pretrained

    correction = load_pretrained().shape_correction
    r, p = stages.prediction, stages.patch_size
    np.testing.assert_allclose(stages.crop_points, transform_points(r.level1_points, r.crop_matrix))
    assert stages.crop.shape == (128, 128, 3) and stages.patches.shape == (68, p, p, 3)
    # every patch is centred on its level-1 point
    centres = np.stack([transform_points(r.level1_points[k][None], r.patch_matrices[k])[0] for k in range(68)])
    np.testing.assert_allclose(centres, (p - 1) / 2, atol=1e-6)
    # the votes, mapped back to the image and averaged per point, are level 2's points
    votes = stages.votes_in_image().reshape(-1, 2)
    targets = stages.vote_targets.reshape(-1)
    mean = np.stack([votes[targets == k].mean(axis=0) for k in range(68)])
    # (then moved by level 2's shape correction, ours)
    np.testing.assert_allclose(correction.apply(mean[None], r.rectify_matrix[None])[0], r.level2_points, atol=1e-3)
    assert (stages.vote_targets[:, 0] == np.arange(68)).all()  # each patch votes for its own point first


def test_cascade_viewer_redraws_the_chosen_patch(data_root):
    from facelandmarks import datasets, load_pretrained

    faces = datasets.load_split("helen", data_root, limit=1, progress=False)
    viewer = widgets.cascade_viewer(load_pretrained(), faces.images[0], truth=faces.points[0])  # detector box
    assert viewer.stages.prediction.detector_box is not None
    assert viewer.stages_image.value[:4] == b"\x89PNG"
    before = viewer.patch_image.value
    viewer.point_slider.value = 9
    assert viewer.patch_image.value != before and viewer.patch_image.value[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------------------------
# The annotator: click mapping and the glue to human.AnnotationSession
# ------------------------------------------------------------------------------------------------

def test_viewport_maps_png_pixels_to_image_coordinates():
    vp = widgets.Viewport.fit((100, 200, 3), max_width=400, max_height=400)  # 200 x 100 image shown at 2x
    assert (vp.width, vp.height) == (400, 200) and vp.box == (-0.5, -0.5, 199.5, 99.5)
    assert vp.to_image(0, 0) == (-0.25, -0.25) and vp.to_image(399, 199) == (199.25, 99.25)
    for u, v in [(0, 0), (17, 33), (399, 199)]:
        assert vp.to_png(*vp.to_image(u, v)) == pytest.approx((u, v))
    zoomed = widgets.Viewport.fit((100, 200, 3), 400, 400, zoom=4, centre=(0.0, 0.0))  # clamped inside
    assert zoomed.box == (-0.5, -0.5, 49.5, 24.5) and (zoomed.width, zoomed.height) == (400, 200)
    assert zoomed.to_image(0, 0) == (-0.4375, -0.4375)  # 8 PNG pixels per image pixel
    with pytest.raises(ValueError, match="zoom"):
        widgets.Viewport.fit((100, 200, 3), zoom=0.5)


@pytest.fixture()
def one_image_session(data_root):
    from facelandmarks import human

    return human.AnnotationSession("tester", images=["i001qa-mn.jpg"], root=data_root)


def test_annotator_clicks_zoom_undo_save(one_image_session, tmp_path, monkeypatch):
    from facelandmarks import human, load_pretrained

    s = one_image_session
    a = widgets.annotation_widget(s, save_path=str(tmp_path / "me.json"), cascade=load_pretrained(), score=False)
    assert f"point 1 of {s.n_total}" in a.prompt.value and a.template.value[:4] == b"\x89PNG"
    first_image, first_prompt = a.image.value, a.prompt.value
    expected = a.viewport.to_image(120, 80)
    a.events._dom_handlers({"type": "click", "dataX": 120, "dataY": 80, "shiftKey": False})  # as ipyevents sends it
    assert s.n_done == 1 and np.allclose(s.clicks[0, 0], expected)
    assert a.prompt.value != first_prompt and a.image.value != first_image and "point 2 of" in a.prompt.value
    a.zoom.value = 4  # zoomed around the last click: 4x finer, still the same image coordinates
    vp = a.viewport
    assert vp.box[2] - vp.box[0] == pytest.approx(480 / 4) and vp.box[0] <= expected[0] <= vp.box[2]
    a.handle_click(10, 10, shift=True)  # Shift: only moves the zoom window
    assert s.n_done == 1
    a.handle_click(*a.viewport.to_png(200.0, 300.0))
    assert s.n_done == 2 and np.allclose(s.clicks[0, 1], (200.0, 300.0))
    a.undo_button.click()
    assert s.n_done == 1 and "point 2 of" in a.prompt.value
    a.save_button.click()
    assert human.AnnotationSession.load(tmp_path / "me.json", s.root).n_done == 1 and "saved 1 clicks" in a.status.value
    a.save_path = None  # the default: this folder, under the session's own unique name
    monkeypatch.chdir(tmp_path)
    a.save_button.click()
    assert (tmp_path / s.default_filename()).is_file() and s.session_id[:8] in s.default_filename()
    other = widgets.annotation_widget(human.AnnotationSession("tester", images=s.images, root=s.root),
                                      save_path=str(tmp_path / "me.json"), score=False)
    other.save_button.click()  # another session, the same file: refused, and the widget says so
    assert "could not save" in other.status.value and "another session" in other.status.value
    a.score_button.click()
    assert "No image is complete yet" in a.result.value


def test_perfect_clicks_score_zero_and_the_widget_shows_the_comparison(one_image_session, data_root):
    from facelandmarks import human, load_pretrained

    s = one_image_session
    refs = human.jdc_references(human.load_jdc(data_root).select(group="expert"))
    cascade = load_pretrained(fuse=True)
    a = widgets.annotation_widget(s, cascade=cascade, score=True)
    for pid in s.point_ids:  # click every point exactly on its reference, through the PNG
        a.handle_click(*a.viewport.to_png(*refs["i001qa-mn.jpg"][human.JDC_POINT_IDS.index(pid)]))
    assert s.done and "done" in a.prompt.value
    result = widgets.score_session(s, cascade, n_jitter=2)
    row = result.score.rows[0]
    assert row["image"] == "i001qa-mn.jpg" and row["learner"] == pytest.approx(0.0, abs=1e-9)
    assert row["crowd_percentile"] == 0.0 and not math.isnan(row["model_median"])
    assert row["model_median"] == pytest.approx(float(np.median(result.model.nme[0])))
    # scoring ran by itself after the last click: the same numbers, in words and in a figure
    assert "i001qa-mn.jpg: you 0.000 (better than 100% of the crowd" in a.result.value
    assert ", model 0." in a.result.value
    assert a.result_image.value[:4] == b"\x89PNG"
