"""Landmark schemes as data: groups, flip permutation, normalisers, drawing edges.

All indices are 0-based. The literature numbers the iBUG 68 points from 1; point ``k`` of a
paper is index ``k - 1`` here. Adding a scheme means adding one :class:`LandmarkScheme` object
(and registering it in :data:`SCHEMES`); nothing else in the package branches on the number of
points. ``docs/training.md`` shows one for WFLW's 98 points, and how to train on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

__all__ = ["LandmarkScheme", "IBUG68", "IBUG68_INNER", "FIVE_POINT", "SCHEMES", "get_scheme",
           "IBUG68_TO_FIVE", "ibug68_to_five"]


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class LandmarkScheme:
    """Facts about one landmark markup.

    Attributes:
        name: short identifier, e.g. ``"ibug68"``.
        n_points: number of points N.
        groups: group name -> tuple of 0-based point indices (e.g. ``"jaw"``).
        flip_permutation: index ``i`` of a horizontally flipped face is point
            ``flip_permutation[i]`` of the original (left and right swap names); ``None`` when the
            markup has no known mirror pairing (training then switches flip augmentation off).
        normalisers: name -> (indices A, indices B); the normalising distance is between the mean
            of the points A and the mean of the points B of the ground truth.
            ``inter_ocular`` = outer eye corners, ``inter_pupil`` = eye centres. The first one
            listed is the scheme's main normaliser (:attr:`main_normaliser`), used by training's
            validation NME.
        edges: pairs of indices joined by a line when drawing.
        subsets: name -> indices of a point subset used in evaluation (``"all"``, ``"inner"`` ...).
        group_colors: group name -> matplotlib colour.
    """

    name: str
    n_points: int
    groups: Mapping[str, tuple[int, ...]]
    flip_permutation: tuple[int, ...] | None
    normalisers: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]]]
    edges: tuple[tuple[int, int], ...]
    subsets: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: _frozen({}))
    group_colors: Mapping[str, str] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        if self.flip_permutation is not None:
            perm = np.asarray(self.flip_permutation)
            if sorted(perm.tolist()) != list(range(self.n_points)):
                raise ValueError(f"scheme {self.name}: flip_permutation is not a permutation of 0..{self.n_points - 1}")
            if not np.array_equal(perm[perm], np.arange(self.n_points)):
                raise ValueError(f"scheme {self.name}: flip_permutation is not an involution")
        for norm, (a, b) in self.normalisers.items():
            if any(not 0 <= i < self.n_points for i in (*a, *b)):
                raise ValueError(f"scheme {self.name}: normaliser {norm!r} has an index out of range")
        for group, idx in self.groups.items():
            if any(not 0 <= i < self.n_points for i in idx):
                raise ValueError(f"scheme {self.name}: group {group!r} has an index out of range")

    @property
    def main_normaliser(self) -> str:
        """The first normaliser listed (``"bbox"`` when the scheme lists none): training's validation NME."""
        return next(iter(self.normalisers), "bbox")

    def point_group(self) -> np.ndarray:
        """Group name of every point, shape (N,), dtype object."""
        out = np.empty(self.n_points, dtype=object)
        for group, idx in self.groups.items():
            out[list(idx)] = group
        return out

    def subset(self, name: str | None) -> np.ndarray:
        """Indices of a named subset (``None`` or ``"all"``: every point) or of a group."""
        if name is None or name == "all":
            return np.arange(self.n_points)
        if name in self.subsets:
            return np.asarray(self.subsets[name])
        if name in self.groups:
            return np.asarray(self.groups[name])
        known = ["all", *self.subsets, *self.groups]
        raise KeyError(f"scheme {self.name} has no subset or group {name!r}; known: {known}")

    def point_colors(self) -> list[str]:
        """Matplotlib colour of every point, by its group."""
        groups = self.point_group()
        return [self.group_colors.get(g, "white") for g in groups]


def _chain(indices: range | list[int], closed: bool = False) -> list[tuple[int, int]]:
    idx = list(indices)
    pairs = list(zip(idx[:-1], idx[1:]))
    if closed:
        pairs.append((idx[-1], idx[0]))
    return pairs


def _ibug68_flip() -> tuple[int, ...]:
    pairs = (
        [(i, 16 - i) for i in range(17)]  # jaw
        + [(17 + i, 26 - i) for i in range(5)]  # brows
        + [(27, 27), (28, 28), (29, 29), (30, 30)]  # nose bridge
        + [(31, 35), (32, 34), (33, 33)]  # nostrils
        + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
        + [(48, 54), (49, 53), (50, 52), (51, 51), (55, 59), (56, 58), (57, 57)]  # outer mouth
        + [(60, 64), (61, 63), (62, 62), (65, 67), (66, 66)]  # inner mouth
    )
    perm = list(range(68))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


IBUG68 = LandmarkScheme(
    name="ibug68",
    n_points=68,
    groups=_frozen({
        "jaw": tuple(range(0, 17)),
        "right_brow": tuple(range(17, 22)),
        "left_brow": tuple(range(22, 27)),
        "nose": tuple(range(27, 36)),
        "right_eye": tuple(range(36, 42)),
        "left_eye": tuple(range(42, 48)),
        "mouth": tuple(range(48, 68)),
    }),
    flip_permutation=_ibug68_flip(),
    normalisers=_frozen({
        "inter_ocular": ((36,), (45,)),
        "inter_pupil": (tuple(range(36, 42)), tuple(range(42, 48))),
    }),
    edges=tuple(
        _chain(range(0, 17)) + _chain(range(17, 22)) + _chain(range(22, 27))
        + _chain(range(27, 31)) + _chain(range(31, 36)) + [(30, 33)]
        + _chain(range(36, 42), closed=True) + _chain(range(42, 48), closed=True)
        + _chain(range(48, 60), closed=True) + _chain(range(60, 68), closed=True)
    ),
    subsets=_frozen({"inner": tuple(range(17, 68))}),
    group_colors=_frozen({  # left and right differ, so a left/right mix-up shows in every figure
        "jaw": "#1f77b4", "right_brow": "#ff7f0e", "left_brow": "#bcbd22", "nose": "#2ca02c",
        "right_eye": "#d62728", "left_eye": "#17becf", "mouth": "#9467bd",
    }),
)
"""The iBUG / 300-W 68-point markup ("right" = the subject's right, image left)."""

_INNER = list(range(17, 68))
IBUG68_INNER = LandmarkScheme(
    name="ibug68_inner",
    n_points=51,
    groups=_frozen({g: tuple(i - 17 for i in idx) for g, idx in IBUG68.groups.items() if g != "jaw"}),
    flip_permutation=tuple(IBUG68.flip_permutation[i] - 17 for i in _INNER),
    normalisers=_frozen({k: (tuple(i - 17 for i in a), tuple(i - 17 for i in b)) for k, (a, b) in IBUG68.normalisers.items()}),
    edges=tuple((a - 17, b - 17) for a, b in IBUG68.edges if a >= 17 and b >= 17),
    group_colors=IBUG68.group_colors,
)
"""The 51 inner points of iBUG 68 (1-based 18-68), as a scheme of its own."""

FIVE_POINT = LandmarkScheme(
    name="five_point",
    n_points=5,
    groups=_frozen({"eyes": (0, 1), "nose": (2,), "mouth": (3, 4)}),
    flip_permutation=(1, 0, 2, 4, 3),
    normalisers=_frozen({"inter_pupil": ((0,), (1,))}),
    edges=((0, 1), (3, 4)),
    group_colors=_frozen({"eyes": "#d62728", "nose": "#2ca02c", "mouth": "#9467bd"}),
)
"""Five points: right eye centre, left eye centre, nose tip, right and left mouth corners."""

IBUG68_TO_FIVE: tuple[tuple[int, ...], ...] = (tuple(range(36, 42)), tuple(range(42, 48)), (30,), (48,), (54,))
"""Each :data:`FIVE_POINT` point as the mean of these iBUG-68 points (0-based): eye centres = mean of
each eye's six points, nose tip = 31, mouth corners = 49 and 55 (1-based)."""


def ibug68_to_five(points: np.ndarray) -> np.ndarray:
    """Five-point shapes ``(..., 5, 2)`` from iBUG-68 shapes ``(..., 68, 2)`` by :data:`IBUG68_TO_FIVE`.

    >>> ibug68_to_five(np.arange(136.0).reshape(68, 2))[2]  # the nose tip is point 31 (1-based)
    array([60., 61.])
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[-2:] != (68, 2):
        raise ValueError(f"ibug68_to_five needs (..., 68, 2) points, got {pts.shape}")
    return np.stack([pts[..., list(idx), :].mean(axis=-2) for idx in IBUG68_TO_FIVE], axis=-2)


SCHEMES: Mapping[str, LandmarkScheme] = _frozen({s.name: s for s in (IBUG68, IBUG68_INNER, FIVE_POINT)})


def get_scheme(name_or_n: str | int) -> LandmarkScheme:
    """Look a scheme up by name (``"ibug68"``) or by its number of points (68, 51, 5)."""
    if isinstance(name_or_n, str):
        if name_or_n not in SCHEMES:
            raise KeyError(f"unknown landmark scheme {name_or_n!r}; known: {sorted(SCHEMES)}")
        return SCHEMES[name_or_n]
    matches = [s for s in SCHEMES.values() if s.n_points == name_or_n]
    if not matches:
        raise KeyError(f"no landmark scheme with {name_or_n} points; known: {sorted(SCHEMES)}")
    return matches[0]
