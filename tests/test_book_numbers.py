"""tools/check_book_numbers.py: the notebooks' numbers must equal the results page's."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_book_numbers", ROOT / "tools" / "check_book_numbers.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

PAGE = """# Results

| model | mean NME | median NME | AUC@0.08 | failure rate | mean NME, jittered GT boxes |
| --- | --- | --- | --- | --- | --- |
| shallow level 1 (39x39 gray, 4 conv) | 6.24% | 5.93% | 0.260 | 14.8% | 6.02% |
| deep level 1 (Table 1a) | 4.68% | 4.30% | 0.422 | 3.6% | 4.52% |
| deep level 1, recrop + level1_flip, the same network for both passes (ours) | 4.45% | 4.05% | 0.450 | 2.2% | 4.42% |
| deep level 1, recrop + level1_flip, second-pass level 1 (ours; as the default runs it) | 4.41% | 4.02% | 0.455 | 2.0% | 4.40% |
| deep level 1, first cycle only (recipe step level1: 60 epochs) | 5.11% | 4.40% | 0.400 | 4.0% | 4.90% |
| deep level 1, first cycle + level 2 (K=3, simulated errors only) [the paper's training] | 3.99% | 3.40% | 0.500 | 1.0% | 3.90% |
| shallow level 1 + level 2 (K=3) | 4.02% | 3.75% | 0.506 | 2.8% | 3.88% |
| deep level 1 + level 2 (K=1, simulated errors) | 3.76% | 3.53% | 0.531 | 1.2% | 3.67% |
| deep level 1 + level 2 (K=3, simulated errors) | 3.64% | 3.37% | 0.547 | 0.8% | 3.57% |
| deep level 1 + level 2 (K=3, + real level-1 errors) [shipped default] | 3.50% | 3.22% | 0.564 | 0.8% | 3.43% |
|   shipped default + flip test-time averaging | 3.41% | 3.16% | 0.575 | 0.8% | 3.36% |

```
400 test faces of the common split (150 LFPW test + 250 HELEN test), ...
NME / inter_ocular (outer eye corners, points 37 and 46, 300-W's):
 lfpw (150 faces)
  dlib shape predictor (ERT)                   mean 2.66%  median 2.30%  AUC@0.08 0.680  failures 1.3%  3.3 ms per face
  facelandmarks cascade                        mean 3.71%  median 3.40%  AUC@0.08 0.540  failures 0.7%
  mean NME ratio to dlib: facelandmarks cascade 1.395
 helen (250 faces)
  dlib shape predictor (ERT)                   mean 2.87%  median 2.34%  AUC@0.08 0.676  failures 1.2%
  facelandmarks cascade                        mean 3.54%  median 3.22%  AUC@0.08 0.564  failures 0.8%
 common (400 faces)
  dlib shape predictor (ERT)                   mean 2.79%  median 2.33%  AUC@0.08 0.678  failures 1.2%  3.3 ms per face
  facelandmarks cascade                        mean 3.50%  median 3.22%  AUC@0.08 0.564  failures 0.8%  29.1 ms per face
NME / inter_pupil (eye centres):
 common (400 faces)
  dlib shape predictor (ERT)                   mean 9.99%  median 9.99%  AUC@0.08 0.100  failures 9.9%
  facelandmarks cascade                        mean 9.99%  median 9.99%  AUC@0.08 0.100  failures 9.9%
```
"""

PRINTED = {
    "02_measuring_error": "mean NME normalised by inter_ocular  : 3.43%\n",
    "03_level1_cnn": "level 1 alone on 400 test faces: mean NME 4.52% (inter_ocular, jittered ...)\n",
    "04_depth_matters": "shallow  mean NME 6.24%, failure rate 14.8% (inter_ocular, 400 faces, ...)\n"
                        "deep     mean NME 4.68%, failure rate 3.6% (inter_ocular, 400 faces, ...)\n",
    "05_rectification_and_level2": "level 1       mean NME 4.68%  AUC@0.08 0.422\n"
                                   "level 2 k1    mean NME 3.76%  AUC@0.08 0.531\n"
                                   "level 2 k3_sim mean NME 3.64%  AUC@0.08 0.547\n"
                                   "level 2 k3    mean NME 3.50%  AUC@0.08 0.564\n",
    "06_evaluation": "lfpw (150 faces) cascade  mean 3.71%  median 3.40%  AUC@0.08 0.540  failures 0.7%\n"
                     "helen (250 faces) cascade  mean 3.54%  median 3.22%  AUC@0.08 0.564  failures 0.8%\n"
                     "common (400 faces) level 1  mean 4.41%  median 4.02%  AUC@0.08 0.455  failures 2.0%\n"
                     "common (400 faces) cascade  mean 3.50%  median 3.22%  AUC@0.08 0.564  failures 0.8%\n"
                     "lfpw (150 faces) dlib     mean 2.66%  median 2.30%  AUC@0.08 0.680  failures 1.3%\n"
                     "helen (250 faces) dlib     mean 2.87%  median 2.34%  AUC@0.08 0.676  failures 1.2%\n"
                     "common (400 faces) dlib     mean 2.79%  median 2.33%  AUC@0.08 0.678  failures 1.2%\n",
}


def _notebooks(folder: Path, printed: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for stem, text in printed.items():
        cell = {"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": text.splitlines(True)}]}
        (folder / f"{stem}.ipynb").write_text(json.dumps({"cells": [cell]}))
    return folder


def test_every_number_of_the_notebooks_is_found_on_the_page(tmp_path: Path):
    found = check.pairs(_notebooks(tmp_path / "nb", PRINTED), PAGE)
    assert len(found) == 2 + 4 + 8 + 4 * 8
    assert [p for p in found if p[1] is None or p[1] != p[2]] == []


def test_one_digit_off_or_a_missing_line_is_reported(tmp_path: Path, capsys, monkeypatch):
    printed = dict(PRINTED)
    printed["04_depth_matters"] = printed["04_depth_matters"].replace("4.68%", "4.69%")
    printed["02_measuring_error"] = ""
    folder = _notebooks(tmp_path / "nb", printed)
    (tmp_path / "results.md").write_text(PAGE)
    monkeypatch.setattr("sys.argv", ["check_book_numbers.py", str(folder), str(tmp_path / "results.md")])
    assert check.main() == 1
    out = capsys.readouterr().out
    assert "DIFFERS  04 deep level 1: mean" in out and "notebook 4.69, results page 4.68" in out
    assert "notebook missing, results page 3.43" in out


def test_a_page_without_the_common_split_fails(tmp_path: Path):
    """The page of the earlier weights (HELEN only, without per-split lines) does not pass."""
    old = PAGE.replace(" lfpw (150 faces)", " lfpwx").replace(" common (400 faces)", " commonx")
    found = check.pairs(_notebooks(tmp_path / "nb", PRINTED), old)
    assert any(p[2] is None for p in found if p[0].startswith("06 lfpw"))
