"""Model files hold only tensors and plain data, are read without running code from them, and the
shipped ones are the published ones (facelandmarks/weights/sha256.json and README.md)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from facelandmarks.datasets import FaceSet
from facelandmarks.models import files, pretrained
from facelandmarks.models.cascade import Cascade, fuse_for_inference
from facelandmarks.models.files import NOT_A_MODEL_FILE, check_plain, load_model, read_model_file, save_model
from facelandmarks.models.level1 import Level1Config, Level1Net
from facelandmarks.models.level2 import Level2Config
from facelandmarks.models.quantize import load_int8
from facelandmarks.train import SimulatedErrors, TrainConfig, train_level1, train_level2

ROOT = Path(__file__).resolve().parent.parent
TINY_L1 = Level1Config(input_size=32, blocks=((8,), (16,), (16,)), padding=1, fc=64)
TINY_L2 = Level2Config(blocks=((8,), (8,), (16,)), padding=(1, 1, 1), fc=32, face_size=48)
ONE_EPOCH = TrainConfig(epochs=1, batch_size=4)


@pytest.fixture(scope="module")
def faces() -> FaceSet:
    """Four synthetic 80x80 faces: the shipped canonical 68-point shape, shifted a little (no data needed)."""
    shape = read_model_file(pretrained.WEIGHTS_DIR / "level2_k3.pt")["model"]["canonical"].double().numpy()
    shape = (shape - shape.mean(0)) * 0.5 + 40.0
    rng = np.random.default_rng(0)
    points = np.stack([shape + rng.normal(0, 1.0, shape.shape) for _ in range(4)])
    images = [rng.integers(0, 255, (80, 80, 3), dtype=np.uint8) for _ in range(4)]
    return FaceSet([f"face{i}" for i in range(4)], images, points)


def _walk_plain(obj: object) -> None:
    """Fail on anything in a loaded file that is not a tensor or plain data."""
    check_plain(obj, "file")


# --------------------------------------------------------------------------------------------
# the shipped files
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", pretrained.shipped_files(), ids=lambda p: p.name)
def test_shipped_file_loads_with_weights_only(path: Path):
    with torch.serialization.safe_globals([]):  # nothing allowlisted beyond torch's defaults
        saved = torch.load(path, map_location="cpu", weights_only=True)
    _walk_plain(saved)


def test_shipped_files_are_the_published_ones_tensor_for_tensor():
    """Every shipped file's SHA-256 and every tensor's SHA-256 match sha256.json (so the int8 files,
    re-saved as plain data, kept bit-identical weights; a retrained file needs tools/weights_manifest.py)."""
    published = pretrained.read_manifest()
    measured = pretrained.weights_manifest()
    assert sorted(measured) == sorted(published), "run tools/weights_manifest.py after adding or removing weights"
    for name, entry in measured.items():
        assert entry["tensors"] == published[name]["tensors"], f"{name}: tensors differ from the manifest"
        assert entry["sha256"] == published[name]["sha256"], f"{name}: file differs from the manifest"


def test_weights_readme_publishes_the_manifest():
    readme = (pretrained.WEIGHTS_DIR / "README.md").read_text(encoding="utf-8")
    assert pretrained.sha256_table() in readme, "facelandmarks/weights/README.md: run tools/weights_manifest.py"


def test_tensor_digest_sees_a_one_bit_change():
    t = torch.linspace(-1, 1, 10)
    u = t.clone()
    u.view(torch.int32)[3] ^= 1  # flip the lowest bit of one float
    assert files.tensor_sha256(t) == files.tensor_sha256(t.clone())
    assert files.tensor_sha256(t) != files.tensor_sha256(u)
    assert files.tensor_sha256(t) != files.tensor_sha256(t.double())  # the dtype counts too


def test_info_prints_version_and_the_published_digests():
    run = subprocess.run([sys.executable, "-m", "facelandmarks.cli", "info"], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, timeout=120)
    assert run.returncode == 0, run.stderr
    manifest = pretrained.read_manifest()
    import facelandmarks

    assert f"facelandmarks {facelandmarks.__version__}" in run.stdout
    for name, entry in manifest.items():
        assert f"{entry['sha256']}  {entry['bytes']:>9}  {name}  (as published)" in run.stdout


# --------------------------------------------------------------------------------------------
# what the package writes is plain data
# --------------------------------------------------------------------------------------------

def test_check_plain_refuses_objects_and_nothing_is_written(tmp_path: Path):
    for bad, where in ((Path("a.pt"), "x.pt/init"), (np.float64(0.1), "x.pt/init"), (torch.__version__, "x.pt/init"),
                       (TINY_L1, "x.pt/init")):
        with pytest.raises(TypeError, match=rf"{where} is a .*not a tensor or plain data"):
            files.atomic_save({"kind": "level1", "init": bad}, tmp_path / "x.pt")
        assert not list(tmp_path.iterdir())
    check_plain({"a": [1, 2.0, "s", None, True, (3, 4)], "t": torch.zeros(2), 5: {"b": []}})  # all plain


def test_training_writes_plain_files_that_load_with_weights_only(faces, tmp_path: Path):
    torch.set_num_threads(1)
    train_level1(TINY_L1, ONE_EPOCH, faces, faces, tmp_path / "l1", progress=False)
    train_level2(TINY_L2, ONE_EPOCH, SimulatedErrors(), faces, faces, tmp_path / "l2", progress=False,
                 level1=tmp_path / "l1" / "level1.pt", level1_variants=1)
    written = sorted(tmp_path.rglob("*.pt"))
    assert [p.name for p in written] == ["level1.pt", "level1_last.pt", "level2.pt", "level2_last.pt"]
    for path in written:
        _walk_plain(torch.load(path, map_location="cpu", weights_only=True))
    cascade = Cascade.from_files(tmp_path / "l1" / "level1.pt", tmp_path / "l2" / "level2.pt")
    assert cascade.level2.config == TINY_L2


def test_save_model_converts_nothing_silently(tmp_path: Path):
    @dataclasses.dataclass(frozen=True)
    class WithPath:
        where: Path = Path("x")

    with pytest.raises(TypeError, match=r"m\.pt/config/where is a pathlib\.\w*Path"):
        save_model(tmp_path / "m.pt", "level1", Level1Net(TINY_L1), WithPath())


# --------------------------------------------------------------------------------------------
# a file that would run code: every loading path refuses it
# --------------------------------------------------------------------------------------------

class _Plant:
    """Unpickled by plain pickle, this calls ``open(marker, "w")``: the file appears. Any code could run instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path: Path, marker: Path, kind: str = "level1") -> Path:
    """A .pt that looks like a facelandmarks file (the right keys) and plants ``marker`` when unpickled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": kind, "config": dataclasses.asdict(TINY_L1), "model": _Plant(marker),
                "optimizer": {}, "epoch": 0, "log": [], "state": {}}, path)
    return path


def test_the_planted_file_really_runs_code_when_unpickled(tmp_path: Path):
    """The test below would prove nothing if the file were harmless: plain unpickling creates the marker."""
    marker = tmp_path / "marker"
    torch.load(_plant(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()


def _load_paths(faces: FaceSet):
    def resume(evil: Path) -> None:  # a training run whose out_dir holds a planted checkpoint
        evil.rename(evil.with_name("level1_last.pt"))
        train_level1(TINY_L1, ONE_EPOCH, faces, faces, evil.parent, progress=False, resume=True)

    return {
        "Cascade.from_files": lambda evil: Cascade.from_files(evil),
        "load_model": lambda evil: load_model(evil),
        "training resume": resume,
        "--init level 1": lambda evil: train_level1(TINY_L1, ONE_EPOCH, faces, faces, evil.parent / "out",
                                                    progress=False, init=evil),
        "--init level 2": lambda evil: train_level2(TINY_L2, ONE_EPOCH, SimulatedErrors(), faces, faces,
                                                    evil.parent / "out", progress=False, init=evil),
        "int8 loader": lambda evil: load_int8(fuse_for_inference(Level1Net(TINY_L1)), evil),
    }


@pytest.mark.parametrize("path_name", ["Cascade.from_files", "load_model", "training resume", "--init level 1",
                                       "--init level 2", "int8 loader"])
def test_a_file_that_would_run_code_is_refused(path_name: str, faces, tmp_path: Path):
    marker = tmp_path / "marker"
    evil = _plant(tmp_path / "run" / "evil.pt", marker)
    load = _load_paths(faces)[path_name]
    with pytest.raises(ValueError, match=NOT_A_MODEL_FILE) as err:
        load(evil)
    assert "level1_last.pt" in str(err.value) or str(evil) in str(err.value), f"the error must name the file: {err.value}"
    assert not marker.exists(), f"{path_name}: the file's code ran"


def test_the_manifest_is_json_of_plain_digests():
    manifest = json.loads(pretrained.MANIFEST.read_text())
    assert all(len(e["sha256"]) == 64 and e["tensors"] for e in manifest.values())
