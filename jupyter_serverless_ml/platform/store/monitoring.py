"""The monitoring tables: ``alerts`` (the cost ledger is in :mod:`.ledger`)."""

from __future__ import annotations

import time
from typing import Any

from .base import StoreBase


class MonitoringStore(StoreBase):
    """Drift or monitor alerts."""

    def add_alert(self, alert: dict[str, Any]) -> int:
        """Record a drift or monitor alert; returns its id."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO alerts (endpoint, feature, test, value, threshold, message, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    alert["endpoint"],
                    alert.get("feature", ""),
                    alert.get("test", ""),
                    alert.get("value"),
                    alert.get("threshold"),
                    alert.get("message", ""),
                    alert.get("created_at") or time.time(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def alerts(self, include_acknowledged: bool = True) -> list[dict[str, Any]]:
        """Alerts, newest first."""
        clause = "" if include_acknowledged else "WHERE acknowledged_at IS NULL"
        rows = self.db.execute(
            f"SELECT * FROM alerts {clause} ORDER BY created_at DESC, id DESC"
        ).fetchall()
        return [dict(r) for r in rows]

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any] | None:
        """Mark an alert acknowledged (idempotent); None when there is no such alert."""
        with self.transaction() as db:
            db.execute(
                "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
                (time.time(), alert_id),
            )
        row = self.db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return dict(row) if row else None
