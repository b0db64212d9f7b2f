"""The sidebar's alerts route in a real jupyter-server over a real platform: every alert's
status (InAlert/Ok) and the counts behind the Alerts tab's badge; jsml alerts prints them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml.frontends import cli
from jupyter_serverless_ml.platform import client
from jupyter_serverless_ml.platform.store import Store


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


def condition(feature: str, breached: bool) -> dict[str, Any]:
    return {
        "kind": "drift",
        "feature": feature,
        "test": "ks",
        "breached": breached,
        "value": 0.001 if breached else 0.4,
        "threshold": 0.05,
        "current_rows": 200,
        "baseline_rows": 1000,
        "message": f"feature {feature!r}",
    }


async def test_alerts_carry_status_and_counts(
    jp_fetch: Any, platform_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = client.ensure_running(platform_home)
    store = Store(platform_home / "platform.db")  # a second connection, as a check writes
    try:
        store.apply_conditions("ep", "m:1", 60.0, [condition("a", True), condition("b", True)])
        store.apply_conditions("ep", "m:1", 60.0, [condition("b", False)])
    finally:
        store.close()
    first = json.loads((await jp_fetch("serverless-ml", "api", "alerts")).body)
    assert {a["feature"]: a["status"] for a in first["alerts"]} == {"a": "InAlert", "b": "Ok"}
    assert first["counts"] == {"total": 2, "in_alert": 1, "unacknowledged": 1}
    a = next(x for x in first["alerts"] if x["feature"] == "a")
    assert a["model"] == "m:1" and a["window_seconds"] == 60.0 and a["current_rows"] == 200
    platform.post(f"/v1/alerts/{a['id']}/ack", {})
    second = json.loads((await jp_fetch("serverless-ml", "api", "alerts")).body)
    assert second["counts"] == {"total": 2, "in_alert": 1, "unacknowledged": 0}
    assert cli.main(["alerts", "ep"]) == 0
    out = capsys.readouterr().out
    assert "InAlert" in out and "Ok" in out and "m:1" in out
