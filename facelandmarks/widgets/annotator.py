""""You vs the CNN": click each asked landmark on the J&dC faces, then compare with the crowd, the
experts and the CNN. The logic is :class:`facelandmarks.human.AnnotationSession`; here are the
:class:`Viewport` (PNG pixel <-> image coordinates), scoring and the widget. Clicks on the image come
from **ipyevents** (see ``docs/widgets.md`` for why), imported only when an annotator is built."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np

from .. import viz
from ..geometry import points_box, square_box
from .. import human
from ..schemes import get_scheme
from .drawing import FINAL, LEARNER, TRUTH, figure, hbox_top, message_png, png, show_region

if TYPE_CHECKING:  # pragma: no cover
    from ..human import AnnotationSession, ModelErrors, SessionScore
    from ..models.cascade import Cascade

__all__ = ["Viewport", "SessionResult", "score_session", "AnnotationWidget", "annotation_widget"]


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
    table = human.load_jdc(session.root)
    references = human.jdc_references(table.select(group="expert"))
    points = tuple(p for p in human.JDC_IBUG_POINTS if p in session.point_ids)
    errors = human.annotation_errors(table, points, references)
    model = None
    if cascade is not None and session.completed_images():
        model = human.model_errors(cascade, table, session.root, images=session.completed_images(), points=points,
                                   n_jitter=n_jitter)
    return SessionResult(session.score(errors, model, references, points), model, references)


def _template_point(template: np.ndarray, point_id: str) -> np.ndarray:
    """Where a J&dC point lies on a 68-point shape: iBUG points as they are, the study's own three
    (P70 between lower lip and chin tip, P71/P72 the pupils) from their neighbours."""
    if point_id in human.JDC_OWN_POINTS:
        return template[list(human.JDC_OWN_POINTS[point_id])].mean(axis=0)
    return template[human.point_number(point_id) - 1]


def _template_png(template: np.ndarray, point_id: str, size: int = 200) -> bytes:
    """The 68-point mean shape (upright) with the asked point circled: where to click, as a diagram."""
    fig = figure(size, size)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    viz.draw_landmarks(ax, template, get_scheme(len(template)), size=6)
    x, y = _template_point(template, point_id)
    ax.scatter([x], [y], s=220, facecolors="none", edgecolors="black", linewidths=2, zorder=5)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.axis("off")
    fig.text(0.5, 0.97, f"{point_id} is about here", ha="center", va="top", fontsize=9)
    return png(fig)


def _session_png(image: np.ndarray, clicks: np.ndarray, viewport: Viewport) -> bytes:
    """The annotator's image: the ``viewport`` part of ``image`` with the ``(P, 2)`` clicks made on it
    (NaN: not clicked yet), the last one ringed."""
    fig = figure(viewport.width, viewport.height)
    ax = fig.add_axes((0, 0, 1, 1))
    show_region(ax, image, viewport.box)
    done = ~np.isnan(clicks).any(axis=1)
    if done.any():
        pts = clicks[done]
        ax.scatter(pts[:, 0], pts[:, 1], marker="+", s=90, c=LEARNER, linewidths=1.5, zorder=4)
        ax.scatter(*pts[-1], s=160, facecolors="none", edgecolors="yellow", linewidths=1.2, zorder=5)
    ax.axis("off")
    return png(fig)


def _result_png(session: AnnotationSession, result: SessionResult, size: int = 260) -> bytes:
    """Each completed image: the J&dC reference (lime), the learner's clicks (magenta) and, with a
    model, its prediction from the detector's box (red) on the same points."""

    images = [r["image"] for r in result.score.rows]
    if not images:
        return message_png("no completed image yet", 2 * size, size // 3)
    fig = figure(size * len(images), size + 30, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(images)))
    pids = list(session.point_ids)
    for ax, row in zip(axes, result.score.rows):
        im = row["image"]
        ref = result.references[im][[human.JDC_POINT_IDS.index(p) for p in pids]]
        mine = session.clicks_for(im)
        show_region(ax, session.image(im), square_box(points_box(ref), 1.4))
        ax.scatter(*ref.T, s=14, c=TRUTH, edgecolors="black", linewidths=0.3, label="reference", zorder=3)
        ax.scatter(*mine.T, marker="+", s=40, c=LEARNER, linewidths=1.2, label="you", zorder=4)
        title = f"you {row['learner']:.3f}, crowd {row['crowd_median']:.3f}"
        if result.model is not None and im in result.model.images:
            ibug = [int(p[1:]) - 1 for p in result.model.point_ids]
            ax.scatter(*result.model.detector_points[result.model.images.index(im)][ibug].T, marker="x", s=18,
                       c=FINAL, linewidths=1, label="CNN (detector's box)", zorder=4)
            title += f", CNN {row['model_median']:.3f}"
        ax.set_title(title, fontsize=8)
    axes[0].legend(fontsize=7, loc="lower left")
    return png(fig)


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

    def __init__(self, session: AnnotationSession, save_path: str | None = None,
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
        super().__init__([self.prompt, controls, help_text, hbox_top(self.image, self.template),
                          self.status, self.result, self.result_image])
        self.add_class("facelandmarks-annotator")
        self.redraw()

    @property
    def cascade(self) -> Cascade:
        """The model compared with (loaded with :func:`facelandmarks.load_pretrained` when not given)."""
        if self._cascade is None:
            from ..models.pretrained import load_pretrained

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
        try:
            path = self.session.save(self.save_path)
        except OSError as err:  # shown in the widget: a callback's exception would vanish in the log
            self.status.value = f"<b>could not save</b>: {html.escape(str(err))}"
            return
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


def annotation_widget(session: AnnotationSession, save_path: str | None = None,
                      cascade: Cascade | None = None, score: bool = True) -> AnnotationWidget:
    """An :class:`AnnotationWidget` on ``session`` (``score``: score automatically after the last point;
    ``save_path``: the file the save button writes, or a folder; ``None``: the current folder, under
    the session's unique :meth:`~facelandmarks.human.AnnotationSession.default_filename`)."""
    return AnnotationWidget(session, save_path, cascade, score)
