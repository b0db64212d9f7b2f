"""The schedules capability part of the backend protocol: notebooks run on a schedule.

A backend with scheduled notebooks derives from :class:`Schedules` (listed in
``protocol.PARTS`` under ``Feature.SCHEDULES``). The backend runs the notebook with
papermill on its own clock (the local platform's daemon), keeps every executed
notebook, and records each run's status, timing, parameters and output.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..records import Record, ScheduleRecord, ScheduleRunRecord


@dataclass(frozen=True)
class ScheduleRequest(Record):
    """A schedule to create: ``notebook`` (an absolute path) on ``cron`` (in ``timezone``) or
    every ``interval`` seconds, with papermill ``parameters``; ``catch_up`` runs once at start
    for fire times missed while the backend was down (else they are recorded as Skipped)."""

    name: str
    notebook: str
    cron: str | None = None
    interval: float | None = None
    timezone: str = "UTC"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    catch_up: bool = True
    cwd: str | None = None
    kernel: str | None = None
    timeout: float | None = None
    output_dir: str | None = None
    replace: bool = False


class Schedules(abc.ABC):
    """Notebooks run on a schedule, their runs and executed notebooks."""

    @abc.abstractmethod
    def create_schedule(self, request: ScheduleRequest) -> ScheduleRecord:
        """Create a schedule (it fires first at its next time)."""

    @abc.abstractmethod
    def schedules(self) -> list[ScheduleRecord]:
        """Every schedule with its next run and its last run's status."""

    @abc.abstractmethod
    def schedule(self, name: str) -> ScheduleRecord:
        """One schedule; :class:`NotFound` otherwise."""

    @abc.abstractmethod
    def pause_schedule(self, name: str, paused: bool = True) -> ScheduleRecord:
        """Stop (``paused``) or restart firing."""

    @abc.abstractmethod
    def delete_schedule(self, name: str) -> ScheduleRecord:
        """Delete a schedule (its runs and executed notebooks stay)."""

    @abc.abstractmethod
    def run_schedule(
        self, name: str, parameters: Mapping[str, Any] | None = None
    ) -> ScheduleRunRecord:
        """Run the schedule's notebook now (``parameters`` override the schedule's)."""

    @abc.abstractmethod
    def schedule_runs(self, name: str | None = None, limit: int = 100) -> list[ScheduleRunRecord]:
        """Runs, newest first (of one schedule)."""

    @abc.abstractmethod
    def schedule_run(self, run_id: str) -> ScheduleRunRecord:
        """One run."""


__all__ = ["ScheduleRequest", "Schedules"]
