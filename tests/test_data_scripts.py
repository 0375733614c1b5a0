"""data_scripts/: resumable checked downloads (against a local HTTP server) and the face preparation.

No test touches the internet: every download comes from a server started here on 127.0.0.1.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import io as _bytes_io
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from facelandmarks import datasets, geometry, io
from facelandmarks.schemes import IBUG68

DATA_SCRIPTS = Path(__file__).resolve().parent.parent / "data_scripts"


def _load(name: str) -> ModuleType:
    """Import a data script by file (they import each other as top-level modules, like when run)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DATA_SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


datafetch = _load("datafetch")
dataprep = _load("dataprep")
fetch_300w = _load("fetch_300w")


# --------------------------------------------------------------------------------------------
# a local HTTP server with Range support and a few ways to misbehave
# --------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        kind = srv.behaviour.get(self.path, "normal")
        if kind == "500":
            self.send_error(500, "Internal Server Error")
            return
        if kind == "html":
            body = b"<!DOCTYPE html><html><body>Please fill in the licence form</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path not in srv.files:
            self.send_error(404, "Not Found")
            return
        data = srv.files[self.path]
        if kind == "unsized_cut":  # no Content-Length, half the bytes, hang up: looks complete to the client
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        start, rng = 0, self.headers.get("Range")
        if rng and kind != "norange":
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if kind == "cut_once" and self.path not in srv.cut_done:
            srv.cut_done.add(self.path)
            self.wfile.write(body[: len(body) // 2])  # then hang up, Content-Length unmet
            self.close_connection = True
            return
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)  # port 0: any free port
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut_done: set[str] = set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture()
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _remote(server: _Server, path: str, data: bytes | None, sha: str | None = "auto", **behaviour) -> "datafetch.RemoteFile":
    if data is not None:
        server.files[path] = data
    if behaviour:
        server.behaviour[path] = behaviour["kind"]
    digest = hashlib.sha256(data).hexdigest() if sha == "auto" and data is not None else (None if sha == "auto" else sha)
    return datafetch.RemoteFile(path.rsplit("/", 1)[1], server.url(path), digest, "https://example.org/the-page")


def _quiet(messages: list[str]):
    return messages.append


PAYLOAD = np.random.default_rng(0).integers(0, 256, 3 * 1024 * 1024 + 123, dtype=np.uint8).tobytes()


# --------------------------------------------------------------------------------------------
# downloads
# --------------------------------------------------------------------------------------------
def test_interrupted_download_resumes_with_range(server, tmp_path):
    remote = _remote(server, "/big.bin", PAYLOAD, kind="cut_once")
    dest = tmp_path / "downloads" / "big.bin"
    with pytest.raises(datafetch.DownloadError, match=r"connection (closed|lost) after .* bytes.*big\.bin\.part is kept"):
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    part = dest.with_name("big.bin.part")
    assert not dest.exists() and 0 < part.stat().st_size < len(PAYLOAD)
    half = part.stat().st_size

    datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1] == ("/big.bin", f"bytes={half}-")  # only the missing bytes were asked for


def test_zip_cut_without_a_known_length_is_not_kept(server, tmp_path):
    remote = _remote(server, "/repo.zip", _zip_bytes({"a.txt": PAYLOAD[:50000]}), sha=None, kind="unsized_cut")
    dest = tmp_path / "repo.zip"
    with pytest.raises(datafetch.DownloadError, match=r"repo\.zip: what arrived is not a whole zip file"):
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert list(tmp_path.iterdir()) == []


def test_resume_restarts_when_the_server_ignores_range(server, tmp_path):
    remote = _remote(server, "/norange.bin", PAYLOAD[:5000], kind="norange")
    dest = tmp_path / "norange.bin"
    dest.with_name("norange.bin.part").write_bytes(b"stale bytes from an older attempt")
    datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert dest.read_bytes() == PAYLOAD[:5000]


def test_part_file_already_whole_is_finished_without_download(server, tmp_path):
    remote = _remote(server, "/whole.bin", PAYLOAD[:4096])
    dest = tmp_path / "whole.bin"
    dest.with_name("whole.bin.part").write_bytes(PAYLOAD[:4096])  # interrupted just before the rename
    datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert dest.read_bytes() == PAYLOAD[:4096]
    assert server.requests == [("/whole.bin", "bytes=4096-")]  # answered 416: nothing left to send


def test_wrong_checksum_is_rejected_and_not_kept(server, tmp_path):
    remote = _remote(server, "/a.bin", PAYLOAD[:1000], sha="0" * 64)
    dest = tmp_path / "a.bin"
    with pytest.raises(datafetch.ChecksumError) as err:
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    message = str(err.value)
    assert str(dest) in message and "expected " + "0" * 64 in message
    assert hashlib.sha256(PAYLOAD[:1000]).hexdigest() in message and "deleted" in message
    assert not dest.exists() and not dest.with_name("a.bin.part").exists()


def test_file_already_there_with_wrong_checksum_is_reported_and_left_alone(server, tmp_path):
    remote = _remote(server, "/a.bin", PAYLOAD[:1000])
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"something else")
    with pytest.raises(datafetch.ChecksumError, match=r"a\.bin: SHA-256 is .* expected .*Delete .*a\.bin and run again"):
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert dest.read_bytes() == b"something else" and server.requests == []


def test_missing_file_404_gives_a_clear_error(server, tmp_path):
    remote = _remote(server, "/gone.zip", None, sha=None)
    dest = tmp_path / "gone.zip"
    with pytest.raises(datafetch.DownloadError) as err:
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    message = str(err.value)
    assert remote.url in message and "HTTP 404" in message and "no longer" in message
    assert "https://example.org/the-page" in message and str(dest) in message  # how to fetch it by hand
    assert list(tmp_path.iterdir()) == []


def test_server_error_500_gives_a_clear_error_and_keeps_the_partial_file(server, tmp_path):
    remote = _remote(server, "/flaky.zip", PAYLOAD[:2000], kind="500")
    dest = tmp_path / "flaky.zip"
    dest.with_name("flaky.zip.part").write_bytes(PAYLOAD[:100])
    with pytest.raises(datafetch.DownloadError, match=r"flaky\.zip: HTTP 500 .*try again later.*100 bytes .* kept"):
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert dest.with_name("flaky.zip.part").read_bytes() == PAYLOAD[:100]
    assert not dest.exists()


def test_html_page_instead_of_the_file_is_refused(server, tmp_path):
    remote = _remote(server, "/form.zip", None, sha=None, kind="html")
    dest = tmp_path / "form.zip"
    with pytest.raises(datafetch.DownloadError, match=r"web page instead of form\.zip.*by hand from https://example\.org"):
        datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert list(tmp_path.iterdir()) == []


def test_no_server_gives_a_clear_error(tmp_path):
    with _Server() as srv:  # bind a port, then close it: nothing listens there any more
        url = srv.url("/x.zip")
    remote = datafetch.RemoteFile("x.zip", url, None, "https://example.org")
    with pytest.raises(datafetch.DownloadError, match=r"x\.zip: cannot connect"):
        datafetch.fetch(remote, tmp_path / "x.zip", progress=False, log=_quiet([]))


def test_unrecorded_checksum_is_printed_with_a_request_to_record_it(server, tmp_path):
    remote = _remote(server, "/new.bin", PAYLOAD[:300], sha=None)
    messages: list[str] = []
    datafetch.fetch(remote, tmp_path / "new.bin", progress=False, log=messages.append)
    assert any(hashlib.sha256(PAYLOAD[:300]).hexdigest() in m and "record" in m for m in messages)


def test_rerun_changes_nothing_and_fetches_nothing(server, tmp_path):
    remote = _remote(server, "/a.bin", PAYLOAD[:70000])
    dest = tmp_path / "a.bin"
    datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    before = (dest.read_bytes(), dest.stat().st_mtime_ns, len(server.requests))
    datafetch.fetch(remote, dest, progress=False, log=_quiet([]))
    assert (dest.read_bytes(), dest.stat().st_mtime_ns, len(server.requests)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_script_needs_the_licence_flag_and_writes_only_under_dest(server, tmp_path, monkeypatch):
    files = {"/p/one.bin": PAYLOAD[:1000], "/p/two.csv": b"a\tb\n"}
    remotes = tuple(_remote(server, path, data) for path, data in files.items())
    monkeypatch.setattr(fetch_300w, "SOURCES", {"tiny": fetch_300w.Source("tiny", remotes, "test files", "1 kB", "test")})
    dest = tmp_path / "data"
    messages: list[str] = []
    assert fetch_300w.main(["download", "--dest", str(dest), "--quiet"], log=messages.append) == 2
    assert not dest.exists() and server.requests == [] and "--accept-licence" in messages[-1]

    assert fetch_300w.main(["download", "--dest", str(dest), "--quiet", "--accept-licence"], log=messages.append) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "data", "data/downloads", "data/downloads/one.bin", "data/downloads/two.csv"]
    stamps = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    assert fetch_300w.main(["download", "--dest", str(dest), "--quiet", "--accept-licence"], log=messages.append) == 0
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == stamps


def test_help_explains_downloads_licence_and_size_from_any_directory(tmp_path):
    out = subprocess.run([sys.executable, str(DATA_SCRIPTS / "fetch_300w.py"), "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for needle in ("--accept-licence", "research and education only", "non-commercial", "GB", "SHA-256",
                   "ibug.doc.ic.ac.uk/resources/300-W", "CC BY 4.0", *fetch_300w.SOURCES):
        assert needle in out.stdout, needle
    refused = subprocess.run([sys.executable, str(DATA_SCRIPTS / "fetch_300w.py"), "download", "--dest", "d"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "Nothing was downloaded" in refused.stdout
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# unpacking
# --------------------------------------------------------------------------------------------
def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = _bytes_io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_split_in_byte_parts_unpacks_and_rerun_leaves_it(tmp_path):
    members = {"300W/01_Indoor/a.txt": b"a" * 5000, "300W/02_Outdoor/b.bin": PAYLOAD[:200000]}
    whole = _zip_bytes(members)
    cuts = [0, len(whole) // 3, 2 * len(whole) // 3, len(whole)]
    parts = []
    for i in range(3):
        parts.append(tmp_path / f"300w.zip.{i + 1:03d}")
        parts[-1].write_bytes(whole[cuts[i]:cuts[i + 1]])
    target = datafetch.extract_zip(parts, tmp_path / "originals" / "300w", progress=False, log=_quiet([]))
    for name, data in members.items():
        assert (target / name).read_bytes() == data
    stamp = (target / "300W/01_Indoor/a.txt").stat().st_mtime_ns
    messages: list[str] = []
    datafetch.extract_zip(parts, target, progress=False, log=messages.append)
    assert "already unpacked" in messages[0] and (target / "300W/01_Indoor/a.txt").stat().st_mtime_ns == stamp


def test_zip_member_leaving_the_target_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip_bytes({"ok.txt": b"1", "../escaped.txt": b"2"}))
    with pytest.raises(datafetch.DownloadError, match=r"evil\.zip: member '\.\./escaped\.txt' would be written outside"):
        datafetch.extract_zip(archive, tmp_path / "out", progress=False, log=_quiet([]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"]  # no out/, no out.partial/, no escaped.txt


def test_damaged_zip_gives_a_clear_error(tmp_path):
    archive = tmp_path / "afw.zip"
    archive.write_bytes(_zip_bytes({"a.txt": b"x" * 1000})[:-30])  # cut off the central directory's end
    with pytest.raises(datafetch.DownloadError, match=r"afw\.zip: not a valid zip file .*download it again"):
        datafetch.extract_zip(archive, tmp_path / "out", progress=False, log=_quiet([]))
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_github_archive_keeps_listed_members_and_is_verified_before_it_gets_its_name(tmp_path):
    archive = tmp_path / "repo-master.zip"
    archive.write_bytes(_zip_bytes({"repo-master/README.md": b"# r", "repo-master/images/a.png": b"png",
                                    "repo-master/tools/skip.py": b"", "repo-master/landmarks/expert/1.json": b"{}"}))

    def refuse(folder: Path) -> None:
        raise datafetch.ChecksumError(f"{folder}: not what we expected")

    with pytest.raises(datafetch.ChecksumError):
        datafetch.extract_zip(archive, tmp_path / "jdc", strip_top=True, include=fetch_300w.JDC_INCLUDE,
                              verify=refuse, progress=False, log=_quiet([]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo-master.zip"]
    target = datafetch.extract_zip(archive, tmp_path / "jdc", strip_top=True, include=fetch_300w.JDC_INCLUDE,
                                   progress=False, log=_quiet([]))
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "README.md", "images/a.png", "landmarks/expert/1.json"]


def test_recorded_human_data_sums_match_the_reference_copy(data_root):
    assert datafetch.tree_digest(data_root / "human" / "jdc") == fetch_300w.JDC_TREE_SHA256
    csv_path = data_root / "human" / "lfpw" / "kbvt_lfpw_v1_test.csv"
    assert datafetch.sha256_of(csv_path) == fetch_300w.SHA256["kbvt_lfpw_v1_test.csv"]


# --------------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------------
def _by_hand(points: np.ndarray) -> tuple[int, int, int, np.ndarray]:
    """The preparation worked out without the package: window and moved points."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = int(np.floor(2.0 * (hi - lo).max() + 0.5))
    x0, y0 = (int(np.floor(c - size / 2 + 0.5)) for c in (lo + hi) / 2)
    s = 384 / size
    moved = (points - [x0, y0] + 0.5) * s - 0.5  # extents [x0-0.5, x0+size-0.5] -> [-0.5, 383.5]
    return x0, y0, size, moved


def _blob_image(width: int, height: int, centres: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    img = np.zeros((height, width), dtype=np.float64)
    for x, y in centres:
        img = np.maximum(img, np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2)))
    return np.repeat(np.round(img * 255).astype(np.uint8)[..., None], 3, axis=2)


def _centroid(gray: np.ndarray, at: np.ndarray, radius: int) -> np.ndarray:
    x, y = np.round(at).astype(int)
    win = gray[y - radius:y + radius + 1, x - radius:x + radius + 1].astype(np.float64)
    win = np.clip(win - 0.2 * win.max(), 0, None)
    ys, xs = np.mgrid[y - radius:y + radius + 1, x - radius:x + radius + 1]
    return np.array([(xs * win).sum(), (ys * win).sum()]) / win.sum()


def _synthetic_face(rng: np.random.Generator, width: int, height: int, box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    pts = rng.uniform([x0, y0], [x1, y1], size=(IBUG68.n_points, 2))
    pts[:4] = [[x0, y0], [x1, y1], [x0, y1], [x1, y0]]  # the box is exactly the points' box
    return pts


def _write_original(folder: Path, name: str, image: np.ndarray, points: np.ndarray, suffix: str = ".png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / f"{name}{suffix}")
    io.write_pts(folder / f"{name}.pts", points)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def synthetic_originals(tmp_path):
    """Originals of two sources with known points; dots drawn at 8 of the points of each face."""
    rng = np.random.default_rng(1)
    faces = {}
    layout = {("afw", "afw"): [("4001_1", 300, 220, (40.3, 30.7, 120.9, 130.2)),   # window leaves the photo
                               ("4001_2", 260, 260, (100.0, 90.5, 160.25, 170.0))],
              ("helen", "helen/trainset"): [("77_1", 400, 300, (150.6, 80.1, 260.4, 200.8))],
              ("lfpw", "lfpw/trainset"): [("image_0001", 320, 240, (90.2, 50.4, 200.7, 180.3))]}
    for (source, subset), specs in layout.items():
        for name, w, h, box in specs:
            pts = _synthetic_face(rng, w, h, box)
            dots = pts[[0, 1, 2, 3, 20, 30, 40, 50]]
            folder = tmp_path / "originals" / source / (subset.split("/", 1)[1] if "/" in subset else "")
            _write_original(folder, name, _blob_image(w, h, dots), pts)
            faces[(subset, name)] = (pts, dots, (w, h))
    return tmp_path, faces


def test_prepared_points_and_pixels_follow_the_documented_transform(synthetic_originals):
    root, faces = synthetic_originals
    originals = {"afw": root / "originals" / "afw", "helen": root / "originals" / "helen"}
    rows = dataprep.prepare_subsets(originals, root / "out", progress=False, log=_quiet([]))
    assert [(r.subset, r.name) for r in rows] == [("afw", "4001_1"), ("afw", "4001_2"), ("helen/trainset", "77_1")]
    for row in rows:
        pts, dots, (w, h) = faces[(row.subset, row.name)]
        x0, y0, size, expected = _by_hand(pts)
        assert (row.source_width, row.source_height, row.crop_x0, row.crop_y0, row.crop_size, row.out_size) == (
            w, h, x0, y0, size, 384)
        prepared = io.read_pts(root / "out" / "300w" / row.subset / f"{row.name}.pts", n_points=68)
        np.testing.assert_allclose(prepared, expected, atol=1e-3)  # points survive crop + resize exactly
        back = geometry.transform_points(prepared, np.linalg.inv(dataprep.window_matrix(x0, y0, size)))
        np.testing.assert_allclose(back, pts, atol=1e-3)  # and map back with the manifest alone
        image = io.read_image(root / "out" / "300w" / row.subset / f"{row.name}.jpg")
        assert image.shape == (384, 384, 3) and image.dtype == np.uint8
        gray = image.mean(axis=2)
        for dot in geometry.transform_points(dots, dataprep.window_matrix(x0, y0, size)):
            if 8 <= dot.min() and dot.max() <= 375:
                # JPEG and Lanczos change pixels, not where the dots are
                assert np.linalg.norm(_centroid(gray, dot, radius=int(4 * 384 / size) + 3) - dot) < 0.25
    # the first face's window starts left of and above the photo: that band is black padding
    row = rows[0]
    assert row.crop_x0 < 0 and row.crop_y0 < 0
    image = io.read_image(root / "out" / "300w" / "afw" / "4001_1.jpg")
    band = int((-row.crop_x0) * 384 / row.crop_size) - 3
    assert image[:, :band].max() <= 8


def test_prepare_rerun_changes_nothing(synthetic_originals):
    root, _ = synthetic_originals
    originals = {"afw": root / "originals" / "afw", "helen": root / "originals" / "helen"}
    dataprep.prepare_subsets(originals, root / "out", progress=False, log=_quiet([]))
    before = _snapshot(root / "out")
    assert "300w/manifest.csv" in before and len(before) == 7
    dataprep.prepare_subsets(originals, root / "out", progress=False, log=_quiet([]))
    assert _snapshot(root / "out") == before
    dataprep.prepare_subsets(originals, root / "out", force=True, progress=False, log=_quiet([]))
    assert _snapshot(root / "out") == before  # redone, but the same bytes: files left untouched


def test_script_prepares_downloaded_zips_into_a_data_root_the_package_reads(synthetic_originals):
    root, faces = synthetic_originals
    dest = root / "data"
    (dest / "downloads").mkdir(parents=True)
    for source in ("afw", "helen", "lfpw"):
        folder = root / "originals" / source
        members = {f"{source}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        (dest / "downloads" / f"{source}.zip").write_bytes(_zip_bytes(members))
    messages: list[str] = []
    args = ["prepare", "--dest", str(dest), "--parts", "afw", "helen", "lfpw", "--quiet"]
    assert fetch_300w.main(args, log=messages.append) == 0, messages
    with open(dest / "300w" / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["subset"] + "/" + r["name"] for r in rows] == ["afw/4001_1", "afw/4001_2", "helen/trainset/77_1",
                                                             "lfpw/trainset/image_0001"]
    train = datasets.split_faces("train", dest)  # the official LFPW zip lands where the `train` split reads it
    assert [f"{f.subset}/{f.name}" for f in train] == ["afw/4001_1", "afw/4001_2", "helen/trainset/77_1",
                                                       "lfpw/trainset/image_0001"]
    before = _snapshot(dest)
    again = subprocess.run([sys.executable, str(DATA_SCRIPTS / "fetch_300w.py"), *args], cwd=root / "originals",
                           capture_output=True, text=True, timeout=120)  # from another folder: same result
    assert again.returncode == 0, again.stdout + again.stderr
    assert _snapshot(dest) == before

    listed = dest / "names.csv"
    dataprep.write_manifest(listed, [dataprep.ManifestRow("afw", "4001_2", 1, 1, 0, 0, 1, 384),
                                     dataprep.ManifestRow("afw", "no_such_face", 1, 1, 0, 0, 1, 384)])
    messages.clear()
    assert fetch_300w.main(args + ["--names", str(listed)], log=messages.append) == 1
    assert any("1 face(s) listed in" in m and "afw/no_such_face" in m for m in messages)


def test_prepare_without_downloads_says_what_to_do(tmp_path):
    messages: list[str] = []
    assert fetch_300w.main(["prepare", "--dest", str(tmp_path), "--parts", "afw", "--quiet"], log=messages.append) == 1
    assert any("not downloaded" in m for m in messages) and any("run the download step first" in m for m in messages)
    (tmp_path / "names.csv").write_text("face,x\n1,2\n")
    args = ["prepare", "--dest", str(tmp_path), "--names", str(tmp_path / "names.csv"), "--quiet"]
    assert fetch_300w.main(args, log=messages.append) == 1
    assert "names.csv: not a manifest with columns subset,name," in messages[-1]


def test_face_without_a_subset_folder_is_reported(tmp_path):
    folder = tmp_path / "helen" / "somewhere"
    _write_original(folder, "1_1", np.zeros((20, 20, 3), np.uint8), np.full((68, 2), 5.0) + np.arange(68)[:, None] * 0.1)
    with pytest.raises(dataprep.PrepareError, match=r"somewhere/1_1\.pts: cannot tell which helen subset"):
        dataprep.find_faces("helen", tmp_path / "helen", log=_quiet([]))


def test_shared_faces_treated_as_originals_are_prepared_by_the_expected_transform(data_root, tmp_path):
    names = ["1051618982_1", "111076519_1", "1130084326_2"]
    folder = tmp_path / "afw"
    folder.mkdir()
    for name in names:  # copies in a temporary folder, never in the repository
        for suffix in (".jpg", ".pts"):
            shutil.copy(data_root / "300w" / "afw" / f"{name}{suffix}", folder / f"{name}{suffix}")
    rows = dataprep.prepare_subsets({"afw": folder}, tmp_path / "out", progress=False, log=_quiet([]))
    assert [r.name for r in rows] == names
    for row in rows:
        original = io.read_pts(folder / f"{row.name}.pts")
        x0, y0, size, expected = _by_hand(original)
        assert (row.source_width, row.source_height, row.crop_x0, row.crop_y0, row.crop_size) == (384, 384, x0, y0, size)
        prepared = io.read_pts(tmp_path / "out" / "300w" / "afw" / f"{row.name}.pts")
        np.testing.assert_allclose(prepared, expected, atol=1e-3)
        box = geometry.points_box(prepared)
        assert abs(geometry.box_size(box).max() - 192) < 1.0  # the box is half the prepared side
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, 191.5, atol=1.0)  # and sits in the middle
    header = (data_root / "300w" / "manifest.csv").read_bytes().split(b"\n")[0]
    assert (tmp_path / "out" / "300w" / "manifest.csv").read_bytes().split(b"\n")[0] == header


def test_crop_window_rounds_as_the_reference_data_did(data_root):
    """The reference manifest's windows follow from its points with the documented rounding."""
    with open(data_root / "300w" / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))[::7]
    exact = 0
    for r in rows:
        prepared = io.read_pts(data_root / "300w" / r["subset"] / f"{r['name']}.pts")
        x0, y0, size = int(r["crop_x0"]), int(r["crop_y0"]), int(r["crop_size"])
        original = geometry.transform_points(prepared, np.linalg.inv(dataprep.window_matrix(x0, y0, size)))
        # the files keep 3 decimals, so recomputed windows may differ only where rounding is a near tie
        wx, wy, ws = dataprep.crop_window(original)
        assert abs(ws - size) <= 1 and abs(wx - x0) <= 1 and abs(wy - y0) <= 1
        exact += (wx, wy, ws) == (x0, y0, size)
    assert exact >= 0.97 * len(rows)


def test_script_puts_the_human_studies_in_place_only_when_they_match(tmp_path, monkeypatch):
    dest = tmp_path / "data"
    (dest / "downloads").mkdir(parents=True)
    (dest / "downloads" / "facial-landmarks-master.zip").write_bytes(_zip_bytes({
        "facial-landmarks-master/README.md": b"# Facial Landmark Dataset",
        "facial-landmarks-master/LICENSE": b"CC BY 4.0",
        "facial-landmarks-master/images/indoor_006.png": b"png bytes",
        "facial-landmarks-master/landmarks/expert/1.json": b"{}",
        "facial-landmarks-master/notebooks/extra.ipynb": b"{}"}))
    (dest / "downloads" / "kbvt_lfpw_v1_test.csv").write_bytes(b"imgurl\tworker\n")
    args = ["prepare", "--dest", str(dest), "--parts", "jdc", "lfpw_kbvt", "--quiet"]
    messages: list[str] = []
    assert fetch_300w.main(args, log=messages.append) == 1  # not the files the project was built with
    assert any("the unpacked JDC files have digest" in m and "Nothing was put in human/jdc" in m for m in messages)
    assert not (dest / "human" / "jdc").exists() and not (dest / "human" / "jdc.partial").exists()
    assert (dest / "human" / "lfpw" / "kbvt_lfpw_v1_test.csv").read_bytes() == b"imgurl\tworker\n"

    expected = tmp_path / "expected"
    datafetch.extract_zip(dest / "downloads" / "facial-landmarks-master.zip", expected, strip_top=True,
                          include=fetch_300w.JDC_INCLUDE, progress=False, log=_quiet([]))
    monkeypatch.setattr(fetch_300w, "JDC_TREE_SHA256", datafetch.tree_digest(expected))
    assert fetch_300w.main(args, log=messages.append) == 0
    jdc = dest / "human" / "jdc"
    assert sorted(p.relative_to(jdc).as_posix() for p in jdc.rglob("*") if p.is_file()) == [
        "LICENSE", "README.md", "images/indoor_006.png", "landmarks/expert/1.json"]
    before = _snapshot(dest / "human")
    assert fetch_300w.main(args, log=messages.append) == 0
    assert _snapshot(dest / "human") == before


def test_list_shows_parts_and_what_is_there_without_network(tmp_path):
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "afw.zip").write_bytes(b"x")
    (tmp_path / "downloads" / "helen.zip.part").write_bytes(b"x")
    messages: list[str] = []
    assert fetch_300w.main(["list", "--dest", str(tmp_path)], log=messages.append) == 0
    text = "\n".join(messages)
    assert _has_line(text, "afw.zip", "downloaded") and _has_line(text, "helen.zip", "partly downloaded")
    assert _has_line(text, "ibug.zip", "not downloaded") and "not yet recorded" in text


def _has_line(text: str, name: str, state: str) -> bool:
    return any(line.split()[:1] == [name] and state in line for line in text.splitlines())
