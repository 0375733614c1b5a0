"""The prediction browser: an Evaluation's faces sorted by NME, filtered by subset, point group and
NME range, stepped one by one with the chosen overlays (logic: :class:`BrowserState`; widget:
:class:`PredictionBrowser`)."""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ipywidgets as w
import numpy as np
from matplotlib.collections import LineCollection

from .. import viz
from ..evaluation import Evaluation
from ..metrics import NORMALISER_NAMES
from ..schemes import LandmarkScheme
from .drawing import ERROR_VMAX, LEVEL1, TRUTH, error_scale, face_view, figure, hbox_top, html_table, message_png, pct, png, show_region

__all__ = ["ORDERS", "LAYERS", "DEFAULT_LAYERS", "BrowserState", "face_subsets", "group_errors", "render_face",
           "PredictionBrowser", "prediction_browser"]

ORDERS = ("worst", "best", "name")
"""Orders of the prediction browser: worst NME first, best first, or by face name."""
LAYERS = ("truth", "level 1", "final", "error colours", "vectors")
"""Overlays of a face: ground truth, level-1 points, final points, final points coloured by their
error (instead of by group), error vectors from the truth to the final points."""
DEFAULT_LAYERS = ("truth", "final", "error colours", "vectors")


def face_subsets(evaluation: Evaluation, labels: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Named subsets of an Evaluation's faces, name -> ``(B,)`` bool mask.

    Always ``"all faces"``; one subset per distinct value of ``labels`` (one label per face, e.g.
    ``Face.subset`` of :func:`facelandmarks.datasets.split_faces`: ``"afw"``, ``"helen/testset"``);
    and, when the detector missed some faces, ``"detector box"`` and ``"fallback box"`` (the faces
    predicted from a jittered ground-truth box instead, :attr:`Evaluation.fallback`).
    """
    n = len(evaluation.names)
    out = {"all faces": np.ones(n, bool)}
    if labels is not None:
        labels = list(labels)
        if len(labels) != n:
            raise ValueError(f"labels: one per face needed, got {len(labels)} for {n} faces")
        for label in dict.fromkeys(labels):
            out[str(label)] = np.array([lab == label for lab in labels])
    fallback = np.asarray(evaluation.fallback, bool)
    if fallback.any():
        out["detector box"] = ~fallback
        out["fallback box"] = fallback.copy()
    return out


def group_errors(point_errors: np.ndarray, scheme: LandmarkScheme) -> tuple[list[str], np.ndarray]:
    """Mean error of each point group: ``(B, N)`` -> (group names, ``(B, G)``)."""
    err = np.asarray(point_errors, dtype=np.float64)
    names = list(scheme.groups)
    return names, np.stack([err[..., list(scheme.groups[g])].mean(axis=-1) for g in names], axis=-1)


@dataclass
class BrowserState:
    """Which faces of an Evaluation the prediction browser shows, in which order, and which one now.

    Attributes:
        evaluation: the predictions and errors.
        order: ``"worst"`` first, ``"best"`` first, or ``"name"`` (see :data:`ORDERS`).
        group: a point group of the scheme (``"jaw"``, ``"mouth"`` ...) or ``None`` for all points;
            the NME used to sort, filter and show is then the group's (same normaliser).
        subset: a key of ``subsets``.
        nme_range: keep the faces whose (group) NME is in ``[low, high]`` (normalised, not percent).
        subsets: name -> ``(B,)`` bool mask; default :func:`face_subsets` of the evaluation.
        position: 0-based position of the current face in :attr:`indices` (its rank - 1).
        indices: the shown faces (indices into the Evaluation) in display order; set by :meth:`refresh`.

    Changing ``order``, ``group``, ``subset`` or ``nme_range`` takes effect at :meth:`refresh` (or use
    :meth:`update`), which goes back to the first face of the new list.
    """

    evaluation: Evaluation
    order: str = "worst"
    group: str | None = None
    subset: str = "all faces"
    nme_range: tuple[float, float] = (0.0, math.inf)
    subsets: Mapping[str, np.ndarray] | None = None
    position: int = 0
    indices: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.subsets is None:
            self.subsets = face_subsets(self.evaluation)
        self.refresh()

    @property
    def scheme(self) -> LandmarkScheme:
        return self.evaluation.faces.scheme

    def errors(self) -> np.ndarray:
        """Per-face NME ``(B,)`` over the chosen group's points (all points when ``group`` is None)."""
        return self.evaluation.point_errors[:, self.scheme.subset(self.group)].mean(axis=1)

    def refresh(self) -> None:
        """Recompute :attr:`indices` after a change of order or filters; back to the first face.

        Raises:
            ValueError: unknown order or subset, or an empty NME range; KeyError: unknown group.
        """
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.subset not in self.subsets:
            raise ValueError(f"unknown subset {self.subset!r}; known: {list(self.subsets)}")
        low, high = self.nme_range
        if not low <= high:
            raise ValueError(f"nme_range must be (low, high) with low <= high, got {self.nme_range}")
        err = self.errors()
        keep = np.asarray(self.subsets[self.subset], bool) & (err >= low) & (err <= high)
        candidates = np.flatnonzero(keep)
        if self.order == "worst":
            candidates = candidates[np.argsort(-err[candidates], kind="stable")]
        elif self.order == "best":
            candidates = candidates[np.argsort(err[candidates], kind="stable")]
        else:
            names = self.evaluation.names
            candidates = candidates[np.argsort([names[i] for i in candidates], kind="stable")]
        self.indices = candidates
        self.position = 0

    def update(self, **changes: object) -> int | None:
        """Set some of ``order``, ``group``, ``subset``, ``nme_range`` and refresh; returns :attr:`current`."""
        allowed = {"order", "group", "subset", "nme_range"}
        if set(changes) - allowed:
            raise TypeError(f"update() takes only {sorted(allowed)}, got {sorted(set(changes) - allowed)}")
        for key, value in changes.items():
            setattr(self, key, value)
        self.refresh()
        return self.current

    @property
    def count(self) -> int:
        """Number of faces that pass the filters."""
        return len(self.indices)

    @property
    def rank(self) -> int:
        """1-based rank of the current face in the shown order (0 when no face passes the filters)."""
        return self.position + 1 if self.count else 0

    @property
    def current(self) -> int | None:
        """Index (into the Evaluation) of the current face, or None when no face passes the filters."""
        return int(self.indices[self.position]) if self.count else None

    def go(self, position: int) -> int | None:
        """Move to a 0-based position, clipped to the list; returns the new current face."""
        self.position = int(np.clip(position, 0, max(0, self.count - 1)))
        return self.current

    def step(self, delta: int) -> int | None:
        """Move by ``delta`` faces (clipped at both ends); returns the new current face."""
        return self.go(self.position + delta)

    def numbers(self) -> dict[str, object] | None:
        """The current face's numbers (None when no face passes the filters).

        Keys: ``name``, ``rank``, ``count``, ``order``, ``nme_level1`` and ``nme`` (all points),
        ``group``, ``group_nme`` (the shown error), ``norm``, ``box`` (where its face box came from),
        ``worst_group`` and ``worst_group_nme``.
        """
        i = self.current
        if i is None:
            return None
        ev = self.evaluation
        names, per_group = group_errors(ev.point_errors[i], self.scheme)
        worst = int(np.argmax(per_group))
        if ev.fallback[i]:
            box = "jittered ground-truth box (the detector found no face)"
        else:
            box = ev.box_source
        return {"name": ev.names[i], "rank": self.rank, "count": self.count, "order": self.order,
                "nme_level1": float(ev.nme_level1[i]), "nme": float(ev.nme[i]), "group": self.group or "all points",
                "group_nme": float(self.errors()[i]), "norm": ev.norm, "box": box,
                "worst_group": names[worst], "worst_group_nme": float(per_group[worst])}

    def describe(self) -> str:
        """One line with the current face's numbers, the normaliser named."""
        n = self.numbers()
        if n is None:
            return "no face matches the filters"
        group = "" if self.group is None else f", {n['group']} {100 * n['group_nme']:.2f}%"
        return (f"{n['name']} (rank {n['rank']} of {n['count']}, {n['order']} first): NME level 1 "
                f"{100 * n['nme_level1']:.2f}%, final {100 * n['nme']:.2f}%{group} (normalised by {n['norm']})")


def render_face(evaluation: Evaluation, index: int, layers: Sequence[str] = DEFAULT_LAYERS, group: str | None = None,
                size: int = 480) -> bytes:
    """PNG of one face of an Evaluation with the chosen overlays (see :data:`LAYERS`).

    Ground truth in lime, level-1 points in orange, final points by group colour or, with
    ``"error colours"``, by their error (colour bar: point error / the normaliser, fixed scale
    0-0.1 so colours compare across faces); ``"vectors"`` joins each true point to its prediction.
    With a ``group``, that group's final points are ringed in yellow.
    """
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}; known: {LAYERS}")
    ev = evaluation
    scheme = ev.faces.scheme
    gt, pred, l1 = ev.gt[index], ev.points[index], ev.level1_points[index]
    fig = figure(size, size)
    ax = fig.add_axes((0, 0, 1, 1))
    show_region(ax, ev.faces.images[index], face_view(gt, pred, l1))
    if "vectors" in layers:
        ax.add_collection(LineCollection(np.stack([gt, pred], axis=1), colors="red", linewidths=1.0, zorder=4))
    if "truth" in layers:
        viz.draw_landmarks(ax, gt, scheme, color=TRUTH, size=10, label="ground truth")
    if "level 1" in layers:
        viz.draw_landmarks(ax, l1, scheme, color=LEVEL1, edges=False, size=10, label="level 1")
    if "final" in layers:
        if "error colours" in layers:
            sc = ax.scatter(pred[:, 0], pred[:, 1], s=18, c=ev.point_errors[index], cmap="plasma", vmin=0,
                            vmax=ERROR_VMAX, edgecolors="white", linewidths=0.4, zorder=5,
                            label="final (colour = error)")
            error_scale(ax, sc.cmap, f"point error / {ev.norm}")
        else:
            viz.draw_landmarks(ax, pred, scheme, size=14, label="final")
    if group is not None:
        idx = scheme.subset(group)
        ax.scatter(pred[idx, 0], pred[idx, 1], s=90, facecolors="none", edgecolors="yellow", linewidths=1.2,
                   zorder=6, label=f"{group} (final)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", framealpha=0.7)
    ax.text(0.99, 0.99, f"{ev.names[index]}  NME {pct(ev.nme[index])}", transform=ax.transAxes, ha="right",
            va="top", fontsize=8, color="white", bbox={"facecolor": "black", "alpha": 0.6, "lw": 0})
    return png(fig)



class PredictionBrowser(w.VBox):
    """Browse an Evaluation's faces: sorted by NME (worst or best first) or name, filtered by subset,
    point group and NME range, stepped with a slider or previous/next buttons, overlays toggled.

    Controls (attributes): ``order``, ``group``, ``subset``, ``nme_range`` (percent), ``layers``
    (name -> Checkbox), ``prev_button``, ``next_button``, ``slider`` (rank, 1-based); output:
    ``image`` (the face, PNG) and ``info`` (its numbers). The logic is :attr:`state`
    (:class:`BrowserState`).
    """

    def __init__(self, evaluation: Evaluation, labels: Sequence[str] | None = None,
                 layers: Sequence[str] = DEFAULT_LAYERS, size: int = 480) -> None:
        self.evaluation = evaluation
        self.state = BrowserState(evaluation, subsets=face_subsets(evaluation, labels))
        self.size = size
        self._busy = False
        top = float(np.ceil(100 * evaluation.point_errors.max() + 1e-9))
        self.order = w.Dropdown(options=list(ORDERS), value="worst", description="order",
                                layout=w.Layout(width="180px"))
        self.group = w.Dropdown(options=[("all points", "all")] + [(g.replace("_", " "), g)
                                                                   for g in evaluation.faces.scheme.groups],
                                value="all", description="group", layout=w.Layout(width="200px"))
        self.subset = w.Dropdown(options=list(self.state.subsets), value=self.state.subset, description="faces",
                                 layout=w.Layout(width="260px"))
        self.nme_range = w.FloatRangeSlider(value=(0.0, top), min=0.0, max=top, step=0.1, description="NME %",
                                            continuous_update=False, readout_format=".1f",
                                            layout=w.Layout(width="360px"))
        self.layers = {name: w.Checkbox(value=name in layers, description=name, indent=False,
                                        layout=w.Layout(width="auto", margin="0 12px 0 0")) for name in LAYERS}
        self.prev_button = w.Button(description="previous", icon="arrow-left", layout=w.Layout(width="110px"))
        self.next_button = w.Button(description="next", icon="arrow-right", layout=w.Layout(width="110px"))
        self.slider = w.IntSlider(value=1, min=1, max=max(1, self.state.count), description="rank",
                                  continuous_update=False, layout=w.Layout(width="420px"))
        self.image = w.Image(format="png")
        self.info = w.HTML(layout=w.Layout(margin="0 0 0 16px", width="360px"))
        self.prev_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        self.slider.observe(self._on_slider, names="value")
        for control in (self.order, self.group, self.subset, self.nme_range):
            control.observe(self._on_filter, names="value")
        for box in self.layers.values():
            box.observe(lambda _: self.redraw(), names="value")
        super().__init__([
            w.HBox([self.order, self.group, self.subset]),
            w.HBox([self.nme_range, w.Label("show:", layout=w.Layout(margin="0 8px 0 16px")), *self.layers.values()]),
            w.HBox([self.prev_button, self.slider, self.next_button]),
            hbox_top(self.image, self.info),
        ])
        self.add_class("facelandmarks-prediction-browser")  # a handle for CSS and the browser test
        self.redraw()

    def step(self, delta: int) -> None:
        """Previous (-1) or next (+1) face; the slider follows."""
        self.state.step(delta)
        self._sync()

    def _on_slider(self, change: dict) -> None:
        if not self._busy:
            self.state.go(change["new"] - 1)
            self._sync()

    def _on_filter(self, _=None) -> None:
        if self._busy:
            return
        group = None if self.group.value == "all" else self.group.value
        low, high = self.nme_range.value
        self.state.update(order=self.order.value, group=group, subset=self.subset.value,
                          nme_range=(low / 100 - 1e-12, high / 100 + 1e-12))
        self._sync()

    def _sync(self) -> None:
        """Set slider and buttons from the state (without re-entering the observers), then redraw."""
        self._busy = True
        try:
            self.slider.max = max(1, self.state.count)
            self.slider.value = max(1, self.state.rank)
            self.slider.disabled = self.state.count <= 1
        finally:
            self._busy = False
        self.redraw()

    def redraw(self) -> None:
        """Draw the current face and its numbers; the buttons are disabled at the ends."""
        self.prev_button.disabled = self.state.rank <= 1
        self.next_button.disabled = self.state.rank >= self.state.count
        i, n = self.state.current, self.state.numbers()
        if i is None:
            self.info.value = "<b>no face matches the filters</b>"
            self.image.value = message_png("no face matches the filters", self.size, self.size // 4)
            return
        shown = tuple(name for name, box in self.layers.items() if box.value)
        self.image.value = render_face(self.evaluation, i, shown, self.state.group, self.size)
        rows = [("NME level 1", pct(n["nme_level1"])), ("NME final", pct(n["nme"]))]
        if self.state.group is not None:
            rows.append((f"NME {n['group']}", pct(n["group_nme"])))
        rows += [("worst group", f"{n['worst_group']} {pct(n['worst_group_nme'])}"),
                 ("normaliser", f"{n['norm']} ({NORMALISER_NAMES.get(n['norm'], n['norm'])})"),
                 ("face box", str(n["box"]))]
        head = f"<b>{html.escape(n['name'])}</b>: rank {n['rank']} of {n['count']} ({n['order']} first)"
        self.info.value = f"<div style='font-size:14px'>{head}</div>" + html_table(rows)


def prediction_browser(evaluation: Evaluation, labels: Sequence[str] | None = None,
                       layers: Sequence[str] = DEFAULT_LAYERS) -> PredictionBrowser:
    """A :class:`PredictionBrowser` over ``evaluation`` (``labels``: one subset name per face, see
    :func:`face_subsets`)."""
    return PredictionBrowser(evaluation, labels, layers)
