"""Handles returned to users: :class:`Study` (a table of trials and a plot of the objective)
and :class:`StudyList`. Each has a text and an HTML representation and calls its backend
for everything, so a handle from a kernel that restarted still works."""

from __future__ import annotations

import html
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from ..backends import Backend, Registry, require
from ..backends.tuning_part import StudyRecord, TrialRecord, Tuning
from ..display import clock, html_table, status_badge, text_table, when
from ..errors import JobFailed, NotFound
from ..options import format_duration
from ..statuses import StudyStatus, TrialStatus

WAIT_SECONDS = 10.0


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.6g}"


def _params(params: Any) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in dict(params).items()
    )


class StudyProgress:
    """Prints a study's progress as plain lines: each trial that starts or ends."""

    def __init__(self, write: Callable[[str], Any] | None = None) -> None:
        self.write = write or (lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        self._seen: dict[int, str] = {}
        self._status = ""

    def update(self, study: Study) -> None:
        """Called with the study each time it changed."""
        record = study.record
        for trial in record.trials:
            status = str(trial.status)
            if self._seen.get(trial.number) == status:
                continue
            self._seen[trial.number] = status
            value = f" {record.objective}={_number(trial.value)}" if trial.value is not None else ""
            best = f" (best {_number(trial.best_so_far)})" if trial.best_so_far is not None else ""
            why = f": {trial.reason}" if trial.reason and status != TrialStatus.COMPLETED else ""
            self.write(
                f"[{clock(time.time())}] {record.name} trial {trial.number} {status}"
                f" {_params(trial.params)}{value}{best}{why}\n"
            )
        if str(record.status) != self._status:
            self._status = str(record.status)
            if record.ended:
                self.write(f"[{clock(time.time())}] {study.summary()}\n")

    def close(self) -> None:
        """Waiting ended."""


class Study:
    """A tuning study: ``.trials``, ``.best_params``, ``.best_value``, ``.model()``,
    ``.wait()``, ``.stop()``, ``.resume()``; a table and a plot in a notebook."""

    def __init__(self, backend: Backend, record: StudyRecord) -> None:
        self._backend = backend
        self._record = record

    @property
    def _tuning(self) -> Tuning:
        return require(self._backend, Tuning)

    @property
    def name(self) -> str:
        """The study's name."""
        return self._record.name

    @property
    def record(self) -> StudyRecord:
        """The backend's record of the study, as last fetched."""
        return self._record

    def refresh(self) -> Study:
        """Fetch the study with its trials."""
        self._record = self._tuning.study(self.name)
        return self

    @property
    def status(self) -> str:
        """Running, Completed, Failed or Stopped (fetched live while it runs)."""
        if not self._record.ended or not self._record.trials:
            self.refresh()
        return str(self._record.status)

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, by number."""
        if not self._record.ended or not self._record.trials:
            self.refresh()
        return list(self._record.trials)

    @property
    def best_trial(self) -> TrialRecord | None:
        """The best completed trial, or None."""
        best = self._record.best
        if best is None:
            return None
        return next((t for t in self.trials if t.number == best["number"]), None)

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's parameters ({} before any trial completed)."""
        return dict((self._record.best or {}).get("params") or {})

    @property
    def best_value(self) -> float | None:
        """The best objective value so far."""
        best = self._record.best
        return None if best is None else float(best["value"])

    def model(self) -> Any:
        """Load the best trial's model, registered when the study completed."""
        version = self._record.model_version
        if version is None:
            self.refresh()
            version = self._record.model_version
        if version is None:
            raise NotFound(
                f"study {self.name} has registered no model yet ({self._record.status}; "
                "the best trial's model is registered when every trial has ended)"
            )
        registry = require(self._backend, Registry)
        return registry.load_model(registry.model(self._record.model_name or self.name, version))

    def stop(self) -> Study:
        """Stop the study and its running trials (``resume()`` continues it)."""
        self._record = self._tuning.stop_study(self.name)
        return self

    def resume(self, trials: int | None = None, parallel: int | None = None) -> Study:
        """Continue the study (``trials``: a larger budget); a running study is re-attached."""
        self._record = self._tuning.resume_study(self.name, trials=trials, parallel=parallel)
        return self

    def wait(
        self,
        timeout: float | None = None,
        progress: StudyProgress | None = None,
        raise_on_failure: bool = True,
    ) -> Study:
        """Block until the study ends, reporting each change to ``progress``.

        Raises :class:`JobFailed` when it ends Failed (no trial completed; a failed trial alone
        is not a failure) and ``TimeoutError`` after ``timeout`` seconds. Interrupting stops
        the study (resume it with ``%tune --resume NAME``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.refresh()
        try:
            while True:
                if progress is not None:
                    progress.update(self)
                if self._record.ended:
                    break
                wait = WAIT_SECONDS
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        raise TimeoutError(f"study {self.name} still {self._record.status}")
                self._record = self._tuning.study(
                    self.name, wait=wait, since=self._record.updated_at
                )
        except KeyboardInterrupt:
            self.stop()
            print(
                f"interrupted: study {self.name} stopped; %tune --resume {self.name} continues it",
                file=sys.stderr,
            )
            raise
        finally:
            if progress is not None:
                progress.close()
        if raise_on_failure and self._record.status == StudyStatus.FAILED:
            raise JobFailed(
                f"study {self.name}",
                str(self._record.status),
                self._record.failure_reason or "",
                details=self.summary(),
            )
        return self

    # -- rendering -------------------------------------------------------------

    def summary(self) -> str:
        """One line: status, trials by status, best value and parameters."""
        record = self._record
        counts = ", ".join(f"{n} {s.lower()}" for s, n in record.counts.items() if n)
        best = (
            f"; best {record.objective}={_number(self.best_value)} with {_params(self.best_params)}"
            if record.best
            else ""
        )
        model = (
            f"; registered {record.model_name}:{record.model_version}"
            if record.model_version
            else ""
        )
        why = f"; {record.failure_reason}" if record.failure_reason else ""
        return (
            f"study {record.name} {record.status}: {counts or 'no trials'} of "
            f"{record.trials_budget}{best}{model}{why}"
        )

    HEADERS = ("trial", "parameters", "objective", "duration", "status", "best so far")

    def _rows(self, html_status: bool) -> list[list[Any]]:
        return [
            [
                t.number,
                _params(t.params),
                _number(t.value),
                format_duration(t.duration),
                ("status", str(t.status)) if html_status else str(t.status),
                _number(t.best_so_far),
            ]
            for t in self._record.trials
        ]

    def __repr__(self) -> str:
        table = text_table(self.HEADERS, self._rows(False)) if self._record.trials else ""
        return f"{self.summary()}\n{table}".rstrip()

    def _repr_html_(self) -> str:
        record = self._record
        head = (
            f"<b>study {html.escape(record.name)}</b> {status_badge(str(record.status))} "
            f"<span style='color:#757575'>{html.escape(record.direction)} "
            f"{html.escape(record.objective)}, {html.escape(record.strategy)}, "
            f"{len(record.trials)} of {record.trials_budget} trials, created "
            f"{when(record.created_at)}</span>"
        )
        summary = f"<div>{html.escape(self.summary())}</div>"
        table = html_table(self.HEADERS, self._rows(True)) if record.trials else ""
        return f"<div>{head}{summary}{self.plot_svg()}{table}</div>"

    def plot_svg(self, width: int = 420, height: int = 160) -> str:
        """The objective of each trial (dots; hollow when pruned) and the best so far (a line),
        as an inline SVG."""
        points = [(t.number, t.value, str(t.status), t.best_so_far) for t in self._record.trials]
        values = [v for _, v, _, _ in points if v is not None and math.isfinite(v)]
        if not values:
            return ""
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        count = max(len(points) - 1, 1)
        pad = 24

        def xy(number: int, value: float) -> tuple[float, float]:
            x = pad + (width - 2 * pad) * number / count
            y = height - pad - (height - 2 * pad) * (value - low) / span
            return round(x, 1), round(y, 1)

        marks = []
        for number, value, status, _ in points:
            if value is None:
                continue
            x, y = xy(number, value)
            fill = "none" if status == TrialStatus.PRUNED else "#1565c0"
            marks.append(
                f"<circle cx='{x}' cy='{y}' r='3' fill='{fill}' stroke='#1565c0'>"
                f"<title>trial {number}: {_number(value)} ({html.escape(status)})</title></circle>"
            )
        line = " ".join(f"{xy(n, b)[0]},{xy(n, b)[1]}" for n, _, _, b in points if b is not None)
        path = (
            f"<polyline points='{line}' fill='none' stroke='#2e7d32' stroke-width='1.5'/>"
            if line
            else ""
        )
        labels = (
            f"<text x='2' y='{pad - 8}' font-size='10'>{_number(high)}</text>"
            f"<text x='2' y='{height - 4}' font-size='10'>{_number(low)}</text>"
            f"<text x='{width - pad}' y='{height - 4}' font-size='10'>trial</text>"
        )
        return (
            f"<svg class='jsml-study-plot' width='{width}' height='{height}' "
            f"xmlns='http://www.w3.org/2000/svg' role='img' "
            f"aria-label='{html.escape(self._record.objective)} by trial'>"
            f"<rect width='100%' height='100%' fill='white' stroke='#ddd'/>"
            f"{labels}{path}{''.join(marks)}</svg>"
        )


class StudyList(list[Study]):
    """A list of studies that renders as a table."""

    HEADERS = ("study", "status", "objective", "trials", "best", "best parameters", "created")

    def _rows(self, html_status: bool) -> list[list[Any]]:
        rows = []
        for study in self:
            r = study.record
            done = sum(n for s, n in r.counts.items() if s != TrialStatus.RUNNING)
            rows.append(
                [
                    r.name,
                    ("status", str(r.status)) if html_status else str(r.status),
                    f"{r.direction} {r.objective}",
                    f"{done}/{r.trials_budget}",
                    _number(study.best_value),
                    _params(study.best_params),
                    when(r.created_at),
                ]
            )
        return rows

    def __repr__(self) -> str:
        return text_table(self.HEADERS, self._rows(False)) if self else "no studies"

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, self._rows(True)) if self else "<i>no studies</i>"


__all__ = ["Study", "StudyList", "StudyProgress"]
