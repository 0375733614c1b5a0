"""Our cascade vs dlib's 68-point shape predictor on the same faces with the same boxes.

Both methods get dlib's own HOG detector box for each of the 250 HELEN test faces (upsampled once,
best box). Where HOG finds no face, both get the same fallback: the ground-truth points' box
jittered with a fixed seed, mapped to dlib's box convention by the inverse of the fitted mapping
(the count is printed). NME is normalised by the outer-eye-corner distance, 68 points.

Needs the optional extra: ``pip install -e ".[dlib]"`` (dlib's model file from
``face-recognition-models``).

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/vs_dlib.py --out docs/results
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

from facelandmarks import datasets, detect, metrics, viz
from facelandmarks.geometry import points_box
from facelandmarks.models.cascade import load_pretrained


def dlib_model_file() -> Path:
    """dlib's 68-point model file from the ``face-recognition-models`` package (without importing it:
    its ``__init__`` needs ``pkg_resources``, gone from recent setuptools)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('vs_dlib needs dlib\'s model file: pip install -e ".[dlib]"')
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise SystemExit(f"dlib's model file is missing: {path}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = dlib_model_file()

    faces = datasets.load_split("test", args.data, progress=False)
    boxes = np.zeros((len(faces), 4))
    fallback = np.zeros(len(faces), bool)
    jittered = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(args.seed))
    t0 = time.perf_counter()
    for i, image in enumerate(faces.images):
        found = detect.detect_faces(image, "dlib_hog")
        if len(found):
            boxes[i] = found[0]
        else:
            boxes[i] = detect.BOX_MAPPINGS["dlib_hog"].invert(jittered[i])
            fallback[i] = True
    detect_ms = 1000 * (time.perf_counter() - t0) / len(faces)

    import dlib

    predictor = dlib.shape_predictor(str(model))
    dlib_points = np.zeros_like(faces.points)
    t0 = time.perf_counter()
    for i, (image, box) in enumerate(zip(faces.images, boxes)):
        # our box (x0, y0, x1, y1) in continuous coordinates -> dlib's inclusive pixel rectangle
        left, top, right, bottom = np.round([box[0] + 0.5, box[1] + 0.5, box[2] - 0.5, box[3] - 0.5]).astype(int)
        shape = predictor(image, dlib.rectangle(int(left), int(top), int(right), int(bottom)))
        dlib_points[i] = [(shape.part(k).x, shape.part(k).y) for k in range(68)]
    dlib_ms = 1000 * (time.perf_counter() - t0) / len(faces)

    cascade = load_pretrained(fuse=True)
    cascade.predict_batch(faces.images[:1], boxes[:1], box_kind="dlib_hog")  # warm-up
    t0 = time.perf_counter()
    ours_points = np.stack([cascade.predict_batch([im], b[None], box_kind="dlib_hog").points[0]
                            for im, b in zip(faces.images, boxes)])
    ours_ms = 1000 * (time.perf_counter() - t0) / len(faces)
    t0 = time.perf_counter()
    batch_points = cascade.predict_batch(faces.images, boxes, box_kind="dlib_hog").points
    ours_batch_ms = 1000 * (time.perf_counter() - t0) / len(faces)
    assert np.allclose(batch_points, ours_points, atol=1e-2)

    errors = {"dlib shape predictor (ERT)": metrics.nme(dlib_points, faces.points),
              "facelandmarks cascade": metrics.nme(ours_points, faces.points)}
    print(f"{len(faces)} HELEN test faces; boxes: dlib HOG detector ({int(fallback.sum())} faces without a detection "
          f"got the same fallback box for both); NME normalised by inter_ocular (outer eye corners), 68 points; "
          f"failure = NME > 0.08; HOG detection {detect_ms:.1f} ms per face (not included below)")
    for (label, err), ms in zip(errors.items(), (dlib_ms, ours_ms)):
        s = metrics.summary(err)
        print(f"  {label:28s} mean {100 * s['mean']:.2f}%  median {100 * s['median']:.2f}%  AUC@0.08 {s['auc@0.08']:.3f}  "
              f"failure rate {100 * s['failure@0.08']:.1f}%  {ms:.1f} ms per face (one face at a time)")
    ratio = errors["facelandmarks cascade"].mean() / errors["dlib shape predictor (ERT)"].mean()
    print(f"  mean NME ratio ours / dlib = {ratio:.3f}; speed ratio ours / dlib = {ours_ms / dlib_ms:.1f}x the time "
          f"(ours batched: {ours_batch_ms:.1f} ms per face)")

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    viz.plot_ced(errors, threshold=0.08, norm="inter_ocular", ax=ax)
    ax.set_title(f"{len(faces)} HELEN test faces, dlib HOG boxes for both")
    fig.savefig(args.out / "vs_dlib_ced.png", dpi=90, bbox_inches="tight")
    with open(args.out / "vs_dlib_per_face.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "nme_dlib", "nme_ours", "fallback_box"])
        for name, a, b, fb in zip(faces.names, *errors.values(), fallback):
            writer.writerow([name, f"{a:.6f}", f"{b:.6f}", bool(fb)])
    print(f"wrote {args.out / 'vs_dlib_ced.png'} and {args.out / 'vs_dlib_per_face.csv'}")


if __name__ == "__main__":
    main()
