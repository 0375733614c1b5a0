"""The command line on shared faces: predict (files, folders, boxes, failures), evaluate, show-data."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facelandmarks import datasets, metrics
from facelandmarks.cli import main
from facelandmarks.geometry import points_box
from facelandmarks.io import read_pts


@pytest.fixture(scope="module")
def few_faces(data_root, tmp_path_factory):
    """Four HELEN test faces (image + .pts) copied into a temporary folder."""
    folder = tmp_path_factory.mktemp("faces")
    for face in datasets.split_faces("test", data_root)[:4]:
        shutil.copy(face.image_path, folder)
        shutil.copy(face.pts_path, folder)
    return folder


def test_predict_folder_with_boxes_writes_pts(few_faces, tmp_path, capsys):
    faces = datasets.list_faces(few_faces)
    boxes = {f.name: points_box(read_pts(f.pts_path)).tolist() for f in faces}
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    out = tmp_path / "out"
    assert main(["predict", str(few_faces), "--out-dir", str(out), "--boxes", str(tmp_path / "boxes.json"), "--overlay"]) == 0
    for f in faces:
        pred = read_pts(out / f"{f.name}.pts", n_points=68)  # 1-based file, read back 0-based
        assert metrics.nme(pred, read_pts(f.pts_path)) < 0.1
        assert (out / f"{f.name}_overlay.png").stat().st_size > 1000
    assert "4 of 4 images predicted; 0 failed" in capsys.readouterr().err


def test_predict_reports_bad_inputs_and_goes_on(few_faces, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = datasets.list_faces(few_faces)[0]
    shutil.copy(good.image_path, folder / "good.jpg")
    shutil.copy(good.image_path, folder / "degenerate.jpg")
    (folder / "broken.jpg").write_bytes(good.image_path.read_bytes()[:200])  # truncated JPEG
    (folder / "text.png").write_text("not an image")
    gt_box = points_box(read_pts(good.pts_path)).tolist()
    (tmp_path / "boxes.json").write_text(json.dumps({"good": gt_box, "degenerate": [5, 5, 5, 90],
                                                     "broken": gt_box, "text": gt_box}))
    out = tmp_path / "out"
    code = main(["predict", str(folder), "--out-dir", str(out), "--boxes", str(tmp_path / "boxes.json")])
    err = capsys.readouterr().err
    assert code == 1
    assert "1 of 4 images predicted; 3 failed" in err
    assert "FAILED" in err and "broken.jpg" in err and "text.png" in err and "degenerate" in err
    assert sorted(p.name for p in out.iterdir()) == ["good.pts"]  # no partial files for the failures


def test_predict_unreadable_boxes_file(few_faces, tmp_path, capsys):
    (tmp_path / "boxes.json").write_text("{not json")
    assert main(["predict", str(few_faces), "--out-dir", str(tmp_path / "o"), "--boxes", str(tmp_path / "boxes.json")]) == 2
    assert "boxes.json" in capsys.readouterr().err


def test_evaluate_prints_named_metrics_and_writes_files(few_faces, tmp_path, capsys):
    assert main(["evaluate", str(few_faces), "--out", str(tmp_path), "--boxes", "jittered"]) == 0
    text = capsys.readouterr().out
    assert "inter_ocular" in text and "AUC@0.08" in text and "failure rate" in text
    assert "level 1" in text and "level 2" in text and "level 3" not in text  # the paper's two levels
    rows = (tmp_path / "per_image.csv").read_text().splitlines()
    assert rows[0].startswith("name,nme_level1,nme_level2,nme") and len(rows) == 5
    assert (tmp_path / "ced.png").stat().st_size > 1000


def test_evaluate_with_level3_reports_three_levels(few_faces, tmp_path, capsys):
    assert main(["evaluate", str(few_faces), "--out", str(tmp_path), "--boxes", "jittered", "--level3"]) == 0
    lines = {line.split()[0] + " " + line.split()[1]: line for line in capsys.readouterr().out.splitlines()
             if line.strip().startswith("level ")}
    assert set(lines) == {"level 1", "level 2", "level 3"}
    means = {k: float(v.split("mean")[1].split("%")[0]) for k, v in lines.items()}
    assert means["level 2"] < means["level 1"] and means["level 3"] < means["level 1"]


def test_show_data_writes_a_figure(data_root, tmp_path):
    assert main(["show-data", "--data", str(data_root), "--out", str(tmp_path / "faces.png"), "-n", "4"]) == 0
    assert (tmp_path / "faces.png").stat().st_size > 10000


def test_benchmark_times_every_variant(data_root, capsys):
    pytest.importorskip("dlib", reason="the benchmark also times dlib's detector (pip install dlib-bin)")
    assert main(["benchmark", "--batch-size", "2", "--repeats", "1", "--data", str(data_root)]) == 0
    text = capsys.readouterr().out
    for label in ("plain", "fused (BN folded", "int8 trunks"):
        row = next(line for line in text.splitlines() if line.startswith(label))
        ms, ms_l1, fps = (float(v) for v in row.split()[-3:])
        assert ms > 0 and ms_l1 > 0 and fps > 0, row
    assert text.count("speed-up of") == 2 and "fastest at batch 1:" in text and "face detection (dlib_hog)" in text


def test_evaluate_int8_matches_float_closely(few_faces, tmp_path, capsys):
    means = {}
    for flag in ([], ["--int8"]):
        assert main(["evaluate", str(few_faces), "--out", str(tmp_path), "--boxes", "jittered", *flag]) == 0
        line = next(l for l in capsys.readouterr().out.splitlines() if l.strip().startswith("level 2"))
        means[bool(flag)] = float(line.split("mean")[1].split("%")[0])
    assert abs(means[True] - means[False]) < 0.3, means  # NME points, 4 faces
    with pytest.raises(SystemExit, match="--int8"):
        main(["evaluate", str(few_faces), "--out", str(tmp_path), "--int8",
              "--level1-weights", "x.pt", "--level2-weights", "y.pt"])
