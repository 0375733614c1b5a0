"""Human annotation studies and the human-versus-model comparison (the paper's "human study").

Two real data sets of repeated human annotations (see ``data/README.md``, section ``human/``):

* **J&dC** (Johnston & de Chazal, CC BY 4.0): 4 images, 22 points, 100 crowd workers and 12
  experts, each annotating every image 4 times. Every click is stored next to the image's
  reference point, so each annotation has an error measured exactly like a model's.
  :func:`load_jdc` returns one tidy :class:`ClickTable` (a row per click).
* **LFPW** (Belhumeur et al. 2011, research use): 300 test faces, three MTurk workers each, 35
  fiducials. No images, so it only measures how far people are from each other:
  :func:`load_lfpw`, :func:`lfpw_spread`.

Coordinates follow the package convention (float (x, y), 0-based pixel centres; see
:mod:`facelandmarks.geometry`). The J&dC source coordinates are converted in exactly one place,
:func:`jdc_to_ours`; its docstring says what the source coordinates are.

Errors are normalised mean errors (NME, :mod:`facelandmarks.metrics`) with a *named* normaliser:

* J&dC: ``inter_pupil`` = distance between the reference pupils P71 and P72 (the only eye pair the
  study annotated; the 300-W outer-eye-corner normaliser needs iBUG 46, which it did not);
* LFPW and HELEN: ``inter_ocular`` = distance between the outer eye corners (iBUG 37 and 46).

The learner's own study ("You vs the CNN") is :class:`AnnotationSession` (pure logic; the
ipywidgets front end lives in :mod:`facelandmarks.widgets`); :func:`pool_sessions` pools several
learners' files into a class study. :func:`main` runs the whole comparison and writes the figures.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from . import metrics
from .datasets import data_root, jitter_boxes
from .geometry import points_box
from .io import read_image

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .evaluation import Evaluation
    from .models.cascade import Cascade

__all__ = [
    "JDC_FOLDER", "JDC_IMAGES", "JDC_POINT_IDS", "JDC_POINT_NAMES", "JDC_POINT_SHORT", "JDC_IBUG_POINTS", "JDC_JAW_POINTS", "JDC_PUPILS",
    "JDC_NORMALISER", "JDC_OFFSET", "GROUPS", "LFPW_FILE", "LFPW_POINTS", "LFPW_TO_IBUG68", "LFPW_IBUG_INDICES",
    "JdcFormatError", "LfpwFormatError", "SessionFormatError",
    "ClickTable", "jdc_to_ours", "read_jdc_file", "load_jdc", "jdc_image_path", "jdc_references", "jdc_normaliser",
    "AnnotationErrors", "annotation_errors", "ModelErrors", "model_errors", "Repeatability", "repeatability",
    "model_repeatability", "point_summary", "consensus_offset", "percentile_of", "verdict",
    "LfpwAnnotations", "load_lfpw", "LfpwSpread", "lfpw_spread", "model_lfpw_errors",
    "plot_error_distributions", "plot_point_errors", "plot_repeatability", "plot_lfpw_ced", "plot_reference_check",
    "AnnotationSession", "SessionScore", "pool_sessions", "class_study_figures", "run_study", "report", "save_figures",
    "FIGURES", "main",
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
JDC_NORMALISER = "inter_pupil"
"""Name of the J&dC normaliser: distance between the reference pupils P71 and P72."""

JDC_OFFSET = 0.0
"""J&dC source coordinate = ours + ``JDC_OFFSET`` (for references and clicks alike); see :func:`jdc_to_ours`."""

GROUPS: tuple[str, ...] = ("crowd", "expert", "learner")
"""Annotator groups, in the order figures show them."""

_GROUP_COLORS = {"crowd": "#1f77b4", "expert": "#2ca02c", "learner": "#9467bd", "model": "#d62728"}
_POINT_RE = re.compile(r"^P(\d+)$")


class JdcFormatError(ValueError):
    """A J&dC annotation file that cannot be read (the message names the file and the problem)."""


class LfpwFormatError(ValueError):
    """A malformed LFPW csv (the message names the file, the line and the problem)."""


class SessionFormatError(ValueError):
    """A saved annotation session that cannot be read (the message names the file)."""


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


def _point_number(pid: str) -> int:
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
            missing = sorted(set(JDC_POINT_IDS) - set(ids), key=_point_number)
            repeated = sorted({p for p in ids if ids.count(p) > 1}, key=_point_number)
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
    try:
        from . import detect
    except ImportError:
        return None, "no detector module"
    name = detector or getattr(detect, "DEFAULT_DETECTOR", "default")
    try:
        found = detect.detect_faces(image, name)
    except Exception as err:  # a detector that cannot run here (missing optional package)
        return None, f"detector {name} failed: {err}"
    if len(found) == 0:
        return None, f"detector {name} found no face"
    return np.asarray(detect.to_landmark_box(np.asarray(found[0]), name), dtype=np.float64).reshape(4), f"detector:{name}"


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
    ibug = [_point_number(p) - 1 for p in points]
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
# Repeatability, per-point summaries, the verdict
# --------------------------------------------------------------------------------------------

@dataclass
class Repeatability:
    """How far an annotator's repeated clicks of the same point fall from their own mean.

    For each (annotator, image, point) with ``n`` repeated clicks ``c_k``: ``mean_k |c_k - mean(c)|``
    divided by the reference inter-pupil distance; ``spread`` ``(M, P)``; ``mean_spread`` ``(M,)``
    averages the points. Keys ``annotator, group, image`` are ``(M,)``.
    """

    annotator: np.ndarray
    group: np.ndarray
    image: np.ndarray
    point_ids: tuple[str, ...]
    spread: np.ndarray
    mean_spread: np.ndarray
    n_repeats: int


def _spread(samples: np.ndarray) -> np.ndarray:
    """Mean distance of ``(..., n, P, 2)`` samples from their mean over ``n`` -> ``(..., P)``."""
    centre = samples.mean(axis=-3, keepdims=True)
    return np.linalg.norm(samples - centre, axis=-1).mean(axis=-2)


def repeatability(errors: AnnotationErrors, references: Mapping[str, np.ndarray] | None = None,
                  table: ClickTable | None = None) -> Repeatability:
    """Intra-annotator repeatability from the repeated passes (4 per image in J&dC).

    Needs the references only for the normaliser: give ``references`` or the ``table``.
    """
    if references is None:
        if table is None:
            raise ValueError("give the references or the click table (for the inter-pupil normaliser)")
        references = jdc_references(table)
    keys = sorted({(a, g, im) for a, g, im in zip(errors.annotator.tolist(), errors.group.tolist(), errors.image.tolist())},
                  key=lambda k: (GROUPS.index(k[1]) if k[1] in GROUPS else 99, k[0], k[2]))
    n_rep = None
    spreads, kept = [], []
    for key in keys:
        m = (errors.annotator == key[0]) & (errors.group == key[1]) & (errors.image == key[2])
        c = errors.clicks[m]  # (n, P, 2)
        if len(c) < 2:
            continue
        n_rep = len(c) if n_rep is None else min(n_rep, len(c))
        spreads.append(_spread(c) / jdc_normaliser(references[key[2]]))
        kept.append(key)
    if not kept:
        raise ValueError("no annotator annotated an image more than once")
    spread = np.stack(spreads)
    return Repeatability(np.array([k[0] for k in kept]), np.array([k[1] for k in kept]), np.array([k[2] for k in kept]),
                         errors.point_ids, spread, spread.mean(axis=1), int(n_rep or 0))


def model_repeatability(model: ModelErrors, references: Mapping[str, np.ndarray], n: int = 4) -> np.ndarray:
    """The same spread statistic for the model under box jitter, over groups of ``n`` draws.

    The J draws of each image are cut into ``J // n`` groups of ``n`` (like an annotator's ``n``
    passes) so that both spreads are computed from equally many samples. Returns ``(I, J // n)``
    mean spreads (over points), divided by the reference inter-pupil distance.
    """
    ibug = [_point_number(p) - 1 for p in model.point_ids]
    n_groups = model.points.shape[1] // n
    if n_groups == 0:
        raise ValueError(f"need at least {n} jitter draws, got {model.points.shape[1]}")
    pts = model.points[:, :n_groups * n][:, :, ibug]  # (I, G*n, P, 2)
    pts = pts.reshape(len(model.images), n_groups, n, len(ibug), 2)
    norm = np.array([jdc_normaliser(references[im]) for im in model.images])
    return _spread(pts).mean(axis=-1) / norm[:, None]


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


# --------------------------------------------------------------------------------------------
# Figures (each returns its Figure; nothing is shown or saved here)
# --------------------------------------------------------------------------------------------

def _new_axes(ax: "Axes | None", figsize: tuple[float, float]) -> tuple["Figure", "Axes"]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_error_distributions(errors: AnnotationErrors, model: ModelErrors | None = None) -> "Figure":
    """One panel per image: the NME of every annotation, per group, next to the model's NME over
    its jittered boxes (violins + points; the model's detector-box prediction is a diamond)."""
    import matplotlib.pyplot as plt

    images = [im for im in JDC_IMAGES if im in set(errors.image.tolist())]
    fig, axes = plt.subplots(1, len(images), figsize=(3.6 * len(images), 4.2), sharey=False, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, im in zip(axes[0], images):
        series = [(g, errors.of(g, im).nme) for g in errors.groups]
        if model is not None and im in model.images:
            series.append(("model", model.nme[model.images.index(im)]))
        parts = ax.violinplot([s for _, s in series], showmedians=True, widths=0.8)
        for body, (name, _) in zip(parts["bodies"], series):
            body.set_facecolor(_GROUP_COLORS.get(name, "grey"))
            body.set_alpha(0.35)
        for k, (name, s) in enumerate(series, start=1):
            ax.scatter(k + rng.uniform(-0.12, 0.12, len(s)), s, s=4, color=_GROUP_COLORS.get(name, "grey"), alpha=0.5)
        if model is not None and im in model.images:
            i = model.images.index(im)
            ax.scatter([len(series)], [model.nme_detector[i]], marker="D", s=40, color="black", zorder=3,
                       label="model, the box itself (no jitter)")
        # a few wild predictions would squash everything else: clip the axis, count what is above
        top = 1.15 * max(float(np.percentile(s, 98)) for _, s in series)
        ax.set_ylim(0, top)
        for k, (_, s) in enumerate(series, start=1):
            above = int((s > top).sum())
            if above:
                ax.annotate(f"{above} above \u2191", (k, top), xytext=(0, -12), textcoords="offset points",
                            ha="center", fontsize=7)
        ax.set_xticks(range(1, len(series) + 1))
        ax.set_xticklabels([f"{n}\n(n={len(s)})" for n, s in series], fontsize=8)
        ax.set_title(im, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel(f"NME ({JDC_NORMALISER}: reference pupils P71-P72)\non the {len(errors.point_ids)} iBUG points")
    if model is not None:
        axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("J&dC study: error of every human annotation vs the model (one dot per jittered face box)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_point_errors(errors: AnnotationErrors, model: ModelErrors | None = None, ax: "Axes | None" = None) -> "Figure":
    """Per point: median error (bars) and quartiles (whiskers) per group and for the model."""
    summary = point_summary(errors, model)
    names = list(errors.groups) + (["model"] if model is not None else [])
    fig, ax = _new_axes(ax, (13, 4.5))
    n = len(errors.point_ids)
    width = 0.8 / len(names)
    x = np.arange(n)
    for k, name in enumerate(names):
        med, q25, q75 = summary[f"{name}_median"], summary[f"{name}_q25"], summary[f"{name}_q75"]
        pos = x - 0.4 + width * (k + 0.5)
        ax.bar(pos, med, width, color=_GROUP_COLORS.get(name, "grey"), label=name, alpha=0.85)
        ax.errorbar(pos, med, yerr=[med - q25, q75 - med], fmt="none", ecolor="black", elinewidth=0.6, capsize=1.5)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{p}\n{JDC_POINT_SHORT[p]}" for p in errors.point_ids], fontsize=7)
    ax.set_ylabel(f"point error / {JDC_NORMALISER} distance\n(median, bars: quartiles)")
    ax.set_title("Which points are hard? Per-point error on the J&dC images, humans vs the model", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_repeatability(rep: Repeatability, errors: AnnotationErrors, model_spread: np.ndarray | None = None) -> "Figure":
    """Left: spread of an annotator's own repeated clicks (per group) and of the model under box
    jitter (same statistic, groups of the same size). Right: error by pass (learning effect?)."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    groups = [g for g in GROUPS if g in set(rep.group.tolist())]
    series = [(g, rep.mean_spread[rep.group == g]) for g in groups]
    if model_spread is not None:
        series.append(("model (box jitter)", np.asarray(model_spread).reshape(-1)))
    a.boxplot([s for _, s in series], showfliers=False)
    a.set_xticks(range(1, len(series) + 1))
    a.set_xticklabels([f"{n}\n(n={len(s)})" for n, s in series], fontsize=8)
    a.set_ylabel(f"mean distance to own mean / {JDC_NORMALISER}")
    a.set_title(f"Repeatability: {rep.n_repeats} passes over the same image", fontsize=10)
    a.grid(axis="y", alpha=0.3)
    for g in errors.groups:
        sub = errors.of(g)
        reps = sorted(set(sub.repeat.tolist()))
        med = [np.median(sub.nme[sub.repeat == r]) for r in reps]
        b.plot([r + 1 for r in reps], med, "o-", color=_GROUP_COLORS.get(g, "grey"), label=g)
    b.set_xticks(range(1, 1 + max(int(errors.repeat.max()) + 1, 1)))
    b.set_xlabel("pass (1 = the annotator's first time on this image)")
    b.set_ylabel(f"median NME ({JDC_NORMALISER})")
    b.set_title("Do annotators improve with repetition?", fontsize=10)
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_lfpw_ced(spread: LfpwSpread, model_nme: np.ndarray | None = None, threshold: float = 0.08,
                  ax: "Axes | None" = None, model_label: str = "model on HELEN test faces") -> "Figure":
    """CED of the LFPW human spread next to the model's CED on HELEN test faces (different images!)."""
    curves = {f"humans: LFPW worker vs mean of the other two\n({len(spread.flat)} = 3 x {len(spread.urls)} faces)": spread.flat}
    if model_nme is not None:
        curves[f"{model_label}\n({len(model_nme)} faces, different images)"] = np.asarray(model_nme)
    fig, ax = _new_axes(ax, (6.5, 4.6))
    xs = np.linspace(0, threshold, 401)
    for (label, e), color in zip(curves.items(), ("#2ca02c", "#d62728")):
        ax.plot(xs, metrics.ced(e, xs), color=color, label=f"{label}: median {np.median(e):.4f}")
    ax.set_xlim(0, threshold)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"NME ({spread.norm}: outer eye corners) on the {len(spread.points)} LFPW points with an iBUG twin")
    ax.set_ylabel("fraction of annotations / faces")
    ax.set_title("How far apart are people? LFPW human spread vs the model", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_reference_check(table: ClickTable, root: str | os.PathLike | None = None,
                         triples: Sequence[tuple[str, ...]] = (("P37", "P40", "P71"), ("P44", "P47", "P72"), ("P49", "P61", "P63")),
                         group: str = "expert") -> "Figure":
    """Coordinate check: zoomed crops (nearest-neighbour pixels) with the references (red +) and the
    ``group``'s clicks (dots; cross = their median) after :func:`jdc_to_ours`."""
    import matplotlib.pyplot as plt

    refs = jdc_references(table)
    images = [im for im in JDC_IMAGES if im in refs]
    fig, axes = plt.subplots(len(images), len(triples), figsize=(3.4 * len(triples), 3.3 * len(images)), squeeze=False)
    sub = table.select(group=group)
    for r, im in enumerate(images):
        pixels = read_image(jdc_image_path(im, root))
        for c, pids in enumerate(triples):
            ax = axes[r, c]
            pts = np.stack([refs[im][JDC_POINT_IDS.index(p)] for p in pids])
            centre = pts.mean(axis=0)
            half = max(12.0, 0.75 * float(np.ptp(pts, axis=0).max()) + 8)
            ax.imshow(pixels, interpolation="nearest")
            for p, ref in zip(pids, pts):
                clicks = sub.click[(sub.image == im) & (sub.point_id == p)]
                ax.plot(clicks[:, 0], clicks[:, 1], ".", color="cyan", ms=2, alpha=0.6)
                ax.plot(*np.median(clicks, axis=0), "x", color="cyan", ms=8, mew=2)
                ax.plot(*ref, "+", color="red", ms=12, mew=2)
                ax.annotate(p, ref, xytext=(3, -3), textcoords="offset points", color="yellow", fontsize=7)
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] + half, centre[1] - half)
            ax.set_title(f"{im}", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle(f"Reference points (red +) and {group} clicks (cyan; x = median), our 0-based pixel-centre coordinates",
                 fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# "You vs the CNN": the learner's own annotation session (pure logic, no widgets)
# --------------------------------------------------------------------------------------------

@dataclass
class SessionScore:
    """The learner's error next to the crowd's, the experts' and the model's, per completed image.

    ``rows``: one dict per image with ``image``, ``learner`` (NME), ``crowd_median``,
    ``expert_median``, ``model_median`` (NaN without a model), ``crowd_percentile`` and
    ``expert_percentile`` (percent of annotations better than the learner). ``point_errors``:
    image -> ``(P,)`` the learner's per-point errors (normaliser: ``inter_pupil``).
    """

    rows: list[dict]
    point_ids: tuple[str, ...]
    point_errors: dict[str, np.ndarray] = field(default_factory=dict)
    norm: str = JDC_NORMALISER

    def text(self) -> str:
        """A short report, one line per image."""
        if not self.rows:
            return "No image is complete yet: click every point of at least one image to get a score."
        lines = [f"Errors normalised by the inter-pupil distance, over the {len(self.point_ids)} iBUG points:"]
        for r in self.rows:
            model = "" if math.isnan(r["model_median"]) else f", model {r['model_median']:.3f}"
            lines.append(f"- {r['image']}: you {r['learner']:.3f} (better than {100 - r['crowd_percentile']:.0f}% of the crowd, "
                         f"{100 - r['expert_percentile']:.0f}% of the experts); crowd median {r['crowd_median']:.3f}, "
                         f"expert median {r['expert_median']:.3f}{model}")
        return "\n".join(lines)


class AnnotationSession:
    """Annotate the J&dC faces yourself, then compare with the crowd, the experts and the CNN.

    The pure state machine behind the "You vs the CNN" widget (no widgets, no browser), so it can be
    tested and driven from code. Coordinates are ours: (x, y), 0-based pixel centres, which is what
    ``matplotlib``'s ``imshow`` shows on its axes.

    API::

        s = AnnotationSession(annotator="ada")       # J&dC images and points by default
        s.images, s.point_ids                         # what will be asked, in order
        s.current                                     # (image, point_id) to click now, None when done
        s.current_image, s.current_point, s.current_point_name
        s.image(name)                                 # the pixels (RGB uint8) to show, from the data root
        s.click(x, y)                                 # record the current point, advance; returns s.current
        s.undo()                                      # forget the last click, go back to it; False if none
        s.done, s.n_done, s.n_total                   # progress
        s.clicks                                      # (I, P, 2) float, NaN where not clicked yet
        s.clicks_for(image)                           # (P, 2) for one image
        s.score(errors, model)                        # SessionScore: you vs crowd / experts / model
        s.save(path); AnnotationSession.load(path)    # JSON, written atomically
        s.to_table(references)                        # the clicks as a ClickTable (group "learner")

    Order: image by image, and within an image the points in ``point_ids`` order (which the
    widget shows with :data:`JDC_POINT_NAMES`). Scores use only completed images.
    """

    FORMAT = "facelandmarks.human.session/1"

    def __init__(self, annotator: str = "learner", images: Sequence[str] = JDC_IMAGES,
                 point_ids: Sequence[str] = JDC_POINT_IDS, root: str | os.PathLike | None = None) -> None:
        if not annotator or not isinstance(annotator, str):
            raise ValueError("annotator must be a non-empty name")
        self.annotator = annotator
        self.images = tuple(images)
        self.point_ids = tuple(point_ids)
        if not self.images or not self.point_ids:
            raise ValueError("a session needs at least one image and one point")
        unknown = [p for p in self.point_ids if p not in JDC_POINT_IDS]
        if unknown:
            raise ValueError(f"unknown point ids {unknown}; known: {JDC_POINT_IDS}")
        if len(set(self.images)) != len(self.images) or len(set(self.point_ids)) != len(self.point_ids):
            raise ValueError("images and point ids must not repeat")
        self.root = root
        self._clicks = np.full((len(self.images), len(self.point_ids), 2), np.nan)
        self._n = 0  # clicks made = position of the cursor in image-major order
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S")

    # --- state -------------------------------------------------------------------------------
    @property
    def n_total(self) -> int:
        return len(self.images) * len(self.point_ids)

    @property
    def n_done(self) -> int:
        return self._n

    @property
    def done(self) -> bool:
        return self._n >= self.n_total

    @property
    def current(self) -> tuple[str, str] | None:
        """``(image, point_id)`` to click now; ``None`` when every point has been clicked."""
        if self.done:
            return None
        i, p = divmod(self._n, len(self.point_ids))
        return self.images[i], self.point_ids[p]

    @property
    def current_image(self) -> str | None:
        return None if self.current is None else self.current[0]

    @property
    def current_point(self) -> str | None:
        return None if self.current is None else self.current[1]

    @property
    def current_point_name(self) -> str | None:
        return None if self.current is None else JDC_POINT_NAMES[self.current[1]]

    @property
    def clicks(self) -> np.ndarray:
        """``(I, P, 2)`` copy of the clicks, NaN where not clicked yet."""
        return self._clicks.copy()

    def clicks_for(self, image: str) -> np.ndarray:
        """``(P, 2)`` clicks of one image (NaN where not clicked yet)."""
        return self._clicks[self.images.index(image)].copy()

    def completed_images(self) -> list[str]:
        """Images whose every point has been clicked."""
        return [im for k, im in enumerate(self.images) if not np.isnan(self._clicks[k]).any()]

    def image(self, name: str | None = None) -> np.ndarray:
        """Pixels of ``name`` (default: the current image) read from the data root."""
        name = name or self.current_image or self.images[-1]
        return read_image(jdc_image_path(name, self.root))

    # --- actions -----------------------------------------------------------------------------
    def click(self, x: float, y: float) -> tuple[str, str] | None:
        """Record ``(x, y)`` for the current point and move to the next; returns the new :attr:`current`.

        Raises:
            RuntimeError: the session is done.
            ValueError: ``x`` or ``y`` is not a finite number.
        """
        if self.done:
            raise RuntimeError("the session is done: every point has been clicked (undo to change one)")
        try:
            xy = np.array([float(x), float(y)])
        except (TypeError, ValueError):
            raise ValueError(f"click needs two numbers, got ({x!r}, {y!r})") from None
        if not np.isfinite(xy).all():
            raise ValueError(f"click needs finite numbers, got ({x!r}, {y!r})")
        i, p = divmod(self._n, len(self.point_ids))
        self._clicks[i, p] = xy
        self._n += 1
        return self.current

    def undo(self) -> bool:
        """Forget the last click and make its point current again; False when there is none."""
        if self._n == 0:
            return False
        self._n -= 1
        i, p = divmod(self._n, len(self.point_ids))
        self._clicks[i, p] = np.nan
        return True

    # --- results -----------------------------------------------------------------------------
    def to_table(self, references: Mapping[str, np.ndarray] | None = None) -> ClickTable:
        """The clicks of the completed images as a :class:`ClickTable` (group ``"learner"``, repeat 0).

        ``references``: image -> ``(22, 2)`` J&dC references (default: loaded from the data root).
        """
        if references is None:
            references = jdc_references(load_jdc(self.root).select(group="expert"))
        rows = []
        for im in self.completed_images():
            k = self.images.index(im)
            for p, pid in enumerate(self.point_ids):
                rows.append({"annotator": self.annotator, "group": "learner", "image": im, "repeat": 0, "point_id": pid,
                             "reference": references[im][JDC_POINT_IDS.index(pid)], "click": self._clicks[k, p],
                             "valid": True, "dist_limit": math.nan, "source": "session"})
        if not rows:
            return ClickTable.from_rows([])
        return ClickTable.from_rows(rows)

    def score(self, errors: AnnotationErrors, model: ModelErrors | None = None,
              references: Mapping[str, np.ndarray] | None = None,
              points: Sequence[str] = JDC_IBUG_POINTS) -> SessionScore:
        """Score the completed images with the same metric as :func:`annotation_errors`.

        Args:
            errors: the study's annotation errors (crowd and experts) over the same ``points``.
            model: the cascade's errors on the same images (optional).
            references: J&dC references (default: loaded from the data root).
        """
        points = tuple(p for p in points if p in self.point_ids)
        if tuple(errors.point_ids) != points:
            raise ValueError(f"errors are over {errors.point_ids}, the session scores {points}")
        if not self.completed_images():
            return SessionScore([], points)
        refs = references if references is not None else jdc_references(load_jdc(self.root).select(group="expert"))
        mine = annotation_errors(self.to_table(refs), points, refs)
        rows, per_point = [], {}
        for k, im in enumerate(mine.image.tolist()):
            crowd, expert = errors.of("crowd", im).nme, errors.of("expert", im).nme
            model_med = math.nan
            if model is not None and im in model.images:
                model_med = float(np.median(model.nme[model.images.index(im)]))
            rows.append({"image": im, "learner": float(mine.nme[k]),
                         "crowd_median": float(np.median(crowd)) if len(crowd) else math.nan,
                         "expert_median": float(np.median(expert)) if len(expert) else math.nan,
                         "model_median": model_med,
                         "crowd_percentile": percentile_of(mine.nme[k], crowd) if len(crowd) else math.nan,
                         "expert_percentile": percentile_of(mine.nme[k], expert) if len(expert) else math.nan})
            per_point[im] = mine.point_errors[k]
        return SessionScore(rows, points, per_point)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the session as JSON (to a temporary file first, then renamed: never half-written)."""
        path = Path(path)
        doc = {
            "format": self.FORMAT, "annotator": self.annotator, "created": self.created,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S"), "coordinates": "x, y; 0-based pixel centres",
            "images": list(self.images), "point_ids": list(self.point_ids), "n_done": self._n,
            "clicks": {im: [None if np.isnan(c).any() else [float(c[0]), float(c[1])] for c in self._clicks[k]]
                       for k, im in enumerate(self.images)},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, root: str | os.PathLike | None = None) -> "AnnotationSession":
        """Read a session written by :meth:`save`.

        Raises:
            SessionFormatError: not JSON, another format, missing keys, or clicks that are not a
                prefix of the session order (the message names the file).
        """
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise SessionFormatError(f"{path}: not a JSON session file ({err})") from None
        if not isinstance(doc, dict) or doc.get("format") != cls.FORMAT:
            raise SessionFormatError(f"{path}: not a {cls.FORMAT} file (format {doc.get('format') if isinstance(doc, dict) else None!r})")
        for key in ("annotator", "images", "point_ids", "clicks"):
            if key not in doc:
                raise SessionFormatError(f"{path}: missing key {key!r}")
        try:
            session = cls(doc["annotator"], doc["images"], doc["point_ids"], root)
        except (ValueError, TypeError) as err:
            raise SessionFormatError(f"{path}: {err}") from None
        session.created = str(doc.get("created", session.created))
        flat = []
        for im in session.images:
            clicks = doc["clicks"].get(im) if isinstance(doc["clicks"], dict) else None
            if not isinstance(clicks, list) or len(clicks) != len(session.point_ids):
                raise SessionFormatError(f"{path}: clicks of {im} must be a list of {len(session.point_ids)} entries")
            for c in clicks:
                if c is None:
                    flat.append(None)
                elif (isinstance(c, list) and len(c) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)
                      and all(math.isfinite(v) for v in c)):
                    flat.append((float(c[0]), float(c[1])))
                else:
                    raise SessionFormatError(f"{path}: click {c!r} of {im} is not null or [x, y]")
        n = sum(c is not None for c in flat)
        if any(c is None for c in flat[:n]):
            raise SessionFormatError(f"{path}: the clicks are not a prefix of the session order (a gap before the last click)")
        for xy in flat[:n]:
            session.click(*xy)
        return session


def pool_sessions(paths: Iterable[str | os.PathLike], references: Mapping[str, np.ndarray] | None = None,
                  root: str | os.PathLike | None = None) -> ClickTable:
    """Pool several learners' saved sessions into one :class:`ClickTable` (group ``"learner"``).

    Only completed images count. Learners with the same name are told apart by their file name.
    Concatenate with :func:`load_jdc`'s table and every analysis and figure applies unchanged.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("pool_sessions needs at least one session file")
    if references is None:
        references = jdc_references(load_jdc(root).select(group="expert"))
    sessions = [AnnotationSession.load(p, root) for p in paths]
    names = [s.annotator for s in sessions]
    tables = []
    for p, s in zip(paths, sessions):
        if names.count(s.annotator) > 1:
            s.annotator = f"{s.annotator} ({p.stem})"
        t = s.to_table(references)
        if len(t):
            tables.append(ClickTable(**{**{c: getattr(t, c) for c in ClickTable.COLUMNS},
                                        "source": np.full(len(t), p.name)}))
    if not tables:
        raise ValueError(f"none of the {len(paths)} sessions has a completed image")
    return ClickTable.concat(tables)


def class_study_figures(learners: ClickTable, study: ClickTable, model: ModelErrors | None = None,
                        points: Sequence[str] = JDC_IBUG_POINTS) -> list["Figure"]:
    """The study's figures with the class (``learners``, from :func:`pool_sessions`) as a third group:
    error distributions per image and per-point errors (same metric, same references)."""
    refs = jdc_references(study)
    errors = annotation_errors(ClickTable.concat([study, learners]), points, refs)
    return [plot_error_distributions(errors, model), plot_point_errors(errors, model)]


# --------------------------------------------------------------------------------------------
# The whole comparison, as a command
# --------------------------------------------------------------------------------------------

def _fmt(stats: Mapping[str, float]) -> str:
    return f"mean {stats['mean']:.4f}, median {stats['median']:.4f}"


def _stats(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return {"n": int(x.size), "mean": float(x.mean()), "median": float(np.median(x))}


def run_study(root: str | os.PathLike | None = None, cascade: "Cascade | None" = None, n_jitter: int = 50,
              helen_limit: int | None = None, boxes: str = "detector", seed: int = 0,
              progress: bool = False) -> dict:
    """Compute everything the human comparison reports; returns a dict of results (no printing).

    Keys: ``table``, ``errors``, ``errors_all``, ``references``, ``model``, ``repeatability``,
    ``model_spread``, ``points``, ``consensus_offset``, ``lfpw``, ``lfpw_spread``, ``helen``, ``helen_lfpw_nme``, ``numbers`` (a nested dict of
    plain numbers, the ones :func:`main` prints), ``verdict`` (text).
    """
    from . import evaluation
    from .datasets import load_split

    if cascade is None:
        from .models.pretrained import load_pretrained

        cascade = load_pretrained(fuse=True)
    table = load_jdc(root)
    refs = jdc_references(table)
    errors = annotation_errors(table, JDC_IBUG_POINTS, refs)
    errors_all = annotation_errors(table, JDC_POINT_IDS, refs)
    model = model_errors(cascade, table, root, n_jitter=n_jitter, seed=seed)
    rep = repeatability(errors, refs)
    model_spread = model_repeatability(model, refs, n=rep.n_repeats) if n_jitter >= rep.n_repeats else None
    lfpw = load_lfpw(root=root)
    spread = lfpw_spread(lfpw)
    helen = load_split("helen", root, limit=helen_limit, progress=progress)
    if boxes == "detector":
        try:
            from . import detect  # noqa: F401  (optional until the detector module ships)
        except ImportError:
            boxes = "jittered"
    ev = evaluation.evaluate(cascade, helen, boxes=boxes, seed=seed)
    helen_nme = model_lfpw_errors(ev)

    n: dict = {"jdc": {}, "lfpw": {}, "helen": {}}
    no_jaw = [k for k, p in enumerate(errors.point_ids) if p not in JDC_JAW_POINTS]
    for g in errors.groups:
        n["jdc"][g] = _stats(errors.of(g).nme)
        n["jdc"][f"{g}_per_image_median"] = {im: float(np.median(errors.of(g, im).nme)) for im in model.images}
        n["jdc"][f"{g}_all22"] = _stats(errors_all.of(g).nme)
        n["jdc"][f"{g}_no_jaw"] = _stats(errors.of(g).point_errors[:, no_jaw].mean(axis=1))
        n["jdc"][f"{g}_repeat_spread"] = _stats(rep.mean_spread[rep.group == g])
        n["jdc"][f"{g}_median_by_pass"] = [float(np.median(errors.of(g).nme[errors.of(g).repeat == r])) for r in range(4)]
    n["jdc"]["model_jitter"] = _stats(model.nme)
    n["jdc"]["model_no_jaw"] = _stats(model.point_errors[:, :, [k for k, p in enumerate(model.point_ids) if p not in JDC_JAW_POINTS]].mean(axis=2))
    n["jdc"]["model_jitter_per_image_median"] = dict(zip(model.images, map(float, model.median_nme())))
    n["jdc"]["model_jitter_per_image_iqr"] = {im: [float(np.percentile(model.nme[i], 25)), float(np.percentile(model.nme[i], 75))]
                                              for i, im in enumerate(model.images)}
    n["jdc"]["model_detector_box"] = dict(zip(model.images, map(float, model.nme_detector)))
    n["jdc"]["model_box_source"] = dict(zip(model.images, model.box_source))
    n["jdc"]["model_beyond_limit"] = float(model.beyond_limit.mean())
    n["jdc"]["percentile_crowd"] = {im: percentile_of(float(np.median(model.nme[i])), errors.of("crowd", im).nme)
                                    for i, im in enumerate(model.images)}
    n["jdc"]["percentile_expert"] = {im: percentile_of(float(np.median(model.nme[i])), errors.of("expert", im).nme)
                                     for i, im in enumerate(model.images)}
    if model_spread is not None:
        n["jdc"]["model_jitter_spread"] = _stats(model_spread)
    n["jdc"]["inter_pupil_px"] = {im: jdc_normaliser(refs[im]) for im in model.images}
    n["jdc"]["invalid_annotations"] = int(len(table.where(~table.valid).annotation_keys()))
    # Sensitivity: references of the two 300-W images 1 px up-left (if they were 1-based .pts values).
    shifted = {im: (r - 1.0 if im.startswith("indoor_") else r) for im, r in refs.items()}
    e_shift = annotation_errors(table, JDC_IBUG_POINTS, shifted)
    pid = [JDC_POINT_IDS.index(p) for p in JDC_IBUG_POINTS]
    ibug = [_point_number(p) - 1 for p in JDC_IBUG_POINTS]
    m_shift = np.stack([metrics.point_errors(model.points[i][:, ibug], np.broadcast_to(shifted[im][pid], model.points[i][:, ibug].shape),
                                             norm=None).mean(axis=1) / jdc_normaliser(shifted[im]) for i, im in enumerate(model.images)])
    n["jdc"]["shift_sensitivity"] = {
        **{f"{g}_median": float(np.median(e_shift.of(g).nme)) for g in errors.groups},
        "model_median": float(np.median(m_shift)),
    }
    n["lfpw"] = {"faces": len(lfpw), "complete_faces": len(spread.urls), "incomplete_faces": spread.n_incomplete,
                 "points": len(spread.points), **_stats(spread.flat)}
    n["lfpw"]["corrected_median"] = float(np.median(spread.flat) / math.sqrt(1.5))
    spread29 = lfpw_spread(lfpw, [p for p in LFPW_POINTS if "_ear_" not in p])
    n["lfpw"]["all29_non_ear"] = _stats(spread29.flat)
    n["helen"] = {"faces": len(helen), "boxes": ev.box_source, "fallback_boxes": int(ev.fallback.sum()),
                  "lfpw17": _stats(helen_nme), "all68": _stats(ev.nme)}
    n["helen"]["percentile_among_lfpw_humans"] = percentile_of(float(np.median(helen_nme)), spread.flat)
    ratio = metrics.normalising_distance(helen.points, "inter_pupil") / metrics.normalising_distance(helen.points, "inter_ocular")
    n["helen"]["eye_centre_over_outer_corner_distance"] = float(np.median(ratio))
    summary, offsets = point_summary(errors, model), consensus_offset(errors, refs)
    n["jdc"]["per_point"] = {
        p: {**{f"{g}_median": float(summary[f"{g}_median"][k]) for g in [*errors.groups, "model"]},
            **{f"{g}_consensus_offset": float(offsets[g][k]) for g in errors.groups}}
        for k, p in enumerate(errors.point_ids)}
    return {"table": table, "errors": errors, "errors_all": errors_all, "references": refs, "model": model,
            "repeatability": rep, "model_spread": model_spread, "points": summary,
            "consensus_offset": offsets, "lfpw": lfpw,
            "lfpw_spread": spread, "helen": ev, "helen_lfpw_nme": helen_nme, "numbers": n,
            "verdict": verdict(errors, model)}


def report(results: Mapping) -> str:
    """The printed summary of :func:`run_study`'s results (every number names its normaliser)."""
    n = results["numbers"]
    j, lf, he = n["jdc"], n["lfpw"], n["helen"]
    model: ModelErrors = results["model"]
    out = ["== J&dC study: 4 images, NME over the 19 iBUG points, normaliser inter_pupil (reference P71-P72) =="]
    for g in results["errors"].groups:
        out.append(f"{g:>7}: {j[g]['n']} annotations, {_fmt(j[g])}  (15 points without the jaw: {_fmt(j[g + '_no_jaw'])}; "
                   f"all 22 points: {_fmt(j[g + '_all22'])})")
    out.append(f"  model: {model.nme.shape[1]} jittered face boxes x {len(model.images)} images, {_fmt(j['model_jitter'])}  "
               f"(15 points without the jaw: {_fmt(j['model_no_jaw'])})")
    out.append("per image (median NME):  image | crowd | expert | model (jitter median [IQR]) | model (un-jittered box) | box")
    for i, im in enumerate(model.images):
        q = j["model_jitter_per_image_iqr"][im]
        out.append(f"  {im:22s} | {j['crowd_per_image_median'][im]:.4f} | {j['expert_per_image_median'][im]:.4f} | "
                   f"{j['model_jitter_per_image_median'][im]:.4f} [{q[0]:.4f}, {q[1]:.4f}] | "
                   f"{j['model_detector_box'][im]:.4f} | {j['model_box_source'][im]}")
    out.append("model's median error, percentile among annotations of the same image (0 = better than all):")
    for im in model.images:
        out.append(f"  {im:22s} crowd {j['percentile_crowd'][im]:5.1f}%   experts {j['percentile_expert'][im]:5.1f}%")
    out.append(f"repeatability (mean distance of an annotator's 4 clicks to their own mean / inter-pupil): "
               + ", ".join(f"{g} median {j[g + '_repeat_spread']['median']:.4f}" for g in results["errors"].groups)
               + (f", model under box jitter (groups of 4 draws) median {j['model_jitter_spread']['median']:.4f}"
                  if "model_jitter_spread" in j else ""))
    out.append("median NME by pass 1..4: " + "; ".join(
        f"{g} " + " ".join(f"{v:.4f}" for v in j[g + "_median_by_pass"]) for g in results["errors"].groups))
    out.append(f"model points beyond the tool's click limit (a human could not have submitted them): {100 * j['model_beyond_limit']:.1f}%")
    out.append(f"annotations the tool had not accepted (validLandmarks false), kept: {j['invalid_annotations']}")
    out.append("if the 300-W references were 1-based (shift -1 px on indoor_*): medians " + ", ".join(
        f"{k.replace('_median', '')} {v:.4f}" for k, v in j["shift_sensitivity"].items()))
    pts = results["points"]
    off = results["consensus_offset"]
    out.append("per point, median error / inter-pupil: crowd | expert | model;   consensus offset (median click "
               "to reference / inter-pupil): crowd | expert")
    for k, p in enumerate(pts["point_id"]):
        out.append(f"  {p:>4} {JDC_POINT_NAMES[p].split(' (')[0]:42s} {pts['crowd_median'][k]:.4f} | "
                   f"{pts['expert_median'][k]:.4f} | {pts['model_median'][k]:.4f};   "
                   f"{off['crowd'][k]:.4f} | {off['expert'][k]:.4f}")
    out.append("")
    out.append(f"== LFPW human spread: worker vs mean of the other two, {lf['points']} points with an iBUG twin, "
               f"normaliser inter_ocular (outer eye corners) ==")
    out.append(f"  {lf['complete_faces']} of {lf['faces']} faces have all three workers ({lf['incomplete_faces']} left out); "
               f"{lf['n']} worker errors: {_fmt(lf)}; all 29 non-ear points: {_fmt(lf['all29_non_ear'])}")
    out.append(f"  one worker vs the truth, if errors are independent (median / sqrt(1.5)): {lf['corrected_median']:.4f}")
    out.append(f"== model on HELEN test ({he['faces']} faces, boxes {he['boxes']}, {he['fallback_boxes']} fallback), "
               f"normaliser inter_ocular ==")
    out.append(f"  17 LFPW-twin points: {_fmt(he['lfpw17'])}   all 68 points: {_fmt(he['all68'])}")
    out.append(f"  its median is worse than {he['percentile_among_lfpw_humans']:.0f}% of the LFPW human spreads "
               f"(different images: a rough comparison)")
    out.append(f"  to compare J&dC (inter-pupil) with these (outer eye corners): on HELEN the eye-centre distance is "
               f"{he['eye_centre_over_outer_corner_distance']:.3f} x the outer-corner distance")
    out.append("")
    out.append(results["verdict"])
    return "\n".join(out)


FIGURES = ("human_errors.png", "human_points.png", "human_repeatability.png", "human_lfpw_ced.png",
           "human_reference_check.png")


def save_figures(results: Mapping, out: str | os.PathLike, root: str | os.PathLike | None = None, dpi: int = 110) -> list[Path]:
    """Draw and save the five figures of the study into ``out``; returns their paths."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = [
        plot_error_distributions(results["errors"], results["model"]),
        plot_point_errors(results["errors_all"], results["model"]),
        plot_repeatability(results["repeatability"], results["errors"], results["model_spread"]),
        plot_lfpw_ced(results["lfpw_spread"], results["helen_lfpw_nme"]),
        plot_reference_check(results["table"], root),
    ]
    paths = []
    for fig, name in zip(figs, FIGURES):
        fig.savefig(out / name, dpi=dpi)
        plt.close(fig)
        paths.append(out / name)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``facelandmarks human`` / ``benchmarks/human_study.py``: print the numbers, save the figures."""
    p = argparse.ArgumentParser(prog="facelandmarks human", description="How close to human? The J&dC crowd/expert "
                                "study, the LFPW three-annotator spread and the cascade, with the same metrics.")
    p.add_argument("--data", type=Path, default=None, help="data root (default: $FACELANDMARKS_DATA)")
    p.add_argument("--out", type=Path, default=None, help="folder for the figures (none saved without it)")
    p.add_argument("--jitter", type=int, default=50, help="jittered boxes per J&dC image (default 50)")
    p.add_argument("--helen-limit", type=int, default=None, help="only the first N HELEN test faces")
    p.add_argument("--boxes", choices=("detector", "jittered"), default="detector",
                   help="HELEN face boxes: the face detector (default) or jittered ground-truth boxes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = run_study(args.data, n_jitter=args.jitter, helen_limit=args.helen_limit, boxes=args.boxes, seed=args.seed)
    print(report(results))
    if args.out is not None:
        for path in save_figures(results, args.out, args.data):
            print(f"wrote {path}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results["numbers"], indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
