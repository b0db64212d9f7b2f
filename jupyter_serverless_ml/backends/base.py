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
        self, *, status: list[str] | None = None, name: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Jobs, newest first."""

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
