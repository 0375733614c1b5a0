"""Fit and measure the per-face confidence score (facelandmarks.models.confidence); rerun after retraining.

Faces: the seed-0 validation split of the training faces (datasets.train_val_split, the faces listed
under "val" in facelandmarks/weights/split.json; never test faces), each predicted from its
ground-truth box jittered as in training (seed 0), plus failures made from them:

* rotated in-plane by 20, 40, 60, 90 and 180 degrees about the face centre (training saw at most
  30 degrees on top of the photos' own tilt), box = the rotated points' box, jittered;
* heavily occluded: a grey rectangle over a random 60% x 60% of the face box;
* non-faces: 10 random boxes (60-250 px) in each of 12 face-free images of skimage.data.

A face is "wrong" when its NME (outer-eye-corner distance, 68 points) exceeds 0.08; every non-face is
wrong. For every candidate source the script prints its AUROC for "wrong" (the agreement of level 2's
votes, level 2's shift of the level-1 points, the distance to the mean shape, flip consistency, and
dlib's detector score), then fits the logistic score on the single-pass sources with 2-fold
cross-validation split by face (AUROC of held-out folds), refits on everything and writes
facelandmarks/weights/confidence.json (with --write) together with the suggested threshold.

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/confidence.py --write
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace

import numpy as np
import skimage.data
import torch

from facelandmarks import datasets, detect, load_pretrained, metrics
from facelandmarks.models import confidence
from facelandmarks.geometry import hflip_matrix, points_box, similarity_matrix, transform_points, translation_matrix, warp_image
from facelandmarks.schemes import IBUG68

ANGLES = (20, 40, 60, 90, 180)
NON_FACE_IMAGES = ("coffee", "rocket", "coins", "hubble_deep_field", "immunohistochemistry", "page", "text",
                   "brick", "grass", "gravel", "moon", "horse")
THRESHOLD = 0.08


def rotate(image: np.ndarray, points: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    cx, cy = points_box(points).reshape(2, 2).mean(axis=0)
    m = translation_matrix(cx, cy) @ similarity_matrix(1.0, math.radians(degrees)) @ translation_matrix(-cx, -cy)
    return warp_image(image, m, image.shape[:2]), transform_points(points, m)


def occlude(image: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = points_box(points)
    w, h = 0.6 * (x1 - x0), 0.6 * (y1 - y0)
    ox, oy = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - h)
    out = image.copy()
    out[max(0, int(oy)):int(oy + h), max(0, int(ox)):int(ox + w)] = 128
    return out


def build_cases(faces: datasets.FaceSet, rng: np.random.Generator) -> list[dict]:
    cases = []
    for i, (name, image, pts) in enumerate(zip(faces.names, faces.images, faces.points)):
        cases.append({"kind": "clean", "group": i, "image": image, "points": pts})
        for a in ANGLES:
            im, p = rotate(image, pts, a)
            cases.append({"kind": f"rotated {a}", "group": i, "image": im, "points": p})
        cases.append({"kind": "occluded 60%", "group": i, "image": occlude(image, pts, rng), "points": pts})
    for j, name in enumerate(NON_FACE_IMAGES):
        image = getattr(skimage.data, name)()
        image = image.astype(np.uint8) * 255 if image.dtype == bool else image
        image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
        h, w = image.shape[:2]
        for _ in range(10):
            s = rng.uniform(60, min(250, h, w))
            x0, y0 = rng.uniform(0, w - s), rng.uniform(0, h - s)
            cases.append({"kind": "non-face", "group": len(faces) + j, "image": image, "points": None,
                          "box": np.array([x0, y0, x0 + s, y0 + s])})
    for c in cases:
        if c["points"] is not None:
            c["box"] = datasets.jitter_boxes(points_box(c["points"])[None], rng)[0]
    return cases


def flip_disagreement(cascade, images: list[np.ndarray], boxes: np.ndarray, plain: np.ndarray,
                      use_level2: bool = True) -> np.ndarray:
    widths = np.array([im.shape[1] for im in images], dtype=np.float64)
    mboxes = np.stack([widths - 1 - boxes[:, 2], boxes[:, 1], widths - 1 - boxes[:, 0], boxes[:, 3]], axis=1)
    mirrored = cascade.predict_batch([im[:, ::-1] for im in images], mboxes, use_level2=use_level2).points
    back = np.stack([transform_points(m, hflip_matrix(int(w))) for m, w in zip(mirrored, widths)])[:, list(IBUG68.flip_permutation)]
    size = np.sqrt(np.prod(np.diff(points_box(plain).reshape(-1, 2, 2), axis=1)[:, 0], axis=1))
    return np.linalg.norm(back - plain, axis=-1).mean(-1) / size


def detector_support(cases: list[dict]) -> np.ndarray:
    """dlib's best score among its boxes that overlap the face box (IoU > 0.3, landmark convention); -1 if none."""
    out = np.full(len(cases), -1.0)
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, c in enumerate(cases):
        key = id(c["image"])
        if key not in cache:
            cache[key] = detect.detect_faces(c["image"], "dlib_hog", return_scores=True)
        boxes, scores = cache[key]
        if len(boxes):
            iou = detect.box_iou(detect.to_landmark_box(boxes, "dlib_hog"), c["box"][None])
            if (iou > 0.3).any():
                out[k] = scores[iou > 0.3].max()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="only the first N validation faces (quick runs)")
    parser.add_argument("--write", action="store_true", help="write facelandmarks/weights/confidence.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    _, val = datasets.train_val_split(datasets.split_faces("train", args.data), 0.1, 0)
    if args.limit:
        val = val[:args.limit]
    faces = datasets.FaceSet.load(val, progress=False)
    rng = np.random.default_rng(args.seed)
    cases = build_cases(faces, rng)
    cascade = load_pretrained()
    images = [c["image"] for c in cases]
    boxes = np.stack([c["box"] for c in cases])
    batch = cascade.predict_batch(images, boxes)
    feats = confidence.features(cascade.level2, batch, cascade.level1_flip)  # as Cascade._score computes them
    kinds = np.array([c["kind"] for c in cases])
    groups = np.array([c["group"] for c in cases])
    nme = np.full(len(cases), np.inf)
    has_truth = np.array([c["points"] is not None for c in cases])
    truth = np.stack([c["points"] for c in cases if c["points"] is not None])
    nme[has_truth] = metrics.nme(batch.points[has_truth], truth)
    wrong = nme > THRESHOLD
    flip = flip_disagreement(cascade, images, boxes, batch.points)
    det = detector_support(cases)
    print(f"{len(faces)} validation faces (seed-0 split of the training faces) -> {len(cases)} cases "
          f"({int(wrong.sum())} wrong: NME > {THRESHOLD} by inter_ocular, or a non-face); "
          f"boxes: ground truth jittered (seed {args.seed})")
    print("cases by kind: " + ", ".join(f"{k} {int((kinds == k).sum())} ({int(wrong[kinds == k].sum())} wrong, "
                                       f"median NME {np.median(nme[kinds == k]):.3f})" for k in dict.fromkeys(kinds)))
    print("\nAUROC for 'wrong' of each candidate (higher value = more likely wrong; flip_level1 costs one "
          "level-1 pass, the full flip disagreement a whole second prediction):")
    candidates = {name: feats[:, j] for j, name in enumerate(confidence.FEATURES)}
    candidates["flip disagreement (second pass)"] = flip
    candidates["dlib score at the box (-1 if none)"] = -det
    for name, values in candidates.items():
        print(f"  {name:38s} {metrics.auroc(values, wrong):.3f}")

    # logistic score on the single-pass features: choose the subset by held-out AUROC (2 folds by face)
    fold = np.random.default_rng(args.seed).permutation(groups.max() + 1)[groups] % 2
    subsets = [("flip_level1",), ("vote_spread",), ("refine_shift",), ("shape_residual",),
               ("vote_spread", "refine_shift", "shape_residual"), ("flip_level1", "refine_shift"),
               ("flip_level1", "vote_spread", "refine_shift"), confidence.FEATURES]

    def fit(subset: tuple[str, ...], keep: np.ndarray) -> confidence.ConfidenceParams:
        cols = [confidence.FEATURES.index(f) for f in subset]
        x = np.log(np.maximum(feats[keep][:, cols], 1e-6))
        mean, std = x.mean(axis=0), x.std(axis=0)
        w, b = confidence.fit_logistic((x - mean) / std, ~wrong[keep])
        return confidence.ConfidenceParams(tuple(subset), tuple(mean.tolist()), tuple(std.tolist()),
                                           tuple(w.tolist()), b, 0.5)

    print("\nlogistic score, held-out AUROC (2 folds split by face):")
    results = []
    for subset in subsets:
        held = np.zeros(len(cases))
        for f in (0, 1):
            held[fold == f] = confidence.score(feats[fold == f], fit(subset, fold != f))
        results.append((metrics.auroc(-held, wrong), subset, held))
        print(f"  {' + '.join(subset):45s} {results[-1][0]:.3f}")
    best_auc, best, held = max(results, key=lambda r: (round(r[0], 3), -len(r[1])))
    # threshold: the held-out score that maximises (share of wrong caught) - (share of right flagged)
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    youden = [((held[wrong] < t).mean() - (held[~wrong] < t).mean(), t) for t in grid]
    threshold = float(max(youden)[1])
    print(f"\nchosen: {' + '.join(best)} (held-out AUROC {best_auc:.3f}); per threshold (held-out scores):")
    for t in sorted({0.3, 0.5, threshold, 0.7}):
        clean = kinds == "clean"
        print(f"  score < {t:.2f}: catches {100 * (held[wrong] < t).mean():.1f}% of the wrong, flags "
              f"{100 * (held[~wrong] < t).mean():.1f}% of the right ones and {100 * (held[clean] < t).mean():.1f}% "
              f"of the clean validation faces" + ("  <- suggested (max caught - flagged)" if t == threshold else ""))
    for k in dict.fromkeys(kinds):
        sel = kinds == k
        print(f"  {k:14s} median score {np.median(held[sel]):.2f}, below {threshold:.2f}: {100 * (held[sel] < threshold).mean():.0f}%")
    clean = kinds == "clean"
    bgr = cascade.predict_batch([im[..., ::-1] for im in faces.images], boxes[clean], score=False).points
    nme_bgr = metrics.nme(bgr, faces.points)
    print(f"\nchannel order on the {len(faces)} clean validation faces: RGB mean NME {nme[clean].mean():.4f}, "
          f"BGR (an OpenCV array passed as it is) {nme_bgr.mean():.4f} (x{nme_bgr.mean() / nme[clean].mean():.2f}); "
          f"failures > 0.08: RGB {int((nme[clean] > THRESHOLD).sum())}, BGR {int((nme_bgr > THRESHOLD).sum())}")
    params = replace(fit(best, np.ones(len(cases), bool)), threshold=threshold,
                     made_by="benchmarks/confidence.py --write" + (f" --limit {args.limit}" if args.limit else ""))
    if args.write:
        print(f"wrote {confidence.save_params(params)}")
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
