"""Reading and writing images and 300-W ``.pts`` files.

Coordinates in the package are float ``(N, 2)`` arrays, order (x, y), 0-based pixel centres (pixel
``i`` covers ``[i - 0.5, i + 0.5]``). The 300-W ``.pts`` files are 1-based (Matlab-style): the shift
by one happens here, in :func:`read_pts` and :func:`write_pts`, and nowhere else.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageReadError", "PtsFormatError", "read_pts", "write_pts", "read_image", "check_image", "PTS_OFFSET"]

PTS_OFFSET = 1.0
"""The 300-W files count pixels from 1: ``x_file = x_ours + PTS_OFFSET``."""


class ImageReadError(ValueError):
    """An image file that cannot be read as an image (names the file and the problem)."""


class PtsFormatError(ValueError):
    """A ``.pts`` file that does not hold a valid point list (names the file and the problem)."""


def read_pts(path: str | os.PathLike, n_points: int | None = None) -> np.ndarray:
    """Read a 300-W ``.pts`` file.

    Accepts the standard form (``version: 1``, ``n_points: N``, ``{``, N lines ``x y``, ``}``)
    and a bare list of ``x y`` lines.

    Args:
        path: the file.
        n_points: if given, the number of points the file must hold.

    Returns:
        float64 array ``(N, 2)``, (x, y), 0-based pixel centres (file value minus 1).

    Raises:
        FileNotFoundError: no such file.
        PtsFormatError: malformed header, a line that is not two numbers, NaN/inf, wrong count.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.pts"
        >>> _ = p.write_text("version: 1\\nn_points: 2\\n{\\n1 1\\n10.5 20\\n}\\n")
        >>> read_pts(p)
        array([[ 0. ,  0. ],
               [ 9.5, 19. ]])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .pts file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark some editors add is not text
    except UnicodeDecodeError as err:
        raise PtsFormatError(f"{path}: not a text file ({err})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    declared = None
    body = lines
    if lines and lines[0].lower().startswith("version"):
        header = {}
        i = 0
        while i < len(lines) and lines[i] != "{":
            key, sep, value = lines[i].partition(":")
            if not sep:
                if _two_numbers(lines[i]):  # the points start without their '{'
                    raise PtsFormatError(f"{path}: header without an opening '{{' (line {i + 1} {lines[i]!r})")
                raise PtsFormatError(f"{path}: line {i + 1} {lines[i]!r} is not a 'key: value' header line")
            header[key.strip().lower()] = value.strip()
            i += 1
        if i == len(lines):
            raise PtsFormatError(f"{path}: header without an opening '{{'")
        if "}" not in lines[i + 1:]:
            raise PtsFormatError(f"{path}: no closing '}}'")
        end = lines.index("}", i + 1)
        body = lines[i + 1:end]
        if "n_points" in header:
            try:
                declared = int(header["n_points"])
            except ValueError:
                raise PtsFormatError(f"{path}: n_points {header['n_points']!r} is not an integer") from None
    points = []
    for k, line in enumerate(body):
        parts = line.replace(",", " ").split()
        if len(parts) != 2:
            raise PtsFormatError(f"{path}: point {k + 1} {line!r} is not two numbers 'x y'")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise PtsFormatError(f"{path}: point {k + 1} {line!r} is not two numbers 'x y'") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise PtsFormatError(f"{path}: point {k + 1} {line!r} is not finite")
        points.append((x, y))
    if not points:
        raise PtsFormatError(f"{path}: holds no points")
    if declared is not None and declared != len(points):
        raise PtsFormatError(f"{path}: header says n_points: {declared} but {len(points)} points follow")
    if n_points is not None and len(points) != n_points:
        raise PtsFormatError(f"{path}: {len(points)} points, expected {n_points}")
    return np.asarray(points, dtype=np.float64) - PTS_OFFSET


def _two_numbers(line: str) -> bool:
    parts = line.replace(",", " ").split()
    try:
        return len(parts) == 2 and all(math.isfinite(float(p)) for p in parts)
    except ValueError:
        return False


def write_pts(path: str | os.PathLike, points: np.ndarray) -> Path:
    """Write points ``(N, 2)`` (0-based x, y) as a standard 1-based 300-W ``.pts`` file.

    Floats are written with ``repr`` precision so that :func:`read_pts` gives back the same
    numbers up to the rounding of the 1-based shift (a few 1e-15 px). The file is written to a
    temporary name first and renamed, so a failure leaves no partial file (nor a stray temporary).
    """
    path = Path(path)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"write_pts({path}): points must have shape (N, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"write_pts({path}): points contain NaN or inf")
    shifted = pts + PTS_OFFSET
    lines = ["version: 1", f"n_points: {len(pts)}", "{"]
    lines += [f"{float(x)!r} {float(y)!r}" for x, y in shifted]
    lines.append("}")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a partial file behind
        raise
    return path


def read_image(path: str | os.PathLike, apply_exif: bool = True) -> np.ndarray:
    """Read an image file of any common kind as RGB uint8 ``(H, W, 3)``, the right way up.

    The EXIF orientation tag that phones and cameras write (the pixels stored sideways or upside
    down, with a tag saying how to turn them) is applied, as every photo viewer does
    (:func:`PIL.ImageOps.exif_transpose`): the array, and so every point predicted on it and every
    ``.pts`` written from those points, is in the upright frame a viewer shows. ``apply_exif=False``
    keeps the pixels as stored (for landmarks that were clicked on the stored pixels).

    The decoded pixels then follow the same rules as arrays (:func:`check_image`): gray repeated over
    R, G, B, alpha composited on black, 16-bit scaled to 8 bits (``v * 255 / 65535``), float images in
    [0, 1], palette images expanded.

    Raises:
        FileNotFoundError: no such file.
        ImageReadError: empty, truncated, corrupt or non-image file, or pixel values outside
            :func:`check_image`'s rules (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file, not an image")
    try:
        with Image.open(path) as img:
            img.load()
            if apply_exif:
                img = ImageOps.exif_transpose(img)
            return _to_rgb_uint8(img, path)
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"{path}: too many pixels to read safely ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageReadError):
            raise
        raise ImageReadError(f"{path}: corrupt or truncated image ({err})") from None


def _to_rgb_uint8(img: Image.Image, path: Path) -> np.ndarray:
    """A decoded PIL image as RGB uint8 by :func:`check_image`'s rules (the one place they live).

    PIL stores 16-bit PNGs as mode ``I;16`` or, for some, as 32-bit integer mode ``I``; mode ``I``
    with values above 255 is therefore taken as 16-bit (above 65535 it is refused).
    """
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "F") and not mode.startswith("I"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    arr = np.asarray(img)
    if mode.startswith("I"):
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ImageReadError(f"{path}: integer pixel values {arr.min()}..{arr.max()} outside 0..65535")
        deep = mode.startswith("I;16") or (arr.size > 0 and arr.max() > 255)
        arr = arr.astype(np.uint16 if deep else np.uint8)
    try:
        return check_image(arr, str(path))
    except ValueError as err:
        raise ImageReadError(str(err)) from None


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``image`` as RGB uint8 ``(H, W, 3)``, by the rules every image in the package follows.

    The same rules apply to arrays (here) and to files (:func:`read_image` decodes, then calls this):

    * shape ``(H, W)`` or ``(H, W, 1)`` gray, ``(H, W, 2)`` gray + alpha, ``(H, W, 3)`` RGB,
      ``(H, W, 4)`` RGBA; channel order **RGB** (OpenCV's BGR must be reversed: ``image[..., ::-1]``);
    * values: ``uint8`` 0..255 as they are; ``uint16`` scaled by 255/65535 (16-bit images); ``bool``
      False/True -> 0/255; other integer dtypes if they lie in 0..255; floating point in [0, 1]
      (scaled by 255);
    * gray is repeated over R, G, B; alpha is composited on black (``rgb * alpha``), as for files.

    A uint8 RGB array is returned as it is (no copy); anything else is a new array.

    Raises:
        ValueError: the shape, dtype or value range breaks the rules; the message names ``name`` and
            says what to pass instead.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected an image (H, W), (H, W, 1|2|3|4) with H, W >= 1; "
                         f"got shape {np.shape(image)}")
    if arr.dtype == np.uint8 and arr.shape[2] == 3:
        return arr
    values = _values_0_255(arr, name)  # float32 in [0, 255], same shape
    if arr.shape[2] in (2, 4):  # composite on black
        values = values[..., :-1] * (values[..., -1:] / np.float32(255.0))
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    return np.ascontiguousarray(np.round(values).astype(np.uint8))


def _values_0_255(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr``'s values on the 0..255 scale as float32, by dtype (see :func:`check_image`)."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32) * np.float32(255.0)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(255.0 / 65535.0)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{name}: {arr.dtype} values {lo}..{hi} are outside 0..255; pass uint8 "
                             "(0..255), uint16 (0..65535) or float in [0, 1]")
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{name}: float images must hold finite values in [0, 1] (got "
                             f"{np.nanmin(arr):.4g}..{np.nanmax(arr):.4g}; divide 0..255 floats by 255)")
        return arr.astype(np.float32) * np.float32(255.0)
    raise ValueError(f"{name}: unsupported dtype {arr.dtype} (use uint8, uint16, bool, or float in [0, 1])")
