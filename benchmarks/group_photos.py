"""Every face of the two real group photos in $FACELANDMARKS_DATA/groups: which annotated faces
predict_all finds, their NME, and an overlay of all of them (docs/reliability.md).

These are AFW *training* photos: a check of multi-face detection and output, not an accuracy figure.
An annotated face counts as found when a prediction's landmark box has IoU >= 0.5 with the box of its
68 annotated points (else, as a fallback, when the prediction's point centre lies inside that box).

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/group_photos.py --figures docs/figures
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from facelandmarks import datasets, load_pretrained, metrics
from facelandmarks.detect import box_iou
from facelandmarks.geometry import points_box
from facelandmarks.io import read_image, read_pts

PHOTOS = ("afw_4538917191", "afw_237815567")


def match(results: list, truths: list[np.ndarray]) -> list[int | None]:
    """For each annotated face, the index of its prediction (greedy by IoU, then by centre), or None."""
    taken: set[int] = set()
    out: list[int | None] = []
    for gt in truths:
        gbox = points_box(gt)
        ious = [float(box_iou(points_box(r.points), gbox)) if k not in taken else -1 for k, r in enumerate(results)]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= 0.5:
            out.append(best)
        else:
            inside = [k for k, r in enumerate(results) if k not in taken
                      and gbox[0] <= r.points[:, 0].mean() <= gbox[2] and gbox[1] <= r.points[:, 1].mean() <= gbox[3]]
            out.append(inside[0] if inside else None)
        if out[-1] is not None:
            taken.add(out[-1])
    return out


def overlay(path: Path, image: np.ndarray, results: list, truths: list[np.ndarray], found: list, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from facelandmarks import viz

    fig = Figure(figsize=(8, 8 * image.shape[0] / image.shape[1]))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 0.95))
    ax.imshow(image)
    for gt, k in zip(truths, found):
        viz.draw_box(ax, points_box(gt), color="cyan" if k is not None else "red", lw=0.8)
    for k, r in enumerate(results):
        viz.draw_landmarks(ax, r.points, color="lime", edges=False, size=0.6)
        ax.text(r.detector_box[0], r.detector_box[1] - 3, f"{k} {r.score:.2f}", color="yellow", fontsize=5)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100)
    buffer.seek(0)
    Image.open(buffer).convert("RGB").quantize(96).save(path, optimize=True)  # a small PNG for the docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--figures", type=Path, default=None, help="folder for the overlays (PNG)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cascade = load_pretrained()
    folder = datasets.data_root(args.data) / "groups"
    for photo in PHOTOS:
        image = read_image(folder / f"{photo}.jpg")
        truths = [read_pts(p, 68) for p in sorted(folder.glob(f"{photo}_face*.pts"))]
        for full_size in (None, True):
            t0 = time.perf_counter()
            results = cascade.predict_all(image, full_size=full_size, name=photo)
            seconds = time.perf_counter() - t0
            found = match(results, truths)
            nme = np.array([metrics.nme(results[k].points, gt) for gt, k in zip(truths, found) if k is not None])
            scores = np.array([results[k].score for k in found if k is not None])
            mode = "full size" if full_size else "default (shrunk to 1024 px, full size if nothing)"
            print(f"{photo} ({image.shape[1]}x{image.shape[0]}), detection {mode}: {len(results)} faces found in "
                  f"{seconds:.1f} s; {len(nme)} of {len(truths)} annotated faces found"
                  + (f", NME (inter_ocular) mean {nme.mean():.3f} median {np.median(nme):.3f} max {nme.max():.3f}, "
                     f"{int((nme > 0.08).sum())} over 0.08; their scores min {scores.min():.2f} median "
                     f"{np.median(scores):.2f}" if len(nme) else ""))
            missed = [i for i, k in enumerate(found) if k is None]
            if missed:
                sizes = [points_box(truths[i])[2] - points_box(truths[i])[0] for i in missed]
                print(f"  missed: {len(missed)} annotated faces, landmark-box widths {np.round(sizes).astype(int).tolist()} px")
            if args.figures and full_size:
                args.figures.mkdir(parents=True, exist_ok=True)
                out = args.figures / f"groups_{photo}.png"
                overlay(out, image, results, truths, found,
                        f"{photo}: predict_all(full_size=True), {len(results)} faces (green points, index and score); "
                        f"annotated faces found (cyan) / missed (red)")
                print(f"  wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
