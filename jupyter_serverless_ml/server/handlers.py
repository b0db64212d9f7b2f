"""Handlers of the sidebar API. Each one needs jupyter-server authentication and authorization.

Routes (under ``<base_url>/serverless-ml/api/``)::

    GET  backends                 the served backends, their features, every status list
    GET  platform                 is the local platform running; where; version
    POST platform/start           start it
    GET  jobs?status=&backend=&limit=&offset=   newest first, a page at a time
    GET  jobs/<id>                one job with its events, metrics and bundle manifest
    GET  jobs/<id>/logs?cursor=   log text after an opaque cursor, and the next cursor
    POST jobs/<id>/stop
    GET  endpoints                summaries
    GET  endpoints/<name>         details with events (replica and latency history)
    POST endpoints/<name>/undeploy
    GET  models                   versions with stage, approval, metrics and the endpoints
                                  serving each (stage and approval changes: registry_handlers.py)
    GET  costs                    totals, by day, by resource type; cloud equivalents
    GET  alerts
    POST alerts/<id>/ack

Errors are JSON ``{"error", "message"}`` with the package's one mapping
(:func:`jupyter_serverless_ml.errors.http_status`): 400 bad input, 404 unknown,
409 conflict, 500 configuration, 502 a backend failing, 503 the platform not running.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..errors import UsageError, http_status
from ..records import Record
from ..statuses import JobStatus
from . import views
from .config import BackendSet

AUTH_RESOURCE = "serverless-ml"
SETTINGS_KEY = "serverless_ml_backends"


def _json_default(value: Any) -> Any:
    return value.to_wire() if isinstance(value, Record) else str(value)


class SidebarHandler(APIHandler):
    """Base: JSON in and out, errors mapped once, blocking backend calls off the event loop."""

    auth_resource = AUTH_RESOURCE

    @property
    def backends(self) -> BackendSet:
        """The backends this server serves (``c.ServerlessML``)."""
        found = self.settings.get(SETTINGS_KEY)
        return found if found is not None else BackendSet(["local"], {})

    async def call(self, build: Callable[[], tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        """Validate the request with ``build`` (a UsageError is a 400 before any backend call),
        run the blocking function it returns in a thread, and answer with its JSON or error."""
        try:
            function, args = build()
            result = await asyncio.to_thread(function, self.backends, *args)
        except Exception as exc:
            status = http_status(exc)
            if status == 500:
                self.log.exception(
                    "serverless-ml: %s %s failed", self.request.method, self.request.path
                )
            self.set_status(status)
            self.finish(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
            return
        self.finish(json.dumps(result, default=_json_default))

    def int_argument(self, name: str, default: int, low: int = 0, high: int = 10_000) -> int:
        """A whole-number query argument within [low, high] (UsageError otherwise)."""
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"{name}={raw!r} must be a whole number") from None
        if not low <= value <= high:
            raise UsageError(f"{name}={value} must be between {low} and {high}")
        return value

    def list_argument(self, name: str) -> list[str]:
        """A comma-separated query argument."""
        return [item for item in self.get_argument(name, "").split(",") if item]


class BackendsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (views.backends_info, ()))


class PlatformHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (views.platform_status, ()))


class PlatformStartHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        await self.call(lambda: (views.start_platform, ()))


class JobsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def build() -> tuple[Callable[..., Any], tuple[Any, ...]]:
            statuses = self.list_argument("status")
            known = [s.value for s in JobStatus]
            unknown = [s for s in statuses if s not in known]
            if unknown:
                raise UsageError(f"unknown status {', '.join(unknown)}; use {', '.join(known)}")
            return views.jobs_page, (
                statuses,
                self.list_argument("backend"),
                self.int_argument("limit", 50, 1, 1000),
                self.int_argument("offset", 0, 0, 10_000_000),
            )

        await self.call(build)


class JobHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        await self.call(lambda: (views.job_details, (ref,)))


class JobLogsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        await self.call(lambda: (views.job_logs, (ref, self.get_argument("cursor", None))))


class JobStopHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, ref: str) -> None:
        await self.call(lambda: (views.stop_job, (ref,)))


class EndpointsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (views.endpoints, ()))


class EndpointHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.call(lambda: (views.endpoint_details, (name,)))


class EndpointUndeployHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        await self.call(lambda: (views.undeploy, (name,)))


class ModelsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (views.models, ()))


class CostsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (views.costs, ()))


class AlertsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (views.alerts, ()))


class AlertAckHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, alert_id: str) -> None:
        await self.call(lambda: (views.acknowledge, (int(alert_id),)))


def setup_handlers(web_app: Any, backends: BackendSet | None = None) -> None:
    """Register the sidebar API on a jupyter-server web application."""
    from . import (
        dashboard_handlers,  # it subclasses SidebarHandler: imported once this module is
        drift_handlers,
        pipeline_handlers,
        registry_handlers,
        schedule_handlers,
        tuning_handlers,
    )
    web_app.settings[SETTINGS_KEY] = backends or BackendSet(["local"], {})
    base = url_path_join(web_app.settings["base_url"], "serverless-ml", "api")
    name = r"([^/]+)"
    routes = [
        ("backends", BackendsHandler),
        ("platform", PlatformHandler),
        ("platform/start", PlatformStartHandler),
        ("jobs", JobsHandler),
        (f"jobs/{name}", JobHandler),
        (f"jobs/{name}/logs", JobLogsHandler),
        (f"jobs/{name}/stop", JobStopHandler),
        ("endpoints", EndpointsHandler),
        (f"endpoints/{name}", EndpointHandler),
        (f"endpoints/{name}/undeploy", EndpointUndeployHandler),
        ("models", ModelsHandler),
        ("costs", CostsHandler),
        ("alerts", AlertsHandler),
        (r"alerts/(\d+)/ack", AlertAckHandler),
        *dashboard_handlers.ROUTES,
        *pipeline_handlers.ROUTES,
        *tuning_handlers.ROUTES,
        *registry_handlers.ROUTES,
        *schedule_handlers.ROUTES,
        *drift_handlers.ROUTES,
    ]
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in routes])
