"""Store.batched(): the transactions inside commit together, once, each still atomic alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_serverless_ml.platform.store import Store


def _job(job_id: str) -> dict:
    return {
        "id": job_id,
        "name": "n",
        "backend": "local",
        "status": "Pending",
        "created_at": time.time(),
        "spec": {},
        "bundle_hash": "h",
        "job_dir": "/x",
    }


def _ids(path: Path) -> list[str]:
    other = sqlite3.connect(path)  # another connection sees only what was committed
    try:
        return [r[0] for r in other.execute("SELECT id FROM jobs ORDER BY id")]
    finally:
        other.close()


def test_a_batch_commits_its_writes_together_at_its_end(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.insert_job(_job("a"))
    assert _ids(tmp_path / "db") == ["a"]  # outside a batch: committed at once
    with store.batched():
        store.insert_job(_job("b"))
        store.update_job("b", status="Running", event="started")
        assert store.job("b")["status"] == "Running"  # the daemon reads its own writes
        assert _ids(tmp_path / "db") == ["a"]  # nobody else sees them yet
        with store.batched():  # nested: the outer batch's commit covers it
            store.insert_job(_job("c"))
        assert _ids(tmp_path / "db") == ["a"]
    assert _ids(tmp_path / "db") == ["a", "b", "c"]
    assert not store.db.in_transaction
    store.close()


def test_a_failed_transaction_in_a_batch_is_undone_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    with pytest.raises(RuntimeError), store.batched():
        store.insert_job(_job("kept"))
        with pytest.raises(sqlite3.IntegrityError):
            store.insert_job(_job("kept"))  # the same id again: this transaction fails
        with store.transaction() as db:
            db.execute("UPDATE jobs SET status = 'Running' WHERE id = 'kept'")
            raise RuntimeError("the code inside the batch fails")
    # what completed before the failure is committed; the failed transaction is not
    assert _ids(tmp_path / "db") == ["kept"]
    assert store.job("kept")["status"] == "Pending"
    store.insert_job(_job("after"))  # the connection is usable, outside any transaction
    assert _ids(tmp_path / "db") == ["after", "kept"]
    store.close()


def test_a_batch_cut_short_by_a_kill_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "db"
    Store(path).close()
    script = f"""
import os, time
from jupyter_serverless_ml.platform.store import Store
store = Store({str(path)!r})
with store.batched():
    for i in range(3):
        store.insert_job({{"id": f"j{{i}}", "name": "n", "backend": "local", "status": "Pending",
                          "created_at": time.time(), "spec": {{}}, "bundle_hash": "h",
                          "job_dir": "/x"}})
    os._exit(0)  # killed before the batch's commit
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    store = Store(path)
    assert store.jobs(limit=10) == []
    store.insert_job(_job("next"))  # the lock the dead process held is gone
    assert _ids(path) == ["next"]
    store.close()


def test_batching_shadows_no_table_group_method() -> None:
    from jupyter_serverless_ml.platform.store.base import StoreBase
    from jupyter_serverless_ml.platform.store.batch import Batching

    mine = {name for name in vars(Batching) if not name.startswith("__")}
    for part in Store.__mro__:
        if part in (Store, Batching, object):
            continue
        clash = mine & set(vars(part))
        assert clash <= ({"transaction"} if part is StoreBase else set()), (part, clash)
