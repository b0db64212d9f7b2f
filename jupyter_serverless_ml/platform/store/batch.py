"""Batched commits: many store writes, one durable commit.

Every write of the store is a transaction, and with ``synchronous=FULL`` every commit
is an fsync of the write-ahead log (2-5 ms on a busy disk). A daemon round that records
several things at once (a tuning round ends a trial and submits the next one's job; a
job check folds status, metrics and result) opens a :meth:`Batching.batched`: each
:meth:`~.base.StoreBase.transaction` inside it becomes a savepoint (still atomic on its
own: one that raises is rolled back alone, as before), and the batch commits them all
with one fsync when it ends, whether or not the code inside raised. The batch runs in
one synchronous stretch of the daemon's event loop, so nothing inside it has been
acknowledged to a client before its commit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .base import StoreBase


class Batching(StoreBase):
    """Mixed into :class:`~.Store` ahead of the table groups (its ``transaction`` wins)."""

    _batch_thread: int | None = None
    _batch_open = False
    _savepoints = 0

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Defer the commits of the transactions inside to one commit at the end."""
        if self._batch_thread is not None or self.db.in_transaction:
            yield  # inside a batch or a transaction already: its commit covers this
            return
        self._batch_thread = threading.get_ident()
        try:
            yield
        finally:
            self._batch_thread = None
            if self._batch_open:
                self._batch_open = False
                try:
                    self.db.execute("COMMIT")
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction, committed on success and rolled back on error; inside
        a :meth:`batch` (of this thread) a savepoint of the batch's transaction."""
        if self._batch_thread != threading.get_ident():
            with super().transaction() as db:
                yield db
            return
        if not self._batch_open:
            self.db.execute("BEGIN IMMEDIATE")  # the first write of the batch takes the lock
            self._batch_open = True
        self._savepoints += 1
        name = f"jsml_batch_{self._savepoints}"
        self.db.execute(f"SAVEPOINT {name}")
        try:
            yield self.db
        except BaseException:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            raise
        finally:
            self._savepoints -= 1
        self.db.execute(f"RELEASE {name}")


__all__ = ["Batching"]
