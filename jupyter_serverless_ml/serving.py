"""The serving API: deploy models to endpoints, shift traffic, undeploy, batch-predict.

>>> ep = deploy("cancer", name="cancer-prod", min_replicas=0, max_replicas=4)
>>> ep.predict(df[FEATURES].head())
>>> deploy("cancer:4", endpoint="cancer-prod", traffic=10)     # a canary variant
>>> traffic("cancer-prod", v4=100); rollback("cancer-prod"); undeploy("cancer-prod")
>>> batch_predict("cancer", "data/all.parquet", output="out/scores/").wait()
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .api import parse_model_ref
from .backends import get_backend
from .errors import UsageError
from .handles import Job, ModelVersion
from .options import parse_duration, parse_size, validate_name
from .serving_handles import BatchJob, Endpoint, EndpointList

_POLICY_DURATIONS = (
    "idle_timeout",
    "metrics_interval",
    "window",
    "panic_window",
    "upscale_delay",
    "downscale_delay",
    "cold_start_timeout",
    "request_timeout",
)


def _model_ref(model: Any, name: str | None, backend_name: str | None) -> tuple[str, int | None]:
    """(model name, version) for a reference, a job, a model version, or a model object."""
    if isinstance(model, str):
        return parse_model_ref(model)
    if isinstance(model, ModelVersion):
        return model.name, model.version
    if isinstance(model, Job):
        version = model.model_version
        if version is None:
            raise UsageError(
                f"job {model.id} is {model.status} and registered no model; deploy a job that "
                "completed (job.wait() first) and left a model"
            )
        return model.name, version
    if model is None:
        raise UsageError("deploy needs a model: NAME, NAME:VERSION, a job, or a model object")
    from .runtime import flavors

    if not name:
        raise UsageError("deploying a model object needs a name: deploy(model, name='my-model')")
    chosen = get_backend(backend_name)
    with tempfile.TemporaryDirectory(prefix="jsml-model-") as directory:
        flavors.save(model, directory, flavors.infer_signature(model, {}))
        record = chosen.register_model(validate_name(name), Path(directory), sys.executable)
    return str(record["name"]), int(record["version"])


def deploy(
    model: Any,
    *,
    name: str | None = None,
    endpoint: str | None = None,
    traffic: float | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    target_concurrency: float | None = None,
    idle_timeout: str | float | None = None,
    instance_type: str | None = None,
    method: str | None = None,
    capture: float | None = None,
    max_payload: str | int | None = None,
    backend: str | None = None,
    **policy: Any,
) -> Endpoint:
    """Deploy a model to a new endpoint, or as a variant of ``endpoint`` with ``traffic`` percent.

    ``model`` is ``"name"`` (latest version), ``"name:3"``, a :class:`Job`, a
    :class:`ModelVersion`, or a fitted model object (registered first, under
    ``name``). Waits until the endpoint serves. Autoscaling keywords beyond the
    named ones: ``metrics_interval``, ``window``, ``panic_window``,
    ``upscale_delay``, ``downscale_delay``, ``cold_start_timeout``,
    ``request_timeout``, ``max_queue``, ``capture_max_bytes`` (durations accept
    ``"500ms"``, ``"60s"``, ``"5m"``).
    """
    chosen = get_backend(backend)
    if endpoint and not name and not isinstance(model, str | Job | ModelVersion):
        # a new model object for an existing endpoint: the next version of the model it serves
        name = str(chosen.endpoint(endpoint)["variants"][0]["model_name"])
    model_name, version = _model_ref(model, name, backend)
    unknown = set(policy) - {*_POLICY_DURATIONS, "max_queue", "capture_max_bytes"}
    if unknown:
        raise UsageError(f"deploy() got unknown option(s): {', '.join(sorted(unknown))}")
    request: dict[str, Any] = {
        "model": model_name,
        "version": version,
        "name": None if endpoint else name,
        "endpoint": endpoint,
        "traffic": traffic,
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "target_concurrency": target_concurrency,
        "instance_type": instance_type,
        "method": method,
        "capture_percent": capture,
        "max_payload": parse_size(max_payload),
        "idle_timeout": parse_duration(idle_timeout),
    }
    for key, value in policy.items():
        request[key] = parse_duration(value) if key in _POLICY_DURATIONS else value
    record = chosen.deploy({k: v for k, v in request.items() if v is not None})
    return Endpoint(chosen, record)


def endpoints(backend: str | None = None) -> EndpointList:
    """Every endpoint with its status, variants, replicas, requests and latency."""
    chosen = get_backend(backend)
    return EndpointList(Endpoint(chosen, r) for r in chosen.endpoints())


def endpoint(name: str, backend: str | None = None) -> Endpoint:
    """One endpoint with its latency percentiles, events and cold starts."""
    chosen = get_backend(backend)
    return Endpoint(chosen, chosen.endpoint(name))


def traffic(
    name: str,
    weights: Mapping[str, float] | None = None,
    backend: str | None = None,
    **named: float,
) -> Endpoint:
    """Shift traffic: ``traffic("cancer-prod", v4=100)`` or ``traffic("cancer-prod", {"v4": 100})``.

    Variants not named share what is left, in their current proportions.
    """
    chosen = get_backend(backend)
    split = {k: float(v) for k, v in {**(weights or {}), **named}.items()}
    if not split:
        raise UsageError("traffic() needs weights, e.g. traffic('cancer-prod', v4=100)")
    return Endpoint(chosen, chosen.traffic(name, split))


def rollback(name: str, backend: str | None = None) -> Endpoint:
    """Return an endpoint to its traffic split before the last change."""
    chosen = get_backend(backend)
    return Endpoint(chosen, chosen.rollback(name))


def undeploy(name: str, backend: str | None = None) -> dict[str, Any]:
    """Drain in-flight requests, stop the replicas and delete the endpoint."""
    return get_backend(backend).undeploy(name)


def batch_predict(
    model: Any,
    data: str | Path,
    *,
    output: str | Path,
    workers: int = 2,
    chunk_rows: int = 100_000,
    format: str = "parquet",
    input_format: str | None = None,
    on_error: str = "fail",
    retries: int = 2,
    method: str = "predict",
    include_input: bool = False,
    name: str | None = None,
    wait: bool = True,
    progress: Callable[[str], Any] | None = None,
    backend: str | None = None,
) -> BatchJob:
    """Predict every row of a CSV, Parquet or JSONL file (or directory of them).

    Writes one part file per shard into ``output`` (in input order) and a
    ``_manifest.json``; rerunning into the same ``output`` does only the
    missing shards. ``on_error="skip"`` writes rows the model cannot take with
    an empty prediction and an ``error`` column instead of failing.
    """
    chosen = get_backend(backend)
    model_name, version = _model_ref(model, name, backend)
    source = Path(data)
    if not source.exists():
        raise UsageError(f"batch input {data} does not exist; pass a file or a directory")
    record = chosen.batch_predict(
        {
            "model": model_name,
            "version": version,
            "input": str(source.resolve()),
            "output": str(Path(output).resolve()),
            "workers": workers,
            "chunk_rows": chunk_rows,
            "format": format,
            "input_format": input_format,
            "on_error": on_error,
            "retries": retries,
            "method": method,
            "include_input": include_input,
            "name": name,
        }
    )
    job = BatchJob(chosen, record)
    if wait:
        job.wait(progress=progress)
    return job


def batch_job(ref: str, backend: str | None = None) -> BatchJob:
    """A batch prediction job by id."""
    chosen = get_backend(backend)
    return BatchJob(chosen, chosen.batch_job(ref))


def batch_jobs(limit: int = 20, backend: str | None = None) -> list[BatchJob]:
    """Batch prediction jobs, newest first."""
    chosen = get_backend(backend)
    return [BatchJob(chosen, r) for r in chosen.batch_jobs(limit)]
