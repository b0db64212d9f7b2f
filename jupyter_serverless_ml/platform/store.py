"""The platform's state in SQLite (WAL mode, schema versioned with ``PRAGMA user_version``).

Only the daemon opens the database; clients go through its HTTP API.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Each entry upgrades the schema by one version; never edit a released entry, append.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        backend TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        spec TEXT NOT NULL,
        bundle_hash TEXT,
        job_dir TEXT NOT NULL,
        supervisor_pid INTEGER,
        supervisor_start TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        failure_reason TEXT,
        model_version INTEGER,
        metrics_offset INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_name ON jobs(name, created_at);
    CREATE INDEX jobs_by_status ON jobs(status);
    CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        ts REAL NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX job_events_by_job ON job_events(job_id, ts);
    CREATE TABLE metrics (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        name TEXT NOT NULL,
        value REAL NOT NULL,
        step INTEGER,
        ts REAL NOT NULL,
        host TEXT NOT NULL DEFAULT 'algo-1'
    );
    CREATE INDEX metrics_by_job ON metrics(job_id, ts);
    CREATE TABLE models (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        job_id TEXT REFERENCES jobs(id),
        uri TEXT NOT NULL,
        flavor TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (name, version)
    );
    """,
    """
    CREATE TABLE endpoints (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        config TEXT NOT NULL,
        variants TEXT NOT NULL,
        traffic TEXT NOT NULL,
        traffic_history TEXT NOT NULL DEFAULT '[]',
        requests INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE endpoint_events (
        endpoint TEXT NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        variant TEXT,
        value REAL,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX endpoint_events_by_endpoint ON endpoint_events(endpoint, ts);
    CREATE TABLE batch_jobs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        spec TEXT NOT NULL,
        rows_total INTEGER,
        rows_done INTEGER NOT NULL DEFAULT 0,
        rows_failed INTEGER NOT NULL DEFAULT 0,
        shards_total INTEGER,
        shards_done INTEGER NOT NULL DEFAULT 0,
        failure_reason TEXT
    );
    """,
    """
    CREATE TABLE resource_usage (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        instance_type TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        count INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX resource_usage_by_end ON resource_usage(ended_at);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint TEXT NOT NULL,
        feature TEXT NOT NULL DEFAULT '',
        test TEXT NOT NULL DEFAULT '',
        value REAL,
        threshold REAL,
        message TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        acknowledged_at REAL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
ACTIVE = frozenset({"Pending", "Preparing", "Running", "Stopping"})
_JSON_COLUMNS = ("spec", "config", "variants", "traffic", "traffic_history")


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of jupyter-serverless-ml."""


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    for key in _JSON_COLUMNS:
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    if isinstance(data.get("metadata"), str):
        data["metadata"] = json.loads(data["metadata"])
    return data


def _insert_model(db: sqlite3.Connection, model: dict[str, Any], job_id: str | None) -> None:
    db.execute(
        "INSERT INTO models (name, version, job_id, uri, flavor, metadata, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            model["name"],
            model["version"],
            job_id,
            model["uri"],
            model["flavor"],
            json.dumps(model["metadata"]),
            time.time(),
        ),
    )


class Store:
    """Typed access to the platform database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def migrate(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`."""
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.path} has schema version {version}, newer than this version's "
                f"{SCHEMA_VERSION}; upgrade jupyter-serverless-ml"
            )
        for index in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[index].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={index + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction, committed on success and rolled back on error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # -- jobs ------------------------------------------------------------------

    def insert_job(self, job: dict[str, Any]) -> None:
        """Insert a new job row and its first event."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, name, backend, status, created_at, spec, bundle_hash, job_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job["id"],
                    job["name"],
                    job["backend"],
                    job["status"],
                    job["created_at"],
                    json.dumps(job["spec"]),
                    job.get("bundle_hash"),
                    job["job_dir"],
                ),
            )
            db.execute(
                "INSERT INTO job_events VALUES (?, ?, ?, ?)",
                (job["id"], job["created_at"], job["status"], "submitted"),
            )

    def update_job(self, job_id: str, event: str | None = None, **fields: Any) -> None:
        """Update columns of a job; a status change also records an event."""
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            if "status" in fields:
                db.execute(
                    "INSERT INTO job_events VALUES (?, ?, ?, ?)",
                    (job_id, time.time(), fields["status"], event or ""),
                )

    def job(self, job_id: str) -> dict[str, Any] | None:
        """One job by id."""
        return _row(self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def latest_job(self, name: str) -> dict[str, Any] | None:
        """The newest job with ``name``."""
        return _row(
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
            statuses = list(status)
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
        return [r for r in map(_row, rows) if r is not None]

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

    # -- models ----------------------------------------------------------------

    def next_model_version(self, name: str) -> int:
        """The version number the next registration of ``name`` gets."""
        row = self.db.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()
        return int(row[0] or 0) + 1

    def complete_job_with_model(
        self, job_id: str, model: dict[str, Any] | None, **fields: Any
    ) -> None:
        """Mark a job terminal and register its model version in one transaction."""
        with self.transaction() as db:
            if model is not None:
                _insert_model(db, model, job_id)
                fields["model_version"] = model["version"]
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            db.execute(
                "INSERT INTO job_events VALUES (?, ?, ?, ?)",
                (job_id, time.time(), fields["status"], fields.get("failure_reason") or ""),
            )

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Model versions, by name then version."""
        if name:
            rows = self.db.execute(
                "SELECT * FROM models WHERE name = ? ORDER BY version", (name,)
            ).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM models ORDER BY name, version").fetchall()
        return [r for r in map(_row, rows) if r is not None]

    def model(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """One model version (the latest when ``version`` is None)."""
        if version is None:
            row = self.db.execute(
                "SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            ).fetchone()
        else:
            row = self.db.execute(
                "SELECT * FROM models WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
        return _row(row)

    # -- endpoints -------------------------------------------------------------

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
                    record["status"],
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
        return _row(self.db.execute("SELECT * FROM endpoints WHERE name = ?", (name,)).fetchone())

    def endpoint_records(self) -> list[dict[str, Any]]:
        """Every stored endpoint, by name."""
        rows = self.db.execute("SELECT * FROM endpoints ORDER BY name").fetchall()
        return [r for r in map(_row, rows) if r is not None]

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

    # -- batch jobs ------------------------------------------------------------

    def insert_batch(self, record: dict[str, Any]) -> None:
        """Record a new batch prediction job."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO batch_jobs (id, name, status, created_at, spec) VALUES (?, ?, ?, ?, ?)",
                (
                    record["id"],
                    record["name"],
                    record["status"],
                    record["created_at"],
                    json.dumps(record["spec"]),
                ),
            )

    def update_batch(self, batch_id: str, **fields: Any) -> None:
        """Update columns of a batch job."""
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self.transaction() as db:
                db.execute(
                    f"UPDATE batch_jobs SET {sets} WHERE id = ?", (*fields.values(), batch_id)
                )

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """One batch job by id."""
        return _row(
            self.db.execute("SELECT * FROM batch_jobs WHERE id = ?", (batch_id,)).fetchone()
        )

    def batches(
        self, status: Iterable[str] | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Batch jobs, newest first."""
        args: list[Any] = []
        clause = ""
        if status:
            wanted = list(status)
            clause = f"WHERE status IN ({','.join('?' * len(wanted))})"
            args += wanted
        rows = self.db.execute(
            f"SELECT * FROM batch_jobs {clause} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [r for r in map(_row, rows) if r is not None]

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

    def usage(self) -> list[dict[str, Any]]:
        """Every recorded stretch of endpoint (and other non-job) resource use."""
        rows = self.db.execute("SELECT * FROM resource_usage ORDER BY started_at").fetchall()
        return [dict(r) for r in rows]

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

    def add_model(self, model: dict[str, Any]) -> None:
        """Register a model version that no job produced (deployed from a kernel variable)."""
        with self.transaction() as db:
            _insert_model(db, model, None)
