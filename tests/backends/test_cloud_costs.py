"""Costs on the cloud backends, through their fakes (moto + the SageMaker emulator, the
Vertex REST fake): every job, endpoint and batch job priced from what the cloud reports,
at list price in the backend's region, summed as the local ledger is (cost())."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from backends.env_sagemaker import REGION, sagemaker_environment
from backends.env_vertex import vertex_environment
from backends.test_contract import CELL

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends
from jupyter_serverless_ml.catalog.prices import hourly, serverless_rates
from jupyter_serverless_ml.errors import NotFound
from jupyter_serverless_ml.records import BatchRequest, DeployRequest
from jupyter_serverless_ml.statuses import BatchStatus

HOUR = 3600.0


def _items(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [i for i in report["items"] if i["kind"] == kind]


@pytest.fixture(scope="module")
def sagemaker(platform_home: Path) -> Iterator[tuple[Any, Any]]:
    from backends import env_sagemaker

    with sagemaker_environment(platform_home) as settings:
        built = backends.use_backend("sagemaker", **settings)
        try:
            yield env_sagemaker.current(), built
        finally:
            backends.use_backend(None)
            backends.reset()


def test_sagemaker_prices_billable_seconds_serverless_metrics_and_transforms(
    sagemaker: tuple[Any, Any], tmp_path: Path
) -> None:
    emulator, backend = sagemaker
    job = jsml.train(CELL, name="sm-costed", namespace={}, instance_type="ml.m5.xlarge")
    record = backend.job(job.id)
    billed = record.details["billed_seconds"]
    ep = jsml.deploy("sm-costed", name="sm-costed-sl", serverless=True, memory=3072)
    try:
        # SageMaker's serverless bill: requests and ModelLatency (us) x memory, from CloudWatch
        cloudwatch = boto3.client(
            "cloudwatch", endpoint_url=emulator.endpoint_url, region_name=REGION
        )
        dims = [
            {"Name": "EndpointName", "Value": "sm-costed-sl"},
            {"Name": "VariantName", "Value": ep.record.variants[0].name},
        ]
        now = dt.datetime.now(dt.timezone.utc)
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": dims, "Value": 40.0, "Timestamp": now},
                {"MetricName": "Invocations", "Dimensions": dims, "Value": 2.0, "Timestamp": now},
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": dims,
                    "Value": 2.5e6,
                    "Timestamp": now,
                },
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": dims,
                    "Value": 1.5e6,
                    "Timestamp": now,
                },
            ],
        )
        source = tmp_path / "rows.csv"
        pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(source, index=False, header=False)
        batch = backend.batch_predict(
            BatchRequest(
                model="sm-costed",
                input_uri=str(source),
                output_uri=str(tmp_path / "out"),
                format="csv",
            )
        )
        while batch.status not in (BatchStatus.COMPLETED, BatchStatus.FAILED):
            batch = backend.batch_job(batch.id, wait=5, status=str(batch.status))
        report = backend.costs()
    finally:
        backend.undeploy("sm-costed-sl")
    training = next(i for i in _items(report, "training") if i["resource"] == job.id)
    m5 = hourly("ml.m5.xlarge", "sagemaker", "training", "us-east-1")
    assert training["seconds"] == billed and training["region"] == "us-east-1"
    assert training["billed"] == pytest.approx(billed * m5 / HOUR)
    assert training["billed"] == training["sagemaker"]
    assert training["vertex"] == pytest.approx(billed * hourly("n1-standard-4", "vertex") / HOUR)
    serverless = next(i for i in _items(report, "endpoint") if i["name"] == "sm-costed-sl")
    per_gbs, per_request = serverless_rates("us-east-1")
    assert (serverless["requests"], serverless["gb_seconds"]) == (42, pytest.approx(4.0 * 3))
    assert serverless["billed"] == pytest.approx(42 * per_request + 12.0 * per_gbs)
    transform = next(i for i in _items(report, "batch") if i["resource"] == batch.id)
    assert transform["instance_type"] == "ml.m5.large" and transform["seconds"] >= 0
    assert transform["billed"] == pytest.approx(
        transform["seconds"] * hourly("ml.m5.large", "sagemaker", "batch") / HOUR
    )
    assert report["note"].endswith("list prices in us-east-1")
    # cost() over the same ledger, after the endpoint is gone: its use is kept, ended
    grouped = jsml.cost(by="backend", backend="sagemaker")
    assert grouped["groups"][0]["key"] == "sagemaker"
    kept = next(i for i in grouped["items"] if i["name"] == "sm-costed-sl")
    assert kept["ended_at"] and kept["billed"] == pytest.approx(serverless["billed"])
    assert grouped.total["billed"] == pytest.approx(
        sum(i["billed"] for i in report["items"]), abs=2e-6
    )
    assert jsml.cost(since="1h", backend="sagemaker").total["billed"] > 0


@pytest.fixture(scope="module")
def vertex(platform_home: Path) -> Iterator[Any]:
    with vertex_environment(platform_home) as settings:
        built = backends.use_backend("vertex", **settings)
        try:
            yield built
        finally:
            backends.use_backend(None)
            backends.reset()


def test_vertex_prices_jobs_endpoints_and_batch_jobs_in_its_location(
    vertex: Any, tmp_path: Path
) -> None:
    location = vertex.settings.location
    job = jsml.train(
        CELL, name="vx-costed", namespace={}, instance_type="n1-standard-8", instance_count=2
    )
    record = vertex.job(job.id)
    vertex.deploy(DeployRequest(model="vx-costed", name="vx-costed-ep", min_replicas=2))
    try:
        source = tmp_path / "rows.csv"
        pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(source, index=False)
        batch = vertex.batch_predict(
            BatchRequest(model="vx-costed", input_uri=str(source), output_uri=str(tmp_path / "o"))
        )
        while batch.status not in (BatchStatus.COMPLETED, BatchStatus.FAILED):
            batch = vertex.batch_job(batch.id, wait=5, status=str(batch.status))
        time.sleep(0.2)
        report = vertex.cost_ledger()
    finally:
        vertex.undeploy("vx-costed-ep")
    runs = [i for i in _items(report, "training") if i["name"] == "vx-costed"]
    seconds = record.ended_at - record.started_at
    machine = sum(hourly(i["instance_type"], "vertex", "training", location) for i in runs)
    assert sum(i["count"] for i in runs) == 2 and all(i["region"] == location for i in runs)
    assert sum(i["billed"] for i in runs) == pytest.approx(
        sum(i["count"] * i["seconds"] for i in runs) * machine / len(runs) / HOUR
    )
    assert runs[0]["seconds"] == pytest.approx(seconds, abs=1e-3)
    assert runs[0]["instance_type"] == "n1-standard-8"
    assert runs[0]["sagemaker"] == pytest.approx(
        runs[0]["count"] * seconds * hourly("ml.m5.2xlarge", "sagemaker") / HOUR, rel=1e-3
    )
    endpoint = next(i for i in _items(report, "endpoint") if i["name"] == "vx-costed-ep")
    assert endpoint["count"] == 2 and endpoint["seconds"] > 0
    assert endpoint["billed"] == pytest.approx(
        2 * endpoint["seconds"] * hourly("n1-standard-2", "vertex", "prediction", location) / HOUR
    )
    scored = next(i for i in _items(report, "batch") if i["resource"] == batch.id)
    assert scored["instance_type"] == "n1-standard-4" and scored["billed"] >= 0
    assert report["note"].endswith(f"list prices in {location}")
    assert vertex.alerts() == []
    with pytest.raises(NotFound):
        vertex.acknowledge_alert(1)
    assert jsml.cost(by="name", backend="vertex")["total"]["billed"] == pytest.approx(
        round(sum(i["billed"] for i in vertex.cost_ledger()["items"]), 6), abs=1e-4
    )
