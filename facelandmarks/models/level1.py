"""Level 1 of the cascade: one CNN regresses all N points from a crop of the face box.

The paper's Table 1a (Fan & Zhou 2016), all convolutions 3x3 with a non-linearity after each::

    input 128x128x3
    conv 32, pool 2
    conv 64, conv 64, pool 2
    conv 64, conv 64, pool 2
    conv 128, conv 128, pool 2
    conv 256
    full 1024
    full 2N

The same code builds the shallow baseline in the style of Sun et al. (2013): a 39x39 grayscale input
and four convolutions (:data:`SHALLOW`). Choices the paper leaves open, made here: "valid" (no)
padding in the deep net, ReLU, batch normalisation after every convolution, outputs as offsets from
the training mean shape in unit crop coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..geometry import box_to_crop_matrix, fit_similarity, points_box, square_box

__all__ = ["Level1Config", "DEEP", "SHALLOW", "Level1Net", "conv_trunk", "crop_matrices", "recrop_matrices", "upright_turn", "to_unit",
           "from_unit"]


@dataclass(frozen=True)
class Level1Config:
    """Architecture and input frame of a level-1 network."""

    input_size: int = 128  # side of the square input crop, pixels
    in_channels: int = 3  # 3 = colour, 1 = grayscale (the crop is converted inside the model)
    blocks: tuple[tuple[int, ...], ...] = ((32,), (64, 64), (64, 64), (128, 128), (256,))  # 3x3 convs per block; 2x2 max-pool after every block but the last
    padding: int | tuple[int, ...] = 0  # 0 = "valid" convolutions, 1 = "same"; or one per block
    fc: int = 1024  # hidden fully connected layer
    n_points: int = 68  # N, outputs 2N numbers
    batchnorm: bool = True  # batch normalisation after each convolution
    dropout: float = 0.0  # dropout before the last layer
    crop_scale: float = 1.3  # crop side = crop_scale * max(w, h) of the landmark box


DEEP = Level1Config()
"""The paper's deep level-1 network (Table 1a)."""

SHALLOW = Level1Config(input_size=39, in_channels=1, blocks=((20,), (40,), (60,), (80,)), padding=1, fc=120)
"""A shallow baseline in the style of Sun et al. 2013: 39x39 grayscale, four convolutions."""


def conv_trunk(in_channels: int, blocks: tuple[tuple[int, ...], ...], padding: int | tuple[int, ...],
               batchnorm: bool) -> nn.Sequential:
    """3x3 convolutions (+BN) + ReLU, a 2x2 max-pool after every block except the last.

    ``padding`` is one number for all blocks or one per block (0 = "valid", 1 = "same").
    """
    pads = (padding,) * len(blocks) if isinstance(padding, int) else tuple(padding)
    if len(pads) != len(blocks):
        raise ValueError(f"padding {padding!r} must be one number or one per block ({len(blocks)})")
    layers: list[nn.Module] = []
    c = in_channels
    for i, block in enumerate(blocks):
        for out in block:
            layers.append(nn.Conv2d(c, out, 3, padding=pads[i], bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
        if i < len(blocks) - 1:
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Level1Net(nn.Module):
    """Crop ``(B, 3, S, S)`` in [0, 1] -> points ``(B, N, 2)`` in unit crop coordinates.

    Unit crop coordinates: ``u = (x + 0.5) / S`` for a crop pixel coordinate ``x``, so the crop spans
    [0, 1]. The network predicts offsets from ``mean_shape`` (a buffer set from training data).
    """

    def __init__(self, config: Level1Config = DEEP) -> None:
        super().__init__()
        self.config = config
        self.features = conv_trunk(config.in_channels, config.blocks, config.padding, config.batchnorm)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, config.in_channels, config.input_size, config.input_size)).numel()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, config.fc),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.fc, 2 * config.n_points),
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.register_buffer("mean_shape", torch.full((config.n_points, 2), 0.5))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        s = self.config.input_size
        if crops.ndim != 4 or crops.shape[1] != 3 or crops.shape[2:] != (s, s):
            raise ValueError(f"level-1 input must be (B, 3, {s}, {s}), got {tuple(crops.shape)}")
        x = crops - 0.5
        if self.config.in_channels == 1:
            x = x.mean(dim=1, keepdim=True)
        offsets = self.head(self.features(x)).view(-1, self.config.n_points, 2)  # (B, N, 2)
        return self.mean_shape + offsets


def crop_matrices(boxes: np.ndarray, config: Level1Config) -> np.ndarray:
    """Image -> level-1 crop matrices ``(B, 3, 3)`` for landmark boxes ``(B, 4)``.

    The crop is the square of side ``crop_scale * max(w, h)`` centred on the box, resized to
    ``input_size``.
    """
    return box_to_crop_matrix(square_box(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), config.crop_scale),
                              config.input_size)


def recrop_matrices(points: np.ndarray, reference: np.ndarray, config: Level1Config) -> np.ndarray:
    """Image -> level-1 crop matrices ``(B, 3, 3)`` re-made from points ``(B, N, 2)`` (image frame,
    e.g. a first level-1 pass): the face turned upright, then cropped as :func:`crop_matrices` crops
    the tight box of its points, the convention level 1 was trained on (ground-truth landmark boxes).

    The rotation is that of the similarity fitting ``points`` onto ``reference`` ``(N, 2)``, any
    upright shape (level 1's ``mean_shape``); scale and shift come from the box. A detector's box
    misses the landmark box by about 7.5% of its size (``docs/detection.md``); a box re-made from
    level 1's own points misses by less, and level 1 is more accurate on it (``Cascade``'s ``recrop``).
    """
    turn, upright = upright_turn(points, reference, config.n_points)
    return crop_matrices(points_box(upright), config) @ turn


def upright_turn(points: np.ndarray, reference: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The rotations ``(B, 3, 3)`` (about the image origin) that turn faces upright, and the points
    ``(B, N, 2)`` turned by them: the rotation of the similarity fitting ``points`` (image frame) onto
    ``reference`` ``(N, 2)``, an upright shape. :func:`recrop_matrices` and the training of a
    second-pass level 1 (``TrainConfig.upright``) turn faces with it."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, n_points, 2)
    fit = fit_similarity(pts, np.asarray(reference, dtype=np.float64))  # (B, 3, 3)
    angle = np.arctan2(fit[:, 1, 0], fit[:, 0, 0])
    turn = np.zeros_like(fit)  # rotation about the image origin by the fit's angle
    turn[:, 0, 0] = turn[:, 1, 1] = np.cos(angle)
    turn[:, 0, 1], turn[:, 1, 0] = -np.sin(angle), np.sin(angle)
    turn[:, 2, 2] = 1.0
    return turn, np.einsum("bij,bnj->bni", turn[:, :2, :2], pts)


def to_unit(points_crop: np.ndarray, size: int) -> np.ndarray:
    """Crop pixel coordinates -> unit crop coordinates ``u = (x + 0.5) / size``."""
    return (np.asarray(points_crop) + 0.5) / size


def from_unit(points_unit: np.ndarray, size: int) -> np.ndarray:
    """Unit crop coordinates -> crop pixel coordinates ``x = u * size - 0.5``."""
    return np.asarray(points_unit) * size - 0.5
