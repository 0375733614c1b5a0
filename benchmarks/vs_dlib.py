"""Our cascade vs dlib's 68-point shape predictor on the same faces with the same boxes.

Both methods get dlib's own HOG detector box (``detect.detect_faces(image, "dlib_hog")``: upsampled
once, best-scoring box) for each of the 250 HELEN test faces: dlib's predictor takes it as it is,
our cascade as ``box_kind="dlib_hog"`` (it maps it to its landmark-box convention itself). Where HOG
finds no face, both get the same fallback box: the ground-truth points' box jittered with a fixed
seed (``datasets.jitter_boxes``, std 0.05 of the size for the centre and the log-size), mapped to
dlib's box convention by the inverse of the fitted mapping (``BOX_MAPPINGS["dlib_hog"].invert``);
how many faces got it is printed, and every number is also given over the faces with a detection.
dlib's points are 0-based pixel indices, our convention already (shifting them by -0.5 or -1 px
makes them worse, so no shift is applied). NME: normalised by the outer-eye-corner distance
(inter_ocular, points 37 and 46), 68 points, failure = NME > 0.08. dlib's model was trained on
300-W's training part (AFW, HELEN and LFPW training images), not on these test faces.

Needs the optional extra: ``pip install -e ".[dlib]"`` (dlib's model file from
``face-recognition-models``). Writes ``vs_dlib_ced.png`` and ``vs_dlib_per_face.csv`` to ``--out``.

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 \\
        .venv/bin/python benchmarks/vs_dlib.py --out docs/results [--only dlib] [--backend onnxruntime]
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from facelandmarks import datasets, detect, metrics, viz
from facelandmarks.geometry import points_box

DLIB = "dlib shape predictor (ERT)"
OURS = "facelandmarks cascade"
THRESHOLD = 0.08


def hog_boxes(faces: datasets.FaceSet, seed: int, detector: str = "dlib_hog") -> tuple[np.ndarray, np.ndarray, float]:
    """dlib-convention boxes ``(B, 4)`` for every face, the fallback mask ``(B,)``, ms per image of detection."""
    jittered = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(seed))
    boxes = detect.BOX_MAPPINGS[detector].invert(jittered)  # (B, 4) fallback, dlib's convention
    fallback = np.ones(len(faces), bool)
    t0 = time.perf_counter()
    for i, image in enumerate(faces.images):
        found = detect.detect_faces(image, detector)
        if len(found):
            boxes[i], fallback[i] = found[0], False
    return boxes, fallback, 1000 * (time.perf_counter() - t0) / len(faces)


def predict_dlib(faces: datasets.FaceSet, boxes: np.ndarray) -> tuple[np.ndarray, float]:
    """dlib's points ``(B, 68, 2)`` and ms per face (one face at a time, one thread)."""
    try:
        detect.dlib_model_file()
    except ImportError as err:
        raise SystemExit(f"vs_dlib: {err}") from None
    detect.dlib_points(faces.images[0], boxes[0])  # load the model outside the timing
    t0 = time.perf_counter()
    points = np.stack([detect.dlib_points(image, box, name) for image, box, name in zip(faces.images, boxes, faces.names)])
    return points, 1000 * (time.perf_counter() - t0) / len(faces)


def predict_ours(faces: datasets.FaceSet, boxes: np.ndarray, backend: str = "torch",
                 box_kind: str = "dlib_hog") -> tuple[np.ndarray, float, float]:
    """The shipped cascade's points ``(B, 68, 2)``, ms per face one at a time, and ms per face batched;
    its networks run by ``backend`` (``"torch"``, fused, or ``"onnxruntime"``)."""
    from facelandmarks import load_pretrained

    cascade = load_pretrained(fuse=True) if backend == "torch" else load_pretrained(backend=backend)
    cascade.predict_batch(faces.images[:1], boxes[:1], box_kind=box_kind)  # warm-up
    t0 = time.perf_counter()
    points = np.stack([cascade.predict_batch([image], box[None], box_kind=box_kind).points[0]
                       for image, box in zip(faces.images, boxes)])
    one_ms = 1000 * (time.perf_counter() - t0) / len(faces)
    t0 = time.perf_counter()
    batched = cascade.predict_batch(faces.images, boxes, box_kind=box_kind).points
    batch_ms = 1000 * (time.perf_counter() - t0) / len(faces)
    if not np.allclose(batched, points, atol=1e-2):
        raise RuntimeError("batched and one-at-a-time predictions differ")
    return points, one_ms, batch_ms


def line(label: str, errors: np.ndarray, ms: float) -> str:
    s = metrics.summary(errors, THRESHOLD)
    return (f"  {label:28s} mean {100 * s['mean']:.2f}%  median {100 * s['median']:.2f}%  "
            f"AUC@{THRESHOLD:g} {s[f'auc@{THRESHOLD:g}']:.3f}  failure rate {100 * s[f'failure@{THRESHOLD:g}']:.1f}%  "
            f"{ms:.1f} ms per face")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA)")
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="folder for the CED plot and the CSV")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fallback boxes' jitter")
    parser.add_argument("--only", choices=("dlib", "ours"), default=None, help="run one method only")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for our cascade (dlib uses one)")
    parser.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                        help="what runs our cascade's networks (onnxruntime: pip install -e \".[onnx]\")")
    parser.add_argument("--detector", choices=("dlib_hog", "dlib_hog_fast"), default="dlib_hog",
                        help="dlib's HOG detector upsampled once (its own predictor's convention), or not "
                             "upsampled unless needed (faster, coarser boxes; docs/detection.md)")
    parser.add_argument("--limit", type=int, default=None, help="only the first test faces (quick runs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    faces = datasets.load_split("test", args.data, limit=args.limit, progress=False)
    boxes, fallback, detect_ms = hog_boxes(faces, args.seed, args.detector)
    errors, ms = {}, {}
    if args.only != "ours":
        points, ms[DLIB] = predict_dlib(faces, boxes)
        errors[DLIB] = metrics.nme(points, faces.points, "inter_ocular")
    batch_ms = None
    if args.only != "dlib":
        points, ms[OURS], batch_ms = predict_ours(faces, boxes, args.backend, args.detector)
        errors[OURS] = metrics.nme(points, faces.points, "inter_ocular")

    detected = ~fallback
    print(f"{len(faces)} HELEN test faces, the same boxes for every method: dlib's HOG detector box ({args.detector}) "
          f"({detected.sum()} faces; {fallback.sum()} without a detection got the ground-truth box jittered "
          f"with seed {args.seed}, mapped to dlib's box convention). NME normalised by inter_ocular (outer eye "
          f"corners, points 37 and 46), 68 points; failure = NME > {THRESHOLD:g}. Time per face excludes the "
          f"detection ({detect_ms:.1f} ms per image); dlib one thread, ours {args.threads} torch thread(s) "
          f"{'' if args.backend == 'torch' else '(warps; networks on ONNX Runtime, 1 thread) '}"
          f"one face at a time.")
    for label in errors:
        print(line(label, errors[label], ms[label]))
    print(f"over the {detected.sum()} faces with a detection only:")
    for label in errors:
        print(line(label, errors[label][detected], ms[label]))
    if len(errors) == 2:
        ratio = errors[OURS].mean() / errors[DLIB].mean()
        ratio_det = errors[OURS][detected].mean() / errors[DLIB][detected].mean()
        print(f"  mean NME ratio ours / dlib = {ratio:.3f} ({ratio_det:.3f} over the faces with a detection); "
              f"time ratio ours / dlib = {ms[OURS] / ms[DLIB]:.1f} (ours batched: {batch_ms:.1f} ms per face)")

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    viz.plot_ced(errors, threshold=THRESHOLD, norm="inter_ocular", ax=ax)
    ax.set_title(f"{len(faces)} HELEN test faces, dlib's HOG boxes for both ({fallback.sum()} fallback boxes)", fontsize=9)
    fig.savefig(args.out / "vs_dlib_ced.png", dpi=90, bbox_inches="tight")
    with open(args.out / "vs_dlib_per_face.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", *(f"nme_{'dlib' if k == DLIB else 'ours'}" for k in errors), "fallback_box"])
        for i, name in enumerate(faces.names):
            writer.writerow([name, *(f"{e[i]:.6f}" for e in errors.values()), bool(fallback[i])])
    print(f"wrote {args.out / 'vs_dlib_ced.png'} and {args.out / 'vs_dlib_per_face.csv'}")


if __name__ == "__main__":
    main()
