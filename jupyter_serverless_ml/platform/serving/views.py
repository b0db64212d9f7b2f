"""What the API shows of endpoints: summaries, full descriptions and live usage records.

Each view combines an endpoint's runtime state with what the store keeps
(lifetime counters, events); nothing here changes either.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..store import Store
from .endpoint_state import Endpoint


def summary(store: Store, endpoint: Endpoint) -> dict[str, Any]:
    """One endpoint's row: status, traffic, per-variant replicas and stats, cold starts."""
    stored = store.endpoint(endpoint.name) or {}
    live = endpoint.stats.summary()
    live["requests"] += int(stored.get("requests", 0)) - endpoint.flushed[0]
    live["errors"] += int(stored.get("errors", 0)) - endpoint.flushed[1]
    variants = []
    for variant in endpoint.variants.values():
        counts = variant.counts()
        variants.append(
            {
                "name": variant.name,
                "model": f"{variant.model['name']}:{variant.model['version']}",
                "model_name": variant.model["name"],
                "model_version": variant.model["version"],
                "traffic": endpoint.traffic.get(variant.name, 0.0),
                "replicas": counts["ready"],
                "starting": counts["starting"],
                "draining": counts["draining"],
                "min_replicas": variant.policy.min_replicas,
                "max_replicas": variant.policy.max_replicas,
                "desired": variant.desired,
                "queued": len(variant.waiters),
                "policy": variant.policy.to_dict(),
                "stats": variant.stats.summary(),
            }
        )
    cold = [e["value"] for e in store.endpoint_events(endpoint.name, ["cold_start"], 50)]
    return {
        "name": endpoint.name,
        "backend": "local",
        "status": endpoint.status,
        "created_at": endpoint.created_at,
        "config": endpoint.config,
        "traffic": endpoint.traffic,
        "variants": variants,
        "replicas": sum(v["replicas"] for v in variants),
        "min_replicas": sum(v["min_replicas"] for v in variants),
        "max_replicas": sum(v["max_replicas"] for v in variants),
        "stats": live,
        "cold_starts": len(cold),
        "cold_start_ms": [round(c * 1000, 1) for c in cold],
    }


def describe(store: Store, endpoint: Endpoint, capture_root: Path) -> dict[str, Any]:
    """Everything about one endpoint: its summary, recent events, replicas and capture directory."""
    data = summary(store, endpoint)
    data["events"] = store.endpoint_events(endpoint.name, limit=100)
    data["replica_list"] = [
        {
            "id": r.id,
            "variant": r.variant,
            "pid": r.pid,
            "state": r.state,
            "inflight": r.inflight,
        }
        for v in endpoint.variants.values()
        for r in v.replicas.values()
    ]
    data["capture_dir"] = str(capture_root / endpoint.name)
    return data


def live_usage(endpoints: Iterable[Endpoint]) -> list[dict[str, Any]]:
    """Serving time of the replicas up now (recorded in the store when they stop)."""
    now = time.time()
    rows = []
    for endpoint in endpoints:
        for variant in endpoint.variants.values():
            for replica in variant.replicas.values():
                if replica.ready_at is not None and replica.state != "Gone":
                    started = now - (time.monotonic() - replica.ready_at)
                    rows.append(
                        {
                            "kind": "endpoint",
                            "name": endpoint.name,
                            "instance_type": endpoint.config["instance_type"],
                            "started_at": started,
                            "ended_at": now,
                            "count": 1,
                        }
                    )
    return rows


__all__ = ["describe", "live_usage", "summary"]
