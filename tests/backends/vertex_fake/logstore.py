"""Cloud Logging's ``entries:list`` for the fake: entries kept in memory, filtered as asked.

The filter grammar understood is what the backend sends: ``KEY="VALUE"`` terms and
``timestamp>="T"``, joined by ``AND``. Pages come ``pageSize`` entries at a time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from typing import Any

from .web import ApiError, Request, Response, Router

_TERM = re.compile(r'^\s*([\w.]+)\s*(=|>=|>)\s*"((?:[^"\\]|\\.)*)"\s*$')
_ALLOWED = {"resourceNames", "filter", "orderBy", "pageSize", "pageToken", "projectIds"}


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LogStore:
    """Log entries by job id."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def write(
        self, project: str, job_id: str, task: str, text: str, severity: str = "INFO"
    ) -> None:
        with self._lock:
            self.entries.append(
                {
                    "logName": f"projects/{project}/logs/workerpool0-0",
                    "resource": {
                        "type": "ml_job",
                        "labels": {"job_id": job_id, "project_id": project, "task_name": task},
                    },
                    "textPayload": text,
                    "timestamp": now_rfc3339(),
                    "severity": severity,
                    "insertId": f"{next(self._ids):012d}",
                    "labels": {"ml.googleapis.com/task_name": task},
                }
            )

    def text(self, job_id: str) -> str:
        with self._lock:
            return "".join(
                e["textPayload"]
                for e in self.entries
                if e["resource"]["labels"]["job_id"] == job_id
            )

    @staticmethod
    def _value(entry: dict[str, Any], key: str) -> str:
        node: Any = entry
        for part in key.split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        return str(node)

    def _match(self, entry: dict[str, Any], terms: list[tuple[str, str, str]]) -> bool:
        for key, op, value in terms:
            have = self._value(entry, key)
            if (
                (op == "=" and have != value)
                or (op == ">=" and have < value)
                or (op == ">" and have <= value)
            ):
                return False
        return True

    def install(self, router: Router) -> None:
        router.add("POST", r"/v2/entries:list", self.list)

    def list(self, req: Request) -> Response:
        body = req.json()
        unknown = sorted(set(body) - _ALLOWED)
        if unknown:
            raise ApiError(
                400,
                f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.',
            )
        terms = []
        for raw in filter(None, re.split(r"\s+AND\s+", str(body.get("filter") or ""))):
            match = _TERM.match(raw)
            if not match:
                raise ApiError(400, f"Unparseable filter: {raw}")
            terms.append((match.group(1), match.group(2), match.group(3)))
        with self._lock:
            found = [e for e in self.entries if self._match(e, terms)]
        found.sort(key=lambda e: (e["timestamp"], e["insertId"]))
        start = int(body.get("pageToken") or 0)
        size = int(body.get("pageSize") or 50)
        out: dict[str, Any] = {"entries": found[start : start + size]}
        if start + size < len(found):
            out["nextPageToken"] = str(start + size)
        return Response.of_json(out)
