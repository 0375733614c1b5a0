"""Run a cascade over a set of annotated faces and keep everything needed to study its errors."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from . import metrics
from .datasets import FaceSet, jitter_boxes
from .geometry import points_box
from .models.cascade import Cascade

__all__ = ["Evaluation", "face_boxes", "evaluate"]


@dataclass
class Evaluation:
    """Predictions of a cascade on a FaceSet, with per-image and per-point errors.

    ``nme``/``nme_level1`` are ``(B,)``, ``point_errors`` ``(B, N)``, all normalised by ``norm``.
    ``fallback`` marks the faces whose box did not come from the detector (it found no face).
    """

    faces: FaceSet
    points: np.ndarray  # (B, N, 2) final predictions
    level1_points: np.ndarray  # (B, N, 2)
    level2_points: np.ndarray  # (B, N, 2) (= points when the cascade has no level 3)
    boxes: np.ndarray  # (B, 4) landmark-convention boxes the cascade used
    box_source: str  # "detector:<name>", "jittered" or "given"
    fallback: np.ndarray  # (B,) bool
    norm: str = metrics.DEFAULT_NORMALISER
    nme: np.ndarray = field(init=False)
    nme_level1: np.ndarray = field(init=False)
    nme_level2: np.ndarray = field(init=False)
    point_errors: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        gt = self.faces.points
        self.nme = np.atleast_1d(metrics.nme(self.points, gt, self.norm, scheme=self.faces.scheme))
        self.nme_level1 = np.atleast_1d(metrics.nme(self.level1_points, gt, self.norm, scheme=self.faces.scheme))
        self.nme_level2 = np.atleast_1d(metrics.nme(self.level2_points, gt, self.norm, scheme=self.faces.scheme))
        self.point_errors = metrics.point_errors(self.points, gt, self.norm, self.faces.scheme)

    @property
    def names(self) -> list[str]:
        return self.faces.names

    @property
    def gt(self) -> np.ndarray:
        return self.faces.points

    def summary(self, threshold: float = 0.08, level: str = "final") -> dict[str, float | str]:
        """Mean/median NME, AUC@threshold, failure rate (``level``: ``"final"``, ``"level1"`` or ``"level2"``)."""
        by_level = {"final": self.nme, "level1": self.nme_level1, "level2": self.nme_level2}
        if level not in by_level:
            raise ValueError(f"level must be one of {sorted(by_level)}, got {level!r}")
        errors = by_level[level]
        return {"norm": self.norm, "boxes": self.box_source, "fallback_boxes": int(self.fallback.sum()),
                **metrics.summary(errors, threshold)}

    def rows(self) -> list[dict[str, float | str]]:
        """One dict per face: name, NME after each level, whether the box was a fallback."""
        return [{"name": n, "nme_level1": float(a), "nme_level2": float(b), "nme": float(c), "fallback_box": bool(f)}
                for n, a, b, c, f in zip(self.names, self.nme_level1, self.nme_level2, self.nme, self.fallback)]


def face_boxes(faces: FaceSet, source: str = "detector", detector: str | None = None, seed: int = 0,
               shift: float = 0.05, scale: float = 0.05, progress: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """Landmark-convention face boxes for every face.

    ``source="detector"``: the detector's best box mapped to the landmark convention; where it finds
    no face, the ground-truth box jittered with ``seed`` (flagged in the returned mask).
    ``source="jittered"``: the ground-truth points' box jittered (shift/scale std) with ``seed``.

    Returns (boxes ``(B, 4)``, fallback mask ``(B,)``, a label of the source).
    """
    jittered = jitter_boxes(points_box(faces.points), np.random.default_rng(seed), shift, scale)
    if source == "jittered":
        return jittered, np.zeros(len(faces), bool), "jittered"
    if source != "detector":
        raise ValueError(f"box source must be 'detector' or 'jittered', got {source!r}")
    from . import detect

    name = detector or detect.DEFAULT_DETECTOR
    boxes, fallback = jittered.copy(), np.zeros(len(faces), bool)
    for i, image in enumerate(tqdm(faces.images, desc=f"detecting ({name})", disable=not progress, leave=False)):
        try:
            boxes[i] = detect.find_face(image, name)
        except detect.NoFaceError:
            fallback[i] = True
    return boxes, fallback, f"detector:{name}"


def evaluate(cascade: Cascade, faces: FaceSet, boxes: str | np.ndarray = "detector", detector: str | None = None,
             seed: int = 0, norm: str = metrics.DEFAULT_NORMALISER, progress: bool = False) -> Evaluation:
    """Predict every face of ``faces`` and measure the errors.

    Args:
        boxes: ``"detector"``, ``"jittered"`` (see :func:`face_boxes`) or a ``(B, 4)`` array of
            landmark-convention boxes.
    """
    if isinstance(boxes, str):
        box_arr, fallback, source = face_boxes(faces, boxes, detector, seed, progress=progress)
    else:
        box_arr, fallback, source = np.asarray(boxes, dtype=np.float64), np.zeros(len(faces), bool), "given"
    result = cascade.predict_batch(faces.images, box_arr)
    return Evaluation(faces, result.points, result.level1_points, result.level2_points, box_arr, source, fallback, norm)
