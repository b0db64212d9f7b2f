"""The sidebar API's alert counts and drift report (under ``<base_url>/serverless-ml/api/``).

``GET alerts`` (in :mod:`.handlers`) answers::

    {"alerts": [
        {"id": 3, "endpoint": "churn", "model": "churn:2", "kind": "drift",
         "feature": "age", "test": "wasserstein", "value": 0.31, "threshold": 0.1,
         "status": "InAlert",            # or "Ok" once a later check finds no drift
         "message": "feature 'age' drifted: wasserstein 0.31 >= 0.1 (2000 rows vs 4000)",
         "window_seconds": 3600, "baseline_rows": 4000, "current_rows": 2000,
         "created_at": 1764300000.0, "updated_at": 1764303600.0,
         "acknowledged_at": null, "backend": "local"}, ...],
     "counts": {"total": 5, "in_alert": 2, "unacknowledged": 1}}

``kind`` is ``drift`` (a feature), ``prediction`` (the model's outputs), ``dataset``
(at least half the features), ``schema`` (``test``: missing, extra, type) or
``monitor`` (``test``: latency_p95_ms, error_rate, cold_start_ms). ``counts.unacknowledged``
counts the alerts InAlert and not acknowledged: the Alerts tab's badge; a rise of it
is when to show a notification. Newest change first.

``GET drift/<endpoint>`` answers the endpoint's latest report (scheduled or on
demand) and its alerts: ``{"report": {...}, "alerts": [...]}`` (404 before its first check).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..backends import Monitoring
from ..errors import NotFound
from .handlers import SidebarHandler


def alert_counts(alerts: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{"total", "in_alert", "unacknowledged"}`` of alerts in their wire form."""
    items = list(alerts)
    in_alert = [a for a in items if a.get("status", "InAlert") == "InAlert"]
    return {
        "total": len(items),
        "in_alert": len(in_alert),
        "unacknowledged": sum(1 for a in in_alert if not a.get("acknowledged_at")),
    }


def drift_report(backends: Any, endpoint: str) -> dict[str, Any]:
    """The latest drift report of ``endpoint`` from the first backend that has one."""
    for _, backend in backends.having(Monitoring):
        reader = getattr(backend, "drift_report", None)
        if reader is None:
            continue
        try:
            return dict(reader(endpoint))
        except NotFound:
            continue
    raise NotFound(f"endpoint {endpoint} has not been checked for drift yet")


class DriftReportHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, endpoint: str) -> None:
        await self.call(lambda: (drift_report, (endpoint,)))


ROUTES = [(r"drift/([^/]+)", DriftReportHandler)]

__all__ = ["ROUTES", "DriftReportHandler", "alert_counts", "drift_report"]
