"""The training part of the SageMaker backend: CreateTrainingJob, logs, metrics, stop.

A bundle goes to S3 (:class:`.storage.Storage`) and runs in its framework
container (:mod:`.images`) with ``jsml_sagemaker_train.py`` as ``sagemaker_program``,
which runs the bundle's runner. Logs come from CloudWatch Logs; metrics from the
``#jsml-metric`` lines in them (also matched by the job's ``MetricDefinitions``,
so SageMaker's console and ``FinalMetricDataList`` show them).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...catalog.pricing import hourly
from ...errors import NotFound, UsageError
from ...packaging import Bundle
from ...records import JobNews, JobRecord, LogPage, MetricRecord, TrainingRequest
from ...statuses import JOB_TERMINAL, JobStatus
from . import images
from .base import Base
from .jobs import (
    LOG_GROUP,
    decode_cursor,
    encode_cursor,
    encode_hyperparameters,
    job_record,
    logged_names,
    metric_definitions,
    name_of,
    new_job_name,
    resource_name,
    split_metric_lines,
)
from .storage import TRAIN_SCRIPT

DEFAULT_MAX_RUNTIME = 24 * 3600


class Training(Base):
    """CreateTrainingJob and friends (mixed into :class:`SageMakerBackend`)."""

    # -- submit ------------------------------------------------------------------

    def _definitions(self, bundle: Bundle, config: dict[str, Any]) -> list[dict[str, str]]:
        code = bundle.path / "code"
        sources = [
            p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(code.rglob("*.py"))
            if "jsml_runtime" not in p.parts
        ]
        found, dropped = metric_definitions(
            logged_names(sources), config.get("metric_definitions") or []
        )
        if dropped:
            self.notice("metric definitions not passed to SageMaker: " + ", ".join(dropped))
        return found

    def submit_training(self, bundle: Bundle, request: TrainingRequest) -> JobRecord:
        job_name = new_job_name(request.name)
        definition, note = self._training_definition(bundle, request, job_name)
        self.aws.call(
            "sagemaker",
            "create_training_job",
            f"creating training job {job_name}",
            TrainingJobName=job_name,
            **definition,
        )
        self.notice(f"training job {job_name} submitted ({note})")
        return self.job(job_name)

    def _training_definition(
        self, bundle: Bundle, request: TrainingRequest, job_name: str
    ) -> tuple[dict[str, Any], str]:
        """CreateTrainingJob's arguments but the name (bundle and channels uploaded), and
        which image was chosen and why; a tuning job's training definition is built from it."""
        if not request.instance_type.startswith("ml."):
            raise UsageError(
                f"--instance-type {request.instance_type} is not a SageMaker type; "
                "use an ml.* type such as ml.m5.large"
            )
        config = json.loads((bundle.path / "code" / "jsml.json").read_text())
        image, why = images.choose(
            config, bundle.requirements, self.region, request.image or self.image
        )
        role = self.role_arn()
        storage = self.storage
        max_runtime = int(request.max_runtime or DEFAULT_MAX_RUNTIME)
        price = hourly(request.instance_type, "sagemaker")
        self.notice(
            f"cost estimate: {request.instance_type} x{request.instance_count} at "
            f"${price:.3f}/h for at most {max_runtime / 3600:.2g} h = at most "
            f"${price * request.instance_count * max_runtime / 3600:.2f} (SageMaker list price; "
            f"billed by the second)"
        )
        if request.memory is not None or request.max_processes is not None:
            self.notice(
                "--memory and --max-processes are local limits: on SageMaker the instance "
                "type's resources apply"
            )
        bundle_uri, source_uri = storage.upload_bundle(bundle.path, bundle.hash)
        channels = {n: storage.upload_channel(n, str(p)) for n, p in request.channels.items()}
        hyperparameters = encode_hyperparameters(request.hyperparameters)
        hyperparameters.update(
            encode_hyperparameters(
                {
                    "sagemaker_program": TRAIN_SCRIPT,
                    "sagemaker_submit_directory": source_uri,
                    "sagemaker_region": self.region,
                    "sagemaker_container_log_level": 20,
                    "sagemaker_job_name": job_name,
                }
            )
        )
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": max_runtime}
        kwargs: dict[str, Any] = {}
        if request.spot or self.spot:
            stopping["MaxWaitTimeInSeconds"] = max_runtime * 2
            kwargs["EnableManagedSpotTraining"] = True
            kwargs["CheckpointConfig"] = {
                "S3Uri": storage.uri("jobs", job_name, "checkpoints"),
                "LocalPath": "/opt/ml/checkpoints",
            }
        if channels:
            kwargs["InputDataConfig"] = [
                {
                    "ChannelName": name,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "InputMode": "File",
                }
                for name, uri in channels.items()
            ]
        if request.retries:
            kwargs["RetryStrategy"] = {"MaximumRetryAttempts": min(30, int(request.retries))}
        volume = max(1, -(-int(request.max_disk) // (1 << 30))) if request.max_disk else 30
        definition: dict[str, Any] = dict(
            HyperParameters=hyperparameters,
            AlgorithmSpecification={
                "TrainingImage": image,
                "TrainingInputMode": "File",
                "MetricDefinitions": self._definitions(bundle, config),
                "EnableSageMakerMetricsTimeSeries": True,
            },
            RoleArn=role,
            OutputDataConfig={"S3OutputPath": storage.uri("jobs")},
            ResourceConfig={
                "InstanceType": request.instance_type,
                "InstanceCount": int(request.instance_count),
                "VolumeSizeInGB": volume,
            },
            StoppingCondition=stopping,
            Environment={"PYTHONUNBUFFERED": "1"},
            Tags=self.tags(name=request.name, bundle_hash=bundle.hash, bundle=bundle_uri),
            **kwargs,
        )
        return definition, f"{why}: {image}"

    # -- look up -----------------------------------------------------------------

    def _describe(self, job_name: str) -> dict[str, Any]:
        return dict(
            self.aws.call(
                "sagemaker",
                "describe_training_job",
                f"reading training job {job_name}",
                TrainingJobName=job_name,
            )
        )

    def _record(self, desc: dict[str, Any], registry: bool = True) -> JobRecord:
        resources = desc.get("ResourceConfig") or {}
        price = hourly(str(resources.get("InstanceType") or "ml.m5.large"), "sagemaker")
        record = job_record(desc, self.region, price)
        if registry and record.status == JobStatus.COMPLETED:
            model = self.model_of_job(record)
            if model is not None:
                return job_record(
                    desc, self.region, price, model=model, model_version=model.version
                )
        return record

    def _newest_named(self, name: str) -> str | None:
        wanted = resource_name(name, 42)
        reply = self.aws.call(
            "sagemaker",
            "list_training_jobs",
            f"listing training jobs named {name}",
            NameContains=wanted,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=100,
        )
        found = [
            s
            for s in reply.get("TrainingJobSummaries", [])
            if name_of(s["TrainingJobName"]) == wanted
        ]
        found.sort(key=lambda s: s["CreationTime"], reverse=True)
        return str(found[0]["TrainingJobName"]) if found else None

    def _resolve(self, ref: str) -> dict[str, Any]:
        try:
            return self._describe(resource_name(ref))
        except NotFound:
            newest = self._newest_named(ref)
            if newest is None:
                raise NotFound(
                    f"no SageMaker training job with id or name {ref!r} in {self.region} "
                    "(%jobs --backend sagemaker lists them)"
                ) from None
            return self._describe(newest)

    def job(self, ref: str) -> JobRecord:
        return self._record(self._resolve(ref))

    def jobs(
        self,
        *,
        status: list[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRecord]:
        kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
        if name:
            kwargs["NameContains"] = resource_name(name, 42)
        summaries: list[dict[str, Any]] = []
        with self.errors("listing training jobs"):
            pages = self.aws.client("sagemaker").get_paginator("list_training_jobs")
            for page in pages.paginate(**kwargs):
                summaries += page.get("TrainingJobSummaries", [])
        if name:
            summaries = [
                s for s in summaries if name_of(s["TrainingJobName"]) == resource_name(name, 42)
            ]
        summaries.sort(key=lambda s: s["CreationTime"], reverse=True)
        wanted = set(status or [])
        out: list[JobRecord] = []
        names = [str(s["TrainingJobName"]) for s in summaries]
        with ThreadPoolExecutor(max_workers=8) as pool:
            for start in range(0, len(names), 16):
                chunk = names[start : start + 16]
                for desc in pool.map(self._describe, chunk):
                    record = self._record(desc, registry=False)
                    if not wanted or record.status in wanted:
                        out.append(record)
                if len(out) >= offset + limit:
                    break
        return out[offset : offset + limit]

    # -- logs and metrics ----------------------------------------------------------

    def _streams(self, job_name: str) -> list[str]:
        client = self.aws.client("logs")
        try:
            with self.errors(f"listing the log streams of {job_name}"):
                reply = client.describe_log_streams(
                    logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/"
                )
        except NotFound:
            return []
        return sorted(str(s["logStreamName"]) for s in reply.get("logStreams", []))

    def _raw_log(self, job_name: str, cursor: str | None) -> tuple[str, str]:
        tokens = decode_cursor(cursor)
        streams = self._streams(job_name)
        parts: list[str] = []
        client = self.aws.client("logs")
        for stream in streams:
            token = tokens.get(stream)
            lines: list[str] = []
            while True:
                kwargs: dict[str, Any] = {
                    "logGroupName": LOG_GROUP,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                if token:
                    kwargs["nextToken"] = token
                with self.errors(f"reading the log of {job_name}"):
                    reply = client.get_log_events(**kwargs)
                events = reply.get("events", [])
                if not events or reply.get("nextForwardToken") == token:
                    break
                lines += [str(e["message"]).rstrip("\n") + "\n" for e in events]
                token = reply["nextForwardToken"]
            if token:
                tokens[stream] = token
            host = stream.split("/", 1)[-1].rsplit("-", 1)[0]
            prefix = f"[{host}] " if len(streams) > 1 else ""
            parts += [prefix + line for line in lines]
        return "".join(parts), encode_cursor(tokens)

    def logs(self, ref: str, cursor: str | None = None) -> LogPage:
        job_name = self._resolve(ref)["TrainingJobName"]
        text, after = self._raw_log(job_name, cursor)
        return LogPage(text=split_metric_lines(text)[0], cursor=after)

    def metrics(self, ref: str) -> list[MetricRecord]:
        job_name = self._resolve(ref)["TrainingJobName"]
        return split_metric_lines(self._raw_log(job_name, None)[0])[1]

    def watch(
        self,
        job_id: str,
        *,
        status: str,
        log_cursor: str | None,
        metrics_seen: int,
        timeout: float,
    ) -> JobNews:
        deadline = time.monotonic() + max(0.0, timeout)
        follow_log = log_cursor != "-"
        decode_cursor(log_cursor if follow_log else None)  # a bad cursor fails at once
        while True:
            record = self.job(job_id)
            text, cursor = "", log_cursor or ""
            if follow_log:
                raw, cursor = self._raw_log(record.id, log_cursor)
                text = split_metric_lines(raw)[0]
            news: tuple[MetricRecord, ...] = ()
            if metrics_seen >= 0:
                news = tuple(self.metrics(record.id)[metrics_seen:])
            if record.status != status or text or news or time.monotonic() >= deadline:
                return JobNews(job=record, log=text, log_cursor=cursor, metrics=news)
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def stop(self, ref: str) -> JobRecord:
        desc = self._resolve(ref)
        record = self._record(desc, registry=False)
        if record.status in JOB_TERMINAL:
            return record
        self.aws.call(
            "sagemaker",
            "stop_training_job",
            f"stopping training job {record.id}",
            TrainingJobName=record.id,
        )
        return self.job(record.id)


__all__ = ["Training"]
