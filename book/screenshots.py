"""Screenshots of the built book in headless Chromium (Debian's; never `playwright install`).

    .venv/bin/python book/screenshots.py --out docs/figures
"""
import argparse
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

PAGES = {"landing": "intro.html", "method": "method.html", "training": "notebooks/03_level1_cnn.html",
         "level2": "notebooks/05_rectification_and_level2.html", "evaluation": "notebooks/06_evaluation.html",
         "depth": "notebooks/04_depth_matters.html", "results": "results.html"}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--html", type=Path, default=Path(__file__).parent / "_build" / "html")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", args=FLAGS,
                                                       viewport={"width": 1600, "height": 900})
        page = browser.new_page()
        page.set_default_timeout(180_000)  # a busy machine can take longer than the default 30 s
        for name, rel in PAGES.items():
            page.goto((args.html / rel).resolve().as_uri())
            page.wait_for_timeout(1500)  # MathJax typesetting
            figures = page.locator(".cell_output img")
            if name != "landing" and figures.count():  # show the page's last figure, not just its top
                figures.last.scroll_into_view_if_needed()
            path = args.out / f"book_{name}.png"
            page.screenshot(path=str(path), full_page=False)
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)  # small files for the repository
            print("wrote", args.out / f"book_{name}.png", "- figures:", figures.count(),
                  "- math elements:", page.locator("mjx-container").count())
        browser.close()


if __name__ == "__main__":
    main()
