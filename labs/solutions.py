"""Reference solutions of the notebooks' "Your turn" exercises (kept out of the notebooks and the package).

Each passes its ``facelandmarks.labs.check_*``; ``tests/test_labs.py`` makes sure they do.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from facelandmarks.schemes import IBUG68


def nme(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Euclidean error over the 68 points / distance between the outer eye corners (0-based 36, 45)."""
    return float(np.linalg.norm(pred - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45]))


def flip(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right: pixel x -> W - 1 - x, then renumber the points (right <-> left)."""
    w = image.shape[1]
    mirrored = points.copy()
    mirrored[:, 0] = w - 1 - points[:, 0]
    return image[:, ::-1], mirrored[list(IBUG68.flip_permutation)]


def feature_shape(config) -> tuple[int, int, int]:
    """Follow the side through the trunk: a 3x3 convolution with padding q gives side - 2 + 2q, a 2x2
    max-pool floor(side / 2), after every block but the last."""
    pads = (config.padding,) * len(config.blocks) if isinstance(config.padding, int) else tuple(config.padding)
    side = config.input_size
    for i, block in enumerate(config.blocks):
        for _ in block:
            side = side - 2 + 2 * pads[i]
        if i < len(config.blocks) - 1:
            side //= 2
    return config.blocks[-1][-1], side, side


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least squares x' = a x - b y + tx, y' = b x + a y + ty on centred points (no reflection)."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    norm = (s ** 2).sum()
    a = (s * d).sum() / norm
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / norm
    m = np.array([[a, -b, 0.0], [b, a, 0.0], [0.0, 0.0, 1.0]])
    m[:2, 2] = md - m[:2, :2] @ ms
    return m


def patch(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Sample the patch: for each patch pixel (u, v) read the image at inverse(matrix) @ (u, v, 1), bilinearly."""
    h, w = image.shape[:2]
    inv = np.linalg.inv(matrix)
    v, u = np.mgrid[0:size, 0:size].astype(float)
    x = inv[0, 0] * u + inv[0, 1] * v + inv[0, 2]
    y = inv[1, 0] * u + inv[1, 1] * v + inv[1, 2]
    grid = torch.tensor(np.stack([(2 * x + 1) / w - 1, (2 * y + 1) / h - 1], -1)[None], dtype=torch.float32)
    src = torch.tensor(image, dtype=torch.float32).permute(2, 0, 1)[None]
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0].permute(1, 2, 0).numpy()


def auc(errors: np.ndarray, threshold: float = 0.08) -> float:
    """Area under the CED on [0, threshold], divided by threshold."""
    xs = np.linspace(0, threshold, 1001)
    ced = (np.asarray(errors)[None, :] <= xs[:, None]).mean(axis=1)
    return float(np.trapezoid(ced, xs) / threshold)


def worker_nme(worker: np.ndarray, window, reference: np.ndarray) -> float:
    """One LFPW worker's NME on one prepared face, by hand: photo -> prepared face (the crop window is
    size x size photo pixels from (x0, y0), resized to out_size; pixel centres, so the window's extent
    starts half a pixel before x0), keep the 17 points with an iBUG twin, / outer-eye-corner distance."""
    from facelandmarks.human import LFPW_POINTS, LFPW_TO_IBUG68

    s = window.out_size / window.size
    moved = (np.asarray(worker, dtype=float) - [window.x0 - 0.5, window.y0 - 0.5]) * s - 0.5
    kept = [LFPW_POINTS.index(name) for name in LFPW_TO_IBUG68]
    ibug = [LFPW_TO_IBUG68[name] - 1 for name in LFPW_TO_IBUG68]  # 1-based -> 0-based
    err = np.linalg.norm(moved[kept] - reference[ibug], axis=1)
    return float(err.mean() / np.linalg.norm(reference[36] - reference[45]))
