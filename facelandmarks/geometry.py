"""Boxes, similarity transforms, 3x3 frame matrices, and warps that move pixels and points together.

Conventions (the whole package):
    * points: float ``(N, 2)`` or ``(B, N, 2)``, order (x, y), 0-based pixel centres; pixel ``i``
      covers ``[i - 0.5, i + 0.5]``, so an image of width W spans ``[-0.5, W - 0.5]``.
    * boxes: float ``(4,)`` or ``(B, 4)`` as ``(x0, y0, x1, y1)`` in the same continuous coordinates.
    * frame changes: 3x3 matrices ``M`` acting on homogeneous column vectors ``(x, y, 1)``; a matrix
      named ``a_to_b`` maps coordinates of frame a to frame b. An image warped by ``M`` and its points
      moved by ``M`` stay together; the inverse matrix maps back.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "as_points", "points_box", "box_size", "square_box", "check_box",
    "similarity_matrix", "translation_matrix", "scale_matrix", "hflip_matrix", "box_to_crop_matrix",
    "fit_similarity", "transform_points", "matrix_scale", "warp_image", "warp_batch", "crop_box", "procrustes_mean",
]


def as_points(points: np.ndarray, name: str = "points", n_points: int | None = None) -> np.ndarray:
    """Check and return points as a float64 ``(N, 2)`` or ``(B, N, 2)`` array.

    Raises:
        ValueError: wrong shape, wrong number of points, or NaN/inf (the message uses ``name``).
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim not in (2, 3) or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) or (B, N, 2) with (x, y) last, got {arr.shape}")
    if n_points is not None and arr.shape[-2] != n_points:
        raise ValueError(f"{name} must hold {n_points} points, got {arr.shape[-2]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or inf")
    return arr


def points_box(points: np.ndarray) -> np.ndarray:
    """Tight box ``(x0, y0, x1, y1)`` around points ``(N, 2)`` -> ``(4,)`` or ``(B, N, 2)`` -> ``(B, 4)``.

    Example:
        >>> points_box(np.array([[1.0, 2.0], [3.0, 7.0]]))
        array([1., 2., 3., 7.])
    """
    pts = as_points(points)
    return np.concatenate([pts.min(axis=-2), pts.max(axis=-2)], axis=-1)


def box_size(box: np.ndarray) -> np.ndarray:
    """Width and height of boxes, ``(..., 4) -> (..., 2)``."""
    box = np.asarray(box, dtype=np.float64)
    return box[..., 2:] - box[..., :2]


def check_box(box: np.ndarray, image_shape: tuple[int, ...] | None = None, name: str = "box") -> np.ndarray:
    """Validate one box ``(x0, y0, x1, y1)``; returns it as float64 ``(4,)``.

    Raises:
        ValueError: not 4 finite numbers, zero or negative width/height, or (with ``image_shape``)
            no overlap with the image.
    """
    arr = np.asarray(box, dtype=np.float64).reshape(-1)
    if arr.shape != (4,) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be 4 finite numbers (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = arr
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        raise ValueError(f"{name} {arr.tolist()} is degenerate: width and height must be at least 1 pixel")
    if image_shape is not None:
        h, w = image_shape[:2]
        if x1 <= -0.5 or y1 <= -0.5 or x0 >= w - 0.5 or y0 >= h - 0.5:
            raise ValueError(f"{name} {arr.tolist()} lies outside the {w}x{h} image")
    return arr


def square_box(box: np.ndarray, scale: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Square box centred on ``box``'s centre (shifted by ``offset`` x its size), side ``scale * max(w, h)``."""
    box = np.asarray(box, dtype=np.float64)
    size = box_size(box).max(axis=-1, keepdims=True)
    centre = (box[..., :2] + box[..., 2:]) / 2 + np.asarray(offset) * size
    half = scale * size / 2
    return np.concatenate([centre - half, centre + half], axis=-1)


def similarity_matrix(scale: float = 1.0, angle: float = 0.0, tx: float = 0.0, ty: float = 0.0) -> np.ndarray:
    """3x3 matrix: rotate by ``angle`` (radians, counter-clockwise on screen is negative y), scale, then translate."""
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])


def translation_matrix(tx: float, ty: float) -> np.ndarray:
    """3x3 translation by (tx, ty)."""
    return similarity_matrix(tx=tx, ty=ty)


def scale_matrix(sx: float, sy: float | None = None) -> np.ndarray:
    """3x3 scaling about the origin."""
    return np.diag([sx, sx if sy is None else sy, 1.0])


def hflip_matrix(width: int) -> np.ndarray:
    """Horizontal flip of an image of width W: ``x' = W - 1 - x`` (pixel centres map to pixel centres)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def box_to_crop_matrix(box: np.ndarray, size: int) -> np.ndarray:
    """Matrix image -> crop that maps ``box`` onto a ``size x size`` crop (edges onto edges).

    The box ``(x0, y0, x1, y1)`` is an extent in continuous coordinates; the crop's extent is
    ``[-0.5, size - 0.5]``. For ``(B, 4)`` boxes returns ``(B, 3, 3)``.
    """
    box = np.asarray(box, dtype=np.float64)
    wh = box_size(box)
    sx, sy = size / wh[..., 0], size / wh[..., 1]
    m = np.zeros(box.shape[:-1] + (3, 3))
    m[..., 0, 0] = sx
    m[..., 1, 1] = sy
    m[..., 0, 2] = -box[..., 0] * sx - 0.5
    m[..., 1, 2] = -box[..., 1] * sy - 0.5
    m[..., 2, 2] = 1.0
    return m


def fit_similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (rotation + uniform scale + translation, no reflection) mapping src to dst.

    Minimises ``sum_i w_i |M src_i - dst_i|^2``. With ``x' = a x - b y + tx``, ``y' = b x + a y + ty``
    the centred solution is ``a = sum(s . d) / sum(|s|^2)`` and ``b = sum(s x d) / sum(|s|^2)``.

    Args:
        src, dst: ``(N, 2)`` or ``(B, N, 2)`` (src may be ``(N, 2)`` with batched dst and vice versa).
        weights: optional ``(N,)`` non-negative weights.

    Returns:
        ``(3, 3)`` or ``(B, 3, 3)`` matrix mapping src coordinates to dst coordinates.

    Example:
        >>> src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> m = similarity_matrix(2.0, 0.5, 3.0, -1.0)
        >>> np.allclose(fit_similarity(src, transform_points(src, m)), m)
        True
    """
    src = as_points(src, "src")
    dst = as_points(dst, "dst")
    src, dst = np.broadcast_arrays(src, dst)
    if src.shape[-2] < 2:
        raise ValueError("fit_similarity needs at least 2 points")
    w = np.ones(src.shape[-2]) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = np.einsum("n,...nd->...d", w, src)
    mu_d = np.einsum("n,...nd->...d", w, dst)
    s = src - mu_s[..., None, :]
    d = dst - mu_d[..., None, :]
    norm = np.einsum("n,...nd->...", w, s * s)
    if np.any(norm <= 1e-12):
        raise ValueError("fit_similarity: source points are all at one place")
    a = np.einsum("n,...n->...", w, s[..., 0] * d[..., 0] + s[..., 1] * d[..., 1]) / norm
    b = np.einsum("n,...n->...", w, s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0]) / norm
    m = np.zeros(a.shape + (3, 3))
    m[..., 0, 0], m[..., 0, 1] = a, -b
    m[..., 1, 0], m[..., 1, 1] = b, a
    m[..., 2, 2] = 1.0
    m[..., :2, 2] = mu_d - np.einsum("...ij,...j->...i", m[..., :2, :2], mu_s)
    return m


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply 3x3 matrices to points: ``(N, 2)`` or ``(B, N, 2)`` with ``(3, 3)`` or ``(B, 3, 3)``."""
    pts = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape[-2:] != (3, 3):
        raise ValueError(f"matrix must be (3, 3) or (B, 3, 3), got {m.shape}")
    out = np.einsum("...ij,...nj->...ni", m[..., :2, :2], pts) + m[..., None, :2, 2]
    return out


def matrix_scale(matrix: np.ndarray) -> np.ndarray:
    """Mean linear scale factor ``sqrt(|det A|)`` of the 2x2 part of 3x3 matrices."""
    m = np.asarray(matrix, dtype=np.float64)
    return np.sqrt(np.abs(np.linalg.det(m[..., :2, :2])))


def _to_chw(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(H, W, C)`` image -> ``(C, H, W)`` tensor of the same dtype (uint8 stays uint8), a view of a copy."""
    t = torch.from_numpy(np.array(image, copy=True)) if isinstance(image, np.ndarray) else image  # any strides
    if t.ndim != 3:
        raise ValueError(f"image must be (H, W, 3) or (H, W), got shape {tuple(t.shape)}")
    if not (t.dtype == torch.uint8 or t.is_floating_point()):
        t = t.float()
    return t.permute(2, 0, 1)


def _prescale(img: torch.Tensor, factor: float) -> tuple[torch.Tensor, np.ndarray]:
    """Antialiased downscale of a (C, H, W) image by ``factor`` < 1; returns it and old->new matrix.

    A uint8 image viewed from (H, W, C) memory takes PyTorch's vectorised uint8 path (about 5x faster
    than float; the result is rounded to whole grey levels), anything else is filtered in float.
    """
    _, h, w = img.shape
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    small = F.interpolate(img[None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0].float()
    # continuous extents [-0.5, w-0.5] -> [-0.5, nw-0.5]
    sx, sy = nw / w, nh / h
    m = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return small, m


def _grids(out_to_src: np.ndarray, out_size: tuple[int, int], src_hw: tuple[int, int]) -> torch.Tensor:
    """Sampling grids ``(K, h, w, 2)`` in grid_sample's normalised coordinates (align_corners=False)."""
    h_out, w_out = out_size
    h, w = src_hw

    def to_normalised(width: int, height: int) -> np.ndarray:  # pixel -> [-1, 1]: (2 x + 1) / size - 1
        return np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0.0, 0.0, 1.0]])

    m = torch.from_numpy(to_normalised(w, h) @ out_to_src).float()  # (K, 3, 3): output pixel -> source [-1, 1]
    ys, xs = torch.meshgrid(torch.arange(h_out, dtype=torch.float32), torch.arange(w_out, dtype=torch.float32), indexing="ij")
    x, y = xs.reshape(1, -1, 1), ys.reshape(1, -1, 1)  # (1, h*w, 1) output pixel coordinates
    grid = m[:, None, :2, 0] * x + m[:, None, :2, 1] * y + m[:, None, :2, 2]  # (K, h*w, 2), already (x, y) pairs
    return grid.view(-1, h_out, w_out, 2)


def _region_of(image: np.ndarray | torch.Tensor, mats: np.ndarray, out_size: tuple[int, int],
               factor: float) -> tuple[np.ndarray | torch.Tensor, np.ndarray]:
    """The part of ``image`` the outputs sample from (with a margin for the filters), and the matrices
    from that part: converting and low-passing a small region instead of a large photo is the
    difference between a fraction of a millisecond and several per face."""
    h, w = image.shape[:2]
    h_out, w_out = out_size
    corners = np.array([[-0.5, -0.5, 1.0], [w_out - 0.5, -0.5, 1.0], [-0.5, h_out - 0.5, 1.0], [w_out - 0.5, h_out - 0.5, 1.0]])
    src = (np.linalg.inv(mats) @ corners.T)[:, :2].transpose(0, 2, 1).reshape(-1, 2)  # footprints in the image
    margin = 2.0 + 2.0 / min(1.0, max(factor, 1e-3))  # bilinear taps + the antialiasing kernel's reach
    x0, y0 = np.floor(src.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(src.max(axis=0) + margin).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 1 or y1 - y0 < 1 or (x1 - x0) * (y1 - y0) > 0.8 * h * w:
        return image, mats  # nothing of the image is sampled, or most of it is: keep it whole
    return image[y0:y1, x0:x1], mats @ translation_matrix(x0, y0)


def warp_batch(
    image: np.ndarray | torch.Tensor,
    matrices: np.ndarray,
    out_size: int | tuple[int, int],
    antialias: bool = True,
) -> torch.Tensor:
    """Sample several output images from ONE source image, each through its own matrix.

    Args:
        image: ``(H, W, 3)`` (uint8 or float) numpy array or tensor.
        matrices: ``(K, 3, 3)`` source -> output matrices (the same ones that move points).
        out_size: side, or (height, width), of every output.
        antialias: when the matrices shrink the image (scale < 0.7), low-pass it first.

    Returns:
        float tensor ``(K, 3, h, w)`` in the source's value range; outside the image is 0.
    """
    mats = np.asarray(matrices, dtype=np.float64).reshape(-1, 3, 3)
    h_out, w_out = (out_size, out_size) if isinstance(out_size, int) else out_size
    factor = float(matrix_scale(mats).max())
    image, mats = _region_of(image, mats, (h_out, w_out), factor)
    if antialias and factor < 0.7:
        src, pre = _prescale(_to_chw(image), factor)
        mats = mats @ np.linalg.inv(pre)
    else:
        src = _to_chw(image).float()
    grids = _grids(np.linalg.inv(mats), (h_out, w_out), tuple(src.shape[1:]))  # (K, h, w, 2)
    # all K outputs in one call: stack the grids along the height of a single sampling grid
    stacked = grids.reshape(1, len(mats) * h_out, w_out, 2)
    out = F.grid_sample(src[None], stacked, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0].reshape(src.shape[0], len(mats), h_out, w_out).permute(1, 0, 2, 3)


def warp_image(image: np.ndarray, matrix: np.ndarray, out_size: int | tuple[int, int], antialias: bool = True) -> np.ndarray:
    """Warp an image ``(H, W, 3)`` by a 3x3 source -> output matrix; same dtype out, ``(h, w, 3)``.

    Points move with ``transform_points(points, matrix)``; pixels outside the source are black.
    """
    out = warp_batch(image, np.asarray(matrix)[None], out_size, antialias)[0].permute(1, 2, 0).numpy()
    if np.asarray(image).dtype == np.uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out.astype(np.asarray(image).dtype)


def crop_box(image: np.ndarray, box: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``box`` out of ``image`` resized to ``size x size``; returns (crop, image->crop matrix).

    Raises:
        ValueError: a degenerate box, or one that does not overlap the image (see :func:`check_box`).
    """
    m = box_to_crop_matrix(check_box(box, np.shape(image)), size)
    return warp_image(image, m, size), m


def procrustes_mean(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Mean shape of ``(B, N, 2)`` shapes after removing position, rotation and scale.

    Returns the mean ``(N, 2)`` centred on the origin with unit root-mean-square radius.
    """
    pts = as_points(points, "points")
    if pts.ndim != 3:
        raise ValueError(f"procrustes_mean needs (B, N, 2) shapes, got {pts.shape}")

    def normalise(shape: np.ndarray) -> np.ndarray:
        shape = shape - shape.mean(axis=0)
        return shape / np.sqrt((shape ** 2).sum(axis=1).mean())

    ref = normalise(pts[0])
    for _ in range(iterations):
        aligned = transform_points(pts, fit_similarity(pts, ref))
        ref = normalise(aligned.mean(axis=0))
    return ref
