"""Handles of endpoints: :class:`Endpoint` and :class:`EndpointList`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from ..backends import Backend, Serving, require
from ..display import html_table, text_table, when
from ..errors import PredictionError, UsageError
from ..records import EndpointRecord, Invocation, VariantRecord


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
    """A deployed endpoint: ``predict()``, ``invoke()``, ``url``, statistics, events."""

    def __init__(self, backend: Backend, record: EndpointRecord) -> None:
        self._backend = backend
        self._serving = require(backend, Serving)
        self.record = record
        self.name: str = record.name

    # -- addresses -------------------------------------------------------------

    @property
    def invocation_url(self) -> str:
        """Where the backend's runtime API takes requests for this endpoint (informational:
        :meth:`invoke` and :meth:`predict` authenticate and sign each request themselves)."""
        return self.record.invocation_url

    @property
    def url(self) -> str:
        """The base URL: boto3's ``endpoint_url``, or the Vertex SDK's ``api_endpoint``."""
        parsed = urlparse(self.invocation_url)
        return f"{parsed.scheme}://{parsed.netloc}"

    def curl(self, example: str = '{"instances": [[...]]}') -> str:
        """A curl command line that invokes this endpoint (signed as its backend requires)."""
        return self._serving.curl(self.record, example)

    # -- state -----------------------------------------------------------------

    def refresh(self) -> Endpoint:
        """Fetch the endpoint's current state."""
        self.record = self._serving.endpoint(self.name)
        return self

    @property
    def status(self) -> str:
        """Creating, InService, Updating, Deleting (fetched live)."""
        return str(self.refresh().record.status)

    @property
    def stats(self) -> dict[str, Any]:
        """Requests, errors, error rate and latency percentiles (ms)."""
        return dict(self.refresh().record.stats)

    @property
    def traffic(self) -> dict[str, float]:
        """Each variant's share of the traffic, in percent."""
        return dict(self.refresh().record.traffic)

    @property
    def variants(self) -> list[VariantRecord]:
        """The model versions behind the endpoint."""
        return list(self.refresh().record.variants)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Scale, cold start, replica and traffic events, oldest first."""
        events = self.refresh().record.events
        return [dict(e) for e in events if kind is None or e["kind"] == kind]

    @property
    def cold_starts(self) -> list[float]:
        """Durations of recorded cold starts, in milliseconds."""
        return list(self.refresh().record.cold_start_ms)

    # -- prediction ------------------------------------------------------------

    def invoke(
        self,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
        model: str | None = None,
    ) -> Invocation:
        """Send a raw request (the backend authenticates it); returns its :class:`Invocation`.
        ``model`` names the model on a multi-model endpoint (SageMaker's ``TargetModel``)."""
        if model is not None:
            return self._serving.invoke_model(self.name, model, body, content_type, accept)
        return self._serving.invoke(self.name, body, content_type, accept)

    def predict(self, data: Any, method: str | None = None, model: str | None = None) -> Any:
        """Predictions for a DataFrame, array, list of rows/records or one record.

        On a multi-model endpoint ``model`` names the model (``"churn:3"``, ``"3"``, or
        for a prefix endpoint ``"team-a"``, its latest version).

        Returns a numpy array (one entry, or a row of class probabilities, per row); an
        inference script answering a JSON object of its own returns that object.
        Raises :class:`PredictionError` with the endpoint's message: status 400 when
        the input does not fit the model, 500 when the model raised.
        """
        if method is not None:
            raise UsageError(
                "the prediction method is chosen at deploy time: %deploy MODEL --method predict_proba"
            )
        answer = self.invoke(json.dumps(encode_rows(data)).encode(), model=model)
        try:
            reply = json.loads(answer.body)
        except ValueError:
            reply = {"message": answer.body.decode(errors="replace")}
        if answer.status != 200:
            message = reply.get("message") or reply if isinstance(reply, dict) else reply
            raise PredictionError(
                answer.status, f"endpoint {self.name} answered {answer.status}: {message}", reply
            )
        if isinstance(reply, dict) and "predictions" not in reply:
            return reply  # an inference script's own response shape
        # the native and Vertex routes answer {"predictions": [...]}, SageMaker's a bare list
        predictions = reply["predictions"] if isinstance(reply, dict) else reply
        try:
            import numpy as np

            return np.asarray(predictions)
        except ImportError:
            return predictions

    # -- control ---------------------------------------------------------------

    def undeploy(self) -> EndpointRecord:
        """Drain in-flight requests and delete the endpoint."""
        self.record = self._serving.undeploy(self.name)
        return self.record

    def set_traffic(self, **weights: float) -> Endpoint:
        """Shift traffic, e.g. ``ep.set_traffic(v4=100)``."""
        self.record = self._serving.traffic(self.name, weights)
        return self

    def rollback(self) -> Endpoint:
        """Return to the previous traffic split."""
        self.record = self._serving.rollback(self.name)
        return self

    # -- display ---------------------------------------------------------------

    def summary(self) -> list[tuple[str, Any]]:
        r = self.record
        stats = r.stats
        rows: list[tuple[str, Any]] = [
            ("endpoint", r.name),
            ("status", str(r.status)),
            ("url", self.invocation_url),
            ("traffic", ", ".join(f"{k}={v:g}%" for k, v in r.traffic.items())),
        ]
        for v in r.variants:
            rows.append(
                (
                    f"variant {v.name}",
                    f"{v.model}: {v.replicas} ready, {v.starting} starting "
                    f"(min {v.min_replicas}, max {v.max_replicas}), "
                    f"{v.stats.get('requests', 0)} requests, p50 {_ms(v.stats.get('p50_ms'))} ms",
                )
            )
        rows += _scale_rows(r)
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
                ", ".join(f"{c:.0f} ms" for c in r.cold_start_ms[-8:]) or "none",
            ),
        ]
        events = [e for e in r.events if e["kind"] != "stats"][-6:]
        for event in events:
            rows.append((f"  {when(event['ts'])}", f"{event['kind']}: {event['message']}"))
        return rows

    def __repr__(self) -> str:
        return "\n".join(f"{k:<16} {v}" for k, v in self.summary())

    def _repr_html_(self) -> str:
        rows = [[k, ("status", v) if k == "status" else v] for k, v in self.summary()]
        return html_table(("endpoint", self.name), rows)


def _mib(value: Any) -> str:
    return "-" if value is None else f"{int(value) / (1 << 20):.1f} MiB"


def _scale_rows(record: EndpointRecord) -> list[tuple[str, Any]]:
    """Memory (templates, replicas' PSS) and a multi-model endpoint's models, where the
    backend reports them."""
    details = record.details
    rows: list[tuple[str, Any]] = []
    memory = details.get("memory")
    if memory:
        warm = details.get("keep_warm")
        rows.append(
            (
                "memory (PSS)",
                f"{_mib(memory.get('total_pss_bytes'))} in all; templates "
                f"{_mib(memory.get('templates_pss_bytes'))} (kept at zero replicas"
                + ("; --no-keep-warm frees it, cold starts then load the model)" if warm else ")")
                + f", replicas {_mib(memory.get('replicas_pss_bytes'))}",
            )
        )
    for variant in record.variants:
        template = variant.details.get("template")
        if template:
            rows.append(
                (
                    f"  template {variant.name}",
                    f"pid {template['pid']}, loaded in {template['load_ms']:.0f} ms, PSS "
                    f"{_mib(template['pss_bytes'])} (RSS {_mib(template['rss_bytes'])})",
                )
            )
        for replica in variant.details.get("replica_memory") or []:
            rows.append(
                (
                    f"  replica {replica['id']}",
                    f"PSS {_mib(replica['pss_bytes'])} (RSS {_mib(replica['rss_bytes'])})"
                    + (", forked from the template" if replica.get("template") else ""),
                )
            )
    multi = details.get("multi_model")
    if multi:
        if multi.get("cache_bytes"):
            where = (
                f"cache {_mib(multi['cache_bytes'])} per replica, "
                f"{len(multi['models'])} model(s) requested"
            )
        elif multi.get("model_data_url"):  # SageMaker: the MME's archives
            where = f"archives under {multi['model_data_url']} (SageMaker loads them)"
        else:  # Vertex: one endpoint per co-hosted model
            where = f"{len(multi.get('endpoints') or {})} co-hosted model endpoint(s)"
        rows.append(("multi-model", f"{multi['source']}: {where}"))
        for label, stats in multi["models"].items():
            rows.append(
                (
                    f"  {label}",
                    f"{stats['requests']} requests, {stats['errors']} errors, p50 "
                    f"{_ms(stats['p50_ms'])} ms, loads {stats['loads']}, evictions "
                    f"{stats['evictions']}, load failures {stats['load_failures']}"
                    + (f" ({stats['last_error']})" if stats.get("last_error") else ""),
                )
            )
    return rows


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
            stats = r.stats
            rows.append(
                [
                    r.name,
                    ("status", str(r.status)) if html_status else str(r.status),
                    ", ".join(f"{v.name}={v.model} ({v.traffic:g}%)" for v in r.variants),
                    f"{r.replicas}/{r.min_replicas}/{r.max_replicas}",
                    stats.get("requests", 0),
                    _ms(stats.get("p50_ms")),
                    _ms(stats.get("p95_ms")),
                    len(r.cold_start_ms),
                ]
            )
        return rows

    def __repr__(self) -> str:
        return text_table(self.HEADERS, self._rows(False)) if self else "no endpoints"

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, self._rows(True)) if self else "<i>no endpoints</i>"


def endpoint_handle(backend: Backend, name: str) -> Endpoint:
    """An :class:`Endpoint` for an existing endpoint (NotFound otherwise)."""
    return Endpoint(backend, require(backend, Serving).endpoint(name))


__all__ = ["Endpoint", "EndpointList", "encode_rows", "endpoint_handle"]
