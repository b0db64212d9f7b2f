"""What every part of the Vertex backend shares: settings, credentials, clients, labels.

The SDK (google-cloud-aiplatform's GAPIC clients over REST, google-cloud-storage)
is imported on first use, never when the package or the magics load.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

from ... import config
from ...catalog.pricing import hourly
from .errors import call
from .settings import VertexSettings, resolve
from .storage import Storage

#: The label every resource this tool creates carries (``jsml cleanup`` finds them by it).
LABEL = "jsml"
LABEL_FILTER = f'labels.{LABEL}="true"'


def label_value(text: str) -> str:
    """``text`` as a label value: lowercase letters, digits, ``_`` and ``-``, at most 63."""
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]


def labels(kind: str, **extra: str) -> dict[str, str]:
    """The labels of a resource of ``kind`` (``job``, ``model``, ``endpoint``, ``batch``)."""
    out = {LABEL: "true", "jsml-kind": kind}
    out.update({f"jsml-{k}": label_value(str(v)) for k, v in extra.items() if v not in (None, "")})
    return out


def timestamp(value: Any) -> float | None:
    """A protobuf timestamp (proto-plus datetime) as epoch seconds; ``None`` when unset."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        seconds = value.timestamp()
        return seconds if seconds > 0 else None
    return None


def quoted(text: str) -> str:
    """``text`` as a string literal of a list filter."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class VertexCore:
    """Settings and clients (created on first use); every call goes through :meth:`_call`."""

    name: ClassVar[str] = "vertex"
    native_schemes: ClassVar[frozenset[str]] = frozenset({"gs"})

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        bucket: str | None = None,
        api_endpoint: str | None = None,
        logging_endpoint: str | None = None,
        training_image: str | None = None,
        serving_image: str | None = None,
        service_account: str | None = None,
        retries: int = 5,
        poll_seconds: float = 5.0,
    ) -> None:
        self.settings: VertexSettings = resolve(
            project, location, bucket, api_endpoint, logging_endpoint
        )
        self.training_image = training_image
        self.serving_image = serving_image
        self.service_account = service_account
        self.retries = int(retries)
        self.poll_seconds = float(poll_seconds)
        self._clients: dict[str, Any] = {}
        self._credentials: Any = None
        self._storage: Storage | None = None
        self._session: Any = None

    # -- clients -----------------------------------------------------------------

    @property
    def credentials(self) -> Any:
        """Application Default Credentials; anonymous for a plain-HTTP endpoint (an emulator)."""
        if self._credentials is None:
            if self.settings.anonymous:
                from google.auth.credentials import AnonymousCredentials

                self._credentials = AnonymousCredentials()
            else:
                import google.auth

                creds, _ = call(
                    "finding Google Cloud credentials",
                    google.auth.default,
                    scopes=["https://www.googleapis.com/auth/cloud-platform"],
                    retries=0,
                )
                self._credentials = creds
        return self._credentials

    def client(self, kind: str) -> Any:
        """A GAPIC client over REST: ``job``, ``model``, ``endpoint`` or ``prediction``."""
        found = self._clients.get(kind)
        if found is None:
            from google.api_core.client_options import ClientOptions
            from google.cloud import aiplatform_v1 as v1

            cls = {
                "job": v1.JobServiceClient,
                "model": v1.ModelServiceClient,
                "endpoint": v1.EndpointServiceClient,
                "prediction": v1.PredictionServiceClient,
            }[kind]
            found = cls(
                transport="rest",
                credentials=self.credentials,
                client_options=ClientOptions(api_endpoint=self.settings.api_endpoint),
            )
            self._clients[kind] = found
        return found

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = Storage(self.settings.project, self.credentials, self.retries)
        return self._storage

    @property
    def session(self) -> Any:
        """An authorized HTTP session (Cloud Logging's REST API)."""
        if self._session is None:
            from google.auth.transport.requests import AuthorizedSession

            self._session = AuthorizedSession(self.credentials)
        return self._session

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return call(what, fn, *args, retries=self.retries, **kwargs)

    def _wait(self, what: str, operation: Any, timeout: float = 1800.0) -> Any:
        """The result of a long-running operation (errors mapped)."""
        return self._call(what, operation.result, timeout=timeout)

    # -- shared helpers --------------------------------------------------------------

    def uri(self, *parts: str) -> str:
        """A URI under the bucket root."""
        return "/".join([self.settings.root, *(p.strip("/") for p in parts)])

    def estimate(self, what: str, machine: str, count: int, hours: float | None) -> float:
        """Print the list-price estimate of ``count`` x ``machine`` (for ``hours``, else per hour)."""
        rate = hourly(machine, "vertex") * count
        if hours:
            line = f"{machine} x {count} x {hours:g} h max = ${rate * hours:.2f} at list price"
        else:
            line = f"{machine} x {count} = ${rate:.2f} per hour at list price"
        print(f"[vertex] cost estimate for {what}: {line}", file=sys.stderr, flush=True)
        return rate

    def cache_dir(self) -> Path:
        """Where downloaded models are kept."""
        return config.home() / "cache" / "vertex"

    def _model_for_job(self, job_id: str, output_uri: str, name: str) -> Any:
        """The model version the completed job (Vertex number ``job_id``) registered (the
        registry part fills this in)."""
        return None
