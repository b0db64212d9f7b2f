"""The model registry's tables: ``models`` (one row per registered version, with its stage
and approval) and ``model_events`` (every stage or approval change, who and why)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .base import StoreBase, row_dict, row_dicts


def insert_model(db: sqlite3.Connection, model: dict[str, Any], job_id: str | None) -> None:
    """Insert one model version row (inside the caller's transaction)."""
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


class ModelsStore(StoreBase):
    """Model versions: numbering, registration and lookup."""

    def next_model_version(self, name: str) -> int:
        """The version number the next registration of ``name`` gets."""
        row = self.db.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()
        return int(row[0] or 0) + 1

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Model versions, by name then version."""
        if name:
            rows = self.db.execute(
                "SELECT * FROM models WHERE name = ? ORDER BY version", (name,)
            ).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM models ORDER BY name, version").fetchall()
        return row_dicts(rows)

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
        return row_dict(row)

    def add_model(self, model: dict[str, Any]) -> None:
        """Register a model version that no job produced (deployed from a kernel variable)."""
        with self.transaction() as db:
            insert_model(db, model, None)

    def set_model_state(
        self,
        name: str,
        version: int,
        *,
        stage: str | None = None,
        approval: str | None = None,
        actor: str = "",
        reason: str = "",
        exclusive: bool = True,
    ) -> list[int]:
        """Set a version's stage and/or approval in one transaction, with an event for each
        version that changed. Entering ``staging`` or ``production`` with ``exclusive``
        archives the version that held that stage (returned)."""
        now = time.time()
        archived: list[int] = []
        with self.transaction() as db:
            row = db.execute(
                "SELECT stage, approval FROM models WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            if row is None:
                return archived
            new_stage = stage or row["stage"]
            new_approval = approval or row["approval"]
            if exclusive and stage in ("staging", "production"):
                holders = db.execute(
                    "SELECT version, approval FROM models WHERE name = ? AND stage = ?"
                    " AND version != ?",
                    (name, stage, version),
                ).fetchall()
                for holder in holders:
                    db.execute(
                        "UPDATE models SET stage = 'archived' WHERE name = ? AND version = ?",
                        (name, holder["version"]),
                    )
                    db.execute(
                        "INSERT INTO model_events VALUES (?, ?, ?, 'archived', ?, ?, ?)",
                        (
                            name,
                            holder["version"],
                            now,
                            holder["approval"],
                            actor,
                            f"replaced in {stage} by version {version}",
                        ),
                    )
                    archived.append(int(holder["version"]))
            promoted = ", promoted_at = ?" if stage == "production" else ""
            params: tuple[Any, ...] = (new_stage, new_approval)
            if promoted:
                params += (now,)
            db.execute(
                f"UPDATE models SET stage = ?, approval = ?{promoted} WHERE name = ? AND version = ?",
                (*params, name, version),
            )
            db.execute(
                "INSERT INTO model_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, version, now, new_stage, new_approval, actor, reason),
            )
        return archived

    def model_events(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """Stage and approval changes of a model (or one version), oldest first."""
        if version is None:
            rows = self.db.execute(
                "SELECT * FROM model_events WHERE name = ? ORDER BY ts, rowid", (name,)
            ).fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM model_events WHERE name = ? AND version = ? ORDER BY ts, rowid",
                (name, version),
            ).fetchall()
        return [dict(r) for r in rows]
