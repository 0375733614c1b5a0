"""The ``facelandmarks`` command line: predict, evaluate, train, benchmark."""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from .models.cascade import Cascade

__all__ = ["main"]


def _start_distributed(args: argparse.Namespace) -> tuple[int, int]:
    """Join the torchrun process group when asked (``--distributed``) or launched by torchrun (WORLD_SIZE > 1).

    Returns (world size, rank). Backend: nccl for CUDA, gloo otherwise.
    """
    import os

    import torch.distributed as dist

    if not args.distributed and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 1, 0
    if "RANK" not in os.environ or "MASTER_ADDR" not in os.environ:
        raise SystemExit("--distributed needs the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR); "
                         "start with: torchrun --nproc-per-node N -m facelandmarks.cli train ...")
    if not dist.is_initialized():
        from .train import resolve_device

        device = resolve_device(args.device)  # under torchrun a bare "cuda" is cuda:$LOCAL_RANK
        if device.type == "cuda":
            import torch

            torch.cuda.set_device(device)  # nccl's collectives use the current device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_world_size(), dist.get_rank()


def _train(args: argparse.Namespace) -> int:
    import json
    import time

    from . import datasets
    from .augment import AUGMENTS
    from .models.level1 import DEEP, SHALLOW
    from .models.level2 import Level2Config
    from .train import SimulatedErrors, TrainConfig, augment_for, resolve_device, train_level1, train_level2

    world, rank = _start_distributed(args)

    def say(message: str) -> None:
        if rank == 0:
            print(message, flush=True)

    try:  # the user's inputs: a missing folder, an unknown scheme or device ends with its message
        if args.train:
            faces = datasets.faces_from(args.train)
            source = " ".join(args.train)
        else:  # the 300-W training split of the data root: the shipped recipe's data
            faces = datasets.split_faces("train", args.data)
            source = "the 300-W train split of the data root"
        scheme, how = datasets.infer_scheme(faces, args.scheme)
        if args.val:
            train_faces, val_faces = faces, datasets.faces_from(args.val)
        else:
            train_faces, val_faces = datasets.train_val_split(faces, args.val_fraction, args.seed)
        device = resolve_device(args.device)
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise SystemExit(f"facelandmarks train: {err.args[0] if isinstance(err, KeyError) else err}") from None
    if args.limit:
        train_faces, val_faces = train_faces[:args.limit], val_faces[:max(2, args.limit // 4)]
    augment, flip_note = augment_for(AUGMENTS[args.augment], scheme)
    say(f"{how}; validation NME normalised by {scheme.main_normaliser}")
    if flip_note:
        say(flip_note)
    say(f"training on {len(train_faces)} faces from {source}; validating on {len(val_faces)} "
        + ("from " + " ".join(args.val) if args.val else f"held out ({args.val_fraction:.0%}, seed {args.seed})")
        + f"; device {device}, {args.precision}"
        + (f"; {world} processes, {args.batch_size // world} faces each per step" if world > 1 else ""))
    train_set = datasets.FaceSet.load(train_faces, scheme, progress=args.progress and rank == 0)
    val_set = datasets.FaceSet.load(val_faces, scheme, progress=args.progress and rank == 0)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      val_fraction=args.val_fraction, threads=args.threads, limit=args.limit,
                      augment=augment, box_shift=args.box_shift, box_scale=args.box_scale, upright=args.upright,
                      loss=args.loss, device=args.device, precision=args.precision, workers=args.workers)
    if rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.level}_split.json").write_text(json.dumps({
            "seed": args.seed, "val_fraction": args.val_fraction, "scheme": scheme.name,
            "train": [f"{f.subset}/{f.name}" for f in train_faces], "val": [f"{f.subset}/{f.name}" for f in val_faces]}, indent=0))
    t0 = time.time()

    def report(row: dict) -> None:
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)

    if args.level in ("level1", "shallow"):
        config = replace(SHALLOW if args.level == "shallow" else DEEP, n_points=scheme.n_points)
        train_level1(config, cfg, train_set, val_set, args.out, resume=not args.restart, progress=args.progress,
                     on_epoch=report, init=args.init)
    else:
        config = replace(Level2Config(), k=args.k, face_size=args.face_size, n_points=scheme.n_points)
        base = SimulatedErrors()
        sim = replace(base, point_sigma=base.point_sigma * args.noise, shift=base.shift * args.noise,
                      rotation_deg=base.rotation_deg * args.noise, scale=base.scale * args.noise)
        train_level2(config, cfg, sim, train_set, val_set, args.out, resume=not args.restart,
                     progress=args.progress, on_epoch=report, level1=args.level1, init=args.init,
                     level1_flip=args.level1_flip, recrop=args.recrop, after_level2=args.after_level2,
                     level1_recrop=args.level1_recrop, shape_correction=args.shape_correction)
    say(f"trained {args.level} in {time.time() - t0:.0f} s; weights in {args.out}")
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


def _collect_images(inputs: list[Path]) -> list[Path]:
    from .datasets import IMAGE_SUFFIXES

    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(item)
    return paths


def _save_overlay(path: Path, image: np.ndarray, results: object, title: str) -> None:
    """An overlay of one result or a list of them (every face: its points, detector box, index and score)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import viz
    from .geometry import points_box
    from .schemes import IBUG68

    results = results if isinstance(results, list) else [results]
    zoom = len(results) == 1  # one face: a zoomed panel beside the photo, where the points are legible
    aspect = image.shape[0] / image.shape[1]
    if zoom:
        fig, (ax, zoom_ax) = plt.subplots(1, 2, figsize=(11, 5.5 * max(aspect, 0.6)), layout="constrained")
    else:
        fig, ax = plt.subplots(figsize=(6, 6 * aspect))
    ax.imshow(image)
    for k, result in enumerate(results):
        box = getattr(result, "detector_box", None)
        if box is not None:
            viz.draw_box(ax, box, color="yellow", label="detector box" if k == 0 else None)
        viz.draw_landmarks(ax, result.points, size=max(2.0, 12.0 / len(results) ** 0.5))
        if len(results) > 1 or result.score is not None:
            x0, y0 = (box if box is not None else result.box)[:2]
            label = f"{k}" if len(results) > 1 else ""
            if result.score is not None:
                label += f" ({result.score:.2f})" if label else f"score {result.score:.2f}"
            ax.text(x0, y0 - 2, label, color="yellow", fontsize=7, va="bottom")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    if zoom:
        result = results[0]
        zoom_ax.imshow(image)
        viz.draw_landmarks(zoom_ax, result.points, size=20)
        x0, y0, x1, y1 = points_box(result.points)
        pad = 0.15 * max(x1 - x0, y1 - y0)
        zoom_ax.set_xlim(x0 - pad, x1 + pad)
        zoom_ax.set_ylim(y1 + pad, y0 - pad)
        zoom_ax.set_title("zoom on the face: the 68 points, coloured by group", fontsize=10)
        zoom_ax.axis("off")
        viz.group_legend(fig, loc="outside lower center", ncol=len(IBUG68.groups))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _cascade_from_files(args: argparse.Namespace) -> tuple["Cascade", list[Path]]:
    """The cascade of ``--level1-weights`` and the other ``--level*-weights`` files, and those files
    in the order of ``Cascade.levels``."""
    from .models.cascade import Cascade

    level2 = None if args.no_level2 else args.level2_weights
    level3 = args.level3_weights if level2 else None
    second = getattr(args, "level1_recrop_weights", None) if level2 else None
    cascade = Cascade.from_files(args.level1_weights, level2, level3, level1_recrop=second)
    return cascade, [f for f in (args.level1_weights, level2, level3, second) if f]


def _load_cascade(args: argparse.Namespace) -> "Cascade":
    from .models.cascade import Cascade
    from .models.pretrained import load_pretrained

    backend = getattr(args, "backend", "torch")
    if getattr(args, "level1_weights", None):
        if args.int8:
            raise SystemExit("--int8 uses the shipped int8 trunks; it cannot be combined with --level1-weights "
                             "(quantize your own with facelandmarks.models.quantize)")
        cascade, files = _cascade_from_files(args)
        if backend == "onnxruntime":
            from .models.onnx import to_onnxruntime

            return to_onnxruntime(cascade, float_weights=files)
        return cascade
    return load_pretrained(level2=None if args.no_level2 else "k3", level3="k3" if args.level3 else None,
                           fuse=True, int8=args.int8, backend=backend)  # level 3 is ignored without level 2


def _output_clashes(paths: list[Path], all_faces: bool) -> list[list[Path]]:
    """Groups of inputs that would write the same output file (outputs are named by the file stem:
    NAME.pts, or NAME_0.pts, NAME_1.pts ... with --all-faces, where 'a' and 'a_0' clash too)."""
    import re

    by_stem: dict[str, list[Path]] = {}
    for p in paths:
        by_stem.setdefault(p.stem, []).append(p)
    groups = [g for g in by_stem.values() if len(g) > 1]
    if all_faces:
        for stem, group in by_stem.items():
            m = re.fullmatch(r"(.+)_\d+", stem)
            if m and m.group(1) in by_stem:
                groups.append(by_stem[m.group(1)] + group)
    return groups


def _match_boxes(boxes: dict[str, object], paths: list[Path]) -> tuple[dict[Path, object], list[str]]:
    """Give each input its box from --boxes. A key is an image path (as found from the inputs, or the
    same file by another path), a file name (``face.jpg``) or a stem (``face``). Returns the boxes by
    input and the problems: a key that matches several inputs, an input matched by several keys, a
    key that matches none."""
    out: dict[Path, object] = {}
    problems: list[str] = []
    for key, box in boxes.items():
        kp = Path(key)
        hits = [p for p in paths if kp.exists() and p.resolve() == kp.resolve()]
        if not hits:
            hits = [p for p in paths if key in (p.name, p.stem) or str(p) == key]
        if len(hits) > 1:
            problems.append(f"box key {key!r} matches {len(hits)} inputs ({', '.join(map(str, hits))}): "
                            "key those boxes by the image path instead")
        elif not hits:
            problems.append(f"box key {key!r} matches no input image")
        elif hits[0] in out:
            problems.append(f"{hits[0]} has more than one box in the boxes file")
        else:
            out[hits[0]] = box
    return out, problems


def _predict(args: argparse.Namespace) -> int:
    import json

    from .io import read_image, write_pts

    if args.full_size and args.no_full_size:
        print("error: --full-size and --no-full-size contradict each other; give one", file=sys.stderr)
        return 2
    paths = _collect_images(args.inputs)
    if not paths:
        print("error: no images found in " + ", ".join(map(str, args.inputs)), file=sys.stderr)
        return 2
    clashes = _output_clashes(paths, args.all_faces)
    if clashes:  # refuse before any work: no result may overwrite another
        for group in clashes:
            print("error: these inputs would write the same output file in --out-dir: "
                  + ", ".join(map(str, group)), file=sys.stderr)
        print("nothing was predicted. Outputs are named by the image's file name without its suffix; rename "
              "the files, or predict them in separate runs with different --out-dir", file=sys.stderr)
        return 2
    box_by_path: dict[Path, object] = {}
    if args.boxes:
        try:
            boxes = json.loads(Path(args.boxes).read_text())
        except (OSError, ValueError) as err:
            print(f"error: cannot read boxes file {args.boxes}: {err}", file=sys.stderr)
            return 2
        if not isinstance(boxes, dict):
            print(f"error: {args.boxes} must map image paths, names or stems to [x0, y0, x1, y1]", file=sys.stderr)
            return 2
        box_by_path, problems = _match_boxes(boxes, paths)
        ambiguous = [p for p in problems if "matches no input" not in p]
        for problem in problems:
            print(("error: " if problem in ambiguous else "warning: ") + f"{args.boxes}: {problem}", file=sys.stderr)
        if ambiguous:
            return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    cascade = _load_cascade(args)
    full_size = True if args.full_size else (False if args.no_full_size else None)
    failed: list[tuple[Path, str]] = []
    summary: list[dict[str, object]] = []

    def listed(a: object) -> object:
        return None if a is None else [round(float(v), 3) for v in np.asarray(a).reshape(-1)]

    for path in paths:
        entry: dict[str, object] = {"image": str(path), "faces": []}
        summary.append(entry)
        try:
            image = read_image(path, apply_exif=not args.no_exif_rotate)
            box = box_by_path.get(path)
            if box is not None or not args.all_faces:
                results = [cascade.predict(image, box=box, box_kind=args.box_kind, detector=args.detector,
                                           name=str(path), full_size=full_size)]
                names = [f"{path.stem}.pts"]
            else:
                results = cascade.predict_all(image, detector=args.detector, name=str(path), full_size=full_size)
                if not results:
                    from .detect import DEFAULT_DETECTOR, NoFaceError, no_face_message

                    raise NoFaceError(no_face_message(str(path), image.shape, args.detector or DEFAULT_DETECTOR, full_size))
                names = [f"{path.stem}_{k}.pts" for k in range(len(results))]
            kept = []
            for k, (result, name) in enumerate(zip(results, names)):
                low = args.min_score is not None and result.score is not None and result.score < args.min_score
                face = {"index": k, "pts": None if low else name, "box": listed(result.box),
                        "detector_box": listed(result.detector_box), "detector_score": result.detector_score,
                        "score": None if result.score is None else round(result.score, 4)}
                entry["faces"].append(face)
                if low:
                    failed.append((path, f"face {k}"))
                    print(f"FAILED {path} face {k}: confidence {result.score:.2f} is under --min-score "
                          f"{args.min_score:.2f}; no .pts written", file=sys.stderr)
                    continue
                out = write_pts(args.out_dir / name, result.points)
                kept.append(result)
                score = "" if result.score is None else f" (score {result.score:.2f})"
                print(f"{path}: {out}{score}")
            if args.overlay:
                _save_overlay(args.out_dir / f"{path.stem}_overlay.png", image, results, path.name)
        except (OSError, ValueError) as err:  # unreadable file, no face, bad box: report, go on
            message = str(err) if str(path) in str(err) else f"{path}: {err}"
            failed.append((path, message))
            entry["error"] = message
            print(f"FAILED {message}", file=sys.stderr)
    (args.out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    n_failed = len({p for p, _ in failed})
    print(f"{len(paths) - n_failed} of {len(paths)} images predicted; {n_failed} failed; "
          f"boxes and scores in {args.out_dir / 'summary.json'}", file=sys.stderr)
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    import csv

    from . import datasets, metrics, viz
    from .evaluation import evaluate

    args.norm = args.norm or metrics.DEFAULT_NORMALISER
    faces = datasets.FaceSet.load(datasets.list_faces(args.folder), progress=False)
    cascade = _load_cascade(args)
    ev = evaluate(cascade, faces, boxes=args.boxes, detector=args.detector, seed=args.seed, norm=args.norm)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{len(faces)} faces in {args.folder}; boxes: {ev.box_source}"
          + (f" ({int(ev.fallback.sum())} faces without a detection got a jittered ground-truth box, seed {args.seed})"
             if ev.fallback.any() else ""))
    print(f"NME normalised by {args.norm} distance, 68 points, failure threshold 0.08")
    levels = [("level 1", "level1")]
    if cascade.level2 is not None:
        levels.append(("level 2", "level2"))
    if cascade.level3 is not None:
        levels.append(("level 3", "final"))
    for label, level in levels:
        s = ev.summary(level=level)
        print(f"  {label:8s} mean {100 * s['mean']:.2f}%  median {100 * s['median']:.2f}%  "
              f"AUC@0.08 {s['auc@0.08']:.3f}  failure rate {100 * s['failure@0.08']:.1f}%")
    with open(args.out / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ev.rows()[0]))
        writer.writeheader()
        writer.writerows(ev.rows())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    curves = {"level 1": ev.nme_level1}
    if cascade.level2 is not None:
        curves["level 1 + 2"] = ev.nme_level2
    if cascade.level3 is not None:
        curves["level 1 + 2 + 3"] = ev.nme
    viz.plot_ced(curves, threshold=args.max_error, norm=args.norm, ax=ax)
    fig.savefig(args.out / "ced.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {args.out / 'per_image.csv'} and {args.out / 'ced.png'}")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from .benchmark import run

    return run(args)


def _export(args: argparse.Namespace) -> int:
    from .models.onnx import export_onnx
    from .models.pretrained import load_pretrained, pretrained_files

    if args.level1_weights:
        if args.int8:
            raise SystemExit("--int8 exports the shipped int8 trunks; it cannot be combined with --level1-weights")
        cascade, files = _cascade_from_files(args)
    else:
        level2, level3 = (None, None) if args.no_level2 else ("k3", "k3" if args.level3 else None)
        cascade = load_pretrained(level2=level2, level3=level3, int8=args.int8)
        files = pretrained_files(level2=level2, level3=level3)
    manifest = export_onnx(cascade, args.onnx, float_weights=files)
    for path in sorted(args.onnx.glob("*.onnx")):
        print(f"{path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"{manifest}: configs, canonical shape, scheme, SHA-256 of every file and of the float weights")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from . import datasets
    from .geometry import points_box
    from .models.pretrained import load_pretrained, pretrained_files
    from .models.quantize import calibrate_cascade, int8_path, quantize_trunks, save_int8

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    train_faces, _ = datasets.train_val_split(datasets.split_faces("train", args.data), 0.1, args.seed)
    faces = datasets.FaceSet.load(train_faces[:args.faces], progress=False)
    boxes = datasets.jitter_boxes(points_box(faces.points), np.random.default_rng(args.seed))
    calibration = (f"{len(faces)} training faces (the first of the seed-{args.seed} training split), ground-truth "
                   f"boxes jittered with seed {args.seed}, run through level1={args.level1}, level2={args.level2}, "
                   f"level3={args.level3}")
    cascade = quantize_trunks(load_pretrained(args.level1, args.level2, args.level3),
                              calibrate_cascade(faces.images, boxes))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for net, weights in zip(cascade.levels().values(), pretrained_files(args.level1, args.level2, args.level3)):
        path = save_int8(net, args.out_dir / int8_path(weights).name, weights, calibration)
        print(f"{weights} -> {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"calibration: {calibration}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import skimage.data

    from .io import write_pts
    from .models.pretrained import load_pretrained

    image = skimage.data.astronaut()
    cascade = load_pretrained()
    result = cascade.predict(image, name="skimage.data.astronaut()")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _save_overlay(args.out, image, result, "facelandmarks cascade on skimage.data.astronaut()")
    write_pts(args.out.with_suffix(".pts"), result.points)
    print(f"detected a face at {np.round(result.detector_box, 1).tolist()}; 68 points written to "
          f"{args.out.with_suffix('.pts')}, overlay to {args.out}")
    return 0


def _show_data(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from . import viz

    fig = viz.data_overlay(args.data, n=args.n, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80, bbox_inches="tight")
    print(f"wrote {args.out}")
    return 0


def _recipe(args: argparse.Namespace) -> int:
    from .recipe import run_recipe

    from .recipe import install

    extra = ("--device", args.device) if args.device != "cpu" else ()
    if not args.install_only:
        run_recipe(args.out, args.data, extra=extra)
    if args.install or args.install_only:
        for path in install(args.out):
            print(f"installed {path}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import platform

    import torch

    from .version import __version__
    from .models.files import file_sha256
    from .models.pretrained import MANIFEST, WEIGHTS_DIR, read_manifest, sha256_table, shipped_files

    if args.markdown:
        print(sha256_table())
        return 0
    manifest = read_manifest() if MANIFEST.is_file() else {}
    print(f"facelandmarks {__version__} (torch {torch.__version__}, Python {platform.python_version()})")
    print(f"shipped weights in {WEIGHTS_DIR} (SHA-256 of each file; compare with `sha256sum FILE`):")
    changed = 0
    for path in shipped_files():
        digest = file_sha256(path)
        known = manifest.get(path.name, {}).get("sha256")
        note = "as published" if digest == known else ("NOT in the manifest" if known is None else "DIFFERS from the manifest")
        changed += digest != known
        print(f"  {digest}  {path.stat().st_size:>9}  {path.name}  ({note})")
    if changed:
        print(f"{changed} file(s) differ from {MANIFEST.name} (facelandmarks/weights/README.md lists the published ones)")
    return 1 if changed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facelandmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one level of the cascade on the 300-W training faces or your own (--train)")
    p.add_argument("level", choices=["level1", "shallow", "level2"], help="deep level 1, shallow level-1 baseline, or level 2")
    p.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, log, final weights)")
    p.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA); its 300-W train split "
                   "is the training data when --train is not given")
    p.add_argument("--train", nargs="+", default=None, metavar="DIR",
                   help="your own training faces: folders of image + .pts pairs and/or list files (one image path a line)")
    p.add_argument("--val", nargs="+", default=None, metavar="DIR",
                   help="validation faces, as --train (default: --val-fraction of the training faces)")
    p.add_argument("--scheme", default=None,
                   help="landmark scheme name (facelandmarks.schemes.SCHEMES: ibug68, ibug68_inner, five_point; "
                        "default: inferred from the point count of the first .pts)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=32, help="faces per step over all processes (the global batch)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--k", type=int, default=3, help="level 2: points refined per patch (1 or 3)")
    p.add_argument("--face-size", type=float, default=96.0,
                   help="level 2: width of the canonical face in the rectified frame, pixels (the patch is 24 px)")
    p.add_argument("--noise", type=float, default=1.0,
                   help="level 2: multiplier on the simulated level-1 errors (0.5 for a finer stage)")
    p.add_argument("--augment", choices=["full", "light", "recrop"], default="full",
                   help="augmentation strength (facelandmarks.augment.AUGMENTS; light: a second, closer-fitting cycle; "
                        "recrop: as narrow as the cascade's re-made crops, for a second-pass level 1 with --upright)")
    p.add_argument("--upright", action="store_true",
                   help="level 1: crops turned upright around the ground truth before the box jitter, as the "
                        "cascade's recrop pass makes them (train a second-pass level 1)")
    p.add_argument("--box-shift", type=float, default=0.05,
                   help="std of the box-centre jitter, fraction of the box size (docs/detection.md: detector boxes ~0.075)")
    p.add_argument("--box-scale", type=float, default=0.05,
                   help="std of the box log-size jitter (docs/detection.md: detector boxes ~0.085)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--loss", choices=["l1", "wing"], default="l1",
                   help="l1 (the default, as the shipped paper-faithful runs) or wing (Feng et al. 2018)")
    p.add_argument("--device", default="cpu",
                   help="torch device for the model and batches: auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                   help="autocast precision: bf16 (CPU, CUDA, MPS) or fp16 (CUDA, with a gradient scaler)")
    p.add_argument("--workers", type=int, default=0,
                   help="DataLoader worker processes making the batches (0 = the training process; the result does not depend on it)")
    p.add_argument("--distributed", action="store_true",
                   help="join torchrun's process group (implied when torchrun starts more than one process)")
    p.add_argument("--limit", type=int, default=0, help="only the first N training faces (quick runs)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    p.add_argument("--init", type=Path, default=None, help="start from the weights of this model file (a second cycle)")
    p.add_argument("--level1", type=Path, default=None,
                   help="level 2: also train on this level-1 model's real predictions on the training faces")
    p.add_argument("--after-level2", type=Path, default=None,
                   help="level 2 with --level1: the real predictions are refined by this level-2 file first "
                        "(train a finer level 3 on what level 2 still gets wrong)")
    p.add_argument("--level1-flip", action="store_true",
                   help="level 2 with --level1: those predictions average level 1 on the crop and its mirror image "
                        "(for a cascade run with level1_flip)")
    p.add_argument("--shape-correction", type=float, default=None, metavar="RIDGE",
                   help="level 2 with --level1: then fit the linear correction of its points on the training faces "
                        "with this ridge penalty (facelandmarks.models.shape_correction; the shipped one: 1000)")
    p.add_argument("--level1-recrop", type=Path, default=None,
                   help="level 2 with --level1 --recrop: the recrop pass runs this second-pass level-1 file "
                        "(trained with `train level1 --upright`; the cascade's level1_recrop)")
    p.add_argument("--recrop", action="store_true",
                   help="level 2 with --level1: those predictions come from level 1's second pass, on the crop "
                        "re-made from its first points (for a cascade run with recrop)")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.set_defaults(func=_train)

    p = sub.add_parser("recipe", help="rebuild the shipped weights from scratch: every training run in order, resumable")
    p.add_argument("--out", type=Path, default=Path("runs/recipe"), help="output folder (default runs/recipe)")
    p.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA)")
    p.add_argument("--device", default="cpu", help="torch device for every run (the shipped runs: cpu)")
    p.add_argument("--install", action="store_true",
                   help="then copy the weights and logs into the package's weights folder (make weights does)")
    p.add_argument("--install-only", action="store_true", help="only copy a finished recipe's weights and logs")
    p.set_defaults(func=_recipe)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-level2", action="store_true", help="level 1 only")
        p.add_argument("--level3", action="store_true", help="add our optional finer level 3 to the paper's two levels")
        p.add_argument("--int8", action="store_true",
                       help="8-bit convolution trunks (x86 CPUs; faster, same accuracy within 0.01 NME points)")
        p.add_argument("--level3-weights", type=Path, help="a level-3 .pt file (with --level1/2-weights)")
        p.add_argument("--level1-weights", type=Path, help="a level-1 .pt file instead of the shipped weights")
        p.add_argument("--level2-weights", type=Path, help="a level-2 .pt file (with --level1-weights)")
        p.add_argument("--level1-recrop-weights", type=Path,
                       help="a second-pass level-1 .pt file for the recrop pass (with --level2-weights)")
        p.add_argument("--detector", default=None, help="face detector (default: facelandmarks.detect.DEFAULT_DETECTOR)")
        p.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                       help="run the networks with PyTorch or ONNX Runtime (pip install facelandmarks[onnx]); "
                            "the warps, votes and frames are the same")

    p = sub.add_parser(
        "predict", help="predict 68 points on images; writes one 1-based .pts per image (or per face)",
        description="Predict 68 points on images. Images are read the right way up, as photo viewers show "
        "them: the EXIF orientation tag is applied, and the .pts refer to that upright frame (--no-exif-rotate "
        "keeps the stored pixels). Images must be RGB (files are converted; see docs/reliability.md). Outputs "
        "in --out-dir are named by the image's file name without its suffix (NAME.pts, NAME_overlay.png); "
        "inputs that would share a name are refused before any work. summary.json lists every face's box, "
        "detector score and confidence score (in [0, 1], low when the points are probably wrong).")
    p.add_argument("inputs", nargs="+", type=Path, help="image files and/or folders of images")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--boxes", help="JSON file mapping an image (its path, file name, or stem when that is "
                   "unambiguous) to a face box [x0, y0, x1, y1]")
    p.add_argument("--all-faces", action="store_true",
                   help="every face found: NAME_0.pts, NAME_1.pts ... largest first (default: the largest face only)")
    p.add_argument("--full-size", action="store_true",
                   help="detect at full size only (slower on large photos; finds their small faces, e.g. in group photos)")
    p.add_argument("--no-full-size", action="store_true",
                   help="never detect at full size (by default a large image is searched shrunk to 1024 px, "
                   "then at full size when that finds nothing)")
    p.add_argument("--min-score", type=float, default=None,
                   help="faces whose confidence score is under this count as failures: no .pts, exit 1 "
                   "(the suggested threshold is in facelandmarks/weights/confidence.json)")
    p.add_argument("--no-exif-rotate", action="store_true",
                   help="keep the pixels as stored: do not apply the EXIF orientation tag")
    p.add_argument("--box-kind", default="landmarks",
                   help="convention of --boxes: 'landmarks' (tight box of the 68 points) or a detector name")
    p.add_argument("--overlay", action="store_true", help="also save NAME_overlay.png")
    model_options(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="NME, AUC, failure rate and a CED plot on a folder of image + .pts")
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, required=True, help="folder for ced.png and per_image.csv")
    p.add_argument("--boxes", choices=["detector", "jittered"], default="detector",
                   help="face boxes from the detector (fallback: jittered ground truth) or jittered ground truth")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--norm", default=None, help="normaliser: inter_ocular, inter_pupil, bbox, bbox_diagonal "
                   "(default: facelandmarks.metrics.DEFAULT_NORMALISER)")
    p.add_argument("--max-error", type=float, default=0.08)
    model_options(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("export", help="write every level as an ONNX file plus cascade.json (see docs/deploy.md)")
    p.add_argument("--onnx", type=Path, required=True, metavar="DIR", help="folder for level1.onnx, level2.onnx, ... "
                   "and cascade.json")
    p.add_argument("--no-level2", action="store_true", help="level 1 only")
    p.add_argument("--level3", action="store_true", help="also export our optional finer level 3")
    p.add_argument("--int8", action="store_true", help="export the shipped int8 trunks (ONNX QDQ graphs)")
    p.add_argument("--level1-weights", type=Path, help="a level-1 .pt file instead of the shipped weights")
    p.add_argument("--level2-weights", type=Path, help="a level-2 .pt file (with --level1-weights)")
    p.add_argument("--level3-weights", type=Path, help="a level-3 .pt file (with --level1/2-weights)")
    p.add_argument("--level1-recrop-weights", type=Path,
                   help="a second-pass level-1 .pt file for the recrop pass (with --level2-weights)")
    p.set_defaults(func=_export)

    p = sub.add_parser("benchmark", help="speed of torch, ONNX Runtime and dlib side by side: batch 1 and 64, "
                       "with and without detection, quiet and under a competing CPU load (facelandmarks.benchmark)")
    p.add_argument("--data", default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds per phase (medians are reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--load-processes", type=int, default=None,
                   help="busy processes of the competing load (default: one per CPU core)")
    p.add_argument("--detector", default=None, help="detector of the 'with detection' columns (default: the default)")
    p.set_defaults(func=_benchmark)

    p = sub.add_parser("quantize", help="calibrate int8 convolution trunks for the shipped weights (load_pretrained(int8=True))")
    p.add_argument("--data", default=None)
    p.add_argument("--level1", default="deep")
    p.add_argument("--level2", default="k3")
    p.add_argument("--level3", default=None)
    p.add_argument("--faces", type=int, default=128, help="training faces to calibrate on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent / "weights")
    p.set_defaults(func=_quantize)

    p = sub.add_parser("demo", help="detect and predict the landmarks of skimage.data.astronaut(); save an overlay")
    p.add_argument("--out", type=Path, default=Path("out/astronaut.png"))
    p.set_defaults(func=_demo)

    p = sub.add_parser("show-data", help="a figure of a few shared faces with their 68 points, coloured by group")
    p.add_argument("--data", default=None)
    p.add_argument("--out", type=Path, default=Path("out/faces.png"))
    p.add_argument("-n", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_show_data)

    p = sub.add_parser("info", help="version, and the shipped weights files with their SHA-256")
    p.add_argument("--markdown", action="store_true", help="print the SHA-256 table of facelandmarks/weights/README.md")
    p.set_defaults(func=_info)

    sub.add_parser("human", help="how close to human? the J&dC and LFPW studies vs the cascade "
                   "(see facelandmarks human --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["human"]:  # its own parser: `facelandmarks human --help`
        from . import human

        return human.main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
