"""Serving at scale: model templates (cold starts that fork instead of load, shared
pages), multi-model endpoints (lazy loads, LRU eviction, per-model statistics,
failures confined to their model) and warm-up requests."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest

from jupyter_serverless_ml import serving
from jupyter_serverless_ml.errors import PredictionError, UsageError
from jupyter_serverless_ml.platform import client, state
from jupyter_serverless_ml.registry import model_ref
from jupyter_serverless_ml.serving import Endpoint

FAST = {"metrics_interval": 0.1, "panic_window": 0.3, "window": 1.0, "downscale_delay": 0.5}
ROWS = np.random.RandomState(1).rand(3, 20)


@pytest.fixture(scope="module")
def forest(platform_home: Path) -> str:
    """A RandomForest of about 60 MB, registered once for the module."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(20_000, 20)
    y = (X[:, 0] + rng.rand(20_000) * 0.5 > 0.75).astype(int)
    model = RandomForestClassifier(n_estimators=60, random_state=0).fit(X, y)
    name, version = model_ref(model, "forest", None)
    return f"{name}:{version}"


def wait_for(condition: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def post(ep: Endpoint, body: bytes, path: str) -> tuple[int, bytes]:
    """POST ``body`` to ``path`` on the platform with its token."""
    url = urlparse(ep.invocation_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    token = state.token(Path(client.config.home()))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    reply = response.status, response.read()
    conn.close()
    return reply


def _zero(ep: Endpoint) -> None:
    wait_for(lambda: ep.refresh().record["replicas"] == 0, timeout=15, what="scale to zero")


def _cold_start(ep: Endpoint) -> float:
    """The cold start of one request at zero replicas, as the platform recorded it (ms)."""
    _zero(ep)
    before = len(ep.cold_starts)
    assert ep.predict(ROWS).shape == (3,)
    colds = ep.cold_starts
    assert len(colds) == before + 1
    return colds[-1]


def _memory(ep: Endpoint) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    variant = ep.refresh().record.variants[0]
    return variant.details.get("template"), list(variant.details.get("replica_memory") or [])


def test_a_template_backed_cold_start_beats_loading_the_model(forest: str) -> None:
    settings = dict(min_replicas=0, idle_timeout="300ms", **FAST)
    warm = serving.deploy(forest, name="forest-warm", **settings)
    cold = serving.deploy(forest, name="forest-cold", keep_warm=False, **settings)
    try:
        forked = sorted(_cold_start(warm) for _ in range(3))[1]
        loaded = sorted(_cold_start(cold) for _ in range(3))[1]
        assert forked < 0.6 * loaded, (forked, loaded)
        messages = [e["message"] for e in warm.events("cold_start")]
        assert "forked from the model's template" in messages[-1]
        assert "model load" in cold.events("cold_start")[-1]["message"]
        # at zero replicas the template still holds the model, and says what it costs
        _zero(warm)
        template, replicas = _memory(warm)
        assert template is not None and template["pss_bytes"] > 20 << 20
        assert not replicas
        record = warm.record
        assert record["keep_warm"] is True
        assert record["memory"]["templates_pss_bytes"] == template["pss_bytes"]
        assert "kept at zero replicas" in repr(warm)
        assert cold.refresh().record["keep_warm"] is False
        assert _memory(cold)[0] is None
    finally:
        warm.undeploy()
        cold.undeploy()


def test_replicas_share_the_model_pages_of_their_template(forest: str) -> None:
    alone = serving.deploy(forest, name="forest-alone", keep_warm=False)
    shared = serving.deploy(forest, name="forest-shared", min_replicas=2, max_replicas=2)
    try:
        _, (single,) = _memory(alone)
        template, pair = _memory(shared)
        assert template is not None and len(pair) == 2
        assert all(r["template"] for r in pair)
        two = sum(r["pss_bytes"] for r in pair)
        # two forks of the template cost well under twice one replica that loaded the model
        assert two < 1.3 * single["pss_bytes"], (two, single)
        # with the template counted too, still less than two replicas that loaded it
        assert two + template["pss_bytes"] < 2 * single["pss_bytes"], (two, template, single)
        assert shared.predict(ROWS).tolist() == alone.predict(ROWS).tolist()
    finally:
        alone.undeploy()
        shared.undeploy()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_a_cold_start_is_served_by_the_template_s_parked_spare(forest: str) -> None:
    import os
    import signal

    ep = serving.deploy(forest, name="forest-spare", min_replicas=0, idle_timeout="300ms", **FAST)
    try:
        _zero(ep)
        template, _ = _memory(ep)
        assert template is not None
        (spare,) = wait_for(lambda: _children(template["pid"]), what="the parked spare")
        _cold_start(ep)
        assert f"(pid {spare})" in ep.events("cold_start")[-1]["message"]
        # once quiet, the template forks the next spare (the replica is its child too)
        wait_for(lambda: set(_children(template["pid"])) - {spare}, what="the next parked spare")
        _zero(ep)
        # a spare that dies while parked is replaced; cold starts go on either way
        for pid in _children(template["pid"]):
            os.kill(pid, signal.SIGKILL)
        _cold_start(ep)
        assert "forked from the model's template" in ep.events("cold_start")[-1]["message"]
        assert _memory(ep)[0]["pid"] == template["pid"]  # the template itself lived on
        wait_for(lambda: _children(template["pid"]), what="a spare again")
    finally:
        ep.undeploy()


def test_a_template_that_dies_is_replaced(forest: str) -> None:
    import os
    import signal

    ep = serving.deploy(forest, name="forest-phoenix", min_replicas=0, idle_timeout="300ms", **FAST)
    try:
        _zero(ep)
        template, _ = _memory(ep)
        assert template is not None
        os.kill(template["pid"], signal.SIGKILL)
        wait_for(lambda: _memory(ep)[0] is None, what="the template's exit")
        assert ep.predict(ROWS).shape == (3,)  # a new template loads, then forks the replica
        assert ep.events("template_exit")
        again, _ = _memory(ep)
        assert again is not None and again["pid"] != template["pid"]
    finally:
        ep.undeploy()


@pytest.fixture(scope="module")
def twenty(platform_home: Path) -> list[str]:
    """Twenty versions of one model: version N predicts N - 1, and carries 1 MiB of data."""
    from sklearn.dummy import DummyRegressor

    refs = []
    for i in range(20):
        model = DummyRegressor(strategy="constant", constant=float(i)).fit(
            np.zeros((2, 3)), np.zeros(2)
        )
        model.pad_ = np.random.RandomState(i).rand(131_072)  # 1 MiB on disk
        name, version = model_ref(model, "fleet", None)
        refs.append(f"{name}:{version}")
    return refs


def test_a_multi_model_endpoint_serves_twenty_models_from_a_cache_of_five(
    twenty: list[str],
) -> None:
    ep = serving.deploy("fleet", multi_model=True, model_cache="5.5M", name="fleet")
    try:
        for _ in range(2):
            for number, ref in enumerate(twenty):
                assert ep.predict([[0, 0, 0]], model=ref).tolist() == [float(number)], ref
        # the five most recent are held: asking for them again loads nothing
        models = ep.refresh().record["multi_model"]["models"]
        loads = {ref: models[ref]["loads"] for ref in twenty}
        assert all(n == 2 for n in loads.values()), loads  # each evicted, then reloaded
        for ref in twenty[-5:]:
            ep.predict([[0, 0, 0]], model=ref)
        models = ep.refresh().record["multi_model"]["models"]
        assert [models[r]["loads"] for r in twenty[-5:]] == [2] * 5
        assert sum(m["evictions"] for m in models.values()) == 35
        assert [models[r]["loaded_in_replicas"] for r in twenty[-5:]] == [1] * 5
        assert models[twenty[0]]["loaded_in_replicas"] == 0
        assert models[twenty[3]]["requests"] == 2 and models[twenty[3]]["p50_ms"] is not None
        # the short forms and the path on our route name the same model
        assert ep.predict([[0, 0, 0]], model="7").tolist() == [6.0]
        assert ep.predict([[0, 0, 0]], model="v7").tolist() == [6.0]
        status, body = post(
            ep, b'{"instances": [[0, 0, 0]]}', path="/endpoints/fleet/models/fleet:3/invocations"
        )
        assert status == 200 and json.loads(body)["predictions"] == [2.0]
        assert "loads 2, evictions 2" in repr(ep)
        # the variant names its model set, not a version (the sidebar shows `model`)
        variant = ep.refresh().record.to_wire()["variants"][0]
        assert variant["model"] == variant["model_set"] == "fleet:* (20 models)"
        assert variant["model_version"] == 0
        assert "fleet:* (20 models): 1 ready" in repr(ep)
        assert "fleet:* (20 models)" in repr(serving.endpoints())
        assert "serving fleet:* (20 models)" in ep.events("created")[0]["message"]
    finally:
        ep.undeploy()


def test_a_request_must_name_a_model_the_endpoint_serves(twenty: list[str]) -> None:
    ep = serving.deploy("fleet", multi_model=True, name="fleet-names")
    try:
        with pytest.raises(PredictionError) as missing:
            ep.predict([[0, 0, 0]])
        assert missing.value.status == 400 and "TargetModel" in str(missing.value)
        with pytest.raises(PredictionError) as unknown:
            ep.predict([[0, 0, 0]], model="fleet:99")
        assert unknown.value.status == 404 and "fleet:1" in str(unknown.value)
        with pytest.raises(PredictionError) as other:
            ep.predict([[0, 0, 0]], model="forest:1")
        assert other.value.status == 404
    finally:
        ep.undeploy()
    with pytest.raises(UsageError, match="--multi-model takes a model NAME"):
        serving.deploy("fleet:3", multi_model=True)
    with pytest.raises(UsageError, match="--model-cache goes with --multi-model"):
        serving.deploy("fleet:3", model_cache="1G")


def test_a_model_that_fails_to_load_fails_only_its_requests(
    twenty: list[str], platform_home: Path
) -> None:
    from sklearn.dummy import DummyRegressor

    model = DummyRegressor(strategy="constant", constant=-1.0).fit(np.zeros((2, 3)), np.zeros(2))
    name, version = model_ref(model, "fleet-broken", None)
    good, _ = model_ref(model, "fleet-good", None)
    directory = platform_home / "artifacts" / "models" / name / str(version)
    (directory / "model.joblib").write_bytes(b"not a joblib file")
    ep = serving.deploy("fleet-*", multi_model=True, name="fleet-prefix")
    try:
        assert ep.variants[0].model == "fleet-* (2 models)"
        for _ in range(2):
            with pytest.raises(PredictionError) as failed:
                ep.predict([[0, 0, 0]], model="fleet-broken")
            assert failed.value.status == 500
            assert "could not load the model" in str(failed.value)
            assert ep.predict([[0, 0, 0]], model=good).tolist() == [-1.0]
        models = ep.refresh().record["multi_model"]["models"]
        broken = models[f"{name}:{version}"]
        assert broken["errors"] == 2 and broken["load_failures"] == 1  # retried after 10 s
        assert "could not load" in broken["last_error"]
        assert models[f"{good}:1"]["errors"] == 0 and models[f"{good}:1"]["requests"] == 2
        assert ep.refresh().record["replicas"] == 1  # the replica stayed up
    finally:
        ep.undeploy()


def test_warm_up_requests_run_before_a_replica_takes_traffic(forest: str, tmp_path: Path) -> None:
    good = tmp_path / "warmup.jsonl"
    good.write_text("\n".join(json.dumps({"instances": ROWS.tolist()}) for _ in range(3)) + "\n")
    ep = serving.deploy(forest, name="forest-warmup", warmup=good, capture=100)
    try:
        assert "warm-up" in ep.events("cold_start")[-1]["message"]
        assert ep.refresh().record["config"]["warmup"][0]["content_type"] == "application/json"
        assert ep.refresh().record["stats"]["requests"] == 0  # warm-up is not traffic
    finally:
        ep.undeploy()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instances": [[1, 2]]}) + "\n")
    with pytest.raises(Exception, match="warm-up request 1 was answered 400"):
        serving.deploy(forest, name="forest-badwarmup", warmup=bad)
    with pytest.raises(UsageError, match="line 1 is not JSON"):
        (tmp_path / "broken.jsonl").write_text("{nope\n")
        serving.deploy(forest, name="forest-x", warmup=tmp_path / "broken.jsonl")


def test_the_endpoint_json_reports_memory_for_the_sidebar(forest: str) -> None:
    ep = serving.deploy(forest, name="forest-json")
    try:
        started = time.monotonic()
        wire = ep.refresh().record.to_wire()
        assert time.monotonic() - started < 5
        assert set(wire["memory"]) == {
            "templates_pss_bytes",
            "replicas_pss_bytes",
            "total_pss_bytes",
        }
        variant = wire["variants"][0]
        assert {"pid", "load_ms", "pss_bytes", "rss_bytes"} <= set(variant["template"])
        assert variant["replica_memory"][0]["pss_bytes"] > 0
        assert wire["multi_model"] is None
    finally:
        ep.undeploy()
