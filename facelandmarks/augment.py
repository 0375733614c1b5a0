"""Augmentations that move image and landmarks together.

Geometric augmentation is a 3x3 matrix composed onto the image -> crop matrix, so pixels and points
go through exactly the same transform. A horizontal flip is ``x' = W - 1 - x`` plus the scheme's
flip permutation of the point order. Photometric jitter and occlusion act on pixels only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .geometry import hflip_matrix, similarity_matrix, translation_matrix
from .schemes import LandmarkScheme

__all__ = ["AugmentConfig", "NO_AUGMENT", "LIGHT_AUGMENT", "RECROP_AUGMENT", "AUGMENTS", "random_crop_transforms", "flip_points", "photometric", "occlude"]


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation (0 switches it off)."""

    rotation_deg: float = 15.0  # std of the random rotation, degrees (clipped at 2 std)
    scale: float = 0.08  # std of log-scale
    shift: float = 0.04  # std of the shift, fraction of the crop side
    flip_prob: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.25  # +- fraction of brightness change
    contrast: float = 0.25  # +- fraction of contrast change
    saturation: float = 0.3  # +- fraction of saturation change
    gray_prob: float = 0.05  # probability of a grayscale image
    occlusion_prob: float = 0.25  # probability of one random grey rectangle
    occlusion_size: tuple[float, float] = (0.1, 0.35)  # its side, fraction of the crop side


NO_AUGMENT = AugmentConfig(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
LIGHT_AUGMENT = AugmentConfig(rotation_deg=8.0, scale=0.05, shift=0.03, occlusion_prob=0.1)
"""Milder geometry and fewer occlusions, for a second cycle that fits the faces more closely."""
RECROP_AUGMENT = AugmentConfig(rotation_deg=3.0, scale=0.03, shift=0.015, occlusion_prob=0.1)
"""Geometry as narrow as the crops the cascade re-makes from level 1's first points (``recrop``:
upright within about 1.2 degrees, box within about 2% of its size), for a second-pass level 1."""
AUGMENTS = {"full": AugmentConfig(), "light": LIGHT_AUGMENT, "recrop": RECROP_AUGMENT}


def random_crop_transforms(crop_matrices: np.ndarray, size: int, rng: np.random.Generator,
                           config: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """Compose random rotation/scale/shift/flip (about the crop centre) onto image -> crop matrices.

    Args:
        crop_matrices: ``(B, 3, 3)`` image -> crop matrices.
        size: crop side in pixels.

    Returns:
        (``(B, 3, 3)`` augmented image -> crop matrices, ``(B,)`` bool: flipped or not).
    """
    b = len(crop_matrices)
    c = (size - 1) / 2.0
    out = np.empty_like(crop_matrices)
    flipped = rng.random(b) < config.flip_prob
    angles = np.clip(rng.normal(0, 1, b), -2, 2) * math.radians(config.rotation_deg)
    scales = np.exp(np.clip(rng.normal(0, 1, b), -2, 2) * config.scale)
    shifts = np.clip(rng.normal(0, 1, (b, 2)), -2, 2) * config.shift * size
    for i in range(b):
        aug = translation_matrix(c + shifts[i, 0], c + shifts[i, 1]) @ similarity_matrix(scales[i], angles[i]) @ translation_matrix(-c, -c)
        if flipped[i]:
            aug = hflip_matrix(size) @ aug
        out[i] = aug @ crop_matrices[i]
    return out, flipped


def flip_points(points: np.ndarray, flipped: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Reorder the points of flipped faces by the scheme's flip permutation (coordinates unchanged).

    Raises:
        ValueError: some face is flipped but ``scheme`` has no flip permutation.
    """
    out = np.array(points, copy=True)
    if scheme.flip_permutation is None:
        if np.any(flipped):
            raise ValueError(f"scheme {scheme.name} has no flip_permutation, so faces cannot be flipped: "
                             "set AugmentConfig.flip_prob=0 (the `train` command does so itself)")
        return out
    perm = list(scheme.flip_permutation)
    out[flipped] = out[flipped][:, perm]
    return out


def photometric(images: torch.Tensor, generator: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    """Random brightness, contrast, saturation and grayscale on a batch ``(B, 3, H, W)`` in [0, 1]."""
    b = images.shape[0]

    def uniform(amount: float) -> torch.Tensor:
        return 1.0 + (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * amount

    gray = images.mean(dim=1, keepdim=True)
    out = gray + (images - gray) * uniform(config.saturation)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = mean + (out - mean) * uniform(config.contrast)
    out = out * uniform(config.brightness)
    to_gray = (torch.rand(b, 1, 1, 1, generator=generator) < config.gray_prob).float()
    out = to_gray * out.mean(dim=1, keepdim=True) + (1 - to_gray) * out
    return out.clamp(0.0, 1.0)


def occlude(images: torch.Tensor, generator: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    """Paste one random flat rectangle on some images of a batch ``(B, C, H, W)``; points are kept."""
    out = images.clone()
    b, _, h, w = images.shape
    lo, hi = config.occlusion_size
    for i in range(b):
        if torch.rand(1, generator=generator).item() >= config.occlusion_prob:
            continue
        rh = int(h * (lo + (hi - lo) * torch.rand(1, generator=generator).item()))
        rw = int(w * (lo + (hi - lo) * torch.rand(1, generator=generator).item()))
        y = int(torch.randint(0, max(1, h - rh), (1,), generator=generator))
        x = int(torch.randint(0, max(1, w - rw), (1,), generator=generator))
        out[i, :, y:y + rh, x:x + rw] = torch.rand(out.shape[1], 1, 1, generator=generator)
    return out


