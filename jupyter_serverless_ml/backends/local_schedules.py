"""The local backend's schedules part: the platform daemon runs the notebooks (see
:mod:`jupyter_serverless_ml.platform.schedules`), so schedules outlive kernels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..records import ScheduleRecord, ScheduleRunRecord
from .schedules_part import ScheduleRequest, Schedules


def _path(name: str) -> str:
    return f"/v1/schedules/{quote(name, safe='')}"


class LocalSchedules(Schedules):
    """Mixed into :class:`~.local.LocalBackend` (which provides ``_call``)."""

    def _call(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0, **params: Any
    ) -> Any:
        raise NotImplementedError  # LocalBackend's own _call is the one used

    def create_schedule(self, request: ScheduleRequest) -> ScheduleRecord:
        return ScheduleRecord.from_wire(self._call("POST", "/v1/schedules", request.to_wire()))

    def schedules(self) -> list[ScheduleRecord]:
        return [
            ScheduleRecord.from_wire(s) for s in self._call("GET", "/v1/schedules")["schedules"]
        ]

    def schedule(self, name: str) -> ScheduleRecord:
        return ScheduleRecord.from_wire(self._call("GET", _path(name)))

    def pause_schedule(self, name: str, paused: bool = True) -> ScheduleRecord:
        verb = "pause" if paused else "resume"
        return ScheduleRecord.from_wire(self._call("POST", f"{_path(name)}/{verb}"))

    def delete_schedule(self, name: str) -> ScheduleRecord:
        return ScheduleRecord.from_wire(self._call("POST", f"{_path(name)}/delete"))

    def run_schedule(
        self, name: str, parameters: Mapping[str, Any] | None = None
    ) -> ScheduleRunRecord:
        body = {"parameters": dict(parameters or {})}
        return ScheduleRunRecord.from_wire(self._call("POST", f"{_path(name)}/run", body))

    def schedule_runs(self, name: str | None = None, limit: int = 100) -> list[ScheduleRunRecord]:
        if name:
            reply = self._call("GET", f"{_path(name)}/runs", limit=limit)
        else:
            reply = self._call("GET", "/v1/schedule-runs", limit=limit)
        return [ScheduleRunRecord.from_wire(r) for r in reply["runs"]]

    def schedule_run(self, run_id: str) -> ScheduleRunRecord:
        return ScheduleRunRecord.from_wire(
            self._call("GET", f"/v1/schedule-runs/{quote(run_id, safe='')}")
        )


__all__ = ["LocalSchedules"]
