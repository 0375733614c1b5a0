"""Model files: writing a trained level to disk and rebuilding it from the file alone.

A model file is a ``torch.save`` of a plain dict: ``kind`` (``"level1"`` or ``"level2"``),
``config`` (``dataclasses.asdict`` of the level's config), ``model`` (its ``state_dict``) and any
extra plain data the writer adds (training config, log, the files it started from).
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from .level1 import Level1Config, Level1Net
from .level2 import Level2Config, Level2Net

__all__ = ["CheckpointMismatchError", "save_model", "load_model", "config_from_dict", "atomic_save"]


class CheckpointMismatchError(ValueError):
    """A checkpoint saved with another configuration than the one asked for."""


def atomic_save(obj: dict, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to a temporary file beside ``path``, then rename: never a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def save_model(path: str | os.PathLike, kind: str, model: nn.Module, config: object, extra: dict | None = None) -> Path:
    """Save final weights with ``asdict(config)`` so that the file alone rebuilds the model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save({"kind": kind, "config": asdict(config), "model": model.state_dict(), **(extra or {})}, path)


def config_from_dict(cls: type, data: dict, path: str | os.PathLike) -> object:
    """Rebuild a config dataclass ``cls`` from its ``asdict`` form read from ``path`` (lists become
    tuples again). Raises :class:`CheckpointMismatchError` naming ``path`` when the fields do not fit."""
    fields = {}
    for k, v in data.items():
        fields[k] = tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
    try:
        return cls(**fields)
    except TypeError as err:
        raise CheckpointMismatchError(f"{path}: its config does not fit this version's {cls.__name__} ({err})") from None


def load_model(path: str | os.PathLike, kind: str | None = None) -> tuple[nn.Module, dict]:
    """Rebuild a model saved by :func:`save_model`; returns (model in eval mode, the saved dict).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a facelandmarks model file (unreadable, truncated, another format).
        CheckpointMismatchError: another ``kind`` than asked for, or a config/weights that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # a truncated, empty or foreign file
        raise ValueError(f"{path}: not a facelandmarks model file (unreadable, truncated or another format)") from None
    if not isinstance(saved, dict) or "kind" not in saved or "config" not in saved:
        raise ValueError(f"{path}: not a facelandmarks model file (no 'kind'/'config')")
    if kind is not None and saved["kind"] != kind:
        raise CheckpointMismatchError(f"{path}: holds a {saved['kind']} model, expected {kind}")
    if saved["kind"] == "level1":
        model = Level1Net(config_from_dict(Level1Config, saved["config"], path))
    elif saved["kind"] == "level2":
        model = Level2Net(config_from_dict(Level2Config, saved["config"], path))
    else:
        raise ValueError(f"{path}: unknown model kind {saved['kind']!r}")
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:300]
        raise CheckpointMismatchError(f"{path}: weights do not fit its config ({detail})") from None
    return model.eval(), saved
