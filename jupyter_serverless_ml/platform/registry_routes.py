"""The control plane's routes for model stages and approval (added to ``build_app``)::

POST /v1/models/{name}/{version}/stage     {"stage": "production", "reason": "...", "actor": ""}
                                           -> the version (the previous holder is archived)
POST /v1/models/{name}/{version}/approval  {"approval": "Rejected", "reason": "..."}
GET  /v1/model-events/{name}               {"events": [{version, ts, stage, approval,
                                           actor, reason}, ...]} oldest first
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import UsageError
from .http_io import bounded_int, json_response, strict_loads
from .registry import ModelRegistry

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    data = strict_loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


def _version(request: Request) -> tuple[str, int]:
    name = request.path_params["name"]
    return name, bounded_int(
        str(request.path_params["version"]).lstrip("v"), f"version of {name}", 1
    )


def registry_routes(registry: ModelRegistry, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The stage, approval and history routes over ``registry``."""

    async def set_stage(request: Request) -> Response:
        name, version = _version(request)
        body = await _body(request)
        if not isinstance(body.get("stage"), str):
            raise UsageError('a stage change needs {"stage": "none|staging|production|archived"}')
        return json_response(
            registry.set_stage(
                name,
                version,
                body["stage"],
                actor=str(body.get("actor") or ""),
                reason=str(body.get("reason") or ""),
            )
        )

    async def set_approval(request: Request) -> Response:
        name, version = _version(request)
        body = await _body(request)
        if not isinstance(body.get("approval"), str):
            raise UsageError(
                'an approval needs {"approval": "Approved|Rejected|PendingManualApproval"}'
            )
        return json_response(
            registry.set_approval(
                name,
                version,
                body["approval"],
                actor=str(body.get("actor") or ""),
                reason=str(body.get("reason") or ""),
            )
        )

    async def events(request: Request) -> Response:
        return json_response({"events": registry.events(request.path_params["name"])})

    return [
        Route("/v1/models/{name}/{version}/stage", guarded(set_stage), methods=["POST"]),
        Route("/v1/models/{name}/{version}/approval", guarded(set_approval), methods=["POST"]),
        Route("/v1/model-events/{name}", guarded(events), methods=["GET"]),
    ]


__all__ = ["registry_routes"]
