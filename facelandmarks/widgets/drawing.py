"""Drawing shared by the widgets: matplotlib without pyplot (Agg) into PNG bytes, the colours of
the point sets, showing a region of a photo fast, and small HTML/layout helpers.

Landmarks, boxes and CED curves themselves are drawn by :mod:`facelandmarks.viz`; what is here is
how the widgets turn a figure into the PNG an ``ipywidgets.Image`` shows.
"""
from __future__ import annotations

import html
import io as _io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .. import viz
from ..evaluation import Evaluation
from ..geometry import points_box, square_box

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["DPI", "ERROR_VMAX", "TRUTH", "LEVEL1", "FINAL", "LEARNER", "figure", "png", "message_png",
           "show_region", "face_view", "pct", "error_scale", "render_thumbnail", "hbox_top", "html_table"]

DPI = 100
ERROR_VMAX = 0.1  # colour scale of point errors (normalised), fixed so colours compare across faces
TRUTH, LEVEL1, FINAL, LEARNER = "lime", "orange", "red", "magenta"  # colours of the point sets


def figure(width_px: int, height_px: int, layout: str | None = None) -> Figure:
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure) -> bytes:
    buf = _io.BytesIO()
    # zlib level 1: encoding a photo at the default level 6 takes 2-3x longer, for files ~10% smaller
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def message_png(text: str, width: int = 480, height: int = 120) -> bytes:
    fig = figure(width, height)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11)
    return png(fig)


def show_region(ax: Axes, image: np.ndarray, box: Sequence[float]) -> None:
    """Show the part ``box`` (x0, y0, x1, y1) of ``image`` in image coordinates; only those pixels are
    handed to matplotlib (fast for large photos), outside the image is black."""
    rows, cols = image.shape[:2]
    x0, y0, x1, y1 = box
    c0, c1 = max(0, math.floor(x0 + 0.5)), min(cols, math.ceil(x1 + 0.5))  # the pixels the box touches
    r0, r1 = max(0, math.floor(y0 + 0.5)), min(rows, math.ceil(y1 + 0.5))
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="black", lw=0, zorder=0))
    if c1 > c0 and r1 > r0:
        ax.imshow(image[r0:r1, c0:c1], extent=(c0 - 0.5, c1 - 0.5, r1 - 0.5, r0 - 0.5), interpolation="antialiased")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_axis_off()  # no axis to draw: a third of the time of a redraw


def face_view(*point_sets: np.ndarray, pad: float = 1.3) -> np.ndarray:
    """A square box around all the given ``(N, 2)`` point sets, ``pad`` times their extent."""
    return square_box(points_box(np.concatenate(point_sets)), pad)


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def error_scale(ax: Axes, cmap, label: str) -> None:
    """A colour scale 0 .. :data:`ERROR_VMAX` in the lower right corner of ``ax`` (an image in axes
    coordinates and a few texts: much cheaper to draw than a colorbar's own axes)."""
    box = {"facecolor": "black", "alpha": 0.6, "lw": 0}
    ax.text(0.75, 0.075, label, transform=ax.transAxes, ha="center", va="bottom", fontsize=7, color="white", bbox=box)
    ax.imshow(np.linspace(0, 1, 64)[None], cmap=cmap, aspect="auto", extent=(0.55, 0.95, 0.04, 0.065),
              transform=ax.transAxes, zorder=7)
    for value in (0.0, ERROR_VMAX / 2, ERROR_VMAX):
        ax.text(0.55 + 0.4 * value / ERROR_VMAX, 0.035, f"{value:.2f}", transform=ax.transAxes, ha="center",
                va="top", fontsize=6, color="white", bbox=box)


def render_thumbnail(evaluation: Evaluation, index: int, size: int = 150) -> bytes:
    """Small PNG of one face: ground truth (lime) and final points (red), no legend."""
    ev = evaluation
    gt, pred = ev.gt[index], ev.points[index]
    fig = figure(size, size)
    ax = fig.add_axes((0, 0, 1, 1))
    show_region(ax, ev.faces.images[index], face_view(gt, pred))
    viz.draw_landmarks(ax, gt, ev.faces.scheme, color=TRUTH, edges=False, size=3)
    viz.draw_landmarks(ax, pred, ev.faces.scheme, color=FINAL, edges=False, size=3)
    return png(fig)



def hbox_top(*children: w.Widget) -> w.HBox:
    """An HBox whose children keep their own height (by default flex stretches an image to its neighbour's)."""
    return w.HBox(list(children), layout=w.Layout(align_items="flex-start"))


def html_table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding-right:10px'>{html.escape(k)}</td><td><b>{html.escape(v)}</b></td></tr>"
                    for k, v in rows)
    return f"<table style='font-size:13px'>{cells}</table>"
