"""Level 2 of the cascade: patch networks refine each point on the rectified face.

The paper's Table 1b (Fan & Zhou 2016)::

    input 24x24x3
    conv 32, pool 2
    conv 64, conv 64, pool 2
    conv 64, conv 128
    full 256
    full 2K

A patch is centred on each level-1 point p and predicts the K points nearest to p in the mean shape
(p itself first). With K > 1 every point is predicted by several patches, and the predictions are
averaged ("voted"). Our choice where the paper is silent: the convolution trunk is shared by all N
patch networks (1,200 faces are few for 68 separate networks and 20 MB is the size budget); each
point has its own embedding added to the hidden layer and its own output layer, so the N networks
differ and all N x K predictions of a face come from one batched computation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .level1 import conv_trunk

__all__ = ["Level2Config", "Level2Net", "neighbours"]


@dataclass(frozen=True)
class Level2Config:
    """Architecture and frame of the level-2 patch networks."""

    patch_size: int = 24  # side of a patch, pixels of the rectified face
    k: int = 3  # points refined by each patch network (the paper: 1 or 3)
    blocks: tuple[tuple[int, ...], ...] = ((32,), (64, 64), (64, 128))
    padding: tuple[int, ...] = (0, 0, 1)  # per block: "valid" on 24 and 12 px, "same" on the last 3x3 maps
    fc: int = 256
    n_points: int = 68
    batchnorm: bool = True
    face_size: float = 96.0  # width of the canonical (mean) shape in the rectified frame, pixels


def neighbours(mean_shape: np.ndarray, k: int) -> np.ndarray:
    """For each point, itself and its k-1 nearest other points in ``mean_shape`` -> ``(N, k)`` int."""
    shape = np.asarray(mean_shape, dtype=np.float64)
    d = np.linalg.norm(shape[:, None] - shape[None], axis=-1)
    np.fill_diagonal(d, -1.0)  # itself first
    return np.argsort(d, axis=1, kind="stable")[:, :k]


class Level2Net(nn.Module):
    """Patches ``(B, N, 3, P, P)`` in [0, 1] -> offsets ``(B, N, K, 2)`` in patch units.

    ``canonical`` ``(N, 2)``: the shape the level-1 points are rectified onto (its width is
    ``config.face_size``); it also fixes which K points each patch refines.

    Offset ``o`` of point ``q = neighbours[p, j]`` predicted from patch p means: q lies at
    ``centre_p + o * P`` in the rectified frame (``centre_p`` = the level-1 point p).
    """

    def __init__(self, config: Level2Config = Level2Config(), canonical: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config
        n, k = config.n_points, config.k
        self.features = conv_trunk(3, config.blocks, config.padding, config.batchnorm)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 3, config.patch_size, config.patch_size)).numel()
        self.hidden = nn.Linear(flat, config.fc)
        self.point_embedding = nn.Parameter(torch.zeros(n, config.fc))
        self.out_weight = nn.Parameter(torch.zeros(n, config.fc, 2 * k))  # one output layer per point
        self.out_bias = nn.Parameter(torch.zeros(n, 2 * k))
        shape = np.stack([np.linspace(0, config.face_size, n), np.zeros(n)], 1) if canonical is None else canonical
        # the rectified frame's canonical shape (N, 2), set from training data, and each patch's K points
        self.register_buffer("canonical", torch.as_tensor(shape, dtype=torch.float32))
        self.register_buffer("neighbours", torch.as_tensor(neighbours(shape, k).copy(), dtype=torch.long))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        b, n, c, p, _ = patches.shape
        if n != self.config.n_points or c != 3 or p != self.config.patch_size:
            raise ValueError(f"level-2 input must be (B, {self.config.n_points}, 3, {self.config.patch_size}, "
                             f"{self.config.patch_size}), got {tuple(patches.shape)}")
        x = (patches.reshape(b * n, c, p, p) - 0.5).contiguous(memory_format=torch.channels_last)
        x = self.features(x).flatten(1)
        h = torch.relu(self.hidden(x).view(b, n, -1) + self.point_embedding)  # (B, N, fc)
        out = torch.einsum("bnf,nfo->bno", h, self.out_weight) + self.out_bias  # (B, N, 2K)
        return out.view(b, n, self.config.k, 2)

    def vote(self, centres: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Average every point's predictions: centres ``(B, N, 2)`` + offsets ``(B, N, K, 2)`` -> ``(B, N, 2)``."""
        b, n, k, _ = offsets.shape
        pred = centres[:, :, None, :] + offsets * self.config.patch_size  # (B, N, K, 2)
        idx = self.neighbours.reshape(1, n * k, 1).expand(b, n * k, 2)
        total = torch.zeros(b, n, 2, dtype=pred.dtype, device=pred.device).scatter_add_(1, idx, pred.reshape(b, n * k, 2))
        count = torch.bincount(self.neighbours.reshape(-1), minlength=n).to(pred.dtype)
        return total / count.view(1, n, 1)


def patch_matrices(rectify: np.ndarray, centres: np.ndarray, patch_size: int) -> np.ndarray:
    """Image -> patch matrices ``(B, N, 3, 3)``: patch p is centred on ``centres[:, p]`` (rectified frame).

    Args:
        rectify: ``(B, 3, 3)`` image -> rectified matrices.
        centres: ``(B, N, 2)`` patch centres in the rectified frame.
    """
    c = (patch_size - 1) / 2.0
    b, n, _ = centres.shape
    shift = np.tile(np.eye(3), (b, n, 1, 1))
    shift[..., :2, 2] = c - centres
    return shift @ np.asarray(rectify)[:, None]
