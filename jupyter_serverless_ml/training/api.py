"""Training jobs: the Python API (magics, the CLI and the server extension call these).

>>> job = train('''
... df = pd.read_csv(channel("train"))
... model = LogisticRegression(C=hp.C).fit(df[FEATURES], df.target)
... log_metric("accuracy", model.score(df[FEATURES], df.target))
... ''', name="cancer", data={"train": "data/train.csv"}, hp={"C": 0.5}, namespace=globals())
>>> job.metrics, job.model()
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import artifacts
from ..backends import available, get_backend
from ..catalog.frameworks import framework as lookup_framework
from ..catalog.instance_types import instance_type as lookup_instance_type
from ..errors import ConfigError, JsmlError, UsageError, storage_errors
from ..options import (
    check_channels,
    check_hyperparameters,
    parse_duration,
    parse_size,
    validate_name,
)
from ..packaging import Bundle, build_cell_bundle, build_entry_point_bundle
from ..records import TrainingRequest
from ..runtime.toolkit import HP_STYLES
from .channels import download_channels
from .handles import Job, JobList, Progress
from .metric_definitions import metric_definition_list

ENVS = ("kernel", "isolated")


def _function_source(fn: Callable[..., Any], model_var: str) -> tuple[str, dict[str, Any]]:
    """A one-line cell that calls ``fn`` and keeps its result as the model, and the namespace."""
    if not inspect.isfunction(fn):
        raise UsageError(f"train() takes cell source (str) or a function, not {type(fn).__name__}")
    if inspect.signature(fn).parameters and any(
        p.default is inspect.Parameter.empty for p in inspect.signature(fn).parameters.values()
    ):
        raise UsageError(
            f"{fn.__name__}() must be callable without arguments; read hp and channel() inside it"
        )
    namespace = dict(fn.__globals__)
    namespace[fn.__name__] = fn
    return f"{model_var} = {fn.__name__}()\n", namespace


def _channels(data: Mapping[str, str | Path], native: frozenset[str]) -> dict[str, str]:
    """Channels as the backend takes them: URIs it reads in place (``s3://`` on SageMaker) as
    they are; other remote URIs downloaded first; local paths checked and made absolute."""
    in_place = {
        name: str(value)
        for name, value in data.items()
        if "://" in str(value) and artifacts.scheme(str(value)) in native
    }
    rest = {name: value for name, value in data.items() if name not in in_place}
    return {**check_channels(download_channels(rest)), **in_place}


def _check_limits(max_processes: int | None, max_disk: str | int | None) -> int | None:
    """Refuse a process or disk limit no job could run under; the disk limit in bytes."""
    if max_processes is not None and max_processes < 1:
        raise UsageError(f"--max-processes must be 1 or more, not {max_processes}")
    disk_limit = parse_size(max_disk)
    if disk_limit is not None and disk_limit < 1024**2:
        raise UsageError(f"--max-disk must be at least 1M, not {max_disk!r}; e.g. --max-disk 5G")
    return disk_limit


def _cpus(shape: Any) -> int:
    """The CPUs a job of instance type ``shape`` gets here: its vCPUs, at most this host's."""
    host = os.cpu_count() or 1
    return min(shape.vcpus or host, host)


def train(
    code: str | Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    data: Mapping[str, str | Path] | None = None,
    hp: Mapping[str, Any] | None = None,
    backend: str | None = None,
    instance_type: str | None = None,
    instance_count: int = 1,
    requirements: str | Path | None = None,
    env: str = "kernel",
    network: bool = False,
    memory: str | int | None = None,
    max_runtime: str | float | None = None,
    retries: int = 0,
    wait: bool = True,
    max_processes: int | None = None,
    max_disk: str | int | None = None,
    model_var: str = "model",
    entry_point: str | None = None,
    source_dir: str | Path | None = None,
    namespace: Mapping[str, Any] | None = None,
    history: Iterable[str] = (),
    progress: Progress | None = None,
    framework: str | None = None,
    metric_definitions: Mapping[str, str] | Iterable[str] | None = None,
    hp_args: str = "toolkit",
    image: str | None = None,
    spot: bool = False,
    max_cost: float | None = None,
) -> Job:
    """Run training code as a job on a backend and return its :class:`Job` handle.

    ``code`` is cell source (run against ``namespace``; what it uses from there is
    captured into the bundle) or a function (its return value is the model).
    With ``entry_point`` (and ``source_dir``) an existing SageMaker/Vertex
    script-mode script runs unchanged instead. ``data`` maps channel names to
    files or directories; ``hp`` holds typed hyperparameters. ``wait`` blocks
    until the job ends and raises :class:`JobFailed` if it fails.

    ``framework`` (``"sklearn==1.2-1"``) runs the job in an isolated environment with
    that SageMaker framework container's library versions. ``metric_definitions``
    (``{"NAME": "REGEX"}``, or ``"NAME=REGEX"`` strings, or ``"xgboost"``) turn matching
    log lines into metrics as SageMaker's ``MetricDefinitions`` do; XGBoost jobs
    (``framework="xgboost==..."``) get the built-in XGBoost patterns by themselves.
    ``hp_args`` is how hyperparameters reach an entry point's command line:
    ``toolkit`` as the SageMaker training toolkit passes them, ``json`` as the
    SageMaker SDK v3 ModelTrainer does. ``data`` may name ``s3://`` and ``gs://``
    URIs: they are downloaded (and cached) before the job is submitted.
    """
    if env not in ENVS:
        raise UsageError(f"--env must be one of {', '.join(ENVS)}, not {env!r}")
    if instance_count < 1:
        raise UsageError(f"--instance-count must be at least 1, not {instance_count}")
    if retries < 0:
        raise UsageError(f"--retries must be 0 or more, not {retries}")
    disk_limit = _check_limits(max_processes, max_disk)
    if not model_var.isidentifier():
        raise UsageError(f"--model-var {model_var!r} is not a Python variable name")
    check_hyperparameters(hp or {})
    shape = lookup_instance_type(instance_type)
    container = lookup_framework(framework) if framework else None
    if container is not None:
        env = "isolated"
    if hp_args not in HP_STYLES:
        raise UsageError(f"--hp-args must be one of {', '.join(HP_STYLES)}, not {hp_args!r}")
    definitions = metric_definition_list(metric_definitions, container)
    job_config: dict[str, Any] = {"instance_type": shape.name}
    if definitions:
        job_config["metric_definitions"] = definitions
    if hp_args != "toolkit":
        job_config["hp_args"] = hp_args
    if container is not None:
        job_config["framework"] = container.to_config()
    framework_pins = container.pins() if container is not None else []
    chosen = get_backend(backend)
    channels = _channels(data or {}, chosen.native_schemes)
    with storage_errors("the bundle", chosen.bundle_root()):
        if entry_point:
            if isinstance(code, str) and code.strip():
                raise UsageError(
                    "give either cell code or --entry-point, not both; "
                    "with --entry-point leave the cell empty"
                )
            job_name = validate_name(name or Path(entry_point).stem.replace(".", "-"))
            bundle = build_entry_point_bundle(
                entry_point,
                chosen.bundle_root(),
                source_dir=source_dir,
                requirements_file=requirements,
                job_config=job_config,
                framework_requirements=framework_pins,
            )
        else:
            if callable(code):
                source, namespace = _function_source(code, model_var)
                job_name = validate_name(name or code.__name__.replace("_", "-"))
            else:
                source = code or ""
                job_name = validate_name(name or "notebook")
                if namespace is None:
                    namespace = sys._getframe(1).f_globals
            bundle = build_cell_bundle(
                source,
                namespace,
                chosen.bundle_root(),
                channels=channels,
                model_var=model_var,
                history=history,
                requirements_file=requirements,
                job_config=job_config,
                framework_requirements=framework_pins,
            )
    request = TrainingRequest(
        name=job_name,
        channels=channels,
        hyperparameters=dict(hp or {}),
        instance_type=shape.name,
        instance_count=instance_count,
        num_cpus=_cpus(shape),
        num_gpus=shape.gpus,
        env=env,
        python=sys.executable,
        network=network,
        memory=parse_size(memory),
        max_runtime=parse_duration(max_runtime),
        retries=retries,
        max_processes=max_processes,
        max_disk=disk_limit,
        image=image or None,
        spot=spot,
        max_cost=max_cost,
    )
    job = Job(chosen, chosen.submit_training(bundle, request))
    if wait:
        job.wait(progress=progress)
    return job


def job(ref: str, backend: str | None = None) -> Job:
    """A job by id, or the newest job with that name."""
    chosen = get_backend(backend)
    return Job(chosen, chosen.job(ref))


def jobs(
    status: str | Iterable[str] | None = None,
    name: str | None = None,
    limit: int = 50,
    backend: str | Iterable[str] | None = None,
) -> JobList:
    """Jobs, newest first (filter by status, e.g. ``"Running"``, or by name).

    ``backend`` is one backend (default: the default backend), several (their jobs side by
    side, each with its backend), or ``"all"``: every registered backend that can be built
    with its settings here (one that cannot, say for lack of credentials, is left out).
    """
    statuses = [status] if isinstance(status, str) else list(status) if status else None
    if backend is None or (isinstance(backend, str) and backend != "all"):
        chosen = get_backend(backend)
        return JobList(Job(chosen, r) for r in chosen.jobs(status=statuses, name=name, limit=limit))
    names = available() if backend == "all" else list(dict.fromkeys(backend))
    found: list[Job] = []
    failed: list[JsmlError] = []
    for each in names:
        try:
            chosen = get_backend(each)
            records = chosen.jobs(status=statuses, name=name, limit=limit)
        except (UsageError, ConfigError) as exc:
            if backend != "all":
                failed.append(exc)
            continue
        except JsmlError as exc:  # unreachable: the others are still listed
            failed.append(exc)
            continue
        found += [Job(chosen, r) for r in records]
    if failed and len(failed) == len(names):
        raise failed[0]
    for error in failed:
        print(f"not listed: {error}", file=sys.stderr)
    found.sort(key=lambda j: j.record.created_at, reverse=True)
    return JobList(found[:limit])


def logs(ref: str, backend: str | None = None) -> str:
    """A job's whole log so far."""
    return job(ref, backend).logs()


def follow_logs(ref: str, backend: str | None = None, progress: Progress | None = None) -> Job:
    """Print a job's log from the start and follow it until the job ends (no raise on failure)."""
    return job(ref, backend).wait(progress=progress or Progress(), raise_on_failure=False)


def stop(ref: str, backend: str | None = None) -> Job:
    """Ask a job to stop."""
    return job(ref, backend).stop()


def bundle(ref: str, backend: str | None = None) -> Bundle:
    """The bundle a job ran."""
    return job(ref, backend).bundle


def export_bundle(ref: str, directory: str | Path, backend: str | None = None) -> Path:
    """Write a job's bundle as a Docker build context (Dockerfile, requirements, code)."""
    return bundle(ref, backend).export(directory)
