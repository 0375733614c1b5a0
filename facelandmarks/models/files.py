"""Model files: writing a trained level to disk and rebuilding it from the file alone, safely.

A model file is a ``torch.save`` of a plain dict: ``kind`` (``"level1"`` or ``"level2"``),
``config`` (``dataclasses.asdict`` of the level's config), ``model`` (its ``state_dict``) and any
extra plain data the writer adds (training config, log, the files it started from). Training
checkpoints and int8 trunks are dicts of the same sort.

Model files are passed around (a class shares its weights, a user tries someone's ``level1.pt``),
so reading one must never run code from it. Every file the package writes holds only tensors and
plain data (dicts, lists, tuples, strings, numbers, booleans, None): :func:`atomic_save` refuses
anything else. Every file the package reads goes through :func:`read_model_file`, which loads with
``torch.load(weights_only=True)``: a pickle that would build any other object (and so could run
code) is refused with an error naming the file.
"""
from __future__ import annotations

import collections
import hashlib
import os
import pickle
import re
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from .level1 import Level1Config, Level1Net
from .level2 import Level2Config, Level2Net

__all__ = ["CheckpointMismatchError", "NOT_A_MODEL_FILE", "check_plain", "atomic_save", "read_model_file", "save_model",
           "load_model", "config_from_dict", "file_sha256", "tensor_sha256", "tensor_digests"]

NOT_A_MODEL_FILE = "not a facelandmarks model file"
"""What every refusal of a file by :func:`read_model_file` says, after the file's name."""

_PLAIN = (str, int, float, bool, type(None))


class CheckpointMismatchError(ValueError):
    """A checkpoint saved with another configuration than the one asked for."""


def check_plain(obj: object, where: str = "the saved object") -> None:
    """Raise ``TypeError`` naming the place (``where/key/...``) of the first value of ``obj`` that is not
    a tensor or plain data: dicts with string or number keys, lists, tuples, ``str``, ``int``,
    ``float``, ``bool``, ``None``. Subclasses count as foreign (a ``torch.__version__`` is a
    ``TorchVersion``, not a ``str``: write ``str(torch.__version__)``)."""
    if isinstance(obj, torch.Tensor):
        return
    if type(obj) in _PLAIN:
        return
    if type(obj) in (dict, collections.OrderedDict):  # a state_dict is an OrderedDict
        for key, value in obj.items():
            if type(key) not in _PLAIN:
                raise TypeError(f"{where}: key {key!r} is a {type(key).__name__}, not plain data")
            check_plain(value, f"{where}/{key}")
        return
    if type(obj) in (list, tuple):
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, not a tensor or plain data "
                    "(convert it: str(path), float(x), dataclasses.asdict(config))")


def atomic_save(obj: dict, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to a temporary file beside ``path``, then rename: never a half-written file.

    Raises:
        TypeError: ``obj`` holds something other than tensors and plain data (see :func:`check_plain`);
            nothing is written then.
    """
    path = Path(path)
    check_plain(obj, path.name)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def read_model_file(path: str | os.PathLike) -> dict:
    """Read a file written by the package (model, checkpoint or int8 trunk) without running code from it.

    ``torch.load(path, weights_only=True)``: only tensors (quantized ones included) and plain data
    are rebuilt; a pickle that asks for any other Python object is refused before anything of it
    runs.

    Returns:
        the saved dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``"{path}: not a facelandmarks model file (...)"``: a pickle that would build
            other objects, run code, or a file that is truncated, empty, of another format or not a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized weights are stored through TypedStorage
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        asked = re.search(r"GLOBAL (\S+)", str(err))
        if asked is None:  # not a pickle that asks for objects: a truncated, empty or foreign file
            raise ValueError(f"{path}: {NOT_A_MODEL_FILE} (unreadable, truncated or another format)") from None
        raise ValueError(f"{path}: {NOT_A_MODEL_FILE} (it asks to build {asked.group(1)}, which is neither a tensor "
                         "nor plain data: a file like this can run code when loaded, so it was refused unread; use "
                         "files written by facelandmarks)") from None
    except Exception:  # a truncated, empty or foreign file
        raise ValueError(f"{path}: {NOT_A_MODEL_FILE} (unreadable, truncated or another format)") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: {NOT_A_MODEL_FILE} (no 'kind'/'config'): it holds a {type(saved).__name__}")
    return saved


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
        ValueError: not a facelandmarks model file (see :func:`read_model_file`), or an unknown kind.
        CheckpointMismatchError: another ``kind`` than asked for, or a config/weights that do not fit.
    """
    path = Path(path)
    saved = read_model_file(path)
    if "kind" not in saved or "config" not in saved:
        raise ValueError(f"{path}: {NOT_A_MODEL_FILE} (no 'kind'/'config')")
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


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes: what ``sha256sum`` prints, to check a file one was given."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensor_sha256(tensor: torch.Tensor) -> str:
    """SHA-256 (hex) of a tensor's dtype, shape and values (bit for bit; a quantized tensor's integer
    values, scales and zero points). Equal digests = bit-identical tensors, whatever file holds them."""
    t = tensor.detach().cpu().contiguous()
    digest = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.is_quantized:
        if t.qscheme() in (torch.per_channel_affine, torch.per_channel_affine_float_qparams):
            params = [t.q_per_channel_scales(), t.q_per_channel_zero_points(), torch.tensor(t.q_per_channel_axis())]
        else:
            params = [torch.tensor(t.q_scale(), dtype=torch.float64), torch.tensor(t.q_zero_point())]
        digest.update(str(t.qscheme()).encode())
        for part in [t.int_repr(), *params]:
            digest.update(part.contiguous().numpy().tobytes())
    else:
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def tensor_digests(saved: object, where: str = "") -> dict[str, str]:
    """``{"model/features.0.weight": sha256, ...}``: :func:`tensor_sha256` of every tensor in a saved
    dict (nested keys joined by ``/``)."""
    out: dict[str, str] = {}
    if isinstance(saved, torch.Tensor):
        out[where] = tensor_sha256(saved)
    elif isinstance(saved, dict):
        for key, value in saved.items():
            out.update(tensor_digests(value, f"{where}/{key}" if where else str(key)))
    elif isinstance(saved, (list, tuple)):
        for i, value in enumerate(saved):
            out.update(tensor_digests(value, f"{where}[{i}]"))
    return out

