"""Handles for endpoints and batch prediction jobs, as the API and magics return them."""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from .backends import Backend
from .display import html_table, text_table, when
from .errors import JobFailed, PlatformUnavailable, PredictionError, UsageError

BATCH_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def encode_rows(data: Any) -> dict[str, Any]:
    """The JSON request body for a DataFrame, array, list of rows/records or one record."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame
        return {
            "dataframe_split": {
                "columns": [str(c) for c in data.columns],
                "data": json.loads(data.to_json(orient="values", double_precision=15)),
            }
        }
    if hasattr(data, "to_list") and hasattr(data, "index"):  # a Series: one row of features
        return {"dataframe_records": [json.loads(data.to_json())]}
    if hasattr(data, "tolist"):
        values = data.tolist()
        return {"instances": values if data.ndim > 1 else [values]}
    if isinstance(data, dict):
        return {"instances": [data]}
    if isinstance(data, (list, tuple)):
        return {"instances": list(data)}
    raise UsageError(
        f"predict() takes a DataFrame, an array, a list of rows or records, or one record; "
        f"got {type(data).__name__}"
    )


class Endpoint:
    """A deployed endpoint: ``predict()``, ``url``, ``invocation_url``, statistics, events."""

    def __init__(self, backend: Backend, record: dict[str, Any]) -> None:
        self._backend = backend
        self.record = record
        self.name: str = record["name"]
        self._conn: http.client.HTTPConnection | None = None
        self._invocation: tuple[str, dict[str, str]] | None = None

    # -- addresses -------------------------------------------------------------

    @property
    def invocation_url(self) -> str:
        """``POST`` here (SageMaker runtime format) with the platform token."""
        if self._invocation is None:
            self._invocation = self._backend.invocation(self.name)
        return self._invocation[0]

    @property
    def url(self) -> str:
        """The base URL: boto3's ``endpoint_url``, or the Vertex SDK's ``api_endpoint``."""
        parsed = urlparse(self.invocation_url)
        return f"{parsed.scheme}://{parsed.netloc}"

    def curl(self, example: str = '{"instances": [[...]]}') -> str:
        """A curl command line that invokes this endpoint."""
        return (
            f"curl -X POST {self.invocation_url} -H 'Authorization: Bearer <token>' "
            f"-H 'Content-Type: application/json' -d '{example}'"
        )

    # -- state -----------------------------------------------------------------

    def refresh(self) -> Endpoint:
        """Fetch the endpoint's current state."""
        self.record = self._backend.endpoint(self.name)
        return self

    @property
    def status(self) -> str:
        return str(self.refresh().record["status"])

    @property
    def stats(self) -> dict[str, Any]:
        """Requests, errors, error rate and latency percentiles (ms)."""
        return dict(self.refresh().record["stats"])

    @property
    def traffic(self) -> dict[str, float]:
        return dict(self.refresh().record["traffic"])

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list(self.refresh().record["variants"])

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Scale, cold start, replica and traffic events, oldest first."""
        events = self.refresh().record.get("events") or []
        return [e for e in events if kind is None or e["kind"] == kind]

    @property
    def cold_starts(self) -> list[float]:
        """Durations of recorded cold starts, in milliseconds."""
        return list(self.refresh().record.get("cold_start_ms") or [])

    # -- prediction ------------------------------------------------------------

    def invoke(
        self, body: bytes, content_type: str = "application/json", accept: str = "application/json"
    ) -> tuple[int, str, bytes]:
        """Send a raw request; returns (status, content type, body)."""
        url, headers = self._invocation or self._backend.invocation(self.name)
        self._invocation = (url, headers)
        parsed = urlparse(url)
        request_headers = dict(headers, **{"Content-Type": content_type, "Accept": accept})
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(
                    parsed.hostname or "127.0.0.1", parsed.port, timeout=120
                )
            try:
                self._conn.request("POST", parsed.path, body=body, headers=request_headers)
                response = self._conn.getresponse()
                return response.status, response.getheader("Content-Type", ""), response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise PlatformUnavailable(
                        f"endpoint {self.name} at {url} did not answer: {exc}"
                    ) from exc
                self._invocation = self._backend.invocation(
                    self.name
                )  # the platform may have moved
                url, headers = self._invocation
                parsed = urlparse(url)
                request_headers.update(headers)
        raise AssertionError("unreachable")

    def predict(self, data: Any, method: str | None = None) -> Any:
        """Predictions for a DataFrame, array, list of rows/records or one record.

        Returns a numpy array (one entry, or a row of class probabilities, per row).
        Raises :class:`PredictionError` with the endpoint's message: status 400 when
        the input does not fit the model, 500 when the model raised.
        """
        if method is not None:
            raise UsageError(
                "the prediction method is chosen at deploy time: %deploy MODEL --method predict_proba"
            )
        status, _, body = self.invoke(json.dumps(encode_rows(data)).encode())
        try:
            reply = json.loads(body)
        except ValueError:
            reply = {"message": body.decode(errors="replace")}
        if status != 200:
            message = reply.get("message") or reply
            raise PredictionError(
                status, f"endpoint {self.name} answered {status}: {message}", reply
            )
        predictions = reply["predictions"]
        try:
            import numpy as np

            return np.asarray(predictions)
        except ImportError:
            return predictions

    # -- control ---------------------------------------------------------------

    def undeploy(self) -> dict[str, Any]:
        """Drain in-flight requests and delete the endpoint."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.record = self._backend.undeploy(self.name)
        return self.record

    def set_traffic(self, **weights: float) -> Endpoint:
        """Shift traffic, e.g. ``ep.set_traffic(v4=100)``."""
        self.record = self._backend.traffic(self.name, weights)
        return self

    def rollback(self) -> Endpoint:
        """Return to the previous traffic split."""
        self.record = self._backend.rollback(self.name)
        return self

    # -- display ---------------------------------------------------------------

    def summary(self) -> list[tuple[str, Any]]:
        r = self.record
        stats = r.get("stats") or {}
        rows: list[tuple[str, Any]] = [
            ("endpoint", r["name"]),
            ("status", r["status"]),
            ("url", self.invocation_url),
            ("traffic", ", ".join(f"{k}={v:g}%" for k, v in r["traffic"].items())),
        ]
        for v in r["variants"]:
            rows.append(
                (
                    f"variant {v['name']}",
                    f"{v['model']}: {v['replicas']} ready, {v['starting']} starting "
                    f"(min {v['min_replicas']}, max {v['max_replicas']}), "
                    f"{v['stats']['requests']} requests, p50 {_ms(v['stats']['p50_ms'])} ms",
                )
            )
        rows += [
            (
                "requests",
                f"{stats.get('requests', 0)} ({stats.get('requests_last_minute', 0)} "
                f"in the last minute), errors {stats.get('errors', 0)} "
                f"(rate {stats.get('error_rate', 0):.2%})",
            ),
            (
                "latency",
                f"p50 {_ms(stats.get('p50_ms'))} ms, p95 {_ms(stats.get('p95_ms'))} ms, "
                f"p99 {_ms(stats.get('p99_ms'))} ms",
            ),
            (
                "cold starts",
                ", ".join(f"{c:.0f} ms" for c in r.get("cold_start_ms", [])[-8:]) or "none",
            ),
        ]
        events = [e for e in r.get("events", []) if e["kind"] != "stats"][-6:]
        for event in events:
            rows.append((f"  {when(event['ts'])}", f"{event['kind']}: {event['message']}"))
        return rows

    def __repr__(self) -> str:
        return "\n".join(f"{k:<16} {v}" for k, v in self.summary())

    def _repr_html_(self) -> str:
        rows = [[k, ("status", v) if k == "status" else v] for k, v in self.summary()]
        return html_table(("endpoint", self.name), rows)


class EndpointList(list[Endpoint]):
    """Endpoints as a table: name, status, variants, replicas, requests, latency, cold starts."""

    HEADERS = (
        "name",
        "status",
        "variants",
        "replicas now/min/max",
        "requests",
        "p50 ms",
        "p95 ms",
        "cold starts",
    )

    def _rows(self, html_status: bool) -> list[list[Any]]:
        rows = []
        for e in self:
            r = e.record
            stats = r.get("stats") or {}
            rows.append(
                [
                    r["name"],
                    ("status", r["status"]) if html_status else r["status"],
                    ", ".join(
                        f"{v['name']}={v['model']} ({v['traffic']:g}%)" for v in r["variants"]
                    ),
                    f"{r['replicas']}/{r['min_replicas']}/{r['max_replicas']}",
                    stats.get("requests", 0),
                    _ms(stats.get("p50_ms")),
                    _ms(stats.get("p95_ms")),
                    r.get("cold_starts", 0),
                ]
            )
        return rows

    def __repr__(self) -> str:
        return text_table(self.HEADERS, self._rows(False)) if self else "no endpoints"

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, self._rows(True)) if self else "<i>no endpoints</i>"


class BatchJob:
    """A batch prediction job: progress, ``wait()``, output directory and manifest."""

    def __init__(self, backend: Backend, record: dict[str, Any]) -> None:
        self._backend = backend
        self.record = record
        self.id: str = record["id"]

    def refresh(self) -> BatchJob:
        self.record = self._backend.batch_job(self.id)
        return self

    @property
    def status(self) -> str:
        return str(self.refresh().record["status"])

    @property
    def output(self) -> str:
        """The output directory (part files in input order, and ``_manifest.json``)."""
        return str(self.record["spec"]["output"])

    @property
    def manifest(self) -> dict[str, Any]:
        """The output's manifest: rows in and out, and every shard's status and duration."""
        with open(self.refresh().record["manifest"]) as fh:
            return dict(json.load(fh))

    def stop(self) -> BatchJob:
        self.record = self._backend.stop_batch(self.id)
        return self

    def progress_line(self) -> str:
        r = self.record
        total = r.get("rows_total")
        done = r.get("rows_done") or 0
        rate = r.get("rate")
        share = f" ({done / total:.0%})" if total else ""
        line = (
            f"{self.id}: {r['status']} {done:,}/{total:,} rows{share}"
            if total
            else (f"{self.id}: {r['status']}")
        )
        if rate:
            line += f", {rate:,.0f} rows/s"
        if r.get("rows_failed"):
            line += f", {r['rows_failed']:,} rows failed"
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
                self.record = self._backend.batch_job(
                    self.id,
                    wait=max(0.0, remaining),
                    status=str(self.record["status"]) if seen else "",
                    rows=int(self.record.get("rows_done") or 0) if seen else -1,
                )
                seen = True
                line = self.progress_line()
                if progress is not None and line != last:
                    progress(line)
                    last = line
                if self.record["status"] in BATCH_TERMINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"batch {self.id} still {self.record['status']} after {timeout}s"
                    )
        except KeyboardInterrupt:
            self.stop()
            print(f"interrupted: batch {self.id} stopped; rerun to resume", file=sys.stderr)
            raise
        if raise_on_failure and self.record["status"] != "Completed":
            raise JobFailed(
                self.id,
                self.record["status"],
                self.record.get("failure_reason") or "",
                details=f"(details: %batch_job {self.id}; manifest: {self.record['manifest']})",
            )
        return self

    def __repr__(self) -> str:
        r = self.record
        lines = [self.progress_line(), f"  output: {self.output}"]
        if r.get("failure_reason"):
            lines.append(f"  reason: {r['failure_reason']}")
        if r.get("shards_total"):
            lines.append(f"  shards: {r.get('shards_done', 0)}/{r['shards_total']} done")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        r = self.record
        rows: list[list[Any]] = [
            ["status", ("status", r["status"])],
            ["progress", self.progress_line()],
            ["output", self.output],
        ]
        if r.get("failure_reason"):
            rows.append(["reason", r["failure_reason"]])
        return html_table(("batch", self.id), rows)


def endpoint_handle(backend: Backend, name: str) -> Endpoint:
    """An :class:`Endpoint` for an existing endpoint (NotFound otherwise)."""
    return Endpoint(backend, backend.endpoint(name))


__all__ = ["BatchJob", "Endpoint", "EndpointList", "encode_rows", "endpoint_handle"]
