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

__all__ = ["draw_landmarks", "numbered_points", "draw_box", "show_faces", "group_legend", "plot_ced", "plot_training_log",
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
            ax.annotate(str(i + 1), (x, y), fontsize=7, color="white", xytext=(2, 2), textcoords="offset points")
    return ax


def numbered_points(image: np.ndarray, points: np.ndarray, scheme: LandmarkScheme = IBUG68,
                    zooms: Sequence[Sequence[str]] = (("right_eye", "left_eye"), ("mouth",)),
                    title: str | None = None) -> Figure:
    """The points' 1-based numbers, legible: the face on the left, zoomed panels on the right.

    Args:
        image: ``(H, W, 3)`` or ``(H, W)``.
        points: ``(N, 2)``, (x, y), N = ``scheme.n_points``.
        zooms: one zoomed panel per entry: the groups of ``scheme.groups`` it shows (its view is the
            box of their points with a margin, so neighbouring points may show too).
        title: above the face.

    Returns:
        the Figure: the face's Axes first, then one Axes per zoom.

    Raises:
        ValueError: a zoom names a group the scheme does not have.
    """
    pts = as_points(points, "points", scheme.n_points)
    fig = plt.figure(figsize=(11, 6.2), layout="constrained")
    grid = fig.add_gridspec(len(zooms), 2, width_ratios=(1, 1))
    face_ax = fig.add_subplot(grid[:, 0])
    face_ax.imshow(_displayable(image))
    draw_landmarks(face_ax, pts, scheme, numbers=True, size=10)
    box = points_box(pts)
    pad = 0.1 * (box[2:] - box[:2]).max()
    face_ax.set_xlim(box[0] - pad, box[2] + pad)
    face_ax.set_ylim(box[3] + pad, box[1] - pad)
    face_ax.axis("off")
    if title:
        face_ax.set_title(title, fontsize=11)
    for k, groups in enumerate(zooms):
        unknown = [g for g in groups if g not in scheme.groups]
        if unknown:
            raise ValueError(f"zooms: unknown groups {unknown}; the scheme has {list(scheme.groups)}")
        idx = np.concatenate([np.asarray(scheme.groups[g]) for g in groups])
        ax = fig.add_subplot(grid[k, 1])
        ax.imshow(_displayable(image))
        draw_landmarks(ax, pts, scheme, size=25)
        zb = points_box(pts[idx])
        zpad = 0.25 * (zb[2:] - zb[:2]).max()
        for i in idx:
            ax.annotate(str(i + 1), pts[i], fontsize=10, color="white", xytext=(3, 3),
                        textcoords="offset points", fontweight="bold")
        ax.set_xlim(zb[0] - zpad, zb[2] + zpad)
        ax.set_ylim(zb[3] + zpad, zb[1] - zpad)
        ax.set_title("zoom: " + ", ".join(g.replace("_", " ") for g in groups)
                     + f" (points {', '.join(f'{scheme.groups[g][0] + 1}-{scheme.groups[g][-1] + 1}' for g in groups)})",
                     fontsize=10)
        ax.axis("off")
    return fig


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
    target.legend(handles=handles, **{"fontsize": 9, **kw})


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
            ax.set_title(titles[i], fontsize=9)
    if legend and label_colors:
        handles = [Line2D([], [], marker="o", ls="-", color=c, label=label) for label, c in label_colors.items()]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=10)
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
    for i, (label, err) in enumerate(errors.items()):
        err = np.asarray(err, dtype=np.float64).reshape(-1)
        auc = metrics.auc(err, threshold)
        failures = metrics.failure_rate(err, threshold)
        # the default palette has ten colours: curves 11-20 repeat them dashed, so no two look alike
        ax.plot(xs, metrics.ced(err, xs), lw=2, ls=("-", "--", ":")[i // 10 % 3],
                label=f"{label}: AUC@{threshold:g} = {auc:.3f}, failures@{threshold:g} = {100 * failures:.1f}%")
    ax.set_xlim(0.0, right)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(f"NME ({norm})")
    ax.set_ylabel("fraction of images with NME <= x")
    ax.grid(alpha=0.3)
    # below the axes: inside, the legend would hide the curves of a weak method
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False)
    return ax


_LOG_PANELS = (  # (column, panel title); one panel per quantity a log holds
    ("val_nme", "validation NME (inter_ocular)"),
    ("val_start_nme", "validation NME before refinement"),
    ("train_loss", "training loss"),
    ("val_loss", "validation loss"),
)


def _log_rows(log: str | os.PathLike | list[dict] | Sequence) -> tuple[list[dict], list[float]]:
    """One run's rows, its cycles concatenated with continuous epoch numbers; the epochs where a
    cycle after the first starts."""
    from .train import read_log  # train imports torch models; keep viz light until it is needed

    is_cycles = isinstance(log, (list, tuple)) and log and not isinstance(log[0], Mapping)
    cycles = list(log) if is_cycles else [log]
    rows: list[dict] = []
    starts: list[float] = []
    for k, cycle in enumerate(cycles):
        part = cycle if isinstance(cycle, list) else read_log(cycle)
        offset = rows[-1]["epoch"] if rows else 0
        if k:
            starts.append(offset + 0.5)
        rows += [{**r, "epoch": r["epoch"] + offset} for r in part]
    return rows, starts


def plot_training_log(logs: Mapping[str, str | os.PathLike | list[dict] | Sequence],
                      title: str | None = None, log_scale: bool = False) -> Figure:
    """Per epoch, one panel per quantity: validation NME, training loss, validation loss (and, for
    level-2 logs, the validation NME before refinement); a colour per run.

    Args:
        logs: run name -> a training log CSV (:func:`facelandmarks.train.read_log`), its rows (dicts
            with ``epoch`` and some of ``train_loss``, ``val_loss``, ``val_nme``, ``val_start_nme``),
            or a list of CSVs (cycles of one run: each continues from the last; the epochs count on
            across them and a dotted line marks where a cycle starts).
        title: the figure's title.
        log_scale: logarithmic y axes (losses that fall by orders of magnitude); otherwise the
            y axes start at zero.

    Returns:
        the Figure; its Axes in the order of the panels (``fig.axes``).

    Raises:
        ValueError: a log without rows.
    """
    runs = {}
    for name, log in logs.items():
        rows, starts = _log_rows(log)
        if not rows:
            raise ValueError(f"training log {name!r} has no rows")
        runs[name] = (rows, starts)
    panels = [(c, t) for c, t in _LOG_PANELS if any(c in rows[0] for rows, _ in runs.values())]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.4, 3.4), squeeze=False,
                             layout="constrained")
    for ax, (column, text) in zip(axes[0], panels):
        for i, (name, (rows, starts)) in enumerate(runs.items()):
            if column in rows[0]:
                ax.plot([r["epoch"] for r in rows], [r[column] for r in rows], color=f"C{i}", lw=1.5,
                        label=name)
            for x in starts:
                ax.axvline(x, color=f"C{i}", ls=":", lw=1)
        ax.set_title(text, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if log_scale:
            ax.set_yscale("log")
        else:  # from zero: a cut axis would make a flat curve look like a large change
            ax.set_ylim(0, 1.05 * ax.get_ylim()[1])
    if len(runs) > 1 or any(starts for _, starts in runs.values()):
        handles = [Line2D([], [], color=f"C{i}", lw=2, label=name) for i, name in enumerate(runs)]
        if any(starts for _, starts in runs.values()):
            handles.append(Line2D([], [], color="gray", ls=":", label="a new cycle starts"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


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
    group_legend(ax, scheme, ncol=len(scheme.groups), fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0),
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
