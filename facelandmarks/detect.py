"""Face detection, and the mapping from a detector's box to the landmark-box convention.

A detector's box and the tight box of the 68 ground-truth points differ in convention (a detector
box includes the forehead and stops above the chin). Each detector has a :class:`BoxMapping`,
fitted on the TRAINING faces by ``benchmarks/detector_recall.py``; the cascade crops from the
mapped box, so its input is consistent whichever detector found the face.

Detectors (both offline, no model download):
    * ``"dlib_hog"``: dlib's HOG + linear SVM frontal-face detector (PyPI ``dlib-bin``), the
      default: it finds 98% of the 250 HELEN test faces, scikit-image's cascade 90%
      (docs/detection.md);
    * ``"skimage_lbp"``: scikit-image's LBP frontal-face cascade, the baseline that needs nothing
      beyond scikit-image.

Example:
    >>> import skimage.data
    >>> box = find_face(skimage.data.astronaut(), name="astronaut")  # landmark-convention (x0, y0, x1, y1)
    >>> bool(150 < box[0] < box[2] < 300)
    True
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .geometry import transform_points, warp_image
from .io import check_image

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "NoFaceError", "BoxMapping", "BOX_MAPPINGS", "detect_faces",
           "no_face_message", "to_landmark_box", "find_face", "box_iou",
           "dlib_model_file", "dlib_points"]

DETECTORS = ("dlib_hog", "dlib_hog_fast", "skimage_lbp")
# Recall on the 250 HELEN test faces (benchmarks/detector_recall.py, docs/detection.md):
# dlib_hog 98.0%, skimage_lbp 89.6%; the issue asks for the better one as the default below 95%.
DEFAULT_DETECTOR = "dlib_hog"

MAX_SIDE = 1024
"""Images whose longer side exceeds this are shrunk to it before detection (boxes are scaled back):
it bounds time and memory on camera photos; faces down to about 4% of such a photo are still found.
When the shrunk image gives no face, detection is tried again at full size (a borderline face, e.g.
the J&dC AFLW photo, 1203x1018, is found only there; so is an 80-px face in a 4000x3000 photo)."""
RETRY_SIDE = 2048
"""dlib upsamples images up to this longer side (faces from ~40 px); larger ones are searched as they
are (faces from ~80 px), which bounds the full-size pass on camera photos (measured in docs/reliability.md)."""
DLIB_UPSAMPLE = 1
"""dlib upsamples the image this many times (x2 each): its 80 px window then finds faces from ~40 px."""
FAST_MIN_SIDE = 100
"""``"dlib_hog_fast"`` keeps its not-upsampled box only when it is at least this wide (px, 1.25x
dlib's 80 px window); a face near or below the window is found, if at all, at the pyramid's first
level with a box that fits the window rather than the face (a 57 px face got a 73 px box), so it is
searched upsampled instead, as ``"dlib_hog"`` does."""
LBP_SCALE_FACTOR = 1.15  # window growth between scales
LBP_STEP_RATIO = 1.0  # window step = step_ratio x scale (1 = exhaustive at each scale)
LBP_MIN_FACE = 0.1  # smallest window, fraction of the image's shorter side (at least the cascade's 24 px)
LBP_MIN_SUPPORT = 3  # a face needs at least 3 overlapping windows; single windows fire on texture
LBP_GROUP_IOU = 0.3  # windows overlapping a group's mean box by more than this join the group
# The LBP settings were chosen on 300 TRAINING faces at random scales by `benchmarks/detector_recall.py
# --tune-lbp 300` (table in docs/detection.md): 1.15 / 1.0 at ~85 ms per image sits between the slower
# 1.1 and the cruder 1.2 or step 1.5; support >= 3 finds 84% of those faces (86% with >= 2) and "faces"
# in 3 of 13 face-free images of skimage.data (7 with >= 2: lone windows fire on cups and gravel).


class NoFaceError(ValueError):
    """The detector found no face in the image (the message names the image and the detector)."""


@dataclass(frozen=True)
class BoxMapping:
    """How a detector box relates to the tight box of the 68 ground-truth points (the landmark box).

    ``landmark centre = box centre + (dx * w, dy * h)`` and ``landmark size = (sw * w, sh * h)``
    with ``w, h`` the detector box's width and height.

    The residuals say how well that works (measured after mapping, on the faces it was fitted on):
    ``shift_std`` is the standard deviation of the landmark-box centre error in units of the
    landmark box's width/height (x and y pooled), ``log_scale_std`` that of
    ``log(mapped size / true size)`` (geometric mean of width and height). ``n``: faces fitted on.
    """

    dx: float = 0.0  # centre offset, fraction of the detector box width
    dy: float = 0.0  # centre offset, fraction of the detector box height
    sw: float = 1.0  # landmark-box width / detector-box width
    sh: float = 1.0  # landmark-box height / detector-box height
    shift_std: float = 0.0  # residual centre error after mapping, fraction of the landmark box size
    log_scale_std: float = 0.0  # residual log-size error after mapping
    n: int = 0  # faces the mapping was fitted on

    def __post_init__(self) -> None:
        if not (self.sw > 0 and self.sh > 0):
            raise ValueError(f"BoxMapping scale factors must be positive, got sw={self.sw}, sh={self.sh}")

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


# Fitted on the 1,207 TRAINING faces, each shown to the detector at a random scale, by
#     FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/detector_recall.py
# (medians over the faces where a detection overlaps the ground-truth box with IoU > 0.3; the
# residuals are standard deviations over those faces, outliers included; see docs/detection.md).
BOX_MAPPINGS: dict[str, BoxMapping] = {
    "landmarks": BoxMapping(),  # the boxes already are tight boxes of the points
    "dlib_hog": BoxMapping(dx=0.0024, dy=0.0823, sw=0.9600, sh=0.9317, shift_std=0.0780, log_scale_std=0.0869, n=1156),
    "dlib_hog_fast": BoxMapping(dx=0.0038, dy=0.0785, sw=0.9573, sh=0.9338, shift_std=0.0778, log_scale_std=0.0860, n=1172),
    "skimage_lbp": BoxMapping(dx=-0.0018, dy=0.1373, sw=0.8484, sh=0.8208, shift_std=0.0739, log_scale_std=0.0897, n=1027),
}


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``(..., 4)`` (broadcast); 0 where they do not overlap.

    Example:
        >>> float(box_iou(np.array([0.0, 0.0, 2.0, 2.0]), np.array([1.0, 0.0, 3.0, 2.0])))  # 2 / (4 + 4 - 2)
        0.3333333333333333
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


class _Pool:
    """Detector objects lent one per concurrent call, so that threads never share one.

    dlib's detector keeps the image's feature pyramid inside the object while it scans: two threads
    scanning with one object read each other's pyramids and return each other's boxes (issue 14).
    A call borrows an idle object (or builds one) and gives it back; the lock guards only the list of
    idle objects, never a detection, so threads detect in parallel. At most as many objects are built
    as calls ever ran at once (dlib's takes ~0.3 s to build, scikit-image's ~3 ms).
    """

    def __init__(self, build: Callable[[], object]) -> None:
        self._build = build
        self._idle: list[object] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[object]:
        with self._lock:
            obj = self._idle.pop() if self._idle else None
        if obj is None:
            obj = self._build()
        try:
            yield obj
        finally:
            with self._lock:
                self._idle.append(obj)

    def clear(self) -> None:
        """Forget the idle objects (the next call builds afresh)."""
        with self._lock:
            self._idle.clear()


def _build_lbp_cascade() -> object:
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def _build_dlib_detector() -> object:
    try:
        import dlib
    except ImportError:
        raise ImportError("detector 'dlib_hog' needs dlib: pip install dlib-bin (the PyPI wheel of dlib), "
                          "or use detector='skimage_lbp'") from None
    return dlib.get_frontal_face_detector()


_LBP_CASCADES = _Pool(_build_lbp_cascade)
_DLIB_DETECTORS = _Pool(_build_dlib_detector)


def _group(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group overlapping windows ``(K, 4)``: returns the groups' mean boxes ``(G, 4)`` and sizes ``(G,)``,
    most supported first (then largest). Windows join the first group (largest windows first) whose
    mean box they overlap with IoU > :data:`LBP_GROUP_IOU`."""
    groups: list[list[np.ndarray]] = []
    for box in windows[np.argsort(-(windows[:, 2] - windows[:, 0]), kind="stable")]:
        for group in groups:
            if box_iou(box, np.mean(group, axis=0)) > LBP_GROUP_IOU:
                group.append(box)
                break
        else:
            groups.append([box])
    means = np.array([np.mean(g, axis=0) for g in groups]).reshape(-1, 4)
    support = np.array([len(g) for g in groups], dtype=int)
    order = np.lexsort((-(means[:, 2] - means[:, 0]), -support))  # support first, then width
    return means[order], support[order]


def _lbp_windows(image: np.ndarray, scale_factor: float = LBP_SCALE_FACTOR,
                 step_ratio: float = LBP_STEP_RATIO) -> np.ndarray:
    """Every window ``(K, 4)`` the LBP cascade accepts, ungrouped (extents, image coordinates)."""
    side = min(image.shape[:2])
    smallest = max(24, int(LBP_MIN_FACE * side))
    if smallest > side:
        return np.zeros((0, 4))
    # min_neighbor_number=1 and an unreachable merge threshold: every window comes back, grouped by _group
    with _LBP_CASCADES.borrow() as cascade:
        found = cascade.detect_multi_scale(img=image, scale_factor=scale_factor, step_ratio=step_ratio,
                                           min_size=(smallest, smallest), max_size=(side, side),
                                           min_neighbor_number=1, intersection_score_threshold=1.01)
    # window at row r, column c of width w covers pixels c .. c + w - 1, i.e. the extent [c - 0.5, c + w - 0.5]
    return np.array([[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in found],
                    dtype=np.float64).reshape(-1, 4) - 0.5


def _detect_lbp(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    windows = _lbp_windows(image)
    if len(windows) == 0:
        return windows, np.zeros(0)
    boxes, support = _group(windows)
    keep = support >= LBP_MIN_SUPPORT
    return boxes[keep], support[keep].astype(np.float64)


def _detect_dlib(image: np.ndarray, upsample: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if upsample is None:
        # upsampled (faces from ~40 px) up to RETRY_SIDE; above it the 4x pixels cost too much: faces from ~80 px
        upsample = DLIB_UPSAMPLE if max(image.shape[:2]) <= RETRY_SIDE else 0
    with _DLIB_DETECTORS.borrow() as detector:
        dets, scores, _ = detector.run(np.ascontiguousarray(image), upsample, 0.0)
    # dlib rectangles are inclusive pixel indices: left .. right covers the extent [left - 0.5, right + 0.5]
    boxes = np.array([[d.left(), d.top(), d.right() + 1, d.bottom() + 1] for d in dets], dtype=np.float64) - 0.5
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    return boxes.reshape(-1, 4)[order], scores[order]


def _detect_dlib_fast(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dlib's HOG detector on the image as it is (4x fewer pixels than upsampled once), upsampled as
    ``"dlib_hog"`` is only when that finds no face of at least :data:`FAST_MIN_SIDE` px."""
    boxes, scores = _detect_dlib(image, upsample=0)
    if len(boxes) and boxes[0, 2] - boxes[0, 0] >= FAST_MIN_SIDE:
        return boxes, scores
    return _detect_dlib(image)


_DETECT = {"dlib_hog": _detect_dlib, "dlib_hog_fast": _detect_dlib_fast, "skimage_lbp": _detect_lbp}


def detect_faces(image: np.ndarray, detector: str = DEFAULT_DETECTOR, full_size: bool | None = None,
                 return_scores: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Face boxes in the detector's own convention, best first.

    Images whose longer side exceeds :data:`MAX_SIDE` are first searched shrunk to it (fast; finds
    faces down to about 4% of the longer side). When that finds nothing, the image is searched again
    at full size (dlib: upsampled x2 up to :data:`RETRY_SIDE`, finding faces from ~40 px; above it not
    upsampled, finding faces from ~80 px: an 80-px face in a 4000x3000 photo, see docs/reliability.md).

    Args:
        image: RGB uint8 ``(H, W, 3)``; gray ``(H, W)``, RGBA and float images in [0, 1] are converted.
        detector: a name from :data:`DETECTORS`.
        full_size: ``None`` (default) as above; ``True`` searches at full size only (slower on large
            photos, finds their small faces even when larger ones are found: group photos);
            ``False`` never searches at full size.
        return_scores: also return the detector's score per box: dlib's SVM margin (> 0), or the
            number of overlapping windows for scikit-image's cascade (>= 3). Scores compare boxes of
            one detector only.

    Returns:
        float ``(K, 4)`` boxes ``(x0, y0, x1, y1)`` (extents, image coordinates), best first: highest
        score (dlib), or most overlapping windows then largest (scikit-image); ``(0, 4)`` when none.
        With ``return_scores``, ``(boxes, scores)`` with scores float ``(K,)``.
        Map them to the landmark-box convention with :func:`to_landmark_box`.

    Raises:
        ValueError: unknown detector, or not an image (see :func:`facelandmarks.io.check_image`).
        ImportError: ``"dlib_hog"`` without dlib installed.
    """
    if detector not in _DETECT:
        raise ValueError(f"unknown detector {detector!r}; known: {DETECTORS}")
    image = check_image(image)
    boxes, scores = _detect_passes(image, detector, full_size)
    return (boxes, scores) if return_scores else boxes


def _detect_passes(image: np.ndarray, detector: str, full_size: bool | None) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    if max(h, w) <= MAX_SIDE or full_size:
        return _DETECT[detector](image)
    nw, nh = max(1, round(w * MAX_SIDE / max(h, w))), max(1, round(h * MAX_SIDE / max(h, w)))
    sx, sy = nw / w, nh / h  # image -> small, extents [-0.5, w - 0.5] -> [-0.5, nw - 0.5]
    to_small = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    boxes, scores = _DETECT[detector](warp_image(image, to_small, (nh, nw)))
    if len(boxes) == 0 and full_size is None:
        return _DETECT[detector](image)
    return transform_points(boxes.reshape(-1, 2, 2), np.linalg.inv(to_small)).reshape(-1, 4), scores


def no_face_message(name: str, image_shape: tuple[int, ...], detector: str, full_size: bool | None = None) -> str:
    """The :class:`NoFaceError` message: what was searched, and what to try next (API and CLI)."""
    h, w = image_shape[:2]
    if max(h, w) <= MAX_SIDE or full_size:
        searched = f"searched at full size ({w}x{h})"
    elif full_size is None:
        searched = f"searched shrunk to {MAX_SIDE} px on the longer side, then at full size ({w}x{h})"
    else:
        searched = f"searched shrunk to {MAX_SIDE} px on the longer side only (full_size=False)"
    # another kind of detector: dlib_hog_fast is dlib_hog with less upsampling, so it finds no face dlib_hog misses
    others = [d for d in DETECTORS if not d.endswith("_fast") and d != detector.removesuffix("_fast")]
    tips = ["give the face box yourself (predict(image, box=...); CLI: --boxes boxes.json)",
            f"try another detector (detector={' or '.join(map(repr, others))}; "
            f"CLI: --detector {' or '.join(others)})"]
    if full_size is False and max(h, w) > MAX_SIDE:
        tips.append("allow detection at full size (full_size=None or True; CLI: without --no-full-size)")
    if detector == "skimage_lbp":
        tips.append(f"note that 'skimage_lbp' finds faces of at least {LBP_MIN_FACE:.0%} of the shorter side")
    tips.append("check that the face is upright (tilted at most ~30 degrees: turn the image) and at least ~40 px wide")
    return f"{name}: no face found by detector {detector!r} ({searched}); to go on: " + "; ".join(tips)


def to_landmark_box(boxes: np.ndarray, kind: str) -> np.ndarray:
    """Map boxes ``(4,)`` or ``(B, 4)`` in convention ``kind`` (a detector name, or ``"landmarks"``
    for the identity) to the landmark-box convention, same shape out (see :class:`BoxMapping`).

    Example:
        >>> m = BOX_MAPPINGS["dlib_hog"]
        >>> box = to_landmark_box(np.array([0.0, 0.0, 100.0, 100.0]), "dlib_hog")
        >>> bool(np.isclose(box[2] - box[0], 100 * m.sw) and np.isclose((box[1] + box[3]) / 2, 50 + 100 * m.dy))
        True
    """
    if kind not in BOX_MAPPINGS:
        raise ValueError(f"unknown box kind {kind!r}; known: {sorted(BOX_MAPPINGS)}")
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (4,) or (B, 4) as (x0, y0, x1, y1), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("boxes contain NaN or inf")
    return BOX_MAPPINGS[kind].apply(arr)


def find_face(image: np.ndarray, detector: str = DEFAULT_DETECTOR, name: str = "image") -> np.ndarray:
    """The landmark-convention box ``(4,)`` of the best face found by ``detector``.

    Raises:
        NoFaceError: the detector finds no face (the message names ``name`` and the detector).
    """
    image = check_image(image, name)
    found = detect_faces(image, detector)
    if len(found) == 0:
        raise NoFaceError(no_face_message(name, image.shape, detector))
    return to_landmark_box(found[0], detector)


def dlib_model_file() -> Path:
    """dlib's 68-point shape-predictor file from the optional ``face-recognition-models`` package
    (``pip install -e ".[dlib]"``), located without importing it (its ``__init__`` needs
    ``pkg_resources``, gone from recent setuptools)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('dlib\'s 68-point model needs the optional extra: pip install -e ".[dlib]" '
                          "(dlib-bin, face-recognition-models)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise ImportError(f"dlib's model file is missing: {path}")
    return path


@lru_cache(maxsize=None)
def _dlib_predictor():
    import dlib

    return dlib.shape_predictor(str(dlib_model_file()))


def dlib_points(image: np.ndarray, box: np.ndarray, name: str = "image") -> np.ndarray:
    """dlib's 68-point shape predictor (ERT, Kazemi & Sullivan 2014), the peer of our cascade:
    points ``(68, 2)`` (0-based pixel coordinates, as ours) for the face in a box ``(x0, y0, x1, y1)``
    given in dlib's own detector convention (``detect_faces(image, "dlib_hog")``, or a landmark box
    through ``BOX_MAPPINGS["dlib_hog"].invert``). Needs the optional extra ``.[dlib]``."""
    import dlib

    image = check_image(image, name)
    # our extent (x0, y0, x1, y1) -> dlib's inclusive pixel rectangle (left, top, right, bottom)
    left, top, right, bottom = (int(v) for v in np.round(np.asarray(box, dtype=np.float64) + [0.5, 0.5, -0.5, -0.5]))
    shape = _dlib_predictor()(np.ascontiguousarray(image), dlib.rectangle(left, top, right, bottom))
    return np.array([(shape.part(k).x, shape.part(k).y) for k in range(68)], dtype=np.float64)
