"""The backend protocol, split by capability.

A backend is a class that derives from :class:`Backend` (the training part,
required) and from each optional part it implements: :class:`Registry`,
:class:`Serving`, :class:`Batch`, :class:`Monitoring`. Its features are exactly
the parts it derives from (:func:`features`), so nothing can claim a capability
it does not implement, and :func:`require` gives a caller the part it needs or
a clear refusal that names the backends that have it.

Every method takes and returns the typed records of
:mod:`jupyter_serverless_ml.records`. Logs page with opaque cursors (strings the
backend hands out and reads back: byte offsets locally, page tokens on a
cloud). Artifacts (bundles, models, batch outputs, manifests) are URIs, read
through :mod:`jupyter_serverless_ml.artifacts`. An implementation maps its SDK's
errors into :mod:`jupyter_serverless_ml.errors` in one context manager, never
imports IPython and never knows about notebooks. A backend is built with its
settings as keyword arguments (see :mod:`jupyter_serverless_ml.backends`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import UsageError
from ..packaging import Bundle
from ..records import (
    AlertRecord,
    BatchRecord,
    BatchRequest,
    DeployRequest,
    EndpointRecord,
    Invocation,
    JobNews,
    JobRecord,
    LogPage,
    MetricRecord,
    ModelRecord,
    TrainingRequest,
)
from ..statuses import Feature
from .pipelines_part import Pipelines
from .schedules_part import Schedules
from .tuning_part import Tuning

P = TypeVar("P")


class Backend(abc.ABC):
    """The training part, which every backend implements.

    Subclasses set :attr:`name` and implement every abstract method; a job is
    found by its id or, for :meth:`job`, by the newest job with that name.
    """

    name: ClassVar[str] = ""
    #: URI schemes whose data channels the backend reads in place (``{"s3"}`` for
    #: SageMaker); channels with other remote schemes are downloaded before submitting.
    native_schemes: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def bundle_root(self) -> Path:
        """The local directory bundles are built into before :meth:`submit_training`
        (a cloud backend uploads them from there)."""

    @abc.abstractmethod
    def submit_training(self, bundle: Bundle, request: TrainingRequest) -> JobRecord:
        """Start a training job for ``bundle``; returns the job once it is acknowledged."""

    @abc.abstractmethod
    def job(self, ref: str) -> JobRecord:
        """A job by id, or the newest job with that name; :class:`NotFound` otherwise."""

    @abc.abstractmethod
    def jobs(
        self,
        *,
        status: list[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRecord]:
        """Jobs, newest first (``offset`` skips the newest ones, for paging)."""

    @abc.abstractmethod
    def logs(self, ref: str, cursor: str | None = None) -> LogPage:
        """Log text after ``cursor`` (``None``: from the start) and the cursor after it.

        An empty ``text`` means nothing more for now; the returned cursor is
        valid to ask again later (a running job's log grows)."""

    @abc.abstractmethod
    def watch(
        self,
        job_id: str,
        *,
        status: str,
        log_cursor: str | None,
        metrics_seen: int,
        timeout: float,
    ) -> JobNews:
        """Wait up to ``timeout`` seconds for news about a job.

        Returns as soon as its status differs from ``status``, the log has text
        after ``log_cursor``, or more than ``metrics_seen`` metric records exist.
        ``metrics_seen`` of -1 means the caller does not follow metrics, and a
        ``log_cursor`` of ``"-"`` that it does not follow the log.
        """

    @abc.abstractmethod
    def metrics(self, ref: str) -> list[MetricRecord]:
        """Every metric record of a job, in the order logged."""

    @abc.abstractmethod
    def stop(self, ref: str) -> JobRecord:
        """Ask a job to stop; returns it (Stopping, then Stopped)."""

    def cleanup(self, dry_run: bool = True) -> list[str]:
        """Delete what this tool created on the backend (a cloud backend finds it by its
        tags or labels) and return what it deleted, or with ``dry_run`` would delete.

        A backend that leaves nothing billable behind (the local platform) has nothing to
        clean up; ``%undeploy`` and the platform's own lifecycle remove its resources."""
        raise UsageError(
            f"the {self.name} backend leaves nothing to clean up (use %undeploy for endpoints)"
        )


class Registry(abc.ABC):
    """Registered model versions: each completed job registers the next version of its name."""

    @abc.abstractmethod
    def models(self, name: str | None = None) -> list[ModelRecord]:
        """Registered model versions (all names, or the versions of ``name``)."""

    @abc.abstractmethod
    def model(self, name: str, version: int | None = None) -> ModelRecord:
        """One version (the latest when ``version`` is None); :class:`NotFound` otherwise."""

    @abc.abstractmethod
    def register_model(self, name: str, directory: Path, python: str) -> ModelRecord:
        """Register a model saved from the kernel (a flavor directory) as the next version."""

    @abc.abstractmethod
    def load_model(self, record: ModelRecord) -> Any:
        """Load a registered model version into this process."""

    def set_stage(self, name: str, version: int, stage: str, reason: str = "") -> ModelRecord:
        """Move a version to ``stage`` (none, staging, production, archived); the version that
        held staging or production is archived, and entering production approves it. The
        promotion gate is the caller's (:func:`jupyter_serverless_ml.registry.promote`)."""
        raise UsageError(f"the {getattr(self, 'name', '')} backend keeps no model stages")

    def set_approval(
        self, name: str, version: int, approval: str, reason: str = ""
    ) -> ModelRecord:
        """Set a version's approval (SageMaker's ModelApprovalStatus: PendingManualApproval,
        Approved, Rejected); rejecting a version in staging or production archives it."""
        raise UsageError(f"the {getattr(self, 'name', '')} backend keeps no model approval")


class Serving(abc.ABC):
    """Endpoints: deploy, invoke, shift traffic, roll back, undeploy."""

    #: whether ``DeployRequest.serverless_memory`` (a serverless endpoint) is honoured
    serverless: ClassVar[bool] = False

    @abc.abstractmethod
    def deploy(self, request: DeployRequest) -> EndpointRecord:
        """Create an endpoint (or add a variant to ``request.endpoint``); returns once it serves."""

    @abc.abstractmethod
    def endpoints(self) -> list[EndpointRecord]:
        """Every endpoint, summarised."""

    @abc.abstractmethod
    def endpoint(self, name: str) -> EndpointRecord:
        """One endpoint with its variants, statistics and events."""

    @abc.abstractmethod
    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """Send one request to an endpoint (the backend authenticates and signs it)."""

    def invoke_model(
        self,
        name: str,
        target_model: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """Send one request for ``target_model`` to a multi-model endpoint (SageMaker's
        ``TargetModel``); a backend without multi-model endpoints refuses it."""
        raise UsageError(
            f"the {getattr(self, 'name', type(self).__name__)} backend has no multi-model "
            "endpoints; deploy each model to an endpoint of its own"
        )

    def curl(self, record: EndpointRecord, body: str = '{"instances": [[...]]}') -> str:
        """A curl command line that invokes the endpoint, authenticated as this backend
        wants (the local platform: its bearer token; a cloud: its request signing)."""
        return (
            f"curl -X POST {record.invocation_url} -H 'Authorization: Bearer <token>' "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )

    @abc.abstractmethod
    def traffic(self, name: str, weights: Mapping[str, float]) -> EndpointRecord:
        """Shift traffic: named variants get their weights, the rest share what is left."""

    @abc.abstractmethod
    def rollback(self, name: str) -> EndpointRecord:
        """Return an endpoint to its traffic split before the last change."""

    @abc.abstractmethod
    def undeploy(self, name: str) -> EndpointRecord:
        """Drain in-flight requests and delete the endpoint; returns its last state."""


class Batch(abc.ABC):
    """Batch prediction over whole files."""

    @abc.abstractmethod
    def batch_predict(self, request: BatchRequest) -> BatchRecord:
        """Start a batch prediction job; returns it once acknowledged."""

    @abc.abstractmethod
    def batch_job(
        self, ref: str, wait: float | None = None, status: str = "", rows: int = -1
    ) -> BatchRecord:
        """One batch job with its progress. With ``wait``, answers as soon as its status
        differs from ``status`` or its rows done from ``rows``, or after ``wait`` seconds."""

    @abc.abstractmethod
    def batch_jobs(self, limit: int = 100) -> list[BatchRecord]:
        """Batch jobs, newest first."""

    @abc.abstractmethod
    def stop_batch(self, ref: str) -> BatchRecord:
        """Stop a batch job (a rerun into the same output resumes it)."""


class Monitoring(abc.ABC):
    """Costs and alerts."""

    @abc.abstractmethod
    def costs(self) -> dict[str, Any]:
        """Costs so far: ``total``, ``by_day``, ``by_resource``, ``items`` and cloud
        equivalents (see :mod:`jupyter_serverless_ml.monitoring.pricing`)."""

    @abc.abstractmethod
    def alerts(self) -> list[AlertRecord]:
        """Drift and monitor alerts, newest first."""

    @abc.abstractmethod
    def acknowledge_alert(self, alert_id: int) -> AlertRecord:
        """Acknowledge an alert."""

    def drift(self, endpoint: str, window: float | None = None) -> dict[str, Any]:
        """Check ``endpoint``'s captured requests of the last ``window`` seconds against its
        model's baseline now: ``{"report": ..., "alerts": [...]}`` (see
        :mod:`jupyter_serverless_ml.platform.drift.checks`). Optional: the default refuses."""
        raise UsageError(f"the {_name(self)} backend does not check drift; use the local backend")

    def set_baseline(self, model: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Profile the table at ``path`` as the drift baseline of a model version. Optional."""
        raise UsageError(f"the {_name(self)} backend keeps no drift baselines")

    def drift_rules(self, endpoint: str, changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Merge ``changes`` into the endpoint's drift rules; return them. Optional."""
        raise UsageError(f"the {_name(self)} backend has no drift rules")


def _name(backend: object) -> str:
    return str(getattr(backend, "name", "") or type(backend).__name__)


#: Each optional part and the feature it gives.
PARTS: dict[Feature, type] = {
    Feature.TRAINING: Backend,
    Feature.REGISTRY: Registry,
    Feature.SERVING: Serving,
    Feature.BATCH: Batch,
    Feature.MONITORING: Monitoring,
    Feature.TUNING: Tuning,
    Feature.SCHEDULES: Schedules,
    Feature.PIPELINES: Pipelines,
}

WHAT = {
    Feature.TRAINING: "training jobs",
    Feature.REGISTRY: "model registry",
    Feature.SERVING: "endpoints",
    Feature.BATCH: "batch prediction",
    Feature.MONITORING: "costs and alerts",
    Feature.TUNING: "hyperparameter tuning",
    Feature.SCHEDULES: "scheduled notebook runs",
    Feature.PIPELINES: "pipelines",
}


def features(backend: object) -> frozenset[Feature]:
    """The features of ``backend``: the capability parts its class implements."""
    return frozenset(f for f, part in PARTS.items() if isinstance(backend, part))


def feature_of(part: type) -> Feature:
    """The feature a capability part gives."""
    for feature, cls in PARTS.items():
        if cls is part:
            return feature
    raise TypeError(f"{part!r} is not a capability part of the backend protocol")


def require(backend: Backend, part: type[P]) -> P:
    """``backend`` as the capability ``part``, or a :class:`UsageError` saying it lacks it.

    Raised before anything is created, so a refusal never leaves half a resource.
    """
    if isinstance(backend, part):
        return backend
    feature = feature_of(part)
    from . import available, features_of

    having = [n for n in available() if feature in features_of(n)]
    where = f"; backends with {WHAT[feature]}: {', '.join(having)}" if having else ""
    raise UsageError(
        f"the {backend.name} backend has no {WHAT[feature]}{where} (choose one with --backend)"
    )


__all__ = [
    "PARTS",
    "Backend",
    "Batch",
    "Monitoring",
    "Registry",
    "Serving",
    "feature_of",
    "features",
    "require",
]
