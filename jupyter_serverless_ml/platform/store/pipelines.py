"""Pipeline tables: ``pipelines`` (definitions), ``pipeline_runs`` and ``pipeline_steps``.

A run row holds the definition it ran (``spec``), so a later change of the pipeline
never changes what an old run shows. A step row holds its status, attempt, cache key
(see :mod:`..pipelines.hashing`), the run it was served from on a cache hit, its
job (for job steps), outputs (``{"uri", "hash", ...}``), metadata (metrics, condition
results) and a short log of what the platform did for it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .base import StoreBase, plain_fields, row_dict, row_dicts

_STEP_JSON = ("outputs", "metadata")


def _step(row: dict[str, Any]) -> dict[str, Any]:
    for key in _STEP_JSON:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    row["cache_hit"] = bool(row.get("cached_from"))
    return row


class PipelinesStore(StoreBase):
    """Pipeline definitions, runs and their steps."""

    def put_pipeline(self, name: str, spec: dict[str, Any]) -> None:
        """Create or replace the definition of pipeline ``name``."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO pipelines (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
                (name, json.dumps(spec), now, now),
            )

    def pipeline(self, name: str) -> dict[str, Any] | None:
        """One pipeline definition."""
        return row_dict(self.db.execute("SELECT * FROM pipelines WHERE name = ?", (name,)).fetchone())

    def pipelines(self) -> list[dict[str, Any]]:
        """Every pipeline definition, by name."""
        return row_dicts(self.db.execute("SELECT * FROM pipelines ORDER BY name").fetchall())

    def insert_run(self, run: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        """Record a new run and its steps (all Pending) in one transaction."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO pipeline_runs (id, pipeline, status, created_at, spec, use_cache) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run["id"],
                    run["pipeline"],
                    str(run["status"]),
                    run["created_at"],
                    json.dumps(run["spec"]),
                    1 if run.get("use_cache", True) else 0,
                ),
            )
            for index, step in enumerate(steps):
                db.execute(
                    "INSERT INTO pipeline_steps (run_id, name, position, kind, status) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (run["id"], step["name"], index, step["kind"], str(step["status"])),
                )

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id."""
        row = row_dict(
            self.db.execute("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,)).fetchone()
        )
        if row is not None:
            row["use_cache"] = bool(row["use_cache"])
        return row

    def runs(
        self, pipeline: str | None = None, limit: int = 50, statuses: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Runs, newest first (of one pipeline, or with one of ``statuses``)."""
        query, args = "SELECT * FROM pipeline_runs WHERE 1=1", []
        if pipeline:
            query += " AND pipeline = ?"
            args.append(pipeline)
        if statuses:
            query += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        query += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        rows = row_dicts(self.db.execute(query, (*args, limit)).fetchall())
        for row in rows:
            row["use_cache"] = bool(row["use_cache"])
        return rows

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Update columns of a run."""
        if fields:
            fields = plain_fields(fields)
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self.transaction() as db:
                db.execute(
                    f"UPDATE pipeline_runs SET {sets} WHERE id = ?", (*fields.values(), run_id)
                )

    def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        """The steps of a run, in declaration order."""
        rows = self.db.execute(
            "SELECT * FROM pipeline_steps WHERE run_id = ? ORDER BY position", (run_id,)
        ).fetchall()
        return [_step(dict(r)) for r in rows]

    def update_step(self, run_id: str, name: str, log: str = "", **fields: Any) -> None:
        """Update columns of a step (``outputs``/``metadata`` as dicts) and append ``log``."""
        fields = plain_fields(fields)
        for key in _STEP_JSON:
            if key in fields:
                fields[key] = json.dumps(fields[key])
        sets = [f"{k} = ?" for k in fields]
        values = list(fields.values())
        if log:
            sets.append("log = log || ?")
            values.append(f"[{time.strftime('%H:%M:%S')}] {log}\n")
        if not sets:
            return
        with self.transaction() as db:
            db.execute(
                f"UPDATE pipeline_steps SET {', '.join(sets)} WHERE run_id = ? AND name = ?",
                (*values, run_id, name),
            )

    def cached_step(self, pipeline: str, step: str, cache_key: str) -> dict[str, Any] | None:
        """The newest Succeeded step of ``pipeline`` called ``step`` with ``cache_key``,
        that ran itself (not a cache hit)."""
        row = self.db.execute(
            "SELECT s.* FROM pipeline_steps s JOIN pipeline_runs r ON r.id = s.run_id "
            "WHERE r.pipeline = ? AND s.name = ? AND s.cache_key = ? AND s.status = 'Succeeded' "
            "AND s.cached_from IS NULL ORDER BY s.ended_at DESC LIMIT 1",
            (pipeline, step, cache_key),
        ).fetchone()
        return _step(dict(row)) if row is not None else None


__all__ = ["PipelinesStore"]
