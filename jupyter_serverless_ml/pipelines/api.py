"""Pipelines: the Python API (the ``%%pipeline`` magic, the CLI and the server extension
call these). Declare one with :class:`~.builder.Pipeline`, then ``run_pipeline(p)`` or
``p.run()`` (see :func:`run`)."""

from __future__ import annotations

from ..backends import get_backend
from ..backends.pipelines_part import Pipelines
from ..backends.protocol import require
from ..platform.pipelines.records import PipelineRecord
from .builder import Pipeline
from .handles import PipelineRun, PipelineRunList


def _part(backend: str | None) -> Pipelines:
    return require(get_backend(backend), Pipelines)


def run(
    pipeline: Pipeline, *, wait: bool = True, use_cache: bool = True, timeout: float | None = None
) -> PipelineRun:
    """Send ``pipeline`` to its backend and start a run (steps whose inputs are unchanged
    since an earlier run are served from the cache unless ``use_cache`` is false).
    ``wait`` blocks until the run ends and raises :class:`~.handles.PipelineFailed` if it fails."""
    part = _part(pipeline.backend)
    handle = PipelineRun(part, part.run_pipeline(pipeline.spec(), use_cache=use_cache))
    if wait:
        handle.wait(timeout=timeout)
    return handle


def rerun(
    name: str, *, backend: str | None = None, wait: bool = True, use_cache: bool = True
) -> PipelineRun:
    """Run the stored pipeline ``name`` again (its code as it was when last sent)."""
    part = _part(backend)
    handle = PipelineRun(part, part.rerun_pipeline(name, use_cache=use_cache))
    if wait:
        handle.wait()
    return handle


def pipelines(backend: str | None = None) -> list[PipelineRecord]:
    """Every stored pipeline with its steps, edges and newest run."""
    return _part(backend).pipelines()


def pipeline_runs(
    name: str | None = None, limit: int = 20, backend: str | None = None
) -> PipelineRunList:
    """Runs (of one pipeline), newest first."""
    part = _part(backend)
    return PipelineRunList(PipelineRun(part, r) for r in part.pipeline_runs(name, limit))


def pipeline_run(run_id: str, backend: str | None = None) -> PipelineRun:
    """One run by id."""
    part = _part(backend)
    return PipelineRun(part, part.pipeline_run(run_id))


def stop_pipeline_run(run_id: str, backend: str | None = None) -> PipelineRun:
    """Stop a run."""
    return pipeline_run(run_id, backend).stop()


def step_logs(run_id: str, step: str, backend: str | None = None) -> str:
    """A step's log."""
    return _part(backend).pipeline_step_logs(run_id, step).text


__all__ = [
    "pipeline_run",
    "pipeline_runs",
    "pipelines",
    "rerun",
    "run",
    "step_logs",
    "stop_pipeline_run",
]
