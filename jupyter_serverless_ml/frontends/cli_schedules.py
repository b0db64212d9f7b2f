"""``jsml schedule`` and friends: thin over :mod:`jupyter_serverless_ml.schedules`.

jsml schedule NOTEBOOK (--cron EXPR | --every 1h) [-p NAME VALUE ...] [--timezone TZ]
              [--catch-up | --no-catch-up] [--timeout 2h] [--replace]
jsml schedules [NAME] [--limit N] [--json]       schedules and their runs
jsml schedule-run NAME [-p NAME VALUE ...] [--wait]
jsml schedule-pause NAME | schedule-resume NAME | unschedule NAME
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import schedules as api
from ..records import Record
from .schedule_options import SCHEDULE_OPTIONS, parameters_of, schedule_kwargs


def _json(data: Any) -> None:
    default = lambda v: v.to_wire() if isinstance(v, Record) else str(v)  # noqa: E731
    print(json.dumps(data, indent=2, default=default))


def schedule_parser(
    prog: str, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    """The options of ``schedule`` (on ``parser``, or a new one named ``prog``)."""
    p = parser or argparse.ArgumentParser(prog=prog, add_help=False)
    for flags, kwargs in SCHEDULE_OPTIONS:
        p.add_argument(*flags, **kwargs)
    return p


def schedules_parser(
    prog: str, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    """The options of ``schedules``."""
    p = parser or argparse.ArgumentParser(prog=prog, add_help=False)
    p.add_argument("name", nargs="?", help="only this schedule's runs")
    p.add_argument("--limit", type=int, default=20, help="at most this many runs")
    p.add_argument("--backend")
    return p


def simple_parser(
    prog: str, parser: argparse.ArgumentParser | None = None, run: bool = False
) -> argparse.ArgumentParser:
    """``NAME [--backend]`` (with ``run``: also ``-p NAME VALUE`` and ``--wait``)."""
    p = parser or argparse.ArgumentParser(prog=prog, add_help=False)
    p.add_argument("name", help="schedule name")
    p.add_argument("--backend")
    if run:
        p.add_argument(
            "-p",
            "--parameter",
            nargs=2,
            action="append",
            metavar=("NAME", "VALUE"),
            dest="parameters",
            help="override a parameter for this run",
        )
        p.add_argument("--wait", action="store_true", help="wait until the run ends")
    return p


def _schedule(args: argparse.Namespace) -> int:
    created = api.schedule(args.notebook, **schedule_kwargs(args))
    if args.json:
        _json(created.record)
    else:
        print(repr(created))
    return 0


def _schedules(args: argparse.Namespace) -> int:
    found = api.schedules(backend=args.backend)
    if args.name:
        found = api.ScheduleList(s for s in found if s.name == args.name) or api.ScheduleList(
            [api.get_schedule(args.name, backend=args.backend)]
        )
    runs = api.schedule_runs(args.name, limit=args.limit, backend=args.backend)
    if args.json:
        _json({"schedules": [s.record for s in found], "runs": [r.record for r in runs]})
    else:
        print(f"{found!r}\n\nruns:\n{runs!r}")
    return 0


def _run(args: argparse.Namespace) -> int:
    run = api.run_schedule(args.name, parameters_of(args.parameters), backend=args.backend)
    print(f"started {run.id}")
    if args.wait:
        try:
            run.wait()
        finally:
            print(repr(run))
    return 0


def _pause(args: argparse.Namespace) -> int:
    print(repr(api.pause_schedule(args.name, backend=args.backend)))
    return 0


def _resume(args: argparse.Namespace) -> int:
    print(repr(api.resume_schedule(args.name, backend=args.backend)))
    return 0


def _delete(args: argparse.Namespace) -> int:
    api.delete_schedule(args.name, backend=args.backend)
    print(f"deleted schedule {args.name} (its runs and executed notebooks stay)")
    return 0


def add_commands(sub: Any) -> None:
    """Add the schedule commands to ``jsml``'s subparsers."""
    p = sub.add_parser("schedule", help="run a notebook with papermill on a schedule")
    schedule_parser("jsml schedule", p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_schedule)
    p = sub.add_parser("schedules", help="list schedules and their runs")
    schedules_parser("jsml schedules", p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_schedules)
    p = sub.add_parser("schedule-run", help="run a schedule's notebook now")
    simple_parser("jsml schedule-run", p, run=True)
    p.set_defaults(run=_run)
    for command, run, text in (
        ("schedule-pause", _pause, "stop a schedule firing"),
        ("schedule-resume", _resume, "restart a paused schedule"),
        ("unschedule", _delete, "delete a schedule (its runs stay)"),
    ):
        p = sub.add_parser(command, help=text)
        simple_parser(f"jsml {command}", p)
        p.set_defaults(run=run)


__all__ = ["add_commands", "schedule_parser", "schedules_parser", "simple_parser"]
