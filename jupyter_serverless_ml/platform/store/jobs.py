"""The training jobs' tables: ``jobs``, ``job_events`` (status transitions) and ``metrics``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from .base import StoreBase, plain, plain_fields, row_dict, row_dicts
from .models import insert_model


class JobsStore(StoreBase):
    """Job rows, their events and their metric records."""

    def insert_job(self, job: dict[str, Any]) -> None:
        """Insert a new job row and its first event."""
        status = plain(job["status"])
        with self.transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, name, backend, status, created_at, spec, bundle_hash, job_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job["id"],
                    job["name"],
                    job["backend"],
                    status,
                    job["created_at"],
                    json.dumps(job["spec"]),
                    job.get("bundle_hash"),
                    job["job_dir"],
                ),
            )
            db.execute(
                "INSERT INTO job_events VALUES (?, ?, ?, ?)",
                (job["id"], job["created_at"], status, "submitted"),
            )

    def update_job(self, job_id: str, event: str | None = None, **fields: Any) -> None:
        """Update columns of a job; a status change also records an event."""
        if not fields:
            return
        fields = plain_fields(fields)
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            if "status" in fields:
                db.execute(
                    "INSERT INTO job_events VALUES (?, ?, ?, ?)",
                    (job_id, time.time(), fields["status"], event or ""),
                )

    def complete_job_with_model(
        self, job_id: str, model: dict[str, Any] | None, **fields: Any
    ) -> None:
        """Mark a job terminal and register its model version in one transaction."""
        fields = plain_fields(fields)
        with self.transaction() as db:
            if model is not None:
                insert_model(db, model, job_id)
                fields["model_version"] = model["version"]
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            db.execute(
                "INSERT INTO job_events VALUES (?, ?, ?, ?)",
                (job_id, time.time(), fields["status"], fields.get("failure_reason") or ""),
            )

    def job(self, job_id: str) -> dict[str, Any] | None:
        """One job by id."""
        return row_dict(self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def latest_job(self, name: str) -> dict[str, Any] | None:
        """The newest job with ``name``."""
        return row_dict(
            self.db.execute(
                "SELECT * FROM jobs WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (name,),
            ).fetchone()
        )

    def jobs(
        self,
        *,
        status: Iterable[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Jobs, newest first, optionally filtered."""
        where, args = [], []
        if status:
            statuses = [plain(s) for s in status]
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        if name:
            where.append("name = ?")
            args.append(name)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.execute(
            f"SELECT * FROM jobs {clause} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        return row_dicts(rows)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """A job's status transitions, oldest first."""
        rows = self.db.execute(
            "SELECT ts, status, message FROM job_events WHERE job_id = ? ORDER BY ts, rowid",
            (job_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    # -- metrics ---------------------------------------------------------------

    def add_metrics(self, job_id: str, records: list[dict[str, Any]], new_offset: int) -> None:
        """Append metric records and move the job's ingest offset, atomically."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO metrics (job_id, name, value, step, ts, host) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        job_id,
                        r["name"],
                        r["value"],
                        r.get("step"),
                        r.get("ts", time.time()),
                        r.get("host", "algo-1"),
                    )
                    for r in records
                ],
            )
            db.execute("UPDATE jobs SET metrics_offset = ? WHERE id = ?", (new_offset, job_id))

    def metrics(self, job_id: str, after: int = 0) -> list[dict[str, Any]]:
        """A job's metric records in the order logged, skipping the first ``after``."""
        rows = self.db.execute(
            "SELECT name, value, step, ts, host FROM metrics WHERE job_id = ? "
            "ORDER BY rowid LIMIT -1 OFFSET ?",
            (job_id, after),
        ).fetchall()
        return [dict(r) for r in rows]

    def latest_metrics(self, job_ids: list[str]) -> dict[str, dict[str, float]]:
        """The latest value of each metric, per job."""
        result: dict[str, dict[str, float]] = {j: {} for j in job_ids}
        for start in range(0, len(job_ids), 500):
            chunk = job_ids[start : start + 500]
            rows = self.db.execute(
                f"SELECT job_id, name, value FROM metrics WHERE job_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY rowid",
                chunk,
            ).fetchall()
            for job_id, name, value in rows:
                result[job_id][name] = value
        return result

    def metric_count(self, job_id: str) -> int:
        """How many metric records a job has."""
        return int(
            self.db.execute("SELECT COUNT(*) FROM metrics WHERE job_id = ?", (job_id,)).fetchone()[
                0
            ]
        )
