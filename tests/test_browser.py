"""Real-browser test: JupyterLab + Debian's Chromium (Playwright), notebook 09's widgets driven by clicks.

Starts JupyterLab on a free localhost port with a token in a temporary folder, opens
``09_inspect_predictions.ipynb``, runs all cells, moves through the prediction browser with its
"next" button and its threshold slider, checks the rendered text and image changed, saves
screenshots, and stops the server (its whole process group) whatever happens.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "09_inspect_predictions.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path, data_root):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work)
    config = tmp_path / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    port, token = _free_port(), "facelandmarks-test-token"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "FACELANDMARKS_FAST": "1",
           "FACELANDMARKS_DATA": str(data_root)}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}", tmp_path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_inspect_notebook_widgets_respond_in_chromium(lab):
    from playwright.sync_api import expect, sync_playwright

    url, tmp = lab
    shots = tmp / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(str(tmp / "profile"), executable_path=CHROMIUM, args=FLAGS,
                                                       viewport={"width": 1400, "height": 1000})
        page = browser.new_page()
        try:
            page.goto(url)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # the kernel is up
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            info = page.get_by_text("rank 1 of 20")
            info.wait_for(timeout=120_000)
            page.screenshot(path=str(shots / "1_loaded.png"))
            browser_image = page.locator(".widget-image").first
            before = browser_image.get_attribute("src")
            page.get_by_role("button", name="next").first.click()
            page.get_by_text("rank 2 of 20").wait_for(timeout=30_000)
            expect(browser_image).not_to_have_attribute("src", before, timeout=30_000)  # the face was redrawn
            page.screenshot(path=str(shots / "2_next.png"))
            # the CED explorer: move its threshold slider with the keyboard; the failing-faces text changes
            failing = page.get_by_text("faces fail at 0.080")
            failing.wait_for(timeout=30_000)
            page.locator(".widget-slider .noUi-handle").last.focus()
            page.keyboard.press("ArrowLeft")
            page.get_by_text("faces fail at 0.075").wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "3_threshold.png"), full_page=True)
            # the annotator: a click on the face records the point and asks for the next one
            asked = page.get_by_text("point 1 of 88")
            asked.scroll_into_view_if_needed(timeout=30_000)
            annotator = page.locator(".widget-image").last
            annotator.scroll_into_view_if_needed()
            annotator.click(position={"x": 60, "y": 50})
            page.get_by_text("point 2 of 88").wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "4_annotator.png"))
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
            keep = os.environ.get("FACELANDMARKS_SCREENSHOTS")
            if keep:
                shutil.copytree(shots, keep, dirs_exist_ok=True)
