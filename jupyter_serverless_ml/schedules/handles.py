"""Handles of schedules and their runs: :class:`Schedule`, :class:`ScheduleRun` and their lists."""

from __future__ import annotations

import html
import time
from typing import Any

from ..backends import Backend, require
from ..backends.schedules_part import Schedules
from ..display import html_table, text_table, when
from ..errors import JsmlError
from ..records import ScheduleRecord, ScheduleRunRecord
from ..statuses import ScheduleRunStatus


def _fires(record: ScheduleRecord) -> str:
    if record.cron:
        return f"cron {record.cron} ({record.timezone})"
    return f"every {every(record.interval)}" if record.interval else "-"


def every(seconds: float) -> str:
    """An interval as ``--every`` takes it: 3600 -> ``1h``, 5400 -> ``1h30m``, 0.5 -> ``0.5s``."""
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _params(values: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in dict(values or {}).items()) or "-"


class Schedule:
    """A notebook on a schedule: ``name``, ``notebook``, when it fires, ``next_run_at``;
    ``.runs()``, ``.run_now()``, ``.pause()``, ``.resume()``, ``.delete()``."""

    def __init__(self, backend: Backend, record: ScheduleRecord) -> None:
        self._backend = backend
        self.record = record
        self.name = record.name

    def _part(self) -> Schedules:
        return require(self._backend, Schedules)

    def runs(self, limit: int = 50) -> RunList:
        """This schedule's runs, newest first."""
        found = self._part().schedule_runs(self.name, limit)
        return RunList(ScheduleRun(self._backend, r) for r in found)

    def run_now(self, parameters: dict[str, Any] | None = None) -> ScheduleRun:
        """Start a run now."""
        return ScheduleRun(self._backend, self._part().run_schedule(self.name, parameters))

    def pause(self) -> Schedule:
        """Stop firing."""
        return Schedule(self._backend, self._part().pause_schedule(self.name, True))

    def resume(self) -> Schedule:
        """Fire again, next from now."""
        return Schedule(self._backend, self._part().pause_schedule(self.name, False))

    def delete(self) -> Schedule:
        """Delete the schedule (its runs stay)."""
        return Schedule(self._backend, self._part().delete_schedule(self.name))

    def __repr__(self) -> str:
        r = self.record
        if r.details.get("deleted_at"):
            return (
                f"Schedule {r.name} deleted ({r.notebook}, {_fires(r)}); it fires no more, its "
                f"runs and executed notebooks stay (%schedules shows them)"
            )
        state = "" if r.enabled else " [paused]"
        return (
            f"Schedule {r.name}{state}: {r.notebook}, {_fires(r)}, catch-up "
            f"{'on' if r.catch_up else 'off'}\n  parameters {_params(r.parameters)}\n"
            f"  next run {when(r.next_run_at)}, last run "
            + (f"{when(r.last_run_at)} ({r.last_status or '-'})" if r.last_run_at else "none yet")
        )


class ScheduleList(list[Schedule]):
    """Schedules as a table."""

    HEADERS = ("schedule", "notebook", "fires", "parameters", "next run", "last run", "last status")

    def _rows(self) -> list[list[Any]]:
        return [
            [
                s.name + ("" if s.record.enabled else " (paused)"),
                s.record.notebook,
                _fires(s.record),
                _params(s.record.parameters),
                when(s.record.next_run_at),
                when(s.record.last_run_at),
                ("status", s.record.last_status) if s.record.last_status else None,
            ]
            for s in self
        ]

    def __repr__(self) -> str:
        return (
            text_table(
                self.HEADERS,
                [[c[1] if isinstance(c, tuple) else c for c in row] for row in self._rows()],
            )
            if self
            else "no schedules"
        )

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, self._rows()) if self else "<i>no schedules</i>"


class ScheduleRun:
    """One run of a scheduled notebook: ``status``, ``duration``, ``parameters``,
    ``output_uri`` (the executed notebook), ``link`` (``/lab/tree/...``); ``.wait()``."""

    def __init__(self, backend: Backend, record: ScheduleRunRecord) -> None:
        self._backend = backend
        self.record = record
        self.id = record.id

    @property
    def status(self) -> str:
        """Running, Completed, Failed or Skipped."""
        return str(self.record.status)

    @property
    def duration(self) -> float | None:
        """Seconds the run took (None while it runs)."""
        return self.record.duration

    @property
    def link(self) -> str | None:
        """Where Lab opens the executed notebook (relative to the schedule's directory)."""
        return f"/lab/tree/{self.record.lab_path}" if self.record.lab_path else None

    def refresh(self) -> ScheduleRun:
        """Read the run again."""
        self.record = require(self._backend, Schedules).schedule_run(self.id)
        return self

    def wait(self, timeout: float = 3600.0, poll: float = 0.5) -> ScheduleRun:
        """Wait until the run ends; a Failed run raises :class:`JsmlError` with its reason."""
        deadline = time.monotonic() + timeout
        while self.refresh().status == ScheduleRunStatus.RUNNING:
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {self.id} still runs after {timeout:g}s")
            time.sleep(poll)
        if self.status == ScheduleRunStatus.FAILED:
            raise JsmlError(f"scheduled run {self.id} failed: {self.record.failure_reason}")
        return self

    def __repr__(self) -> str:
        r = self.record
        took = f" in {r.duration:.1f}s" if r.duration is not None else ""
        lines = [f"ScheduleRun {r.id} ({r.schedule}, {r.trigger}): {r.status}{took}"]
        lines.append(f"  parameters {_params(r.parameters)}")
        if r.failure_reason:
            lines.append(f"  failure: {r.failure_reason}")
        if r.output_uri:
            lines.append(f"  output {r.output_uri}")
        if self.link:
            lines.append(f"  open in Lab: {self.link}")
        return "\n".join(lines)


class RunList(list[ScheduleRun]):
    """Runs as a table, each with a link that opens its executed notebook in Lab."""

    HEADERS = ("run", "schedule", "status", "started", "duration", "parameters", "output")

    def _rows(self, links: bool) -> list[list[Any]]:
        rows = []
        for run in self:
            r = run.record
            output: Any = run.link or r.output_uri or None
            rows.append(
                [
                    r.id,
                    r.schedule,
                    ("status", str(r.status)) if links else str(r.status),
                    when(r.started_at or r.created_at),
                    f"{r.duration:.1f}s" if r.duration is not None else "-",
                    _params(r.parameters),
                    output,
                ]
            )
        return rows

    def __repr__(self) -> str:
        return text_table(self.HEADERS, self._rows(False)) if self else "no runs"

    def _repr_html_(self) -> str:
        if not self:
            return "<i>no runs</i>"
        table = html_table(self.HEADERS, self._rows(True))
        for run in self:
            if run.link:
                safe = html.escape(run.link)
                table = table.replace(
                    f">{safe}<", f"><a href='{safe}' target='_blank'>{safe}</a><", 1
                )
        return table
