"""Fill docs/results.md's placeholders from the outputs of the benchmark runs (kept verbatim).

    .venv/bin/python tools/fill_results.py ABLATION.md VS_DLIB.log BENCHMARK.log
"""
import sys
from pathlib import Path

page = Path("docs/results.md")
text = page.read_text()
ablation, vsdlib, speed = (Path(p).read_text().strip() for p in sys.argv[1:4])
table = "\n".join(line for line in ablation.splitlines() if line.startswith("|"))
text = text.replace("ABLATION_TABLE", table).replace("VSDLIB_OUTPUT", vsdlib).replace("SPEED_OUTPUT", speed)
page.write_text(text)
