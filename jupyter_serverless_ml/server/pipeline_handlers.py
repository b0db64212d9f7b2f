"""The sidebar's Pipelines routes (under ``<base_url>/serverless-ml/api/``)::

    GET pipelines                    every pipeline of every served backend with pipelines:
        {"pipelines": [{"name", "backend", "output", "created_at", "updated_at",
                        "steps": [{"name", "kind", "upstream": [STEP]}],
                        "edges": [{"from", "to", "kind": "data"|"after"|"condition",
                                   "branch"?: bool}],
                        "last_run": {"id", "pipeline", "status", "created_at", "started_at",
                                     "ended_at", "failure_reason", "use_cache"} | null}],
         "errors": {backend: message}}
    GET pipelines/<name>/runs[?limit=&backend=]   {"runs": [RUN]}, newest first
    GET pipeline-runs/<id>[?backend=]             RUN

A RUN is ``{"id", "pipeline", "backend", "status" (Executing|Stopping|Stopped|Failed|
Succeeded), "created_at", "started_at", "ended_at", "duration", "failure_reason",
"use_cache", "cache_hits", "counts": {STATUS: n}, "steps": [STEP], "edges": [EDGE]}``
and a STEP ``{"name", "kind", "status" (Pending|Executing|Stopping|Stopped|Failed|
Succeeded|Skipped), "attempt", "cache_hit", "cached_from", "cache_key", "job_id",
"started_at", "ended_at", "duration", "outputs": {"path", "uri", "hash", "model"?,
"version"?, "endpoint"?}, "metadata": {"metrics"?: {NAME: number}, "result"?,
"expression"?}, "failure_reason", "log", "upstream": [STEP NAME]}`` (the platform's
shape, :mod:`jupyter_serverless_ml.platform.pipelines.views`). A backend that fails
is named in ``errors`` and the others are still listed.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..backends.pipelines_part import Pipelines
from ..errors import JsmlError, NotFound
from .config import BackendSet
from .handlers import SidebarHandler


def list_pipelines(backends: BackendSet) -> dict[str, Any]:
    """Every pipeline of every served backend with pipelines (see the module docstring)."""
    found: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for name, part in backends.having(Pipelines):
        try:
            found += [dict(p.to_wire(), backend=name) for p in part.pipelines()]
        except JsmlError as exc:
            errors[name] = str(exc)
    return {"pipelines": found, "errors": errors}


def _parts(backends: BackendSet, only: str | None) -> list[tuple[str, Pipelines]]:
    parts = list(backends.having(Pipelines, [only] if only else None))
    if not parts:
        raise NotFound(f"no served backend{f' {only!r}' if only else ''} runs pipelines")
    return parts


def pipeline_runs(
    backends: BackendSet, name: str, limit: int, only: str | None
) -> dict[str, Any]:
    """The runs of pipeline ``name``, newest first (the first backend that knows it)."""
    last: JsmlError | None = None
    for backend, part in _parts(backends, only):
        try:
            return {
                "runs": [dict(r.to_wire(), backend=backend) for r in part.pipeline_runs(name, limit)]
            }
        except NotFound as exc:
            last = exc
    raise last or NotFound(f"no pipeline {name!r}")


def pipeline_run(backends: BackendSet, run_id: str, only: str | None) -> dict[str, Any]:
    """One run with its steps and edges."""
    last: JsmlError | None = None
    for backend, part in _parts(backends, only):
        try:
            return dict(part.pipeline_run(run_id).to_wire(), backend=backend)
        except NotFound as exc:
            last = exc
    raise last or NotFound(f"no pipeline run {run_id!r}")


class PipelinesHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (list_pipelines, ()))


class PipelineRunsHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.call(
            lambda: (
                pipeline_runs,
                (name, self.int_argument("limit", 20, 1, 500), self.get_argument("backend", None)),
            )
        )


class PipelineRunHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call(lambda: (pipeline_run, (run_id, self.get_argument("backend", None))))


#: (path under the API base, handler), added to the sidebar API's routes.
ROUTES: list[tuple[str, type[SidebarHandler]]] = [
    ("pipelines", PipelinesHandler),
    (r"pipelines/([^/]+)/runs", PipelineRunsHandler),
    (r"pipeline-runs/([^/]+)", PipelineRunHandler),
]

__all__ = ["ROUTES", "list_pipelines", "pipeline_run", "pipeline_runs"]
