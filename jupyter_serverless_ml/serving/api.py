"""Endpoints: deploy models, shift traffic, roll back, undeploy (the Python API).

>>> ep = deploy("cancer", name="cancer-prod", min_replicas=0, max_replicas=4)
>>> ep.predict(df[FEATURES].head())
>>> deploy("cancer:4", endpoint="cancer-prod", traffic=10)     # a canary variant
>>> traffic("cancer-prod", v4=100); rollback("cancer-prod"); undeploy("cancer-prod")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends import Serving, get_backend, require
from ..errors import UsageError
from ..options import parse_duration, parse_size
from ..records import DeployRequest, EndpointRecord
from ..registry import ModelVersion, model_ref
from ..training import Job
from .handles import Endpoint, EndpointList
from .warmup import read_warmup

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
    inference_script: str | Path | None = None,
    source_dir: str | Path | None = None,
    predictor: str | None = None,
    serverless: bool = False,
    memory: int | None = None,
    max_concurrency: int | None = None,
    keep_warm: bool | None = None,
    multi_model: bool = False,
    model_cache: str | int | None = None,
    warmup: str | Path | None = None,
    max_cost: float | None = None,
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

    Serving code written for the clouds: ``inference_script`` (SageMaker handlers
    ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``, ``transform_fn``;
    relative to ``source_dir`` when both are given), ``source_dir`` (the code it
    imports; alone, its ``inference.py`` or its one script with handlers or a Vertex
    ``Predictor``), ``predictor`` (``"MODULE:CLASS"``, a Vertex custom prediction
    routine in ``source_dir``). Without them, a model trained by an entry point that
    defines handlers is served by them.

    ``serverless=True`` asks for a serverless endpoint (SageMaker Serverless Inference):
    ``memory`` in MB (1024 to 6144, in steps of 1024; default 2048) and
    ``max_concurrency`` (1 to 200; default 5) instead of instances and replicas.

    Serving at scale: ``keep_warm`` (default True) keeps one loaded copy of the model
    (its template) while the endpoint exists, so replicas fork from it: scaling from
    zero costs a fork, and replicas share the model's memory; ``False`` frees that
    memory at zero replicas, and each cold start loads the model again.
    ``multi_model=True`` serves every version of ``model`` (a name), or every model
    whose name starts with a prefix (``"team-*"``), from one endpoint: each request
    names its model (``ep.predict(rows, model="churn:3")``; SageMaker's
    ``TargetModel``); replicas load models on first use and evict the least recently
    used beyond ``model_cache`` (``"2G"``, per replica). ``warmup``: a JSON Lines file
    of request bodies each new replica answers before it takes traffic.

    ``max_cost`` (USD): refused when one hour at ``min_replicas`` would cost more at
    list price; undeployed, with the reason in its events, when its ledger reaches it.
    """
    serverless_memory, serverless_concurrency = _serverless(serverless, memory, max_concurrency)
    chosen = get_backend(backend)
    serving = require(chosen, Serving)
    if serverless and not serving.serverless:
        raise UsageError(
            f"the {chosen.name} backend has no serverless endpoints (SageMaker Serverless "
            "Inference: --backend sagemaker); scale with --min-replicas and --max-replicas"
        )
    unknown = set(policy) - {*_POLICY_DURATIONS, "max_queue", "capture_max_bytes"}
    if unknown:
        raise UsageError(f"deploy() got unknown option(s): {', '.join(sorted(unknown))}")
    if endpoint and not name and not isinstance(model, str | Job | ModelVersion):
        # a new model object for an existing endpoint: the next version of the model it serves
        name = serving.endpoint(endpoint).variants[0].model_name
    script, directory = _code_paths(inference_script, source_dir, predictor)
    requests = read_warmup(warmup) if warmup is not None else None
    if multi_model:
        if not isinstance(model, str) or ":" in model:
            raise UsageError(
                "--multi-model takes a model NAME (every version) or a PREFIX* (every model "
                f"whose name starts with it), not {model!r}"
            )
        if endpoint:
            raise UsageError("a multi-model endpoint is created on its own (no --endpoint)")
        model_name, version = model, None
    else:
        if model_cache is not None:
            raise UsageError("--model-cache goes with --multi-model")
        model_name, version = model_ref(model, name, backend)
    request = DeployRequest(
        model=model_name,
        version=version,
        name=None if endpoint else name,
        endpoint=endpoint,
        traffic=traffic,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        target_concurrency=target_concurrency,
        instance_type=instance_type,
        method=method,
        capture_percent=capture,
        max_payload=parse_size(max_payload),
        idle_timeout=parse_duration(idle_timeout),
        policy={
            key: float(parse_duration(value) or 0.0) if key in _POLICY_DURATIONS else float(value)
            for key, value in policy.items()
        },
        inference_script=script,
        source_dir=directory,
        predictor=predictor,
        serverless_memory=serverless_memory,
        max_concurrency=serverless_concurrency,
        keep_warm=keep_warm,
        multi_model=True if multi_model else None,
        model_cache=parse_size(model_cache),
        warmup=requests,
        max_cost=max_cost,
    )
    return Endpoint(chosen, serving.deploy(request))


def _serverless(
    serverless: bool, memory: int | None, max_concurrency: int | None
) -> tuple[int | None, int | None]:
    """Checked serverless settings: (memory MB, max concurrency), or (None, None)."""
    if not serverless:
        if memory is not None or max_concurrency is not None:
            raise UsageError("--memory and --max-concurrency go with --serverless")
        return None, None
    memory = 2048 if memory is None else int(memory)
    if memory not in range(1024, 6145, 1024):
        raise UsageError(
            f"--memory {memory}: a serverless endpoint takes 1024, 2048, 3072, 4096, 5120 "
            "or 6144 (MB)"
        )
    concurrency = 5 if max_concurrency is None else int(max_concurrency)
    if not 1 <= concurrency <= 200:
        raise UsageError(f"--max-concurrency {concurrency}: must be 1 to 200")
    return memory, concurrency


def _code_paths(
    script: str | Path | None, source_dir: str | Path | None, predictor: str | None
) -> tuple[str | None, str | None]:
    """Absolute paths (the kernel's working directory is not the platform's), checked here
    so a typo is refused before anything is deployed."""
    directory = None
    if source_dir is not None:
        base = Path(source_dir).expanduser().resolve()
        if not base.is_dir():
            raise UsageError(f"--source-dir {source_dir}: no such directory")
        directory = str(base)
    if predictor is not None and ":" not in predictor:
        raise UsageError(f"--predictor {predictor}: write MODULE:CLASS, e.g. predictor:MyPredictor")
    if script is None:
        return None, directory
    path = Path(script).expanduser()
    if directory is not None and not path.is_absolute():
        if not (Path(directory) / path).is_file():
            raise UsageError(f"--inference-script {script}: no such file in {directory}")
        return str(path), directory
    if not path.resolve().is_file():
        raise UsageError(f"--inference-script {script}: no such file")
    return str(path.resolve()), directory


def endpoints(backend: str | None = None) -> EndpointList:
    """Every endpoint with its status, variants, replicas, requests and latency."""
    chosen = get_backend(backend)
    return EndpointList(Endpoint(chosen, r) for r in require(chosen, Serving).endpoints())


def endpoint(name: str, backend: str | None = None) -> Endpoint:
    """One endpoint with its latency percentiles, events and cold starts."""
    chosen = get_backend(backend)
    return Endpoint(chosen, require(chosen, Serving).endpoint(name))


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
    return Endpoint(chosen, require(chosen, Serving).traffic(name, split))


def rollback(name: str, backend: str | None = None) -> Endpoint:
    """Return an endpoint to its traffic split before the last change."""
    chosen = get_backend(backend)
    return Endpoint(chosen, require(chosen, Serving).rollback(name))


def undeploy(name: str, backend: str | None = None) -> EndpointRecord:
    """Drain in-flight requests, stop the replicas and delete the endpoint."""
    return require(get_backend(backend), Serving).undeploy(name)
