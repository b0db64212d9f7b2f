"""Endpoints on the local platform: deploy, predict, bad input, scaling, crashes, traffic, undeploy."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import cloudpickle
import pandas as pd
import pytest
import serving_models
from serving_models import CRASH, SLOW, Doubler

from jupyter_serverless_ml import serving
from jupyter_serverless_ml.errors import Conflict, NotFound, PredictionError, UsageError
from jupyter_serverless_ml.platform import client, state
from jupyter_serverless_ml.serving import Endpoint

cloudpickle.register_pickle_by_value(serving_models)
FAST = {"metrics_interval": 0.1, "panic_window": 0.3, "window": 1.0, "downscale_delay": 0.5}


@pytest.fixture(scope="module")
def cancer() -> tuple[Any, pd.DataFrame, list[str]]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer(as_frame=True)
    features = list(data.feature_names)
    model = LogisticRegression(max_iter=5000).fit(data.frame[features], data.frame.target)
    return model, data.frame, features


@pytest.fixture(scope="module")
def lr(platform_home: Path, cancer: tuple[Any, pd.DataFrame, list[str]]) -> Endpoint:
    return serving.deploy(cancer[0], name="lr")


def post(
    ep: Endpoint,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    path: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    url = urlparse(ep.invocation_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    token = state.token(Path(client.config.home()))
    sent = {"Authorization": f"Bearer {token}", "Content-Type": content_type, **(headers or {})}
    conn.request("POST", path or url.path, body=body, headers={k: v for k, v in sent.items() if v})
    response = conn.getresponse()
    reply = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    conn.close()
    return reply


def wait_for(condition: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_predict_takes_frames_arrays_rows_and_records(lr: Endpoint, cancer: Any) -> None:
    model, frame, features = cancer
    expected = model.predict(frame[features].head(5))
    assert lr.predict(frame[features].head(5)).tolist() == expected.tolist()
    assert lr.predict(frame[features].head(5).to_numpy()).tolist() == expected.tolist()
    assert lr.predict(frame[features].head(5).values.tolist()).tolist() == expected.tolist()
    records = frame[features].head(5).to_dict(orient="records")
    assert lr.predict(records).tolist() == expected.tolist()
    assert lr.predict(records[0]).tolist() == expected[:1].tolist()
    assert lr.invocation_url == f"{lr.url}/endpoints/lr/invocations"


def test_endpoints_list_and_details(lr: Endpoint) -> None:
    listed = {e.name: e for e in serving.endpoints()}
    assert listed["lr"].record["status"] == "InService"
    assert "lr" in repr(serving.endpoints()) and "p50 ms" in repr(serving.endpoints())
    details = serving.endpoint("lr").record
    assert details["variants"][0]["model"] == "lr:1"
    assert details["replicas"] == 1 and details["min_replicas"] == 1
    assert details["stats"]["requests"] >= 1 and details["stats"]["p50_ms"] is not None
    assert details["cold_starts"] >= 1
    assert "latency" in repr(serving.endpoint("lr"))


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"instances": [[1, 2', "application/json", "not valid JSON"),
        (b'{"rows": []}', "application/json", 'must hold "instances"'),
        (b'{"instances": []}', "application/json", "no rows"),
        (b'{"instances": [[1, 2, 3]]}', "application/json", "must have 30 features"),
        (b"1,2,3\n4,5\n", "text/csv", "different lengths"),
    ],
)
def test_bad_requests_get_400_with_the_reason(
    lr: Endpoint, body: bytes, content_type: str, message: str
) -> None:
    status, _, reply = post(lr, body, content_type)
    assert status == 400
    assert message in json.loads(reply)["message"]


def test_a_value_that_is_not_a_number_is_named_with_its_row(lr: Endpoint, cancer: Any) -> None:
    _, frame, features = cancer
    records = frame[features].head(3).to_dict(orient="records")
    records[1]["mean radius"] = "abc"
    with pytest.raises(PredictionError) as caught:
        lr.predict(records)
    assert caught.value.status == 400
    assert "'mean radius' must be a number" in str(caught.value) and "row 2" in str(caught.value)


def test_a_payload_over_the_limit_gets_413(platform_home: Path) -> None:
    ep = serving.deploy(Doubler(), name="small", max_payload="1K")
    status, _, reply = post(ep, json.dumps({"instances": [[1.0, 2.0]] * 200}).encode())
    assert status == 413 and "limit of 1024 bytes" in json.loads(reply)["message"]
    assert ep.predict([[1.0, 2.0]]).tolist() == [2.0]


def test_an_unknown_endpoint_gets_404_naming_the_existing(lr: Endpoint) -> None:
    status, _, reply = post(lr, b"[[1]]", path="/endpoints/nope/invocations")
    assert status == 404
    assert (
        "no endpoint 'nope'" in json.loads(reply)["message"]
        and "lr" in json.loads(reply)["message"]
    )


def test_the_platform_token_is_required(lr: Endpoint) -> None:
    for header in ("", "Bearer wrong-token"):
        status, _, reply = post(lr, b"[[1]]", headers={"Authorization": header})
        assert status == 401 and "platform token" in json.loads(reply)["message"]


def test_a_model_error_is_a_500_and_the_replica_stays_up(platform_home: Path) -> None:
    ep = serving.deploy(Doubler(), name="dbl")
    pids = {r["pid"] for r in ep.refresh().record["replica_list"]}
    with pytest.raises(PredictionError) as caught:
        ep.predict([[1.0, 0.0], [-1.0, 0.0]])
    assert caught.value.status == 500
    assert "negative input: this model takes x >= 0" in str(caught.value)
    assert ep.predict([[3.0, 0.0]]).tolist() == [6.0]
    assert {r["pid"] for r in ep.refresh().record["replica_list"]} == pids


def test_deploying_what_does_not_exist_says_what_does(lr: Endpoint) -> None:
    with pytest.raises(NotFound, match=r"registered models: .*lr"):
        serving.deploy("no-such-model")
    with pytest.raises(NotFound, match="model lr has no version 7; versions: 1"):
        serving.deploy("lr:7", name="lr-seven")
    with pytest.raises(Conflict, match="endpoint 'lr' exists"):
        serving.deploy("lr")
    with pytest.raises(UsageError, match="must be between 0 and 100"):
        serving.deploy("lr", endpoint="lr", traffic=150)


def test_scale_to_zero_then_a_request_waits_for_a_cold_start(platform_home: Path) -> None:
    ep = serving.deploy(Doubler(), name="zero", min_replicas=0, idle_timeout="300ms", **FAST)
    wait_for(lambda: ep.refresh().record["replicas"] == 0, what="scale to zero")
    before = len(ep.cold_starts)
    started = time.perf_counter()
    assert ep.predict([[2.0, 0.0]]).tolist() == [4.0]
    waited = time.perf_counter() - started
    colds = ep.cold_starts
    assert len(colds) == before + 1
    assert colds[-1] < 1000 and waited < 2.0  # a fork of the warm zygote, not an interpreter
    assert any(e["kind"] == "scale" and "idle" in e["message"] for e in ep.events())


def test_requests_that_wait_too_long_get_503_with_retry_after(platform_home: Path) -> None:
    ep = serving.deploy(
        Doubler(),
        name="impatient",
        min_replicas=0,
        idle_timeout="200ms",
        cold_start_timeout="1ms",
        **FAST,
    )
    wait_for(lambda: ep.refresh().record["replicas"] == 0, what="scale to zero")
    status, headers, reply = post(ep, b'{"instances": [[1, 2]]}')
    assert status == 503 and headers.get("retry-after")
    assert "no replica of v1 became ready within" in json.loads(reply)["message"]
    wait_for(lambda: ep.refresh().record["replicas"] == 1, what="the started replica")
    assert ep.predict([[1.0, 2.0]]).tolist() == [2.0]


def test_a_crashed_replica_is_replaced_and_its_request_retried(platform_home: Path) -> None:
    # the marker lives in /tmp, which is the zygote's own in the sandbox: its forks share it
    marker = Path("/tmp") / f"jsml-crashed-{uuid.uuid4().hex}"
    ep = serving.deploy(Doubler(marker=str(marker)), name="crashy")
    first = {r["pid"] for r in ep.refresh().record["replica_list"]}
    assert ep.predict([[CRASH, 0.0]]).tolist() == [2 * CRASH]  # served by the replacement
    exits = ep.events("replica_exit")
    assert exits and "exited unexpectedly" in exits[-1]["message"]
    assert "killed by SIGKILL" in exits[-1]["message"] and "replacing it" in exits[-1]["message"]
    wait_for(lambda: ep.refresh().record["replicas"] == 1, what="the replacement")
    assert {r["pid"] for r in ep.record["replica_list"]}.isdisjoint(first)
    marker.unlink(missing_ok=True)


def test_canary_traffic_shift_and_rollback(platform_home: Path) -> None:
    ep = serving.deploy(Doubler(factor=2.0), name="ab")
    serving.deploy(Doubler(factor=3.0), name="ab", endpoint="ab", traffic=30)
    assert ep.traffic == {"v1": 70.0, "v2": 30.0}
    seen: Counter[str] = Counter()
    for _ in range(300):
        status, headers, reply = post(ep, b'{"instances": [[1, 0]]}')
        assert status == 200
        variant = headers["x-amzn-invoked-production-variant"]
        assert json.loads(reply)["predictions"] == [2.0 if variant == "v1" else 3.0]
        seen[variant] += 1
    assert 50 <= seen["v2"] <= 130  # 30% of 300, with room for chance
    serving.traffic("ab", v2=100)
    assert {post(ep, b"[[1, 0]]")[1]["x-amzn-invoked-production-variant"] for _ in range(20)} == {
        "v2"
    }
    assert serving.rollback("ab").traffic == {"v1": 70.0, "v2": 30.0}
    with pytest.raises(UsageError, match="no variant v9"):
        serving.traffic("ab", v9=10)
    with pytest.raises(UsageError, match="sum to at most 100"):
        serving.traffic("ab", v1=80, v2=80)


def test_undeploy_drains_requests_in_flight(platform_home: Path) -> None:
    ep = serving.deploy(Doubler(slow_seconds=0.6), name="drain")
    results: list[int] = []

    def slow_request() -> None:
        results.append(post(ep, json.dumps({"instances": [[SLOW, 0]]}).encode())[0])

    threads = [threading.Thread(target=slow_request) for _ in range(3)]
    for thread in threads:
        thread.start()

    def arrived() -> int:  # all three reached the endpoint: in flight on a replica or queued
        record = serving.endpoint("drain").record
        inflight = sum(r["inflight"] for r in record["replica_list"])
        return int(inflight + record["variants"][0]["queued"])

    wait_for(lambda: arrived() >= 3, what="three requests in flight")
    summary = serving.undeploy("drain")
    for thread in threads:
        thread.join()
    assert results == [200, 200, 200]
    assert summary["status"] == "Deleted"
    with pytest.raises(NotFound):
        serving.endpoint("drain")
    assert post(ep, b"[[1, 0]]")[0] == 404


def test_load_adds_a_replica_within_two_seconds(platform_home: Path) -> None:
    ep = serving.deploy(
        Doubler(slow_seconds=0.05), name="busy", target_concurrency=1, max_replicas=3, **FAST
    )
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            post(ep, json.dumps({"instances": [[SLOW, 0]]}).encode())

    threads = [threading.Thread(target=load) for _ in range(4)]
    started = time.time()
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: ep.refresh().record["replicas"] >= 2, timeout=5, what="a second replica")
        scaled = time.time() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert scaled <= 2.0
    assert any("in flight" in e["message"] for e in ep.events("cold_start"))


def test_requests_are_captured_for_drift_and_replay(platform_home: Path) -> None:
    from jupyter_serverless_ml.platform.serving.capture import read_records

    ep = serving.deploy(Doubler(), name="captured", capture=100)
    ep.predict([[5.0, 1.0]])
    directory = Path(ep.refresh().record["capture_dir"])
    records = wait_for(lambda: list(read_records(directory)), what="a capture record")
    assert json.loads(records[-1]["input"]) == {"instances": [[5.0, 1.0]]}
    assert json.loads(records[-1]["output"]) == {"predictions": [10.0]}
    assert records[-1]["variant"] == "v1" and records[-1]["status"] == 200


def test_capture_disk_is_bounded(tmp_path: Path) -> None:
    from jupyter_serverless_ml.platform.serving.capture import bound_directory

    for index in range(5):
        (tmp_path / f"{index}.jsonl").write_bytes(b"x" * 1000)
        time.sleep(0.01)
    assert bound_directory(tmp_path, 2500) == 3000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.jsonl", "4.jsonl"]


def test_an_endpoint_outlives_the_kernel_and_the_platform(
    lr: Endpoint, cancer: Any, platform_home: Path
) -> None:
    _, frame, features = cancer
    row = json.dumps(frame[features].head(1).values.tolist())
    code = (
        "import json, sys; from jupyter_serverless_ml import serving; "
        f"print(serving.endpoint('lr').predict(json.loads('{row}')).tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0]"
    client.stop(platform_home, timeout=10)
    restored = serving.endpoint("lr")  # starts the daemon again
    assert restored.record["status"] == "InService"
    wait_for(lambda: serving.endpoint("lr").record["replicas"] == 1, what="min replicas back")
    assert serving.endpoint("lr").predict(frame[features].head(1)).tolist() == [0]
    assert any(e["kind"] == "restored" for e in serving.endpoint("lr").events())
