"""Training of both cascade levels: configs, batches, loop, checkpoints and logs.

Determinism: every training face's randomness in an epoch (box jitter, augmentation, simulated
level-1 errors) comes from generators seeded by ``(seed, epoch, face index)``; the epoch's order is
a :class:`~torch.utils.data.DistributedSampler` shuffle seeded by ``(seed, epoch)``; the learning rate
is a pure function of the step. So, on one device type with one PyTorch build, the weights depend
on the seed, the configs, the number of processes and ``precision`` only: not on ``workers`` (the
DataLoader processes that make the batches), and not on interruptions (a run resumed from its last
checkpoint reaches the same weights as an uninterrupted one). CPU, CUDA and MPS runs differ from
each other (other kernels), and CUDA runs themselves are only reproducible to float rounding unless
``torch.use_deterministic_algorithms(True)`` is set (cuDNN picks kernels). ``docs/training.md``
states the guarantee with the tests that check it.

Devices and processes: ``TrainConfig.device`` (``auto`` picks CUDA, then MPS, then the CPU),
``precision`` (``bf16``/``fp16`` autocast; fp16 with a gradient scaler, CUDA only), ``workers``
(DataLoader processes). Under ``torchrun`` (``torch.distributed`` initialised, as ``facelandmarks train`` does there)
the model is wrapped in DistributedDataParallel, each process trains on its
:class:`~torch.utils.data.DistributedSampler` shard, ``batch_size`` is the *global* batch (each of
W processes takes ``batch_size / W`` faces per step, so the learning rate needs no change), and
only rank 0 validates and writes files.

Outputs in ``out_dir`` (``NAME`` = ``level1`` or ``level2``):
    * ``NAME_last.pt``: full checkpoint after every epoch (model, optimiser, log, configs);
    * ``NAME.pt``: the final weights with their configs (what the cascade loads);
    * ``NAME_log.csv``: one row per epoch (losses, validation NME, learning rate, seconds).
"""
from __future__ import annotations

import contextlib
import csv
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from . import metrics
from .augment import AugmentConfig, NO_AUGMENT, flip_points, occlude, photometric, random_crop_transforms
from .datasets import FaceSet, jitter_boxes
from .geometry import (fit_similarity, hflip_matrix, points_box, procrustes_mean, similarity_matrix,
                       transform_points, warp_batch)
from .models.cascade import Cascade, fuse_for_inference
from .models.level1 import Level1Config, Level1Net, crop_matrices, from_unit, to_unit, upright_turn
from .models.level2 import Level2Config, Level2Net, patch_matrices
# Model files live with the models; these names stay importable from here for existing code.
from .models.files import (NOT_A_MODEL_FILE, CheckpointMismatchError, atomic_save, load_model, read_model_file,
                           save_model)
from .schemes import LandmarkScheme

__all__ = [
    "TrainConfig", "SimulatedErrors", "CheckpointMismatchError", "LOSSES", "wing_loss", "regression_loss",
    "level1_batch", "level2_batch", "canonical_shape", "simulate_level1_errors",
    "train_level1", "train_level2", "level1_predictions", "read_log", "save_model", "load_model",
    "PRECISIONS", "resolve_device", "augment_for",
]

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """How a level is trained (the same dataclass for both levels)."""

    epochs: int = 60
    batch_size: int = 32  # faces per optimiser step over all processes, the global batch (level 2: all N patches of each face)
    lr: float = 2e-3  # peak learning rate of Adam(W)
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0  # linear warm-up, then cosine decay to lr * final_lr_fraction
    final_lr_fraction: float = 0.02
    seed: int = 0
    val_fraction: float = 0.1  # of the training faces, held out for validation (never test faces)
    box_shift: float = 0.05  # std of the landmark-box centre jitter, fraction of the box size
    box_scale: float = 0.05  # std of the landmark-box log-size jitter
    upright: bool = False  # level 1: crops turned upright around the ground truth before the jitter, as the cascade's recrop pass makes them (a second-pass level 1)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    threads: int = 0  # torch threads, 0 = torch's default
    limit: int = 0  # use only the first faces (quick runs and tests), 0 = all
    loss: str = "l1"  # "l1" (mean absolute error) or "wing" (Feng et al., CVPR 2018; see wing_loss)
    wing_width: float = 10.0  # wing loss w, in pixels of the network's input (crop or patch)
    wing_curvature: float = 2.0  # wing loss epsilon, same pixels
    device: str = "cpu"  # where the model and batches live: "auto" (CUDA, else MPS, else CPU), "cpu", "cuda", "mps", "cuda:1"
    precision: str = "fp32"  # "fp32", "bf16" (autocast: CPU, CUDA, MPS) or "fp16" (autocast + gradient scaler: CUDA)
    workers: int = 0  # DataLoader processes making the batches (0 = in the training process); no effect on the result


@dataclass(frozen=True)
class SimulatedErrors:
    """Level-1-like errors used to train level 2 (magnitudes as fractions of the scheme's main normaliser:
    the inter-ocular distance for iBUG 68)."""

    point_sigma: float = 0.035  # independent per-point error, std
    shift: float = 0.03  # common shift of the whole shape, std
    rotation_deg: float = 3.0  # common rotation of the shape, std, degrees
    scale: float = 0.03  # common log-scale change, std
    spread: float = 0.4  # per-face multiplier exp(N(0, spread)) on all of the above (hard and easy faces)


LOSSES = ("l1", "wing")


def wing_loss(error: torch.Tensor, width: float = 10.0, curvature: float = 2.0) -> torch.Tensor:
    """Mean wing loss of ``error`` (any shape, in pixels): Feng et al., "Wing loss for robust facial
    landmark localisation with convolutional neural networks", CVPR 2018, eq. 5.

    ``w * ln(1 + |x| / eps)`` for ``|x| < w``, else ``|x| - C`` with ``C = w - w * ln(1 + w / eps)``
    (continuous at ``|x| = w``). Its gradient grows as errors shrink, unlike L1's constant one, so
    small and medium errors keep pulling: the paper's answer to L2's and L1's weak precision.

    >>> round(float(wing_loss(torch.tensor([0.0, 2.0, 20.0]))), 4)  # (0 + 10 ln 2 + 20 - (10 - 10 ln 6)) / 3
    11.6164
    """
    if width <= 0 or curvature <= 0:
        raise ValueError(f"wing loss needs width > 0 and curvature > 0, got {width}, {curvature}")
    x = error.abs()
    c = width - width * math.log(1 + width / curvature)
    return torch.where(x < width, width * torch.log1p(x / curvature), x - c).mean()


def regression_loss(pred: torch.Tensor, target: torch.Tensor, cfg: "TrainConfig", pixels: float) -> torch.Tensor:
    """The training loss of ``cfg.loss`` between ``pred`` and ``target`` given in units of ``pixels``
    input pixels (level 1: the crop side; level 2: the patch side). L1 stays in those units, as
    before; the wing loss is computed on pixels (its width and curvature are pixels) and divided
    back, so both losses have the same scale for small errors' gradients to compare with."""
    if cfg.loss == "l1":
        return (pred - target).abs().mean()
    if cfg.loss == "wing":
        return wing_loss((pred - target) * pixels, cfg.wing_width, cfg.wing_curvature) / pixels
    raise ValueError(f"unknown loss {cfg.loss!r}; known: {list(LOSSES)}")


# --------------------------------------------------------------------------------------------
# batches
# --------------------------------------------------------------------------------------------
def level1_batch(faces: FaceSet, index: np.ndarray, config: Level1Config, boxes: np.ndarray,
                 rng: np.random.Generator, generator: torch.Generator,
                 augment: AugmentConfig = NO_AUGMENT, turn: np.ndarray | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Crops, unit-coordinate targets and image -> crop matrices for the faces at ``index``.

    ``boxes`` are landmark boxes in the image frame, or with ``turn`` ``(B, 3, 3)`` (rotations from
    :func:`~facelandmarks.models.level1.upright_turn`) in the frame turned by it.

    Returns:
        crops ``(B, 3, S, S)`` in [0, 1], targets ``(B, N, 2)`` unit crop coordinates, matrices ``(B, 3, 3)``.
    """
    size = config.input_size
    mats = crop_matrices(boxes, config) if turn is None else crop_matrices(boxes, config) @ turn
    mats, flipped = random_crop_transforms(mats, size, rng, augment)
    crops = torch.cat([warp_batch(faces.images[i], m[None], size) for i, m in zip(index, mats)]) / 255.0
    pts = flip_points(transform_points(faces.points[index], mats), flipped, faces.scheme)
    if augment != NO_AUGMENT:
        crops = occlude(photometric(crops, generator, augment), generator, augment)
    return crops, torch.as_tensor(to_unit(pts, size), dtype=torch.float32), mats


def canonical_shape(points: np.ndarray, face_size: float) -> np.ndarray:
    """The rectified frame's canonical shape: the Procrustes mean of ``points``, made left-right
    symmetric, scaled to width ``face_size`` and centred on ``(face_size/2, face_size/2)``."""
    mean = procrustes_mean(points)
    width = mean[:, 0].max() - mean[:, 0].min()
    return mean * (face_size / width) + face_size / 2


def simulate_level1_errors(gt: np.ndarray, rng: np.random.Generator, sim: SimulatedErrors,
                           scheme_norm: np.ndarray) -> np.ndarray:
    """Perturb ground truth ``(B, N, 2)`` like a level-1 network would; ``scheme_norm`` ``(B,)`` = IOD."""
    b, n, _ = gt.shape
    mult = np.exp(rng.normal(0, sim.spread, b)) * scheme_norm
    centre = gt.mean(axis=1)
    out = np.empty_like(gt)
    for i in range(b):
        angle = math.radians(sim.rotation_deg) * rng.normal() * mult[i] / scheme_norm[i]
        scale = math.exp(sim.scale * rng.normal() * mult[i] / scheme_norm[i])
        m = similarity_matrix(scale, angle)
        shift = rng.normal(0, sim.shift, 2) * mult[i]
        out[i] = (gt[i] - centre[i]) @ m[:2, :2].T + centre[i] + shift
    return out + rng.normal(0, sim.point_sigma, gt.shape) * mult[:, None, None]


def level2_batch(faces: FaceSet, index: np.ndarray, config: Level2Config, canonical: np.ndarray,
                 neighbours: np.ndarray, rng: np.random.Generator, generator: torch.Generator,
                 sim: SimulatedErrors, augment: AugmentConfig = NO_AUGMENT,
                 level1_points: np.ndarray | None = None) -> dict[str, np.ndarray | torch.Tensor]:
    """Patches and targets for level 2 on the faces at ``index``.

    The level-1 points are ``level1_points`` when given, else simulated from the ground truth.
    With ``augment.flip_prob`` a face is mirrored (its points renumbered by the flip permutation).

    Returns a dict: ``patches (B, N, 3, P, P)``, ``targets (B, N, K, 2)`` in patch units,
    ``centres (B, N, 2)`` and ``gt (B, N, 2)`` in the rectified frame, ``rectify (B, 3, 3)``.
    """
    p = config.patch_size
    gt = faces.points[index].copy()
    flips = np.eye(3)[None].repeat(len(index), 0)
    flipped = rng.random(len(index)) < augment.flip_prob
    for j, i in enumerate(index):
        if flipped[j]:
            flips[j] = hflip_matrix(faces.images[i].shape[1])
    gt = flip_points(transform_points(gt, flips), flipped, faces.scheme)
    if level1_points is None:
        iod = metrics.normalising_distance(gt, faces.scheme.main_normaliser, faces.scheme)
        start = simulate_level1_errors(gt, rng, sim, np.asarray(iod))
    else:
        start = flip_points(transform_points(level1_points, flips), flipped, faces.scheme)
    to_rect = fit_similarity(start, canonical)  # (flipped) image -> rectified
    rectify = to_rect @ flips
    centres = transform_points(start, to_rect)
    gt_rect = transform_points(gt, to_rect)
    mats = patch_matrices(rectify, centres, p)
    patches = torch.stack([warp_batch(faces.images[i], mats[j], p) for j, i in enumerate(index)]) / 255.0
    if augment != NO_AUGMENT:
        b, n = patches.shape[:2]
        patches = photometric(patches.reshape(b * n, 3, p, p), generator, replace(augment, gray_prob=0.0))
        patches = patches.view(b, n, 3, p, p)
    targets = (gt_rect[:, neighbours] - centres[:, :, None, :]) / p  # (B, N, K, 2)
    return {"patches": patches, "targets": torch.as_tensor(targets, dtype=torch.float32),
            "centres": centres, "gt": gt_rect, "rectify": rectify}


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
def _lr_at(step: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    total = cfg.epochs * steps_per_epoch
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    low = cfg.lr * cfg.final_lr_fraction
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * min(1.0, t)))


def _epoch_seed(seed: int, epoch: int) -> None:
    torch.manual_seed(seed * 100003 + epoch)  # the model's own randomness (dropout), the same on every rank


def _face_rngs(seed: int, epoch: int, face: int) -> tuple[np.random.Generator, torch.Generator]:
    """The generators of one training face in one epoch: the same whichever process or worker draws it."""
    rng = np.random.default_rng([seed, epoch, face])
    return rng, torch.Generator().manual_seed(int(rng.integers(2 ** 62)))


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``: ``"auto"`` = CUDA if present, else Apple's MPS, else the CPU.

    Under ``torchrun`` a bare ``"cuda"`` means this process's GPU, ``cuda:$LOCAL_RANK``.

    Raises:
        ValueError: an unknown name, or a device this machine's PyTorch cannot use (the message
            says what is there).
    """
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    there = f"this PyTorch {torch.__version__} sees cuda={torch.cuda.is_available()}, mps={mps}; use --device auto or cpu"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but {there}")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    elif device.type == "mps" and not mps:
        raise ValueError(f"device {name!r} asked for, but {there}")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported for training; use auto, cpu, cuda or mps")
    return device


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for ``precision`` on ``device`` (fp32: none); a clear error where it is not supported."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {list(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision fp16 needs a CUDA device (it runs with a gradient scaler), not {device.type}; "
                         "use bf16 or fp32")
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def augment_for(augment: AugmentConfig, scheme: LandmarkScheme) -> tuple[AugmentConfig, str | None]:
    """``augment`` usable with ``scheme``: flips switched off when the scheme has no flip permutation.

    Returns ``(config, message)``; the message (None when nothing changed) says what was switched off and why.
    """
    if scheme.flip_permutation is None and augment.flip_prob > 0:
        return replace(augment, flip_prob=0.0), (f"scheme {scheme.name} has no flip_permutation: flip augmentation "
                                                 "is off (add one to the scheme to mirror faces in training)")
    return augment, None


class _Samples(Dataset):
    """One training face per item: key ``(epoch, face index)`` -> ``(input, target)`` tensors.

    Subclasses give ``make(index, rng, generator)`` (a batch of the faces at ``index``); the item is
    made from :func:`_face_rngs`, so it is the same in any DataLoader worker, process or batch.
    """

    def __init__(self, faces: FaceSet, seed: int) -> None:
        self.faces, self.seed = faces, seed

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, face = key
        inputs, targets = self.make(np.array([face]), *_face_rngs(self.seed, epoch, face))
        return inputs[0], targets[0]

    def make(self, index: np.ndarray, rng: np.random.Generator, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class _EpochBatches:
    """This process's batches of ``(epoch, face)`` keys: its :class:`DistributedSampler` shard of the
    epoch's shuffle in chunks of ``batch_size / world`` faces. Rank r's k-th batch together with the
    other ranks' k-th batches is the k-th global batch of a single process with ``batch_size``
    (when ``world`` divides the number of faces)."""

    def __init__(self, n_faces: int, batch_size: int, seed: int, world: int, rank: int) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} (the global batch) must be a multiple of the {world} processes")
        self.per_process, self.epoch = batch_size // world, 0
        self.sampler = DistributedSampler(range(n_faces), num_replicas=world, rank=rank, shuffle=True, seed=seed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.per_process)

    def __iter__(self):
        order = list(self.sampler)
        for k in range(0, len(order), self.per_process):
            yield [(self.epoch, i) for i in order[k:k + self.per_process]]


def _worker_init(worker: int) -> None:
    torch.set_num_threads(1)  # the workers share the cores with the training process
    np.random.seed(torch.initial_seed() % 2 ** 32)  # per-worker seeds for any global-RNG user (ours use _face_rngs)


def _write_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """Read a training log CSV as a list of dicts of floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


_RUNTIME_KEYS = ("device", "workers", "threads")  # how a run executes, not what it computes: a resume may change them


def _same_configs(saved: object, wanted: object, key: str) -> bool:
    """Whether a checkpoint's ``key`` config allows resuming with ``wanted``.

    ``train_config``: runtime fields (:data:`_RUNTIME_KEYS`) may differ, and a field the checkpoint
    lacks (saved before the field existed, e.g. ``precision``) counts as its default value.
    """
    if key == "train_config" and isinstance(saved, dict) and isinstance(wanted, dict):
        saved = asdict(TrainConfig()) | saved
        strip = lambda d: {k: v for k, v in d.items() if k not in _RUNTIME_KEYS}  # noqa: E731
        return strip(saved) == strip(wanted)
    return saved == wanted


def _resume(path: Path, kind: str, model: nn.Module, opt: torch.optim.Optimizer, configs: dict) -> tuple[int, list[dict]]:
    if not path.is_file():
        return 0, []
    ck = read_model_file(path)
    if ck.get("kind") != kind or "model" not in ck or "optimizer" not in ck:
        raise ValueError(f"{path}: {NOT_A_MODEL_FILE} (not a {kind} training checkpoint); "
                         "use another out_dir or resume=False")
    for key, value in configs.items():
        if not _same_configs(ck.get(key), value, key):
            raise CheckpointMismatchError(
                f"{path}: checkpoint was saved with another {key} ({ck.get(key)}) than this run ({value}); "
                "use another out_dir or resume=False")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    return ck["epoch"] + 1, ck["log"]


def _distributed() -> tuple[int, int]:
    """(world size, rank): (1, 0) unless torch.distributed is initialised (``facelandmarks train`` under torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def _loop(kind: str, model: nn.Module, configs: dict, cfg: TrainConfig, samples: _Samples, pixels: float,
          validate: Callable[[], dict[str, float]], out_dir: Path, resume: bool, progress: bool,
          on_epoch: Callable[[dict], None] | None) -> list[dict]:
    world, rank = _distributed()
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    autocast = _autocast(device, cfg.precision)  # checks the precision before any work
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    last = out_dir / f"{kind}_last.pt"
    start, log = _resume(last, kind, model, opt, configs) if resume else (0, [])
    net = model
    if world > 1:  # every rank starts from rank 0's weights; gradients are averaged over the ranks
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    batches = _EpochBatches(len(samples), cfg.batch_size, cfg.seed, world, rank)
    loader = DataLoader(samples, batch_sampler=batches, num_workers=cfg.workers, persistent_workers=cfg.workers > 0,
                        pin_memory=device.type == "cuda", worker_init_fn=_worker_init if cfg.workers else None)
    steps_per_epoch = len(batches)
    channels_last = getattr(samples, "channels_last", False)
    for epoch in range(start, cfg.epochs):
        _epoch_seed(cfg.seed, epoch)
        batches.set_epoch(epoch)
        net.train()
        t0, total = time.time(), torch.zeros(2, dtype=torch.float64)  # loss sum, faces
        bar = tqdm(loader, desc=f"{kind} epoch {epoch + 1}/{cfg.epochs}", disable=not progress or rank > 0, leave=False)
        for b, (inputs, targets) in enumerate(bar):
            lr = _lr_at(epoch * steps_per_epoch + b, steps_per_epoch, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            if channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            with autocast:
                pred = net(inputs)
            loss = regression_loss(pred.float(), targets, cfg, pixels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += torch.tensor([loss.item() * len(inputs), len(inputs)], dtype=torch.float64)
            bar.set_postfix(loss=f"{total[0] / total[1]:.4f}")
        if world > 1:  # the loss over every rank's faces (nccl reduces on the GPU, gloo on the CPU)
            total = total.to(device if dist.get_backend() == "nccl" else "cpu")
            dist.all_reduce(total)
            total = total.cpu()
        model.eval()
        row = {"epoch": epoch + 1, "train_loss": float(total[0] / total[1])}
        if rank == 0:
            row |= {**validate(), "lr": lr, "seconds": time.time() - t0}
            log.append(row)
            atomic_save({"kind": kind, **configs, "model": model.state_dict(), "optimizer": opt.state_dict(),
                          "epoch": epoch, "log": log}, last)
            _write_log(out_dir / f"{kind}_log.csv", log)
            if on_epoch:
                on_epoch(row)
        else:
            log.append(row | {"lr": lr, "seconds": time.time() - t0})
    if world > 1:
        dist.barrier()  # rank 0 has written its last checkpoint
    return log


class _Level1Samples(_Samples):
    """Level-1 crops ``(3, S, S)`` and unit targets ``(N, 2)`` from jittered ground-truth boxes + augmentation
    (with ``cfg.upright``: boxes of the ground truth turned upright onto ``reference`` ``(N, 2)``)."""

    channels_last = True

    def __init__(self, faces: FaceSet, config: Level1Config, cfg: TrainConfig, reference: np.ndarray) -> None:
        super().__init__(faces, cfg.seed)
        self.config, self.cfg, self.reference = config, cfg, reference

    def make(self, index: np.ndarray, rng: np.random.Generator, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        boxes, turn = _level1_boxes(self.faces.points[index], self.cfg, self.reference, self.config.n_points, rng)
        crops, targets, _ = level1_batch(self.faces, index, self.config, boxes, rng, gen, self.cfg.augment, turn)
        return crops, targets


def _level1_boxes(points: np.ndarray, cfg: TrainConfig, reference: np.ndarray, n_points: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Jittered landmark boxes of ``points`` ``(B, N, 2)`` and, with ``cfg.upright``, the rotations
    that turn them upright (the boxes are then in the turned frame), else None."""
    turn = None
    if cfg.upright:
        turn, points = upright_turn(points, reference, n_points)
    return jitter_boxes(points_box(points), rng, cfg.box_shift, cfg.box_scale), turn


def _check_schemes(train_set: FaceSet, val_set: FaceSet, n_points: int, cfg: TrainConfig) -> str:
    """The validation normaliser; errors for mismatched schemes or flips the scheme cannot do."""
    if train_set.scheme != val_set.scheme:
        raise ValueError(f"training faces use scheme {train_set.scheme.name}, validation faces {val_set.scheme.name}")
    if train_set.scheme.n_points != n_points:
        raise ValueError(f"the network predicts {n_points} points but scheme {train_set.scheme.name} has "
                         f"{train_set.scheme.n_points}: set the config's n_points")
    if augment_for(cfg.augment, train_set.scheme)[1]:
        raise ValueError(augment_for(cfg.augment, train_set.scheme)[1].replace("is off", "cannot be on")
                         + "; set TrainConfig.augment with flip_prob=0 (see augment_for)")
    return train_set.scheme.main_normaliser


def train_level1(config: Level1Config, train_cfg: TrainConfig, train_set: FaceSet, val_set: FaceSet,
                 out_dir: str | os.PathLike, resume: bool = True, progress: bool = True,
                 on_epoch: Callable[[dict], None] | None = None,
                 init: str | os.PathLike | None = None) -> tuple[Level1Net, list[dict]]:
    """Train a level-1 network on ``train_set`` (jittered ground-truth boxes + augmentation).

    Validation each epoch (rank 0): L1 loss and mean NME on ``val_set`` with boxes jittered once by
    a fixed seed, normalised by the scheme's :attr:`~facelandmarks.schemes.LandmarkScheme.main_normaliser`
    (iBUG 68: inter-ocular). ``init``: start from the weights of a level-1 model file (a second
    training cycle) instead of random ones. Returns the model (eval mode, on the CPU) and the per-epoch log.

    Raises:
        ValueError: the faces' scheme does not fit ``config.n_points``, or flip augmentation is on
            for a scheme without a flip permutation (:func:`augment_for` fixes that), or a device or
            precision this machine cannot run.
    """
    out_dir = Path(out_dir)
    norm = _check_schemes(train_set, val_set, config.n_points, train_cfg)
    torch.manual_seed(train_cfg.seed)
    model = Level1Net(config).to(memory_format=torch.channels_last)
    gt_boxes = points_box(train_set.points)
    base = transform_points(train_set.points, crop_matrices(gt_boxes, config))
    if train_set.scheme.flip_permutation is not None:  # the mean of the faces and their mirror images: symmetric
        sym = flip_points(transform_points(base, np.tile(hflip_matrix(config.input_size), (len(base), 1, 1))),
                          np.ones(len(base), bool), train_set.scheme)
        base = np.concatenate([base, sym])
    model.mean_shape.copy_(torch.as_tensor(to_unit(base.mean(0), config.input_size)))
    if init is not None:
        start, _ = load_model(init, "level1")
        if start.config != config:
            raise CheckpointMismatchError(f"{init}: its level-1 config differs from this run's")
        model.load_state_dict(start.state_dict())
    reference = model.mean_shape.double().numpy()  # an upright shape (unit crop coordinates) for cfg.upright
    val_boxes, val_turn = _level1_boxes(val_set.points, train_cfg, reference, config.n_points, np.random.default_rng(12345))
    val_crops, val_targets, val_mats = level1_batch(val_set, np.arange(len(val_set)), config, val_boxes,
                                                    np.random.default_rng(0), torch.Generator(), turn=val_turn)
    device = resolve_device(train_cfg.device)

    def validate() -> dict[str, float]:
        with torch.no_grad():
            pred = torch.cat([model(val_crops[i:i + 64].to(device).contiguous(memory_format=torch.channels_last)).cpu()
                              for i in range(0, len(val_crops), 64)])
        loss = (pred - val_targets).abs().mean().item()
        pts = transform_points(from_unit(pred.numpy().astype(np.float64), config.input_size), np.linalg.inv(val_mats))
        return {"val_loss": loss, "val_nme": float(np.mean(metrics.nme(pts, val_set.points, norm, scheme=val_set.scheme)))}

    configs = {"config": asdict(config), "train_config": asdict(train_cfg), "init": None if init is None else str(init)}
    log = _loop("level1", model, configs, train_cfg, _Level1Samples(train_set, config, train_cfg, reference), config.input_size,
                validate, out_dir, resume, progress, on_epoch)
    model.cpu()
    if _distributed()[1] == 0:
        save_model(out_dir / "level1.pt", "level1", model, config, {"train_config": asdict(train_cfg), "log": log,
                                                                   "init": configs["init"], "scheme": train_set.scheme.name})
    return model.eval(), log


def level1_predictions(level1: Level1Net, faces: FaceSet, boxes: np.ndarray, chunk: int = 64,
                       flip: bool = False, recrop: bool = False) -> np.ndarray:
    """Level-1 points ``(B, N, 2)`` (image frame) of ``faces`` cropped from landmark ``boxes`` ``(B, 4)``,
    computed as :class:`~facelandmarks.models.cascade.Cascade` computes the points level 2 starts from.

    ``flip``: the average of the crop's points and its mirror image's (mapped back and renamed by the
    scheme's flip permutation), the cascade's ``level1_flip``. ``recrop``: level 1's second pass, on
    the crop re-made from its first points (the cascade's ``recrop``).
    """
    if flip and faces.scheme.flip_permutation is None:
        raise ValueError(f"the {faces.scheme.name} scheme has no flip permutation: train without level1_flip")
    return Cascade(level1).predict_batch(faces.images, boxes, chunk=chunk, score=False, level1_flip=flip,
                                         recrop=recrop).level1_points


class _Level2Samples(_Samples):
    """Level-2 patches ``(N, 3, P, P)`` and targets ``(N, K, 2)``, from simulated (or, for half of the
    faces, real) level-1 points."""

    def __init__(self, faces: FaceSet, config: Level2Config, cfg: TrainConfig, canonical: np.ndarray,
                 neighbours: np.ndarray, sim: SimulatedErrors, real: np.ndarray | None) -> None:
        super().__init__(faces, cfg.seed)
        self.config, self.cfg, self.canonical, self.neighbours, self.sim, self.real = config, cfg, canonical, neighbours, sim, real

    def make(self, index: np.ndarray, rng: np.random.Generator, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        start = None
        if self.real is not None and rng.random() < 0.5:
            start = self.real[rng.integers(len(self.real), size=len(index)), index]
        batch = level2_batch(self.faces, index, self.config, self.canonical, self.neighbours, rng, gen, self.sim,
                             self.cfg.augment, start)
        return batch["patches"], batch["targets"]


def train_level2(config: Level2Config, train_cfg: TrainConfig, sim: SimulatedErrors, train_set: FaceSet,
                 val_set: FaceSet, out_dir: str | os.PathLike, resume: bool = True, progress: bool = True,
                 on_epoch: Callable[[dict], None] | None = None, level1: str | os.PathLike | None = None,
                 init: str | os.PathLike | None = None, level1_variants: int = 4,
                 level1_flip: bool = False, recrop: bool = False,
                 after_level2: str | os.PathLike | None = None,
                 level1_recrop: str | os.PathLike | None = None,
                 shape_correction: float | None = None) -> tuple[Level2Net, list[dict]]:
    """Train the level-2 patch networks on simulated level-1 errors (see :class:`SimulatedErrors`).

    With ``level1`` (a level-1 model file) half of the training faces start instead from that
    network's real predictions (``level1_variants`` jittered boxes per face, computed once), so
    level 2 also learns what level 1 really gets wrong; validation then starts from level 1's real
    predictions on ``val_set``. ``level1_flip``: those predictions average level 1 on the crop and on
    its mirror image (the cascade's ``level1_flip``); ``recrop``: they come from level 1's second pass
    on a crop re-made from its first points (the cascade's ``recrop``). ``after_level2`` (a level-2 model file, with
    ``level1``): the real predictions are that level 2's refinement of level 1's, so the network trained
    here learns what the cascade's level 2 still gets wrong (a finer level 3 on real errors).
    ``init``: start from the weights of a level-2 model file. ``level1_recrop`` (a level-1 model file,
    with ``recrop``): the recrop pass runs this second-pass network instead of ``level1`` (the
    cascade's ``level1_recrop``). ``shape_correction`` (a ridge penalty, with ``level1``): after
    training, fit the linear correction of level 2's points
    (:func:`~facelandmarks.models.shape_correction.fit_shape_correction`) on its predictions from
    the real starting points of the training faces, and save it in the level-2 file (the cascade
    applies it; ``val_nme_corrected`` in the file is the validation NME with it).

    Validation each epoch (rank 0): mean NME (the scheme's main normaliser) on ``val_set`` of the
    starting points (``val_start_nme``) and after refinement (``val_nme``), the same starting points
    every epoch. Raises as :func:`train_level1`.

    Warns:
        UserWarning: with ``config.k > 1`` some patch would have to place a neighbouring point more
            than one patch width away in the canonical frame (a sparse scheme such as five points:
            4 widths); use ``k=1`` there. Measured on 80 five-point faces, 20 epochs: k=3 took the
            validation NME from 0.067 to 0.105, k=1 to 0.056 (``docs/training.md``).
    """
    out_dir = Path(out_dir)
    norm = _check_schemes(train_set, val_set, config.n_points, train_cfg)
    torch.manual_seed(train_cfg.seed)
    canonical = canonical_shape(train_set.points, config.face_size)
    model = Level2Net(config, canonical)
    if init is not None:  # a second cycle, or the same networks at another patch scale (face_size)
        start_model, _ = load_model(init, "level2")
        if replace(start_model.config, face_size=config.face_size) != config:
            raise CheckpointMismatchError(f"{init}: its level-2 config differs from this run's (other than face_size)")
        model.load_state_dict(start_model.state_dict())
        if start_model.config.face_size == config.face_size:
            canonical = model.canonical.double().numpy()
        else:  # same shape, other scale: the neighbours stay, the canonical shape is this run's
            model.canonical.copy_(torch.as_tensor(canonical, dtype=torch.float32))
    nbrs = model.neighbours.numpy()
    reach = float(np.linalg.norm(canonical[nbrs] - canonical[:, None], axis=-1).max()) / config.patch_size
    if reach > 1.0:  # iBUG 68 at the default face_size: 0.6 patch widths
        warnings.warn(f"level 2 with k={config.k}: some patch must place a point {reach:.1f} patch widths away "
                      f"(scheme {train_set.scheme.name}, face_size {config.face_size:g}); for sparse schemes use "
                      "k=1 (`--k 1`), each patch refining its own point", stacklevel=2)
    real_train = real_val = None
    if after_level2 is not None and level1 is None:
        raise ValueError("after_level2 refines level 1's real predictions: give level1 too")
    if level1_recrop is not None and not (recrop and level1 is not None):
        raise ValueError("level1_recrop runs level 1's recrop pass: give level1 and recrop=True too")
    if shape_correction is not None and level1 is None:
        raise ValueError("shape_correction is fitted on level 2's predictions from level 1's real points: give level1 too")
    if level1 is not None:
        net1 = fuse_for_inference(load_model(level1, "level1")[0])
        net2 = None if after_level2 is None else fuse_for_inference(load_model(after_level2, "level2")[0])
        if level1_flip and train_set.scheme.flip_permutation is None:
            raise ValueError(f"the {train_set.scheme.name} scheme has no flip permutation: train without level1_flip")
        net1b = None if level1_recrop is None else fuse_for_inference(load_model(level1_recrop, "level1")[0])
        start = Cascade(net1, net2, level1_flip=level1_flip, recrop=recrop, level1_recrop=net1b)

        def real(faces: FaceSet, boxes: np.ndarray) -> np.ndarray:  # the points the network trained here starts from
            return start.predict_batch(faces.images, boxes, chunk=64, score=False).points

        real_train = np.stack([
            real(train_set, jitter_boxes(points_box(train_set.points), np.random.default_rng([train_cfg.seed, v]),
                                         train_cfg.box_shift, train_cfg.box_scale))
            for v in range(level1_variants)])  # (V, B, N, 2)
        real_val = real(val_set, jitter_boxes(points_box(val_set.points), np.random.default_rng(12345),
                                              train_cfg.box_shift, train_cfg.box_scale))
    val = level2_batch(val_set, np.arange(len(val_set)), config, canonical, nbrs, np.random.default_rng(12345),
                       torch.Generator(), sim, level1_points=real_val)
    device = resolve_device(train_cfg.device)

    def validate() -> dict[str, float]:
        with torch.no_grad():
            offsets = torch.cat([model(val["patches"][i:i + 16].to(device)) for i in range(0, len(val_set), 16)])
            refined = model.vote(torch.as_tensor(val["centres"], dtype=torch.float32, device=device), offsets).cpu().numpy()
        loss = (offsets.cpu() - val["targets"]).abs().mean().item()
        return {"val_loss": loss,
                "val_start_nme": float(np.mean(metrics.nme(val["centres"], val["gt"], norm, scheme=val_set.scheme))),
                "val_nme": float(np.mean(metrics.nme(refined.astype(np.float64), val["gt"], norm, scheme=val_set.scheme)))}

    configs = {"config": asdict(config), "train_config": asdict(train_cfg), "simulated_errors": asdict(sim),
               "level1": None if level1 is None else str(level1), "init": None if init is None else str(init),
               "level1_flip": level1_flip, "recrop": recrop, "after_level2": None if after_level2 is None else str(after_level2),
               "level1_recrop": None if level1_recrop is None else str(level1_recrop),
               "shape_correction_ridge": shape_correction}
    samples = _Level2Samples(train_set, config, train_cfg, canonical, nbrs, sim, real_train)
    log = _loop("level2", model, configs, train_cfg, samples, config.patch_size, validate, out_dir, resume, progress, on_epoch)
    model.cpu()
    extra = {}
    if shape_correction is not None and _distributed()[1] == 0:
        extra = _fit_correction(model.eval(), train_set, val_set, real_train, real_val, shape_correction, norm)
        print(f"shape correction (ridge {shape_correction:g}, {extra['shape_correction']['faces']} predictions): "
              f"validation NME {log[-1]['val_nme']:.4f} -> {extra['val_nme_corrected']:.4f}", flush=True)
    if _distributed()[1] == 0:
        save_model(out_dir / "level2.pt", "level2", model, config,
                   {k: v for k, v in configs.items() if k != "config"} | {"log": log, "scheme": train_set.scheme.name}
                   | extra)
    return model.eval(), log


def _fit_correction(model: Level2Net, train_set: FaceSet, val_set: FaceSet, real_train: np.ndarray,
                    real_val: np.ndarray, ridge: float, norm: str) -> dict:
    """The shape correction of ``model``'s predictions from the real starts ``real_train`` ``(V, B, N, 2)``,
    as model-file entries, with the validation NME from ``real_val`` after it."""
    from .models.shape_correction import fit_shape_correction

    with torch.no_grad():
        runs = [Cascade._refine(model, train_set.images, start, 64) for start in real_train]
        val_points, val_rect = Cascade._refine(model, val_set.images, real_val, 64)[:2]
    correction = fit_shape_correction(np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs]),
                                      np.concatenate([train_set.points] * len(runs)), ridge)
    corrected = correction.apply(val_points, val_rect)
    return {"shape_correction": correction.to_dict(),
            "val_nme_corrected": float(np.mean(metrics.nme(corrected, val_set.points, norm, scheme=val_set.scheme)))}

