"""What resources cost, or would have cost on SageMaker and Vertex AI.

Local resources are free (your machine); the platform also prices them at the
clouds' on-demand list prices so a notebook shows what the same work would
bill. Prices are USD per instance-hour (SageMaker us-east-1, Vertex AI
us-central1, 2024 list prices, rounded); a type without a list price on one
cloud is priced by its vCPUs, memory and GPUs at that cloud's rates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from .instance_types import INSTANCE_TYPES

SAGEMAKER_HOURLY = {
    "ml.t3.medium": 0.05,
    "ml.t3.large": 0.10,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.r5.large": 0.151,
    "ml.r5.xlarge": 0.302,
    "ml.g4dn.xlarge": 0.736,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.p3.2xlarge": 3.825,
}
VERTEX_HOURLY = {
    "n1-standard-4": 0.2185,
    "n1-standard-8": 0.437,
    "n1-highmem-8": 0.5442,
    "e2-standard-4": 0.1543,
    "e2-standard-8": 0.3087,
    "a2-highgpu-1g": 4.2245,
}
# rates for types a cloud does not list: per vCPU-hour, per GiB-hour, per GPU-hour
_RATES = {"sagemaker": (0.0450, 0.0060, 0.60), "vertex": (0.0380, 0.0051, 0.45)}
CLOUDS = ("sagemaker", "vertex")


def hourly(instance_type: str, cloud: str) -> float:
    """USD per hour of one instance of ``instance_type`` on ``cloud``."""
    listed = (SAGEMAKER_HOURLY if cloud == "sagemaker" else VERTEX_HOURLY).get(instance_type)
    if listed is not None:
        return listed
    shape = INSTANCE_TYPES.get(instance_type) or INSTANCE_TYPES["ml.m5.large"]
    vcpu, gib, gpu = _RATES[cloud]
    return round(shape.vcpus * vcpu + shape.memory_gib * gib + shape.gpus * gpu, 4)


def usage_items(
    jobs: Iterable[dict[str, Any]],
    batches: Iterable[dict[str, Any]],
    endpoint_usage: Iterable[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One item per stretch of resource use: kind, name, instance type, count, start, seconds."""
    items = []
    for job in jobs:
        if not job.get("started_at"):
            continue
        spec = job.get("spec") or {}
        end = job.get("ended_at") or dt.datetime.now().timestamp()
        items.append(
            {
                "kind": "training",
                "name": job["id"],
                "backend": job.get("backend", "local"),
                "instance_type": spec.get("instance_type") or "ml.m5.large",
                "count": int(spec.get("instance_count") or 1),
                "started_at": job["started_at"],
                "seconds": max(0.0, end - job["started_at"]),
            }
        )
    for batch in batches:
        if not batch.get("started_at"):
            continue
        end = batch.get("ended_at") or dt.datetime.now().timestamp()
        items.append(
            {
                "kind": "batch",
                "name": batch["id"],
                "backend": "local",
                "instance_type": "ml.m5.large",
                "count": int(batch["spec"].get("workers") or 1),
                "started_at": batch["started_at"],
                "seconds": max(0.0, end - batch["started_at"]),
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


def price_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``instance_hours`` and what each item costs locally (nothing) and on each cloud."""
    for item in items:
        hours = item["seconds"] * item["count"] / 3600
        item["instance_hours"] = hours
        item["local"] = 0.0
        for cloud in CLOUDS:
            item[cloud] = hours * hourly(item["instance_type"], cloud)
    return items


def summarize(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals, by day and by resource type (what the sidebar's Costs panel shows)."""
    keys = ("instance_hours", "local", *CLOUDS)

    def total(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
        sums = dict.fromkeys(keys, 0.0)
        for row in rows:
            for key in keys:
                sums[key] += row[key]
        return {k: round(v, 6) for k, v in sums.items()}

    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        day = dt.datetime.fromtimestamp(item["started_at"]).strftime("%Y-%m-%d")
        by_day[day].append(item)
        by_kind[item["kind"]].append(item)
    return {
        "currency": "USD",
        "note": "local resources cost nothing; sagemaker and vertex are what the same "
        "instance-hours would bill at on-demand list prices",
        "total": total(items),
        "by_day": [dict(total(rows), day=day) for day, rows in sorted(by_day.items())],
        "by_resource": [dict(total(rows), kind=kind) for kind, rows in sorted(by_kind.items())],
        "items": sorted(items, key=lambda i: -i["started_at"])[:200],
    }
