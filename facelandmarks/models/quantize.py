"""8-bit integer inference for the cascade's convolution trunks (CPU speed, same points within tolerance).

The convolution trunks (``features``) of every level hold almost all of the cascade's arithmetic.
:func:`quantize_trunks` replaces each by PyTorch's static int8 version (``torch.ao.quantization``,
FX graph mode, the ``x86`` backend): weights per channel, activations per tensor, with ranges
calibrated on crops and patches of training faces. The fully connected heads stay in float.

Calibration needs faces, so it is done once (``facelandmarks quantize``) and its result, the
quantized trunk of each level, is shipped beside its float weights (``level1_deep.int8.pt`` beside
``level1_deep.pt``); :func:`load_int8` rebuilds the trunk from it without any data.
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .cascade import Cascade, fuse_for_inference
from .files import atomic_save, file_sha256, read_model_file  # file_sha256 ties an int8 trunk to its float weights

__all__ = ["quantize_trunks", "save_int8", "load_int8", "calibrate_cascade", "int8_path", "file_sha256"]


def int8_path(float_weights: str | os.PathLike) -> Path:
    """Where the int8 trunk of a float weights file lives: ``level2_k3.pt`` -> ``level2_k3.int8.pt``."""
    path = Path(float_weights)
    return path.with_name(path.stem + ".int8.pt")


def _levels(cascade: Cascade) -> dict[str, nn.Module]:
    return cascade.levels()


def _example(net: nn.Module) -> torch.Tensor:
    cfg = net.config
    size = getattr(cfg, "input_size", None) or cfg.patch_size
    return torch.zeros(1, getattr(cfg, "in_channels", 3), size, size)


def _engines() -> list[str]:
    return list(torch.backends.quantized.supported_engines)


def _prepare(trunk: nn.Module, example: torch.Tensor) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    if "x86" not in _engines():
        raise RuntimeError(f"int8 trunks need PyTorch's x86 quantized engine; this build has {_engines()}. "
                           "Use the float cascade: load_pretrained(fuse=True)")
    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return prepare_fx(copy.deepcopy(trunk).to(memory_format=torch.contiguous_format).eval(),
                          get_default_qconfig_mapping("x86"), (example,))


def _convert(prepared: nn.Module) -> nn.Module:
    from torch.ao.quantization.quantize_fx import convert_fx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(prepared)


def quantize_trunks(cascade: Cascade, calibrate) -> Cascade:
    """Fuse ``cascade`` for inference and make its trunks int8, calibrated by ``calibrate(cascade)``
    (a function that runs the cascade on representative faces). Modifies and returns ``cascade``."""
    if not isinstance(next(iter(_levels(cascade).values())).features, nn.Sequential):
        raise ValueError("the cascade is already quantized")
    fuse_for_inference(cascade)
    for net in _levels(cascade).values():
        net.features = _prepare(net.features, _example(net))
    with torch.no_grad():
        calibrate(cascade)
    for net in _levels(cascade).values():
        net.features = _convert(net.features)
    return cascade


def save_int8(net: nn.Module, path: str | os.PathLike, float_weights: str | os.PathLike, calibration: str) -> Path:
    """Save one level's quantized trunk (after :func:`quantize_trunks`) with what it was made from:
    the float weights' file name and, when that file exists, its SHA-256."""
    path = Path(path)
    digest = file_sha256(float_weights) if Path(float_weights).is_file() else None
    return atomic_save({"kind": "int8_trunk", "float_weights": Path(float_weights).name, "float_sha256": digest,
                        "calibration": calibration, "torch": str(torch.__version__),
                        "state": net.features.state_dict()}, path)


def load_int8(net: nn.Module, path: str | os.PathLike, float_weights: str | os.PathLike | None = None) -> nn.Module:
    """Give a fused level (see :func:`fuse_for_inference`) the int8 trunk saved in ``path``.

    With ``float_weights`` (the file ``net`` was loaded from), refuse a trunk that was quantized from
    another version of that file: its convolutions would not match the float heads.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no int8 trunk; make it with `facelandmarks quantize` "
                                "(see facelandmarks/weights/README.md)")
    saved = read_model_file(path)
    if saved.get("kind") != "int8_trunk":
        raise ValueError(f"{path}: not an int8 trunk file (kind {saved.get('kind')!r})")
    if float_weights is not None and saved.get("float_sha256") != file_sha256(float_weights):
        raise ValueError(f"{path}: was quantized from another version of {float_weights}; "
                         "rerun `facelandmarks quantize` (see facelandmarks/weights/README.md)")
    trunk = _convert(_prepare(net.features, _example(net)))
    try:
        trunk.load_state_dict(saved["state"])
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"{path}: does not fit this level ({' '.join(str(err).split())[:200]})") from None
    net.features = trunk
    return net


def calibrate_cascade(images: list[np.ndarray], boxes: np.ndarray, chunk: int = 32):
    """A ``calibrate`` function for :func:`quantize_trunks`: run every level on these faces."""
    def run(cascade: Cascade) -> None:
        for start in range(0, len(images), chunk):
            cascade.predict_batch(images[start:start + chunk], boxes[start:start + chunk])
    return run
