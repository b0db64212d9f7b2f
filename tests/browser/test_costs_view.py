"""A resource its --max-cost budget stopped says why in the Costs view (sidebar and
dashboard): a real training job (its failure reason, also in the Jobs view) and a real
endpoint (the ledger's ``budgets_hit``), each stopped by the platform's budget guard."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lab import api_get, open_lab, open_panel, set_left_width, visible_at_centre

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import serving
from jupyter_serverless_ml.errors import JobFailed


@pytest.fixture(scope="module", autouse=True)
def fast_accrual(platform_home: Path) -> Iterator[None]:
    """Accrue costs every 0.2 s (the daemon, started by this module, inherits it)."""
    os.environ["JSML_COST_INTERVAL"] = "0.2"
    try:
        yield
    finally:
        os.environ.pop("JSML_COST_INTERVAL", None)


@pytest.fixture(scope="module")
def stopped(lab: Any) -> dict[str, Any]:
    """A job and an endpoint on ml.p3.2xlarge (about $0.00106 a second at SageMaker list
    price) with budgets of $0.002: both stopped by the guard within seconds."""
    from sklearn.dummy import DummyRegressor

    with pytest.raises(JobFailed, match="stopped"):
        jsml.train(
            "import time\ntime.sleep(60)\n",
            namespace={},
            name="capped-job",
            instance_type="ml.p3.2xlarge",
            max_cost=0.002,
        )
    model = DummyRegressor(strategy="constant", constant=1.0).fit(np.zeros((2, 3)), np.zeros(2))
    ep = serving.deploy(
        model,
        name="capped-ep",
        instance_type="ml.p3.2xlarge",
        min_replicas=0,
        idle_timeout="10m",
        max_cost=0.002,
    )
    ep.predict([[0, 0, 0]])  # one replica starts: the budget runs out in about 2 s
    deadline = time.monotonic() + 60
    while True:
        hit = {i["name"]: i for i in api_get(lab, "costs").get("budgets_hit", [])}
        job = jsml.jobs(name="capped-job")[0].record
        if {"capped-job", "capped-ep"} <= set(hit) and "budget" in str(job.get("failure_reason")):
            return {"hit": hit, "job": job}
        assert time.monotonic() < deadline, f"budgets not hit in 60 s: {sorted(hit)}"
        time.sleep(0.3)


def test_the_costs_view_says_what_a_budget_stopped_and_why(
    lab: Any, page: Any, stopped: dict[str, Any]
) -> None:
    hit, job = stopped["hit"], stopped["job"]
    assert hit["capped-job"]["stopped_reason"] == job["failure_reason"]
    assert hit["capped-ep"]["stopped_reason"].startswith("stopped: budget of $0.0020 reached")
    open_lab(page, lab)
    panel = open_panel(page)
    set_left_width(page, 250)
    panel.locator('button[data-tab="costs"]').click()
    section = panel.locator('section[aria-label="stopped by budget"]')
    section.wait_for(timeout=30_000)
    for name, kind in (("capped-job", "training"), ("capped-ep", "endpoint")):
        item = section.locator(f'li[data-budget-hit="{name}"]')
        assert item.get_attribute("data-kind") == kind
        assert item.locator(".jsml-budget-reason").inner_text() == hit[name]["stopped_reason"]
        assert f"{kind} {name}" in item.locator(".jsml-row-name").inner_text()
        assert "/ $0.0020" in item.locator(".jsml-row").inner_text()
    assert visible_at_centre(section.locator("li").last.locator(".jsml-budget-reason"))

    # the job's own row says the same, as its failure reason
    panel.locator('button[data-tab="jobs"]').click()
    row = panel.locator(f'li[data-job="{job["id"]}"]')
    row.locator(".jsml-row").click()
    assert row.locator(".jsml-failure").inner_text() == job["failure_reason"]

    # the dashboard's Costs section lists them too
    panel.locator('button[data-tab="costs"]').click()
    panel.locator(".jsml-open-dashboard").click()
    dashboard = page.locator("#jupyter-serverless-ml-dashboard")
    dashboard.locator('[data-section="costs"]').click()
    listed = dashboard.locator('section[aria-label="stopped by budget"] li[data-budget-hit]')
    listed.nth(1).wait_for(timeout=30_000)
    names = {listed.nth(i).get_attribute("data-budget-hit") for i in range(listed.count())}
    assert names == {"capped-job", "capped-ep"}
