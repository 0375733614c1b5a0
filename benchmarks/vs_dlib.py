"""Our cascade vs dlib's 68-point shape predictor on the same faces with the same boxes.

Both methods get dlib's own HOG detector box (``detect.detect_faces(image, "dlib_hog")``: upsampled
once, first box) for each of the 400 test faces of the ``common`` split (150 LFPW test + 250 HELEN
test faces; 300-W's full common subset has 554): dlib's predictor takes it as it is,
our cascade as ``box_kind="dlib_hog"`` (it maps it to its landmark-box convention itself). Where HOG
finds no face, both get the same fallback box: the ground-truth points' box jittered with a fixed
seed (``datasets.jitter_boxes``, std 0.05 of the size for the centre and the log-size), mapped to
dlib's box convention by the inverse of the fitted mapping (``BOX_MAPPINGS["dlib_hog"].invert``);
how many faces got it is printed, and every number is also given over the faces with a detection.
dlib's points are 0-based pixel indices, our convention already (shifting them by -0.5 or -1 px
makes them worse, so no shift is applied). NME: normalised by the outer-eye-corner distance
(inter_ocular, points 37 and 46) and, as the paper's Table 3 most probably was, by the distance of the
eye centres (inter_pupil); 68 points, failure = NME > 0.08. Printed per test split (lfpw, helen,
common), per landmark group (jaw vs the inner groups) and with the time per face of each method.
dlib's model was trained on 300-W's training part (AFW, HELEN and LFPW training images, about
3,100 faces with iBUG), not on these test faces.

``--weights L1 L2`` adds another cascade (e.g. a paper-faithful one) beside the shipped default;
``--flip`` adds the shipped default with flip test-time averaging. ``--backend onnxruntime`` runs
the cascades' networks with ONNX Runtime (``load_pretrained(backend="onnxruntime")``; the warps,
votes and frames are the same code); ``--backend torch onnxruntime`` adds the shipped default on
ONNX Runtime as a row of its own, on the same boxes, and prints the two backends' difference.
``--detector dlib_hog_fast`` gives every method that detector's boxes instead (docs/detection.md).

Needs the optional extra: ``pip install -e ".[dlib]"`` (dlib's model file from
``face-recognition-models``). Writes ``vs_dlib_ced.png`` (one CED per split),
``vs_dlib_worst10.png`` (the shipped cascade's ten worst faces) and ``vs_dlib_per_face.csv`` to ``--out``.

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 \\
        .venv/bin/python benchmarks/vs_dlib.py --out docs/results [--only dlib] [--backend torch onnxruntime]
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
from facelandmarks.schemes import IBUG68

DLIB = "dlib shape predictor (ERT)"
OURS = "facelandmarks cascade"
THRESHOLD = 0.08
NORMS = ("inter_ocular", "inter_pupil")
NORM_TEXT = {"inter_ocular": "outer eye corners, points 37 and 46, 300-W's",
             "inter_pupil": "eye centres, the mean of each eye's six points, Table 3's probable normaliser"}


def hog_boxes(faces: datasets.FaceSet, seed: int, detector: str = "dlib_hog") -> tuple[np.ndarray, np.ndarray, float]:
    """``detector``-convention boxes ``(B, 4)`` for every face, the fallback mask ``(B,)``, ms per image of detection."""
    jittered = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(seed))
    boxes = detect.BOX_MAPPINGS[detector].invert(jittered)  # (B, 4) fallback, the detector's convention
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


def predict_cascade(cascade, faces: datasets.FaceSet, boxes: np.ndarray, flip: bool = False,
                    box_kind: str = "dlib_hog") -> tuple[np.ndarray, float, float]:
    """A cascade's points ``(B, 68, 2)``, ms per face one at a time, and ms per face batched;
    ``boxes`` are in the convention of the detector ``box_kind``."""
    cascade.predict_batch(faces.images[:1], boxes[:1], box_kind=box_kind, flip=flip)  # warm-up
    t0 = time.perf_counter()
    points = np.stack([cascade.predict_batch([image], box[None], box_kind=box_kind, flip=flip).points[0]
                       for image, box in zip(faces.images, boxes)])
    one_ms = 1000 * (time.perf_counter() - t0) / len(faces)
    t0 = time.perf_counter()
    batched = cascade.predict_batch(faces.images, boxes, box_kind=box_kind, flip=flip).points
    batch_ms = 1000 * (time.perf_counter() - t0) / len(faces)
    if not np.allclose(batched, points, atol=1e-2):
        raise RuntimeError("batched and one-at-a-time predictions differ")
    return points, one_ms, batch_ms


def line(label: str, errors: np.ndarray, ms: float | None = None) -> str:
    s = metrics.summary(errors, THRESHOLD)
    return (f"  {label:44s} mean {100 * s['mean']:.2f}%  median {100 * s['median']:.2f}%  "
            f"AUC@{THRESHOLD:g} {s[f'auc@{THRESHOLD:g}']:.3f}  failures {100 * s[f'failure@{THRESHOLD:g}']:.1f}%"
            + ("" if ms is None else f"  {ms:.1f} ms per face"))


def worst_faces(faces: datasets.FaceSet, points: np.ndarray, errors: np.ndarray, path: Path, n: int = 10) -> None:
    """Save the ``n`` faces with the largest errors: ground truth (white) and prediction (by group)."""
    order = np.argsort(errors)[::-1][:n]
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(2.6 * ((n + 1) // 2), 5.6))
    for ax, i in zip(axes.ravel(), order):
        ax.imshow(faces.images[i])
        ax.scatter(*faces.points[i].T, s=4, c="white", label="ground truth")
        viz.draw_landmarks(ax, points[i], faces.scheme, size=4)
        ax.set_title(f"{faces.names[i]}\nNME {100 * errors[i]:.1f}%", fontsize=8)
        box = points_box(faces.points[i][None])[0]
        pad = 0.25 * (box[2] - box[0])
        ax.set_xlim(box[0] - pad, box[2] + pad)
        ax.set_ylim(box[3] + pad, box[1] - pad)
        ax.axis("off")
    for ax in axes.ravel()[len(order):]:
        ax.axis("off")
    fig.suptitle("the shipped cascade's 10 worst test faces (common split, dlib HOG detector boxes): "
                 "ground truth white, prediction coloured by group", fontsize=9)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA)")
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="folder for the CED plot and the CSV")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fallback boxes' jitter")
    parser.add_argument("--only", choices=("dlib", "ours"), default=None, help="run one method only")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for our cascade (dlib uses one)")
    parser.add_argument("--weights", nargs="+", type=Path, default=None,
                        help="level-1 and level-2 files of another cascade to show beside the shipped one")
    parser.add_argument("--label", default="other cascade", help="its label")
    parser.add_argument("--flip", action="store_true", help="also the shipped cascade with flip test-time averaging")
    parser.add_argument("--backend", nargs="+", choices=("torch", "onnxruntime"), default=["torch"],
                        help="what runs our cascades' networks (onnxruntime: pip install -e \".[onnx]\"); "
                             "two: the shipped default on both, side by side")
    parser.add_argument("--detector", choices=("dlib_hog", "dlib_hog_fast"), default="dlib_hog",
                        help="dlib's HOG detector upsampled once (its own predictor's convention), or not "
                             "upsampled unless needed (faster, coarser boxes; docs/detection.md)")
    parser.add_argument("--limit", type=int, default=None, help="only the first faces of each split (quick runs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from facelandmarks import load_pretrained
    from facelandmarks.models.cascade import Cascade, fuse_for_inference

    def runnable(cascade: Cascade, float_weights: list[Path]) -> Cascade:
        """The fused cascade, or its networks on ONNX Runtime with ``--backend onnxruntime``."""
        if args.backend[0] == "torch":
            return fuse_for_inference(cascade)
        from facelandmarks.models.onnx import to_onnxruntime

        return to_onnxruntime(cascade, float_weights=float_weights)

    parts = {name: datasets.split_faces(name, args.data)[:args.limit] for name in ("lfpw", "helen")}
    split = np.array([name for name, faces in parts.items() for _ in faces])
    faces = datasets.FaceSet.load(parts["lfpw"] + parts["helen"], progress=False)
    boxes, fallback, detect_ms = hog_boxes(faces, args.seed, args.detector)
    points, ms = {}, {}
    if args.only != "ours":
        points[DLIB], ms[DLIB] = predict_dlib(faces, boxes)
    batch_ms = {}
    if args.only != "dlib":
        cascades = {b: load_pretrained(fuse=True) if b == "torch" else load_pretrained(backend=b) for b in args.backend}
        shipped = cascades[args.backend[0]]
        for backend, cascade in cascades.items():
            label = OURS if backend == args.backend[0] else f"{OURS} ({backend})"
            points[label], ms[label], batch_ms[label] = predict_cascade(cascade, faces, boxes, box_kind=args.detector)
        if args.flip:
            label = OURS + " + flip"
            points[label], ms[label], batch_ms[label] = predict_cascade(shipped, faces, boxes, flip=True,
                                                                        box_kind=args.detector)
        if args.weights:
            other = runnable(Cascade.from_files(*args.weights), args.weights)
            points[args.label], ms[args.label], batch_ms[args.label] = predict_cascade(other, faces, boxes,
                                                                                       box_kind=args.detector)

    errors = {norm: {k: metrics.nme(p, faces.points, norm) for k, p in points.items()} for norm in NORMS}
    detected = ~fallback
    print(f"{len(faces)} test faces of the common split ({(split == 'lfpw').sum()} LFPW test + "
          f"{(split == 'helen').sum()} HELEN test), the same boxes for every method: dlib's HOG detector box "
          f"({args.detector}: {detected.sum()} faces; {fallback.sum()} without a detection got the ground-truth "
          f"box jittered with seed {args.seed}, mapped to the detector's box convention). 68 points; failure = "
          f"NME > {THRESHOLD:g}. Time per face excludes the detection ({detect_ms:.1f} ms per image); dlib one "
          f"thread, ours {args.threads} torch thread(s), one face at a time"
          f"{'' if 'onnxruntime' not in args.backend else ' (on ONNX Runtime: the warps; its networks in one thread)'}"
          f"; networks: {' and '.join(args.backend)}.")
    for norm in NORMS:
        print(f"NME / {norm} ({NORM_TEXT[norm]}):")
        for name, mask in (("lfpw", split == "lfpw"), ("helen", split == "helen"), ("common", np.ones(len(split), bool))):
            print(f" {name} ({mask.sum()} faces)")
            for label in points:
                print(line(label, errors[norm][label][mask], ms[label] if name == "common" else None))
            if DLIB in points:
                print("  mean NME ratio to dlib: " + ", ".join(
                    f"{label} {errors[norm][label][mask].mean() / errors[norm][DLIB][mask].mean():.3f}"
                    for label in points if label != DLIB))
    print(f"over the {detected.sum()} faces with a detection only (inter_ocular, common):")
    for label in points:
        print(line(label, errors["inter_ocular"][label][detected]))
    groups = IBUG68.point_group()
    names = list(IBUG68.groups)
    print("per landmark group, mean point error / inter_ocular, common split:")
    print(f"  {'':44s} " + " ".join(f"{n:>10s}" for n in names) + "     inner (51)")
    for label, p in points.items():
        e = metrics.point_errors(p, faces.points, "inter_ocular", IBUG68)
        print(f"  {label:44s} " + " ".join(f"{100 * e[:, groups == n].mean():9.2f}%" for n in names)
              + f"  {100 * e[:, groups != 'jaw'].mean():9.2f}%")
    for backend in args.backend[1:]:
        other = errors["inter_ocular"][f"{OURS} ({backend})"]
        gap = 100 * (other.mean() - errors["inter_ocular"][OURS].mean())
        print(f"{backend} - {args.backend[0]}, shipped default, common split: mean NME {gap:+.4f} percentage points "
              f"(inter_ocular), largest per-face difference {100 * np.abs(other - errors['inter_ocular'][OURS]).max():.4f} "
              f"points; largest point gap {np.abs(points[f'{OURS} ({backend})'] - points[OURS]).max():.4f} px")
    if batch_ms:
        print("time per face without detection, batched (all faces in one call): "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in batch_ms.items()))

    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(3, 1, figsize=(8, 15), layout="constrained")  # one split per row: legends below, whole
    for ax, (name, mask) in zip(axes, (("LFPW test", split == "lfpw"), ("HELEN test", split == "helen"),
                                       ("common (LFPW + HELEN test)", np.ones(len(split), bool)))):
        viz.plot_ced({k: v[mask] for k, v in errors["inter_ocular"].items()}, threshold=THRESHOLD,
                     norm="inter_ocular", ax=ax)
        ax.set_title(f"{name}: {mask.sum()} faces", fontsize=10)
    fig.suptitle("CED per test split; dlib's HOG detector boxes for every method", fontsize=11)
    fig.savefig(args.out / "vs_dlib_ced.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    if OURS in points:
        worst_faces(faces, points[OURS], errors["inter_ocular"][OURS], args.out / "vs_dlib_worst10.png")
    with open(args.out / "vs_dlib_per_face.csv", "w", newline="") as f:
        writer = csv.writer(f)
        keys = list(points)
        writer.writerow(["split", "name", *(f"nme_{norm}_{k}" for norm in NORMS for k in keys), "fallback_box"])
        for i, name in enumerate(faces.names):
            writer.writerow([split[i], name, *(f"{errors[norm][k][i]:.6f}" for norm in NORMS for k in keys),
                             bool(fallback[i])])
    print(f"wrote {args.out / 'vs_dlib_ced.png'}, {args.out / 'vs_dlib_worst10.png'} and {args.out / 'vs_dlib_per_face.csv'}")


if __name__ == "__main__":
    main()
