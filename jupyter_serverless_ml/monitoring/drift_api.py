"""Drift (the Python API): check an endpoint, set a model's baseline, tune the rules.

>>> report = drift("churn", window="1h"); report.drifted
>>> set_baseline("churn", "data/churn.csv")
>>> drift_rules("churn", interval="5m", features={"age": {"test": "ks", "threshold": 0.01}},
...             webhook="https://hooks.slack.com/services/T/B/X")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends import Monitoring, get_backend, require
from ..errors import UsageError
from ..options import parse_duration
from ..records import AlertRecord
from .drift_report import DriftReport

_DURATION_RULES = ("interval", "window")


def _seconds(value: str | float | None, what: str) -> float | None:
    seconds = parse_duration(value)
    if seconds is not None and seconds <= 0:
        raise UsageError(f"{what} must be a positive duration (e.g. 30m, 1h), not {value!r}")
    return seconds


def drift(
    endpoint: str, window: str | float | None = None, backend: str | None = None
) -> DriftReport:
    """Check ``endpoint``'s captured requests of the last ``window`` (``"1h"``, ``"30m"``,
    seconds; default: its rules' window, hourly) against its model's baseline now.

    The result folds into the endpoint's alerts (InAlert while a condition holds, Ok
    once it is gone) and renders in a notebook as a per-feature report.
    """
    part = require(get_backend(backend), Monitoring)
    answer = part.drift(endpoint, _seconds(window, "--window"))
    alerts = [AlertRecord.from_wire(a) for a in answer.get("alerts", [])]
    return DriftReport(answer["report"], alerts)


def set_baseline(
    model: str, path: str, version: int | None = None, backend: str | None = None
) -> dict[str, Any]:
    """Profile the table at ``path`` (CSV, Parquet, JSON Lines) as ``model``'s drift baseline
    (its latest version unless ``version``); returns the baseline without its samples."""
    return require(get_backend(backend), Monitoring).set_baseline(model, path, version)


def baseline(model: str, version: int | None = None, backend: str | None = None) -> dict[str, Any]:
    """A model version's baseline profile (latest version by default), without its samples."""
    part = require(get_backend(backend), Monitoring)
    if not hasattr(part, "baseline"):
        raise UsageError(f"the {getattr(part, 'name', '')} backend keeps no drift baselines")
    return dict(part.baseline(model, version))


def drift_rules(endpoint: str, backend: str | None = None, **changes: Any) -> dict[str, Any]:
    """Read (no ``changes``) or change an endpoint's drift rules; returns them.

    Rules: ``interval`` and ``window`` (durations), ``min_rows``, ``dataset_share``,
    ``features`` ({name: {"test": ks|wasserstein|jensenshannon|psi|chi2|linf,
    "threshold": x, "ignore": bool}}), ``prediction`` (the same for the outputs),
    ``latency_p95_ms``, ``error_rate``, ``cold_start_ms`` (monitor limits) and
    ``webhook`` (a Slack-compatible URL posted when an alert changes status).
    """
    for key in _DURATION_RULES:
        if key in changes:
            changes[key] = _seconds(changes[key], key)
    part = require(get_backend(backend), Monitoring)
    return part.drift_rules(endpoint, changes or None)


def in_alert(alerts: list[AlertRecord] | Mapping[str, Any]) -> int:
    """How many of ``alerts`` are InAlert and not acknowledged (the sidebar's badge)."""
    items = alerts.get("alerts", []) if isinstance(alerts, Mapping) else alerts
    return sum(1 for a in items if a.get("status") == "InAlert" and not a.get("acknowledged_at"))


__all__ = ["baseline", "drift", "drift_rules", "in_alert", "set_baseline"]
