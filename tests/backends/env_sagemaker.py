"""The SageMaker backend's test environment: moto's server with the emulator of
:mod:`sagemaker_emulator` (jobs, endpoints and transforms run for real), a bucket,
and the settings to build the backend with."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backends.sagemaker_emulator import Emulator, running

REGION = "us-east-1"
BUCKET = "jsml-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
#: the kernel's Python has no SageMaker framework container; tests give the image a user
#: builds from the bundle's Dockerfile and pushes to ECR
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/jsml-bundle:latest"

_current: list[Emulator] = []


def current() -> Emulator:
    """The emulator of the environment that runs now."""
    return _current[-1]


def settings_for(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    """Backend settings pointing at ``emulator``."""
    return {
        "region": REGION,
        "bucket": f"s3://{BUCKET}/jsml",
        "role": ROLE,
        "endpoint_url": emulator.endpoint_url,
        "image": IMAGE,
        "poll_interval": 0.2,
        "deploy_timeout": 60.0,
        **extra,
    }


@contextlib.contextmanager
def sagemaker_environment(home: Path) -> Iterator[dict[str, Any]]:
    """moto + the emulator, with the bucket created."""
    with running(Path(tempfile.mkdtemp(prefix="jsml-sm-")), REGION) as emulator:
        emulator.clients["s3"].create_bucket(Bucket=BUCKET)
        _current.append(emulator)
        try:
            yield settings_for(emulator)
        finally:
            _current.pop()
