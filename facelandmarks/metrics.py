"""Error metrics of the field: NME with named normalisers, CED, AUC, failure rate.

Pure, vectorised functions that never print. Every normaliser has a name:

* ``inter_ocular``: distance between the outer eye corners (iBUG 1-based 37 and 46), 300-W's choice;
* ``inter_pupil``: distance between the eye centres (means of 37-42 and 43-48);
* ``bbox``: ``sqrt(w * h)`` of the ground-truth points' box;
* ``bbox_diagonal``: ``sqrt(w^2 + h^2)`` of the ground-truth points' box.
"""
from __future__ import annotations

import numpy as np

from .geometry import as_points, box_size, points_box
from .schemes import IBUG68, LandmarkScheme

__all__ = ["NORMALISERS", "DEFAULT_NORMALISER", "NORMALISER_NAMES", "normalising_distance", "point_errors",
           "contour_errors", "nme", "ced", "auc", "failure_rate", "summary", "auroc"]

NORMALISERS = ("inter_ocular", "inter_pupil", "bbox", "bbox_diagonal")
DEFAULT_NORMALISER = "inter_ocular"
"""The normaliser used when none is named (300-W's choice): every default ``norm`` of the package is this."""
NORMALISER_NAMES = {"inter_ocular": "outer eye corners", "inter_pupil": "eye centres",
                    "bbox": "sqrt(w h) of the points' box", "bbox_diagonal": "diagonal of the points' box"}
"""What each normaliser of :data:`NORMALISERS` measures, in words (shown beside every NME)."""


def normalising_distance(gt: np.ndarray, norm: str = DEFAULT_NORMALISER, scheme: LandmarkScheme = IBUG68) -> np.ndarray:
    """The normalising distance of ground-truth shapes ``(N, 2) -> ()`` or ``(B, N, 2) -> (B,)``."""
    gt = as_points(gt, "gt")
    if norm == "bbox":
        wh = box_size(points_box(gt))
        return np.sqrt(wh[..., 0] * wh[..., 1])
    if norm == "bbox_diagonal":
        wh = box_size(points_box(gt))
        return np.hypot(wh[..., 0], wh[..., 1])
    if norm in scheme.normalisers:
        if gt.shape[-2] != scheme.n_points:
            raise ValueError(f"normaliser {norm!r} of scheme {scheme.name} needs {scheme.n_points} points, got {gt.shape[-2]}")
        a, b = scheme.normalisers[norm]
        pa = gt[..., list(a), :].mean(axis=-2)
        pb = gt[..., list(b), :].mean(axis=-2)
        return np.linalg.norm(pa - pb, axis=-1)
    raise ValueError(f"unknown normaliser {norm!r}; known: {NORMALISERS[2:] + tuple(scheme.normalisers)}")


def point_errors(pred: np.ndarray, gt: np.ndarray, norm: str | None = DEFAULT_NORMALISER,
                 scheme: LandmarkScheme = IBUG68) -> np.ndarray:
    """Per-point Euclidean errors ``(N,)`` or ``(B, N)``, divided by the normaliser (``None``: pixels)."""
    pred, gt = _checked_pair(pred, gt)
    return np.linalg.norm(pred - gt, axis=-1) / _per_point_scale(gt, norm, scheme)


def _checked_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = as_points(pred, "pred")
    gt = as_points(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must have the same shape")
    return pred, gt


def _per_point_scale(gt: np.ndarray, norm: str | None, scheme: LandmarkScheme) -> np.ndarray | float:
    """What per-point errors of ``gt``'s shape(s) are divided by: 1 (``norm=None``, pixels) or the
    normalising distance, ``()`` or ``(B, 1)``; a zero distance is an error."""
    if norm is None:
        return 1.0
    d = normalising_distance(gt, norm, scheme)
    if np.any(d <= 0):
        raise ValueError(f"normalising distance {norm!r} is zero for some ground-truth shape")
    return np.asarray(d)[..., None]


def contour_errors(pred: np.ndarray, gt: np.ndarray, contour: np.ndarray | list[int], norm: str | None = DEFAULT_NORMALISER,
                   scheme: LandmarkScheme = IBUG68) -> tuple[np.ndarray, np.ndarray]:
    """Each contour point's error split into its part along the true contour and across it.

    Args:
        pred, gt: ``(N, 2)`` or ``(B, N, 2)``.
        contour: indices of the points of one open contour, in order (e.g. the jaw, points 0-16).
        norm: normaliser of both parts (``None``: pixels), as in :func:`point_errors`.

    Returns:
        ``(along, across)``, each ``(K,)`` or ``(B, K)`` for the K contour points, absolute values.
        The contour's direction at a point is that of the chord between its two true neighbours
        (one-sided at the ends), so ``along**2 + across**2`` is the squared point error.
    """
    pred, gt = _checked_pair(pred, gt)
    idx = np.asarray(contour, dtype=int).reshape(-1)
    if len(idx) < 2 or idx.min() < 0 or idx.max() >= gt.shape[-2]:
        raise ValueError(f"contour must hold at least 2 point indices in 0..{gt.shape[-2] - 1}, got {idx.tolist()}")
    k = np.arange(len(idx))
    tangent = gt[..., idx[np.minimum(k + 1, len(idx) - 1)], :] - gt[..., idx[np.maximum(k - 1, 0)], :]
    length = np.linalg.norm(tangent, axis=-1, keepdims=True)
    if np.any(length == 0):
        raise ValueError("contour has coinciding neighbouring ground-truth points: its direction is undefined")
    tangent = tangent / length
    err = pred[..., idx, :] - gt[..., idx, :]
    along = np.abs((err * tangent).sum(-1))
    across = np.abs(err[..., 0] * tangent[..., 1] - err[..., 1] * tangent[..., 0])
    scale = _per_point_scale(gt, norm, scheme)
    return along / scale, across / scale


def nme(pred: np.ndarray, gt: np.ndarray, norm: str = DEFAULT_NORMALISER, points: str | np.ndarray | None = None,
        scheme: LandmarkScheme = IBUG68) -> np.ndarray | float:
    """Normalised mean error per image.

    ``NME = mean_i |pred_i - gt_i| / d(gt)`` over the chosen points, with ``d`` the named normaliser
    computed on all points of the ground truth.

    Args:
        pred, gt: ``(N, 2)`` or ``(B, N, 2)``, (x, y).
        norm: a name from :data:`NORMALISERS`.
        points: ``None``/``"all"``, a subset name of the scheme (``"inner"`` = the 51 points
            without the jaw), a group name, or an index array.

    Returns:
        a float for one shape, ``(B,)`` for a batch.

    Example:
        >>> gt = np.zeros((68, 2)); gt[45, 0] = 10.0   # outer eye corners 10 px apart
        >>> pred = gt + [3.0, 4.0]                     # every point 5 px off
        >>> float(nme(pred, gt))
        0.5
    """
    errors = point_errors(pred, gt, norm, scheme)
    idx = points if isinstance(points, np.ndarray) else scheme.subset(points)
    out = errors[..., idx].mean(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def ced(errors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative error distribution: fraction of images with error <= each threshold."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    if errors.size == 0:
        raise ValueError("ced needs at least one error")
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return (errors[None, :] <= thresholds.reshape(-1, 1)).mean(axis=1).reshape(thresholds.shape)


def auc(errors: np.ndarray, threshold: float = 0.08, steps: int = 1001) -> float:
    """Area under the CED from 0 to ``threshold``, divided by ``threshold`` (1.0 = every error is 0).

    Example:
        >>> round(auc(np.array([0.0, 0.04, 1.0]), 0.08), 3)  # CED = 1/3 + (1/3 on [0.04, 0.08])
        0.5
    """
    xs = np.linspace(0.0, threshold, steps)
    return float(np.trapezoid(ced(errors, xs), xs) / threshold)


def failure_rate(errors: np.ndarray, threshold: float = 0.08) -> float:
    """Fraction of images whose error is above ``threshold``."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    if errors.size == 0:
        raise ValueError("failure_rate needs at least one error")
    return float((errors > threshold).mean())


def summary(errors: np.ndarray, threshold: float = 0.08) -> dict[str, float]:
    """Mean, median, AUC@threshold and failure rate of per-image errors, as a dict."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    return {
        "n": int(errors.size),
        "mean": float(errors.mean()),
        "median": float(np.median(errors)),
        f"auc@{threshold:g}": auc(errors, threshold),
        f"failure@{threshold:g}": failure_rate(errors, threshold),
    }


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half (the Mann-Whitney U statistic divided by ``P x N``).

    Args:
        scores: float ``(M,)``, higher meaning "more likely positive".
        positive: bool ``(M,)``; needs at least one positive and one negative.

    Example:
        >>> # pairs (positive, negative): (3, 1) (3, 2) win, (2, 1) wins, (2, 2) ties: (1 + 1 + 1 + 0.5) / 4
        >>> auroc(np.array([3.0, 2.0, 1.0, 2.0]), np.array([True, True, False, False]))
        0.875
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pos = np.asarray(positive, dtype=bool).reshape(-1)
    if s.shape != pos.shape:
        raise ValueError(f"scores {s.shape} and positive {pos.shape} must have the same length")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auroc needs positives and negatives, got {n_pos} and {n_neg}")
    # ranks with ties averaged: rank-sum of the positives minus its minimum is U
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2  # mean of 1-based ranks a+1 .. b
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))
