"""Scheduled notebooks (the Python API).

>>> schedule("notebooks/retrain.ipynb", cron="0 3 * * *", parameters={"threshold": 0.9})
>>> schedules(); schedule_runs("retrain"); run_schedule("retrain", wait=True)

The backend runs the notebook with papermill on its clock (the local platform's
daemon: a schedule outlives the kernel that made it), keeps every executed notebook,
and raises an alert when a run fails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends import get_backend, require
from ..backends.schedules_part import ScheduleRequest, Schedules
from ..errors import UsageError
from ..options import parse_duration, validate_name
from .handles import RunList, Schedule, ScheduleList, ScheduleRun


def parse_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill reads it: int, float, bool, None, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _name_of(notebook: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", notebook.stem).strip("-_")[:48]
    return stem or "notebook"


def schedule(
    notebook: str | Path,
    *,
    cron: str | None = None,
    every: str | float | None = None,
    name: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    catch_up: bool = True,
    cwd: str | Path | None = None,
    kernel: str | None = None,
    timeout: str | float | None = None,
    output_dir: str | Path | None = None,
    replace: bool = False,
    backend: str | None = None,
) -> Schedule:
    """Run ``notebook`` with papermill on ``cron`` (``"0 3 * * *"``, read in ``timezone``) or
    ``every`` (``"1h"``, ``"30s"``, seconds), with ``parameters`` injected after its cell
    tagged ``parameters``.

    ``catch_up``: fire times missed while the platform was down run once when it starts
    (``False``: they are recorded as one Skipped run). ``cwd``: the run's working directory
    (default: the notebook's); executed notebooks are copied to ``output_dir`` (default
    ``scheduled-runs/`` there) for Lab, and kept as artifacts. ``timeout`` stops a run.
    """
    path = Path(notebook).expanduser().resolve()
    if path.suffix != ".ipynb" or not path.is_file():
        raise UsageError(f"{notebook}: no such notebook (.ipynb file)")
    if (cron is None) == (every is None):
        raise UsageError('give exactly one of cron="0 3 * * *" and every="1h"')
    chosen = get_backend(backend)
    request = ScheduleRequest(
        name=validate_name(name or _name_of(path)),
        notebook=str(path),
        cron=cron,
        interval=parse_duration(every),
        timezone=timezone,
        parameters=dict(parameters or {}),
        catch_up=catch_up,
        cwd=str(Path(cwd).expanduser().resolve()) if cwd else str(path.parent),
        kernel=kernel,
        timeout=parse_duration(timeout),
        output_dir=str(Path(output_dir).expanduser().resolve()) if output_dir else None,
        replace=replace,
    )
    return Schedule(chosen, require(chosen, Schedules).create_schedule(request))


def schedules(backend: str | None = None) -> ScheduleList:
    """Every schedule: when it fires, its next run and its last run's status."""
    chosen = get_backend(backend)
    return ScheduleList(Schedule(chosen, r) for r in require(chosen, Schedules).schedules())


def get_schedule(name: str, backend: str | None = None) -> Schedule:
    """One schedule."""
    chosen = get_backend(backend)
    return Schedule(chosen, require(chosen, Schedules).schedule(name))


def schedule_runs(name: str | None = None, limit: int = 50, backend: str | None = None) -> RunList:
    """Runs (of one schedule), newest first: status, duration, parameters, the output notebook."""
    chosen = get_backend(backend)
    found = require(chosen, Schedules).schedule_runs(name, limit)
    return RunList(ScheduleRun(chosen, r) for r in found)


def run_schedule(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    wait: bool = False,
    timeout: float = 3600.0,
    backend: str | None = None,
) -> ScheduleRun:
    """Run a schedule's notebook now (``parameters`` override its own); ``wait`` until it ends."""
    chosen = get_backend(backend)
    run = ScheduleRun(chosen, require(chosen, Schedules).run_schedule(name, parameters))
    return run.wait(timeout) if wait else run


def pause_schedule(name: str, backend: str | None = None) -> Schedule:
    """Stop a schedule firing (``resume_schedule`` restarts it)."""
    chosen = get_backend(backend)
    return Schedule(chosen, require(chosen, Schedules).pause_schedule(name, True))


def resume_schedule(name: str, backend: str | None = None) -> Schedule:
    """Restart a paused schedule (it fires next from now)."""
    chosen = get_backend(backend)
    return Schedule(chosen, require(chosen, Schedules).pause_schedule(name, False))


def delete_schedule(name: str, backend: str | None = None) -> Schedule:
    """Delete a schedule; its runs and executed notebooks stay."""
    chosen = get_backend(backend)
    return Schedule(chosen, require(chosen, Schedules).delete_schedule(name))


def lab_link(run: ScheduleRun, root: str | Path | None = None) -> str | None:
    """``/lab/tree/...`` of a run's executed notebook, relative to ``root`` (a Jupyter server's
    root directory; default: the schedule's working directory)."""
    copy = run.record.details.get("lab_copy_path")
    if root is not None and copy:
        relative = os.path.relpath(copy, root)
        return None if relative.startswith("..") else f"/lab/tree/{relative}"
    return f"/lab/tree/{run.record.lab_path}" if run.record.lab_path else None
