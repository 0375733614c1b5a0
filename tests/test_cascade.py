"""The cascade: shapes, frame matrices, stages kept for inspection, moved inputs give moved points."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from facelandmarks import datasets, load_pretrained, metrics
from facelandmarks.geometry import points_box, similarity_matrix, transform_points, translation_matrix, warp_image
from facelandmarks.io import check_image
from facelandmarks.models import confidence
from facelandmarks.models.cascade import Cascade, fuse_for_inference
from facelandmarks.models.files import load_model as load_model_file
from facelandmarks.models.level1 import DEEP, SHALLOW, Level1Net
from facelandmarks.models.level2 import Level2Config, Level2Net, neighbours


@pytest.fixture(scope="module")
def faces(data_root):
    return datasets.load_split("helen", data_root, limit=6, progress=False)


@pytest.fixture(scope="module")
def cascade():
    return load_pretrained()


def test_level1_shapes_and_table_1a():
    net = Level1Net(DEEP)
    out = net(torch.rand(2, 3, 128, 128))
    assert out.shape == (2, 68, 2)
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 64, 64, 64, 128, 128, 256]  # Table 1a
    assert all(c.kernel_size == (3, 3) for c in convs)
    linear = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert [l.out_features for l in linear] == [1024, 136]
    shallow = Level1Net(SHALLOW)
    assert shallow(torch.rand(2, 3, 39, 39)).shape == (2, 68, 2)
    assert len([m for m in shallow.features if isinstance(m, torch.nn.Conv2d)]) == 4
    with pytest.raises(ValueError, match=r"\(B, 3, 128, 128\)"):
        net(torch.rand(2, 3, 64, 64))


def test_level2_shapes_table_1b_and_voting():
    canonical = np.random.default_rng(0).uniform(0, 96, (68, 2))
    net = Level2Net(Level2Config(k=3), canonical)
    offsets = net(torch.rand(2, 68, 3, 24, 24))
    assert offsets.shape == (2, 68, 3, 2)
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 64, 64, 128]  # Table 1b
    # voting: if every patch predicts the true position of each of its K points, the vote is exact
    truth = torch.as_tensor(canonical, dtype=torch.float32)[None].repeat(2, 1, 1)
    centres = truth + 1.5
    nb = net.neighbours
    exact = (truth[:, nb] - centres[:, :, None, :]) / 24  # (B, N, K, 2)
    assert torch.allclose(net.vote(centres, exact), truth, atol=1e-4)
    # every point is voted on by itself at least
    assert (nb[:, 0] == torch.arange(68)).all()


def test_neighbours_are_nearest():
    shape = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [5.5, 0.0]])
    assert neighbours(shape, 2).tolist() == [[0, 1], [1, 0], [2, 3], [3, 2]]


def test_predict_keeps_every_stage(cascade, faces):
    box = points_box(faces.points[0])
    r = cascade.predict(faces.images[0], box=box)
    assert r.points.shape == r.level1_points.shape == r.level2_points.shape == (68, 2)
    assert r.crop_matrix.shape == (3, 3) and r.rectify_matrix.shape == (3, 3)
    assert r.patch_matrices.shape == (68, 3, 3) and r.votes.shape[0] == 68
    # the level-1 points in the crop frame lie inside the 128 x 128 crop
    in_crop = transform_points(r.level1_points, r.crop_matrix)
    assert (in_crop > -0.5).all() and (in_crop < 127.5).all()
    # each patch is centred on its level-1 point (the patch matrices map it to the patch centre)
    centres = np.einsum("nij,nj->ni", r.patch_matrices[:, :2], np.c_[r.level1_points, np.ones(68)])
    np.testing.assert_allclose(centres, 11.5, atol=1e-6)


def test_batch_equals_single(cascade, faces):
    boxes = points_box(faces.points[:3])
    batch = cascade.predict_batch(faces.images[:3], boxes)
    for i in range(3):
        np.testing.assert_allclose(cascade.predict(faces.images[i], box=boxes[i]).points, batch.points[i], atol=1e-3)


def test_shipped_cascade_is_accurate_on_test_faces(cascade, faces):
    boxes = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(0))
    r = cascade.predict_batch(faces.images, boxes)
    nme = metrics.nme(r.points, faces.points)
    assert np.median(nme) < 0.06, nme  # a trained model, not the mean shape (~0.15)


def test_shift_and_rotation_move_the_points(cascade, faces):
    image, gt = faces.images[1], faces.points[1]
    box = points_box(gt)
    ref = cascade.predict(image, box=box).points
    # an integer shift of the image and the box: the same face, the points shifted by the same amount
    # (not bit-exact: the antialiasing pre-scale samples the shifted image at another phase)
    shift = translation_matrix(7, -5)
    moved = warp_image(image, shift, image.shape[:2])
    shifted = cascade.predict(moved, box=box + [7, -5, 7, -5]).points
    gap = np.linalg.norm(shifted - (ref + [7, -5]), axis=1)
    assert gap.mean() < 0.5 and gap.max() < 2.0, gap
    # rotate by 8 degrees and scale by 1.1 about the face centre: points follow within the model's error
    c = gt.mean(axis=0)
    m = translation_matrix(*c) @ similarity_matrix(1.1, np.radians(8)) @ translation_matrix(*-c)
    rotated = warp_image(image, m, image.shape[:2])
    pred = cascade.predict(rotated, box=points_box(transform_points(gt, m))).points
    iod = metrics.normalising_distance(transform_points(gt, m))
    assert np.linalg.norm(pred - transform_points(ref, m), axis=1).mean() / iod < 0.04


def test_fused_model_gives_the_same_points(faces):
    plain, fused = load_pretrained(), load_pretrained(fuse=True)
    boxes = points_box(faces.points[:2])
    np.testing.assert_allclose(plain.predict_batch(faces.images[:2], boxes).points,
                               fused.predict_batch(faces.images[:2], boxes).points, atol=1e-2)


def test_level_switches(cascade, faces):
    box = points_box(faces.points[0])
    l1 = cascade.predict(faces.images[0], box=box, use_level2=False)
    np.testing.assert_array_equal(l1.points, l1.level1_points)
    assert l1.rectify_matrix is None
    three = load_pretrained(level3="k3")
    full = three.predict(faces.images[0], box=box)
    assert np.abs(full.points - full.level2_points).max() > 1e-3  # level 3 moved the points
    l2 = three.predict(faces.images[0], box=box, use_level3=False)
    np.testing.assert_array_equal(l2.points, l2.level2_points)
    np.testing.assert_allclose(l2.points, full.level2_points)


def test_bad_inputs(cascade, faces):
    image = faces.images[0]
    with pytest.raises(ValueError, match="degenerate"):
        cascade.predict(image, box=[10, 10, 10, 50])
    with pytest.raises(ValueError, match="outside"):
        cascade.predict(image, box=[1000, 1000, 1100, 1100])
    with pytest.raises(ValueError, match="4 finite numbers"):
        cascade.predict(image, box=[0, 0, np.nan, 10])
    with pytest.raises(ValueError, match="my.jpg"):
        cascade.predict(np.zeros((10, 10, 5), np.uint8), box=[0, 0, 5, 5], name="my.jpg")
    with pytest.raises(ValueError, match="2 images but 1 boxes"):
        cascade.predict_batch([image, image], np.array([[0, 0, 50, 50]]))


def test_check_image_conversions():
    gray = np.full((4, 5), 7, np.uint8)
    assert check_image(gray).shape == (4, 5, 3)
    rgba = np.zeros((4, 5, 4), np.uint8)
    assert check_image(rgba).shape == (4, 5, 3)
    assert check_image(np.ones((2, 2, 3))).max() == 255
    with pytest.raises(ValueError, match="float images"):
        check_image(np.full((2, 2, 3), 3.0))
    with pytest.raises(ValueError, match="int64 values 300..300 are outside 0..255"):
        check_image(np.full((2, 2, 3), 300, np.int64))


def test_cascade_rejects_mismatched_levels():
    l1 = Level1Net(DEEP)
    with pytest.raises(ValueError, match="same number of points"):
        Cascade(l1, Level2Net(Level2Config(n_points=5)))
    with pytest.raises(ValueError, match="level 3 refines"):
        Cascade(l1, None, Level2Net(Level2Config()))


def test_fuse_keeps_eval_outputs():
    torch.manual_seed(0)
    net = Level1Net(DEEP).eval()
    torch.nn.init.normal_(net.head[-1].weight, std=0.01)  # the output layer starts at zero
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial statistics
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(2, 3, 128, 128)
    before = net(x)
    after = fuse_for_inference(net)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(before, after, atol=1e-4)


def test_flip_averaging_is_mirror_symmetric(cascade, faces):
    """Predicting a mirrored face with flip=True gives exactly the mirrored prediction of the face
    (without the shape correction, which is not mirror-symmetric on purpose: it restores the
    annotations' +x pixel offset, see facelandmarks.models.shape_correction)."""
    image, box = faces.images[2], points_box(faces.points[2])
    w = image.shape[1]
    a = cascade.predict_batch([image], box[None], flip=True, shape_correction=False).points[0]
    b = cascade.predict_batch([np.ascontiguousarray(image[:, ::-1])],
                              np.array([[w - 1 - box[2], box[1], w - 1 - box[0], box[3]]]), flip=True,
                              shape_correction=False).points[0]
    from facelandmarks.geometry import hflip_matrix
    from facelandmarks.schemes import IBUG68

    b_back = transform_points(b, hflip_matrix(w))[list(IBUG68.flip_permutation)]
    np.testing.assert_allclose(a, b_back, atol=1e-3)


def test_level1_flip_starts_level2_from_the_mirror_average(faces, tmp_path):
    """level1_flip: level 1 unchanged, level 2 refines the mean of level 1 and its mirrored pass (the
    one the score runs), as train.level1_predictions(flip=True) computes it; the flag travels in the
    level-2 file."""
    from facelandmarks.models.cascade import CHUNK
    from facelandmarks.models.files import save_model
    from facelandmarks.models.pretrained import LEVEL1_WEIGHTS, LEVEL2_WEIGHTS, WEIGHTS_DIR
    from facelandmarks.train import level1_predictions

    l1_file, l2_file = WEIGHTS_DIR / LEVEL1_WEIGHTS["deep"], WEIGHTS_DIR / LEVEL2_WEIGHTS["k3"]
    cascade = Cascade.from_files(l1_file, l2_file, level1_recrop=False)  # level 1 for both passes
    images, boxes = faces.images[:3], points_box(faces.points[:3])
    plain = cascade.predict_batch(images, boxes, level1_flip=False, recrop=False)
    flipped = cascade.predict_batch(images, boxes, level1_flip=True, score=False, recrop=False, shape_correction=False)
    np.testing.assert_allclose(flipped.level1_mirror_points, plain.level1_mirror_points, atol=1e-4)  # same passes
    start = (plain.level1_points + plain.level1_mirror_points) / 2
    np.testing.assert_allclose(flipped.level1_points, start, atol=1e-4)  # level 1's points: their mean
    scored = cascade.predict_batch(images, boxes, level1_flip=True, recrop=False)
    features = confidence.features(cascade.level2, scored, level1_flip=True)
    np.testing.assert_allclose(features[:, 0], confidence.features(cascade.level2, plain)[:, 0])  # the gap of the passes
    np.testing.assert_allclose(2 * confidence.features(cascade.level2, scored)[:, 0], features[:, 0])
    with torch.no_grad():
        again = cascade._refine(cascade.level2, images, start, CHUNK)[0]
    np.testing.assert_allclose(flipped.level2_points, again, atol=1e-4)
    assert np.abs(flipped.level2_points - plain.level2_points).max() > 0.01  # it changed what level 2 saw
    subset = datasets.FaceSet(faces.names[:3], images, faces.points[:3], faces.scheme)
    np.testing.assert_allclose(level1_predictions(cascade.level1, subset, boxes, flip=True), start, atol=1e-3)
    both = cascade.predict_batch(images, boxes, level1_flip=True, recrop=True, score=False).level1_points
    np.testing.assert_allclose(level1_predictions(cascade.level1, subset, boxes, flip=True, recrop=True), both, atol=1e-3)
    assert flipped.score is None and plain.score is not None and scored.score is not None

    net2, saved = load_model_file(l2_file)
    for flag in (True, False):
        save_model(tmp_path / "level2.pt", "level2", net2, net2.config, {"level1_flip": flag})
        assert Cascade.from_files(l1_file, tmp_path / "level2.pt").level1_flip is flag
    default = load_pretrained()
    expected = default.predict_batch(images, boxes, level1_flip=default.level1_flip)
    np.testing.assert_allclose(default.predict_batch(images, boxes).points, expected.points)


def test_recrop_matrices_turn_the_face_upright_around_its_tight_box(faces):
    from facelandmarks.models.level1 import crop_matrices, recrop_matrices

    cascade = load_pretrained()
    reference = cascade.level1.mean_shape.double().numpy()
    points = faces.points[:3]
    turn = similarity_matrix(1.0, 0.4)  # 23 degrees about the image origin
    upright = recrop_matrices(points, reference, DEEP)
    turned = recrop_matrices(transform_points(points, turn), reference, DEEP)
    np.testing.assert_allclose(turned, upright @ np.linalg.inv(turn), atol=1e-9)  # same crop of the same face
    # a near-upright face keeps nearly the crop of its tight box (the reference fixes the angle)
    np.testing.assert_allclose(transform_points(points, upright).mean(1), transform_points(points, crop_matrices(
        points_box(points), DEEP)).mean(1), atol=0.1 * DEEP.input_size)


def test_predict_passes_recrop_and_level1_flip(faces):
    cascade = load_pretrained()
    box = points_box(faces.points[0])
    for recrop, level1_flip in ((False, False), (True, False), (None, None)):
        one = cascade.predict(faces.images[0], box=box, recrop=recrop, level1_flip=level1_flip)
        batch = cascade.predict_batch(faces.images[:1], box[None], recrop=recrop, level1_flip=level1_flip)
        np.testing.assert_allclose(one.points, batch.points[0])
    paper = cascade.predict(faces.images[0], box=box, recrop=False, level1_flip=False, shape_correction=False)
    assert np.abs(paper.points - one.points).max() > 0.01  # the default (None: the file's flags) differs
    raw = cascade.predict_batch(faces.images[:1], box[None], recrop=False, level1_flip=False, shape_correction=False)
    np.testing.assert_allclose(paper.points, raw.points[0])
    found = cascade.predict(faces.images[0], recrop=False, level1_flip=False)  # through predict_all
    assert found.points.shape == (68, 2)


def test_recrop_corrects_a_shifted_box(faces):
    """A box 15% off: level 1 on a crop re-made from its own first points is closer than on the box."""
    cascade = load_pretrained()
    boxes = points_box(faces.points)
    size = boxes[:, 2:] - boxes[:, :2]
    shifted = boxes + np.hstack([0.15 * size, 0.15 * size])
    plain = cascade.predict_batch(faces.images, shifted, recrop=False, score=False)
    again = cascade.predict_batch(faces.images, shifted, recrop=True, score=False)
    errors = [metrics.nme(r.level1_points, faces.points).mean() for r in (plain, again)]
    assert errors[1] < 0.9 * errors[0], errors  # measured: 4.8% -> 4.1% on these six HELEN faces
    assert not np.allclose(again.crop_matrix, plain.crop_matrix)  # the second pass's crop is kept


def test_torch_cascade_with_workers_gives_the_same_points(faces):
    """workers > 1 on the torch backend too (the worker threads run without gradients, like the caller)."""
    cascade = load_pretrained()
    images, boxes = faces.images[:5], points_box(faces.points[:5])
    one = cascade.predict_batch(images, boxes, chunk=2)
    cascade.workers = 2
    two = cascade.predict_batch(images, boxes, chunk=2)
    np.testing.assert_allclose(two.points, one.points, atol=1e-4)
    np.testing.assert_allclose(two.score, one.score, atol=1e-6)


def test_predict_all_and_the_largest_face_rule(cascade, faces):
    """Two real faces, one twice the other's size, side by side: predict_all gives both, largest first;
    predict gives the largest whatever the detector's scores say."""
    import skimage.transform

    big, small = faces.images[0], faces.images[1]
    half = np.round(skimage.transform.rescale(small, 0.5, channel_axis=2, anti_aliasing=True) * 255).astype(np.uint8)
    canvas = np.zeros((384, 384 + 192, 3), np.uint8)
    canvas[:, :384] = big
    canvas[96:288, 384:] = half
    results = cascade.predict_all(canvas)
    assert len(results) == 2
    widths = [r.box[2] - r.box[0] for r in results]
    assert widths[0] > 1.5 * widths[1] and results[0].points[:, 0].mean() < 384 < results[1].points[:, 0].mean()
    np.testing.assert_allclose(cascade.predict(canvas).points, results[0].points)
    assert all(0 <= r.score <= 1 and r.detector_score is not None for r in results)


def test_confidence_is_high_on_faces_low_on_upside_down_faces_and_can_raise(cascade, faces):
    import warnings

    from facelandmarks.models.cascade import LowConfidenceError, LowConfidenceWarning

    boxes = points_box(faces.points)
    upright = cascade.predict_batch(faces.images, boxes).score
    flipped = cascade.predict_batch([im[::-1] for im in faces.images],
                                    np.stack([b[[0, 3, 2, 1]] * [1, -1, 1, -1] + [0, 383, 0, 383] for b in boxes])).score
    assert upright.min() > 0.5 and flipped.max() < 0.5, (upright, flipped)
    upside_down = faces.images[0][::-1]
    box = boxes[0][[0, 3, 2, 1]] * [1, -1, 1, -1] + [0, 383, 0, 383]
    with pytest.raises(LowConfidenceError, match="upside.png: confidence 0.[0-4]"):
        cascade.predict(upside_down, box=box, min_score=0.5, name="upside.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cascade.predict(upside_down, box=box, min_score=0.5, low_score="warn")
    assert any(issubclass(w.category, LowConfidenceWarning) for w in caught)
    assert cascade.predict_batch(faces.images[:1], boxes[:1], score=False).score is None


def test_level1_recrop_runs_the_recrop_pass_only(faces):
    """A second-pass level 1 replaces level 1 in the recrop pass (its crop, from the first pass's
    points) and nowhere else: the same network as both gives the plain cascade's points."""
    from facelandmarks.models.pretrained import pretrained_files

    default = load_pretrained()
    assert default.level1_recrop is not None and default.recrop  # the shipped default has one
    level1, level2, second = (load_model_file(p)[0] for p in pretrained_files())
    images, boxes = faces.images[:3], points_box(faces.points[:3])
    same = Cascade(level1, level2, recrop=True, level1_flip=True, level1_recrop=level1)
    plain = Cascade(level1, level2, recrop=True, level1_flip=True)
    np.testing.assert_allclose(same.predict_batch(images, boxes).points, plain.predict_batch(images, boxes).points)
    shipped = Cascade(level1, level2, recrop=True, level1_flip=True, level1_recrop=second,
                      shape_correction=default.shape_correction)
    two = shipped.predict_batch(images, boxes)
    assert np.abs(two.level1_points - plain.predict_batch(images, boxes).level1_points).max() > 0.05
    np.testing.assert_allclose(two.points, default.predict_batch(images, boxes).points, atol=1e-3)
    once = shipped.predict_batch(images, boxes, recrop=False, shape_correction=False)  # no recrop pass:
    np.testing.assert_allclose(once.points, plain.predict_batch(images, boxes, recrop=False).points)  # 2nd net unused
    assert load_pretrained(level1_recrop=False).level1_recrop is None
    assert load_pretrained(level2="k3_sim").level1_recrop is None  # trained without one


def test_faces_turned_far_get_the_recrop_pass_from_level_1_itself(faces):
    """TILT_FALLBACK_DEG: a face the first pass finds turned by more than it gets level 1's own recrop
    pass (trained for more tilt), an upright face in the same batch the second-pass network's."""
    from facelandmarks.geometry import similarity_matrix
    from facelandmarks.models.cascade import TILT_FALLBACK_DEG

    default, plain = load_pretrained(), load_pretrained(level1_recrop=False)
    image, points = faces.images[0], faces.points[0]
    h, w = image.shape[:2]
    centre = points.mean(0)
    turn = translation_matrix(*centre) @ similarity_matrix(1.0, np.radians(45)) @ translation_matrix(*-centre)
    turned = warp_image(image, turn, (h, w))
    images = [image, turned]
    boxes = points_box(np.stack([points, transform_points(points, turn)]))
    both = default.predict_batch(images, boxes, score=False)
    angles = np.degrees(np.abs(np.arctan2(both.crop_matrix[:, 1, 0], both.crop_matrix[:, 0, 0])))
    assert angles[0] < TILT_FALLBACK_DEG < angles[1], angles
    np.testing.assert_allclose(both.level1_points[1], plain.predict_batch(images, boxes, score=False).level1_points[1])
    default.tilt_fallback_deg = 90.0  # no fallback: the upright face's pass is unchanged, the turned face's is not
    again = default.predict_batch(images, boxes, score=False)
    np.testing.assert_allclose(again.level1_points[0], both.level1_points[0])
    assert np.abs(again.level1_points[1] - both.level1_points[1]).max() > 0.1
