"""Write docs/results.md from tools/results_template.md and the outputs of the benchmark runs (verbatim);
`make results` runs all four commands:

    .venv/bin/python benchmarks/ablation.py --out docs/results
    .venv/bin/python benchmarks/vs_dlib.py --out docs/results > out/vs_dlib.log
    .venv/bin/facelandmarks benchmark --repeats 9 > out/benchmark.log
    .venv/bin/python tools/fill_results.py docs/results/ablation.md out/vs_dlib.log out/benchmark.log

The speed sections (ONNX Runtime, torch, dlib) are kept verbatim in the template with the output of
their own runs; SPEED_OUTPUT, where the template has it, takes the third file.
"""
import sys
from pathlib import Path

page = Path("docs/results.md")
text = (Path(__file__).parent / "results_template.md").read_text()
ablation, vsdlib, speed = (Path(p).read_text().strip() for p in sys.argv[1:4])
table = "\n".join(line for line in ablation.splitlines() if line.startswith("|"))
text = text.replace("ABLATION_TABLE", table).replace("VSDLIB_OUTPUT", vsdlib).replace("SPEED_OUTPUT", speed)
page.write_text(text)
