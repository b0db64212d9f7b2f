"""Typed records: built from a backend's JSON, back to the same JSON, read like mappings."""

from __future__ import annotations

import dataclasses

import pytest

from jupyter_serverless_ml.records import (
    BatchRecord,
    DeployRequest,
    EndpointRecord,
    JobRecord,
    ModelRecord,
    TrainingRequest,
)
from jupyter_serverless_ml.statuses import JOB_ACTIVE, JOB_TERMINAL, EndpointStatus, JobStatus

JOB = {
    "id": "cancer-1a2b",
    "name": "cancer",
    "backend": "local",
    "status": "Completed",
    "created_at": 1.0,
    "started_at": 2.0,
    "ended_at": 5.5,
    "spec": {"hyperparameters": {"C": 0.5}, "instance_type": "ml.m5.large"},
    "metrics": {"accuracy": 0.9},
    "model": {"name": "cancer", "version": "3", "uri": "file:///m", "flavor": "sklearn"},
    "model_version": 3,
    "events": [{"ts": 2.0, "status": "Running", "message": "started"}],
    "job_dir": "/home/jobs/cancer-1a2b",
    "supervisor_pid": 42,
}


def test_a_job_record_round_trips_and_keeps_what_it_does_not_type() -> None:
    record = JobRecord.from_wire(JOB)
    assert record.status is JobStatus.COMPLETED and record.status == "Completed"
    assert isinstance(record.model, ModelRecord) and record.model.version == 3
    assert record.model.ref == "cancer:3" and record.events[0].message == "started"
    assert record.hyperparameters == {"C": 0.5} and record.duration == 3.5
    assert record.details == {"job_dir": "/home/jobs/cancer-1a2b", "supervisor_pid": 42}
    wire = record.to_wire()
    assert wire["status"] == "Completed" and wire["model"]["version"] == 3
    assert wire["job_dir"] == JOB["job_dir"] and wire["events"] == JOB["events"]
    assert JobRecord.from_wire(wire) == record
    assert record["job_dir"] == JOB["job_dir"] and record.get("missing", 7) == 7
    assert "supervisor_pid" in record
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = "Failed"  # type: ignore[misc]


def test_an_unknown_status_is_kept_as_its_string() -> None:
    record = EndpointRecord.from_wire({"name": "e", "backend": "cloud", "status": "Provisioning"})
    assert record.status == "Provisioning" and not isinstance(record.status, EndpointStatus)


def test_endpoint_wire_keeps_the_derived_fields() -> None:
    record = EndpointRecord.from_wire(
        {
            "name": "e",
            "backend": "local",
            "status": "InService",
            "variants": [{"name": "v1", "model_name": "m", "model_version": 1, "traffic": 100}],
            "cold_start_ms": [12.5, 30.0],
        }
    )
    assert record.variants[0].model == "m:1"
    wire = record.to_wire()
    assert wire["variants"][0]["model"] == "m:1" and wire["cold_starts"] == 2


def test_requests_leave_unset_settings_out() -> None:
    wire = DeployRequest(model="m", min_replicas=0, policy={"upscale_delay": 0.5}).to_wire()
    assert wire == {"model": "m", "min_replicas": 0, "upscale_delay": 0.5}
    assert TrainingRequest(name="t").to_wire()["instance_type"] == "ml.m5.large"
    batch = BatchRecord.from_wire({"id": "b", "name": "b", "status": "Running", "created_at": 0})
    assert batch.rows_done == 0 and batch.output_uri == ""


def test_status_sets_partition_the_statuses() -> None:
    assert JOB_ACTIVE.isdisjoint(JOB_TERMINAL)
    assert {s.value for s in JobStatus} == JOB_ACTIVE | JOB_TERMINAL
