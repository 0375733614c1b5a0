"""Widget logic without a browser: sorting, filtering, stepping, failing faces; widgets build and redraw."""
from __future__ import annotations

import numpy as np
import pytest

from facelandmarks import datasets, load_pretrained, metrics, widgets
from facelandmarks.evaluation import evaluate


@pytest.fixture(scope="module")
def ev(data_root):
    faces = datasets.load_split("test", data_root, limit=6, progress=False)
    return evaluate(load_pretrained(fuse=True), faces, boxes="jittered")


def test_order_and_stepping(ev):
    state = widgets.BrowserState(ev, order="worst")
    assert list(ev.nme[state.indices]) == sorted(ev.nme, reverse=True)
    assert state.current == int(np.argmax(ev.nme))
    assert state.step(-1) == int(np.argmax(ev.nme))  # clipped at the start
    state.go(100)
    assert state.position == len(ev.nme) - 1 and state.current == int(np.argmin(ev.nme))
    state.order = "best"
    state.refresh()
    assert list(ev.nme[state.indices]) == sorted(ev.nme)
    assert "normalised by inter_ocular" in state.describe()


def test_group_and_subset_filters(ev):
    state = widgets.BrowserState(ev, group="jaw")
    jaw = ev.point_errors[:, 0:17].mean(axis=1)
    np.testing.assert_allclose(state.errors(), jaw)
    assert state.current == int(np.argmax(jaw))
    state.subset = ev.names[2]
    state.refresh()
    assert list(state.indices) == [2]
    state.subset = "no such face"
    state.refresh()
    assert state.current is None and state.describe() == "no face matches the filter"
    with pytest.raises(ValueError, match="order"):
        widgets.BrowserState(ev, order="random")


def test_failing_faces_agree_with_failure_rate(ev):
    for t in (0.0, 0.03, 0.05, 1.0):
        bad = widgets.failing_faces(ev.nme, t)
        assert len(bad) / len(ev.nme) == pytest.approx(metrics.failure_rate(ev.nme, t))
        assert list(ev.nme[bad]) == sorted(ev.nme[bad], reverse=True)


def test_widgets_build_and_redraw(ev):
    browser = widgets.prediction_browser(ev)
    image = browser.children[-1]
    first = image.value
    slider = browser.children[1].children[1]
    slider.value = 1
    assert image.value != first and image.value[:4] == b"\x89PNG"
    ced = widgets.ced_explorer(ev)
    info = ced.children[1].children[1]
    before = info.value
    ced.children[0].value = 0.02
    assert info.value != before
    viewer = widgets.cascade_viewer(load_pretrained(), ev.faces.images[0], ev.boxes[0])
    assert viewer.children[0].value[:4] == b"\x89PNG"


def test_annotation_widget_records_clicks_and_undo(data_root, tmp_path):
    from facelandmarks import human

    session = human.AnnotationSession("tester", root=data_root)
    box = widgets.annotation_widget(session, save_path=str(tmp_path / "me.json"), score=False)
    prompt, (undo, save), image = box.children[0], box.children[1].children, box.children[2]
    first_prompt, first_image = prompt.value, image.value
    assert f"point 1 of {session.n_total}" in first_prompt
    box._events._dom_handlers({"type": "click", "dataX": 120, "dataY": 80})  # what ipyevents sends
    assert session.n_done == 1 and np.allclose(session.clicks[0, 0], [120, 80])
    assert prompt.value != first_prompt and image.value != first_image  # the click is drawn
    undo.click()
    assert session.n_done == 0 and prompt.value == first_prompt
    box._events._dom_handlers({"type": "click", "dataX": 10, "dataY": 12})
    save.click()
    assert human.AnnotationSession.load(tmp_path / "me.json").n_done == 1
