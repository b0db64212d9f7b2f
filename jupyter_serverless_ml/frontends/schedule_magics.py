"""Magics of scheduled notebooks: ``%schedule``, ``%schedules``, ``%schedule_run``,
``%unschedule``. Thin over :mod:`jupyter_serverless_ml.schedules`."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .. import schedules as api
from ..errors import UsageError
from ..schedules import RunList, Schedule, ScheduleRun
from . import magic_line
from .cli_schedules import schedule_parser, schedules_parser, simple_parser


def _parse(parser: Any, line: str, magic: str) -> Any:
    try:
        return parser.parse_args(magic_line.split(line))
    except SystemExit:
        raise UsageError(f"%{magic} {line}: see %{magic}? for the options") from None


class ScheduleOverview:
    """``%schedules``: the schedules table, then their runs newest first."""

    def __init__(self, schedules: api.ScheduleList, runs: RunList) -> None:
        self.schedules = schedules
        self.runs = runs

    def __repr__(self) -> str:
        return f"{self.schedules!r}\n\nruns:\n{self.runs!r}"

    def _repr_html_(self) -> str:
        return f"{self.schedules._repr_html_()}<h4>runs</h4>{self.runs._repr_html_()}"


@magics_class
class ScheduleMagics(Magics):
    """Scheduled notebooks."""

    @line_magic
    def schedule(self, line: str) -> Schedule:
        """Run a notebook with papermill on a schedule, from the platform (it outlives this kernel).

        Example::

            %schedule notebooks/retrain.ipynb --cron "0 3 * * *" --tz Europe/Paris -p threshold 0.9
            %schedule notebooks/report.ipynb --every 1h --no-catch-up

        Options: --cron EXPR | --every 30s|15m|1h, --name, -p NAME VALUE (repeat),
        --timezone, --catch-up/--no-catch-up (run once at start for times missed while the
        platform was down, or record them as skipped), --cwd, --kernel, --timeout,
        --output-dir, --replace, --backend.
        """
        from .schedule_options import schedule_kwargs

        args = _parse(schedule_parser("%schedule"), line, "schedule")
        return api.schedule(args.notebook, **schedule_kwargs(args))

    @line_magic
    def schedules(self, line: str) -> ScheduleOverview:
        """List schedules and their runs (status, duration, parameters, a link that opens the
        executed notebook in Lab): ``%schedules [NAME] [--limit N] [--backend B]``."""
        args = _parse(schedules_parser("%schedules"), line, "schedules")
        found = api.schedules(backend=args.backend)
        if args.name:
            found = api.ScheduleList(s for s in found if s.name == args.name)
            if not found:
                api.get_schedule(args.name, backend=args.backend)  # raises NotFound
        runs = api.schedule_runs(args.name, limit=args.limit, backend=args.backend)
        return ScheduleOverview(found, runs)

    @line_magic
    def schedule_run(self, line: str) -> ScheduleRun:
        """Run a schedule's notebook now: ``%schedule_run NAME [-p NAME VALUE] [--wait]``."""
        from .schedule_options import parameters_of

        args = _parse(simple_parser("%schedule_run", run=True), line, "schedule_run")
        return api.run_schedule(
            args.name, parameters_of(args.parameters), wait=args.wait, backend=args.backend
        )

    @line_magic
    def unschedule(self, line: str) -> Schedule:
        """Delete a schedule (its runs and executed notebooks stay): ``%unschedule NAME``."""
        args = _parse(simple_parser("%unschedule"), line, "unschedule")
        return api.delete_schedule(args.name, backend=args.backend)


__all__ = ["ScheduleMagics", "ScheduleOverview"]
