"""What the pipelines API returns: :class:`PipelineRun` (a run you can wait for) and
:class:`PipelineRunList` (a table of runs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..backends.pipelines_part import Pipelines, run_fingerprint
from ..display import clock, html_table, status_badge, text_table
from ..errors import JsmlError
from ..platform.pipelines.records import PipelineRunRecord, StepRunRecord

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})


class PipelineFailed(JsmlError):
    """A pipeline run ended Failed or Stopped; ``run`` is the :class:`PipelineRun`."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        record = run.record
        super().__init__(
            f"pipeline run {record.id} {str(record.status).lower()}: "
            f"{record.failure_reason or 'no reason recorded'}\n"
            f"(steps: %pipeline_runs --run {record.id}   a step's log: "
            f"jsml pipeline-runs {record.id} --logs STEP)"
        )


def _metrics(step: StepRunRecord) -> str:
    shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(step.metrics.items()))
    if "result" in step.metadata:
        shown = f"{step.metadata.get('expression')}: {step.metadata['result']}"
    return shown


def _output(step: StepRunRecord) -> str:
    out = step.outputs
    if out.get("endpoint"):
        return f"endpoint {out['endpoint']} ({out.get('model')}:{out.get('version')})"
    if out.get("model"):
        return f"{out['model']}:{out.get('version')}"
    return str(out.get("uri") or "")


def _rows(record: PipelineRunRecord) -> list[list[Any]]:
    return [
        [
            s.name,
            s.kind,
            s.status,
            "hit" if s.cache_hit else "",
            f"{s.duration:.1f}s" if s.duration is not None else "",
            _metrics(s),
            _output(s) or (s.failure_reason or ""),
        ]
        for s in record.steps
    ]


_HEADERS = ["step", "kind", "status", "cache", "duration", "metrics", "output"]


class PipelineRun:
    """A pipeline run: ``.status``, ``.steps``, ``.step(name)``, ``.wait()``, ``.logs(step)``,
    ``.output(step)``, ``.stop()``; shown as a table of its steps."""

    def __init__(self, backend: Pipelines, record: PipelineRunRecord) -> None:
        self._backend = backend
        self.record = record

    @property
    def id(self) -> str:
        """The run id."""
        return self.record.id

    @property
    def status(self) -> str:
        """Executing, Stopping, Succeeded, Failed or Stopped."""
        return str(self.record.status)

    @property
    def steps(self) -> tuple[StepRunRecord, ...]:
        """Every step with its status, cache hit, metrics and outputs."""
        return self.record.steps

    def step(self, name: str) -> StepRunRecord:
        """One step by name."""
        return self.record.step(name)

    def refresh(self) -> PipelineRun:
        """Fetch the run's current state."""
        self.record = self._backend.pipeline_run(self.id)
        return self

    def wait(
        self,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        write: Callable[[str], Any] | None = None,
    ) -> PipelineRun:
        """Wait until the run ends, printing each step's status change; raises
        :class:`PipelineFailed` when it fails (unless ``raise_on_failure`` is false)."""
        out = write or (lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        seen = {s.name: str(s.status) for s in self.steps}
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status not in TERMINAL:
            left = 10.0 if deadline is None else min(10.0, deadline - time.monotonic())
            if left <= 0:
                break
            self.record = self._backend.pipeline_run(
                self.id, wait=left, seen=run_fingerprint(self.record)
            )
            for step in self.steps:
                if seen.get(step.name) != step.status:
                    seen[step.name] = str(step.status)
                    note = " (cache hit)" if step.cache_hit else ""
                    reason = f": {step.failure_reason}" if step.failure_reason else ""
                    out(f"[{clock(time.time())}] {self.id} {step.name}: {step.status}{note}{reason}\n")
        if raise_on_failure and self.status in ("Failed", "Stopped"):
            raise PipelineFailed(self)
        return self

    def logs(self, step: str) -> str:
        """A step's log: what the platform did for it, then its job's output."""
        return self._backend.pipeline_step_logs(self.id, step).text

    def output_path(self, step: str) -> Path:
        """Where a step's output lies (a model directory, or the data a function returned)."""
        outputs = self.step(step).outputs
        if not outputs.get("path"):
            raise JsmlError(f"step {step!r} of run {self.id} has no output files")
        base = Path(str(outputs["path"]))
        return base / ("model" if outputs.get("model") else "data")

    def output(self, step: str) -> Any:
        """Load a function step's return value, or a model step's model, into this kernel.

        This unpickles what the step's job wrote: only do it for code you trust (as
        with ``load_model``)."""
        path = self.output_path(step)
        if self.step(step).outputs.get("model"):
            from ..runtime import flavors

            return flavors.load(path)
        import cloudpickle

        with open(path / "return.pkl", "rb") as fh:
            return cloudpickle.load(fh)

    def stop(self) -> PipelineRun:
        """Stop the run."""
        self.record = self._backend.stop_pipeline_run(self.id)
        return self

    def __repr__(self) -> str:
        head = f"pipeline run {self.id}: {self.status}, {self.record.cache_hits} cache hit(s)"
        if self.record.failure_reason:
            head += f" ({self.record.failure_reason})"
        return head + "\n" + text_table(_HEADERS, _rows(self.record))

    def _repr_html_(self) -> str:
        head = (
            f"<b>pipeline run {self.id}</b> {status_badge(self.status)} "
            f"{self.record.cache_hits} cache hit(s)"
        )
        return head + html_table(_HEADERS, _rows(self.record))


class PipelineRunList(list[PipelineRun]):
    """Runs, newest first, shown as a table."""

    def __init__(self, runs: Iterable[PipelineRun] = ()) -> None:
        super().__init__(runs)

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        headers = ["run", "pipeline", "status", "started", "duration", "steps", "cache hits"]
        rows = [
            [
                r.id,
                r.record.pipeline,
                r.status,
                clock(r.record.started_at),
                f"{r.record.duration:.1f}s" if r.record.duration is not None else "",
                " ".join(f"{s.name}:{s.status}" for s in r.steps),
                r.record.cache_hits,
            ]
            for r in self
        ]
        return headers, rows

    def __repr__(self) -> str:
        return text_table(*self._table()) if self else "no pipeline runs"

    def _repr_html_(self) -> str:
        return html_table(*self._table()) if self else "<i>no pipeline runs</i>"


__all__ = ["PipelineFailed", "PipelineRun", "PipelineRunList"]
