"""The shipped default's time per face at batch 1 (one face per call), torch fused against torch plain.

Issue 13's limit: the shipped default, fused float, at most 20 ms per face at batch 1 on the 2-core
machine, without detection. ``facelandmarks benchmark`` times this among eleven models with
``BATCH1_FACES`` calls a round, where one slow moment of a shared machine moves a row; this script
times only the torch cascades, many faces a round, in interleaved rounds, and prints the median
over rounds (each round: the mean over its calls) and the median over every call.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/batch1.py [--faces 40] [--rounds 7]

Faces: the first ``--faces`` HELEN test faces (384-pixel crops), ground-truth boxes jittered with
seed 0, as the benchmark uses them. Every cascade is called as a user calls it (``predict_batch``
with its defaults: ``recrop``, ``level1_flip``, the shape correction and the confidence score).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from facelandmarks import datasets
from facelandmarks.geometry import points_box
from facelandmarks.models.pretrained import load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="data folder (default: $FACELANDMARKS_DATA)")
    parser.add_argument("--faces", type=int, default=40, help="faces timed one at a time per model and round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    faces = datasets.load_split("helen", args.data, limit=args.faces, progress=False)
    boxes = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(0))
    models = {"torch plain": load_pretrained(), "torch fused": load_pretrained(fuse=True),
              "torch int8": load_pretrained(int8=True)}
    calls: dict[str, list[float]] = {label: [] for label in models}
    rounds: dict[str, list[float]] = {label: [] for label in models}
    with torch.no_grad():
        for cascade in models.values():  # warm-up
            cascade.predict_batch(faces.images[:1], boxes[:1])
        for _ in range(args.rounds):
            for label, cascade in models.items():
                times = []
                for i in range(len(faces)):
                    t0 = time.perf_counter()
                    cascade.predict_batch(faces.images[i:i + 1], boxes[i:i + 1])
                    times.append(time.perf_counter() - t0)
                calls[label] += times
                rounds[label].append(float(np.mean(times)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(faces)} HELEN test faces one per "
          f"call, {args.rounds} interleaved rounds; ms per face at batch 1, no detection")
    print(f"{'model':<14}{'median of rounds':>18}{'median of calls':>17}{'fastest round':>15}{'slowest round':>15}")
    for label in models:
        r = 1000 * np.array(rounds[label])
        print(f"{label:<14}{np.median(r):>18.1f}{1000 * np.median(calls[label]):>17.1f}{r.min():>15.1f}{r.max():>15.1f}")


if __name__ == "__main__":
    main()
