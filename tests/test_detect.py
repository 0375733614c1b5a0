"""Face detection: the default detector finds a face, reports none with a clear error, maps boxes.

(The schemes, io, geometry, metrics, datasets and augment tests are in their own files.)"""
from __future__ import annotations

import numpy as np
import pytest

from facelandmarks import detect


def test_detector_finds_the_astronaut_and_maps_boxes():
    import skimage.data

    box = detect.find_face(skimage.data.astronaut(), name="astronaut")
    assert 150 < box[0] < 200 and 60 < box[1] < 130 and 230 < box[2] < 290  # her face
    with pytest.raises(detect.NoFaceError, match="blank.png: no face found"):
        detect.find_face(np.zeros((200, 200, 3), np.uint8), name="blank.png")
    np.testing.assert_array_equal(detect.to_landmark_box(np.array([1.0, 2, 3, 4]), "landmarks"), [1, 2, 3, 4])
    m = detect.BOX_MAPPINGS["dlib_hog"]
    mapped = detect.to_landmark_box(np.array([0.0, 0.0, 100.0, 100.0]), "dlib_hog")
    np.testing.assert_allclose(mapped[2] - mapped[0], 100 * m.sw)
    np.testing.assert_allclose((mapped[1] + mapped[3]) / 2, 50 + 100 * m.dy)
    with pytest.raises(ValueError, match="unknown box kind"):
        detect.to_landmark_box(np.zeros(4), "nope")


def test_box_mapping_invert_undoes_apply():
    m = detect.BOX_MAPPINGS["dlib_hog"]
    boxes = np.array([[10.0, 20.0, 110.0, 140.0], [0.0, 0.0, 50.0, 50.0]])
    np.testing.assert_allclose(m.invert(m.apply(boxes)), boxes, atol=1e-12)
