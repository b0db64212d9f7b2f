"""The control plane's tuning routes (added to :func:`..server.build_app`'s route list).

Routes (under ``/v1``; JSON shapes in :mod:`.views`)::

    POST /studies                          start a study (see service.check_request)
    GET  /studies                          {"studies": [summary, ...]}, newest first
    GET  /studies/{name}[?wait=&since=]    one study with its trials; with ``wait`` it answers
                                           as soon as the study's updated_at differs from
                                           ``since``, or after ``wait`` seconds (at most 60)
    POST /studies/{name}/stop              stop it (its running trials' jobs are stopped)
    POST /studies/{name}/resume            {"trials": N, "parallel": P} (both optional)
    POST /studies/{name}/nudge/{job}       a trial host says a trial job's files changed: the
                                           next tuning round folds them and moves the study on
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import UsageError
from ..http_io import json_response, query_float, strict_loads
from .service import service_for

if TYPE_CHECKING:
    from ..server import Platform

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    data = strict_loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


def routes(platform_: Platform, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The tuning routes, each behind the control plane's ``guarded`` (token, error map)."""
    service = service_for(platform_)

    async def create(request: Request) -> Response:
        return json_response(service.create(await _body(request)), 201)

    async def listing(request: Request) -> Response:
        return json_response({"studies": service.summaries()})

    async def one(request: Request) -> Response:
        name = request.path_params["name"]
        if "wait" not in request.query_params:
            return json_response(service.describe(name))
        timeout = query_float(request, "wait", 10.0, 0.0, 60.0)
        since = query_float(request, "since", 0.0, 0.0, 1e12)
        return json_response(await service.watch(name, since, timeout))

    async def stop(request: Request) -> Response:
        return json_response(service.stop(request.path_params["name"]))

    async def resume(request: Request) -> Response:
        return json_response(service.resume(request.path_params["name"], await _body(request)))

    async def nudge(request: Request) -> Response:
        service.nudged(request.path_params["job"])
        return json_response({"ok": True})

    return [
        Route("/v1/studies", guarded(create), methods=["POST"]),
        Route("/v1/studies", guarded(listing), methods=["GET"]),
        Route("/v1/studies/{name}", guarded(one)),
        Route("/v1/studies/{name}/stop", guarded(stop), methods=["POST"]),
        Route("/v1/studies/{name}/resume", guarded(resume), methods=["POST"]),
        Route("/v1/studies/{name}/nudge/{job}", guarded(nudge), methods=["POST"]),
    ]


__all__ = ["routes"]
