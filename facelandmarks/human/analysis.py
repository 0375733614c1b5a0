"""Human and model errors on the same references, per-point summaries and the verdict.

Every error is a normalised mean error (NME, :mod:`facelandmarks.metrics`) with a *named* normaliser:
J&dC errors are divided by the reference inter-pupil distance (``inter_pupil``, P71-P72, the only
eye pair the study annotated); LFPW and HELEN errors by the outer-eye-corner distance
(``inter_ocular``, iBUG 37 and 46).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .. import metrics
from ..datasets import jitter_boxes
from ..geometry import points_box
from ..io import read_image
from .formats import (GROUPS, JDC_IBUG_POINTS, JDC_IMAGES, JDC_NORMALISER, JDC_POINT_IDS, LFPW_IBUG_INDICES,
                      LFPW_POINTS, LFPW_TO_IBUG68, ClickTable, LfpwAnnotations, jdc_image_path, jdc_normaliser,
                      jdc_references, point_number)

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluation import Evaluation
    from ..models.cascade import Cascade

__all__ = [
    "AnnotationErrors", "annotation_errors", "ModelErrors", "model_errors", "point_summary", "consensus_offset",
    "percentile_of", "verdict", "LfpwSpread", "lfpw_spread", "model_lfpw_errors",
]


# --------------------------------------------------------------------------------------------
# Human errors
# --------------------------------------------------------------------------------------------

@dataclass
class AnnotationErrors:
    """Error of every annotation (one annotator's 22 clicks on one image in one pass).

    ``point_errors`` ``(A, P)`` and ``nme`` ``(A,)`` are divided by the image's reference
    inter-pupil distance (``norm``); ``pixel_errors`` ``(A, P)`` are in pixels; ``clicks``
    ``(A, P, 2)`` are the clicked points. The key columns ``annotator, group, image, repeat`` are ``(A,)``.
    """

    annotator: np.ndarray
    group: np.ndarray
    image: np.ndarray
    repeat: np.ndarray
    point_ids: tuple[str, ...]
    clicks: np.ndarray
    pixel_errors: np.ndarray
    point_errors: np.ndarray
    nme: np.ndarray
    norm: str = JDC_NORMALISER

    def __len__(self) -> int:
        return len(self.nme)

    def where(self, mask: np.ndarray) -> "AnnotationErrors":
        """The annotations where ``mask`` ``(A,)`` is true."""
        m = np.asarray(mask, dtype=bool)
        return AnnotationErrors(self.annotator[m], self.group[m], self.image[m], self.repeat[m], self.point_ids,
                                self.clicks[m], self.pixel_errors[m], self.point_errors[m], self.nme[m], self.norm)

    def of(self, group: str | None = None, image: str | None = None) -> "AnnotationErrors":
        """The annotations of one group and/or one image."""
        mask = np.ones(len(self), bool)
        if group is not None:
            mask &= self.group == group
        if image is not None:
            mask &= self.image == image
        return self.where(mask)

    @property
    def groups(self) -> list[str]:
        """Groups present, in :data:`GROUPS` order."""
        present = set(self.group.tolist())
        return [g for g in GROUPS if g in present] + sorted(present - set(GROUPS))


def annotation_errors(table: ClickTable, points: Sequence[str] = JDC_IBUG_POINTS,
                      references: Mapping[str, np.ndarray] | None = None) -> AnnotationErrors:
    """NME of every annotation in ``table`` against its image's reference, over ``points``.

    ``NME = mean_p |click_p - ref_p| / |ref_P71 - ref_P72|`` (the mean over the chosen points of the
    Euclidean error, divided by the reference inter-pupil distance).

    Args:
        table: clicks (any groups).
        points: point ids to average over (default: the 19 iBUG points, as for the model).
        references: image -> ``(22, 2)`` references in :data:`JDC_POINT_IDS` order (default: taken
            from ``table``; give them when ``table`` holds only learners' clicks).

    Example (worked by hand in ``tests/test_human.py``): a click 3 px right and 4 px below its
    reference is 5 px off; with pupils 100 px apart that point's error is 0.05.
    """
    points = tuple(points)
    refs = dict(references) if references is not None else jdc_references(table)
    keys = table.annotation_keys()
    index = {k: i for i, k in enumerate(keys)}
    pidx = {p: j for j, p in enumerate(points)}
    clicks = np.full((len(keys), len(points), 2), np.nan)
    rows = [index[k] for k in zip(table.annotator.tolist(), table.group.tolist(), table.image.tolist(), table.repeat.tolist())]
    for r, (a, pid) in enumerate(zip(rows, table.point_id.tolist())):
        j = pidx.get(pid)
        if j is not None:
            clicks[a, j] = table.click[r]
    if np.isnan(clicks).any():
        bad = keys[int(np.argwhere(np.isnan(clicks))[0, 0])]
        raise ValueError(f"annotation {bad} lacks some of the points {points}")
    image = np.array([k[2] for k in keys])
    ref = np.stack([refs[im][[JDC_POINT_IDS.index(p) for p in points]] for im in image.tolist()])
    norm = np.array([jdc_normaliser(refs[im]) for im in image.tolist()])
    pixel = metrics.point_errors(clicks, ref, norm=None)
    point_err = pixel / norm[:, None]
    return AnnotationErrors(np.array([k[0] for k in keys]), np.array([k[1] for k in keys]), image,
                            np.array([k[3] for k in keys], dtype=np.int64), points, clicks, pixel, point_err,
                            point_err.mean(axis=1))


# --------------------------------------------------------------------------------------------
# Model errors on the J&dC images
# --------------------------------------------------------------------------------------------

@dataclass
class ModelErrors:
    """The cascade on the J&dC images, from the detector's box and from ``J`` jittered boxes.

    Shapes: I images, J jitter draws, P points (``point_ids``).
    ``boxes`` ``(I, 4)`` landmark-convention boxes the detector gave (``box_source[i]`` says where a
    box came from), ``jittered`` ``(I, J, 4)``, ``points`` ``(I, J, 68, 2)`` predictions from the
    jittered boxes, ``detector_points`` ``(I, 68, 2)`` the prediction from the box itself;
    ``point_errors`` ``(I, J, P)`` and ``nme`` ``(I, J)`` (jittered), ``nme_detector`` ``(I,)``,
    all divided by the reference inter-pupil distance; ``beyond_limit`` ``(I, J, P)``: the point is
    farther from the reference than the study's tool allowed a human click to be.
    """

    images: list[str]
    point_ids: tuple[str, ...]
    boxes: np.ndarray
    box_source: list[str]
    jittered: np.ndarray
    points: np.ndarray
    detector_points: np.ndarray
    point_errors: np.ndarray
    nme: np.ndarray
    nme_detector: np.ndarray
    beyond_limit: np.ndarray
    shift: float = 0.05
    scale: float = 0.05
    norm: str = JDC_NORMALISER

    def median_nme(self) -> np.ndarray:
        """Median over the jitter draws of each image's NME, ``(I,)``."""
        return np.median(self.nme, axis=1)


def _detector_box(image: np.ndarray, detector: str | None) -> tuple[np.ndarray | None, str]:
    """The detector's landmark-convention box, or (None, why) when there is none."""
    from .. import detect

    name = detector or detect.DEFAULT_DETECTOR
    try:
        return np.asarray(detect.find_face(image, name), dtype=np.float64).reshape(4), f"detector:{name}"
    except detect.NoFaceError:
        return None, f"detector {name} found no face"
    except Exception as err:  # a detector that cannot run here (missing optional package)
        return None, f"detector {name} failed: {err}"


def model_errors(cascade: "Cascade", table: ClickTable, root: str | os.PathLike | None = None,
                 images: Sequence[str] | None = None, points: Sequence[str] = JDC_IBUG_POINTS,
                 n_jitter: int = 50, seed: int = 0, shift: float = 0.05, scale: float = 0.05,
                 detector: str | None = None, boxes: Mapping[str, np.ndarray] | None = None) -> ModelErrors:
    """Run the cascade on the J&dC images and measure it exactly like the annotators.

    The face box comes from the face detector (``facelandmarks.detect``); where it finds no face,
    the box of the 22 reference points is used instead and flagged in ``box_source``. Because one
    prediction per image is a fragile number, the box is also jittered ``n_jitter`` times
    (:func:`facelandmarks.datasets.jitter_boxes`: centre moved by N(0, ``shift``) x the box size,
    size multiplied by exp(N(0, ``scale``))) and every draw is predicted.

    ``boxes``: image -> landmark-convention box ``(4,)`` to use instead of the detector's.
    """
    points = tuple(points)
    refs = jdc_references(table)
    images = list(images) if images is not None else [im for im in JDC_IMAGES if im in refs]
    ibug = [point_number(p) - 1 for p in points]
    if any(i >= cascade.n_points for i in ibug):
        raise ValueError(f"points {points} include some the model does not predict (only iBUG 1-68)")
    pid_index = [JDC_POINT_IDS.index(p) for p in points]
    limits = np.stack([[float(table.dist_limit[(table.image == im) & (table.point_id == p)][0]) for p in points]
                       for im in images])  # (I, P)
    rng = np.random.default_rng(seed)
    given = dict(boxes) if boxes is not None else {}
    box_list, sources, jittered, all_images = [], [], [], []
    for im in images:
        pixels = read_image(jdc_image_path(im, root))
        all_images.append(pixels)
        if im in given:
            box, source = np.asarray(given[im], dtype=np.float64).reshape(4), "given"
        else:
            box, source = _detector_box(pixels, detector)
            if box is None:
                box, source = points_box(refs[im]), f"reference-points box ({source})"
        box_list.append(box)
        sources.append(source)
        jittered.append(jitter_boxes(np.repeat(box[None], n_jitter, 0), rng, shift, scale))
    boxes_arr = np.stack(box_list)
    jit = np.stack(jittered)  # (I, J, 4)
    batch_images = [pixels for pixels in all_images for _ in range(n_jitter + 1)]
    batch_boxes = np.concatenate([np.concatenate([b[None], j]) for b, j in zip(boxes_arr, jit)])
    pred = cascade.predict_batch(batch_images, batch_boxes).points.reshape(len(images), n_jitter + 1, -1, 2)
    ref = np.stack([refs[im][pid_index] for im in images])  # (I, P, 2)
    norm = np.array([jdc_normaliser(refs[im]) for im in images])  # (I,)
    pix = metrics.point_errors(pred[:, :, ibug].reshape(-1, len(points), 2),
                               np.repeat(ref, n_jitter + 1, axis=0), norm=None).reshape(len(images), n_jitter + 1, -1)
    err = pix / norm[:, None, None]
    return ModelErrors(images, points, boxes_arr, sources, jit, pred[:, 1:], pred[:, 0], err[:, 1:],
                       err[:, 1:].mean(axis=2), err[:, 0].mean(axis=1), pix[:, 1:] > limits[:, None, :],
                       shift, scale)



# --------------------------------------------------------------------------------------------
# Per-point summaries and the verdict
# --------------------------------------------------------------------------------------------

def point_summary(errors: AnnotationErrors, model: ModelErrors | None = None) -> dict[str, np.ndarray]:
    """Per-point medians (and quartiles) of the normalised error, per group and for the model.

    Returns a dict of arrays over ``errors.point_ids``: ``"<group>_median"``, ``"<group>_q25"``,
    ``"<group>_q75"`` for every group present, and ``"model_*"`` (pooled over images and jitter
    draws) when ``model`` is given (NaN for points the model does not predict).
    """
    out: dict[str, np.ndarray] = {"point_id": np.array(errors.point_ids)}
    for g in errors.groups:
        e = errors.of(group=g).point_errors
        out[f"{g}_median"], out[f"{g}_q25"], out[f"{g}_q75"] = (np.percentile(e, q, axis=0) for q in (50, 25, 75))
    if model is not None:
        med, q25, q75 = (np.full(len(errors.point_ids), np.nan) for _ in range(3))
        for j, p in enumerate(errors.point_ids):
            if p in model.point_ids:
                e = model.point_errors[:, :, model.point_ids.index(p)].reshape(-1)
                med[j], q25[j], q75[j] = np.percentile(e, [50, 25, 75])
        out["model_median"], out["model_q25"], out["model_q75"] = med, q25, q75
    return out


def consensus_offset(errors: AnnotationErrors, references: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """How far each group's *consensus* is from the reference, per point.

    For every image and point: the distance from the group's median click (coordinate-wise median
    over all its annotations) to the reference, divided by the inter-pupil distance; then the mean
    over images. A large offset with a small scatter means the group agrees with itself but places
    the point elsewhere than the reference: a disagreement about the definition, not clumsiness.

    Returns:
        group -> ``(P,)`` over ``errors.point_ids``.
    """
    pid = [JDC_POINT_IDS.index(p) for p in errors.point_ids]
    out = {}
    for g in errors.groups:
        offsets = []
        for im in dict.fromkeys(errors.of(g).image.tolist()):
            sub = errors.of(g, im)
            med = np.median(sub.clicks, axis=0)  # (P, 2)
            offsets.append(np.linalg.norm(med - references[im][pid], axis=1) / jdc_normaliser(references[im]))
        out[g] = np.mean(offsets, axis=0)
    return out


def percentile_of(value: float, sample: np.ndarray) -> float:
    """Percent of ``sample`` below ``value`` (ties count half): 0 = better than everyone.

    Example:
        >>> percentile_of(2.0, np.array([1.0, 2.0, 3.0, 4.0]))
        37.5
    """
    sample = np.asarray(sample, dtype=np.float64).reshape(-1)
    if sample.size == 0:
        raise ValueError("percentile_of needs a non-empty sample")
    return float(100.0 * ((sample < value).mean() + 0.5 * (sample == value).mean()))


def verdict(errors: AnnotationErrors, model: ModelErrors) -> str:
    """A plain-language reading of the numbers (generated, so it always matches them)."""
    lines = []
    crowd_p, expert_p = [], []
    for i, im in enumerate(model.images):
        m = float(np.median(model.nme[i]))
        c = errors.of("crowd", im).nme
        e = errors.of("expert", im).nme
        crowd_p.append(percentile_of(m, c))
        expert_p.append(percentile_of(m, e))
        lines.append(f"- {im}: the model's median error {m:.3f} is worse than {crowd_p[-1]:.0f}% of the crowd's "
                     f"{len(c)} annotations (crowd median {np.median(c):.3f}) and than {expert_p[-1]:.0f}% of the "
                     f"experts' {len(e)} (expert median {np.median(e):.3f}).")
    cp, ep = float(np.mean(crowd_p)), float(np.mean(expert_p))
    n_img = len(model.images)
    worst = sum(p >= 100.0 for p in crowd_p)
    better_median = sum(p < 50.0 for p in crowd_p)
    better_expert_median = sum(p < 50.0 for p in expert_p)

    def level(p: float) -> str:
        if p <= 25:
            return "better than most of them"
        if p <= 60:
            return "about as good as a typical one"
        if p <= 90:
            return "worse than most of them, but not the worst"
        return "worse than nearly all of them"

    head = (f"Averaged over the {len(model.images)} images, the model's median error is worse than {cp:.0f}% of crowd "
            f"annotations ({level(cp)}) and worse than {ep:.0f}% of expert annotations ({level(ep)}); errors are "
            f"normalised by the reference inter-pupil distance on the {len(errors.point_ids)} iBUG points the study "
            f"annotated. Human errors are censored: the study's tool refused clicks far from the reference, a limit "
            f"the model did not have ({100 * model.beyond_limit.mean():.0f}% of its points lie beyond it). "
            f"Image by image: on {worst} of {n_img} the model is worse than every crowd annotation; on "
            f"{better_median} of {n_img} it beats the median crowd annotation, on {better_expert_median} of {n_img} "
            f"the median expert annotation.")
    return "\n".join([head, *lines])


# --------------------------------------------------------------------------------------------
# LFPW: how far apart three workers are
# --------------------------------------------------------------------------------------------

@dataclass
class LfpwSpread:
    """Each worker against the mean of the other two: ``errors`` ``(F, 3)`` per complete face and
    worker, ``point_errors`` ``(F, 3, K)`` over the ``points`` used, normalised by the outer-eye-corner
    distance of the other two's mean (``inter_ocular``)."""

    urls: list[str]
    points: tuple[str, ...]
    errors: np.ndarray
    point_errors: np.ndarray
    n_incomplete: int
    norm: str = "inter_ocular"

    @property
    def flat(self) -> np.ndarray:
        """All ``3F`` worker errors as one vector (for a CED)."""
        return self.errors.reshape(-1)


def lfpw_spread(ann: LfpwAnnotations, points: Sequence[str] | None = None) -> LfpwSpread:
    """Human-to-human spread on LFPW.

    For each face with all three workers and each worker ``w``: ``ref = mean(other two)``, then
    ``NME_w = mean_p |x_wp - ref_p| / |ref_left_eye_out - ref_right_eye_out|``.

    Note: when workers err independently with equal spread, ``x_w - ref`` has 1.5 times the variance
    of one worker's error, so this spread overstates one worker's error against the truth by about
    ``sqrt(1.5) = 1.22``.

    Args:
        points: LFPW point names (default: the 17 with an iBUG-68 counterpart,
            :data:`LFPW_TO_IBUG68`, so that the model can be measured on the same points).
    """
    points = tuple(points) if points is not None else tuple(n for n in LFPW_POINTS if n in LFPW_TO_IBUG68)
    idx = [LFPW_POINTS.index(p) for p in points]
    ok = ann.complete
    pts = ann.points[ok]  # (F, 3, 35, 2)
    lo, ro = LFPW_POINTS.index("left_eye_out"), LFPW_POINTS.index("right_eye_out")
    point_err = np.empty((len(pts), 3, len(idx)))
    errors = np.empty((len(pts), 3))
    for w in range(3):
        others = [o for o in range(3) if o != w]
        ref = pts[:, others].mean(axis=1)  # (F, 35, 2)
        d = np.linalg.norm(ref[:, lo] - ref[:, ro], axis=-1)
        e = np.linalg.norm(pts[:, w] - ref, axis=-1) / d[:, None]
        point_err[:, w] = e[:, idx]
        errors[:, w] = e[:, idx].mean(axis=1)
    return LfpwSpread([u for u, k in zip(ann.urls, ok) if k], points, errors, point_err, int((~ok).sum()))


def model_lfpw_errors(evaluation: "Evaluation") -> np.ndarray:
    """The model's NME ``(B,)`` on the 17 iBUG points that have an LFPW counterpart, normalised by
    the ground truth's outer-eye-corner distance (``inter_ocular``), as in :func:`lfpw_spread`."""
    return np.atleast_1d(metrics.nme(evaluation.points, evaluation.gt, "inter_ocular", points=LFPW_IBUG_INDICES))
