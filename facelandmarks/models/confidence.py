"""A per-face confidence score in [0, 1]: low when the predicted points are probably wrong.

The score is a logistic function of measurements of the cascade's own consistency:

* ``flip_level1``: how much level 1 disagrees with itself on the mirrored crop (mean distance between
  its points and the mirrored crop's points mapped back, as a fraction of the face box's size); one
  extra level-1 pass, about a quarter of a prediction's time;
* ``vote_spread``: how much level 2's K votes for each point disagree (std of the votes about their
  mean, averaged over the points), as a fraction of the canonical face width of the rectified frame;
* ``refine_shift``: how far level 2 moved the level-1 points (mean distance, same unit);
* ``shape_residual``: how far the final points are from the canonical (mean) shape after the best
  similarity fit (mean distance, same unit).

Which of them enter the score, and with which weights, was chosen by measurement on the seed-0
validation faces and on failures made from them (rotations far outside training, heavy occlusion,
non-faces) by ``benchmarks/confidence.py``, which writes ``facelandmarks/weights/confidence.json``.
Rerun it whenever the weights are retrained (docs/reliability.md gives the AUROC and the threshold).

Example:
    >>> params = load_params()                       # doctest: +SKIP
    >>> score(features(cascade, batch), params)      # doctest: +SKIP
    array([0.93, 0.08])
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..geometry import fit_similarity, transform_points

if TYPE_CHECKING:  # pragma: no cover
    from .level2 import Level2Net

__all__ = ["FEATURES", "ConfidenceParams", "features", "score", "fit_logistic", "load_params", "PARAMS_FILE"]

FEATURES = ("flip_level1", "vote_spread", "refine_shift", "shape_residual")
PARAMS_FILE = Path(__file__).resolve().parent.parent / "weights" / "confidence.json"


@dataclass(frozen=True)
class ConfidenceParams:
    """``score = sigmoid(intercept + sum(coef * (log(feature) - mean) / std))`` over ``features``."""

    features: tuple[str, ...]
    mean: tuple[float, ...]  # of log(feature) on the fitting faces
    std: tuple[float, ...]
    coef: tuple[float, ...]  # negative: larger disagreement, lower score
    intercept: float
    threshold: float  # the suggested threshold (docs/reliability.md says how it was chosen)
    made_by: str = ""  # the command that fitted it


def features(net2: "Level2Net | None", batch: "facelandmarks.models.cascade.BatchPrediction",
             level1_flip: bool = False) -> np.ndarray:
    """The measurements of :data:`FEATURES` for each face of ``batch``: float ``(B, 4)``.

    ``flip_level1`` is the gap between level 1's passes on the crop and on its mirror image, a
    fraction of the face box's size ``sqrt(w * h)``; ``level1_flip``: the batch was predicted with the
    cascade's ``level1_flip``, so its ``level1_points`` are the mean of the two passes (half-way
    between them). The others are fractions of the canonical face width (``net2.config.face_size`` px
    in level 2's rectified frame). A column is NaN where the batch lacks what it needs (no mirrored
    level-1 pass; no level 2).
    """
    out = np.full((len(batch.points), len(FEATURES)), np.nan)
    if batch.level1_mirror_points is not None:
        wh = batch.box[:, 2:] - batch.box[:, :2]
        gap = np.linalg.norm(batch.level1_mirror_points - batch.level1_points, axis=-1).mean(-1)
        out[:, 0] = (2 * gap if level1_flip else gap) / np.sqrt(wh.prod(-1))
    if net2 is None or batch.votes is None or batch.rectify_matrix is None:
        return out
    size = float(net2.config.face_size)
    votes = batch.votes  # (B, N, K, 2) rectified frame
    out[:, 1] = np.sqrt(((votes - votes.mean(axis=2, keepdims=True)) ** 2).sum(-1).mean(-1)).mean(-1) / size
    rect = batch.rectify_matrix
    out[:, 2] = np.linalg.norm(transform_points(batch.level2_points, rect) - transform_points(batch.level1_points, rect),
                               axis=-1).mean(-1) / size
    canonical = net2.canonical.cpu().double().numpy()
    fit = fit_similarity(batch.points, canonical)  # (B, 3, 3)
    out[:, 3] = np.linalg.norm(transform_points(batch.points, fit) - canonical, axis=-1).mean(-1) / size
    return out


def _design(feats: np.ndarray, params: ConfidenceParams) -> np.ndarray:
    cols = [FEATURES.index(f) for f in params.features]
    x = np.log(np.maximum(feats[:, cols], 1e-6))
    return (x - np.asarray(params.mean)) / np.asarray(params.std)


def score(feats: np.ndarray, params: ConfidenceParams) -> np.ndarray:
    """Scores ``(B,)`` in [0, 1] from :func:`features` ``(B, 4)`` (NaN where a needed feature is NaN)."""
    z = params.intercept + _design(np.asarray(feats, dtype=np.float64).reshape(-1, len(FEATURES)), params) @ np.asarray(params.coef)
    return 1.0 / (1.0 + np.exp(-z))


def fit_logistic(x: np.ndarray, good: np.ndarray, l2: float = 1e-2, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression ``P(good | x) = sigmoid(b + x @ w)`` by Newton's method with a small L2
    penalty on ``w``: returns ``(w, b)``. ``x`` float ``(M, F)`` (standardise it first), ``good`` bool ``(M,)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(good, dtype=np.float64)
    a = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(a.shape[1])
    penalty = np.diag([0.0] + [l2] * x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a @ beta)))
        grad = a.T @ (y - p) - penalty @ beta
        hess = (a * (p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta[1:], float(beta[0])


def load_params(path: str | Path = PARAMS_FILE) -> ConfidenceParams | None:
    """The fitted parameters, or None when the file is missing (then predictions carry no score)."""
    path = Path(path)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return ConfidenceParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def save_params(params: ConfidenceParams, path: str | Path = PARAMS_FILE) -> Path:
    path = Path(path)
    path.write_text(json.dumps(asdict(params), indent=1) + "\n")
    return path
