"""The serving tables: ``endpoints`` (desired state and lifetime counters) and ``endpoint_events``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from .base import StoreBase, plain, row_dict, row_dicts


class EndpointsStore(StoreBase):
    """Endpoint records and their scale, cold start, replica and traffic events."""

    def put_endpoint(self, record: dict[str, Any]) -> None:
        """Insert or replace an endpoint's desired state (counters are kept)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO endpoints (name, status, created_at, updated_at, config, variants,"
                " traffic, traffic_history) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET status=excluded.status,"
                " updated_at=excluded.updated_at, config=excluded.config,"
                " variants=excluded.variants, traffic=excluded.traffic,"
                " traffic_history=excluded.traffic_history",
                (
                    record["name"],
                    plain(record["status"]),
                    record["created_at"],
                    time.time(),
                    json.dumps(record["config"]),
                    json.dumps(record["variants"]),
                    json.dumps(record["traffic"]),
                    json.dumps(record.get("traffic_history", [])),
                ),
            )

    def endpoint(self, name: str) -> dict[str, Any] | None:
        """One endpoint's stored record."""
        return row_dict(
            self.db.execute("SELECT * FROM endpoints WHERE name = ?", (name,)).fetchone()
        )

    def endpoint_records(self) -> list[dict[str, Any]]:
        """Every stored endpoint, by name."""
        return row_dicts(self.db.execute("SELECT * FROM endpoints ORDER BY name").fetchall())

    def delete_endpoint(self, name: str) -> None:
        """Forget an endpoint and its events."""
        with self.transaction() as db:
            db.execute("DELETE FROM endpoints WHERE name = ?", (name,))
            db.execute("DELETE FROM endpoint_events WHERE endpoint = ?", (name,))

    def add_endpoint_counts(self, name: str, requests: int, errors: int) -> None:
        """Add to an endpoint's lifetime request and error counters."""
        with self.transaction() as db:
            db.execute(
                "UPDATE endpoints SET requests = requests + ?, errors = errors + ? WHERE name = ?",
                (requests, errors, name),
            )

    def add_endpoint_event(
        self,
        endpoint: str,
        kind: str,
        message: str = "",
        variant: str | None = None,
        value: float | None = None,
    ) -> None:
        """Record a scale, cold start, replica or traffic event."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO endpoint_events VALUES (?, ?, ?, ?, ?, ?)",
                (endpoint, time.time(), kind, variant, value, message),
            )

    def endpoint_events(
        self, endpoint: str, kinds: Iterable[str] | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """An endpoint's newest events (oldest first), optionally of some kinds."""
        args: list[Any] = [endpoint]
        clause = ""
        if kinds:
            wanted = list(kinds)
            clause = f" AND kind IN ({','.join('?' * len(wanted))})"
            args += wanted
        rows = self.db.execute(
            f"SELECT ts, kind, variant, value, message FROM endpoint_events WHERE endpoint = ?"
            f"{clause} ORDER BY ts DESC, rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [dict(r) for r in reversed(rows)]
