"""Write the step-by-step notebooks (stored without outputs) from the cell lists below.

    .venv/bin/python tools/make_notebooks.py
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
# The data folder (holding 300w/ and human/): set FACELANDMARKS_DATA, e.g. to ../shared/data.
assert os.environ.get("FACELANDMARKS_DATA"), "set FACELANDMARKS_DATA to the data folder (see the README)"
print("FAST mode" if FAST else "full mode", "- data in", os.environ["FACELANDMARKS_DATA"])'''


def nb(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    book = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
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
("md", """The same predictions give different numbers: always say which normaliser you used.

### Your turn: write NME
`my_nme(pred, gt)` for `(N, 2)` arrays, normalised by the outer-eye-corner distance."""),
("code", """def my_nme(pred, gt):
    # YOUR CODE HERE: mean Euclidean error / outer-eye-corner distance
    raise NotImplementedError

if labs.try_exercise(labs.check_nme, my_nme):
    np.testing.assert_allclose(my_nme(ev.points[0], test.points[0]), metrics.nme(ev.points[0], test.points[0]))"""),
("md", """## CED, AUC@0.08, failure rate"""),
("code", """fig, ax = plt.subplots(figsize=(6, 4))
viz.plot_ced({"level 1": ev.nme_level1, "level 1 + 2": ev.nme}, threshold=0.08, ax=ax)
for label, e in (("level 1", ev.nme_level1), ("level 1 + 2", ev.nme)):
    print(f"{label}: AUC@0.08 = {metrics.auc(e):.3f}, failure rate = {100 * metrics.failure_rate(e):.1f}% (inter_ocular)")"""),
("code", """def my_auc(errors, threshold=0.08):
    # YOUR CODE HERE: area under the CED from 0 to threshold, divided by threshold (np.trapezoid)
    raise NotImplementedError

labs.try_exercise(labs.check_ced_auc, my_auc);"""),
],
"03_level1_cnn.ipynb": [
("md", """# 3. Level 1: the deep CNN

**What you will learn**
- the paper's Table 1a network, layer by layer, with its shapes and parameter count;
- how it is trained (a short live run here), and the shipped weights' training curves;
- what level 1 alone achieves on the test faces."""),
("code", MODE),
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
("md", """## A short live training run
A few epochs on a handful of faces (FAST) or a few hundred faces: enough to see the loss fall. The
shipped weights took about 75 minutes of CPU (see `facelandmarks/weights/README.md`)."""),
("code", """from dataclasses import replace
from pathlib import Path
import tempfile

all_train = datasets.split_faces("train")
tr, va = datasets.train_val_split(all_train, 0.1, seed=0)
n = 16 if FAST else 256
train_set = datasets.FaceSet.load(tr[:n], progress=False)
val_set = datasets.FaceSet.load(va[:8 if FAST else 60], progress=False)
cfg = train.TrainConfig(epochs=2 if FAST else 8, batch_size=8 if FAST else 32)
small = DEEP if not FAST else replace(DEEP, input_size=64, blocks=((16,), (32,), (32,)), padding=1, fc=128)
model, log = train.train_level1(small, cfg, train_set, val_set, tempfile.mkdtemp(), progress=False)
for row in log:
    print(f"epoch {row['epoch']:.0f}: train loss {row['train_loss']:.4f}, validation NME {100 * row['val_nme']:.2f}%")"""),
("md", """## The shipped weights' training curves"""),
("code", """import facelandmarks
logs = Path(facelandmarks.__file__).parent / "weights" / "logs"
viz.plot_training_log({"cycle 1": logs / "deep_level1_log.csv", "cycle 2": logs / "deep2_level1_log.csv"});"""),
("code", """from facelandmarks.evaluation import evaluate
test = datasets.load_split("test", limit=30 if FAST else None, progress=False)
ev = evaluate(load_pretrained(level2=None, fuse=True), test, boxes="jittered")
print(f"level 1 alone on {len(test)} test faces: mean NME {100 * ev.nme.mean():.2f}% (inter_ocular)")"""),
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
("code", """test = datasets.load_split("test", limit=40 if FAST else None, progress=False)
boxes, _, label = face_boxes(test, "jittered")
errors = {}
for name in ("shallow", "deep"):
    points = load_pretrained(level1=name, level2=None, fuse=True).predict_batch(test.images, boxes).points
    errors[f"{name} level 1"] = metrics.nme(points, test.points)
    s = metrics.summary(errors[f"{name} level 1"])
    print(f"{name:8s} mean NME {100 * s['mean']:.2f}%, failure rate {100 * s['failure@0.08']:.1f}% (inter_ocular, {label} boxes)")
viz.plot_ced(errors);"""),
("md", """The full ablation on all 250 test faces (with level 2, K = 1 and K = 3) is in `docs/results.md`,
produced by `benchmarks/ablation.py`."""),
],
"05_rectification_and_level2.ipynb": [
("md", """# 5. Rectification and level 2

**What you will learn**
- the similarity transform that rectifies the face from the level-1 points;
- the 24x24 patches around each point and the K points each patch network refines;
- voting, and mapping the result back to the photo through the inverse matrix."""),
("code", MODE),
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
("md", """## The patches and their votes"""),
("code", """p = cascade.level2.config.patch_size
patches = geometry.warp_batch(image, r.patch_matrices, p)
nb = cascade.level2.neighbours.numpy()
fig, axes = plt.subplots(2, 6, figsize=(12, 4.5))
for ax, point in zip(axes.ravel(), [36, 39, 42, 45, 30, 48, 54, 51, 57, 8, 19, 24]):
    ax.imshow(patches[point].permute(1, 2, 0).numpy().astype(np.uint8))
    votes = r.votes[point] - geometry.transform_points(r.level1_points[point][None], r.rectify_matrix)[0] + (p - 1) / 2
    ax.scatter(votes[:, 0], votes[:, 1], c=["red", "orange", "yellow"][:len(votes)], s=15)
    ax.set_title(f"patch {point + 1} -> {[int(k) + 1 for k in nb[point]]}", fontsize=7); ax.axis("off")"""),
("code", """def my_patch(image, matrix, size):
    # YOUR CODE HERE: cut the (size, size, 3) patch whose image -> patch matrix is `matrix`
    raise NotImplementedError

labs.try_exercise(labs.check_patch_extraction, my_patch);"""),
("code", """print(f"this face: level 1 NME {100 * metrics.nme(r.level1_points, gt):.2f}%, "
      f"after level 2 {100 * metrics.nme(r.points, gt):.2f}% (inter_ocular)")"""),
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
import importlib.util
from pathlib import Path
spec = importlib.util.find_spec("face_recognition_models")  # dlib's model file (pip install -e ".[dlib]")
try:
    if spec is None:
        raise ImportError
    import dlib
    model = Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    predictor = dlib.shape_predictor(str(model))
    pts = []
    for image, box in zip(test.images, ev.boxes):
        # dlib gets the same face box, in its own convention (see benchmarks/vs_dlib.py for the full comparison)
        from facelandmarks import detect
        found = detect.detect_faces(image, "dlib_hog")
        x0, y0, x1, y1 = np.round(found[0] + [0.5, 0.5, -0.5, -0.5]).astype(int) if len(found) else np.round(box).astype(int)
        shape = predictor(image, dlib.rectangle(int(x0), int(y0), int(x1), int(y1)))
        pts.append([(shape.part(k).x, shape.part(k).y) for k in range(68)])
    curves["dlib"] = metrics.nme(np.array(pts, float), test.points)
except ImportError:
    print("dlib's model file is not installed (pip install -e '.[dlib]'): no dlib curve")
viz.plot_ced(curves);"""),
("code", """order = np.argsort(ev.nme)
pick = list(order[:3]) + list(order[-3:])
viz.show_faces([test.images[i] for i in pick], [{"truth": test.points[i], "cascade": ev.points[i]} for i in pick],
               titles=[f"{test.names[i]}: {100 * ev.nme[i]:.1f}%" for i in pick], ncols=3);"""),
("code", """viz.plot_point_errors(ev.point_errors);"""),
],
"09_inspect_predictions.ipynb": [
("md", """# 9. Inspect the predictions

**What you will learn**
- to browse the cascade's predictions on the test faces, worst first, by point group;
- to follow one face through every stage of the cascade;
- to see which faces fail at a threshold, and why.

What to look for: profile faces (the far jaw side is invisible, yet must be "guessed"), occlusion
(hands, hair, glasses), open mouths (the inner lip points), closed eyes, strong rotation, and faces
whose detector box was poor."""),
("code", MODE),
("code", """from facelandmarks import datasets, load_pretrained, widgets
from facelandmarks.evaluation import evaluate

test = datasets.load_split("test", limit=20 if FAST else None, progress=False)
ev = evaluate(load_pretrained(fuse=True), test, boxes="jittered" if FAST else "detector")
widgets.prediction_browser(ev)"""),
("md", """A static copy of the browser's first view (widgets need a running kernel; this one shows in
the built book too):"""),
("code", """from IPython.display import Image
state = widgets.BrowserState(ev, order="worst")
Image(widgets.render_face(ev, state.current))"""),
("md", """## One face through the cascade"""),
("code", """viewer = widgets.cascade_viewer(load_pretrained(), test.images[state.current], ev.boxes[state.current])
viewer"""),
("code", """# the same stages as static images, for the built book
display(Image(viewer.children[0].value), Image(viewer.children[1].value))"""),
("md", """## Which faces fail?"""),
("code", """widgets.ced_explorer(ev)"""),
("md", """## You vs the CNN
Click each asked landmark on the four faces of the Johnston & de Chazal study (notebook 7). When the
last point is in, your error appears next to the crowd's, the experts' and the model's, measured the
same way; **save** writes your clicks to a JSON file, and `facelandmarks.human.pool_sessions` pools a
class's files into one study."""),
("code", """from facelandmarks import human
widgets.annotation_widget(human.AnnotationSession("you"), save_path="my_annotations.json")"""),
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
("code", """from pathlib import Path
MY_PHOTO = Path(os.environ["FACELANDMARKS_DATA"]) / "samples" / "einstein.jpg"  # change me
photo = io.read_image(MY_PHOTO)
try:
    r = cascade.predict(photo, name=str(MY_PHOTO))
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(photo); viz.draw_landmarks(ax, r.points); ax.axis("off")
    io.write_pts("my_photo.pts", r.points)
    print("saved my_photo.pts")
except ValueError as err:
    print("no prediction:", err)"""),
],
}

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(nb(cells), HERE / name)
        print("wrote", HERE / name)
