"""Every status and capability name, defined once.

The platform stores these strings, the backends return them, the handles and
magics test them, and the sidebar gets them from ``GET /serverless-ml/api/backends``
(never retyped in TypeScript). The enums are ``str`` subclasses, so a status
compares equal to its wire string (``JobStatus.RUNNING == "Running"``).

This module imports nothing else of the package: every layer may use it.
"""

from __future__ import annotations

from enum import Enum


class _Name(str, Enum):
    """A name that is its own wire string (``str(JobStatus.RUNNING) == "Running"``)."""

    def __str__(self) -> str:
        return str(self.value)


class JobStatus(_Name):
    """A training job's lifecycle (SageMaker's names)."""

    PENDING = "Pending"
    PREPARING = "Preparing"
    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


class EndpointStatus(_Name):
    """An endpoint's lifecycle (SageMaker's names)."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    DELETING = "Deleting"
    DELETED = "Deleted"
    FAILED = "Failed"


class BatchStatus(_Name):
    """A batch prediction job's lifecycle."""

    PENDING = "Pending"
    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


class Feature(_Name):
    """A capability part of the backend protocol (see :mod:`jupyter_serverless_ml.backends.protocol`).

    A backend's features are the parts it implements; ``training`` is required, and
    the sidebar shows a tab only for features some served backend has.
    """

    TRAINING = "training"
    REGISTRY = "registry"
    SERVING = "serving"
    BATCH = "batch"
    MONITORING = "monitoring"
    TUNING = "tuning"
    SCHEDULES = "schedules"
    PIPELINES = "pipelines"


class ModelStage(_Name):
    """Where a model version is in its lifecycle (MLflow's stages; a SageMaker model package's
    ``jsml:stage`` metadata, a Vertex version alias)."""

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class ModelApproval(_Name):
    """A model version's approval (SageMaker's ``ModelApprovalStatus``)."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class ScheduleRunStatus(_Name):
    """A scheduled notebook run's lifecycle."""

    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class StudyStatus(_Name):
    """A hyperparameter tuning study's lifecycle."""

    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


class TrialStatus(_Name):
    """One trial of a tuning study (a training job); ``Pruned``: stopped early by the pruner."""

    RUNNING = "Running"
    COMPLETED = "Completed"
    PRUNED = "Pruned"
    FAILED = "Failed"
    STOPPED = "Stopped"


class PipelineStatus(_Name):
    """A pipeline run's lifecycle (SageMaker's PipelineExecutionStatus names)."""

    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class StepStatus(_Name):
    """One step of a pipeline run (SageMaker's StepStatus names; ``Pending``: waits for its
    upstream steps, ``Skipped``: a condition's other branch, or an upstream step failed)."""

    PENDING = "Pending"
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"


#: Job statuses after which nothing changes.
JOB_TERMINAL: frozenset[str] = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED})
#: Job statuses of a job that still holds (or waits for) resources.
JOB_ACTIVE: frozenset[str] = frozenset(JobStatus) - JOB_TERMINAL
#: Batch statuses after which nothing changes.
BATCH_TERMINAL: frozenset[str] = frozenset(
    {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.STOPPED}
)
#: Endpoint statuses of an endpoint that is going away.
ENDPOINT_GONE: frozenset[str] = frozenset({EndpointStatus.DELETING, EndpointStatus.DELETED})


def vocabulary() -> dict[str, list[str]]:
    """Every status list, as the sidebar API serves it."""
    return {
        "job": [s.value for s in JobStatus],
        "job_terminal": sorted(s for s in JOB_TERMINAL),
        "job_active": [s.value for s in JobStatus if s in JOB_ACTIVE],
        "endpoint": [s.value for s in EndpointStatus],
        "batch": [s.value for s in BatchStatus],
        "batch_terminal": sorted(s for s in BATCH_TERMINAL),
        "feature": [f.value for f in Feature],
        "model_stage": [s.value for s in ModelStage],
        "model_approval": [s.value for s in ModelApproval],
        "schedule_run": [s.value for s in ScheduleRunStatus],
        "study": [s.value for s in StudyStatus],
        "trial": [s.value for s in TrialStatus],
        "pipeline_run": [s.value for s in PipelineStatus],
        "pipeline_step": [s.value for s in StepStatus],
    }


__all__ = [
    "BATCH_TERMINAL",
    "ENDPOINT_GONE",
    "JOB_ACTIVE",
    "JOB_TERMINAL",
    "BatchStatus",
    "EndpointStatus",
    "Feature",
    "JobStatus",
    "ModelApproval",
    "ModelStage",
    "PipelineStatus",
    "ScheduleRunStatus",
    "StepStatus",
    "StudyStatus",
    "TrialStatus",
    "vocabulary",
]
