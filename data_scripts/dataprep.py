"""Turn the original 300-W photos and ``.pts`` files into the project's prepared-face layout.

For every face (one original ``.pts`` file of 68 points and the photo beside it):

1. the crop window is the square of side ``2.0 x`` the larger side of the bounding box of the 68
   points, centred on that box, rounded to whole pixels: ``size = round(2 * max(w, h))``,
   ``x0 = round(cx - size / 2)``, ``y0 = round(cy - size / 2)`` (0-based pixel centres), so the
   window covers pixels ``x0 .. x0 + size - 1``;
2. the pixels of that window (black where it leaves the photo) are resized to ``384 x 384`` with
   Lanczos filtering and saved as JPEG quality 92;
3. the points move by the same transform, the 3x3 matrix that maps the window's extent
   ``[x0 - 0.5, x0 + size - 0.5]`` onto ``[-0.5, 383.5]`` (:func:`window_matrix`), and are written
   as a 1-based ``.pts`` by :func:`facelandmarks.io.write_pts`;
4. ``300w/manifest.csv`` records, per face, the photo's size and ``crop_x0, crop_y0, crop_size,
   out_size``, so every prepared point maps back to the photo with the inverse matrix.

Re-running is safe and cheap: a face whose ``.jpg`` and ``.pts`` exist is not redone; with
``force=True`` it is redone but a file is rewritten only when its bytes would change.
"""
from __future__ import annotations

import csv
import io as _bytes_io
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from datafetch import write_if_changed
from facelandmarks import geometry, io
from facelandmarks.schemes import IBUG68

__all__ = [
    "OUT_SIZE", "CROP_SCALE", "JPEG_QUALITY", "SUBSET_ORDER", "MANIFEST_COLUMNS", "ManifestRow", "PrepareError",
    "crop_window", "window_matrix", "crop_pixels", "find_faces", "prepare_face", "prepare_subsets",
    "read_manifest", "write_manifest",
]

OUT_SIZE = 384  # side of a prepared face, pixels
CROP_SCALE = 2.0  # crop side / larger side of the landmark box
JPEG_QUALITY = 92
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff")
SUBSET_ORDER = (
    "afw", "helen/trainset", "helen/testset", "lfpw/trainset", "lfpw/testset", "ibug",
    "300w_test/indoor", "300w_test/outdoor",
)
"""Every subset the preparation can produce, in manifest order (faces sorted by name within each)."""
MANIFEST_COLUMNS = ("subset", "name", "source_width", "source_height", "crop_x0", "crop_y0", "crop_size", "out_size")

Log = Callable[[str], None]


class PrepareError(ValueError):
    """An original file or folder that cannot be prepared (the message names it)."""


@dataclass(frozen=True)
class ManifestRow:
    """One line of ``300w/manifest.csv``."""

    subset: str
    name: str
    source_width: int
    source_height: int
    crop_x0: int
    crop_y0: int
    crop_size: int
    out_size: int


def _round(value: float) -> int:
    """Round half up (numbers exactly halfway are rare, but the choice must not depend on parity)."""
    return int(np.floor(value + 0.5))


def crop_window(points: np.ndarray, scale: float = CROP_SCALE) -> tuple[int, int, int]:
    """Crop window ``(x0, y0, size)`` in whole pixels for points ``(N, 2)`` (0-based x, y).

    Example:
        >>> crop_window(np.array([[10.0, 20.0], [30.0, 30.0]]))
        (0, 5, 40)
    """
    square = geometry.square_box(geometry.points_box(points), scale=scale)
    size = _round(square[2] - square[0])
    cx, cy = (square[:2] + square[2:]) / 2
    return _round(cx - size / 2), _round(cy - size / 2), size


def window_matrix(x0: int, y0: int, size: int, out_size: int = OUT_SIZE) -> np.ndarray:
    """3x3 matrix photo -> prepared face: pixels ``x0 .. x0 + size - 1`` onto ``0 .. out_size - 1``.

    Extents, not centres, correspond: ``[x0 - 0.5, x0 + size - 0.5]`` -> ``[-0.5, out_size - 0.5]``,
    which is what PIL's crop-then-resize does to pixels.
    """
    box = np.array([x0 - 0.5, y0 - 0.5, x0 + size - 0.5, y0 + size - 0.5])
    return geometry.box_to_crop_matrix(box, out_size)


def crop_pixels(image: np.ndarray, x0: int, y0: int, size: int, out_size: int = OUT_SIZE) -> Image.Image:
    """The window of an RGB uint8 image ``(H, W, 3)``, black outside the photo, Lanczos-resized to ``out_size``."""
    window = Image.fromarray(image).crop((x0, y0, x0 + size, y0 + size))  # PIL pads with black
    return window.resize((out_size, out_size), Image.Resampling.LANCZOS)


def _encode_jpeg(img: Image.Image) -> bytes:
    buf = _bytes_io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _subset_of(source: str, rel: Path) -> str:
    """Subset name of an original file from its source and its path inside the unpacked archive."""
    parts = [p.lower() for p in rel.parts[:-1]]
    if source in ("afw", "ibug"):
        return source
    if source in ("helen", "lfpw"):
        for split in ("trainset", "testset"):
            if split in parts:
                return f"{source}/{split}"
    if source == "300w":
        for place in ("indoor", "outdoor"):
            if any(place in p for p in parts):
                return f"300w_test/{place}"
    raise PrepareError(f"{rel}: cannot tell which {source} subset this file belongs to from its folder")


@dataclass(frozen=True)
class _Original:
    subset: str
    name: str
    image: Path
    pts: Path


def find_faces(source: str, folder: Path, log: Log = print) -> list[_Original]:
    """Every ``.pts`` file under an unpacked source folder with its photo (same stem, same folder)."""
    found: dict[tuple[str, str], _Original] = {}
    for pts in sorted(folder.rglob("*.pts")):
        if pts.name.startswith("._") or "__MACOSX" in pts.parts:
            continue
        images = [pts.with_suffix(s) for s in IMAGE_SUFFIXES] + [pts.with_suffix(s.upper()) for s in IMAGE_SUFFIXES]
        image = next((p for p in images if p.is_file()), None)
        if image is None:
            log(f"warning: {pts} has no photo beside it; skipped")
            continue
        rel = pts.relative_to(folder)
        face = _Original(_subset_of(source, rel), pts.stem, image, pts)
        key = (face.subset, face.name)
        if key in found:
            raise PrepareError(f"{pts}: a second face named {face.name} in subset {face.subset} "
                               f"(the first is {found[key].pts})")
        found[key] = face
    return sorted(found.values(), key=lambda f: (f.subset, f.name))


def prepare_face(face: _Original, out_dir: Path, out_size: int = OUT_SIZE, force: bool = False) -> ManifestRow:
    """Prepare one face into ``out_dir/NAME.jpg`` and ``out_dir/NAME.pts``; returns its manifest row."""
    points = io.read_pts(face.pts, n_points=IBUG68.n_points)
    x0, y0, size = crop_window(points)
    jpg, pts_out = out_dir / f"{face.name}.jpg", out_dir / f"{face.name}.pts"
    if not force and jpg.is_file() and pts_out.is_file():
        try:
            with Image.open(face.image) as img:
                width, height = img.size
        except OSError as err:
            raise PrepareError(f"{face.image}: cannot read the photo's size ({err})") from None
        return ManifestRow(face.subset, face.name, width, height, x0, y0, size, out_size)
    image = io.read_image(face.image)
    height, width = image.shape[:2]
    write_if_changed(jpg, _encode_jpeg(crop_pixels(image, x0, y0, size, out_size)))
    moved = geometry.transform_points(points, window_matrix(x0, y0, size, out_size))
    if not (pts_out.is_file() and _same_points(pts_out, moved)):
        io.write_pts(pts_out, moved)
    return ManifestRow(face.subset, face.name, width, height, x0, y0, size, out_size)


def _same_points(path: Path, points: np.ndarray) -> bool:
    try:
        # the file holds them to repr precision; only the 1-based shift's float rounding may differ
        return bool(np.allclose(io.read_pts(path), points, rtol=0.0, atol=1e-9))
    except (ValueError, OSError):
        return False


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows of a ``manifest.csv`` (empty list when the file does not exist)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise PrepareError(f"{path}: columns {reader.fieldnames}, expected {list(MANIFEST_COLUMNS)}")
        return [ManifestRow(r["subset"], r["name"], *(int(r[c]) for c in MANIFEST_COLUMNS[2:])) for r in reader]


def write_manifest(path: Path, rows: Iterable[ManifestRow]) -> bool:
    """Write the manifest in subset order, then by name; returns whether the file changed."""
    order = {s: i for i, s in enumerate(SUBSET_ORDER)}
    rows = sorted(rows, key=lambda r: (order.get(r.subset, len(order)), r.subset, r.name))
    text = _bytes_io.StringIO()
    writer = csv.writer(text)  # lines end in \r\n, as in the project's reference copy
    writer.writerow([f.name for f in fields(ManifestRow)])
    writer.writerows(astuple(r) for r in rows)
    return write_if_changed(path, text.getvalue().encode("utf-8"))


def prepare_subsets(originals: dict[str, Path], out_root: Path, *, names: set[tuple[str, str]] | None = None,
                    out_size: int = OUT_SIZE, force: bool = False, progress: bool = True,
                    log: Log = print) -> list[ManifestRow]:
    """Prepare every face of the unpacked sources into ``out_root/300w`` and update its manifest.

    Args:
        originals: source name (``afw``, ``helen``, ``lfpw``, ``ibug``, ``300w``) -> unpacked folder.
        out_root: the data root (gets ``300w/<subset>/`` and ``300w/manifest.csv``).
        names: if given, only faces whose ``(subset, name)`` is in it.

    Returns:
        the manifest rows of the faces prepared in this call. Rows of subsets not touched by this
        call stay in the manifest as they were.
    """
    base = out_root / "300w"
    faces = [f for source, folder in originals.items() for f in find_faces(source, folder, log)]
    if names is not None:
        faces = [f for f in faces if (f.subset, f.name) in names]
    rows = []
    for face in tqdm(faces, desc="preparing faces", unit="face", disable=not progress):
        out_dir = base / face.subset
        out_dir.mkdir(parents=True, exist_ok=True)
        rows.append(prepare_face(face, out_dir, out_size, force))
    done = {r.subset for r in rows}
    manifest = base / "manifest.csv"
    kept = [r for r in read_manifest(manifest) if r.subset not in done]
    if rows or kept:
        changed = write_manifest(manifest, kept + rows)
        log(f"{manifest}: {len(kept) + len(rows)} faces" + ("" if changed else " (unchanged)"))
    return rows

