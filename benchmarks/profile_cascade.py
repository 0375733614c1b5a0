"""Where the cascade's time goes at a batch: level 1 and level 2, their networks and their warps.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/profile_cascade.py [--float | --onnx] [--faces 64]

Times are medians of ``--repeats`` runs, in ms per face, on HELEN test faces with jittered
ground-truth boxes (no detection), with the int8 trunks unless ``--float`` (the fused float cascade)
or ``--onnx`` (the networks on ONNX Runtime, ``load_pretrained(backend="onnxruntime")``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from facelandmarks import datasets
from facelandmarks.geometry import points_box, warp_batch
from facelandmarks.models.pretrained import load_pretrained
from facelandmarks.models.level1 import crop_matrices


def multiply_adds(net: torch.nn.Module, example: torch.Tensor) -> int:
    """Multiply-adds of one forward pass of ``net`` on ``example``: convolution and linear layers,
    counted by forward hooks (batch norm, pooling and activations left out)."""
    total = 0

    def hook(module: torch.nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(example)
    for handle in handles:
        handle.remove()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--faces", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--float", action="store_true", help="the fused float cascade instead of the int8 trunks")
    parser.add_argument("--onnx", action="store_true", help="the networks on ONNX Runtime instead of the int8 trunks")
    parser.add_argument("--chunks", type=int, nargs="*", default=[2, 4, 8, 64],
                        help="also compare these chunk sizes of predict_batch (faces per network call), "
                             "fused and int8, in interleaved rounds")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    faces = datasets.load_split("test", args.data, limit=args.faces, progress=False)
    n = len(faces)
    boxes = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(0))
    if args.onnx:
        cascade, kind = load_pretrained(backend="onnxruntime"), "ONNX Runtime networks"
    else:
        cascade = load_pretrained(fuse=True) if args.float else load_pretrained(int8=True)
        kind = "fused float" if args.float else "int8 trunks"
    plain = load_pretrained()
    size1, p2 = plain.level1.config.input_size, plain.level2.config.patch_size
    l1 = multiply_adds(plain.level1, torch.zeros(1, 3, size1, size1))
    l2 = multiply_adds(plain.level2, torch.zeros(1, plain.n_points, 3, p2, p2))
    print(f"multiply-adds per face (convolution and linear layers): level 1 {l1 / 1e6:.0f} M, "
          f"level 2 {l2 / 1e6:.0f} M (its {plain.n_points} patch networks), total {(l1 + l2) / 1e6:.0f} M")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} faces at once; "
          f"{kind}; median of {args.repeats}, ms per face")

    def timed(label: str, fn):
        """Print the median time of ``fn`` per face; return its (last) result."""
        result = fn()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        print(f"  {label:38s} {1000 * np.median(times) / n:6.2f}", flush=True)
        return result

    timed("whole cascade (levels 1 + 2)", lambda: cascade.predict_batch(faces.images, boxes))
    timed("level 1 alone (crops + network + maths)", lambda: cascade.predict_batch(faces.images, boxes, use_level2=False))
    crop_m = crop_matrices(boxes, cascade.level1.config)
    size = cascade.level1.config.input_size
    crops = timed("  level 1 crops (warps)", lambda: [warp_batch(faces.images[i], crop_m[i][None], size) for i in range(n)])
    crops = (torch.cat(crops) / 255.0).contiguous(memory_format=torch.channels_last)
    timed("  level 1 network", lambda: cascade.level1(crops))
    result = cascade.predict_batch(faces.images, boxes)
    p = cascade.level2.config.patch_size
    patches = timed("  level 2 patches (warps)",
                    lambda: [warp_batch(faces.images[i], result.patch_matrices[i], p) for i in range(n)])
    patches = torch.stack(patches) / 255.0
    timed("  level 2 network (68 patch networks)", lambda: cascade.level2(patches))
    trunk_in = (patches.reshape(-1, 3, p, p) - 0.5).contiguous(memory_format=torch.channels_last)
    if not args.onnx:
        timed("    its convolution trunk", lambda: cascade.level2.features(trunk_in))
    if args.chunks:
        compare_chunks(faces, boxes, args.chunks, args.repeats, onnx=args.onnx)


def compare_chunks(faces: datasets.FaceSet, boxes: np.ndarray, chunks: list[int], rounds: int,
                   onnx: bool = False) -> None:
    """Faces per second of the whole cascade for each chunk size, fused and int8 (and ONNX Runtime
    with ``onnx``); the rounds interleave every setting so that a machine whose speed drifts favours none."""
    models = {"fused float": load_pretrained(fuse=True), "int8 trunks": load_pretrained(int8=True)}
    if onnx:
        models["onnxruntime"] = load_pretrained(backend="onnxruntime")
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for name, cascade in models.items():
            for chunk in chunks:
                t0 = time.perf_counter()
                cascade.predict_batch(faces.images, boxes, chunk=chunk)
                rates.setdefault((name, chunk), []).append(len(faces) / (time.perf_counter() - t0))
    print(f"faces/s for all {len(faces)} faces at once by chunk size (median of {rounds} interleaved rounds):")
    for name in models:
        print(f"  {name:12s} " + "  ".join(f"chunk {c}: {np.median(rates[name, c]):5.1f}" for c in chunks))


if __name__ == "__main__":
    main()
