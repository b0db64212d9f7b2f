"""The Vertex backend's settings: project, location, bucket, endpoints, credentials.

Each setting comes from :func:`jupyter_serverless_ml.config.backend_settings`
(``%backend vertex --project P``, ``JSML_VERTEX_PROJECT``, ``config.toml``); when
absent, from the environment Google's own tools read (``GOOGLE_CLOUD_PROJECT``,
``CLOUD_ML_REGION``...), then from the metadata server a Vertex AI Workbench
notebook runs beside (its project and its zone's region). A setting still
missing is a :class:`ConfigError` that names it and how to give it.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.request
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError, UsageError

#: Vertex AI regions (https://cloud.google.com/vertex-ai/docs/general/locations).
LOCATIONS = frozenset(
    {
        "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2",
        "us-west3", "us-west4", "northamerica-northeast1", "northamerica-northeast2",
        "southamerica-east1", "southamerica-west1", "europe-central2", "europe-north1",
        "europe-southwest1", "europe-west1", "europe-west2", "europe-west3", "europe-west4",
        "europe-west6", "europe-west8", "europe-west9", "europe-west12", "asia-east1",
        "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-south1",
        "asia-southeast1", "asia-southeast2", "australia-southeast1", "australia-southeast2",
        "me-central1", "me-central2", "me-west1", "africa-south1",
    }
)  # fmt: skip
_PROJECT_ENV = (
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "CLOUD_ML_PROJECT_ID",
)
_REGION_ENV = ("GOOGLE_CLOUD_REGION", "CLOUD_ML_REGION", "CLOUDSDK_COMPUTE_REGION")
_BUCKET = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(/.*)?$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[0-9]{6,20}$")
_HOW = (
    "give it with %backend vertex --{flag} VALUE, JSML_VERTEX_{env}, "
    "or [backends.vertex] {name} in $JSML_HOME/config.toml"
)


def _metadata(path: str) -> str | None:
    """A value from the GCE metadata server (a Workbench instance's); ``None`` elsewhere."""
    host = os.environ.get("GCE_METADATA_HOST") or "metadata.google.internal"
    try:
        socket.getaddrinfo(host.split(":")[0], None)
    except OSError:
        return None
    request = urllib.request.Request(
        f"http://{host}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1.0) as reply:
            return reply.read().decode().strip() or None
    except (OSError, ValueError):
        return None


def _missing(name: str, what: str) -> ConfigError:
    return ConfigError(
        f"the vertex backend needs a {what} ({name}); "
        + _HOW.format(flag=name.replace("_", "-"), env=name.upper(), name=name)
    )


@dataclass(frozen=True)
class VertexSettings:
    """Resolved settings: where resources live and how to reach the APIs."""

    project: str
    location: str
    bucket: str
    prefix: str
    api_endpoint: str
    logging_endpoint: str
    anonymous: bool

    @property
    def parent(self) -> str:
        """``projects/P/locations/L``: the parent of every resource."""
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def root(self) -> str:
        """``gs://bucket/prefix``: where bundles, data, job outputs and models go."""
        return f"gs://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def console(self, kind: str, resource_id: str) -> str:
        """The Cloud Console page of a resource."""
        return (
            f"https://console.cloud.google.com/vertex-ai/locations/{self.location}/{kind}/"
            f"{resource_id}?project={self.project}"
        )


def resolve(
    project: str | None,
    location: str | None,
    bucket: str | None,
    api_endpoint: str | None,
    logging_endpoint: str | None,
) -> VertexSettings:
    """Fill absent settings from the environment and the metadata server, and check them."""
    project = project or next((os.environ[k] for k in _PROJECT_ENV if os.environ.get(k)), None)
    project = project or _metadata("project/project-id")
    if not project:
        raise _missing("project", "Google Cloud project id")
    if not _PROJECT.match(project):
        raise UsageError(f"{project!r} is not a Google Cloud project id (e.g. my-project-123)")
    location = location or next((os.environ[k] for k in _REGION_ENV if os.environ.get(k)), None)
    if not location:
        zone = _metadata("instance/zone")  # projects/123/zones/us-central1-a
        location = zone.rsplit("/", 1)[-1].rsplit("-", 1)[0] if zone else None
    if not location:
        raise _missing("location", "region")
    if location not in LOCATIONS:
        raise UsageError(
            f"unknown Vertex AI region {location!r}; use one of: {', '.join(sorted(LOCATIONS))}"
        )
    if not bucket:
        raise _missing(
            "bucket", "Cloud Storage bucket for bundles and models (gs://BUCKET[/prefix])"
        )
    match = _BUCKET.match(bucket.rstrip("/"))
    if not match:
        raise UsageError(
            f"bucket {bucket!r} must look like gs://my-bucket or gs://my-bucket/prefix"
        )
    api = (api_endpoint or f"https://{location}-aiplatform.googleapis.com").rstrip("/")
    if "://" not in api:
        api = f"https://{api}"
    logs = (logging_endpoint or ("" if api_endpoint else "https://logging.googleapis.com")).rstrip(
        "/"
    )
    return VertexSettings(
        project=project,
        location=location,
        bucket=match.group(1),
        prefix=(match.group(2) or "").strip("/"),
        api_endpoint=api,
        logging_endpoint=logs or api,
        anonymous=api.startswith("http://"),
    )


def describe(settings: VertexSettings) -> dict[str, Any]:
    """What a job record's details say about where it runs."""
    return {"project": settings.project, "location": settings.location, "root": settings.root}
