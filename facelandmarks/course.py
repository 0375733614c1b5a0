"""What every notebook of the course does first: choose the mode and find the data (one home for the
notebooks' first cell).

Each notebook starts with::

    FAST, DATA = course.setup()            # a notebook that reads the 300-W faces
    FAST, DATA = course.setup(data=False)  # a notebook that also runs without the data folder

``FAST`` comes from ``$FACELANDMARKS_FAST`` (``1``: small subsets and tiny training runs, for CI and
quick looks; unset or ``0``: everything); ``course.setup(fast=True)`` forces it from the notebook.
``DATA`` is the data folder (``$FACELANDMARKS_DATA``, holding ``300w/`` and ``human/``).
:func:`shipped_logs` finds the training logs that ship with the level-1 weights (notebooks 3 and 4).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .datasets import DataNotFoundError, data_root

__all__ = ["FAST_ENV_VAR", "Setup", "setup", "shipped_logs"]

FAST_ENV_VAR = "FACELANDMARKS_FAST"
"""The environment variable that turns FAST mode on (``1``) or off (``0``, the default)."""


class Setup(NamedTuple):
    """A notebook's mode and data folder; unpacks as ``FAST, DATA = course.setup()``."""

    fast: bool  # True: small subsets and tiny training runs
    data: Path | None  # the data folder; None only with setup(data=False) and no folder found


def setup(fast: bool | None = None, data: bool = True, quiet: bool = False) -> Setup:
    """The notebooks' first cell: the mode and the data folder, announced in one printed line.

    Args:
        fast: FAST mode on or off; ``None`` reads ``$FACELANDMARKS_FAST`` (``"1"`` on, unset or ``"0"`` off).
        data: ``True``: the notebook needs the data folder, and a missing one is an error saying how
            to get it; ``False``: the notebook runs without it (``Setup.data`` is then ``None``).
        quiet: do not print the line.

    Returns:
        ``Setup(fast, data)``.

    Raises:
        ValueError: ``$FACELANDMARKS_FAST`` is set to something other than ``0`` or ``1``.
        facelandmarks.datasets.DataNotFoundError: ``data=True`` and ``$FACELANDMARKS_DATA`` is not set or
            not a folder (the message says how to get the data).

    Example:
        >>> FAST, DATA = setup(fast=True, data=False, quiet=True)
        >>> FAST
        True
    """
    if fast is None:
        value = os.environ.get(FAST_ENV_VAR, "0").strip()
        if value not in ("0", "1", ""):
            raise ValueError(f"${FAST_ENV_VAR} must be 1 (FAST mode) or 0 (full mode), got {value!r}")
        fast = value == "1"
    try:
        folder: Path | None = data_root()
    except DataNotFoundError:
        if data:
            raise
        folder = None
    if not quiet:
        where = f"data in {folder}" if folder is not None else "no data folder ($FACELANDMARKS_DATA not set)"
        print("FAST mode" if fast else "full mode", "-", where)
    return Setup(bool(fast), folder)


# The per-epoch logs of the shipped level-1 networks, one CSV per training cycle, in order:
# first those of `facelandmarks recipe --install` (weights/logs/recipe/STEP.csv), else the logs
# of the hand-run cycles that trained the earlier weights (weights/logs/NAME_level1_log.csv).
_RECIPE_CYCLES = {"deep": ("level1", "level1_c2"), "shallow": ("shallow",)}
_EARLIER_CYCLES = {"deep": ("deep", "deep2", "deep3", "deep4"), "shallow": ("shallow", "shallow2")}


def shipped_logs(network: str = "deep") -> list[Path]:
    """The training logs of a shipped level-1 network: one CSV per cosine cycle, first cycle first.

    Each cycle started from the weights of the one before; read them with
    :func:`facelandmarks.train.read_log` or plot them with :func:`facelandmarks.viz.plot_training_log`
    (which numbers the epochs on across cycles).

    Args:
        network: ``"deep"`` (the paper's Table 1a) or ``"shallow"`` (the depth ablation's baseline).

    Returns:
        The CSV paths under ``facelandmarks/weights/logs``: the recipe's (``recipe/STEP.csv``,
        written by ``facelandmarks recipe --install``) where they are there, else the earlier
        weights' (``NAME_level1_log.csv``).

    Raises:
        ValueError: ``network`` is neither ``"deep"`` nor ``"shallow"``.
        FileNotFoundError: no log of that network ships with the package (naming the folder).
    """
    if network not in _RECIPE_CYCLES:
        raise ValueError(f"network must be 'deep' or 'shallow', got {network!r}")
    logs = Path(__file__).parent / "weights" / "logs"
    recipe = [logs / "recipe" / f"{step}.csv" for step in _RECIPE_CYCLES[network]]
    earlier = [logs / f"{name}_level1_log.csv" for name in _EARLIER_CYCLES[network]]
    for paths in (recipe, earlier):
        found = [p for p in paths if p.is_file()]
        if found:
            return found
    raise FileNotFoundError(f"no training log of the shipped {network} level 1 in {logs}")
