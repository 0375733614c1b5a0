"""Where the cascade's time goes at a batch: its networks, its warps, the rest, and face detection.

    FACELANDMARKS_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_cascade.py \\
        [--onnx] [--float] [--faces 64]

Times are medians of ``--repeats`` runs, in ms per face, on HELEN test faces with jittered
ground-truth boxes, for the cascade as it is called by default (level 1 on the box, again on the
re-made crop and on its mirror image: ``recrop`` and ``level1_flip``; level 2; the confidence
score) with one worker (``cascade.workers = 1``), so that the parts add up to the whole. The
cascade: the int8 trunks, or the fused float networks with ``--float``; in torch, or on ONNX
Runtime with ``--onnx`` (``load_pretrained(backend="onnxruntime")``, whose warps run in one torch
thread: so do all the parts timed here then). The parts: level 1's crops (warps, both passes) and
its three network passes, level 2's patches (warps) and network, and the rest (similarity fits,
votes, frame matrices, the score's features) as the whole minus those. Then face detection per
image with each dlib detector on the same images, and ``cascade.predict_all(image)`` (what
``predict(image)`` runs) end to end, detection included, one image at a time, the way a user
calls it (with the cascade's default workers).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from facelandmarks import datasets, detect
from facelandmarks.geometry import points_box, warp_batch
from facelandmarks.models.pretrained import load_pretrained
from facelandmarks.models.cascade import CHUNK
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
    parser.add_argument("--float", action="store_true", help="the fused float networks instead of the int8 trunks")
    parser.add_argument("--onnx", action="store_true", help="the networks on ONNX Runtime (the [onnx] extra)")
    parser.add_argument("--chunks", type=int, nargs="*", default=[2, 4, 8, 64],
                        help="also compare these chunk sizes of predict_batch (faces per network call), "
                             "fused and int8 (and ONNX Runtime with --onnx), in interleaved rounds")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    faces = datasets.load_split("helen", args.data, limit=args.faces, progress=False)
    n = len(faces)
    boxes = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(0))
    kind = "int8 trunks" if not args.float else "fused float networks"
    torch_threads = torch.get_num_threads()
    if args.onnx:
        from facelandmarks.models.onnx import WARP_THREADS

        cascade = load_pretrained(backend="onnxruntime", int8=not args.float)
        torch.set_num_threads(WARP_THREADS)  # what the ONNX Runtime cascade does while it predicts
        kind += f" on ONNX Runtime, warps in {WARP_THREADS} torch thread(s)"
    else:
        cascade = load_pretrained(fuse=True) if args.float else load_pretrained(int8=True)
    workers, cascade.workers = cascade.workers, 1  # one part after the other: the parts add up to the whole
    plain = load_pretrained()
    size1, p2 = plain.level1.config.input_size, plain.level2.config.patch_size
    l1 = multiply_adds(plain.level1, torch.zeros(1, 3, size1, size1))
    l2 = multiply_adds(plain.level2, torch.zeros(1, plain.n_points, 3, p2, p2))
    print(f"multiply-adds per face (convolution and linear layers): level 1 {l1 / 1e6:.0f} M, "
          f"level 2 {l2 / 1e6:.0f} M (its {plain.n_points} patch networks), total {(l1 + l2) / 1e6:.0f} M")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} faces at once; "
          f"{kind}; median of {args.repeats}, ms per face (share of the whole)")
    medians: dict[str, float] = {}

    def timed(label: str, fn, per: int = n, show: bool = True, share: bool = True):
        """The median time of ``fn`` per face (``per``: faces or images per call); return its (last) result."""
        result = fn()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        medians[label] = 1000 * float(np.median(times)) / per
        if show:
            text = f" ({100 * medians[label] / medians['whole']:3.0f}%)" if share and "whole" in medians else ""
            print(f"  {label:50s} {medians[label]:6.2f}{text}", flush=True)
        return result

    result = timed("whole", lambda: cascade.predict_batch(faces.images, boxes), show=False)
    print(f"  {'whole cascade (the default call, one worker)':50s} {medians['whole']:6.2f}")
    timed("  level 1 once, no score (the paper's way)",
          lambda: cascade.predict_batch(faces.images, boxes, score=False, recrop=False, level1_flip=False))
    timed("level 1 alone (crops + network + maths)",
          lambda: cascade.predict_batch(faces.images, boxes, use_level2=False, score=False))
    size = cascade.level1.config.input_size
    crop_m = np.concatenate([crop_matrices(boxes, cascade.level1.config), result.crop_matrix])  # both passes
    crops = timed("  level 1 crops (warps), both passes",
                  lambda: [warp_batch(faces.images[i % n], crop_m[i][None], size) for i in range(2 * n)])
    crops = (torch.cat(crops) / 255.0).contiguous(memory_format=torch.channels_last)
    first = [crops[i:i + CHUNK] for i in range(0, n, CHUNK)]  # as predict_batch calls it
    second = [crops[n + i:n + i + CHUNK] for i in range(0, n, CHUNK)]
    timed("  level 1 network, first pass (on the box)", lambda: [cascade.level1(c) for c in first])
    timed("  level 1 network, second pass (re-made crop)", lambda: [cascade.level1(c) for c in second])
    mirrored = [c.flip(-1).contiguous(memory_format=torch.channels_last) for c in second]
    timed("  level 1 network on the mirrored crops", lambda: [cascade.level1(c) for c in mirrored])
    p = cascade.level2.config.patch_size
    patches = timed("  level 2 patches (warps)",
                    lambda: [warp_batch(faces.images[i], result.patch_matrices[i], p) for i in range(n)])
    patches = torch.stack(patches) / 255.0
    timed("  level 2 network (68 patch networks)", lambda: [cascade.level2(patches[i:i + CHUNK]) for i in range(0, n, CHUNK)])
    parts = ("  level 1 crops (warps), both passes", "  level 1 network, first pass (on the box)",
             "  level 1 network, second pass (re-made crop)", "  level 1 network on the mirrored crops",
             "  level 2 patches (warps)", "  level 2 network (68 patch networks)")
    rest = medians["whole"] - sum(medians[k] for k in parts)
    print(f"  {'  the rest (fits, votes, matrices, score)':50s} {rest:6.2f} ({100 * rest / medians['whole']:3.0f}%)")
    warps = medians[parts[0]] + medians[parts[4]]
    nets = medians[parts[1]] + medians[parts[2]] + medians[parts[3]] + medians[parts[5]]
    print(f"  networks {nets:.2f} ({100 * nets / medians['whole']:.0f}%), warps {warps:.2f} "
          f"({100 * warps / medians['whole']:.0f}%), the rest {rest:.2f} ({100 * rest / medians['whole']:.0f}%)")

    cascade.workers = workers
    size_text = f"{faces.images[0].shape[1]}x{faces.images[0].shape[0]}"
    print(f"face detection and the whole call, ms per image ({size_text} images, one face each):")
    for detector in ("dlib_hog", "dlib_hog_fast"):
        timed(f"  detection ({detector})", lambda: [detect.detect_faces(im, detector) for im in faces.images],
              share=False)
        # predict_all: what predict(image) runs, without its NoFaceError on the few faces not found
        timed(f"  cascade.predict_all(image, detector={detector!r})",
              lambda: [cascade.predict_all(im, detector=detector) for im in faces.images], share=False)
    for detector in ("dlib_hog", "dlib_hog_fast"):
        det, call = medians[f"  detection ({detector})"], medians[f"  cascade.predict_all(image, detector={detector!r})"]
        print(f"  {detector}: detection is {100 * det / call:.0f}% of the whole call")
    if args.chunks:
        torch.set_num_threads(torch_threads)
        compare_chunks(faces, boxes, args.chunks, args.repeats, onnx=args.onnx)


def compare_chunks(faces: datasets.FaceSet, boxes: np.ndarray, chunks: list[int], rounds: int,
                   onnx: bool = False) -> None:
    """Faces per second of the whole cascade for each chunk size, fused and int8 (and ONNX Runtime
    with ``onnx``); the rounds interleave every setting so that a machine whose speed drifts favours none."""
    models = {"fused float": load_pretrained(fuse=True), "int8 trunks": load_pretrained(int8=True)}
    if onnx:
        models["onnxruntime"] = load_pretrained(backend="onnxruntime")
        models["onnxruntime int8"] = load_pretrained(backend="onnxruntime", int8=True)
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for name, cascade in models.items():
            for chunk in chunks:
                t0 = time.perf_counter()
                cascade.predict_batch(faces.images, boxes, chunk=chunk)
                rates.setdefault((name, chunk), []).append(len(faces) / (time.perf_counter() - t0))
    print(f"faces/s for all {len(faces)} faces at once by chunk size (median of {rounds} interleaved rounds):")
    for name in models:
        print(f"  {name:16s} " + "  ".join(f"chunk {c}: {np.median(rates[name, c]):5.1f}" for c in chunks))


if __name__ == "__main__":
    main()
