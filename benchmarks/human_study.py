"""How close to human? Print the human-vs-model numbers and write the figures.

    FACELANDMARKS_DATA=/path/to/data python benchmarks/human_study.py --out docs/figures

Everything is computed live from the shared data and the shipped weights (see docs/human.md);
``--help`` lists the options (jitter draws, HELEN subset, box source, seed, threads, JSON output).
"""
from __future__ import annotations

import sys

from facelandmarks.human import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
