"""The sidebar in a real JupyterLab and a real Chromium: the tabs and status filters the
backends endpoint allows, train from a notebook, follow the job's log (cursors), deploy, see
the endpoint and its replicas, undeploy."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from lab import api_get, browser_page, jupyter_lab, open_lab, open_panel

from jupyter_serverless_ml.platform import client

pytestmark = pytest.mark.skipif(
    not Path(os.environ.get("JSML_CHROMIUM", "/usr/bin/chromium")).exists()
    and not os.environ.get("JSML_REQUIRE_BROWSER"),
    reason="no Chromium here (apt-get install chromium; .ci/run installs it and requires it)",
)
DOCS = Path(__file__).resolve().parents[1] / "docs"
LOGS = re.compile(r"/serverless-ml/api/jobs/[^/]+/logs$")
#: The sidebar's tabs, in order, and the backend feature each needs (the panel's contract).
TAB_FEATURES = {
    "jobs": "training",
    "endpoints": "serving",
    "models": "registry",
    "tuning": "tuning",
    "schedules": "schedules",
    "costs": "monitoring",
    "alerts": "monitoring",
}


def run_cell(page: Any, source: str) -> None:
    """Type into the active notebook's last cell and run it (Shift+Enter)."""
    editor = page.locator(".jp-Notebook .jp-Cell").last.locator(".cm-content")
    editor.click()
    page.keyboard.type(source)
    page.keyboard.press("Shift+Enter")


def widen_left_area(page: Any, width: int) -> None:
    """Drag the handle between the left area and the main area to make the panel wider."""
    box = page.locator("#jp-left-stack").bounding_box()
    x, y = box["x"] + box["width"] + 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(box["x"] + width, y, steps=5)
    page.mouse.up()


@pytest.fixture(scope="module")
def lab(platform_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("lab-root")
    with jupyter_lab(root, platform_home) as running:
        yield running


def test_panel_shows_the_platform_and_offers_to_start_it(lab: Any, platform_home: Path) -> None:
    client.stop(platform_home, timeout=10)
    with browser_page() as page:
        open_lab(page, lab)
        panel = open_panel(page)
        panel.get_by_text("The local platform is not running.").wait_for(timeout=20_000)
        panel.locator("button.jsml-start").click()
        panel.get_by_text("local platform http://127.0.0.1:").wait_for(timeout=30_000)
        for tab in ("endpoints", "models", "costs", "alerts"):
            panel.locator(f'button[data-tab="{tab}"]').click()
            panel.locator(".jsml-empty").first.wait_for(timeout=20_000)
        assert "No drift or monitor alerts." in panel.inner_text()


def test_tabs_and_status_filters_are_what_the_backends_endpoint_allows(lab: Any) -> None:
    info = api_get(lab, "backends")
    features = set(info["features"])
    assert features == {f for b in info["backends"] for f in b["features"]}
    assert not {"tuning", "schedules"} & features  # no backend implements them yet
    expected = [tab for tab, feature in TAB_FEATURES.items() if feature in features]
    with browser_page() as page:
        open_lab(page, lab)
        panel = open_panel(page)
        panel.locator('button[data-tab="jobs"]').wait_for(timeout=30_000)
        tabs = panel.locator(".jsml-tabs button[data-tab]")
        assert [tabs.nth(i).get_attribute("data-tab") for i in range(tabs.count())] == expected
        assert panel.locator('button[data-tab="tuning"]').count() == 0
        assert panel.locator('button[data-tab="schedules"]').count() == 0
        status = panel.locator('select[aria-label="status"]')
        status.wait_for(timeout=30_000)
        offered = status.locator("option").all_inner_texts()
        assert offered == ["all statuses", *info["statuses"]["job"]]
        backends = panel.locator('select[aria-label="backend"] option').all_inner_texts()
        working = [b["name"] for b in info["backends"] if not b["error"]]
        assert backends == ["all backends", *working]


def test_train_watch_logs_deploy_and_undeploy_from_the_browser(lab: Any, tmp_path: Path) -> None:
    with browser_page() as page:
        open_lab(page, lab)
        page.evaluate(
            "() => window.jupyterapp.commands.execute('notebook:create-new', {kernelName: 'python3'})"
        )
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
        run_cell(page, "%load_ext jupyter_serverless_ml")
        run_cell(
            page,
            "import numpy as np\nfrom sklearn.linear_model import LinearRegression\n"
            "X = np.arange(8.0).reshape(4, 2)",
        )
        logs: list[Any] = []  # the panel's log responses, in order
        page.on("response", lambda r: logs.append(r) if LOGS.search(urlparse(r.url).path) else None)
        run_cell(
            page,
            "%%train --name browserjob\nimport time\nprint('hello from the browser job')\n"
            # one line: the editor indents after a colon by itself
            "for i in range(6): time.sleep(1); print(f'tick {i}', flush=True)\n"
            "model = LinearRegression().fit(X, X[:, 0] * 2)",
        )
        panel = open_panel(page)
        panel.locator('button[data-tab="jobs"]').click()
        row = panel.locator('tr[data-job^="browserjob-"]').first
        row.wait_for(timeout=60_000)
        row.click()  # while it runs: the log follows
        details = panel.locator(".jsml-details")
        details.get_by_text("tick 5").wait_for(timeout=90_000)
        row.locator(".jsml-status-completed").wait_for(timeout=90_000)
        details.get_by_text("browserjob:1").wait_for(timeout=30_000)
        log = details.locator(".jsml-log").inner_text()
        lines = ["hello from the browser job", *(f"tick {i}" for i in range(6))]
        assert [line for line in log.splitlines() if line in lines] == lines  # once each, in order
        # the first request has no cursor; each next one sends back the last reply's cursor
        assert len(logs) >= 2
        queries = [parse_qs(urlparse(r.url).query) for r in logs]
        assert "cursor" not in queries[0]
        for previous, query in zip(logs, queries[1:], strict=False):
            assert query["cursor"] == [previous.json()["cursor"]]

        run_cell(
            page,
            "ep = %deploy browserjob --name browser-ep --max-replicas 3\n"
            "for _ in range(50): ep.predict(X)",
        )
        panel.locator('button[data-tab="endpoints"]').click()
        endpoint = panel.locator('tr[data-endpoint="browser-ep"]')
        endpoint.wait_for(timeout=60_000)
        endpoint.locator(".jsml-replicas", has_text="1/1/3").wait_for(timeout=30_000)
        endpoint.click()
        details = panel.locator('.jsml-details[data-details="browser-ep"]')
        details.locator(".jsml-url").wait_for(timeout=30_000)
        assert (
            details.locator(".jsml-url").inner_text().endswith("/endpoints/browser-ep/invocations")
        )
        widen_left_area(page, 720)
        details.locator(".jsml-chart .jsml-dot-latency").first.wait_for(timeout=30_000)
        screenshot = tmp_path / "sidebar.png"
        page.locator("#jupyter-serverless-ml-panel").screenshot(path=str(screenshot))
        if os.environ.get("JSML_UPDATE_SCREENSHOT"):
            shutil.copyfile(screenshot, DOCS / "sidebar.png")
        details.locator("button.jsml-undeploy").click()
        page.locator(".jp-Dialog button.jp-mod-warn").click()
        endpoint.wait_for(state="detached", timeout=30_000)
        panel.get_by_text("No endpoints.").wait_for(timeout=30_000)
