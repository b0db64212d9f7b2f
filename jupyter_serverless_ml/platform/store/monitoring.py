"""The monitoring tables: ``alerts`` (with their ``alert_events``) and drift's
``baselines``, ``drift_rules`` and ``drift_reports`` (the cost ledger is in :mod:`.ledger`).

An alert is one condition of one endpoint (``kind``, ``feature``, ``test``: a
feature's drift, a schema problem, dataset or prediction drift, a monitor). Its
``status`` is ``InAlert`` while the condition holds and ``Ok`` once a later check
finds it gone; if it comes back, the same alert is ``InAlert`` again and needs a
new acknowledgement. Every change of status is an ``alert_events`` row.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .base import StoreBase

#: alert kinds that are one alert per feature whichever test measured it
ANY_TEST = ("drift", "prediction")


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

    def alerts(
        self, include_acknowledged: bool = True, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        """Alerts (of one endpoint, or all), newest change first."""
        clauses, args = [], []
        if not include_acknowledged:
            clauses.append("acknowledged_at IS NULL")
        if endpoint:
            clauses.append("endpoint = ?")
            args.append(endpoint)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(
            f"SELECT * FROM alerts {where} ORDER BY COALESCE(updated_at, created_at) DESC, id DESC",
            args,
        ).fetchall()
        return [dict(r) for r in rows]

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        """One alert with its status changes (``events``), or None."""
        row = self.db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            return None
        events = self.db.execute(
            "SELECT ts, status, value FROM alert_events WHERE alert_id = ? ORDER BY ts", (alert_id,)
        ).fetchall()
        return {**dict(row), "events": [dict(e) for e in events]}

    def apply_conditions(
        self, endpoint: str, model: str, window: float, conditions: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Fold one check's conditions into the alerts, in one transaction.

        A breached condition without an open alert opens one (``InAlert``); an open
        alert whose condition holds is updated; one whose condition no longer holds
        turns ``Ok``. Returns the alerts whose status changed (with ``status``).
        """
        now = time.time()
        changed: list[int] = []
        with self.transaction() as db:
            for c in conditions:
                row = db.execute(
                    "SELECT id, status FROM alerts WHERE endpoint = ? AND kind = ? AND feature = ?"
                    " AND (? OR test = ?) ORDER BY id DESC LIMIT 1",
                    (endpoint, c["kind"], c["feature"], c["kind"] in ANY_TEST, c["test"]),
                ).fetchone()
                fields = (
                    c.get("value"),
                    c.get("threshold"),
                    c.get("message", ""),
                    model,
                    window,
                    c.get("baseline_rows"),
                    c.get("current_rows"),
                    now,
                )
                if row is None and not c["breached"]:
                    continue
                if row is None:
                    cursor = db.execute(
                        "INSERT INTO alerts (value, threshold, message, model, window_seconds,"
                        " baseline_rows, current_rows, updated_at, endpoint, kind, feature, test,"
                        " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*fields, endpoint, c["kind"], c["feature"], c["test"], "InAlert", now),
                    )
                    alert_id, status = int(cursor.lastrowid or 0), "InAlert"
                else:
                    alert_id, old = int(row["id"]), row["status"]
                    status = "InAlert" if c["breached"] else "Ok"
                    if old == "Ok" and status == "Ok":
                        continue
                    db.execute(
                        "UPDATE alerts SET test = ?, value = ?, threshold = ?, message = ?, model = ?,"
                        " window_seconds = ?, baseline_rows = ?, current_rows = ?, updated_at = ?,"
                        " status = ?, acknowledged_at = CASE WHEN ? THEN NULL ELSE acknowledged_at"
                        " END WHERE id = ?",
                        (c["test"], *fields, status, old == "Ok" and status == "InAlert", alert_id),
                    )
                    if old == status:
                        continue
                db.execute(
                    "INSERT INTO alert_events VALUES (?, ?, ?, ?)",
                    (alert_id, now, status, c.get("value")),
                )
                changed.append(alert_id)
        return [a for a in (self.alert(i) for i in changed) if a is not None]

    # -- baselines, rules, reports ------------------------------------------------

    def set_baseline(self, model: str, version: int, profile: dict[str, Any]) -> None:
        """Store (or replace) the baseline profile of a model version."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?, ?)",
                (model, version, profile.get("source", ""), json.dumps(profile), time.time()),
            )

    def baseline(self, model: str, version: int) -> dict[str, Any] | None:
        """The baseline profile of a model version, or None."""
        row = self.db.execute(
            "SELECT profile FROM baselines WHERE model = ? AND version = ?", (model, version)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def models_without_baseline(self) -> list[dict[str, Any]]:
        """Model versions a job trained that have no baseline yet, with the job's spec."""
        rows = self.db.execute(
            "SELECT m.name, m.version, j.spec, j.started_at FROM models m JOIN jobs j"
            " ON j.id = m.job_id LEFT JOIN baselines b ON b.model = m.name AND b.version = m.version"
            " WHERE b.model IS NULL"
        ).fetchall()
        return [{**dict(r), "spec": json.loads(r["spec"])} for r in rows]

    def drift_rules(self, endpoint: str) -> dict[str, Any]:
        """The drift rules of an endpoint (empty: the defaults)."""
        row = self.db.execute(
            "SELECT rules FROM drift_rules WHERE endpoint = ?", (endpoint,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def set_drift_rules(self, endpoint: str, rules: dict[str, Any]) -> None:
        """Replace the drift rules of an endpoint."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO drift_rules VALUES (?, ?, ?)",
                (endpoint, json.dumps(rules), time.time()),
            )

    def save_drift_report(self, endpoint: str, report: dict[str, Any]) -> None:
        """Keep the latest drift report of an endpoint."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO drift_reports VALUES (?, ?, ?)",
                (endpoint, json.dumps(report), report.get("checked_at") or time.time()),
            )

    def drift_report(self, endpoint: str) -> dict[str, Any] | None:
        """The latest drift report of an endpoint, or None."""
        row = self.db.execute(
            "SELECT report FROM drift_reports WHERE endpoint = ?", (endpoint,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any] | None:
        """Mark an alert acknowledged (idempotent); None when there is no such alert."""
        with self.transaction() as db:
            db.execute(
                "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
                (time.time(), alert_id),
            )
        row = self.db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return dict(row) if row else None
