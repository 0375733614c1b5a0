"""Automatic checks for the notebooks' "Your turn" exercises.

Each ``check_*`` calls the learner's function on hidden test cases and either prints a success
line or raises :class:`LabCheckError`, whose message names the mistake when it is a common one
(tests/test_labs.py triggers every hint with the wrong answer it is meant for). In a notebook,
:func:`try_exercise` prints that message instead of a traceback, so the check's own code (and so the
answer) stays out of sight. Reference solutions are kept for instructors, outside the package.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import geometry, metrics
from .schemes import IBUG68

if TYPE_CHECKING:  # pragma: no cover
    from .human.lfpw_test import CropWindow

__all__ = ["LabCheckError", "check_nme", "check_flip", "check_feature_shape", "check_similarity_fit",
           "check_patch_extraction", "check_ced_auc", "check_worker_nme", "try_exercise"]


class LabCheckError(AssertionError):
    """The learner's answer is wrong; the message says how.

    IPython and Jupyter show only ``LabCheckError: <message>`` for it, not the traceback through the
    check's source (:meth:`_render_traceback_`, IPython's hook for exactly this).
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def _shape(rng: np.random.Generator) -> np.ndarray:
    """A random 68-point shape whose outer eye corners are 40 px apart."""
    pts = rng.uniform(20, 80, (68, 2))
    pts[36], pts[45] = [30.0, 40.0], [70.0, 42.0]
    return pts


def check_nme(my_nme: Callable[[np.ndarray, np.ndarray], float]) -> None:
    """``my_nme(pred (68, 2), gt (68, 2)) -> float``: NME normalised by the outer-eye-corner distance."""
    rng = np.random.default_rng(0)
    gt = _shape(rng)
    pred = gt + rng.normal(0, 2.0, gt.shape)
    __tracebackhide__ = True  # IPython: show the learner's frames, not the check's
    want = metrics.nme(pred, gt, "inter_ocular")
    got = float(my_nme(pred, gt))
    if np.isclose(got, want, rtol=1e-6):
        print(f"check_nme: correct ({got:.5f})")
        return
    err = np.linalg.norm(pred - gt, axis=1)
    eyes = metrics.normalising_distance(gt)
    hints = {
        "you indexed gt[37] and gt[46]: the literature counts points from 1, Python from 0":
            err.mean() / np.linalg.norm(gt[37] - gt[46]),
        "you subtracted 1 twice: gt[35] and gt[44] are points 36 and 45 of the literature":
            err.mean() / np.linalg.norm(gt[35] - gt[44]),
        "you normalised by the predicted eye corners; the normalising distance comes from the ground truth":
            err.mean() / np.linalg.norm(pred[36] - pred[45]),
        "that is a percentage: return a fraction (0.05, not 5)": 100 * want,
        "you used the pupils (eye centres); this NME uses the outer eye corners":
            err.mean() / metrics.normalising_distance(gt, "inter_pupil"),
        "you forgot to divide by the normalising distance": err.mean(),
        "you used squared distances": (err ** 2).mean() / eyes,
        "you averaged |dx| + |dy| instead of the Euclidean distance": np.abs(pred - gt).sum(1).mean() / eyes,
        "you took the sum over points instead of the mean": err.sum() / eyes,
    }
    for hint, value in hints.items():
        if np.isclose(got, value, rtol=1e-6):
            raise LabCheckError(f"check_nme: got {got:.5f}, expected {want:.5f}: {hint}")
    raise LabCheckError(f"check_nme: got {got:.5f}, expected {want:.5f} (mean Euclidean error / outer-eye-corner "
                        "distance of the ground truth)")


def check_flip(my_flip: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
    """``my_flip(image (H, W, 3), points (68, 2)) -> (image, points)``: a horizontal mirror."""
    __tracebackhide__ = True
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (20, 31, 3), dtype=np.uint8)
    points = rng.uniform(0, 30, (68, 2))
    img2, pts2 = my_flip(image.copy(), points.copy())
    img2, pts2 = np.asarray(img2), np.asarray(pts2, dtype=float)
    if img2.shape != image.shape or not np.array_equal(img2, image[:, ::-1]):
        raise LabCheckError("check_flip: the image is not mirrored left-right (image[:, ::-1])")
    want = points.copy()
    want[:, 0] = 30 - points[:, 0]
    want = want[list(IBUG68.flip_permutation)]
    if pts2.shape != (68, 2):
        raise LabCheckError(f"check_flip: points must be (68, 2), got {pts2.shape}")
    unpermuted = points.copy()
    unpermuted[:, 0] = 30 - points[:, 0]
    if np.allclose(pts2, unpermuted):
        raise LabCheckError("check_flip: your flip forgot to reorder the points (the right eye becomes the left eye: "
                            "use IBUG68.flip_permutation)")
    shifted = want.copy()
    shifted[:, 0] += 1
    if np.allclose(pts2, shifted):
        raise LabCheckError("check_flip: x is off by one: pixel x goes to W - 1 - x, not W - x")
    if not np.allclose(pts2, want):
        raise LabCheckError("check_flip: the points are not where the mirrored features are (x' = W - 1 - x, then "
                            "reorder with the flip permutation)")
    print("check_flip: correct")


def _trunk_shape(config, pool_last: bool = False, ignore_padding: bool = False, ceil: bool = False,
                 shrink: int = 2) -> tuple[int, int, int]:
    """The level-1 trunk's output shape worked out by hand, with optional typical mistakes."""
    pads = (config.padding,) * len(config.blocks) if isinstance(config.padding, int) else tuple(config.padding)
    side = config.input_size
    for i, block in enumerate(config.blocks):
        for _ in block:
            side = side - shrink + 2 * (0 if ignore_padding else pads[i])
        if i < len(config.blocks) - 1 or pool_last:
            side = -(-side // 2) if ceil else side // 2
    return config.blocks[-1][-1], side, side


def check_feature_shape(my_shape: Callable[[object], tuple[int, int, int]]) -> None:
    """``my_shape(config: Level1Config) -> (channels, height, width)`` of the convolution trunk's output.

    Hidden cases: the paper's network (valid convolutions), the shallow baseline ("same" padding),
    and two variants of other input sizes; the truth is the output of the real convolution trunk.
    """
    __tracebackhide__ = True
    import torch  # the package's models need torch anyway; keep this module light to import

    from .models.level1 import DEEP, SHALLOW, conv_trunk

    cases = [DEEP, SHALLOW, replace(DEEP, input_size=112), replace(DEEP, input_size=97, padding=1)]
    for config in cases:
        with torch.no_grad():
            trunk = conv_trunk(config.in_channels, config.blocks, config.padding, config.batchnorm).eval()
            want = tuple(trunk(torch.zeros(1, config.in_channels, config.input_size, config.input_size)).shape[1:])
        got = tuple(int(v) for v in my_shape(config))
        if got == want:
            continue
        where = f"for input {config.input_size}x{config.input_size}, blocks {config.blocks}, padding {config.padding}"
        if len(got) != 3:
            raise LabCheckError(f"check_feature_shape: return (channels, height, width), got {got}")
        if got == (want[1], want[2], want[0]):
            raise LabCheckError(f"check_feature_shape: {where}: got {got}: that is (height, width, channels); "
                                "PyTorch orders feature maps (channels, height, width)")
        if got[0] != want[0]:
            raise LabCheckError(f"check_feature_shape: {where}: {got[0]} channels, expected {want[0]} (the last "
                                "convolution's output channels)")
        hints = {
            "you pooled after the last block too (there is no pooling after the last block)": dict(pool_last=True),
            "you ignored the padding (padding 1 keeps the size: a 'same' 3x3 convolution)": dict(ignore_padding=True),
            "you rounded the pooled size up; 2x2 max-pooling drops an odd last row/column (63 -> 31)": dict(ceil=True),
            "a 3x3 'valid' convolution removes 2 pixels (one on each side), not 1": dict(shrink=1),
            "a 3x3 'valid' convolution removes 2 pixels (one on each side), not 3": dict(shrink=3),
        }
        for hint, mistake in hints.items():
            if got == _trunk_shape(config, **mistake):
                raise LabCheckError(f"check_feature_shape: {where}: got {got}, expected {want}: {hint}")
        raise LabCheckError(f"check_feature_shape: {where}: got {got}, expected {want}")
    print(f"check_feature_shape: correct ({len(cases)} networks)")


def check_similarity_fit(my_fit: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """``my_fit(src (N, 2), dst (N, 2)) -> (3, 3)``: least-squares rotation + scale + translation.

    The hidden points are not centred on the origin, so a fit that forgets to centre them is caught.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(2)
    src = rng.uniform(20, 120, (20, 2))
    true = geometry.similarity_matrix(1.7, 0.4, 12.0, -7.0)
    dst = geometry.transform_points(src, true) + rng.normal(0, 0.5, src.shape)
    got = np.asarray(my_fit(src, dst), dtype=float)
    want = geometry.fit_similarity(src, dst)
    if got.shape != (3, 3):
        raise LabCheckError(f"check_similarity_fit: return a 3x3 matrix, got shape {got.shape}")
    if np.allclose(got, want, atol=1e-6):
        print("check_similarity_fit: correct")
        return
    name = "check_similarity_fit"
    if np.allclose(got.T, want, atol=1e-3):
        raise LabCheckError(f"{name}: your matrix is transposed: it multiplies column vectors (x, y, 1), so the "
                            "translation goes in the last column and the last row is (0, 0, 1)")
    if not np.allclose(got[2], [0.0, 0.0, 1.0], atol=1e-6):
        raise LabCheckError(f"{name}: the last row of a 3x3 point transform is (0, 0, 1), got {np.round(got[2], 3)}")
    a = got[:2, :2]
    if np.linalg.det(a) < 0:
        raise LabCheckError(f"{name}: your fit allows a reflection (det < 0); a similarity only rotates")
    s = np.sqrt(np.linalg.det(a))
    if not np.allclose([a[0, 0] - a[1, 1], a[0, 1] + a[1, 0]], 0.0, atol=1e-3 * max(s, 1e-9)):
        affine = np.linalg.lstsq(np.c_[src, np.ones(len(src))], dst, rcond=None)[0].T  # (2, 3)
        if np.allclose(got[:2], affine, atol=1e-4):
            raise LabCheckError(f"{name}: you fitted a general affine transform (6 parameters); a similarity "
                                "has 4 (scale, angle, tx, ty), so it cannot shear or stretch one axis")
        raise LabCheckError(f"{name}: the 2x2 part is not a rotation times a scale (a similarity cannot shear "
                            "or stretch one axis)")
    s_want = np.sqrt(np.linalg.det(want[:2, :2]))
    if np.isclose(s, 1.0, atol=1e-3):
        raise LabCheckError(f"{name}: your fit ignores scale (the points here are {s_want:.2f}x larger)")
    angle, angle_want = np.arctan2(a[1, 0], a[0, 0]), np.arctan2(want[1, 0], want[0, 0])
    if np.isclose(angle, -angle_want, atol=1e-2) and np.isclose(s, 1 / s_want, rtol=1e-2):
        raise LabCheckError(f"{name}: you return dst -> src; the matrix must map src to dst")
    if not np.isclose(angle, angle_want, atol=1e-4):
        if np.isclose(angle, -angle_want, atol=1e-4):
            raise LabCheckError(f"{name}: your rotation turns the wrong way (the angle's sign is flipped: "
                                "check the signs of the sine terms)")
        if np.isclose(angle, np.arctan2(*_uncentred_rotation(src, dst)[::-1]), atol=1e-4):
            raise LabCheckError(f"{name}: centre both point sets (subtract their means) before fitting the "
                                "rotation and scale")
        raise LabCheckError(f"{name}: the rotation is off by {np.degrees(angle - angle_want):.1f} degrees")
    if not np.isclose(s, s_want, rtol=1e-4):
        raise LabCheckError(f"{name}: the rotation is right but the scale is {s:.4f}, expected {s_want:.4f}")
    raise LabCheckError(f"{name}: rotation and scale are right but the translation is not: the mean of src "
                        "must land on the mean of dst")


def _uncentred_rotation(src: np.ndarray, dst: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of the scaled rotation ``[[a, -b], [b, a]]`` fitted WITHOUT centring the points first
    (a typical mistake: the rotation then absorbs part of the translation)."""
    norm = (src ** 2).sum()
    return (src * dst).sum() / norm, (src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0]).sum() / norm


def check_patch_extraction(my_patch: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> None:
    """``my_patch(image, image->patch matrix (3, 3), size) -> (size, size, 3)``.

    The matrix maps image coordinates to patch coordinates (0-based pixel centres, so the centre of a
    24-pixel patch is 11.5); each patch pixel is read from the image at the inverse matrix, bilinearly.
    Two hidden cases: one bright pixel shifted onto the patch centre, then a rotated and scaled patch.
    """
    __tracebackhide__ = True
    image = np.zeros((64, 64, 3), np.uint8)
    image[30, 20] = 255  # one bright pixel at (x=20, y=30)
    m = geometry.translation_matrix(11.5 - 20, 11.5 - 30)  # puts (20, 30) at the patch centre (11.5, 11.5)
    got = np.asarray(my_patch(image, m, 24), dtype=float)
    if got.shape == (3, 24, 24):
        raise LabCheckError("check_patch_extraction: got (3, 24, 24), PyTorch's (channels, height, width); "
                            "the patch is an image like the input: (height, width, channels) = (24, 24, 3)")
    if got.shape != (24, 24, 3):
        raise LabCheckError(f"check_patch_extraction: the patch must be (24, 24, 3), got {got.shape}")
    want = geometry.warp_image(image, m, 24).astype(float)
    if not np.allclose(got, want, atol=2):
        gray = got.sum(axis=2)
        if gray.max() <= 0:
            smooth, _ = _smooth_case()  # turned about (11.5, 11.5): both ways round stay inside the image
            m3 = geometry.translation_matrix(11.5, 11.5) @ geometry.similarity_matrix(1.2, 0.4) @ \
                geometry.translation_matrix(-11.5, -11.5)
            if np.allclose(np.asarray(my_patch(smooth, m3, 24), dtype=float),
                           geometry.warp_image(smooth, np.linalg.inv(m3), 24), atol=3):
                raise LabCheckError("check_patch_extraction: you used the matrix the wrong way round: it maps "
                                    "image -> patch, so patch pixel (u, v) comes from the image point that the "
                                    "matrix sends to (u, v)")
            raise LabCheckError("check_patch_extraction: the patch is black, but the bright pixel at (x=20, y=30) "
                                "should land on its centre (11.5, 11.5). The matrix maps image -> patch; which "
                                "image point does each patch pixel come from?")
        swapped = geometry.warp_image(image.transpose(1, 0, 2), m, 24).astype(float)
        if np.allclose(got, swapped, atol=2):
            raise LabCheckError("check_patch_extraction: x and y are swapped (images are indexed [row=y, column=x])")
        ys, xs = np.mgrid[0:24, 0:24]
        cx, cy = (gray * xs).sum() / gray.sum(), (gray * ys).sum() / gray.sum()
        dx, dy = cx - 11.5, cy - 11.5
        if max(abs(dx), abs(dy)) < 0.1:
            raise LabCheckError("check_patch_extraction: the bright pixel is in the right place but the values are "
                                "wrong: sample bilinearly and keep the image's 0-255 range")
        if max(abs(dx), abs(dy)) <= 0.75:
            raise LabCheckError(f"check_patch_extraction: your patch is centred half a pixel off (the bright pixel "
                                f"lands at ({cx:.2f}, {cy:.2f}) instead of (11.5, 11.5)). Pixel i covers "
                                "[i - 0.5, i + 0.5], so the centre of a 24-pixel patch is 11.5, not 12; an integer "
                                "slice or nearest-neighbour sampling cannot put it there: interpolate bilinearly")
        raise LabCheckError(f"check_patch_extraction: the bright pixel lands at ({cx:.2f}, {cy:.2f}) in your patch; "
                            "the patch should be centred on it, at (11.5, 11.5)")
    smooth, m2 = _smooth_case()
    got2 = np.asarray(my_patch(smooth, m2, 24), dtype=float)
    want2 = geometry.warp_image(smooth, m2, 24).astype(float)
    if got2.shape != (24, 24, 3) or not np.allclose(got2, want2, atol=3):
        raise LabCheckError("check_patch_extraction: right for a pure shift, wrong for a rotated and scaled matrix: "
                            "map every patch pixel (u, v) through the inverse of the whole 3x3 matrix")
    print("check_patch_extraction: correct")


def _smooth_case() -> tuple[np.ndarray, np.ndarray]:
    """A smooth 64x64 image and a rotated, scaled image -> patch matrix well inside it (no border effects)."""
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = np.stack([4 * xx, 4 * yy, 128 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)], axis=-1)
    smooth = np.clip(smooth, 0, 255).astype(np.uint8)
    m2 = geometry.translation_matrix(11.5, 11.5) @ geometry.similarity_matrix(1.3, 0.5) @ geometry.translation_matrix(-32, -30)
    return smooth, m2


def check_ced_auc(my_auc: Callable[[np.ndarray, float], float]) -> None:
    """``my_auc(errors (B,), threshold) -> float``: area under the CED up to threshold / threshold."""
    __tracebackhide__ = True
    errors = np.array([0.0, 0.02, 0.04, 0.05, 0.09, 0.3])
    want = metrics.auc(errors, 0.08)
    got = float(my_auc(errors, 0.08))
    if np.isclose(got, want, atol=2e-3):
        print(f"check_ced_auc: correct ({got:.4f})")
        return
    if np.isclose(got, 100 * want, atol=0.2):
        raise LabCheckError(f"check_ced_auc: got {got:.4f}: that is a percentage; return a fraction in [0, 1]")
    if got > 1:
        raise LabCheckError(f"check_ced_auc: got {got:.4f}, but the area divided by the threshold is at most 1: "
                            "np.trapezoid(ced) without its x values takes the samples to be 1 apart; pass the "
                            "thresholds you sampled the CED at")
    if np.isclose(got, want * 0.08, atol=2e-4):
        raise LabCheckError(f"check_ced_auc: got {got:.4f}: divide the area by the threshold (0.08)")
    if np.isclose(got, float((errors <= 0.08).mean()), atol=2e-3):
        raise LabCheckError(f"check_ced_auc: got {got:.4f}: that is the CED at 0.08 (1 - failure rate), not the area")
    raise LabCheckError(f"check_ced_auc: got {got:.4f}, expected {want:.4f}")


def try_exercise(check: Callable[[Callable], None], solution: Callable) -> bool:
    """Run ``check(solution)`` from a notebook, so that it still runs top to bottom.

    An unfinished exercise (``NotImplementedError``) prints a reminder; a wrong answer prints the
    check's message (what is wrong, a hint when the mistake is a common one), without a traceback.
    An error in the learner's own code propagates as usual (IPython hides the check's frames).

    Returns:
        True when the answer passed, False otherwise.
    """
    __tracebackhide__ = True
    try:
        check(solution)
    except NotImplementedError:
        print(f"{check.__name__}: not done yet - replace `raise NotImplementedError` with your code, "
              "then run the cell again")
        return False
    except LabCheckError as err:
        print(f"not right yet - {err}")
        return False
    return True


def _worker_case() -> tuple[np.ndarray, "CropWindow", np.ndarray]:
    """A hidden LFPW case: 35 worker fiducials in photo pixels, a crop window (scale 2, so a missed
    half-pixel shows), and the 300-W reference (68, 2) of the prepared face."""
    from .human.formats import LFPW_POINTS, LFPW_TO_IBUG68
    from .human.lfpw_test import CropWindow

    rng = np.random.default_rng(17)
    window = CropWindow("exercise", x0=40, y0=25, size=192, out_size=384)
    reference = rng.uniform(80, 300, (68, 2))
    reference[36], reference[45] = [130.0, 170.0], [250.0, 176.0]  # outer eye corners, 120 px apart
    photo_ref = geometry.transform_points(reference, np.linalg.inv(window.matrix))
    worker = rng.uniform(40, 230, (35, 2))  # fiducials without an iBUG twin: anywhere
    for name, i in LFPW_TO_IBUG68.items():
        worker[LFPW_POINTS.index(name)] = photo_ref[i - 1] + rng.normal(0, 1.5, 2)
    return worker, window, reference


def check_worker_nme(my_worker_nme: Callable[[np.ndarray, "CropWindow", np.ndarray], float]) -> None:
    """``my_worker_nme(worker (35, 2), window, reference (68, 2)) -> float``: one LFPW worker's NME on one
    prepared face.

    ``worker``: the 35 LFPW fiducials in the ORIGINAL photo's pixels (``human.LFPW_POINTS`` order);
    ``window``: the face's :class:`~facelandmarks.human.lfpw_test.CropWindow` (``x0, y0, size, out_size``:
    the square of the photo that became the prepared face); ``reference``: the 300-W points of the
    prepared face. Move the worker's points into the prepared face, keep the 17 with an iBUG twin
    (``human.LFPW_TO_IBUG68``, 1-based iBUG numbers), and divide their mean Euclidean distance to the
    reference by the reference's outer-eye-corner distance. The answer must equal the library's
    :func:`facelandmarks.human.compare` for that worker.
    """
    from .human.formats import LFPW_POINTS, LFPW_TO_IBUG68, LfpwAnnotations
    from .human.lfpw_test import Pairing, compare

    worker, window, reference = _worker_case()
    one = np.zeros(1, np.int64)
    pairing = Pairing([window.name], one, one, np.zeros(1), np.zeros(1), np.full(1, np.inf), ["paired"])
    ann = LfpwAnnotations(["hidden"], np.repeat(worker[None, None], 3, axis=1), np.zeros((1, 3, 35), int),
                          worker[None], np.zeros((1, 35), int))
    want = float(compare(pairing, ann, reference[None], {window.name: window}, reference[None])
                 .nme["inter_ocular"]["worker_0"][0])
    got = float(my_worker_nme(worker.copy(), window, reference.copy()))
    if np.isclose(got, want, rtol=1e-6):
        print(f"check_worker_nme: correct ({got:.5f})")
        return
    kept = [LFPW_POINTS.index(n) for n in LFPW_TO_IBUG68]
    ibug = np.array([LFPW_TO_IBUG68[n] - 1 for n in LFPW_TO_IBUG68])
    s = window.out_size / window.size
    io_dist = metrics.normalising_distance(reference, "inter_ocular")

    def nme_of(points: np.ndarray, idx: np.ndarray = ibug, norm: float = io_dist) -> float:
        return float(np.linalg.norm(points[kept] - reference[idx], axis=1).mean() / norm)

    moved = geometry.transform_points(worker, window.matrix)
    mirrored = {n: LFPW_TO_IBUG68[n.replace("left", "@").replace("right", "left").replace("@", "right")]
                for n in LFPW_TO_IBUG68}
    hints = {
        "you compared the photo's pixels with the prepared face's: move the worker's points with the crop "
        "window first (x' = (x - x0 + 0.5) * out_size / size - 0.5, or geometry.transform_points(p, window.matrix))":
            nme_of(worker),
        "you scaled and shifted but forgot the pixel-centre half pixel: x' = (x - x0 + 0.5) * s - 0.5, "
        "not (x - x0) * s": nme_of((worker - [window.x0, window.y0]) * s),
        "you did not scale: the window is size x size photo pixels resized to out_size":
            nme_of(worker - [window.x0, window.y0]),
        "LFPW_TO_IBUG68 holds 1-based iBUG numbers: subtract 1 before indexing the reference":
            nme_of(moved, np.minimum(ibug + 1, 67)),
        "you normalised by the eye centres (inter_pupil); the 300-W normaliser is the outer eye corners":
            nme_of(moved, norm=metrics.normalising_distance(reference, "inter_pupil")),
        "LFPW's 'left' is the image left, iBUG's right: use LFPW_TO_IBUG68, do not match the words":
            nme_of(moved, np.array([mirrored[n] - 1 for n in LFPW_TO_IBUG68])),
        "you forgot to divide by the outer-eye-corner distance": nme_of(moved, norm=1.0),
    }
    for hint, value in hints.items():
        if np.isclose(got, value, rtol=1e-6):
            raise LabCheckError(f"check_worker_nme: got {got:.5f}, expected {want:.5f}: {hint}")
    raise LabCheckError(f"check_worker_nme: got {got:.5f}, expected {want:.5f} (mean distance over the 17 "
                        "corresponding points in the prepared face / the reference's outer-eye-corner distance)")
