"""Real-browser test: notebook 09's widgets in JupyterLab, driven in Debian's headless Chromium.

Starts JupyterLab on a free localhost port with a token, in a temporary folder holding a copy of
``09_inspect_predictions.ipynb`` (and temporary Jupyter config, runtime and workspace folders, with
the announcements pop-up disabled); opens the notebook through Playwright for Python, runs all
cells, then uses the widgets as a learner would and checks what the page shows:

* prediction browser: "next" (the rank text and the face image change), the rank slider moved with
  the keyboard, the point-group dropdown (the group's NME appears);
* cascade viewer: its point slider (the patch image changes);
* CED explorer: its threshold slider (the failing-faces text follows);
* annotator: a click on the face (the prompt moves to the next point; the click's image coordinates,
  shown by the widget, match where it was clicked), "undo", and the "2x" zoom.

Screenshots go to a temporary folder (``FACELANDMARKS_SCREENSHOTS=folder`` copies them there). The
server's process group is killed in a ``finally``, after its kernels are shut down. Never runs
``playwright install``: Chromium is Debian's (``apt-get install chromium``).
"""
from __future__ import annotations

import json
import os
import re
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
TOKEN = "facelandmarks-browser-test"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, path: str, method: str = "GET") -> object:
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body else None


@pytest.fixture()
def lab(tmp_path, data_root):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium); never `playwright install`")
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work)
    config = tmp_path / "jupyter_config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "FACELANDMARKS_FAST": "1", "FACELANDMARKS_DATA": str(data_root)}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={work}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _api(base, "/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; see {tmp_path / 'server.log'}")
                time.sleep(0.5)
        yield f"{base}/lab/tree/{NOTEBOOK.name}?token={TOKEN}", tmp_path
    finally:
        try:  # shut the kernels down through the server, then stop the server's whole process group
            for kernel in _api(base, "/api/kernels"):
                _api(base, f"/api/kernels/{kernel['id']}", method="DELETE")
        except (OSError, TypeError, ValueError):
            pass
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


def test_notebook_09_widgets_respond_in_chromium(lab):
    from playwright.sync_api import expect, sync_playwright

    url, tmp = lab
    shots = tmp / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp / "profile"), executable_path=CHROMIUM, headless=True,
                                                       args=FLAGS, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            page.goto(url)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # the kernel is up
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            # --- prediction browser -------------------------------------------------------------
            pb = page.locator(".facelandmarks-prediction-browser")
            info = pb.locator(".widget-html").filter(has_text="rank 1 of 400")
            info.wait_for(timeout=240_000)  # notebook 09 evaluates all 400 test faces, in FAST mode too
            face = pb.locator(".widget-image")
            expect(face).to_have_attribute("src", re.compile("^blob:"))
            pb.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "1_browser.png"))
            before = face.get_attribute("src")
            pb.get_by_role("button", name="next").click()
            pb.locator(".widget-html").filter(has_text="rank 2 of 400").wait_for()
            expect(face).not_to_have_attribute("src", before)  # the next face was drawn
            pb.locator(".widget-slider").filter(has_text="rank").locator(".noUi-handle").focus()  # from the keyboard
            page.keyboard.press("ArrowRight")
            pb.locator(".widget-html").filter(has_text="rank 3 of 400").wait_for()
            pb.locator("select").nth(1).select_option(label="mouth")  # the point-group dropdown
            pb.locator(".widget-html").filter(has_text="NME mouth").wait_for()
            pb.locator(".widget-html").filter(has_text="rank 1 of 400").wait_for()  # a new order starts over
            page.screenshot(path=str(shots / "2_browser_mouth.png"))
            pb.screenshot(path=str(shots / "widgets_browser.png"))

            # --- cascade viewer -----------------------------------------------------------------
            cv = page.locator(".facelandmarks-cascade-viewer")
            cv.scroll_into_view_if_needed()
            patch = cv.locator(".widget-image").last
            before = patch.get_attribute("src")
            cv.locator(".noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            expect(patch).not_to_have_attribute("src", before)
            page.screenshot(path=str(shots / "3_cascade.png"))

            # --- CED explorer -------------------------------------------------------------------
            ced = page.locator(".facelandmarks-ced-explorer")
            ced.scroll_into_view_if_needed()
            ced.locator(".widget-html").filter(has_text="faces fail at 0.080").wait_for()
            ced.locator(".noUi-handle").first.focus()
            for _ in range(10):
                page.keyboard.press("ArrowLeft")
            ced.locator(".widget-html").filter(has_text="faces fail at 0.030").wait_for()
            page.screenshot(path=str(shots / "4_ced.png"))

            # --- "You vs the CNN" ---------------------------------------------------------------
            ann = page.locator(".facelandmarks-annotator")
            ann.scroll_into_view_if_needed()
            prompt = ann.locator(".widget-html").filter(has_text="point 1 of 88")
            prompt.wait_for()
            photo = ann.locator(".widget-image").first
            size = photo.bounding_box()
            natural = photo.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            before = photo.get_attribute("src")
            photo.click(position={"x": 200, "y": 150})
            ann.locator(".widget-html").filter(has_text="point 2 of 88").wait_for()
            expect(photo).not_to_have_attribute("src", before)  # the click is drawn
            # the widget reports the click in image coordinates: undo ipyevents' PNG pixel and the
            # viewport (the whole 1024 x 768 image in the PNG) by hand
            u = round(200 / size["width"] * natural[0])
            v = round(150 / size["height"] * natural[1])
            x, y = -0.5 + (u + 0.5) * 1024 / natural[0], -0.5 + (v + 0.5) * 768 / natural[1]
            status = ann.locator(".widget-html").filter(has_text="last click")
            shown = [float(n) for n in re.findall(r"\(([-\d.]+), ([-\d.]+)\)", status.inner_text())[0]]
            assert shown == pytest.approx([x, y], abs=0.11)
            page.screenshot(path=str(shots / "5_annotator_click.png"))
            ann.screenshot(path=str(shots / "widgets_annotator.png"))
            ann.get_by_role("button", name="undo").click()
            ann.locator(".widget-html").filter(has_text="point 1 of 88").wait_for()
            before = photo.get_attribute("src")
            ann.get_by_role("button", name="2x").click()
            expect(photo).not_to_have_attribute("src", before)
            photo.click(position={"x": 100, "y": 100})
            ann.locator(".widget-html").filter(has_text="point 2 of 88").wait_for()
            page.screenshot(path=str(shots / "6_annotator_zoom.png"))
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            context.close()
            keep = os.environ.get("FACELANDMARKS_SCREENSHOTS")
            if keep:
                shutil.copytree(shots, keep, dirs_exist_ok=True)
