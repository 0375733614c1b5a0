"""Matplotlib figures: landmarks on faces, CED curves, per-point errors, training curves.

Functions draw on a given ``ax`` (or make a new figure) and return it; they never call
``plt.show()`` and leave no global state behind.
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import metrics
from .geometry import as_points, points_box
from .schemes import IBUG68, LandmarkScheme

__all__ = ["draw_landmarks", "draw_box", "show_faces", "plot_ced", "plot_point_errors", "plot_training_log",
           "data_overlay"]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def draw_landmarks(ax: Axes, points: np.ndarray, scheme: LandmarkScheme = IBUG68, color: str = "group",
                   edges: bool = True, size: float = 12.0, label: str | None = None, numbers: bool = False) -> Axes:
    """Draw points ``(N, 2)`` (x, y) with the scheme's edges; ``color="group"`` colours by group."""
    pts = as_points(points, "points", scheme.n_points)
    colors = scheme.point_colors() if color == "group" else [color] * scheme.n_points
    if edges:
        for a, b in scheme.edges:
            ax.plot(pts[[a, b], 0], pts[[a, b], 1], "-", color=colors[a], lw=0.8, alpha=0.8)
    ax.scatter(pts[:, 0], pts[:, 1], s=size, c=colors, edgecolors="black", linewidths=0.3, label=label, zorder=3)
    if numbers:
        for i, (x, y) in enumerate(pts):
            ax.annotate(str(i + 1), (x, y), fontsize=6, color="white", xytext=(2, 2), textcoords="offset points")
    return ax


def draw_box(ax: Axes, box: np.ndarray, color: str = "yellow", label: str | None = None, **kw) -> Axes:
    """Draw a box ``(x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = np.asarray(box, dtype=float).reshape(4)
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color, lw=1.5, label=label, **kw))
    return ax


def show_faces(images: list[np.ndarray], points_list: list, titles: list[str] | None = None, ncols: int = 4,
               scheme: LandmarkScheme = IBUG68, size: float = 3.0) -> Figure:
    """A grid of faces with points; an entry of ``points_list`` may be ``(N, 2)`` or a dict label -> ``(N, 2)``."""
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    palette = ["lime", "red", "cyan", "orange"]
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i])
        entry = points_list[i]
        if isinstance(entry, dict):
            for j, (label, pts) in enumerate(entry.items()):
                draw_landmarks(ax, pts, scheme, color=palette[j % len(palette)], size=6, label=label)
            if i == 0:
                ax.legend(fontsize=7, loc="lower left")
        elif entry is not None:
            draw_landmarks(ax, entry, scheme, size=6)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_ced(errors: dict[str, np.ndarray], threshold: float = 0.08, norm: str = "inter_ocular",
             ax: Axes | None = None) -> Axes:
    """Cumulative error distributions; the legend gives AUC@threshold and failure rate per method."""
    ax = _axes(ax)
    xs = np.linspace(0, threshold, 200)
    for label, err in errors.items():
        err = np.asarray(err)
        ax.plot(xs, metrics.ced(err, xs), lw=2,
                label=f"{label}: AUC@{threshold:g} {metrics.auc(err, threshold):.3f}, failures@{threshold:g} {100 * metrics.failure_rate(err, threshold):.1f}%")
    ax.set_xlim(0, threshold)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"NME (normalised by {norm} distance)")
    ax.set_ylabel("fraction of images")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_point_errors(errors: np.ndarray, scheme: LandmarkScheme = IBUG68, ax: Axes | None = None,
                      label: str = "mean normalised error") -> Axes:
    """Bar chart of the mean error of each landmark, coloured by group; ``errors`` is (B, N) or (N,)."""
    ax = _axes(ax, (10, 3))
    err = np.asarray(errors, dtype=float)
    per_point = err.mean(axis=0) if err.ndim == 2 else err
    ax.bar(np.arange(1, scheme.n_points + 1), per_point, color=scheme.point_colors(), edgecolor="black", lw=0.3)
    ax.set_xlabel("landmark (1-based)")
    ax.set_ylabel(label)
    ax.set_xlim(0.3, scheme.n_points + 0.7)
    return ax


def plot_training_log(logs: dict[str, str | os.PathLike | list[dict]], ax: Axes | None = None) -> Axes:
    """Validation NME (solid) and training loss (dashed, right axis) per epoch for each log."""
    from .train import read_log

    ax = _axes(ax, (7, 4))
    loss_ax = ax.twinx()
    for i, (label, log) in enumerate(logs.items()):
        rows = read_log(log) if not isinstance(log, list) else log
        epochs = [r["epoch"] for r in rows]
        color = f"C{i}"
        ax.plot(epochs, [r["val_nme"] for r in rows], "-", color=color, label=f"{label}: validation NME")
        loss_ax.plot(epochs, [r["train_loss"] for r in rows], "--", color=color, alpha=0.6)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NME (inter_ocular), solid")
    loss_ax.set_ylabel("training loss (L1), dashed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def data_overlay(root: str | os.PathLike | None = None, n: int = 8, seed: int = 0) -> Figure:
    """A few shared faces (training and test) with their 68 points coloured by group."""
    from . import datasets
    from .io import read_image, read_pts

    faces = datasets.split_faces("train", root) + datasets.split_faces("test", root)
    pick = np.random.default_rng(seed).choice(len(faces), size=min(n, len(faces)), replace=False)
    images, points, titles = [], [], []
    for i in pick:
        face = faces[i]
        pts = read_pts(face.pts_path, 68)
        box = points_box(pts)
        image = read_image(face.image_path)
        # show the face region only (with a margin), points moved with the crop
        side = 1.4 * max(box[2] - box[0], box[3] - box[1])
        cx, cy = (box[:2] + box[2:]) / 2
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(image.shape[1], cx + side / 2)), int(min(image.shape[0], cy + side / 2))
        images.append(image[y0:y1, x0:x1])
        points.append(pts - [x0, y0])
        titles.append(f"{face.subset}/{face.name}")
    fig = show_faces(images, points, titles, ncols=4)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=g)
               for g, c in IBUG68.group_colors.items() if not g.startswith("left")]
    fig.legend(handles=[h for h in handles], loc="lower center", ncol=len(handles), fontsize=8,
               labels=[h.get_label().replace("right_", "") for h in handles])
    fig.subplots_adjust(bottom=0.08)
    return fig
