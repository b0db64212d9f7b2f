"""jupyter-serverless-ml: managed ("serverless") ML from a notebook.

``%load_ext jupyter_serverless_ml`` registers the magics; the same operations are
plain functions here (``train``, ``jobs``, ``job``, ``logs``, ``stop``, ``models``,
``model``, ``load_model``). Inside a training job, ``channel``, ``hp`` and
``log_metric`` give the job's data, hyperparameters and metrics.

Names are imported lazily so that loading the extension stays fast and no
cloud SDK is imported until a backend needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "train": "api",
    "job": "api",
    "jobs": "api",
    "logs": "api",
    "follow_logs": "api",
    "stop": "api",
    "bundle": "api",
    "export_bundle": "api",
    "models": "api",
    "model": "api",
    "load_model": "api",
    "Job": "handles",
    "JobList": "handles",
    "ModelVersion": "handles",
    "ModelList": "handles",
    "Progress": "handles",
    "channel": "runtime.context",
    "hp": "runtime.context",
    "log_metric": "runtime.context",
    "set_default_backend": "config",
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
    "deploy": "serving",
    "endpoints": "serving",
    "endpoint": "serving",
    "traffic": "serving",
    "rollback": "serving",
    "undeploy": "serving",
    "batch_predict": "serving",
    "batch_job": "serving",
    "batch_jobs": "serving",
    "Endpoint": "serving_handles",
    "EndpointList": "serving_handles",
    "BatchJob": "serving_handles",
}
__all__ = [
    "BackendError",
    "BatchJob",
    "CaptureError",
    "ConfigError",
    "Conflict",
    "Endpoint",
    "EndpointList",
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
    "UsageError",
    "batch_job",
    "batch_jobs",
    "batch_predict",
    "bundle",
    "channel",
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
    "rollback",
    "set_default_backend",
    "stop",
    "traffic",
    "train",
    "undeploy",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from .api import (
        bundle,
        export_bundle,
        follow_logs,
        job,
        jobs,
        load_model,
        logs,
        model,
        models,
        stop,
        train,
    )
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
    from .handles import Job, JobList, ModelList, ModelVersion, Progress
    from .runtime.context import channel, hp, log_metric
    from .serving import (
        batch_job,
        batch_jobs,
        batch_predict,
        deploy,
        endpoint,
        endpoints,
        rollback,
        traffic,
        undeploy,
    )
    from .serving_handles import BatchJob, Endpoint, EndpointList


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_serverless_ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_serverless_ml``: register the magics."""
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: magics stay registered until the kernel restarts."""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The jupyter-server extension (the sidebar's REST API)."""
    return [{"module": "jupyter_serverless_ml.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the sidebar)."""
    return [{"src": "labextension", "dest": "jupyter-serverless-ml"}]
