"""Figures of the human comparison (each function returns its Figure; nothing is shown or saved here)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import metrics
from ..io import read_image
from .analysis import AnnotationErrors, LfpwSpread, ModelErrors, point_summary
from .formats import GROUPS, JDC_IMAGES, JDC_NORMALISER, JDC_POINT_IDS, JDC_POINT_SHORT, ClickTable, jdc_image_path, jdc_references
from .repeatability import Repeatability

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_error_distributions", "plot_point_errors", "plot_repeatability", "plot_lfpw_ced", "plot_reference_check"]

_GROUP_COLORS = {"crowd": "#1f77b4", "expert": "#2ca02c", "learner": "#9467bd", "model": "#d62728"}


def _new_axes(ax: "Axes | None", figsize: tuple[float, float]) -> tuple["Figure", "Axes"]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_error_distributions(errors: AnnotationErrors, model: ModelErrors | None = None) -> "Figure":
    """One panel per image: the NME of every annotation, per group, next to the model's NME over
    its jittered boxes (violins + points; the model's detector-box prediction is a diamond)."""
    import matplotlib.pyplot as plt

    images = [im for im in JDC_IMAGES if im in set(errors.image.tolist())]
    fig, axes = plt.subplots(1, len(images), figsize=(3.6 * len(images), 4.2), sharey=False, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, im in zip(axes[0], images):
        series = [(g, errors.of(g, im).nme) for g in errors.groups]
        if model is not None and im in model.images:
            series.append(("model", model.nme[model.images.index(im)]))
        parts = ax.violinplot([s for _, s in series], showmedians=True, widths=0.8)
        for body, (name, _) in zip(parts["bodies"], series):
            body.set_facecolor(_GROUP_COLORS.get(name, "grey"))
            body.set_alpha(0.35)
        for k, (name, s) in enumerate(series, start=1):
            ax.scatter(k + rng.uniform(-0.12, 0.12, len(s)), s, s=4, color=_GROUP_COLORS.get(name, "grey"), alpha=0.5)
        if model is not None and im in model.images:
            i = model.images.index(im)
            ax.scatter([len(series)], [model.nme_detector[i]], marker="D", s=40, color="black", zorder=3,
                       label="model, the box itself (no jitter)")
        # a few wild predictions would squash everything else: clip the axis, count what is above
        top = 1.15 * max(float(np.percentile(s, 98)) for _, s in series)
        ax.set_ylim(0, top)
        for k, (_, s) in enumerate(series, start=1):
            above = int((s > top).sum())
            if above:
                ax.annotate(f"{above} above \u2191", (k, top), xytext=(0, -12), textcoords="offset points",
                            ha="center", fontsize=7)
        ax.set_xticks(range(1, len(series) + 1))
        ax.set_xticklabels([f"{n}\n(n={len(s)})" for n, s in series], fontsize=8)
        ax.set_title(im, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel(f"NME ({JDC_NORMALISER}: reference pupils P71-P72)\non the {len(errors.point_ids)} iBUG points")
    if model is not None:
        axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("J&dC study: error of every human annotation vs the model (one dot per jittered face box)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_point_errors(errors: AnnotationErrors, model: ModelErrors | None = None, ax: "Axes | None" = None) -> "Figure":
    """Per point: median error (bars) and quartiles (whiskers) per group and for the model."""
    summary = point_summary(errors, model)
    names = list(errors.groups) + (["model"] if model is not None else [])
    fig, ax = _new_axes(ax, (13, 4.5))
    n = len(errors.point_ids)
    width = 0.8 / len(names)
    x = np.arange(n)
    for k, name in enumerate(names):
        med, q25, q75 = summary[f"{name}_median"], summary[f"{name}_q25"], summary[f"{name}_q75"]
        pos = x - 0.4 + width * (k + 0.5)
        ax.bar(pos, med, width, color=_GROUP_COLORS.get(name, "grey"), label=name, alpha=0.85)
        ax.errorbar(pos, med, yerr=[med - q25, q75 - med], fmt="none", ecolor="black", elinewidth=0.6, capsize=1.5)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{p}\n{JDC_POINT_SHORT[p]}" for p in errors.point_ids], fontsize=7)
    ax.set_ylabel(f"point error / {JDC_NORMALISER} distance\n(median, bars: quartiles)")
    ax.set_title("Which points are hard? Per-point error on the J&dC images, humans vs the model", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_repeatability(rep: Repeatability, errors: AnnotationErrors, model_spread: np.ndarray | None = None) -> "Figure":
    """Left: spread of an annotator's own repeated clicks (per group) and of the model under box
    jitter (same statistic, groups of the same size). Right: error by pass (learning effect?)."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    groups = [g for g in GROUPS if g in set(rep.group.tolist())]
    series = [(g, rep.mean_spread[rep.group == g]) for g in groups]
    if model_spread is not None:
        series.append(("model (box jitter)", np.asarray(model_spread).reshape(-1)))
    a.boxplot([s for _, s in series], showfliers=False)
    a.set_xticks(range(1, len(series) + 1))
    a.set_xticklabels([f"{n}\n(n={len(s)})" for n, s in series], fontsize=8)
    a.set_ylabel(f"mean distance to own mean / {JDC_NORMALISER}")
    a.set_title(f"Repeatability: {rep.n_repeats} passes over the same image", fontsize=10)
    a.grid(axis="y", alpha=0.3)
    for g in errors.groups:
        sub = errors.of(g)
        reps = sorted(set(sub.repeat.tolist()))
        med = [np.median(sub.nme[sub.repeat == r]) for r in reps]
        b.plot([r + 1 for r in reps], med, "o-", color=_GROUP_COLORS.get(g, "grey"), label=g)
    b.set_xticks(range(1, 1 + max(int(errors.repeat.max()) + 1, 1)))
    b.set_xlabel("pass (1 = the annotator's first time on this image)")
    b.set_ylabel(f"median NME ({JDC_NORMALISER})")
    b.set_title("Do annotators improve with repetition?", fontsize=10)
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_lfpw_ced(spread: LfpwSpread, model_nme: np.ndarray | None = None, threshold: float = 0.08,
                  ax: "Axes | None" = None, model_label: str = "model on HELEN test faces") -> "Figure":
    """CED of the LFPW human spread next to the model's CED on HELEN test faces (different images!)."""
    curves = {f"humans: LFPW worker vs mean of the other two\n({len(spread.flat)} = 3 x {len(spread.urls)} faces)": spread.flat}
    if model_nme is not None:
        curves[f"{model_label}\n({len(model_nme)} faces, different images)"] = np.asarray(model_nme)
    fig, ax = _new_axes(ax, (6.5, 4.6))
    xs = np.linspace(0, threshold, 401)
    for (label, e), color in zip(curves.items(), ("#2ca02c", "#d62728")):
        ax.plot(xs, metrics.ced(e, xs), color=color, label=f"{label}: median {np.median(e):.4f}")
    ax.set_xlim(0, threshold)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"NME ({spread.norm}: outer eye corners) on the {len(spread.points)} LFPW points with an iBUG twin")
    ax.set_ylabel("fraction of annotations / faces")
    ax.set_title("How far apart are people? LFPW human spread vs the model", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_reference_check(table: ClickTable, root: str | os.PathLike | None = None,
                         triples: Sequence[tuple[str, ...]] = (("P37", "P40", "P71"), ("P44", "P47", "P72"), ("P49", "P61", "P63")),
                         group: str = "expert") -> "Figure":
    """Coordinate check: zoomed crops (nearest-neighbour pixels) with the references (red +) and the
    ``group``'s clicks (dots; cross = their median) after :func:`jdc_to_ours`."""
    import matplotlib.pyplot as plt

    refs = jdc_references(table)
    images = [im for im in JDC_IMAGES if im in refs]
    fig, axes = plt.subplots(len(images), len(triples), figsize=(3.4 * len(triples), 3.3 * len(images)), squeeze=False)
    sub = table.select(group=group)
    for r, im in enumerate(images):
        pixels = read_image(jdc_image_path(im, root))
        for c, pids in enumerate(triples):
            ax = axes[r, c]
            pts = np.stack([refs[im][JDC_POINT_IDS.index(p)] for p in pids])
            centre = pts.mean(axis=0)
            half = max(12.0, 0.75 * float(np.ptp(pts, axis=0).max()) + 8)
            ax.imshow(pixels, interpolation="nearest")
            for p, ref in zip(pids, pts):
                clicks = sub.click[(sub.image == im) & (sub.point_id == p)]
                ax.plot(clicks[:, 0], clicks[:, 1], ".", color="cyan", ms=2, alpha=0.6)
                ax.plot(*np.median(clicks, axis=0), "x", color="cyan", ms=8, mew=2)
                ax.plot(*ref, "+", color="red", ms=12, mew=2)
                ax.annotate(p, ref, xytext=(3, -3), textcoords="offset points", color="yellow", fontsize=7)
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] + half, centre[1] - half)
            ax.set_title(f"{im}", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle(f"Reference points (red +) and {group} clicks (cyan; x = median), our 0-based pixel-centre coordinates",
                 fontsize=9)
    fig.tight_layout()
    return fig
