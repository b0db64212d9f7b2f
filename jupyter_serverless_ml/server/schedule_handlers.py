"""The sidebar's Schedules panel: schedules, their runs, and Run now.

Routes (under ``<base_url>/serverless-ml/api/``)::

    GET  schedules                  {"schedules": [{"name", "notebook", "cron", "interval",
                                      "timezone", "parameters", "catch_up", "enabled",
                                      "next_run_at", "last_run_at", "last_status", "backend"}]}
    GET  schedules/<name>/runs?limit=   {"runs": [{"id", "schedule", "status":
                                      "Running|Completed|Failed|Skipped", "trigger",
                                      "created_at", "started_at", "ended_at", "duration",
                                      "parameters", "failure_reason", "output_uri",
                                      "link": "/lab/tree/<path>" | null, "backend"}]}
                                      newest first; ``link`` opens the executed notebook in
                                      Lab (null when it lies outside the server's root)
    POST schedules/<name>/run       {"parameters": {...}} -> the new run (as above)

Every served backend with the schedules part is asked; one that fails is skipped.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..backends.schedules_part import Schedules
from ..errors import JsmlError, NotFound, UsageError
from ..records import ScheduleRunRecord
from .config import BackendSet
from .handlers import SidebarHandler


def _run(record: ScheduleRunRecord, backend: str, root: str | None) -> dict[str, Any]:
    data = record.to_wire()
    data["duration"] = record.duration
    data["backend"] = backend
    copy = record.details.get("lab_copy_path")
    link = None
    if copy and root:
        relative = os.path.relpath(str(copy), root)
        if not relative.startswith(".."):
            link = "/lab/tree/" + relative.replace(os.sep, "/")
    data["link"] = link
    return data


def schedules(backends: BackendSet) -> dict[str, Any]:
    """Every schedule of every served backend with the schedules part."""
    out = []
    for name, backend in backends.having(Schedules):
        try:
            found = backend.schedules()
        except JsmlError:
            continue
        out += [dict(s.to_wire(), backend=name) for s in found]
    return {"schedules": out}


def _owner(backends: BackendSet, schedule: str) -> tuple[str, Schedules]:
    last: NotFound | None = None
    for name, backend in backends.having(Schedules):
        try:
            backend.schedule(schedule)
            return name, backend
        except NotFound as exc:
            last = exc
    raise last or NotFound(f"no served backend has a schedule {schedule!r}")


def runs(backends: BackendSet, schedule: str, limit: int, root: str | None) -> dict[str, Any]:
    """One schedule's runs, newest first, each with its Lab link."""
    name, backend = _owner(backends, schedule)
    return {"runs": [_run(r, name, root) for r in backend.schedule_runs(schedule, limit)]}


def run_now(
    backends: BackendSet, schedule: str, body: dict[str, Any], root: str | None
) -> dict[str, Any]:
    """Start a run now."""
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise UsageError('"parameters" must be an object of NAME: VALUE')
    name, backend = _owner(backends, schedule)
    return _run(backend.run_schedule(schedule, parameters), name, root)


class SchedulesHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (schedules, ()))


class ScheduleRunsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        root = self.settings.get("server_root_dir")
        await self.call(lambda: (runs, (name, self.int_argument("limit", 50, 1, 1000), root)))


class ScheduleRunNowHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        def build() -> tuple[Any, tuple[Any, ...]]:
            try:
                body = json.loads(self.request.body or b"{}")
            except ValueError:
                raise UsageError("the request body must be JSON") from None
            if not isinstance(body, dict):
                raise UsageError("the request body must be a JSON object")
            return run_now, (name, body, self.settings.get("server_root_dir"))

        await self.call(build)


ROUTES = [
    ("schedules", SchedulesHandler),
    (r"schedules/([^/]+)/runs", ScheduleRunsHandler),
    (r"schedules/([^/]+)/run", ScheduleRunNowHandler),
]

__all__ = ["ROUTES", "run_now", "runs", "schedules"]
