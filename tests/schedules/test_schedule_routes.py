"""The sidebar's Schedules routes on a real jupyter-server: schedules, runs with Lab links,
Run now; shapes as documented in ``server/schedule_handlers.py``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient

from jupyter_serverless_ml import schedules


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


async def call(jp_fetch: Any, *path: str, body: dict[str, Any] | None = None) -> Any:
    method = "GET" if body is None else "POST"
    payload = None if body is None else json.dumps(body).encode()
    response = await jp_fetch("serverless-ml", "api", *path, method=method, body=payload)
    return json.loads(response.body)


async def test_schedules_runs_and_run_now(
    jp_fetch: Any, jp_root_dir: Path, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(jp_root_dir / "daily.ipynb")
    schedules.schedule(notebook, cron="0 3 * * *", name="daily", parameters={"value": 4})
    listed = (await call(jp_fetch, "schedules"))["schedules"]
    daily = next(s for s in listed if s["name"] == "daily")
    assert daily["cron"] == "0 3 * * *" and daily["backend"] == "local"
    assert daily["parameters"] == {"value": 4} and daily["last_status"] is None
    started = await call(jp_fetch, "schedules", "daily", "run", body={"parameters": {"value": 9}})
    assert started["status"] == "Running" and started["parameters"] == {"value": 9}
    deadline = time.monotonic() + 90
    while True:
        runs = (await call(jp_fetch, "schedules", "daily", "runs"))["runs"]
        if runs[0]["status"] != "Running" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    run = runs[0]
    assert run["status"] == "Completed" and run["duration"] > 0 and run["trigger"] == "manual"
    assert run["link"] == f"/lab/tree/scheduled-runs/daily/{run['id']}.ipynb"
    # the link opens: Lab's contents API serves the executed notebook at that path
    contents = await jp_fetch("api", "contents", "scheduled-runs", "daily", f"{run['id']}.ipynb")
    assert json.loads(contents.body)["type"] == "notebook"
    with pytest.raises(tornado.httpclient.HTTPClientError) as missing:
        await call(jp_fetch, "schedules", "nope", "runs")
    assert missing.value.code == 404
    with pytest.raises(tornado.httpclient.HTTPClientError) as bad:
        await call(jp_fetch, "schedules", "daily", "run", body={"parameters": [1]})
    assert bad.value.code == 400
    schedules.delete_schedule("daily")
