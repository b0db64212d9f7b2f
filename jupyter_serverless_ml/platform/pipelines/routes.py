"""The pipeline routes of the platform's control plane (all under ``/v1``)::

    POST /pipelines                      {"spec": PIPELINE, "use_cache": true}: store it, start a run
    GET  /pipelines                      every pipeline with its newest run
    GET  /pipelines/{name}               one pipeline
    GET  /pipelines/{name}/spec          its stored definition ({"name", "spec", "updated_at"};
                                         job steps with their bundle paths: for export)
    GET  /pipelines/{name}/runs?limit=   its runs, newest first
    POST /pipelines/{name}/runs          {"use_cache": true}: run the stored definition again
    GET  /pipeline-runs?limit=           every run, newest first
    GET  /pipeline-runs/{id}[?wait=&seen=]  one run (long poll: answers when the run's or a
                                         step's status differs from ``seen``, or after wait s)
    POST /pipeline-runs/{id}/stop        stop a run
    GET  /pipeline-runs/{id}/steps/{step}/logs?offset=  the step's notes and its job's log

The shapes are in :mod:`.views`. :func:`service_of` gives the one service of a
platform (the daemon's loop advances it; see :meth:`.service.PipelineService.loop`).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import UsageError
from ..http_io import json_response, query_float, query_int, strict_loads
from .service import PipelineService

Handler = Callable[[Request], Awaitable[Response]]
_services: weakref.WeakKeyDictionary[Any, PipelineService] = weakref.WeakKeyDictionary()


def service_of(platform: Any) -> PipelineService:
    """The pipeline service of a :class:`~..server.Platform` (made on first use)."""
    found = _services.get(platform)
    if found is None:
        found = _services[platform] = PipelineService(
            platform.manager, platform.endpoints, platform.batches, platform
        )
    return found


async def _body(request: Request) -> dict[str, Any]:
    data = strict_loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


def pipeline_routes(platform: Any, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The routes above, each wrapped in the control plane's ``guarded`` (token, errors)."""
    service = service_of(platform)

    async def submit(request: Request) -> Response:
        return json_response(service.submit(await _body(request)), 201)

    async def list_pipelines(request: Request) -> Response:
        return json_response({"pipelines": service.pipelines()})

    async def get_pipeline(request: Request) -> Response:
        return json_response(service.pipeline(request.path_params["name"]))

    async def get_spec(request: Request) -> Response:
        return json_response(service.stored_spec(request.path_params["name"]))

    async def list_runs(request: Request) -> Response:
        name = request.path_params.get("name")
        limit = query_int(request, "limit", 50, 1)
        return json_response({"runs": service.runs(name, limit)})

    async def rerun(request: Request) -> Response:
        body = await _body(request)
        run = service.rerun(request.path_params["name"], bool(body.get("use_cache", True)))
        return json_response(run, 201)

    async def get_run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if "wait" not in request.query_params:
            return json_response(service.describe(run_id))
        timeout = query_float(request, "wait", 10.0, 0.0, 60.0)
        seen = request.query_params.get("seen", "")
        return json_response(await service.watch(run_id, seen, timeout))

    async def stop_run(request: Request) -> Response:
        return json_response(service.stop(request.path_params["run_id"]))

    async def step_logs(request: Request) -> Response:
        offset = query_int(request, "offset", 0)
        params = request.path_params
        return json_response(service.step_log(params["run_id"], params["step"], offset))

    return [
        Route("/v1/pipelines", guarded(submit), methods=["POST"]),
        Route("/v1/pipelines", guarded(list_pipelines), methods=["GET"]),
        Route("/v1/pipelines/{name}", guarded(get_pipeline), methods=["GET"]),
        Route("/v1/pipelines/{name}/spec", guarded(get_spec), methods=["GET"]),
        Route("/v1/pipelines/{name}/runs", guarded(list_runs), methods=["GET"]),
        Route("/v1/pipelines/{name}/runs", guarded(rerun), methods=["POST"]),
        Route("/v1/pipeline-runs", guarded(list_runs), methods=["GET"]),
        Route("/v1/pipeline-runs/{run_id}", guarded(get_run), methods=["GET"]),
        Route("/v1/pipeline-runs/{run_id}/stop", guarded(stop_run), methods=["POST"]),
        Route("/v1/pipeline-runs/{run_id}/steps/{step}/logs", guarded(step_logs)),
    ]


__all__ = ["pipeline_routes", "service_of"]
