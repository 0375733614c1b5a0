"""One cascade, many threads: predict, predict_batch, the detectors and the widgets give from a thread
pool exactly what they give one call after another (issue 14, fault 1).

The case of the issue: 8 real test faces pasted at different places in 768 x 384 canvases, one
``load_pretrained()`` cascade, ``predict`` from 4 threads. Before the fix a quarter of the calls
came back with another image's face box (dlib's detector object was shared, and it keeps the
image's feature pyramid inside itself while it scans).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from facelandmarks import datasets, detect, load_pretrained

torch.set_num_threads(1)
THREADS = 4


@pytest.fixture(scope="module")
def canvases(test_faces) -> list[np.ndarray]:
    """8 faces that dlib finds, each pasted at its own place in a 768 x 384 black canvas."""
    pytest.importorskip("dlib", reason="the default detector needs dlib (pip install dlib-bin)")
    faces = datasets.FaceSet.load(test_faces[:12], progress=False)
    rng = np.random.default_rng(0)
    out = []
    for image in faces.images:
        if len(detect.detect_faces(image)) == 0:
            continue
        canvas = np.zeros((384, 768, 3), np.uint8)
        x0 = int(rng.integers(0, 385))
        canvas[:, x0:x0 + 384] = image
        out.append(canvas)
    assert len(out) >= 8
    return out[:8]


@pytest.fixture(scope="module")
def cascade():
    return load_pretrained()


def _in_threads(fn, items: list) -> list:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(fn, items))


def test_predict_from_a_thread_pool_equals_one_after_another(cascade, canvases):
    serial = [cascade.predict(im) for im in canvases]
    threaded = _in_threads(cascade.predict, canvases * 2)  # 16 calls, 4 at a time
    for k, r in enumerate(threaded):
        ref = serial[k % len(canvases)]
        np.testing.assert_array_equal(r.detector_box, ref.detector_box, err_msg=f"call {k}: another image's box")
        np.testing.assert_allclose(r.points, ref.points, atol=1e-4, err_msg=f"call {k}")


def test_predict_batch_from_a_thread_pool(cascade, canvases):
    boxes = np.stack([cascade.predict(im).box for im in canvases])
    serial = cascade.predict_batch(canvases, boxes).points
    threaded = _in_threads(lambda i: cascade.predict_batch(canvases[i:i + 2], boxes[i:i + 2]).points,
                           list(range(0, len(canvases), 2)) * 2)
    np.testing.assert_allclose(np.concatenate(threaded[:len(threaded) // 2]), serial, atol=1e-4)
    np.testing.assert_allclose(np.concatenate(threaded[len(threaded) // 2:]), serial, atol=1e-4)


@pytest.mark.parametrize("detector", detect.DETECTORS)
def test_detectors_from_a_thread_pool(canvases, detector):
    serial = [detect.detect_faces(im, detector) for im in canvases]
    threaded = _in_threads(lambda im: detect.detect_faces(im, detector), canvases * 2)
    for k, boxes in enumerate(threaded):
        np.testing.assert_array_equal(boxes, serial[k % len(canvases)], err_msg=f"call {k}")


def test_widget_renders_from_a_thread_pool(cascade, canvases):
    from facelandmarks import widgets

    stages = [widgets.cascade_stages(cascade, im) for im in canvases[:4]]
    serial = [widgets.render_stages(s, height=150) for s in stages]
    threaded = _in_threads(lambda s: widgets.render_stages(s, height=150), stages * 2)
    assert threaded == serial * 2  # the same PNG bytes
