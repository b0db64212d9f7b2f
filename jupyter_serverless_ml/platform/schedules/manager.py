"""Scheduled notebooks on the platform: the schedules, their runs, and the loop that starts them.

State is in the store (``schedules``, ``schedule_runs``) and in each run's directory
``$JSML_HOME/schedules/<name>/<run id>/`` (``run.json`` from the daemon, ``run.log``,
``work/`` for the notebook, ``state/result.json`` from the runner), so a restarted
daemon picks up where the last one stopped: a run that finished while it was down is
recorded, a runner that died without a result makes its run Failed, and fire times
missed while it was down run once at start (``catch_up``) or are recorded as one
Skipped run. At most one run of a schedule is active; a fire time that comes while
one runs is passed over. A Failed run raises an alert (``schedule:<name>``).

Executed notebooks are kept at ``$JSML_HOME/artifacts/schedules/<name>/<run id>.ipynb``
and copied to ``<output dir>/<name>/<run id>.ipynb`` (default output dir:
``scheduled-runs`` in the schedule's working directory) for Lab to open.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...options import validate_name
from ...statuses import ScheduleRunStatus
from .. import state
from ..jobs import procs, sandbox
from ..store import Store
from . import cron
from .kernels import check_kernel
from .runner import RESULT

log = logging.getLogger("jsml.platform")
TICK_SECONDS = 0.5
ACTIVE = ScheduleRunStatus.RUNNING.value


class ScheduleManager:
    """Creates schedules and runs, starts due runs and folds finished ones into the store."""

    def __init__(self, home: Path, store: Store, sandboxed: bool | None = None) -> None:
        self.home = home
        self.store = store
        self.root = home / "schedules"
        self.sandboxed = sandbox.probe().available if sandboxed is None else sandboxed
        self._children: dict[str, Any] = {}

    # -- schedules ----------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add a schedule; ``replace`` overwrites one of the same name. Returns it."""
        name = validate_name(str(body.get("name") or ""))
        notebook = Path(str(body.get("notebook") or ""))
        if not notebook.is_absolute() or notebook.suffix != ".ipynb" or not notebook.is_file():
            raise UsageError(
                f"notebook {str(notebook)!r} is not an existing .ipynb file (give its absolute path)"
            )
        check_kernel(notebook, body.get("kernel") or None)
        cwd = Path(str(body.get("cwd") or notebook.parent))
        if not cwd.is_dir():
            raise UsageError(f"working directory {cwd} does not exist")
        interval = body.get("interval")
        interval = float(interval) if interval is not None else None
        expression = body.get("cron") or None
        timezone = str(body.get("timezone") or "UTC")
        cron.check(expression, interval, timezone)
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise UsageError("parameters must be a JSON object of NAME: VALUE")
        timeout = body.get("timeout")
        if timeout is not None and not float(timeout) > 0:
            raise UsageError("timeout must be a positive number of seconds")
        if not body.get("replace") and self.store.schedule(name) is not None:
            raise Conflict(
                f"a schedule {name!r} exists; delete it first (%unschedule {name}, or "
                f"jsml unschedule {name}) or pass --replace"
            )
        now = time.time()
        self.store.add_schedule(
            {
                "name": name,
                "notebook": str(notebook),
                "cron": expression,
                "interval": interval,
                "timezone": timezone,
                "parameters": parameters,
                "catch_up": bool(body.get("catch_up", True)),
                "enabled": True,
                "cwd": str(cwd),
                "kernel": body.get("kernel") or None,
                "timeout": float(timeout) if timeout is not None else None,
                "created_at": now,
                "next_run_at": cron.next_after(now, expression, interval, timezone),
            },
            replace=bool(body.get("replace")),
        )
        if body.get("output_dir"):
            self._settings(name, {"output_dir": str(body["output_dir"])})
        return self.describe(name)

    def _settings(self, name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        path = self.root / name / "settings.json"
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            state.write_json(path, data)
        return state.read_json(path) or {}

    def get(self, name: str) -> dict[str, Any]:
        """One schedule's row; NotFound names the known ones."""
        found = self.store.schedule(name)
        if found is None:
            known = ", ".join(s["name"] for s in self.store.schedules()) or "none"
            raise NotFound(f"no schedule {name!r}; schedules: {known}")
        return found

    def describe(self, name: str) -> dict[str, Any]:
        """A schedule with its last run's status."""
        found = self.get(name)
        last = self.store.schedule_runs(name, limit=1)
        return dict(found, last_status=last[0]["status"] if last else None)

    def summaries(self) -> list[dict[str, Any]]:
        """Every schedule with its last run's status."""
        last = self.store.last_schedule_runs()
        return [
            dict(s, last_status=(last.get(s["name"]) or {}).get("status"))
            for s in self.store.schedules()
        ]

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        """Pause or resume a schedule (resuming fires next from now)."""
        found = self.get(name)
        fields: dict[str, Any] = {"enabled": enabled}
        if enabled:
            fields["next_run_at"] = cron.next_after(
                time.time(), found["cron"], found["interval"], found["timezone"]
            )
        self.store.update_schedule(name, **fields)
        return self.describe(name)

    def delete(self, name: str) -> dict[str, Any]:
        """Delete a schedule; its runs and executed notebooks stay."""
        found = self.describe(name)
        self.store.delete_schedule(name)
        return dict(found, enabled=False, next_run_at=None, deleted_at=time.time())

    def runs(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Runs, newest first (of one schedule)."""
        if name:
            self.get(name)
        found = self.store.schedule_runs(name, limit=limit)
        return [self._public(r) for r in found]

    def run_record(self, run_id: str) -> dict[str, Any]:
        """One run."""
        found = self.store.schedule_run(run_id)
        if found is None:
            raise NotFound(f"no schedule run {run_id!r}")
        return self._public(found)

    def _public(self, run: dict[str, Any]) -> dict[str, Any]:
        """A run as the API serves it: ``lab_copy_path`` is the executed notebook's copy for
        Lab, ``lab_path`` that copy relative to the schedule's working directory."""
        out = {k: v for k, v in run.items() if k not in ("pid", "pid_start", "output")}
        out["output_uri"] = Path(run["output"]).as_uri() if run.get("output") else ""
        copy = run.get("lab_path")
        out["lab_copy_path"] = copy
        schedule = self.store.schedule(run["schedule"]) if copy else None
        relative = os.path.relpath(copy, schedule["cwd"]) if schedule and copy else None
        out["lab_path"] = relative if relative and not relative.startswith("..") else None
        out["log_path"] = str(Path(run["run_dir"]) / "run.log")
        return out

    # -- runs -----------------------------------------------------------------------

    def start_run(
        self, name: str, trigger: str = "manual", parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start a run of ``name`` now (``parameters`` override the schedule's)."""
        found = self.get(name)
        active = self.store.schedule_runs(name, status=ACTIVE, limit=1)
        if active:
            raise Conflict(
                f"schedule {name!r} has a run in progress ({active[0]['id']}); run it again "
                f"once that one ends (%schedules {name} shows it)"
            )
        return self._launch(found, trigger, time.time(), parameters)

    def _launch(
        self,
        schedule: dict[str, Any],
        trigger: str,
        scheduled_for: float,
        parameters: dict[str, Any] | None = None,
        next_run_at: float | None = None,
    ) -> dict[str, Any]:
        name = schedule["name"]
        run_id = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        run_dir = self.root / name / run_id
        run_dir.mkdir(parents=True)
        merged = {**schedule["parameters"], **(parameters or {})}
        output_dir = Path(
            self._settings(name).get("output_dir") or Path(schedule["cwd"]) / "scheduled-runs"
        )
        lab_copy = output_dir / name / f"{run_id}.ipynb"
        artifact = self.home / "artifacts" / "schedules" / name / f"{run_id}.ipynb"
        spec = {
            "id": run_id,
            "schedule": name,
            "notebook": schedule["notebook"],
            "cwd": schedule["cwd"],
            "parameters": merged,
            "kernel": schedule["kernel"],
            "timeout": schedule["timeout"],
            "home": str(self.home),
            "python": sys.executable,
            "sandbox": self.sandboxed,
            "artifact": str(artifact),
            "lab_copy": str(lab_copy),
        }
        state.write_json(run_dir / "run.json", spec)
        now = time.time()
        run = {
            "id": run_id,
            "schedule": name,
            "status": ACTIVE,
            "trigger": trigger,
            "created_at": now,
            "scheduled_for": scheduled_for,
            "started_at": now,
            "parameters": merged,
            "run_dir": str(run_dir),
            "lab_path": str(lab_copy),
        }
        self.store.add_schedule_run(run, next_run_at)
        argv = [
            sys.executable,
            "-m",
            "jupyter_serverless_ml.platform.schedules.runner",
            str(run_dir),
        ]
        try:
            child = procs.spawn_detached(argv, run_dir / "run.log", run_dir, os.environ)
        except OSError as exc:
            self._finish(run, "Failed", f"the platform could not start the run: {exc}")
            return self.run_record(run_id)
        self._children[run_id] = child
        self.store.update_schedule_run(run_id, pid=child.pid, pid_start=procs.start_time(child.pid))
        log.info("schedule %s: started run %s (%s)", name, run_id, trigger)
        return self.run_record(run_id)

    def _finish(self, run: dict[str, Any], status: str, reason: str | None, **fields: Any) -> None:
        self.store.update_schedule_run(
            run["id"],
            status=status,
            failure_reason=reason,
            ended_at=fields.pop("ended_at", None) or time.time(),
            **fields,
        )
        if status == ScheduleRunStatus.FAILED:
            self.store.add_alert(
                {
                    "endpoint": f"schedule:{run['schedule']}",
                    "test": "schedule-run-failed",
                    "message": f"scheduled run {run['id']} of {run['schedule']} failed: {reason}",
                }
            )

    def check(self) -> list[str]:
        """Fold every active run whose runner finished (or died) into the store."""
        done = []
        for run in self.store.schedule_runs(status=ACTIVE, limit=10_000):
            result = state.read_json(Path(run["run_dir"]) / "state" / RESULT)
            child = self._children.get(run["id"])
            alive = (
                child.poll() is None
                if child is not None
                else procs.is_alive(run["pid"], run["pid_start"])
            )
            if result is None and alive:
                continue
            self._children.pop(run["id"], None)
            if result is None:
                self._finish(run, "Failed", "the run's runner exited without a result (lost)")
            else:
                status = str(result.get("status") or "Failed")
                if status not in (ScheduleRunStatus.COMPLETED, ScheduleRunStatus.FAILED):
                    status = "Failed"
                self._finish(
                    run,
                    status,
                    result.get("failure_reason"),
                    ended_at=result.get("ended_at"),
                    output=result.get("output"),
                    lab_path=result.get("lab_copy"),
                )
            done.append(run["id"])
        return done

    def tick(self, now: float | None = None) -> list[str]:
        """Start every enabled schedule that is due and has no active run; returns run ids."""
        now = time.time() if now is None else now
        started = []
        busy = {r["schedule"] for r in self.store.schedule_runs(status=ACTIVE, limit=10_000)}
        for schedule in self.store.schedules():
            due = schedule["next_run_at"]
            if not schedule["enabled"] or due is None or due > now:
                continue
            following = cron.next_after(
                now, schedule["cron"], schedule["interval"], schedule["timezone"]
            )
            if schedule["name"] in busy:
                self.store.update_schedule(schedule["name"], next_run_at=following)
                continue
            run = self._launch(schedule, "schedule", due, next_run_at=following)
            started.append(run["id"])
        return started

    def reconcile(self, now: float | None = None) -> list[str]:
        """At start: settle runs that ended while the daemon was down, then run each schedule
        whose fire times passed meanwhile once (``catch_up``) or record them as Skipped."""
        now = time.time() if now is None else now
        self.check()
        started = []
        for schedule in self.store.schedules():
            due = schedule["next_run_at"]
            if not schedule["enabled"] or due is None or due > now:
                continue
            count = cron.missed(
                due, now, schedule["cron"], schedule["interval"], schedule["timezone"]
            )
            following = cron.next_after(
                now, schedule["cron"], schedule["interval"], schedule["timezone"]
            )
            if schedule["catch_up"]:
                started.append(self._launch(schedule, "catch-up", due, next_run_at=following)["id"])
                continue
            run_id = f"{schedule['name']}-{time.strftime('%Y%m%d-%H%M%S')}-skipped"
            self.store.add_schedule_run(
                {
                    "id": run_id,
                    "schedule": schedule["name"],
                    "status": ScheduleRunStatus.SKIPPED.value,
                    "trigger": "missed",
                    "created_at": now,
                    "scheduled_for": due,
                    "ended_at": now,
                    "parameters": schedule["parameters"],
                    "run_dir": str(self.root / schedule["name"]),
                    "failure_reason": f"{count} run(s) missed while the platform was down "
                    "(--no-catch-up)",
                },
                following,
            )
        return started

    async def loop(self) -> None:
        """Check runs and start due ones until cancelled."""
        while True:
            try:
                self.check()
                self.tick()
            except Exception:  # keep scheduling; the next round retries
                log.exception("schedule round failed")
            await asyncio.sleep(TICK_SECONDS)


_MANAGERS: dict[int, ScheduleManager] = {}


def manager_for(home: Path, store: Store) -> ScheduleManager:
    """The one manager of ``store`` (the daemon's loop and its routes share it)."""
    found = _MANAGERS.get(id(store))
    if found is None or found.store is not store:
        found = _MANAGERS[id(store)] = ScheduleManager(home, store)
    return found


async def run_schedules(home: Path, store: Store) -> None:
    """The daemon's scheduling task: reconcile once, then loop."""
    scheduler = manager_for(home, store)
    try:
        started = scheduler.reconcile()
        if started:
            log.info("schedules: caught up with %s", ", ".join(started))
    except Exception:
        log.exception("reconciling schedules failed")
    await scheduler.loop()


__all__ = ["ScheduleManager", "manager_for", "run_schedules"]
