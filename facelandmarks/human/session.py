""""You vs the CNN": the learner's own annotation session (pure logic, no widgets) and pooling a
class's saved sessions into one study. The ipywidgets front end is :mod:`facelandmarks.widgets.annotator`."""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from ..io import read_image
from .analysis import AnnotationErrors, ModelErrors, annotation_errors, percentile_of
from .figures import plot_error_distributions, plot_point_errors
from .formats import (JDC_IBUG_POINTS, JDC_IMAGES, JDC_NORMALISER, JDC_POINT_IDS, JDC_POINT_NAMES, ClickTable,
                      jdc_image_path, jdc_references, load_jdc)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["SessionFormatError", "SessionScore", "AnnotationSession", "pool_sessions", "class_study_figures"]


class SessionFormatError(ValueError):
    """A saved annotation session that cannot be read (the message names the file)."""



@dataclass
class SessionScore:
    """The learner's error next to the crowd's, the experts' and the model's, per completed image.

    ``rows``: one dict per image with ``image``, ``learner`` (NME), ``crowd_median``,
    ``expert_median``, ``model_median`` (NaN without a model), ``crowd_percentile`` and
    ``expert_percentile`` (percent of annotations better than the learner). ``point_errors``:
    image -> ``(P,)`` the learner's per-point errors (normaliser: ``inter_pupil``).
    """

    rows: list[dict]
    point_ids: tuple[str, ...]
    point_errors: dict[str, np.ndarray] = field(default_factory=dict)
    norm: str = JDC_NORMALISER

    def text(self) -> str:
        """A short report, one line per image."""
        if not self.rows:
            return "No image is complete yet: click every point of at least one image to get a score."
        lines = [f"Errors normalised by the inter-pupil distance, over the {len(self.point_ids)} iBUG points:"]
        for r in self.rows:
            model = "" if math.isnan(r["model_median"]) else f", model {r['model_median']:.3f}"
            lines.append(f"- {r['image']}: you {r['learner']:.3f} (better than {100 - r['crowd_percentile']:.0f}% of the crowd, "
                         f"{100 - r['expert_percentile']:.0f}% of the experts); crowd median {r['crowd_median']:.3f}, "
                         f"expert median {r['expert_median']:.3f}{model}")
        return "\n".join(lines)


class AnnotationSession:
    """Annotate the J&dC faces yourself, then compare with the crowd, the experts and the CNN.

    The pure state machine behind the "You vs the CNN" widget (no widgets, no browser), so it can be
    tested and driven from code. Coordinates are ours: (x, y), 0-based pixel centres, which is what
    ``matplotlib``'s ``imshow`` shows on its axes.

    API::

        s = AnnotationSession(annotator="ada")       # J&dC images and points by default
        s.images, s.point_ids                         # what will be asked, in order
        s.current                                     # (image, point_id) to click now, None when done
        s.current_image, s.current_point, s.current_point_name
        s.image(name)                                 # the pixels (RGB uint8) to show, from the data root
        s.click(x, y)                                 # record the current point, advance; returns s.current
        s.undo()                                      # forget the last click, go back to it; False if none
        s.done, s.n_done, s.n_total                   # progress
        s.clicks                                      # (I, P, 2) float, NaN where not clicked yet
        s.clicks_for(image)                           # (P, 2) for one image
        s.score(errors, model)                        # SessionScore: you vs crowd / experts / model
        s.save(path); AnnotationSession.load(path)    # JSON, written atomically
        s.save()                                      # to s.default_filename(): annotator, time, session id
        s.session_id                                  # a random id (uuid4 hex), kept in the file
        s.to_table(references)                        # the clicks as a ClickTable (group "learner")

    Order: image by image, and within an image the points in ``point_ids`` order (which the
    widget shows with :data:`JDC_POINT_NAMES`). Scores use only completed images.

    A class collects sessions as files: every session has its own ``session_id``, its default file
    name holds the annotator, the start time and that id (so a class's files never collide), and
    :func:`pool_sessions` refuses the same session twice (a copied file is not another learner).
    """

    FORMAT = "facelandmarks.human.session/1"

    def __init__(self, annotator: str = "learner", images: Sequence[str] = JDC_IMAGES,
                 point_ids: Sequence[str] = JDC_POINT_IDS, root: str | os.PathLike | None = None) -> None:
        if not annotator or not isinstance(annotator, str):
            raise ValueError("annotator must be a non-empty name")
        self.annotator = annotator
        self.images = tuple(images)
        self.point_ids = tuple(point_ids)
        if not self.images or not self.point_ids:
            raise ValueError("a session needs at least one image and one point")
        unknown = [p for p in self.point_ids if p not in JDC_POINT_IDS]
        if unknown:
            raise ValueError(f"unknown point ids {unknown}; known: {JDC_POINT_IDS}")
        if len(set(self.images)) != len(self.images) or len(set(self.point_ids)) != len(self.point_ids):
            raise ValueError("images and point ids must not repeat")
        self.root = root
        self._clicks = np.full((len(self.images), len(self.point_ids), 2), np.nan)
        self._n = 0  # clicks made = position of the cursor in image-major order
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.session_id = uuid.uuid4().hex  # tells sessions apart, whatever their files are called

    def default_filename(self) -> str:
        """``<annotator>_<YYYYmmdd-HHMMSS>_<first 8 hex digits of session_id>.json``, unique per session.

        Example:
            >>> s = AnnotationSession("Ada L.")
            >>> s.default_filename().startswith("Ada-L_") and s.default_filename().endswith(s.session_id[:8] + ".json")
            True
        """
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", self.annotator).strip("-_") or "annotator"
        stamp = re.sub(r"[^0-9T]", "", self.created).replace("T", "-")
        return f"{name}_{stamp}_{self.session_id[:8] or 'no-id'}.json"  # no id: a file saved before ids existed

    # --- state -------------------------------------------------------------------------------
    @property
    def n_total(self) -> int:
        return len(self.images) * len(self.point_ids)

    @property
    def n_done(self) -> int:
        return self._n

    @property
    def done(self) -> bool:
        return self._n >= self.n_total

    @property
    def current(self) -> tuple[str, str] | None:
        """``(image, point_id)`` to click now; ``None`` when every point has been clicked."""
        if self.done:
            return None
        i, p = divmod(self._n, len(self.point_ids))
        return self.images[i], self.point_ids[p]

    @property
    def current_image(self) -> str | None:
        return None if self.current is None else self.current[0]

    @property
    def current_point(self) -> str | None:
        return None if self.current is None else self.current[1]

    @property
    def current_point_name(self) -> str | None:
        return None if self.current is None else JDC_POINT_NAMES[self.current[1]]

    @property
    def clicks(self) -> np.ndarray:
        """``(I, P, 2)`` copy of the clicks, NaN where not clicked yet."""
        return self._clicks.copy()

    def clicks_for(self, image: str) -> np.ndarray:
        """``(P, 2)`` clicks of one image (NaN where not clicked yet)."""
        return self._clicks[self.images.index(image)].copy()

    def completed_images(self) -> list[str]:
        """Images whose every point has been clicked."""
        return [im for k, im in enumerate(self.images) if not np.isnan(self._clicks[k]).any()]

    def image(self, name: str | None = None) -> np.ndarray:
        """Pixels of ``name`` (default: the current image) read from the data root."""
        name = name or self.current_image or self.images[-1]
        return read_image(jdc_image_path(name, self.root))

    # --- actions -----------------------------------------------------------------------------
    def click(self, x: float, y: float) -> tuple[str, str] | None:
        """Record ``(x, y)`` for the current point and move to the next; returns the new :attr:`current`.

        Raises:
            RuntimeError: the session is done.
            ValueError: ``x`` or ``y`` is not a finite number.
        """
        if self.done:
            raise RuntimeError("the session is done: every point has been clicked (undo to change one)")
        try:
            xy = np.array([float(x), float(y)])
        except (TypeError, ValueError):
            raise ValueError(f"click needs two numbers, got ({x!r}, {y!r})") from None
        if not np.isfinite(xy).all():
            raise ValueError(f"click needs finite numbers, got ({x!r}, {y!r})")
        i, p = divmod(self._n, len(self.point_ids))
        self._clicks[i, p] = xy
        self._n += 1
        return self.current

    def undo(self) -> bool:
        """Forget the last click and make its point current again; False when there is none."""
        if self._n == 0:
            return False
        self._n -= 1
        i, p = divmod(self._n, len(self.point_ids))
        self._clicks[i, p] = np.nan
        return True

    # --- results -----------------------------------------------------------------------------
    def to_table(self, references: Mapping[str, np.ndarray] | None = None) -> ClickTable:
        """The clicks of the completed images as a :class:`ClickTable` (group ``"learner"``, repeat 0).

        ``references``: image -> ``(22, 2)`` J&dC references (default: loaded from the data root).
        """
        if references is None:
            references = jdc_references(load_jdc(self.root).select(group="expert"))
        rows = []
        for im in self.completed_images():
            k = self.images.index(im)
            for p, pid in enumerate(self.point_ids):
                rows.append({"annotator": self.annotator, "group": "learner", "image": im, "repeat": 0, "point_id": pid,
                             "reference": references[im][JDC_POINT_IDS.index(pid)], "click": self._clicks[k, p],
                             "valid": True, "dist_limit": math.nan, "source": "session"})
        if not rows:
            return ClickTable.from_rows([])
        return ClickTable.from_rows(rows)

    def score(self, errors: AnnotationErrors, model: ModelErrors | None = None,
              references: Mapping[str, np.ndarray] | None = None,
              points: Sequence[str] = JDC_IBUG_POINTS) -> SessionScore:
        """Score the completed images with the same metric as :func:`annotation_errors`.

        Args:
            errors: the study's annotation errors (crowd and experts) over the same ``points``.
            model: the cascade's errors on the same images (optional).
            references: J&dC references (default: loaded from the data root).
        """
        points = tuple(p for p in points if p in self.point_ids)
        if tuple(errors.point_ids) != points:
            raise ValueError(f"errors are over {errors.point_ids}, the session scores {points}")
        if not self.completed_images():
            return SessionScore([], points)
        refs = references if references is not None else jdc_references(load_jdc(self.root).select(group="expert"))
        mine = annotation_errors(self.to_table(refs), points, refs)
        rows, per_point = [], {}
        for k, im in enumerate(mine.image.tolist()):
            crowd, expert = errors.of("crowd", im).nme, errors.of("expert", im).nme
            model_med = math.nan
            if model is not None and im in model.images:
                model_med = float(np.median(model.nme[model.images.index(im)]))
            rows.append({"image": im, "learner": float(mine.nme[k]),
                         "crowd_median": float(np.median(crowd)) if len(crowd) else math.nan,
                         "expert_median": float(np.median(expert)) if len(expert) else math.nan,
                         "model_median": model_med,
                         "crowd_percentile": percentile_of(mine.nme[k], crowd) if len(crowd) else math.nan,
                         "expert_percentile": percentile_of(mine.nme[k], expert) if len(expert) else math.nan})
            per_point[im] = mine.point_errors[k]
        return SessionScore(rows, points, per_point)

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the session as JSON (to a temporary file first, then renamed: never half-written).

        Args:
            path: the file; an existing folder or ``None`` (the current folder) saves there under
                :meth:`default_filename`.

        Returns:
            The file written.

        Raises:
            FileExistsError: ``path`` holds another session: another annotator's, or another session
                id (two learners who kept the same name and chose the same file in a shared folder).
                Saving the same session again overwrites its file; the message names both.
        """
        path = Path(path) if path is not None else Path(self.default_filename())
        if path.is_dir():
            path = path / self.default_filename()
        if path.is_file():
            try:
                other = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                other = None
            if isinstance(other, dict) and other.get("format") == self.FORMAT and (
                    other.get("annotator") != self.annotator
                    or other.get("session_id") and other.get("session_id") != self.session_id):
                raise FileExistsError(f"{path} holds another session (annotator {other.get('annotator')!r}, id "
                                      f"{other.get('session_id') or 'none'}), not this one ({self.annotator!r}, id "
                                      f"{self.session_id or 'none'}): save under another name (session.save() "
                                      f"picks {self.default_filename()!r})")
        doc = {
            "format": self.FORMAT, "annotator": self.annotator, "session_id": self.session_id, "created": self.created,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S"), "coordinates": "x, y; 0-based pixel centres",
            "images": list(self.images), "point_ids": list(self.point_ids), "n_done": self._n,
            "clicks": {im: [None if np.isnan(c).any() else [float(c[0]), float(c[1])] for c in self._clicks[k]]
                       for k, im in enumerate(self.images)},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, root: str | os.PathLike | None = None) -> "AnnotationSession":
        """Read a session written by :meth:`save`.

        Raises:
            SessionFormatError: not JSON, another format, missing keys, or clicks that are not a
                prefix of the session order (the message names the file).
        """
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise SessionFormatError(f"{path}: not a JSON session file ({err})") from None
        if not isinstance(doc, dict) or doc.get("format") != cls.FORMAT:
            raise SessionFormatError(f"{path}: not a {cls.FORMAT} file (format {doc.get('format') if isinstance(doc, dict) else None!r})")
        for key in ("annotator", "images", "point_ids", "clicks"):
            if key not in doc:
                raise SessionFormatError(f"{path}: missing key {key!r}")
        try:
            session = cls(doc["annotator"], doc["images"], doc["point_ids"], root)
        except (ValueError, TypeError) as err:
            raise SessionFormatError(f"{path}: {err}") from None
        session.created = str(doc.get("created", session.created))
        # files saved before session ids existed get none: pooling then tells them apart by their clicks
        session.session_id = str(doc["session_id"]) if doc.get("session_id") else ""
        flat = []
        for im in session.images:
            clicks = doc["clicks"].get(im) if isinstance(doc["clicks"], dict) else None
            if not isinstance(clicks, list) or len(clicks) != len(session.point_ids):
                raise SessionFormatError(f"{path}: clicks of {im} must be a list of {len(session.point_ids)} entries")
            for c in clicks:
                if c is None:
                    flat.append(None)
                elif (isinstance(c, list) and len(c) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)
                      and all(math.isfinite(v) for v in c)):
                    flat.append((float(c[0]), float(c[1])))
                else:
                    raise SessionFormatError(f"{path}: click {c!r} of {im} is not null or [x, y]")
        n = sum(c is not None for c in flat)
        if any(c is None for c in flat[:n]):
            raise SessionFormatError(f"{path}: the clicks are not a prefix of the session order (a gap before the last click)")
        for xy in flat[:n]:
            session.click(*xy)
        return session


def pool_sessions(paths: Iterable[str | os.PathLike], references: Mapping[str, np.ndarray] | None = None,
                  root: str | os.PathLike | None = None) -> ClickTable:
    """Pool several learners' saved sessions into one :class:`ClickTable` (group ``"learner"``).

    Only completed images count; each session counts as one learner. Sessions of the same annotator
    name are told apart by their session id (or, for files saved without one, their file name).
    Concatenate with :func:`load_jdc`'s table and every analysis and figure applies unchanged.

    Raises:
        ValueError: no file; no completed image; or the same session twice: two files with the same
            ``session_id``, or with identical clicks where one file has no id (saved before ids
            existed): a copied or re-sent file would count one learner twice. The message names both.
        SessionFormatError: a file that is not a session.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("pool_sessions needs at least one session file")
    if references is None:
        references = jdc_references(load_jdc(root).select(group="expert"))
    sessions = [AnnotationSession.load(p, root) for p in paths]
    by_id: dict[str, Path] = {}
    by_clicks: dict[bytes, tuple[Path, str]] = {}
    for p, s in zip(paths, sessions):
        if s.session_id and s.session_id in by_id:
            raise ValueError(f"{by_id[s.session_id]} and {p} are the same session (id {s.session_id}): a copied file "
                             "would count one learner twice; pool each session once")
        key = np.nan_to_num(s.clicks, nan=-1.0).tobytes()
        if s.n_done and key in by_clicks and not (s.session_id and by_clicks[key][1]):
            raise ValueError(f"{by_clicks[key][0]} and {p} hold identical clicks, and one has no session id: the "
                             "same session twice (a copied file would count one learner twice); pool each once")
        by_id[s.session_id], by_clicks[key] = p, (p, s.session_id)
    names = [s.annotator for s in sessions]
    tables = []
    for p, s in zip(paths, sessions):
        if names.count(s.annotator) > 1:
            s.annotator = f"{s.annotator} ({s.session_id[:8] or p.stem})"
        t = s.to_table(references)
        if len(t):
            tables.append(ClickTable(**{**{c: getattr(t, c) for c in ClickTable.COLUMNS},
                                        "source": np.full(len(t), p.name)}))
    if not tables:
        raise ValueError(f"none of the {len(paths)} sessions has a completed image")
    return ClickTable.concat(tables)


def class_study_figures(learners: ClickTable, study: ClickTable, model: ModelErrors | None = None,
                        points: Sequence[str] = JDC_IBUG_POINTS) -> list["Figure"]:
    """The study's figures with the class (``learners``, from :func:`pool_sessions`) as a third group:
    error distributions per image and per-point errors (same metric, same references).

    The per-point figure compares like with like: when the class took the study on some of the images
    only (one image in a short lab), the crowd, the experts and ``model`` are taken on those images too.
    """
    refs = jdc_references(study)
    errors = annotation_errors(ClickTable.concat([study, learners]), points, refs)
    taken = set(learners.image.tolist())
    images = [im for im in JDC_IMAGES if im in taken]
    if len(images) == len({im for im in study.image.tolist()}):
        return [plot_error_distributions(errors, model), plot_point_errors(errors, model)]
    same = annotation_errors(ClickTable.concat([study.select(image=im) for im in images] + [learners]), points, refs)
    fig = plot_point_errors(same, _model_on(model, images) if model is not None else None)
    fig.axes[0].set_title(f"Which points are hard? Per-point error on {', '.join(images)} (the images the class "
                          "annotated), humans vs the model", fontsize=10)
    return [plot_error_distributions(errors, model), fig]


def _model_on(model: ModelErrors, images: Sequence[str]) -> ModelErrors:
    """``model`` restricted to ``images`` (those it has), in that order."""
    keep = [model.images.index(im) for im in images if im in model.images]
    return replace(model, images=[model.images[i] for i in keep], boxes=model.boxes[keep],
                   box_source=[model.box_source[i] for i in keep], jittered=model.jittered[keep],
                   points=model.points[keep], detector_points=model.detector_points[keep],
                   point_errors=model.point_errors[keep], nme=model.nme[keep],
                   nme_detector=model.nme_detector[keep], beyond_limit=model.beyond_limit[keep])
