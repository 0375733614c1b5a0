"""The recipe that rebuilds the shipped weights from scratch: every training run in order, resumable.

``facelandmarks recipe --out runs/recipe`` (or ``make weights``) runs the steps of :data:`STEPS`,
each one a ``facelandmarks train ...`` command in its own process, two at a time where they do not
depend on each other (one thread each, so the 2-core machine's cores are both busy), and records
each step's start, end and wall-clock seconds in ``OUT/recipe_log.csv``; each attempt's wall-clock so far in ``OUT/attempts/START.txt`` (rewritten
every few seconds, so an interrupted attempt counts too) and the total in ``OUT/recipe_time.txt``.
Run it again after an interruption: finished steps (their weight file exists) are skipped, a step
still running from an earlier attempt (``running.pid``) is waited for, not started twice, and an
unfinished one resumes from its last epoch checkpoint (``train`` resumes by default).

The split is the seed-0 one of :func:`facelandmarks.datasets.train_val_split` on the ``train`` split
(10% validation faces, never the test faces); every step uses seed 0. The shipped files are
``level1_c2/level1.pt`` -> ``level1_deep.pt``, ``level1_recrop/level1.pt`` -> ``level1_recrop.pt`` (the
second-pass level 1), ``level2_ft/level2.pt`` -> ``level2_k3.pt``, ``level2_sim/level2.pt`` -> ``level2_k3_sim.pt`` (level 2 on
simulated errors only, the ablation's) and ``shallow/level1.pt`` -> ``level1_shallow.pt`` (the depth
ablation's baseline). Its measured wall-clock time, with the command and the logs behind it:
``facelandmarks/weights/README.md``.
"""
from __future__ import annotations

import csv
import errno
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Step", "STEPS", "SHIPPED", "run_recipe", "install"]


@dataclass(frozen=True)
class Step:
    """One training run of the recipe: ``facelandmarks train ARGS --out OUT/name``."""

    name: str  # its folder under the recipe's output folder
    args: tuple[str, ...]  # arguments of `facelandmarks train` ({out} = the recipe's output folder)
    weights: str  # the file it ends with, relative to its folder
    after: tuple[str, ...] = ()  # steps whose weights it needs


STEPS: tuple[Step, ...] = (
    # the paper's Table 1a network, L1 loss on unit crop coordinates (the wing loss lost on the
    # validation faces: facelandmarks/weights/README.md), full augmentation
    Step("level1", ("level1", "--epochs", "60", "--threads", "1", "--seed", "0"), "level1.pt"),
    # a second cosine cycle: lighter augmentation, box jitter as wide as the detector's (docs/detection.md)
    Step("level1_c2", ("level1", "--init", "{out}/level1/level1.pt", "--epochs", "30", "--lr", "1e-3", "--augment", "light",
                       "--box-shift", "0.075", "--box-scale", "0.085", "--threads", "2", "--seed", "0"), "level1.pt",
         after=("level1",)),
    # the paper's Table 1b patch networks (K = 3) on simulated level-1 errors, beside level 1
    Step("level2_sim", ("level2", "--k", "3", "--epochs", "12", "--threads", "1", "--seed", "0"), "level2.pt"),
    # the depth ablation's shallow baseline (Sun et al. 2013-like), beside the rest
    Step("shallow", ("shallow", "--epochs", "60", "--threads", "1", "--seed", "0"), "level1.pt", after=("level2_sim",)),
    # the second-pass level 1 (ours): a third cycle on upright crops as narrow as the ones the
    # cascade re-makes from level 1's first points (recrop)
    Step("level1_recrop", ("level1", "--init", "{out}/level1_c2/level1.pt", "--epochs", "40", "--lr", "1e-3",
                           "--upright", "--augment", "recrop", "--box-shift", "0.025", "--box-scale", "0.045",
                           "--threads", "2", "--seed", "0"), "level1.pt", after=("level1_c2",)),
    # level 2 re-tuned on level 1's real errors, with detector-like box jitter, level 1 run as the
    # shipped cascade runs it (a second pass, by the second-pass level 1, on the re-made crop,
    # averaged with its mirror image), then level 2's shape correction fitted on the training faces
    Step("level2_ft", ("level2", "--k", "3", "--level1", "{out}/level1_c2/level1.pt", "--init", "{out}/level2_sim/level2.pt",
                       "--level1-recrop", "{out}/level1_recrop/level1.pt",
                       "--lr", "5e-4", "--epochs", "10", "--box-shift", "0.075", "--box-scale", "0.085",
                       "--level1-flip", "--recrop", "--shape-correction", "1000", "--threads", "1", "--seed", "0"), "level2.pt",
         after=("level1_c2", "level1_recrop", "level2_sim")),
)


SHIPPED = {"level1_c2/level1.pt": "level1_deep.pt", "level1_recrop/level1.pt": "level1_recrop.pt",
           "level2_ft/level2.pt": "level2_k3.pt",
           "level2_sim/level2.pt": "level2_k3_sim.pt", "shallow/level1.pt": "level1_shallow.pt"}
"""Recipe output (relative to its folder) -> shipped file name in ``facelandmarks/weights``."""


def install(out: str | os.PathLike, weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Copy the recipe's finished weights into the package's weights folder, with every step's log.

    Writes ``weights_dir/NAME.pt`` for each entry of :data:`SHIPPED`, ``weights_dir/logs/recipe/STEP.csv``
    (each step's per-epoch log), ``recipe_log.csv`` and ``recipe_time.txt``. Afterwards, rerun the int8
    calibration (``facelandmarks quantize``), ``tools/weights_manifest.py`` and
    ``benchmarks/confidence.py --write``, as ``make weights`` does.

    Raises:
        FileNotFoundError: a step has not finished (run the recipe first).
    """
    import shutil

    out = Path(out)
    weights_dir = Path(weights_dir) if weights_dir is not None else Path(__file__).resolve().parent / "weights"
    missing = [src for src in SHIPPED if not (out / src).is_file()]
    if missing:
        raise FileNotFoundError(f"{out}: the recipe has not finished {missing}; run `facelandmarks recipe --out {out}` first")
    written = []
    for src, name in SHIPPED.items():
        written.append(Path(shutil.copyfile(out / src, weights_dir / name)))
    logs = weights_dir / "logs" / "recipe"
    logs.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        for csv_file in (out / step.name).glob("*_log.csv"):
            written.append(Path(shutil.copyfile(csv_file, logs / f"{step.name}.csv")))
    for name in ("recipe_log.csv", "recipe_time.txt"):
        if (out / name).is_file():
            written.append(Path(shutil.copyfile(out / name, logs / name)))
    split = next((out / "level1").glob("*_split.json"), None)
    if split is not None:
        written.append(Path(shutil.copyfile(split, weights_dir / "split.json")))
    return written


def _append_row(path: Path, row: dict) -> None:
    new = not path.is_file()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is still running (an ended child is reaped; a zombie is not running)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child, ended: reaped now
            return False
    except ChildProcessError:  # not our child: ask the system
        pass
    try:
        os.kill(pid, 0)
    except OSError as err:
        return err.errno == errno.EPERM
    try:  # Linux: state Z = ended, not yet reaped by its parent
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class _Adopted:
    """A step's process started by an earlier recipe run that is still alive (its ``running.pid``)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        return None if _alive(self.pid) else 0

    def terminate(self) -> None:
        os.kill(self.pid, 15)


def run_recipe(out: str | os.PathLike, data: str | None = None, parallel: int = 2,
               extra: tuple[str, ...] = (), steps: tuple[Step, ...] = STEPS) -> float:
    """Run every step of ``steps`` not yet finished, at most ``parallel`` at once, in dependency order.

    Args:
        out: the recipe's output folder (one sub-folder per step, logs, ``recipe_log.csv``).
        data: the data root (default ``$FACELANDMARKS_DATA``).
        extra: more arguments for every ``facelandmarks train`` call (e.g. ``("--device", "cuda")``).

    Returns:
        The total wall-clock seconds of every attempt so far (``OUT/attempts``).

    Raises:
        RuntimeError: a step failed (its log file is named); finished steps stay finished.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "recipe_log.csv"
    done = {s.name for s in steps if (out / s.name / s.weights).is_file()}
    running: dict[str, tuple[subprocess.Popen, float, object]] = {}
    t_start = time.time()
    attempt_file = out / "attempts" / time.strftime("%Y%m%d-%H%M%S.txt", time.localtime(t_start))
    attempt_file.parent.mkdir(exist_ok=True)
    while len(done) < len(steps):
        attempt_file.write_text(f"{time.time() - t_start:.0f}\n")  # wall-clock so far: counts an interrupted attempt too
        for step in steps:
            if step.name in done or step.name in running or len(running) >= parallel:
                continue
            if not all(a in done for a in step.after):
                continue
            pid_file = out / step.name / "running.pid"
            if pid_file.is_file() and _alive(int(pid_file.read_text())):  # started by an earlier run: wait for it
                print(f"recipe: {step.name} is already running (pid {pid_file.read_text().strip()}): waiting", flush=True)
                running[step.name] = (_Adopted(int(pid_file.read_text())), time.time(), open(os.devnull, "w"))
                continue
            cmd = [sys.executable, "-m", "facelandmarks.cli", "train",
                   *(a.format(out=out) for a in step.args), "--out", str(out / step.name), *extra]
            if data is not None:
                cmd += ["--data", str(data)]
            (out / step.name).mkdir(exist_ok=True)
            handle = open(out / step.name / "stdout.txt", "a")
            handle.write(f"# {' '.join(cmd)}\n")
            handle.flush()
            print(f"recipe: start {step.name}: {' '.join(cmd[3:])}", flush=True)
            proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
            pid_file.write_text(str(proc.pid))
            running[step.name] = (proc, time.time(), handle)
        if not running:
            missing = [s.name for s in steps if s.name not in done]
            raise RuntimeError(f"recipe: steps {missing} wait for steps that cannot run")
        time.sleep(2)
        for name, (proc, t0, handle) in list(running.items()):
            if proc.poll() is None:
                continue
            handle.close()
            del running[name]
            (out / name / "running.pid").unlink(missing_ok=True)
            if isinstance(proc, _Adopted):  # no exit status: its weight file says whether it finished
                proc.returncode = 0 if (out / name / next(s.weights for s in steps if s.name == name)).is_file() else 1
            _append_row(log, {"step": name, "start": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0)),
                              "end": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.time() - t0, 1),
                              "returncode": proc.returncode})
            if proc.returncode != 0:
                for other, (p, _, h) in running.items():
                    p.terminate()
                    h.close()
                raise RuntimeError(f"recipe: step {name} failed (exit {proc.returncode}); see {out / name / 'stdout.txt'}")
            done.add(name)
            print(f"recipe: {name} done in {time.time() - t0:.0f} s", flush=True)
    attempt_file.write_text(f"{time.time() - t_start:.0f}\n")
    total = sum(float(f.read_text()) for f in (out / "attempts").glob("*.txt"))
    (out / "recipe_time.txt").write_text(f"{total:.0f} s wall-clock over all attempts ({total / 60:.1f} min)\n")
    print(f"recipe: all steps done; {total / 60:.1f} min wall-clock over all attempts", flush=True)
    return total
