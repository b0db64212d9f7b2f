"""Every AWS failure the SageMaker backend meets becomes one error of the tree, with one
line that says what to fix; moto answers with the real error bodies (see the emulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backends import env_sagemaker
from backends.env_sagemaker import REGION, sagemaker_environment, settings_for
from backends.sagemaker_emulator import Emulator

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends.sagemaker import SageMakerBackend, images
from jupyter_serverless_ml.backends.sagemaker.aws import Aws, translate
from jupyter_serverless_ml.backends.sagemaker.jobs import decode_cursor, encode_cursor
from jupyter_serverless_ml.errors import BackendError, ConfigError, NotFound, UsageError


@pytest.fixture(scope="module")
def emulator(platform_home: Path) -> Iterator[Emulator]:
    with sagemaker_environment(platform_home) as settings:
        backends.use_backend("sagemaker", **settings)
        try:
            yield env_sagemaker.current()
        finally:
            backends.use_backend(None)
            backends.reset()


def backend(emulator: Emulator, **extra: Any) -> SageMakerBackend:
    return SageMakerBackend(**{**settings_for(emulator, quiet=True), **extra})


def submit(name: str = "errs") -> jsml.Job:
    return jsml.train("x = 1\n", name=name, namespace={}, backend="sagemaker", wait=False)


def test_throttling_is_retried_with_backoff(emulator: Emulator) -> None:
    job = submit()
    emulator.fail_next("DescribeTrainingJob", "ThrottlingException", 2)
    before = emulator.calls.get("DescribeTrainingJob", 0)
    assert backends.get_backend("sagemaker").job(job.id).id == job.id
    assert emulator.calls["DescribeTrainingJob"] - before == 3  # two throttled, then answered


def test_throttling_that_does_not_end_says_so(emulator: Emulator) -> None:
    job = submit()
    impatient = backend(emulator)
    impatient.aws = Aws(REGION, emulator.endpoint_url, max_attempts=2)  # two retries
    emulator.fail_next("DescribeTrainingJob", "ThrottlingException", 3)
    with pytest.raises(BackendError, match=r"throttling .* try again"):
        impatient.job(job.id)


@pytest.mark.parametrize(
    ("code", "error", "advice"),
    [
        ("AccessDeniedException", ConfigError, "access denied .* permission"),
        ("ResourceLimitExceeded", BackendError, "quota .* Service Quotas"),
        ("ExpiredTokenException", ConfigError, "renew them"),
    ],
)
def test_refusals_of_create_training_job(
    emulator: Emulator, code: str, error: type[Exception], advice: str
) -> None:
    emulator.fail_next("CreateTrainingJob", code)
    with pytest.raises(error, match=advice):
        submit()


def test_no_credentials(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="no AWS credentials found; run `aws configure`"):
        backend(emulator).job("anything")


def test_missing_bucket(emulator: Emulator) -> None:
    with pytest.raises(ConfigError, match=r"the bucket does not exist.*aws s3 mb"):
        backend(emulator, bucket="s3://no-such-bucket-here/x").storage.put_bytes(
            "s3://no-such-bucket-here/x/probe", b""
        )


def test_missing_settings_name_the_setting(emulator: Emulator, tmp_path: Path) -> None:
    outside_studio = str(tmp_path / "no-metadata.json")
    lacking = backend(emulator, role=None, bucket=None, studio_metadata=outside_studio)
    with pytest.raises(ConfigError, match=r"needs an execution role .* --role arn:aws:iam::"):
        lacking.role_arn()
    with pytest.raises(ConfigError, match=r"needs an S3 location .* --bucket s3://my-bucket"):
        lacking.bucket  # noqa: B018


def test_studio_gives_role_and_bucket(emulator: Emulator, tmp_path: Path) -> None:
    import boto3

    sagemaker = boto3.client("sagemaker", endpoint_url=emulator.endpoint_url, region_name=REGION)
    role = "arn:aws:iam::123456789012:role/StudioExecution"
    domain = sagemaker.create_domain(
        DomainName="d",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": role},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"].rsplit("/", 1)[-1]
    metadata = tmp_path / "resource-metadata.json"
    metadata.write_text(json.dumps({"DomainId": domain, "UserProfileName": "nobody"}))
    studio = backend(emulator, role=None, bucket=None, studio_metadata=str(metadata))
    assert studio.role_arn() == role
    assert studio.bucket == f"s3://sagemaker-{REGION}-123456789012/jupyter-serverless-ml"


def test_unknown_region_suggests_the_near_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown AWS region 'eu-wset-1' .* eu-west-1"):
        SageMakerBackend(region="eu-wset-1", bucket="s3://b", role="r")


def test_unknown_instance_type(emulator: Emulator) -> None:
    with pytest.raises(UsageError, match="not a SageMaker type; use an ml"):
        jsml.train(
            "x = 1\n", name="gce", instance_type="n1-standard-4", namespace={}, backend="sagemaker"
        )
    from botocore.exceptions import ClientError

    refused = ClientError(
        {
            "Error": {
                "Code": "ValidationException",
                "Message": "Instance type ml.x9.huge is not supported",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "CreateEndpointConfig",
    )
    assert isinstance(translate(refused, "deploying"), UsageError)


def test_unknown_job_endpoint_and_model_are_not_found(emulator: Emulator) -> None:
    sm = backend(emulator)
    with pytest.raises(NotFound, match="no SageMaker training job"):
        sm.job("never-ran")
    with pytest.raises(NotFound, match="no SageMaker endpoint"):
        sm.endpoint("never-deployed")
    with pytest.raises(NotFound, match="no registered SageMaker model"):
        sm.model("never-registered")


def test_log_cursors_are_checked() -> None:
    cursor = encode_cursor({"job/algo-1-1": "f/123"})
    assert decode_cursor(cursor) == {"job/algo-1-1": "f/123"}
    with pytest.raises(UsageError, match="did not come from the sagemaker backend"):
        decode_cursor("12345")
    with pytest.raises(UsageError, match="damaged"):
        decode_cursor("sm1:!!!")


def test_image_is_the_framework_container_that_matches_the_bundle() -> None:
    config = {"python": "3.10.14"}
    image, why = images.choose(config, ["scikit-learn==1.4.2", "numpy==1.26.4"], "eu-west-1")
    assert (
        image == "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    )
    assert "sklearn==1.4-2" in why
    framework = {"python": "3.11.7", "framework": {"name": "xgboost", "version": "1.7-1"}}
    assert images.choose(framework, [], "us-east-1")[0].endswith("sagemaker-xgboost:1.7-1")
    with pytest.raises(
        UsageError, match=r"no SageMaker framework container runs this bundle .* --image"
    ):
        images.choose({"python": "3.11.7"}, ["scikit-learn==1.9.0"], "us-east-1")
    assert images.choose({}, [], "us-east-1", override="my/image:1")[0] == "my/image:1"


def test_an_archive_that_leaves_its_directory_is_refused(tmp_path: Path) -> None:
    import io
    import tarfile

    from jupyter_serverless_ml.backends.sagemaker.storage import extract

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(UsageError, match="leaves it"):
        extract(buffer.getvalue(), tmp_path / "model")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_metric_line_inside_another_line_is_still_read() -> None:
    from jupyter_serverless_ml.backends.sagemaker.jobs import split_metric_lines

    mark = '#jsml-metric {"name": "loss", "value": 0.5, "step": 0}\n'
    text, metrics = split_metric_lines("hello" + mark + "\nnext\n" + mark)
    assert text == "hello\nnext\n"
    assert [(m.name, m.value, m.step) for m in metrics] == [("loss", 0.5, 0)] * 2
