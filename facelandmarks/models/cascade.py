"""The coarse-to-fine cascade: ``image, box -> N points``, keeping every stage for inspection.

Frames and the 3x3 matrices between them (each maps the first frame to the second)::

    image --crop_matrix--> level-1 crop (S x S)          level 1 predicts here
    image --rectify_matrix--> rectified face             similarity fit of the level-1 points
                                                         onto the canonical shape
    image --patch_matrices[p]--> patch p (P x P)         level 2 predicts here, votes in the
                                                         rectified frame, maps back by the inverse
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from ..geometry import check_box, fit_similarity, hflip_matrix, transform_points, warp_batch
from ..io import check_image
from ..schemes import get_scheme
from .files import load_model
from .level1 import Level1Net, crop_matrices, from_unit
from .level2 import Level2Net, patch_matrices

__all__ = ["Cascade", "FacePrediction", "BatchPrediction", "CHUNK", "fuse_for_inference"]


@dataclass
class FacePrediction:
    """The cascade's result for one face, with every stage (coordinates in the image unless named)."""

    points: np.ndarray  # (N, 2) final points
    level1_points: np.ndarray  # (N, 2) level-1 points
    level2_points: np.ndarray  # (N, 2) level-2 points (= final without level 3)
    box: np.ndarray  # (4,) landmark-convention face box the crop was made from
    crop_matrix: np.ndarray  # (3, 3) image -> level-1 crop
    rectify_matrix: np.ndarray | None  # (3, 3) image -> level 2's rectified face (None without level 2)
    patch_matrices: np.ndarray | None  # (N, 3, 3) image -> level 2's patch p
    votes: np.ndarray | None  # (N, K, 2) every level-2 patch's predictions, rectified frame
    detector_box: np.ndarray | None = None  # (4,) the detector's own box, when detection was used


@dataclass
class BatchPrediction:
    """Batched :class:`FacePrediction` (leading dimension B); ``result[i]`` gives one face."""

    points: np.ndarray
    level1_points: np.ndarray
    level2_points: np.ndarray
    box: np.ndarray
    crop_matrix: np.ndarray
    rectify_matrix: np.ndarray | None
    patch_matrices: np.ndarray | None
    votes: np.ndarray | None

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> FacePrediction:
        return FacePrediction(**{f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[i])
                                 for f in fields(self)})


def _fuse(seq: nn.Sequential) -> nn.Sequential:
    mods, out, i = list(seq), [], 0
    while i < len(mods):
        if isinstance(mods[i], nn.Conv2d) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
            out.append(torch.nn.utils.fusion.fuse_conv_bn_eval(mods[i], mods[i + 1]))
            i += 2
        else:
            out.append(mods[i])
            i += 1
    return nn.Sequential(*out)


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """Fold batch-norm into the convolutions of every ``features`` trunk and use channels-last memory
    (same outputs to float tolerance, ~1.5-2x faster on CPU). Modifies and returns ``model`` (eval mode)."""
    model.eval()
    for net in (m for m in model.modules() if isinstance(m, (Level1Net, Level2Net))):
        net.features = _fuse(net.features)
    return model.to(memory_format=torch.channels_last)


CHUNK = 8
"""Faces per network call in :meth:`Cascade.predict_batch`. Small chunks keep a call's activations
(about 2 MB per face for level 1's first layer, 4 MB for level 2's) in the CPU's cache: on the
2-core development machine, 64 faces ran through the fused float cascade at 72.0 faces/s in chunks
of 8 against 44.4 in one chunk of 64, and through the int8 one at 82.2 against 71.3
(``benchmarks/profile_cascade.py``, medians of 5 interleaved rounds)."""


class Cascade(nn.Module):
    """Level 1, optional level 2 (the paper's two levels) and an optional finer level 3, as one predictor.

    Level 3 is our addition (the paper stops at two levels): the same patch network as level 2 on a
    rectified face twice as large, trained on smaller errors, in the spirit of Sun et al.'s third level.

    Example:
        >>> import facelandmarks, skimage.data            # doctest: +SKIP
        >>> cascade = facelandmarks.load_pretrained()     # doctest: +SKIP
        >>> result = cascade.predict(skimage.data.astronaut())  # doctest: +SKIP
        >>> result.points.shape                           # doctest: +SKIP
        (68, 2)
    """

    def __init__(self, level1: Level1Net, level2: Level2Net | None = None, level3: Level2Net | None = None) -> None:
        super().__init__()
        for net in (level2, level3):
            if net is not None and net.config.n_points != level1.config.n_points:
                raise ValueError("every level must predict the same number of points")
        if level3 is not None and level2 is None:
            raise ValueError("level 3 refines level 2's points: give level 2 too")
        self.level1 = level1.eval()
        self.level2 = None if level2 is None else level2.eval()
        self.level3 = None if level3 is None else level3.eval()

    @property
    def n_points(self) -> int:
        return self.level1.config.n_points

    @classmethod
    def from_files(cls, level1: str | os.PathLike, level2: str | os.PathLike | None = None,
                   level3: str | os.PathLike | None = None) -> "Cascade":
        """Build a cascade from model files written by :func:`facelandmarks.models.files.save_model`
        (errors: see :func:`~facelandmarks.models.files.load_model`)."""
        l1, _ = load_model(level1, "level1")
        l2 = None if level2 is None else load_model(level2, "level2")[0]
        l3 = None if level3 is None else load_model(level3, "level2")[0]
        return cls(l1, l2, l3)

    @torch.no_grad()
    def predict_batch(self, images: list[np.ndarray], boxes: np.ndarray, box_kind: str = "landmarks",
                      use_level2: bool = True, use_level3: bool = True, chunk: int = CHUNK,
                      flip: bool = False) -> BatchPrediction:
        """Predict the points of one face per image.

        Args:
            images: B images, RGB uint8 ``(H, W, 3)`` (sizes may differ).
            boxes: ``(B, 4)`` face boxes ``(x0, y0, x1, y1)`` in the convention ``box_kind``:
                ``"landmarks"`` (the tight box of the points) or a detector name of
                :data:`facelandmarks.detect.BOX_MAPPINGS` (e.g. ``"dlib_hog"``).
            use_level2: False stops after level 1 (``points`` = level-1 points).
            use_level3: False stops after level 2 (when the cascade has a level 3).
            chunk: faces run through each network at once (:data:`CHUNK`); the results do not
                depend on it.
            flip: also predict the mirrored face and average (test-time augmentation, twice the
                time). The matrices and votes are those of the unmirrored pass.
        """
        images = [check_image(im, f"image {i}") for i, im in enumerate(images)]
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) != len(images):
            raise ValueError(f"got {len(images)} images but {len(boxes)} boxes")
        for i, (im, box) in enumerate(zip(images, boxes)):
            check_box(box, im.shape, name=f"box {i}")
        if box_kind != "landmarks":
            from ..detect import to_landmark_box

            boxes = to_landmark_box(boxes, box_kind)
        if flip:
            return self._flip_average(images, boxes, use_level2, use_level3, chunk)
        cfg1 = self.level1.config
        crop_m = crop_matrices(boxes, cfg1)  # (B, 3, 3) image -> crop
        unit = []
        for start in range(0, len(images), chunk):
            crops = torch.cat([warp_batch(images[i], crop_m[i][None], cfg1.input_size)
                               for i in range(start, min(start + chunk, len(images)))]) / 255.0
            unit.append(self.level1(crops.contiguous(memory_format=torch.channels_last)))
        l1_crop = from_unit(torch.cat(unit).double().numpy(), cfg1.input_size)
        l1 = transform_points(l1_crop, np.linalg.inv(crop_m))  # (B, N, 2) image frame
        if self.level2 is None or not use_level2:
            return BatchPrediction(l1, l1, l1, boxes, crop_m, None, None, None)
        l2, rect, patch_m, votes = self._refine(self.level2, images, l1, chunk)
        points = l2
        if self.level3 is not None and use_level3:
            points = self._refine(self.level3, images, l2, chunk)[0]
        return BatchPrediction(points, l1, l2, boxes, crop_m, rect, patch_m, votes)

    def _flip_average(self, images: list[np.ndarray], boxes: np.ndarray, use_level2: bool, use_level3: bool,
                      chunk: int) -> BatchPrediction:
        plain = self.predict_batch(images, boxes, "landmarks", use_level2, use_level3, chunk)
        widths = np.array([im.shape[1] for im in images], dtype=np.float64)
        mirrored_boxes = np.stack([widths - 1 - boxes[:, 2], boxes[:, 1], widths - 1 - boxes[:, 0], boxes[:, 3]], axis=1)
        mirrored = self.predict_batch([im[:, ::-1] for im in images], mirrored_boxes, "landmarks", use_level2,
                                      use_level3, chunk)
        unflip = np.stack([hflip_matrix(int(w)) for w in widths])  # mirrored -> original image frame
        perm = list(get_scheme(self.n_points).flip_permutation)
        for name in ("points", "level1_points", "level2_points"):
            back = transform_points(getattr(mirrored, name), unflip)[:, perm]
            setattr(plain, name, (getattr(plain, name) + back) / 2)
        return plain

    @staticmethod
    def _refine(net2: Level2Net, images: list[np.ndarray], start: np.ndarray, chunk: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One patch-network level from ``start`` (B, N, 2): rectify, cut patches, predict, vote, map back."""
        p = net2.config.patch_size
        rect = fit_similarity(start, net2.canonical.double().numpy())  # (B, 3, 3) image -> rectified
        centres = transform_points(start, rect)  # (B, N, 2)
        patch_m = patch_matrices(rect, centres, p)  # (B, N, 3, 3)
        votes, refined = [], []
        for first in range(0, len(images), chunk):
            stop = min(first + chunk, len(images))
            patches = torch.stack([warp_batch(images[i], patch_m[i], p) for i in range(first, stop)]) / 255.0
            offsets = net2(patches)  # (b, N, K, 2)
            c = torch.as_tensor(centres[first:stop], dtype=torch.float32)
            refined.append(net2.vote(c, offsets).double().numpy())
            votes.append((c[:, :, None, :] + offsets * p).double().numpy())
        points = transform_points(np.concatenate(refined), np.linalg.inv(rect))
        return points, rect, patch_m, np.concatenate(votes)

    def predict(self, image: np.ndarray, box: np.ndarray | None = None, box_kind: str = "landmarks",
                detector: str | None = None, use_level2: bool = True, use_level3: bool = True,
                flip: bool = False, name: str = "image") -> FacePrediction:
        """Predict one face. Without ``box`` the face detector finds it (``detector``: its name,
        default :data:`facelandmarks.detect.DEFAULT_DETECTOR`); ``NoFaceError`` if it finds none."""
        image = check_image(image, name)
        detector_box = None
        if box is None:
            from .. import detect

            det = detector or detect.DEFAULT_DETECTOR
            found = detect.detect_faces(image, det)
            if len(found) == 0:
                raise detect.NoFaceError(f"{name}: no face found by detector {det!r}")
            detector_box, box, box_kind = found[0], found[0], det
        else:
            box = check_box(box, image.shape, name=f"{name}: box")
        result = self.predict_batch([image], np.asarray(box)[None], box_kind, use_level2, use_level3, flip=flip)[0]
        result.detector_box = detector_box
        return result
