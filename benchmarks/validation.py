"""Model choice on the validation faces: per-level NME of a cascade with dlib's detector boxes.

The 201 validation faces are the seed-0 split of the 2,012 training faces (10%,
``datasets.train_val_split``; listed in ``facelandmarks/weights/split.json``); none of the runs trained on them and the test faces are never touched here. Every face
gets dlib's HOG detector box (the boxes ``vs_dlib.py`` and ``ablation.py`` use on the test faces;
faces without a detection get the jittered ground-truth box, as there), so the numbers include what
the detector's box costs level 1. Printed per level, with and without flip averaging, overall and per
landmark group, and the jaw's error split into its part along the jaw contour (tangential: sliding
along the line) and across it (normal). The cascade runs as its level-2 file was trained
(``level1_flip``, ``recrop``, the level-2 file's shape correction, also printed without it: see
``Cascade``); ``--variants`` adds every other combination of the two flags.
Needs the optional extra ``.[dlib]`` for the detector.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/validation.py \\
        facelandmarks/weights/level1_deep.pt facelandmarks/weights/level2_k3.pt [level3.pt] [--flip] [--variants] \\
        [--level1-recrop facelandmarks/weights/level1_recrop.pt]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from facelandmarks import datasets, metrics
from facelandmarks.models.cascade import Cascade, fuse_for_inference
from facelandmarks.schemes import IBUG68
from vs_dlib import hog_boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", type=Path, help="level-1 file, then optional level-2 and level-3 files")
    parser.add_argument("--data", default=None)
    parser.add_argument("--flip", action="store_true", help="also with flip test-time averaging")
    parser.add_argument("--level1-recrop", type=Path, default=None,
                        help="a second-pass level-1 file for the recrop pass (Cascade's level1_recrop)")
    parser.add_argument("--variants", action="store_true",
                        help="every combination of level1_flip and recrop (Cascade), not only the files' own")
    parser.add_argument("--seed", type=int, default=0, help="the validation split's seed (and the fallback boxes')")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if len(args.weights) > 3:
        parser.error("at most three weight files (level 1, level 2, level 3)")
    if args.threads:
        torch.set_num_threads(args.threads)

    _, val = datasets.train_val_split(datasets.split_faces("train", args.data), 0.1, args.seed)
    faces = datasets.FaceSet.load(val, progress=False)
    boxes, fallback, _ = hog_boxes(faces, args.seed)
    cascade = fuse_for_inference(Cascade.from_files(*args.weights, level1_recrop=args.level1_recrop))
    print(f"{len(faces)} validation faces (seed-{args.seed} split of the training faces); dlib HOG boxes "
          f"({int(fallback.sum())} without a detection got a jittered ground-truth box); NME / inter_ocular, 68 points")
    print("weights: " + " + ".join(str(w) for w in args.weights)
          + (f" (recrop pass: {args.level1_recrop})" if args.level1_recrop else "")
          + f"; as trained: level1_flip={cascade.level1_flip}, recrop={cascade.recrop}")
    groups = IBUG68.point_group()
    names = np.unique(groups)
    print(f"{'':22s} {'mean':>7s}  " + " ".join(f"{n:>10s}" for n in names) + "   jaw: along / across the contour")
    jaw = np.flatnonzero(groups == "jaw")
    levels = ["level1_points", "level2_points", "points"][:len(args.weights)]
    own = (cascade.level1_flip, cascade.recrop)
    runs = [(flip, *own, True) for flip in ((False, True) if args.flip else (False,))]
    if args.variants:
        runs = [(False, l1f, rc, True) for l1f in (False, True) for rc in (False, True) if (l1f, rc) != own] + runs
    if cascade.shape_correction is not None:  # the level-2 file's shape correction, and without it
        runs = [(False, *own, False)] + runs
    for flip, level1_flip, recrop, correct in runs:
        result = cascade.predict_batch(faces.images, boxes, "dlib_hog", flip=flip, level1_flip=level1_flip, recrop=recrop,
                                       shape_correction=correct)
        if (level1_flip, recrop) != own or args.variants or not correct:
            print(f"level1_flip={level1_flip}, recrop={recrop}" + (" (as trained)" if (level1_flip, recrop) == own else "")
                  + ("" if correct or cascade.shape_correction is None else ", without the shape correction"))
        for level, name in zip(levels, ("level 1", "+ level 2", "+ level 3")):
            errors = metrics.point_errors(getattr(result, level), faces.points, "inter_ocular", IBUG68)
            along, across = metrics.contour_errors(getattr(result, level), faces.points, jaw)
            label = name + (", flip" if flip else "")
            print(f"{label:22s} {100 * errors.mean():6.2f}%  "
                  + " ".join(f"{100 * errors[:, groups == n].mean():9.2f}%" for n in names)
                  + f"   {100 * along.mean():.2f}% / {100 * across.mean():.2f}%")


if __name__ == "__main__":
    main()
