"""The weights shipped in ``facelandmarks/weights`` and the cascade built from them.

Which file holds which level is written once here (:data:`LEVEL1_WEIGHTS`, :data:`LEVEL2_WEIGHTS`,
:data:`LEVEL3_WEIGHTS`); how each was trained is in ``facelandmarks/weights/README.md``.
"""
from __future__ import annotations

from pathlib import Path

from .cascade import Cascade, fuse_for_inference
from .quantize import int8_path, load_int8

__all__ = ["WEIGHTS_DIR", "LEVEL1_WEIGHTS", "LEVEL2_WEIGHTS", "LEVEL3_WEIGHTS", "load_pretrained"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
"""The folder of the shipped weights (``facelandmarks/weights``)."""
LEVEL1_WEIGHTS = {"deep": "level1_deep.pt", "shallow": "level1_shallow.pt"}
LEVEL2_WEIGHTS = {"k3": "level2_k3.pt", "k3_sim": "level2_k3_sim.pt", "k1": "level2_k1.pt"}
LEVEL3_WEIGHTS = {"k3": "level3_k3.pt"}


def load_pretrained(level1: str = "deep", level2: str | None = "k3", level3: str | None = None,
                    fuse: bool = False, int8: bool = False) -> Cascade:
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
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: shipped weights are missing; train them with "
                                    "`facelandmarks train` (see facelandmarks/weights/README.md)")
    cascade = Cascade.from_files(*paths)
    if int8:
        fuse_for_inference(cascade)
        for net, path in zip((cascade.level1, cascade.level2, cascade.level3), paths):
            load_int8(net, int8_path(path), float_weights=path)
        return cascade
    return fuse_for_inference(cascade) if fuse else cascade
