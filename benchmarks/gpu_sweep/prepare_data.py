"""Prepare the sweeps' data folder: the 2,012 training faces re-encoded at 256 px (JPEG q90, points
scaled with them, 0-based pixel centres: p' = (p + 0.5) * 256/384 - 0.5) and dlib's HOG boxes of the
201 seed-0 validation faces, so that the whole folder fits the GPU machine's 64 MiB transfer limit.

    FACELANDMARKS_DATA=../shared/data PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/gpu_sweep/prepare_data.py OUT
"""
import json, sys
import numpy as np
from pathlib import Path
from PIL import Image
from facelandmarks import datasets, io
from vs_dlib import hog_boxes
SIDE = 256; s = SIDE / 384
out = Path(sys.argv[1])
faces = datasets.split_faces("train")
for f in faces:
    d = out / '300w' / ({'afw': 'afw'}.get(f.subset, f.subset))
    d.mkdir(parents=True, exist_ok=True)
    im = Image.open(f.image_path).convert('RGB'); assert im.size == (384, 384)
    im.resize((SIDE, SIDE), Image.LANCZOS).save(d / (f.name + '.jpg'), quality=90)
    pts = io.read_pts(f.pts_path)
    io.write_pts(d / (f.name + '.pts'), (pts + 0.5) * s - 0.5)
_, val = datasets.train_val_split(faces, 0.1, 0)
fs = datasets.FaceSet.load(val, progress=False)
boxes, fallback, _ = hog_boxes(fs, 0)
json.dump({"names": [f"{f.subset}/{f.name}" for f in val], "boxes": ((boxes + 0.5) * s - 0.5).tolist(),
           "fallback": fallback.tolist()}, open(out / 'val_dlib_boxes.json', 'w'))
print(len(faces), len(val), int(fallback.sum()))
