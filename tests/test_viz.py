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
    ax = viz.plot_training_log({"from rows": rows, "from csv": path})
    loss_ax = [a for a in ax.figure.axes if a is not ax][0]
    assert len(ax.lines) == 2 and len(loss_ax.lines) == 4  # NME per run; train + val loss per run
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [r["val_nme"] for r in rows])
    np.testing.assert_allclose(loss_ax.lines[3].get_ydata(), [r["val_loss"] for r in rows])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["from rows", "from csv", "validation NME", "training loss", "validation loss"]
    assert "NME" in ax.get_ylabel() and ax.get_xlabel() == "epoch"
    ax.figure.canvas.draw()


def test_plot_training_log_of_the_shipped_logs():
    # level-2 logs also hold the NME before refinement: a second NME line per run
    logs = sorted((Path(viz.__file__).parent / "weights" / "logs").glob("*.csv"))
    if not logs:
        pytest.skip("no shipped training logs in facelandmarks/weights/logs")
    ax = viz.plot_training_log({p.stem: p for p in logs})
    n_level2 = sum("val_start_nme" in p.read_text().splitlines()[0] for p in logs)
    assert len(ax.lines) == len(logs) + n_level2


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
