"""The model registry's table: ``models`` (one row per registered version)."""

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
