"""The coarse-to-fine cascade: ``image, box -> N points``, keeping every stage for inspection.

Frames and the 3x3 matrices between them (each maps the first frame to the second)::

    image --crop_matrix--> level-1 crop (S x S)          level 1 predicts here
    image --rectify_matrix--> rectified face             similarity fit of the level-1 points
                                                         onto the canonical shape
    image --patch_matrices[p]--> patch p (P x P)         level 2 predicts here, votes in the
                                                         rectified frame, maps back by the inverse
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..geometry import check_box, fit_similarity, hflip_matrix, transform_points, warp_batch
from ..io import check_image
from ..schemes import get_scheme
from .files import load_model
from .level1 import Level1Net, crop_matrices, from_unit, recrop_matrices
from .level2 import Level2Net, patch_matrices
from .shape_correction import ShapeCorrection

__all__ = ["Cascade", "FacePrediction", "BatchPrediction", "CHUNK", "LEVEL_NAMES", "TILT_FALLBACK_DEG", "LowConfidenceError", "LowConfidenceWarning",
           "fuse_for_inference"]


@dataclass
class FacePrediction:
    """The cascade's result for one face, with every stage (coordinates in the image unless named)."""

    points: np.ndarray  # (N, 2) final points
    level1_points: np.ndarray  # (N, 2) level-1 points, those level 2 starts from (with the cascade's
    # level1_flip: the mean of level 1 on the crop and on its mirror image)
    level2_points: np.ndarray  # (N, 2) level-2 points (= final without level 3)
    box: np.ndarray  # (4,) landmark-convention face box the crop was made from
    crop_matrix: np.ndarray  # (3, 3) image -> level-1 crop
    rectify_matrix: np.ndarray | None  # (3, 3) image -> level 2's rectified face (None without level 2)
    patch_matrices: np.ndarray | None  # (N, 3, 3) image -> level 2's patch p
    votes: np.ndarray | None  # (N, K, 2) every level-2 patch's predictions, rectified frame
    level1_mirror_points: np.ndarray | None = None  # (N, 2) level 1 on the mirrored crop, mapped back
    # (computed for the score and for level1_flip; None without either)
    score: float | None = None  # confidence in [0, 1], low when the points are probably wrong
    detector_box: np.ndarray | None = None  # (4,) the detector's own box, when detection was used
    detector_score: float | None = None  # the detector's score of that box (facelandmarks.detect.detect_faces)


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
    level1_mirror_points: np.ndarray | None = None  # (B, N, 2)
    score: np.ndarray | None = None  # (B,) confidence in [0, 1] (facelandmarks.models.confidence)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> FacePrediction:
        one = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[i]) for f in fields(self)}
        one["score"] = None if one["score"] is None else float(one["score"])
        return FacePrediction(**one)


def _device_of(net: nn.Module) -> torch.device:
    """Where a network's tensors are: the device of its first buffer or parameter, the CPU for one
    without any (a level run by ONNX Runtime, :mod:`facelandmarks.models.onnx`)."""
    for tensor in itertools.chain(net.buffers(), net.parameters()):
        return tensor.device
    return torch.device("cpu")


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


LEVEL_NAMES = ("level1", "level2", "level3", "level1_recrop")
"""The names of a cascade's networks (:meth:`Cascade.levels`), in the order of weight-file lists."""

TILT_FALLBACK_DEG = 20.0
"""With a second-pass level 1 (``Cascade.level1_recrop``, trained within about 6° of upright), a face
the first pass finds turned by more than this gets its recrop pass from level 1 itself (trained with
rotations up to 16° on top of the photos' own tilt). On the 201 validation faces turned by 40° (50°,
60°), the second-pass network alone leaves 10 (50, 124) over 0.08 NME, level 1 itself 5 (16, 65),
and this rule 5 (22, 76); a 15° rule 5 (17, 67), but it also takes 5.6% of the training faces, as
their first pass finds them, away from the more precise network (``docs/reliability.md``,
"In-plane rotation")."""

CHUNK = 8
"""Faces per network call in :meth:`Cascade.predict_batch`. Small chunks keep a call's activations
(about 2 MB per face for level 1's first layer, 4 MB for level 2's) in the CPU's cache: on the
2-core development machine, 64 faces ran through the fused float cascade at 72.0 faces/s in chunks
of 8 against 44.4 in one chunk of 64, and through the int8 one at 82.2 against 71.3
(``benchmarks/profile_cascade.py``, medians of 5 interleaved rounds)."""


@lru_cache(maxsize=None)
def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """One shared pool per number of workers (the network calls and warps release the GIL)."""
    return ThreadPoolExecutor(workers, thread_name_prefix="facelandmarks")


class Cascade(nn.Module):
    """Level 1, optional level 2 (the paper's two levels) and an optional finer level 3, as one predictor.

    Level 3 is our addition (the paper stops at two levels): the same patch network as level 2 on a
    rectified face twice as large, trained on smaller errors, in the spirit of Sun et al.'s third level.

    ``level1_flip`` (also ours): level 1's points, which level 2 starts from, are the mean of its
    points on the crop and on its mirror image, instead of the crop's alone. The mirrored pass is the one the confidence score
    already runs, so with the score on it costs nothing more. ``recrop`` (ours): level 1 runs a
    second time, on a crop re-made from its first points (upright, around their tight box: the boxes
    level 1 was trained on), instead of trusting the detector's box. :meth:`from_files` sets both as
    the level-2 file was trained (``facelandmarks train level2 --level1-flip --recrop``);
    ``predict_batch(level1_flip=..., recrop=...)`` overrides them for one call. ``level1_recrop``
    (ours, optional): a second level-1 network, trained on crops as narrow as the re-made ones
    (``facelandmarks train level1 --upright``), runs the recrop pass instead of ``level1``.
    ``shape_correction`` (ours, optional): a linear correction of level 2's points fitted on the
    training faces (:mod:`~facelandmarks.models.shape_correction`); :meth:`from_files` takes it from
    the level-2 file, ``predict_batch(shape_correction=False)`` skips it for one call.

    Example:
        >>> import facelandmarks, skimage.data            # doctest: +SKIP
        >>> cascade = facelandmarks.load_pretrained()     # doctest: +SKIP
        >>> result = cascade.predict(skimage.data.astronaut())  # doctest: +SKIP
        >>> result.points.shape                           # doctest: +SKIP
        (68, 2)
    """

    def __init__(self, level1: Level1Net, level2: Level2Net | None = None, level3: Level2Net | None = None,
                 level1_flip: bool = False, recrop: bool = False, level1_recrop: Level1Net | None = None,
                 shape_correction: ShapeCorrection | None = None) -> None:
        super().__init__()
        for net in (level2, level3, level1_recrop):
            if net is not None and net.config.n_points != level1.config.n_points:
                raise ValueError("every level must predict the same number of points")
        if level3 is not None and level2 is None:
            raise ValueError("level 3 refines level 2's points: give level 2 too")
        self.level1 = level1.eval()
        self.level2 = None if level2 is None else level2.eval()
        self.level3 = None if level3 is None else level3.eval()
        self.level1_flip = bool(level1_flip)
        self.recrop = bool(recrop)
        self.level1_recrop = None if level1_recrop is None else level1_recrop.eval()
        """The level-1 network of the ``recrop`` pass (ours: trained on upright crops as narrow as the
        re-made ones, ``facelandmarks train level1 --upright``); None: :attr:`level1` runs both passes."""
        self.tilt_fallback_deg = TILT_FALLBACK_DEG
        """Faces whose re-made crop turns them by more than this (degrees) get their recrop pass
        from :attr:`level1` instead of :attr:`level1_recrop` (see :data:`TILT_FALLBACK_DEG`)."""
        if shape_correction is not None and (level2 is None or shape_correction.n_points != level1.config.n_points):
            raise ValueError("a shape correction moves level 2's points: give level 2, with its number of points")
        self.shape_correction = shape_correction
        """Level 2's linear shape correction (ours, :mod:`facelandmarks.models.shape_correction`), or None."""
        self.workers = 1
        """Threads that run chunks of faces (and, at batch 1, the crop and its mirror image) side by
        side. 1 for torch, whose operators use every core themselves; the ONNX Runtime backend sets
        :data:`facelandmarks.models.onnx.WORKERS` (one single-threaded network call per core)."""

    @property
    def n_points(self) -> int:
        return self.level1.config.n_points

    def levels(self) -> dict[str, nn.Module]:
        """The networks present, by name, in the order lists of weight files follow:
        ``level1``, ``level2``, ``level3``, ``level1_recrop``."""
        nets = zip(LEVEL_NAMES, (self.level1, self.level2, self.level3, self.level1_recrop))
        return {name: net for name, net in nets if net is not None}

    def _flip_permutation(self) -> list[int]:
        """The flip permutation of the registered scheme with this cascade's number of points."""
        perm = get_scheme(self.n_points).flip_permutation
        if perm is None:
            raise ValueError(f"the {self.n_points}-point scheme has no flip permutation: use flip=False, score=False")
        return list(perm)

    @classmethod
    def from_files(cls, level1: str | os.PathLike, level2: str | os.PathLike | None = None,
                   level3: str | os.PathLike | None = None, level1_recrop: str | os.PathLike | bool | None = None,
                   recrop: bool | None = None) -> "Cascade":
        """Build a cascade from model files written by :func:`facelandmarks.models.files.save_model`
        (errors: see :func:`~facelandmarks.models.files.load_model`). ``level1_flip`` is True when the
        level-2 file was trained on level 1's flip-averaged points (its ``level1_flip`` entry), and
        ``recrop`` when on level 1's points from re-made crops (its ``recrop`` entry; given,
        ``recrop`` overrides it). ``level1_recrop``: a level-1 file for the recrop pass (see the class);
        None warns when the level-2 file was trained after one (its ``level1_recrop`` entry), False does not.

        Warns:
            UserWarning: the level-2 file was trained on the points of a second-pass level 1 and
                ``level1_recrop`` is None."""
        l1, _ = load_model(level1, "level1")
        l2, info = (None, {}) if level2 is None else load_model(level2, "level2")
        l3 = None if level3 is None else load_model(level3, "level2")[0]
        lr = None if level1_recrop in (None, False) else load_model(level1_recrop, "level1")[0]
        recrop = bool(info.get("recrop", False)) if recrop is None else bool(recrop)
        correction = info.get("shape_correction")
        correction = None if correction is None else ShapeCorrection.from_dict(correction, f"{level2}: shape_correction")
        if level1_recrop is None and recrop and info.get("level1_recrop"):
            import warnings

            warnings.warn(f"{level2} was trained on the points of a second-pass level 1 ({info['level1_recrop']}); "
                          "without level1_recrop=that file, level 1 runs both passes", UserWarning, stacklevel=2)
        return cls(l1, l2, l3, level1_flip=bool(info.get("level1_flip", False)), recrop=recrop, level1_recrop=lr,
                   shape_correction=correction)

    @torch.no_grad()
    def predict_batch(self, images: list[np.ndarray], boxes: np.ndarray, box_kind: str = "landmarks",
                      use_level2: bool = True, use_level3: bool = True, chunk: int = CHUNK,
                      flip: bool = False, score: bool = True,
                      device: str | torch.device | None = None, level1_flip: bool | None = None,
                      recrop: bool | None = None, shape_correction: bool = True) -> BatchPrediction:
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
            score: also run level 1 on the mirrored crops (about a quarter more time) and give each
                face a confidence ``score`` in [0, 1] (:mod:`facelandmarks.models.confidence`; None without
                the fitted ``weights/confidence.json`` or without the levels it needs).
            device: run the networks there (``"cpu"``, ``"cuda"``, ``"mps"``; the cascade moves there
                and stays); None: where the cascade is (the CPU unless moved with ``.to``). The
                crops and patches are cut on the CPU; the results are NumPy arrays either way.
            level1_flip: level 1's points (``level1_points``, those level 2 starts from) are the mean
                of level 1 on the crop and on its mirror image (None: the cascade's ``level1_flip``,
                set as its level 2 was trained). Runs the mirrored level-1 pass when ``score`` does
                not already.
            recrop: level 1 runs twice: on the crop of ``boxes``, then on the crop re-made from those
                first points (:func:`~facelandmarks.models.level1.recrop_matrices`: turned upright,
                cropped around their tight box); ``level1_points``, ``crop_matrix`` and the
                mirrored pass are the second pass's. None: the cascade's ``recrop``.
            shape_correction: apply the cascade's :attr:`shape_correction` to level 2's points
                (``level2_points``; a level 3 refines the corrected points). With ``flip`` it moves
                the flip-averaged points (the mirrored pass's would undo its x offset otherwise).

        Returns:
            :class:`BatchPrediction`, points float ``(B, N, 2)``, (x, y), 0-based pixel centres of the
            images; ``score`` ``(B,)`` or None.
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
        if device is not None:
            self.to(device)
        dev = _device_of(self.level1)
        level1_flip = self.level1_flip if level1_flip is None else bool(level1_flip)
        if flip:
            return self._flip_average(images, boxes, use_level2, use_level3, chunk, score, level1_flip, recrop,
                                      shape_correction)
        recrop = self.recrop if recrop is None else bool(recrop)
        l1, mirror, crop_m = self._level1_stage(images, boxes, chunk, dev, score or level1_flip, recrop)
        if level1_flip:
            l1 = (l1 + mirror) / 2
        if self.level2 is None or not use_level2:
            result = BatchPrediction(l1, l1, l1, boxes, crop_m, None, None, None, mirror)
        else:
            l2, rect, patch_m, votes = self._refine(self.level2, images, l1, chunk, self._map)
            if shape_correction and self.shape_correction is not None:
                l2 = self.shape_correction.apply(l2, rect)
            points = l2
            if self.level3 is not None and use_level3:
                points = self._refine(self.level3, images, l2, chunk, self._map)[0]
            result = BatchPrediction(points, l1, l2, boxes, crop_m, rect, patch_m, votes, mirror)
        if score:
            result.score = self._score(result, level1_flip)
        return result

    def _score(self, batch: BatchPrediction, level1_flip: bool) -> np.ndarray | None:
        from . import confidence

        params = _confidence_params()
        if params is None:
            return None
        values = confidence.score(confidence.features(self.level2, batch, level1_flip), params)
        return None if np.isnan(values).any() else values

    def _flip_average(self, images: list[np.ndarray], boxes: np.ndarray, use_level2: bool, use_level3: bool,
                      chunk: int, score: bool, level1_flip: bool, recrop: bool | None,
                      shape_correction: bool) -> BatchPrediction:
        plain = self.predict_batch(images, boxes, "landmarks", use_level2, use_level3, chunk, score=score,
                                   level1_flip=level1_flip, recrop=recrop, shape_correction=False)
        widths = np.array([im.shape[1] for im in images], dtype=np.float64)
        mirrored_boxes = np.stack([widths - 1 - boxes[:, 2], boxes[:, 1], widths - 1 - boxes[:, 0], boxes[:, 3]], axis=1)
        mirrored = self.predict_batch([im[:, ::-1] for im in images], mirrored_boxes, "landmarks", use_level2,
                                      use_level3, chunk, score=False, level1_flip=level1_flip, recrop=recrop,
                                      shape_correction=False)
        unflip = np.stack([hflip_matrix(int(w)) for w in widths])  # mirrored -> original image frame
        perm = self._flip_permutation()
        for name in ("points", "level1_points", "level2_points"):
            back = transform_points(getattr(mirrored, name), unflip)[:, perm]
            setattr(plain, name, (getattr(plain, name) + back) / 2)
        if shape_correction and self.shape_correction is not None and plain.rectify_matrix is not None:
            moved = self.shape_correction.apply(plain.level2_points, plain.rectify_matrix) - plain.level2_points
            plain.level2_points = plain.level2_points + moved
            plain.points = plain.points + moved
        return plain

    def _level1_stage(self, images: list[np.ndarray], boxes: np.ndarray, chunk: int, dev: torch.device,
                      mirror: bool, recrop: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Level 1 from landmark ``boxes`` (B, 4): its points, the mirrored pass's (or None) and the
        crop matrices (B, 3, 3) of the pass they come from (the second one with ``recrop``)."""
        crop_m = crop_matrices(boxes, self.level1.config)  # (B, 3, 3) image -> crop
        net = self.level1
        if recrop:  # a first pass on the given box, then the crop re-made from its points
            first, _ = self._level1(images, crop_m, chunk, dev, mirror=False)
            net = self.level1_recrop or self.level1
            crop_m = recrop_matrices(first, self.level1.mean_shape.cpu().double().numpy(), net.config)
            if self.level1_recrop is not None:
                turned = np.degrees(np.abs(np.arctan2(crop_m[:, 1, 0], crop_m[:, 0, 0])))
                tilted = np.flatnonzero(turned > self.tilt_fallback_deg)
                if len(tilted):  # these faces' recrop pass by level 1 itself, trained for more tilt
                    return self._level1_split(images, crop_m, chunk, dev, mirror, tilted)
        points, mirrored = self._level1(images, crop_m, chunk, dev, mirror=mirror, net=net)
        return points, mirrored, crop_m

    def _level1_split(self, images: list[np.ndarray], crop_m: np.ndarray, chunk: int, dev: torch.device,
                      mirror: bool, tilted: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The recrop pass with :attr:`level1_recrop`, except the faces at ``tilted`` (indices), whose
        pass runs :attr:`level1`."""
        points = np.empty((len(images), self.n_points, 2))
        mirrored = np.empty_like(points) if mirror else None
        rest = np.setdiff1d(np.arange(len(images)), tilted)
        for index, net in ((tilted, self.level1), (rest, self.level1_recrop)):
            if len(index):
                p, m = self._level1([images[i] for i in index], crop_m[index], chunk, dev, mirror=mirror, net=net)
                points[index] = p
                if mirror:
                    mirrored[index] = m
        return points, mirrored, crop_m

    def _level1(self, images: list[np.ndarray], crop_m: np.ndarray, chunk: int, dev: torch.device, mirror: bool,
                net: Level1Net | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Level 1 (``net``, default :attr:`level1`) on the crops ``crop_m`` (B, 3, 3) cut: its points
        (B, N, 2) in the image, and with ``mirror`` its points on the mirrored crops mapped back and
        renamed (else None)."""
        net = net or self.level1
        cfg1 = net.config
        spans = [range(start, min(start + chunk, len(images))) for start in range(0, len(images), chunk)]

        def cut(span: range) -> torch.Tensor:
            return torch.cat([warp_batch(images[i], crop_m[i][None], cfg1.input_size) for i in span]).to(dev) / 255.0

        def level1(crops: torch.Tensor) -> torch.Tensor:
            return net(crops.contiguous(memory_format=torch.channels_last)).cpu()

        crops = self._map(cut, spans)
        if not mirror:
            unit = self._map(level1, crops)
        elif self.workers > 1:  # the crops and their mirror images as separate calls, run side by side
            both = self._map(level1, crops + [c.flip(-1) for c in crops])
            unit, unit_mirror = both[:len(crops)], both[len(crops):]
        else:  # the crops and their mirror images in one network call (fewer calls at batch 1)
            both = [level1(torch.cat([c, c.flip(-1)])) for c in crops]
            unit, unit_mirror = [b[:len(b) // 2] for b in both], [b[len(b) // 2:] for b in both]
        to_image = np.linalg.inv(crop_m)
        points = transform_points(from_unit(torch.cat(unit).double().numpy(), cfg1.input_size), to_image)
        if not mirror:
            return points, None
        # mirrored crop -> crop: x' = S - 1 - x, and the scheme renames the points
        m_crop = from_unit(torch.cat(unit_mirror).double().numpy(), cfg1.input_size)
        m_crop = transform_points(m_crop, hflip_matrix(cfg1.input_size))[:, self._flip_permutation()]
        return points, transform_points(m_crop, to_image)

    def _map(self, fn, items: list) -> list:
        """``[fn(x) for x in items]``, run by :attr:`workers` threads side by side when there are several."""
        if self.workers <= 1 or len(items) <= 1:
            return [fn(x) for x in items]

        threads = torch.get_num_threads()  # the caller's; OpenMP's thread count is per thread too

        def run(x):
            # a pool thread keeps the thread count it was created with (by whichever cascade used the
            # pool first): an OnnxCascade's one-thread warps ran with two after a torch cascade's workers
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            with torch.no_grad():  # the grad mode is per thread: predict_batch's does not reach the workers
                return fn(x)

        return list(_thread_pool(self.workers).map(run, items))

    @staticmethod
    def _refine(net2: Level2Net, images: list[np.ndarray], start: np.ndarray, chunk: int, run=None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One patch-network level from ``start`` (B, N, 2): rectify, cut patches, predict, vote, map
        back; ``run(fn, chunks)`` maps over the chunks of faces (default: one after the other)."""
        p = net2.config.patch_size
        dev = _device_of(net2)
        rect = fit_similarity(start, net2.canonical.cpu().double().numpy())  # (B, 3, 3) image -> rectified
        centres = transform_points(start, rect)  # (B, N, 2)
        patch_m = patch_matrices(rect, centres, p)  # (B, N, 3, 3)

        def one(span: range) -> tuple[np.ndarray, np.ndarray]:
            patches = torch.stack([warp_batch(images[i], patch_m[i], p) for i in span]).to(dev) / 255.0
            offsets = net2(patches)  # (b, N, K, 2)
            c = torch.as_tensor(centres[span.start:span.stop], dtype=torch.float32, device=dev)
            return net2.vote(c, offsets).cpu().double().numpy(), (c[:, :, None, :] + offsets * p).cpu().double().numpy()

        spans = [range(first, min(first + chunk, len(images))) for first in range(0, len(images), chunk)]
        done = run(one, spans) if run is not None else [one(span) for span in spans]
        points = transform_points(np.concatenate([r for r, _ in done]), np.linalg.inv(rect))
        return points, rect, patch_m, np.concatenate([v for _, v in done])

    def predict(self, image: np.ndarray, box: np.ndarray | None = None, box_kind: str = "landmarks",
                detector: str | None = None, use_level2: bool = True, use_level3: bool = True,
                flip: bool = False, name: str = "image", full_size: bool | None = None,
                min_score: float | None = None, low_score: str = "raise",
                device: str | torch.device | None = None, recrop: bool | None = None,
                level1_flip: bool | None = None, shape_correction: bool = True) -> FacePrediction:
        """Predict one face.

        Without ``box`` the face detector finds the faces (``detector``: its name, default
        :data:`facelandmarks.detect.DEFAULT_DETECTOR`; ``full_size`` as in
        :func:`facelandmarks.detect.detect_faces`) and the **largest** one is predicted (the widest
        landmark box; on a portrait with a bystander, the subject). :meth:`predict_all` gives every face.

        Args:
            image: RGB ``(H, W, 3)`` (the input rules of :func:`check_image`; channel order RGB).
            box: ``(x0, y0, x1, y1)`` in the convention ``box_kind`` (see :meth:`predict_batch`).
            min_score: a confidence threshold (``weights/confidence.json`` suggests one): a face
                scoring under it raises :class:`LowConfidenceError` (``low_score="raise"``) or warns
                with :class:`LowConfidenceWarning` (``low_score="warn"``).
            device: where the networks run (see :meth:`predict_batch`).
            recrop, level1_flip: how level 1 runs (see :meth:`predict_batch`; None: as the cascade's).
            shape_correction: apply level 2's shape correction (see :meth:`predict_batch`).

        Returns:
            :class:`FacePrediction`: points float ``(N, 2)``, (x, y), 0-based pixel centres; ``score``.

        Raises:
            NoFaceError: no face found (the message says what was searched and what to try).
            LowConfidenceError: ``score < min_score`` with ``low_score="raise"``.
            ValueError: a bad image or box.
        """
        if low_score not in ("raise", "warn"):
            raise ValueError(f"low_score must be 'raise' or 'warn', got {low_score!r}")
        image = check_image(image, name)
        if box is None:
            found = self.predict_all(image, detector, use_level2, use_level3, flip, name, full_size, device,
                                     recrop=recrop, level1_flip=level1_flip, shape_correction=shape_correction)
            if not found:
                from .. import detect

                raise detect.NoFaceError(detect.no_face_message(name, image.shape, detector or detect.DEFAULT_DETECTOR,
                                                                full_size))
            result = found[0]
        else:
            box = check_box(box, image.shape, name=f"{name}: box")
            result = self.predict_batch([image], np.asarray(box)[None], box_kind, use_level2, use_level3, flip=flip,
                                        device=device, recrop=recrop, level1_flip=level1_flip,
                                        shape_correction=shape_correction)[0]
        _check_score(result, min_score, low_score, name)
        return result

    def predict_all(self, image: np.ndarray, detector: str | None = None, use_level2: bool = True,
                    use_level3: bool = True, flip: bool = False, name: str = "image",
                    full_size: bool | None = None, device: str | torch.device | None = None,
                    recrop: bool | None = None, level1_flip: bool | None = None,
                    shape_correction: bool = True) -> list[FacePrediction]:
        """Every face the detector finds, largest first (width of the landmark box); ``[]`` when none.

        Each :class:`FacePrediction` carries its ``detector_box``, ``detector_score`` and confidence
        ``score``. For group photos whose small faces the shrunk search misses, pass ``full_size=True``
        (see :func:`facelandmarks.detect.detect_faces`).
        """
        from .. import detect

        image = check_image(image, name)
        det = detector or detect.DEFAULT_DETECTOR
        found, det_scores = detect.detect_faces(image, det, full_size=full_size, return_scores=True)
        if len(found) == 0:
            return []
        widths = found[:, 2] - found[:, 0]
        order = np.argsort(-widths, kind="stable")
        found, det_scores = found[order], det_scores[order]
        batch = self.predict_batch([image] * len(found), found, det, use_level2, use_level3, flip=flip, device=device,
                                   recrop=recrop, level1_flip=level1_flip, shape_correction=shape_correction)
        results = []
        for k in range(len(found)):
            r = batch[k]
            r.detector_box, r.detector_score = found[k], float(det_scores[k])
            results.append(r)
        return results


class LowConfidenceError(ValueError):
    """A prediction scored under the caller's ``min_score`` (the message names the image and the score)."""


class LowConfidenceWarning(UserWarning):
    """Warned instead of :class:`LowConfidenceError` with ``low_score="warn"``."""


def _check_score(result: FacePrediction, min_score: float | None, low_score: str, name: str) -> None:
    if min_score is None:
        return
    if result.score is None:
        raise ValueError(f"{name}: min_score needs a confidence score, and this cascade gives none "
                         "(it needs weights/confidence.json; see benchmarks/confidence.py)")
    if result.score < min_score:
        message = (f"{name}: confidence {result.score:.2f} is under min_score {min_score:.2f}: the points are "
                   "probably wrong (a face turned far from upright, hidden, or no face at all)")
        if low_score == "raise":
            raise LowConfidenceError(message)
        import warnings

        warnings.warn(message, LowConfidenceWarning, stacklevel=3)


@lru_cache(maxsize=1)
def _confidence_params():
    """The fitted confidence parameters (read once; never modified, so safe to share between threads)."""
    from . import confidence

    return confidence.load_params()
