"""The CED explorer: move a threshold over the cumulative error distribution and see which faces
fail there and why (logic: :func:`failing_faces`, :func:`ced_failures`; widget: :class:`CedExplorer`)."""
from __future__ import annotations

import html

import ipywidgets as w
import numpy as np

from .. import metrics, viz
from ..evaluation import Evaluation
from ..metrics import NORMALISER_NAMES
from .browser import group_errors
from .drawing import figure, hbox_top, pct, png, render_thumbnail

__all__ = ["failing_faces", "ced_failures", "CedExplorer", "ced_explorer"]


def failing_faces(errors: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the faces whose error is above ``threshold``, worst first.

    Exactly the faces :func:`facelandmarks.metrics.failure_rate` counts:
    ``len(failing_faces(e, t)) == failure_rate(e, t) * len(e)``.
    """
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(errors > threshold)
    return bad[np.argsort(-errors[bad], kind="stable")]


def ced_failures(evaluation: Evaluation, threshold: float, n_groups: int = 2) -> list[dict[str, object]]:
    """The faces failing at ``threshold`` (final NME above it), worst first, with their worst groups.

    Returns one dict per failing face: ``index``, ``name``, ``nme``, ``worst_groups`` (the
    ``n_groups`` groups with the largest mean point error, as ``(group, error)`` pairs, worst first).
    """
    names, per_group = group_errors(evaluation.point_errors, evaluation.faces.scheme)
    rows = []
    for i in failing_faces(evaluation.nme, threshold):
        order = np.argsort(-per_group[i], kind="stable")[:n_groups]
        rows.append({"index": int(i), "name": evaluation.names[i], "nme": float(evaluation.nme[i]),
                     "worst_groups": [(names[g], float(per_group[i, g])) for g in order]})
    return rows


def _ced_png(evaluation: Evaluation, threshold: float, max_error: float, width: int = 560, height: int = 380) -> bytes:
    ev = evaluation
    fig = figure(width, height, layout="constrained")
    ax = fig.add_subplot()
    viz.plot_ced({"level 1": ev.nme_level1, "cascade": ev.nme}, threshold=threshold, norm=ev.norm, ax=ax,
                 max_error=max_error)
    ax.axvline(threshold, color="red", ls="--", lw=1)
    under = float(metrics.ced(ev.nme, np.array([threshold]))[0])
    ax.plot([threshold], [under], "o", color="red")
    ax.annotate(f"{100 * (1 - under):.1f}% of faces fail (NME > {threshold:.3f})", (threshold, under),
                xytext=(6, -14), textcoords="offset points", fontsize=8, color="red")
    return png(fig)


class CedExplorer(w.VBox):
    """Move a threshold over the CED: the curves with the threshold line (``curve``), how many faces
    fail and their worst point groups (``info``), and thumbnails of the worst failures (``thumbnails``)."""

    def __init__(self, evaluation: Evaluation, threshold: float = 0.08, max_error: float = 0.2,
                 n_thumbnails: int = 8) -> None:
        self.evaluation = evaluation
        self.max_error = max_error
        self.n_thumbnails = n_thumbnails
        self._thumbs: dict[int, w.VBox] = {}
        self.slider = w.FloatSlider(value=threshold, min=0.01, max=max_error, step=0.005, description="threshold",
                                    readout_format=".3f", continuous_update=False, layout=w.Layout(width="420px"))
        self.curve = w.Image(format="png")
        self.info = w.HTML(layout=w.Layout(margin="0 0 0 12px", width="420px"))
        self.thumbnails = w.GridBox(layout=w.Layout(grid_template_columns="repeat(4, 160px)", grid_gap="4px"))
        self.slider.observe(lambda _: self.redraw(), names="value")
        super().__init__([self.slider, hbox_top(self.curve, self.info), self.thumbnails])
        self.add_class("facelandmarks-ced-explorer")
        self.redraw()

    @property
    def failing(self) -> np.ndarray:
        """Indices of the faces failing at the current threshold, worst first."""
        return failing_faces(self.evaluation.nme, self.slider.value)

    def _thumb(self, i: int) -> w.VBox:
        if i not in self._thumbs:
            ev = self.evaluation
            self._thumbs[i] = w.VBox([w.Image(value=render_thumbnail(ev, i), format="png"),
                                      w.HTML(f"<small>{html.escape(ev.names[i])}: {pct(ev.nme[i])}</small>")])
        return self._thumbs[i]

    def redraw(self) -> None:
        ev, t = self.evaluation, self.slider.value
        self.curve.value = _ced_png(ev, t, self.max_error)
        rows = ced_failures(ev, t)
        rate = metrics.failure_rate(ev.nme, t)
        head = (f"<b>{len(rows)} of {len(ev.nme)} faces fail at {t:.3f}</b> (failure rate {100 * rate:.1f}%; "
                f"NME normalised by {ev.norm}, {NORMALISER_NAMES.get(ev.norm, ev.norm)})")
        worst_counts: dict[str, int] = {}
        for r in rows:
            worst_counts[r["worst_groups"][0][0]] = worst_counts.get(r["worst_groups"][0][0], 0) + 1
        summary = ", ".join(f"{g} {k}" for g, k in sorted(worst_counts.items(), key=lambda kv: -kv[1]))
        items = "".join(f"<li>{html.escape(r['name'])}: {pct(r['nme'])} (worst: "
                        + ", ".join(f"{g} {pct(e)}" for g, e in r["worst_groups"]) + ")</li>" for r in rows[:12])
        more = f"<li>... and {len(rows) - 12} more</li>" if len(rows) > 12 else ""
        self.info.value = (head + (f"<br>worst group of the failing faces: {summary}" if rows else "")
                           + f"<ol style='font-size:12px'>{items}{more}</ol>")
        self.thumbnails.children = [self._thumb(r["index"]) for r in rows[:self.n_thumbnails]]


def ced_explorer(evaluation: Evaluation, threshold: float = 0.08) -> CedExplorer:
    """A :class:`CedExplorer` over ``evaluation``, starting at ``threshold``."""
    return CedExplorer(evaluation, threshold)
