"""The handle of a batch prediction job: :class:`BatchJob`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from .. import artifacts
from ..backends import Backend, Batch, require
from ..display import html_table
from ..errors import JobFailed
from ..records import BatchRecord
from ..statuses import BATCH_TERMINAL, BatchStatus


class BatchJob:
    """A batch prediction job: progress, ``wait()``, output directory and manifest."""

    def __init__(self, backend: Backend, record: BatchRecord) -> None:
        self._backend = backend
        self._batch = require(backend, Batch)
        self.record = record
        self.id: str = record.id

    def refresh(self) -> BatchJob:
        """Fetch the job's current state."""
        self.record = self._batch.batch_job(self.id)
        return self

    @property
    def status(self) -> str:
        """Pending, Running, Completed, Failed or Stopped (fetched live)."""
        return str(self.refresh().record.status)

    @property
    def output(self) -> str:
        """Where the part files are (in input order), with ``_manifest.json``: a local path
        for a local output, else its URI."""
        path = artifacts.local_path(self.record.output_uri)
        return str(path) if path is not None else self.record.output_uri

    @property
    def manifest(self) -> dict[str, Any]:
        """The output's manifest: rows in and out, and every shard's status and duration."""
        return dict(artifacts.read_json(self.refresh().record.manifest_uri))

    def stop(self) -> BatchJob:
        """Stop the job (rerunning into the same output resumes it)."""
        self.record = self._batch.stop_batch(self.id)
        return self

    def progress_line(self) -> str:
        """``id: status done/total rows (share), rate``."""
        r = self.record
        total = r.rows_total
        done = r.rows_done or 0
        share = f" ({done / total:.0%})" if total else ""
        line = (
            f"{self.id}: {r.status} {done:,}/{total:,} rows{share}"
            if total
            else (f"{self.id}: {r.status}")
        )
        if r.rate:
            line += f", {r.rate:,.0f} rows/s"
        if r.rows_failed:
            line += f", {r.rows_failed:,} rows failed"
        return line

    def wait(
        self,
        timeout: float | None = None,
        progress: Callable[[str], Any] | None = None,
        raise_on_failure: bool = True,
    ) -> BatchJob:
        """Block until the job ends, reporting progress lines; raises when it fails."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = ""
        seen = False
        try:
            while True:
                remaining = 10.0 if deadline is None else min(10.0, deadline - time.monotonic())
                self.record = self._batch.batch_job(
                    self.id,
                    wait=max(0.0, remaining),
                    status=str(self.record.status) if seen else "",
                    rows=int(self.record.rows_done or 0) if seen else -1,
                )
                seen = True
                line = self.progress_line()
                if progress is not None and line != last:
                    progress(line)
                    last = line
                if self.record.status in BATCH_TERMINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"batch {self.id} still {self.record.status} after {timeout}s"
                    )
        except KeyboardInterrupt:
            self.stop()
            print(f"interrupted: batch {self.id} stopped; rerun to resume", file=sys.stderr)
            raise
        if raise_on_failure and self.record.status != BatchStatus.COMPLETED:
            raise JobFailed(
                self.id,
                str(self.record.status),
                self.record.failure_reason or "",
                details=f"(details: %batch_job {self.id}; manifest: {self.record.manifest_uri})",
            )
        return self

    def __repr__(self) -> str:
        r = self.record
        lines = [self.progress_line(), f"  output: {self.output}"]
        if r.failure_reason:
            lines.append(f"  reason: {r.failure_reason}")
        if r.shards_total:
            lines.append(f"  shards: {r.shards_done}/{r.shards_total} done")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        r = self.record
        rows: list[list[Any]] = [
            ["status", ("status", str(r.status))],
            ["progress", self.progress_line()],
            ["output", self.output],
        ]
        if r.failure_reason:
            rows.append(["reason", r.failure_reason])
        return html_table(("batch", self.id), rows)


__all__ = ["BatchJob"]
