"""Costs and alerts (the Python API).

>>> costs()["total"]; alerts(); acknowledge_alert(3)
"""

from __future__ import annotations

from typing import Any

from ..backends import Monitoring, get_backend, require
from ..records import AlertRecord


def costs(backend: str | None = None) -> dict[str, Any]:
    """Costs so far: the total, by day and by resource type, with what SageMaker and
    Vertex AI would bill for the same instance-hours."""
    return require(get_backend(backend), Monitoring).costs()


def alerts(backend: str | None = None) -> list[AlertRecord]:
    """Drift and monitor alerts, newest first."""
    return require(get_backend(backend), Monitoring).alerts()


def acknowledge_alert(alert_id: int, backend: str | None = None) -> AlertRecord:
    """Acknowledge an alert."""
    return require(get_backend(backend), Monitoring).acknowledge_alert(alert_id)
