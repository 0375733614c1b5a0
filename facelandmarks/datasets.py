"""300-W style folders of faces (image + ``.pts``), the data root, splits, and training boxes.

The data root is the folder that holds ``300w/`` and ``human/`` (the layout that
``data_scripts/`` produce). It comes from an explicit argument or the environment variable
``FACELANDMARKS_DATA``; library code never guesses a relative path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .io import read_image, read_pts
from .schemes import IBUG68, SCHEMES, LandmarkScheme

__all__ = [
    "ENV_VAR", "SPLITS", "IMAGE_SUFFIXES", "DataNotFoundError", "Face", "FaceSet",
    "data_root", "list_faces", "faces_from", "infer_scheme", "split_faces", "train_val_split", "load_split",
    "jitter_boxes",
]

ENV_VAR = "FACELANDMARKS_DATA"
SPLITS = {
    "train": ("300w/afw", "300w/helen/trainset", "300w/lfpw/trainset"),
    "helen": ("300w/helen/testset",),
    "lfpw": ("300w/lfpw/testset",),
    "common": ("300w/lfpw/testset", "300w/helen/testset"),
    "test": ("300w/lfpw/testset", "300w/helen/testset"),
}
"""Named splits: folders under the data root.

``train`` = AFW + HELEN train + LFPW train (2,012 faces in the shared data; 300-W's training set
without iBUG). The test splits are ``helen`` (HELEN test, 250 faces here), ``lfpw`` (LFPW test, 150
here) and ``common`` = both (400 faces here; 300-W's full "common subset" has 554, Sagonas et al.,
Image and Vision Computing 2016). ``test`` is another name for ``common``: every test face we have.
Validation faces are always drawn from ``train`` (:func:`train_val_split`), never from a test split.
"""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff")

_HOW_TO_GET = (
    "Point {var} (or the `root` argument) at a folder holding 300w/ and human/. On this project's "
    "machines that is shared/data; elsewhere run `python data_scripts/fetch_300w.py --help` to "
    "download and prepare the official data."
)


class DataNotFoundError(FileNotFoundError):
    """The data folder is missing or incomplete; the message says how to get it."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root from ``root`` or ``$FACELANDMARKS_DATA``, checking it exists."""
    source = "argument root"
    if root is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            raise DataNotFoundError(f"no data folder given and ${ENV_VAR} is not set. " + _HOW_TO_GET.format(var=ENV_VAR))
        root, source = env, f"${ENV_VAR}"
    path = Path(root).expanduser()
    if not path.is_dir():
        problem = "is not a folder" if path.exists() else "does not exist"
        raise DataNotFoundError(f"data folder {path} (from {source}) {problem}. " + _HOW_TO_GET.format(var=ENV_VAR))
    return path


@dataclass(frozen=True)
class Face:
    """One annotated face on disk."""

    name: str
    image_path: Path
    pts_path: Path
    subset: str = ""


def list_faces(folder: str | os.PathLike, subset: str = "") -> list[Face]:
    """Every image in ``folder`` with a ``.pts`` of the same stem beside it, sorted by name.

    Raises:
        DataNotFoundError: the folder does not exist or holds no image + ``.pts`` pair.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"face folder {folder} does not exist. " + _HOW_TO_GET.format(var=ENV_VAR))
    faces = [
        Face(p.stem, p, p.with_suffix(".pts"), subset)
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES and p.with_suffix(".pts").is_file()
    ]
    if not faces:
        raise DataNotFoundError(f"face folder {folder} holds no image with a .pts file beside it")
    return faces


def faces_from(sources: list[str | os.PathLike]) -> list[Face]:
    """The faces of your own data: every source is a folder of image + ``.pts`` pairs (as in
    :func:`list_faces`) or a list file (text, one image path per line, relative to the list file's
    folder unless absolute; blank lines and ``#`` comments skipped; each image's ``.pts`` of the same
    stem beside it).

    A face's ``subset`` is its source (the folder, or the list file's name), so names stay unique
    across sources in logs and split files.

    Raises:
        DataNotFoundError: a source does not exist, is empty, or lists an image without its ``.pts``.
    """
    faces: list[Face] = []
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            faces += list_faces(path, subset=str(source))
        elif path.is_file():
            listed = []
            for number, line in enumerate(path.read_text().splitlines(), 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                image = Path(line) if Path(line).is_absolute() else path.parent / line
                if not image.is_file() or not image.with_suffix(".pts").is_file():
                    raise DataNotFoundError(f"list file {path}, line {number}: {image} or its .pts "
                                            f"({image.with_suffix('.pts').name}) does not exist")
                listed.append(Face(image.stem, image, image.with_suffix(".pts"), str(source)))
            if not listed:
                raise DataNotFoundError(f"list file {path} names no image")
            faces += listed
        else:
            raise DataNotFoundError(f"training source {path} is neither a folder of image + .pts pairs nor a list file")
    return faces


def infer_scheme(faces: list[Face], name: str | None = None) -> tuple[LandmarkScheme, str]:
    """The landmark scheme of ``faces``: the one named, else the registered one with as many points
    as the first face's ``.pts``. Returns ``(scheme, a sentence saying which and why)``.

    Raises:
        KeyError: an unknown name, or no registered scheme with that number of points (the message
            lists the known ones and says how to add one).
    """
    if not faces:
        raise DataNotFoundError("no faces to infer a landmark scheme from")
    if name is not None:
        if name not in SCHEMES:
            raise KeyError(f"unknown landmark scheme {name!r}; known: {sorted(SCHEMES)}")
        return SCHEMES[name], f"landmark scheme {name} ({SCHEMES[name].n_points} points), as named"
    n = len(read_pts(faces[0].pts_path))
    matches = [s for s in SCHEMES.values() if s.n_points == n]
    if not matches:
        known = ", ".join(f"{k} ({s.n_points})" for k, s in SCHEMES.items())
        raise KeyError(f"{faces[0].pts_path} holds {n} points and no known scheme has {n}; known: {known}. "
                       "Add a LandmarkScheme for it (docs/training.md, 'Another point scheme')")
    return matches[0], (f"landmark scheme {matches[0].name} inferred from the {n} points of {faces[0].pts_path.name} "
                        "(name another with --scheme)")


def split_faces(split: str, root: str | os.PathLike | None = None) -> list[Face]:
    """The faces of a named split (see :data:`SPLITS`)."""
    if split not in SPLITS:
        raise KeyError(f"unknown split {split!r}; known: {sorted(SPLITS)}")
    base = data_root(root)
    faces: list[Face] = []
    for sub in SPLITS[split]:
        faces += list_faces(base / sub, subset=sub.split("/", 1)[1])
    return faces


def train_val_split(faces: list[Face], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[Face], list[Face]]:
    """Split training faces into (train, validation) by a seeded shuffle; never touches test faces."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(faces))
    n_val = max(1, round(val_fraction * len(faces)))
    val = sorted((faces[i] for i in order[:n_val]), key=lambda f: (f.subset, f.name))
    train = sorted((faces[i] for i in order[n_val:]), key=lambda f: (f.subset, f.name))
    return train, val


@dataclass
class FaceSet:
    """Faces loaded in memory: images (list of RGB uint8 ``(H, W, 3)``) and points ``(B, N, 2)``."""

    names: list[str]
    images: list[np.ndarray]
    points: np.ndarray
    scheme: LandmarkScheme = IBUG68

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def load(cls, faces: list[Face], scheme: LandmarkScheme = IBUG68, progress: bool = True) -> "FaceSet":
        """Read the images and ``.pts`` of ``faces``; checks every file holds ``scheme.n_points`` points."""
        images, points = [], []
        for face in tqdm(faces, desc="loading faces", disable=not progress, leave=False):
            images.append(read_image(face.image_path))
            points.append(read_pts(face.pts_path, n_points=scheme.n_points))
        return cls([f.name for f in faces], images, np.stack(points), scheme)

    def subset(self, index: np.ndarray | list[int]) -> "FaceSet":
        """A FaceSet of the faces at ``index``."""
        index = list(np.asarray(index).reshape(-1))
        return FaceSet([self.names[i] for i in index], [self.images[i] for i in index], self.points[index], self.scheme)


def load_split(split: str, root: str | os.PathLike | None = None, limit: int | None = None,
               progress: bool = True) -> FaceSet:
    """Load a named split into memory (``limit``: only the first faces, for quick runs)."""
    faces = split_faces(split, root)
    return FaceSet.load(faces[:limit] if limit else faces, progress=progress)


def jitter_boxes(boxes: np.ndarray, rng: np.random.Generator, shift: float = 0.05, scale: float = 0.05) -> np.ndarray:
    """Randomly move and resize boxes ``(B, 4)``, as a face detector would.

    The centre moves by ``N(0, shift)`` times the box size on each axis; the size is multiplied by
    ``exp(N(0, scale))``, both axes alike.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    centre = centre + rng.normal(0.0, shift, size=centre.shape) * size
    size = size * np.exp(rng.normal(0.0, scale, size=(len(boxes), 1)))
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)
