"""Ablation of the cascade on the 400 test faces of the ``common`` split (LFPW + HELEN test): the paper's two claims.

1. Depth matters: shallow level 1 (Sun et al. 2013 style) vs the deep level 1 (Table 1a).
2. Coarse-to-fine matters: level 1 alone vs level 1 + level 2 (K = 1 and K = 3), and our optional
   fine level 3.

Every model gets the same face boxes (the default detector's, mapped to the landmark-box
convention; where it finds no face, the ground-truth box jittered with a fixed seed) and, as a
second column, jittered ground-truth boxes. NME is normalised by the outer-eye-corner distance
(inter_ocular), 68 points.

``--recipe DIR`` (a finished ``facelandmarks recipe`` folder) adds the recipe's first level-1 cycle,
alone and with the level 2 trained on simulated errors only: the training the paper describes, before
this package's second level-1 cycle and level-2 fine-tuning on real errors.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/ablation.py --out docs/results [--recipe runs/recipe]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from facelandmarks import datasets, metrics, viz
from facelandmarks.evaluation import face_boxes
from facelandmarks.models.cascade import Cascade, fuse_for_inference
from facelandmarks.models.pretrained import load_pretrained

VARIANTS = [
    # label, load_pretrained arguments, predict_batch arguments
    ("shallow level 1 (39x39 gray, 4 conv)", dict(level1="shallow", level2=None), {}),
    ("deep level 1 (Table 1a)", dict(level1="deep", level2=None), {}),
    ("deep level 1, recrop + level1_flip, the same network for both passes (ours)", dict(level1="deep", level2=None),
     {"recrop": True, "level1_flip": True}),
    ("deep level 1, recrop + level1_flip, second-pass level 1 (ours; as the default runs it)",
     dict(level1="deep", level2=None, level1_recrop=True), {"recrop": True, "level1_flip": True}),
    ("shallow level 1 + level 2 (K=3)", dict(level1="shallow", level2="k3"), {"recrop": False, "level1_flip": False}),
    ("deep level 1 + level 2 (K=1, simulated errors; trained on the 1,207-face set)", dict(level1="deep", level2="k1"), {}),
    ("deep level 1 + level 2 (K=3, simulated errors)", dict(level1="deep", level2="k3_sim"), {}),
    ("deep level 1 + level 2 (K=3, + real level-1 errors), level 1 run once as in the paper, no shape correction",
     dict(level1="deep", level2="k3"), {"recrop": False, "level1_flip": False, "shape_correction": False}),
    ("deep level 1 + level 2 (K=3, + real level-1 errors), recrop + level1_flip with the second-pass level 1, "
     "shape correction [shipped default]",
     dict(level1="deep", level2="k3"), {}),
    ("  shipped default without the shape correction", dict(level1="deep", level2="k3"), {"shape_correction": False}),
    ("  shipped default, level 1 for both passes (no second-pass level 1)",
     dict(level1="deep", level2="k3", level1_recrop=False), {}),
    ("  shipped default + level 3 (ours, finer; trained on the 1,207-face set)", dict(level1="deep", level2="k3", level3="k3"), {}),
    ("  shipped default + flip test-time averaging", dict(level1="deep", level2="k3"), {"flip": True}),
    ("  shipped default, int8 convolution trunks", dict(level1="deep", level2="k3", int8=True), {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="only the first N test faces (quick look)")
    parser.add_argument("--recipe", type=Path, default=None,
                        help="a finished `facelandmarks recipe` folder: adds its first level-1 cycle, alone and with "
                             "level 2 on simulated errors only (the training the paper describes, one cycle)")
    args = parser.parse_args()

    faces = datasets.load_split("common", args.data, limit=args.limit or None, progress=False)
    det_boxes, fallback, det_label = face_boxes(faces, "detector", seed=args.seed)
    jit_boxes, _, _ = face_boxes(faces, "jittered", seed=args.seed)
    print(f"{len(faces)} test faces (common split: LFPW + HELEN test); NME / inter_ocular (outer eye corners), 68 points; "
          f"threshold 0.08. Boxes: {det_label} ({int(fallback.sum())} without a detection got the "
          f"jittered ground-truth box, seed {args.seed}); second block: jittered ground-truth boxes.")
    variants = list(VARIANTS)
    if args.recipe is not None:
        first, sim = args.recipe / "level1" / "level1.pt", args.recipe / "level2_sim" / "level2.pt"
        variants[4:4] = [
            ("deep level 1, first cycle only (recipe step level1: 60 epochs)", dict(files=(first,)), {}),
            ("deep level 1, first cycle + level 2 (K=3, simulated errors only) [the paper's training]",
             dict(files=(first, sim)), {}),
        ]
    rows, curves = [], {}
    for label, kwargs, predict_kwargs in variants:
        if "files" in kwargs:
            cascade = fuse_for_inference(Cascade.from_files(*kwargs["files"]))
        else:
            cascade = load_pretrained(fuse=True, **kwargs)
        row = {"model": label}
        for box_label, boxes in (("detector", det_boxes), ("jittered", jit_boxes)):
            t0 = time.perf_counter()
            points = cascade.predict_batch(faces.images, boxes, **predict_kwargs).points
            seconds = time.perf_counter() - t0
            errors = metrics.nme(points, faces.points)
            s = metrics.summary(errors)
            row[box_label] = s
            row[f"{box_label}_ms"] = 1000 * seconds / len(faces)
            if box_label == "detector":
                curves[label] = errors
        rows.append(row)
        d = row["detector"]
        print(f"{label:70s} mean {100 * d['mean']:.2f}%  median {100 * d['median']:.2f}%  "
              f"AUC {d['auc@0.08']:.3f}  fail {100 * d['failure@0.08']:.1f}%  "
              f"| jittered GT boxes: mean {100 * row['jittered']['mean']:.2f}%", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Measured on {len(faces)} test faces (common split: LFPW + HELEN test) by `benchmarks/ablation.py` "
        f"(NME normalised by the outer-eye-corner distance, 68 points; boxes: {det_label}, "
        f"{int(fallback.sum())} fallback boxes).",
        "",
        "| model | mean NME | median NME | AUC@0.08 | failure rate | mean NME, jittered GT boxes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        d, j = row["detector"], row["jittered"]
        lines.append(f"| {row['model']} | {100 * d['mean']:.2f}% | {100 * d['median']:.2f}% | {d['auc@0.08']:.3f} | "
                     f"{100 * d['failure@0.08']:.1f}% | {100 * j['mean']:.2f}% |")
    (args.out / "ablation.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(7, 7))
    viz.plot_ced(curves, threshold=0.08, norm="inter_ocular", ax=ax)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=9)  # below the axes: no curve hidden
    ax.set_title(f"Ablation on {len(faces)} test faces, common split ({det_label} boxes)")
    fig.savefig(args.out / "ablation_ced.png", dpi=90, bbox_inches="tight")
    print(f"wrote {args.out / 'ablation.md'} and {args.out / 'ablation_ced.png'}")


if __name__ == "__main__":
    main()
