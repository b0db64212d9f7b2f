"""The sidebar, the dashboard and the Lab integration in a real JupyterLab and a real
Chromium: tabs from the backends endpoint; at 250 px and 600 px in the light and dark
themes a completed job's status shows without scrolling; train from a notebook, follow
the log, a notification when it finishes; the dashboard from the palette with a job's page;
stop a job and undeploy from context menus; the status-bar item counts; an alert shows on
the Alerts tab with a count badge and a notification."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import cloudpickle
import nbformat
import pytest
import serving_models
from lab import (
    THEMES,
    api_get,
    api_request,
    browser_page,
    jupyter_lab,
    open_lab,
    open_panel,
    run_from_palette,
    scrolls_sideways,
    set_left_width,
    set_theme,
    toast,
    visible_at_centre,
)

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.platform import client
from jupyter_serverless_ml.schedules import delete_schedule

cloudpickle.register_pickle_by_value(serving_models)

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
    "pipelines": "pipelines",
    "schedules": "schedules",
    "costs": "monitoring",
    "alerts": "monitoring",
}


def keep_screenshot(page_or_locator: Any, tmp_path: Path, name: str) -> None:
    """Screenshot to tmp; copied to docs/ when JSML_UPDATE_SCREENSHOT is set."""
    shot = tmp_path / name
    page_or_locator.screenshot(path=str(shot))
    if os.environ.get("JSML_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, DOCS / name)


def run_cell(page: Any, source: str) -> None:
    """Type into the active notebook's last cell and run it (Shift+Enter)."""
    editor = page.locator(".jp-Notebook .jp-Cell").last.locator(".cm-content")
    editor.click()
    page.keyboard.type(source)
    page.keyboard.press("Shift+Enter")


@pytest.fixture(scope="module")
def lab(platform_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("lab-root")
    with jupyter_lab(root, platform_home) as running:
        yield running


@pytest.fixture
def page(lab: Any) -> Iterator[Any]:
    with browser_page() as opened:
        yield opened


def test_panel_shows_the_platform_and_offers_to_start_it(
    lab: Any, page: Any, platform_home: Path
) -> None:
    client.stop(platform_home, timeout=10)
    open_lab(page, lab)
    panel = open_panel(page)
    panel.get_by_text("The local platform is not running.").wait_for(timeout=20_000)
    assert page.locator(".jsml-statusbar").inner_text() == "platform stopped"
    panel.locator("button.jsml-start").click()
    panel.get_by_text("local platform http://127.0.0.1:").wait_for(timeout=30_000)
    for tab in ("endpoints", "models", "costs", "alerts"):
        panel.locator(f'button[data-tab="{tab}"]').click()
        panel.locator(f'.jsml-body[data-shown="{tab}"] .jsml-empty').first.wait_for(timeout=20_000)
    assert "No drift or monitor alerts." in panel.inner_text()


def test_tabs_are_what_the_backends_endpoint_allows_as_icons_with_tooltips(
    lab: Any, page: Any
) -> None:
    info = api_get(lab, "backends")
    features = set(info["features"])
    expected = [tab for tab, feature in TAB_FEATURES.items() if feature in features]
    open_lab(page, lab)
    panel = open_panel(page)
    panel.locator('button[data-tab="jobs"]').wait_for(timeout=30_000)
    tabs = panel.locator(".jsml-tabs button[data-tab]")
    assert [tabs.nth(i).get_attribute("data-tab") for i in range(tabs.count())] == expected
    for i in range(tabs.count()):  # an icon, a tooltip, a screen-reader name
        tab = tabs.nth(i)
        assert tab.locator("svg").count() == 1
        assert tab.get_attribute("title") and tab.get_attribute("aria-label")
    # keyboard: the arrow keys move between tabs
    tabs.first.click()
    page.keyboard.press("ArrowRight")
    assert tabs.nth(1).get_attribute("aria-selected") == "true"
    tabs.first.click()
    status = panel.locator('select[aria-label="status"]')
    status.wait_for(timeout=30_000)
    assert status.locator("option").all_inner_texts() == ["all statuses", *info["statuses"]["job"]]
    backends = panel.locator('select[aria-label="backend"] option').all_inner_texts()
    assert backends == ["all backends", *[b["name"] for b in info["backends"] if not b["error"]]]


@pytest.mark.parametrize(
    ("width", "theme"),
    [(250, "light"), (250, "dark"), (600, "light"), (600, "dark"), (250, "high-contrast")],
)
def test_a_completed_jobs_status_shows_without_scrolling(
    lab: Any, page: Any, theme: str, width: int, tmp_path: Path
) -> None:
    job = jsml.train(
        "model = {'w': 1}\n", name="a-rather-long-job-name-for-the-sidebar", namespace={}
    )
    set_theme(lab, theme)
    page.set_viewport_size({"width": 1280, "height": 800})
    open_lab(page, lab)
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === {THEMES[theme]!r}")
    panel = open_panel(page)
    set_left_width(page, width)
    assert abs(panel.bounding_box()["width"] - width) <= 4
    panel.locator('button[data-tab="jobs"]').click()
    row = panel.locator(f'li[data-job="{job.id}"]')
    badge = row.locator(".jsml-status-completed")
    badge.wait_for(timeout=30_000)
    assert visible_at_centre(badge), "the status badge is hidden, clipped or covered"
    assert badge.inner_text() == "Completed"
    # Lab's check icon, painted in the badge's colour
    icon = badge.evaluate(
        "n => { const s = getComputedStyle(n, '::before'); return [s.maskImage, s.width]; }"
    )
    assert "data:image/svg+xml" in icon[0] and icon[1] == "12px"
    # the theme's success colour (resolved through a probe element), not a fixed one
    badge_colour, success = badge.evaluate(
        """n => {
            const probe = document.createElement('span');
            probe.style.color = 'var(--jp-success-color0)';
            document.body.appendChild(probe);
            const found = getComputedStyle(probe).color;
            probe.remove();
            return [getComputedStyle(n).color, found];
        }"""
    )
    assert badge_colour == success
    assert badge.evaluate("n => n.scrollWidth <= n.clientWidth")  # not cut off
    panel_box, badge_box = panel.bounding_box(), badge.bounding_box()
    assert badge_box["x"] + badge_box["width"] <= panel_box["x"] + panel_box["width"]
    assert re.search(r"local · \d+\.\ds · .+ ago", row.locator(".jsml-row-meta").inner_text())
    # the tab strip is one row, nothing scrolls sideways
    tops = {
        round(b["y"]) for b in map(lambda t: t.bounding_box(), panel.locator(".jsml-tab").all())
    }
    assert len(tops) == 1
    assert not scrolls_sideways(panel)
    # the row expands in place: details, hyperparameters, the log
    header = row.locator(".jsml-row")
    header.focus()
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-expanded") == "true"
    row.locator(f'.jsml-details[data-details="{job.id}"] .jsml-log').wait_for(timeout=60_000)
    assert not scrolls_sideways(panel)
    if width == 250 and theme != "high-contrast":
        keep_screenshot(panel, tmp_path, f"sidebar-{theme}.png")


def test_train_in_a_notebook_follow_the_log_and_get_notified(lab: Any, page: Any) -> None:
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
    row = panel.locator('li[data-job^="browserjob-"]').first
    row.wait_for(timeout=60_000)
    job_id = row.get_attribute("data-job")
    row.locator(".jsml-row").click()  # while it runs: the log follows
    details = row.locator(".jsml-details")
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
    # the job was started from this Lab: a notification says it completed, and opens it
    note = toast(page, f"Job {job_id} completed")
    note.wait_for(timeout=30_000)
    note.get_by_role("button", name="Open").click()
    page.locator(f'[data-job-page="{job_id}"]').wait_for(timeout=30_000)


def test_dashboard_from_the_palette_with_a_jobs_page(lab: Any, page: Any, tmp_path: Path) -> None:
    job = jsml.train(
        "for step in range(8):\n    log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "print('dashboard job done')\nmodel = {'w': 1}\n",
        name="dash",
        hp={"C": 0.5, "penalty": "l2"},
        namespace={},
    )
    for theme in ("light", "dark"):
        set_theme(lab, theme)
        open_lab(page, lab)
        run_from_palette(page, "Open Serverless ML Dashboard")
        dashboard = page.locator("#jupyter-serverless-ml-dashboard")
        table = dashboard.locator('table[aria-label="jobs"]')
        table.wait_for(timeout=30_000)
        row = table.locator(f'tr[data-job="{job.id}"]')
        row.wait_for(timeout=30_000)
        # sortable: by job id, descending then ascending
        header = table.locator('th[data-id="id"]')
        header.click()
        assert header.get_attribute("aria-sort") == "ascending"
        ids = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.job)")
        assert ids == sorted(ids)
        # filterable
        dashboard.locator(".jp-FilterBox input").fill("dash-")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#jupyter-serverless-ml-dashboard tbody tr')]"
            ".every(r => r.dataset.job.startsWith('dash-'))"
        )
        row.press("Enter")  # the job's page: metrics chart, hyperparameters, log
        job_page = dashboard.locator(f'[data-job-page="{job.id}"]')
        job_page.get_by_text("dashboard job done").wait_for(timeout=30_000)
        chart = job_page.locator('.jsml-chart[data-points="8"] canvas')
        chart.wait_for(timeout=30_000)
        hps = job_page.locator('table[aria-label="hyperparameters"]').inner_text()
        assert "C" in hps and "0.5" in hps and "l2" in hps
        keep_screenshot(dashboard, tmp_path, f"dashboard-job-{theme}.png")
        dashboard.get_by_role("tab", name="Jobs").click()
        table.wait_for(timeout=30_000)
        keep_screenshot(dashboard, tmp_path, f"dashboard-{theme}.png")
    set_theme(lab, "light")
    # the launcher has it too
    page.evaluate("() => window.jupyterapp.commands.execute('launcher:create')")
    page.locator(
        '.jp-LauncherCard[title*="Serverless ML"], .jp-LauncherCard:has-text("Serverless ML")'
    ).first.wait_for(timeout=30_000)


def test_stop_a_job_and_undeploy_from_context_menus_while_the_status_bar_counts(
    lab: Any, page: Any, platform_home: Path
) -> None:
    running = jsml.train("import time\ntime.sleep(120)\n", name="ctx", namespace={}, wait=False)
    jsml.deploy(serving_models.Doubler(), name="ctx-ep")
    open_lab(page, lab)
    status = page.locator('.jsml-statusbar[data-running="1"][data-endpoints="1"]')
    status.wait_for(timeout=30_000)
    assert re.fullmatch(r"1 running · 1 in service · \$\d+\.\d+", status.inner_text())
    status.click()  # opens the panel
    panel = page.locator("#jupyter-serverless-ml-panel")
    panel.locator(".jsml-tabs").wait_for(timeout=30_000)
    panel.locator('button[data-tab="jobs"]').click()
    row = panel.locator(f'li[data-job="{running.id}"] .jsml-row')
    row.wait_for(timeout=30_000)
    row.click(button="right")
    page.locator(".lm-Menu-item", has_text="Stop Job").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    panel.locator(f'li[data-job="{running.id}"] .jsml-status-stopped').wait_for(timeout=60_000)
    page.locator('.jsml-statusbar[data-running="0"]').wait_for(timeout=30_000)

    panel.locator('button[data-tab="endpoints"]').click()
    endpoint = panel.locator('li[data-endpoint="ctx-ep"]')
    endpoint.locator(".jsml-replicas", has_text="1/1/").wait_for(timeout=30_000)
    endpoint.locator(".jsml-row").click(button="right")
    page.locator(".lm-Menu-item", has_text="Undeploy Endpoint").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    endpoint.wait_for(state="detached", timeout=30_000)
    panel.get_by_text("No endpoints.").wait_for(timeout=30_000)
    page.locator('.jsml-statusbar[data-endpoints="0"]').wait_for(timeout=30_000)


def test_an_endpoints_page_charts_latency_and_replicas(lab: Any, page: Any, tmp_path: Path) -> None:
    ep = jsml.deploy(serving_models.Doubler(), name="chart-ep", max_replicas=2)
    try:
        for _ in range(30):
            ep.predict([[1.0, 0.0]])
        open_lab(page, lab)
        panel = open_panel(page)
        panel.locator('button[data-tab="endpoints"]').click()
        endpoint = panel.locator('li[data-endpoint="chart-ep"]')
        endpoint.locator(".jsml-row").click()
        url = endpoint.locator(".jsml-url")
        url.wait_for(timeout=30_000)
        assert url.inner_text().endswith("/endpoints/chart-ep/invocations")
        assert "100%" in endpoint.locator(".jsml-traffic").inner_text()
        endpoint.locator(".jsml-open").click()
        endpoint_page = page.locator('[data-endpoint-page="chart-ep"]')
        endpoint_page.locator('.jsml-chart[aria-label^="replicas over time"] canvas').wait_for(
            timeout=30_000
        )
        endpoint_page.locator('.jsml-chart[aria-label^="p50 latency over time"] canvas').wait_for(
            timeout=60_000
        )
        assert endpoint_page.locator('table[aria-label="variants"] tbody tr').count() == 1
        keep_screenshot(
            page.locator("#jupyter-serverless-ml-dashboard"), tmp_path, "dashboard-endpoint.png"
        )
    finally:
        jsml.undeploy("chart-ep")


def test_an_alert_shows_with_a_count_badge_and_a_notification(
    lab: Any, page: Any, platform_home: Path
) -> None:
    platform = client.ensure_running(platform_home)
    open_lab(page, lab)
    panel = open_panel(page)
    panel.locator('button[data-tab="alerts"]').wait_for(timeout=30_000)
    page.wait_for_timeout(3000)  # the first summary is in: what exists now is not news
    alert_id = platform.post(
        "/v1/alerts",
        {
            "endpoint": "cancer-prod",
            "feature": "mean radius",
            "test": "ks",
            "value": 0.42,
            "threshold": 0.1,
            "message": "mean radius drifted (KS 0.42 > 0.1)",
        },
    )["id"]
    toast(page, "Alert on cancer-prod: mean radius drifted").wait_for(timeout=30_000)
    tab = panel.locator('button[data-tab="alerts"]')
    badge = tab.locator(".jsml-badge")
    badge.wait_for(timeout=30_000)
    open_alerts = sum(  # InAlert and not acknowledged: what the badge counts
        1
        for a in api_get(lab, "alerts")["alerts"]
        if a.get("status", "InAlert") == "InAlert" and not a["acknowledged_at"]
    )
    assert badge.inner_text() == str(open_alerts) and open_alerts >= 1
    assert tab.get_attribute("aria-label") == f"Alerts ({open_alerts})"
    tab.click()
    row = panel.locator(f'li[data-alert="{alert_id}"]')
    row.wait_for(timeout=30_000)
    assert "cancer-prod · mean radius" in row.inner_text() and "ks 0.42 / 0.1" in row.inner_text()
    assert visible_at_centre(row.locator(".jsml-status"))
    row.locator(".jsml-ack").click()
    panel.locator(f'li[data-alert="{alert_id}"].jsml-acked').wait_for(timeout=30_000)
    if open_alerts == 1:
        badge.wait_for(state="detached", timeout=30_000)


def test_schedules_tuning_and_pipelines_views(lab: Any, page: Any, tmp_path: Path) -> None:
    notebook = Path(lab["root"]) / "nightly.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('nightly ran')")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, notebook)
    jsml.schedule(notebook, every="1h", name="nightly", catch_up=False)
    open_lab(page, lab)
    panel = open_panel(page)
    for tab, empty in (("tuning", "No tuning studies."), ("pipelines", "No pipelines.")):
        panel.locator(f'button[data-tab="{tab}"]').click()
        panel.locator(f'.jsml-body[data-shown="{tab}"] .jsml-empty', has_text=empty).wait_for(
            timeout=30_000
        )
    panel.locator('button[data-tab="schedules"]').click()
    row = panel.locator('li[data-schedule="nightly"]')
    row.locator(".jsml-row-meta", has_text="every 60.0m").wait_for(timeout=30_000)
    row.locator(".jsml-row").click()
    row.locator(".jsml-run-now").click()
    run = row.locator('[data-schedule-runs="nightly"] li[data-run]').first
    run.locator(".jsml-status-completed").wait_for(timeout=120_000)
    link = run.locator("a").get_attribute("href")
    assert link and "/lab/tree/" in link and link.endswith(".ipynb")
    # the dashboard's Schedules section: the table, and the runs of the one opened
    panel.locator(".jsml-open-dashboard").click()
    dashboard = page.locator("#jupyter-serverless-ml-dashboard")
    dashboard.locator('[data-section="schedules"]').click()
    dashboard.locator('tr[data-schedule="nightly"]').click()
    dashboard.locator('table[aria-label="runs of nightly"] .jsml-status-completed').first.wait_for(
        timeout=30_000
    )
    delete_schedule("nightly")


def test_settings_are_in_labs_settings_editor_and_apply(lab: Any, page: Any) -> None:
    plugin = "/lab/api/settings/jupyter-serverless-ml:sidebar"
    schema = api_request(lab, "GET", plugin)["schema"]
    assert set(schema["properties"]) == {
        "refreshInterval",
        "defaultBackend",
        "notifyJobs",
        "notifyAlerts",
    }
    api_request(lab, "PUT", plugin, {"raw": json.dumps({"defaultBackend": "local"})})
    try:
        open_lab(page, lab)
        panel = open_panel(page)
        chosen = panel.locator('select[aria-label="backend"]')
        chosen.wait_for(timeout=30_000)
        assert chosen.input_value() == "local"  # the job list starts on the default backend
    finally:
        api_request(lab, "PUT", plugin, {"raw": "{}"})
