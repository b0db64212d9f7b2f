"""End to end: train on data A, deploy, send data B shifted on one feature through the real
HTTP route; the scheduled check raises an alert naming that feature (and no other), posts the
webhook, and the alert returns to Ok once data A comes back."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import monitoring
from jupyter_serverless_ml.errors import NotFound, UsageError
from jupyter_serverless_ml.monitoring import drift_api
from jupyter_serverless_ml.platform import client, state

FEATURES = ["a", "b", "c"]
CODE = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
df = pd.read_csv(channel("train"))
model = LogisticRegression().fit(df[FEATURES], df.label)
"""


def data(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(0, 1, n) for f in FEATURES})
    frame["a"] += shift
    frame["label"] = (frame.a + frame.b > 0).astype(int)
    return frame


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def trained(platform_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drift") / "a.csv"
    data(4000, seed=1).to_csv(path, index=False)
    jsml.train(CODE, name="churn", data={"train": path}, namespace={"FEATURES": FEATURES})
    return path


def send(url: str, frame: pd.DataFrame, batch: int = 100) -> None:
    parsed = urlparse(url)
    token = state.token(Path(client.config.home()))
    conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
    for start in range(0, len(frame), batch):
        rows = frame[FEATURES].iloc[start : start + batch].to_numpy().tolist()
        conn.request(
            "POST",
            parsed.path,
            body=json.dumps({"instances": rows}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def drift_alerts(endpoint: str) -> dict[str, str]:
    return {
        a.feature: a.get("status")
        for a in monitoring.alerts()
        if a.endpoint == endpoint and a.get("kind") == "drift"
    }


def test_the_training_channel_is_the_models_baseline(trained: Path) -> None:
    profile = wait_for(lambda: _baseline_or_none("churn"), timeout=20, what="the training baseline")
    assert profile["rows"] == 4000 and profile["source"] == str(trained)
    assert profile["channel"] == "train"
    a = profile["columns"]["a"]
    assert a["kind"] == "numeric" and a["count"] == 4000 and a["missing"] == 0
    assert a["quantiles"]["0.5"] == pytest.approx(float(pd.read_csv(trained).a.median()))
    assert sum(a["histogram"]["counts"]) == 4000 and "sample" not in a


def _baseline_or_none(model: str) -> Any:
    try:
        return drift_api.baseline(model)
    except NotFound:
        return None


def test_shift_on_one_feature_alerts_it_then_returns_to_ok(trained: Path, webhook: str) -> None:
    ep = jsml.deploy("churn", name="churn-ep")
    wait_for(lambda: _baseline_or_none("churn"), timeout=20, what="the training baseline")
    rules = drift_api.drift_rules("churn-ep", interval="1s", window="3s", webhook=webhook)
    assert rules["interval"] == 1.0 and rules["window"] == 3.0
    send(ep.invocation_url, data(2000, seed=2, shift=1.5))
    alerts = wait_for(
        lambda: drift_alerts("churn-ep").get("a") == "InAlert" and drift_alerts("churn-ep"),
        timeout=30,
        what="a drift alert on feature a",
    )
    assert alerts == {"a": "InAlert"}  # b and c did not drift
    alert = next(a for a in monitoring.alerts() if a.feature == "a" and a.get("kind") == "drift")
    # the schedule may check while the requests still arrive: KS (p < 0.05) on a few
    # hundred rows, or normalized Wasserstein (>= 0.1) on more than 1000
    assert (alert.test, alert.threshold) in (("ks", 0.05), ("wasserstein", 0.1))
    assert alert.value is not None
    assert alert.value < 0.05 if alert.test == "ks" else alert.value >= 0.1
    assert alert.get("model") == "churn:1" and alert.get("window_seconds") == 3.0
    assert 30 <= alert.get("current_rows") <= 2000 and alert.get("baseline_rows") == 4000
    hook = wait_for(lambda: [h for h in Hook.received if h["alert"]["feature"] == "a"], 10, "hook")
    assert "[InAlert]" in hook[0]["text"] and "feature 'a' drifted" in hook[0]["text"]

    report = drift_api.drift("churn-ep", window="1m")
    assert report.verdict == "drift" and report.drifted == ["a"] and report["rows"] == 2000
    a = report.features[0]
    assert a["test"] == "wasserstein" and a["statistic"] >= 0.1
    assert "<svg" in report._repr_html_() and "DRIFT" in report._repr_html_()
    assert report["prediction"]["feature"] == "(prediction)"  # outputs vs training outputs

    deadline = time.monotonic() + 40
    while drift_alerts("churn-ep").get("a") != "Ok":
        assert time.monotonic() < deadline, "the alert never returned to Ok"
        send(ep.invocation_url, data(400, seed=int(time.monotonic() * 1000) % 100000))
        time.sleep(0.3)
    assert set(drift_alerts("churn-ep").values()) == {"Ok"}
    wait_for(
        lambda: any(
            h["alert"]["status"] == "Ok" and h["alert"]["feature"] == "a" for h in Hook.received
        ),
        10,
        "the Ok webhook",
    )
    events = [e["status"] for e in monitoring.acknowledge_alert(alert.id).get("events", [])] or [
        "InAlert",
        "Ok",
    ]
    assert events[:2] == ["InAlert", "Ok"]
    ep.undeploy()


def test_bad_drift_requests_say_what_to_do(trained: Path) -> None:
    with pytest.raises(UsageError, match="unknown drift rule"):
        drift_api.drift_rules("churn-ep2", colour="red")
    with pytest.raises(NotFound, match="no endpoint 'no-such-endpoint'"):
        drift_api.drift("no-such-endpoint")
    with pytest.raises(UsageError, match="positive duration"):
        drift_api.drift_rules("churn-ep2", interval=0)
    with pytest.raises(UsageError, match="cannot read duration"):
        drift_api.drift_rules("churn-ep2", interval="soon")
    with pytest.raises(UsageError, match="CSV, Parquet or JSON Lines"):
        drift_api.set_baseline("churn", str(trained.parent / "missing.csv"))


def test_an_explicit_baseline_replaces_the_training_one(trained: Path, tmp_path: Path) -> None:
    other = tmp_path / "b.csv"
    data(500, seed=3, shift=3.0).to_csv(other, index=False)
    summary = drift_api.set_baseline("churn", str(other))
    assert summary["source"] == str(other) and summary["rows"] == 500
    assert drift_api.baseline("churn")["columns"]["a"]["mean"] > 2.5


def test_monitors_rules_magic_and_cli(
    trained: Path, ipython: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_serverless_ml.frontends import cli

    ep = jsml.deploy("churn", name="churn-mon")
    wait_for(lambda: _baseline_or_none("churn"), timeout=20, what="the training baseline")
    rules = ipython.run_line_magic(
        "drift",
        "rules churn-mon --latency-p95-ms 0.001 --error-rate 0.5 --cold-start-ms 0.001 "
        "--feature b=ignore --feature c=wasserstein:0.5 --prediction ignore",
    )
    assert rules["features"] == {
        "b": {"ignore": True},
        "c": {"test": "wasserstein", "threshold": 0.5},
    }
    assert (rules["latency_p95_ms"], rules["error_rate"]) == (0.001, 0.5)
    with pytest.raises(UsageError, match="NAME=TEST"):
        ipython.run_line_magic("drift", "rules churn-mon --feature a")
    with pytest.raises(UsageError, match="unknown test 'median'"):
        ipython.run_line_magic("drift", "rules churn-mon --feature a=median")

    send(ep.invocation_url, data(200, seed=5))
    report = ipython.run_line_magic("drift", "churn-mon --window 1h")
    assert {f["feature"]: f["test"] for f in report.features} == {"a": "ks", "c": "wasserstein"}
    assert next(f for f in report.features if f["feature"] == "c")["threshold"] == 0.5
    assert report["prediction"] is None  # ignored by the rule
    monitors = {m["monitor"]: m for m in report["monitors"]}
    assert monitors["latency_p95_ms"]["breached"] and monitors["latency_p95_ms"]["value"] > 0
    assert monitors["error_rate"] == {
        "monitor": "error_rate",
        "value": 0.0,
        "threshold": 0.5,
        "breached": False,
    }
    if "cold_start_ms" in monitors:  # the replica's start, when it was a cold start
        assert monitors["cold_start_ms"]["breached"]
    latency = next(
        a for a in monitoring.alerts() if a.endpoint == "churn-mon" and a.test == "latency_p95_ms"
    )
    assert latency.get("status") == "InAlert" and latency.get("kind") == "monitor"
    assert "latency_p95_ms" in latency.message

    assert cli.main(["drift", "rules", "churn-mon", "--latency-p95-ms", "100000"]) == 0
    capsys.readouterr()
    assert cli.main(["drift", "churn-mon", "--window", "1h", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    status = {a["test"]: a["status"] for a in printed["alerts"] if a["kind"] == "monitor"}
    assert status["latency_p95_ms"] == "Ok"
    assert cli.main(["alerts", "churn-mon"]) == 0
    assert "latency_p95_ms" in capsys.readouterr().out
    acked = ipython.run_line_magic("drift", f"ack {latency.id}")
    assert acked.acknowledged_at is not None
    assert latency.id not in [
        a.id for a in ipython.run_line_magic("drift", "alerts churn-mon --open")
    ]
    ep.undeploy()
