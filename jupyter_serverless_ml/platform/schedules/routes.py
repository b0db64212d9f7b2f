"""The control plane's schedule routes (added to ``build_app``)::

POST /v1/schedules                      create {"name", "notebook" (absolute), "cron" | "interval",
                                        "timezone", "parameters", "catch_up", "cwd", "kernel",
                                        "timeout", "output_dir", "replace"} -> the schedule, 201
GET  /v1/schedules                      {"schedules": [...]} with each one's last status
GET  /v1/schedules/{name}               one schedule
POST /v1/schedules/{name}/run           run now {"parameters": {...}} -> the run, 201
POST /v1/schedules/{name}/pause|resume  stop or restart firing
POST /v1/schedules/{name}/delete        delete (runs and their notebooks stay)
GET  /v1/schedules/{name}/runs?limit=   runs, newest first
GET  /v1/schedule-runs/{id}             one run
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import UsageError
from ..http_io import json_response, query_int, strict_loads
from ..store import Store
from .manager import manager_for

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    data = strict_loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


def schedule_routes(home: Path, store: Store, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The schedule routes of the daemon whose home is ``home``."""
    schedules = manager_for(home, store)

    async def create(request: Request) -> Response:
        return json_response(schedules.create(await _body(request)), 201)

    async def listing(request: Request) -> Response:
        return json_response({"schedules": schedules.summaries()})

    async def one(request: Request) -> Response:
        return json_response(schedules.describe(request.path_params["name"]))

    async def run_now(request: Request) -> Response:
        parameters = (await _body(request)).get("parameters") or {}
        if not isinstance(parameters, dict):
            raise UsageError("parameters must be a JSON object of NAME: VALUE")
        return json_response(
            schedules.start_run(request.path_params["name"], "manual", parameters), 201
        )

    async def pause(request: Request) -> Response:
        return json_response(schedules.set_enabled(request.path_params["name"], False))

    async def resume(request: Request) -> Response:
        return json_response(schedules.set_enabled(request.path_params["name"], True))

    async def delete(request: Request) -> Response:
        return json_response(schedules.delete(request.path_params["name"]))

    async def runs(request: Request) -> Response:
        limit = query_int(request, "limit", 100, 1, 10_000)
        return json_response({"runs": schedules.runs(request.path_params["name"], limit)})

    async def all_runs(request: Request) -> Response:
        limit = query_int(request, "limit", 100, 1, 10_000)
        return json_response({"runs": schedules.runs(None, limit)})

    async def run(request: Request) -> Response:
        return json_response(schedules.run_record(request.path_params["run_id"]))

    return [
        Route("/v1/schedules", guarded(create), methods=["POST"]),
        Route("/v1/schedules", guarded(listing), methods=["GET"]),
        Route("/v1/schedules/{name}", guarded(one), methods=["GET"]),
        Route("/v1/schedules/{name}/run", guarded(run_now), methods=["POST"]),
        Route("/v1/schedules/{name}/pause", guarded(pause), methods=["POST"]),
        Route("/v1/schedules/{name}/resume", guarded(resume), methods=["POST"]),
        Route("/v1/schedules/{name}/delete", guarded(delete), methods=["POST"]),
        Route("/v1/schedules/{name}/runs", guarded(runs), methods=["GET"]),
        Route("/v1/schedule-runs", guarded(all_runs), methods=["GET"]),
        Route("/v1/schedule-runs/{run_id}", guarded(run), methods=["GET"]),
    ]


__all__ = ["schedule_routes"]
