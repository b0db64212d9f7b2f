"""The sidebar's REST API as jupyter-server serves it (pytest-jupyter, a real server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import serving_models
import tornado.httpclient

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.platform import client
from jupyter_serverless_ml.statuses import JobStatus

cloudpickle.register_pickle_by_value(serving_models)


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


async def get(jp_fetch: Any, *path: str, **params: Any) -> Any:
    response = await jp_fetch("serverless-ml", "api", *path, params=params)
    return json.loads(response.body)


async def post(jp_fetch: Any, *path: str) -> Any:
    response = await jp_fetch("serverless-ml", "api", *path, method="POST", body=b"{}")
    return json.loads(response.body)


async def error(jp_fetch: Any, *path: str, method: str = "GET", **params: Any) -> tuple[int, dict]:
    body = b"{}" if method == "POST" else None
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("serverless-ml", "api", *path, method=method, body=body, params=params)
    response = caught.value.response
    assert response is not None
    return caught.value.code, json.loads(response.body)


async def test_platform_status_start_and_unreachable(jp_fetch: Any, platform_home: Path) -> None:
    client.stop(platform_home, timeout=10)
    status = await get(jp_fetch, "platform")
    assert status["running"] is False and status["home"] == str(platform_home)
    code, body = await error(jp_fetch, "jobs")
    assert code == 503 and "not running" in body["message"]
    started = await post(jp_fetch, "platform", "start")
    assert started["running"] is True and started["url"].startswith("http://127.0.0.1:")


async def test_jobs_pages_details_logs_stop_and_errors(jp_fetch: Any, platform_home: Path) -> None:
    job = jsml.train(
        "print('hello from the sidebar test')\nmodel = {'w': 1}\n", name="sidebar", namespace={}
    )
    page = await get(jp_fetch, "jobs", limit="1")
    assert page["jobs"][0]["id"] == job.id and page["limit"] == 1
    assert (await get(jp_fetch, "jobs", status="Completed", backend="local"))["jobs"][0][
        "id"
    ] == job.id
    assert (await get(jp_fetch, "jobs", backend="sagemaker"))["jobs"] == []
    details = await get(jp_fetch, "jobs", job.id)
    assert (
        details["status"] == "Completed"
        and details["bundle_manifest"]["hash"] == details["bundle_hash"]
    )
    logs = await get(jp_fetch, "jobs", job.id, "logs")
    assert "hello from the sidebar test" in logs["text"] and logs["status"] == "Completed"
    assert isinstance(logs["cursor"], str) and logs["cursor"]
    assert (await get(jp_fetch, "jobs", job.id, "logs", cursor=logs["cursor"]))["text"] == ""
    code, body = await error(jp_fetch, "jobs", job.id, "logs", cursor="bogus")
    assert code == 400 and "cursor" in body["message"]
    assert (await post(jp_fetch, "jobs", job.id, "stop"))["status"] == "Completed"
    assert (await error(jp_fetch, "jobs", "no-such-job"))[0] == 404
    code, body = await error(jp_fetch, "jobs", status="Bogus")
    assert code == 400 and "unknown status Bogus" in body["message"]
    assert (await error(jp_fetch, "jobs", limit="many"))[0] == 400
    assert (await error(jp_fetch, "jobs", limit="0"))[0] == 400


async def test_endpoints_models_costs_and_undeploy(jp_fetch: Any, platform_home: Path) -> None:
    ep = jsml.deploy(serving_models.Doubler(), name="panel-ep")
    ep.predict([[1.0, 0.0]])
    listed = await get(jp_fetch, "endpoints")
    assert [e["name"] for e in listed["endpoints"]] == ["panel-ep"]
    details = await get(jp_fetch, "endpoints", "panel-ep")
    assert details["invocation_url"].endswith("/endpoints/panel-ep/invocations")
    assert "curl -X POST" in details["curl"] and details["variants"][0]["replicas"] == 1
    assert any(e["kind"] == "scale" for e in details["history"])
    models = {(m["name"], m["version"]): m for m in (await get(jp_fetch, "models"))["models"]}
    assert models[("panel-ep", 1)]["endpoints"][0]["endpoint"] == "panel-ep"
    costs = await get(jp_fetch, "costs")
    assert costs["total"]["sagemaker"] > 0 and costs["total"]["local"] == 0
    assert {r["kind"] for r in costs["by_resource"]} >= {"endpoint"}
    assert (await post(jp_fetch, "endpoints", "panel-ep", "undeploy"))["status"] == "Deleted"
    code, body = await error(jp_fetch, "endpoints", "panel-ep")
    assert code == 404 and "no endpoint 'panel-ep'" in body["message"]
    assert (await error(jp_fetch, "endpoints", "panel-ep", "undeploy", method="POST"))[0] == 404


async def test_alerts_and_acknowledge(jp_fetch: Any, platform_home: Path) -> None:
    platform = client.ensure_running(platform_home)
    alert_id = platform.post(
        "/v1/alerts",
        {
            "endpoint": "cancer-prod",
            "feature": "mean radius",
            "test": "psi",
            "value": 0.31,
            "threshold": 0.2,
        },
    )["id"]
    alerts = (await get(jp_fetch, "alerts"))["alerts"]
    assert alerts[0]["id"] == alert_id and alerts[0]["acknowledged_at"] is None
    acked = await post(jp_fetch, "alerts", str(alert_id), "ack")
    assert acked["acknowledged_at"] is not None
    assert (await error(jp_fetch, "alerts", "999999", "ack", method="POST"))[0] == 404


async def test_backends_features_and_statuses(jp_fetch: Any) -> None:
    from jupyter_serverless_ml.backends.protocol import PARTS

    served = await get(jp_fetch, "backends")
    every = [f.value for f in PARTS]  # the local backend implements every capability part
    assert served["backends"] == [
        {"name": "local", "features": every, "default": True, "error": None}
    ]
    assert served["features"] == sorted(every)
    assert {"training", "registry", "schedules"} <= set(served["features"])
    statuses = served["statuses"]
    assert statuses["job"] == [s.value for s in JobStatus]
    assert set(statuses["job_active"]) | set(statuses["job_terminal"]) == set(statuses["job"])
    assert "InService" in statuses["endpoint"] and "tuning" in statuses["feature"]


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("backends", "GET"),
        ("platform", "GET"),
        ("jobs", "GET"),
        ("endpoints", "GET"),
        ("models", "GET"),
        ("costs", "GET"),
        ("alerts", "GET"),
        ("platform/start", "POST"),
        ("jobs/x/stop", "POST"),
    ],
)
async def test_unauthenticated_requests_are_refused(jp_fetch: Any, path: str, method: str) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch(
            "serverless-ml",
            "api",
            *path.split("/"),
            method=method,
            body=b"{}" if method == "POST" else None,
            headers={"Authorization": "token not-the-token"},
        )
    assert caught.value.code == 403


def test_installed_extensions_are_enabled_and_ok() -> None:
    import subprocess
    import sys

    jupyter = [sys.executable, "-m", "jupyter"]
    lab = subprocess.run(
        [*jupyter, "labextension", "list"], capture_output=True, text=True, timeout=120
    )
    lines = (lab.stdout + lab.stderr).splitlines()
    line = next(text for text in lines if "jupyter-serverless-ml" in text)
    assert "enabled" in line and "OK" in line
    server = subprocess.run(
        [*jupyter, "server", "extension", "list"], capture_output=True, text=True, timeout=120
    )
    text = server.stdout + server.stderr
    assert "jupyter_serverless_ml enabled" in text.replace("\x1b[32m", "").replace("\x1b[0m", "")
    assert f"jupyter_serverless_ml {jsml.__version__} OK" in text.replace("\x1b[32m", "").replace(
        "\x1b[0m", ""
    )
