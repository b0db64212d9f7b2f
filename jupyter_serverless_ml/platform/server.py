"""The platform's HTTP control plane (Starlette), bound to 127.0.0.1.

Every route requires ``Authorization: Bearer <token>``; errors from the
:mod:`..errors` tree are mapped to JSON and HTTP statuses in one place.

Routes (all under ``/v1``)::

    GET  /health                      liveness and identity
    GET  /info                        home, sandbox, versions
    POST /jobs                        submit a job
    GET  /jobs?status=&name=&limit=   list (newest first)
    GET  /jobs/{ref}                  one job by id or name (newest)
    GET  /jobs/{ref}/logs?offset=     log text from a byte offset
    GET  /jobs/{ref}/metrics          every metric record
    GET  /jobs/{ref}/watch?status=&log_offset=&metrics=&timeout=
                                      long-poll: returns as soon as anything changed
                                      (log_offset/metrics -1: not interested)
    POST /jobs/{ref}/stop             stop
    POST /jobs/{ref}/nudge            a supervisor says its files changed
    GET  /models[?name=]              model versions
    GET  /models/{name}[/{version}]   one model version (latest by default)
    POST /models                      register a model saved from a kernel variable
    POST /endpoints                   deploy (a new endpoint, or a variant of one)
    GET  /endpoints                   every endpoint, summarised
    GET  /endpoints/{name}            one endpoint with its events and replicas
    POST /endpoints/{name}/traffic    shift traffic {"weights": {"v4": 100}}
    POST /endpoints/{name}/rollback   return to the previous split
    POST /endpoints/{name}/undeploy   drain and stop
    POST /batch                       start (or resume) a batch prediction job
    GET  /batch                       batch jobs, newest first
    GET  /batch/{id}[?wait=&status=&rows=]  one batch job with its shards (long poll: answers
                                      when its status or rows done differ, or after wait s)
    POST /batch/{id}/stop             stop a batch job
    GET  /costs[?since=]              the cost ledger, priced (see costs/routes.py)
    GET  /costs/advice/{name}         provisioned vs serverless for an endpoint's traffic
    GET  /alerts[?all=1]              drift and monitor alerts, newest first
    POST /alerts                      record an alert (monitors use this)
    POST /alerts/{id}/ack             acknowledge an alert
    POST /shutdown                    stop the daemon (jobs keep running)

The serving routes (``/endpoints/<name>/invocations`` and the Vertex routes)
are answered before this app by :mod:`.serving.wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import os
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._version import __version__
from ..errors import JsmlError, NotFound, UsageError, http_status, to_wire
from ..statuses import JOB_TERMINAL
from .batch.manager import BatchManager
from .costs import routes as costs_routes
from .drift.routes import drift_routes
from .http_io import bounded_int, json_response, query_float, query_int, strict_loads, unauthorized
from .jobs.manager import JobManager, to_public
from .pipelines.routes import pipeline_routes
from .registry_routes import registry_routes
from .schedules.routes import schedule_routes
from .serving.endpoints import EndpointManager
from .tuning.routes import routes as tuning_routes

Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger("jsml.platform")


class Platform:
    """The daemon's shared state, handed to every route."""

    def __init__(
        self,
        manager: JobManager,
        token: str,
        started_at: float,
        endpoints: EndpointManager,
        batches: BatchManager,
    ) -> None:
        self.manager = manager
        self.endpoints = endpoints
        self.batches = batches
        self.token = token
        self.started_at = started_at
        self.events: dict[str, asyncio.Event] = {}
        self.shutdown: Callable[[], None] = lambda: None

    def changed(self, job_id: str) -> None:
        """Wake every watcher of ``job_id``."""
        event = self.events.pop(job_id, None)
        if event is not None:
            event.set()

    def event(self, job_id: str) -> asyncio.Event:
        """The event the next change of ``job_id`` sets."""
        return self.events.setdefault(job_id, asyncio.Event())

    def poll(self) -> None:
        """Fold every active job's files into the store and wake watchers of changed ones.

        A job whose check fails is logged and retried next round; the others go on.
        """
        for job_id in self.manager.active_ids():
            try:
                changed = self.manager.check(job_id)
            except Exception:
                log.exception("checking job %s failed", job_id)
                continue
            if changed:
                self.changed(job_id)
        for job_id in self.manager.dispatch():
            self.changed(job_id)


_json = json_response


async def _body(request: Request) -> dict[str, Any]:
    data = strict_loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


def _int(request: Request, key: str, default: int, low: int = 0) -> int:
    return query_int(request, key, default, low)


def build_app(platform_: Platform) -> Starlette:
    """The Starlette application of the control plane."""
    manager = platform_.manager
    registry = manager.registry

    def guarded(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            supplied = header[7:].strip() if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(supplied.encode(), platform_.token.encode()):
                return unauthorized()
            try:
                return await handler(request)
            except JsmlError as exc:
                return _json(to_wire(exc), http_status(exc))
            except Exception as exc:
                log.exception("%s %s failed", request.method, request.url.path)
                return _json(
                    {
                        "error": "InternalError",
                        "message": (
                            f"the platform failed on {request.method} {request.url.path}: "
                            f"{type(exc).__name__}: {exc} (details in {manager.home / 'daemon.log'})"
                        ),
                    },
                    500,
                )

        return wrapper

    async def health(request: Request) -> Response:
        return _json(
            {
                "ok": True,
                "pid": os.getpid(),
                "version": __version__,
                "started_at": platform_.started_at,
            }
        )

    async def info(request: Request) -> Response:
        sandbox = manager.sandbox
        return _json(
            {
                "home": str(manager.home),
                "pid": os.getpid(),
                "version": __version__,
                "python": platform.python_version(),
                "started_at": platform_.started_at,
                "sandbox": {
                    "available": sandbox.available,
                    "mode": sandbox.mode,
                    "reason": sandbox.reason,
                },
                "active_jobs": len(manager.active_ids()),
            }
        )

    async def submit(request: Request) -> Response:
        job = costs_routes.submit_job(platform_, await _body(request))
        platform_.changed(job["id"])
        return _json(to_public(job), 201)

    async def list_jobs(request: Request) -> Response:
        statuses = [s for s in request.query_params.get("status", "").split(",") if s]
        jobs = manager.store.jobs(
            status=statuses or None,
            name=request.query_params.get("name"),
            limit=_int(request, "limit", 100),
            offset=_int(request, "offset", 0),
        )
        latest = manager.store.latest_metrics([j["id"] for j in jobs])
        return _json({"jobs": [dict(to_public(j), metrics=latest[j["id"]]) for j in jobs]})

    async def get_job(request: Request) -> Response:
        return _json(to_public(manager.describe(request.path_params["ref"])))

    async def logs(request: Request) -> Response:
        job = manager.resolve(request.path_params["ref"])
        text, offset = manager.read_log(job["id"], _int(request, "offset", 0))
        return _json({"text": text, "offset": offset, "status": job["status"]})

    async def metrics(request: Request) -> Response:
        job = manager.resolve(request.path_params["ref"])
        return _json({"metrics": manager.store.metrics(job["id"])})

    async def watch(request: Request) -> Response:
        job_id = manager.resolve(request.path_params["ref"])["id"]
        known_status = request.query_params.get("status", "")
        log_offset = _int(request, "log_offset", 0, low=-1)
        seen_metrics = _int(request, "metrics", 0, low=-1)
        timeout = query_float(request, "timeout", 10.0, 0.0, 60.0)
        deadline = time.monotonic() + timeout
        while True:
            job = manager.describe(job_id)
            fresh = (
                job["status"] != known_status
                or 0 <= log_offset < job["log_size"]
                or 0 <= seen_metrics < job["metric_count"]
            )
            remaining = deadline - time.monotonic()
            if (
                fresh
                or remaining <= 0
                or (job["status"] in JOB_TERMINAL and job["status"] == known_status)
            ):
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(platform_.event(job_id).wait(), timeout=remaining)
        text, offset = manager.read_log(job_id, log_offset) if log_offset >= 0 else ("", -1)
        news = manager.store.metrics(job_id, after=seen_metrics) if seen_metrics >= 0 else []
        return _json({"job": to_public(job), "log": text, "log_offset": offset, "metrics": news})

    async def stop(request: Request) -> Response:
        job = manager.stop(request.path_params["ref"])
        platform_.changed(job["id"])
        return _json(to_public(job))

    async def nudge(request: Request) -> Response:
        job_id = request.path_params["ref"]
        if manager.store.job(job_id) is None:
            raise NotFound(f"no job {job_id!r}")
        manager.check(job_id)
        platform_.changed(job_id)
        return _json({"ok": True})

    async def list_models(request: Request) -> Response:
        return _json({"models": registry.versions(request.query_params.get("name"))})

    async def get_model(request: Request) -> Response:
        name = request.path_params["name"]
        raw = request.path_params.get("version")
        version = None
        if raw not in (None, "latest"):
            version = bounded_int(str(raw).lstrip("v"), f"model version of {name}", 1)
        return _json(registry.get(name, version))

    async def register_model(request: Request) -> Response:
        body = await _body(request)
        missing = [k for k in ("name", "directory", "python") if not body.get(k)]
        if missing:
            raise UsageError(f"model registration lacks {', '.join(missing)}")
        model = registry.register(body["name"], body["directory"], body["python"])
        return _json(model, 201)

    endpoints = platform_.endpoints
    batches = platform_.batches

    async def deploy(request: Request) -> Response:
        return _json(await costs_routes.deploy(platform_, await _body(request)), 201)

    async def list_endpoints(request: Request) -> Response:
        return _json({"endpoints": endpoints.summaries()})

    async def get_endpoint(request: Request) -> Response:
        return _json(costs_routes.describe_endpoint(platform_, request.path_params["name"]))

    async def traffic(request: Request) -> Response:
        weights = (await _body(request)).get("weights")
        if not isinstance(weights, dict) or not weights:
            raise UsageError('traffic needs {"weights": {"VARIANT": PERCENT, ...}}')
        try:
            parsed = {str(k): float(v) for k, v in weights.items()}
        except (TypeError, ValueError):
            parsed = {"": math.nan}
        if not all(math.isfinite(w) for w in parsed.values()):
            raise UsageError(f"traffic weights must be finite numbers: {weights}")
        return _json(endpoints.traffic(request.path_params["name"], parsed))

    async def rollback(request: Request) -> Response:
        return _json(endpoints.rollback(request.path_params["name"]))

    async def undeploy(request: Request) -> Response:
        return _json(await endpoints.undeploy(request.path_params["name"]))

    async def start_batch(request: Request) -> Response:
        return _json(await costs_routes.start_batch(platform_, await _body(request)), 201)

    async def list_batches(request: Request) -> Response:
        return _json({"batches": batches.recent(_int(request, "limit", 100))})

    async def get_batch(request: Request) -> Response:
        ref = request.path_params["ref"]
        if "wait" not in request.query_params:
            return _json(batches.describe(ref))
        timeout = query_float(request, "wait", 10.0, 0.0, 60.0)
        status = request.query_params.get("status", "")
        rows = _int(request, "rows", -1, low=-1)
        return _json(await batches.watch(ref, status, rows, timeout))

    async def stop_batch(request: Request) -> Response:
        return _json(batches.stop(request.path_params["ref"]))

    async def list_alerts(request: Request) -> Response:
        everything = request.query_params.get("all", "1") not in ("0", "false")
        return _json({"alerts": manager.store.alerts(include_acknowledged=everything)})

    async def add_alert(request: Request) -> Response:
        body = await _body(request)
        if not body.get("endpoint"):
            raise UsageError("an alert needs an endpoint")
        alert_id = manager.store.add_alert(body)
        return _json({"id": alert_id}, 201)

    async def ack_alert(request: Request) -> Response:
        alert_id = bounded_int(request.path_params["alert_id"], "alert id", 1)
        alert = manager.store.acknowledge_alert(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        return _json(alert)

    async def shutdown(request: Request) -> Response:
        asyncio.get_running_loop().call_later(0.05, platform_.shutdown)
        return _json({"ok": True})

    routes = [
        Route("/v1/health", guarded(health)),
        Route("/v1/info", guarded(info)),
        Route("/v1/jobs", guarded(submit), methods=["POST"]),
        Route("/v1/jobs", guarded(list_jobs), methods=["GET"]),
        Route("/v1/jobs/{ref}", guarded(get_job)),
        Route("/v1/jobs/{ref}/logs", guarded(logs)),
        Route("/v1/jobs/{ref}/metrics", guarded(metrics)),
        Route("/v1/jobs/{ref}/watch", guarded(watch)),
        Route("/v1/jobs/{ref}/stop", guarded(stop), methods=["POST"]),
        Route("/v1/jobs/{ref}/nudge", guarded(nudge), methods=["POST"]),
        Route("/v1/models", guarded(list_models), methods=["GET"]),
        Route("/v1/models/{name}", guarded(get_model)),
        Route("/v1/models/{name}/{version}", guarded(get_model)),
        Route("/v1/models", guarded(register_model), methods=["POST"]),
        Route("/v1/endpoints", guarded(deploy), methods=["POST"]),
        Route("/v1/endpoints", guarded(list_endpoints), methods=["GET"]),
        Route("/v1/endpoints/{name}", guarded(get_endpoint)),
        Route("/v1/endpoints/{name}/traffic", guarded(traffic), methods=["POST"]),
        Route("/v1/endpoints/{name}/rollback", guarded(rollback), methods=["POST"]),
        Route("/v1/endpoints/{name}/undeploy", guarded(undeploy), methods=["POST"]),
        Route("/v1/batch", guarded(start_batch), methods=["POST"]),
        Route("/v1/batch", guarded(list_batches), methods=["GET"]),
        Route("/v1/batch/{ref}", guarded(get_batch)),
        Route("/v1/batch/{ref}/stop", guarded(stop_batch), methods=["POST"]),
        *costs_routes.cost_routes(platform_, guarded),
        *tuning_routes(platform_, guarded),
        *drift_routes(platform_, guarded),
        Route("/v1/alerts", guarded(list_alerts), methods=["GET"]),
        Route("/v1/alerts", guarded(add_alert), methods=["POST"]),
        Route("/v1/alerts/{alert_id}/ack", guarded(ack_alert), methods=["POST"]),
        Route("/v1/shutdown", guarded(shutdown), methods=["POST"]),
        *registry_routes(registry, guarded),
        *schedule_routes(manager.home, manager.store, guarded),
        *pipeline_routes(platform_, guarded),
    ]
    return Starlette(routes=routes)
