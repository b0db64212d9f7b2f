"""Drift on SageMaker (moto + the emulator, which writes data capture to S3 as SageMaker
does): train on data A, deploy with capture, send data B shifted on one feature through
InvokeEndpoint; the check over the capture in S3 alerts that feature only; data A again
and the alert returns to Ok. The baseline is the training channel, profiled from S3."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backends.env_sagemaker import sagemaker_environment

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends, monitoring
from jupyter_serverless_ml.backends.sagemaker.drift import capture_record
from jupyter_serverless_ml.errors import NotFound, UsageError
from jupyter_serverless_ml.monitoring import drift_api

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


@pytest.fixture(scope="module")
def sagemaker(platform_home: Path) -> Iterator[None]:
    with sagemaker_environment(platform_home) as settings:
        backends.use_backend("sagemaker", **settings)
        try:
            yield
        finally:
            backends.use_backend(None)
            backends.reset()


def send(endpoint: Any, frame: pd.DataFrame, batch: int = 100) -> None:
    for start in range(0, len(frame), batch):
        endpoint.predict(frame[FEATURES].iloc[start : start + batch])


def drift_status(endpoint: str) -> dict[str, str]:
    return {
        a.feature: a.get("status")
        for a in monitoring.alerts()
        if a.endpoint == endpoint and a.get("kind") == "drift"
    }


def test_a_shift_in_the_s3_capture_alerts_its_feature_then_returns_to_ok(
    sagemaker: None, tmp_path: Path
) -> None:
    train = tmp_path / "a.csv"
    data(2000, seed=1).to_csv(train, index=False)
    job = jsml.train(CODE, name="smdrift", data={"train": train}, namespace={"FEATURES": FEATURES})
    assert job.status == "Completed"
    ep = jsml.deploy("smdrift", name="smdrift-ep", capture=100)
    assert drift_api.drift("smdrift-ep").verdict == "not enough data"  # no traffic yet

    send(ep, data(600, seed=2, shift=1.5))
    report = drift_api.drift("smdrift-ep", window="1h")
    assert report["rows"] == 600 and report["requests"] == 6
    assert report.verdict == "drift" and report.drifted == ["a"]
    assert report["capture_uri"].startswith("s3://") and "/smdrift-ep/" in report["capture_uri"]
    baseline = drift_api.baseline("smdrift")
    assert baseline["rows"] == 2000 and baseline["channel"] == "train"
    assert baseline["source"].startswith("s3://") and baseline["inputs"] == FEATURES
    assert drift_status("smdrift-ep") == {"a": "InAlert"}
    alert = next(a for a in monitoring.alerts() if a.feature == "a")
    assert alert.test == "ks" and alert.value is not None and alert.value < 0.05
    assert alert.get("model") == "smdrift:1" and alert.get("current_rows") == 600
    assert "<svg" in report._repr_html_()

    time.sleep(1.1)
    send(ep, data(300, seed=3))
    calm = drift_api.drift("smdrift-ep", window=1.0)  # only the requests after the shift
    assert calm["rows"] == 300 and calm.verdict == "ok"
    assert drift_status("smdrift-ep") == {"a": "Ok"}
    acked = monitoring.acknowledge_alert(alert.id)
    assert acked.acknowledged_at is not None
    assert [e["status"] for e in acked.get("events", [])] == ["InAlert", "Ok"]
    with pytest.raises(NotFound, match="no alert 999"):
        monitoring.acknowledge_alert(999)

    rules = drift_api.drift_rules("smdrift-ep", features={"a": {"test": "psi", "threshold": 9}})
    assert rules["features"]["a"] == {"test": "psi", "threshold": 9}
    with pytest.raises(UsageError, match="unknown drift rule"):
        drift_api.drift_rules("smdrift-ep", colour="red")
    ep.undeploy()


def test_an_endpoint_without_capture_says_how_to_get_one(sagemaker: None, tmp_path: Path) -> None:
    train = tmp_path / "a.csv"
    data(200, seed=4).to_csv(train, index=False)
    jsml.train(CODE, name="smnocap", data={"train": train}, namespace={"FEATURES": FEATURES})
    ep = jsml.deploy("smnocap", name="smnocap-ep")
    try:
        with pytest.raises(UsageError, match="--capture 100"):
            drift_api.drift("smnocap-ep")
    finally:
        ep.undeploy()


def test_capture_lines_in_every_encoding() -> None:
    import base64

    def line(encoding: str, data: str) -> bytes:
        return json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": data,
                        "encoding": encoding,
                    },
                    "endpointOutput": {
                        "observedContentType": "text/csv",
                        "mode": "OUTPUT",
                        "data": "1",
                        "encoding": "CSV",
                    },
                },
                "eventMetadata": {"eventId": "x", "inferenceTime": "2026-01-02T03:04:05.678Z"},
                "eventVersion": "0",
            }
        ).encode()

    plain = capture_record(line("CSV", "1,2,3"), "m:1")
    encoded = capture_record(line("BASE64", base64.b64encode(b"1,2,3").decode()), "m:1")
    assert plain == encoded
    assert plain is not None and plain["input"] == "1,2,3" and plain["output"] == "1"
    assert plain["ts"] == pytest.approx(1767323045.678)
    assert capture_record(b'{"captureData": {}}', "m:1") is None
    assert capture_record(b"not json", "m:1") is None
