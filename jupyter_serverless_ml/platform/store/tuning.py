"""The tuning tables: ``studies`` (one row per study) and ``study_trials`` (one row per trial).

A trial row ties an Optuna trial (``number``; ``optuna_id`` is its id in the daemon's in-memory
Optuna study) to the training job that runs it; the rows are the study's record, from
which the daemon rebuilds its Optuna study after a restart.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .base import StoreBase, plain, plain_fields, row_dict
from .models import insert_model

#: Appended to MIGRATIONS (see migrations.py).
MIGRATION = """
    CREATE TABLE studies (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ended_at REAL,
        spec TEXT NOT NULL,
        best_trial INTEGER,
        model_name TEXT,
        model_version INTEGER,
        failure_reason TEXT
    );
    CREATE TABLE study_trials (
        study TEXT NOT NULL REFERENCES studies(name),
        number INTEGER NOT NULL,
        optuna_id INTEGER NOT NULL,
        job_id TEXT,
        status TEXT NOT NULL,
        params TEXT NOT NULL,
        value REAL,
        step INTEGER,
        metrics_seen INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        reason TEXT,
        PRIMARY KEY (study, number)
    );
    """


def _trial(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    return data


class TuningStore(StoreBase):
    """Studies and their trials."""

    def insert_study(self, study: dict[str, Any]) -> None:
        """Insert a new study row (Running)."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO studies (name, status, created_at, updated_at, spec, model_name)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    study["name"],
                    plain(study["status"]),
                    now,
                    now,
                    json.dumps(study["spec"]),
                    study.get("model_name"),
                ),
            )

    def study(self, name: str) -> dict[str, Any] | None:
        """One study row, or None."""
        return row_dict(self.db.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone())

    def studies(self, status: list[str] | None = None) -> list[dict[str, Any]]:
        """Study rows, newest first (optionally only those in ``status``)."""
        if status:
            rows = self.db.execute(
                f"SELECT * FROM studies WHERE status IN ({','.join('?' * len(status))})"
                " ORDER BY created_at DESC",
                [plain(s) for s in status],
            ).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM studies ORDER BY created_at DESC").fetchall()
        return [d for d in map(row_dict, rows) if d is not None]

    def update_study(self, name: str, **fields: Any) -> None:
        """Update columns of a study (``spec`` is JSON-encoded); bumps ``updated_at``."""
        fields = plain_fields(fields)
        if "spec" in fields:
            fields["spec"] = json.dumps(fields["spec"])
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE studies SET {sets} WHERE name = ?", (*fields.values(), name))

    def insert_trial(self, trial: dict[str, Any]) -> None:
        """Insert a trial row (its job is already submitted)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO study_trials (study, number, optuna_id, job_id, status, params,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    trial["study"],
                    trial["number"],
                    trial["optuna_id"],
                    trial["job_id"],
                    plain(trial["status"]),
                    json.dumps(trial["params"]),
                    trial.get("created_at") or time.time(),
                ),
            )
            db.execute(
                "UPDATE studies SET updated_at = ? WHERE name = ?", (time.time(), trial["study"])
            )

    def trials(self, study: str) -> list[dict[str, Any]]:
        """A study's trial rows by number."""
        rows = self.db.execute(
            "SELECT * FROM study_trials WHERE study = ? ORDER BY number", (study,)
        ).fetchall()
        return [_trial(r) for r in rows]

    def update_trial(self, study: str, number: int, **fields: Any) -> None:
        """Update columns of a trial; a change of anything but ``metrics_seen`` bumps the
        study's ``updated_at`` (what the live views wait on)."""
        fields = plain_fields(fields)
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(
                f"UPDATE study_trials SET {sets} WHERE study = ? AND number = ?",
                (*fields.values(), study, number),
            )
            if set(fields) - {"metrics_seen"}:
                db.execute("UPDATE studies SET updated_at = ? WHERE name = ?", (time.time(), study))

    def complete_study_with_model(
        self, name: str, model: dict[str, Any] | None, job_id: str | None, **fields: Any
    ) -> None:
        """Mark a study ended and register its best trial's model in one transaction."""
        fields = plain_fields(fields)
        if model is not None:
            fields["model_version"] = model["version"]
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            if model is not None:
                insert_model(db, model, job_id)
            db.execute(f"UPDATE studies SET {sets} WHERE name = ?", (*fields.values(), name))


__all__ = ["MIGRATION", "TuningStore"]
