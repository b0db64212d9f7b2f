"""The pipelines capability part of the backend protocol: DAGs of steps run by the backend.

A backend with pipelines derives from :class:`Pipelines` (listed in ``protocol.PARTS``
under ``Feature.PIPELINES``). It stores a pipeline's definition, runs it with caching
by input hashes and per-step retries, and records every step's status, logs, metadata
and outputs. The definition (:class:`PipelineSpec`) and the records are defined in
:mod:`jupyter_serverless_ml.platform.pipelines` (the local platform runs them; the
SageMaker and Vertex exporters read the same definition).
"""

from __future__ import annotations

import abc

from ..errors import UsageError
from ..platform.pipelines.records import PipelineRecord, PipelineRunRecord
from ..platform.pipelines.spec import PipelineSpec
from ..records import LogPage


class Pipelines(abc.ABC):
    """Pipeline definitions and runs."""

    @abc.abstractmethod
    def run_pipeline(self, spec: PipelineSpec, use_cache: bool = True) -> PipelineRunRecord:
        """Store ``spec`` (replacing a definition of that name) and start a run of it;
        returns the run once acknowledged (every step Pending)."""

    @abc.abstractmethod
    def rerun_pipeline(self, name: str, use_cache: bool = True) -> PipelineRunRecord:
        """Start a new run of the stored pipeline ``name``."""

    @abc.abstractmethod
    def pipelines(self) -> list[PipelineRecord]:
        """Every stored pipeline with its newest run."""

    @abc.abstractmethod
    def pipeline_runs(self, name: str | None = None, limit: int = 50) -> list[PipelineRunRecord]:
        """Runs (of one pipeline), newest first, with their steps."""

    @abc.abstractmethod
    def pipeline_run(
        self, run_id: str, wait: float | None = None, seen: str = ""
    ) -> PipelineRunRecord:
        """One run. With ``wait``, answers as soon as the run's or a step's status differs
        from ``seen`` (``run_fingerprint`` of the run the caller has), or after ``wait`` s."""

    @abc.abstractmethod
    def stop_pipeline_run(self, run_id: str) -> PipelineRunRecord:
        """Stop a run: executing steps are stopped, pending ones skipped."""

    @abc.abstractmethod
    def pipeline_step_logs(self, run_id: str, step: str, cursor: str | None = None) -> LogPage:
        """A step's log (what the backend did for it, then its job's output) after ``cursor``."""

    def pipeline_spec(self, name: str) -> PipelineSpec:
        """The stored definition of ``name`` with its built steps (what an export reads);
        a backend that keeps none refuses."""
        raise UsageError(
            f"the {type(self).__name__} backend keeps no pipeline definitions to export; "
            "export the Pipeline object (p.to_sagemaker(), p.to_vertex())"
        )


def run_fingerprint(run: PipelineRunRecord) -> str:
    """The run's status and each step's, as one string (what ``pipeline_run(wait=)`` compares)."""
    return ",".join([str(run.status), *(f"{s.name}={s.status}" for s in run.steps)])


__all__ = ["Pipelines", "run_fingerprint"]
