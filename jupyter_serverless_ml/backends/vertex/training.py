"""The training part: bundles to Cloud Storage, CustomJobs, their logs, metrics and cancel."""

from __future__ import annotations

import inspect
import json
import time
import uuid
from pathlib import Path
from typing import Any

from ...errors import NotFound, UsageError
from ...packaging import Bundle
from ...records import JobNews, JobRecord, LogPage, MetricRecord, TrainingRequest
from ...statuses import JOB_TERMINAL, JobStatus
from ..protocol import Backend
from . import bootstrap, images, logs
from .core import LABEL_FILTER, VertexCore, labels, quoted, timestamp

#: Vertex JobState (its enum names) -> the package's job status
JOB_STATES = {
    "JOB_STATE_QUEUED": JobStatus.PENDING,
    "JOB_STATE_PENDING": JobStatus.PENDING,
    "JOB_STATE_RUNNING": JobStatus.RUNNING,
    "JOB_STATE_UPDATING": JobStatus.RUNNING,
    "JOB_STATE_PAUSED": JobStatus.RUNNING,
    "JOB_STATE_SUCCEEDED": JobStatus.COMPLETED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": JobStatus.COMPLETED,
    "JOB_STATE_FAILED": JobStatus.FAILED,
    "JOB_STATE_EXPIRED": JobStatus.FAILED,
    "JOB_STATE_CANCELLING": JobStatus.STOPPING,
    "JOB_STATE_CANCELLED": JobStatus.STOPPED,
}
BOOTSTRAP = inspect.getsource(bootstrap)


def _env(job: Any) -> dict[str, str]:
    pools = job.job_spec.worker_pool_specs
    return {e.name: e.value for e in pools[0].container_spec.env} if pools else {}


class VertexTraining(VertexCore, Backend):
    """Training jobs as Vertex AI CustomJobs running the bundle's runner."""

    def bundle_root(self) -> Path:
        return self.cache_dir() / "bundles"

    def _upload_bundle(self, bundle: Bundle) -> str:
        uri = self.uri("bundles", bundle.hash)
        if not self.storage.exists(f"{uri}/manifest.json"):  # content-addressed: once
            self.storage.upload_tree(bundle.path, uri)
        return uri

    def submit_training(self, bundle: Bundle, request: TrainingRequest) -> JobRecord:
        job = self._custom_job(bundle, request)
        created = self._call(
            f"creating the Vertex AI job {request.name}",
            self.client("job").create_custom_job,
            parent=self.settings.parent,
            custom_job=job,
        )
        return self._job_record(created)

    def _custom_job(self, bundle: Bundle, request: TrainingRequest) -> Any:
        """The CustomJob of ``request`` (bundle and channels uploaded); a tuning job's
        trial_job_spec is its job_spec."""
        from google.cloud import aiplatform_v1 as v1

        machine = images.machine_spec(request.instance_type, request.num_gpus)
        python = str(bundle.manifest.get("python") or bundle.manifest.get("python_version") or "")
        if request.spot:
            raise UsageError(
                "--spot is SageMaker's managed spot training; Vertex AI custom jobs take "
                "Spot VMs through a scheduling strategy this backend does not set yet"
            )
        image = images.training_image(
            python, bool(machine.get("accelerator_count")), request.image or self.training_image
        )
        hours = request.max_runtime / 3600 if request.max_runtime else None
        self.estimate(
            f"job {request.name}", str(machine["machine_type"]), request.instance_count, hours
        )
        self.storage.check_bucket(self.settings.root)
        key = f"{request.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        bundle_uri = self._upload_bundle(bundle)
        channels = {}
        for channel, source in request.channels.items():
            if str(source).startswith("gs://"):
                channels[channel] = str(source)
                continue
            target = self.uri("data", key, channel)
            self.storage.upload_tree(Path(source), target, notice=True)
            path = Path(source)
            channels[channel] = f"{target}/{path.name}" if path.is_file() else target
        output = self.uri("jobs", key)
        env = {
            "JSML_BUNDLE_URI": bundle_uri,
            "JSML_BUNDLE_HASH": bundle.hash,
            "JSML_CHANNELS": json.dumps(channels),
            "JSML_HYPERPARAMETERS": json.dumps(dict(request.hyperparameters)),
            "JSML_INSTANCE_TYPE": request.instance_type,
            "JSML_OUTPUT_URI": f"{output}/output",
            "PYTHONUNBUFFERED": "1",
        }
        container = v1.ContainerSpec(
            image_uri=image,
            command=["python", "-c", BOOTSTRAP],
            env=[v1.EnvVar(name=k, value=v) for k, v in env.items()],
        )
        pools = [
            v1.WorkerPoolSpec(
                machine_spec=v1.MachineSpec(**machine), replica_count=1, container_spec=container
            )
        ]
        if request.instance_count > 1:
            pools.append(
                v1.WorkerPoolSpec(
                    machine_spec=v1.MachineSpec(**machine),
                    replica_count=request.instance_count - 1,
                    container_spec=container,
                )
            )
        scheduling = v1.Scheduling(restart_job_on_worker_restart=request.retries > 0)
        if request.max_runtime:
            scheduling.timeout = {"seconds": int(request.max_runtime)}
        spec = v1.CustomJobSpec(
            worker_pool_specs=pools,
            base_output_directory=v1.GcsDestination(output_uri_prefix=output),
            scheduling=scheduling,
        )
        if self.service_account:
            spec.service_account = self.service_account
        return v1.CustomJob(
            display_name=request.name,
            job_spec=spec,
            labels=labels("job", name=request.name, bundle=bundle.hash[:16]),
        )

    # -- reading jobs -----------------------------------------------------------------

    def _job_record(self, job: Any, full: bool = False) -> JobRecord:
        number = job.name.rsplit("/", 1)[-1]
        job_id = f"{job.display_name}-{number}"
        state = JobStatus(JOB_STATES.get(job.state.name, JobStatus.PENDING))
        env = _env(job)
        pools = job.job_spec.worker_pool_specs
        machine = pools[0].machine_spec.machine_type if pools else ""
        count = sum(int(p.replica_count) for p in pools)
        output = job.job_spec.base_output_directory.output_uri_prefix
        started, ended = timestamp(job.start_time), timestamp(job.end_time)
        details: dict[str, Any] = {
            "resource_name": job.name,
            "console_url": self.settings.console("training", number),
            "vertex_job_id": number,
            "machine_type": machine,
            "image": pools[0].container_spec.image_uri if pools else "",
            "output_uri": output,
            "labels": dict(job.labels),
        }
        if started and ended:
            details["billed_seconds"] = round((ended - started) * count, 3)
            from ...catalog.pricing import hourly

            details["cost_usd"] = round(
                details["billed_seconds"] / 3600 * hourly(machine, "vertex"), 6
            )
        reason = job.error.message or None if state == JobStatus.FAILED else None
        if state == JobStatus.FAILED and full:
            written = self.storage.read(f"{output}/output/failure")
            if written:
                reason = written.decode(errors="replace")
        wire: dict[str, Any] = {
            "id": job_id,
            "name": job.display_name,
            "backend": self.name,
            "status": state,
            "created_at": timestamp(job.create_time) or time.time(),
            "started_at": started,
            "ended_at": ended,
            "failure_reason": reason,
            "spec": {
                "hyperparameters": json.loads(env.get("JSML_HYPERPARAMETERS") or "{}"),
                "instance_type": env.get("JSML_INSTANCE_TYPE") or machine,
                "instance_count": count,
                "channels": json.loads(env.get("JSML_CHANNELS") or "{}"),
            },
            "bundle_hash": env.get("JSML_BUNDLE_HASH"),
            "bundle_uri": env.get("JSML_BUNDLE_URI"),
            "details": details,
        }
        record = JobRecord(**wire)
        if not full:
            return record
        metrics = self._metrics(output)
        latest = {m.name: m.value for m in metrics}
        model = None
        if state == JobStatus.COMPLETED:
            model = self._model_for_job(number, output, job.display_name)
        return JobRecord(
            **{
                **wire,
                "metrics": latest,
                "model": model,
                "model_version": model.version if model else None,
            }
        )

    def _get_job(self, job_id: str) -> Any:
        return self._call(
            f"reading job {job_id}",
            self.client("job").get_custom_job,
            name=f"{self.settings.parent}/customJobs/{job_id}",
        )

    def _list_jobs(self, name: str | None = None) -> list[Any]:
        query = LABEL_FILTER + (f" AND display_name={quoted(name)}" if name else "")
        pager = self._call(
            "listing Vertex AI jobs",
            self.client("job").list_custom_jobs,
            request={"parent": self.settings.parent, "filter": query, "page_size": 100},
        )
        found = self._call("listing Vertex AI jobs", list, pager)
        return sorted(found, key=lambda j: timestamp(j.create_time) or 0, reverse=True)

    def _find_job(self, ref: str) -> Any:
        """By the id this backend hands out (``NAME-NUMBER``), the bare Vertex number, or name."""
        name, _, number = ref.rpartition("-")
        if ref.isdigit() or number.isdigit():
            try:
                job = self._get_job(number if number.isdigit() else ref)
                if ref.isdigit() or job.display_name == name:
                    return job
            except NotFound:
                pass
        found = self._list_jobs(ref)
        if not found:
            raise NotFound(
                f"no Vertex AI job {ref!r} (by id or name); list them with %jobs --backend vertex"
            )
        return found[0]

    def job(self, ref: str) -> JobRecord:
        return self._job_record(self._find_job(ref), full=True)

    def jobs(
        self,
        *,
        status: list[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRecord]:
        records = [self._job_record(j) for j in self._list_jobs(name)]
        if status:
            records = [r for r in records if str(r.status) in status]
        return records[offset : offset + limit]

    def _metrics(self, output: str) -> list[MetricRecord]:
        data = self.storage.read(f"{output}/output/metrics.jsonl") or b""
        out = []
        for line in data.decode(errors="replace").splitlines():
            try:
                out.append(MetricRecord.from_wire(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a sync in progress
        return out

    def metrics(self, ref: str) -> list[MetricRecord]:
        job = self._find_job(ref)
        return self._metrics(job.job_spec.base_output_directory.output_uri_prefix)

    def logs(self, ref: str, cursor: str | None = None) -> LogPage:
        job_id = self._find_job(ref).name.rsplit("/", 1)[-1]  # Cloud Logging's job_id
        text, after = logs.read(
            self.session,
            self.settings.logging_endpoint,
            self.settings.project,
            job_id,
            cursor,
            self.retries,
        )
        return LogPage(text=text, cursor=after)

    def watch(
        self,
        job_id: str,
        *,
        status: str,
        log_cursor: str | None,
        metrics_seen: int,
        timeout: float,
    ) -> JobNews:
        deadline = time.monotonic() + timeout
        logs.decode(None if log_cursor == "-" else log_cursor)  # a bad cursor fails at once
        while True:
            job = self._find_job(job_id)
            record = self._job_record(job, full=True)
            text, cursor = "", log_cursor or ""
            if log_cursor != "-":
                page = self.logs(record.id, log_cursor)
                text, cursor = page.text, page.cursor
            new: list[MetricRecord] = []
            if metrics_seen >= 0:
                new = self._metrics(record.details["output_uri"])[metrics_seen:]
            if str(record.status) != status or text or new or time.monotonic() >= deadline:
                return JobNews(job=record, log=text, log_cursor=cursor, metrics=tuple(new))
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def stop(self, ref: str) -> JobRecord:
        job = self._find_job(ref)
        if JOB_STATES.get(job.state.name) not in JOB_TERMINAL:
            self._call(f"cancelling job {ref}", self.client("job").cancel_custom_job, name=job.name)
            job = self._get_job(job.name.rsplit("/", 1)[-1])
        return self._job_record(job)
