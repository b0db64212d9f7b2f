"""The scheduled notebooks' tables: ``schedules`` and ``schedule_runs``."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .base import StoreBase, plain_fields

_SCHEDULE_COLUMNS = (
    "name",
    "notebook",
    "cron",
    "interval",
    "timezone",
    "parameters",
    "catch_up",
    "enabled",
    "cwd",
    "kernel",
    "timeout",
    "created_at",
    "next_run_at",
    "last_run_at",
)
_RUN_COLUMNS = (
    "id",
    "schedule",
    "status",
    "trigger",
    "created_at",
    "scheduled_for",
    "started_at",
    "ended_at",
    "parameters",
    "run_dir",
    "output",
    "lab_path",
    "pid",
    "pid_start",
    "failure_reason",
)


def _decode(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    if isinstance(data.get("parameters"), str):
        data["parameters"] = json.loads(data["parameters"])
    for flag in ("catch_up", "enabled"):
        if flag in data:
            data[flag] = bool(data[flag])
    return data


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out = plain_fields(fields)
    if "parameters" in out and not isinstance(out["parameters"], str):
        out["parameters"] = json.dumps(out["parameters"])
    for flag in ("catch_up", "enabled"):
        if flag in out and out[flag] is not None:
            out[flag] = int(bool(out[flag]))
    return out


class SchedulesStore(StoreBase):
    """Schedules (what runs when) and their runs."""

    def add_schedule(self, schedule: dict[str, Any], replace: bool = False) -> None:
        """Insert a schedule (``replace``: overwrite one of the same name)."""
        data = _encode({k: schedule.get(k) for k in _SCHEDULE_COLUMNS})
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self.transaction() as db:
            db.execute(
                f"{verb} INTO schedules ({', '.join(data)}) VALUES ({', '.join('?' * len(data))})",
                tuple(data.values()),
            )

    def schedule(self, name: str) -> dict[str, Any] | None:
        """One schedule, or None."""
        row = self.db.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
        return _decode(row)

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule, by name."""
        rows = self.db.execute("SELECT * FROM schedules ORDER BY name").fetchall()
        return [d for d in map(_decode, rows) if d is not None]

    def update_schedule(self, name: str, **fields: Any) -> None:
        """Change some columns of a schedule."""
        data = _encode(fields)
        with self.transaction() as db:
            db.execute(
                f"UPDATE schedules SET {', '.join(f'{k} = ?' for k in data)} WHERE name = ?",
                (*data.values(), name),
            )

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule (its runs and their notebooks stay)."""
        with self.transaction() as db:
            db.execute("DELETE FROM schedules WHERE name = ?", (name,))

    def add_schedule_run(self, run: dict[str, Any], next_run_at: float | None = None) -> None:
        """Insert a run and (in the same transaction) move its schedule's next and last run."""
        data = _encode({k: run.get(k) for k in _RUN_COLUMNS})
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO schedule_runs ({', '.join(data)}) "
                f"VALUES ({', '.join('?' * len(data))})",
                tuple(data.values()),
            )
            db.execute(
                "UPDATE schedules SET last_run_at = ?,"
                " next_run_at = COALESCE(?, next_run_at) WHERE name = ?",
                (run["created_at"], next_run_at, run["schedule"]),
            )

    def update_schedule_run(self, run_id: str, **fields: Any) -> None:
        """Change some columns of a run."""
        data = _encode(fields)
        with self.transaction() as db:
            db.execute(
                f"UPDATE schedule_runs SET {', '.join(f'{k} = ?' for k in data)} WHERE id = ?",
                (*data.values(), run_id),
            )

    def schedule_run(self, run_id: str) -> dict[str, Any] | None:
        """One run, or None."""
        row = self.db.execute("SELECT * FROM schedule_runs WHERE id = ?", (run_id,)).fetchone()
        return _decode(row)

    def schedule_runs(
        self, schedule: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Runs, newest first (of one schedule, in one status)."""
        clauses, params = [], []
        if schedule:
            clauses.append("schedule = ?")
            params.append(schedule)
        if status:
            clauses.append("status = ?")
            params.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(
            f"SELECT * FROM schedule_runs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [d for d in map(_decode, rows) if d is not None]

    def last_schedule_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run of each schedule."""
        rows = self.db.execute(
            "SELECT * FROM schedule_runs r WHERE created_at = "
            "(SELECT MAX(created_at) FROM schedule_runs WHERE schedule = r.schedule)"
        ).fetchall()
        return {d["schedule"]: d for d in map(_decode, rows) if d is not None}
