"""Time of one "next face" in the prediction browser with all 250 test faces loaded.

    FACELANDMARKS_DATA=../shared/data .venv/bin/python benchmarks/widget_redraw.py
"""
import time

import numpy as np

from facelandmarks import datasets, load_pretrained, widgets
from facelandmarks.evaluation import evaluate

faces = datasets.load_split("test", progress=False)
ev = evaluate(load_pretrained(fuse=True), faces, boxes="jittered")
browser = widgets.prediction_browser(ev)
slider = browser.children[1].children[1]
times = []
for k in range(1, 21):
    t0 = time.perf_counter()
    slider.value = k  # what the "next" button does: state change + matplotlib redraw to PNG
    times.append(time.perf_counter() - t0)
print(f"{len(faces)} faces loaded; next-face redraw: median {1000 * np.median(times):.0f} ms, "
      f"max {1000 * np.max(times):.0f} ms over {len(times)} steps")
