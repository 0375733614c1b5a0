"""Repeatability: how far an annotator's repeated clicks of a point fall from their own mean, and
the same statistic for the model under face-box jitter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .analysis import AnnotationErrors, ModelErrors
from .formats import GROUPS, ClickTable, jdc_normaliser, jdc_references, point_number

__all__ = ["Repeatability", "repeatability", "model_repeatability"]


@dataclass
class Repeatability:
    """How far an annotator's repeated clicks of the same point fall from their own mean.

    For each (annotator, image, point) with ``n`` repeated clicks ``c_k``: ``mean_k |c_k - mean(c)|``
    divided by the reference inter-pupil distance; ``spread`` ``(M, P)``; ``mean_spread`` ``(M,)``
    averages the points. Keys ``annotator, group, image`` are ``(M,)``.
    """

    annotator: np.ndarray
    group: np.ndarray
    image: np.ndarray
    point_ids: tuple[str, ...]
    spread: np.ndarray
    mean_spread: np.ndarray
    n_repeats: int


def _spread(samples: np.ndarray) -> np.ndarray:
    """Mean distance of ``(..., n, P, 2)`` samples from their mean over ``n`` -> ``(..., P)``."""
    centre = samples.mean(axis=-3, keepdims=True)
    return np.linalg.norm(samples - centre, axis=-1).mean(axis=-2)


def repeatability(errors: AnnotationErrors, references: Mapping[str, np.ndarray] | None = None,
                  table: ClickTable | None = None) -> Repeatability:
    """Intra-annotator repeatability from the repeated passes (4 per image in J&dC).

    Needs the references only for the normaliser: give ``references`` or the ``table``.
    """
    if references is None:
        if table is None:
            raise ValueError("give the references or the click table (for the inter-pupil normaliser)")
        references = jdc_references(table)
    keys = sorted({(a, g, im) for a, g, im in zip(errors.annotator.tolist(), errors.group.tolist(), errors.image.tolist())},
                  key=lambda k: (GROUPS.index(k[1]) if k[1] in GROUPS else 99, k[0], k[2]))
    n_rep = None
    spreads, kept = [], []
    for key in keys:
        m = (errors.annotator == key[0]) & (errors.group == key[1]) & (errors.image == key[2])
        c = errors.clicks[m]  # (n, P, 2)
        if len(c) < 2:
            continue
        n_rep = len(c) if n_rep is None else min(n_rep, len(c))
        spreads.append(_spread(c) / jdc_normaliser(references[key[2]]))
        kept.append(key)
    if not kept:
        raise ValueError("no annotator annotated an image more than once")
    spread = np.stack(spreads)
    return Repeatability(np.array([k[0] for k in kept]), np.array([k[1] for k in kept]), np.array([k[2] for k in kept]),
                         errors.point_ids, spread, spread.mean(axis=1), int(n_rep or 0))


def model_repeatability(model: ModelErrors, references: Mapping[str, np.ndarray], n: int = 4) -> np.ndarray:
    """The same spread statistic for the model under box jitter, over groups of ``n`` draws.

    The J draws of each image are cut into ``J // n`` groups of ``n`` (like an annotator's ``n``
    passes) so that both spreads are computed from equally many samples. Returns ``(I, J // n)``
    mean spreads (over points), divided by the reference inter-pupil distance.
    """
    ibug = [point_number(p) - 1 for p in model.point_ids]
    n_groups = model.points.shape[1] // n
    if n_groups == 0:
        raise ValueError(f"need at least {n} jitter draws, got {model.points.shape[1]}")
    pts = model.points[:, :n_groups * n][:, :, ibug]  # (I, G*n, P, 2)
    pts = pts.reshape(len(model.images), n_groups, n, len(ibug), 2)
    norm = np.array([jdc_normaliser(references[im]) for im in model.images])
    return _spread(pts).mean(axis=-1) / norm[:, None]
