"""The batch prediction table: ``batch_jobs``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .base import StoreBase, plain, plain_fields, row_dict, row_dicts


class BatchesStore(StoreBase):
    """Batch prediction job rows."""

    def insert_batch(self, record: dict[str, Any]) -> None:
        """Record a new batch prediction job."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO batch_jobs (id, name, status, created_at, spec) VALUES (?, ?, ?, ?, ?)",
                (
                    record["id"],
                    record["name"],
                    plain(record["status"]),
                    record["created_at"],
                    json.dumps(record["spec"]),
                ),
            )

    def update_batch(self, batch_id: str, **fields: Any) -> None:
        """Update columns of a batch job."""
        if fields:
            fields = plain_fields(fields)
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self.transaction() as db:
                db.execute(
                    f"UPDATE batch_jobs SET {sets} WHERE id = ?", (*fields.values(), batch_id)
                )

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """One batch job by id."""
        return row_dict(
            self.db.execute("SELECT * FROM batch_jobs WHERE id = ?", (batch_id,)).fetchone()
        )

    def batches(
        self, status: Iterable[str] | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Batch jobs, newest first."""
        args: list[Any] = []
        clause = ""
        if status:
            wanted = [plain(s) for s in status]
            clause = f"WHERE status IN ({','.join('?' * len(wanted))})"
            args += wanted
        rows = self.db.execute(
            f"SELECT * FROM batch_jobs {clause} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return row_dicts(rows)
