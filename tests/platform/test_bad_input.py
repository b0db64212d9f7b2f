"""The daemon's control plane against bad input: non-finite numbers, huge numbers, odd names.

Every test talks to a real daemon over HTTP on 127.0.0.1, with raw requests where a
careless or hostile client would send what the Python client never does.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.options import check_hyperparameters, validate_name
from jupyter_serverless_ml.platform import client
from jupyter_serverless_ml.platform.store import Store


def _raw(
    running: client.PlatformClient, method: str, path: str, body: bytes | None = None
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    try:
        conn.request(
            method,
            path,
            body=body,
            headers={
                "Authorization": f"Bearer {running.token}",
                "Content-Type": "application/json",
            },
        )
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read() or b"null")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def running(platform_home: Path) -> client.PlatformClient:
    return client.ensure_running(platform_home)


@pytest.fixture(scope="module")
def finished_job(running: client.PlatformClient) -> dict[str, Any]:
    """A small job (its bundle is reused by raw submits)."""
    job = jsml.train("model = 1\n", name="tiny", hp={"lr": 0.1}, namespace={}, wait=False)
    return running.get(f"/v1/jobs/{job.id}")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), [1.0, float("nan")]])
def test_the_api_refuses_non_finite_hyperparameters_before_building(
    running: client.PlatformClient, value: Any
) -> None:
    before = len(running.get("/v1/jobs")["jobs"])
    with pytest.raises(UsageError, match=r"hyperparameter 'lr' holds .*pass it as a string"):
        jsml.train("model = 1\n", name="nan-hp", hp={"lr": value}, namespace={}, wait=False)
    assert len(running.get("/v1/jobs")["jobs"]) == before


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-2e400"])
def test_the_daemon_refuses_non_finite_json_and_accepts_no_job(
    running: client.PlatformClient, finished_job: dict[str, Any], token: bytes
) -> None:
    before = [j["id"] for j in running.get("/v1/jobs")["jobs"]]
    spec = finished_job["spec"]
    body = (
        b'{"name": "nan-raw", "bundle": '
        + json.dumps(spec["bundle"]).encode()
        + b', "python": '
        + json.dumps(spec["python"]).encode()
        + b', "hyperparameters": {"lr": '
        + token
        + b"}}"
    )
    status, reply = _raw(running, "POST", "/v1/jobs", body)
    assert status == 400, reply
    assert reply["error"] == "UsageError" and "finite number" in reply["message"]
    status, listing = _raw(running, "GET", "/v1/jobs")
    assert status == 200
    assert [j["id"] for j in listing["jobs"]] == before


def test_an_old_row_with_nan_does_not_take_the_job_list_down(
    running: client.PlatformClient, platform_home: Path
) -> None:
    # an older platform accepted NaN: its row (and a NaN metric) must still be served
    store = Store(platform_home / "platform.db")
    try:
        store.insert_job(
            {
                "id": "old-nan-1",
                "name": "old-nan",
                "backend": "local",
                "status": "Failed",
                "created_at": time.time(),
                "spec": {"hyperparameters": {"lr": float("nan"), "hi": float("inf")}},
                "job_dir": str(platform_home / "jobs" / "old-nan-1"),
            }
        )
        store.add_metrics("old-nan-1", [{"name": "loss", "value": float("inf"), "ts": 1.0}], 10)
    finally:
        store.close()
    status, listing = _raw(running, "GET", "/v1/jobs")
    assert status == 200, listing
    old = next(j for j in listing["jobs"] if j["id"] == "old-nan-1")
    assert old["spec"]["hyperparameters"] == {"lr": "NaN", "hi": "Infinity"}
    status, one = _raw(running, "GET", "/v1/jobs/old-nan-1/metrics")
    assert status == 200 and one["metrics"][0]["value"] == "Infinity"
    assert any(j.id == "old-nan-1" for j in jsml.jobs(limit=500))


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs?limit=99999999999999999999",
        "/v1/jobs?offset=-5",
        "/v1/jobs?limit=abc",
        "/v1/batch?limit=99999999999999999999",
        "/v1/jobs/tiny/logs?offset=99999999999999999999",
        "/v1/jobs/tiny/watch?timeout=nan",
        "/v1/jobs/tiny/watch?log_offset=-99999999999999999999",
        "/v1/models/tiny/99999999999999999999",
        "/v1/batch/nope?wait=inf",
    ],
)
def test_out_of_range_numbers_in_the_api_are_400(
    running: client.PlatformClient, finished_job: dict[str, Any], path: str
) -> None:
    status, reply = _raw(running, "GET", path)
    assert status == 400, reply
    assert reply["error"] == "UsageError"
    assert "must be a" in reply["message"]


def test_acknowledging_a_huge_alert_id_is_400(running: client.PlatformClient) -> None:
    status, reply = _raw(running, "POST", "/v1/alerts/99999999999999999999/ack", b"{}")
    assert status == 400 and "alert id" in reply["message"]


def test_traffic_weights_must_be_finite(running: client.PlatformClient) -> None:
    status, reply = _raw(
        running, "POST", "/v1/endpoints/none/traffic", b'{"weights": {"v1": "nan"}}'
    )
    assert status == 400 and "finite" in reply["message"]


@pytest.mark.parametrize("name", ["churn\n", "churn\nv2", "a" * 49, "-x", "x y", ""])
def test_names_are_matched_whole(name: str) -> None:
    with pytest.raises(UsageError, match="invalid name"):
        validate_name(name)
    assert validate_name("churn-v2_1") == "churn-v2_1"


def test_a_name_with_a_trailing_newline_is_refused_by_the_daemon(
    running: client.PlatformClient, finished_job: dict[str, Any]
) -> None:
    spec = finished_job["spec"]
    body = json.dumps({"name": "tiny\n", "bundle": spec["bundle"], "python": spec["python"]})
    status, reply = _raw(running, "POST", "/v1/jobs", body.encode())
    assert status == 400 and "invalid name" in reply["message"]


def test_oversized_hyperparameters_are_refused_before_submitting(
    running: client.PlatformClient,
) -> None:
    before = len(running.get("/v1/jobs")["jobs"])
    with pytest.raises(UsageError, match=r"over the limit .* data channel"):
        jsml.train("model = 1\n", name="big-hp", hp={"blob": "x" * 200_000}, namespace={})
    assert len(running.get("/v1/jobs")["jobs"]) == before
    # just under the limit still runs: the job reads it from its environment
    assert check_hyperparameters({"blob": "x" * 60_000})
    job = jsml.train(
        "import os\nmodel = len(os.environ['SM_HP_BLOB'])\n",
        name="big-hp",
        hp={"blob": "y" * 60_000},
        namespace={},
    )
    assert job.status == "Completed"
