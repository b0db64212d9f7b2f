"""The platform's state in SQLite (WAL mode, schema versioned with ``PRAGMA user_version``).

Only the daemon opens the database; clients go through its HTTP API. :class:`Store`
holds the one connection; each table group's queries are in their own module
(``jobs``, ``models``, ``endpoints``, ``batches``, ``monitoring``) and every
schema change is in ``migrations``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .batch import Batching
from .batches import BatchesStore
from .endpoints import EndpointsStore
from .jobs import JobsStore
from .ledger import LedgerStore
from .migrations import SCHEMA_VERSION, SchemaTooNew, migrate
from .models import ModelsStore
from .monitoring import MonitoringStore
from .pipelines import PipelinesStore
from .schedules import SchedulesStore
from .tuning import TuningStore


class Store(
    Batching,
    JobsStore, ModelsStore, EndpointsStore, BatchesStore, MonitoringStore, SchedulesStore, LedgerStore,
    PipelinesStore,
    TuningStore,
):
    """Typed access to the platform database: one connection, every table group."""

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
        migrate(self.db, self.path, self.transaction)


__all__ = ["SCHEMA_VERSION", "SchemaTooNew", "Store"]
