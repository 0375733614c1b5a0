"""ONNX export of the cascade's networks and an ONNX Runtime backend for them.

Only the networks change hands: the warps (crops and patches), the similarity fits, the voting and
every frame matrix stay the Python code of :class:`~facelandmarks.models.cascade.Cascade`, so a
cascade on ONNX Runtime returns the same :class:`~facelandmarks.models.cascade.BatchPrediction`
with every stage.

An exported folder (:func:`export_onnx`, CLI ``facelandmarks export --onnx DIR``) holds::

    level1.onnx   crops   float32 (B, 3, S, S), RGB in [0, 1]  -> points  (B, N, 2) unit crop coordinates
    level2.onnx   patches float32 (B, N, 3, P, P), RGB in [0, 1] -> offsets (B, N, K, 2) patch units
    level3.onnx   (optional) as level 2
    level1_recrop.onnx  (optional) as level 1: the second-pass level 1 of the recrop pass
    cascade.json  each level's file, its SHA-256, its config (``asdict``), the float weights it was
                  exported from (name and SHA-256), level 2's canonical shape and neighbours, the
                  landmark scheme, level 2's shape correction (numbers); from these files alone
                  :func:`load_onnx` rebuilds the cascade

Each ``.onnx`` file also carries the float weights' SHA-256 in its metadata
(``facelandmarks.float_sha256``), as the int8 trunks do (:mod:`facelandmarks.models.quantize`):
given the float weights, :func:`load_onnx` refuses files exported from another version of them.

Loading never runs code from a file: an ``.onnx`` file is a protobuf graph of standard operators
(ONNX Runtime builds a session from it, nothing is unpickled) and ``cascade.json`` is JSON; the
float weights are only hashed here, never loaded.

Where the ONNX files live: nowhere by default. ``load_pretrained(backend="onnxruntime")`` exports
the shipped weights in memory when it loads them (about a second), so no exported file can go stale
when the weights are retrained; ``export_onnx`` writes files only for deployment elsewhere.

Needs the optional extra: ``pip install facelandmarks[onnx]`` (``onnx`` and ``onnxruntime``).
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..schemes import get_scheme
from .cascade import LEVEL_NAMES, Cascade
from .files import file_sha256
from .level1 import Level1Config, Level1Net
from .level2 import Level2Config, Level2Net, neighbours
from .shape_correction import ShapeCorrection

__all__ = ["OPSET", "MANIFEST", "export_level", "export_onnx", "load_onnx", "to_onnxruntime", "session_options",
           "OnnxCascade", "OnnxLevel1", "OnnxLevel2", "DEFAULT_THREADS", "WARP_THREADS", "WORKERS"]

OPSET = 17
MANIFEST = "cascade.json"
FORMAT = "facelandmarks-onnx/1"
LEVELS = LEVEL_NAMES
DEFAULT_THREADS = 1
"""ONNX Runtime threads per network call (``intra_op_num_threads``). One thread, without spin-waiting:
on the 2-core development machine a second thread gained little at batch 64 and lost most of its
speed when another process also used the CPU (the figures are in docs/results.md, "Deploy and
speed")."""


def _require() -> tuple[ModuleType, ModuleType]:
    """``(onnx, onnxruntime)``, or an ImportError saying how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise ImportError(f"the ONNX export and the onnxruntime backend need the optional extra: "
                          f"pip install facelandmarks[onnx]  (or pip install -e \".[onnx]\" in a checkout; "
                          f"missing: {err.name})") from None
    return onnx, onnxruntime


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_int8(net: nn.Module) -> bool:
    """Whether a level's trunk is the int8 one of :mod:`facelandmarks.models.quantize` (not a float Sequential)."""
    return not isinstance(net.features, nn.Sequential)


def _io_names(net: nn.Module) -> tuple[str, str, tuple[int, ...]]:
    """Input name, output name and the shape of one example input of a level."""
    cfg = net.config
    if isinstance(cfg, Level1Config):
        return "crops", "points", (1, 3, cfg.input_size, cfg.input_size)
    return "patches", "offsets", (1, cfg.n_points, 3, cfg.patch_size, cfg.patch_size)


def export_level(net: Level1Net | Level2Net, float_sha256: str | None = None, level: str | None = None) -> bytes:
    """One level as ONNX bytes (opset :data:`OPSET`, dynamic batch axis), checked by ``onnx.checker``.

    The graph computes exactly ``net.forward``: level 1 maps crops ``(B, 3, S, S)`` (RGB, [0, 1]) to
    points ``(B, N, 2)`` in unit crop coordinates, level 2 maps patches ``(B, N, 3, P, P)`` to offsets
    ``(B, N, K, 2)`` in patch units. ``float_sha256`` (the SHA-256 of the float weights file) and
    the level's config go into the model's metadata.

    Raises:
        TypeError: ``net`` is not a :class:`Level1Net` / :class:`Level2Net`.
        ImportError: the ``onnx`` extra is missing.
    """
    onnx, _ = _require()
    if not isinstance(net, (Level1Net, Level2Net)):
        raise TypeError(f"export_level needs a Level1Net or Level2Net, got {type(net).__name__}")
    int8 = _is_int8(net)
    model = copy.deepcopy(net).eval().to(memory_format=torch.contiguous_format)
    in_name, out_name, shape = _io_names(model)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the input-shape checks are fixed by design
        # the TorchScript exporter (dynamo=False) is deprecated, but it alone exports the int8 trunks
        # (FX-quantized) and needs no onnxscript; it is announced on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.rand(*shape),), buf, dynamo=False, opset_version=OPSET,
                          input_names=[in_name], output_names=[out_name],
                          dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}})
    proto = onnx.load_from_string(buf.getvalue())
    meta = {"facelandmarks.kind": _kind(net),
            "facelandmarks.config": json.dumps(asdict(net.config)),
            "facelandmarks.float_sha256": float_sha256 or "", "facelandmarks.int8": str(int8).lower()}
    if level:
        meta["facelandmarks.level"] = level
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "facelandmarks"
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def session_options(threads: int | None = DEFAULT_THREADS):
    """ONNX Runtime session options: ``threads`` intra-op threads (None: ONNX Runtime's default, one
    per physical core), no spin-waiting between calls (it starves other processes and, under their
    load, itself), all graph optimisations."""
    _, ort = _require()
    opts = ort.SessionOptions()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads}")
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only
    return opts


class _OnnxLevel(nn.Module):
    """A level run by an ONNX Runtime session; a torch module only so that :class:`Cascade` holds it."""

    def __init__(self, model: bytes, config: Level1Config | Level2Config, threads: int | None) -> None:
        super().__init__()
        _, ort = _require()
        self.config = config
        self.session = ort.InferenceSession(model, session_options(threads), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.float_sha256 = self.session.get_modelmeta().custom_metadata_map.get("facelandmarks.float_sha256", "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: arr})[0])


class OnnxLevel1(_OnnxLevel):
    """Level 1 on ONNX Runtime: crops ``(B, 3, S, S)`` in [0, 1] -> points ``(B, N, 2)``, unit crop
    coordinates (the contract of :class:`~facelandmarks.models.level1.Level1Net`)."""

    def __init__(self, model: bytes, config: Level1Config, threads: int | None = DEFAULT_THREADS,
                 mean_shape: np.ndarray | None = None) -> None:
        super().__init__(model, config, threads)
        shape = np.full((config.n_points, 2), 0.5) if mean_shape is None else np.asarray(mean_shape, dtype=np.float32)
        if shape.shape != (config.n_points, 2):
            raise ValueError(f"mean shape must be ({config.n_points}, 2), got {shape.shape}")
        # the network's upright reference shape (unit crop coordinates), for Cascade's recrop
        self.register_buffer("mean_shape", torch.as_tensor(shape, dtype=torch.float32))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        s = self.config.input_size
        if crops.ndim != 4 or crops.shape[1] != 3 or tuple(crops.shape[2:]) != (s, s):
            raise ValueError(f"level-1 input must be (B, 3, {s}, {s}), got {tuple(crops.shape)}")
        return super().forward(crops)


class OnnxLevel2(_OnnxLevel):
    """Level 2 (or 3) on ONNX Runtime: patches ``(B, N, 3, P, P)`` -> offsets ``(B, N, K, 2)``; the
    voting is :meth:`Level2Net.vote`, in torch, with the canonical shape and neighbours given here."""

    vote = Level2Net.vote

    def __init__(self, model: bytes, config: Level2Config, canonical: np.ndarray,
                 threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(model, config, threads)
        shape = np.asarray(canonical, dtype=np.float32)
        if shape.shape != (config.n_points, 2):
            raise ValueError(f"canonical shape must be ({config.n_points}, 2), got {shape.shape}")
        self.register_buffer("canonical", torch.as_tensor(shape))
        self.register_buffer("neighbours", torch.as_tensor(neighbours(shape, config.k).copy(), dtype=torch.long))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if patches.ndim != 5 or tuple(patches.shape[1:]) != (cfg.n_points, 3, cfg.patch_size, cfg.patch_size):
            raise ValueError(f"level-2 input must be (B, {cfg.n_points}, 3, {cfg.patch_size}, {cfg.patch_size}), "
                             f"got {tuple(patches.shape)}")
        return super().forward(patches)


WARP_THREADS = 1
"""Torch threads for the warps and votes of an :class:`OnnxCascade` (set while it predicts). With
torch's default of one thread per core, its workers spin-wait between the small sampling calls, and
when another process also used the CPU the whole cascade took 100 ms per face at batch 1 instead of
15 ms on the 2-core development machine."""


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    if before == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


WORKERS = min(_cores(), 8)
"""Threads of an :class:`OnnxCascade` that run chunks of faces side by side (its ``workers``): one
per CPU core this process may use, at most 8. Each runs single-threaded network calls and warps,
which release the GIL, so a batch of several chunks uses every core; at batch 1 the crop and its
mirror image go through level 1 side by side. Set ``cascade.workers = 1`` for one core."""


class OnnxCascade(Cascade):
    """A :class:`Cascade` whose networks are :class:`OnnxLevel1` / :class:`OnnxLevel2` (ONNX Runtime).

    Its warps, fits and votes are the torch code of :class:`Cascade`, run with :data:`WARP_THREADS`
    torch thread(s): while :meth:`predict_batch` runs, ``torch.set_num_threads`` is set to it for the
    whole process, and restored afterwards. Chunks of faces run side by side in :data:`WORKERS`
    threads (``cascade.workers``). It runs on the CPU only (``device`` other than ``"cpu"``:
    ``ValueError``).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.workers = WORKERS

    def predict_batch(self, *args, **kwargs):  # same signature and result as Cascade.predict_batch
        device = kwargs.get("device")
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"device={device!r}: the onnxruntime backend runs its networks on the CPU; "
                             "load the torch backend for another device (load_pretrained(backend='torch'))")
        with _torch_threads(WARP_THREADS):
            return super().predict_batch(*args, **kwargs)

    predict_batch.__doc__ = Cascade.predict_batch.__doc__


def _nets(cascade: Cascade) -> dict[str, nn.Module]:
    return cascade.levels()


def _kind(net: nn.Module) -> str:
    return "level1" if isinstance(net, (Level1Net, OnnxLevel1)) else "level2"


def _float_digests(cascade: Cascade, float_weights) -> dict[str, str | None]:
    paths = list(float_weights or [])
    if paths and len(paths) != len(_nets(cascade)):
        raise ValueError(f"float_weights: give one file per level ({len(_nets(cascade))}), got {len(paths)}")
    return {name: (file_sha256(p) if paths else None) for name, p in zip(_nets(cascade), paths or [None] * len(LEVELS))}


def to_onnxruntime(cascade: Cascade, float_weights: list[str | os.PathLike] | None = None,
                   threads: int | None = DEFAULT_THREADS) -> Cascade:
    """A new cascade whose networks are ``cascade``'s, exported in memory and run by ONNX Runtime.

    ``cascade`` must hold :class:`Level1Net` / :class:`Level2Net` levels (plain, fused or with the int8
    trunks of :mod:`facelandmarks.models.quantize`, exported as ONNX QDQ graphs); it is not modified. ``float_weights``: the files its levels were loaded from, recorded in the graphs.
    """
    digests = _float_digests(cascade, float_weights)
    levels = {}
    for name, net in _nets(cascade).items():
        model = export_level(net, digests[name], name)
        if _kind(net) == "level1":
            levels[name] = OnnxLevel1(model, net.config, threads, net.mean_shape.double().numpy())
        else:
            levels[name] = OnnxLevel2(model, net.config, net.canonical.double().numpy(), threads)
    return OnnxCascade(**levels, level1_flip=cascade.level1_flip, recrop=cascade.recrop,
                       shape_correction=cascade.shape_correction)


def export_onnx(cascade: Cascade, folder: str | os.PathLike,
                float_weights: list[str | os.PathLike] | None = None) -> Path:
    """Write every level of ``cascade`` as ``levelK.onnx`` and the manifest ``cascade.json`` into
    ``folder`` (created if needed); return the manifest's path.

    Args:
        cascade: a cascade of :class:`Level1Net` / :class:`Level2Net` levels (plain, fused or int8).
        folder: where to write; existing files of the same names are replaced.
        float_weights: the weight files of the levels, in the order of :meth:`Cascade.levels`; their names and
            SHA-256 are recorded so that :func:`load_onnx` can refuse an export of other weights.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digests = _float_digests(cascade, float_weights)
    names = [Path(p).name for p in float_weights] if float_weights else [None] * len(LEVELS)
    levels = {}
    for (name, net), weights_name in zip(_nets(cascade).items(), names):
        model = export_level(net, digests[name], name)
        (folder / f"{name}.onnx").write_bytes(model)
        entry = {"file": f"{name}.onnx", "sha256": _sha256(model), "kind": _kind(net),
                 "int8": _is_int8(net),
                 "config": asdict(net.config), "float_weights": weights_name, "float_sha256": digests[name]}
        in_name, out_name, shape = _io_names(net)
        entry["input"] = {"name": in_name, "shape": ["batch", *shape[1:]], "dtype": "float32", "range": "RGB in [0, 1]"}
        entry["output"] = {"name": out_name}
        if _kind(net) == "level1":
            entry["mean_shape"] = net.mean_shape.double().numpy().tolist()
        else:
            entry["canonical"] = net.canonical.double().numpy().tolist()
            entry["neighbours"] = net.neighbours.numpy().tolist()
        levels[name] = entry
    manifest = {"format": FORMAT, "opset": OPSET, "scheme": get_scheme(cascade.n_points).name,
                "n_points": cascade.n_points, "torch": torch.__version__, "level1_flip": cascade.level1_flip,
                "recrop": cascade.recrop,
                "shape_correction": None if cascade.shape_correction is None else {
                    k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in cascade.shape_correction.to_dict().items()},
                "levels": levels}
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=1))
    return path


def _config(cls: type, data: dict, where: str):
    fields = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
              for k, v in data.items()}
    try:
        return cls(**fields)
    except TypeError as err:
        raise ValueError(f"{where}: its config does not fit this version's {cls.__name__} ({err})") from None


def load_onnx(folder: str | os.PathLike, float_weights: list[str | os.PathLike] | None = None,
              threads: int | None = DEFAULT_THREADS, int8: bool | None = None) -> Cascade:
    """Rebuild the cascade from a folder written by :func:`export_onnx`, its networks run by ONNX Runtime.

    Args:
        folder: holds ``cascade.json`` and the ``.onnx`` files it names.
        float_weights: optional, the float weight files the export should come from, in the order
            of :meth:`Cascade.levels` (level 1, 2, 3, the second-pass level 1).
        threads: ONNX Runtime intra-op threads per network (see :data:`DEFAULT_THREADS`).
        int8: when given, require an export of the int8 trunks (True) or of the float networks (False).

    Raises:
        FileNotFoundError: no manifest or a missing ``.onnx`` file.
        ValueError: an ``.onnx`` file changed since the export (SHA-256), or one exported from
            another version of ``float_weights`` (stale: export again with ``facelandmarks export --onnx``).
        ImportError: the ``onnx`` extra is missing.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no ONNX export here; write one with `facelandmarks export --onnx {folder}`")
    try:
        manifest = json.loads(path.read_text())
        assert manifest["format"] == FORMAT and isinstance(manifest["levels"], dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise ValueError(f"{path}: not a facelandmarks ONNX manifest ({FORMAT})") from None
    levels_in = [name for name in LEVELS if name in manifest["levels"]]
    paths = list(float_weights or [])
    if paths and len(paths) != len(levels_in):
        raise ValueError(f"{path}: an export of the levels {levels_in}, but {len(paths)} weight files were asked "
                         "for (other weights than these); export again with `facelandmarks export --onnx`")
    nets = {}
    for i, name in enumerate(levels_in):
        entry = manifest["levels"][name]
        file = folder / entry["file"]
        if not file.is_file():
            raise FileNotFoundError(f"{file}: missing (named by {path}); export again with `facelandmarks export --onnx`")
        if int8 is not None and bool(entry.get("int8")) != int8:
            raise ValueError(f"{file}: holds {'int8' if entry.get('int8') else 'float'} networks, "
                             f"{'int8' if int8 else 'float'} ones were asked for; export them with "
                             f"`facelandmarks export --onnx DIR{' --int8' if int8 else ''}`")
        model = file.read_bytes()
        if _sha256(model) != entry["sha256"]:
            raise ValueError(f"{file}: changed since it was exported (its SHA-256 differs from {path}); "
                             "export again with `facelandmarks export --onnx`")
        if paths and entry.get("float_sha256") != file_sha256(paths[i]):
            raise ValueError(f"{file}: was exported from another version of {paths[i]} (stale); "
                             "export again with `facelandmarks export --onnx`")
        if entry.get("kind", "level1" if name == "level1" else "level2") == "level1":
            if "mean_shape" not in entry:
                raise ValueError(f"{path}: level 1 has no mean_shape (an export of an older version); export again "
                                 "with `facelandmarks export --onnx`")
            net = OnnxLevel1(model, _config(Level1Config, entry["config"], str(file)), threads, np.asarray(entry["mean_shape"]))
        else:
            net = OnnxLevel2(model, _config(Level2Config, entry["config"], str(file)), np.asarray(entry["canonical"]),
                             threads)
            if net.neighbours.tolist() != entry["neighbours"]:
                raise ValueError(f"{path}: {name}'s neighbours do not follow from its canonical shape")
        if net.float_sha256 != (entry.get("float_sha256") or ""):
            raise ValueError(f"{file}: its float weights' SHA-256 differs from the one in {path}")
        nets[name] = net
    correction = manifest.get("shape_correction")
    correction = None if correction is None else ShapeCorrection.from_dict(correction, f"{path}: shape_correction")
    return OnnxCascade(**nets, level1_flip=bool(manifest.get("level1_flip", False)),
                       recrop=bool(manifest.get("recrop", False)), shape_correction=correction)
