"""ONNX export and the ONNX Runtime backend: same points as torch, round trip, stale files refused,
the docs/deploy.md example runs."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the [onnx] extra (make test installs it)")
import onnx  # noqa: E402

from facelandmarks import datasets, load_pretrained, metrics  # noqa: E402
from facelandmarks.cli import main  # noqa: E402
from facelandmarks.geometry import points_box  # noqa: E402
from facelandmarks.models import onnx as fl_onnx  # noqa: E402
from facelandmarks.models.cascade import CHUNK  # noqa: E402
from facelandmarks.models.files import file_sha256  # noqa: E402
from facelandmarks.models.pretrained import LEVEL1_WEIGHTS, LEVEL2_WEIGHTS, pretrained_files  # noqa: E402
from facelandmarks.models.pretrained import WEIGHTS_DIR as _WEIGHTS  # noqa: E402

STAGES = ("points", "level1_points", "level2_points", "votes")
SHIPPED = pretrained_files(level3="k3")  # level 1, 2, 3 and the second-pass level 1, in the order of Cascade.levels


@pytest.fixture(scope="module")
def faces(data_root):
    faces = datasets.load_split("test", data_root, limit=CHUNK + 3, progress=False)  # 11: not a multiple of CHUNK
    return faces, datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(0))


@pytest.fixture(scope="module")
def torch_cascade():
    return load_pretrained(level3="k3")


@pytest.fixture(scope="module")
def exported(torch_cascade, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx") / "facelandmarks-onnx"
    fl_onnx.export_onnx(torch_cascade, folder, float_weights=SHIPPED)
    return folder


def assert_same_stages(a, b, tol=1e-3):
    for name in STAGES:
        gap = np.abs(getattr(a, name) - getattr(b, name)).max()
        assert gap < tol, f"{name}: {gap} px"
    assert a.score is not None and b.score is not None
    np.testing.assert_allclose(b.score, a.score, atol=1e-4)  # the confidence score (it uses a mirrored level-1 pass)


@pytest.mark.parametrize("n", [1, CHUNK + 3])
def test_onnxruntime_cascade_equals_torch(torch_cascade, faces, n):
    images, boxes = faces[0].images[:n], faces[1][:n]
    ort_cascade = load_pretrained(level3="k3", backend="onnxruntime")
    assert isinstance(ort_cascade.level1, fl_onnx.OnnxLevel1)
    ref, got = torch_cascade.predict_batch(images, boxes), ort_cascade.predict_batch(images, boxes)
    assert_same_stages(ref, got)
    np.testing.assert_allclose(got.patch_matrices, ref.patch_matrices, rtol=1e-6, atol=1e-4)  # same warps, same frames


def test_warps_run_in_one_torch_thread_and_threads_are_restored(faces):
    import torch

    ort_cascade = load_pretrained(backend="onnxruntime", level2=None)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # torch's default on a 2-core machine
    # a torch cascade's workers first: the shared pool's threads then start with two torch threads,
    # and the ONNX cascade's warps must still run with one (they ran with two before the fix)
    torch_cascade = load_pretrained(level2=None)
    torch_cascade.workers = fl_onnx.WORKERS
    torch_cascade.predict_batch(faces[0].images[:2], faces[1][:2])
    seen = []
    original = fl_onnx.OnnxLevel1.forward
    try:
        fl_onnx.OnnxLevel1.forward = lambda self, x: (seen.append(torch.get_num_threads()), original(self, x))[1]
        ort_cascade.predict_batch(faces[0].images[:2], faces[1][:2])
        assert torch.get_num_threads() == 2  # restored
        torch_cascade.predict_batch(faces[0].images[:2], faces[1][:2])
        assert torch.get_num_threads() == 2  # the torch cascade's workers do not change the caller's
    finally:
        fl_onnx.OnnxLevel1.forward = original
        torch.set_num_threads(before)
    assert seen and set(seen) == {fl_onnx.WARP_THREADS}


@pytest.mark.parametrize("n", [1, CHUNK + 3])
def test_workers_side_by_side_give_the_same_points(faces, n):
    """The ONNX Runtime cascade runs chunks (and at batch 1 the crop and its mirror image) in
    ``workers`` threads; the points do not depend on it, and the threads are really used."""
    import threading

    ort_cascade = load_pretrained(backend="onnxruntime")
    assert ort_cascade.workers == fl_onnx.WORKERS >= 1
    images, boxes = faces[0].images[:n], faces[1][:n]
    seen = set()
    original = fl_onnx.OnnxLevel1.forward
    try:
        fl_onnx.OnnxLevel1.forward = lambda self, x: (seen.add(threading.current_thread().name), original(self, x))[1]
        ort_cascade.workers = 1
        one = ort_cascade.predict_batch(images, boxes)
        assert seen == {threading.current_thread().name}
        seen.clear()
        ort_cascade.workers = 3
        several = ort_cascade.predict_batch(images, boxes)
    finally:
        fl_onnx.OnnxLevel1.forward = original
    assert any(name.startswith("facelandmarks") for name in seen)  # (a single call may stay in the caller)
    assert_same_stages(one, several, tol=1e-5)
    np.testing.assert_array_equal(one.level1_mirror_points, several.level1_mirror_points)


def test_level1_flip_and_recrop_travel_with_the_export(tmp_path, faces):
    cascade = load_pretrained()
    cascade.level1_flip, cascade.recrop = True, True
    default = pretrained_files()
    fl_onnx.export_onnx(cascade, tmp_path, float_weights=default)
    manifest = json.loads((tmp_path / fl_onnx.MANIFEST).read_text())
    assert manifest["level1_flip"] is True and manifest["recrop"] is True
    loaded = fl_onnx.load_onnx(tmp_path, float_weights=default)
    in_memory = fl_onnx.to_onnxruntime(cascade, default)
    for ort_cascade in (loaded, in_memory):
        assert ort_cascade.level1_flip is True and ort_cascade.recrop is True
        np.testing.assert_allclose(ort_cascade.level1.mean_shape.numpy(), cascade.level1.mean_shape.numpy())
        assert isinstance(ort_cascade.level1_recrop, fl_onnx.OnnxLevel1)  # the second-pass level 1 travels too
    images, boxes = faces[0].images[:2], faces[1][:2]
    assert_same_stages(cascade.predict_batch(images, boxes), loaded.predict_batch(images, boxes))


def test_onnxruntime_backend_runs_on_the_cpu_only(faces):
    ort_cascade = load_pretrained(backend="onnxruntime", level2=None)
    images, boxes = faces[0].images[:1], faces[1][:1]
    assert ort_cascade.predict_batch(images, boxes, device="cpu").points.shape == (1, 68, 2)
    with pytest.raises(ValueError, match="onnxruntime backend runs its networks on the CPU"):
        ort_cascade.predict_batch(images, boxes, device="cuda")


def test_export_round_trip(exported, torch_cascade, faces):
    manifest = json.loads((exported / "cascade.json").read_text())
    assert manifest["opset"] == 17 and manifest["scheme"] == "ibug68"
    assert list(manifest["levels"]) == ["level1", "level2", "level3", "level1_recrop"]
    assert manifest["levels"]["level1_recrop"]["kind"] == "level1" and "mean_shape" in manifest["levels"]["level1_recrop"]
    for (name, entry), weights in zip(manifest["levels"].items(), SHIPPED):
        onnx.checker.check_model(str(exported / entry["file"]), full_check=True)
        assert entry["float_sha256"] == file_sha256(weights) and entry["float_weights"] == weights.name
    np.testing.assert_allclose(manifest["levels"]["level2"]["canonical"], torch_cascade.level2.canonical.numpy(),
                               atol=1e-5)
    rebuilt = fl_onnx.load_onnx(exported)  # from the files alone
    assert rebuilt.level2.config == torch_cascade.level2.config and rebuilt.level1.config == torch_cascade.level1.config
    assert rebuilt.level1_recrop is not None and rebuilt.recrop
    images, boxes = faces[0].images, faces[1]
    assert_same_stages(torch_cascade.predict_batch(images, boxes), rebuilt.predict_batch(images, boxes))


def test_dynamic_batch_axis(exported):
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported / "level2.onnx"), providers=["CPUExecutionProvider"])
    for b in (1, 5):
        out = session.run(None, {"patches": np.random.default_rng(b).random((b, 68, 3, 24, 24), dtype=np.float32)})[0]
        assert out.shape == (b, 68, 3, 2)


def test_stale_or_changed_files_are_refused(exported, tmp_path, torch_cascade):
    other = tmp_path / "other"
    fl_onnx.export_onnx(load_pretrained(level2="k3_sim"), other,
                        float_weights=[SHIPPED[0], _WEIGHTS / LEVEL2_WEIGHTS["k3_sim"]])
    with pytest.raises(ValueError, match=r"an export of the levels \['level1', 'level2'\], but 3 weight files"):
        load_pretrained(backend="onnxruntime", onnx_dir=other)  # an export of other weights than the shipped k3
    with pytest.raises(ValueError, match=r"level2.onnx: was exported from another version of .*level2_k3.pt"):
        load_pretrained(backend="onnxruntime", onnx_dir=other, level1_recrop=False)
    load_pretrained(level2="k3_sim", backend="onnxruntime", onnx_dir=other)  # its own weights: fine
    with pytest.raises(ValueError, match="holds float networks, int8 ones"):
        load_pretrained(level2="k3_sim", backend="onnxruntime", onnx_dir=other, int8=True)
    # a level file swapped for another export's: its SHA-256 no longer matches the manifest
    (other / "level2.onnx").write_bytes((exported / "level2.onnx").read_bytes())
    with pytest.raises(ValueError, match="level2.onnx: changed since it was exported"):
        fl_onnx.load_onnx(other)
    (other / "level2.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="level2.onnx: missing"):
        fl_onnx.load_onnx(other)
    with pytest.raises(FileNotFoundError, match="facelandmarks export --onnx"):
        fl_onnx.load_onnx(tmp_path / "nothing")


def test_int8_on_onnxruntime_stays_close(faces):
    images, boxes = faces
    ref = load_pretrained(int8=True).predict_batch(images.images, boxes).points
    got = load_pretrained(int8=True, backend="onnxruntime").predict_batch(images.images, boxes).points
    iod = metrics.normalising_distance(images.points)
    assert (np.linalg.norm(got - ref, axis=-1).mean(axis=1) / iod).max() < 0.01  # as test_quantize's bound
    assert abs(metrics.nme(got, images.points).mean() - metrics.nme(ref, images.points).mean()) < 0.003


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=re.escape("pip install facelandmarks[onnx]")):
        load_pretrained(backend="onnxruntime")
    with pytest.raises(ValueError, match="unknown backend"):
        load_pretrained(backend="tensorrt")


def test_cli_export_and_predict_with_backend(tmp_path, faces):
    from facelandmarks.io import read_pts

    assert main(["export", "--onnx", str(tmp_path / "x"), "--no-level2"]) == 0
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["cascade.json", "level1.onnx"]
    image_path = tmp_path / "face.png"
    import matplotlib.pyplot as plt

    plt.imsave(image_path, faces[0].images[0])
    box = faces[1][0].tolist()
    (tmp_path / "boxes.json").write_text(json.dumps({"face": box}))
    for backend in ("torch", "onnxruntime"):
        assert main(["predict", str(image_path), "--out-dir", str(tmp_path / backend), "--boxes",
                     str(tmp_path / "boxes.json"), "--backend", backend]) == 0
    np.testing.assert_allclose(read_pts(tmp_path / "onnxruntime" / "face.pts"), read_pts(tmp_path / "torch" / "face.pts"),
                               atol=1e-3)


def test_deploy_example_runs_without_the_package(exported, torch_cascade, faces, monkeypatch):
    text = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text()
    block = re.search(r"## Level 1 with ONNX Runtime alone.*?```python\n(.*?)```", text, re.S).group(1)
    assert "facelandmarks" not in re.sub(r'".*?"|#.*', "", block)  # no package import, only the folder name
    monkeypatch.chdir(exported.parent)
    namespace: dict = {}
    exec(compile(block, "docs/deploy.md", "exec"), namespace)
    images, boxes = faces
    ref = torch_cascade.predict_batch(images.images, boxes, use_level2=False, recrop=False, level1_flip=False).points
    got = np.stack([namespace["level1_points"](im, box) for im, box in zip(images.images, boxes)])
    gap = np.linalg.norm(got - ref, axis=-1).mean(axis=1)  # px per face; Pillow's resize vs our warp
    assert gap.max() < 1.0, gap
