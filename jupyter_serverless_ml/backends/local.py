"""The local backend: a thin client of the embedded platform daemon.

It implements every capability part. Its cursors are byte offsets of the job
log written as decimal strings; its artifacts are ``file://`` URIs. Errors of
the platform client (the local backend's "SDK") are mapped into the error tree
in :mod:`jupyter_serverless_ml.platform.client`, in one place.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from .. import artifacts, config
from ..errors import NotFound, PlatformUnavailable, UsageError, map_exceptions
from ..packaging import Bundle
from ..platform.client import NotReached, PlatformClient, ensure_running, running
from ..records import (
    AlertRecord,
    BatchRecord,
    BatchRequest,
    DeployRequest,
    EndpointRecord,
    Invocation,
    JobNews,
    JobRecord,
    LogPage,
    MetricRecord,
    ModelRecord,
    TrainingRequest,
)
from ..runtime import flavors
from .local_costs import LocalCosts
from .local_drift import LocalDrift
from .local_multi_model import LocalMultiModel
from .local_pipelines import LocalPipelines
from .local_registry import LocalRegistry
from .local_schedules import LocalSchedules
from .local_tuning import LocalTuning
from .protocol import Backend, Batch, Monitoring, Registry, Serving

NO_CURSOR = "-"


def _offset(cursor: str | None) -> int:
    """A log cursor of this backend back to its byte offset."""
    if cursor in (None, ""):
        return 0
    if cursor == NO_CURSOR:
        return -1
    try:
        value = int(str(cursor))
    except ValueError:
        raise UsageError(
            f"log cursor {cursor!r} did not come from the local backend; start again without one"
        ) from None
    if value < 0:
        raise UsageError(f"log cursor {cursor!r} is not valid; start again without one")
    return value


def _job(data: Mapping[str, Any]) -> JobRecord:
    bundle = (data.get("spec") or {}).get("bundle")
    extra = (
        {"bundle_uri": artifacts.to_uri(bundle)} if bundle and not data.get("bundle_uri") else {}
    )
    return JobRecord.from_wire({**data, **extra})


def _batch(data: Mapping[str, Any]) -> BatchRecord:
    output = (data.get("spec") or {}).get("output")
    extra: dict[str, Any] = {}
    if output:
        extra["output_uri"] = artifacts.to_uri(output)
    if data.get("manifest"):
        extra["manifest_uri"] = artifacts.to_uri(data["manifest"])
    return BatchRecord.from_wire({**data, **extra})


class LocalBackend(
    LocalCosts,
    LocalDrift,
    Backend,
    LocalRegistry,
    Registry,
    LocalMultiModel,
    Serving,
    Batch,
    Monitoring,
    LocalTuning,
    LocalSchedules,
    LocalPipelines,
):
    """Runs jobs and endpoints on the embedded local platform, started on first use.

    Settings: ``home`` (default ``$JSML_HOME``), ``autostart`` (start the daemon
    when none runs; the server extension turns it off).
    """

    name = "local"

    def __init__(self, home: str | Path | None = None, autostart: bool = True) -> None:
        self._home = Path(home).expanduser() if home else None
        self._client: PlatformClient | None = None
        self.autostart = autostart
        self._connections = threading.local()

    @property
    def home(self) -> Path:
        """The platform home (``$JSML_HOME``)."""
        if self._home is None:
            self._home = config.home()
        return self._home

    @property
    def client(self) -> PlatformClient:
        """The platform client (the daemon is started on first use when ``autostart``)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> PlatformClient:
        if self.autostart:
            return ensure_running(self.home)
        found = running(self.home)
        if found is None:
            raise PlatformUnavailable(
                f"the local platform is not running (home {self.home}); start it with "
                "`jsml platform start` or from the Serverless ML panel"
            )
        return found

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
        **params: Any,
    ) -> Any:
        """One request, reconnecting once (and starting the daemon) when the daemon went away.

        A GET is retried after any failure to reach the daemon; a POST only when it provably
        never reached one, so a submission is never made twice.
        """
        for attempt in (1, 2):
            try:
                if method == "GET":
                    return self.client.get(path, **params)
                return self.client.post(path, dict(body or {}), timeout=timeout)
            except PlatformUnavailable as exc:
                if attempt == 2 or not (method == "GET" or isinstance(exc, NotReached)):
                    raise
                self._client = self._connect()
        raise AssertionError("unreachable")

    @staticmethod
    def _ref(ref: str) -> str:
        return quote(ref, safe="")

    # -- training ------------------------------------------------------------------

    def bundle_root(self) -> Path:
        return self.home / "artifacts" / "bundles"

    def submit_training(self, bundle: Bundle, request: TrainingRequest) -> JobRecord:
        if request.image or request.spot:
            raise UsageError(
                "the local backend runs jobs with this kernel's Python (or --env isolated), not "
                "container images, and has no spot capacity: --image and --spot need "
                "--backend sagemaker (or vertex for --image)"
            )
        body = dict(request.to_wire(), bundle=str(bundle.path))
        return _job(self._call("POST", "/v1/jobs", body))

    def job(self, ref: str) -> JobRecord:
        return _job(self._call("GET", f"/v1/jobs/{self._ref(ref)}"))

    def jobs(
        self,
        *,
        status: list[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRecord]:
        reply = self._call(
            "GET",
            "/v1/jobs",
            status=",".join(status) if status else None,
            name=name,
            limit=limit,
            offset=offset,
        )
        return [_job(r) for r in reply["jobs"]]

    def logs(self, ref: str, cursor: str | None = None) -> LogPage:
        reply = self._call("GET", f"/v1/jobs/{self._ref(ref)}/logs", offset=_offset(cursor))
        return LogPage(text=str(reply["text"]), cursor=str(int(reply["offset"])))

    def watch(
        self,
        job_id: str,
        *,
        status: str,
        log_cursor: str | None,
        metrics_seen: int,
        timeout: float,
    ) -> JobNews:
        reply = self._call(
            "GET",
            f"/v1/jobs/{self._ref(job_id)}/watch",
            status=status,
            log_offset=_offset(log_cursor),
            metrics=metrics_seen,
            timeout=timeout,
        )
        offset = int(reply["log_offset"])
        return JobNews(
            job=_job(reply["job"]),
            log=str(reply["log"]),
            log_cursor=str(offset) if offset >= 0 else NO_CURSOR,
            metrics=tuple(MetricRecord.from_wire(m) for m in reply["metrics"]),
        )

    def metrics(self, ref: str) -> list[MetricRecord]:
        reply = self._call("GET", f"/v1/jobs/{self._ref(ref)}/metrics")
        return [MetricRecord.from_wire(m) for m in reply["metrics"]]

    def stop(self, ref: str) -> JobRecord:
        return _job(self._call("POST", f"/v1/jobs/{self._ref(ref)}/stop"))

    # -- registry ------------------------------------------------------------------

    def models(self, name: str | None = None) -> list[ModelRecord]:
        return [
            ModelRecord.from_wire(m) for m in self._call("GET", "/v1/models", name=name)["models"]
        ]

    def model(self, name: str, version: int | None = None) -> ModelRecord:
        path = f"/v1/models/{self._ref(name)}" + (f"/{version}" if version is not None else "")
        return ModelRecord.from_wire(self._call("GET", path))

    def register_model(self, name: str, directory: Path, python: str) -> ModelRecord:
        body = {"name": name, "directory": str(directory), "python": python}
        return ModelRecord.from_wire(self._call("POST", "/v1/models", body))

    def load_model(self, record: ModelRecord) -> Any:
        path = artifacts.local_path(record.uri)
        if path is None or not path.is_dir():
            raise NotFound(f"model {record.ref} has no local files at {record.uri}")
        return flavors.load(path)

    # -- serving -------------------------------------------------------------------

    def _endpoint(self, data: Mapping[str, Any]) -> EndpointRecord:
        url = f"{self.client.url}/endpoints/{self._ref(str(data['name']))}/invocations"
        return EndpointRecord.from_wire({**data, "invocation_url": url})

    def deploy(self, request: DeployRequest) -> EndpointRecord:
        if request.serverless_memory:
            raise UsageError(
                "serverless endpoints are SageMaker Serverless Inference (--backend sagemaker); "
                "a local endpoint scales to zero with --min-replicas 0 and caps with --max-replicas"
            )
        return self._endpoint(self._call("POST", "/v1/endpoints", request.to_wire(), timeout=600.0))

    def endpoints(self) -> list[EndpointRecord]:
        return [self._endpoint(e) for e in self._call("GET", "/v1/endpoints")["endpoints"]]

    def endpoint(self, name: str) -> EndpointRecord:
        return self._endpoint(self._call("GET", f"/v1/endpoints/{self._ref(name)}"))

    def traffic(self, name: str, weights: Mapping[str, float]) -> EndpointRecord:
        body = {"weights": dict(weights)}
        return self._endpoint(self._call("POST", f"/v1/endpoints/{self._ref(name)}/traffic", body))

    def rollback(self, name: str) -> EndpointRecord:
        return self._endpoint(self._call("POST", f"/v1/endpoints/{self._ref(name)}/rollback"))

    def undeploy(self, name: str) -> EndpointRecord:
        self._drop_connection(name)
        reply = self._call("POST", f"/v1/endpoints/{self._ref(name)}/undeploy", timeout=120.0)
        return self._endpoint(reply)

    def _connection(self, name: str) -> http.client.HTTPConnection:
        pool: dict[str, http.client.HTTPConnection] = self._connections.__dict__.setdefault(
            "pool", {}
        )
        conn = pool.get(name)
        if conn is None or conn.port != self.client.port:
            conn = http.client.HTTPConnection("127.0.0.1", self.client.port, timeout=120)
            pool[name] = conn
        return conn

    def _drop_connection(self, name: str) -> None:
        pool = self._connections.__dict__.get("pool") or {}
        conn = pool.pop(name, None)
        if conn is not None:
            conn.close()

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """POST to the endpoint's SageMaker-runtime route with the platform token, on a
        kept-alive connection; resent once when the platform moved (a restarted daemon)."""
        return self._post_invocation(name, body, {"Content-Type": content_type, "Accept": accept})

    def _post_invocation(self, name: str, body: bytes, headers: dict[str, str]) -> Invocation:
        """One POST to ``name``'s invocations route with ``headers`` and the platform token
        (shared by :meth:`invoke` and the multi-model part's ``invoke_model``)."""
        path = urlparse(f"{self.client.url}/endpoints/{self._ref(name)}/invocations").path
        for attempt in (1, 2):
            sent = {"Authorization": f"Bearer {self.client.token}", **headers}
            conn = self._connection(name)
            try:
                with map_exceptions(
                    {(ConnectionError, http.client.HTTPException, OSError): PlatformUnavailable},
                    f"endpoint {name} at {self.client.url} did not answer",
                ):
                    conn.request("POST", path, body=body, headers=sent)
                    response = conn.getresponse()
                    return Invocation(
                        status=response.status,
                        content_type=response.getheader("Content-Type", ""),
                        body=response.read(),
                        variant=response.getheader("x-Amzn-Invoked-Production-Variant"),
                    )
            except PlatformUnavailable:
                self._drop_connection(name)
                if attempt == 2:
                    raise
                self._client = self._connect()  # the platform may have moved
        raise AssertionError("unreachable")

    # -- batch ---------------------------------------------------------------------

    def batch_predict(self, request: BatchRequest) -> BatchRecord:
        wire = request.to_wire()
        for key in ("input_uri", "output_uri"):
            path = artifacts.local_path(wire.pop(key))
            if path is None:
                raise UsageError(
                    f"the local backend reads and writes local files; {key[:-4]} "
                    f"{getattr(request, key)} is not one (copy it here first)"
                )
            wire[key[:-4]] = str(path)
        return _batch(self._call("POST", "/v1/batch", wire, timeout=600.0))

    def batch_job(
        self, ref: str, wait: float | None = None, status: str = "", rows: int = -1
    ) -> BatchRecord:
        path = f"/v1/batch/{self._ref(ref)}"
        if wait is None:
            return _batch(self._call("GET", path))
        return _batch(
            self._call("GET", path, wait=wait, status=status, rows=rows, timeout=wait + 30)
        )

    def batch_jobs(self, limit: int = 100) -> list[BatchRecord]:
        return [_batch(b) for b in self._call("GET", "/v1/batch", limit=limit)["batches"]]

    def stop_batch(self, ref: str) -> BatchRecord:
        return _batch(self._call("POST", f"/v1/batch/{self._ref(ref)}/stop"))

    # -- monitoring ----------------------------------------------------------------

    def costs(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/costs"))

    def alerts(self) -> list[AlertRecord]:
        return [AlertRecord.from_wire(a) for a in self._call("GET", "/v1/alerts")["alerts"]]

    def acknowledge_alert(self, alert_id: int) -> AlertRecord:
        return AlertRecord.from_wire(self._call("POST", f"/v1/alerts/{int(alert_id)}/ack"))


__all__ = ["LocalBackend"]
