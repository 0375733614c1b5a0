"""Bad and unusual inputs at the library's entry points: every error names the file and the problem.

The table in docs/reliability.md lists each case, its outcome and the test here that covers it.
The last part is property-based: random similarity transforms and flips move pixels and points together.
"""
from __future__ import annotations

import errno
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facelandmarks import datasets, geometry, io
from facelandmarks.augment import flip_points
from facelandmarks.models.level1 import Level1Config, Level1Net
from facelandmarks.models.level2 import Level2Config, Level2Net
from facelandmarks.schemes import FIVE_POINT, IBUG68
from facelandmarks.train import CheckpointMismatchError, load_model, save_model

torch.set_num_threads(1)

PTS_68 = "version: 1\nn_points: 68\n{\n" + "".join(f"{10 + i} {20 + i / 2}\n" for i in range(68)) + "}\n"


def _pts_text(n_header: int | None, rows: list[str], close: bool = True, open_: bool = True) -> str:
    head = f"version: 1\nn_points: {n_header}\n" if n_header is not None else "version: 1\n"
    return head + ("{\n" if open_ else "") + "".join(r + "\n" for r in rows) + ("}\n" if close else "")


def _rows(n: int) -> list[str]:
    return [f"{10 + i}.5 {20 + i}" for i in range(n)]


# --------------------------------------------------------------------------------------------
# io.read_image
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_jpeg(data_root) -> bytes:
    return (data_root / "300w" / "afw" / "1051618982_1.jpg").read_bytes()


def test_read_image_truncated_jpeg(real_jpeg, tmp_path):
    path = tmp_path / "half.jpg"
    path.write_bytes(real_jpeg[: len(real_jpeg) // 2])
    with pytest.raises(io.ImageReadError, match=r"half\.jpg: corrupt or truncated image \(image file is truncated"):
        io.read_image(path)


def test_read_image_corrupt_jpeg(real_jpeg, tmp_path):
    path = tmp_path / "corrupt.jpg"
    data = bytearray(real_jpeg)
    data[200:] = np.random.default_rng(0).integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(io.ImageReadError, match=r"corrupt\.jpg: (corrupt or truncated image|not a readable image)"):
        io.read_image(path)


@pytest.mark.parametrize("content, message", [
    (b"", r"empty\.jpg: empty file, not an image"),
    (b"this is a text file, not a photo\n", r"empty\.jpg: not a readable image \(unknown or corrupt format\)"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, r"empty\.jpg: (not a readable image|corrupt or truncated image)"),
])
def test_read_image_empty_and_non_image_files(tmp_path, content, message):
    path = tmp_path / "empty.jpg"
    path.write_bytes(content)
    with pytest.raises(io.ImageReadError, match=message):
        io.read_image(path)


def test_read_image_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.png: no such image file"):
        io.read_image(tmp_path / "nope.png")
    with pytest.raises(FileNotFoundError, match=r": no such image file"):
        io.read_image(tmp_path)


def test_read_image_too_many_pixels(tmp_path, monkeypatch):
    Image.new("L", (40, 40)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 > 2 x 100: PIL refuses to decode
    with pytest.raises(io.ImageReadError, match=r"bomb\.png: too many pixels to read safely"):
        io.read_image(tmp_path / "bomb.png")


def _save(tmp_path: Path, name: str, img: Image.Image, **kw) -> Path:
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_read_image_converts_every_kind_to_rgb_uint8(tmp_path):
    cases = {
        # name: (image, expected value of pixel (0, 0))
        "gray.png": (Image.new("L", (5, 3), 77), (77, 77, 77)),
        "bilevel.png": (Image.new("1", (5, 3), 1), (255, 255, 255)),
        "rgba.png": (Image.new("RGBA", (5, 3), (255, 100, 0, 128)), (128, 50, 0)),  # on black
        "la.png": (Image.new("LA", (5, 3), (200, 255)), (200, 200, 200)),
        "cmyk.jpg": (Image.new("CMYK", (5, 3), (0, 0, 0, 0)), (255, 255, 255)),
        "float.tif": (Image.new("F", (5, 3), 0.5), (128, 128, 128)),  # 0..1 floats scaled to 0..255
    }
    for name, (img, value) in cases.items():
        out = io.read_image(_save(tmp_path, name, img))
        assert out.shape == (3, 5, 3) and out.dtype == np.uint8, name
        np.testing.assert_allclose(out[0, 0], value, atol=1, err_msg=name)


def test_read_image_16_bit_is_scaled_to_8_bit(tmp_path):
    values = np.array([[0, 257, 1000, 65535]], dtype=np.uint16)
    out = io.read_image(_save(tmp_path, "deep.png", Image.fromarray(values)))
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 1, 4, 255]  # round(v * 255 / 65535)


def test_read_image_palette_with_and_without_transparency(tmp_path):
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((1, 0), 1)
    out = io.read_image(_save(tmp_path, "pal.png", pal))
    assert out.tolist() == [[[255, 0, 0], [0, 0, 255]]]
    out = io.read_image(_save(tmp_path, "pal_t.png", pal, transparency=1))
    assert out.tolist() == [[[255, 0, 0], [0, 0, 0]]]  # the transparent entry becomes black


def test_read_image_one_pixel(tmp_path):
    out = io.read_image(_save(tmp_path, "dot.png", Image.new("RGB", (1, 1), (1, 2, 3))))
    assert out.shape == (1, 1, 3) and out.tolist() == [[[1, 2, 3]]]


def test_read_image_8000_by_8000(tmp_path):
    path = _save(tmp_path, "huge.jpg", Image.new("RGB", (8000, 8000), (10, 200, 30)), quality=90)
    out = io.read_image(path)
    assert out.shape == (8000, 8000, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_allclose(out[::997, ::997].reshape(-1, 3).mean(axis=0), (10, 200, 30), atol=2)


def test_read_image_applies_exif_orientation_unless_told_not_to(tmp_path):
    """The orientation tag is applied as photo viewers do; ``apply_exif=False`` keeps the stored pixels."""
    img = Image.new("RGB", (4, 2), (9, 9, 9))
    img.putpixel((0, 0), (250, 250, 250))  # the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = _save(tmp_path, "rotated.png", img, exif=exif)
    out = io.read_image(path)
    assert out.shape == (4, 2, 3) and out[0, 1].tolist() == [250, 250, 250]  # top-left went top-right
    stored = io.read_image(path, apply_exif=False)
    assert stored.shape == (2, 4, 3) and stored[0, 0].tolist() == [250, 250, 250]


# --------------------------------------------------------------------------------------------
# io.read_pts / io.write_pts
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    (_pts_text(68, _rows(67)), r"header says n_points: 68 but 67 points follow"),
    (_pts_text(68, _rows(69)), r"header says n_points: 68 but 69 points follow"),
    (_pts_text(67, _rows(67)), r"67 points, expected 68"),
    (_pts_text(68, _rows(67) + ["nan nan"]), r"point 68 'nan nan' is not finite"),
    (_pts_text(68, _rows(67) + ["inf 3"]), r"point 68 'inf 3' is not finite"),
    (_pts_text(68, _rows(10) + ["left eye"] + _rows(57)), r"point 11 'left eye' is not two numbers 'x y'"),
    (_pts_text(68, _rows(67) + ["1 2 3"]), r"point 68 '1 2 3' is not two numbers 'x y'"),
    ("", r"holds no points"),
    ("\n  \n", r"holds no points"),
    (_pts_text(68, _rows(68), close=False), r"no closing '\}'"),
    (_pts_text(68, _rows(68), open_=False), r"header without an opening '\{'"),
    ("version: 1\nn_points: many\n{\n1 2\n}\n", r"n_points 'many' is not an integer"),
    ("version: 1\nsixty-eight points\n{\n1 2\n}\n", r"line 2 'sixty-eight points' is not a 'key: value' header line"),
])
def test_read_pts_malformed(tmp_path, text, message):
    path = tmp_path / "face.pts"
    path.write_text(text)
    with pytest.raises(io.PtsFormatError, match=r"face\.pts: " + message):
        io.read_pts(path, n_points=68)


def test_read_pts_binary_and_missing(tmp_path):
    path = tmp_path / "photo.pts"
    path.write_bytes(b"\xff\xd8\xff\xe0 a JPEG by mistake")
    with pytest.raises(io.PtsFormatError, match=r"photo\.pts: not a text file"):
        io.read_pts(path)
    with pytest.raises(FileNotFoundError, match=r"absent\.pts: no such \.pts file"):
        io.read_pts(tmp_path / "absent.pts")


def test_read_pts_accepts_crlf_and_byte_order_mark(tmp_path):
    expected = io.read_pts(_write(tmp_path / "plain.pts", PTS_68.encode()))
    for name, data in (("crlf.pts", PTS_68.replace("\n", "\r\n").encode()),
                       ("bom.pts", b"\xef\xbb\xbf" + PTS_68.encode())):
        np.testing.assert_array_equal(io.read_pts(_write(tmp_path / name, data), n_points=68), expected)
    assert expected[0].tolist() == [9.0, 19.0]  # 1-based file, 0-based array


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("points, message", [
    (np.full((68, 2), np.nan), r"points contain NaN or inf"),
    (np.zeros((68, 3)), r"points must have shape \(N, 2\), got \(68, 3\)"),
    (np.zeros(68), r"points must have shape \(N, 2\), got \(68,\)"),
])
def test_write_pts_refuses_bad_points_and_writes_nothing(tmp_path, points, message):
    with pytest.raises(ValueError, match=r"write_pts\(.*out\.pts\): " + message):
        io.write_pts(tmp_path / "out.pts", points)
    assert list(tmp_path.iterdir()) == []


def test_write_pts_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "face.pts"
    io.write_pts(target, np.zeros((68, 2)))
    good = target.read_bytes()

    def disk_full(self: Path, text: str, encoding: str | None = None) -> int:
        with open(self, "w", encoding=encoding) as f:
            f.write(text[: len(text) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match=r"No space left on device.*face\.pts\.tmp"):
        io.write_pts(target, np.ones((68, 2)))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.pts"] and target.read_bytes() == good

    folder = tmp_path / "taken.pts"
    folder.mkdir()  # the target name is a folder: the final rename fails
    with pytest.raises(OSError, match=r"taken\.pts"):
        io.write_pts(folder, np.zeros((68, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.pts", "taken.pts"]
    with pytest.raises(FileNotFoundError, match=r"no_folder/face\.pts"):
        io.write_pts(tmp_path / "no_folder" / "face.pts", np.zeros((68, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.pts", "taken.pts"]


def test_write_then_read_pts_round_trip(tmp_path):
    pts = np.random.default_rng(3).normal(100, 40, (68, 2))
    back = io.read_pts(io.write_pts(tmp_path / "r.pts", pts), n_points=68)
    np.testing.assert_allclose(back, pts, rtol=0, atol=1e-12)  # only the +1 shift's float rounding


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("box, message", [
    ((10, 10, 10, 50), r"face_box \[10\.0, 10\.0, 10\.0, 50\.0\] is degenerate"),  # zero width
    ((10, 10, 50, 10.5), r"is degenerate: width and height must be at least 1 pixel"),  # half a pixel high
    ((50, 10, 10, 50), r"is degenerate"),  # x1 < x0
    ((np.nan, 0, 10, 10), r"face_box must be 4 finite numbers"),
    ((0, 0, 10), r"face_box must be 4 finite numbers"),
    ((0, 0, np.inf, 10), r"face_box must be 4 finite numbers"),
    ((120, 10, 200, 50), r"lies outside the 100x80 image"),  # right of the image
    ((10, 79.5, 50, 120), r"lies outside the 100x80 image"),  # below
    ((-60, -60, -0.5, -0.5), r"lies outside the 100x80 image"),  # above and left
])
def test_check_box_rejects(box, message):
    with pytest.raises(ValueError, match=message):
        geometry.check_box(box, image_shape=(80, 100, 3), name="face_box")


def test_check_box_accepts_partly_outside_boxes_and_crop_pads_with_black():
    box = geometry.check_box((-20, -20, 40, 40), image_shape=(80, 100, 3))
    assert box.tolist() == [-20.0, -20.0, 40.0, 40.0]
    crop, m = geometry.crop_box(np.full((80, 100, 3), 200, np.uint8), box, 60)
    assert crop.shape == (60, 60, 3) and crop[:15, :15].max() == 0 and crop[-10:, -10:].min() == 200
    with pytest.raises(ValueError, match=r"box .* lies outside the 100x80 image"):
        geometry.crop_box(np.zeros((80, 100, 3), np.uint8), (200, 200, 300, 300), 32)


def test_points_and_matrices_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"gt must have shape \(N, 2\) or \(B, N, 2\) with \(x, y\) last, got \(68,\)"):
        geometry.as_points(np.zeros(68), "gt")
    with pytest.raises(ValueError, match=r"gt must hold 68 points, got 67"):
        geometry.as_points(np.zeros((67, 2)), "gt", n_points=68)
    with pytest.raises(ValueError, match=r"gt contain NaN or inf"):
        geometry.as_points(np.full((68, 2), np.nan), "gt")
    with pytest.raises(ValueError, match=r"matrix must be \(3, 3\) or \(B, 3, 3\), got \(2, 3\)"):
        geometry.transform_points(np.zeros((5, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"fit_similarity: source points are all at one place"):
        geometry.fit_similarity(np.ones((5, 2)), np.zeros((5, 2)))


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
def test_data_root_without_the_environment_variable_says_how_to_get_data(monkeypatch):
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    with pytest.raises(datasets.DataNotFoundError) as err:
        datasets.data_root()
    message = str(err.value)
    assert "$FACELANDMARKS_DATA is not set" in message and "data_scripts/fetch_300w.py --help" in message


def test_data_root_missing_folder_or_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "gone"))
    with pytest.raises(datasets.DataNotFoundError, match=r"gone \(from \$FACELANDMARKS_DATA\) does not exist\. .*fetch_300w\.py"):
        datasets.data_root()
    (tmp_path / "file").write_text("x")
    with pytest.raises(datasets.DataNotFoundError, match=r"file \(from argument root\) is not a folder"):
        datasets.data_root(tmp_path / "file")


def test_data_root_without_300w_or_without_pts_files(tmp_path):
    with pytest.raises(datasets.DataNotFoundError, match=r"face folder .*300w/afw does not exist\. .*fetch_300w\.py"):
        datasets.split_faces("train", tmp_path)
    (tmp_path / "300w" / "afw").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "300w" / "afw" / "a.jpg")
    with pytest.raises(datasets.DataNotFoundError, match=r"300w/afw holds no image with a \.pts file beside it"):
        datasets.split_faces("train", tmp_path)
    with pytest.raises(KeyError, match=r"unknown split 'validation'; known: \['common', 'helen', 'lfpw', 'test', 'train'\]"):
        datasets.split_faces("validation", tmp_path)


def test_read_only_data_root_is_read_and_never_written(data_root, tmp_path):
    root = tmp_path / "ro"
    for sub in datasets.SPLITS["train"]:
        (root / sub).mkdir(parents=True)
        for face in datasets.list_faces(data_root / sub)[:1]:
            for p in (face.image_path, face.pts_path):
                (root / sub / p.name).write_bytes(p.read_bytes())
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}
    for p in sorted(root.rglob("*"), reverse=True) + [root]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        faces = datasets.FaceSet.load(datasets.split_faces("train", root), progress=False)
        assert len(faces) == 3 and faces.points.shape == (3, 68, 2)
        assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")} == before
    finally:
        for p in [root] + list(root.rglob("*")):
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_face_set_names_the_bad_file(tmp_path, real_jpeg):
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(real_jpeg[:3000])
    (folder / "a.pts").write_text(PTS_68)
    with pytest.raises(io.ImageReadError, match=r"faces/a\.jpg: corrupt or truncated image"):
        datasets.FaceSet.load(datasets.list_faces(folder), progress=False)
    (folder / "a.jpg").write_bytes(real_jpeg)
    (folder / "a.pts").write_text(_pts_text(67, _rows(67)))
    with pytest.raises(io.PtsFormatError, match=r"faces/a\.pts: 67 points, expected 68"):
        datasets.FaceSet.load(datasets.list_faces(folder), progress=False)


# --------------------------------------------------------------------------------------------
# train.load_model
# --------------------------------------------------------------------------------------------
TINY_L1 = Level1Config(input_size=32, blocks=((4,), (8,), (8,)), padding=1, fc=16)


@pytest.fixture()
def tiny_checkpoint(tmp_path) -> Path:
    return save_model(tmp_path / "level1.pt", "level1", Level1Net(TINY_L1), TINY_L1)


def test_load_model_missing_truncated_empty_and_foreign_files(tiny_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.pt: no such model file"):
        load_model(tmp_path / "absent.pt")
    data = tiny_checkpoint.read_bytes()
    for name, content in (("half.pt", data[: len(data) // 2]), ("empty.pt", b""), ("text.pt", b"not a model")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}: not a facelandmarks model file \("):
            load_model(tmp_path / name)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt: not a facelandmarks model file \(no 'kind'/'config'\)"):
        load_model(tmp_path / "list.pt")


def test_load_model_from_another_config(tiny_checkpoint, tmp_path):
    with pytest.raises(CheckpointMismatchError, match=r"level1\.pt: holds a level1 model, expected level2"):
        load_model(tiny_checkpoint, "level2")
    saved = torch.load(tiny_checkpoint, weights_only=True)
    saved["config"]["fc"] = 32  # the weights were trained with fc=16
    torch.save(saved, tmp_path / "edited.pt")
    with pytest.raises(CheckpointMismatchError, match=r"edited\.pt: weights do not fit its config \(Error"):
        load_model(tmp_path / "edited.pt")
    l2 = Level2Config(blocks=((4,), (4,), (8,)), padding=(1, 1, 1), fc=8, face_size=48)
    save_model(tmp_path / "level2.pt", "level2", Level2Net(l2), l2)
    with pytest.raises(CheckpointMismatchError, match=r"level2\.pt: holds a level2 model, expected level1"):
        load_model(tmp_path / "level2.pt", "level1")


def test_load_model_with_a_config_field_this_version_does_not_know(tiny_checkpoint, tmp_path):
    saved = torch.load(tiny_checkpoint, weights_only=True)
    saved["config"]["from_the_future"] = 1
    torch.save(saved, tmp_path / "newer.pt")
    with pytest.raises(CheckpointMismatchError, match=r"newer\.pt: its config does not fit this version's Level1Config"):
        load_model(tmp_path / "newer.pt")


# --------------------------------------------------------------------------------------------
# properties: pixels and points move together
# --------------------------------------------------------------------------------------------
SIDE = 96  # image side for the property tests
SIGMA = 1.5  # dot radius (Gaussian std), pixels


def _dots(points: np.ndarray, amplitudes: np.ndarray, side: int = SIDE) -> np.ndarray:
    ys, xs = np.mgrid[0:side, 0:side]
    img = np.zeros((side, side))
    for (x, y), a in zip(points, amplitudes, strict=True):
        img = np.maximum(img, a * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * SIGMA ** 2)))
    return np.repeat(img[..., None], 3, axis=2)


def _spot(gray: np.ndarray, at: np.ndarray, radius: int) -> tuple[np.ndarray, float]:
    """Intensity-weighted centre and total brightness of the spot in a disk around ``at``."""
    x, y = np.round(at).astype(int)
    ys, xs = np.mgrid[y - radius:y + radius + 1, x - radius:x + radius + 1]
    disk = (xs - x) ** 2 + (ys - y) ** 2 <= radius ** 2
    win = gray[y - radius:y + radius + 1, x - radius:x + radius + 1] * disk
    weights = np.clip(win - 0.3 * win.max(), 0, None)
    return np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum(), float(win.sum())


def _five_points(seed: int) -> np.ndarray:
    """Five points on a jittered pentagon of radius 15 px about the centre: at least 15 px apart."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(5) / 5
    return (SIDE - 1) / 2 + 15 * np.stack([np.cos(angles), np.sin(angles)], axis=1) + rng.uniform(-1, 1, (5, 2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), angle=st.floats(-np.pi, np.pi), scale=st.floats(0.5, 1.5),
       shift=st.tuples(st.floats(-3, 3), st.floats(-3, 3)), flip=st.booleans())
def test_warp_moves_pixels_and_points_together(seed, angle, scale, shift, flip):
    pts = _five_points(seed)
    amplitudes = np.array([1.0, 0.8, 0.6, 0.45, 0.3])  # each point's dot is told apart by its brightness
    image = _dots(pts, amplitudes)
    c = (SIDE - 1) / 2
    m = geometry.translation_matrix(c + shift[0], c + shift[1]) @ geometry.similarity_matrix(scale, angle) \
        @ geometry.translation_matrix(-c, -c)
    if flip:
        m = geometry.hflip_matrix(SIDE) @ m
    warped = geometry.warp_image(image, m, SIDE).mean(axis=2)
    moved = geometry.transform_points(pts, m)
    labels = amplitudes
    if flip:  # a flipped face renames its points: the scheme's permutation, applied to points and labels alike
        moved = flip_points(moved[None], np.array([True]), FIVE_POINT)[0]
        labels = amplitudes[list(FIVE_POINT.flip_permutation)]
    radius = min(int(np.ceil(3 * SIGMA * scale)) + 1, int(7.5 * scale))  # at most half the closest gap
    masses = np.zeros(5)
    for k in range(5):
        centre, masses[k] = _spot(warped, moved[k], radius)
        assert np.linalg.norm(centre - moved[k]) < 0.2, (k, centre, moved[k])
    # the dot found at point k is point k's own: its share of the total brightness is k's amplitude's share
    np.testing.assert_allclose(masses / masses.sum(), labels / labels.sum(), atol=0.02)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 16), width=st.integers(1, 40), height=st.integers(1, 30))
def test_flip_twice_is_the_identity_on_image_and_points(seed, width, height):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    pts = rng.uniform(-0.5, [width - 0.5, height - 0.5], size=(IBUG68.n_points, 2))
    flip = geometry.hflip_matrix(width)
    once = geometry.warp_image(image, flip, (height, width))
    assert np.array_equal(once, image[:, ::-1])  # x' = W - 1 - x, exactly, pixel centre to pixel centre
    assert np.array_equal(geometry.warp_image(once, flip, (height, width)), image)
    flipped = flip_points(geometry.transform_points(pts, flip)[None], np.array([True]), IBUG68)[0]
    # the subject's right eye's outer corner (index 36) is where the left one's (45) was, mirrored
    np.testing.assert_allclose(flipped[36], [width - 1 - pts[45, 0], pts[45, 1]], atol=1e-12)
    back = flip_points(geometry.transform_points(flipped, flip)[None], np.array([True]), IBUG68)[0]
    np.testing.assert_allclose(back, pts, atol=1e-12)
