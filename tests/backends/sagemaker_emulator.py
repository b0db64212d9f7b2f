"""A SageMaker emulator for tests: moto's server, plus what moto leaves out, done for real.

moto answers every SageMaker, S3, CloudWatch Logs and Application Auto Scaling call
the backend makes, and records it. What moto does not do, this module does, by
hooking moto's in-process backend while the server runs:

- **Training** (CreateTrainingJob): the job is InProgress, and a thread runs it as a
  SageMaker container would: ``sourcedir.tar.gz`` is downloaded from moto's S3 into
  a fresh ML root (``code/``), ``input/config/*.json`` are written from the request
  (hyperparameters as SageMaker's strings), channels are downloaded into
  ``input/data/<channel>/``, and ``sagemaker_program`` runs with that root
  (``JSML_ML_ROOT``) and no other SageMaker variable. Its output goes to CloudWatch
  Logs (``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<ts>``), its
  ``MetricDefinitions`` are matched against the lines (``FinalMetricDataList``), the
  model directory is uploaded as ``model.tar.gz`` and the failure file becomes
  ``FailureReason``. moto replaces the request's MetricDefinitions with a canned one;
  the emulator keeps the request's. StopTrainingJob (a 500 in moto) stops the process.
- **Serving** (InvokeEndpoint): the endpoint's variant is chosen by weight, its
  model's ``model.tar.gz`` is unpacked and its ``code/inference.py`` handler runs
  (``model_fn``/``input_fn``/``predict_fn``/``output_fn``); a handler error with a
  ``status_code`` is SageMaker's ModelError (424, ``OriginalStatusCode``).
  UpdateEndpoint (missing in moto) switches the endpoint to the new config.
- **Batch** (CreateTransformJob): the input objects are split by line, sent through
  the handler in batches, joined with the input (``JoinSource=Input``) and written as
  ``<input>.out`` under the output path.
- DeleteModelPackage and DeleteModelPackageGroup (missing in moto) delete them;
  DescribeUserProfile (missing) answers ResourceNotFound, as for a profile that is gone.
- ``fail_next(operation, code, times)`` makes moto answer the next calls of an
  operation with a real AWS error body (throttling, access denied, quota...).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backends.sagemaker_emulator_serving import ServingEmulation
from backends.sagemaker_emulator_tuning import TuningEmulation

ACCOUNT = "123456789012"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Emulator(TuningEmulation, ServingEmulation):
    """Hooks into moto's backends while a ThreadedMotoServer runs (see the module doc)."""

    def __init__(self, endpoint_url: str, region: str, workdir: Path) -> None:
        import boto3

        self.endpoint_url = endpoint_url
        self.region = region
        self.workdir = workdir
        self.clients = {
            s: boto3.client(s, endpoint_url=endpoint_url, region_name=region)
            for s in ("s3", "logs")
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.threads: list[threading.Thread] = []
        self.handlers: dict[str, Any] = {}
        self.invocations: list[tuple[str, str, int]] = []
        self.failures: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self._patches: list[tuple[Any, str, Any]] = []

    # -- moto state --------------------------------------------------------------

    @property
    def sagemaker(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[ACCOUNT][self.region]

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._patches.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, value)

    def install(self) -> None:
        """Hook moto (undone by :meth:`uninstall`)."""
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        emulator = self
        original_create = SageMakerModelBackend.create_training_job
        original_transform = SageMakerModelBackend.create_transform_job

        def create_training_job(backend: Any, **kwargs: Any) -> Any:
            emulator._fail("CreateTrainingJob")
            spec = copy.deepcopy(kwargs["algorithm_specification"])
            job = original_create(backend, **kwargs)
            job.algorithm_specification = spec
            job.training_job_status, job.secondary_status = "InProgress", "Starting"
            job.training_start_time = job.training_end_time = None
            job.final_metric_data_list = []
            job.secondary_status_transitions = [
                {"Status": "Starting", "StartTime": _now(), "StatusMessage": "Launching"}
            ]
            job.enable_managed_spot_training = kwargs.get("enable_managed_spot_training")
            emulator._start(emulator._train, job)
            return job

        def create_transform_job(backend: Any, **kwargs: Any) -> Any:
            job = original_transform(backend, **kwargs)
            job.transform_job_status = "InProgress"
            job.transform_end_time = None
            emulator._start(emulator._transform, job)
            return job

        def stop_training_job(response: Any) -> Any:
            from moto.core.responses import EmptyResult

            emulator.stop(response._get_param("TrainingJobName"))
            return EmptyResult()

        def update_endpoint(response: Any) -> Any:
            from moto.core.responses import ActionResult

            backend = response.sagemaker_backend
            endpoint = backend.endpoints[response._get_param("EndpointName")]
            config = backend.endpoint_configs[response._get_param("EndpointConfigName")]
            endpoint.endpoint_config_name = config.endpoint_config_name
            endpoint.production_variants = endpoint._process_production_variants(
                config.production_variants
            )
            endpoint.endpoint_status = "InService"
            return ActionResult({"EndpointArn": endpoint.arn})

        def delete_model_package(response: Any) -> Any:
            from moto.core.responses import EmptyResult

            backend = response.sagemaker_backend
            name = response._get_param("ModelPackageName")
            arn = backend.model_package_name_mapping.get(name, name)
            backend.model_packages.pop(arn, None)
            for key in [k for k, v in backend.model_package_name_mapping.items() if v == arn]:
                del backend.model_package_name_mapping[key]
            return EmptyResult()

        def delete_model_package_group(response: Any) -> Any:
            from moto.core.responses import EmptyResult
            from moto.sagemaker.exceptions import ValidationError

            backend = response.sagemaker_backend
            name = response._get_param("ModelPackageGroupName")
            if any(p.model_package_group_name == name for p in backend.model_packages.values()):
                raise ValidationError(f"Model package group {name} still holds model packages")
            backend.model_package_groups.pop(name, None)
            return EmptyResult()

        def describe_user_profile(response: Any) -> Any:
            from moto.sagemaker.exceptions import SagemakerClientError

            error = SagemakerClientError(
                f"User profile {response._get_param('UserProfileName')} not found"
            )
            error.code = "ResourceNotFound"
            raise error

        def invoke_endpoint(response: Any) -> Any:
            return emulator._invoke(response)

        def list_training_jobs(
            response: Any, _orig: Any = SageMakerResponse.list_training_jobs
        ) -> Any:
            emulator._fail("ListTrainingJobs")
            return _orig(response)

        def describe_training_job(
            response: Any, _orig: Any = SageMakerResponse.describe_training_job
        ) -> Any:
            emulator._fail("DescribeTrainingJob")
            return _orig(response)

        self._patch(SageMakerModelBackend, "create_training_job", create_training_job)
        self._patch(SageMakerModelBackend, "create_transform_job", create_transform_job)
        self._patch(SageMakerResponse, "stop_training_job", stop_training_job)
        self._patch(SageMakerResponse, "update_endpoint", update_endpoint)
        self._patch(SageMakerResponse, "list_training_jobs", list_training_jobs)
        self._patch(SageMakerResponse, "describe_training_job", describe_training_job)
        self._patch(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
        self._patch(SageMakerResponse, "delete_model_package", delete_model_package)
        self._patch(SageMakerResponse, "describe_user_profile", describe_user_profile)
        self._patch(SageMakerResponse, "delete_model_package_group", delete_model_package_group)
        self.install_tuning()  # sagemaker_emulator_tuning.py

    def uninstall(self) -> None:
        """Stop every job process and undo the hooks."""
        self.stop_tuning()  # sagemaker_emulator_tuning.py
        for name in list(self.processes):
            self.stop(name)
        for thread in self.threads:
            thread.join(timeout=30)
        for owner, name, value in reversed(self._patches):
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._patches.clear()

    # -- injected errors ---------------------------------------------------------

    def fail_next(self, operation: str, code: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``operation`` with AWS error ``code``."""
        self.failures.setdefault(operation, []).extend([code] * times)

    def _fail(self, operation: str) -> None:
        from moto.sagemaker.exceptions import SagemakerClientError

        with self.lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            queue = self.failures.get(operation) or []
            code = queue.pop(0) if queue else None
        if code is None:
            return
        messages = {
            "ThrottlingException": "Rate exceeded",
            "AccessDeniedException": "User: arn:aws:iam::123456789012:user/x is not "
            "authorized to perform: sagemaker:CreateTrainingJob",
            "ResourceLimitExceeded": "The account-level service limit 'ml.p3.2xlarge for "
            "training job usage' is 0 Instances",
            "ExpiredTokenException": "The security token included in the request is expired",
        }
        error = SagemakerClientError(messages.get(code, code))
        error.code = code
        if code == "ThrottlingException":
            error.code = "ThrottlingException"
            error.status_code = 400
        elif code in ("AccessDeniedException",):
            error.status_code = 400
        raise error

    # -- training ------------------------------------------------------------------

    def _start(self, target: Any, job: Any) -> None:
        thread = threading.Thread(target=target, args=(job,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _download(self, uri: str, target: Path) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        pages = (
            self.clients["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        )
        for page in pages:
            for item in page.get("Contents", []):
                relative = item["Key"][len(key) :].lstrip("/") or Path(item["Key"]).name
                path = target / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                self.clients["s3"].download_file(bucket, item["Key"], str(path))

    def _get(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bytes(self.clients["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())

    def _put(self, uri: str, data: bytes) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.clients["s3"].put_object(Bucket=bucket, Key=key, Body=data)

    def _log(self, stream: str, lines: list[str]) -> None:
        lines = [line for line in lines if line]  # CloudWatch keeps no empty events
        if not lines:
            return
        stamp = int(time.time() * 1000)
        self.clients["logs"].put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": stamp, "message": line} for line in lines],
        )

    def _transition(self, job: Any, status: str, message: str) -> None:
        job.secondary_status = status
        job.secondary_status_transitions.append(
            {"Status": status, "StartTime": _now(), "StatusMessage": message}
        )

    def _train(self, job: Any) -> None:
        name = job.training_job_name
        root = self.workdir / name / "ml"
        try:
            self._run(job, root)
        except Exception as exc:  # the emulator's own failure fails the job, visibly
            job.training_job_status, job.failure_reason = "Failed", f"emulator: {exc!r}"
            job.training_end_time = _now()

    def _run(self, job: Any, root: Path) -> None:
        name = job.training_job_name
        hps = dict(job.hyper_parameters or {})
        source = json.loads(hps["sagemaker_submit_directory"])
        program = json.loads(hps["sagemaker_program"])
        self._transition(job, "Downloading", "Downloading input data")
        code = root / "code"
        code.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(self._get(source)), mode="r:gz") as archive:
            archive.extractall(code, filter="data")
        config = root / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(hps))
        channels = {c["ChannelName"]: c for c in job.input_data_config or []}
        (config / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    n: {
                        "TrainingInputMode": "File",
                        "S3DistributionType": "FullyReplicated",
                        "RecordWrapperType": "None",
                    }
                    for n in channels
                }
            )
        )
        instance = job.resource_config["InstanceType"]
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": "algo-1",
                    "hosts": ["algo-1"],
                    "current_instance_type": instance,
                    "network_interface_name": "eth0",
                }
            )
        )
        for channel, spec in channels.items():
            target = root / "input" / "data" / channel
            target.mkdir(parents=True)
            self._download(spec["DataSource"]["S3DataSource"]["S3Uri"], target)
        (root / "model").mkdir()
        (root / "output" / "data").mkdir(parents=True)
        with contextlib.suppress(Exception):
            self.clients["logs"].create_log_group(logGroupName=LOG_GROUP)
        stream = f"{name}/algo-1-{int(time.time())}"
        self.clients["logs"].create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_", "JSML_"))}
        env.update(dict(job.environment or {}) if hasattr(job, "environment") else {})
        env.update(JSML_ML_ROOT=str(root), TRAINING_JOB_NAME=name, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, program],
            cwd=code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        job.training_start_time = _now()
        self._transition(
            job, "Training", "Training image download completed. Training in progress."
        )
        rules = [
            (d["Name"], re.compile(d["Regex"]))
            for d in job.algorithm_specification.get("MetricDefinitions", [])
            if d.get("Regex")
        ]
        limit = (job.stopping_condition or {}).get("MaxRuntimeInSeconds")
        timer = threading.Timer(float(limit), self._timeout, args=(job,)) if limit else None
        if timer:
            timer.start()
        final: dict[str, float] = {}
        assert process.stdout is not None
        pending: list[str] = []
        last = time.monotonic()
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            pending.append(line)
            for metric, regex in rules:
                match = regex.search(line)
                if match:
                    with contextlib.suppress(ValueError):
                        final[metric] = float(match.group(1))
            if time.monotonic() - last > 0.2:
                self._log(stream, pending)
                pending, last = [], time.monotonic()
        code_ = process.wait()
        self._log(stream, pending)
        if timer:
            timer.cancel()
        self.processes.pop(name, None)
        job.final_metric_data_list = [
            {"MetricName": k, "Value": v, "Timestamp": _now()} for k, v in final.items()
        ]
        job.training_end_time = _now()
        job.billable_time_in_seconds = max(
            1, int((job.training_end_time - job.training_start_time).total_seconds())
        )
        if job.training_job_status == "Stopping":
            job.training_job_status = "Stopped"
            self._transition(job, getattr(job, "_stop_reason", "Stopped"), "Stopped")
            return
        if code_ == 0:
            self._transition(job, "Uploading", "Uploading generated training model")
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                for item in sorted((root / "model").rglob("*")):
                    if item.is_file():
                        archive.add(str(item), arcname=str(item.relative_to(root / "model")))
            self._put(job.model_artifacts["S3ModelArtifacts"], buffer.getvalue())
            job.training_job_status = "Completed"
            self._transition(job, "Completed", "Training job completed")
        else:
            failure = root / "output" / "failure"
            reason = failure.read_text() if failure.exists() else f"exit code {code_}"
            job.failure_reason = f"AlgorithmError: {reason}"
            job.training_job_status = "Failed"
            self._transition(job, "Failed", "Training job failed")

    def _timeout(self, job: Any) -> None:
        job._stop_reason = "MaxRuntimeExceeded"
        self.stop(job.training_job_name)

    def stop(self, name: str) -> None:
        """Stop a training job's process (StopTrainingJob)."""
        job = self.sagemaker.training_jobs.get(name)
        if job is not None and job.training_job_status == "InProgress":
            job.training_job_status = "Stopping"
            self._transition(job, "Stopping", "Stopping the training job")
        process = self.processes.get(name)
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(workdir: Path, region: str = "us-east-1") -> Iterator[Emulator]:
    """A moto server with the emulator installed, and the AWS environment pointing at it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    keys = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "SAGEMAKER_VALIDATE_ROLE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    )
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=region,
        AWS_ENDPOINT_URL=url,  # s3fs (artifacts) reads through the same server
        SAGEMAKER_VALIDATE_ROLE="false",
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-credentials"),
        AWS_CONFIG_FILE=str(workdir / "no-config"),
    )
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=30).read()  # moto's state is per process: start clean
    emulator = Emulator(url, region, workdir)
    emulator.install()
    try:
        yield emulator
    finally:
        emulator.uninstall()
        urllib.request.urlopen(reset, timeout=30).read()
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(workdir, ignore_errors=True)
