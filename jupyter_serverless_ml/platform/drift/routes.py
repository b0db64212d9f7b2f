"""The control plane's drift routes (added to ``build_app``)::

GET  /v1/drift/{endpoint}?window=SECONDS  check now over the last window (default: the
                                          rules' window); -> {"report": {...}, "alerts": [...]}
GET  /v1/drift/{endpoint}/report          the latest report (scheduled or on demand)
GET  /v1/drift/{endpoint}/rules           the endpoint's rules over the defaults
POST /v1/drift/{endpoint}/rules           merge rules {"interval": 60, "features": {...}, ...}
POST /v1/baselines                        {"model", "path", "version"?} -> the baseline
GET  /v1/baselines/{model}[/{version}]    a model version's baseline (without its samples)

The report's shape is documented in :mod:`.checks`; rules in :mod:`.checks` too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import NotFound, UsageError
from ..http_io import bounded_int, json_response, query_float, strict_loads
from .service import service_for

if TYPE_CHECKING:
    from ..server import Platform

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    data = strict_loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


def drift_routes(platform_: Platform, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The drift and baseline routes of ``platform_``."""
    service = service_for(platform_)
    store = platform_.manager.store

    async def check(request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        window = None
        if "window" in request.query_params:
            window = query_float(request, "window", 3600.0, 1.0, 366 * 86400.0)
        report = await service.check(endpoint, window)
        return json_response({"report": report, "alerts": store.alerts(endpoint=endpoint)})

    async def last_report(request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        report = store.drift_report(endpoint)
        if report is None:
            raise NotFound(f"endpoint {endpoint} has not been checked for drift yet")
        return json_response({"report": report, "alerts": store.alerts(endpoint=endpoint)})

    async def get_rules(request: Request) -> Response:
        return json_response(service.rules(request.path_params["endpoint"]))

    async def set_rules(request: Request) -> Response:
        return json_response(
            service.set_rules(request.path_params["endpoint"], await _body(request))
        )

    async def set_baseline(request: Request) -> Response:
        body = await _body(request)
        if not body.get("model") or not body.get("path"):
            raise UsageError('a baseline needs {"model": NAME, "path": DATA_FILE}')
        version = body.get("version")
        if version is not None:
            version = bounded_int(str(version).lstrip("v"), "model version", 1)
        return json_response(
            service.set_baseline(str(body["model"]), str(body["path"]), version), 201
        )

    async def get_baseline(request: Request) -> Response:
        raw = request.path_params.get("version")
        version = (
            None if raw in (None, "latest") else bounded_int(str(raw).lstrip("v"), "version", 1)
        )
        return json_response(service.baseline(request.path_params["model"], version))

    return [
        Route("/v1/drift/{endpoint}", guarded(check), methods=["GET"]),
        Route("/v1/drift/{endpoint}/report", guarded(last_report), methods=["GET"]),
        Route("/v1/drift/{endpoint}/rules", guarded(get_rules), methods=["GET"]),
        Route("/v1/drift/{endpoint}/rules", guarded(set_rules), methods=["POST"]),
        Route("/v1/baselines", guarded(set_baseline), methods=["POST"]),
        Route("/v1/baselines/{model}", guarded(get_baseline), methods=["GET"]),
        Route("/v1/baselines/{model}/{version}", guarded(get_baseline), methods=["GET"]),
    ]


__all__ = ["drift_routes"]
