"""Fetching and unpacking data files safely: SHA-256 checks, resumable HTTP, atomic renames.

Only the standard library (``urllib``, ``zipfile``, ``hashlib``) and ``tqdm``. Nothing here imports
``facelandmarks``, so the data scripts' ``--help`` and downloads work before the package's heavier
dependencies are installed.

Promises every function keeps:
    * a file gets its final name only once it is complete and its checksum is right; while it
      arrives it is ``NAME.part``, and running again resumes it with an HTTP ``Range`` request;
    * a folder unpacked from an archive gets its final name only once everything is in it;
    * nothing is written outside the paths the caller names (archive members that would land
      elsewhere are refused);
    * every error names the URL or the file and the problem, and says what to do next.

Example (resume, verify, rename)::

    path = fetch("https://example.org/a.zip", Path("data/downloads/a.zip"), sha256="9f86d0...")
"""
from __future__ import annotations

import bisect
import hashlib
import http.client
import io
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence

from tqdm.auto import tqdm

__all__ = [
    "RemoteFile", "DownloadError", "ChecksumError", "fetch", "sha256_of", "check_sha256", "tree_digest",
    "extract_zip", "write_if_changed", "USER_AGENT",
]

USER_AGENT = "facelandmarks-data-scripts/0.1 (+python urllib)"
CHUNK = 1 << 20  # bytes read per network or disk read


@dataclass(frozen=True)
class RemoteFile:
    """One file a publisher serves.

    Attributes:
        name: its name in the downloads folder.
        url: where it is served.
        sha256: hex digest of the expected bytes; ``None`` while not yet recorded (the scripts
            then print the computed sum and ask for it to be recorded in their table).
        page: the human-readable page that links it (for manual downloads and error messages).
    """

    name: str
    url: str
    sha256: str | None
    page: str


class DownloadError(RuntimeError):
    """A file could not be fetched or unpacked (the message names it and says what to do)."""


class ChecksumError(DownloadError):
    """A file whose SHA-256 is not the recorded one."""


Log = Callable[[str], None]


def sha256_of(path: str | os.PathLike, progress: bool = False) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
                                      desc=f"sha256 {path.name}", disable=not progress, leave=False) as bar:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def check_sha256(path: Path, expected: str | None, log: Log = print, shown_as: Path | None = None,
                 progress: bool = False) -> str:
    """Compare a file's SHA-256 with ``expected``; returns the computed sum.

    With ``expected=None`` the sum is printed with a request to record it.

    Raises:
        ChecksumError: the sums differ (the message names ``shown_as`` or ``path``).
    """
    shown = shown_as or path
    actual = sha256_of(path, progress)
    if expected is None:
        log(f"{shown.name}: SHA-256 {actual} (not yet recorded: please add it to the table of sums "
            f"in data_scripts/fetch_300w.py so that later downloads are checked)")
    elif actual.lower() != expected.lower():
        raise ChecksumError(
            f"{shown}: SHA-256 is {actual}, expected {expected}: the file is damaged or is not the one this "
            "script knows")
    return actual


def _looks_like_html(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml"))


def _manual_hint(remote: RemoteFile, dest: Path) -> str:
    return (f"Download it by hand from {remote.page} (it may ask you to accept its licence), save it as {dest}, "
            "and run this command again: the file will be checked and used.")


def fetch(remote: RemoteFile, dest: str | os.PathLike, *, progress: bool = True, timeout: float = 60.0,
          log: Log = print) -> Path:
    """Download ``remote`` to ``dest`` unless it is already there, resuming a ``dest.part`` if one exists.

    The finished bytes are checked against ``remote.sha256`` before the ``.part`` file is renamed to
    ``dest``. A file already at ``dest`` (from an earlier run or put there by hand) is checked and
    kept; it is never overwritten.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        ChecksumError: wrong SHA-256 (a fresh download is deleted, so it is never left as if good;
            a file found at ``dest`` is left for the user to look at and delete).
        DownloadError: HTTP error (404, 500 ...), lost connection (the ``.part`` is kept for the
            next run), an HTML page instead of the file, a ``.zip`` that is not whole (when the
            server sent no length, a cut cannot be told otherwise), or no network.
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            check_sha256(dest, remote.sha256, log, progress=progress)
        except ChecksumError as err:
            raise ChecksumError(f"{err}. Delete {dest} and run again to download it afresh.") from None
        log(f"{dest.name}: already downloaded" + (", checksum ok" if remote.sha256 else ""))
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _download(remote, part, dest, progress=progress, timeout=timeout, log=log)
    if _looks_like_html(part) and dest.suffix.lower() not in (".html", ".htm"):
        part.unlink()
        raise DownloadError(f"{remote.url}: the server sent a web page instead of {dest.name}. "
                            + _manual_hint(remote, dest))
    if dest.suffix.lower() == ".zip" and not zipfile.is_zipfile(part):  # catches a cut without a known length
        part.unlink()
        raise DownloadError(f"{remote.url}: what arrived is not a whole zip file (the connection may have been "
                            "cut); it was deleted, run again to download it afresh.")
    try:
        check_sha256(part, remote.sha256, log, shown_as=dest, progress=progress)
    except ChecksumError as err:
        part.unlink()
        raise ChecksumError(f"{err}; the download was deleted. If the publisher has changed the file, "
                            "check its page and update the table of sums.") from None
    os.replace(part, dest)
    return dest


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``'bytes 100-199/200'`` -> (100, 200); ``'bytes */200'`` -> (None, 200); missing -> (None, None)."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    start = None if span.strip() == "*" else int(span.split("-")[0])
    return start, (int(total) if total.strip().isdigit() else None)


def _http_error_message(remote: RemoteFile, dest: Path, code: int, reason: str, have: int) -> str:
    kept = f" The {have} bytes already in {dest.name}.part are kept; running again resumes." if have else ""
    if code in (404, 410):
        return (f"{remote.url}: HTTP {code} {reason}: the file is not (or no longer) at this address. "
                + _manual_hint(remote, dest))
    if code in (401, 403):
        return f"{remote.url}: HTTP {code} {reason}: the server refuses the download. " + _manual_hint(remote, dest)
    if 500 <= code < 600:
        return f"{remote.url}: HTTP {code} {reason}: the server failed; try again later.{kept}"
    return f"{remote.url}: HTTP {code} {reason}.{kept}"


def _download(remote: RemoteFile, part: Path, dest: Path, *, progress: bool, timeout: float, log: Log,
              retry_from_zero: bool = True) -> None:
    """Append the missing bytes of ``remote`` to ``part`` (all of them when it does not exist)."""
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(remote.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the range starts at or past the end: .part may be whole already
            _, total = _content_range(err.headers.get("Content-Range"))
            if total == have:
                return
            if retry_from_zero:
                part.unlink()
                return _download(remote, part, dest, progress=progress, timeout=timeout, log=log, retry_from_zero=False)
        raise DownloadError(_http_error_message(remote, dest, err.code, err.reason, have)) from None
    except urllib.error.URLError as err:
        raise DownloadError(f"{remote.url}: cannot connect ({err.reason}); check the network and run again.") from None
    except (OSError, http.client.HTTPException) as err:
        raise DownloadError(f"{remote.url}: cannot connect ({err}); check the network and run again.") from None
    with response:
        if response.headers.get_content_type() == "text/html" and dest.suffix.lower() not in (".html", ".htm"):
            raise DownloadError(f"{remote.url}: the server sent a web page instead of {dest.name}. "
                                + _manual_hint(remote, dest))
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != have:
                raise DownloadError(f"{remote.url}: asked for bytes from {have}, the server sent them from {start}; "
                                    f"delete {part} and run again.")
            mode = "ab"
        else:  # 200: the whole file (the server ignores Range, or there was nothing to resume)
            have, mode, total = 0, "wb", length
        if have:
            log(f"{dest.name}: resuming at {have:,} bytes")
        if total:
            log(f"{dest.name}: {total / 1e6:,.1f} MB from {remote.url}")
        with open(part, mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                                         desc=dest.name, disable=not progress, leave=False) as bar:
            while True:
                try:
                    block = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as err:
                    raise DownloadError(f"{remote.url}: connection lost after {have:,} of {total or '?'} bytes ({err}). "
                                        f"The partial file {part} is kept; run again to resume.") from None
                if not block:
                    break
                f.write(block)
                have += len(block)
                bar.update(len(block))
    if total is not None and have != total:
        raise DownloadError(f"{remote.url}: connection closed after {have:,} of {total:,} bytes. "
                            f"The partial file {part} is kept; run again to resume.")


def tree_digest(folder: str | os.PathLike) -> str:
    """SHA-256 of the sorted lines ``'<sha256 of file>  <relative posix path>\\n'`` of every file in ``folder``.

    One number that changes when any file is added, removed, renamed or altered. The same value comes
    from ``cd FOLDER && find . -type f | sed 's|^./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum``.
    """
    folder = Path(folder)
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix().encode())
    lines = "".join(f"{sha256_of(p)}  {p.relative_to(folder).as_posix()}\n" for p in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


class _JoinedParts(io.RawIOBase):
    """Read-only, seekable view of files concatenated in order (a zip split into byte parts)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._files = [open(p, "rb") for p in paths]
        sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self._starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self._total = sum(sizes)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._total}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self._pos >= self._total:
            return 0
        i = bisect.bisect_right(self._starts, self._pos) - 1
        f = self._files[i]
        f.seek(self._pos - self._starts[i])
        data = f.read(len(buffer))
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def _member_target(archive: str, name: str, root: Path) -> Path:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or "\\" in name:
        raise DownloadError(f"{archive}: member {name!r} would be written outside {root}; refusing to unpack it.")
    return root.joinpath(*rel.parts)


def extract_zip(archive: Path | Sequence[Path], target: str | os.PathLike, *, strip_top: bool = False,
                include: Iterable[str] | None = None, verify: Callable[[Path], None] | None = None,
                progress: bool = True, log: Log = print) -> Path:
    """Unpack a zip (or a zip split in byte parts ``NAME.zip.001, .002 ...``) into the folder ``target``.

    Members are written into ``target.partial`` and the folder is renamed to ``target`` only when
    everything is in (and ``verify(folder)`` has not raised), so an existing ``target`` is complete
    and is left untouched.

    Args:
        archive: the zip, or its parts in order.
        target: the folder to create.
        strip_top: drop the single top-level folder of every member (GitHub archives).
        include: keep only members whose (stripped) path starts with one of these prefixes.
        verify: called with the unpacked folder before it gets its final name.

    Raises:
        DownloadError: not a zip, a damaged member (CRC), or a member path leaving ``target``.
    """
    target = Path(target)
    parts = [Path(archive)] if isinstance(archive, (str, os.PathLike)) else [Path(p) for p in archive]
    shown = parts[0].name if len(parts) == 1 else f"{parts[0].name} (+{len(parts) - 1} parts)"
    if target.is_dir():
        log(f"{target}: already unpacked")
        return target
    for p in parts:
        if not p.is_file():
            raise DownloadError(f"{p}: no such file to unpack; run the download step first.")
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    prefixes = tuple(include) if include is not None else None
    raw = _JoinedParts(parts)
    try:
        with io.BufferedReader(raw, buffer_size=CHUNK) as fobj, zipfile.ZipFile(fobj) as zf:
            members = [m for m in zf.infolist() if not m.filename.startswith("__MACOSX/")]
            for m in tqdm(members, desc=f"unpacking {shown}", unit="file", disable=not progress, leave=False):
                name = m.filename
                if strip_top:
                    name = name.split("/", 1)[1] if "/" in name else ""
                if not name or (prefixes is not None and not name.startswith(prefixes)):
                    continue
                out = _member_target(shown, name, partial)
                if m.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        partial.mkdir(parents=True, exist_ok=True)
        if verify is not None:
            verify(partial)
    except zipfile.BadZipFile as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise DownloadError(f"{shown}: not a valid zip file ({err}); delete it and download it again.") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.replace(partial, target)
    return target


def write_if_changed(path: str | os.PathLike, data: bytes) -> bool:
    """Write ``data`` to ``path`` (atomically, via ``path.tmp``) unless the file already holds exactly it.

    Returns whether the file was written; an unchanged file keeps its modification time.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True
