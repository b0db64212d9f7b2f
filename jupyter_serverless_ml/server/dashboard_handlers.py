"""The Lab dashboard's routes: what the sidebar API lacks for the status bar and the job page.

Routes (under ``<base_url>/serverless-ml/api/``)::

    GET dashboard/summary            one poll for the status bar, notifications and badges:
        {"platform": {"running": bool, "url": str | null},
         "running_jobs": int,             jobs in an active status, every training backend
         "endpoints_in_service": int,     endpoints InService, every serving backend
         "cost_month": {"sagemaker", "vertex", "local", "currency", "month"} | null,
         "open_alerts": int,              alerts InAlert and not acknowledged (the badge)
         "alerts": [alert wire form],     the 20 newest
         "jobs": [{"id", "name", "backend", "status", "created_at", "ended_at",
                   "failure_reason"}],    the 50 newest jobs (what notifications watch)
         "errors": {backend: message}}    backends that failed to answer (the rest still count)
    GET dashboard/jobs/<id>/metrics  every ``log_metric`` record of a job, in the order logged:
        {"metrics": [{"name", "value", "step", "ts", "host"}]}

A backend that fails (the local platform stopped, a cloud unreachable) is named in
``errors`` rather than failing the summary: the status bar keeps counting the others.
"""

from __future__ import annotations

import time
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..backends import Backend, Monitoring, Serving
from ..errors import JsmlError, NotFound
from ..statuses import JOB_ACTIVE, EndpointStatus, JobStatus
from . import views
from .config import BackendSet
from .handlers import SidebarHandler

RECENT_JOBS = 50
RECENT_ALERTS = 20
JOB_FIELDS = ("id", "name", "backend", "status", "created_at", "ended_at", "failure_reason")


def _month_costs(backends: BackendSet, errors: dict[str, str]) -> dict[str, Any] | None:
    """This calendar month's costs (from the ledger's by-day rows), or None without a ledger."""
    try:
        costs = views.costs(backends)
    except JsmlError as exc:
        errors.setdefault("costs", str(exc))
        return None
    month = time.strftime("%Y-%m")
    days = [d for d in costs.get("by_day", []) if str(d.get("day", "")).startswith(month)]
    total = {
        k: round(sum(float(d.get(k) or 0) for d in days), 6)
        for k in ("sagemaker", "vertex", "local")
    }
    return {**total, "currency": costs.get("currency", "USD"), "month": month}


def _open(alert: dict[str, Any]) -> bool:
    """InAlert (alerts without a status are) and not acknowledged: what the badge counts."""
    return alert.get("status", "InAlert") == "InAlert" and not alert.get("acknowledged_at")


def summary(backends: BackendSet) -> dict[str, Any]:
    """Counts and recent items over every served backend (see the module docstring)."""
    errors: dict[str, str] = {}
    platform = views.platform_status(backends)
    active = [s.value for s in JobStatus if s in JOB_ACTIVE]
    jobs: list[dict[str, Any]] = []
    running = 0
    for name, backend in backends.having(Backend):
        try:
            records = backend.jobs(limit=RECENT_JOBS)
            running += len(backend.jobs(status=active, limit=1000))
        except JsmlError as exc:
            errors[name] = str(exc)
            continue
        jobs += [{k: r.to_wire().get(k) for k in JOB_FIELDS} for r in records]
    jobs.sort(key=lambda j: j["created_at"] or 0, reverse=True)
    in_service = 0
    for name, server in backends.having(Serving):
        try:
            statuses = [str(e.status) for e in server.endpoints()]
            in_service += statuses.count(EndpointStatus.IN_SERVICE.value)
        except JsmlError as exc:
            errors[name] = str(exc)
    alerts = []
    for name, monitor in backends.having(Monitoring):
        try:
            alerts += [a.to_wire() for a in monitor.alerts()]
        except JsmlError as exc:
            errors[name] = str(exc)
    alerts.sort(key=lambda a: a.get("created_at") or 0, reverse=True)
    return {
        "platform": {"running": platform["running"], "url": platform.get("url")},
        "running_jobs": running,
        "endpoints_in_service": in_service,
        "cost_month": _month_costs(backends, errors) if platform["running"] else None,
        "open_alerts": sum(1 for a in alerts if _open(a)),
        "alerts": alerts[:RECENT_ALERTS],
        "jobs": jobs[:RECENT_JOBS],
        "errors": errors,
    }


def job_metrics(backends: BackendSet, ref: str) -> dict[str, Any]:
    """Every metric record of a job (each ``log_metric`` call, with its step)."""
    last: NotFound | None = None
    for _, backend in backends.having(Backend):
        try:
            record = backend.job(ref)
        except NotFound as exc:
            last = exc
            continue
        return {"metrics": [m.to_wire() for m in backend.metrics(record.id)]}
    raise last or NotFound(f"{ref!r}: no served backend runs training jobs")


class SummaryHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (summary, ()))


class JobMetricsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        await self.call(lambda: (job_metrics, (ref,)))


#: (path under the API base, handler), added to the sidebar API's routes.
ROUTES: list[tuple[str, type[SidebarHandler]]] = [
    ("dashboard/summary", SummaryHandler),
    (r"dashboard/jobs/([^/]+)/metrics", JobMetricsHandler),
]

__all__ = ["ROUTES", "job_metrics", "summary"]
