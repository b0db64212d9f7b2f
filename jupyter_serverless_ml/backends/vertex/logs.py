"""A CustomJob's log from Cloud Logging (``entries:list``), with opaque cursors.

Vertex AI writes each replica's stdout and stderr to Cloud Logging as entries of
resource type ``ml_job``. A cursor names the last entry read (its timestamp and
the insert ids read at that timestamp), so a later call asks only for newer
entries; it is handed out as an opaque string and refused when it is not one.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ...errors import UsageError
from .errors import call

PREFIX = "vx1."
PAGE_SIZE = 1000


def encode(after: str, seen: list[str]) -> str:
    """A cursor after the entries ``seen`` at timestamp ``after``."""
    raw = json.dumps({"t": after, "i": seen}, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[str, set[str]]:
    """``(timestamp, insert ids seen at it)`` of a cursor (``("", set())`` from the start)."""
    if not cursor:
        return "", set()
    try:
        if not cursor.startswith(PREFIX):
            raise ValueError(cursor)
        body = cursor[len(PREFIX) :]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return str(data["t"]), {str(i) for i in data["i"]}
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"log cursor {cursor!r} did not come from the vertex backend; start again without one"
        ) from None


def _text(entry: dict[str, Any]) -> str:
    if "textPayload" in entry:
        return str(entry["textPayload"])
    payload = entry.get("jsonPayload") or {}
    return str(payload.get("message", json.dumps(payload)))


def read(
    session: Any, endpoint: str, project: str, job_id: str, cursor: str | None, retries: int
) -> tuple[str, str]:
    """The log text after ``cursor`` and the cursor after it."""
    after, seen = decode(cursor)
    query = f'resource.type="ml_job" AND resource.labels.job_id="{job_id}"'
    if after:
        query += f' AND timestamp>="{after}"'
    lines: list[str] = []
    token = ""
    last, last_ids = after, set(seen)
    while True:
        body: dict[str, Any] = {
            "resourceNames": [f"projects/{project}"],
            "filter": query,
            "orderBy": "timestamp asc",
            "pageSize": PAGE_SIZE,
        }
        if token:
            body["pageToken"] = token
        reply = call(
            f"reading the log of job {job_id}",
            _post,
            session,
            f"{endpoint}/v2/entries:list",
            body,
            retries=retries,
        )
        for entry in reply.get("entries") or []:
            stamp, insert = str(entry.get("timestamp", "")), str(entry.get("insertId", ""))
            if stamp == after and insert in seen:
                continue
            text = _text(entry)
            lines.append(text if text.endswith("\n") else text + "\n")
            if stamp != last:
                last, last_ids = stamp, set()
            last_ids.add(insert)
        token = str(reply.get("nextPageToken") or "")
        if not token:
            break
    return "".join(lines), encode(last, sorted(last_ids)) if last else (cursor or encode("", []))


def _post(session: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    from google.api_core import exceptions as gexc

    response = session.post(url, json=body, timeout=60)
    if response.status_code >= 400:
        raise gexc.from_http_response(response)
    return dict(response.json())
