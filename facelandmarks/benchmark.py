"""``facelandmarks benchmark``: every backend side by side in one process, quiet and under a competing load.

Models: the torch cascade plain, fused and with int8 trunks (also with torch held to one thread);
the same networks on ONNX Runtime (float and int8, run by one worker thread per core; int8 run as the
paper runs it, level 1 once and without the confidence score; int8 with one worker; int8 with one
worker and torch's number of threads per network call); dlib's 68-point shape predictor when its extra is installed. Every
cascade is called as a user calls it (``predict_batch``: level 1 on the box, again on the re-made crop
and on its mirror image (``recrop``, ``level1_flip``), level 2 and the confidence score). Tasks: batch 1 (one face per call,
``BATCH1_FACES`` calls a round) and batch 64 (one call), on HELEN test faces with jittered ground-truth boxes (no
detection). Face detection (the default detector, and ``dlib_hog_fast``) is timed in the same rounds
on the same images; "with detection" adds it to each model's time (it is the same code for all).

The machine's speed drifts (shared CPUs), so each round times every model and the figures are
medians over rounds. Then the same rounds run again while ``os.cpu_count()`` busy processes, started
and stopped by the benchmark, compete for the CPU.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

__all__ = ["run", "competing_load"]

BATCH1_FACES = 16
"""Faces timed one at a time per model and round: five (about 0.1 s) were too few on a shared machine,
where the fused float cascade once read 24.2 ms per face beside 16.8 for the plain one."""

SUMMARY = ("torch fused", "torch int8", "onnxruntime", "onnxruntime int8", "dlib shape predictor")
"""The models whose time with the other detector is also printed."""
# a busy loop that ends when the benchmark's process does, even if that one is killed
BURN = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(10 ** 6): pass"


@contextmanager
def competing_load(processes: int) -> Iterator[None]:
    """Run ``processes`` Python processes that spin on the CPU for the duration of the ``with`` block."""
    procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(processes)]
    try:
        time.sleep(0.5)  # let them start
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def _seconds(fn: Callable[[], object], calls: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def _one_thread(predict: Callable) -> Callable:
    from .models.onnx import _torch_threads

    def predict_one_thread(*args, **kwargs):
        with _torch_threads(1):
            return predict(*args, **kwargs)
    return predict_one_thread


def run(args: argparse.Namespace) -> int:
    import torch

    with torch.no_grad():  # gradients off for the timing only: the caller's grad mode is left as it was
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import torch

    from . import datasets, detect
    from .geometry import points_box
    from .models.pretrained import load_pretrained

    if args.threads:
        torch.set_num_threads(args.threads)
    faces = datasets.load_split("helen", args.data, limit=args.batch_size, progress=False)  # 384 px crops
    n = len(faces)
    boxes = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(0))
    models: dict[str, Callable[[list, np.ndarray], object]] = {}
    for label, kwargs in (("torch plain", {}), ("torch fused", {"fuse": True}), ("torch int8", {"int8": True})):
        models[label] = load_pretrained(**kwargs).predict_batch
    for label in ("torch fused", "torch int8"):  # the same, with torch restricted to one thread as ONNX Runtime is
        models[f"{label} 1 thread"] = _one_thread(models[label])
    versions = [f"torch {torch.__version__} ({torch.get_num_threads()} threads unless named)"]
    try:
        import onnxruntime

        from .models.onnx import DEFAULT_THREADS, WORKERS

        models["onnxruntime"] = load_pretrained(backend="onnxruntime").predict_batch
        fastest = load_pretrained(backend="onnxruntime", int8=True).predict_batch
        models["onnxruntime int8"] = fastest
        # the paper's way: level 1 once (no recrop, no mirrored pass), no confidence score
        models["onnxruntime int8 level 1 once"] = lambda images, boxes: fastest(images, boxes, score=False, recrop=False,
                                                                                level1_flip=False)
        if WORKERS > 1:  # the chunks one after the other, as before the backend ran them side by side
            serial = load_pretrained(backend="onnxruntime", int8=True)
            serial.workers = 1
            models["onnxruntime int8 1 worker"] = serial.predict_batch
        # one worker, ONNX Runtime with as many threads per call as torch uses (its own parallelism)
        threads = torch.get_num_threads()
        if threads > 1:
            from .models.onnx import to_onnxruntime

            intra = to_onnxruntime(load_pretrained(int8=True), threads=threads)
            intra.workers = 1
            models[f"onnxruntime int8 {threads} threads"] = intra.predict_batch
        versions.append(f"onnxruntime {onnxruntime.__version__} ({DEFAULT_THREADS} thread per call, {WORKERS} "
                        "workers unless named)")
    except ImportError as err:
        print(f"(no ONNX Runtime rows: {err})")
    try:
        detect.dlib_model_file()
        import dlib

        def dlib_predict(images: list, landmark_boxes: np.ndarray) -> object:
            dlib_boxes = detect.BOX_MAPPINGS["dlib_hog"].invert(landmark_boxes)  # the same faces, dlib's convention
            return [detect.dlib_points(im, box) for im, box in zip(images, dlib_boxes)]

        models["dlib shape predictor"] = dlib_predict
        versions.append(f"dlib {dlib.__version__} (1 thread)")
    except ImportError as err:
        print(f"(no dlib row: {err})")
    detector = args.detector or detect.DEFAULT_DETECTOR
    detectors = [detector] + [d for d in ("dlib_hog", "dlib_hog_fast") if d != detector]

    def one_round(times: dict) -> None:
        for label, predict in models.items():
            one = _seconds(lambda: [predict(faces.images[i % n:i % n + 1], boxes[i % n:i % n + 1])
                                    for i in range(BATCH1_FACES)]) / BATCH1_FACES
            times.setdefault((label, 1), []).append(one)
            times.setdefault((label, n), []).append(_seconds(lambda: predict(faces.images, boxes)))
        for name in detectors:
            times.setdefault((name, n), []).append(_seconds(lambda: [detect.detect_faces(im, name) for im in faces.images]))

    def phase(title: str) -> dict[tuple[str, int], float]:
        for predict in models.values():  # warm-up
            predict(faces.images[:1], boxes[:1])
            predict(faces.images[:8], boxes[:8])
        times: dict = {}
        for _ in range(args.repeats):
            one_round(times)
        med = {key: float(np.median(v)) for key, v in times.items()}
        det = med[detector, n] / n
        print(f"\n{title}; load average at its end {os.getloadavg()[0]:.1f} (1 min)")
        print("face detection, ms per image: " + ", ".join(f"{d} {1000 * med[d, n] / n:.1f}" for d in detectors))
        print(f"{'':28s} {'no detection':^29s}  {'with detection (+' + f'{1000 * det:.1f} ms/image)':^31s}")
        print(f"{'model':28s} {'batch 1 ms/face':>15s} {'batch ' + str(n) + ' faces/s':>14s}  "
              f"{'batch 1 ms/face':>15s} {'batch ' + str(n) + ' faces/s':>15s}  {'x dlib (1, ' + str(n) + ')':>15s} "
              f"{'x torch fused (1, ' + str(n) + ')':>22s}")
        ref = {key: med[key] for key in med if key[0] == "torch fused"}
        dl = {key: med[key] for key in med if key[0] == "dlib shape predictor"}
        for label in models:
            one, batch = med[label, 1], med[label, n] / n
            vs_dlib = (f"{dl['dlib shape predictor', 1] / one:6.2f} {dl['dlib shape predictor', n] / n / batch:6.2f}"
                       if dl else "")
            vs_torch = f"{ref['torch fused', 1] / one:6.2f} {ref['torch fused', n] / n / batch:6.2f}"
            print(f"{label:28s} {1000 * one:15.1f} {1 / batch:14.1f}  {1000 * (one + det):15.1f} "
                  f"{1 / (batch + det):15.1f}  {vs_dlib:>15s} {vs_torch:>22s}")
        for other in detectors[1:]:
            det_other = med[other, n] / n
            print(f"with {other} instead ({1000 * det_other:.1f} ms/image), batch 1 ms/face and batch {n} faces/s: "
                  + ", ".join(f"{label} {1000 * (med[label, 1] + det_other):.1f} and "
                              f"{1 / (med[label, n] / n + det_other):.1f}"
                              for label in models if label in SUMMARY))
        return med

    print(f"{', '.join(versions)}; {n} HELEN test faces, ground-truth boxes jittered (batch 1: "
          f"{BATCH1_FACES} calls of one face each a round); medians of {args.repeats} "
          f"rounds that interleave the models; detection: {detector} on {faces.images[0].shape[1]}x"
          f"{faces.images[0].shape[0]} images, timed in the same rounds and added; x: speed ratio (> 1 faster)")
    quiet = phase("quiet (nothing started by the benchmark)")
    procs = args.load_processes if args.load_processes is not None else (os.cpu_count() or 1)
    with competing_load(procs):
        loaded = phase(f"under a competing load: {procs} busy processes (Python busy loops) started by the benchmark")
    print(f"\nunder the load / quiet, throughput at batch 1 and at batch {n}:")
    for label in models:
        print(f"  {label:28s} {quiet[label, 1] / loaded[label, 1]:5.2f} {quiet[label, n] / loaded[label, n]:5.2f}")
    return 0
