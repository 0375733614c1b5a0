"""The ``facelandmarks`` command line: predict, evaluate, train, benchmark."""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace

__all__ = ["main"]


def _train(args: argparse.Namespace) -> int:
    import json
    import time

    from . import datasets
    from .models.level1 import DEEP, SHALLOW
    from .models.level2 import Level2Config
    from .train import SimulatedErrors, TrainConfig, train_level1, train_level2

    faces = datasets.split_faces("train", args.data)
    train_faces, val_faces = datasets.train_val_split(faces, args.val_fraction, args.seed)
    if args.limit:
        train_faces, val_faces = train_faces[:args.limit], val_faces[:max(2, args.limit // 4)]
    train_set = datasets.FaceSet.load(train_faces)
    val_set = datasets.FaceSet.load(val_faces)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      val_fraction=args.val_fraction, threads=args.threads, limit=args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.level}_split.json").write_text(json.dumps({
        "seed": args.seed, "val_fraction": args.val_fraction,
        "train": [f"{f.subset}/{f.name}" for f in train_faces], "val": [f"{f.subset}/{f.name}" for f in val_faces]}, indent=0))
    t0 = time.time()

    def report(row: dict) -> None:
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)

    if args.level in ("level1", "shallow"):
        config = SHALLOW if args.level == "shallow" else DEEP
        train_level1(config, cfg, train_set, val_set, args.out, resume=not args.restart, progress=args.progress, on_epoch=report)
    else:
        config = replace(Level2Config(), k=args.k)
        train_level2(config, cfg, SimulatedErrors(), train_set, val_set, args.out, resume=not args.restart,
                     progress=args.progress, on_epoch=report)
    print(f"trained {args.level} in {time.time() - t0:.0f} s; weights in {args.out}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="facelandmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one level of the cascade on the 300-W training faces")
    p.add_argument("level", choices=["level1", "shallow", "level2"], help="deep level 1, shallow level-1 baseline, or level 2")
    p.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, log, final weights)")
    p.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--k", type=int, default=3, help="level 2: points refined per patch (1 or 3)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--limit", type=int, default=0, help="only the first N training faces (quick runs)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
