"""Write the step-by-step notebooks (stored without outputs) from the cell lists below.

    .venv/bin/python tools/make_notebooks.py                 # all of them
    .venv/bin/python tools/make_notebooks.py 02_measuring_error 05_rectification_and_level2
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"

MODE = '''import os
import numpy as np
import matplotlib.pyplot as plt

# FAST = True runs small subsets and tiny training runs (CI, quick looks); False uses everything.
FAST = os.environ.get("FACELANDMARKS_FAST", "0") == "1"
# The data folder (holding 300w/): set FACELANDMARKS_DATA before starting Jupyter, e.g.
#   FACELANDMARKS_DATA=../shared/data jupyter lab
# (data_root raises an error saying how to get the data when it is not set or not there)
from facelandmarks.datasets import data_root
DATA = data_root()
print("FAST mode" if FAST else "full mode", "- data in", DATA)'''


def nb(cells: list[tuple[str, str]], stem: str = "cell") -> nbformat.NotebookNode:
    book = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
    for i, cell in enumerate(book.cells):
        cell.id = f"{stem}-{i:02d}"  # stable ids: regenerating an unchanged notebook changes nothing
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.metadata["language_info"] = {"name": "python"}
    return book


NOTEBOOKS = {
"01_data_and_markup.ipynb": [
("md", """# 1. Faces and the 68-point markup

**What you will learn**
- how a face is annotated in the 300-W data: 68 points in a `.pts` file, counted from 1;
- the point groups (jaw, brows, nose, eyes, mouth) and why a horizontal flip must renumber points;
- face boxes: from the points (training) and from a face detector (real use);
- augmentation that moves the image and its points together."""),
("code", MODE),
("code", """from facelandmarks import datasets, io, viz, geometry, augment, detect
from facelandmarks.schemes import IBUG68

faces = datasets.split_faces("train")
test = datasets.split_faces("test")
print(len(faces), "training faces,", len(test), "test faces")
face = faces[0]
print(face.pts_path.read_text()[:120])"""),
("md", """The file is 1-based (Matlab style). `io.read_pts` subtracts 1 **once**, so every array in the
package holds 0-based pixel centres, order (x, y)."""),
("code", """points = io.read_pts(face.pts_path)
image = io.read_image(face.image_path)
print(points.shape, points[:3])
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(image)
viz.draw_landmarks(ax, points, numbers=True)
ax.set_title(face.name); ax.axis("off");"""),
("md", """## Groups and the flip permutation
"Right" means the subject's right (the image's left). Mirroring an image turns the right eye into the
left eye, so point 37 (right eye, outer corner) must become point 46. The scheme stores this as data."""),
("code", """for group, idx in IBUG68.groups.items():
    print(f"{group:11s} points {idx[0] + 1}-{idx[-1] + 1}")
perm = np.array(IBUG68.flip_permutation)
print("after a flip, point 37 is the old point", perm[36] + 1)"""),
("md", """### Your turn: flip a face
Write `my_flip(image, points)` returning the mirrored image and its points (remember: pixel `x`
goes to `W - 1 - x`, and the points must be renumbered). `labs.check_flip` tells you what is wrong."""),
("code", """from facelandmarks import labs

def my_flip(image, points):
    # YOUR CODE HERE: return (mirrored image, mirrored and renumbered points)
    raise NotImplementedError

labs.try_exercise(labs.check_flip, my_flip);"""),
("md", """The library does the same with a 3x3 matrix (`geometry.hflip_matrix`: `x' = W - 1 - x`, the
matrix that also mirrors the pixels) and the scheme's permutation (`augment.flip_points`). Colours
follow the point numbers: after the renumbering the subject's right eye (red) is again on the image's
left, as in every face of the data. Flipping twice must give the face back."""),
("code", """def library_flip(image, points):
    flipped = geometry.transform_points(points, geometry.hflip_matrix(image.shape[1]))
    return image[:, ::-1], augment.flip_points(flipped[None], np.array([True]), IBUG68)[0]

mirrored, mirrored_points = library_flip(image, points)
np.testing.assert_allclose(library_flip(mirrored, mirrored_points)[1], points)  # flip twice = identity
fig = viz.show_faces([image, mirrored], [points, mirrored_points],
                     titles=["original", "mirrored and renumbered"], ncols=2, size=3.5)"""),
("md", """## Face boxes
Training crops come from the box of the points, jittered as a detector would; at run time a face
detector gives the box, mapped to the same convention (`detect.BOX_MAPPINGS`, fitted on the
training faces)."""),
("code", """found = detect.detect_faces(image)
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(image)
viz.draw_box(ax, geometry.points_box(points), color="lime", label="box of the 68 points")
if len(found):
    viz.draw_box(ax, found[0], color="yellow", label=f"{detect.DEFAULT_DETECTOR} box")
    viz.draw_box(ax, detect.to_landmark_box(found[0], detect.DEFAULT_DETECTOR), color="red", label="mapped detector box")
ax.legend(fontsize=8); ax.axis("off");"""),
("md", """## Augmentation moves pixels and points together
Each augmentation is a 3x3 matrix composed onto the crop matrix; the same matrix warps the image and
moves the points."""),
("code", """import torch
from facelandmarks.models.level1 import DEEP, from_unit
from facelandmarks.train import level1_batch

subset = datasets.FaceSet.load(faces[:4], progress=False)
rng = np.random.default_rng(0)
crops, targets, _ = level1_batch(subset, np.arange(4), DEEP, geometry.points_box(subset.points), rng,
                                 torch.Generator().manual_seed(0), augment.AugmentConfig())
fig = viz.show_faces([c.permute(1, 2, 0).numpy() for c in crops], [from_unit(t.numpy(), 128) for t in targets],
                     titles=["augmented crop"] * 4)"""),
("md", """Every crop above is rotated, scaled, shifted, maybe mirrored, recoloured and partly occluded, and
its points still sit on the features: they went through the same matrix as the pixels.

**Next:** [2. Measuring error](02_measuring_error.ipynb)."""),
],
"02_measuring_error.ipynb": [
("md", """# 2. Measuring error

**What you will learn**
- the normalised mean error (NME) and why the normaliser must always be named;
- the cumulative error distribution (CED), AUC@0.08 and the failure rate;
- to write NME yourself and check it against `facelandmarks.metrics`."""),
("code", MODE),
("code", """from facelandmarks import datasets, metrics, labs, load_pretrained, viz
from facelandmarks.evaluation import evaluate

test = datasets.load_split("test", limit=30 if FAST else None, progress=False)
cascade = load_pretrained(fuse=True)
ev = evaluate(cascade, test, boxes="jittered")
print(len(test), "test faces")"""),
("md", r"""## NME
$$\mathrm{NME} = \frac{1}{N}\sum_{i=1}^{N} \frac{\lVert \hat p_i - p_i \rVert_2}{d}$$
with $d$ a distance on the ground truth: `inter_ocular` (outer eye corners, points 37 and 46, the
300-W choice), `inter_pupil` (eye centres), `bbox` ($\sqrt{wh}$ of the points' box)..."""),
("code", """for norm in metrics.NORMALISERS:
    e = metrics.nme(ev.points, test.points, norm=norm)
    print(f"mean NME normalised by {norm:14s}: {100 * e.mean():.2f}%")"""),
("md", """The same predictions give different numbers: always say which normaliser you used. The
normalisers do not even agree from face to face: the eye corners come closer together when the head
turns, the box of the points does not, so a turned face's error looks larger with `inter_ocular`."""),
("code", """d_io = metrics.normalising_distance(test.points, "inter_ocular")
d_box = metrics.normalising_distance(test.points, "bbox")
ratio = d_box / d_io
k = int(np.argmax(ratio))
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
dots = axes[0].scatter(100 * metrics.nme(ev.points, test.points, "bbox"), 100 * ev.nme, c=ratio, cmap="viridis", s=15)
fig.colorbar(dots, ax=axes[0], label="bbox / inter-ocular distance")
axes[0].set_xlabel("NME / bbox (%)"); axes[0].set_ylabel("NME / inter_ocular (%)")
axes[0].set_title("the same predictions, two normalisers", fontsize=9)
axes[1].imshow(test.images[k]); viz.draw_landmarks(axes[1], test.points[k]); axes[1].axis("off")
axes[1].set_title(f"{test.names[k]}: bbox / inter-ocular = {ratio[k]:.2f} (median {np.median(ratio):.2f})", fontsize=9);"""),
("md", """### Your turn: write NME
`my_nme(pred, gt)` for `(N, 2)` arrays, normalised by the outer-eye-corner distance. Indices are
0-based: the literature's points 37 and 46 are `gt[36]` and `gt[45]`."""),
("code", """def my_nme(pred, gt):
    # YOUR CODE HERE: mean Euclidean error / outer-eye-corner distance
    raise NotImplementedError

if labs.try_exercise(labs.check_nme, my_nme):
    np.testing.assert_allclose(my_nme(ev.points[0], test.points[0]), metrics.nme(ev.points[0], test.points[0]))"""),
("md", r"""## CED, AUC@0.08, failure rate
The CED at $x$ is the fraction of test faces whose NME is at most $x$. AUC@0.08 is the area under the
CED from 0 to 0.08, divided by 0.08 (1 would mean every face is perfect); the failure rate is the
fraction of faces with NME above 0.08 (one minus the CED at 0.08)."""),
("code", """fig, ax = plt.subplots(figsize=(6, 4))
viz.plot_ced({"level 1": ev.nme_level1, "level 1 + 2": ev.nme}, threshold=0.08, ax=ax)
for label, e in (("level 1", ev.nme_level1), ("level 1 + 2", ev.nme)):
    print(f"{label}: AUC@0.08 = {metrics.auc(e):.3f}, failure rate = {100 * metrics.failure_rate(e):.1f}% (inter_ocular)")"""),
("md", """### Your turn: AUC
`my_auc(errors, threshold)`: sample the CED on a fine grid of thresholds from 0 to `threshold`,
integrate it with `np.trapezoid` and divide by `threshold`."""),
("code", """def my_auc(errors, threshold=0.08):
    # YOUR CODE HERE: area under the CED from 0 to threshold, divided by threshold (np.trapezoid)
    raise NotImplementedError

if labs.try_exercise(labs.check_ced_auc, my_auc):
    np.testing.assert_allclose(my_auc(ev.nme, 0.08), metrics.auc(ev.nme, 0.08), atol=2e-3)"""),
("md", """**Next:** [3. Level 1: the deep CNN](03_level1_cnn.ipynb); to see how people do on the same metric,
[7. How close to human?](07_human_comparison.ipynb)."""),
],
"03_level1_cnn.ipynb": [
("md", """# 3. Level 1: the deep CNN

**What you will learn**
- the paper's Table 1a network, layer by layer, with its shapes and parameter count;
- how it is trained (a short live run here), and the shipped weights' training curves;
- what level 1 alone achieves on the test faces."""),
("code", MODE),
("md", """## Table 1a, layer by layer
`DEEP` is the paper's network as a config (`facelandmarks.models.level1`); we push a blank 128 x 128
crop through it and print the shape after every convolution and pooling."""),
("code", """import torch
from facelandmarks import datasets, load_pretrained, viz, train
from facelandmarks.models.level1 import DEEP, Level1Net

net = Level1Net(DEEP)
x = torch.zeros(1, 3, 128, 128)
for layer in net.features:
    x = layer(x)
    if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d)):
        print(f"{layer.__class__.__name__:10s} -> {tuple(x.shape[1:])}")
print("parameters:", sum(p.numel() for p in net.parameters()))"""),
("md", """Every 3x3 "valid" convolution (padding 0) removes one pixel on each side; every 2x2 max-pool halves
the side, dropping an odd last row or column; there is no pooling after the last block. So the 128 x
128 input ends as 256 maps of 2 x 2, and the fully connected layers take 256 x 2 x 2 = 1024 numbers.

### Your turn: the shapes by hand
Write `my_feature_shape(config)` returning `(channels, height, width)` of the convolutions' output
for any `Level1Config` (its fields: `input_size`, `blocks`, `padding`: one number, or one per
block). `labs.check_feature_shape` tries it on the paper's network, the shallow baseline and two
others."""),
("code", """from facelandmarks import labs

def my_feature_shape(config):
    # YOUR CODE HERE: follow the side through every convolution and pooling of config.blocks
    raise NotImplementedError

labs.try_exercise(labs.check_feature_shape, my_feature_shape);"""),
("md", """## A short live training run
The same `train_level1` that trained the shipped weights (about 75 minutes of CPU, see
`facelandmarks/weights/README.md`), on far less. In FAST mode: a smaller network (64 x 64 input,
three convolutions) on 16 faces without augmentation: the training loss falls quickly (the network
memorises its 16 faces) while the validation NME hardly moves: that is overfitting. Full mode: the
Table 1a network on 256 faces with augmentation, 8 epochs (about 10 minutes on 2 cores)."""),
("code", """from dataclasses import replace
from pathlib import Path
import tempfile

all_train = datasets.split_faces("train")
tr, va = datasets.train_val_split(all_train, 0.1, seed=0)
from facelandmarks.augment import NO_AUGMENT

train_set = datasets.FaceSet.load(tr[:16 if FAST else 256], progress=False)
val_set = datasets.FaceSet.load(va[:8 if FAST else 60], progress=False)
if FAST:
    config = replace(DEEP, input_size=64, blocks=((16,), (32,), (32,)), padding=1, fc=128)
    cfg = train.TrainConfig(epochs=12, batch_size=8, lr=3e-3, warmup_epochs=0.5, augment=NO_AUGMENT, box_shift=0, box_scale=0)
else:
    config, cfg = DEEP, train.TrainConfig(epochs=8, batch_size=32)
model, log = train.train_level1(config, cfg, train_set, val_set, tempfile.mkdtemp(), progress=False)
for row in log[:: max(1, len(log) // 6)] + log[-1:]:
    print(f"epoch {row['epoch']:2.0f}: train loss {row['train_loss']:.4f}, validation NME {100 * row['val_nme']:.2f}% (inter_ocular)")
viz.plot_training_log({"live run": log});"""),
("md", """## The shipped weights' training curves"""),
("code", """import facelandmarks
logs = Path(facelandmarks.__file__).parent / "weights" / "logs"
viz.plot_training_log({"cycle 1": logs / "deep_level1_log.csv", "cycle 2": logs / "deep2_level1_log.csv"});"""),
("code", """from facelandmarks.evaluation import evaluate
test = datasets.load_split("test", limit=30 if FAST else None, progress=False)
ev = evaluate(load_pretrained(level2=None, fuse=True), test, boxes="jittered")
print(f"level 1 alone on {len(test)} test faces: mean NME {100 * ev.nme.mean():.2f}% (inter_ocular)")"""),
("md", """**Next:** [4. Depth matters?](04_depth_matters.ipynb)."""),
],
"04_depth_matters.ipynb": [
("md", """# 4. Depth matters?

**What you will learn**
- the paper's first claim: a deep level 1 is more robust than the shallow networks of earlier cascades;
- the shallow baseline (Sun et al. 2013 style: 39x39 grayscale, 4 convolutions) is the same code with
  another config;
- the real comparison of the shipped shallow and deep networks, measured here."""),
("code", MODE),
("code", """from facelandmarks import datasets, load_pretrained, metrics, viz
from facelandmarks.evaluation import face_boxes
from facelandmarks.models.level1 import DEEP, SHALLOW, Level1Net

for name, cfg in (("shallow", SHALLOW), ("deep", DEEP)):
    print(f"{name:8s} input {cfg.input_size}x{cfg.input_size}x{cfg.in_channels}, "
          f"{sum(len(b) for b in cfg.blocks)} convolutions, "
          f"{sum(p.numel() for p in Level1Net(cfg).parameters()):,} parameters")"""),
("md", """## A short live run of both
The same training code, the same faces, the same schedule, two configs. In FAST mode: 16 faces
without augmentation, a few epochs: both memorise their faces (the training loss falls), neither
generalises yet; depth pays off with data and hours of training, which the shipped logs below show.
Full mode: 256 faces with augmentation, 5 epochs each (about 8 minutes on 2 cores)."""),
("code", """import tempfile
from facelandmarks import train

from facelandmarks.augment import NO_AUGMENT

tr, va = datasets.train_val_split(datasets.split_faces("train"), 0.1, seed=0)
train_set = datasets.FaceSet.load(tr[:16 if FAST else 256], progress=False)
val_set = datasets.FaceSet.load(va[:8 if FAST else 60], progress=False)
if FAST:
    cfg = train.TrainConfig(epochs=6, batch_size=8, lr=3e-3, warmup_epochs=0.5, augment=NO_AUGMENT, box_shift=0, box_scale=0)
else:
    cfg = train.TrainConfig(epochs=5, batch_size=32)
live_logs = {}
for name, config in (("shallow", SHALLOW), ("deep", DEEP)):
    _, live_logs[name] = train.train_level1(config, cfg, train_set, val_set, tempfile.mkdtemp(), progress=False)
    last = live_logs[name][-1]
    print(f"{name:8s} {np.median([r['seconds'] for r in live_logs[name]]):5.2f} s per epoch ({len(train_set)} faces); "
          f"after {cfg.epochs} epochs: train loss {last['train_loss']:.4f}, validation NME {100 * last['val_nme']:.1f}% "
          f"(inter_ocular, {len(val_set)} faces)")
viz.plot_training_log(live_logs);"""),
("md", """The shipped networks' real training curves, read from the logs committed with the weights (each
was trained for 60 epochs, then a second cosine cycle of 40: `*2_level1_log.csv`; timings and
commands in `facelandmarks/weights/README.md`):"""),
("code", """import facelandmarks
from pathlib import Path
logs = Path(facelandmarks.__file__).parent / "weights" / "logs"
viz.plot_training_log({"shallow": logs / "shallow_level1_log.csv", "deep": logs / "deep_level1_log.csv"});
for name in ("shallow", "deep"):
    rows = train.read_log(logs / f"{name}_level1_log.csv") + train.read_log(logs / f"{name}2_level1_log.csv")
    print(f"{name:8s} {len(rows)} epochs in {sum(r['seconds'] for r in rows) / 60:.0f} min of CPU, "
          f"best validation NME {100 * min(r['val_nme'] for r in rows):.2f}% (inter_ocular)")"""),
("md", """## The shipped shallow and deep networks on the test faces"""),
("code", """test = datasets.load_split("test", limit=40 if FAST else None, progress=False)
boxes, _, label = face_boxes(test, "jittered")
errors = {}
for name in ("shallow", "deep"):
    points = load_pretrained(level1=name, level2=None, fuse=True).predict_batch(test.images, boxes).points
    errors[f"{name} level 1"] = metrics.nme(points, test.points)
    s = metrics.summary(errors[f"{name} level 1"])
    print(f"{name:8s} mean NME {100 * s['mean']:.2f}%, failure rate {100 * s['failure@0.08']:.1f}% (inter_ocular, {label} boxes)")
viz.plot_ced(errors);"""),
("md", """The full ablation on all 250 test faces (with level 2, K = 1 and K = 3) is on the results page
(`docs/results.md`), produced by `benchmarks/ablation.py`.

**Next:** [5. Rectification and level 2](05_rectification_and_level2.ipynb)."""),
],
"05_rectification_and_level2.ipynb": [
("md", """# 5. Rectification and level 2

**What you will learn**
- the similarity transform that rectifies the face from the level-1 points;
- the 24x24 patches around each point and the K points each patch network refines;
- voting, and mapping the result back to the photo through the inverse matrix."""),
("code", MODE),
("md", """## Rectifying the face
Level 1 gives 68 points in the photo. A similarity transform fitted from them to the canonical mean
shape (`cascade.level2.canonical`) turns the face upright at a fixed size: that is the rectified face
level 2 works on. Like every change of frame in the package it is a 3x3 matrix."""),
("code", """from facelandmarks import datasets, load_pretrained, geometry, viz, metrics, labs
test = datasets.load_split("test", limit=4, progress=False)
cascade = load_pretrained()
image, gt = test.images[0], test.points[0]
r = cascade.predict(image, box=geometry.points_box(gt))
print("image -> rectified matrix:\\n", np.round(r.rectify_matrix, 3))"""),
("code", """size = int(cascade.level2.config.face_size * 1.5)
shift = geometry.translation_matrix(size / 6, size / 6)
rect = geometry.warp_image(image, shift @ r.rectify_matrix, size)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
axes[0].imshow(image); viz.draw_landmarks(axes[0], r.level1_points); axes[0].set_title("level 1 on the photo")
axes[1].imshow(rect); viz.draw_landmarks(axes[1], geometry.transform_points(r.level1_points, shift @ r.rectify_matrix))
axes[1].set_title("rectified face"); [a.axis("off") for a in axes];"""),
("md", """### Your turn: fit a similarity transform
`my_fit(src, dst)` returns the 3x3 matrix of the least-squares rotation + scale + translation."""),
("code", """def my_fit(src, dst):
    # YOUR CODE HERE: least squares rotation + scale + translation, as a 3x3 matrix src -> dst
    raise NotImplementedError

labs.try_exercise(labs.check_similarity_fit, my_fit);"""),
("md", """## The patches and their votes
Each patch is cut from the photo through its own 3x3 matrix (image -> rectified -> patch), centred on
a level-1 point. Dots: the K points the patch's network predicts (red: its own point, orange and
yellow: its neighbours, which may lie outside the patch)."""),
("code", """p = cascade.level2.config.patch_size
patches = geometry.warp_batch(image, r.patch_matrices, p)
nb = cascade.level2.neighbours.numpy()
fig, axes = plt.subplots(2, 6, figsize=(12, 4.5))
for ax, point in zip(axes.ravel(), [36, 39, 42, 45, 30, 48, 54, 51, 57, 8, 19, 24]):
    ax.imshow(patches[point].permute(1, 2, 0).numpy().astype(np.uint8))
    votes = r.votes[point] - geometry.transform_points(r.level1_points[point][None], r.rectify_matrix)[0] + (p - 1) / 2
    ax.scatter(votes[:, 0], votes[:, 1], c=["red", "orange", "yellow"][:len(votes)], s=15)
    ax.set_xlim(-4, p + 3); ax.set_ylim(p + 3, -4)
    ax.set_title(f"patch {point + 1} -> {[int(k) + 1 for k in nb[point]]}", fontsize=7); ax.axis("off")"""),
("code", """def my_patch(image, matrix, size):
    # YOUR CODE HERE: cut the (size, size, 3) patch whose image -> patch matrix is `matrix`
    raise NotImplementedError

labs.try_exercise(labs.check_patch_extraction, my_patch);"""),
("md", """## Voting
With K = 3 every point is predicted by the patches of several neighbouring points (`neighbours[p]`
lists the K points patch p refines). The final point, in the rectified frame, is the mean of its
votes; the inverse of the rectifying matrix takes it back to the photo."""),
("code", """q = 36  # the right eye's outer corner (point 37)
patch_ids, slots = np.nonzero(nb == q)
votes_q = r.votes[patch_ids, slots]  # (V, 2) rectified frame
final_rect = geometry.transform_points(r.points, r.rectify_matrix)[q]
np.testing.assert_allclose(votes_q.mean(axis=0), final_rect, atol=1e-3)
np.testing.assert_allclose(geometry.transform_points(final_rect[None], np.linalg.inv(r.rectify_matrix))[0], r.points[q])
start = geometry.transform_points(r.level1_points, r.rectify_matrix)[q]
truth = geometry.transform_points(gt, r.rectify_matrix)[q]
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(geometry.warp_image(image, shift @ r.rectify_matrix, size))
off = np.array([size / 6, size / 6])
ax.scatter(*(votes_q + off).T, facecolors="none", edgecolors="orange", s=60, lw=1.5,
           label=f"votes (patches {[int(i) + 1 for i in patch_ids]})")
ax.scatter(*(final_rect + off), c="red", marker="x", s=60, label="their mean = level 2")
ax.scatter(*(start + off), c="cyan", marker="+", s=60, label="level 1")
ax.scatter(*(truth + off), c="lime", marker="*", s=60, label="ground truth")
ax.set_xlim(start[0] + off[0] - 10, start[0] + off[0] + 10); ax.set_ylim(start[1] + off[1] + 10, start[1] + off[1] - 10)
ax.legend(fontsize=7); ax.set_title(f"point {q + 1}, rectified frame", fontsize=9);"""),
("code", """print(f"this face: level 1 NME {100 * metrics.nme(r.level1_points, gt):.2f}%, "
      f"after level 2 {100 * metrics.nme(r.points, gt):.2f}% (inter_ocular)")"""),
("md", """## K = 1 or K = 3?
The paper tries both. The shipped `k1` and `k3_sim` networks were trained identically (on simulated
level-1 errors) except for K; `k3` was then fine-tuned on real level-1 errors as well. Measured here on
test faces, all with the same deep level 1 and the same boxes:"""),
("code", """from facelandmarks.evaluation import face_boxes
faces = datasets.load_split("test", limit=20 if FAST else None, progress=False)
boxes, _, label = face_boxes(faces, "jittered")
errors = {}
level1 = load_pretrained(level2=None, fuse=True).predict_batch(faces.images, boxes).points
errors["level 1"] = metrics.nme(level1, faces.points)
for k in ("k1", "k3_sim", "k3"):
    points = load_pretrained(level2=k, fuse=True).predict_batch(faces.images, boxes).points
    errors[f"level 2 {k}"] = metrics.nme(points, faces.points)
for name, e in errors.items():
    print(f"{name:13s} mean NME {100 * e.mean():.2f}%  AUC@0.08 {metrics.auc(e):.3f}  ({len(faces)} faces, inter_ocular, {label} boxes)")
viz.plot_ced(errors);"""),
("md", """**Next:** [6. Evaluation on the test faces](06_evaluation.ipynb)."""),
],
"06_evaluation.ipynb": [
("md", """# 6. Evaluation on the test faces

**What you will learn**
- how the shipped cascade does on the HELEN test faces with detector boxes;
- its CED (and dlib's, when dlib's model file is installed);
- the best and worst faces, and which landmarks are hardest."""),
("code", MODE),
("code", """from facelandmarks import datasets, load_pretrained, metrics, viz
from facelandmarks.evaluation import evaluate

test = datasets.load_split("test", limit=30 if FAST else None, progress=False)
ev = evaluate(load_pretrained(fuse=True), test, boxes="detector")
for level in ("level1", "final"):
    s = ev.summary(level=level)
    print(f"{level:7s} mean {100 * s['mean']:.2f}%  median {100 * s['median']:.2f}%  AUC@0.08 {s['auc@0.08']:.3f}  "
          f"failures {100 * s['failure@0.08']:.1f}%  (NME / {s['norm']}, boxes {s['boxes']}, {s['fallback_boxes']} fallbacks)")"""),
("code", """curves = {"level 1": ev.nme_level1, "cascade": ev.nme}
from facelandmarks import detect
try:
    # dlib gets the same face boxes as the cascade, mapped back to dlib's detector convention
    # (benchmarks/vs_dlib.py is the full comparison, with timings)
    dlib_boxes = detect.BOX_MAPPINGS["dlib_hog"].invert(ev.boxes)
    pts = [detect.dlib_points(image, box) for image, box in zip(test.images, dlib_boxes)]
    curves["dlib"] = metrics.nme(np.stack(pts), test.points)
    print(f"dlib: mean NME {100 * curves['dlib'].mean():.2f}%, AUC@0.08 {metrics.auc(curves['dlib']):.3f} (inter_ocular)")
except ImportError:
    print("dlib's model file is not installed (pip install -e '.[dlib]'): no dlib curve")
viz.plot_ced(curves);"""),
("code", """order = np.argsort(ev.nme)
pick = list(order[:3]) + list(order[-3:])
viz.show_faces([test.images[i] for i in pick], [{"truth": test.points[i], "cascade": ev.points[i]} for i in pick],
               titles=[f"{test.names[i]}: {100 * ev.nme[i]:.1f}%" for i in pick], ncols=3);"""),
("md", """## Which landmarks are hardest?
The mean error of each of the 68 points over the test faces (jaw points, which have no clear feature
along the jaw line, usually lead):"""),
("code", """viz.plot_point_errors(ev.point_errors);
hardest = np.argsort(ev.point_errors.mean(axis=0))[::-1][:5]
print("hardest points (1-based):", [int(i) + 1 for i in hardest])"""),
("md", """**Next:** [7. How close to human?](07_human_comparison.ipynb) compares these errors with people
placing the same points; [9. Inspect the predictions](09_inspect_predictions.ipynb) lets you browse
every face, worst first."""),
],
"09_inspect_predictions.ipynb": [
("md", """# 9. Inspect the predictions

**What you will learn**
- to browse the cascade's predictions on the test faces, worst first, by point group or subset,
  and to read each face's numbers (NME after level 1 and after level 2, the normaliser named);
- to follow one face through every stage of the cascade, down to the votes of one level-2 patch;
- to see which faces fail at a threshold, and which part of the face failed;
- how your own clicks compare with the crowd's, the experts' and the CNN's ("You vs the CNN").

The widgets need a running kernel: move the controls and the pictures are redrawn. Below each one
a static copy of its first view shows in the built book too."""),
("code", MODE),
("md", """## Browse the predictions
The cascade runs on the test faces (in FAST mode the first 20, from jittered ground-truth boxes;
otherwise all 250, from the face detector's boxes, as in notebook 6)."""),
("code", """from IPython.display import Image, display
from facelandmarks import datasets, load_pretrained, widgets
from facelandmarks.evaluation import evaluate

test = datasets.load_split("test", limit=20 if FAST else None, progress=False)
labels = [face.subset for face in datasets.split_faces("test")][:len(test)]  # where each face comes from
cascade = load_pretrained(fuse=True)
ev = evaluate(cascade, test, boxes="jittered" if FAST else "detector")
browser = widgets.prediction_browser(ev, labels=labels)
browser"""),
("code", """# a static copy of the browser's first view (the worst face), for the built book
display(Image(browser.image.value))
print(browser.state.describe())"""),
("md", """**What to look for.** Step through the worst faces first, then switch the point group:
- **profile faces** (strong yaw): the far side of the jaw is hidden, yet its points must be
  "guessed"; choose the group *jaw* and the error vectors all point the same way;
- **occlusion** (hands, hair, glasses, a microphone): the points under the occluder drift towards
  where an average face would have them;
- **open mouths**: the inner-lip points (group *mouth*) often stay closed, as in most training faces;
- **closed or squinting eyes**: the eyelid points (groups *right_eye*, *left_eye*);
- **strong rotation, or a poor face box**: level 1 starts far off and level 2 can only move a point
  within its 24-pixel patch; tick *level 1* to compare the two levels.

In full mode the subset *fallback box* holds the faces the detector missed (predicted from a
jittered ground-truth box instead)."""),
("md", """## One face through the cascade
The face shown in the browser above (set `i` to any other index of `ev`): the face box, the
128x128 crop where level 1 predicts the 68 points, the face rectified (rotated upright and scaled by a
similarity fit of those points onto the mean shape), the 68 patches level 2 looks at, and the final
points back on the photo. The slider picks one point: its patch, and the K points that patch
predicts (its "votes"); each point's final position is the mean of all the votes for it."""),
("code", """i = browser.state.current
viewer = widgets.cascade_viewer(cascade, test.images[i], ev.boxes[i], truth=test.points[i])
viewer"""),
("code", """# the same stages as static images, for the built book
display(Image(viewer.stages_image.value), Image(viewer.patch_image.value))"""),
("md", """## Which faces fail?
A face "fails" when its NME is above a threshold (0.08 of the outer-eye-corner distance is the
300-W convention). Move the threshold: the CED curves of level 1 and of the whole cascade, how many
faces fail, the worst point group of each, and thumbnails of the worst ones (ground truth in green,
prediction in red)."""),
("code", """ced = widgets.ced_explorer(ev)
ced"""),
("code", """# a static copy for the built book
display(Image(ced.curve.value))
failing = widgets.ced_failures(ev, 0.08)
print(len(failing), "of", len(ev.nme), "faces fail at 0.08 (NME normalised by", ev.norm + ")")
for row in failing[:5]:
    print(f"{row['name']}: NME {row['nme']:.3f}, worst groups", [(g, round(e, 3)) for g, e in row["worst_groups"]])"""),
("md", """## You vs the CNN
Click each asked landmark on the four faces of the Johnston & de Chazal study (notebook 7): 22
points per face, in a fixed order; the diagram beside the photo circles the asked point on an upright
mean face. Zoom in (2x, 4x: the window follows your clicks, Shift+click moves it) for precision.
When the last point is in, your error appears next to the crowd's, the experts' and the CNN's,
measured the same way (NME over the 19 iBUG points, divided by the reference inter-pupil distance).
**save** writes your clicks to a JSON file; `facelandmarks.human.pool_sessions` pools a class's files
into one study."""),
("code", """from facelandmarks import human
annotator = widgets.annotation_widget(human.AnnotationSession("you"), save_path="my_annotations.json",
                                      cascade=cascade)
annotator"""),
],
"08_your_own_photos.ipynb": [
("md", """# 8. Your own photos

**What you will learn**
- to run the detector and the cascade on any photo;
- to save the 68 points as a 300-W `.pts` file."""),
("code", MODE),
("code", """import skimage.data
from facelandmarks import load_pretrained, viz, io

cascade = load_pretrained()
image = skimage.data.astronaut()
r = cascade.predict(image, name="astronaut")
fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(image); viz.draw_box(ax, r.detector_box); viz.draw_landmarks(ax, r.points)
ax.set_xlim(r.box[0] - 60, r.box[2] + 60); ax.set_ylim(r.box[3] + 60, r.box[1] - 60);"""),
("md", """Set `MY_PHOTO` to the path of one of your own pictures (JPEG, PNG, ...)."""),
("code", """import tempfile
from pathlib import Path
MY_PHOTO = Path(os.environ["FACELANDMARKS_DATA"]) / "samples" / "einstein.jpg"  # change me
photo = io.read_image(MY_PHOTO)
try:
    r = cascade.predict(photo, name=str(MY_PHOTO))
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(photo); viz.draw_landmarks(ax, r.points); ax.axis("off")
    out = Path(tempfile.gettempdir()) / (MY_PHOTO.stem + ".pts")  # or any path you like
    io.write_pts(out, r.points)
    print("saved", out, "- read it back with io.read_pts")
except ValueError as err:
    print("no prediction:", err)"""),
],
}

if __name__ == "__main__":
    import sys

    HERE.mkdir(exist_ok=True)
    wanted = [a if a.endswith(".ipynb") else a + ".ipynb" for a in sys.argv[1:]]  # default: all of them
    unknown = sorted(set(wanted) - set(NOTEBOOKS))
    if unknown:
        raise SystemExit(f"unknown notebooks {unknown}; known: {sorted(NOTEBOOKS)}")
    for name, cells in NOTEBOOKS.items():
        if wanted and name not in wanted:
            continue
        nbformat.write(nb(cells, name.split("_")[0]), HERE / name)
        print("wrote", HERE / name)
