"""Interactive inspection in Jupyter: a prediction browser, a cascade viewer, a CED explorer, and the
"You vs the CNN" annotator.

Two layers, kept apart so that the logic is tested without a browser (``tests/test_widgets.py``):

* **logic** (no widgets): :class:`BrowserState` (order, filters, position of the prediction browser),
  :func:`face_subsets`, :func:`group_errors`, :func:`failing_faces`, :func:`ced_failures`,
  :func:`cascade_stages` (one face in every frame of the cascade), :class:`Viewport` (PNG pixel <->
  image coordinates of the annotator) and :func:`score_session`;
* **widgets**: :class:`PredictionBrowser`, :class:`CascadeViewer`, :class:`CedExplorer` and
  :class:`AnnotationWidget` (``ipywidgets.VBox`` subclasses whose controls are named attributes; the
  lower-case functions build them). They only wire controls to the logic and draw with matplotlib
  (Agg, without pyplot) into PNG bytes shown in an ``ipywidgets.Image``, which is fast and renders
  wherever ipywidgets do. Landmarks, boxes and CED curves are drawn by :mod:`facelandmarks.viz`.

Clicks on the annotator's image come from **ipyevents** (see ``docs/widgets.md`` for why); it is
imported only when an annotator is built.

Example (in a notebook)::

    from facelandmarks import datasets, load_pretrained, widgets
    from facelandmarks.evaluation import evaluate
    ev = evaluate(load_pretrained(), datasets.load_split("test", limit=20), boxes="jittered")
    widgets.prediction_browser(ev)
"""
from __future__ import annotations

import html
import io as _io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from . import metrics, viz
from .evaluation import Evaluation
from .geometry import box_to_crop_matrix, points_box, square_box, transform_points, warp_batch, warp_image
from .schemes import LandmarkScheme, get_scheme

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from .human import AnnotationSession, ModelErrors, SessionScore
    from .models.cascade import Cascade, FacePrediction

__all__ = [
    "ORDERS", "LAYERS", "DEFAULT_LAYERS", "NORMALISER_NAMES",
    "BrowserState", "face_subsets", "group_errors", "failing_faces", "ced_failures",
    "CascadeStages", "cascade_stages", "Viewport", "SessionResult", "score_session",
    "render_face", "render_thumbnail", "render_stages", "render_patch",
    "PredictionBrowser", "CascadeViewer", "CedExplorer", "AnnotationWidget",
    "prediction_browser", "cascade_viewer", "ced_explorer", "annotation_widget",
]

ORDERS = ("worst", "best", "name")
"""Orders of the prediction browser: worst NME first, best first, or by face name."""
LAYERS = ("truth", "level 1", "final", "error colours", "vectors")
"""Overlays of a face: ground truth, level-1 points, final points, final points coloured by their
error (instead of by group), error vectors from the truth to the final points."""
DEFAULT_LAYERS = ("truth", "final", "error colours", "vectors")
NORMALISER_NAMES = {"inter_ocular": "outer eye corners", "inter_pupil": "eye centres",
                    "bbox": "sqrt(w h) of the points' box", "bbox_diagonal": "diagonal of the points' box"}
"""What each normaliser of :mod:`facelandmarks.metrics` measures, in words (shown beside every NME)."""

_DPI = 100
_ERROR_VMAX = 0.1  # colour scale of point errors (normalised), fixed so colours compare across faces
_TRUTH, _LEVEL1, _FINAL, _LEARNER = "lime", "orange", "red", "magenta"


# ================================================================================================
# Logic: the prediction browser
# ================================================================================================

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


# ================================================================================================
# Logic: failures at a threshold
# ================================================================================================

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


# ================================================================================================
# Logic: one face through the cascade
# ================================================================================================

@dataclass
class CascadeStages:
    """One face in every frame of the cascade (the paper's Fig. 3), ready to draw.

    Attributes:
        image: the photo, RGB uint8 ``(H, W, 3)``.
        prediction: the cascade's :class:`~facelandmarks.models.cascade.FacePrediction`.
        crop: level 1's input ``(S, S, 3)`` (the face box warped by ``prediction.crop_matrix``).
        crop_points: the level-1 points in the crop frame ``(N, 2)``.
        rectified: the rectified face ``(R, R, 3)``: the frame level 2 works in, with a margin.
        view_matrix: ``(3, 3)`` image -> ``rectified``.
        patches: the level-2 input patches ``(N, P, P, 3)`` uint8, patch p centred on level-1 point p.
        patch_votes: ``(N, K, 2)`` the K points each patch predicts, in that patch's own frame.
        vote_targets: ``(N, K)`` which point each vote is for (the patch's point first).
        truth: ground-truth points ``(N, 2)`` in the image, when given.
        ``rectified`` and after are None for a cascade without level 2.
    """

    image: np.ndarray
    prediction: FacePrediction
    crop: np.ndarray
    crop_points: np.ndarray
    rectified: np.ndarray | None
    view_matrix: np.ndarray | None
    patches: np.ndarray | None
    patch_votes: np.ndarray | None
    vote_targets: np.ndarray | None
    truth: np.ndarray | None = None

    @property
    def patch_size(self) -> int | None:
        return None if self.patches is None else int(self.patches.shape[1])

    def votes_in_image(self) -> np.ndarray:
        """Every vote mapped back to the image ``(N, K, 2)`` (by the inverse of its patch's matrix)."""
        inv = np.linalg.inv(self.prediction.patch_matrices)
        return transform_points(self.patch_votes, inv)


def cascade_stages(cascade: Cascade, image: np.ndarray, box: np.ndarray | None = None,
                   truth: np.ndarray | None = None, rectified_size: int = 160) -> CascadeStages:
    """Run ``cascade`` on one face and keep every stage in its own frame.

    Args:
        image: RGB uint8 ``(H, W, 3)``.
        box: landmark-convention face box ``(4,)``; None: the face detector finds it.
        truth: ground truth ``(N, 2)`` to draw beside the predictions (optional).
        rectified_size: side of the rectified view, pixels.
    """
    r = cascade.predict(image, box=box)
    image = np.asarray(image)
    size = cascade.level1.config.input_size
    crop = warp_image(image, r.crop_matrix, size)
    crop_points = transform_points(r.level1_points, r.crop_matrix)
    if r.rectify_matrix is None:
        return CascadeStages(image, r, crop, crop_points, None, None, None, None, None, truth)
    in_rect = transform_points(r.level1_points, r.rectify_matrix)
    view = box_to_crop_matrix(square_box(points_box(in_rect), 1.5), rectified_size) @ r.rectify_matrix
    rectified = warp_image(image, view, rectified_size)
    p = cascade.level2.config.patch_size
    patches = warp_batch(image, r.patch_matrices, p).permute(0, 2, 3, 1).numpy()  # (N, P, P, 3)
    patches = np.clip(np.round(patches), 0, 255).astype(np.uint8)
    rect_to_patch = r.patch_matrices @ np.linalg.inv(r.rectify_matrix)  # (N, 3, 3)
    votes = transform_points(r.votes, rect_to_patch)  # (N, K, 2) each in its own patch
    targets = cascade.level2.neighbours.cpu().numpy()
    return CascadeStages(image, r, crop, crop_points, rectified, view, patches, votes, targets, truth)


# ================================================================================================
# Logic: the annotator's viewport and score
# ================================================================================================

@dataclass(frozen=True)
class Viewport:
    """The part of an image shown in a PNG of ``width x height`` pixels.

    ``box`` = ``(x0, y0, x1, y1)`` is the shown extent in image coordinates (continuous, so the whole
    image is ``(-0.5, -0.5, W - 0.5, H - 0.5)``); PNG pixel ``(u, v)`` has its centre at
    ``x = x0 + (u + 0.5) (x1 - x0) / width`` (and likewise for y), which is where a click on it lands.

    Example:
        >>> vp = Viewport((-0.5, -0.5, 99.5, 49.5), 200, 100)    # a 100 x 50 image at 2x
        >>> vp.to_image(0, 0), vp.to_image(199, 99)             # the first and last PNG pixels
        ((-0.25, -0.25), (99.25, 49.25))
    """

    box: tuple[float, float, float, float]
    width: int
    height: int

    @classmethod
    def fit(cls, image_shape: tuple[int, ...], max_width: int = 640, max_height: int = 520, zoom: float = 1.0,
            centre: tuple[float, float] | None = None) -> "Viewport":
        """The whole image (``zoom`` 1) or ``1/zoom`` of it around ``centre``, in a PNG at most
        ``max_width x max_height`` (same size at every zoom; the window stays inside the image)."""
        if zoom < 1:
            raise ValueError(f"zoom must be >= 1, got {zoom}")
        rows, cols = image_shape[:2]
        scale = min(max_width / cols, max_height / rows)
        width, height = max(1, round(cols * scale)), max(1, round(rows * scale))
        vw, vh = cols / zoom, rows / zoom
        cx, cy = ((cols - 1) / 2, (rows - 1) / 2) if centre is None else centre
        x0 = float(np.clip(cx - vw / 2, -0.5, cols - 0.5 - vw))
        y0 = float(np.clip(cy - vh / 2, -0.5, rows - 0.5 - vh))
        return cls((x0, y0, x0 + vw, y0 + vh), width, height)

    def to_image(self, u: float, v: float) -> tuple[float, float]:
        """Image coordinates of the centre of PNG pixel ``(u, v)`` (what ipyevents reports as dataX, dataY)."""
        x0, y0, x1, y1 = self.box
        return x0 + (u + 0.5) * (x1 - x0) / self.width, y0 + (v + 0.5) * (y1 - y0) / self.height

    def to_png(self, x: float, y: float) -> tuple[float, float]:
        """PNG pixel coordinates of an image point (the inverse of :meth:`to_image`)."""
        x0, y0, x1, y1 = self.box
        return (x - x0) * self.width / (x1 - x0) - 0.5, (y - y0) * self.height / (y1 - y0) - 0.5


@dataclass
class SessionResult:
    """A learner's score (:class:`~facelandmarks.human.SessionScore`), the model's errors on the same
    images (or None) and the J&dC references (image -> ``(22, 2)``), for the result figure."""

    score: SessionScore
    model: ModelErrors | None
    references: dict[str, np.ndarray]


def score_session(session: AnnotationSession, cascade: Cascade | None = None, n_jitter: int = 5) -> SessionResult:
    """Score a session's completed images against the crowd, the experts and (with ``cascade``) the model.

    The crowd and experts are the J&dC study (:func:`facelandmarks.human.load_jdc`), every error
    normalised by the reference inter-pupil distance (:func:`~facelandmarks.human.annotation_errors`);
    the model runs from the detector's box jittered ``n_jitter`` times
    (:func:`~facelandmarks.human.model_errors`).
    """
    from . import human

    table = human.load_jdc(session.root)
    references = human.jdc_references(table.select(group="expert"))
    points = tuple(p for p in human.JDC_IBUG_POINTS if p in session.point_ids)
    errors = human.annotation_errors(table, points, references)
    model = None
    if cascade is not None and session.completed_images():
        model = human.model_errors(cascade, table, session.root, images=session.completed_images(), points=points,
                                   n_jitter=n_jitter)
    return SessionResult(session.score(errors, model, references, points), model, references)


# ================================================================================================
# Drawing (matplotlib without pyplot, into PNG bytes)
# ================================================================================================

def _figure(width_px: int, height_px: int, layout: str | None = None) -> Figure:
    fig = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = _io.BytesIO()
    # zlib level 1: encoding a photo at the default level 6 takes 2-3x longer, for files ~10% smaller
    fig.savefig(buf, format="png", dpi=_DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _message_png(text: str, width: int = 480, height: int = 120) -> bytes:
    fig = _figure(width, height)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11)
    return _png(fig)


def _show_region(ax: Axes, image: np.ndarray, box: Sequence[float]) -> None:
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


def _face_view(*point_sets: np.ndarray, pad: float = 1.3) -> np.ndarray:
    """A square box around all the given ``(N, 2)`` point sets, ``pad`` times their extent."""
    return square_box(points_box(np.concatenate(point_sets)), pad)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _error_scale(ax: Axes, cmap, label: str) -> None:
    """A colour scale 0 .. :data:`_ERROR_VMAX` in the lower right corner of ``ax`` (an image in axes
    coordinates and a few texts: much cheaper to draw than a colorbar's own axes)."""
    box = {"facecolor": "black", "alpha": 0.6, "lw": 0}
    ax.text(0.75, 0.075, label, transform=ax.transAxes, ha="center", va="bottom", fontsize=7, color="white", bbox=box)
    ax.imshow(np.linspace(0, 1, 64)[None], cmap=cmap, aspect="auto", extent=(0.55, 0.95, 0.04, 0.065),
              transform=ax.transAxes, zorder=7)
    for value in (0.0, _ERROR_VMAX / 2, _ERROR_VMAX):
        ax.text(0.55 + 0.4 * value / _ERROR_VMAX, 0.035, f"{value:.2f}", transform=ax.transAxes, ha="center",
                va="top", fontsize=6, color="white", bbox=box)


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
    fig = _figure(size, size)
    ax = fig.add_axes((0, 0, 1, 1))
    _show_region(ax, ev.faces.images[index], _face_view(gt, pred, l1))
    if "vectors" in layers:
        ax.add_collection(LineCollection(np.stack([gt, pred], axis=1), colors="red", linewidths=1.0, zorder=4))
    if "truth" in layers:
        viz.draw_landmarks(ax, gt, scheme, color=_TRUTH, size=10, label="ground truth")
    if "level 1" in layers:
        viz.draw_landmarks(ax, l1, scheme, color=_LEVEL1, edges=False, size=10, label="level 1")
    if "final" in layers:
        if "error colours" in layers:
            sc = ax.scatter(pred[:, 0], pred[:, 1], s=18, c=ev.point_errors[index], cmap="plasma", vmin=0,
                            vmax=_ERROR_VMAX, edgecolors="white", linewidths=0.4, zorder=5,
                            label="final (colour = error)")
            _error_scale(ax, sc.cmap, f"point error / {ev.norm}")
        else:
            viz.draw_landmarks(ax, pred, scheme, size=14, label="final")
    if group is not None:
        idx = scheme.subset(group)
        ax.scatter(pred[idx, 0], pred[idx, 1], s=90, facecolors="none", edgecolors="yellow", linewidths=1.2,
                   zorder=6, label=f"{group} (final)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", framealpha=0.7)
    ax.text(0.99, 0.99, f"{ev.names[index]}  NME {_pct(ev.nme[index])}", transform=ax.transAxes, ha="right",
            va="top", fontsize=8, color="white", bbox={"facecolor": "black", "alpha": 0.6, "lw": 0})
    return _png(fig)


def render_thumbnail(evaluation: Evaluation, index: int, size: int = 150) -> bytes:
    """Small PNG of one face: ground truth (lime) and final points (red), no legend."""
    ev = evaluation
    gt, pred = ev.gt[index], ev.points[index]
    fig = _figure(size, size)
    ax = fig.add_axes((0, 0, 1, 1))
    _show_region(ax, ev.faces.images[index], _face_view(gt, pred))
    viz.draw_landmarks(ax, gt, ev.faces.scheme, color=_TRUTH, edges=False, size=3)
    viz.draw_landmarks(ax, pred, ev.faces.scheme, color=_FINAL, edges=False, size=3)
    return _png(fig)


def render_stages(stages: CascadeStages, height: int = 300) -> bytes:
    """PNG of the five stages side by side: box -> level-1 crop -> rectified face -> patches -> final."""
    r, image = stages.prediction, stages.image
    n_panels = 5 if stages.rectified is not None else 3
    fig = _figure(int(height * n_panels * 0.95), height, layout="constrained")
    axes = fig.subplots(1, n_panels)
    scheme = get_scheme(len(r.points))
    _show_region(axes[0], image, _face_view(r.level1_points, r.box.reshape(2, 2), pad=1.6))
    viz.draw_box(axes[0], r.box, color="yellow", label="face box (landmark convention)")
    if r.detector_box is not None:
        viz.draw_box(axes[0], r.detector_box, color="cyan", ls="--", label="detector's own box")
    axes[0].legend(fontsize=6, loc="lower left")
    axes[0].set_title("1. face box", fontsize=9)
    s = stages.crop.shape[0]
    _show_region(axes[1], stages.crop, (-0.5, -0.5, s - 0.5, s - 0.5))
    viz.draw_landmarks(axes[1], stages.crop_points, scheme, size=5)
    axes[1].set_title(f"2. level 1: {s}x{s} crop, 68 points", fontsize=9)
    last = axes[2]
    if stages.rectified is not None:
        rs = stages.rectified.shape[0]
        _show_region(axes[2], stages.rectified, (-0.5, -0.5, rs - 0.5, rs - 0.5))
        viz.draw_landmarks(axes[2], transform_points(r.level1_points, stages.view_matrix), scheme, size=5)
        axes[2].set_title("3. rectified (upright, fixed scale)", fontsize=9)
        p, n = stages.patch_size, len(stages.patches)
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        grid = np.full((rows * (p + 2), cols * (p + 2), 3), 255, np.uint8)
        for k, patch in enumerate(stages.patches):
            y, x = divmod(k, cols)
            grid[y * (p + 2) + 1:y * (p + 2) + 1 + p, x * (p + 2) + 1:x * (p + 2) + 1 + p] = patch
        axes[3].imshow(grid, interpolation="nearest")
        centres = np.array([[(k % cols) * (p + 2) + 1 + (p - 1) / 2, (k // cols) * (p + 2) + 1 + (p - 1) / 2]
                            for k in range(n)])
        axes[3].scatter(centres[:, 0], centres[:, 1], s=2, c=_LEVEL1)
        axes[3].set_title(f"4. level 2: {n} patches {p}x{p}", fontsize=9)
        axes[3].set_xticks([])
        axes[3].set_yticks([])
        last = axes[4]
    truth = stages.truth
    _show_region(last, image, _face_view(r.points, r.level1_points, pad=1.3))
    viz.draw_landmarks(last, r.level1_points, scheme, color=_LEVEL1, edges=False, size=6, label="level 1")
    viz.draw_landmarks(last, r.points, scheme, color=_FINAL, size=8, label="final")
    if truth is not None:
        viz.draw_landmarks(last, truth, scheme, color=_TRUTH, edges=False, size=6, label="ground truth")
    last.legend(fontsize=6, loc="lower left")
    last.set_title(f"{n_panels}. final points on the photo", fontsize=9)
    return _png(fig)


def render_patch(stages: CascadeStages, point: int, size: int = 300) -> bytes:
    """PNG of level 2 for one point (0-based): where its patch lies on the rectified face, and the
    patch enlarged with its K votes (each labelled with the 1-based number of the point it is for),
    the level-1 point at its centre and, when known, the final and true points of this point."""
    if stages.patches is None:
        return _message_png("this cascade has no level 2", 2 * size, size // 2)
    r, p = stages.prediction, stages.patch_size
    fig = _figure(int(2.8 * size), size, layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1, 1.8)})
    rs = stages.rectified.shape[0]
    _show_region(left, stages.rectified, (-0.5, -0.5, rs - 0.5, rs - 0.5))
    patch_to_view = stages.view_matrix @ np.linalg.inv(r.patch_matrices[point])
    corners = transform_points(np.array([[-0.5, -0.5], [p - 0.5, -0.5], [p - 0.5, p - 0.5], [-0.5, p - 0.5]]),
                               patch_to_view)
    left.add_patch(Polygon(corners, closed=True, fill=False, edgecolor="yellow", lw=1.5))
    left.scatter(*transform_points(r.level1_points, stages.view_matrix).T, s=4, c=_LEVEL1)
    left.set_title(f"point {point + 1}: its patch on the rectified face", fontsize=9)
    right.imshow(stages.patches[point], interpolation="nearest")
    centre = (p - 1) / 2
    right.scatter([centre], [centre], marker="x", s=80, c=_LEVEL1, zorder=4,
                  label=f"level-1 point {point + 1} (centre)")
    colors = ["#1f77b4", "#e377c2", "#17becf", "#bcbd22", "#8c564b"]
    for j, (vote, target) in enumerate(zip(stages.patch_votes[point], stages.vote_targets[point])):
        right.scatter(*vote, s=60, c=colors[j % len(colors)], edgecolors="white", zorder=5,
                      label=f"vote for point {int(target) + 1}")
        right.annotate(str(int(target) + 1), vote, xytext=(4, 4), textcoords="offset points", color="white", fontsize=8)
    to_patch = r.patch_matrices[point]
    final = transform_points(r.level2_points[point][None], to_patch)[0]
    right.scatter(*final, marker="+", s=120, c=_FINAL, zorder=6, label=f"level-2 point {point + 1} (all votes)")
    if stages.truth is not None:
        right.scatter(*transform_points(stages.truth[point][None], to_patch)[0], marker="o", s=60, facecolors="none",
                      edgecolors=_TRUTH, lw=2, zorder=6, label="ground truth")
    right.set_xlim(-0.5, p - 0.5)
    right.set_ylim(p - 0.5, -0.5)
    right.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    right.set_title(f"patch {p}x{p}: its {stages.patch_votes.shape[1]} votes", fontsize=9)
    right.set_xticks([])
    right.set_yticks([])
    return _png(fig)


def _ced_png(evaluation: Evaluation, threshold: float, max_error: float, width: int = 560, height: int = 380) -> bytes:
    ev = evaluation
    fig = _figure(width, height, layout="constrained")
    ax = fig.add_subplot()
    viz.plot_ced({"level 1": ev.nme_level1, "cascade": ev.nme}, threshold=threshold, norm=ev.norm, ax=ax,
                 max_error=max_error)
    ax.axvline(threshold, color="red", ls="--", lw=1)
    under = float(metrics.ced(ev.nme, np.array([threshold]))[0])
    ax.plot([threshold], [under], "o", color="red")
    ax.annotate(f"{100 * (1 - under):.1f}% of faces fail (NME > {threshold:.3f})", (threshold, under),
                xytext=(6, -14), textcoords="offset points", fontsize=8, color="red")
    return _png(fig)


# ================================================================================================
# Widgets
# ================================================================================================

def _row(*children: w.Widget) -> w.HBox:
    """An HBox whose children keep their own height (by default flex stretches an image to its neighbour's)."""
    return w.HBox(list(children), layout=w.Layout(align_items="flex-start"))


def _table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding-right:10px'>{html.escape(k)}</td><td><b>{html.escape(v)}</b></td></tr>"
                    for k, v in rows)
    return f"<table style='font-size:13px'>{cells}</table>"


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
            _row(self.image, self.info),
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
            self.image.value = _message_png("no face matches the filters", self.size, self.size // 4)
            return
        shown = tuple(name for name, box in self.layers.items() if box.value)
        self.image.value = render_face(self.evaluation, i, shown, self.state.group, self.size)
        rows = [("NME level 1", _pct(n["nme_level1"])), ("NME final", _pct(n["nme"]))]
        if self.state.group is not None:
            rows.append((f"NME {n['group']}", _pct(n["group_nme"])))
        rows += [("worst group", f"{n['worst_group']} {_pct(n['worst_group_nme'])}"),
                 ("normaliser", f"{n['norm']} ({NORMALISER_NAMES.get(n['norm'], n['norm'])})"),
                 ("face box", str(n["box"]))]
        head = f"<b>{html.escape(n['name'])}</b>: rank {n['rank']} of {n['count']} ({n['order']} first)"
        self.info.value = f"<div style='font-size:14px'>{head}</div>" + _table(rows)


def prediction_browser(evaluation: Evaluation, labels: Sequence[str] | None = None,
                       layers: Sequence[str] = DEFAULT_LAYERS) -> PredictionBrowser:
    """A :class:`PredictionBrowser` over ``evaluation`` (``labels``: one subset name per face, see
    :func:`face_subsets`)."""
    return PredictionBrowser(evaluation, labels, layers)


class CascadeViewer(w.VBox):
    """One face through the cascade: face box -> level-1 crop and points -> rectified face -> the
    level-2 patches -> final points on the photo (``stages_image``), and one patch enlarged with its
    votes (``patch_image``, the point chosen with ``point_slider``, 1-based)."""

    def __init__(self, cascade: Cascade, image: np.ndarray, box: np.ndarray | None = None,
                 truth: np.ndarray | None = None) -> None:
        self.stages = cascade_stages(cascade, image, box, truth)
        n = len(self.stages.prediction.points)
        self.stages_image = w.Image(value=render_stages(self.stages), format="png")
        self.point_slider = w.IntSlider(value=37, min=1, max=n, description="point", continuous_update=False)
        self.patch_image = w.Image(format="png")
        self.point_slider.observe(lambda _: self.redraw_patch(), names="value")
        note = w.HTML("Level 2 for one point: its patch, and the points that patch predicts (votes). "
                      "Each point's final position is the mean of all the votes for it.")
        super().__init__([self.stages_image, note, self.point_slider, self.patch_image])
        self.add_class("facelandmarks-cascade-viewer")
        self.redraw_patch()

    def redraw_patch(self) -> None:
        self.patch_image.value = render_patch(self.stages, self.point_slider.value - 1)


def cascade_viewer(cascade: Cascade, image: np.ndarray, box: np.ndarray | None = None,
                   truth: np.ndarray | None = None) -> CascadeViewer:
    """A :class:`CascadeViewer` of one face (``box`` None: the face detector finds it)."""
    return CascadeViewer(cascade, image, box, truth)


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
        super().__init__([self.slider, _row(self.curve, self.info), self.thumbnails])
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
                                      w.HTML(f"<small>{html.escape(ev.names[i])}: {_pct(ev.nme[i])}</small>")])
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
        items = "".join(f"<li>{html.escape(r['name'])}: {_pct(r['nme'])} (worst: "
                        + ", ".join(f"{g} {_pct(e)}" for g, e in r["worst_groups"]) + ")</li>" for r in rows[:12])
        more = f"<li>... and {len(rows) - 12} more</li>" if len(rows) > 12 else ""
        self.info.value = (head + (f"<br>worst group of the failing faces: {summary}" if rows else "")
                           + f"<ol style='font-size:12px'>{items}{more}</ol>")
        self.thumbnails.children = [self._thumb(r["index"]) for r in rows[:self.n_thumbnails]]


def ced_explorer(evaluation: Evaluation, threshold: float = 0.08) -> CedExplorer:
    """A :class:`CedExplorer` over ``evaluation``, starting at ``threshold``."""
    return CedExplorer(evaluation, threshold)


# ------------------------------------------------------------------------------------------------
# "You vs the CNN"
# ------------------------------------------------------------------------------------------------

def _template_point(template: np.ndarray, point_id: str) -> np.ndarray:
    """Where a J&dC point lies on a 68-point shape: iBUG points as they are, the study's own three
    (P70 between lower lip and chin tip, P71/P72 the pupils) from their neighbours."""
    n = int(point_id[1:])
    if n <= 68:
        return template[n - 1]
    if n == 70:
        return (template[57] + template[8]) / 2
    return template[36:42].mean(axis=0) if n == 71 else template[42:48].mean(axis=0)


def _template_png(template: np.ndarray, point_id: str, size: int = 200) -> bytes:
    """The 68-point mean shape (upright) with the asked point circled: where to click, as a diagram."""
    fig = _figure(size, size)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    viz.draw_landmarks(ax, template, get_scheme(len(template)), size=6)
    x, y = _template_point(template, point_id)
    ax.scatter([x], [y], s=220, facecolors="none", edgecolors="black", linewidths=2, zorder=5)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.axis("off")
    fig.text(0.5, 0.97, f"{point_id} is about here", ha="center", va="top", fontsize=9)
    return _png(fig)


def _session_png(image: np.ndarray, clicks: np.ndarray, viewport: Viewport) -> bytes:
    """The annotator's image: the ``viewport`` part of ``image`` with the ``(P, 2)`` clicks made on it
    (NaN: not clicked yet), the last one ringed."""
    fig = _figure(viewport.width, viewport.height)
    ax = fig.add_axes((0, 0, 1, 1))
    _show_region(ax, image, viewport.box)
    done = ~np.isnan(clicks).any(axis=1)
    if done.any():
        pts = clicks[done]
        ax.scatter(pts[:, 0], pts[:, 1], marker="+", s=90, c=_LEARNER, linewidths=1.5, zorder=4)
        ax.scatter(*pts[-1], s=160, facecolors="none", edgecolors="yellow", linewidths=1.2, zorder=5)
    ax.axis("off")
    return _png(fig)


def _result_png(session: AnnotationSession, result: SessionResult, size: int = 260) -> bytes:
    """Each completed image: the J&dC reference (lime), the learner's clicks (magenta) and, with a
    model, its prediction from the detector's box (red) on the same points."""
    from . import human

    images = [r["image"] for r in result.score.rows]
    if not images:
        return _message_png("no completed image yet", 2 * size, size // 3)
    fig = _figure(size * len(images), size + 30, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(images)))
    pids = list(session.point_ids)
    for ax, row in zip(axes, result.score.rows):
        im = row["image"]
        ref = result.references[im][[human.JDC_POINT_IDS.index(p) for p in pids]]
        mine = session.clicks_for(im)
        _show_region(ax, session.image(im), square_box(points_box(ref), 1.4))
        ax.scatter(*ref.T, s=14, c=_TRUTH, edgecolors="black", linewidths=0.3, label="reference", zorder=3)
        ax.scatter(*mine.T, marker="+", s=40, c=_LEARNER, linewidths=1.2, label="you", zorder=4)
        title = f"you {row['learner']:.3f}, crowd {row['crowd_median']:.3f}"
        if result.model is not None and im in result.model.images:
            ibug = [int(p[1:]) - 1 for p in result.model.point_ids]
            ax.scatter(*result.model.detector_points[result.model.images.index(im)][ibug].T, marker="x", s=18,
                       c=_FINAL, linewidths=1, label="CNN (detector's box)", zorder=4)
            title += f", CNN {row['model_median']:.3f}"
        ax.set_title(title, fontsize=8)
    axes[0].legend(fontsize=7, loc="lower left")
    return _png(fig)


class AnnotationWidget(w.VBox):
    """"You vs the CNN": click each asked landmark on the J&dC faces, then compare your error with the
    crowd's, the experts' and the CNN's (one metric: NME / reference inter-pupil distance).

    The logic (order of the points, undo, scores, saving) is
    :class:`facelandmarks.human.AnnotationSession`; this widget shows the image in a :class:`Viewport`
    (the whole image, or zoomed 2x / 4x around the last click), turns a click's PNG pixel (ipyevents'
    ``dataX``, ``dataY``) into image coordinates and hands it to the session. A Shift+click only moves
    the zoom window. A diagram of the 68-point mean shape circles the asked point.

    Attributes: ``image`` (the clickable PNG), ``prompt``, ``template`` (the diagram), ``zoom``,
    ``undo_button``, ``save_button``, ``score_button``, ``status`` and ``result`` (text), ``result_image``.
    """

    def __init__(self, session: AnnotationSession, save_path: str = "my_annotations.json",
                 cascade: Cascade | None = None, score: bool = True, max_width: int = 640, max_height: int = 520,
                 n_jitter: int = 5) -> None:
        self.session = session
        self.save_path = save_path
        self.score_on_finish = score
        self.n_jitter = n_jitter
        self.max_size = (max_width, max_height)
        self._cascade = cascade
        self._centres: dict[str, tuple[float, float]] = {}
        self._pixels: dict[str, np.ndarray] = {}
        self._diagrams: dict[str, bytes] = {}  # point id -> PNG of the diagram
        self._template = self.cascade.level2.canonical.cpu().numpy().astype(np.float64) \
            if self.cascade.level2 is not None else None
        self.image = w.Image(format="png")
        self.prompt = w.HTML()
        self.template = w.Image(format="png", layout=w.Layout(width="200px"))
        self.zoom = w.ToggleButtons(options=[("1x", 1), ("2x", 2), ("4x", 4)], value=1, tooltips=["whole image",
                                    "2x around the last click", "4x around the last click"],
                                    style={"button_width": "48px"})
        self.undo_button = w.Button(description="undo", icon="undo")
        self.save_button = w.Button(description="save", icon="save")
        self.score_button = w.Button(description="score", icon="check",
                                     tooltip="compare the completed images with the crowd, the experts and the CNN")
        self.status = w.HTML()
        self.result = w.HTML()
        self.result_image = w.Image(format="png", layout=w.Layout(display="none"))  # shown once there is a score
        self.undo_button.on_click(lambda _: self.undo())
        self.save_button.on_click(lambda _: self.save())
        self.score_button.on_click(lambda _: self.score())
        self.zoom.observe(lambda _: self.redraw(), names="value")
        from ipyevents import Event

        self.events = Event(source=self.image, watched_events=["click"], prevent_default_action=True)
        self.events.on_dom_event(self._on_dom_event)
        help_text = w.HTML("<small>Click the asked point on the face. <b>Shift+click</b> only moves the zoom "
                           "window. The diagram shows roughly where the point is on an upright face.</small>")
        controls = w.HBox([w.Label("zoom"), self.zoom, self.undo_button, self.save_button, self.score_button])
        super().__init__([self.prompt, controls, help_text, _row(self.image, self.template),
                          self.status, self.result, self.result_image])
        self.add_class("facelandmarks-annotator")
        self.redraw()

    @property
    def cascade(self) -> Cascade:
        """The model compared with (loaded with :func:`facelandmarks.load_pretrained` when not given)."""
        if self._cascade is None:
            from .models.pretrained import load_pretrained

            self._cascade = load_pretrained()
        return self._cascade

    @property
    def shown_image(self) -> str:
        """The image on screen: the current one, or the last when the session is done."""
        return self.session.current_image or self.session.images[-1]

    def pixels(self, name: str) -> np.ndarray:
        """The pixels of image ``name`` (read once)."""
        if name not in self._pixels:
            self._pixels[name] = self.session.image(name)
        return self._pixels[name]

    @property
    def viewport(self) -> Viewport:
        """The part of the shown image on screen (zoom and its centre) and the PNG's size."""
        name = self.shown_image
        return Viewport.fit(self.pixels(name).shape, *self.max_size, zoom=self.zoom.value,
                            centre=self._centres.get(name))

    def handle_click(self, u: float, v: float, shift: bool = False) -> tuple[float, float]:
        """A click on PNG pixel ``(u, v)``: record it as the current point (or, with ``shift``, only
        centre the zoom window there). Returns the click in image coordinates."""
        x, y = self.viewport.to_image(u, v)
        name = self.shown_image
        if shift:
            self._centres[name] = (x, y)
            self.redraw()
            return x, y
        if self.session.done:
            self.status.value = "Every point is clicked: <b>undo</b> to change the last one."
            return x, y
        self.session.click(x, y)
        if self.session.current_image == name:  # the next point is on the same image: follow the click
            self._centres[name] = (x, y)
        self.status.value = f"last click: ({x:.1f}, {y:.1f}) on {html.escape(name)}"
        self.redraw()
        if self.session.done and self.score_on_finish:
            self.score()
        return x, y

    def _on_dom_event(self, event: dict) -> None:
        if event.get("type") == "click" and "dataX" in event:
            self.handle_click(float(event["dataX"]), float(event["dataY"]), bool(event.get("shiftKey", False)))

    def undo(self) -> None:
        if self.session.undo():
            self.status.value = "undone: click that point again"
            self.result.value = ""
            self.result_image.layout.display = "none"
        self.redraw()

    def save(self) -> None:
        path = self.session.save(self.save_path)
        self.status.value = f"saved {self.session.n_done} clicks to {html.escape(str(path))}"

    def score(self) -> SessionResult | None:
        """Score the completed images (see :func:`score_session`) and show the result."""
        if not self.session.completed_images():
            self.result.value = "<b>No image is complete yet</b>: click every point of an image first."
            return None
        self.result.value = "scoring (the CNN runs on the images) ..."
        try:
            result = score_session(self.session, self.cascade, self.n_jitter)
        except Exception as err:  # shown in the widget: a callback's exception would vanish in the log
            self.result.value = f"<b>could not score</b>: {html.escape(repr(err))}"
            return None
        self.result.value = f"<pre>{html.escape(result.score.text())}</pre>"
        self.result_image.value = _result_png(self.session, result)
        self.result_image.layout.display = None
        return result

    def redraw(self) -> None:
        s = self.session
        name = self.shown_image
        self.image.value = _session_png(self.pixels(name), s.clicks_for(name), self.viewport)
        if s.done:
            self.prompt.value = f"<b>done: all {s.n_total} points clicked</b> (undo to change the last one)"
        else:
            self.prompt.value = (f"<b>{html.escape(name)}: click {s.current_point} - "
                                 f"{html.escape(s.current_point_name)}</b> (point {s.n_done + 1} of {s.n_total})")
        if self._template is not None and not s.done:
            if s.current_point not in self._diagrams:
                self._diagrams[s.current_point] = _template_png(self._template, s.current_point)
            self.template.value = self._diagrams[s.current_point]


def annotation_widget(session: AnnotationSession, save_path: str = "my_annotations.json",
                      cascade: Cascade | None = None, score: bool = True) -> AnnotationWidget:
    """An :class:`AnnotationWidget` on ``session`` (``score``: score automatically after the last point)."""
    return AnnotationWidget(session, save_path, cascade, score)

