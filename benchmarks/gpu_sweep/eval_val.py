"""Validation NME (dlib HOG boxes, inter-ocular, 68 points) of every trained combination."""
import json, sys, time
from pathlib import Path
import numpy as np, torch
from facelandmarks import datasets, metrics
from facelandmarks.models.cascade import Cascade, fuse_for_inference
from facelandmarks.schemes import IBUG68
torch.set_num_threads(8)
root = Path(sys.argv[1]); runs = Path(sys.argv[2]); combos = json.loads(sys.argv[3])
info = json.load(open(root / "val_dlib_boxes.json"))
_, val = datasets.train_val_split(datasets.split_faces("train", root), 0.1, 0)
assert [f"{f.subset}/{f.name}" for f in val] == info["names"]
faces = datasets.FaceSet.load(val, progress=False); boxes = np.array(info["boxes"])
groups = IBUG68.point_group(); out = {}
for name, (l1, l2) in combos.items():
    if not (runs / l1).is_file() or not (runs / l2).is_file():
        out[name] = "missing"; continue
    row = {}
    for label, files, flip in [("l1+l2", (l1, l2), False), ("l1+l2 flip", (l1, l2), True),
                               ]:
        c = fuse_for_inference(Cascade.from_files(*[runs / f for f in files]))
        r = c.predict_batch(faces.images, boxes, "dlib_hog", flip=flip)
        for lev, key in [("level1_points", "level 1"), ("level2_points", "level 2"), ("points", "final")]:
            e = metrics.point_errors(getattr(r, lev), faces.points, "inter_ocular", IBUG68)
            row[f"{label}: {key}"] = round(100 * float(e.mean()), 3)
            if key == "final":
                row[f"{label}: final jaw/inner"] = [round(100 * float(e[:, groups == "jaw"].mean()), 3),
                                                    round(100 * float(e[:, groups != "jaw"].mean()), 3)]
    out[name] = row
    print(name, json.dumps(row), flush=True)
json.dump(out, open(sys.argv[4], "w"), indent=1)
