"""Alert messages and the optional webhook of an endpoint's alert rule.

The webhook gets a Slack-compatible JSON POST (``{"text": ...}``, which Slack,
Mattermost, Rocket.Chat and Teams' Slack-compatible connectors accept) each time
an alert of the endpoint turns ``InAlert`` or back to ``Ok``; the alert itself
rides along under ``"alert"``. A webhook that fails is logged, never retried in a
loop, and never stops a check.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger("jsml.platform")
TIMEOUT = 5.0


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4g}"


def message(condition: dict[str, Any]) -> str:
    """One line saying what a condition found (stored as the alert's message)."""
    kind, feature, test = condition["kind"], condition["feature"], condition["test"]
    value, threshold = condition.get("value"), condition.get("threshold")
    rows = f"{condition.get('current_rows', '?')} rows vs {condition.get('baseline_rows', '?')}"
    if kind == "schema":
        what = {
            "missing": "is missing from the requests",
            "extra": "is in the requests but not in the baseline",
            "type": f"has values of the wrong type ({_number(value)} of them)",
        }[test]
        return f"column {feature!r} {what}"
    if kind == "dataset":
        return f"dataset drift: {_number(value)} of the features drifted (limit {threshold})"
    if kind == "monitor":
        return f"{test} {_number(value)} (limit {_number(threshold)})"
    subject = "predictions" if kind == "prediction" else f"feature {feature!r}"
    relation = "<" if test in ("ks", "chi2") else ">="
    verdict = "drifted" if condition["breached"] else "back within bounds"
    return f"{subject} {verdict}: {test} {_number(value)} {relation} {_number(threshold)} ({rows})"


def validate_webhook(url: Any) -> str | None:
    """The webhook URL if it is an http(s) URL; ValueError otherwise."""
    if url in (None, ""):
        return None
    parsed = urlparse(str(url))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"webhook {url!r} must be an http:// or https:// URL")
    return str(url)


def payload(alert: dict[str, Any]) -> dict[str, Any]:
    """The Slack-compatible body for an alert that changed status."""
    icon = ":rotating_light:" if alert["status"] == "InAlert" else ":white_check_mark:"
    text = (
        f"{icon} [{alert['status']}] endpoint {alert['endpoint']} ({alert.get('model') or '-'}): "
        f"{alert.get('message') or alert['feature']}"
    )
    plain = {k: v for k, v in alert.items() if k != "events"}
    return {"text": text, "alert": plain}


def post(url: str, body: dict[str, Any]) -> bool:
    """POST ``body`` as JSON to ``url``; False (logged) when it fails."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError) as exc:
        log.warning("alert webhook %s failed: %s", urlparse(url).netloc, exc)
        return False


__all__ = ["message", "payload", "post", "validate_webhook"]
