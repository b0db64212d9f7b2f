"""Typed records and requests: what backends return and take.

Each record is a frozen dataclass with the fields every backend fills, plus
``details``: what a backend knows beyond them (the local platform's job
directory and sandbox, a cloud's ARN or resource name). ``from_wire`` builds a
record from a backend's JSON (unknown keys go to ``details``) and ``to_wire``
gives that JSON back, so the sidebar API and ``--json`` output keep one shape.

Records also read like mappings (``record["status"]``, ``record.get("rows_done")``)
over their wire form, for code written against earlier versions.

This module imports only :mod:`jupyter_serverless_ml.statuses`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .statuses import BatchStatus, EndpointStatus, JobStatus

R = TypeVar("R", bound="Record")
_EMPTY: Mapping[str, Any] = {}


def _status(kind: type[Any]) -> Callable[[Any], Any]:
    """A converter to a status enum that keeps a status it does not know as the plain string."""

    def convert(value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            return str(value)

    return convert


@dataclass(frozen=True)
class Record:
    """Base of the records: the wire conversion and read-only mapping access."""

    #: field name -> converter applied by :meth:`from_wire`
    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_wire(cls: type[R], data: Mapping[str, Any]) -> R:
        """Build the record from a backend's JSON; keys that are not fields go to ``details``."""
        names, has_details = _shape(cls)
        kwargs: dict[str, Any] = {}
        details: dict[str, Any] = {}
        for key, value in data.items():
            if key in names:
                convert = cls.CONVERT.get(key)
                kwargs[key] = convert(value) if convert is not None and value is not None else value
            elif has_details:
                details[key] = value
        if has_details:
            kwargs["details"] = details
        return cls(**kwargs)

    def to_wire(self) -> dict[str, Any]:
        """The record as JSON-ready data (``details`` flattened back in)."""
        out: dict[str, Any] = {}
        details = getattr(self, "details", None)
        if details:
            out.update(details)
        for name in _shape(type(self))[0]:
            out[name] = _wire(getattr(self, name))
        return out

    def __getitem__(self, key: str) -> Any:
        wire = self.to_wire()
        return wire[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The wire value of ``key``, or ``default``."""
        return self.to_wire().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.to_wire()


_PLAIN = (str, int, float, bool, type(None), bytes)


def _wire(value: Any) -> Any:
    """JSON-ready form of a field: records and statuses converted, containers copied.

    Mappings hold JSON a backend returned (a spec, metrics, an event), so they are
    copied shallowly rather than walked: the sidebar serialises 1,000 jobs per page.
    """
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, JobStatus | EndpointStatus | BatchStatus):
        return value.value
    if isinstance(value, tuple | list):
        return [_wire(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


_FIELDS: dict[type, tuple[frozenset[str], bool]] = {}


def _shape(cls: type) -> tuple[frozenset[str], bool]:
    """A record class's field names (without ``details``) and whether it has ``details``."""
    found = _FIELDS.get(cls)
    if found is None:
        names = [f.name for f in dataclasses.fields(cls)]
        found = _FIELDS[cls] = (frozenset(n for n in names if n != "details"), "details" in names)
    return found


def _tuple_of(kind: type[R]) -> Callable[[Any], tuple[R, ...]]:
    return lambda items: tuple(kind.from_wire(i) if isinstance(i, Mapping) else i for i in items)


# -- training -------------------------------------------------------------------


@dataclass(frozen=True)
class JobEvent(Record):
    """A status change of a job, with why."""

    ts: float
    status: str
    message: str = ""


@dataclass(frozen=True)
class MetricRecord(Record):
    """One ``log_metric`` value."""

    name: str
    value: float
    step: int | None = None
    ts: float = 0.0
    host: str = "algo-1"


@dataclass(frozen=True)
class ModelRecord(Record):
    """A registered model version. ``uri`` is where its files are (``file://``, ``s3://``, ``gs://``)."""

    name: str
    version: int
    uri: str
    flavor: str = "files"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    created_at: float | None = None
    #: ``none``, ``staging``, ``production`` or ``archived`` (:class:`~.statuses.ModelStage`)
    stage: str = "none"
    #: SageMaker's ``ModelApprovalStatus`` (:class:`~.statuses.ModelApproval`)
    approval: str = "PendingManualApproval"
    #: when the version last entered production (the previous one is what a rollback restores)
    promoted_at: float | None = None
    #: the final value of each metric its training job logged
    metrics: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"version": int}

    @property
    def ref(self) -> str:
        """``name:version``."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class JobRecord(Record):
    """A training job as a backend reports it.

    ``bundle_uri`` is where the bundle the job ran lives; ``spec`` is the request
    as the backend recorded it (hyperparameters, instance type and count, ...).
    """

    id: str
    name: str
    backend: str
    status: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    failure_reason: str | None = None
    attempt: int = 1
    spec: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    model: ModelRecord | None = None
    model_version: int | None = None
    bundle_hash: str | None = None
    bundle_uri: str | None = None
    events: tuple[JobEvent, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "status": _status(JobStatus),
        "model": ModelRecord.from_wire,
        "events": _tuple_of(JobEvent),
    }

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The job's hyperparameters."""
        return dict(self.spec.get("hyperparameters") or {})

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while it runs)."""
        import time

        if not self.started_at:
            return None
        return (self.ended_at or time.time()) - self.started_at


@dataclass(frozen=True)
class LogPage(Record):
    """Log text and the cursor to ask for what follows it (opaque: hand it back as it is)."""

    text: str
    cursor: str


@dataclass(frozen=True)
class JobNews(Record):
    """What :meth:`Training.watch` saw: the job, new log text and new metrics."""

    job: JobRecord
    log: str = ""
    log_cursor: str = ""
    metrics: tuple[MetricRecord, ...] = ()

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "job": JobRecord.from_wire,
        "metrics": _tuple_of(MetricRecord),
    }


# -- serving --------------------------------------------------------------------


@dataclass(frozen=True)
class VariantRecord(Record):
    """One model version behind an endpoint, with its share of the traffic."""

    name: str
    model_name: str
    model_version: int
    traffic: float = 0.0
    replicas: int = 0
    starting: int = 0
    min_replicas: int = 0
    max_replicas: int = 0
    stats: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """``name:version`` of the model it serves; a multi-model variant's model set
        (``fleet:* (20 models)``) where the backend describes one (``model_set``)."""
        return str(self.details.get("model_set") or f"{self.model_name}:{self.model_version}")

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "model": self.model}


@dataclass(frozen=True)
class EndpointRecord(Record):
    """An endpoint: status, variants and traffic, replicas, statistics, events.

    ``stats`` holds ``requests``, ``errors``, ``error_rate``, ``p50_ms``,
    ``p95_ms``, ``p99_ms`` and ``requests_last_minute`` where the backend knows them.
    """

    name: str
    backend: str
    status: str
    created_at: float | None = None
    traffic: Mapping[str, float] = field(default_factory=dict)
    variants: tuple[VariantRecord, ...] = ()
    replicas: int = 0
    min_replicas: int = 0
    max_replicas: int = 0
    stats: Mapping[str, Any] = field(default_factory=dict)
    cold_start_ms: tuple[float, ...] = ()
    events: tuple[Mapping[str, Any], ...] = ()
    invocation_url: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "status": _status(EndpointStatus),
        "variants": _tuple_of(VariantRecord),
        "cold_start_ms": tuple,
        "events": tuple,
    }

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "cold_starts": len(self.cold_start_ms)}


@dataclass(frozen=True)
class Invocation(Record):
    """An endpoint's answer to one request."""

    status: int
    content_type: str
    body: bytes
    variant: str | None = None


# -- batch ----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRecord(Record):
    """A batch prediction job with its progress. ``output_uri``: the part files;
    ``manifest_uri``: ``_manifest.json`` (rows in and out, every shard)."""

    id: str
    name: str
    status: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    rows_total: int | None = None
    rows_done: int = 0
    rows_failed: int = 0
    shards_total: int | None = None
    shards_done: int = 0
    rate: float | None = None
    failure_reason: str | None = None
    output_uri: str = ""
    manifest_uri: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"status": _status(BatchStatus)}


# -- monitoring -----------------------------------------------------------------


@dataclass(frozen=True)
class AlertRecord(Record):
    """A drift or monitor alert."""

    id: int
    endpoint: str
    feature: str = ""
    test: str = ""
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    created_at: float = 0.0
    acknowledged_at: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


# -- schedules ------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRecord(Record):
    """A notebook run on a schedule: ``cron`` (croniter, 5 or 6 fields, in ``timezone``)
    or ``interval`` seconds; ``catch_up``: run once at start for runs missed while down."""

    name: str
    notebook: str
    cron: str | None = None
    interval: float | None = None
    timezone: str = "UTC"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    catch_up: bool = True
    enabled: bool = True
    created_at: float = 0.0
    next_run_at: float | None = None
    last_run_at: float | None = None
    last_status: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleRunRecord(Record):
    """One run of a scheduled notebook: the executed notebook is ``output_uri``, and
    ``lab_path`` the path Lab opens it at (``/lab/tree/<lab_path>``) when known."""

    id: str
    schedule: str
    status: str
    created_at: float
    scheduled_for: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    output_uri: str = ""
    lab_path: str | None = None
    trigger: str = "schedule"
    failure_reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while it runs or when it never started)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


# -- requests -------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRequest(Record):
    """Everything a backend needs to run a training job besides the bundle."""

    name: str
    channels: Mapping[str, str] = field(default_factory=dict)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    num_cpus: int = 2
    num_gpus: int = 0
    env: str = "kernel"
    python: str = ""
    network: bool = False
    memory: int | None = None
    max_runtime: float | None = None
    retries: int = 0
    max_processes: int | None = None
    max_disk: int | None = None
    #: a container image to train on (a cloud backend; the framework image otherwise)
    image: str | None = None
    #: run on spare capacity (SageMaker managed spot training, with checkpoints)
    spot: bool = False
    #: budget in USD: refused when the estimate exceeds it, stopped when the ledger reaches it
    max_cost: float | None = None


@dataclass(frozen=True)
class DeployRequest(Record):
    """Deploy ``model:version`` to a new endpoint ``name``, or as a variant of ``endpoint``
    with ``traffic`` percent. ``None`` leaves a setting at the backend's default;
    ``policy`` holds further autoscaling settings (seconds, counts)."""

    model: str
    version: int | None = None
    name: str | None = None
    endpoint: str | None = None
    traffic: float | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_concurrency: float | None = None
    instance_type: str | None = None
    method: str | None = None
    capture_percent: float | None = None
    max_payload: int | None = None
    idle_timeout: float | None = None
    policy: Mapping[str, float] = field(default_factory=dict)
    #: SageMaker inference handlers (``model_fn``...) in this script (absolute path, or
    #: relative to ``source_dir``); ``source_dir`` holds it and what it imports;
    #: ``predictor`` a Vertex custom prediction routine's ``MODULE:CLASS`` in ``source_dir``.
    inference_script: str | None = None
    source_dir: str | None = None
    predictor: str | None = None
    #: a serverless endpoint (SageMaker Serverless Inference): memory in MB, concurrency cap
    serverless_memory: int | None = None
    max_concurrency: int | None = None
    #: budget in USD (see TrainingRequest.max_cost)
    max_cost: float | None = None
    #: serving at scale: keep a loaded template per model (``False``: replicas load it);
    #: a multi-model endpoint for every version of ``model`` (or every model under the
    #: prefix ``model`` ending in ``*``) with a per-replica model cache of ``model_cache``
    #: bytes; ``warmup`` requests (``{"body", "content_type", "target_model"}``) run on
    #: each new replica before it takes traffic
    keep_warm: bool | None = None
    multi_model: bool | None = None
    model_cache: int | None = None
    warmup: tuple[Mapping[str, Any], ...] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The request without unset settings, ``policy`` flattened in."""
        out = {k: v for k, v in super().to_wire().items() if v is not None and k != "policy"}
        out.update(self.policy)
        return out


@dataclass(frozen=True)
class BatchRequest(Record):
    """Predict every row of ``input_uri`` with ``model:version`` into ``output_uri``."""

    model: str
    input_uri: str
    output_uri: str
    version: int | None = None
    workers: int = 2
    chunk_rows: int = 100_000
    format: str = "parquet"
    input_format: str | None = None
    on_error: str = "fail"
    retries: int = 2
    method: str = "predict"
    include_input: bool = False
    name: str | None = None
    csv_header: str = "auto"
    #: budget in USD (see TrainingRequest.max_cost)
    max_cost: float | None = None


__all__ = [
    "AlertRecord",
    "BatchRecord",
    "BatchRequest",
    "DeployRequest",
    "EndpointRecord",
    "Invocation",
    "JobEvent",
    "JobNews",
    "JobRecord",
    "LogPage",
    "MetricRecord",
    "ModelRecord",
    "Record",
    "ScheduleRecord",
    "ScheduleRunRecord",
    "TrainingRequest",
    "VariantRecord",
]
