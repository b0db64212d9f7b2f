"""The local backend's pipelines part: runs are executed by the platform daemon's pipeline
service (:mod:`jupyter_serverless_ml.platform.pipelines`), so a run goes on when the
kernel that started it dies. Log cursors are byte offsets of the step's job log."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import UsageError
from ..platform.pipelines.records import PipelineRecord, PipelineRunRecord
from ..platform.pipelines.spec import PipelineSpec
from ..records import LogPage
from .pipelines_part import Pipelines


def _q(value: str) -> str:
    return quote(value, safe="")


class LocalPipelines(Pipelines):
    """Mixed into :class:`~.local.LocalBackend` (which provides ``_call``)."""

    def _call(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0, **params: Any
    ) -> Any:
        raise NotImplementedError  # LocalBackend's own _call is the one used

    def run_pipeline(self, spec: PipelineSpec, use_cache: bool = True) -> PipelineRunRecord:
        body = {"spec": spec.to_wire(), "use_cache": use_cache}
        return PipelineRunRecord.from_wire(self._call("POST", "/v1/pipelines", body, timeout=120.0))

    def rerun_pipeline(self, name: str, use_cache: bool = True) -> PipelineRunRecord:
        body = {"use_cache": use_cache}
        reply = self._call("POST", f"/v1/pipelines/{_q(name)}/runs", body, timeout=120.0)
        return PipelineRunRecord.from_wire(reply)

    def pipeline_spec(self, name: str) -> PipelineSpec:
        reply = self._call("GET", f"/v1/pipelines/{_q(name)}/spec")
        return PipelineSpec.from_wire(reply["spec"])

    def pipelines(self) -> list[PipelineRecord]:
        return [PipelineRecord.from_wire(p) for p in self._call("GET", "/v1/pipelines")["pipelines"]]

    def pipeline_runs(self, name: str | None = None, limit: int = 50) -> list[PipelineRunRecord]:
        path = f"/v1/pipelines/{_q(name)}/runs" if name else "/v1/pipeline-runs"
        reply = self._call("GET", path, limit=limit)
        return [PipelineRunRecord.from_wire(r) for r in reply["runs"]]

    def pipeline_run(
        self, run_id: str, wait: float | None = None, seen: str = ""
    ) -> PipelineRunRecord:
        path = f"/v1/pipeline-runs/{_q(run_id)}"
        if wait is None:
            return PipelineRunRecord.from_wire(self._call("GET", path))
        reply = self._call("GET", path, wait=wait, seen=seen, timeout=wait + 30)
        return PipelineRunRecord.from_wire(reply)

    def stop_pipeline_run(self, run_id: str) -> PipelineRunRecord:
        return PipelineRunRecord.from_wire(
            self._call("POST", f"/v1/pipeline-runs/{_q(run_id)}/stop")
        )

    def pipeline_step_logs(self, run_id: str, step: str, cursor: str | None = None) -> LogPage:
        try:
            offset = int(cursor or 0)
        except ValueError:
            raise UsageError(f"log cursor {cursor!r} did not come from the local backend") from None
        path = f"/v1/pipeline-runs/{_q(run_id)}/steps/{_q(step)}/logs"
        reply = self._call("GET", path, offset=offset)
        text = reply["text"] if offset else str(reply["notes"]) + str(reply["text"])
        return LogPage(text=text, cursor=str(int(reply["offset"])))


__all__ = ["LocalPipelines"]
