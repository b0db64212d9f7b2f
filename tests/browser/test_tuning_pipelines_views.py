"""The Tuning and Pipelines views over real runs: a local study of 4 trials, 2 at a time,
listed with its trials (status, objective, best so far) in the sidebar and the dashboard;
a real pipeline run drawn as its graph, each step with its status (a condition's
untaken branch Skipped), in the sidebar and the dashboard."""

from __future__ import annotations

import linecache
from pathlib import Path
from typing import Any

import pytest
from lab import (
    api_get,
    keep_screenshot,
    open_lab,
    open_panel,
    set_left_width,
    set_theme,
    visible_at_centre,
)

from jupyter_serverless_ml import pipelines, tuning
from jupyter_serverless_ml.pipelines import Pipeline

NOTEBOOK = """
def prepare(n):
    return list(range(n))

def fit(xs, C):
    return {"w": sum(xs) * C}

def score(model, xs):
    return {"accuracy": 0.9}

def count(xs):
    return len(xs)

def report(xs):
    return "good"

def weak(xs):
    return "weak"
"""


@pytest.fixture(scope="module")
def study(lab: Any) -> dict[str, Any]:
    """A finished study: x in 1..4 by grid, objective acc = (x - 2.5)^2 (maximized)."""
    tuning.tune(
        "log_metric('acc', (hp.x - 2.5) ** 2)\nmodel = hp.x\n",
        name="sweep",
        params={"x": "int(1,4)"},
        objective="acc",
        strategy="grid",
        trials=4,
        parallel=2,
        namespace={},
    )
    found: dict[str, Any] = api_get(lab, "studies/sweep")
    return found


@pytest.fixture(scope="module")
def run(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A finished run of prepare -> (fit -> score -> condition -> report | weak), count."""
    filename = "<ipython-input-browser-pipeline>"
    linecache.cache[filename] = (len(NOTEBOOK), None, NOTEBOOK.splitlines(True), filename)
    nb: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(NOTEBOOK, filename, "exec"), nb)
    p = Pipeline("flow", output=tmp_path_factory.mktemp("flow-out"))
    prep = p.function(nb["prepare"], name="prep", params={"n": 10})
    model = p.train(nb["fit"], inputs={"xs": prep}, params={"C": 0.5})
    ev = p.evaluate(nb["score"], model=model, inputs={"xs": prep})
    good = p.condition(ev, "accuracy", ">=", 0.5, name="good")
    p.function(nb["report"], inputs={"xs": prep}, when=good)
    p.function(nb["weak"], inputs={"xs": prep}, when=good.otherwise)
    p.function(nb["count"], inputs={"xs": prep})
    return pipelines.run(p, timeout=240)


def test_the_tuning_view_lists_the_study_with_its_trials(
    lab: Any, page: Any, study: dict[str, Any]
) -> None:
    trials = study["trials"]
    assert len(trials) == 4 and all(t["status"] == "Completed" for t in trials)
    best = max(t["value"] for t in trials)
    open_lab(page, lab)
    panel = open_panel(page)
    set_left_width(page, 250)
    panel.locator('button[data-tab="tuning"]').click()
    row = panel.locator('li[data-study="sweep"]')
    row.locator(".jsml-status-completed").wait_for(timeout=30_000)
    meta = row.locator(".jsml-row-meta").inner_text()
    assert meta.startswith(f"acc {best:#.4g}") and "4/4 trials" in meta
    row.locator(".jsml-row").click()
    table = row.locator('table[aria-label="trials of sweep"]')
    table.locator("tbody tr").nth(3).wait_for(timeout=30_000)
    running_best = None
    for trial in sorted(trials, key=lambda t: t["number"]):
        cells = table.locator(f'tr[data-trial="{trial["number"]}"] td').all_inner_texts()
        running_best = trial["value"] if running_best is None else max(running_best, trial["value"])
        assert cells == [
            str(trial["number"]),
            "Completed",
            f"{trial['value']:#.4g}",
            f"{running_best:#.4g}",
        ]
    assert visible_at_centre(table.locator("tbody tr").last.locator(".jsml-status"))

    panel.locator(".jsml-open-dashboard").click()
    dashboard = page.locator("#jupyter-serverless-ml-dashboard")
    dashboard.locator('tr[data-study="sweep"]').click()
    trial_rows = dashboard.locator('table[aria-label="trials of sweep"] tbody tr')
    trial_rows.nth(3).wait_for(timeout=30_000)
    headers = dashboard.locator('table[aria-label="trials of sweep"] th').all_inner_texts()
    assert any("best so far" in h for h in headers)
    dashboard.locator('.jsml-chart[aria-label^="objective by trial"] canvas').wait_for(
        timeout=30_000
    )


def _graph_statuses(graph: Any) -> dict[str, str]:
    nodes = graph.locator("g[data-step]")
    return {
        nodes.nth(i).get_attribute("data-step"): nodes.nth(i).get_attribute("data-status")
        for i in range(nodes.count())
    }


def test_the_pipelines_view_draws_the_run_as_a_graph_with_each_steps_status(
    lab: Any, page: Any, run: Any, tmp_path: Path
) -> None:
    stored = api_get(lab, f"pipeline-runs/{run.id}")
    expected = {s["name"]: s["status"] for s in stored["steps"]}
    assert stored["status"] == "Succeeded"
    assert expected["weak"] == "Skipped" and expected["report"] == "Succeeded"
    open_lab(page, lab)
    panel = open_panel(page)
    set_left_width(page, 250)
    panel.locator('button[data-tab="pipelines"]').click()
    row = panel.locator('li[data-pipeline="flow"]')
    row.locator(".jsml-status-succeeded").wait_for(timeout=30_000)
    row.locator(".jsml-row").click()
    graph = row.locator('svg[aria-label="graph of flow"]')
    graph.locator('g[data-step="weak"][data-status="Skipped"]').wait_for(timeout=30_000)
    assert _graph_statuses(graph) == expected
    # laid out by levels: each step below every step it depends on
    box = {name: graph.locator(f'g[data-step="{name}"]').bounding_box() for name in expected}
    for step in stored["steps"]:
        for upstream in step["upstream"]:
            assert box[upstream]["y"] + box[upstream]["height"] <= box[step["name"]]["y"] + 0.5
    assert box["fit"]["y"] == box["count"]["y"]  # both only after prep: one level
    assert graph.bounding_box()["width"] <= panel.bounding_box()["width"]
    node = graph.locator('g[data-step="score"]')
    assert node.get_attribute("aria-label") == "step score (evaluate): Succeeded"
    keep_screenshot(panel, tmp_path, "sidebar-pipeline.png")
    # a step that ran a job opens the job's page in the dashboard (Enter on the node)
    node.focus()
    page.keyboard.press("Enter")
    score_job = next(s["job_id"] for s in stored["steps"] if s["name"] == "score")
    page.locator(f'[data-job-page="{score_job}"]').wait_for(timeout=30_000)

    dashboard = page.locator("#jupyter-serverless-ml-dashboard")
    dashboard.locator('[data-section="pipelines"]').click()
    dashboard.locator('tr[data-pipeline="flow"]').click()
    big = dashboard.locator(f'svg[aria-label="graph of {run.id}"]')
    big.locator('g[data-step="prep"]').wait_for(timeout=30_000)
    assert _graph_statuses(big) == expected


#: WCAG contrast of a graph node's name against its box, in the page's theme.
CONTRAST = """(node) => {
    const rgb = c => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const text = lum(rgb(getComputedStyle(node.querySelector('.jsml-dag-name')).fill));
    const box = lum(rgb(getComputedStyle(node.querySelector('.jsml-dag-box')).fill));
    return (Math.max(text, box) + 0.05) / (Math.min(text, box) + 0.05);
}"""


@pytest.mark.parametrize("theme", ["dark", "high-contrast"])
def test_the_graph_reads_in_the_dark_and_high_contrast_themes(
    lab: Any, page: Any, run: Any, theme: str
) -> None:
    set_theme(lab, theme)
    try:
        open_lab(page, lab)
        panel = open_panel(page)
        panel.locator('button[data-tab="pipelines"]').click()
        row = panel.locator('li[data-pipeline="flow"]')
        row.locator(".jsml-row").click()
        graph = row.locator('svg[aria-label="graph of flow"]')
        for status in ("Succeeded", "Skipped"):
            node = graph.locator(f'g[data-status="{status}"]').first
            node.wait_for(timeout=30_000)
            assert node.evaluate(CONTRAST) >= 4.5, (theme, status)
    finally:
        set_theme(lab, "light")
