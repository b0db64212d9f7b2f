"""How each step kind runs on the platform, through the platform's own managers.

Job steps (function, train, evaluate) are training jobs of :class:`JobManager`
(sandboxed, retried by the job's own attempts); a condition is evaluated here;
register uses the model registry; deploy the endpoint manager; batch the batch
manager. Every output a job wrote is copied out of its directory without
following links and within the job's disk limit, then hashed: the platform never
trusts a link, a special file or a field a job wrote.

A step's ``outputs`` (stored as JSON) are ``{"path", "uri", "hash"}`` plus, for a
model, ``{"model", "version"}``; its ``metadata`` holds ``metrics`` (job steps) or
the condition's ``result``.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import JsmlError, UsageError
from ...runtime.flavors import META_FILE, sibling_meta
from ...statuses import BATCH_TERMINAL, JobStatus
from ..jobs import jobfiles
from ..jobs.limits import DEFAULT_MAX_DISK
from ..jobs.manager import JobManager
from .hashing import digest, tree_hash
from .spec import JOB_KINDS, PipelineSpec, StepSpec, compare

#: What a job step's code writes its output into (the job's ``SM_OUTPUT_DATA_DIR``).
JOB_OUTPUT = "ml/output/data"


@dataclass
class Outcome:
    """What happened to a step: ``status`` None while it is still executing."""

    status: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    log: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


class StepRunner:
    """Starts steps and checks the executing ones (see the module docstring)."""

    def __init__(
        self, jobs: JobManager, endpoints: Any, batches: Any, platform: Any = None
    ) -> None:
        self.jobs = jobs
        #: the platform, for the budget guard of steps that set ``max_cost``
        self.platform = platform
        self.store = jobs.store
        self.endpoints = endpoints
        self.batches = batches
        self._tasks: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}

    # -- start ---------------------------------------------------------------------

    async def start(
        self, run: Mapping[str, Any], spec: PipelineSpec, step: StepSpec, rows: Mapping[str, Any]
    ) -> Outcome:
        """Start ``step`` (its upstream steps have succeeded); returns what happened."""
        out_dir = Path(spec.output) / run["id"] / step.name
        if step.kind in JOB_KINDS:
            return self._start_job(spec, step, rows)
        if step.kind == "condition":
            return _condition(step, rows)
        if step.kind == "register":
            return self._register(step, rows)
        if step.kind == "deploy":
            self._tasks[(run["id"], step.name)] = asyncio.ensure_future(
                self._deploy(step, rows)
            )
            return Outcome(log=f"deploying to endpoint {step.config['endpoint']}")
        return await self._batch(step, rows, out_dir)

    def _start_job(self, spec: PipelineSpec, step: StepSpec, rows: Mapping[str, Any]) -> Outcome:
        channels = {name: str(Path(path).resolve()) for name, path in step.data.items()}
        for arg, up in step.inputs.items():
            channels[arg] = _output_path(rows[up])
        if step.model_step:
            channels["model"] = _output_path(rows[step.model_step])
        config = step.config
        request = {
            "name": f"{spec.name}-{step.name}",
            "bundle": step.bundle,
            "channels": channels,
            "hyperparameters": dict(step.params),
            "python": config.get("python"),
            "env": config.get("env") or "kernel",
            "instance_type": config.get("instance_type"),
            "memory": config.get("memory"),
            "max_runtime": config.get("max_runtime"),
            "network": bool(config.get("network")),
            "retries": step.retries,
        }
        if config.get("max_cost") is not None and self.platform is not None:
            from ..costs.routes import submit_job

            job = submit_job(self.platform, {**request, "max_cost": config["max_cost"]})
        else:
            job = self.jobs.submit(request)
        return Outcome(
            fields={"job_id": job["id"], "attempt": 1}, log=f"started job {job['id']}"
        )

    def _register(self, step: StepSpec, rows: Mapping[str, Any]) -> Outcome:
        source = rows[str(step.model_step)]["outputs"]
        model = self.jobs.registry.register(
            str(step.config["model_name"]), _output_path_of(source), _python(source, step)
        )
        outputs = {
            "model": model["name"],
            "version": model["version"],
            "uri": model["uri"],
            "path": _output_path_of(source),
            "hash": source["hash"],
            "python": _python(source, step),
        }
        return Outcome(
            status="Succeeded",
            outputs=outputs,
            log=f"registered {model['name']}:{model['version']}",
        )

    async def _deploy(self, step: StepSpec, rows: Mapping[str, Any]) -> dict[str, Any]:
        source = rows[str(step.model_step)]["outputs"]
        endpoint = str(step.config["endpoint"])
        request = {
            k: v
            for k, v in step.config.items()
            if k not in ("model", "endpoint", "python") and v is not None
        }
        request.update(model=source["model"], version=source["version"])
        exists = any(e.get("name") == endpoint for e in self.endpoints.summaries()) and (
            self.endpoints.describe(endpoint).get("status") not in ("Deleting", "Deleted")
        )
        served = exists and any(
            (v.get("model_name"), v.get("model_version")) == (source["model"], source["version"])
            for v in self.endpoints.describe(endpoint).get("variants") or []
        )
        if served:  # deployed already (its cache entry was not usable): nothing to change
            return {
                "endpoint": endpoint,
                "model": source["model"],
                "version": source["version"],
                "status": self.endpoints.describe(endpoint).get("status"),
                "hash": digest([endpoint, source["hash"]]),
            }
        if exists:
            request.update(endpoint=endpoint, traffic=100.0)
        else:
            request["name"] = endpoint
        if request.get("max_cost") is not None and self.platform is not None:
            from ..costs.routes import deploy

            record = await deploy(self.platform, request)
        else:
            record = await self.endpoints.deploy(request)
        return {
            "endpoint": endpoint,
            "model": source["model"],
            "version": source["version"],
            "status": record.get("status"),
            "hash": digest([endpoint, source["hash"]]),
        }

    async def _batch(self, step: StepSpec, rows: Mapping[str, Any], out_dir: Path) -> Outcome:
        source = rows[str(step.model_step)]["outputs"]
        if not source.get("model"):
            raise UsageError(f"step {step.model_step!r} has no registered model to predict with")
        request = {
            k: v
            for k, v in step.config.items()
            if k not in ("model", "python") and v is not None
        }
        request.update(
            model=source["model"],
            version=source["version"],
            input=str(Path(str(step.config["input"])).resolve()),
            output=str(out_dir),
        )
        if request.get("max_cost") is not None and self.platform is not None:
            from ..costs.routes import start_batch

            record = await start_batch(self.platform, request)
        else:
            record = await self.batches.submit(request)
        return Outcome(fields={"batch_id": record["id"]}, log=f"started batch job {record['id']}")

    # -- check ---------------------------------------------------------------------

    def check(self, run: Mapping[str, Any], step: StepSpec, row: Mapping[str, Any]) -> Outcome:
        """What an executing step is doing now (status None: still executing)."""
        if step.kind in JOB_KINDS:
            return self._check_job(run, step, row)
        if step.kind == "deploy":
            return self._check_deploy(run, step)
        if step.kind == "batch":
            return self._check_batch(row)
        return Outcome(status="Failed", reason=f"a {step.kind} step cannot be executing")

    def _check_job(self, run: Mapping[str, Any], step: StepSpec, row: Mapping[str, Any]) -> Outcome:
        job = self.store.job(row["job_id"])
        if job is None:
            return Outcome(status="Failed", reason=f"its job {row['job_id']} is gone")
        if job["attempt"] != row["attempt"]:
            return Outcome(fields={"attempt": job["attempt"]}, log=f"retry {job['attempt']}")
        if job["status"] == JobStatus.COMPLETED:
            return self._collect(run, step, job)
        if job["status"] in (JobStatus.FAILED, JobStatus.STOPPED):
            reason = job.get("failure_reason") or job["status"]
            return Outcome(status=str(job["status"]), reason=f"job {job['id']}: {reason}")
        return Outcome()

    def _collect(self, run: Mapping[str, Any], step: StepSpec, job: dict[str, Any]) -> Outcome:
        spec_output = Path(run["spec"]["output"])
        target = spec_output / run["id"] / step.name
        metrics = self.store.latest_metrics([job["id"]])[job["id"]]
        shutil.rmtree(target, ignore_errors=True)
        cap = int(job["spec"].get("max_disk") or DEFAULT_MAX_DISK)
        outputs: dict[str, Any] = {"python": job["spec"].get("python")}
        try:
            if step.kind == "train":
                model = self.store.model(job["name"], job["model_version"]) if job[
                    "model_version"
                ] else None
                if model is None:
                    return Outcome(
                        status="Failed",
                        reason="the train step's function returned no model (it returned None)",
                    )
                registered = Path(model["uri"].removeprefix("file://"))
                shutil.copytree(registered, target / "model", symlinks=True)
                shutil.copyfile(sibling_meta(registered), target / "model" / META_FILE)
                outputs.update(model=model["name"], version=model["version"])
                hashed = target / "model"
            else:
                source = Path(job["job_dir"]) / JOB_OUTPUT
                target.mkdir(parents=True, exist_ok=True)
                if source.exists():
                    jobfiles.copy_tree(source, target / "data", cap, what="output directory")
                else:
                    (target / "data").mkdir()
                hashed = target
            outputs.update(path=str(target), uri=target.as_uri(), hash=tree_hash(hashed))
        except (OSError, jobfiles.UnsafeJobFile, UsageError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            return Outcome(status="Failed", reason=f"its output could not be kept: {exc}")
        return Outcome(status="Succeeded", outputs=outputs, metadata={"metrics": metrics})

    def _check_deploy(self, run: Mapping[str, Any], step: StepSpec) -> Outcome:
        task = self._tasks.get((run["id"], step.name))
        if task is None:  # the platform restarted while it deployed: deploy again
            return Outcome(status="Pending", log="deploy interrupted by a platform restart; again")
        if not task.done():
            return Outcome()
        del self._tasks[(run["id"], step.name)]
        try:
            result = task.result()
        except JsmlError as exc:
            return Outcome(status="Failed", reason=str(exc))
        return Outcome(status="Succeeded", outputs=result, log=f"endpoint {result['endpoint']}")

    def _check_batch(self, row: Mapping[str, Any]) -> Outcome:
        record = self.batches.describe(row["batch_id"])
        status = str(record["status"])
        if status not in BATCH_TERMINAL:
            return Outcome()
        if status != "Completed":
            reason = record.get("failure_reason") or status
            return Outcome(status="Failed", reason=f"batch job {row['batch_id']}: {reason}")
        output = Path(record["spec"]["output"])
        outputs = {"path": str(output), "uri": output.as_uri(), "hash": tree_hash(output)}
        rows = {"rows": record.get("rows_done"), "failed_rows": record.get("rows_failed")}
        return Outcome(status="Succeeded", outputs=outputs, metadata=rows)

    def stop(self, row: Mapping[str, Any]) -> None:
        """Stop what an executing step started (a deploy finishes: it is left to end)."""
        if row.get("job_id"):
            self.jobs.stop(row["job_id"])
        elif row.get("batch_id"):
            self.batches.stop(row["batch_id"])

    def still_valid(self, kind: str, outputs: Mapping[str, Any]) -> bool:
        """Whether a cached step's outputs are still there, unchanged."""
        try:
            if kind == "register":
                return self.store.model(outputs["model"], outputs["version"]) is not None
            if kind == "deploy":
                found = self.endpoints.describe(outputs["endpoint"])
                served = {
                    (v.get("model_name"), v.get("model_version"))
                    for v in found.get("variants") or []
                }
                return found.get("status") == "InService" and (
                    not served or (outputs["model"], outputs["version"]) in served
                )
            if kind == "condition":
                return True
            path = Path(outputs["path"])
            hashed = path / "model" if kind == "train" else path
            return bool(outputs.get("hash")) and tree_hash(hashed) == outputs["hash"]
        except (OSError, KeyError, JsmlError):
            return False


def _output_path_of(outputs: Mapping[str, Any]) -> str:
    """Where a step's output lies: a model directory for model steps, else the data."""
    base = Path(outputs["path"])
    if outputs.get("model"):
        return str(base / "model")
    return str(base / "data")


def _output_path(row: Mapping[str, Any]) -> str:
    return _output_path_of(row["outputs"])


def _python(outputs: Mapping[str, Any], step: StepSpec) -> str:
    return str(outputs.get("python") or step.config.get("python") or "")


def _condition(step: StepSpec, rows: Mapping[str, Any]) -> Outcome:
    config = step.config
    source = rows[str(config["step"])]
    metrics = (source.get("metadata") or {}).get("metrics") or {}
    metric = str(config["metric"])
    if metric not in metrics:
        return Outcome(
            status="Failed",
            reason=f"step {config['step']!r} logged no metric {metric!r}; "
            f"it logged: {', '.join(sorted(metrics)) or 'none'}",
        )
    value = float(metrics[metric])
    result = compare(value, str(config["op"]), float(config["value"]))
    text = f"{config['step']}.{metric} = {value:g} {config['op']} {config['value']:g}"
    return Outcome(
        status="Succeeded",
        outputs={"hash": digest([text, result])},
        metadata={"result": result, "value": value, "expression": text},
        log=f"{text}: {result}",
    )


__all__ = ["JOB_OUTPUT", "Outcome", "StepRunner"]
