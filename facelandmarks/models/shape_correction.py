"""A linear correction of level 2's points (ours, not in the paper), fitted on the training faces.

Level 2's points, in its rectified frame (the similarity that maps level 1's points onto the
canonical shape), are moved by a ridge regression on those same coordinates::

    x  = level-2 points in the rectified frame, flattened       (2N,)
    x' = x + (x - mean) @ weight + bias

fitted on the cascade's own predictions on the training faces (``facelandmarks train level2
--shape-correction RIDGE``, :func:`fit_shape_correction`), then mapped back to the image.

Why it helps (measured, ``facelandmarks/weights/README.md``): 300-W's points lie about one image
pixel to the right (+x) of where the mirror image of a face puts them: on training faces, the
cascade's error in x is +1.0 px on the images and -1.0 px on their mirror images, at every face
size (so it is a pixel offset of the annotation, not a shape effect). Flip augmentation (and
``level1_flip``) average the two, so the networks learn the midpoint and miss by that pixel on every
face; ``bias`` puts it back. ``weight`` then corrects what level 2 gets wrong in a way the whole
shape predicts (e.g. a shape pulled towards the mean). The correction is a 136 x 136 matrix for 68
points: no measurable time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import transform_points

__all__ = ["ShapeCorrection", "fit_shape_correction"]


@dataclass(frozen=True)
class ShapeCorrection:
    """``x' = x + (x - mean) @ weight + bias`` on level-2 points in the rectified frame (see the module)."""

    mean: np.ndarray  # (2N,) mean of the fitted points, rectified frame, (x0, y0, x1, y1, ...)
    weight: np.ndarray  # (2N, 2N)
    bias: np.ndarray  # (2N,) mean residual (truth - point) on the fitted faces
    ridge: float  # the ridge penalty it was fitted with (rectified-frame pixels squared)
    faces: int  # how many predictions it was fitted on

    @property
    def n_points(self) -> int:
        return len(self.mean) // 2

    def apply(self, points: np.ndarray, rectify: np.ndarray) -> np.ndarray:
        """Corrected points ``(B, N, 2)``, image frame, from level-2 points ``(B, N, 2)`` (image frame)
        and the image -> rectified matrices ``(B, 3, 3)`` level 2 used.

        Raises:
            ValueError: ``points`` do not have the correction's N points.
        """
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 3 or points.shape[1:] != (self.n_points, 2):
            raise ValueError(f"shape correction: points must be (B, {self.n_points}, 2), got {points.shape}")
        x = transform_points(points, rectify).reshape(len(points), -1)
        x = x + (x - self.mean) @ self.weight + self.bias
        return transform_points(x.reshape(points.shape), np.linalg.inv(rectify))

    def to_dict(self) -> dict:
        """Plain data for a model file (tensors, numbers)."""
        return {"mean": torch.as_tensor(self.mean), "weight": torch.as_tensor(self.weight),
                "bias": torch.as_tensor(self.bias), "ridge": float(self.ridge), "faces": int(self.faces)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "shape_correction") -> "ShapeCorrection":
        """Rebuild from :meth:`to_dict`'s data (tensors or lists).

        Raises:
            ValueError: missing entries or shapes that do not fit together.
        """
        try:
            mean, weight, bias = (torch.as_tensor(data[k]).double().numpy() for k in ("mean", "weight", "bias"))
            ridge, faces = float(data["ridge"]), int(data["faces"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: not a shape correction ({err})") from None
        n = len(mean)
        if mean.shape != (n,) or bias.shape != (n,) or weight.shape != (n, n) or n % 2:
            raise ValueError(f"{where}: shapes do not fit: mean {mean.shape}, weight {weight.shape}, bias {bias.shape}")
        return cls(mean, weight, bias, ridge, faces)


def fit_shape_correction(points: np.ndarray, rectify: np.ndarray, truth: np.ndarray, ridge: float) -> ShapeCorrection:
    """Fit :class:`ShapeCorrection` by ridge regression of ``truth - points`` on ``points``, both in
    the rectified frame.

    Args:
        points: level-2 points ``(B, N, 2)``, image frame (the cascade's own, on training faces).
        rectify: ``(B, 3, 3)`` image -> rectified matrices of those predictions.
        truth: ground truth ``(B, N, 2)``, image frame.
        ridge: penalty on ``weight`` (> 0; rectified-frame pixels squared, summed over the B faces).

    Raises:
        ValueError: ``ridge <= 0`` or arrays that do not match.
    """
    if ridge <= 0:
        raise ValueError(f"ridge must be > 0, got {ridge}")
    points, truth = np.asarray(points, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if points.shape != truth.shape or points.ndim != 3 or len(rectify) != len(points):
        raise ValueError(f"points {points.shape}, truth {truth.shape} and rectify {np.shape(rectify)} must match")
    x = transform_points(points, rectify).reshape(len(points), -1)
    y = transform_points(truth, rectify).reshape(len(points), -1) - x
    mean, bias = x.mean(0), y.mean(0)
    xc = x - mean
    weight = np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ (y - bias))
    return ShapeCorrection(mean, weight, bias, float(ridge), len(points))
