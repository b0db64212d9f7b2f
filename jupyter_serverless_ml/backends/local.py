"""The local backend: a thin client of the embedded platform daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from .. import config
from ..errors import NotFound, PlatformUnavailable
from ..packaging import Bundle
from ..platform.client import NotReached, PlatformClient, ensure_running, running
from ..runtime import flavors
from .base import Backend, TrainingRequest


class LocalBackend(Backend):
    """Runs jobs on the embedded local platform, started on first use."""

    name = "local"

    def __init__(self, home: Path | None = None, autostart: bool = True) -> None:
        self._home = home
        self._client: PlatformClient | None = None
        self.autostart = autostart

    @property
    def home(self) -> Path:
        """The platform home (``$JSML_HOME``)."""
        if self._home is None:
            self._home = config.home()
        return self._home

    @property
    def client(self) -> PlatformClient:
        """The platform client (the daemon is started on first use)."""
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
        body: dict[str, Any] | None = None,
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
                return self.client.post(path, body, timeout=timeout)
            except PlatformUnavailable as exc:
                if attempt == 2 or not (method == "GET" or isinstance(exc, NotReached)):
                    raise
                self._client = self._connect()
        raise AssertionError("unreachable")

    def bundle_root(self) -> Path:
        return self.home / "artifacts" / "bundles"

    def submit_training(self, bundle: Bundle, request: TrainingRequest) -> dict[str, Any]:
        body = dict(vars(request), bundle=str(bundle.path))
        return dict(self._call("POST", "/v1/jobs", body))

    def _ref(self, ref: str) -> str:
        return quote(ref, safe="")

    def job(self, ref: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/jobs/{self._ref(ref)}"))

    def jobs(
        self,
        *,
        status: list[str] | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        reply = self._call(
            "GET",
            "/v1/jobs",
            status=",".join(status) if status else None,
            name=name,
            limit=limit,
            offset=offset,
        )
        return list(reply["jobs"])

    def watch(
        self, job_id: str, *, status: str, log_offset: int, metrics: int, timeout: float
    ) -> dict[str, Any]:
        return dict(
            self._call(
                "GET",
                f"/v1/jobs/{self._ref(job_id)}/watch",
                status=status,
                log_offset=log_offset,
                metrics=metrics,
                timeout=timeout,
            )
        )

    def logs(self, ref: str, offset: int = 0) -> tuple[str, int]:
        reply = self._call("GET", f"/v1/jobs/{self._ref(ref)}/logs", offset=offset)
        return str(reply["text"]), int(reply["offset"])

    def metrics(self, ref: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v1/jobs/{self._ref(ref)}/metrics")["metrics"])

    def stop(self, ref: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/jobs/{self._ref(ref)}/stop"))

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/models", name=name)["models"])

    def model(self, name: str, version: int | None = None) -> dict[str, Any]:
        path = f"/v1/models/{self._ref(name)}" + (f"/{version}" if version is not None else "")
        return dict(self._call("GET", path))

    def supported_features(self) -> set[str]:
        return super().supported_features() | {"serve", "batch", "traffic"}

    def register_model(self, name: str, directory: Path, python: str) -> dict[str, Any]:
        body = {"name": name, "directory": str(directory), "python": python}
        return dict(self._call("POST", "/v1/models", body))

    def deploy(self, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/endpoints", request, timeout=600.0))

    def endpoints(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/endpoints")["endpoints"])

    def endpoint(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/endpoints/{self._ref(name)}"))

    def traffic(self, name: str, weights: dict[str, float]) -> dict[str, Any]:
        return dict(
            self._call("POST", f"/v1/endpoints/{self._ref(name)}/traffic", {"weights": weights})
        )

    def rollback(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/endpoints/{self._ref(name)}/rollback"))

    def undeploy(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/endpoints/{self._ref(name)}/undeploy", timeout=120.0))

    def invocation(self, name: str) -> tuple[str, dict[str, str]]:
        client = self.client
        return (
            f"{client.url}/endpoints/{self._ref(name)}/invocations",
            {"Authorization": f"Bearer {client.token}"},
        )

    def batch_predict(self, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/batch", request, timeout=600.0))

    def batch_job(
        self, ref: str, wait: float | None = None, status: str = "", rows: int = -1
    ) -> dict[str, Any]:
        if wait is None:
            return dict(self._call("GET", f"/v1/batch/{self._ref(ref)}"))
        return dict(
            self._call(
                "GET",
                f"/v1/batch/{self._ref(ref)}",
                wait=wait,
                status=status,
                rows=rows,
                timeout=wait + 30,
            )
        )

    def batch_jobs(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/batch", limit=limit)["batches"])

    def costs(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/costs"))

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/alerts")["alerts"])

    def acknowledge_alert(self, alert_id: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/alerts/{int(alert_id)}/ack"))

    def stop_batch(self, ref: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/batch/{self._ref(ref)}/stop"))

    def load_model(self, record: dict[str, Any]) -> Any:
        parsed = urlparse(str(record["uri"]))
        path = Path(unquote(parsed.path))
        if parsed.scheme != "file" or not path.is_dir():
            raise NotFound(
                f"model {record['name']}:{record['version']} has no local files at {record['uri']}"
            )
        return flavors.load(path)
