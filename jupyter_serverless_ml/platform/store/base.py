"""What every part of the store shares: the connection, transactions and row decoding."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

_JSON_COLUMNS = ("spec", "config", "variants", "traffic", "traffic_history")


def row_dict(row: sqlite3.Row | None) -> dict[str, Any] | None:
    """A row as a dict with its JSON columns decoded; None stays None."""
    if row is None:
        return None
    data = dict(row)
    for key in _JSON_COLUMNS:
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    if isinstance(data.get("metadata"), str):
        data["metadata"] = json.loads(data["metadata"])
    return data


def row_dicts(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    """Rows as dicts with their JSON columns decoded."""
    return [r for r in map(row_dict, rows) if r is not None]


def plain(value: Any) -> Any:
    """The value SQLite stores: an enum member (a status) as its plain string."""
    return value.value if isinstance(value, Enum) else value


def plain_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with every enum value replaced by its plain value."""
    return {key: plain(value) for key, value in fields.items()}


class StoreBase:
    """The one SQLite connection the table-group parts of :class:`~.Store` share."""

    path: Path
    db: sqlite3.Connection

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
