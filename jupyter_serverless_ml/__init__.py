"""jupyter-serverless-ml: managed ("serverless") ML from a notebook.

``%load_ext jupyter_serverless_ml`` registers the magics; the same operations are
plain functions here (``train``, ``jobs``, ``deploy``, ``batch_predict``, ``models``,
``costs``, ...), each from the package of its capability (``training``, ``registry``,
``serving``, ``batch``, ``monitoring``). Inside a training job, ``channel``, ``hp`` and
``log_metric`` give the job's data, hyperparameters and metrics.

Names are imported lazily so that loading the extension stays fast and no
cloud SDK is imported until a backend needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

_EXPORTS = {
    "train": "training",
    "job": "training",
    "jobs": "training",
    "logs": "training",
    "follow_logs": "training",
    "stop": "training",
    "bundle": "training",
    "export_bundle": "training",
    "Job": "training",
    "JobList": "training",
    "Progress": "training",
    "models": "registry",
    "model": "registry",
    "load_model": "registry",
    "ModelVersion": "registry",
    "ModelList": "registry",
    "deploy": "serving",
    "endpoints": "serving",
    "endpoint": "serving",
    "traffic": "serving",
    "rollback": "serving",
    "undeploy": "serving",
    "Endpoint": "serving",
    "EndpointList": "serving",
    "batch_predict": "batch",
    "batch_job": "batch",
    "batch_jobs": "batch",
    "BatchJob": "batch",
    "costs": "monitoring",
    "cost": "monitoring",
    "cost_advice": "monitoring",
    "alerts": "monitoring",
    "acknowledge_alert": "monitoring",
    "channel": "runtime.context",
    "hp": "runtime.context",
    "log_metric": "runtime.context",
    "use_backend": "backends",
    "set_default_backend": "config",
    "Feature": "statuses",
    "JsmlError": "errors",
    "UsageError": "errors",
    "CaptureError": "errors",
    "ConfigError": "errors",
    "BackendError": "errors",
    "PlatformUnavailable": "errors",
    "NotFound": "errors",
    "Conflict": "errors",
    "JobFailed": "errors",
    "PredictionError": "errors",
    "tune": "tuning",
    "study": "tuning",
    "studies": "tuning",
    "resume": "tuning",
    "stop_study": "tuning",
    "Study": "tuning",
    "StudyList": "tuning",
    "StudyProgress": "tuning",
    "promote": "registry",
    "approve": "registry",
    "reject": "registry",
    "PromotionRefused": "registry",
    "schedule": "schedules",
    "schedule_runs": "schedules",
    "run_schedule": "schedules",
}
__all__ = [
    "BackendError",
    "BatchJob",
    "CaptureError",
    "ConfigError",
    "Conflict",
    "Endpoint",
    "EndpointList",
    "Feature",
    "Job",
    "JobFailed",
    "JobList",
    "JsmlError",
    "ModelList",
    "ModelVersion",
    "NotFound",
    "PlatformUnavailable",
    "PredictionError",
    "Progress",
    "PromotionRefused",
    "Study",
    "StudyList",
    "StudyProgress",
    "UsageError",
    "acknowledge_alert",
    "alerts",
    "approve",
    "batch_job",
    "batch_jobs",
    "batch_predict",
    "bundle",
    "channel",
    "cost",
    "cost_advice",
    "costs",
    "deploy",
    "endpoint",
    "endpoints",
    "export_bundle",
    "follow_logs",
    "hp",
    "job",
    "jobs",
    "load_ipython_extension",
    "load_model",
    "log_metric",
    "logs",
    "model",
    "models",
    "promote",
    "reject",
    "resume",
    "rollback",
    "run_schedule",
    "schedule",
    "schedule_runs",
    "set_default_backend",
    "stop",
    "stop_study",
    "studies",
    "study",
    "traffic",
    "train",
    "tune",
    "undeploy",
    "unload_ipython_extension",
    "use_backend",
]

if TYPE_CHECKING:
    from .backends import use_backend
    from .batch import BatchJob, batch_job, batch_jobs, batch_predict
    from .config import set_default_backend
    from .errors import (
        BackendError,
        CaptureError,
        ConfigError,
        Conflict,
        JobFailed,
        JsmlError,
        NotFound,
        PlatformUnavailable,
        PredictionError,
        UsageError,
    )
    from .monitoring import acknowledge_alert, alerts, cost, cost_advice, costs
    from .registry import (
        ModelList,
        ModelVersion,
        PromotionRefused,
        approve,
        load_model,
        model,
        models,
        promote,
        reject,
    )
    from .runtime.context import channel, hp, log_metric
    from .schedules import run_schedule, schedule, schedule_runs
    from .serving import (
        Endpoint,
        EndpointList,
        deploy,
        endpoint,
        endpoints,
        rollback,
        traffic,
        undeploy,
    )
    from .statuses import Feature
    from .training import (
        Job,
        JobList,
        Progress,
        bundle,
        export_bundle,
        follow_logs,
        job,
        jobs,
        logs,
        stop,
        train,
    )
    from .tuning import (
        Study,
        StudyList,
        StudyProgress,
        resume,
        stop_study,
        studies,
        study,
        tune,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_serverless_ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_serverless_ml``: register the magics."""
    from .frontends.magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: magics stay registered until the kernel restarts."""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The jupyter-server extension (the sidebar's REST API)."""
    return [{"module": "jupyter_serverless_ml.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the sidebar)."""
    return [{"src": "labextension", "dest": "jupyter-serverless-ml"}]
