"""The weights shipped in ``facelandmarks/weights`` and the cascade built from them.

Which file holds which level is written once here (:data:`LEVEL1_WEIGHTS`, :data:`LEVEL2_WEIGHTS`,
:data:`LEVEL3_WEIGHTS`, :data:`LEVEL1_RECROP_WEIGHTS`); how each was trained is in ``facelandmarks/weights/README.md``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .cascade import Cascade, fuse_for_inference
from .files import file_sha256, read_model_file, tensor_digests
from .quantize import int8_path, load_int8

__all__ = ["WEIGHTS_DIR", "MANIFEST", "LEVEL1_WEIGHTS", "LEVEL2_WEIGHTS", "LEVEL3_WEIGHTS", "LEVEL1_RECROP_WEIGHTS",
           "TRAINED_AFTER_LEVEL1_RECROP", "BACKENDS", "load_pretrained", "pretrained_files", "shipped_files", "weights_manifest", "read_manifest", "sha256_table"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
"""The folder of the shipped weights (``facelandmarks/weights``)."""
MANIFEST = WEIGHTS_DIR / "sha256.json"
"""Every shipped file's SHA-256 and size, and the SHA-256 of each tensor in it (see :func:`weights_manifest`)."""
LEVEL1_WEIGHTS = {"deep": "level1_deep.pt", "shallow": "level1_shallow.pt"}
LEVEL2_WEIGHTS = {"k3": "level2_k3.pt", "k3_sim": "level2_k3_sim.pt", "k1": "level2_k1.pt"}
LEVEL3_WEIGHTS = {"k3": "level3_k3.pt"}
LEVEL1_RECROP_WEIGHTS = {"deep": "level1_recrop.pt"}
"""The second-pass level 1 (the cascade's ``level1_recrop``) of each level 1 that has one."""
TRAINED_AFTER_LEVEL1_RECROP = ("k3",)
"""The level-2 weights trained on the points of the second-pass level 1 (loaded with it by default)."""
BACKENDS = ("torch", "onnxruntime")
"""What can run the cascade's networks (:func:`load_pretrained`'s ``backend``)."""


def pretrained_files(level1: str = "deep", level2: str | None = "k3", level3: str | None = None,
                     level1_recrop: bool | None = None) -> list[Path]:
    """The shipped files :func:`load_pretrained` loads, in the order of :meth:`Cascade.levels`
    (level 1, level 2, level 3, the second-pass level 1). Arguments as there.

    Raises:
        KeyError: unknown weights name. FileNotFoundError: a shipped file is missing.
    """
    if level1 not in LEVEL1_WEIGHTS:
        raise KeyError(f"unknown level-1 weights {level1!r}; shipped: {sorted(LEVEL1_WEIGHTS)}")
    if level2 is not None and level2 not in LEVEL2_WEIGHTS:
        raise KeyError(f"unknown level-2 weights {level2!r}; shipped: {sorted(LEVEL2_WEIGHTS)} or None")
    if level3 is not None and level3 not in LEVEL3_WEIGHTS:
        raise KeyError(f"unknown level-3 weights {level3!r}; shipped: {sorted(LEVEL3_WEIGHTS)} or None")
    paths = [WEIGHTS_DIR / LEVEL1_WEIGHTS[level1]] + ([WEIGHTS_DIR / LEVEL2_WEIGHTS[level2]] if level2 else [])
    if level2 and level3:
        paths.append(WEIGHTS_DIR / LEVEL3_WEIGHTS[level3])
    if level1_recrop is None:  # as level 2 was trained
        level1_recrop = level2 in TRAINED_AFTER_LEVEL1_RECROP and level1 in LEVEL1_RECROP_WEIGHTS
    if level1_recrop:
        if level1 not in LEVEL1_RECROP_WEIGHTS:
            raise KeyError(f"level-1 weights {level1!r} have no second-pass level 1; shipped for: {sorted(LEVEL1_RECROP_WEIGHTS)}")
        paths.append(WEIGHTS_DIR / LEVEL1_RECROP_WEIGHTS[level1])
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: shipped weights are missing; train them with "
                                    "`facelandmarks train` (see facelandmarks/weights/README.md)")
    return paths


def load_pretrained(level1: str = "deep", level2: str | None = "k3", level3: str | None = None,
                    fuse: bool = False, int8: bool = False, backend: str = "torch",
                    onnx_dir: str | os.PathLike | None = None, level1_recrop: bool | None = None) -> Cascade:
    """The cascade with the weights shipped in ``facelandmarks/weights`` (trained by this package).

    Args:
        level1: ``"deep"`` (the paper's Table 1a) or ``"shallow"`` (the Sun et al. style baseline).
        level2: ``"k3"`` (trained on simulated and real level-1 errors), ``"k3_sim"`` and ``"k1"``
            (trained on simulated errors only, the K = 3 vs K = 1 comparison) or ``None`` (level 1 alone).
        level3: ``"k3"`` (our optional fine level) or ``None`` (the paper's two levels, the default);
            ignored without level 2. See facelandmarks/weights/README.md for how each was trained.
        fuse: fold batch-norm into convolutions for speed (see :func:`fuse_for_inference`).
        int8: also run the convolution trunks in 8-bit integers (implies ``fuse``; about twice as
            fast on a CPU, see :mod:`facelandmarks.models.quantize`), from the shipped ``*.int8.pt`` files.
        backend: ``"torch"`` or ``"onnxruntime"``: the networks exported to ONNX in memory at load
            time and run by ONNX Runtime (faster on a CPU, steady under other processes' load; the
            warps, votes and frames stay the same; see :mod:`facelandmarks.models.onnx`); with
            ``int8`` the int8 trunks are exported (ONNX Runtime's 8-bit kernels, the fastest here).
            Needs ``pip install facelandmarks[onnx]``.
        onnx_dir: with ``backend="onnxruntime"``, load the networks from this folder written by
            ``facelandmarks export --onnx`` instead of exporting them; files exported from other
            weights than the shipped ones are refused (``ValueError``).
        level1_recrop: run the recrop pass with the deep level 1's second-pass network
            (``level1_recrop.pt``, ours, see :class:`Cascade`): None (default) when level 2 was
            trained after it (``"k3"``), True always (e.g. level 1 alone), False never (the deep
            level 1 runs both passes).

    Raises:
        KeyError: unknown weights name, or ``level1_recrop=True`` for a level 1 without one. ValueError: unknown backend.
        FileNotFoundError: a shipped weights file is missing.
        ImportError: ``backend="onnxruntime"`` without the ``onnx`` extra.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {BACKENDS}")
    if onnx_dir is not None and backend != "onnxruntime":
        raise ValueError("onnx_dir is for backend='onnxruntime'")
    paths = pretrained_files(level1, level2, level3, level1_recrop)
    if backend == "onnxruntime" and onnx_dir is not None:
        from .onnx import load_onnx

        return load_onnx(onnx_dir, float_weights=paths, int8=int8)
    named = dict(zip(("level1", "level2", "level3"), [p for p in paths if p.name not in LEVEL1_RECROP_WEIGHTS.values()]))
    second = [p for p in paths if p.name in LEVEL1_RECROP_WEIGHTS.values()]
    cascade = Cascade.from_files(**named, level1_recrop=second[0] if second else False)
    if int8:
        fuse_for_inference(cascade)
        for net, path in zip(cascade.levels().values(), paths):
            load_int8(net, int8_path(path), float_weights=path)
    elif fuse:
        fuse_for_inference(cascade)
    if backend == "onnxruntime":
        from .onnx import to_onnxruntime

        return to_onnxruntime(cascade, float_weights=paths)
    return cascade


def shipped_files() -> list[Path]:
    """The shipped model files (``*.pt`` in :data:`WEIGHTS_DIR`), by name."""
    return sorted(WEIGHTS_DIR.glob("*.pt"))


def weights_manifest(paths: list[Path] | None = None) -> dict[str, dict]:
    """Measure the shipped files now: name -> ``{"sha256": file digest, "bytes": size, "tensors":
    {key: tensor digest}}`` (:func:`~facelandmarks.models.files.tensor_sha256`). Each file is read with
    :func:`~facelandmarks.models.files.read_model_file`, so a file that is not plain data fails here.
    ``tools/weights_manifest.py`` writes this to :data:`MANIFEST` after the weights are retrained."""
    return {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size,
                     "tensors": tensor_digests(read_model_file(p))} for p in (paths or shipped_files())}


def read_manifest() -> dict[str, dict]:
    """The committed :data:`MANIFEST` (what the shipped files were when it was written)."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def sha256_table(manifest: dict[str, dict] | None = None) -> str:
    """The Markdown table of the shipped files' SHA-256 (``facelandmarks info --markdown`` prints it;
    ``facelandmarks/weights/README.md`` holds it). Default: the committed manifest."""
    manifest = read_manifest() if manifest is None else manifest
    rows = ["| file | bytes | SHA-256 |", "| --- | ---: | --- |"]
    rows += [f"| `{name}` | {entry['bytes']} | `{entry['sha256']}` |" for name, entry in sorted(manifest.items())]
    return "\n".join(rows)

