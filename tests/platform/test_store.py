import sqlite3
import time
from pathlib import Path

import pytest

from jupyter_serverless_ml.platform.store import SCHEMA_VERSION, SchemaTooNew, Store


def _job(job_id: str, name: str = "n") -> dict:
    return {
        "id": job_id,
        "name": name,
        "backend": "local",
        "status": "Pending",
        "created_at": time.time(),
        "spec": {"a": 1},
        "bundle_hash": "h",
        "job_dir": "/x",
    }


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    Store(tmp_path / "db").close()  # reopening does not re-run migrations


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew, match="upgrade jupyter-serverless-ml"):
        Store(tmp_path / "db")


def test_jobs_events_metrics_and_model_versions(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.insert_job(_job("a"))
    store.insert_job(_job("b"))
    store.update_job("a", event="go", status="Running")
    assert [e["status"] for e in store.events("a")] == ["Pending", "Running"]
    assert store.latest_job("n")["id"] == "b"
    store.add_metrics("a", [{"name": "acc", "value": 0.5}, {"name": "acc", "value": 0.7}], 40)
    assert store.job("a")["metrics_offset"] == 40
    assert store.latest_metrics(["a", "b"]) == {"a": {"acc": 0.7}, "b": {}}
    model = {
        "name": "n",
        "version": store.next_model_version("n"),
        "uri": "file:///m",
        "flavor": "sklearn",
        "metadata": {"k": 1},
    }
    store.complete_job_with_model("a", model, status="Completed", ended_at=time.time())
    assert store.job("a")["model_version"] == 1
    assert store.next_model_version("n") == 2
    assert store.model("n")["metadata"] == {"k": 1}
    with pytest.raises(sqlite3.IntegrityError):
        store.complete_job_with_model("b", model, status="Completed", ended_at=time.time())
    assert store.job("b")["status"] == "Pending"  # the failed transaction changed nothing
