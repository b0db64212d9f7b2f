"""The Vertex backend against the local fake: the container contract, settings, every error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from backends.vertex_fake import PROJECT, FakeVertex, fake_vertex

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends.vertex import VertexBackend, errors, logs
from jupyter_serverless_ml.errors import BackendError, ConfigError, JobFailed, UsageError
from jupyter_serverless_ml.records import DeployRequest

CONTRACT_SCRIPT = """
import json, os
from sklearn.dummy import DummyRegressor
spec = json.loads(os.environ["CLUSTER_SPEC"])
print("replica", os.environ["RANK"], "of", os.environ["WORLD_SIZE"], spec["task"]["type"],
      spec["task"]["index"], os.environ["CLOUD_ML_PROJECT_ID"], os.environ["AIP_MODEL_DIR"],
      sorted(spec["cluster"]), os.environ["SM_CURRENT_HOST"], flush=True)
log_metric("rank", float(os.environ["RANK"]))
model = DummyRegressor(strategy="constant", constant=float(hp.k)).fit([[0.0]], [0.0])
"""


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory, platform_home: Path) -> Iterator[FakeVertex]:
    with fake_vertex(tmp_path_factory.mktemp("cloud")) as running:
        yield running


@pytest.fixture()
def vertex(fake: FakeVertex) -> Iterator[VertexBackend]:
    backends.reset()
    built = backends.use_backend("vertex", **fake.settings())
    assert isinstance(built, VertexBackend)
    yield built
    fake.router.before.clear()
    backends.use_backend(None)
    backends.reset()


def train(code: str, name: str, **options: Any) -> Any:
    return jsml.train(code, name=name, namespace={}, backend="vertex", **options)


# -- the fake is strict ---------------------------------------------------------------


def test_the_fake_refuses_unknown_fields_as_vertex_does(fake: FakeVertex) -> None:
    url = f"{fake.url}/v1/projects/{PROJECT}/locations/europe-west4/customJobs"
    body = {"displayName": "x", "jobSpec": {"workerPoolSpecs": [], "maxRuntime": "1h"}}
    reply = requests.post(url, json=body, timeout=10)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert 'Unknown name "maxRuntime"' in error["message"]
    assert error["details"][0]["fieldViolations"][0]["field"] == "custom_job"


# -- the bundle under the Vertex contract --------------------------------------------


def test_two_replicas_run_the_bundle_under_the_vertex_contract(
    vertex: VertexBackend, fake: FakeVertex
) -> None:
    job = train(CONTRACT_SCRIPT, "vx-contract", hp={"k": 4}, instance_count=2)
    assert job.status == "Completed"
    record = vertex.job(job.id)
    created = [m for route, m in fake.store.requests if route == "customJobs.create"][-1]
    assert [p.replica_count for p in created.job_spec.worker_pool_specs] == [1, 1]
    text = vertex.logs(job.id).text
    model_dir = f"gs://jsml-test-bucket/jsml/jobs/{Path(record.details['output_uri']).name}/model/"
    assert f"replica 0 of 2 workerpool0 0 {PROJECT} {model_dir}" in text
    assert f"replica 1 of 2 workerpool1 0 {PROJECT} {model_dir}" in text
    assert "['workerpool0', 'workerpool1'] algo-1" in text and "algo-2" in text
    saved = fake.gcs.local(model_dir) / "jsml_model.json"
    assert json.loads(saved.read_text())["flavor"] == "sklearn"  # written through /gcs
    assert record.model is not None and record.model.uri == model_dir.rstrip("/")
    assert vertex.load_model(record.model).predict([[1.0]])[0] == 4.0
    assert record.details["billed_seconds"] > 0 and record.details["cost_usd"] >= 0
    assert [m.value for m in vertex.metrics(job.id)] == [0.0]  # replica 0's metrics


def test_a_failing_job_reports_the_runner_s_reason(vertex: VertexBackend) -> None:
    with pytest.raises(JobFailed) as failed:
        train("raise ValueError('bad input column')", "vx-fails")
    assert "ValueError: bad input column" in str(failed.value)
    record = vertex.job("vx-fails")
    assert record.status == "Failed" and "bad input column" in (record.failure_reason or "")


def test_log_cursors_are_opaque_and_checked(vertex: VertexBackend) -> None:
    with pytest.raises(UsageError, match="did not come from the vertex backend"):
        logs.decode("12")
    assert logs.decode(logs.encode("2026-01-01T00:00:00Z", ["1"])) == (
        "2026-01-01T00:00:00Z",
        {"1"},
    )


# -- registry and serving refusals ----------------------------------------------------


def test_deploy_refusals_create_nothing(
    vertex: VertexBackend, fake: FakeVertex, tmp_path: Path
) -> None:
    from sklearn.dummy import DummyRegressor

    from jupyter_serverless_ml.runtime import flavors

    model = DummyRegressor().fit([[0.0]], [1.0])
    flavors.save(model, tmp_path, flavors.infer_signature(model, {}))
    first = vertex.register_model("vx-registered", tmp_path, sys.executable)
    second = vertex.register_model("vx-registered", tmp_path, sys.executable)
    assert (first.version, second.version) == (1, 2)
    assert first.job_id is None and list(second.metadata["aliases"]) == ["default", "v2"]
    assert list(vertex.model("vx-registered", 1).metadata["aliases"]) == ["v1"]
    before = dict(fake.store.endpoints)
    with pytest.raises(UsageError, match="at least one replica"):
        vertex.deploy(DeployRequest(model="vx-registered", min_replicas=0, name="vx-zero"))
    strict = VertexBackend(**{**fake.settings(), "serving_image": None})
    meta = flavors.describe(tmp_path)
    if strict._serving_image(meta)[1]:
        pytest.skip("this scikit-learn has a prebuilt Vertex prediction container")
    third = strict.register_model("vx-registered", tmp_path, sys.executable)
    with pytest.raises(UsageError, match="no prebuilt prediction container"):
        strict.deploy(DeployRequest(model="vx-registered", version=third.version, name="vx-old"))
    assert fake.store.endpoints == before


# -- settings -------------------------------------------------------------------------


def test_a_missing_setting_names_it_and_how_to_give_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "CLOUDSDK_CORE_PROJECT",
        "CLOUD_ML_PROJECT_ID",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "no-such-host.invalid")
    with pytest.raises(ConfigError, match="--project VALUE, JSML_VERTEX_PROJECT"):
        VertexBackend(location="europe-west4", bucket="gs://jsml-b")
    with pytest.raises(ConfigError, match="needs a Cloud Storage bucket"):
        VertexBackend(project="my-project-1", location="europe-west4")


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(UsageError, match="unknown Vertex AI region 'mars-north1'"):
        VertexBackend(project="my-project-1", location="mars-north1", bucket="gs://jsml-b")


def test_workbench_metadata_gives_project_and_region(
    fake: FakeVertex, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in (
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "CLOUDSDK_CORE_PROJECT",
        "GOOGLE_CLOUD_REGION",
        "CLOUD_ML_REGION",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", fake.url[len("http://") :])
    fake.metadata.update(
        {
            "project/project-id": "workbench-proj-7",
            "instance/zone": "projects/1/zones/europe-west4-b",
        }
    )
    built = VertexBackend(bucket="gs://jsml-b", api_endpoint=fake.url)
    assert (built.settings.project, built.settings.location) == ("workbench-proj-7", "europe-west4")


# -- each error, mapped once ----------------------------------------------------------


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    built = VertexBackend(project="my-project-1", location="europe-west4", bucket="gs://jsml-b")
    with pytest.raises(ConfigError, match="no Google Cloud credentials found; run `gcloud auth"):
        built.jobs()


def test_access_denied(vertex: VertexBackend, fake: FakeVertex) -> None:
    fake.fail_next("/customJobs", 403, "Permission 'aiplatform.customJobs.list' denied on resource")
    with pytest.raises(ConfigError, match=r"access denied .* roles/aiplatform\.user"):
        vertex.jobs()


def test_a_missing_bucket(fake: FakeVertex) -> None:
    backends.use_backend("vertex", **fake.settings(bucket="gs://no-such-bucket-here"))
    try:
        with pytest.raises(
            ConfigError, match=r"bucket does not exist .*gcloud storage buckets create"
        ):
            train("x = 1", "vx-nobucket", wait=False)
        assert not [
            m
            for r, m in fake.store.requests
            if r == "customJobs.create" and m.display_name == "vx-nobucket"
        ]
    finally:
        backends.use_backend(None)


def test_quota_exceeded_is_not_retried(vertex: VertexBackend, fake: FakeVertex) -> None:
    hits = fake.fail_next(
        "/customJobs",
        429,
        "Quota exceeded for aiplatform.googleapis.com/custom_model_training_cpus",
        times=5,
    )
    with pytest.raises(BackendError, match=r"quota exceeded .* Quotas"):
        vertex.jobs()
    assert len(hits) == 1


def test_throttling_is_retried_with_backoff_and_jitter(
    vertex: VertexBackend, fake: FakeVertex, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(errors, "_sleep", slept.append)
    hits = fake.fail_next("/customJobs", 429, "Too many requests, please slow down", times=3)
    assert isinstance(vertex.jobs(), list)
    assert len(hits) == 3 and len(slept) == 3
    assert all(
        0 <= s <= min(errors.CAP_DELAY, errors.BASE_DELAY * 2**i) for i, s in enumerate(slept)
    )
    fake.fail_next("/customJobs", 503, "The service is currently unavailable.", times=99)
    with pytest.raises(BackendError, match="Vertex AI failed"):
        vertex.jobs()
    assert len(slept) == 3 + vertex.retries


def test_an_unknown_machine_type(vertex: VertexBackend, fake: FakeVertex) -> None:
    fake.fail_next(
        "/customJobs", 400, 'Machine type "a2-ultragpu-8g" is not supported in europe-west4.'
    )
    with pytest.raises(UsageError, match="pick a Vertex AI machine type"):
        train("x = 1", "vx-machine", wait=False, instance_type="a2-ultragpu-8g")


# -- import cost ----------------------------------------------------------------------


def test_the_backend_module_imports_no_google_sdk() -> None:
    code = (
        "import sys, jupyter_serverless_ml.backends.vertex as v\n"
        "print(sorted(m for m in sys.modules if m.startswith(('google.cloud.aiplatform', "
        "'google.cloud.storage', 'google.api_core'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
