"""Every schema migration of the platform database, in order, and the function that applies them.

The schema version is ``PRAGMA user_version``: the number of migrations applied.
A database written by a newer version is refused (:class:`SchemaTooNew`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from .tuning import MIGRATION as TUNING_MIGRATION

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
    """
    ALTER TABLE models ADD COLUMN stage TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE models ADD COLUMN approval TEXT NOT NULL DEFAULT 'PendingManualApproval';
    ALTER TABLE models ADD COLUMN promoted_at REAL;
    CREATE TABLE model_events (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        ts REAL NOT NULL,
        stage TEXT NOT NULL,
        approval TEXT NOT NULL,
        actor TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX model_events_by_model ON model_events(name, ts);
    """,
    """
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        notebook TEXT NOT NULL,
        cron TEXT,
        interval REAL,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        parameters TEXT NOT NULL DEFAULT '{}',
        catch_up INTEGER NOT NULL DEFAULT 1,
        enabled INTEGER NOT NULL DEFAULT 1,
        cwd TEXT NOT NULL,
        kernel TEXT,
        timeout REAL,
        created_at REAL NOT NULL,
        next_run_at REAL,
        last_run_at REAL
    );
    CREATE TABLE schedule_runs (
        id TEXT PRIMARY KEY,
        schedule TEXT NOT NULL,
        status TEXT NOT NULL,
        trigger TEXT NOT NULL DEFAULT 'schedule',
        created_at REAL NOT NULL,
        scheduled_for REAL,
        started_at REAL,
        ended_at REAL,
        parameters TEXT NOT NULL DEFAULT '{}',
        run_dir TEXT NOT NULL,
        output TEXT,
        lab_path TEXT,
        pid INTEGER,
        pid_start TEXT,
        failure_reason TEXT
    );
    CREATE INDEX schedule_runs_by_schedule ON schedule_runs(schedule, created_at);
    """,
    """
    CREATE TABLE ledger (
        kind TEXT NOT NULL,
        resource TEXT NOT NULL,
        name TEXT NOT NULL,
        backend TEXT NOT NULL DEFAULT 'local',
        instance_type TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        spot INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ended_at REAL,
        seconds REAL NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        gb_seconds REAL NOT NULL DEFAULT 0,
        gb_months REAL NOT NULL DEFAULT 0,
        max_cost REAL,
        stopped_reason TEXT,
        PRIMARY KEY (kind, resource)
    );
    CREATE INDEX ledger_by_end ON ledger(ended_at);
    """,
    """
    ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'drift';
    ALTER TABLE alerts ADD COLUMN status TEXT NOT NULL DEFAULT 'InAlert';
    ALTER TABLE alerts ADD COLUMN model TEXT NOT NULL DEFAULT '';
    ALTER TABLE alerts ADD COLUMN window_seconds REAL;
    ALTER TABLE alerts ADD COLUMN baseline_rows INTEGER;
    ALTER TABLE alerts ADD COLUMN current_rows INTEGER;
    ALTER TABLE alerts ADD COLUMN updated_at REAL;
    CREATE INDEX alerts_open ON alerts(endpoint, kind, feature, test, status);
    CREATE TABLE alert_events (
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        ts REAL NOT NULL,
        status TEXT NOT NULL,
        value REAL
    );
    CREATE TABLE baselines (
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        profile TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (model, version)
    );
    CREATE TABLE drift_rules (
        endpoint TEXT PRIMARY KEY,
        rules TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE drift_reports (
        endpoint TEXT PRIMARY KEY,
        report TEXT NOT NULL,
        checked_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE pipelines (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE pipeline_runs (
        id TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        spec TEXT NOT NULL,
        use_cache INTEGER NOT NULL DEFAULT 1,
        failure_reason TEXT
    );
    CREATE INDEX pipeline_runs_by_pipeline ON pipeline_runs(pipeline, created_at);
    CREATE INDEX pipeline_runs_by_status ON pipeline_runs(status);
    CREATE TABLE pipeline_steps (
        run_id TEXT NOT NULL REFERENCES pipeline_runs(id),
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        cache_key TEXT,
        cached_from TEXT,
        job_id TEXT,
        batch_id TEXT,
        started_at REAL,
        ended_at REAL,
        outputs TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        log TEXT NOT NULL DEFAULT '',
        failure_reason TEXT,
        PRIMARY KEY (run_id, name)
    );
    CREATE INDEX pipeline_steps_by_key ON pipeline_steps(name, cache_key);
    """,
    TUNING_MIGRATION,
]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of jupyter-serverless-ml."""


def migrate(
    db: sqlite3.Connection,
    path: Path,
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
) -> None:
    """Bring the schema of ``db`` (the database at ``path``) to :data:`SCHEMA_VERSION`.

    Each migration runs in its own ``transaction()`` with the version bump, so a
    crash between two leaves a consistent database at the earlier version.
    """
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path} has schema version {version}, newer than this version's "
            f"{SCHEMA_VERSION}; upgrade jupyter-serverless-ml"
        )
    for index in range(version, SCHEMA_VERSION):
        with transaction():
            for statement in MIGRATIONS[index].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={index + 1}")


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SchemaTooNew", "migrate"]
