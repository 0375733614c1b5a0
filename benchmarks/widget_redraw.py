"""How long the widgets take to redraw, with all 250 test faces loaded (goal: "next face" < 0.5 s).

    FACELANDMARKS_DATA=../shared/data nice -n 19 .venv/bin/python benchmarks/widget_redraw.py [--steps 30]

Times the Python side of each interaction, as a click in the browser triggers it: the state change,
the matplotlib drawing and the PNG encoding, up to the new bytes being set on the ``ipywidgets.Image``
(sending them to the browser over the local websocket is not included). The boxes are jittered
ground-truth boxes: how a face was boxed does not change the drawing. The machine's load average
is printed with the times, since other work on the machine slows the drawing down.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from facelandmarks import datasets, human, load_pretrained, widgets
from facelandmarks.evaluation import evaluate


def timed(action, n: int) -> np.ndarray:
    times = []
    for k in range(n):
        t0 = time.perf_counter()
        action(k)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="interactions timed per widget")
    args = parser.parse_args()
    faces = datasets.load_split("test", progress=False)
    cascade = load_pretrained(fuse=True)
    ev = evaluate(cascade, faces, boxes="jittered")
    browser = widgets.prediction_browser(ev)
    rows = {"prediction browser: next face": timed(lambda k: browser.next_button.click(), args.steps)}
    browser.layers["level 1"].value = True
    rows["prediction browser: slider to a face (5 layers)"] = timed(
        lambda k: setattr(browser.slider, "value", 1 + (37 * k) % len(faces)), args.steps)
    groups = list(faces.scheme.groups)
    rows["prediction browser: change point group"] = timed(
        lambda k: setattr(browser.group, "value", groups[k % len(groups)]), args.steps)
    ced = widgets.ced_explorer(ev)
    rows["CED explorer: move the threshold"] = timed(
        lambda k: setattr(ced.slider, "value", round(0.02 + 0.005 * (k % 20), 3)), args.steps)
    viewer = widgets.cascade_viewer(cascade, faces.images[0], ev.boxes[0], faces.points[0])
    rows["cascade viewer: another point's patch"] = timed(
        lambda k: setattr(viewer.point_slider, "value", 1 + (k * 7) % 68), args.steps)
    annotator = widgets.annotation_widget(human.AnnotationSession("benchmark"), cascade=cascade, score=False)
    rows["annotator: a click"] = timed(lambda k: annotator.handle_click(200 + k, 200), min(args.steps, 21))
    print(f"{len(faces)} faces loaded; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, t in rows.items():
        print(f"{name:<50} median {1000 * np.median(t):4.0f} ms, max {1000 * t.max():4.0f} ms ({len(t)} times)")
    worst = np.median(rows["prediction browser: next face"])
    print(f"next face: median {1000 * worst:.0f} ms, goal < 500 ms: {'met' if worst < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
