"""The cost routes of the control plane, and the budget guard around starting resources.

::

    GET /v1/costs[?since=EPOCH&limit=N]  the ledger, priced and summarised (see summarize())
    GET /v1/costs/advice/{name}[?memory_gb=&idle=]
                                         provisioned vs serverless for an endpoint's traffic

``GET /v1/costs`` (and the server extension's ``GET serverless-ml/api/costs``, which
answers the default backend's ``costs()`` in the same shape)::

    {"currency": "USD", "note": str, "since": float,
     "total": {"instance_hours", "local", "sagemaker", "vertex", "billed"},   # USD floats
     "by_day": [{"key", "day", "count", ...the total's keys}],               # oldest first
     "by_resource": [{"key", "kind", ...}], "by_backend": [{"key", "backend", ...}],
     "by_name": [{"key", "name", ...}],
     "budgets_hit": [item, ...],            # items a --max-cost stopped
     "items": [{"kind": "training|endpoint|batch|storage", "resource", "name",
                "backend", "instance_type", "count", "started_at", "ended_at" | null,
                "seconds", "requests", "gb_seconds", "gb_months", "max_cost" | null,
                "stopped_reason" | null, "instance_hours", "local", "sagemaker",
                "vertex", "billed", "budget_cloud"}],                     # newest first
     "catalog": {"sources": [{"cloud", "service", "region", "source", "dates", "items"}],
                 "regions": {"sagemaker": str, "vertex": str},
                 "equivalence": [{"sagemaker", "vertex"}]}}

``GET /v1/costs/advice/{name}``: ``recommend`` (provisioned|serverless), ``reason``,
``requests``, ``window_hours``, ``provisioned_usd``, ``serverless_usd`` and their
``*_month``, ``replicas``, ``instance_type``, ``memory_gb``, ``cold_starts``,
``cold_start_seconds``, ``added_cold_start_seconds``, ``endpoint``, ``captured``,
``capture_percent``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...catalog import equivalence, prices
from ...catalog.pricing import price_items, serverless_memory_gb, summarize
from ...errors import NotFound, UsageError
from ..http_io import json_response, query_float
from . import budget
from .advice import advise
from .service import endpoint_resource, service_for
from .traffic import read_traffic

Handler = Callable[[Request], Awaitable[Response]]


def ledger_items(platform_: Any, since: float = 0.0) -> list[dict[str, Any]]:
    """Priced items: the stored ledger with what runs now brought up to date."""
    service = service_for(platform_)
    now = time.time()
    rows = {(r["kind"], r["resource"]): r for r in platform_.manager.store.ledger(since)}
    for fresh in service._jobs(now) + service._batches(now) + service._endpoints(now):
        key = (fresh["kind"], fresh["resource"])
        if fresh.get("ended_at") is None or key not in rows:
            rows[key] = dict(rows.get(key, {}), **fresh)
    items = [budget.item_of(r) for r in rows.values() if (r.get("ended_at") or now) >= since]
    return price_items(items)


def costs_view(platform_: Any, since: float = 0.0, limit: int = 200) -> dict[str, Any]:
    """The ledger summarised (the newest ``limit`` items listed), with the catalog's
    sources and the equivalence table."""
    out = summarize(ledger_items(platform_, since), limit)
    out["since"] = since
    out["catalog"] = {
        "sources": prices.sources(),
        "regions": {c: prices.default_region(c) for c in prices.CLOUDS},
        "equivalence": equivalence.table(),
    }
    return out


def describe_endpoint(platform_: Any, name: str) -> dict[str, Any]:
    """``GET /v1/endpoints/{name}``: the live endpoint, or, once its budget undeployed it,
    a Deleted endpoint whose events say so (NotFound otherwise)."""
    try:
        return dict(platform_.endpoints.describe(name))
    except NotFound:
        stopped = budget.stopped_endpoint(platform_.manager.store, name)
        if stopped is None:
            raise
        return stopped


def advice_view(platform_: Any, name: str, memory_gb: float, idle: float) -> dict[str, Any]:
    """Serving-mode advice for endpoint ``name`` from its captured traffic."""
    manager = platform_.endpoints
    endpoint = manager.endpoints.get(name)
    if endpoint is None:
        raise NotFound(
            f"no endpoint {name!r}; advice reads a live endpoint's captured traffic "
            f"(endpoints: {', '.join(manager.endpoints) or 'none'})"
        )
    percent = float(endpoint.config.get("capture_percent") or 0.0)
    if percent <= 0:
        raise UsageError(
            f"endpoint {name} captures no requests; redeploy it with --capture 100 "
            "and send traffic, then ask again"
        )
    traffic = read_traffic(manager.capture_root / name)
    cold = [
        float(e["value"])
        for e in manager.store.endpoint_events(name, ["cold_start"], 500)
        if e.get("value") is not None
    ]
    policies = [v.policy for v in endpoint.variants.values()]
    replicas = max([p.min_replicas for p in policies] or [1])
    result = advise(
        traffic,
        instance_type=str(endpoint.config.get("instance_type") or "ml.m5.large"),
        replicas=replicas,
        memory_gb=memory_gb,
        cold_starts=cold,
        sample_share=percent / 100,
        window=(traffic[0][0], time.time()) if traffic else None,
        idle_seconds=idle,
    )
    return dict(result.to_wire(), endpoint=name, captured=len(traffic), capture_percent=percent)


def cost_routes(platform_: Any, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """The routes above, behind the control plane's authentication."""

    async def costs(request: Request) -> Response:
        since = query_float(request, "since", 0.0, 0.0, math.inf)
        limit = int(query_float(request, "limit", 200, 1, 100_000))
        return json_response(costs_view(platform_, since, limit))

    async def advice(request: Request) -> Response:
        memory = serverless_memory_gb(request.query_params.get("memory_gb", "2"))
        idle = query_float(request, "idle", 300.0, 1.0, 86400.0)
        return json_response(advice_view(platform_, request.path_params["name"], memory, idle))

    return [
        Route("/v1/costs", guarded(costs)),
        Route("/v1/costs/advice/{name}", guarded(advice)),
    ]


def submit_job(platform_: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Submit a job through the budget guard (refused over budget; the budget recorded)."""
    store = platform_.manager.store
    budget.admit(store, "training", body)
    job = platform_.manager.submit(body)
    spec = job.get("spec") or {}
    budget.record(
        store,
        "training",
        job["id"],
        body,
        name=job["name"],
        instance_type=spec.get("instance_type"),
        count=spec.get("instance_count"),
        started_at=job.get("created_at") or time.time(),
    )
    return job


async def deploy(platform_: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Deploy through the budget guard."""
    store = platform_.manager.store
    budget.admit(store, "endpoint", body)
    answer: dict[str, Any] = await platform_.endpoints.deploy(body)
    endpoint = platform_.endpoints.endpoints.get(answer.get("name") or body.get("name"))
    if endpoint is not None:
        resource = endpoint_resource(endpoint.name, endpoint.created_at)
        row = {
            "name": endpoint.name,
            "instance_type": endpoint.config.get("instance_type"),
            "started_at": endpoint.created_at,
        }
        if store.ledger_row("endpoint", resource) is None:
            # in the ledger from its deploy on: one undeployed before the next round of the
            # cost service is still there (and is the endpoint's last deployment)
            store.ledger_write([dict(row, kind="endpoint", resource=resource)])
        budget.record(store, "endpoint", resource, body, **row)
    return answer


async def start_batch(platform_: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Start a batch job through the budget guard."""
    store = platform_.manager.store
    budget.admit(store, "batch", body)
    batch: dict[str, Any] = await platform_.batches.submit(body)
    budget.record(
        store,
        "batch",
        batch["id"],
        body,
        name=str(body.get("model") or "").split(":")[0],
        started_at=batch.get("created_at") or time.time(),
    )
    return batch


__all__ = [
    "advice_view",
    "cost_routes",
    "costs_view",
    "deploy",
    "describe_endpoint",
    "ledger_items",
    "start_batch",
    "submit_job",
]
