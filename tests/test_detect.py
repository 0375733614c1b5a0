"""Face detection: both detectors find real faces, report none with a clear error, check their input,
and map boxes to the landmark convention by maths that can be checked by hand.

(The schemes, io, geometry, metrics, datasets and augment tests are in their own files.)"""
from __future__ import annotations

import sys

import numpy as np
import pytest
import skimage.data

from facelandmarks import datasets, detect
from facelandmarks.geometry import points_box


def needs(detector: str) -> None:
    """Skip a dlib test cleanly when dlib is not installed."""
    if detector == "dlib_hog":
        pytest.importorskip("dlib", reason="detector 'dlib_hog' needs dlib (pip install dlib-bin)")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()  # (512, 512, 3) uint8, one face


@pytest.fixture(scope="module")
def three_test_faces(test_faces: list[datasets.Face]) -> datasets.FaceSet:
    return datasets.FaceSet.load(test_faces[:3], progress=False)


def in_astronaut_face(box: np.ndarray) -> bool:
    # her face: the 68 points would span about x 170-265, y 80-205 in the 512 x 512 image
    return 150 < box[0] < 200 and 60 < box[1] < 130 and 230 < box[2] < 290 and 170 < box[3] < 240


@pytest.mark.parametrize("detector", detect.DETECTORS)
def test_finds_the_astronaut(astronaut, detector):
    needs(detector)
    found = detect.detect_faces(astronaut, detector)
    assert found.ndim == 2 and found.shape[1] == 4 and found.dtype == np.float64 and len(found) >= 1
    box = detect.find_face(astronaut, detector, name="astronaut")
    np.testing.assert_allclose(box, detect.to_landmark_box(found[0], detector))  # the best box, mapped
    assert in_astronaut_face(box), box


def test_default_detector_is_the_better_one_and_used_by_default(astronaut):
    needs(detect.DEFAULT_DETECTOR)
    assert detect.DEFAULT_DETECTOR in detect.DETECTORS and detect.DEFAULT_DETECTOR in detect.BOX_MAPPINGS
    np.testing.assert_array_equal(detect.find_face(astronaut), detect.find_face(astronaut, detect.DEFAULT_DETECTOR))


@pytest.mark.parametrize("detector", detect.DETECTORS)
def test_mapped_box_overlaps_ground_truth_on_real_test_faces(three_test_faces, detector):
    needs(detector)
    faces = three_test_faces if detector == detect.DEFAULT_DETECTOR else three_test_faces.subset([0, 1])
    for name, image, points in zip(faces.names, faces.images, faces.points):
        box = detect.find_face(image, detector, name=name)
        assert detect.box_iou(box, points_box(points)) >= 0.5, name  # the recall criterion of the benchmark


@pytest.mark.parametrize("detector", detect.DETECTORS)
def test_no_face_error_names_the_image_and_the_detector(detector):
    needs(detector)
    blank = np.zeros((200, 200, 3), np.uint8)
    found = detect.detect_faces(blank, detector)
    assert found.shape == (0, 4) and found.dtype == np.float64
    with pytest.raises(detect.NoFaceError, match=f"blank.png: no face found by detector '{detector}'") as err:
        detect.find_face(blank, detector, name="blank.png")
    message = str(err.value)  # says what was searched and what to try
    assert "searched at full size (200x200)" in message and "box=" in message and "--boxes" in message
    # it names every other kind of detector (dlib_hog_fast is dlib_hog with less upsampling: no help there)
    assert all(f"--detector {d}" in message for d in detect.DETECTORS
               if not d.endswith("_fast") and d != detector.removesuffix("_fast"))
    assert issubclass(detect.NoFaceError, ValueError)


@pytest.mark.parametrize("detector", detect.DETECTORS)
def test_gray_and_float_images_are_converted(astronaut, detector):
    needs(detector)
    gray = np.round(astronaut @ [0.299, 0.587, 0.114]).astype(np.uint8)  # (H, W)
    assert in_astronaut_face(detect.find_face(gray, detector))
    assert in_astronaut_face(detect.find_face(astronaut / 255.0, detector))  # float in [0, 1]


@pytest.mark.parametrize("bad, message", [
    (np.full((20, 20, 3), 300, np.int32), "outside 0..255"),
    (np.zeros((20, 20, 3), complex), "unsupported dtype"),
    (np.zeros((20, 20, 5), np.uint8), "expected an image"),
    (np.zeros(20, np.uint8), "expected an image"),
    (np.full((20, 20, 3), 2.0), r"\[0, 1\]"),
])
def test_bad_images_raise_clear_errors(bad, message):
    for detector in detect.DETECTORS:  # the image is checked before any detector runs
        with pytest.raises(ValueError, match=message):
            detect.detect_faces(bad, detector)


def test_unknown_detector_and_tiny_images():
    with pytest.raises(ValueError, match="unknown detector 'nope'.*skimage_lbp"):
        detect.detect_faces(np.zeros((50, 50, 3), np.uint8), "nope")
    assert detect.detect_faces(np.zeros((10, 10, 3), np.uint8), "skimage_lbp").shape == (0, 4)  # < 24 px window


def test_missing_dlib_gives_a_clear_error(monkeypatch):
    detect._DLIB_DETECTORS.clear()
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError
    try:
        with pytest.raises(ImportError, match="pip install dlib-bin"):
            detect.detect_faces(np.zeros((50, 50, 3), np.uint8), "dlib_hog")
    finally:
        detect._DLIB_DETECTORS.clear()


@pytest.mark.parametrize("detector", detect.DETECTORS)
def test_large_images_are_shrunk_and_boxes_scaled_back(astronaut, detector, monkeypatch):
    needs(detector)
    full = detect.detect_faces(astronaut, detector)[0]
    monkeypatch.setattr(detect, "MAX_SIDE", 320)  # the 512 px astronaut is now "large": detected at 320 px
    small = detect.detect_faces(astronaut, detector)[0]
    assert detect.box_iou(full, small) > 0.6, (full, small)


def test_face_missed_after_shrinking_is_found_at_full_size(data_root):
    """The J&dC AFLW photo (1203 x 1018): dlib's HOG misses its borderline face once the photo is
    shrunk to MAX_SIDE and finds it at full size; a photo above RETRY_SIDE is not retried."""
    needs("dlib_hog")
    from facelandmarks.io import read_image

    image = read_image(data_root / "human" / "jdc" / "images" / "aflw__face_41556.jpg")
    assert detect.MAX_SIDE < max(image.shape[:2]) <= detect.RETRY_SIDE
    found = detect.detect_faces(image, "dlib_hog")
    assert len(found) >= 1 and detect.box_iou(found[0], np.array([347.5, 399.5, 810.5, 862.5])) > 0.9, found


def test_full_size_pass_only_when_the_shrunk_image_gives_nothing(astronaut, monkeypatch):
    needs("dlib_hog")
    calls = []
    real = detect._DETECT["dlib_hog"]

    def spy(im):
        calls.append(im.shape)
        boxes, scores = real(im)
        return boxes[:0], scores[:0]

    monkeypatch.setitem(detect._DETECT, "dlib_hog", spy)
    monkeypatch.setattr(detect, "MAX_SIDE", 256)
    assert len(detect.detect_faces(astronaut, "dlib_hog")) == 0 and calls == [(256, 256, 3), (512, 512, 3)]
    calls.clear()
    assert len(detect.detect_faces(astronaut, "dlib_hog", full_size=False)) == 0 and calls == [(256, 256, 3)]
    calls.clear()
    assert len(detect.detect_faces(astronaut, "dlib_hog", full_size=True)) == 0 and calls == [(512, 512, 3)]


@pytest.fixture(scope="module")
def small_face_in_a_large_photo(three_test_faces) -> tuple[np.ndarray, np.ndarray]:
    """A real test face shrunk to an 80-px landmark box, pasted into a 4000 x 3000 photo (scikit-image's
    coffee, enlarged); returns the photo and the face's landmark box."""
    import skimage.transform

    image, points = three_test_faces.images[0], three_test_faces.points[0]
    box = points_box(points)
    scale = 80 / (box[2] - box[0])
    small = np.round(skimage.transform.rescale(image, scale, channel_axis=2, anti_aliasing=True) * 255).astype(np.uint8)
    photo = np.round(skimage.transform.resize(skimage.data.coffee(), (3000, 4000), order=1) * 255).astype(np.uint8)
    photo[1700:1700 + small.shape[0], 2500:2500 + small.shape[1]] = small
    return photo, points_box((points + 0.5) * scale - 0.5 + [2500, 1700])


def test_an_80_px_face_in_a_4000_by_3000_photo_is_found(small_face_in_a_large_photo):
    """Missed once the photo is shrunk to MAX_SIDE (the face is 20 px there), found by the full-size pass."""
    needs("dlib_hog")
    photo, truth = small_face_in_a_large_photo
    assert len(detect.detect_faces(photo, full_size=False)) == 0  # what the shipped code did
    found = detect.detect_faces(photo)
    assert len(found) == 1 and detect.box_iou(detect.to_landmark_box(found[0], "dlib_hog"), truth) > 0.5, found


def test_detector_scores_come_with_the_boxes(astronaut):
    needs("dlib_hog")
    boxes, scores = detect.detect_faces(astronaut, return_scores=True)
    assert boxes.shape == (len(scores), 4) and scores.shape == (len(boxes),) and (np.diff(scores) <= 0).all()
    np.testing.assert_array_equal(boxes, detect.detect_faces(astronaut))
    boxes, support = detect.detect_faces(astronaut, "skimage_lbp", return_scores=True)
    assert (support >= detect.LBP_MIN_SUPPORT).all() and len(boxes) == len(support)


def test_box_iou_by_hand():
    a = np.array([0.0, 0.0, 2.0, 2.0])
    assert detect.box_iou(a, np.array([1.0, 0.0, 3.0, 2.0])) == pytest.approx(2 / 6)  # overlap 1 x 2; 4 + 4 - 2
    assert detect.box_iou(a, a) == 1.0 and detect.box_iou(a, np.array([5.0, 5, 6, 6])) == 0.0
    np.testing.assert_allclose(detect.box_iou(a, np.array([[0.0, 0, 1, 1], [0, 0, 4, 4]])), [0.25, 0.25])


def test_to_landmark_box_identity_and_shapes():
    box = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(detect.to_landmark_box(box, "landmarks"), box)
    boxes = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 10.0, 20.0]])
    np.testing.assert_array_equal(detect.to_landmark_box(boxes, "landmarks"), boxes)
    for kind in detect.BOX_MAPPINGS:
        assert detect.to_landmark_box(box, kind).shape == (4,)
        assert detect.to_landmark_box(boxes, kind).shape == (2, 4)
        np.testing.assert_allclose(detect.to_landmark_box(boxes, kind)[1], detect.to_landmark_box(boxes[1], kind))


@pytest.mark.parametrize("bad, message", [
    (np.zeros(3), r"shape \(4,\) or \(B, 4\)"),
    (np.zeros((2, 2, 4)), r"shape \(4,\) or \(B, 4\)"),
    (np.array([0.0, 0.0, np.nan, 1.0]), "NaN or inf"),
])
def test_to_landmark_box_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        detect.to_landmark_box(bad, "dlib_hog")
    with pytest.raises(ValueError, match="unknown box kind 'nope'"):
        detect.to_landmark_box(np.zeros(4), "nope")


@pytest.mark.parametrize("kind", sorted(detect.BOX_MAPPINGS))
def test_mapping_maths_by_hand_and_round_trip(kind):
    m = detect.BOX_MAPPINGS[kind]
    # a 100 x 200 detector box centred on (50, 100): centre moves by (100 dx, 200 dy), size becomes (100 sw, 200 sh)
    mapped = detect.to_landmark_box(np.array([0.0, 0.0, 100.0, 200.0]), kind)
    np.testing.assert_allclose((mapped[:2] + mapped[2:]) / 2, [50 + 100 * m.dx, 100 + 200 * m.dy])
    np.testing.assert_allclose(mapped[2:] - mapped[:2], [100 * m.sw, 200 * m.sh])
    boxes = np.array([[10.0, 20.0, 110.0, 140.0], [-5.0, 0.0, 50.0, 50.0]])
    np.testing.assert_allclose(m.invert(m.apply(boxes)), boxes, atol=1e-12)
    np.testing.assert_allclose(m.apply(m.invert(boxes)), boxes, atol=1e-12)


def test_ground_truth_box_seen_through_a_detector_maps_back_onto_itself(three_test_faces):
    # a detector box that stands in the fitted relation to a face's ground-truth box (its inverse
    # mapping) maps back exactly onto that ground-truth box, and sits above it (it holds the forehead)
    for kind in detect.DETECTORS:
        for points in three_test_faces.points:
            gt = points_box(points)
            as_detector = detect.BOX_MAPPINGS[kind].invert(gt)
            np.testing.assert_allclose(detect.to_landmark_box(as_detector, kind), gt, atol=1e-9)
            assert (as_detector[1] + as_detector[3]) / 2 < (gt[1] + gt[3]) / 2


def test_fitted_mappings_are_plausible_data():
    assert detect.BOX_MAPPINGS["landmarks"] == detect.BoxMapping()
    for kind in detect.DETECTORS:
        m = detect.BOX_MAPPINGS[kind]
        assert 0.05 < m.dy < 0.25 and abs(m.dx) < 0.05 and 0.7 < m.sw < 1.3 and 0.7 < m.sh < 1.3, kind
        assert 0 < m.shift_std < 0.2 and 0 < m.log_scale_std < 0.2 and m.n > 900, kind  # fitted, not defaults
    with pytest.raises(ValueError, match="positive"):
        detect.BoxMapping(sw=0.0)


def test_dlib_points_land_on_the_face(three_test_faces):
    import importlib.util

    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip('dlib\'s 68-point model is the optional extra .[dlib] (pip install -e ".[dlib]")')
    faces = three_test_faces
    boxes = detect.BOX_MAPPINGS["dlib_hog"].invert(points_box(faces.points))
    for image, box, gt in zip(faces.images, boxes, faces.points):
        pts = detect.dlib_points(image, box)
        assert pts.shape == (68, 2)
        iod = np.linalg.norm(gt[36] - gt[45])
        assert np.linalg.norm(pts - gt, axis=1).mean() / iod < 0.08  # ERT on its own kind of box: a few % of the eye distance


def test_dlib_model_missing_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "face_recognition_models" else real(name, *a))
    with pytest.raises(ImportError, match=r"\.\[dlib\]"):
        detect.dlib_model_file()
