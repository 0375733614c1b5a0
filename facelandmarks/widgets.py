"""Interactive inspection in Jupyter (ipywidgets): a prediction browser, a cascade viewer, a CED explorer.

The logic lives in plain classes (:class:`BrowserState`, :func:`failing_faces`) that are tested without
a browser; the widgets only draw with matplotlib into PNG images (fast, and it works everywhere).
"""
from __future__ import annotations

import io as _io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # figures are rendered to PNG bytes, never shown by pyplot
import matplotlib.pyplot as plt
import numpy as np

from . import metrics, viz
from .evaluation import Evaluation
from .geometry import transform_points, warp_batch, warp_image

__all__ = ["BrowserState", "failing_faces", "render_face", "prediction_browser", "cascade_viewer", "ced_explorer",
           "annotation_widget"]


@dataclass
class BrowserState:
    """Which faces of an Evaluation are shown, in which order, and which one is current.

    ``group``: a point group of the scheme (or ``None`` = all points); the NME used for sorting and
    display is then the group's. ``subset``: keep only faces whose name starts with it (e.g. a
    dataset prefix) or ``None``. ``order``: ``"worst"`` first, ``"best"`` first, or ``"name"``.
    """

    evaluation: Evaluation
    order: str = "worst"
    group: str | None = None
    subset: str | None = None
    position: int = 0
    indices: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.refresh()

    def errors(self) -> np.ndarray:
        """Per-face NME (``(B,)``) over the chosen group's points."""
        idx = self.evaluation.faces.scheme.subset(self.group)
        return self.evaluation.point_errors[:, idx].mean(axis=1)

    def refresh(self) -> None:
        """Recompute the shown faces after a change of order, group or subset; keeps the position in range."""
        if self.order not in ("worst", "best", "name"):
            raise ValueError(f"order must be 'worst', 'best' or 'name', got {self.order!r}")
        names = self.evaluation.names
        keep = np.array([self.subset is None or n.startswith(self.subset) for n in names])
        candidates = np.flatnonzero(keep)
        err = self.errors()[candidates]
        if self.order == "worst":
            candidates = candidates[np.argsort(-err, kind="stable")]
        elif self.order == "best":
            candidates = candidates[np.argsort(err, kind="stable")]
        else:
            candidates = candidates[np.argsort([names[i] for i in candidates], kind="stable")]
        self.indices = candidates
        self.position = int(np.clip(self.position, 0, max(0, len(candidates) - 1)))

    @property
    def current(self) -> int | None:
        """Index (into the Evaluation) of the face shown, or None when the filter leaves none."""
        return int(self.indices[self.position]) if len(self.indices) else None

    def step(self, delta: int) -> int | None:
        """Move by ``delta`` faces (clipped to the ends); returns the new current face."""
        self.position = int(np.clip(self.position + delta, 0, max(0, len(self.indices) - 1)))
        return self.current

    def go(self, position: int) -> int | None:
        self.position = int(np.clip(position, 0, max(0, len(self.indices) - 1)))
        return self.current

    def describe(self) -> str:
        """The current face's numbers, with the normaliser named."""
        i = self.current
        if i is None:
            return "no face matches the filter"
        ev = self.evaluation
        part = f"group {self.group}" if self.group else "all 68 points"
        return (f"{ev.names[i]} (rank {self.position + 1} of {len(self.indices)}, {self.order} first): "
                f"NME level 1 {100 * ev.nme_level1[i]:.2f}%, final {100 * ev.nme[i]:.2f}%, "
                f"{part} {100 * self.errors()[i]:.2f}% (normalised by {ev.norm})")


def failing_faces(errors: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the faces whose error is above ``threshold``, worst first (as counted by failure_rate)."""
    errors = np.asarray(errors)
    bad = np.flatnonzero(errors > threshold)
    return bad[np.argsort(-errors[bad], kind="stable")]


def _png(fig: plt.Figure) -> bytes:
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return buf.getvalue()


def render_face(evaluation: Evaluation, index: int, show: tuple[str, ...] = ("truth", "level 1", "final", "vectors"),
                size: float = 5.0) -> bytes:
    """PNG bytes of one face: ground truth, level-1 and final points, error vectors, points coloured by error."""
    ev = evaluation
    image, gt = ev.faces.images[index], ev.gt[index]
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(image)
    if "truth" in show:
        ax.scatter(gt[:, 0], gt[:, 1], s=10, c="lime", label="ground truth")
    if "level 1" in show:
        ax.scatter(*ev.level1_points[index].T, s=8, c="orange", marker="x", label="level 1")
    if "final" in show:
        sc = ax.scatter(*ev.points[index].T, s=14, c=ev.point_errors[index], cmap="magma_r", vmin=0, vmax=0.1,
                        edgecolors="white", linewidths=0.3, label="final (colour = error)")
        fig.colorbar(sc, ax=ax, fraction=0.04, label=f"point error / {ev.norm}")
    if "vectors" in show:
        d = ev.points[index] - gt
        ax.quiver(gt[:, 0], gt[:, 1], d[:, 0], d[:, 1], angles="xy", scale_units="xy", scale=1, color="red", width=0.003)
    box = ev.boxes[index]
    pad = 0.3 * (box[2] - box[0])
    ax.set_xlim(box[0] - pad, box[2] + pad)
    ax.set_ylim(box[3] + pad, box[1] - pad)
    ax.legend(fontsize=7, loc="lower left")
    ax.axis("off")
    return _png(fig)


def prediction_browser(evaluation: Evaluation):
    """Browse an Evaluation: sort/filter by NME, subset or point group; step with slider or buttons."""
    import ipywidgets as w

    state = BrowserState(evaluation)
    image = w.Image(format="png")
    info = w.HTML()
    slider = w.IntSlider(min=0, max=max(0, len(state.indices) - 1), description="face")
    prev_b, next_b = w.Button(description="previous"), w.Button(description="next")
    order = w.Dropdown(options=["worst", "best", "name"], value="worst", description="order")
    group = w.Dropdown(options=[("all points", "all")] + [(g, g) for g in evaluation.faces.scheme.groups],
                       value="all", description="group")
    layers = w.SelectMultiple(options=["truth", "level 1", "final", "vectors"], value=("truth", "final", "vectors"),
                              description="show")

    def redraw(*_) -> None:
        i = state.current
        info.value = f"<b>{state.describe()}</b>"
        if i is not None:
            image.value = render_face(evaluation, i, tuple(layers.value))

    def on_slider(change) -> None:
        state.go(change["new"])
        redraw()

    def on_filter(*_) -> None:
        state.order, state.group = order.value, None if group.value == "all" else group.value
        state.refresh()
        slider.max = max(0, len(state.indices) - 1)
        slider.value = state.position
        redraw()

    slider.observe(on_slider, names="value")
    prev_b.on_click(lambda _: setattr(slider, "value", max(0, slider.value - 1)))
    next_b.on_click(lambda _: setattr(slider, "value", min(slider.max, slider.value + 1)))
    order.observe(on_filter, names="value")
    group.observe(on_filter, names="value")
    layers.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([order, group, layers]), w.HBox([prev_b, slider, next_b]), info, image])


def cascade_viewer(cascade, image: np.ndarray, box: np.ndarray | None = None):
    """One face through the cascade: box -> level-1 crop -> rectified face -> patches -> final points."""
    import ipywidgets as w

    r = cascade.predict(image, box=box)
    cfg1 = cascade.level1.config
    crop = warp_image(image, r.crop_matrix, cfg1.input_size)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    axes[0].imshow(image)
    viz.draw_box(axes[0], r.box, label="landmark box")
    if r.detector_box is not None:
        viz.draw_box(axes[0], r.detector_box, color="cyan", label="detector box")
    axes[0].legend(fontsize=7)
    axes[0].set_title("1. face box")
    axes[1].imshow(crop)
    viz.draw_landmarks(axes[1], transform_points(r.level1_points, r.crop_matrix), size=6)
    axes[1].set_title(f"2. level-1 crop {cfg1.input_size}x{cfg1.input_size}")
    if r.rectify_matrix is not None:
        side = int(cascade.level2.config.face_size * 1.6)
        shift = np.array([[1, 0, side * 0.2], [0, 1, side * 0.2], [0, 0, 1.0]])
        axes[2].imshow(warp_image(image, shift @ r.rectify_matrix, side))
        viz.draw_landmarks(axes[2], transform_points(r.level1_points, shift @ r.rectify_matrix), size=6)
        axes[2].set_title("3. rectified face, level-1 points")
        p = cascade.level2.config.patch_size
        patches = warp_batch(image, r.patch_matrices, p).numpy().astype(np.uint8)  # (N, 3, P, P)
        grid = np.concatenate([np.concatenate(list(patches[row * 17:(row + 1) * 17].transpose(0, 2, 3, 1)), axis=1)
                               for row in range(len(patches) // 17)], axis=0)
        axes[3].imshow(grid)
        axes[3].set_title("4. the 68 level-2 patches")
    for ax in axes:
        ax.axis("off")
    stages = w.Image(value=_png(fig), format="png")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(image)
    viz.draw_landmarks(ax, r.level1_points, color="orange", size=6, edges=False, label="level 1")
    viz.draw_landmarks(ax, r.points, label="final")
    ax.legend(fontsize=7)
    ax.set_xlim(r.box[0] - 40, r.box[2] + 40)
    ax.set_ylim(r.box[3] + 40, r.box[1] - 40)
    ax.set_title("5. final points on the photo")
    ax.axis("off")
    return w.VBox([stages, w.Image(value=_png(fig), format="png")])


def ced_explorer(evaluation: Evaluation):
    """Move a threshold: the CED with the threshold line, and which faces fail and why (worst groups)."""
    import ipywidgets as w

    ev = evaluation
    slider = w.FloatSlider(value=0.08, min=0.01, max=0.15, step=0.005, description="threshold", readout_format=".3f")
    image, info = w.Image(format="png"), w.HTML()
    groups = ev.faces.scheme.groups

    def redraw(*_) -> None:
        t = slider.value
        fig, ax = plt.subplots(figsize=(6, 4))
        viz.plot_ced({"level 1": ev.nme_level1, "cascade": ev.nme}, threshold=max(0.15, t), norm=ev.norm, ax=ax)
        ax.axvline(t, color="red", ls="--")
        image.value = _png(fig)
        bad = failing_faces(ev.nme, t)
        rows = []
        for i in bad[:15]:
            worst = max(groups, key=lambda g: ev.point_errors[i, list(groups[g])].mean())
            rows.append(f"<li>{ev.names[i]}: {100 * ev.nme[i]:.1f}% (worst group: {worst})</li>")
        info.value = (f"<b>{len(bad)} of {len(ev.nme)} faces fail at {t:.3f} "
                      f"({100 * metrics.failure_rate(ev.nme, t):.1f}%)</b><ul>{''.join(rows)}</ul>")

    slider.observe(redraw, names="value")
    redraw()
    return w.VBox([slider, w.HBox([image, info])])


def _annotated_png(image: np.ndarray, clicks: np.ndarray, radius: int = 3) -> bytes:
    """PNG of ``image`` at its own pixel size with the clicks drawn, so a click's image position is
    the pixel under the pointer (ipyevents reports it as ``dataX``, ``dataY``)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    for x, y in clicks[~np.isnan(clicks).any(axis=1)]:
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=(255, 0, 0), width=2)
    buf = _io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def annotation_widget(session, save_path: str = "my_annotations.json", score: bool = True):
    """"You vs the CNN": click the asked landmark on each J&dC face, then see your error next to the
    crowd's, the experts' and the model's (the same metric). Clicks are captured with ipyevents.

    Args:
        session: a :class:`facelandmarks.human.AnnotationSession` (its logic: state, undo, scoring, saving).
        save_path: where the Save button writes the session (JSON, atomic).
        score: compute the scores when the last point is clicked (loads the study and runs the cascade).
    """
    import ipywidgets as w
    from ipyevents import Event

    image = w.Image(format="png")
    prompt, result = w.HTML(), w.HTML()
    undo, save = w.Button(description="undo"), w.Button(description="save")

    def redraw() -> None:
        name = session.current_image or session.images[-1]
        image.value = _annotated_png(session.image(name), session.clicks_for(name))
        if session.done:
            prompt.value = f"<b>done: {session.n_done} of {session.n_total} points clicked</b>"
        else:
            prompt.value = (f"<b>{session.current_image}: click {session.current_point} "
                            f"({session.current_point_name})</b> - point {session.n_done + 1} of {session.n_total}")

    def finish() -> None:
        if not score:
            return
        from . import human, load_pretrained

        table = human.load_jdc(session.root)
        errors = human.annotation_errors(table)
        model = human.model_errors(load_pretrained(), table, session.root, n_jitter=5)
        result.value = "<pre>" + session.score(errors, model).text() + "</pre>"

    def on_click(event: dict) -> None:
        if session.done:
            return
        session.click(float(event["dataX"]), float(event["dataY"]))
        redraw()
        if session.done:
            finish()

    def on_undo(_) -> None:
        session.undo()
        result.value = ""
        redraw()

    def on_save(_) -> None:
        session.save(save_path)
        result.value = f"saved to {save_path}"

    events = Event(source=image, watched_events=["click"])
    events.on_dom_event(on_click)
    undo.on_click(on_undo)
    save.on_click(on_save)
    redraw()
    box = w.VBox([prompt, w.HBox([undo, save]), image, result])
    box._events = events  # keep the listener alive with the widget
    return box
