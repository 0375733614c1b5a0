"""Face-detector recall on the 250 HELEN test faces, speed, and the box mappings fitted on training faces.

A test face counts as found when the detector's best box, mapped to the landmark-box convention,
has IoU >= 0.5 with the box of the 68 ground-truth points. The mapping of each detector
(``facelandmarks.detect.BoxMapping``) is fitted on the TRAINING faces only (medians of the
centre offset and size ratios over the faces whose raw best box overlaps the ground truth with
IoU > 0.3), and printed to paste into ``detect.BOX_MAPPINGS``.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/detector_recall.py [--fit]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from facelandmarks import datasets, detect
from facelandmarks.geometry import points_box


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def best_boxes(faces: datasets.FaceSet, name: str) -> tuple[np.ndarray, float]:
    boxes = np.full((len(faces), 4), np.nan)
    t0 = time.perf_counter()
    for i, image in enumerate(faces.images):
        found = detect.detect_faces(image, name)
        if len(found):
            boxes[i] = found[0]
    return boxes, (time.perf_counter() - t0) / len(faces)


def fit_mapping(boxes: np.ndarray, gt_boxes: np.ndarray) -> detect.BoxMapping:
    ok = np.array([not np.isnan(b[0]) and iou(b, g) > 0.3 for b, g in zip(boxes, gt_boxes)])
    b, g = boxes[ok], gt_boxes[ok]
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    dx = ((g[:, 0] + g[:, 2]) - (b[:, 0] + b[:, 2])) / 2 / w
    dy = ((g[:, 1] + g[:, 3]) - (b[:, 1] + b[:, 3])) / 2 / h
    sw, sh = (g[:, 2] - g[:, 0]) / w, (g[:, 3] - g[:, 1]) / h
    m = detect.BoxMapping(float(np.median(dx)), float(np.median(dy)), float(np.median(sw)), float(np.median(sh)))
    mapped = m.apply(b)
    size = g[:, 2:] - g[:, :2]
    shift = (((mapped[:, :2] + mapped[:, 2:]) - (g[:, :2] + g[:, 2:])) / 2) / size
    log_scale = np.log((mapped[:, 2] - mapped[:, 0]) / size[:, 0])
    return detect.BoxMapping(m.dx, m.dy, m.sw, m.sh, float(shift.std()), float(log_scale.std()), int(ok.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--fit", action="store_true", help="fit the box mappings on the training faces first")
    parser.add_argument("--detectors", nargs="+", default=list(detect.DETECTORS))
    args = parser.parse_args()
    test = datasets.load_split("test", args.data, progress=False)
    train = datasets.load_split("train", args.data, progress=False) if args.fit else None
    for name in args.detectors:
        try:
            detect.detect_faces(test.images[0], name)
        except ImportError as err:
            print(f"{name}: skipped ({err})")
            continue
        if train is not None:
            boxes, _ = best_boxes(train, name)
            m = fit_mapping(boxes, points_box(train.points))
            detect.BOX_MAPPINGS[name] = m
            print(f'    "{name}": BoxMapping(dx={m.dx:.4f}, dy={m.dy:.4f}, sw={m.sw:.4f}, sh={m.sh:.4f}, '
                  f"shift_std={m.shift_std:.4f}, log_scale_std={m.log_scale_std:.4f}, n={m.n}),")
        boxes, seconds = best_boxes(test, name)
        gt = points_box(test.points)
        found = [not np.isnan(b[0]) and iou(detect.to_landmark_box(b, name), g) >= 0.5 for b, g in zip(boxes, gt)]
        print(f"{name}: recall {np.mean(found):.3f} ({sum(found)} of {len(test)} HELEN test faces: best box, mapped, "
              f"IoU >= 0.5 with the ground-truth points' box), {1000 * seconds:.0f} ms per 384x384 image")


if __name__ == "__main__":
    main()
