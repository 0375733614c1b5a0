"""The third round of model choice (2026-12-01), on the validation faces only: what it tried and measured.

1. A second-pass level 1 (``facelandmarks train level1 --upright --augment recrop``): level 1 and
   level 2 with and without it, for each level-2 file given; a cheaper first pass (the shallow
   network) and a third pass.
2. Where level 2's remaining bias comes from: on training faces, the cascade's mean error in x (image
   pixels) by face size, and on the mirror images of the same faces.
3. What a constant shift of the final points in x would gain, and the ridge penalty of the shape
   correction (:mod:`facelandmarks.models.shape_correction`), fitted on the training faces.

Every NME is the mean over the 201 validation faces with dlib's HOG boxes (as ``validation.py``);
the test faces are never touched. Needs the optional extra ``.[dlib]``.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/third_round.py \\
        --level1-recrop RUN/level1.pt [RUN2/level1.pt ...] --level2 LEVEL2.pt [LEVEL2b.pt ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from facelandmarks import datasets, metrics
from facelandmarks.datasets import jitter_boxes
from facelandmarks.geometry import hflip_matrix, points_box, transform_points
from facelandmarks.models.cascade import CHUNK, Cascade, fuse_for_inference
from facelandmarks.models.level1 import crop_matrices, recrop_matrices
from facelandmarks.models.pretrained import LEVEL1_WEIGHTS, WEIGHTS_DIR
from facelandmarks.models.shape_correction import fit_shape_correction
from facelandmarks.schemes import IBUG68
from vs_dlib import hog_boxes

DEEP, SHALLOW = WEIGHTS_DIR / LEVEL1_WEIGHTS["deep"], WEIGHTS_DIR / LEVEL1_WEIGHTS["shallow"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--level1-recrop", nargs="+", type=Path, required=True, help="second-pass level-1 files")
    parser.add_argument("--level2", nargs="+", type=Path, required=True,
                        help="level-2 files; the last is used with the last second-pass file for parts 2 and 3")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    train, val = datasets.train_val_split(datasets.split_faces("train", args.data), 0.1, 0)
    faces = datasets.FaceSet.load(val, progress=False)
    boxes, fallback, _ = hog_boxes(faces, 0)
    jaw = IBUG68.point_group() == "jaw"

    def nme(points: np.ndarray, truth: np.ndarray = faces.points, sel=slice(None)) -> float:
        return 100 * float(metrics.point_errors(points, truth, "inter_ocular", IBUG68)[:, sel].mean())

    def report(label: str, result) -> None:
        print(f"{label:88s} level 1 {nme(result.level1_points):5.2f}%  + level 2 {nme(result.points):5.2f}%  "
              f"(jaw {nme(result.points, sel=jaw):5.2f}%, inner {nme(result.points, sel=~jaw):5.2f}%)", flush=True)

    print(f"{len(faces)} validation faces, dlib HOG boxes ({int(fallback.sum())} without a detection: jittered "
          "ground-truth box); NME / inter_ocular; every cascade with recrop + level1_flip")
    print("\n1. The second-pass level 1")
    for level2 in args.level2:
        for second in [None, *args.level1_recrop]:
            cascade = fuse_for_inference(Cascade.from_files(DEEP, level2, level1_recrop=second or False))
            result = cascade.predict_batch(faces.images, boxes, "dlib_hog", shape_correction=False)
            report(f"{level2.parent.name}/{level2.name}, recrop pass by "
                   + (f"{second.parent.name}/{second.name}" if second else "level 1 itself"), result)
    level2, second = args.level2[-1], args.level1_recrop[-1]
    cascade = fuse_for_inference(Cascade.from_files(SHALLOW, level2, level1_recrop=second))
    report("the shallow network for the first pass (cheaper), the second-pass level 1 after it",
           cascade.predict_batch(faces.images, boxes, "dlib_hog", shape_correction=False))
    cascade = fuse_for_inference(Cascade.from_files(DEEP, level2, level1_recrop=second))
    cfg, reference = cascade.level1.config, cascade.level1.mean_shape.double().numpy()
    from facelandmarks.detect import to_landmark_box

    first = cascade._level1(faces.images, crop_matrices(to_landmark_box(boxes, "dlib_hog"), cfg), CHUNK,
                            torch.device("cpu"), mirror=False)[0]
    again = cascade._level1(faces.images, recrop_matrices(first, reference, cfg), CHUNK, torch.device("cpu"),
                            mirror=False, net=cascade.level1_recrop)[0]
    points, mirrored = cascade._level1(faces.images, recrop_matrices(again, reference, cfg), CHUNK,
                                       torch.device("cpu"), mirror=True, net=cascade.level1_recrop)
    third = (points + mirrored) / 2
    print(f"{'a third pass (the second-pass level 1 again, on the crop re-made from its points)':88s} level 1 "
          f"{nme(third):5.2f}%  + level 2 {nme(Cascade._refine(cascade.level2, faces.images, third, CHUNK)[0]):5.2f}%")

    print("\n2. Level 2's bias in x on 600 training faces (jittered ground-truth boxes, as level 2 trained)")
    some = datasets.FaceSet.load(train[:600], progress=False)
    jittered = jitter_boxes(points_box(some.points), np.random.default_rng(0), 0.075, 0.085)
    result = cascade.predict_batch(some.images, jittered, score=False, shape_correction=False)
    rect = result.rectify_matrix
    scale = np.hypot(rect[:, 0, 0], rect[:, 1, 0])  # rectified pixels per image pixel
    in_rect = (transform_points(some.points, rect) - transform_points(result.points, rect)).mean(1)
    print(f"mean error (truth - prediction) over faces and points: x {(some.points - result.points)[..., 0].mean():+.3f} "
          f"px, y {(some.points - result.points)[..., 1].mean():+.3f} px (image)")
    edges = np.quantile(scale, [0, 1 / 3, 2 / 3, 1])
    for lo, hi in zip(edges[:-1], edges[1:]):
        s = (scale >= lo) & (scale <= hi)
        print(f"  faces at {lo:.2f}-{hi:.2f} rectified px per image px: x {in_rect[s, 0].mean():+.3f} rectified px "
              f"= {(in_rect[s, 0] / scale[s]).mean():+.3f} image px")
    perm = list(IBUG68.flip_permutation)
    flips = np.stack([hflip_matrix(im.shape[1]) for im in some.images])
    truth_m = transform_points(some.points, flips)[:, perm]  # the mirror images' points, as a training flip makes them
    mirrored = cascade.predict_batch([im[:, ::-1] for im in some.images], points_box(truth_m), score=False,
                                     shape_correction=False)
    print(f"on the mirror images of the same faces: x {(truth_m - mirrored.points)[..., 0].mean():+.3f} px (image)")

    print("\n3. Moving level 2's points: a constant shift in x, and the shape correction by its ridge penalty")
    plain = cascade.predict_batch(faces.images, boxes, "dlib_hog", shape_correction=False)
    for dx in (0.0, 0.5, 1.0, 1.5):
        print(f"  + {dx:.1f} image px in x: {nme(plain.points + np.array([dx, 0.0])):.2f}%")
    train_faces = datasets.FaceSet.load(train, progress=False)
    runs = [cascade.predict_batch(train_faces.images, jitter_boxes(points_box(train_faces.points),
                                                                    np.random.default_rng([0, v]), 0.075, 0.085),
                                  score=False, shape_correction=False) for v in range(4)]
    pts, rects = np.concatenate([r.level2_points for r in runs]), np.concatenate([r.rectify_matrix for r in runs])
    truth = np.concatenate([train_faces.points] * len(runs))
    for ridge in (1e2, 3e2, 1e3, 3e3, 1e4, 1e5):
        correction = fit_shape_correction(pts, rects, truth, ridge)
        moved = correction.apply(plain.level2_points, plain.rectify_matrix)
        print(f"  shape correction, ridge {ridge:g} ({len(pts)} training predictions): {nme(moved):.2f}% "
              f"(jaw {nme(moved, sel=jaw):.2f}%, inner {nme(moved, sel=~jaw):.2f}%)", flush=True)
    correction = fit_shape_correction(pts, rects, truth, 1e3)
    x = transform_points(plain.level2_points, plain.rectify_matrix) + correction.bias.reshape(-1, 2)
    bias_only = transform_points(x, np.linalg.inv(plain.rectify_matrix))
    print(f"  its bias alone (the mean residual, rectified frame): {nme(bias_only):.2f}%")


if __name__ == "__main__":
    main()
