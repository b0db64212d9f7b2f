"""Handles returned to users: :class:`Job`, :class:`ModelVersion` and their list views.

Each has a text and an HTML representation. They call their backend for
everything, so a handle from a kernel that restarted still works.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import artifacts, config
from ..backends import Backend, Registry, require
from ..display import clock, format_metrics, html_table, status_badge, text_table, when
from ..errors import JobFailed, NotFound
from ..options import format_duration
from ..packaging import Bundle, load_bundle
from ..records import JobRecord, MetricRecord
from ..statuses import JOB_TERMINAL, JobStatus

LOG_TAIL_LINES = 20


class Progress:
    """Prints a job's progress as plain lines: status changes, log lines, metrics."""

    def __init__(self, write: Callable[[str], Any] | None = None) -> None:
        self.write = write or (lambda text: (sys.stdout.write(text), sys.stdout.flush()))

    def status(self, job_id: str, status: str, message: str = "") -> None:
        """A status transition."""
        extra = f" ({message})" if message else ""
        self.write(f"[{clock(time.time())}] {job_id}: {status}{extra}\n")

    def log(self, text: str) -> None:
        """New log text, as it came."""
        self.write(text)

    def metric(self, record: MetricRecord) -> None:
        """A metric as it was logged."""
        step = f" (step {record.step})" if record.step is not None else ""
        self.write(f"[metric] {record.name}={record.value:.6g}{step}\n")

    def close(self) -> None:
        """The job ended (or waiting stopped): show the final state."""


class Job:
    """A training job: ``.status``, ``.wait()``, ``.logs()``, ``.metrics``, ``.model()``,
    ``.bundle``, ``.stop()``."""

    def __init__(self, backend: Backend, record: JobRecord) -> None:
        self._backend = backend
        self._record = record

    @property
    def id(self) -> str:
        """The job id."""
        return self._record.id

    @property
    def name(self) -> str:
        """The job (and model) name."""
        return self._record.name

    @property
    def backend(self) -> Backend:
        """The backend the job runs on."""
        return self._backend

    @property
    def record(self) -> JobRecord:
        """The backend's record of the job, as last fetched."""
        return self._record

    def refresh(self) -> Job:
        """Fetch the current state from the backend."""
        self._record = self._backend.job(self.id)
        return self

    def _current(self, complete: bool = False) -> JobRecord:
        """The record, fetched again unless the job has ended (and, with ``complete``, the
        record is the full one: a listing's records lack the model)."""
        if self._record.status not in JOB_TERMINAL or (complete and not self._full):
            self.refresh()
        return self._record

    @property
    def _full(self) -> bool:
        return self._record.model is not None or "metric_count" in self._record.details

    @property
    def status(self) -> str:
        """Pending, Preparing, Running, Stopping, Completed, Failed or Stopped (fetched live)."""
        return str(self._current().status)

    @property
    def done(self) -> bool:
        """True once the job reached a terminal state."""
        return self.status in JOB_TERMINAL

    @property
    def failure_reason(self) -> str | None:
        """Why the job failed or stopped."""
        return self._record.failure_reason

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of each metric."""
        return dict(self._current().metrics)

    def metric_history(self) -> list[MetricRecord]:
        """Every metric record in the order logged."""
        return self._backend.metrics(self.id)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The job's hyperparameters."""
        return self._record.hyperparameters

    def logs(self) -> str:
        """The whole log so far."""
        parts: list[str] = []
        cursor: str | None = None
        while True:
            page = self._backend.logs(self.id, cursor)
            if not page.text:
                return "".join(parts)
            parts.append(page.text)
            cursor = page.cursor

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the log."""
        return "\n".join(self.logs().splitlines()[-lines:])

    def _tail_before_failure(self, lines: int = LOG_TAIL_LINES) -> str:
        """The job's own last log lines before its failure report (which the reason repeats)."""
        text = self.logs()
        reason = (self.failure_reason or "").strip()
        cut = text.find(reason) if reason else -1  # the runner writes the reason to stderr
        text = text[:cut] if cut >= 0 else text
        own = [line for line in text.splitlines() if not line.startswith("[jsml] ")]
        return "\n".join(own[-lines:])

    @property
    def bundle(self) -> Bundle:
        """The bundle the job ran: what was captured and why (``.captured``), requirements."""
        uri = self._record.bundle_uri
        if not uri:
            raise NotFound(f"job {self.id} records no bundle")
        return load_bundle(artifacts.local_dir(uri, config.home() / "cache" / "bundles"))

    @property
    def model_version(self) -> int | None:
        """The model version this job registered, once Completed."""
        return self._current().model_version

    def model(self) -> Any:
        """Load the trained model into this process."""
        record = self._current(complete=True).model
        if record is None:
            state = self._record.status
            raise NotFound(
                f"job {self.id} has no model ({state}"
                + (
                    "; wait for it with .wait()"
                    if state not in JOB_TERMINAL
                    else "; the cell must leave the model in the variable named by --model-var"
                )
                + ")"
            )
        return require(self._backend, Registry).load_model(record)

    def stop(self) -> Job:
        """Ask the job to stop (it goes Stopping, then Stopped)."""
        self._record = self._backend.stop(self.id)
        return self

    def wait(
        self,
        timeout: float | None = None,
        progress: Progress | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """Block until the job ends, printing progress when ``progress`` is given.

        Raises :class:`JobFailed` when it ends Failed or Stopped (unless
        ``raise_on_failure`` is False) and ``TimeoutError`` after ``timeout``
        seconds. Interrupting (Ctrl-C, the notebook's stop button) stops the job
        and says so.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        status, cursor, seen = "", "", 0
        if progress is None:
            status = str(self._record.status)
        try:
            while True:
                remaining = 10.0 if deadline is None else min(10.0, deadline - time.monotonic())
                if remaining <= 0:
                    raise TimeoutError(f"job {self.id} still {status} after {timeout}s")
                news = self._backend.watch(
                    self.id,
                    status=status,
                    log_cursor=cursor if progress else "-",
                    metrics_seen=seen if progress else -1,
                    timeout=remaining,
                )
                self._record = news.job
                if progress is not None:
                    if news.log:
                        progress.log(news.log)
                    for record in news.metrics:
                        progress.metric(record)
                    cursor, seen = news.log_cursor, seen + len(news.metrics)
                    if self._record.status != status:
                        progress.status(self.id, str(self._record.status), self._last_event())
                status = str(self._record.status)
                if status in JOB_TERMINAL:
                    break
        except KeyboardInterrupt:
            self.stop()
            (progress or Progress()).write(
                f"\ninterrupted: stopped job {self.id} (it is {self._record.status}); "
                f"its log so far: %logs {self.id}\n"
            )
            raise
        finally:
            if progress is not None:
                progress.close()
        if raise_on_failure and status != JobStatus.COMPLETED:
            raise JobFailed(self.id, status, self.failure_reason or "", self._tail_before_failure())
        return self

    def _last_event(self) -> str:
        """The first line of the newest event's message (why the job is in its status)."""
        events = self._record.events
        message = events[-1].message if events else ""
        line = message.strip().splitlines()[0] if message.strip() else ""
        return line if len(line) <= 120 else line[:117] + "..."

    def summary(self) -> list[tuple[str, Any]]:
        """The facts ``%job`` shows, as (label, value) pairs."""
        r = self._record
        spec = r.spec
        facts: list[tuple[str, Any]] = [
            ("id", r.id),
            ("name", r.name),
            ("backend", r.backend),
            ("status", str(r.status)),
            ("created", when(r.created_at)),
            ("started", when(r.started_at)),
            ("ended", when(r.ended_at)),
            ("duration", format_duration(r.duration)),
            ("attempt", r.attempt),
            ("instance", f"{spec.get('instance_type')} x{spec.get('instance_count', 1)}"),
            ("environment", spec.get("env")),
        ]
        if "sandbox" in spec:
            sandbox = "bubblewrap" if spec["sandbox"] else f"none ({spec.get('sandbox_reason')})"
            facts.append(("sandbox", sandbox))
        return [
            *facts,
            ("hyperparameters", r.hyperparameters),
            ("metrics", format_metrics(dict(r.metrics))),
            ("bundle", r.bundle_hash),
            ("model", f"{r.model.ref} {r.model.uri}" if r.model else "-"),
            ("failure reason", r.failure_reason or "-"),
        ]

    def __repr__(self) -> str:
        lines = [f"Job {self.id}"]
        for label, value in self.summary()[1:]:
            first, *rest = str(value).rstrip().splitlines() or [""]
            text = "\n".join([first, *((" " * 19 + r) if r.strip() else "" for r in rest)])
            lines.append(f"  {label:<16} {text}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for label, value in self.summary():
            cell = status_badge(str(value)) if label == "status" else html.escape(str(value))
            if label == "failure reason" and value != "-":
                cell = f"<pre style='margin:0;white-space:pre-wrap'>{html.escape(str(value))}</pre>"
            rows.append(
                f"<tr><th style='text-align:left'>{label}</th><td style='text-align:left'>{cell}</td></tr>"
            )
        return f"<table>{''.join(rows)}</table>"


class JobList(list[Job]):
    """A list of jobs that renders as a table."""

    HEADERS = ("id", "status", "backend", "created", "duration", "metrics")

    def _rows(self, html_status: bool) -> list[list[Any]]:
        return [
            [
                j.id,
                ("status", str(j.record.status)) if html_status else str(j.record.status),
                j.record.backend,
                when(j.record.created_at),
                format_duration(j.record.duration),
                format_metrics(dict(j.record.metrics)),
            ]
            for j in self
        ]

    def __repr__(self) -> str:
        return text_table(self.HEADERS, self._rows(False)) if self else "no jobs"

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, self._rows(True)) if self else "<i>no jobs</i>"
