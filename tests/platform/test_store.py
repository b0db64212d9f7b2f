import sqlite3
import time
from pathlib import Path

import pytest

from jupyter_serverless_ml.platform.store import SCHEMA_VERSION, SchemaTooNew, Store
from jupyter_serverless_ml.platform.store.migrations import MIGRATIONS
from jupyter_serverless_ml.statuses import JOB_ACTIVE, BatchStatus, JobStatus


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


def test_an_older_database_is_migrated_in_place(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "db")
    db.executescript(MIGRATIONS[0])  # as the first release left it, with a job in it
    db.execute("PRAGMA user_version=1")
    db.execute(
        "INSERT INTO jobs (id, name, backend, status, created_at, spec, job_dir)"
        " VALUES ('old', 'n', 'local', 'Completed', 1.0, '{}', '/x')"
    )
    db.commit()
    db.close()
    store = Store(tmp_path / "db")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.job("old")["status"] == "Completed"
    assert store.endpoint_records() == [] and store.batches() == [] and store.alerts() == []


def test_statuses_are_stored_as_their_plain_strings(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.insert_job(dict(_job("a"), status=JobStatus.PENDING))
    store.update_job("a", event="go", status=JobStatus.RUNNING)
    store.insert_batch(
        {"id": "b", "name": "n", "status": BatchStatus.PENDING, "created_at": 1.0, "spec": {}}
    )
    store.update_batch("b", status=BatchStatus.COMPLETED)
    rows = store.db.execute(
        "SELECT status, typeof(status) FROM jobs UNION ALL SELECT status, typeof(status)"
        " FROM job_events UNION ALL SELECT status, typeof(status) FROM batch_jobs"
    ).fetchall()
    assert sorted(tuple(r) for r in rows) == [
        ("Completed", "text"),
        ("Pending", "text"),
        ("Running", "text"),
        ("Running", "text"),
    ]
    assert [j["id"] for j in store.jobs(status=JOB_ACTIVE)] == ["a"]
    assert type(store.job("a")["status"]) is str
