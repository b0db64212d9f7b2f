"""The dashboard's routes (server/dashboard_handlers.py) in a real jupyter-server over a real
platform: the status bar's summary and a job's metric steps."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import serving_models
import tornado.httpclient

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.platform import client

cloudpickle.register_pickle_by_value(serving_models)


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


async def get(jp_fetch: Any, *path: str) -> Any:
    response = await jp_fetch("serverless-ml", "api", "dashboard", *path)
    return json.loads(response.body)


async def test_summary_with_the_platform_stopped_names_it_and_counts_nothing(
    jp_fetch: Any, platform_home: Path
) -> None:
    client.stop(platform_home, timeout=10)
    summary = await get(jp_fetch, "summary")
    assert summary["platform"] == {"running": False, "url": None}
    assert summary["running_jobs"] == 0 and summary["endpoints_in_service"] == 0
    assert summary["cost_month"] is None and summary["jobs"] == []
    assert "not running" in summary["errors"]["local"]


async def test_summary_counts_jobs_endpoints_alerts_and_this_months_cost(
    jp_fetch: Any, platform_home: Path
) -> None:
    platform = client.ensure_running(platform_home)
    done = jsml.train("model = {'w': 1}\n", name="summary-done", namespace={})
    running = jsml.train(
        "import time\ntime.sleep(60)\n", name="summary-running", namespace={}, wait=False
    )
    ep = jsml.deploy(serving_models.Doubler(), name="summary-ep")
    try:
        ep.predict([[1.0, 0.0]])
        alert_id = platform.post(
            "/v1/alerts",
            {
                "endpoint": "summary-ep",
                "feature": "x",
                "test": "ks",
                "value": 0.5,
                "threshold": 0.1,
            },
        )["id"]
        month_name = time.strftime("%Y-%m")

        async def month_cost() -> float:  # the ledger's by-day rows of this month
            costs = json.loads((await jp_fetch("serverless-ml", "api", "costs")).body)
            return sum(d["sagemaker"] for d in costs["by_day"] if d["day"].startswith(month_name))

        before = await month_cost()  # the running job's cost grows while we look
        summary = await get(jp_fetch, "summary")
        after = await month_cost()
        assert summary["platform"]["running"] is True and summary["errors"] == {}
        assert summary["running_jobs"] == 1
        assert summary["endpoints_in_service"] == 1
        by_id = {j["id"]: j for j in summary["jobs"]}
        assert by_id[done.id]["status"] == "Completed"
        assert by_id[running.id]["status"] in {"Pending", "Starting", "Running"}
        assert summary["jobs"][0]["id"] == running.id  # newest first
        assert summary["open_alerts"] == 1 and summary["alerts"][0]["id"] == alert_id
        month = summary["cost_month"]
        assert month["month"] == month_name and month["sagemaker"] > 0
        assert month["local"] == 0
        assert before - 1e-6 <= month["sagemaker"] <= after + 1e-6
        platform.post(f"/v1/alerts/{alert_id}/ack", {})
        assert (await get(jp_fetch, "summary"))["open_alerts"] == 0
    finally:
        jsml.stop(running.id)
        jsml.undeploy("summary-ep")
    summary = await get(jp_fetch, "summary")
    assert summary["endpoints_in_service"] == 0


async def test_job_metrics_are_every_step_logged(jp_fetch: Any, platform_home: Path) -> None:
    job = jsml.train(
        "for step in range(5):\n    log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "log_metric('accuracy', 0.9)\nmodel = {'w': 1}\n",
        name="summary-metrics",
        namespace={},
    )
    metrics = (await get(jp_fetch, "jobs", job.id, "metrics"))["metrics"]
    loss = [(m["step"], m["value"]) for m in metrics if m["name"] == "loss"]
    assert loss == [(s, pytest.approx(1.0 / (s + 1))) for s in range(5)]
    assert [m["value"] for m in metrics if m["name"] == "accuracy"] == [pytest.approx(0.9)]
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await get(jp_fetch, "jobs", "no-such-job", "metrics")
    assert caught.value.code == 404
