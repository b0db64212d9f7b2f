"""The batch part of the SageMaker backend: batch transform.

``batch_predict`` turns local input files (CSV, Parquet, JSON Lines) into JSON
Lines records on S3 (column names kept, so no CSV header reaches the model), or
uses an ``s3://`` input as it is (headerless CSV or JSON Lines), and starts a
transform job (``SplitType=Line``, ``AssembleWith=Line``, ``MultiRecord``
batches, ``JoinSource=Input`` with ``--include-input``). When the job has
completed, the first look at it writes the output as a local run does: one
``part-NNNNN.<format>`` per input file, in input order, and ``_manifest.json``
with rows in and out per shard, under ``--output`` (a local directory or s3://).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ... import artifacts
from ...catalog.pricing import hourly
from ...errors import NotFound, UsageError
from ...records import BatchRecord, BatchRequest
from ...runtime.batch import DataError, input_files
from ...statuses import BATCH_TERMINAL, BatchStatus
from ..part_files import encode_part, part_name
from .jobs import new_job_name, resource_name, timestamp
from .serving import ServingPart

BATCH_INSTANCE = "ml.m5.large"
_STATUS = {
    "InProgress": BatchStatus.RUNNING,
    "Completed": BatchStatus.COMPLETED,
    "Failed": BatchStatus.FAILED,
    "Stopping": BatchStatus.STOPPING,
    "Stopped": BatchStatus.STOPPED,
}
_CONTENT = {".csv": "text/csv", ".jsonl": "application/jsonlines", ".json": "application/jsonlines"}


def _frame(path: str, kind: str) -> Any:
    import pandas as pd

    if kind == "parquet":
        return pd.read_parquet(path)
    if kind == "jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_csv(path)


class BatchPart(ServingPart):
    """Transform jobs (mixed into :class:`SageMakerBackend`)."""

    def _write(self, uri: str, data: bytes) -> None:
        if uri.startswith("s3://"):
            self.storage.put_bytes(uri, data)
        else:
            artifacts.write_bytes(uri, data)

    def _stage_input(
        self, job: str, request: BatchRequest
    ) -> tuple[str, str, int | None, list[Any]]:
        """(S3 prefix, content type, rows, inputs) of the transform's input."""
        if request.input_uri.startswith("s3://"):
            suffix = Path(request.input_uri.rstrip("/")).suffix.lower()
            kind = _CONTENT.get(suffix) or {
                "csv": "text/csv",
                "jsonl": "application/jsonlines",
            }.get(request.input_format or "")
            if kind is None:
                raise UsageError(
                    f"batch transform reads headerless CSV or JSON Lines from S3; {request.input_uri}"
                    " is neither (pass --input-format csv|jsonl, or a local file, which is "
                    "converted when it is uploaded)"
                )
            return request.input_uri, kind, None, [request.input_uri]
        local = artifacts.local_path(request.input_uri)
        if local is None:
            raise UsageError(f"{request.input_uri}: give a local path or an s3:// URI as input")
        try:
            files = input_files(str(local), request.input_format)
        except DataError as exc:
            raise UsageError(str(exc)) from None
        prefix = self.storage.uri("batch", job, "input")
        rows = 0
        for index, (path, kind) in enumerate(files):
            frame = _frame(path, kind)
            rows += len(frame)
            body = frame.to_json(orient="records", lines=True, double_precision=15)
            self.storage.put_bytes(f"{prefix}/{part_name(index, 'jsonl')}", body.encode())
        self.notice(f"uploaded {len(files)} input file(s), {rows} rows, to {prefix}/")
        return prefix + "/", "application/jsonlines", rows, [p for p, _ in files]

    def batch_predict(self, request: BatchRequest) -> BatchRecord:
        model = self.model(request.model, request.version)  # type: ignore[attr-defined]
        job = new_job_name(f"{request.name or model.name}-batch")
        source, content_type, rows, inputs = self._stage_input(job, request)
        sm_model = self._create_model(job, model, request.method)
        price = hourly(BATCH_INSTANCE, "sagemaker")
        self.notice(f"cost estimate: {BATCH_INSTANCE} at ${price:.3f}/h while the transform runs")
        self.aws.call(
            "sagemaker",
            "create_transform_job",
            f"creating batch transform {job}",
            TransformJobName=job,
            ModelName=sm_model,
            MaxConcurrentTransforms=max(1, int(request.workers)),
            MaxPayloadInMB=6,
            BatchStrategy="MultiRecord",
            Environment={"JSML_METHOD": request.method},
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                "ContentType": content_type,
                "SplitType": "Line",
                "CompressionType": "None",
            },
            TransformOutput={
                "S3OutputPath": self.storage.uri("batch", job, "raw"),
                "Accept": "application/jsonlines",
                "AssembleWith": "Line",
            },
            TransformResources={"InstanceType": BATCH_INSTANCE, "InstanceCount": 1},
            DataProcessing={
                "InputFilter": "$",
                "JoinSource": "Input" if request.include_input else "None",
                "OutputFilter": "$",
            },
            Tags=self.tags(
                name=request.name or model.name,
                model=model.ref,
                output=artifacts.to_uri(request.output_uri),
                format=request.format,
                rows=str(rows if rows is not None else ""),
                inputs=json.dumps(inputs)[:250],
            ),
        )
        return self.batch_job(job)

    def _settings(self, arn: str) -> dict[str, str]:
        reply = self.aws.call("sagemaker", "list_tags", "reading batch tags", ResourceArn=arn)
        return {
            t["Key"][5:]: t["Value"] for t in reply.get("Tags", []) if t["Key"].startswith("jsml:")
        }

    def _finish(self, job: str, tags: dict[str, str], include_input: bool) -> dict[str, Any]:
        """Write the part files and ``_manifest.json`` of a completed transform (once)."""
        import pandas as pd

        output = tags.get("output", "")
        manifest_uri = output.rstrip("/") + "/_manifest.json"
        try:
            if (
                artifacts.exists(manifest_uri)
                if not output.startswith("s3://")
                else (self.storage.exists(manifest_uri))
            ):
                data = (
                    self.storage.get_bytes(manifest_uri)
                    if output.startswith("s3://")
                    else artifacts.read_bytes(manifest_uri)
                )
                return dict(json.loads(data))
        except NotFound:
            pass
        fmt = tags.get("format") or "parquet"
        raw = self.storage.uri("batch", job, "raw")
        keys = sorted(k for k in self.storage.keys(raw + "/") if k.endswith(".out"))
        shards: list[dict[str, Any]] = []
        for index, key in enumerate(keys):
            text = self.storage.get_bytes(f"s3://{self.storage.bucket}/{key}").decode()
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
            if include_input:
                frame = pd.DataFrame(
                    [
                        {
                            **{k: v for k, v in r.items() if k != "SageMakerOutput"},
                            "prediction": r.get("SageMakerOutput"),
                        }
                        for r in records
                    ]
                )
            else:
                frame = pd.DataFrame({"prediction": records})
            part = part_name(index, fmt)
            self._write(output.rstrip("/") + "/" + part, encode_part(frame, fmt))
            shards.append(
                {
                    "index": index,
                    "input": key,
                    "part": part,
                    "rows_in": len(records),
                    "rows_out": len(frame),
                    "rows_failed": 0,
                }
            )
        manifest = {
            "backend": "sagemaker",
            "transform_job": job,
            "model": tags.get("model"),
            "status": BatchStatus.COMPLETED.value,
            "shards": shards,
            "rows_in": sum(s["rows_in"] for s in shards),
            "rows_out": sum(s["rows_out"] for s in shards),
            "rows_failed": 0,
            "shards_done": len(shards),
        }
        self._write(manifest_uri, json.dumps(manifest, indent=1).encode())
        return manifest

    def _batch_record(self, desc: dict[str, Any], finish: bool = True) -> BatchRecord:
        job = str(desc["TransformJobName"])
        tags = self._settings(str(desc["TransformJobArn"]))
        status = _STATUS.get(str(desc.get("TransformJobStatus")), BatchStatus.PENDING)
        include = (desc.get("DataProcessing") or {}).get("JoinSource") == "Input"
        total = int(tags["rows"]) if tags.get("rows") else None
        manifest: dict[str, Any] = {}
        if status == BatchStatus.COMPLETED and finish and tags.get("output"):
            manifest = self._finish(job, tags, include)
        done = int(manifest.get("rows_out", 0))

        def ts(key: str) -> float | None:
            return timestamp(desc.get(key))

        output = tags.get("output", "")
        return BatchRecord(
            id=job,
            name=tags.get("name", job),
            status=status,
            created_at=ts("CreationTime") or 0.0,
            started_at=ts("TransformStartTime"),
            ended_at=ts("TransformEndTime") if status in BATCH_TERMINAL else None,
            rows_total=total if total is not None else (done if manifest else None),
            rows_done=done,
            shards_total=len(manifest.get("shards", [])) if manifest else None,
            shards_done=int(manifest.get("shards_done", 0)),
            failure_reason=desc.get("FailureReason"),
            output_uri=output,
            manifest_uri=output.rstrip("/") + "/_manifest.json" if manifest else "",
            spec={"model": tags.get("model"), "format": tags.get("format"), "output": output},
            details={"arn": desc.get("TransformJobArn"), "model_name": desc.get("ModelName")},
        )

    def _describe_batch(self, ref: str) -> dict[str, Any]:
        try:
            return dict(
                self.aws.call(
                    "sagemaker",
                    "describe_transform_job",
                    f"reading batch transform {ref}",
                    TransformJobName=resource_name(ref),
                )
            )
        except NotFound:
            raise NotFound(f"no SageMaker batch transform {ref!r} in {self.region}") from None

    def batch_job(
        self, ref: str, wait: float | None = None, status: str = "", rows: int = -1
    ) -> BatchRecord:
        deadline = time.monotonic() + (wait or 0.0)
        while True:
            record = self._batch_record(self._describe_batch(ref))
            if (
                wait is None
                or record.status != status
                or record.rows_done != rows
                or time.monotonic() >= deadline
            ):
                return record
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def batch_jobs(self, limit: int = 100) -> list[BatchRecord]:
        reply = self.aws.call(
            "sagemaker",
            "list_transform_jobs",
            "listing batch transforms",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=max(1, min(100, int(limit))),
        )
        return [
            self._batch_record(self._describe_batch(s["TransformJobName"]), finish=False)
            for s in reply.get("TransformJobSummaries", [])
        ]

    def stop_batch(self, ref: str) -> BatchRecord:
        record = self.batch_job(ref)
        if record.status in BATCH_TERMINAL:
            return record
        self.aws.call(
            "sagemaker",
            "stop_transform_job",
            f"stopping batch transform {record.id}",
            TransformJobName=record.id,
        )
        return self.batch_job(record.id)


__all__ = ["BatchPart"]
