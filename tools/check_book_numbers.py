"""Check that the executed notebooks print the same numbers as the results page, to the digit.

The notebooks evaluate on every test face in both modes (FAST only shrinks training cells), with
the same boxes and seeds as ``benchmarks/ablation.py`` and ``benchmarks/vs_dlib.py``, so each
number they print has a twin on ``docs/results.md``: the ablation table, or the output of
``vs_dlib.py`` pasted there by ``tools/fill_results.py``. ``book/build.sh`` runs this check on the
notebooks it has just executed; on its own::

    .venv/bin/python tools/check_book_numbers.py book/notebooks docs/results.md

Exit status 0 when every pair agrees, 1 when one differs or is missing (each pair is printed).
A difference means the results page is older than the shipped weights (or the other way round):
``make results`` regenerates the page.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
STATS = rf"mean {NUMBER}%\s+median {NUMBER}%\s+AUC@0\.08 {NUMBER}\s+failures {NUMBER}%"

# ablation rows, found by their label (the labels name the model; the lead may reword the rest)
ROWS = {
    "shallow level 1": re.compile(r"^shallow level 1 \("),
    "deep level 1": re.compile(r"^deep level 1 \("),
    "deep level 1 as the default runs it": re.compile(r"^deep level 1, recrop \+ level1_flip, second-pass level 1"),
    "deep + level 2 K=1": re.compile(r"^deep level 1 \+ level 2 \(K=1\b"),
    "deep + level 2 K=3 simulated": re.compile(r"^deep level 1 \+ level 2 \(K=3, simulated"),
    "shipped default": re.compile(r"^deep level 1 \+ level 2 .*\[shipped default"),
}
COLUMNS = ("mean", "median", "auc", "failures", "mean jittered")
DLIB_LABELS = {"dlib shape predictor (ERT)": "dlib", "facelandmarks cascade": "cascade"}


def notebook_text(path: Path) -> str:
    """Everything a notebook printed (its stream outputs), one string."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def ablation_rows(page: str) -> dict[str, dict[str, str]]:
    """The ablation table of the results page: row name (of ROWS) -> column -> the printed text."""
    rows: dict[str, dict[str, str]] = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 6:
            continue
        for name, pattern in ROWS.items():
            if pattern.search(cells[0].strip()) and name not in rows:
                values = [c.rstrip("%") for c in cells[1:6]]
                rows[name] = dict(zip(COLUMNS, values))
    return rows


def vs_dlib_lines(page: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """The vs_dlib.py output on the page, inter_ocular block: (split, method) -> the 4 stats."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    norm = split = None
    for line in page.splitlines():
        if m := re.match(r"NME / (\w+)", line):
            norm = m.group(1)
        elif m := re.match(r"^ (lfpw|helen|common) \((\d+) faces\)", line):
            split = m.group(1)
        elif norm == "inter_ocular" and split and (m := re.match(rf"^\s+(.+?)\s+{STATS}", line)):
            if m.group(1) in DLIB_LABELS:
                found.setdefault((split, DLIB_LABELS[m.group(1)]), m.groups()[1:])
    return found


def pairs(notebooks: Path, page: str) -> list[tuple[str, str | None, str | None]]:
    """(what, the notebook's number, the page's number) for every number that has a twin."""
    rows, dlib = ablation_rows(page), vs_dlib_lines(page)
    out: list[tuple[str, str | None, str | None]] = []

    def row(name: str, column: str) -> str | None:
        return rows.get(name, {}).get(column)

    def text(stem: str) -> str:
        paths = sorted(notebooks.glob(f"{stem}_*.ipynb"))
        return notebook_text(paths[0]) if paths else ""

    nb = text("02")
    m = re.search(rf"mean NME normalised by inter_ocular\s*: {NUMBER}%", nb)
    out.append(("02 cascade, jittered boxes: mean", m and m.group(1), row("shipped default", "mean jittered")))
    nb = text("03")
    m = re.search(rf"level 1 alone on \d+ test faces: mean NME {NUMBER}%", nb)
    out.append(("03 level 1, jittered boxes: mean", m and m.group(1), row("deep level 1", "mean jittered")))
    nb = text("04")
    for name in ("shallow", "deep"):
        m = re.search(rf"^{name}\s+mean NME {NUMBER}%, failure rate {NUMBER}%", nb, flags=re.M)
        for k, column in enumerate(("mean", "failures"), start=1):
            out.append((f"04 {name} level 1: {column}", m and m.group(k), row(f"{name} level 1", column)))
    nb = text("05")
    for label, name in (("level 1", "deep level 1"), ("level 2 k1", "deep + level 2 K=1"),
                        ("level 2 k3_sim", "deep + level 2 K=3 simulated"), ("level 2 k3", "shipped default")):
        m = re.search(rf"^{label}\s+mean NME {NUMBER}%\s+AUC@0\.08 {NUMBER}", nb, flags=re.M)
        for k, column in enumerate(("mean", "auc"), start=1):
            out.append((f"05 {label}: {column}", m and m.group(k), row(name, column)))
    nb = text("06")
    for split in ("lfpw", "helen", "common"):
        for method in ("level 1", "cascade", "dlib"):
            m = re.search(rf"^{split} \(\d+ faces\) {method}\s+{STATS}", nb, flags=re.M)
            if method == "level 1" and split != "common":
                continue  # the page has level 1 alone on the common split only
            for k, column in enumerate(COLUMNS[:4], start=1):
                if method == "level 1":  # the default cascade's level 1: recrop (second-pass level 1) + level1_flip
                    twin = row("deep level 1 as the default runs it", column)
                elif split == "common" and method == "cascade":
                    twin = row("shipped default", column)
                    out.append((f"06 {split} {method} (vs_dlib.py): {column}", m and m.group(k),
                                (dlib.get((split, method)) or (None,) * 4)[k - 1]))
                else:
                    twin = (dlib.get((split, method)) or (None,) * 4)[k - 1]
                out.append((f"06 {split} {method}: {column}", m and m.group(k), twin))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", type=Path, help="folder of the executed notebooks (book/notebooks)")
    parser.add_argument("results", type=Path, help="the results page (docs/results.md)")
    args = parser.parse_args()
    checked = pairs(args.notebooks, args.results.read_text(encoding="utf-8"))
    bad = 0
    for what, mine, theirs in checked:
        ok = mine is not None and mine == theirs
        bad += not ok
        print(f"{'ok' if ok else 'DIFFERS':8s} {what:48s} notebook {mine or 'missing'}, "
              f"results page {theirs or 'missing'}")
    print(f"{len(checked) - bad} of {len(checked)} numbers of the notebooks agree with {args.results}")
    if bad:
        print("regenerate the results page with the shipped weights (make results), then build the book again",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
