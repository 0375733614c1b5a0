"""Matplotlib figures: landmarks on faces, CED curves, per-point errors, training curves.

Every function draws on the ``ax`` it is given, or makes a new figure when there is none, and
returns what it drew on. Nothing here calls ``plt.show()``, changes ``rcParams`` or draws on
pyplot's "current" axes: a new figure is made with ``plt.subplots`` only so that Jupyter shows it
(close it with ``plt.close(fig)`` in scripts). Points are float ``(N, 2)``, (x, y), 0-based pixel
centres, so they land on ``imshow``'s pixel centres without any shift.

Example:
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> from facelandmarks import viz
    >>> ax = viz.plot_ced({"method": np.array([0.02, 0.05, 0.1])}, threshold=0.08)
    >>> ax.get_xlabel()
    'NME (inter_ocular)'
    >>> plt.close(ax.figure)
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from . import metrics
from .geometry import as_points, check_box, points_box
from .schemes import IBUG68, LandmarkScheme

__all__ = ["draw_landmarks", "draw_box", "show_faces", "group_legend", "plot_ced", "plot_training_log",
           "plot_point_errors", "data_overlay"]

OVERLAY_COLORS = ("lime", "red", "cyan", "orange", "magenta", "yellow")
"""Colours of the point sets of one face when several are overlaid (ground truth, predictions ...)."""


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _displayable(image: np.ndarray) -> np.ndarray:
    """An image ``(H, W, 3)`` or ``(H, W)`` that ``imshow`` shows as is (floats above 1 are 0..255)."""
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W, 3) or (H, W), got shape {img.shape}")
    if img.dtype != np.uint8 and img.size and float(np.nanmax(img)) > 1.0:
        img = np.clip(img / 255.0, 0.0, 1.0)
    return img


def draw_landmarks(ax: Axes, points: np.ndarray, scheme: LandmarkScheme = IBUG68, color: str = "group",
                   edges: bool = True, size: float = 12.0, label: str | None = None,
                   numbers: bool = False) -> Axes:
    """Draw one shape on ``ax``: a dot per point and the scheme's edges.

    Args:
        ax: where to draw (typically after ``ax.imshow(image)``).
        points: ``(N, 2)``, (x, y), with N = ``scheme.n_points``.
        color: ``"group"`` colours each point by its group (``scheme.group_colors``); any matplotlib
            colour draws the whole shape in it.
        edges: join the points by ``scheme.edges`` (one ``LineCollection``).
        size: dot area, points^2.
        label: legend label of the dots.
        numbers: write each point's 1-based number (the literature's numbering) beside it.

    Returns:
        ``ax``.
    """
    pts = as_points(points, "points", scheme.n_points)
    if pts.ndim != 2:
        raise ValueError(f"draw_landmarks draws one shape (N, 2), got {pts.shape}")
    colors = scheme.point_colors() if color == "group" else [color] * scheme.n_points
    if edges and scheme.edges:
        segments = [pts[[a, b]] for a, b in scheme.edges]
        ax.add_collection(LineCollection(segments, colors=[colors[a] for a, _ in scheme.edges],
                                         linewidths=0.8, alpha=0.8, zorder=2))
    ax.scatter(pts[:, 0], pts[:, 1], s=size, c=colors, edgecolors="black", linewidths=0.3, label=label, zorder=3)
    if numbers:
        for i, (x, y) in enumerate(pts):
            ax.annotate(str(i + 1), (x, y), fontsize=6, color="white", xytext=(2, 2), textcoords="offset points")
    return ax


def draw_box(ax: Axes, box: np.ndarray, color: str = "yellow", label: str | None = None, **kw) -> Axes:
    """Draw a box ``(x0, y0, x1, y1)`` (an extent, as everywhere in the package) as an unfilled rectangle.

    Extra keywords go to :class:`matplotlib.patches.Rectangle` (``lw``, ``ls`` ...).
    """
    x0, y0, x1, y1 = check_box(box)
    style = {"fill": False, "edgecolor": color, "lw": 1.5, **kw}
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, label=label, **style))
    return ax


def group_legend(target: Axes | Figure, scheme: LandmarkScheme = IBUG68, **kw) -> None:
    """Add a legend of the scheme's group colours (one entry per group) to an Axes or a Figure."""
    handles = [Line2D([], [], marker="o", ls="", color=scheme.group_colors.get(g, "white"),
                      markeredgecolor="black", markeredgewidth=0.3, label=g.replace("_", " "))
               for g in scheme.groups]
    target.legend(handles=handles, **{"fontsize": 8, **kw})


def show_faces(images: Sequence[np.ndarray], points_list: Sequence, titles: Sequence[str] | None = None,
               ncols: int = 4, scheme: LandmarkScheme = IBUG68, size: float = 3.0, legend: bool = True) -> Figure:
    """A grid of faces with their points.

    Args:
        images: ``(H, W, 3)`` uint8, or float in [0, 1] (or 0..255).
        points_list: per image ``(N, 2)`` (coloured by group), ``None`` (image only), or a dict
            label -> ``(N, 2)`` to overlay several sets (e.g. ``{"truth": gt, "cascade": pred}``); a
            label keeps its colour across the grid.
        titles: one per image.
        ncols: images per row.
        size: inches per image.
        legend: one figure legend: the labels of overlaid sets, or else the group colours.

    Returns:
        the Figure, with one Axes per grid cell (the unused ones hidden).
    """
    n = len(images)
    if n == 0:
        raise ValueError("show_faces needs at least one image")
    if len(points_list) != n or (titles is not None and len(titles) != n):
        raise ValueError(f"show_faces: {n} images but {len(points_list)} point sets"
                         + ("" if titles is None else f" and {len(titles)} titles"))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if legend else 0)),
                             squeeze=False, layout="constrained")
    label_colors: dict[str, str] = {}
    by_group = False
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            ax.set_visible(False)
            continue
        ax.imshow(_displayable(images[i]))
        entry = points_list[i]
        if isinstance(entry, Mapping):
            for label, pts in entry.items():
                c = label_colors.setdefault(label, OVERLAY_COLORS[len(label_colors) % len(OVERLAY_COLORS)])
                draw_landmarks(ax, pts, scheme, color=c, size=6, label=label)
        elif entry is not None:
            draw_landmarks(ax, entry, scheme, size=6)
            by_group = True
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if legend and label_colors:
        handles = [Line2D([], [], marker="o", ls="-", color=c, label=label) for label, c in label_colors.items()]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    elif legend and by_group:
        group_legend(fig, scheme, loc="outside lower center", ncol=len(scheme.groups))
    return fig


def plot_ced(errors: Mapping[str, np.ndarray], threshold: float = 0.08, norm: str = metrics.DEFAULT_NORMALISER,
             ax: Axes | None = None, max_error: float | None = None) -> Axes:
    """Cumulative error distributions of several methods.

    The curve of a method is ``CED(x)`` = fraction of its images with error <= x
    (:func:`facelandmarks.metrics.ced`); its legend entry gives ``AUC@threshold``
    (:func:`~facelandmarks.metrics.auc`) and the failure rate above the threshold
    (:func:`~facelandmarks.metrics.failure_rate`).

    Args:
        errors: method name -> per-image errors ``(B,)`` (already normalised by ``norm``).
        threshold: of the AUC and the failure rate.
        norm: the normaliser the errors were divided by; only used in the labels.
        max_error: right end of the x axis (default: ``threshold``).
    """
    ax = _new_axes(ax, (6, 4))
    right = threshold if max_error is None else max_error
    xs = np.linspace(0.0, right, 400)
    for label, err in errors.items():
        err = np.asarray(err, dtype=np.float64).reshape(-1)
        auc = metrics.auc(err, threshold)
        failures = metrics.failure_rate(err, threshold)
        ax.plot(xs, metrics.ced(err, xs), lw=2,
                label=f"{label}: AUC@{threshold:g} = {auc:.3f}, failures@{threshold:g} = {100 * failures:.1f}%")
    ax.set_xlim(0.0, right)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(f"NME ({norm})")
    ax.set_ylabel("fraction of images with NME <= x")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return ax


_LOG_CURVES = (  # (column, axis, line style, legend text)
    ("val_nme", "nme", "-", "validation NME"),
    ("val_start_nme", "nme", "-.", "validation NME before refinement"),
    ("train_loss", "loss", "--", "training loss"),
    ("val_loss", "loss", ":", "validation loss"),
)


def plot_training_log(logs: Mapping[str, str | os.PathLike | list[dict]], ax: Axes | None = None) -> Axes:
    """Per epoch: validation NME (left axis) and training / validation loss (right axis) of each run.

    Args:
        logs: run name -> a training log CSV (:func:`facelandmarks.train.read_log`) or its rows
            (dicts with ``epoch`` and some of ``train_loss``, ``val_loss``, ``val_nme``,
            ``val_start_nme``). A colour per run, a line style per quantity.

    Returns:
        the NME Axes; the loss Axes is its twin (``ax.figure.axes``).
    """
    from .train import read_log  # train imports torch models; keep viz light until it is needed

    ax = _new_axes(ax, (7, 4))
    loss_ax = ax.twinx()
    seen: set[str] = set()
    handles = []
    for i, (name, log) in enumerate(logs.items()):
        rows = log if isinstance(log, list) else read_log(log)
        if not rows:
            raise ValueError(f"training log {name!r} has no rows")
        epochs = [r["epoch"] for r in rows]
        color = f"C{i}"
        for column, which, style, _ in _LOG_CURVES:
            if column in rows[0]:
                (ax if which == "nme" else loss_ax).plot(epochs, [r[column] for r in rows], style, color=color, lw=1.5)
                seen.add(column)
        handles.append(Line2D([], [], color=color, lw=3, label=name))
    handles += [Line2D([], [], color="gray", ls=style, label=text) for column, _, style, text in _LOG_CURVES
                if column in seen]
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NME (inter_ocular)")
    loss_ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    return ax


def plot_point_errors(errors: np.ndarray, scheme: LandmarkScheme = IBUG68, ax: Axes | None = None,
                      label: str = "mean NME (inter_ocular)") -> Axes:
    """Bar chart of the mean error of each landmark, coloured by group.

    Args:
        errors: per-point errors ``(B, N)`` (averaged over the B faces) or ``(N,)``, e.g.
            :func:`facelandmarks.metrics.point_errors`.
        label: y axis label; say which normaliser the errors use.
    """
    err = np.asarray(errors, dtype=np.float64)
    if err.ndim not in (1, 2) or err.shape[-1] != scheme.n_points:
        raise ValueError(f"errors must be (B, {scheme.n_points}) or ({scheme.n_points},), got {err.shape}")
    ax = _new_axes(ax, (10, 3))
    per_point = err.mean(axis=0) if err.ndim == 2 else err
    ax.bar(np.arange(1, scheme.n_points + 1), per_point, color=scheme.point_colors(), edgecolor="black", lw=0.3)
    ax.set_xlabel("landmark (1-based number)")
    ax.set_ylabel(label)
    ax.set_xlim(0.3, scheme.n_points + 0.7)
    group_legend(ax, scheme, ncol=len(scheme.groups), fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                 frameon=False)
    return ax


def data_overlay(root: str | os.PathLike | None = None, n: int = 8, seed: int = 0) -> Figure:
    """A few shared faces (training and test) with their 68 points coloured by group.

    Faces are drawn at random (``seed``) from the named splits under the data root
    (:func:`facelandmarks.datasets.data_root`); each is cut to its landmark box with a margin, the
    points moved with the cut. Backs ``facelandmarks show-data``.
    """
    from . import datasets
    from .io import read_image, read_pts

    faces = datasets.split_faces("train", root) + datasets.split_faces("test", root)
    pick = np.random.default_rng(seed).choice(len(faces), size=min(n, len(faces)), replace=False)
    images, points, titles = [], [], []
    for i in pick:
        face = faces[i]
        pts = read_pts(face.pts_path, IBUG68.n_points)
        image = read_image(face.image_path)
        box = points_box(pts)
        side = 1.4 * (box[2:] - box[:2]).max()
        cx, cy = (box[:2] + box[2:]) / 2
        # whole pixels only, so the cut is exact: pixel x0 becomes pixel 0
        x0, y0 = int(max(0, round(cx - side / 2))), int(max(0, round(cy - side / 2)))
        x1, y1 = int(min(image.shape[1], round(cx + side / 2))), int(min(image.shape[0], round(cy + side / 2)))
        images.append(image[y0:y1, x0:x1])
        points.append(pts - [x0, y0])
        titles.append(f"{face.subset}/{face.name}")
    fig = show_faces(images, points, titles, ncols=4, scheme=IBUG68)
    fig.suptitle("300-W faces and their 68 points (\"right\" = the subject's right, on the image left)", fontsize=9)
    return fig
