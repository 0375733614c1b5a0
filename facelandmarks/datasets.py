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
from .schemes import IBUG68, LandmarkScheme

__all__ = [
    "ENV_VAR", "SPLITS", "IMAGE_SUFFIXES", "DataNotFoundError", "Face", "FaceSet",
    "data_root", "list_faces", "split_faces", "train_val_split", "load_split", "jitter_boxes",
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
