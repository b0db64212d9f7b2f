"""Pipelines: steps (train, evaluate, condition, register, deploy, batch, any function)
joined into a DAG, run with caching by input hashes (see :mod:`.builder`, :mod:`.api`)."""

from .api import (
    pipeline_run,
    pipeline_runs,
    pipelines,
    rerun,
    run,
    step_logs,
    stop_pipeline_run,
)
from .builder import Branch, Pipeline, Step
from .handles import PipelineFailed, PipelineRun, PipelineRunList

__all__ = [
    "Branch",
    "Pipeline",
    "PipelineFailed",
    "PipelineRun",
    "PipelineRunList",
    "Step",
    "pipeline_run",
    "pipeline_runs",
    "pipelines",
    "rerun",
    "run",
    "step_logs",
    "stop_pipeline_run",
]
