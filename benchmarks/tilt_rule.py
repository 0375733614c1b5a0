"""The tilt rule's choice (``Cascade.tilt_fallback_deg``), on the validation faces turned in-plane.

The 201 validation faces are turned by 0-60 degrees about their centre (``confidence.rotate``), each
boxed by its turned points' box jittered with seed 0, and predicted by the default cascade with the
second-pass level 1 for every face (no rule) and by the cascade whose level 1 runs both passes
(``load_pretrained(level1_recrop=False)``). A rule "faces the first pass finds turned by more than T
degrees get the second cascade's recrop pass" is then read off face by face (both cascades share the
first pass, so the angle is the same). Printed per angle: median NME, faces over 0.08, mean NME.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/tilt_rule.py
"""
from __future__ import annotations

import numpy as np
import torch

from confidence import rotate
from facelandmarks import datasets, load_pretrained, metrics
from facelandmarks.datasets import jitter_boxes
from facelandmarks.geometry import points_box


def main() -> None:
    torch.set_grad_enabled(False)
    _, val = datasets.train_val_split(datasets.split_faces("train"), 0.1, 0)
    faces = datasets.FaceSet.load(val, progress=False)
    second = load_pretrained(fuse=True)
    second.tilt_fallback_deg = 360.0  # no rule: the second-pass network for every face
    itself = load_pretrained(fuse=True, level1_recrop=False)

    def stats(e: np.ndarray) -> str:
        return f"{np.median(e):.4f} {int((e > 0.08).sum()):3d} {e.mean():.4f}"

    print(f"{len(faces)} validation faces turned in-plane; per cell: median NME, faces over 0.08, mean NME")
    print("angle  second-pass network     level 1 itself          rule > 15              rule > 20              rule > 25              rule > 30")
    for angle in (0, 20, 30, 40, 50, 60):
        turned = [rotate(im, p, angle) for im, p in zip(faces.images, faces.points)] if angle else \
            list(zip(faces.images, faces.points))
        images, points = [im for im, _ in turned], np.stack([p for _, p in turned])
        boxes = jitter_boxes(points_box(points), np.random.default_rng(0))
        a, b = second.predict_batch(images, boxes, score=False), itself.predict_batch(images, boxes, score=False)
        found = np.degrees(np.abs(np.arctan2(a.crop_matrix[:, 1, 0], a.crop_matrix[:, 0, 0])))
        ea, eb = metrics.nme(a.points, points), metrics.nme(b.points, points)
        print(f"{angle:4d}   {stats(ea)}   {stats(eb)}   "
              + "   ".join(stats(np.where(found > t, eb, ea)) for t in (15, 20, 25, 30)), flush=True)


if __name__ == "__main__":
    main()
