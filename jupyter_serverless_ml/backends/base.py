"""The backend protocol: what every backend (local, SageMaker, Vertex) must provide.

A backend turns a built :class:`~jupyter_serverless_ml.packaging.Bundle` plus a
:class:`TrainingRequest` into a job on its platform, and answers queries about
jobs and registered models with plain dicts in the shape the local platform
uses (``id``, ``name``, ``backend``, ``status``, ``created_at``, ``started_at``,
``ended_at``, ``failure_reason``, ``spec``, ``metrics``, ``model``...).

An implementation must provide every abstract method below and map its
platform's errors into :mod:`jupyter_serverless_ml.errors` at one place.
Backends never import IPython and never know about notebooks.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendError
from ..packaging import Bundle


@dataclass(frozen=True)
class TrainingRequest:
    """Everything a backend needs to run a training job besides the bundle."""

    name: str
    channels: dict[str, str] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
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


class Backend(abc.ABC):
    """Base class of backends. Subclasses set :attr:`name` and implement every abstract method."""

    name: str = ""

    def supported_features(self) -> set[str]:
        """Capabilities this backend has (``train``, ``stop``, ``logs``, ``registry``, ...).

        Callers (the magics, the sidebar) hide what a backend lacks.
        """
        return {"train", "stop", "logs", "metrics", "registry"}

    @abc.abstractmethod
    def bundle_root(self) -> Path:
        """The local directory bundles are built into before :meth:`submit_training`."""

    @abc.abstractmethod
    def submit_training(self, bundle: Bundle, request: TrainingRequest) -> dict[str, Any]:
        """Start a training job for ``bundle``; returns the job record once it is acknowledged."""

    @abc.abstractmethod
    def job(self, ref: str) -> dict[str, Any]:
        """A job by id, or the newest job with that name; :class:`NotFound` otherwise."""

    @abc.abstractmethod
    def jobs(
        self,
        *,
        status: list[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Jobs, newest first (``offset`` skips the newest ones, for paging)."""

    @abc.abstractmethod
    def watch(
        self, job_id: str, *, status: str, log_offset: int, metrics: int, timeout: float
    ) -> dict[str, Any]:
        """Wait up to ``timeout`` seconds for news about a job.

        Returns ``{"job": record, "log": new text, "log_offset": int, "metrics": [new records]}``
        as soon as the status differs from ``status``, the log grew past
        ``log_offset`` or more than ``metrics`` metric records exist. A
        ``log_offset`` or ``metrics`` of -1 means the caller does not follow that.
        """

    @abc.abstractmethod
    def logs(self, ref: str, offset: int = 0) -> tuple[str, int]:
        """Log text from byte ``offset`` and the offset after it."""

    @abc.abstractmethod
    def metrics(self, ref: str) -> list[dict[str, Any]]:
        """Every metric record of a job (``name``, ``value``, ``step``, ``ts``, ``host``)."""

    @abc.abstractmethod
    def stop(self, ref: str) -> dict[str, Any]:
        """Ask a job to stop; returns its record."""

    @abc.abstractmethod
    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Registered model versions (``name``, ``version``, ``uri``, ``flavor``, ``metadata``, ``job_id``)."""

    @abc.abstractmethod
    def model(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One model version (the latest when ``version`` is None); :class:`NotFound` otherwise."""

    @abc.abstractmethod
    def load_model(self, record: dict[str, Any]) -> Any:
        """Load a registered model version into this process."""

    # -- serving (optional: backends without it say so) -------------------------

    def _unsupported(self, what: str) -> BackendError:
        return BackendError(f"the {self.name} backend does not support {what} in this version")

    def register_model(self, name: str, directory: Path, python: str) -> dict[str, Any]:
        """Register a model saved from the kernel as the next version of ``name``."""
        raise self._unsupported("registering kernel models")

    def deploy(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create an endpoint (or add a variant with ``request["endpoint"]``); waits until it serves."""
        raise self._unsupported("endpoints")

    def endpoints(self) -> list[dict[str, Any]]:
        """Every endpoint, summarised."""
        raise self._unsupported("endpoints")

    def endpoint(self, name: str) -> dict[str, Any]:
        """One endpoint with its variants, statistics and events."""
        raise self._unsupported("endpoints")

    def traffic(self, name: str, weights: dict[str, float]) -> dict[str, Any]:
        """Shift traffic between an endpoint's variants."""
        raise self._unsupported("traffic shifting")

    def rollback(self, name: str) -> dict[str, Any]:
        """Return an endpoint to its previous traffic split."""
        raise self._unsupported("traffic rollback")

    def undeploy(self, name: str) -> dict[str, Any]:
        """Drain and delete an endpoint."""
        raise self._unsupported("endpoints")

    def invocation(self, name: str) -> tuple[str, dict[str, str]]:
        """The invocation URL of an endpoint and the headers a request needs."""
        raise self._unsupported("endpoints")

    def batch_predict(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start a batch prediction job; returns its record."""
        raise self._unsupported("batch prediction")

    def batch_job(
        self, ref: str, wait: float | None = None, status: str = "", rows: int = -1
    ) -> dict[str, Any]:
        """One batch prediction job with its progress and shards.

        With ``wait``, answers as soon as its status differs from ``status`` or its
        rows done from ``rows``, or after ``wait`` seconds.
        """
        raise self._unsupported("batch prediction")

    def batch_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        """Batch prediction jobs, newest first."""
        raise self._unsupported("batch prediction")

    def stop_batch(self, ref: str) -> dict[str, Any]:
        """Stop a batch prediction job."""
        raise self._unsupported("batch prediction")

    def costs(self) -> dict[str, Any]:
        """Costs so far: totals, by day, by resource type (see :mod:`jupyter_serverless_ml.costs`)."""
        raise self._unsupported("cost reports")

    def alerts(self) -> list[dict[str, Any]]:
        """Drift and monitor alerts, newest first."""
        raise self._unsupported("alerts")

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any]:
        """Acknowledge an alert."""
        raise self._unsupported("alerts")
