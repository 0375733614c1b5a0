"""Humans and the model on the same LFPW test faces: pairing, point correspondence, errors, verdict.

The shared data holds 150 of LFPW's 224 test faces as 300-W prepared them (``300w/lfpw/testset``,
68 points, 384 x 384 crops) and, separately, LFPW's own test annotations (``human/lfpw``: per photo
URL three MTurk workers and their released average, 35 fiducials, in the original photo's pixels).
This module

1. brings the LFPW coordinates into a prepared face's frame with that face's crop window from
   ``300w/manifest.csv`` (:class:`CropWindow`, the same 3x3 matrix the preparation applied);
2. pairs every prepared face with the URL whose average row puts the four eye and mouth corners
   where 300-W put them (:func:`pair_faces`), refusing a face whose best match is too far or not
   clearly better than the runner-up;
3. measures, on the paired faces and with the 300-W points as the reference, each worker, the
   LFPW average and the model on the corresponding points only (:func:`compare`), with two
   normalisers of the reference: ``inter_ocular`` (outer eye corners) and ``inter_pupil`` (eye
   centres, the mean of each eye's six points);
4. reads the numbers in words (:func:`lfpw_verdict`, generated, never written by hand).

Coordinates follow the package convention: float (x, y), 0-based pixel centres.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from .. import geometry, metrics
from ..datasets import FaceSet, data_root, load_split
from ..schemes import IBUG68
from .formats import LFPW_POINTS, LFPW_TO_IBUG68, LfpwAnnotations, load_lfpw

__all__ = [
    "LFPW_TEST_SUBSET", "MANIFEST_FILE", "LFPW_OFFSET", "PAIRING_POINTS", "PAIR_MAX_RESIDUAL", "PAIR_MIN_MARGIN",
    "LFPW_CANDIDATES", "NORMALISERS", "SOURCES", "CropWindow", "read_crop_windows", "lfpw_to_prepared", "Pairing",
    "pair_faces", "LfpwTestSet", "pair_lfpw_test", "corner_offset", "LfpwComparison", "compare", "candidate_offsets", "LfpwVerdict", "lfpw_verdict",
]

LFPW_TEST_SUBSET = "lfpw/testset"
"""The prepared LFPW test faces: folder ``300w/lfpw/testset`` and ``subset`` column of the manifest."""
MANIFEST_FILE = "300w/manifest.csv"
"""Per prepared face the original photo's size and the crop window, under the data root."""

LFPW_OFFSET = 0.0
"""LFPW csv coordinate = ours + ``LFPW_OFFSET``. The csv's origin convention is not documented. On the
paired faces the LFPW average's four corners sit a median (-0.5, -0.4) original pixels from 300-W's
(``facelandmarks human`` prints it): neither the +1 of a 1-based origin nor a clear +0.5, and far
below the corner disagreement itself (about 2.6 prepared px), so no shift is applied. The ONE place
of the shift is :func:`lfpw_to_prepared`."""

PAIRING_POINTS: tuple[str, ...] = ("left_eye_out", "right_eye_out", "left_mouth_out", "right_mouth_out")
"""The LFPW fiducials a face is paired by: four corners every annotator places alike (iBUG 37, 46, 49, 55)."""
PAIR_MAX_RESIDUAL = 0.08
"""A pair's residual (mean distance of the four corners, LFPW average row vs 300-W) must be at most
this fraction of the 300-W outer-eye-corner distance (the usual failure threshold of an NME)."""
PAIR_MIN_MARGIN = 2.0
"""The runner-up URL's residual must be at least this many times the best one, else the face is ambiguous."""

NORMALISERS: tuple[str, ...] = ("inter_ocular", "inter_pupil")
"""The two normalisers of the comparison, both measured on the 300-W reference (:mod:`facelandmarks.metrics`)."""
SOURCES: tuple[str, ...] = ("worker_0", "worker_1", "worker_2", "average", "model")
"""Who is measured: the three LFPW workers, their released average and the model."""

LFPW_CANDIDATES: Mapping[str, tuple[tuple[int, ...], str]] = MappingProxyType({
    # LFPW fiducial -> (1-based iBUG-68 points whose mean is the nearest iBUG location, why it is kept or left out).
    # LFPW's "left" is the IMAGE left = the subject's right = iBUG's "right" (checked: the pairing only works so).
    "left_eyebrow_out": ((18,), "outer end of the brow, both"),
    "right_eyebrow_out": ((27,), "outer end of the brow, both"),
    "left_eyebrow_in": ((22,), "inner end of the brow, both"),
    "right_eyebrow_in": ((23,), "inner end of the brow, both"),
    "left_eyebrow_center_top": ((20,), "left out: iBUG 20 is the middle of five points along the upper brow edge, not a defined centre"),
    "left_eyebrow_center_bottom": ((20,), "left out: iBUG has no lower brow edge"),
    "right_eyebrow_center_top": ((25,), "left out: as the other brow"),
    "right_eyebrow_center_bottom": ((25,), "left out: iBUG has no lower brow edge"),
    "left_eye_out": ((37,), "outer eye corner, both"),
    "right_eye_out": ((46,), "outer eye corner, both"),
    "left_eye_in": ((40,), "inner eye corner, both"),
    "right_eye_in": ((43,), "inner eye corner, both"),
    "left_eye_center_top": ((38, 39), "left out: iBUG has two upper-lid points, none in the middle (their mean lies on a chord)"),
    "left_eye_center_bottom": ((41, 42), "left out: two lower-lid points, none in the middle"),
    "right_eye_center_top": ((44, 45), "left out: two upper-lid points, none in the middle"),
    "right_eye_center_bottom": ((47, 48), "left out: two lower-lid points, none in the middle"),
    "left_eye_pupil": ((37, 38, 39, 40, 41, 42), "left out: iBUG has no pupil; the mean of the eye's six points is the eye centre, not the pupil"),
    "right_eye_pupil": ((43, 44, 45, 46, 47, 48), "left out: iBUG has no pupil"),
    "left_nose_out": ((32,), "left out: LFPW marks the outside of the nostril wing, iBUG 32 lies on the nose base inside it"),
    "right_nose_out": ((36,), "left out: as the other nostril"),
    "nose_center_top": ((31,), "nose tip, both"),
    "nose_center_bottom": ((34,), "where the nose meets the upper lip (subnasale), both"),
    "left_mouth_out": ((49,), "mouth corner, both"),
    "right_mouth_out": ((55,), "mouth corner, both"),
    "mouth_center_top_lip_top": ((52,), "upper lip, top middle, both"),
    "mouth_center_top_lip_bottom": ((63,), "upper lip, bottom middle (inner contour), both"),
    "mouth_center_bottom_lip_top": ((67,), "lower lip, top middle (inner contour), both"),
    "mouth_center_bottom_lip_bottom": ((58,), "lower lip, bottom middle, both"),
    "left_ear_top": ((), "left out: iBUG has no ear points"),
    "right_ear_top": ((), "left out: no ear points"),
    "left_ear_bottom": ((), "left out: no ear points"),
    "right_ear_bottom": ((), "left out: no ear points"),
    "left_ear_canal": ((), "left out: no ear points"),
    "right_ear_canal": ((), "left out: no ear points"),
    "chin": ((9,), "chin, bottom, both"),
})
"""Every LFPW fiducial with its nearest iBUG-68 location and the reason it is kept or left out; the
kept ones are exactly :data:`LFPW_TO_IBUG68` (tested). :func:`candidate_offsets` measures how far the
LFPW average sits from each candidate on the paired faces."""


# --------------------------------------------------------------------------------------------
# Crop windows: the original photo -> the prepared face
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CropWindow:
    """One manifest row: the square ``size`` x ``size`` pixels from ``(x0, y0)`` of the original photo
    (pixel centres ``x0 .. x0 + size - 1``) resized to ``out_size`` x ``out_size``."""

    name: str
    x0: int
    y0: int
    size: int
    out_size: int = 384

    @property
    def matrix(self) -> np.ndarray:
        """3x3 photo -> prepared face: the extent ``[x0 - 0.5, x0 + size - 0.5]`` onto ``[-0.5, out_size - 0.5]``.

        Example (by hand: scale 384 / 371; the window's centre ``x0 + 371/2 - 0.5`` lands on 191.5):
            >>> w = CropWindow("image_0002", 122, 101, 371)
            >>> geometry.transform_points(np.array([[307.0, 286.0]]), w.matrix)
            array([[191.5, 191.5]])
        """
        box = np.array([self.x0 - 0.5, self.y0 - 0.5, self.x0 + self.size - 0.5, self.y0 + self.size - 0.5])
        return geometry.box_to_crop_matrix(box, self.out_size)


def read_crop_windows(root: str | os.PathLike | None = None, subset: str = LFPW_TEST_SUBSET,
                      path: str | os.PathLike | None = None) -> dict[str, CropWindow]:
    """The crop windows of one subset of ``300w/manifest.csv``: face name -> :class:`CropWindow`.

    Raises:
        FileNotFoundError: no manifest (``root`` or ``$FACELANDMARKS_DATA`` points elsewhere).
        ValueError: the manifest lacks a column, a value is not an integer, or the subset has no row.
    """
    path = Path(path) if path is not None else data_root(root) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest.csv (the prepared data's crop windows)")
    need = ("subset", "name", "crop_x0", "crop_y0", "crop_size", "out_size")
    out: dict[str, CropWindow] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in need if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: no column {missing} (columns: {reader.fieldnames})")
        for line_no, row in enumerate(reader, start=2):
            if row["subset"] != subset:
                continue
            try:
                out[row["name"]] = CropWindow(row["name"], *(int(row[c]) for c in need[2:]))
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: a crop value is not an integer") from None
    if not out:
        raise ValueError(f"{path}: no row of subset {subset!r}")
    return out


def lfpw_to_prepared(points: np.ndarray, window: CropWindow) -> np.ndarray:
    """LFPW csv coordinates (original photo) -> our coordinates in the prepared face of ``window``.

    The ONE place the LFPW origin shift (:data:`LFPW_OFFSET`) happens.

    Args:
        points: ``(..., 2)`` (x, y) in the original photo's pixels, as in the csv.

    Returns:
        float64 ``(..., 2)``, (x, y), 0-based pixel centres of the ``out_size`` prepared face.
    """
    pts = np.asarray(points, dtype=np.float64) - LFPW_OFFSET
    flat = geometry.transform_points(pts.reshape(-1, 2), window.matrix)
    return flat.reshape(pts.shape)


# --------------------------------------------------------------------------------------------
# Pairing
# --------------------------------------------------------------------------------------------

@dataclass
class Pairing:
    """Which LFPW URL each prepared face is, and how sure.

    Per face ``(F,)``: ``names``; ``url_index`` into the annotations' URLs (-1 where refused);
    ``best_index`` the nearest URL whether accepted or not; ``residual_px`` the mean distance of the
    four :data:`PAIRING_POINTS` (LFPW average vs 300-W) in prepared pixels, ``residual`` the same over
    the 300-W outer-eye-corner distance; ``runner_up`` the next URL's residual (same unit);
    ``status`` ``"paired"`` or why not.
    """

    names: list[str]
    url_index: np.ndarray
    best_index: np.ndarray
    residual_px: np.ndarray
    residual: np.ndarray
    runner_up: np.ndarray
    status: list[str]
    max_residual: float = PAIR_MAX_RESIDUAL
    min_margin: float = PAIR_MIN_MARGIN

    @property
    def paired(self) -> np.ndarray:
        """``(F,)`` True where the face was paired."""
        return self.url_index >= 0

    def __len__(self) -> int:
        return len(self.names)

    def rows(self) -> list[dict]:
        """One dict per face (for a table or JSON)."""
        return [{"name": n, "url_index": int(u), "best_index": int(b), "residual_px": float(p), "residual": float(r),
                 "runner_up": float(q), "status": s}
                for n, u, b, p, r, q, s in zip(self.names, self.url_index, self.best_index, self.residual_px,
                                               self.residual, self.runner_up, self.status)]


def pair_faces(ann: LfpwAnnotations, names: Sequence[str], reference: np.ndarray,
               windows: Mapping[str, CropWindow], max_residual: float = PAIR_MAX_RESIDUAL,
               min_margin: float = PAIR_MIN_MARGIN) -> Pairing:
    """Pair prepared faces with LFPW URLs by their eye and mouth corners.

    For face ``f`` and URL ``u``: the average row's four :data:`PAIRING_POINTS`, moved into ``f``'s
    prepared frame with ``f``'s crop window, against 300-W's iBUG 37, 46, 49, 55; the residual is
    their mean distance divided by the 300-W outer-eye-corner distance. A face pairs with its best
    URL when (1) that residual is at most ``max_residual``, (2) the runner-up's is at least
    ``min_margin`` times larger, and (3) no other face that passes (1) and (2) has the same best URL
    (then both are refused: one photo cannot be two faces).

    Args:
        ann: the LFPW annotations (:func:`~facelandmarks.human.formats.load_lfpw`).
        names: ``(F,)`` prepared face names (keys of ``windows``).
        reference: ``(F, 68, 2)`` 300-W points of those faces, prepared frame, ours.
        windows: name -> crop window (:func:`read_crop_windows`).

    Raises:
        ValueError: ``reference`` is not ``(F, 68, 2)``, or a face has no crop window.
    """
    reference = geometry.as_points(reference, "reference", n_points=IBUG68.n_points)
    if reference.ndim != 3 or len(reference) != len(names):
        raise ValueError(f"reference must be (F, 68, 2) for the {len(names)} names, got {reference.shape}")
    lacking = [n for n in names if n not in windows]
    if lacking:
        raise ValueError(f"faces without a crop window in the manifest: {lacking[:5]}")
    corner_idx = [LFPW_POINTS.index(p) for p in PAIRING_POINTS]
    ibug_idx = [LFPW_TO_IBUG68[p] - 1 for p in PAIRING_POINTS]
    corners = ann.average[:, corner_idx]  # (U, 4, 2)
    usable = np.isfinite(corners).all(axis=(1, 2))
    iod = metrics.normalising_distance(reference, "inter_ocular")  # (F,)
    n = len(names)
    best, second = np.zeros(n, np.int64), np.zeros(n)
    res_px, res = np.zeros(n), np.zeros(n)
    for f, name in enumerate(names):
        moved = lfpw_to_prepared(corners, windows[name])  # (U, 4, 2)
        d = np.linalg.norm(moved - reference[f, ibug_idx], axis=-1).mean(axis=1)
        d[~usable] = np.inf
        order = np.argsort(d)
        best[f], res_px[f] = order[0], d[order[0]]
        res[f], second[f] = d[order[0]] / iod[f], d[order[1]] / iod[f] if len(order) > 1 else np.inf
    status = []
    for f in range(n):
        if res[f] > max_residual:
            status.append(f"no match: best residual {res[f]:.3f} > {max_residual} of the outer-eye-corner distance")
        elif second[f] < min_margin * res[f]:
            status.append(f"ambiguous: runner-up residual {second[f]:.3f} is only {second[f] / res[f]:.1f}x the best {res[f]:.3f}")
        else:
            status.append("paired")
    passing = [f for f in range(n) if status[f] == "paired"]
    for f in passing:
        others = [names[g] for g in passing if g != f and best[g] == best[f]]
        if others:
            status[f] = f"ambiguous: its URL is also the best match of {', '.join(others)}"
    url_index = np.where(np.array([s == "paired" for s in status], bool), best, -1)
    return Pairing(list(names), url_index, best, res_px, res, second, status, max_residual, min_margin)


@dataclass
class LfpwTestSet:
    """The prepared LFPW test faces with their LFPW annotations, crop windows and pairing."""

    faces: FaceSet
    annotations: LfpwAnnotations
    windows: dict[str, CropWindow]
    pairing: Pairing


def pair_lfpw_test(root: str | os.PathLike | None = None, progress: bool = False) -> LfpwTestSet:
    """Load the shared LFPW test faces (split ``lfpw``), LFPW's annotations and the manifest, and pair them.

    Raises:
        DataNotFoundError / FileNotFoundError: the data root lacks the faces, the csv or the manifest.
    """
    faces = load_split("lfpw", root, progress=progress)
    ann = load_lfpw(root=root)
    windows = read_crop_windows(root)
    return LfpwTestSet(faces, ann, windows, pair_faces(ann, faces.names, faces.points, windows))


def corner_offset(pairing: Pairing, ann: LfpwAnnotations, reference: np.ndarray,
                  windows: Mapping[str, CropWindow]) -> np.ndarray:
    """Median signed offset ``(2,)`` (dx, dy) in ORIGINAL photo pixels of the LFPW average's four
    :data:`PAIRING_POINTS` from 300-W's, over the paired faces (the evidence for :data:`LFPW_OFFSET`)."""
    idx = [LFPW_POINTS.index(p) for p in PAIRING_POINTS]
    ibug = [LFPW_TO_IBUG68[p] - 1 for p in PAIRING_POINTS]
    d = [(lfpw_to_prepared(ann.average[pairing.url_index[f], idx], windows[pairing.names[f]]) - np.asarray(reference)[f, ibug])
         * windows[pairing.names[f]].size / windows[pairing.names[f]].out_size for f in np.flatnonzero(pairing.paired)]
    return np.median(np.concatenate(d), axis=0)


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------

@dataclass
class LfpwComparison:
    """Errors of each LFPW worker, the LFPW average and the model on the paired faces.

    ``names`` ``(F,)`` paired faces, ``urls`` their LFPW URLs, ``points`` the K LFPW names compared
    (:data:`LFPW_TO_IBUG68`, K = 17) and ``ibug`` their 0-based iBUG-68 indices. ``reference``
    ``(F, K, 2)`` the 300-W points, ``annotations[source]`` ``(F, K, 2)`` each source's points (NaN
    where a worker's row is missing), all in the prepared frame. ``point_errors[norm][source]``
    ``(F, K)`` and ``nme[norm][source]`` ``(F,)``: Euclidean error divided by the reference's
    normalising distance (``norm`` in :data:`NORMALISERS`), NaN for a missing worker.
    """

    names: list[str]
    urls: list[str]
    points: tuple[str, ...]
    ibug: np.ndarray
    reference: np.ndarray
    annotations: dict[str, np.ndarray]
    point_errors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    nme: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def workers(self, norm: str = "inter_ocular") -> np.ndarray:
        """``(F, 3)`` the three workers' NMEs (NaN where a row is missing)."""
        return np.stack([self.nme[norm][w] for w in SOURCES[:3]], axis=1)

    def median_worker(self, norm: str = "inter_ocular") -> np.ndarray:
        """``(F,)`` per face, the median of the workers' NMEs present."""
        return np.nanmedian(self.workers(norm), axis=1)


def compare(pairing: Pairing, ann: LfpwAnnotations, reference: np.ndarray, windows: Mapping[str, CropWindow],
            model_points: np.ndarray) -> LfpwComparison:
    """Measure workers, the LFPW average and the model against 300-W on the paired faces.

    Args:
        pairing: from :func:`pair_faces` (its ``names`` index ``reference`` and ``model_points``).
        ann: the LFPW annotations the pairing used.
        reference: ``(F, 68, 2)`` 300-W points, prepared frame.
        windows: name -> crop window.
        model_points: ``(F, 68, 2)`` the model's predictions on the same faces, prepared frame.

    Returns:
        a :class:`LfpwComparison` over the faces with ``pairing.paired``.
    """
    reference = geometry.as_points(reference, "reference", n_points=IBUG68.n_points)
    model_points = geometry.as_points(model_points, "model_points", n_points=IBUG68.n_points)
    if reference.shape != model_points.shape or len(reference) != len(pairing):
        raise ValueError(f"reference {reference.shape} and model_points {model_points.shape} must both be "
                         f"({len(pairing)}, 68, 2), one per face of the pairing")
    keep = np.flatnonzero(pairing.paired)
    points = tuple(p for p in LFPW_POINTS if p in LFPW_TO_IBUG68)
    lidx = [LFPW_POINTS.index(p) for p in points]
    ibug = np.array([LFPW_TO_IBUG68[p] - 1 for p in points])
    names = [pairing.names[f] for f in keep]
    urls = [int(pairing.url_index[f]) for f in keep]
    ann_pts: dict[str, np.ndarray] = {s: np.empty((len(keep), len(points), 2)) for s in SOURCES}
    for i, (f, u) in enumerate(zip(keep, urls)):
        window = windows[pairing.names[f]]
        for w in range(3):
            ann_pts[SOURCES[w]][i] = lfpw_to_prepared(ann.points[u, w, lidx], window)
        ann_pts["average"][i] = lfpw_to_prepared(ann.average[u, lidx], window)
        ann_pts["model"][i] = model_points[f, ibug]
    full_ref = reference[keep]
    ref = full_ref[:, ibug]
    out = LfpwComparison(names, [ann.urls[u] for u in urls], points, ibug, ref, ann_pts)
    for norm in NORMALISERS:
        d = metrics.normalising_distance(full_ref, norm)  # (F,)
        out.point_errors[norm] = {s: np.linalg.norm(p - ref, axis=-1) / d[:, None] for s, p in ann_pts.items()}
        out.nme[norm] = {s: e.mean(axis=1) for s, e in out.point_errors[norm].items()}
    return out


def candidate_offsets(pairing: Pairing, ann: LfpwAnnotations, reference: np.ndarray,
                      windows: Mapping[str, CropWindow]) -> dict[str, float]:
    """How far the LFPW average sits from each fiducial's nearest iBUG location (:data:`LFPW_CANDIDATES`).

    Per LFPW fiducial with a candidate: the median over the paired faces of
    ``|average - mean(candidate iBUG points)| / outer-eye-corner distance`` (300-W reference). Small
    for points both schemes define alike; large where the definitions differ (the left-out ones).
    """
    keep = np.flatnonzero(pairing.paired)
    out: dict[str, float] = {}
    iod = metrics.normalising_distance(np.asarray(reference)[keep], "inter_ocular")
    for name, (cand, _) in LFPW_CANDIDATES.items():
        if not cand:
            continue
        k = LFPW_POINTS.index(name)
        d = []
        for i, f in enumerate(keep):
            lfpw = lfpw_to_prepared(ann.average[pairing.url_index[f], k], windows[pairing.names[f]])
            target = np.asarray(reference)[f, [c - 1 for c in cand]].mean(axis=0)
            d.append(np.linalg.norm(lfpw - target) / iod[i])
        out[name] = float(np.median(d))
    return out


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LfpwVerdict:
    """The reading of the numbers: ``level`` is ``"better than"``, ``"about as good as"`` or
    ``"worse than"`` (a typical worker), ``beats_average`` whether the model's median NME is below
    the LFPW average's, ``fraction_worse_than_every_worker`` the share of faces where the model is
    worse than all the workers present (its tail); ``text`` says it in words with the numbers."""

    level: str
    beats_average: bool
    fraction_beating_median_worker: float
    text: str
    fraction_worse_than_every_worker: float = float("nan")


def lfpw_verdict(model: np.ndarray, workers: np.ndarray, average: np.ndarray, norm: str = "inter_ocular",
                 n_points: int = 17) -> LfpwVerdict:
    """Read per-face NMEs in words (generated, so it always matches the numbers).

    The level is set by ``p`` = the fraction of faces where the model's NME is below the median of
    that face's workers: ``p >= 0.6`` "better than", ``0.4 <= p < 0.6`` "about as good as",
    ``p < 0.4`` "worse than" a typical worker.

    Args:
        model: ``(F,)`` the model's NME per face.
        workers: ``(F, W)`` each worker's NME per face (NaN where missing).
        average: ``(F,)`` the LFPW average's NME per face.
        norm: the normaliser's name (for the text).

    Example:
        >>> v = lfpw_verdict(np.array([0.01, 0.02]), np.array([[0.03, 0.02, 0.04], [0.01, 0.015, 0.05]]), np.array([0.02, 0.01]))
        >>> v.level, v.fraction_beating_median_worker
        ('about as good as', 0.5)
    """
    model = np.asarray(model, dtype=np.float64).reshape(-1)
    workers = np.asarray(workers, dtype=np.float64)
    average = np.asarray(average, dtype=np.float64).reshape(-1)
    if workers.ndim != 2 or len(workers) != len(model) or len(average) != len(model) or len(model) == 0:
        raise ValueError(f"need model (F,), workers (F, W), average (F,) with F > 0; got {model.shape}, "
                         f"{workers.shape}, {average.shape}")
    med_worker = np.nanmedian(workers, axis=1)
    p = float(np.mean(model < med_worker))
    q = float(np.mean(model > np.nanmax(workers, axis=1)))
    level = "better than" if p >= 0.6 else "about as good as" if p >= 0.4 else "worse than"
    m, w, a = float(np.median(model)), float(np.nanmedian(workers)), float(np.median(average))
    mean_m, mean_w = float(np.mean(model)), float(np.nanmean(workers))
    beats_average = m < a
    hidden = (mean_m > mean_w) != (m > w)
    text = (f"On {len(model)} LFPW test faces, {n_points} corresponding points, NME normalised by {norm} "
            f"({metrics.NORMALISER_NAMES.get(norm, norm)}) of the 300-W reference: the model beats the median "
            f"of the three workers on {100 * p:.0f}% of the faces, so it is {level} a typical LFPW worker "
            f"(median NME: model {m:.4f}, all workers {w:.4f}, the LFPW average of three {a:.4f}); its median is "
            f"{'below' if beats_average else 'above'} that of the LFPW average. It is worse than every worker on "
            f"{100 * q:.0f}% of the faces; its mean NME {mean_m:.4f} is {'above' if mean_m > mean_w else 'below'} "
            f"the workers' {mean_w:.4f}" + (" (a tail of large errors that the median hides)." if hidden else "."))
    return LfpwVerdict(level, beats_average, p, text, q)
