"""The backend contract: for each capability a backend claims, the same behaviour.

Runs against every backend in ``CONTRACT_BACKENDS`` (conftest.py); a test of a
capability the backend does not claim is skipped, and :func:`test_features_are_the_parts`
checks that the claim is exactly what the class implements.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import artifacts
from jupyter_serverless_ml.backends import (
    Backend,
    Batch,
    Monitoring,
    Registry,
    Serving,
    features,
    features_of,
    require,
)
from jupyter_serverless_ml.errors import NotFound, UsageError
from jupyter_serverless_ml.records import (
    BatchRecord,
    BatchRequest,
    DeployRequest,
    EndpointRecord,
    Invocation,
    JobNews,
    JobRecord,
    LogPage,
    MetricRecord,
    ModelRecord,
)
from jupyter_serverless_ml.statuses import (
    JOB_TERMINAL,
    BatchStatus,
    EndpointStatus,
    Feature,
    JobStatus,
)

CELL = """
import numpy as np
from sklearn.linear_model import LinearRegression
print("contract job says hello")
X = np.arange(20, dtype=float).reshape(10, 2)
model = LinearRegression().fit(X, X[:, 0] * 3)
for step in range(3):
    log_metric("loss", 1.0 / (step + 1), step=step)
log_metric("score", model.score(X, X[:, 0] * 3))
"""


def needs(backend: Backend, part: type) -> Any:
    if not isinstance(backend, part):
        pytest.skip(f"the {backend.name} backend does not claim {part.__name__}")
    return backend


def wait_terminal(backend: Backend, job_id: str, timeout: float = 120) -> JobRecord:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        news = backend.watch(job_id, status=status, log_cursor="-", metrics_seen=-1, timeout=5)
        status = str(news.job.status)
        if status in JOB_TERMINAL:
            return news.job
    raise AssertionError(f"job {job_id} still {status}")


@pytest.fixture(scope="module")
def trained(backend: Backend) -> JobRecord:
    """One completed training job of the backend under test."""
    job = jsml.train(CELL, name="contract", namespace={}, backend=backend.name, wait=False)
    assert isinstance(job.record, JobRecord) and job.record.backend == backend.name
    return wait_terminal(backend, job.id)


# -- features ---------------------------------------------------------------------


def test_features_are_the_parts(backend: Backend) -> None:
    claimed = features(backend)
    assert Feature.TRAINING in claimed
    for feature, part in [
        (Feature.REGISTRY, Registry),
        (Feature.SERVING, Serving),
        (Feature.BATCH, Batch),
        (Feature.MONITORING, Monitoring),
    ]:
        assert (feature in claimed) == isinstance(backend, part)
    assert features_of(backend.name) == claimed
    from jupyter_serverless_ml.backends.protocol import PARTS

    for feature, part in PARTS.items():  # tuning, schedules, pipelines: claimed iff implemented
        assert (feature in claimed) == isinstance(backend, part)


# -- training ---------------------------------------------------------------------


def test_train_status_and_lookup(backend: Backend, trained: JobRecord) -> None:
    assert trained.status == JobStatus.COMPLETED and trained.status == "Completed"
    assert trained.started_at and trained.ended_at and trained.ended_at >= trained.started_at
    by_id = backend.job(trained.id)
    by_name = backend.job("contract")
    assert by_id.id == by_name.id == trained.id
    listed = backend.jobs(status=["Completed"], name="contract")
    assert [j.id for j in listed] == [trained.id]
    assert backend.jobs(status=["Failed"], name="contract") == []
    assert trained.bundle_uri and artifacts.exists(trained.bundle_uri)
    with pytest.raises(NotFound):
        backend.job("no-such-job-anywhere")


def test_logs_page_with_opaque_cursors(backend: Backend, trained: JobRecord) -> None:
    first = backend.logs(trained.id)
    assert isinstance(first, LogPage) and isinstance(first.cursor, str)
    assert "contract job says hello" in first.text
    rest = backend.logs(trained.id, first.cursor)
    assert rest.text == "" and rest.cursor == first.cursor  # nothing more, ask again later
    again = backend.logs(trained.id, None)
    assert again.text == first.text
    with pytest.raises(UsageError):
        backend.logs(trained.id, "not-a-cursor-this-backend-gave")


def test_watch_reports_news(backend: Backend, trained: JobRecord) -> None:
    news = backend.watch(trained.id, status="", log_cursor=None, metrics_seen=0, timeout=5)
    assert isinstance(news, JobNews) and news.job.id == trained.id
    assert "contract job says hello" in news.log and news.log_cursor
    assert [m.name for m in news.metrics] == ["loss", "loss", "loss", "score"]
    quiet = backend.watch(
        trained.id, status="Completed", log_cursor=news.log_cursor, metrics_seen=4, timeout=0.5
    )
    assert quiet.log == "" and quiet.metrics == ()


def test_metrics_in_the_order_logged(backend: Backend, trained: JobRecord) -> None:
    metrics = backend.metrics(trained.id)
    assert all(isinstance(m, MetricRecord) for m in metrics)
    assert [(m.name, m.step) for m in metrics[:3]] == [("loss", 0), ("loss", 1), ("loss", 2)]
    assert metrics[-1].name == "score" and metrics[-1].value == pytest.approx(1.0)
    assert backend.job(trained.id).metrics["loss"] == pytest.approx(1 / 3)


def test_stop_a_running_job(backend: Backend) -> None:
    job = jsml.train(
        "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n",
        name="contract-stop",
        namespace={},
        backend=backend.name,
        wait=False,
    )
    deadline = time.monotonic() + 60
    while backend.job(job.id).status != JobStatus.RUNNING:
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(0.1)
    stopping = backend.stop(job.id)
    assert stopping.status in (JobStatus.STOPPING, JobStatus.STOPPED)
    assert wait_terminal(backend, job.id).status == JobStatus.STOPPED


# -- registry ---------------------------------------------------------------------


def test_registry_versions(backend: Backend, trained: JobRecord, tmp_path: Path) -> None:
    registry = needs(backend, Registry)
    latest = registry.model("contract")
    assert isinstance(latest, ModelRecord) and latest.job_id == trained.id
    assert latest.version == backend.job(trained.id).model_version
    assert [m.version for m in registry.models("contract")] == [latest.version]
    assert registry.model("contract", latest.version) == latest
    with pytest.raises(NotFound):
        registry.model("contract", latest.version + 50)
    model = registry.load_model(latest)
    assert model.predict([[1.0, 2.0]])[0] == pytest.approx(3.0)

    from sklearn.dummy import DummyRegressor

    from jupyter_serverless_ml.runtime import flavors

    kernel_model = DummyRegressor(strategy="constant", constant=7).fit([[0.0, 0.0]], [7])
    flavors.save(kernel_model, tmp_path, flavors.infer_signature(kernel_model, {}))
    registered = registry.register_model("contract", tmp_path, __import__("sys").executable)
    assert registered.version == latest.version + 1
    assert registry.load_model(registered).predict([[0.0, 0.0]])[0] == 7


# -- serving ----------------------------------------------------------------------


def test_deploy_invoke_traffic_rollback_undeploy(backend: Backend, trained: JobRecord) -> None:
    serving = needs(backend, Serving)
    registry = require(backend, Registry)
    versions = sorted(m.version for m in registry.models("contract"))
    endpoint = serving.deploy(
        DeployRequest(model="contract", version=versions[0], name="contract-ep", max_replicas=2)
    )
    assert isinstance(endpoint, EndpointRecord)
    assert endpoint.status == EndpointStatus.IN_SERVICE and endpoint.invocation_url
    try:
        answer = serving.invoke("contract-ep", json.dumps({"instances": [[1.0, 2.0]]}).encode())
        assert isinstance(answer, Invocation) and answer.status == 200
        assert json.loads(answer.body)["predictions"][0] == pytest.approx(3.0)
        bad = serving.invoke("contract-ep", b"{not json")
        assert bad.status == 400
        assert any(e.name == "contract-ep" for e in serving.endpoints())

        if len(versions) > 1:
            two = serving.deploy(
                DeployRequest(
                    model="contract", version=versions[-1], endpoint="contract-ep", traffic=25
                )
            )
            assert sorted(two.traffic.values()) == [25.0, 75.0]
            shifted = serving.traffic("contract-ep", {two.variants[-1].name: 100})
            assert shifted.traffic[two.variants[-1].name] == 100
            back = serving.rollback("contract-ep")
            assert dict(back.traffic) == dict(two.traffic)
    finally:
        gone = serving.undeploy("contract-ep")
    assert gone.name == "contract-ep"
    with pytest.raises(NotFound):
        serving.endpoint("contract-ep")
    with pytest.raises(NotFound):
        serving.deploy(DeployRequest(model="contract", version=999, name="never"))


# -- batch ------------------------------------------------------------------------


def test_batch_prediction(backend: Backend, trained: JobRecord, tmp_path: Path) -> None:
    runner = needs(backend, Batch)
    source = tmp_path / "rows.csv"
    source.write_text("a,b\n" + "".join(f"{i},{i + 1}\n" for i in range(50)))
    record = runner.batch_predict(
        BatchRequest(
            model="contract",
            input_uri=artifacts.to_uri(source),
            output_uri=artifacts.to_uri(tmp_path / "scores"),
            workers=1,
            chunk_rows=20,
            format="csv",
        )
    )
    assert isinstance(record, BatchRecord)
    deadline = time.monotonic() + 120
    while record.status not in (BatchStatus.COMPLETED, BatchStatus.FAILED):
        assert time.monotonic() < deadline
        record = runner.batch_job(
            record.id, wait=5, status=str(record.status), rows=record.rows_done
        )
    assert record.status == BatchStatus.COMPLETED, record.failure_reason
    assert record.rows_done == 50 and record.rows_total == 50
    manifest = artifacts.read_json(record.manifest_uri)
    assert sum(s["rows_out"] for s in manifest["shards"]) == 50
    assert record.id in [b.id for b in runner.batch_jobs()]
    assert runner.stop_batch(record.id).status == BatchStatus.COMPLETED
    with pytest.raises(NotFound):
        runner.batch_job("no-such-batch")


# -- monitoring -------------------------------------------------------------------


def test_costs_and_alerts(backend: Backend, trained: JobRecord) -> None:
    monitor = needs(backend, Monitoring)
    costs = monitor.costs()
    assert {"total", "by_day", "by_resource"} <= set(costs)
    assert isinstance(monitor.alerts(), list)
    with pytest.raises(NotFound):
        monitor.acknowledge_alert(987654)


def test_the_curl_example_authenticates_as_the_backend_does(
    backend: Backend, trained: JobRecord
) -> None:
    serving = needs(backend, Serving)
    endpoint = serving.deploy(DeployRequest(model="contract", name="contract-curl", max_replicas=1))
    try:
        line = serving.curl(endpoint)
        assert line.startswith("curl -X POST ") and endpoint.invocation_url in line
        expected = {
            "local": "Authorization: Bearer <token>",
            "sagemaker": "--aws-sigv4 'aws:amz:",
            "vertex": "gcloud auth print-access-token",
        }[backend.name]
        assert expected in line
    finally:
        serving.undeploy("contract-curl")
