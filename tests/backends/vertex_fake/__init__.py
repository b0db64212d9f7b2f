"""A local fake of the Vertex AI REST API, Cloud Logging and Cloud Storage, for tests.

:func:`fake_vertex` starts one HTTP server that answers all three (the GCS JSON API
through ``STORAGE_EMULATOR_HOST``), with a job emulator that runs uploaded bundles
under the Vertex training contract; it yields a :class:`FakeVertex` with the
settings to build the backend with.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import VertexApi, VertexStore
from .deployment_pools import DeploymentPools
from .emulator import Emulator
from .gcs import FakeGCS
from .logstore import LogStore
from .registry_routes import RegistryRoutes
from .tuning import TuningRoutes
from .web import ApiError, Request, Response, Router, Server

PROJECT = "jsml-test-project"
LOCATION = "europe-west4"
BUCKET = "jsml-test-bucket"


@dataclass
class FakeVertex:
    """The running fake: its URL, stores, and the backend settings that reach it."""

    server: Server
    router: Router
    store: VertexStore
    gcs: FakeGCS
    logs: LogStore
    emulator: Emulator
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "project": PROJECT,
            "location": LOCATION,
            "bucket": f"gs://{BUCKET}/jsml",
            "api_endpoint": self.url,
            "serving_image": "europe-west4-docker.pkg.dev/jsml-test-project/jsml/serve:py311",
            "poll_seconds": 0.2,
            **extra,
        }

    def fail_next(
        self, path_part: str, code: int, message: str, times: int = 1, status: str | None = None
    ) -> list[int]:
        """Answer the next ``times`` requests whose path contains ``path_part`` with an error;
        returns a list that counts the requests it failed."""
        hits: list[int] = []

        def hook(req: Request) -> None:
            if path_part in req.raw_path and len(hits) < times:
                hits.append(1)
                raise ApiError(code, message, status)

        self.router.before.append(hook)
        return hits


def _metadata_routes(router: Router, values: dict[str, str]) -> None:
    def answer(req: Request) -> Response:
        if req.headers.get("metadata-flavor") != "Google":
            raise ApiError(403, "Missing Metadata-Flavor:Google header")
        key = req.raw_path[len("/computeMetadata/v1/") :]
        if key not in values:
            raise ApiError(404, f"{key} not found")
        return Response(
            200,
            values[key].encode(),
            {"Content-Type": "application/text", "Metadata-Flavor": "Google"},
        )

    router.add("GET", r"/computeMetadata/v1/.+", answer)


@contextlib.contextmanager
def fake_vertex(root: Path) -> Iterator[FakeVertex]:
    """Start the fake (storage under ``root``), point ``STORAGE_EMULATOR_HOST`` at it."""
    router = Router()
    gcs = FakeGCS(root / "gcs")
    gcs.create_bucket(BUCKET)
    store = VertexStore()
    logs = LogStore()
    emulator = Emulator(store, gcs, logs)
    emulator.extra_env["JSML_SYNC_SECONDS"] = "0.2"
    gcs.install(router)
    VertexApi(store, emulator).install(router)
    DeploymentPools(store, emulator).install(router)
    RegistryRoutes(store).install(router)
    tuning = TuningRoutes(store, emulator)  # hyperparameterTuningJobs (tuning.py)
    tuning.install(router)
    logs.install(router)
    metadata: dict[str, str] = {}
    _metadata_routes(router, metadata)
    server = Server(router)
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = server.url
    try:
        yield FakeVertex(server, router, store, gcs, logs, emulator, metadata)
    finally:
        tuning.stop()
        emulator.stop()
        server.stop()
        if saved is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = saved
