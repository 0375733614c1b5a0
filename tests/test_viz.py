"""Figures build with the Agg backend, hold the expected artists, and leave pyplot's state alone."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from facelandmarks import metrics, viz  # noqa: E402
from facelandmarks.schemes import FIVE_POINT, IBUG68  # noqa: E402

RNG = np.random.default_rng(0)
SHAPE = RNG.uniform(10, 90, (68, 2))
IMAGE = RNG.integers(0, 256, (100, 120, 3)).astype(np.uint8)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def scatters(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_draw_landmarks_dots_edges_and_group_colours():
    fig, ax = plt.subplots()
    assert viz.draw_landmarks(ax, SHAPE) is ax
    (dots,) = scatters(ax)
    np.testing.assert_allclose(dots.get_offsets(), SHAPE)
    np.testing.assert_allclose(dots.get_facecolors(), [to_rgba(c) for c in IBUG68.point_colors()])
    assert to_rgba(IBUG68.group_colors["right_eye"]) != to_rgba(IBUG68.group_colors["left_eye"])
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == len(IBUG68.edges)
    a, b = IBUG68.edges[5]
    np.testing.assert_allclose(lines.get_segments()[5], SHAPE[[a, b]])


def test_draw_landmarks_options():
    fig, ax = plt.subplots()
    viz.draw_landmarks(ax, SHAPE, color="red", edges=False, label="truth", numbers=True, size=30)
    (dots,) = scatters(ax)
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    np.testing.assert_allclose(dots.get_facecolors(), np.tile(to_rgba("red"), (68, 1)))
    assert dots.get_sizes()[0] == 30
    assert [t.get_text() for t in ax.texts] == [str(i) for i in range(1, 69)]  # 1-based numbers
    assert ax.get_legend_handles_labels()[1] == ["truth"]
    viz.draw_landmarks(ax, SHAPE[:5], scheme=FIVE_POINT)  # another scheme, its own edges
    assert len(scatters(ax)) == 2


def test_draw_landmarks_refuses_bad_points():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="must hold 68 points, got 5"):
        viz.draw_landmarks(ax, SHAPE[:5])
    with pytest.raises(ValueError, match="one shape"):
        viz.draw_landmarks(ax, SHAPE[None])


def test_draw_box():
    fig, ax = plt.subplots()
    viz.draw_box(ax, (10, 20, 50, 80), color="cyan", label="box", ls="--")
    (rect,) = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert rect.get_xy() == (10, 20) and rect.get_width() == 40 and rect.get_height() == 60
    assert rect.get_edgecolor() == to_rgba("cyan") and not rect.get_fill() and rect.get_linestyle() == "--"
    with pytest.raises(ValueError, match="degenerate"):
        viz.draw_box(ax, (10, 20, 10, 80))


def test_show_faces_grid_and_groups():
    fig = viz.show_faces([IMAGE] * 5, [SHAPE] * 4 + [None], titles=list("abcde"), ncols=4)
    assert len(fig.axes) == 8  # 2 rows of 4
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5 and [ax.get_title() for ax in visible] == list("abcde")
    assert [len(scatters(ax)) for ax in visible] == [1, 1, 1, 1, 0]
    assert all(len(ax.images) == 1 for ax in visible)
    (legend,) = fig.legends  # the group colours
    assert [t.get_text() for t in legend.get_texts()] == [g.replace("_", " ") for g in IBUG68.groups]
    fig.canvas.draw()  # the layout (legend outside the grid) renders


def test_show_faces_overlays_labelled_sets_with_one_legend():
    entries = [{"truth": SHAPE, "cascade": SHAPE + 1}, {"cascade": SHAPE - 1, "truth": SHAPE}]
    fig = viz.show_faces([IMAGE, IMAGE.astype(np.float32)], entries, ncols=4)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(scatters(ax)) == 2
    # a label keeps its colour in every face
    colour = {ax_dots.get_label(): tuple(ax_dots.get_facecolors()[0]) for ax in fig.axes for ax_dots in scatters(ax)}
    assert len(set(colour.values())) == 2
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["truth", "cascade"]
    with pytest.raises(ValueError, match="2 images but 1 point sets"):
        viz.show_faces([IMAGE, IMAGE], [SHAPE])


def test_plot_ced_names_normaliser_threshold_auc_and_failures():
    errors = {"a": np.array([0.0, 0.0, 0.5, 0.5]), "b": np.array([0.01, 0.02, 0.05, 0.1])}
    ax = viz.plot_ced(errors, threshold=0.08, norm="inter_pupil")
    assert len(ax.lines) == 2
    assert ax.get_xlabel() == "NME (inter_pupil)" and ax.get_xlim() == (0.0, 0.08)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    # a: AUC 0.5 (half the errors are 0), failures 2 of 4 = 50%; b: 0.1 fails -> 25%
    assert texts[0] == "a: AUC@0.08 = 0.500, failures@0.08 = 50.0%"
    assert texts[1] == f"b: AUC@0.08 = {metrics.auc(errors['b'], 0.08):.3f}, failures@0.08 = 25.0%"
    np.testing.assert_allclose(ax.lines[1].get_ydata()[-1], 0.75)  # CED(0.08) of b
    fig, own = plt.subplots()
    assert viz.plot_ced(errors, ax=own, max_error=0.15) is own and own.get_xlim() == (0.0, 0.15)


def test_plot_training_log_from_rows_and_from_csv(tmp_path):
    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_nme": 0.2 / e} for e in range(1, 6)]
    path = tmp_path / "log.csv"
    path.write_text("epoch,train_loss,val_loss,val_nme,lr,seconds\n"
                    + "".join(f"{r['epoch']},{r['train_loss']},{r['val_loss']},{r['val_nme']},0.001,3\n" for r in rows))
    fig = viz.plot_training_log({"from rows": rows, "from csv": path}, title="two runs")
    nme_ax, train_ax, val_ax = fig.axes  # one panel per quantity, no twin axes
    assert [ax.get_title() for ax in fig.axes] == ["validation NME (inter_ocular)", "training loss",
                                                   "validation loss"]
    assert all(len(ax.lines) == 2 for ax in fig.axes)  # one line per run in every panel
    np.testing.assert_allclose(nme_ax.lines[1].get_ydata(), [r["val_nme"] for r in rows])
    np.testing.assert_allclose(val_ax.lines[1].get_ydata(), [r["val_loss"] for r in rows])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["from rows", "from csv"]
    assert fig.get_suptitle() == "two runs" and nme_ax.get_xlabel() == "epoch"
    fig.canvas.draw()


def test_plot_training_log_draws_its_axes_from_zero():
    """A nearly flat validation NME (an overfitting run) must look flat, not like a large swing."""
    rows = [{"epoch": e, "train_loss": 0.09 / e, "val_nme": 0.2266 - 0.0001 * e} for e in range(1, 9)]
    nme_ax, train_ax = viz.plot_training_log({"run": rows}).axes
    assert nme_ax.get_ylim()[0] == 0 and train_ax.get_ylim()[0] == 0
    assert nme_ax.get_ylim()[1] > 0.2266
    log_ax = viz.plot_training_log({"run": rows}, log_scale=True).axes[0]
    assert log_ax.get_yscale() == "log" and log_ax.get_ylim()[0] > 0


def test_plot_training_log_numbers_cycles_continuously(tmp_path):
    first = [{"epoch": e, "train_loss": 1.0, "val_nme": 0.2} for e in range(1, 4)]
    second = [{"epoch": e, "train_loss": 0.5, "val_nme": 0.1} for e in range(1, 3)]
    fig = viz.plot_training_log({"deep": [first, second]})
    nme_ax = fig.axes[0]
    np.testing.assert_allclose(nme_ax.lines[0].get_xdata(), [1, 2, 3, 4, 5])  # not 1, 2, 3, 1, 2
    cycle_marks = [line for line in nme_ax.lines if line.get_linestyle() == ":"]
    assert len(cycle_marks) == 1 and cycle_marks[0].get_xdata()[0] == 3.5
    assert "a new cycle starts" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="training log 'empty' has no rows"):
        viz.plot_training_log({"empty": []})


def test_plot_training_log_of_the_shipped_logs():
    # level-2 logs also hold the NME before refinement: a panel of its own
    logs = sorted((Path(viz.__file__).parent / "weights" / "logs").rglob("*_log.csv"))
    logs = [p for p in logs if "epoch" in p.read_text().splitlines()[0]]
    if not logs:
        pytest.skip("no shipped training logs in facelandmarks/weights/logs")
    fig = viz.plot_training_log({p.stem: p for p in logs})
    n_level2 = sum("val_start_nme" in p.read_text().splitlines()[0] for p in logs)
    titles = [ax.get_title() for ax in fig.axes]
    assert ("validation NME before refinement" in titles) == (n_level2 > 0)
    assert len(fig.axes[0].lines) == sum("val_nme" in p.read_text().splitlines()[0] for p in logs)


def test_numbered_points_zooms_on_the_eyes_and_the_mouth():
    shape = SHAPE.copy()
    shape[48:68] = 50 + 0.2 * (SHAPE[48:68] - 50)  # a mouth smaller than the face, as in a photo
    fig = viz.numbered_points(IMAGE, shape, title="a face")
    face_ax, eyes_ax, mouth_ax = fig.axes
    assert len(face_ax.texts) == 68 and face_ax.get_title() == "a face"
    assert sorted(int(t.get_text()) for t in eyes_ax.texts) == list(range(37, 49))
    assert sorted(int(t.get_text()) for t in mouth_ax.texts) == list(range(49, 69))
    x0, x1 = mouth_ax.get_xlim()
    mouth = shape[48:68]
    assert x0 < mouth[:, 0].min() and x1 > mouth[:, 0].max()  # the mouth is in view, zoomed
    assert x1 - x0 < face_ax.get_xlim()[1] - face_ax.get_xlim()[0]
    with pytest.raises(ValueError, match="unknown groups"):
        viz.numbered_points(IMAGE, SHAPE, zooms=(("ears",),))
    fig.canvas.draw()


def test_plot_point_errors():
    errors = RNG.uniform(0, 0.1, (7, 68))
    ax = viz.plot_point_errors(errors)
    bars = ax.patches
    assert len(bars) == 68
    np.testing.assert_allclose([b.get_height() for b in bars], errors.mean(axis=0))
    assert to_rgba(bars[36].get_facecolor()) == to_rgba(IBUG68.group_colors["right_eye"])
    assert viz.plot_point_errors(errors[0]).patches[0].get_height() == errors[0, 0]
    with pytest.raises(ValueError, match="errors must be"):
        viz.plot_point_errors(errors[:, :51])


def test_data_overlay(data_root):
    fig = viz.data_overlay(data_root, n=3, seed=1)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    for ax in visible:
        (dots,) = scatters(ax)
        assert len(dots.get_offsets()) == 68
        h, w = ax.images[0].get_array().shape[:2]
        xy = dots.get_offsets()
        assert (xy[:, 0] > -0.5).all() and (xy[:, 0] < w - 0.5).all() and (xy[:, 1] < h - 0.5).all()
        assert "/" in ax.get_title()
    fig.canvas.draw()


def test_no_global_state_is_left_behind():
    rc = dict(matplotlib.rcParams)
    fig, ax = plt.subplots()
    before = plt.get_fignums()
    viz.draw_landmarks(ax, SHAPE)
    viz.draw_box(ax, (1, 1, 20, 20))
    viz.plot_ced({"a": np.array([0.01])}, ax=ax)
    viz.plot_point_errors(np.zeros(68), ax=ax)
    assert plt.get_fignums() == before  # drawing on a given ax makes no new figure
    assert dict(matplotlib.rcParams) == rc
    assert viz.plot_ced({"a": np.array([0.01])}).figure is not fig  # without ax: a figure of its own
