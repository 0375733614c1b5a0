"""Reading and writing .pts files and images: the 1-based shift, exact round trips, clear errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from facelandmarks import datasets, io

HEADER_PTS = "version: 1\nn_points: 3\n{\n1 1\n10.5 20\n384.25 0.125\n}\n"


def write(tmp_path: Path, text: str, name: str = "face.pts") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# .pts
# --------------------------------------------------------------------------------------------
def test_read_pts_with_header_shifts_to_zero_based(tmp_path):
    # file values minus 1: (1, 1) is the centre of the first pixel, (0, 0) here
    pts = io.read_pts(write(tmp_path, HEADER_PTS))
    assert pts.dtype == np.float64 and pts.shape == (3, 2)
    np.testing.assert_array_equal(pts, [[0.0, 0.0], [9.5, 19.0], [383.25, -0.875]])


def test_read_pts_without_header(tmp_path):
    pts = io.read_pts(write(tmp_path, "1 1\n10.5 20\n\n384.25 0.125\n"), n_points=3)
    np.testing.assert_array_equal(pts, io.read_pts(write(tmp_path, HEADER_PTS, "b.pts")))


def test_a_file_one_one_reads_as_origin(tmp_path):
    np.testing.assert_array_equal(io.read_pts(write(tmp_path, "1 1\n")), [[0.0, 0.0]])
    assert io.PTS_OFFSET == 1.0


def test_read_write_read_is_exact(tmp_path):
    first = io.read_pts(write(tmp_path, HEADER_PTS))
    io.write_pts(tmp_path / "again.pts", first)
    np.testing.assert_array_equal(io.read_pts(tmp_path / "again.pts"), first)  # exact, not approximate
    assert (tmp_path / "again.pts").read_text().splitlines()[:3] == ["version: 1", "n_points: 3", "{"]
    assert not list(tmp_path.glob("*.tmp"))


coordinates = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(coordinates, coordinates), min_size=1, max_size=70))
def test_read_write_read_is_exact_for_any_floats(tmp_path_factory, values):
    # A value read from a file, written and read again comes back bit for bit: x - 1 + 1 - 1 rounds
    # back to x - 1 for every double below 2**53 (the additions are exact or Sterbenz-exact).
    folder = tmp_path_factory.mktemp("pts")
    src = folder / "src.pts"
    src.write_text("".join(f"{x!r} {y!r}\n" for x, y in values))
    first = io.read_pts(src)
    second = io.read_pts(io.write_pts(folder / "copy.pts", first))
    np.testing.assert_array_equal(second, first)
    # and points written from memory come back to within the rounding of the shift
    np.testing.assert_allclose(io.read_pts(io.write_pts(folder / "mem.pts", second + 0.1)), second + 0.1,
                               rtol=0, atol=1e-11)


def test_read_real_file_round_trip(data_root, tmp_path):
    pts_path = data_root / "samples" / "takeo.pts"
    first = io.read_pts(pts_path, n_points=68)
    np.testing.assert_array_equal(io.read_pts(io.write_pts(tmp_path / "t.pts", first), 68), first)
    # first data line of takeo.pts is "32.310345 99.612347" (1-based)
    np.testing.assert_allclose(first[0], [31.310345, 98.612347], atol=1e-12)


@pytest.mark.parametrize("text, problem", [
    ("version: 1\nn_points: 68\n{\n" + "1 2\n" * 67 + "}\n", "n_points: 68 but 67 points follow"),
    ("version: 1\nn_points: 2\n{\n1 2\nnan 3\n}\n", "point 2 'nan 3' is not finite"),
    ("version: 1\nn_points: 2\n{\n1 2\ninf 3\n}\n", "is not finite"),
    ("version: 1\nn_points: 2\n{\n1 2\nleft eye\n}\n", "point 2 'left eye' is not two numbers"),
    ("1 2 3\n", "is not two numbers"),
    ("version: 1\nn_points: 1\n{\n1 2\n", "no closing '}'"),
    ("version: 1\nn_points: 1\n1 2\n}\n", "header without an opening '{'"),
    ("version: 1\nn_points: lots\n{\n1 2\n}\n", "n_points 'lots' is not an integer"),
    ("\n\n", "holds no points"),
])
def test_bad_pts_files_name_the_file_and_the_problem(tmp_path, text, problem):
    path = write(tmp_path, text, "broken_face.pts")
    with pytest.raises(io.PtsFormatError) as err:
        io.read_pts(path)
    assert "broken_face.pts" in str(err.value) and problem in str(err.value)


def test_wrong_number_of_points_without_header(tmp_path):
    path = write(tmp_path, "1 2\n" * 67, "short.pts")
    assert io.read_pts(path).shape == (67, 2)
    with pytest.raises(io.PtsFormatError, match="short.pts: 67 points, expected 68"):
        io.read_pts(path, n_points=68)


def test_binary_and_missing_pts_files(tmp_path):
    binary = tmp_path / "photo.pts"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\xfe\xff")
    with pytest.raises(io.PtsFormatError, match="photo.pts: not a text file"):
        io.read_pts(binary)
    with pytest.raises(FileNotFoundError, match="nowhere.pts: no such .pts file"):
        io.read_pts(tmp_path / "nowhere.pts")


@pytest.mark.parametrize("points, problem", [
    (np.zeros((3, 3)), "must have shape \\(N, 2\\)"),
    (np.array([[0.0, np.nan]]), "NaN or inf"),
])
def test_write_pts_refuses_bad_points(tmp_path, points, problem):
    with pytest.raises(ValueError, match=problem):
        io.write_pts(tmp_path / "x.pts", points)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------
RGB = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[0, 0, 0], [128, 128, 128], [255, 255, 255]]],
               dtype=np.uint8)  # (2, 3, 3): 2 rows, 3 columns


@pytest.mark.parametrize("suffix", [".png", ".ppm", ".bmp", ".tif"])
def test_read_lossless_colour_images_exactly(tmp_path, suffix):
    Image.fromarray(RGB).save(tmp_path / f"a{suffix}")
    out = io.read_image(tmp_path / f"a{suffix}")
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, RGB)


def test_read_jpeg(tmp_path):
    big = np.kron(RGB, np.ones((8, 8, 1), dtype=np.uint8))  # 16 x 24, flat 8x8 blocks survive JPEG well
    Image.fromarray(big).save(tmp_path / "a.jpg", quality=95, subsampling=0)  # no chroma subsampling
    out = io.read_image(tmp_path / "a.jpg")
    assert out.dtype == np.uint8 and out.shape == (16, 24, 3)
    assert np.abs(out.astype(int) - big).max() <= 8
    with Image.open(tmp_path / "a.jpg") as img:
        np.testing.assert_array_equal(out, np.asarray(img.convert("RGB")))


def test_grayscale_is_repeated_over_three_channels(tmp_path):
    gray = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    out = io.read_image(tmp_path / "g.png")
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))


def test_rgba_is_composited_on_black(tmp_path):
    # alpha 128 of 255 on pure red: round(255 * 128 / 255) = 128; alpha 0 -> black; alpha 255 -> unchanged
    rgba = np.array([[[255, 0, 0, 128], [10, 20, 30, 0], [10, 20, 30, 255]]], dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(io.read_image(tmp_path / "a.png"), [[[128, 0, 0], [0, 0, 0], [10, 20, 30]]])


def test_sixteen_bit_is_scaled_to_eight(tmp_path):
    # v * 255 / 65535 = v / 257: 0 -> 0, 128 * 257 = 32896 -> 128, 65535 -> 255, 1000 -> 3.89 -> 4
    deep = np.array([[0, 32896, 65535, 1000]], dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    out = io.read_image(tmp_path / "d.png")
    assert out.dtype == np.uint8 and out.shape == (1, 4, 3)
    np.testing.assert_array_equal(out[..., 0], [[0, 128, 255, 4]])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_palette_is_expanded(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 0, 250, 100, 5] + [0] * 762)
    img.putdata([1, 0])
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(io.read_image(tmp_path / "p.png"), [[[250, 100, 5], [0, 0, 0]]])


def test_shared_samples_read_as_rgb(data_root):
    for name in ("takeo.ppm", "einstein.jpg", "breakingbad.jpg"):
        out = io.read_image(data_root / "samples" / name)
        with Image.open(data_root / "samples" / name) as img:
            w, h = img.size
        assert out.shape == (h, w, 3) and out.dtype == np.uint8, name
    takeo = io.read_image(data_root / "samples" / "takeo.ppm")  # PPM is lossless: PIL's own pixels
    with Image.open(data_root / "samples" / "takeo.ppm") as img:
        np.testing.assert_array_equal(takeo, np.asarray(img.convert("RGB")))


def test_bad_image_files_name_the_file_and_the_problem(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is not a picture")
    Image.fromarray(RGB).save(tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:40])
    with pytest.raises(io.ImageReadError, match="empty.jpg: empty file"):
        io.read_image(tmp_path / "empty.jpg")
    with pytest.raises(io.ImageReadError, match="notes.png: not a readable image"):
        io.read_image(tmp_path / "notes.png")
    with pytest.raises(io.ImageReadError, match="cut.png: "):
        io.read_image(tmp_path / "cut.png")
    with pytest.raises(FileNotFoundError, match="gone.jpg: no such image file"):
        io.read_image(tmp_path / "gone.jpg")


# --------------------------------------------------------------------------------------------
# every shared file
# --------------------------------------------------------------------------------------------
def test_every_shared_pts_file_holds_68_points_inside_its_image(data_root):
    faces = [f for split in ("train", "common") for f in datasets.split_faces(split, data_root)]
    faces += datasets.list_faces(data_root / "samples", "samples")
    assert len(faces) == 2012 + 400 + 3  # train (AFW, HELEN, LFPW) + common (LFPW, HELEN test) + samples
    for face in faces:
        pts = io.read_pts(face.pts_path, n_points=68)
        with Image.open(face.image_path) as img:  # reads the header only, no decoding
            w, h = img.size
        # the image spans [-0.5, W - 0.5] x [-0.5, H - 0.5] in 0-based pixel-centre coordinates
        inside = (pts[:, 0] >= -0.5) & (pts[:, 0] <= w - 0.5) & (pts[:, 1] >= -0.5) & (pts[:, 1] <= h - 0.5)
        assert inside.all(), f"{face.pts_path}: points {np.flatnonzero(~inside).tolist()} outside its {w}x{h} image"


# --- one set of input rules for arrays and files (io.check_image; read_image decodes, then calls it) ---
_KINDS = {
    # name: (array, PIL mode to store it as a file, expected RGB of pixel (0, 0))
    "gray": (np.full((3, 5), 77, np.uint8), "L", (77, 77, 77)),
    "bool": (np.ones((3, 5), bool), "1", (255, 255, 255)),
    "rgba": (np.tile(np.array([255, 100, 0, 128], np.uint8), (3, 5, 1)), "RGBA", (128, 50, 0)),
    "gray+alpha": (np.tile(np.array([200, 255], np.uint8), (3, 5, 1)), "LA", (200, 200, 200)),
    "uint16": (np.full((3, 5), 1000, np.uint16), "I;16", (4, 4, 4)),
    "float": (np.full((3, 5), 0.5, np.float32), "F", (128, 128, 128)),
}


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_arrays_and_files_follow_the_same_rules(kind, tmp_path):
    arr, mode, value = _KINDS[kind]
    from_array = io.check_image(arr, kind)
    path = tmp_path / (f"{kind}.tif" if mode == "F" else f"{kind}.png")
    Image.fromarray(arr).save(path)
    with Image.open(path) as img:
        assert img.mode == mode  # the file really is of that kind
    from_file = io.read_image(path)
    assert from_array.dtype == from_file.dtype == np.uint8 and from_array.shape == (3, 5, 3)
    np.testing.assert_array_equal(from_array, from_file)
    np.testing.assert_array_equal(from_array[0, 0], value)


@pytest.mark.parametrize("bad, message", [
    (np.full((4, 4, 3), 300, np.int32), r"int32 values 300..300 are outside 0..255"),
    (np.full((4, 4), -1, np.int16), r"outside 0..255"),
    (np.full((4, 4, 3), 255.0), r"divide 0..255 floats by 255"),
    (np.full((4, 4, 3), np.nan), r"finite values in \[0, 1\]"),
    (np.zeros((4, 4, 3), complex), "unsupported dtype complex128"),
    (np.zeros((4, 4, 5), np.uint8), "expected an image"),
    (np.zeros((0, 4, 3), np.uint8), "expected an image"),
])
def test_bad_arrays_name_the_input_and_what_to_pass(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        io.check_image(bad, "my_photo")
    assert "my_photo" in str(err.value)


def test_integer_arrays_within_0_255_are_taken_as_8_bit_and_uint8_rgb_is_not_copied():
    rgb = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    assert io.check_image(rgb) is rgb
    np.testing.assert_array_equal(io.check_image(rgb.astype(np.int64)), rgb)


def test_a_float_file_outside_0_1_is_refused_naming_it(tmp_path):
    Image.fromarray(np.full((3, 5), 200.0, np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(io.ImageReadError, match=r"f\.tif.*divide 0..255 floats by 255"):
        io.read_image(tmp_path / "f.tif")
