"""The SageMaker backend against moto (with the emulator): what it asks SageMaker for,
as moto recorded it, and the uploaded bundle executed under the container contract."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backends.env_sagemaker import BUCKET, IMAGE, REGION, sagemaker_environment
from backends.sagemaker_emulator import Emulator

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends.sagemaker import SageMakerBackend
from jupyter_serverless_ml.errors import JobFailed, UsageError
from jupyter_serverless_ml.records import BatchRequest, DeployRequest
from jupyter_serverless_ml.statuses import BatchStatus, JobStatus

CELL = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
df = pd.read_csv(channel("train"))
X, y = df[["mean radius", "mean texture"]], df.target
model = LogisticRegression(C=hp.C, max_iter=hp.iterations).fit(X, y)
print("custom=0.25")
log_metric("accuracy", model.score(X, y))
"""


@pytest.fixture(scope="module")
def sm(platform_home: Path) -> Iterator[tuple[Emulator, SageMakerBackend]]:
    """The emulator and the backend, made the session's default as %backend would."""
    from backends import env_sagemaker

    with sagemaker_environment(platform_home) as settings:
        built = backends.use_backend("sagemaker", **settings)
        assert isinstance(built, SageMakerBackend)
        try:
            yield env_sagemaker.current(), built
        finally:
            backends.use_backend(None)
            backends.reset()


def client(emulator: Emulator, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=emulator.endpoint_url, region_name=REGION)


@pytest.fixture(scope="module")
def trained(sm: tuple[Emulator, SageMakerBackend], cancer_csv: Path) -> jsml.Job:
    return jsml.train(
        CELL,
        name="cancer",
        data={"train": cancer_csv},
        hp={"C": 0.5, "iterations": 500},
        instance_type="ml.m5.xlarge",
        max_runtime="30m",
        retries=2,
        metric_definitions={"custom": "custom=([0-9.]+)"},
        namespace={},
        backend="sagemaker",
    )


# -- training as moto recorded it ---------------------------------------------------------


def test_training_job_as_sagemaker_recorded_it(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job
) -> None:
    emulator, backend = sm
    desc = client(emulator, "sagemaker").describe_training_job(TrainingJobName=trained.id)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    definitions = {
        d["Name"]: d["Regex"] for d in desc["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert (
        set(definitions) == {"accuracy", "custom"} and definitions["custom"] == "custom=([0-9.]+)"
    )
    hps = desc["HyperParameters"]
    assert json.loads(hps["C"]) == 0.5 and json.loads(hps["iterations"]) == 500
    assert json.loads(hps["sagemaker_program"]) == "jsml_sagemaker_train.py"
    assert json.loads(hps["sagemaker_submit_directory"]).startswith(f"s3://{BUCKET}/jsml/bundles/")
    channel = desc["InputDataConfig"][0]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"].startswith(
        f"s3://{BUCKET}/jsml/channels/train/"
    )
    assert desc["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert desc["StoppingCondition"]["MaxRuntimeInSeconds"] == 1800
    tags = client(emulator, "sagemaker").list_tags(ResourceArn=desc["TrainingJobArn"])["Tags"]
    assert {"Key": "jsml:created-by", "Value": "jupyter-serverless-ml"} in tags
    assert {"Key": "jsml:name", "Value": "cancer"} in tags
    # what the job reported back, through SageMaker's own fields
    record = backend.job(trained.id)
    assert record.status == JobStatus.COMPLETED and record.name == "cancer"
    assert record.metrics["custom"] == 0.25 and 0.5 < record.metrics["accuracy"] <= 1.0
    assert sorted(m.name for m in backend.metrics(trained.id)) == ["accuracy", "custom"]
    assert record.details["billed_seconds"] >= 1 and record.details["cost_usd"] > 0
    assert record.model is not None and record.model_version == record.model.version == 1
    assert record.model.uri.endswith(f"{trained.id}/output/model.tar.gz")
    assert "#jsml-metric" not in backend.logs(trained.id).text


def test_a_job_chooses_its_image_and_spot_capacity(
    sm: tuple[Emulator, SageMakerBackend], cancer_csv: Path
) -> None:
    emulator, _ = sm
    job = jsml.train(
        "model = {'w': 1}\n",
        name="spot",
        image=IMAGE.replace(":latest", ":spot"),
        spot=True,
        max_runtime="10m",
        namespace={},
        backend="sagemaker",
    )
    desc = client(emulator, "sagemaker").describe_training_job(TrainingJobName=job.id)
    assert desc["AlgorithmSpecification"]["TrainingImage"] == IMAGE.replace(":latest", ":spot")
    assert desc["EnableManagedSpotTraining"] is True
    assert desc["StoppingCondition"]["MaxWaitTimeInSeconds"] == 1200
    assert desc["CheckpointConfig"]["S3Uri"].endswith(f"{job.id}/checkpoints")


def test_same_data_and_bundle_are_not_uploaded_twice(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job, cancer_csv: Path, capsys: Any
) -> None:
    _, backend = sm
    capsys.readouterr()
    again = jsml.train(
        CELL,
        name="cancer",
        data={"train": cancer_csv},
        hp={"C": 0.5, "iterations": 500},
        instance_type="ml.m5.xlarge",
        metric_definitions={"custom": "custom=([0-9.]+)"},
        namespace={},
        backend="sagemaker",
        wait=False,
    )
    out = capsys.readouterr().out
    assert "data channel train: already uploaded" in out and "is already in" in out
    assert "cost estimate: ml.m5.xlarge x1 at $0.230/h for at most 24 h" in out
    backend.stop(again.id)


def test_uploaded_bundle_runs_under_the_sagemaker_contract(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job, cancer_csv: Path, tmp_path: Path
) -> None:
    """The bundle as uploaded, unpacked into the layout a SageMaker container gets and run
    with the bundle's own runner: it reads the channel and hyperparameters and saves a model."""
    emulator, backend = sm
    record = backend.job(trained.id)
    assert record.bundle_uri and record.bundle_uri.startswith("s3://")
    bucket, _, key = record.bundle_uri.removeprefix("s3://").partition("/")
    data = client(emulator, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    root = tmp_path / "opt-ml"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(tmp_path / "bundle", filter="data")
    shutil.copytree(tmp_path / "bundle" / "code", root / "code")  # SageMaker's /opt/ml/code
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "output" / "data").mkdir(parents=True)  # SageMaker makes these before it starts
    (root / "model").mkdir()
    (root / "input" / "data" / "train" / "train.csv").write_bytes(cancer_csv.read_bytes())
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"C": "0.5", "iterations": "500"})
    )
    (root / "input" / "config" / "inputdataconfig.json").write_text(json.dumps({"train": {}}))
    (root / "input" / "config" / "resourceconfig.json").write_text(
        json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "current_instance_type": "ml.m5.xlarge"}
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "JSML_", "AWS_"))}
    env["JSML_ML_ROOT"] = str(root)
    done = subprocess.run(
        [sys.executable, "-m", "jsml_runtime.runner"],
        cwd=root / "code",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    meta = json.loads((root / "model" / "jsml_model.json").read_text())
    assert meta["flavor"] == "sklearn"
    metrics = [
        json.loads(line) for line in (root / "output" / "metrics.jsonl").read_text().splitlines()
    ]
    assert sorted(m["name"] for m in metrics) == ["accuracy", "custom"]  # custom: its definition


def test_the_registered_model_loads_and_predicts(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job
) -> None:
    _, backend = sm
    model = backend.load_model(backend.model("cancer"))
    assert model.predict([[14.0, 20.0]])[0] in (0, 1)


def test_a_failing_cell_fails_with_its_reason(sm: tuple[Emulator, SageMakerBackend]) -> None:
    with pytest.raises(JobFailed) as info:
        jsml.train(
            "raise ValueError('bad input rows')\n", name="broken", namespace={}, backend="sagemaker"
        )
    assert "ValueError: bad input rows" in str(info.value)
    assert sm[1].job(info.value.job_id).status == JobStatus.FAILED


def test_max_runtime_fails_the_job(sm: tuple[Emulator, SageMakerBackend]) -> None:
    with pytest.raises(JobFailed) as info:
        jsml.train(
            "import time\ntime.sleep(60)\n",
            name="slow",
            max_runtime="2s",
            namespace={},
            backend="sagemaker",
        )
    assert "MaxRuntimeExceeded" in str(info.value)


# -- serving and batch as moto recorded them ----------------------------------------------


def test_deploy_with_autoscaling_and_capture_then_undeploy(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job
) -> None:
    emulator, backend = sm
    endpoint = backend.deploy(
        DeployRequest(
            model="cancer",
            name="cancer-ep",
            min_replicas=1,
            max_replicas=3,
            instance_type="ml.c5.xlarge",
            capture_percent=50,
            target_concurrency=4,
        )
    )
    sagemaker = client(emulator, "sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=endpoint.details["endpoint_config"]
    )
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.c5.xlarge" and variant["InitialInstanceCount"] == 1
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    scaling = client(emulator, "application-autoscaling")
    target = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]
    assert target["ResourceId"] == "endpoint/cancer-ep/variant/v1"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    policy = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling" and tracking["TargetValue"] == 240
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert (endpoint.min_replicas, endpoint.max_replicas) == (1, 3)
    tags = sagemaker.list_tags(ResourceArn=endpoint.details["arn"])["Tags"]
    assert {"Key": "jsml:created-by", "Value": "jupyter-serverless-ml"} in tags
    answer = backend.invoke("cancer-ep", json.dumps({"instances": [[14.0, 20.0]]}).encode())
    assert answer.status == 200 and json.loads(answer.body)["predictions"][0] in (0, 1)
    assert answer.variant == "v1"
    backend.undeploy("cancer-ep")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_serverless_endpoint(sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job) -> None:
    emulator, backend = sm
    ep = jsml.deploy("cancer", name="cancer-sl", serverless=True, memory=3072, max_concurrency=7)
    config = client(emulator, "sagemaker").describe_endpoint_config(
        EndpointConfigName=ep.record.details["endpoint_config"]
    )
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 3072,
        "MaxConcurrency": 7,
    }
    backend.undeploy("cancer-sl")
    with pytest.raises(UsageError, match="1024, 2048, 3072, 4096, 5120 or 6144"):
        jsml.deploy("cancer", name="cancer-sl2", serverless=True, memory=1500)
    with pytest.raises(UsageError, match="go with --serverless"):
        jsml.deploy("cancer", name="cancer-sl2", memory=2048)


def test_batch_transform_joins_the_input(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job, tmp_path: Path
) -> None:
    import pandas as pd

    emulator, backend = sm
    source = tmp_path / "rows.csv"
    pd.DataFrame({"mean radius": [10.0, 20.0, 15.0], "mean texture": [15.0, 25.0, 18.0]}).to_csv(
        source, index=False
    )
    record = backend.batch_predict(
        BatchRequest(
            model="cancer",
            input_uri=str(source),
            output_uri=str(tmp_path / "out"),
            include_input=True,
            format="csv",
        )
    )
    while record.status not in (BatchStatus.COMPLETED, BatchStatus.FAILED):
        record = backend.batch_job(
            record.id, wait=5, status=str(record.status), rows=record.rows_done
        )
    assert record.status == BatchStatus.COMPLETED, record.failure_reason
    desc = client(emulator, "sagemaker").describe_transform_job(TransformJobName=record.id)
    assert desc["TransformInput"]["SplitType"] == "Line"
    assert desc["TransformOutput"]["AssembleWith"] == "Line"
    assert desc["DataProcessing"]["JoinSource"] == "Input"
    out = pd.read_csv(tmp_path / "out" / "part-00000.csv")
    assert list(out.columns) == ["mean radius", "mean texture", "prediction"]
    assert list(out["mean radius"]) == [10.0, 20.0, 15.0] and set(out["prediction"]) <= {0, 1}


def test_costs_from_billed_seconds(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job
) -> None:
    costs = sm[1].costs()
    training = next(r for r in costs["by_resource"] if r["kind"] == "training")
    assert training["sagemaker"] > 0 and costs["total"]["local"] == 0
    assert sm[1].alerts() == []


def test_cleanup_deletes_what_was_tagged(
    sm: tuple[Emulator, SageMakerBackend], trained: jsml.Job
) -> None:
    emulator, backend = sm
    sagemaker = client(emulator, "sagemaker")
    sagemaker.create_model(
        ModelName="not-ours", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=backend.role_arn()
    )
    backend.deploy(DeployRequest(model="cancer", name="to-clean", max_replicas=2))
    listed = backend.cleanup(dry_run=True)
    assert "endpoint to-clean (and its scaling targets)" in listed
    assert any(item.startswith("model package group cancer") for item in listed)
    assert sagemaker.list_endpoints()["Endpoints"]  # a dry run deletes nothing
    deleted = backend.cleanup(dry_run=False)
    assert "endpoint to-clean" in deleted and any(d.startswith("scaling target") for d in deleted)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == ["not-ours"]
    assert (
        client(emulator, "s3").list_objects_v2(Bucket=BUCKET, Prefix="jsml/").get("KeyCount", 0)
        == 0
    )
    assert backend.cleanup(dry_run=True) == []
