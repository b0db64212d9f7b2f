"""A real JupyterLab server and a real (system) Chromium driven by Playwright, for browser tests."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("JSML_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyter_lab(root: Path, home: Path) -> Iterator[dict[str, Any]]:
    """Start `jupyter lab` on 127.0.0.1 (logs to a file); yields its URL and token; stops it."""
    port, token = free_port(), secrets.token_hex(16)
    settings = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = dict(
        os.environ,
        JSML_HOME=str(home),
        JSML_SERVING_FLUSH_SECONDS="1",
        JUPYTERLAB_SETTINGS_DIR=str(root / ".lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".lab-workspaces"),
    )
    log = open(root / "jupyter-lab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.port_retries=0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter lab did not start: {(root / 'jupyter-lab.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.3)
        yield {"url": url, "token": token, "log": root / "jupyter-lab.log", "root": root}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def browser_page(viewport: tuple[int, int] = (1400, 900)) -> Iterator[Any]:
    """A Playwright page in the system Chromium (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            yield page
        finally:
            browser.close()


def api_get(lab: dict[str, Any], path: str) -> Any:
    """GET ``<lab>/serverless-ml/api/<path>`` with the lab's token; the decoded JSON."""
    request = urllib.request.Request(
        f"{lab['url']}/serverless-ml/api/{path}",
        headers={"Authorization": f"token {lab['token']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def open_lab(page: Any, lab: dict[str, Any]) -> None:
    page.goto(f"{lab['url']}/lab?reset&token={lab['token']}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=60_000)


def open_panel(page: Any) -> Any:
    """Click the Serverless ML icon in the left sidebar; returns the panel."""
    page.locator('li[data-id="jupyter-serverless-ml-panel"]').click()
    panel = page.locator("#jupyter-serverless-ml-panel")
    panel.locator(".jsml-tabs").wait_for(timeout=30_000)
    return panel


def api_request(lab: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    """A request to the Jupyter server itself (``/lab/api/...``), with the token and _xsrf."""
    request = urllib.request.Request(
        f"{lab['url']}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {lab['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


THEMES = {
    "light": "JupyterLab Light",
    "dark": "JupyterLab Dark",
    "high-contrast": "JupyterLab Dark High Contrast",
}


def set_theme(lab: dict[str, Any], theme: str) -> None:
    """Choose Lab's theme in its settings (a key of THEMES); applies on the next load."""
    api_request(
        lab,
        "PUT",
        "/lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": THEMES[theme]})},
    )


def set_left_width(page: Any, width: int) -> None:
    """Drag the handle between the left area and the main area until the left area is
    ``width`` px wide (the open panel's width)."""
    for _ in range(3):
        box = page.locator("#jp-left-stack").bounding_box()
        if abs(box["width"] - width) <= 2:
            return
        x, y = box["x"] + box["width"] + 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(box["x"] + width + 2, y, steps=5)
        page.mouse.up()


def visible_at_centre(locator: Any) -> bool:
    """Whether the element is what the user sees at its centre (not clipped, not covered,
    not scrolled away): ``document.elementFromPoint`` there is it or inside it."""
    return bool(
        locator.evaluate(
            """(node) => {
                const r = node.getBoundingClientRect();
                if (r.width === 0 || r.height === 0) return false;
                const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                return hit !== null && (hit === node || node.contains(hit));
            }"""
        )
    )


def scrolls_sideways(locator: Any) -> bool:
    """Whether the element, or anything inside it, scrolls horizontally."""
    return bool(
        locator.evaluate(
            """(root) => [root, ...root.querySelectorAll('*')].some(
                n => n.scrollWidth > n.clientWidth + 1 &&
                     ['auto', 'scroll'].includes(getComputedStyle(n).overflowX))"""
        )
    )


def run_from_palette(page: Any, label: str) -> None:
    """Open the command palette, type ``label``, run the first match."""
    page.keyboard.press("Control+Shift+C")
    search = page.locator("#modal-command-palette input")
    search.wait_for(timeout=10_000)
    search.fill(label)
    page.locator("#modal-command-palette .lm-CommandPalette-item", has_text=label).first.click()


def toast(page: Any, text: str) -> Any:
    """A Lab notification (toast) that contains ``text``."""
    return page.locator(".Toastify__toast", has_text=text)


DOCS = Path(__file__).resolve().parents[1] / "docs"


def keep_screenshot(page_or_locator: Any, tmp_path: Path, name: str) -> None:
    """Screenshot to tmp; copied to docs/ when JSML_UPDATE_SCREENSHOT is set."""
    import shutil

    shot = tmp_path / name
    page_or_locator.screenshot(path=str(shot))
    if os.environ.get("JSML_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, DOCS / name)


def confirm_dialog(page: Any) -> None:
    """Press the accept button (OK or warn) of Lab's open dialog and wait until it closes."""
    dialog = page.locator(".jp-Dialog")
    dialog.locator("button.jp-mod-accept, button.jp-mod-warn").last.click()
    dialog.wait_for(state="detached", timeout=10_000)
