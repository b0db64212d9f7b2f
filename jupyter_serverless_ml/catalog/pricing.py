"""What resources cost, or would have cost on SageMaker and Vertex AI.

An *item* is one resource's use (a ledger row): ``kind`` (training, endpoint,
batch, storage), ``name``, ``backend``, ``instance_type``, ``count``,
``started_at``, ``seconds`` (wall-clock seconds it ran; for an endpoint the
replica-seconds with ``count`` 1), and where they apply ``spot``, ``requests``,
``gb_seconds`` (serverless) and ``gb_months`` (storage). :func:`price_items` adds
what it costs locally (nothing), on each cloud at list price (:mod:`.prices`,
equivalent types for the other cloud's), and ``billed``: what its own backend bills.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from .prices import CLOUDS, SERVICE, cloud_of, hourly, serverless_rates, spot_discount, storage_rate

__all__ = [
    "BY",
    "CLOUDS",
    "SERVERLESS_MEMORY_GB",
    "hourly",
    "item_cost",
    "price_items",
    "serverless_memory_gb",
    "summarize",
    "usage_items",
]

#: SageMaker Serverless Inference memory sizes (MemorySizeInMB 1024 ... 6144, by 1024)
SERVERLESS_MEMORY_GB = (1, 2, 3, 4, 5, 6)


def serverless_memory_gb(value: Any) -> float:
    """``value`` as a serverless memory size in GB; anything SageMaker Serverless Inference
    does not offer is a :class:`UsageError` (it used to be clamped, silently)."""
    from ..errors import UsageError

    try:
        gb = float(value)
    except (TypeError, ValueError):
        gb = float("nan")
    if gb not in SERVERLESS_MEMORY_GB:
        raise UsageError(
            f"--memory-gb {value}: SageMaker Serverless Inference memory is 1, 2, 3, 4, 5 or "
            "6 GB (1024-6144 MB); e.g. --memory-gb 2"
        )
    return gb


BY = ("day", "resource", "backend", "name")
_KEYS = ("instance_hours", "local", *CLOUDS, "billed")


def usage_items(
    jobs: Iterable[dict[str, Any]],
    batches: Iterable[dict[str, Any]],
    endpoint_usage: Iterable[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Priced items from job and batch rows and endpoint usage stretches (no ledger)."""
    now = time.time()
    items = []
    for job in jobs:
        if not job.get("started_at"):
            continue
        spec = job.get("spec") or {}
        items.append(
            {
                "kind": "training",
                "name": job["id"],
                "backend": job.get("backend", "local"),
                "instance_type": spec.get("instance_type") or "ml.m5.large",
                "count": int(spec.get("instance_count") or 1),
                "started_at": job["started_at"],
                "seconds": max(0.0, (job.get("ended_at") or now) - job["started_at"]),
            }
        )
    for batch in batches:
        if not batch.get("started_at"):
            continue
        items.append(
            {
                "kind": "batch",
                "name": batch["id"],
                "backend": "local",
                "instance_type": (batch.get("spec") or {}).get("instance_type") or "ml.m5.large",
                "count": 1,
                "started_at": batch["started_at"],
                "seconds": max(0.0, (batch.get("ended_at") or now) - batch["started_at"]),
            }
        )
    for row in endpoint_usage:
        items.append(
            {
                "kind": "endpoint",
                "name": row["name"],
                "backend": "local",
                "instance_type": row["instance_type"],
                "count": int(row.get("count") or 1),
                "started_at": row["started_at"],
                "seconds": max(0.0, row["ended_at"] - row["started_at"]),
            }
        )
    return price_items(items)


def item_cost(item: dict[str, Any], cloud: str, region: str | None = None) -> float:
    """What ``item`` costs on ``cloud`` at list price (USD)."""
    if item["kind"] == "storage":
        return float(item.get("gb_months") or 0.0) * storage_rate(cloud, region)
    if item.get("serverless") and cloud == "sagemaker":
        per_gbs, per_request = serverless_rates(region)
        return (
            float(item.get("gb_seconds") or 0.0) * per_gbs
            + int(item.get("requests") or 0) * per_request
        )
    service = SERVICE.get(item["kind"], SERVICE["training"])[cloud]
    hours = float(item["seconds"]) * int(item.get("count") or 1) / 3600
    cost = hours * hourly(item["instance_type"], cloud, service, region)
    if item.get("spot"):
        cost *= 1 - spot_discount(cloud)
    return cost


def price_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``instance_hours``, ``local`` (0), each cloud's list price and ``billed``."""
    for item in items:
        backend = item.get("backend") or "local"
        item.setdefault("count", 1)
        item.setdefault("instance_type", "ml.m5.large")
        hours = float(item.get("seconds") or 0.0) * int(item["count"]) / 3600
        item["instance_hours"] = 0.0 if item["kind"] == "storage" else hours
        item["local"] = 0.0
        region = item.get("region") if backend in CLOUDS else None
        for cloud in CLOUDS:
            item[cloud] = item_cost(item, cloud, region if cloud == backend else None)
        item["billed"] = item[backend] if backend in CLOUDS else 0.0
        item["budget_cloud"] = backend if backend in CLOUDS else cloud_of(item["instance_type"])
    return items


def _group_key(item: dict[str, Any], by: str) -> str:
    if by == "day":
        return dt.datetime.fromtimestamp(item["started_at"]).strftime("%Y-%m-%d")
    if by == "resource":
        return str(item["kind"])
    if by == "backend":
        return str(item.get("backend") or "local")
    return str(item.get("display_name") or item["name"])


def total(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Sums of instance-hours, local, each cloud's and billed USD over ``rows``."""
    sums = dict.fromkeys(_KEYS, 0.0)
    for row in rows:
        for key in _KEYS:
            sums[key] += float(row.get(key) or 0.0)
    return {k: round(v, 6) for k, v in sums.items()}


def group(items: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Totals per ``by`` key (day, resource, backend or name), biggest first except days."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[_group_key(item, by)].append(item)
    rows = [dict(total(members), key=key, count=len(members)) for key, members in groups.items()]
    if by == "day":
        return sorted(rows, key=lambda r: r["key"])
    return sorted(rows, key=lambda r: (-max(r["sagemaker"], r["vertex"], r["billed"]), r["key"]))


def summarize(items: list[dict[str, Any]], limit: int = 200) -> dict[str, Any]:
    """Totals, by day, resource type, backend and name (what the Costs panel shows).

    ``by_day`` rows carry ``day``, ``by_resource`` rows ``kind``, ``by_backend``
    ``backend`` and ``by_name`` ``name`` besides the ``key``; ``budgets_hit`` lists the
    items a ``--max-cost`` stopped."""
    by_day = [dict(r, day=r["key"]) for r in group(items, "day")]
    by_kind = [dict(r, kind=r["key"]) for r in sorted(group(items, "resource"), key=_k)]
    return {
        "currency": "USD",
        "note": "local resources cost nothing; sagemaker and vertex are what the same "
        "use would bill at on-demand list prices (equivalent types for the other "
        "cloud's); billed is what each resource's own backend bills",
        "total": total(items),
        "by_day": by_day,
        "by_resource": by_kind,
        "by_backend": [dict(r, backend=r["key"]) for r in group(items, "backend")],
        "by_name": [dict(r, name=r["key"]) for r in group(items, "name")],
        "budgets_hit": [i for i in items if i.get("stopped_reason")],
        "items": sorted(items, key=lambda i: -i["started_at"])[:limit],
    }


def _k(row: dict[str, Any]) -> str:
    return str(row["key"])
