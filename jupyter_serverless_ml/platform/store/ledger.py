"""The cost ledger: ``resource_usage`` (replica stretches) and ``ledger`` (one row per resource).

A ledger row is what one job, batch job, endpoint or stored artifact has used so far
(instance-seconds, requests, GB-months), written while it runs by the platform's
accrual service (:mod:`..costs.service`) and kept after the resource is deleted.
``max_cost`` is its budget; ``stopped_reason`` says why the budget guard stopped it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import StoreBase

_ACCRUED = ("name", "instance_type", "count", "updated_at", "ended_at", "seconds", "requests")
_COLUMNS = (
    "kind",
    "resource",
    "name",
    "backend",
    "instance_type",
    "count",
    "spot",
    "started_at",
    "updated_at",
    "ended_at",
    "seconds",
    "requests",
    "gb_seconds",
    "gb_months",
)


class LedgerStore(StoreBase):
    """Recorded resource use, per replica stretch and per resource."""

    def add_usage(
        self,
        kind: str,
        name: str,
        instance_type: str,
        started_at: float,
        ended_at: float,
        count: int = 1,
    ) -> None:
        """Record that ``count`` instances of a resource ran from ``started_at`` to ``ended_at``."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO resource_usage VALUES (?, ?, ?, ?, ?, ?)",
                (kind, name, instance_type, started_at, ended_at, count),
            )

    def usage(self, name: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        """Recorded stretches of endpoint use (of ``name``, ending after ``since``)."""
        sql = "SELECT * FROM resource_usage WHERE ended_at >= ?"
        args: list[Any] = [since]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        rows = self.db.execute(sql + " ORDER BY started_at", args).fetchall()
        return [dict(r) for r in rows]

    def ledger_write(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert or update ledger rows (one transaction); budgets and stop reasons stay."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*_ACCRUED, "gb_seconds", "gb_months"))
        sql = (
            f"INSERT INTO ledger ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
            f" ON CONFLICT(kind, resource) DO UPDATE SET {updates}"
        )
        values = [
            (
                r["kind"],
                r["resource"],
                r.get("name") or r["resource"],
                r.get("backend") or "local",
                r.get("instance_type") or "ml.m5.large",
                int(r.get("count") or 1),
                int(bool(r.get("spot"))),
                float(r["started_at"]),
                float(r.get("updated_at") or r["started_at"]),
                r.get("ended_at"),
                float(r.get("seconds") or 0.0),
                int(r.get("requests") or 0),
                float(r.get("gb_seconds") or 0.0),
                float(r.get("gb_months") or 0.0),
            )
            for r in rows
        ]
        if not values:
            return
        with self.transaction() as db:
            db.executemany(sql, values)

    def set_budget(self, kind: str, resource: str, max_cost: float, **row: Any) -> None:
        """Give a resource a budget (``--max-cost``), creating its row if needed."""
        self.ledger_write([dict(row, kind=kind, resource=resource)])
        with self.transaction() as db:
            db.execute(
                "UPDATE ledger SET max_cost = ? WHERE kind = ? AND resource = ?",
                (max_cost, kind, resource),
            )

    def stop_by_budget(self, kind: str, resource: str, reason: str) -> None:
        """Record that the budget guard stopped a resource, and why."""
        with self.transaction() as db:
            db.execute(
                "UPDATE ledger SET stopped_reason = ? WHERE kind = ? AND resource = ?",
                (reason, kind, resource),
            )

    def ledger(self, since: float = 0.0, open_only: bool = False) -> list[dict[str, Any]]:
        """Ledger rows still running or ended after ``since``, oldest first."""
        sql = "SELECT * FROM ledger WHERE (ended_at IS NULL OR ended_at >= ?)"
        if open_only:
            sql += " AND ended_at IS NULL"
        rows = self.db.execute(sql + " ORDER BY started_at", (since,)).fetchall()
        return [dict(r) for r in rows]

    def ledger_row(self, kind: str, resource: str) -> dict[str, Any] | None:
        """One resource's row."""
        row = self.db.execute(
            "SELECT * FROM ledger WHERE kind = ? AND resource = ?", (kind, resource)
        ).fetchone()
        return dict(row) if row else None

    def ledger_since(self) -> float:
        """When the ledger was last written (0 for a new one)."""
        row = self.db.execute("SELECT MAX(updated_at) FROM ledger").fetchone()
        return float(row[0] or 0.0)


__all__ = ["LedgerStore"]
