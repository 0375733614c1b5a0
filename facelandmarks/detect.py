"""Face detection, and the mapping from a detector's box to the landmark-box convention.

A detector's box and the tight box of the 68 ground-truth points differ in convention (a detector
box is usually larger, and sits higher or lower). Each detector has a :class:`BoxMapping` fitted on
the TRAINING faces by ``benchmarks/detector_recall.py``; the cascade crops from the mapped box, so
its input is consistent whichever detector found the face.

Detectors:
    * ``"skimage_lbp"``: scikit-image's LBP frontal-face cascade (offline, in scikit-image);
    * ``"dlib_hog"``: dlib's HOG + linear SVM frontal-face detector (PyPI ``dlib-bin``), the default:
      scikit-image's cascade finds only 85% of the HELEN test faces, dlib's 98% (docs/detection.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .models.cascade import check_image

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "NoFaceError", "BoxMapping", "BOX_MAPPINGS", "detect_faces",
           "to_landmark_box", "find_face"]


class NoFaceError(ValueError):
    """The detector found no face in the image (the message names the image and the detector)."""


@dataclass(frozen=True)
class BoxMapping:
    """How a detector box relates to the tight box of the 68 ground-truth points.

    ``landmark centre = box centre + (dx * w, dy * h)`` and ``landmark size = (sw * w, sh * h)``
    with ``w, h`` the detector box size. ``shift_std`` / ``log_scale_std``: the residual spread of
    the landmark-box centre (fraction of its size) and of its log-size after the mapping; ``n``:
    faces it was fitted on.
    """

    dx: float = 0.0
    dy: float = 0.0
    sw: float = 1.0
    sh: float = 1.0
    shift_std: float = 0.0
    log_scale_std: float = 0.0
    n: int = 0

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        """Detector boxes ``(..., 4)`` -> landmark-convention boxes."""
        b = np.asarray(boxes, dtype=np.float64)
        w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
        cx = (b[..., 0] + b[..., 2]) / 2 + self.dx * w
        cy = (b[..., 1] + b[..., 3]) / 2 + self.dy * h
        hw, hh = self.sw * w / 2, self.sh * h / 2
        return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=-1)

    def invert(self, boxes: np.ndarray) -> np.ndarray:
        """Landmark-convention boxes ``(..., 4)`` -> detector boxes (the inverse of :meth:`apply`)."""
        b = np.asarray(boxes, dtype=np.float64)
        w, h = (b[..., 2] - b[..., 0]) / self.sw, (b[..., 3] - b[..., 1]) / self.sh
        cx = (b[..., 0] + b[..., 2]) / 2 - self.dx * w
        cy = (b[..., 1] + b[..., 3]) / 2 - self.dy * h
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


# Fitted on the 1,207 training faces by `python benchmarks/detector_recall.py --fit` (medians over
# the faces whose detection overlaps the ground truth; residual spreads are standard deviations).
BOX_MAPPINGS: dict[str, BoxMapping] = {
    "landmarks": BoxMapping(),
    "skimage_lbp": BoxMapping(dx=0.0028, dy=0.1524, sw=0.9409, sh=0.9168, shift_std=0.0851, log_scale_std=0.1433, n=1011),
    "dlib_hog": BoxMapping(dx=0.0092, dy=0.1154, sw=1.0216, sh=0.9657, shift_std=0.0788, log_scale_std=0.0927, n=1156),
}

DETECTORS = ("skimage_lbp", "dlib_hog")
# Recall on the 250 HELEN test faces (benchmarks/detector_recall.py): skimage_lbp 85.2%, dlib_hog 98.0%.
DEFAULT_DETECTOR = "dlib_hog"


@lru_cache(maxsize=None)
def _lbp_cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


@lru_cache(maxsize=None)
def _dlib_detector():
    try:
        import dlib
    except ImportError:
        raise ImportError("detector 'dlib_hog' needs dlib: pip install dlib-bin (or facelandmarks[dlib])") from None
    return dlib.get_frontal_face_detector()


def _group(boxes: np.ndarray) -> np.ndarray:
    """Merge overlapping detections (IoU > 0.3) into their mean box, the biggest groups first."""
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]))
    groups: list[list[np.ndarray]] = []
    for box in boxes[order]:
        for group in groups:
            ref = np.mean(group, axis=0)
            ix = max(0.0, min(box[2], ref[2]) - max(box[0], ref[0]))
            iy = max(0.0, min(box[3], ref[3]) - max(box[1], ref[1]))
            inter = ix * iy
            union = (box[2] - box[0]) * (box[3] - box[1]) + (ref[2] - ref[0]) * (ref[3] - ref[1]) - inter
            if inter / union > 0.3:
                group.append(box)
                break
        else:
            groups.append([box])
    groups.sort(key=lambda g: (-len(g), -(np.mean(g, axis=0)[2] - np.mean(g, axis=0)[0])))
    return np.array([np.mean(g, axis=0) for g in groups]).reshape(-1, 4)


def detect_faces(image: np.ndarray, detector: str = DEFAULT_DETECTOR) -> np.ndarray:
    """Face boxes ``(K, 4)`` ``(x0, y0, x1, y1)`` in the detector's own convention, best first.

    ``image``: RGB uint8 ``(H, W, 3)`` (gray, RGBA and float in [0, 1] are converted). Returns an
    empty ``(0, 4)`` array when there is no face. Best = most supporting detections (skimage) or
    highest score (dlib), then largest.
    """
    image = check_image(image)
    h, w = image.shape[:2]
    if detector == "skimage_lbp":
        side = min(h, w)
        found = _lbp_cascade().detect_multi_scale(img=image, scale_factor=1.15, step_ratio=1.0,
                                                  min_size=(max(24, side // 10),) * 2, max_size=(side, side))
        boxes = np.array([[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in found], dtype=np.float64)
        return _group(boxes.reshape(-1, 4)) - 0.5 if len(boxes) else np.zeros((0, 4))
    if detector == "dlib_hog":
        dets, scores, _ = _dlib_detector().run(np.ascontiguousarray(image), 1, 0.0)
        boxes = np.array([[d.left(), d.top(), d.right() + 1, d.bottom() + 1] for d in dets], dtype=np.float64) - 0.5
        order = np.argsort(-np.asarray(scores)) if len(dets) else []
        return boxes[order].reshape(-1, 4)
    raise ValueError(f"unknown detector {detector!r}; known: {DETECTORS}")


def to_landmark_box(boxes: np.ndarray, kind: str) -> np.ndarray:
    """Map detector boxes ``(4,)`` or ``(B, 4)`` of detector ``kind`` to the landmark-box convention."""
    if kind not in BOX_MAPPINGS:
        raise ValueError(f"unknown box kind {kind!r}; known: {sorted(BOX_MAPPINGS)}")
    return BOX_MAPPINGS[kind].apply(boxes)


def find_face(image: np.ndarray, detector: str = DEFAULT_DETECTOR, name: str = "image") -> np.ndarray:
    """The landmark-convention box ``(4,)`` of the best face; :class:`NoFaceError` if there is none."""
    found = detect_faces(image, detector)
    if len(found) == 0:
        raise NoFaceError(f"{name}: no face found by detector {detector!r}")
    return to_landmark_box(found[0], detector)
