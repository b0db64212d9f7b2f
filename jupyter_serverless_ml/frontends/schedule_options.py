"""The options of ``%schedule`` and ``jsml schedule``, defined once."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from ..schedules import parse_value
from .train_options import Spec

SCHEDULE_OPTIONS: list[Spec] = [
    (("notebook",), {"help": "the notebook to run (.ipynb)"}),
    (("--cron",), {"help": 'cron expression, e.g. "0 3 * * *" (six fields: seconds last)'}),
    (("--every",), {"help": "fixed interval instead of --cron: 30s, 15m, 1h"}),
    (("--name",), {"help": "schedule name (default: the notebook's name)"}),
    (
        ("-p", "--parameter"),
        {
            "nargs": 2,
            "action": "append",
            "metavar": ("NAME", "VALUE"),
            "dest": "parameters",
            "help": "papermill parameter (repeat): -p threshold 0.9",
        },
    ),
    (("--timezone", "--tz"), {"default": "UTC", "help": "the cron's time zone (IANA name)"}),
    (
        ("--catch-up",),
        {
            "action": argparse.BooleanOptionalAction,
            "default": True,
            "help": "run once at start for times missed while the platform was down "
            "(--no-catch-up: record them as skipped)",
        },
    ),
    (("--cwd",), {"help": "working directory of the run (default: the notebook's)"}),
    (("--kernel",), {"help": "kernel name (default: the notebook's)"}),
    (("--timeout",), {"help": "stop a run after this long: 30m, 2h"}),
    (("--output-dir",), {"help": "where executed notebooks are copied for Lab"}),
    (("--replace",), {"action": "store_true", "help": "replace a schedule of the same name"}),
    (("--backend",), {"help": "backend (default: the default backend)"}),
]


def parameters_of(pairs: list[list[str]] | None) -> dict[str, Any]:
    """``[["threshold", "0.9"]]`` -> ``{"threshold": 0.9}`` (papermill's value reading)."""
    out: dict[str, Any] = {}
    for name, value in pairs or []:
        if not name.isidentifier():
            raise UsageError(f"-p {name} {value}: {name!r} is not a Python name")
        out[name] = parse_value(value)
    return out


def schedule_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`jupyter_serverless_ml.schedules.schedule` from parsed options."""
    return {
        "cron": args.cron,
        "every": args.every,
        "name": args.name,
        "parameters": parameters_of(args.parameters),
        "timezone": args.timezone,
        "catch_up": args.catch_up,
        "cwd": args.cwd,
        "kernel": args.kernel,
        "timeout": args.timeout,
        "output_dir": args.output_dir,
        "replace": args.replace,
        "backend": args.backend,
    }
