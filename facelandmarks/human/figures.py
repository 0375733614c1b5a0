"""Figures of the human comparison (each function returns its Figure; nothing is shown or saved here)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import geometry, metrics
from ..io import read_image
from .analysis import AnnotationErrors, LfpwSpread, ModelErrors, point_summary
from .formats import (GROUPS, JDC_IMAGES, JDC_NORMALISER, JDC_POINT_IDS, JDC_POINT_SHORT, LFPW_POINTS, LFPW_TO_IBUG68, ClickTable,
                      jdc_image_path, jdc_references)
from .lfpw_test import NORMALISERS as LFPW_TEST_NORMALISERS
from .lfpw_test import SOURCES, LfpwComparison, LfpwTestSet, lfpw_to_prepared
from .repeatability import Repeatability

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_error_distributions", "plot_point_errors", "plot_repeatability", "plot_lfpw_ced", "plot_reference_check",
           "plot_lfpw_pairing", "plot_lfpw_test_ced", "plot_lfpw_test_points"]

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
        # a group with no annotation of this image (a class that took the study on one image) is left out
        series = [(g, nme) for g in errors.groups if len(nme := errors.of(g, im).nme)]
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
        axes[0, 0].legend(fontsize=9, loc="lower left")
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
    b.set_ylim(0, 1.15 * b.get_ylim()[1])  # from zero: a cut axis would make small changes look large
    b.set_title("Do annotators improve with repetition?", fontsize=10)
    b.legend(fontsize=9)
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
    ax.legend(fontsize=9, loc="lower right")
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


_SOURCE_STYLE = {"worker_0": ("#74c476", 1.0), "worker_1": ("#41ab5d", 1.0), "worker_2": ("#238b45", 1.0),
                 "average": ("#00441b", 2.0), "model": ("#d62728", 2.0)}


def plot_lfpw_pairing(test: LfpwTestSet, names: Sequence[str] | None = None, n_paired: int = 3) -> "Figure":
    """Check the pairing and the point correspondence by eye: prepared faces with the 300-W points
    (red +) joined by a line to the LFPW average's corresponding point (cyan o), the LFPW fiducials
    left out of the correspondence (yellow x), and the three workers (small dots). Default faces: the
    worst-residual paired ones and every refused one (its best URL drawn, to show why it was refused)."""
    import matplotlib.pyplot as plt

    p = test.pairing
    if names is None:
        paired = [p.names[f] for f in np.argsort(-p.residual) if p.paired[f]][:n_paired]
        names = paired + [p.names[f] for f in np.flatnonzero(~p.paired)][:6 - len(paired)]
    kept = [LFPW_POINTS.index(n) for n in LFPW_POINTS if n in LFPW_TO_IBUG68]
    other = [LFPW_POINTS.index(n) for n in LFPW_POINTS if n not in LFPW_TO_IBUG68]
    ibug = [LFPW_TO_IBUG68[LFPW_POINTS[k]] - 1 for k in kept]
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.7 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        f = p.names.index(name)
        u = int(p.best_index[f])
        window = test.windows[name]
        ref = test.faces.points[f]
        avg = lfpw_to_prepared(test.annotations.average[u], window)
        workers = lfpw_to_prepared(test.annotations.points[u], window)  # (3, 35, 2)
        ax.imshow(test.faces.images[f], interpolation="nearest")
        for a, b in zip(ref[ibug], avg[kept]):
            ax.plot([a[0], b[0]], [a[1], b[1]], color="white", lw=0.8)
        ax.scatter(*workers[:, kept].reshape(-1, 2).T, s=3, color="#2ca02c", label="LFPW workers")
        ax.scatter(*ref[ibug].T, marker="+", s=40, color="red", lw=1.2, label="300-W (iBUG point)")
        ax.scatter(*avg[kept].T, s=18, facecolors="none", edgecolors="cyan", lw=1.0, label="LFPW average, kept")
        ax.scatter(*avg[other].T, marker="x", s=14, color="yellow", lw=0.8, label="LFPW, left out")
        box = geometry.points_box(ref)
        pad = 0.25 * (box[2] - box[0])
        ax.set_xlim(box[0] - pad, box[2] + pad)
        ax.set_ylim(box[3] + pad, box[1] - pad)
        verdict = "paired" if p.paired[f] else "REFUSED"
        ax.set_title(f"{name} -> URL #{u}: {verdict}\nresidual {p.residual[f]:.3f}, runner-up {p.runner_up[f]:.3f} "
                     f"(outer-eye units)", fontsize=8, color="black" if p.paired[f] else "#d62728")
    axes.ravel()[0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"LFPW test pairing: {int(p.paired.sum())} of {len(p)} faces paired; lines join 300-W to the "
                 f"LFPW average on the {len(kept)} corresponding points", fontsize=10)
    return fig


def plot_lfpw_test_ced(comparison: LfpwComparison, thresholds: Sequence[float] = (0.08, 0.11)) -> "Figure":
    """CEDs of the three LFPW workers, the LFPW average and the model on the paired LFPW test faces,
    one panel per normaliser (:data:`~facelandmarks.human.lfpw_test.NORMALISERS`), 300-W reference."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(LFPW_TEST_NORMALISERS), figsize=(6.2 * len(LFPW_TEST_NORMALISERS), 4.6), squeeze=False)
    for ax, norm, top in zip(axes[0], LFPW_TEST_NORMALISERS, thresholds):
        xs = np.linspace(0, top, 401)
        for source in SOURCES:
            e = comparison.nme[norm][source]
            e = e[np.isfinite(e)]
            color, lw = _SOURCE_STYLE[source]
            ax.plot(xs, metrics.ced(e, xs), color=color, lw=lw,
                    label=f"{source.replace('_', ' ')} ({len(e)} faces): median {np.median(e):.4f}")
        ax.set_xlim(0, top)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"NME ({norm}: {metrics.NORMALISER_NAMES[norm]} of the 300-W reference), {len(comparison.points)} points")
        ax.set_ylabel("fraction of faces")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Same {len(comparison)} LFPW test faces, same points, same reference (300-W): "
                 "three LFPW workers, their average and the model", fontsize=10)
    fig.tight_layout()
    return fig


def plot_lfpw_test_points(comparison: LfpwComparison, norm: str = "inter_ocular") -> "Figure":
    """Median error per corresponding point: the workers (pooled), the LFPW average and the model."""
    import matplotlib.pyplot as plt

    e = comparison.point_errors[norm]
    series = {"workers (3, pooled)": np.nanmedian(np.concatenate([e[w] for w in SOURCES[:3]]), axis=0),
              "LFPW average": np.median(e["average"], axis=0), "model": np.median(e["model"], axis=0)}
    k = np.arange(len(comparison.points))
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for i, ((label, values), color) in enumerate(zip(series.items(), ("#41ab5d", "#00441b", "#d62728"))):
        ax.bar(k + (i - 1) * 0.27, values, width=0.27, color=color, label=label)
    ax.set_xticks(k)
    ax.set_xticklabels([f"{p.replace('_', ' ')}\n(iBUG {i + 1})" for p, i in zip(comparison.points, comparison.ibug)],
                       rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(f"median error / {metrics.NORMALISER_NAMES[norm]}")
    ax.set_title(f"Per point on {len(comparison)} LFPW test faces (reference: 300-W)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
