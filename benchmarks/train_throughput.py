"""Training throughput (faces/s) on this machine's CPU: before and after the DataLoader change.

"before" is the package at commit BEFORE (default: the last commit whose loop made the batches
inside the training process, with one random stream per epoch); "after" is this checkout with
``--workers 0`` (batches made in the training process, one stream per face), ``--workers 1`` and
``--workers 2`` (DataLoader worker processes). Each run is one
``facelandmarks train level1 --limit FACES --epochs EPOCHS --threads 1`` in its own process; the
variants are interleaved, round after round, so drift on a busy machine hits them alike. Throughput
= training faces x epochs / the summed per-epoch seconds of the run's log (which include validating
FACES/4 faces each epoch). Writes ``OUT/train_throughput.csv`` and prints a table: each variant's
median faces/s (min-max over the rounds), the ratio of its median to "before"'s, and the median of
its per-round ratios to "before" (``--table-only`` reprints it from the CSV).

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/train_throughput.py --out docs/results --rounds 5
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "63608fc"  # main before issue 16 (batches made in the training loop, no DataLoader)


def _export(ref: str, dest: Path) -> Path:
    """The ``facelandmarks`` package of commit ``ref`` under ``dest`` (git archive; the checkout is untouched)."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "facelandmarks"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(dest, filter="data")
    return dest


def _run(code: Path, workers: int | None, out: Path, faces: int, epochs: int, data: str | None) -> float:
    cmd = [sys.executable, "-m", "facelandmarks.cli", "train", "level1", "--limit", str(faces), "--epochs", str(epochs),
           "--threads", "1", "--out", str(out), "--restart"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    if data:
        cmd += ["--data", str(Path(data).resolve())]
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    if env.get("FACELANDMARKS_DATA"):  # absolute: the run's working directory is the code's folder
        env["FACELANDMARKS_DATA"] = str(Path(env["FACELANDMARKS_DATA"]).resolve())
    # cwd = code: `python -m` puts the working directory first on sys.path, before PYTHONPATH
    subprocess.run(cmd, check=True, env=env, capture_output=True, cwd=code)
    with open(out / "level1_log.csv") as f:
        seconds = sum(float(row["seconds"]) for row in csv.DictReader(f))
    return faces * epochs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for train_throughput.csv")
    parser.add_argument("--data", default=None, help="data root (default: $FACELANDMARKS_DATA)")
    parser.add_argument("--before", default=BEFORE, help=f"git commit of the 'before' loop (default {BEFORE})")
    parser.add_argument("--faces", type=int, default=64, help="training faces per run (--limit)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all variants")
    parser.add_argument("--table-only", action="store_true", help="only print the table of OUT/train_throughput.csv")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            before = _export(args.before, Path(tmp) / "before")
            variants = {"before (in the loop)": (before, None), "after, workers 0": (ROOT, 0),
                        "after, workers 1": (ROOT, 1), "after, workers 2": (ROOT, 2)}
            for r in range(args.rounds):
                for name, (code, workers) in variants.items():
                    rate = _run(code, workers, Path(tmp) / "run", args.faces, args.epochs, args.data)
                    rows.append({"round": r, "variant": name, "faces_per_s": round(rate, 2)})
                    print(f"round {r}: {name}: {rate:.1f} faces/s", flush=True)
        with open(args.out / "train_throughput.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    _table(args.out / "train_throughput.csv")


def _table(path: Path) -> None:
    """Print each variant's median faces/s (min-max over rounds) and its ratio to "before"."""
    with open(path) as f:
        rows = [{**r, "faces_per_s": float(r["faces_per_s"])} for r in csv.DictReader(f)]
    names = list(dict.fromkeys(r["variant"] for r in rows))
    rates = {n: np.array([r["faces_per_s"] for r in rows if r["variant"] == n]) for n in names}
    base = rates[names[0]]
    print(f"\n| variant | faces/s, median of {len(base)} rounds (min-max) | ratio of medians to before "
          "| median of the per-round ratios |\n|---|---|---|---|")
    for n in names:
        r = rates[n]
        print(f"| {n} | {np.median(r):.1f} ({r.min():.1f}-{r.max():.1f}) | {np.median(r) / np.median(base):.2f} "
              f"| {np.median(r / base):.2f} |")

if __name__ == "__main__":
    main()
