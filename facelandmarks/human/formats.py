"""The two human-annotation data sets, read into tidy numpy tables (file formats and study facts).

* **J&dC** (Johnston & de Chazal, CC BY 4.0): 4 images, 22 points, 100 crowd workers and 12 experts,
  each annotating every image 4 times; every click is stored next to the image's reference point.
  :func:`load_jdc` returns one :class:`ClickTable` (a row per click). The source coordinates are
  converted in exactly one place, :func:`jdc_to_ours`.
* **LFPW** (Belhumeur et al. 2011, research use): 300 test faces, three MTurk workers each, 35
  fiducials, no images: :func:`load_lfpw` returns :class:`LfpwAnnotations`.

A new human-annotation format (another study's files, another LFPW release) gets its reader here,
beside these two, and its facts (point names, the correspondence to iBUG-68) as data next to it.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..datasets import data_root
from ..schemes import IBUG68

__all__ = [
    "JDC_FOLDER", "JDC_IMAGES", "JDC_POINT_IDS", "JDC_POINT_NAMES", "JDC_POINT_SHORT", "JDC_IBUG_POINTS",
    "JDC_JAW_POINTS", "JDC_PUPILS", "JDC_OWN_POINTS", "JDC_NORMALISER", "JDC_OFFSET", "GROUPS",
    "JdcFormatError", "ClickTable", "jdc_to_ours", "point_number", "read_jdc_file", "load_jdc", "jdc_image_path",
    "jdc_references", "jdc_normaliser",
    "LFPW_FILE", "LFPW_POINTS", "LFPW_TO_IBUG68", "LFPW_IBUG_INDICES", "LfpwFormatError", "LfpwAnnotations",
    "load_lfpw",
]


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


# --------------------------------------------------------------------------------------------
# J&dC: facts about the study, as data
# --------------------------------------------------------------------------------------------

JDC_FOLDER = "human/jdc"
"""The study's folder under the data root: ``images/`` and ``landmarks/{workers,expert}/*.json``."""

JDC_IMAGES: tuple[str, ...] = ("indoor_006.png", "indoor_052.png", "aflw__face_41556.jpg", "i001qa-mn.jpg")
"""The four images: two from the 300-W test set (indoor), one AFLW face, one MUCT face."""

JDC_POINT_IDS: tuple[str, ...] = (
    "P2", "P7", "P9", "P13", "P17", "P20", "P22", "P27", "P28", "P30", "P32", "P36", "P37", "P40",
    "P44", "P47", "P49", "P61", "P63", "P70", "P71", "P72",
)
"""The 22 annotated points in a fixed order. ``P<n>`` with n <= 68 is the 1-based iBUG-68 point n."""

JDC_POINT_NAMES: Mapping[str, str] = _frozen({
    # "right"/"left" are the subject's, as in iBUG ("right" = image left).
    "P2": "jaw, right side, below the ear (iBUG 2)",
    "P7": "jaw, right side, near the chin (iBUG 7)",
    "P9": "chin, bottom (iBUG 9)",
    "P13": "jaw, left side, near the chin (iBUG 13)",
    "P17": "jaw, left side, at the ear (iBUG 17)",
    "P20": "right brow, middle (iBUG 20)",
    "P22": "right brow, inner end (iBUG 22)",
    "P27": "left brow, outer end (iBUG 27)",
    "P28": "nose bridge, top, between the eyes (iBUG 28)",
    "P30": "nose bridge, above the tip (iBUG 30)",
    "P32": "nose base, right nostril (iBUG 32)",
    "P36": "nose base, left nostril (iBUG 36)",
    "P37": "right eye, outer corner (iBUG 37)",
    "P40": "right eye, inner corner (iBUG 40)",
    "P44": "left eye, upper lid, inner side (iBUG 44)",
    "P47": "left eye, lower lid, outer side (iBUG 47)",
    "P49": "mouth, right corner (iBUG 49)",
    "P61": "inner lips, right corner (iBUG 61)",
    "P63": "inner upper lip, middle (iBUG 63)",
    "P70": "chin, between the lower lip and the chin tip (the study's own point, not iBUG)",
    "P71": "right pupil (the study's own point)",
    "P72": "left pupil (the study's own point)",
})
"""Plain-language name of every J&dC point (shown to the learner in the annotation session)."""

JDC_POINT_SHORT: Mapping[str, str] = _frozen({
    "P2": "jaw", "P7": "jaw", "P9": "chin", "P13": "jaw", "P17": "jaw", "P20": "brow", "P22": "brow", "P27": "brow",
    "P28": "nose", "P30": "nose", "P32": "nostril", "P36": "nostril", "P37": "eye\ncorner", "P40": "eye\ncorner",
    "P44": "upper\nlid", "P47": "lower\nlid", "P49": "mouth\ncorner", "P61": "inner\nlip", "P63": "inner\nlip",
    "P70": "chin\n(extra)", "P71": "pupil", "P72": "pupil",
})
"""One- or two-word labels of the points, for crowded figure axes."""

JDC_IBUG_POINTS: tuple[str, ...] = tuple(p for p in JDC_POINT_IDS if int(p[1:]) <= 68)
"""The 19 points that are iBUG-68 points: the ones a 68-point model predicts (human and model
errors are compared on exactly these)."""

JDC_JAW_POINTS: tuple[str, ...] = ("P2", "P7", "P13", "P17")
"""The jaw-line points (iBUG 1-17 other than the chin P9): contour points without an anatomical landmark."""

JDC_PUPILS: tuple[str, str] = ("P71", "P72")
JDC_OWN_POINTS: Mapping[str, tuple[int, ...]] = _frozen({
    "P70": (57, 8),  # between the lower lip's bottom middle (iBUG 58) and the chin (iBUG 9)
    "P71": IBUG68.groups["right_eye"],  # the right pupil: the centre of the right eye's six points
    "P72": IBUG68.groups["left_eye"],
})
"""Where the study's own three points lie on a 68-point shape: the mean of these 0-based iBUG-68
points (approximately: for drawing where to click, never for measuring)."""
JDC_NORMALISER = "inter_pupil"
"""Name of the J&dC normaliser: distance between the reference pupils P71 and P72."""

JDC_OFFSET = 0.0
"""J&dC source coordinate = ours + ``JDC_OFFSET`` (for references and clicks alike); see :func:`jdc_to_ours`."""

GROUPS: tuple[str, ...] = ("crowd", "expert", "learner")
"""Annotator groups, in the order figures show them."""

_POINT_RE = re.compile(r"^P(\d+)$")


class JdcFormatError(ValueError):
    """A J&dC annotation file that cannot be read (the message names the file and the problem)."""


class LfpwFormatError(ValueError):
    """A malformed LFPW csv (the message names the file, the line and the problem)."""



def jdc_to_ours(xy: np.ndarray) -> np.ndarray:
    """Convert J&dC coordinates (references and clicks alike) to ours: the ONE place of the shift.

    What the source coordinates are: the study's web tool (``turkmarker``, B. Johnston) drew each
    image on an HTML canvas at its native size and recorded a click as the integer offset of the
    mouse from the canvas's top-left corner (``e.pageX - offsetLeft``). An integer ``u`` is the index
    of the pixel under the pointer, i.e. the pixel whose centre is ``u`` in our 0-based pixel-centre
    convention, so clicks need no shift (their quantisation is +-0.5 px). The reference points
    (``x``, ``y``) live in the same frame: the tool measured ``|click - reference|`` directly and
    refused a click farther than ``distLim`` from it; the integer-valued references (pupils, P70,
    some P28) were themselves clicked with the tool. The references of the two 300-W images
    probably derive from the 1-based 300-W ``.pts`` files; whether the study shifted them cannot be
    told from the data (drawn references sit on the right features to within a pixel, see
    ``docs/figures/human_reference_check.png``), so we keep them as the study used them and report
    how much a 1-px shift would change (``main`` prints it): at most 0.008 of the inter-pupil
    distance.

    Args:
        xy: ``(..., 2)`` source coordinates.

    Returns:
        float64 ``(..., 2)`` in our convention (``xy - JDC_OFFSET``).

    Example:
        >>> jdc_to_ours(np.array([[224, 275]]))
        array([[224., 275.]])
    """
    return np.asarray(xy, dtype=np.float64) - JDC_OFFSET


def point_number(pid: str) -> int:
    """The number ``n`` of a J&dC point id ``"P<n>"`` (for ``n <= 68``, the 1-based iBUG-68 point)."""
    m = _POINT_RE.match(pid)
    if not m:
        raise ValueError(f"point id {pid!r} is not of the form P<n>")
    return int(m.group(1))


# --------------------------------------------------------------------------------------------
# J&dC: the tidy table and its reader
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClickTable:
    """One row per click (a tidy table of numpy columns, all of length R).

    Columns:
        annotator: ``(R,)`` str, worker id (crowd), ``expert_<n>`` (experts) or the learner's name.
        group: ``(R,)`` str, ``"crowd"``, ``"expert"`` or ``"learner"``.
        image: ``(R,)`` str, image file name (e.g. ``"indoor_006.png"``).
        repeat: ``(R,)`` int, 0..3: the annotator's n-th annotation of this image, in the order done
            (the tool shuffled the 16 = 4 images x 4 passes).
        point_id: ``(R,)`` str, ``"P<n>"`` (see :data:`JDC_POINT_IDS`).
        reference: ``(R, 2)`` float, the image's reference point, our convention.
        click: ``(R, 2)`` float, where the annotator clicked, our convention.
        valid: ``(R,)`` bool, the tool had accepted the whole annotation (``validLandmarks``).
        dist_limit: ``(R,)`` float, pixels: the tool refused a click farther than this from the
            reference, so human errors are censored at ``dist_limit`` (NaN for learners).
        source: ``(R,)`` str, the file the row came from.
    """

    annotator: np.ndarray
    group: np.ndarray
    image: np.ndarray
    repeat: np.ndarray
    point_id: np.ndarray
    reference: np.ndarray
    click: np.ndarray
    valid: np.ndarray
    dist_limit: np.ndarray
    source: np.ndarray

    COLUMNS = ("annotator", "group", "image", "repeat", "point_id", "reference", "click", "valid", "dist_limit", "source")

    def __post_init__(self) -> None:
        n = len(self.annotator)
        for name in self.COLUMNS:
            col = getattr(self, name)
            if len(col) != n:
                raise ValueError(f"ClickTable column {name} has {len(col)} rows, annotator has {n}")
        if self.reference.shape != (n, 2) or self.click.shape != (n, 2):
            raise ValueError("ClickTable reference and click must have shape (R, 2)")

    def __len__(self) -> int:
        return len(self.annotator)

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping]) -> "ClickTable":
        """Build a table from dicts with the column names as keys (``reference``/``click``: (x, y))."""
        def col(name: str, dtype: object) -> np.ndarray:
            return np.asarray([r[name] for r in rows], dtype=dtype)

        return cls(
            annotator=col("annotator", str), group=col("group", str), image=col("image", str),
            repeat=col("repeat", np.int64), point_id=col("point_id", str),
            reference=np.asarray([r["reference"] for r in rows], dtype=np.float64).reshape(-1, 2),
            click=np.asarray([r["click"] for r in rows], dtype=np.float64).reshape(-1, 2),
            valid=col("valid", bool), dist_limit=col("dist_limit", np.float64), source=col("source", str),
        )

    @classmethod
    def concat(cls, tables: Iterable["ClickTable"]) -> "ClickTable":
        """Stack tables row-wise."""
        tables = list(tables)
        if not tables:
            raise ValueError("ClickTable.concat needs at least one table")
        return cls(**{c: np.concatenate([getattr(t, c) for t in tables]) for c in cls.COLUMNS})

    def where(self, mask: np.ndarray) -> "ClickTable":
        """The rows where the boolean ``mask`` ``(R,)`` is true."""
        mask = np.asarray(mask, dtype=bool)
        return ClickTable(**{c: getattr(self, c)[mask] for c in self.COLUMNS})

    def select(self, **equal: object) -> "ClickTable":
        """Rows whose columns equal the given values, e.g. ``table.select(group="expert", image=...)``."""
        mask = np.ones(len(self), bool)
        for name, value in equal.items():
            if name not in self.COLUMNS:
                raise KeyError(f"ClickTable has no column {name!r}; columns: {self.COLUMNS}")
            mask &= getattr(self, name) == value
        return self.where(mask)

    def rows(self) -> list[dict]:
        """The table as a list of dicts (one per click), e.g. for printing or a DataFrame."""
        out = []
        for i in range(len(self)):
            out.append({
                "annotator": str(self.annotator[i]), "group": str(self.group[i]), "image": str(self.image[i]),
                "repeat": int(self.repeat[i]), "point_id": str(self.point_id[i]),
                "ref_x": float(self.reference[i, 0]), "ref_y": float(self.reference[i, 1]),
                "click_x": float(self.click[i, 0]), "click_y": float(self.click[i, 1]),
                "valid": bool(self.valid[i]), "dist_limit": float(self.dist_limit[i]), "source": str(self.source[i]),
            })
        return out

    def annotation_keys(self) -> list[tuple[str, str, str, int]]:
        """The distinct annotations ``(annotator, group, image, repeat)``, in first-seen order."""
        seen: dict[tuple[str, str, str, int], None] = {}
        for key in zip(self.annotator.tolist(), self.group.tolist(), self.image.tolist(), self.repeat.tolist()):
            seen.setdefault(key, None)
        return list(seen)


def _require(mapping: object, key: str, path: Path, where: str) -> object:
    if not isinstance(mapping, dict):
        raise JdcFormatError(f"{path}: {where} is not a JSON object")
    if key not in mapping:
        raise JdcFormatError(f"{path}: {where} has no key {key!r} (keys: {sorted(mapping)[:12]})")
    return mapping[key]


def _number(value: object, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise JdcFormatError(f"{path}: {where} is {value!r}, not a number")
    try:
        out = float(value)
    except ValueError:
        raise JdcFormatError(f"{path}: {where} is {value!r}, not a number") from None
    if not math.isfinite(out):
        raise JdcFormatError(f"{path}: {where} is not finite")
    return out


def read_jdc_file(path: str | os.PathLike, group: str) -> ClickTable:
    """Read one J&dC annotator file into a :class:`ClickTable`.

    Crowd files (``group="crowd"``, MTurk assignments) keep the tool's results as a JSON *string*
    in ``Answers[i]["FreeText"]`` where ``QuestionIdentifier == "results"``; expert files
    (``group="expert"``) hold the same object under ``results``. The object has ``samples``: one per
    annotation, each with ``filename`` and 22 ``landmarks`` ``{id, x, y, distLim, user_x, user_y}``.

    Raises:
        JdcFormatError: invalid JSON, a missing key, a non-numeric coordinate, an unknown or repeated
            point id, or a sample without all 22 points (the message names the file).
    """
    path = Path(path)
    if group not in ("crowd", "expert"):
        raise ValueError(f"group must be 'crowd' or 'expert', got {group!r}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise JdcFormatError(f"{path}: not valid JSON ({err})") from None
    except UnicodeDecodeError as err:
        raise JdcFormatError(f"{path}: not a text file ({err})") from None
    if group == "crowd":
        answers = _require(doc, "Answers", path, "the file")
        if not isinstance(answers, list):
            raise JdcFormatError(f"{path}: 'Answers' is not a list")
        texts = [a.get("FreeText") for a in answers if isinstance(a, dict) and a.get("QuestionIdentifier") == "results"]
        if len(texts) != 1 or not isinstance(texts[0], str):
            raise JdcFormatError(f"{path}: 'Answers' holds no single 'results' answer with a FreeText string")
        try:
            results = json.loads(texts[0])
        except json.JSONDecodeError as err:
            raise JdcFormatError(f"{path}: the 'results' FreeText is not valid JSON ({err})") from None
        annotator = str(doc.get("WorkerId") or path.stem)
    else:
        results = _require(doc, "results", path, "the file")
        if isinstance(results, str):  # tolerate a JSON string here too
            try:
                results = json.loads(results)
            except json.JSONDecodeError as err:
                raise JdcFormatError(f"{path}: 'results' is a string but not valid JSON ({err})") from None
        annotator = f"expert_{path.stem}"
    samples = _require(results, "samples", path, "the results")
    if not isinstance(samples, list) or not samples:
        raise JdcFormatError(f"{path}: 'samples' is not a non-empty list")
    rows: list[dict] = []
    seen_images: dict[str, int] = {}
    for s_i, sample in enumerate(samples):
        where = f"sample {s_i}"
        filename = str(_require(sample, "filename", path, where))
        image = filename.rsplit("/", 1)[-1]
        repeat = seen_images.get(image, 0)
        seen_images[image] = repeat + 1
        landmarks = _require(sample, "landmarks", path, where)
        if not isinstance(landmarks, list):
            raise JdcFormatError(f"{path}: {where} 'landmarks' is not a list")
        valid = bool(sample.get("validLandmarks", True))
        ids = []
        for l_i, lm in enumerate(landmarks):
            lw = f"{where} ({image}) landmark {l_i}"
            pid = str(_require(lm, "id", path, lw))
            if pid not in JDC_POINT_IDS:
                raise JdcFormatError(f"{path}: {lw} has point id {pid!r}, not one of the study's 22 ({', '.join(JDC_POINT_IDS)})")
            ids.append(pid)
            ref = [_number(_require(lm, k, path, lw), path, f"{lw} {k}") for k in ("x", "y")]
            click = [_number(_require(lm, k, path, lw), path, f"{lw} {k}") for k in ("user_x", "user_y")]
            limit = _number(lm.get("distLim", math.inf), path, f"{lw} distLim") if "distLim" in lm else math.inf
            rows.append({"annotator": annotator, "group": group, "image": image, "repeat": repeat, "point_id": pid,
                         "reference": jdc_to_ours(np.array(ref)), "click": jdc_to_ours(np.array(click)),
                         "valid": valid, "dist_limit": limit, "source": path.name})
        if sorted(ids) != sorted(JDC_POINT_IDS):
            missing = sorted(set(JDC_POINT_IDS) - set(ids), key=point_number)
            repeated = sorted({p for p in ids if ids.count(p) > 1}, key=point_number)
            raise JdcFormatError(f"{path}: {where} ({image}) does not hold each of the 22 points once "
                                 f"(missing {missing}, repeated {repeated})")
    return ClickTable.from_rows(rows)


def load_jdc(root: str | os.PathLike | None = None, folder: str | os.PathLike | None = None) -> ClickTable:
    """Every click of the J&dC study: 100 crowd + 12 expert files, 4 images x 4 passes x 22 points.

    Args:
        root: the data root (default ``$FACELANDMARKS_DATA``); the study is ``root/human/jdc``.
        folder: the study folder itself (overrides ``root``).

    Returns:
        a :class:`ClickTable` of 39,424 rows (crowd first, files in name order).
    """
    base = Path(folder) if folder is not None else data_root(root) / JDC_FOLDER
    tables = []
    for sub, group in (("workers", "crowd"), ("expert", "expert")):
        files = sorted((base / "landmarks" / sub).glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{base / 'landmarks' / sub}: no J&dC annotation files (*.json)")
        tables += [read_jdc_file(f, group) for f in files]
    return ClickTable.concat(tables)


def jdc_image_path(image: str, root: str | os.PathLike | None = None) -> Path:
    """Path of a J&dC image under the data root."""
    return data_root(root) / JDC_FOLDER / "images" / image


def jdc_references(table: ClickTable, point_ids: Sequence[str] = JDC_POINT_IDS) -> dict[str, np.ndarray]:
    """The reference points of every image in ``table``: image -> ``(P, 2)`` in ``point_ids`` order.

    Raises:
        ValueError: an image lacks one of the points, or two rows disagree on a reference.
    """
    out: dict[str, np.ndarray] = {}
    for image in dict.fromkeys(table.image.tolist()):
        sub = table.select(image=image)
        ref = np.full((len(point_ids), 2), np.nan)
        for k, pid in enumerate(point_ids):
            rows = sub.reference[sub.point_id == pid]
            if len(rows) == 0:
                raise ValueError(f"image {image} has no reference for point {pid}")
            if np.ptp(rows, axis=0).max() > 1e-9:
                raise ValueError(f"image {image}: the files disagree on the reference of {pid}")
            ref[k] = rows[0]
        out[image] = ref
    return out


def jdc_normaliser(reference: np.ndarray, point_ids: Sequence[str] = JDC_POINT_IDS) -> float:
    """Inter-pupil distance (``inter_pupil``) of one image's references: ``|P71 - P72|`` in pixels."""
    ids = list(point_ids)
    a, b = (reference[ids.index(p)] for p in JDC_PUPILS)
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


# --------------------------------------------------------------------------------------------
# LFPW: three workers per face
# --------------------------------------------------------------------------------------------

LFPW_FILE = "human/lfpw/kbvt_lfpw_v1_test.csv"
"""The LFPW test annotations under the data root."""

LFPW_POINTS: tuple[str, ...] = (
    "left_eyebrow_out", "right_eyebrow_out", "left_eyebrow_in", "right_eyebrow_in",
    "left_eyebrow_center_top", "left_eyebrow_center_bottom", "right_eyebrow_center_top", "right_eyebrow_center_bottom",
    "left_eye_out", "right_eye_out", "left_eye_in", "right_eye_in",
    "left_eye_center_top", "left_eye_center_bottom", "right_eye_center_top", "right_eye_center_bottom",
    "left_eye_pupil", "right_eye_pupil", "left_nose_out", "right_nose_out", "nose_center_top", "nose_center_bottom",
    "left_mouth_out", "right_mouth_out", "mouth_center_top_lip_top", "mouth_center_top_lip_bottom",
    "mouth_center_bottom_lip_top", "mouth_center_bottom_lip_bottom",
    "left_ear_top", "right_ear_top", "left_ear_bottom", "right_ear_bottom", "left_ear_canal", "right_ear_canal", "chin",
)
"""LFPW's 35 fiducials in file order (each stored as ``<name>_x``, ``<name>_y``, ``<name>_t``)."""

LFPW_TO_IBUG68: Mapping[str, int] = _frozen({
    # Source of the LFPW definitions: Belhumeur, Jacobs, Kriegman & Kumar, "Localizing parts of faces
    # using a consensus of exemplars", CVPR 2011 (fiducial figure) and the column names of
    # kbvt_lfpw_v1 (neerajkumar.org/databases/lfpw). LFPW's "left" is the IMAGE left (checked on the
    # data: left_eye_out has the smaller x in every complete row), i.e. the subject's right = iBUG's
    # "right". Values are 1-based iBUG-68 numbers (Sagonas et al. 2016).
    "left_eyebrow_out": 18, "right_eyebrow_out": 27,  # brow ends
    "left_eyebrow_in": 22, "right_eyebrow_in": 23,
    "left_eye_out": 37, "right_eye_out": 46,  # eye corners
    "left_eye_in": 40, "right_eye_in": 43,
    "nose_center_top": 31,  # nose tip
    "nose_center_bottom": 34,  # subnasale, where the nose meets the upper lip
    "left_mouth_out": 49, "right_mouth_out": 55,  # mouth corners
    "mouth_center_top_lip_top": 52, "mouth_center_top_lip_bottom": 63,
    "mouth_center_bottom_lip_top": 67, "mouth_center_bottom_lip_bottom": 58,
    "chin": 9,
    # No true iBUG counterpart (left out): the brow centres top/bottom (iBUG marks only the upper
    # brow contour, with no "centre"), the lid centres (iBUG has two lid points each side, none in
    # the middle), the pupils (not in iBUG), the nostril wings *_nose_out (iBUG 32/36 lie on the
    # nose base, inside the alae) and the six ear points.
})
"""LFPW fiducial -> 1-based iBUG-68 point, only where the two definitions name the same anatomical point."""

LFPW_IBUG_INDICES: np.ndarray = np.array([LFPW_TO_IBUG68[n] - 1 for n in LFPW_POINTS if n in LFPW_TO_IBUG68])
"""0-based iBUG-68 indices of the 17 corresponding points, in LFPW order (for :func:`metrics.nme`)."""

_LFPW_WORKERS = ("worker_0", "worker_1", "worker_2")


@dataclass
class LfpwAnnotations:
    """The LFPW test annotations: per image URL three workers and the released average.

    ``points`` ``(I, 3, 35, 2)`` (NaN where a worker's row is missing), ``codes`` ``(I, 3, 35)`` the
    type/visibility code (0 = visible; non-zero codes mark kinds of occlusion; -1 = missing row),
    ``average`` ``(I, 35, 2)`` and ``average_codes`` ``(I, 35)`` (the release's mean / median).
    Coordinates are as in the file: only differences between workers are used, so the origin
    convention does not matter (the images are not available).
    """

    urls: list[str]
    points: np.ndarray
    codes: np.ndarray
    average: np.ndarray
    average_codes: np.ndarray
    workers: tuple[str, ...] = _LFPW_WORKERS

    def __len__(self) -> int:
        return len(self.urls)

    @property
    def complete(self) -> np.ndarray:
        """``(I,)`` True where all three workers' rows are present."""
        return (self.codes >= 0).all(axis=(1, 2))


def load_lfpw(path: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> LfpwAnnotations:
    """Read ``kbvt_lfpw_v1_test.csv`` (tab-separated; header ``imgurl, worker, 35 x (x, y, t)``).

    Raises:
        LfpwFormatError: wrong header, a row with the wrong number of columns, an unknown worker, a
            repeated worker for one URL, a value that is not a number (message: file and line).
    """
    path = Path(path) if path is not None else data_root(root) / LFPW_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no LFPW annotation file")
    expected = ["imgurl", "worker"] + [f"{n}_{c}" for n in LFPW_POINTS for c in "xyt"]
    by_url: dict[str, dict[str, np.ndarray]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None:
            raise LfpwFormatError(f"{path}: empty file")
        if [h.strip() for h in header] != expected:
            raise LfpwFormatError(f"{path}: line 1: header is not 'imgurl, worker' + 35 x (x, y, t) LFPW columns "
                                  f"({len(header)} columns, expected {len(expected)})")
        for line_no, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(expected):
                raise LfpwFormatError(f"{path}: line {line_no}: {len(row)} columns, expected {len(expected)}")
            url, worker = row[0], row[1]
            if worker not in (*_LFPW_WORKERS, "average"):
                raise LfpwFormatError(f"{path}: line {line_no}: unknown worker {worker!r}")
            try:
                values = np.array([float(v) for v in row[2:]], dtype=np.float64).reshape(35, 3)
            except ValueError:
                raise LfpwFormatError(f"{path}: line {line_no}: a coordinate or code is not a number") from None
            if not np.isfinite(values).all():
                raise LfpwFormatError(f"{path}: line {line_no}: a value is not finite")
            rows = by_url.setdefault(url, {})
            if worker in rows:
                raise LfpwFormatError(f"{path}: line {line_no}: second {worker!r} row for {url}")
            rows[worker] = values
    if not by_url:
        raise LfpwFormatError(f"{path}: no annotation rows")
    urls = list(by_url)
    pts = np.full((len(urls), 3, 35, 2), np.nan)
    codes = np.full((len(urls), 3, 35), -1, dtype=np.int64)
    avg = np.full((len(urls), 35, 2), np.nan)
    avg_codes = np.full((len(urls), 35), -1, dtype=np.int64)
    for i, url in enumerate(urls):
        for w, worker in enumerate(_LFPW_WORKERS):
            if worker in by_url[url]:
                pts[i, w] = by_url[url][worker][:, :2]
                codes[i, w] = by_url[url][worker][:, 2].astype(np.int64)
        if "average" in by_url[url]:
            avg[i] = by_url[url]["average"][:, :2]
            avg_codes[i] = by_url[url]["average"][:, 2].astype(np.int64)
    return LfpwAnnotations(urls, pts, codes, avg, avg_codes)
