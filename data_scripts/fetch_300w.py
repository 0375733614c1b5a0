#!/usr/bin/env python3
"""Download the official 300-W data and the human-annotation studies, then prepare them for facelandmarks.

Steps (each safe to run again; nothing is written outside --dest):
  download   fetch the publishers' files into DEST/downloads/ (resumable; every file is checked
             against its SHA-256). Needs --accept-licence.
  prepare    unpack into DEST/originals/, write the prepared faces DEST/300w/<subset>/NAME.jpg|.pts
             and DEST/300w/manifest.csv, and put the human studies in DEST/human/. No network.
  all        download, then prepare.
  list       show what would be downloaded, sizes, licences and which files are already there.

Then point the package at the result:  export FACELANDMARKS_DATA=DEST
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from datafetch import ChecksumError, DownloadError, RemoteFile, extract_zip, fetch, tree_digest, write_if_changed

PAGE_300W = "https://ibug.doc.ic.ac.uk/resources/300-W/"
PAGE_ANNOTATIONS = "https://ibug.doc.ic.ac.uk/resources/facial-point-annotations/"
PAGE_JDC = "https://github.com/doc-E-brown/facial-landmarks"
PAGE_LFPW = "https://neerajkumar.org/databases/lfpw/"
IBUG_DOWNLOADS = "https://ibug.doc.ic.ac.uk/download/annotations/"

SHA256: dict[str, str | None] = {
    # None = not yet recorded: the script prints the sum it computes; please record it here.
    "afw.zip": None,
    "helen.zip": None,
    "lfpw.zip": None,
    "ibug.zip": None,
    "300w.zip.001": None,
    "300w.zip.002": None,
    "300w.zip.003": None,
    "300w.zip.004": None,
    # GitHub builds this zip on request and does not promise the same bytes every time, so its
    # unpacked files are checked instead (JDC_TREE_SHA256 below).
    "facial-landmarks-master.zip": None,
    # the copy in the project's reference data (shared/data/human/lfpw)
    "kbvt_lfpw_v1_test.csv": "0a1a14408cbe7d6bae9da7c54f28ae07738a0d4a846c40ef0e23b0e4e077006f",
}
"""SHA-256 of every downloaded file, by name."""

JDC_TREE_SHA256 = "b1388744c8f37c3c08e7c09309e81c7b24bd9046e15e1c78568fe07c11129b78"
"""datafetch.tree_digest of human/jdc as used by the project (README.md, LICENSE, 4 images, 112 JSON files)."""
JDC_INCLUDE = ("README.md", "LICENSE", "images/", "landmarks/")

LICENCE_300W = ("300-W annotations: research and education only, no commercial use (C. Sagonas et al., "
                "'300 Faces In-The-Wild Challenge: database and results', Image and Vision Computing 2016). "
                "The photos belong to their owners.")


@dataclass(frozen=True)
class Source:
    """One downloadable part: its files, what it holds, roughly how big, and under which licence."""

    key: str
    files: tuple[RemoteFile, ...]
    what: str
    approx_size: str
    licence: str
    human: bool = False  # a human-annotation study (goes to DEST/human/), not 300-W faces


def _ibug(name: str, page: str = PAGE_ANNOTATIONS) -> RemoteFile:
    return RemoteFile(name, IBUG_DOWNLOADS + name, SHA256[name], page)


SOURCES: dict[str, Source] = {s.key: s for s in (
    Source("afw", (_ibug("afw.zip"),), "AFW, 300-W training part: 337 faces (Zhu & Ramanan 2012)",
           "~0.3 GB", LICENCE_300W),
    Source("helen", (_ibug("helen.zip"),), "HELEN, 300-W training part: 2,000 train + 330 test faces (Le et al. 2012)",
           "~1 GB", LICENCE_300W),
    Source("lfpw", (_ibug("lfpw.zip"),), "LFPW, 300-W training part: 811 train + 224 test faces (Belhumeur et al. 2011)",
           "~0.5 GB", LICENCE_300W),
    Source("ibug", (_ibug("ibug.zip"),), "iBUG, 300-W challenging training part: 135 faces", "~0.05 GB", LICENCE_300W),
    Source("300w", tuple(_ibug(f"300w.zip.{i:03d}", PAGE_300W) for i in range(1, 5)),
           "300-W test set: 300 indoor + 300 outdoor faces, one zip in 4 parts", "~2 GB", LICENCE_300W),
    Source("jdc", (RemoteFile("facial-landmarks-master.zip",
                              "https://github.com/doc-E-brown/facial-landmarks/archive/refs/heads/master.zip",
                              SHA256["facial-landmarks-master.zip"], PAGE_JDC),),
           "Johnston & de Chazal crowd-sourcing study: 100 crowd workers + 12 experts, 4 images x 4 repeats",
           "~12 MB", "CC BY 4.0 (credit Johnston & de Chazal)", human=True),
    Source("lfpw_kbvt", (RemoteFile("kbvt_lfpw_v1_test.csv", PAGE_LFPW + "kbvt_lfpw_v1_test.csv",
                                    SHA256["kbvt_lfpw_v1_test.csv"], PAGE_LFPW),),
           "LFPW original test annotations: 3 MTurk workers + their average per image, 35 fiducials",
           "~1.3 MB", "research use (Belhumeur et al., CVPR 2011)", human=True),
)}
"""Everything the script can fetch, by key (the names accepted by --parts)."""

Log = Callable[[str], None]


def _table() -> str:
    lines = [f"  {'part':<10} {'size':>8}  what (licence)"]
    for s in SOURCES.values():
        licence = "300-W, research and education only, non-commercial" if s.licence == LICENCE_300W else s.licence
        lines.append(f"  {s.key:<10} {s.approx_size:>8}  {s.what}")
        lines.append(f"  {'':<10} {'':>8}    licence: {licence}")
    return "\n".join(lines)


EPILOG = f"""\
what is downloaded (sizes are rough estimates; the exact size is printed before each download):
{_table()}
  In all about 4 GB of downloads, 4 GB more for the unpacked originals, 0.3 GB of prepared faces.

licences:
{textwrap.fill(LICENCE_300W, 96, initial_indent="  ", subsequent_indent="  ")}
  By passing --accept-licence you confirm that you will use these data for research or education
  only, not commercially, and that you will cite their authors.

publishers:
  {PAGE_300W}
  {PAGE_ANNOTATIONS}
  The iBUG server may answer with its licence form instead of a file; the script then says so.
  Download that file by hand, put it in DEST/downloads/ and run the command again: it is checked
  against its SHA-256 and used.

checksums:
  Every download is checked against the table of SHA-256 sums in data_scripts/fetch_300w.py.
  Where a sum is not yet recorded, the computed one is printed: please record it there.

examples:
  python data_scripts/fetch_300w.py list --dest ~/facelandmarks-data
  python data_scripts/fetch_300w.py all --dest ~/facelandmarks-data --accept-licence
  python data_scripts/fetch_300w.py download --dest ~/facelandmarks-data --parts afw helen --accept-licence
  python data_scripts/fetch_300w.py prepare --dest ~/facelandmarks-data \\
      --names /path/to/shared/data/300w/manifest.csv   # only the faces of the project's reference copy
  export FACELANDMARKS_DATA=~/facelandmarks-data
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fetch_300w.py", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{list,download,prepare,all}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dest", type=Path, required=True, metavar="DEST",
                       help="the data folder to fill (created if needed); later: export FACELANDMARKS_DATA=DEST")
        p.add_argument("--parts", nargs="+", choices=list(SOURCES), default=list(SOURCES), metavar="PART",
                       help=f"only these parts (default: all of {', '.join(SOURCES)})")
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    def licence(p: argparse.ArgumentParser) -> None:
        p.add_argument("--accept-licence", "--accept-license", dest="accept_licence", action="store_true",
                       help="confirm research/education-only, non-commercial use (required to download)")

    def prep(p: argparse.ArgumentParser) -> None:
        p.add_argument("--names", type=Path, metavar="MANIFEST",
                       help="prepare only the faces listed (subset,name) in this manifest.csv")
        p.add_argument("--force", action="store_true",
                       help="redo every face (files whose bytes would not change are left untouched)")

    for name, text in (("list", "show parts, sizes, licences and what is already downloaded (no network)"),
                       ("download", "fetch the publishers' files into DEST/downloads/"),
                       ("prepare", "unpack and prepare DEST/300w/ and DEST/human/ (no network)"),
                       ("all", "download, then prepare")):
        p = sub.add_parser(name, help=text, description=text, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        common(p)
        if name in ("download", "all"):
            licence(p)
        if name in ("prepare", "all"):
            prep(p)
    return parser


def _downloads(dest: Path) -> Path:
    return dest / "downloads"


def list_parts(dest: Path, parts: Sequence[str], log: Log = print) -> int:
    """Print every part with its files and whether they are already downloaded."""
    for key in parts:
        s = SOURCES[key]
        log(f"{s.key}: {s.what} ({s.approx_size}; {s.licence})")
        for f in s.files:
            there = (_downloads(dest) / f.name).is_file()
            partial = (_downloads(dest) / (f.name + ".part")).is_file()
            state = "downloaded" if there else "partly downloaded" if partial else "not downloaded"
            log(f"    {f.name:<28} {state:<18} sha256 {f.sha256 or 'not yet recorded'}")
    return 0


def download(dest: Path, parts: Sequence[str], accept_licence: bool, progress: bool = True, log: Log = print) -> int:
    """Fetch the files of ``parts`` into ``DEST/downloads``; returns the exit status (0 = all there)."""
    if not accept_licence:
        log("Nothing was downloaded. These data come with licences:\n  " + LICENCE_300W
            + "\n  JDC study: CC BY 4.0.  LFPW annotations: research use.\n"
            "Run again with --accept-licence to confirm research/education-only, non-commercial use.")
        return 2
    failed = []
    for key in parts:
        for remote in SOURCES[key].files:
            try:
                fetch(remote, _downloads(dest) / remote.name, progress=progress, log=log)
            except DownloadError as err:
                failed.append(remote.name)
                log(f"error: {err}")
    if failed:
        log(f"{len(failed)} file(s) not downloaded: {', '.join(failed)}. Fix the problem above and run again; "
            "what is already downloaded is kept.")
        return 1
    return 0


def _verify_jdc(folder: Path) -> None:
    digest = tree_digest(folder)
    if digest != JDC_TREE_SHA256:
        raise ChecksumError(f"{folder}: the unpacked JDC files have digest {digest}, expected {JDC_TREE_SHA256}: "
                            f"they differ from the ones this project was built with (the repository {PAGE_JDC} "
                            "may have changed). Nothing was put in human/jdc.")


def prepare(dest: Path, parts: Sequence[str], names_file: Path | None = None, force: bool = False,
            progress: bool = True, log: Log = print) -> int:
    """Unpack what is downloaded and write ``DEST/300w`` and ``DEST/human``; returns the exit status."""
    try:
        import dataprep
    except ModuleNotFoundError as err:
        repo = Path(__file__).resolve().parent.parent
        log(f"error: the prepare step needs the facelandmarks package ({err}); install it with "
            f"`pip install -e {repo}` and run again.")
        return 1
    names = None
    if names_file is not None:
        try:
            names = {(r.subset, r.name) for r in dataprep.read_manifest(names_file)}
        except (dataprep.PrepareError, KeyError, ValueError) as err:
            log(f"error: {names_file}: not a manifest with columns {','.join(dataprep.MANIFEST_COLUMNS)} ({err})")
            return 1
        if not names:
            log(f"error: {names_file}: no such manifest, or it lists no face")
            return 1
    downloads = _downloads(dest)
    originals: dict[str, Path] = {}
    status, found = 0, 0
    for key in parts:
        s = SOURCES[key]
        files = [downloads / f.name for f in s.files]
        missing = [p.name for p in files if not p.is_file()]
        if missing:
            log(f"{key}: skipped, not downloaded ({', '.join(missing)} missing in {downloads})")
            continue
        found += 1
        try:
            if key == "jdc":
                extract_zip(files[0], dest / "human" / "jdc", strip_top=True, include=JDC_INCLUDE, verify=_verify_jdc,
                            progress=progress, log=log)
            elif key == "lfpw_kbvt":
                changed = write_if_changed(dest / "human" / "lfpw" / files[0].name, files[0].read_bytes())
                log(f"{dest / 'human' / 'lfpw' / files[0].name}: {'written' if changed else 'unchanged'}")
            else:
                originals[key] = extract_zip(files, dest / "originals" / key, progress=progress, log=log)
        except DownloadError as err:
            log(f"error: {err}")
            status = 1
    if originals:
        try:
            rows = dataprep.prepare_subsets(originals, dest, names=names, force=force, progress=progress, log=log)
        except (dataprep.PrepareError, ValueError, OSError) as err:
            log(f"error: {err}")
            return 1
        if names is not None:
            wanted = {n for n in names if _source_of_subset(n[0]) in originals}
            absent = sorted(wanted - {(r.subset, r.name) for r in rows})
            if absent:
                shown = ", ".join(f"{s}/{n}" for s, n in absent[:5])
                log(f"error: {len(absent)} face(s) listed in {names_file} are not in the originals (e.g. {shown})")
                status = 1
    if not found:
        log(f"nothing to prepare: none of {', '.join(parts)} is downloaded in {downloads}; run the download step first")
        return 1
    return status


def _source_of_subset(subset: str) -> str:
    head = subset.split("/")[0]
    return "300w" if head == "300w_test" else head


def main(argv: Sequence[str] | None = None, log: Log = print) -> int:
    """Command-line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    dest = args.dest.expanduser().resolve()
    progress = not args.quiet
    if args.command == "list":
        return list_parts(dest, args.parts, log)
    status = 0
    if args.command in ("download", "all"):
        status = download(dest, args.parts, args.accept_licence, progress, log)
        if status:
            return status
    if args.command in ("prepare", "all"):
        status = prepare(dest, args.parts, args.names, args.force, progress, log)
    if status == 0 and args.command != "download":
        log(f"done. Use it with:  export FACELANDMARKS_DATA={dest}")
    return status


if __name__ == "__main__":
    sys.exit(main(log=lambda message: print(message, file=sys.stderr if message.startswith("error") else sys.stdout)))
