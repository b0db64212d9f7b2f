"""The batch part: Vertex AI BatchPredictionJobs over files staged in Cloud Storage.

CSV and JSON Lines go as they are (Vertex reads both); Parquet is converted to
JSON Lines first. Vertex writes ``prediction.results-*`` JSON Lines files; once
the job succeeds they are copied to the requested output (a local directory or
a ``gs://`` prefix) with a ``_manifest.json`` that counts each shard's rows.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ... import artifacts
from ...errors import NotFound, UsageError
from ...records import BatchRecord, BatchRequest
from ...statuses import BATCH_TERMINAL, BatchStatus
from ..part_files import encode_part, part_name
from ..protocol import Batch
from . import images
from .core import LABEL_FILTER, VertexCore, labels, timestamp

BATCH_STATES = {
    "JOB_STATE_QUEUED": BatchStatus.PENDING,
    "JOB_STATE_PENDING": BatchStatus.PENDING,
    "JOB_STATE_RUNNING": BatchStatus.RUNNING,
    "JOB_STATE_SUCCEEDED": BatchStatus.COMPLETED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": BatchStatus.COMPLETED,
    "JOB_STATE_FAILED": BatchStatus.FAILED,
    "JOB_STATE_EXPIRED": BatchStatus.FAILED,
    "JOB_STATE_CANCELLING": BatchStatus.STOPPING,
    "JOB_STATE_CANCELLED": BatchStatus.STOPPED,
}
FORMATS = {"csv": "csv", "jsonl": "jsonl", "json": "jsonl", "parquet": "jsonl"}
MANIFEST = "_manifest.json"


class VertexBatch(VertexCore, Batch):
    """Batch prediction jobs on Vertex AI."""

    def _stage_input(self, source: str, key: str, fmt: str) -> str:
        """The input as a ``gs://`` URI Vertex can read (uploaded, Parquet converted)."""
        if source.startswith("gs://") and fmt != "parquet":
            return source
        local = artifacts.local_path(source)
        if local is None or not local.exists():
            raise UsageError(f"batch input {source} does not exist (a local path or gs:// URI)")
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        target = self.uri("batch", key, "input")
        for path in files:
            if fmt == "parquet":
                import pandas as pd

                with tempfile.TemporaryDirectory() as tmp:
                    converted = Path(tmp) / (path.stem + ".jsonl")
                    rows = pd.read_parquet(path).to_numpy().tolist()
                    converted.write_text("".join(json.dumps(r) + "\n" for r in rows))
                    self.storage.upload_file(converted, f"{target}/{converted.name}")
            else:
                self.storage.upload_file(path, f"{target}/{path.name}")
        return f"{target}/*"

    def batch_predict(self, request: BatchRequest) -> BatchRecord:
        from google.cloud import aiplatform_v1 as v1

        model = self.model(request.model, request.version)  # type: ignore[attr-defined]
        suffix = Path(request.input_uri.rstrip("/")).suffix.lstrip(".").lower()
        fmt = (request.input_format or suffix or "csv").lower()
        if fmt not in FORMATS:
            raise UsageError(f"Vertex AI batch prediction reads csv, jsonl or parquet, not {fmt!r}")
        machine = images.machine_spec(images.DEFAULT_BATCH_MACHINE)
        workers = max(1, request.workers)
        self.estimate("batch prediction", str(machine["machine_type"]), workers, None)
        key = f"{request.name or request.model}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        source = self._stage_input(request.input_uri, key, fmt)
        job = v1.BatchPredictionJob(
            display_name=request.name or f"{request.model}-batch",
            model=model.details["resource_name"],
            input_config=v1.BatchPredictionJob.InputConfig(
                instances_format=FORMATS[fmt], gcs_source=v1.GcsSource(uris=[source])
            ),
            output_config=v1.BatchPredictionJob.OutputConfig(
                predictions_format="jsonl",
                gcs_destination=v1.GcsDestination(
                    output_uri_prefix=self.uri("batch", key, "output")
                ),
            ),
            dedicated_resources=v1.BatchDedicatedResources(
                machine_spec=v1.MachineSpec(**machine),
                starting_replica_count=workers,
                max_replica_count=workers,
            ),
            labels=labels("batch", model=request.model),
        )
        created = self._call(
            "creating a Vertex AI batch prediction job",
            self.client("job").create_batch_prediction_job,
            parent=self.settings.parent,
            batch_prediction_job=job,
        )
        self.storage.write(
            self.uri("batch", key, "request.json"),
            json.dumps(
                {
                    "output_uri": request.output_uri,
                    "job": created.name,
                    "format": request.format,
                    "include_input": request.include_input,
                }
            ).encode(),
            "application/json",
        )
        return self._batch_record(created)

    def _key(self, job: Any) -> str:
        prefix = job.output_config.gcs_destination.output_uri_prefix
        return prefix.rstrip("/").rsplit("/", 2)[-2]

    def _finish(self, job: Any) -> dict[str, Any]:
        """Copy the results to the requested output once, with a manifest; what it wrote."""
        key = self._key(job)
        request = json.loads(self.storage.read(self.uri("batch", key, "request.json")) or b"{}")
        output = str(request.get("output_uri") or self.uri("batch", key, "output"))
        manifest_uri = output.rstrip("/") + "/" + MANIFEST
        if artifacts.exists(manifest_uri):
            return {"output_uri": output, "manifest_uri": manifest_uri}
        results = job.output_info.gcs_output_directory
        shards: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as tmp:
            for path in self.storage.download_tree(results, Path(tmp)):
                if not path.name.startswith("prediction.results"):
                    continue
                data = path.read_bytes()
                name, rows = path.name, data.count(b"\n")
                if request.get("format"):  # the requested format, as the other backends write it
                    name = part_name(len(shards), request["format"])
                    data, rows = _convert(data, request["format"], request.get("include_input"))
                artifacts.write_bytes(output.rstrip("/") + "/" + name, data)
                shards.append({"file": name, "rows_out": rows, "source": path.name})
        stats = job.completion_stats
        manifest = {
            "rows_in": int(stats.successful_count) + int(stats.failed_count),
            "rows_out": sum(s["rows_out"] for s in shards),
            "rows_failed": int(stats.failed_count),
            "shards": shards,
            "source": results,
        }
        artifacts.write_json(manifest_uri, manifest)
        return {"output_uri": output, "manifest_uri": manifest_uri}

    def _batch_record(self, job: Any) -> BatchRecord:
        status = BatchStatus(BATCH_STATES.get(job.state.name, BatchStatus.PENDING))
        stats = job.completion_stats
        done, failed = int(stats.successful_count), int(stats.failed_count)
        where: dict[str, Any] = {}
        if status == BatchStatus.COMPLETED:
            where = self._finish(job)
        started, ended = timestamp(job.start_time), timestamp(job.end_time)
        return BatchRecord(
            id=job.name.rsplit("/", 1)[-1],
            name=job.display_name,
            status=status,
            created_at=timestamp(job.create_time) or time.time(),
            started_at=started,
            ended_at=ended,
            rows_total=done + failed if status in BATCH_TERMINAL else None,
            rows_done=done,
            rows_failed=failed,
            rate=done / (ended - started) if started and ended and ended > started else None,
            failure_reason=job.error.message or None,
            output_uri=str(where.get("output_uri", "")),
            manifest_uri=str(where.get("manifest_uri", "")),
            spec={"model": job.model, "input": list(job.input_config.gcs_source.uris)},
            details={
                "resource_name": job.name,
                "console_url": self.settings.console(
                    "batch-predictions", job.name.rsplit("/", 1)[-1]
                ),
            },
        )

    def _get_batch(self, ref: str) -> Any:
        if not ref.isdigit():
            raise NotFound(f"no Vertex AI batch prediction job {ref!r}; see %batch_jobs")
        return self._call(
            f"reading batch job {ref}",
            self.client("job").get_batch_prediction_job,
            name=f"{self.settings.parent}/batchPredictionJobs/{ref}",
        )

    def batch_job(
        self, ref: str, wait: float | None = None, status: str = "", rows: int = -1
    ) -> BatchRecord:
        deadline = time.monotonic() + (wait or 0)
        while True:
            job = self._get_batch(ref)
            state = BATCH_STATES.get(job.state.name, BatchStatus.PENDING)
            changed = str(state) != status or int(job.completion_stats.successful_count) != rows
            if wait is None or changed or time.monotonic() >= deadline:
                return self._batch_record(job)
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def batch_jobs(self, limit: int = 100) -> list[BatchRecord]:
        pager = self._call(
            "listing batch prediction jobs",
            self.client("job").list_batch_prediction_jobs,
            request={"parent": self.settings.parent, "filter": LABEL_FILTER, "page_size": 100},
        )
        found = sorted(
            self._call("listing batch jobs", list, pager),
            key=lambda j: timestamp(j.create_time) or 0,
            reverse=True,
        )
        return [self._batch_record(j) for j in found[:limit]]

    def stop_batch(self, ref: str) -> BatchRecord:
        job = self._get_batch(ref)
        if BATCH_STATES.get(job.state.name) not in BATCH_TERMINAL:
            self._call(
                f"cancelling batch job {ref}",
                self.client("job").cancel_batch_prediction_job,
                name=job.name,
            )
            job = self._get_batch(ref)
        return self._batch_record(job)


def _convert(data: bytes, fmt: str, include_input: Any) -> tuple[bytes, int]:
    """Vertex's ``{"instance": ..., "prediction": ...}`` JSON Lines as a ``prediction`` column
    (after the ``instance`` with ``--include-input``) in ``fmt``; the bytes and their rows."""

    import pandas as pd

    rows = [json.loads(line) for line in data.splitlines() if line.strip()]
    frame = pd.DataFrame({"prediction": [r.get("prediction") for r in rows]})
    if include_input:
        frame.insert(0, "instance", [r.get("instance") for r in rows])
    return encode_part(frame, fmt), len(frame)
