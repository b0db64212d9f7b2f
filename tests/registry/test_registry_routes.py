"""The sidebar's Promote and Reject on a real jupyter-server: the gate's refusal is a 409 with
why; ``GET models`` serves the stage and approval (shapes in ``server/registry_handlers.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient

import jupyter_serverless_ml as jsml

CELL = "model = {'w': hp.w}\nlog_metric('accuracy', hp.w)\n"


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


async def post(jp_fetch: Any, *path: str, body: dict[str, Any]) -> Any:
    response = await jp_fetch(
        "serverless-ml", "api", *path, method="POST", body=json.dumps(body).encode()
    )
    return json.loads(response.body)


async def refused(jp_fetch: Any, *path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await post(jp_fetch, *path, body=body)
    assert caught.value.response is not None
    return caught.value.code, json.loads(caught.value.response.body)


async def test_promote_reject_and_the_models_listing(jp_fetch: Any) -> None:
    for w in (0.95, 0.7):
        assert jsml.train(CELL, name="sidebar-reg", hp={"w": w}, namespace={}).status == "Completed"
    done = await post(
        jp_fetch,
        "models",
        "sidebar-reg",
        "1",
        "stage",
        body={"stage": "production", "require": ["accuracy>=0.9"]},
    )
    assert done["stage"] == "production" and done["approval"] == "Approved"
    code, why = await refused(
        jp_fetch,
        "models",
        "sidebar-reg",
        "2",
        "stage",
        body={"stage": "production", "require": ["accuracy>=0.5"], "compare": "production"},
    )
    assert code == 409 and why["error"] == "PromotionRefused"
    assert "worse than sidebar-reg:1 (production)" in why["message"]
    code, why = await refused(
        jp_fetch,
        "models",
        "sidebar-reg",
        "2",
        "stage",
        body={"stage": "production", "require": "x"},
    )
    assert code == 400 and "METRIC OP VALUE" in why["message"]
    rejected = await post(
        jp_fetch, "models", "sidebar-reg", "2", "approval", body={"approval": "Rejected"}
    )
    assert rejected["approval"] == "Rejected"
    code, why = await refused(
        jp_fetch, "models", "sidebar-reg", "2", "approval", body={"approval": "Maybe"}
    )
    assert code == 400 and "not one of" in why["message"]
    code, _ = await refused(
        jp_fetch, "models", "sidebar-reg", "9", "stage", body={"stage": "staging"}
    )
    assert code == 404
    listing = json.loads((await jp_fetch("serverless-ml", "api", "models")).body)["models"]
    mine = {m["version"]: m for m in listing if m["name"] == "sidebar-reg"}
    assert (mine[1]["stage"], mine[1]["approval"]) == ("production", "Approved")
    assert (mine[2]["stage"], mine[2]["approval"]) == ("none", "Rejected")
    assert mine[1]["metrics"] == {"accuracy": 0.95} and mine[1]["serving"] is False
