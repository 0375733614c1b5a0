"""Where level 2 starts from: the level-1 variants measured for ``recrop`` and ``level1_flip``.

On the 201 validation faces with dlib's HOG boxes (as ``benchmarks/validation.py``; never the test
faces), mean NME (inter_ocular) of level 1 and of level 2 run from it, for:

* the ground-truth landmark box instead of dlib's (an upper bound: that box knows where the true
  points are, so no method can have it);
* level 1 once (the paper), ``level1_flip`` alone, ``recrop`` alone and both (the shipped default);
* the re-made crop axis-aligned around the first points' tight box instead of turned upright;
* a third level-1 pass (the crop re-made once more);
* the crop re-made from level 2's points, then level 1 and level 2 again (twice the time);
* level 2 applied twice;
* the final points blended with level 1's;
* a PCA shape prior: the final points, similarity-aligned to level 2's canonical shape, projected
  onto the first M principal components of the training faces' aligned shapes (M = 20 ... 80).

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/level1_starts.py \\
        [LEVEL1.pt LEVEL2.pt]   (default: the shipped files)

Needs the optional extra ``.[dlib]`` for the detector.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from facelandmarks import datasets, metrics
from facelandmarks.detect import to_landmark_box
from facelandmarks.geometry import fit_similarity, points_box, transform_points
from facelandmarks.models.cascade import CHUNK, Cascade, fuse_for_inference
from facelandmarks.models.level1 import crop_matrices, recrop_matrices
from facelandmarks.models.pretrained import LEVEL1_WEIGHTS, LEVEL2_WEIGHTS, WEIGHTS_DIR
from facelandmarks.schemes import IBUG68
from vs_dlib import hog_boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="*", type=Path,
                        default=[WEIGHTS_DIR / LEVEL1_WEIGHTS["deep"], WEIGHTS_DIR / LEVEL2_WEIGHTS["k3"]])
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    train, val = datasets.train_val_split(datasets.split_faces("train", args.data), 0.1, 0)
    faces = datasets.FaceSet.load(val, progress=False)
    boxes, fallback, _ = hog_boxes(faces, 0)
    landmark_boxes = to_landmark_box(boxes, "dlib_hog")
    cascade = fuse_for_inference(Cascade.from_files(*args.weights))
    images, gt, cfg = faces.images, faces.points, cascade.level1.config
    reference = cascade.level1.mean_shape.double().numpy()
    dev = torch.device("cpu")

    def nme(points: np.ndarray) -> float:
        return 100 * float(metrics.point_errors(points, gt, "inter_ocular", IBUG68).mean())

    def level1(crop_m: np.ndarray) -> np.ndarray:  # level 1 with level1_flip on these crops
        points, mirrored = cascade._level1(images, crop_m, CHUNK, dev, mirror=True)
        return (points + mirrored) / 2

    def level2(start: np.ndarray) -> np.ndarray:
        return cascade._refine(cascade.level2, images, start, CHUNK)[0]

    print(f"{len(faces)} validation faces (seed-0 split), dlib HOG boxes ({int(fallback.sum())} without a "
          f"detection: jittered ground-truth box); NME / inter_ocular; weights: "
          + " + ".join(str(w) for w in args.weights))
    print(f"{'start of level 2':72s} {'level 1':>8s} {'+ level 2':>10s}")

    def row(label: str, start: np.ndarray) -> np.ndarray:
        refined = level2(start)
        print(f"{label:72s} {nme(start):7.2f}% {nme(refined):9.2f}%", flush=True)
        return refined

    row("ground-truth landmark box (upper bound), level1_flip", level1(crop_matrices(points_box(gt), cfg)))
    first = cascade._level1(images, crop_matrices(landmark_boxes, cfg), CHUNK, dev, mirror=False)[0]
    row("dlib box, level 1 once (the paper)", first)
    row("dlib box, level1_flip", level1(crop_matrices(landmark_boxes, cfg)))
    recrop_once = cascade._level1(images, recrop_matrices(first, reference, cfg), CHUNK, dev, mirror=False)[0]
    row("recrop (upright, tight box of the first points)", recrop_once)
    both = level1(recrop_matrices(first, reference, cfg))
    final = row("recrop + level1_flip (the shipped default)", both)
    row("recrop axis-aligned (tight box, not turned) + level1_flip", level1(crop_matrices(points_box(first), cfg)))
    row("a third pass: recrop from the recropped points + level1_flip", level1(recrop_matrices(both, reference, cfg)))
    again = level1(recrop_matrices(final, reference, cfg))
    row("crop re-made from level 2's points + level1_flip (then level 2 again)", again)
    print(f"{'level 2 applied twice (from the shipped default)':72s} {'':8s} {nme(level2(final)):9.2f}%")
    for weight in (0.1, 0.2):
        print(f"{f'final points blended with level 1 (weight {weight})':72s} {'':8s} "
              f"{nme(final + weight * (both - final)):9.2f}%")
    canonical = cascade.level2.canonical.double().numpy()
    train_points = datasets.FaceSet.load(train, progress=False).points
    aligned = transform_points(train_points, fit_similarity(train_points, canonical))
    mean = aligned.mean(0)
    _, _, basis = np.linalg.svd((aligned - mean).reshape(len(aligned), -1), full_matrices=False)
    fit = fit_similarity(final, canonical)
    shape = transform_points(final, fit) - mean
    for m in (20, 30, 40, 50, 60, 80):
        projected = ((shape.reshape(len(shape), -1) @ basis[:m].T) @ basis[:m]).reshape(shape.shape) + mean
        print(f"{f'PCA shape prior on the final points, {m} components':72s} {'':8s} "
              f"{nme(transform_points(projected, np.linalg.inv(fit))):9.2f}%")


if __name__ == "__main__":
    main()
