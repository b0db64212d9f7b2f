"""Batch prediction: score whole files with a registered model (the Python API).

>>> batch_predict("cancer", "data/all.parquet", output="out/scores/").wait()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import artifacts
from ..backends import Batch, get_backend, require
from ..errors import UsageError
from ..records import BatchRequest
from ..registry import model_ref
from .handles import BatchJob


def batch_predict(
    model: Any,
    data: str | Path,
    *,
    output: str | Path,
    workers: int = 2,
    chunk_rows: int = 100_000,
    format: str = "parquet",
    input_format: str | None = None,
    on_error: str = "fail",
    retries: int = 2,
    method: str = "predict",
    include_input: bool = False,
    name: str | None = None,
    csv_header: str = "auto",
    wait: bool = True,
    progress: Callable[[str], Any] | None = None,
    backend: str | None = None,
    max_cost: float | None = None,
) -> BatchJob:
    """Predict every row of a CSV, Parquet or JSONL file (or directory of them).

    Writes one part file per shard into ``output`` (in input order) and a
    ``_manifest.json``; rerunning into the same ``output`` does only the
    missing shards. ``on_error="skip"`` writes rows the model cannot take with
    an empty prediction and an ``error`` column instead of failing.
    ``csv_header``: ``auto`` (a first line of numbers is data, as batch transform's
    headerless CSV), ``yes`` or ``no``; rows out always equal the data lines in.
    ``include_input`` writes every input column (ids too) beside the predictions.
    """
    if csv_header not in ("auto", "yes", "no"):
        raise UsageError(f"--csv-header must be auto, yes or no, not {csv_header!r}")
    chosen = get_backend(backend)
    runner = require(chosen, Batch)
    model_name, version = model_ref(model, name, backend)
    source = artifacts.to_uri(data)
    if not artifacts.exists(source):
        raise UsageError(f"batch input {data} does not exist; pass a file or a directory")
    record = runner.batch_predict(
        BatchRequest(
            model=model_name,
            version=version,
            input_uri=source,
            output_uri=artifacts.to_uri(output),
            workers=workers,
            chunk_rows=chunk_rows,
            format=format,
            input_format=input_format,
            on_error=on_error,
            retries=retries,
            method=method,
            include_input=include_input,
            name=name,
            csv_header=csv_header,
            max_cost=max_cost,
        )
    )
    job = BatchJob(chosen, record)
    if wait:
        job.wait(progress=progress)
    return job


def batch_job(ref: str, backend: str | None = None) -> BatchJob:
    """A batch prediction job by id."""
    chosen = get_backend(backend)
    return BatchJob(chosen, require(chosen, Batch).batch_job(ref))


def batch_jobs(limit: int = 20, backend: str | None = None) -> list[BatchJob]:
    """Batch prediction jobs, newest first."""
    chosen = get_backend(backend)
    return [BatchJob(chosen, r) for r in require(chosen, Batch).batch_jobs(limit)]
