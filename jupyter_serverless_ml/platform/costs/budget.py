"""The budget guard: ``--max-cost USD`` on training jobs, endpoints and batch jobs.

Before a resource starts, :func:`admit` refuses it when its estimate exceeds the
budget; while it runs, :func:`enforce` (each accrual round) stops it once the
ledger's cost reaches the budget and records why, where the user looks: the job's
failure reason (the cell, ``%job``), the endpoint's events and the ledger row's
``stopped_reason`` (``%cost``, the sidebar's ``budgets_hit``).

Which price counts: a cloud resource's own backend; a local one what its instance
type would bill on its cloud (an ``ml.*`` type at SageMaker list price, a Vertex
machine type at Vertex list price), since the local platform itself is free.

Estimates: a job, its instance price x count x the shorter of ``--max-runtime``
and the last completed run of the same name (no estimate without either: the
guard alone applies); an endpoint, one hour at its minimum replicas; a batch job,
the duration of the model's previous batch job.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ...catalog.prices import cloud_of, hourly
from ...catalog.pricing import price_items
from ...errors import UsageError
from ...statuses import JOB_TERMINAL

SERVICE_OF = {"training": "training", "endpoint": "hosting", "batch": "batch"}


def max_cost_of(body: dict[str, Any]) -> float | None:
    """The request's ``max_cost`` as a positive USD amount (None when unset)."""
    value = body.get("max_cost")
    if value is None:
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        amount = math.nan
    if not math.isfinite(amount) or amount <= 0:
        raise UsageError(
            f"--max-cost must be a positive amount in USD, e.g. 5 or 0.25; not {value!r}"
        )
    return amount


def _rate(instance_type: str, kind: str) -> tuple[float, str]:
    cloud = cloud_of(instance_type)
    service = (
        SERVICE_OF[kind] if cloud == "sagemaker" else {"endpoint": "prediction"}.get(kind, kind)
    )
    return hourly(instance_type, cloud, service), cloud


def estimate(store: Any, kind: str, body: dict[str, Any]) -> tuple[float, str] | None:
    """What a resource about to start is expected to cost, and how that was worked out."""
    instance_type = str(body.get("instance_type") or "ml.m5.large")
    price, cloud = _rate(instance_type, kind)
    if kind == "training":
        count = int(body.get("instance_count") or 1)
        spans: list[tuple[float, str]] = []
        if body.get("max_runtime"):
            spans.append((float(body["max_runtime"]), "--max-runtime"))
        last = next(
            (
                j
                for j in store.jobs(name=str(body.get("name") or ""), limit=20)
                if j["status"] == "Completed" and j.get("started_at") and j.get("ended_at")
            ),
            None,
        )
        if last is not None:
            spans.append((last["ended_at"] - last["started_at"], f"the last run {last['id']}"))
        if not spans:
            return None
        seconds, why = min(spans)
        return (
            price * count * seconds / 3600,
            f"{instance_type} x{count} at ${price:.4f}/h ({cloud} list price) for "
            f"{seconds:.0f} s ({why})",
        )
    if kind == "endpoint":
        replicas = body.get("min_replicas")
        replicas = 1 if replicas is None else int(replicas)
        return (
            price * replicas,
            f"one hour of {replicas} x {instance_type} at ${price:.4f}/h ({cloud} list price)",
        )
    model = str(body.get("model") or "").split(":")[0]
    previous = [
        r
        for r in store.ledger()
        if r["kind"] == "batch" and r["name"] == model and r.get("ended_at")
    ]
    if not previous:
        return None
    seconds = previous[-1]["seconds"]
    return (
        price * seconds / 3600,
        f"{instance_type} at ${price:.4f}/h ({cloud} list price) for {seconds:.0f} s "
        "(the model's last batch job)",
    )


def admit(store: Any, kind: str, body: dict[str, Any]) -> None:
    """Refuse a resource whose estimate exceeds its ``max_cost`` (before anything starts)."""
    budget = max_cost_of(body)
    if budget is None:
        return
    found = estimate(store, kind, body)
    if found is not None and found[0] > budget:
        cost, how = found
        raise UsageError(
            f"not started: the estimated cost ${cost:.4f} ({how}) exceeds --max-cost "
            f"${budget:.4f}; raise --max-cost, choose a cheaper --instance-type"
            + (", or lower --max-runtime" if kind == "training" else "")
            + (" or --min-replicas 0" if kind == "endpoint" else "")
        )


def record(store: Any, kind: str, resource: str, body: dict[str, Any], **row: Any) -> None:
    """Give the new resource's ledger row its budget."""
    budget = max_cost_of(body)
    if budget is not None:
        store.set_budget(kind, resource, budget, **row)


def cost_of(row: dict[str, Any]) -> tuple[float, str]:
    """A ledger row's cost at the price the guard counts, and which cloud's that is."""
    item = price_items([item_of(row)])[0]
    return float(item[item["budget_cloud"]]), str(item["budget_cloud"])


def item_of(row: dict[str, Any]) -> dict[str, Any]:
    """A ledger row as a pricing item."""
    item = dict(row)
    item["display_name"] = row["name"]
    item["spot"] = bool(row.get("spot"))
    if row["kind"] == "storage":
        item["bytes"] = int(row.get("requests") or 0)
        item["requests"] = 0
    return item


async def enforce(platform_: Any, now: float | None = None) -> list[dict[str, Any]]:
    """Stop every open resource whose cost reached its budget; returns the rows stopped."""
    store = platform_.manager.store
    now = now or time.time()
    stopped = []
    for row in store.ledger(since=now - 3600):
        if row.get("max_cost") is None:
            continue
        if row.get("stopped_reason"):
            _settle(platform_, row)
            continue
        if row.get("ended_at"):
            continue
        cost, cloud = cost_of(row)
        if cost < row["max_cost"]:
            continue
        reason = stop_reason(row["max_cost"], cost, row["instance_type"], cloud)
        store.stop_by_budget(row["kind"], row["resource"], reason)
        await _stop(platform_, row, reason)
        stopped.append(dict(row, stopped_reason=reason, cost=cost))
    return stopped


def stop_reason(budget: float, cost: float, instance_type: str, cloud: str) -> str:
    """What a resource stopped by its budget says (its failure reason, its event)."""
    label = {"sagemaker": "SageMaker", "vertex": "Vertex AI"}.get(cloud, cloud)
    return (
        f"stopped: budget of ${budget:.4f} reached (ledger ${cost:.4f}; "
        f"{instance_type} at {label} list price; --max-cost)"
    )


def stopped_endpoint(store: Any, name: str) -> dict[str, Any] | None:
    """The last deployment of endpoint ``name`` if its budget undeployed it: a Deleted
    endpoint whose events and ``stopped_reason`` say why (what ``%endpoint`` shows)."""
    rows = [r for r in store.ledger() if r["kind"] == "endpoint" and r["name"] == name]
    if not rows or not rows[-1].get("stopped_reason"):
        return None  # never deployed, or its last deployment ended otherwise
    row = rows[-1]
    cost, cloud = cost_of(row)
    ended = row.get("ended_at") or row["updated_at"]
    event = {"ts": ended, "kind": "budget", "variant": None, "value": cost}
    return {
        "name": name,
        "backend": row.get("backend") or "local",
        "status": "Deleted",
        "created_at": row["started_at"],
        "traffic": {},
        "variants": [],
        "replicas": 0,
        "stats": {},
        "events": [dict(event, message=row["stopped_reason"])],
        "stopped_reason": row["stopped_reason"],
        "max_cost": row["max_cost"],
        "cost": cost,
        "cost_cloud": cloud,
    }


async def _stop(platform_: Any, row: dict[str, Any], reason: str) -> None:
    if row["kind"] == "training":
        platform_.manager.stop(row["resource"], reason)
        platform_.changed(row["resource"])
    elif row["kind"] == "batch":
        platform_.batches.stop(row["resource"], reason)
    elif row["kind"] == "endpoint":
        endpoints = platform_.endpoints
        if row["name"] in endpoints.endpoints:
            endpoints.store.add_endpoint_event(row["name"], "budget", reason)
            await endpoints.undeploy(row["name"])


def _settle(platform_: Any, row: dict[str, Any]) -> None:
    """Once a stopped job ends, its failure reason is the budget's."""
    if row["kind"] != "training":
        return
    store = platform_.manager.store
    job = store.job(row["resource"])
    if job and job["status"] in JOB_TERMINAL and job.get("failure_reason") != row["stopped_reason"]:
        store.update_job(row["resource"], failure_reason=row["stopped_reason"])
        platform_.changed(row["resource"])


__all__ = [
    "admit",
    "cost_of",
    "enforce",
    "estimate",
    "item_of",
    "max_cost_of",
    "record",
    "stop_reason",
    "stopped_endpoint",
]
