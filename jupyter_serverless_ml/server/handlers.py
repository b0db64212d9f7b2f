"""Handlers of the sidebar API. Each one needs jupyter-server authentication and authorization.

Routes (under ``<base_url>/serverless-ml/api/``)::

    GET  platform                 is the local platform running; where; version
    POST platform/start           start it
    GET  jobs?status=&backend=&limit=&offset=   newest first, a page at a time
    GET  jobs/<id>                one job with its events, metrics and bundle manifest
    GET  jobs/<id>/logs?offset=   log text from a byte offset
    POST jobs/<id>/stop
    GET  endpoints                summaries
    GET  endpoints/<name>         details with events (replica and latency history)
    POST endpoints/<name>/undeploy
    GET  models                   versions, with the endpoints serving each
    GET  costs                    totals, by day, by resource type; cloud equivalents
    GET  alerts
    POST alerts/<id>/ack

Errors are JSON ``{"error", "message"}`` with one mapping (:func:`status_of`): 400
bad input, 404 unknown, 502 platform or backend unreachable or failing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .. import __version__
from ..backends.local import LocalBackend
from ..errors import BackendError, JsmlError, NotFound, UsageError

AUTH_RESOURCE = "serverless-ml"
JOB_STATUSES = ("Pending", "Preparing", "Running", "Stopping", "Completed", "Failed", "Stopped")


def status_of(error: Exception) -> int:
    """The HTTP status for an error (the one mapping of the API)."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, UsageError):
        return 400
    if isinstance(error, BackendError | JsmlError):
        return 502
    return 500


class SidebarHandler(APIHandler):
    """Base: JSON in and out, errors mapped by :func:`status_of`, blocking calls off the loop."""

    auth_resource = AUTH_RESOURCE

    def backend(self) -> LocalBackend:
        """The local platform's client (never starts the platform by itself)."""
        return LocalBackend(autostart=False)

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run a blocking backend call in a thread and answer with its JSON (or the error)."""
        try:
            result = await asyncio.to_thread(function, *args, **kwargs)
        except Exception as exc:
            status = status_of(exc)
            if status == 500:
                self.log.exception(
                    "serverless-ml: %s %s failed", self.request.method, self.request.path
                )
            self.set_status(status)
            self.finish(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
            return
        self.finish(json.dumps(result, default=str))

    def int_argument(self, name: str, default: int, low: int = 0, high: int = 10_000) -> int:
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

    async def checked(self, build: Callable[[], Any]) -> None:
        """Validate arguments with ``build`` (UsageError: 400), then :meth:`call` what it returns."""
        try:
            function, args = build()
        except UsageError as exc:
            self.set_status(400)
            self.finish(json.dumps({"error": "UsageError", "message": str(exc)}))
            return
        await self.call(function, *args)


def _platform_status() -> dict[str, Any]:
    from ..platform import client

    home = LocalBackend(autostart=False).home
    found = client.running(home)
    info: dict[str, Any] = {"running": found is not None, "home": str(home), "version": __version__}
    if found is not None:
        info.update(url=found.url, pid=found.pid)
        try:
            details = found.get("/v1/info")
            info.update(
                sandbox=details.get("sandbox"),
                active_jobs=details.get("active_jobs"),
                started_at=details.get("started_at"),
            )
        except JsmlError:
            info["running"] = False
    return info


def _start_platform() -> dict[str, Any]:
    from ..platform import client

    client.ensure_running(LocalBackend(autostart=False).home)
    return _platform_status()


class PlatformHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(_platform_status)


class PlatformStartHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        await self.call(_start_platform)


def _jobs_page(
    backend: LocalBackend, statuses: list[str], backends: list[str], limit: int, offset: int
) -> dict[str, Any]:
    if backends and "local" not in backends:
        return {"jobs": [], "offset": offset, "limit": limit, "has_more": False}
    from ..costs import usage_items

    rows = backend.jobs(status=statuses or None, limit=limit + 1, offset=offset)
    page = rows[:limit]
    costs = {item["name"]: item for item in usage_items(page, [], [])}
    for job in page:
        item = costs.get(job["id"])
        job["cost"] = (
            {k: round(item[k], 6) for k in ("sagemaker", "vertex", "local", "instance_hours")}
            if item
            else None
        )
    return {"jobs": page, "offset": offset, "limit": limit, "has_more": len(rows) > limit}


class JobsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def build() -> tuple[Callable[..., Any], tuple[Any, ...]]:
            statuses = [s for s in self.get_argument("status", "").split(",") if s]
            unknown = [s for s in statuses if s not in JOB_STATUSES]
            if unknown:
                raise UsageError(
                    f"unknown status {', '.join(unknown)}; use {', '.join(JOB_STATUSES)}"
                )
            backends = [b for b in self.get_argument("backend", "").split(",") if b]
            return _jobs_page, (
                self.backend(),
                statuses,
                backends,
                self.int_argument("limit", 50, 1, 1000),
                self.int_argument("offset", 0, 0, 10_000_000),
            )

        await self.checked(build)


def _job_details(backend: LocalBackend, ref: str) -> dict[str, Any]:
    record = backend.job(ref)
    bundle = Path(str((record.get("spec") or {}).get("bundle") or "")) / "manifest.json"
    try:
        record["bundle_manifest"] = json.loads(bundle.read_text())
    except (OSError, ValueError):
        record["bundle_manifest"] = None
    return record


class JobHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        await self.call(_job_details, self.backend(), ref)


def _logs(backend: LocalBackend, ref: str, offset: int) -> dict[str, Any]:
    text, new_offset = backend.logs(ref, offset)
    return {"text": text, "offset": new_offset, "status": backend.job(ref)["status"]}


class JobLogsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        await self.checked(
            lambda: (_logs, (self.backend(), ref, self.int_argument("offset", 0, 0, 1 << 40)))
        )


class JobStopHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, ref: str) -> None:
        await self.call(self.backend().stop, ref)


class EndpointsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: {"endpoints": self.backend().endpoints()})


def _endpoint_details(backend: LocalBackend, name: str) -> dict[str, Any]:
    record = backend.endpoint(name)
    url, _ = backend.invocation(name)
    record["invocation_url"] = url
    record["curl"] = (
        f"curl -X POST {url} -H 'Authorization: Bearer <token>' "
        "-H 'Content-Type: application/json' -d '{\"instances\": [[...]]}'"
    )
    hour_ago = time.time() - 3600
    record["history"] = [
        e
        for e in record.get("events", [])
        if e["ts"] >= hour_ago and e["kind"] in ("scale", "stats")
    ]
    return record


class EndpointHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.call(_endpoint_details, self.backend(), name)


class EndpointUndeployHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        await self.call(self.backend().undeploy, name)


def _models(backend: LocalBackend) -> dict[str, Any]:
    models = backend.models()
    serving: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for endpoint in backend.endpoints():
        for variant in endpoint["variants"]:
            key = (variant["model_name"], int(variant["model_version"]))
            serving.setdefault(key, []).append(
                {
                    "endpoint": endpoint["name"],
                    "variant": variant["name"],
                    "traffic": variant["traffic"],
                }
            )
    jobs = {j["id"]: j for j in backend.jobs(limit=1000)}
    for model in models:
        model["endpoints"] = serving.get((model["name"], int(model["version"])), [])
        job = jobs.get(model.get("job_id") or "")
        model["metrics"] = job.get("metrics", {}) if job else {}
        model["stage"] = "serving" if model["endpoints"] else "registered"
    return {"models": models}


class ModelsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(_models, self.backend())


class CostsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.backend().costs)


class AlertsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: {"alerts": self.backend().alerts()})


class AlertAckHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, alert_id: str) -> None:
        await self.call(self.backend().acknowledge_alert, int(alert_id))


def setup_handlers(web_app: Any) -> None:
    """Register the sidebar API on a jupyter-server web application."""
    base = url_path_join(web_app.settings["base_url"], "serverless-ml", "api")
    name = r"([^/]+)"
    routes = [
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
    ]
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in routes])
