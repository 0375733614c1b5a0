"""Face-detector recall and speed on the 250 HELEN test faces; box mappings fitted on the training faces.

For every detector of ``facelandmarks.detect``:

1. Fit its :class:`~facelandmarks.detect.BoxMapping` on the 1,207 TRAINING faces (never the test
   faces). Every crop of the data set shows its face at the same size (about 192 px in a 384 px
   image), and a detector's scale pyramid rounds box sizes to its own steps, so a mapping fitted at
   one face size would learn that size's rounding. Each training image is therefore resized by a
   random factor (log-uniform in [2/3, 3/2], fixed seed) first, and its points with it. Per face the
   detection that overlaps the ground-truth points' box most is used if their IoU > 0.3; the
   mapping is the median centre offset and size ratio over those faces, and the residuals after
   mapping are printed (standard deviation and the outlier-robust 1.4826 x MAD).
2. Measure recall on the 250 test faces as they are: a face counts as found when the detector's
   BEST box, mapped to the landmark convention, has IoU >= 0.5 with the box of the 68 ground-truth
   points. Also printed: recall when any box may match, recall at random scales (seeded like the
   fit), time per image (one thread), and the residuals on the test faces found.
3. Print the ``BOX_MAPPINGS`` lines to paste into ``facelandmarks/detect.py``.

``--tune-lbp N`` instead compares settings of scikit-image's cascade on N random training faces
(at random scales), with the false alarms on face-free images: how ``detect.LBP_*`` were chosen.

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 \\
        .venv/bin/python benchmarks/detector_recall.py [--figure docs/figures/detection_boxes.png]
    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 \\
        .venv/bin/python benchmarks/detector_recall.py --tune-lbp 300
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from facelandmarks import datasets, detect, geometry

SCALE_RANGE = (2 / 3, 3 / 2)  # random resizing of the images (log-uniform)
MATCH_IOU = 0.3  # a detection is used for fitting when it overlaps the ground-truth box this much
FOUND_IOU = 0.5  # the recall criterion
LBP_GRID = [(1.1, 1.0), (1.15, 1.0), (1.2, 1.0), (1.25, 1.0), (1.1, 1.5), (1.2, 1.5)]  # (scale_factor, step_ratio)
LBP_SUPPORTS = (1, 2, 3, 4)  # overlapping windows a face needs
NO_FACE_IMAGES = ("coffee", "chelsea", "rocket", "coins", "hubble_deep_field", "immunohistochemistry",
                  "page", "text", "brick", "grass", "gravel", "horse", "moon")


def rescaled(faces: datasets.FaceSet, seed: int) -> datasets.FaceSet:
    """The faces with every image resized by its own random factor (points moved by the same matrix)."""
    rng = np.random.default_rng(seed)
    images, points = [], []
    for image, pts in zip(faces.images, faces.points):
        factor = float(np.exp(rng.uniform(*np.log(SCALE_RANGE))))
        h, w = image.shape[:2]
        nh, nw = round(h * factor), round(w * factor)
        sx, sy = nw / w, nh / h  # extents [-0.5, w - 0.5] -> [-0.5, nw - 0.5]
        m = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
        images.append(geometry.warp_image(image, m, (nh, nw)))
        points.append(geometry.transform_points(pts, m))
    return datasets.FaceSet(faces.names, images, np.stack(points), faces.scheme)


def detections(faces: datasets.FaceSet, name: str) -> tuple[list[np.ndarray], float]:
    """Every image's boxes (detector convention, best first) and the mean seconds per image."""
    t0 = time.perf_counter()
    found = [detect.detect_faces(image, name) for image in faces.images]
    return found, (time.perf_counter() - t0) / len(faces)


def best_match(found: list[np.ndarray], gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face the detection overlapping the ground-truth box most, ``(B, 4)`` (NaN if none), and that IoU."""
    boxes, ious = np.full((len(found), 4), np.nan), np.zeros(len(found))
    for i, (f, g) in enumerate(zip(found, gt)):
        if len(f):
            overlap = detect.box_iou(f, g)
            boxes[i], ious[i] = f[overlap.argmax()], overlap.max()
    return boxes, ious


def residuals(mapped: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Centre error in units of the ground-truth box size (x and y pooled) and log-size error
    (geometric mean of width and height): standard deviations and robust (1.4826 x MAD) spreads."""
    size = gt[:, 2:] - gt[:, :2]
    shift = (((mapped[:, :2] + mapped[:, 2:]) - (gt[:, :2] + gt[:, 2:])) / 2 / size).ravel()
    log_scale = np.log((mapped[:, 2:] - mapped[:, :2]) / size).mean(axis=1)

    def robust(x: np.ndarray) -> float:
        return float(1.4826 * np.median(np.abs(x - np.median(x))))

    return {"shift_std": float(shift.std()), "shift_robust": robust(shift),
            "log_scale_std": float(log_scale.std()), "log_scale_robust": robust(log_scale),
            "shift_bias": float(np.abs(shift.reshape(-1, 2).mean(axis=0)).max()),
            "log_scale_bias": float(log_scale.mean())}


def fit_mapping(found: list[np.ndarray], gt: np.ndarray) -> tuple[detect.BoxMapping, dict[str, float]]:
    """Median centre offset and size ratios of the matched detections; residuals on the same faces."""
    boxes, ious = best_match(found, gt)
    ok = ious > MATCH_IOU
    b, g = boxes[ok], gt[ok]
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    m = detect.BoxMapping(
        dx=float(np.median(((g[:, 0] + g[:, 2]) - (b[:, 0] + b[:, 2])) / 2 / w)),
        dy=float(np.median(((g[:, 1] + g[:, 3]) - (b[:, 1] + b[:, 3])) / 2 / h)),
        sw=float(np.median((g[:, 2] - g[:, 0]) / w)),
        sh=float(np.median((g[:, 3] - g[:, 1]) / h)))
    res = residuals(m.apply(b), g)
    return replace(m, shift_std=round(res["shift_std"], 4), log_scale_std=round(res["log_scale_std"], 4),
                   n=int(ok.sum())), res


def recall(found: list[np.ndarray], gt: np.ndarray, mapping: detect.BoxMapping) -> tuple[np.ndarray, np.ndarray]:
    """Per face: is the mapped best box a hit (IoU >= FOUND_IOU), and is any mapped box a hit."""
    best = np.array([len(f) > 0 and detect.box_iou(mapping.apply(f[0]), g) >= FOUND_IOU for f, g in zip(found, gt)])
    any_ = np.array([len(f) > 0 and (detect.box_iou(mapping.apply(f), g) >= FOUND_IOU).any() for f, g in zip(found, gt)])
    return best, any_


def tune_lbp(faces: datasets.FaceSet) -> None:
    """Recall and speed of scikit-image's cascade per setting, on (rescaled) TRAINING faces, and on how
    many of a few face-free images of ``skimage.data`` it finds a "face" (a false alarm)."""
    from skimage import data as skdata
    from skimage.util import img_as_ubyte

    no_face = [img_as_ubyte(getattr(skdata, n)()) for n in NO_FACE_IMAGES]
    gt = geometry.points_box(faces.points)
    print(f"scikit-image LBP cascade settings on {len(faces)} training faces at random scales (mapping refitted per "
          f"setting on the same faces); recall = best box mapped, IoU >= {FOUND_IOU}; false alarms on "
          f"{len(no_face)} face-free images of skimage.data ({', '.join(NO_FACE_IMAGES)})")
    print("| scale_factor | step_ratio | ms per image | " + " | ".join(f"support >= {k}" for k in LBP_SUPPORTS) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in LBP_SUPPORTS) + " |")
    for scale_factor, step_ratio in LBP_GRID:
        t0 = time.perf_counter()
        windows = [detect._lbp_windows(im, scale_factor, step_ratio) for im in faces.images]
        ms = 1000 * (time.perf_counter() - t0) / len(faces)
        groups = [detect._group(w) if len(w) else (w, np.zeros(0, int)) for w in windows]
        alarms = [detect._group(w)[1] if len(w) else np.zeros(0, int)
                  for w in (detect._lbp_windows(im, scale_factor, step_ratio) for im in no_face)]
        cells = []
        for k in LBP_SUPPORTS:
            found = [boxes[support >= k] for boxes, support in groups]
            mapping, _ = fit_mapping(found, gt)
            hits = recall(found, gt, mapping)[0]
            cells.append(f"{100 * hits.mean():.1f}%, {sum(bool((a >= k).any()) for a in alarms)} false alarms")
        print(f"| {scale_factor} | {step_ratio} | {ms:.0f} | " + " | ".join(cells) + " |", flush=True)


def figure(test: datasets.FaceSet, found: dict[str, list[np.ndarray]], hits: dict[str, np.ndarray], path: str) -> None:
    """A few test faces with the ground-truth box and every detector's raw and mapped best box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facelandmarks import viz

    misses = [i for i in range(len(test)) if not hits[detect.DEFAULT_DETECTOR][i]]
    others = [i for i in range(len(test)) if not all(h[i] for h in hits.values()) and i not in misses]
    chosen = ([0, 1] + misses[:2] + others)[:6]
    colours = dict(zip(found, ("red", "deepskyblue", "orange")))
    fig, axes = plt.subplots(2, 3, figsize=(11, 8.4), layout="constrained")
    for ax, i in zip(axes.ravel(), chosen):
        ax.imshow(test.images[i])
        viz.draw_box(ax, geometry.points_box(test.points[i]), "lime", "68 ground-truth points' box", lw=2)
        for name, boxes in found.items():
            if len(boxes[i]):
                viz.draw_box(ax, boxes[i][0], colours[name], f"{name}: detector box", ls="--")
                viz.draw_box(ax, detect.to_landmark_box(boxes[i][0], name), colours[name], f"{name}: mapped")
        verdict = ", ".join(f"{n} {'found' if hits[n][i] else 'MISSED'}" for n in found)
        ax.set_title(f"{test.names[i]}\n{verdict}", fontsize=8)
        ax.axis("off")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"HELEN test faces: best detection (dashed), mapped to the landmark box (solid); "
                 f"found = mapped IoU >= {FOUND_IOU}", fontsize=10)
    fig.savefig(path, dpi=64)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA)")
    parser.add_argument("--detectors", nargs="+", default=list(detect.DETECTORS), choices=detect.DETECTORS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random scales (training; test uses seed + 1)")
    parser.add_argument("--no-fit", action="store_true", help="use the mappings in detect.py instead of fitting")
    parser.add_argument("--limit", type=int, default=None, help="only the first faces of each split (quick runs)")
    parser.add_argument("--split", default="test", choices=sorted(datasets.SPLITS),
                        help="the test faces (default: test = common, LFPW + HELEN test; helen: HELEN test only)")
    parser.add_argument("--figure", default=None, help="write a PNG of a few test faces with their boxes")
    parser.add_argument("--tune-lbp", type=int, default=None, metavar="N",
                        help="only compare scikit-image cascade settings on N random training faces, then stop")
    args = parser.parse_args()
    if args.tune_lbp:
        train = datasets.split_faces("train", args.data)
        chosen = np.random.default_rng(args.seed).choice(len(train), args.tune_lbp, replace=False)
        tune_lbp(rescaled(datasets.FaceSet.load([train[i] for i in sorted(chosen)], progress=False), args.seed))
        return

    test = datasets.load_split(args.split, args.data, limit=args.limit, progress=False)
    test_gt = geometry.points_box(test.points)
    test_scaled = rescaled(test, args.seed + 1)
    train = None if args.no_fit else rescaled(datasets.load_split("train", args.data, limit=args.limit, progress=False),
                                             args.seed)
    print(f"criterion: a test face counts as found when the detector's best box, mapped to the landmark-box "
          f"convention, has IoU >= {FOUND_IOU} with the tight box of its 68 ground-truth points")
    rows, lines, found_all, hits_all = [], [], {}, {}
    for name in args.detectors:
        try:
            detect.detect_faces(test.images[0], name)  # loads the model; fails early without dlib
        except ImportError as err:
            print(f"{name}: skipped ({err})")
            continue
        if train is not None:
            found, seconds = detections(train, name)
            mapping, res = fit_mapping(found, geometry.points_box(train.points))
            detect.BOX_MAPPINGS[name] = mapping
            lines.append(f'    "{name}": BoxMapping(dx={mapping.dx:.4f}, dy={mapping.dy:.4f}, sw={mapping.sw:.4f}, '
                         f"sh={mapping.sh:.4f}, shift_std={mapping.shift_std:.4f}, "
                         f"log_scale_std={mapping.log_scale_std:.4f}, n={mapping.n}),")
            print(f"{name}: mapping fitted on {mapping.n} of {len(train)} training faces at random scales "
                  f"({1000 * seconds:.0f} ms per image); residuals after mapping, in units of the landmark box: "
                  f"centre shift std {res['shift_std']:.3f} (robust {res['shift_robust']:.3f}), "
                  f"log-size std {res['log_scale_std']:.3f} (robust {res['log_scale_robust']:.3f})", flush=True)
        found, seconds = detections(test, name)
        best, any_ = recall(found, test_gt, detect.BOX_MAPPINGS[name])
        scaled_best, _ = recall(detections(test_scaled, name)[0], geometry.points_box(test_scaled.points),
                                detect.BOX_MAPPINGS[name])
        mapped = np.array([detect.to_landmark_box(f[0], name) for f, hit in zip(found, best) if hit]).reshape(-1, 4)
        res = residuals(mapped, test_gt[best])
        found_all[name], hits_all[name] = found, best
        rows.append(f"| {name:11s} | {100 * best.mean():5.1f}% ({best.sum()}) | {100 * any_.mean():5.1f}% | "
                    f"{100 * scaled_best.mean():5.1f}% | {1000 * seconds:5.0f} | {res['shift_std']:.3f} "
                    f"({res['shift_robust']:.3f}) | {res['log_scale_std']:.3f} ({res['log_scale_robust']:.3f}) |")
        print(f"{name}: {len(test)} test faces done", flush=True)
    print(f"\n{len(test)} HELEN test faces (384x384); residuals on the faces found, in units of the landmark box: "
          f"std (robust 1.4826 x MAD)")
    print("| detector    | recall, best box | any box | at random scales | ms per image | centre shift | log-size |")
    print("| ---         | ---              | ---     | ---              | ---          | ---          | ---      |")
    print("\n".join(rows))
    if lines:
        print("\nBOX_MAPPINGS lines for facelandmarks/detect.py (fitted on training faces only):")
        print("\n".join(lines))
    if args.figure and found_all:
        figure(test, found_all, hits_all, args.figure)


if __name__ == "__main__":
    main()
