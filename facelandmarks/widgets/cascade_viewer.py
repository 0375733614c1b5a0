"""The cascade viewer: one face through every frame of the cascade (the paper's Fig. 3) and one
level-2 patch with its votes (logic: :func:`cascade_stages`; widget: :class:`CascadeViewer`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np
from matplotlib.patches import Polygon

from .. import viz
from ..geometry import box_to_crop_matrix, points_box, square_box, transform_points, warp_batch, warp_image
from ..schemes import get_scheme
from .drawing import FINAL, LEVEL1, TRUTH, face_view, figure, message_png, png, show_region

if TYPE_CHECKING:  # pragma: no cover
    from ..models.cascade import Cascade, FacePrediction

__all__ = ["CascadeStages", "cascade_stages", "render_stages", "render_patch", "CascadeViewer", "cascade_viewer"]


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


def render_stages(stages: CascadeStages, height: int = 300) -> bytes:
    """PNG of the five stages side by side: box -> level-1 crop -> rectified face -> patches -> final."""
    r, image = stages.prediction, stages.image
    n_panels = 5 if stages.rectified is not None else 3
    fig = figure(int(height * n_panels * 0.95), height, layout="constrained")
    axes = fig.subplots(1, n_panels)
    scheme = get_scheme(len(r.points))
    show_region(axes[0], image, face_view(r.level1_points, r.box.reshape(2, 2), pad=1.6))
    viz.draw_box(axes[0], r.box, color="yellow", label="face box (landmark convention)")
    if r.detector_box is not None:
        viz.draw_box(axes[0], r.detector_box, color="cyan", ls="--", label="detector's own box")
    # legends below the panels, readable and off the face
    axes[0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False)
    axes[0].set_title("1. face box", fontsize=9)
    s = stages.crop.shape[0]
    show_region(axes[1], stages.crop, (-0.5, -0.5, s - 0.5, s - 0.5))
    viz.draw_landmarks(axes[1], stages.crop_points, scheme, size=5)
    axes[1].set_title(f"2. level 1: {s}x{s} crop, 68 points", fontsize=9)
    last = axes[2]
    if stages.rectified is not None:
        rs = stages.rectified.shape[0]
        show_region(axes[2], stages.rectified, (-0.5, -0.5, rs - 0.5, rs - 0.5))
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
        axes[3].scatter(centres[:, 0], centres[:, 1], s=2, c=LEVEL1)
        axes[3].set_title(f"4. level 2: {n} patches {p}x{p}", fontsize=9)
        axes[3].set_xticks([])
        axes[3].set_yticks([])
        last = axes[4]
    truth = stages.truth
    show_region(last, image, face_view(r.points, r.level1_points, pad=1.3))
    viz.draw_landmarks(last, r.level1_points, scheme, color=LEVEL1, edges=False, size=6, label="level 1")
    viz.draw_landmarks(last, r.points, scheme, color=FINAL, size=8, label="final")
    if truth is not None:
        viz.draw_landmarks(last, truth, scheme, color=TRUTH, edges=False, size=6, label="ground truth")
    last.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False, ncol=2)
    last.set_title(f"{n_panels}. final points on the photo", fontsize=9)
    return png(fig)


def render_patch(stages: CascadeStages, point: int, size: int = 300) -> bytes:
    """PNG of level 2 for one point (0-based): where its patch lies on the rectified face, and the
    patch enlarged with its K votes (each labelled with the 1-based number of the point it is for),
    the level-1 point at its centre and, when known, the final and true points of this point."""
    if stages.patches is None:
        return message_png("this cascade has no level 2", 2 * size, size // 2)
    r, p = stages.prediction, stages.patch_size
    fig = figure(int(2.8 * size), size, layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1, 1.8)})
    rs = stages.rectified.shape[0]
    show_region(left, stages.rectified, (-0.5, -0.5, rs - 0.5, rs - 0.5))
    patch_to_view = stages.view_matrix @ np.linalg.inv(r.patch_matrices[point])
    corners = transform_points(np.array([[-0.5, -0.5], [p - 0.5, -0.5], [p - 0.5, p - 0.5], [-0.5, p - 0.5]]),
                               patch_to_view)
    left.add_patch(Polygon(corners, closed=True, fill=False, edgecolor="yellow", lw=1.5))
    left.scatter(*transform_points(r.level1_points, stages.view_matrix).T, s=4, c=LEVEL1)
    left.set_title(f"point {point + 1}: its patch on the rectified face", fontsize=9)
    right.imshow(stages.patches[point], interpolation="nearest")
    centre = (p - 1) / 2
    right.scatter([centre], [centre], marker="x", s=80, c=LEVEL1, zorder=4,
                  label=f"level-1 point {point + 1} (centre)")
    colors = ["#1f77b4", "#e377c2", "#17becf", "#bcbd22", "#8c564b"]
    for j, (vote, target) in enumerate(zip(stages.patch_votes[point], stages.vote_targets[point])):
        right.scatter(*vote, s=60, c=colors[j % len(colors)], edgecolors="white", zorder=5,
                      label=f"vote for point {int(target) + 1}")
        right.annotate(str(int(target) + 1), vote, xytext=(4, 4), textcoords="offset points", color="white", fontsize=8)
    to_patch = r.patch_matrices[point]
    final = transform_points(r.level2_points[point][None], to_patch)[0]
    right.scatter(*final, marker="+", s=120, c=FINAL, zorder=6, label=f"level-2 point {point + 1} (all votes, corrected)")
    if stages.truth is not None:
        right.scatter(*transform_points(stages.truth[point][None], to_patch)[0], marker="o", s=60, facecolors="none",
                      edgecolors=TRUTH, lw=2, zorder=6, label="ground truth")
    right.set_xlim(-0.5, p - 0.5)
    right.set_ylim(p - 0.5, -0.5)
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    right.set_title(f"patch {p}x{p}: its {stages.patch_votes.shape[1]} votes", fontsize=9)
    right.set_xticks([])
    right.set_yticks([])
    return png(fig)


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
                      "Each point's level-2 position is the mean of all the votes for it, moved by "
                      "level 2's shape correction when the cascade has one (about a pixel).")
        super().__init__([self.stages_image, note, self.point_slider, self.patch_image])
        self.add_class("facelandmarks-cascade-viewer")
        self.redraw_patch()

    def redraw_patch(self) -> None:
        self.patch_image.value = render_patch(self.stages, self.point_slider.value - 1)


def cascade_viewer(cascade: Cascade, image: np.ndarray, box: np.ndarray | None = None,
                   truth: np.ndarray | None = None) -> CascadeViewer:
    """A :class:`CascadeViewer` of one face (``box`` None: the face detector finds it)."""
    return CascadeViewer(cascade, image, box, truth)
