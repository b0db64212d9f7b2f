"""What the API shows of endpoints: summaries, full descriptions and live usage records.

Each view combines an endpoint's runtime state with what the store keeps
(lifetime counters, events); nothing here changes either.

Fields for serving at scale (in ``GET /v1/endpoints[/<name>]``, and so in the
server extension's ``GET /serverless-ml/api/endpoints[/<name>]``; bytes are ints,
``null`` where a process is gone or the kernel does not say):

* ``keep_warm`` (bool): the variants keep a template (``--keep-warm``, default).
* ``memory``: ``{"templates_pss_bytes", "replicas_pss_bytes", "total_pss_bytes"}``,
  the endpoint's processes by PSS (shared pages counted once in all); the
  templates' part is what the endpoint holds at zero replicas.
* each variant's ``template``: ``null``, or ``{"pid", "load_ms", "pss_bytes",
  "rss_bytes"}`` of the process that loaded the model once and forks replicas.
* each variant's ``replica_memory``: ``[{"id", "pid", "pss_bytes", "rss_bytes",
  "template"}]`` (``template``: forked from it rather than loading the model).
* ``multi_model`` (``null`` for one model): ``{"source", "cache_bytes", "models":
  {"name:version": {"requests", "errors", "client_errors", "p50_ms", "p95_ms",
  "loads", "evictions", "load_failures", "last_load_ms", "last_error",
  "loaded_in_replicas"}}}``, one entry per model requested so far.
* each variant's ``model_set``: ``null``, or on a multi-model endpoint the models it
  serves now, as ``"fleet:* (20 models)"`` (every version of ``fleet``) or
  ``"team-* (3 models)"`` (a prefix); its ``model`` says the same and its
  ``model_version`` is 0 (it serves no one version).
* ``config.warmup``: the warm-up requests each new replica answers first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..store import Store
from . import procmem
from .endpoint_state import Endpoint
from .warm import Warm, keeps_warm


def _memory(endpoint: Endpoint, warm: Warm | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per variant: its template's and its replicas' memory; and the endpoint's totals."""
    per_variant: dict[str, Any] = {}
    templates = replicas = 0
    for variant in endpoint.variants.values():
        template = warm.get(endpoint, variant) if warm is not None else None
        held = template.memory() if template is not None else None
        rows = []
        for replica in variant.replicas.values():
            if replica.state in ("Gone",):
                continue
            memory = procmem.memory(replica.pid) or {}
            replicas += memory.get("pss_bytes") or 0
            rows.append(
                {
                    "id": replica.id,
                    "pid": replica.pid,
                    "pss_bytes": memory.get("pss_bytes"),
                    "rss_bytes": memory.get("rss_bytes"),
                    "template": replica.template,
                }
            )
        if template is not None and held is not None:
            templates += held["pss_bytes"]
        per_variant[variant.name] = {
            "template": None
            if template is None or held is None
            else {
                "pid": template.pid,
                "load_ms": round(template.load_seconds * 1000, 1),
                "pss_bytes": held["pss_bytes"],
                "rss_bytes": held["rss_bytes"],
            },
            "replica_memory": rows,
        }
    totals = {
        "templates_pss_bytes": templates,
        "replicas_pss_bytes": replicas,
        "total_pss_bytes": templates + replicas,
    }
    return per_variant, totals


def summary(store: Store, endpoint: Endpoint, warm: Warm | None = None) -> dict[str, Any]:
    """One endpoint's row: status, traffic, per-variant replicas and stats, memory, cold
    starts (and a multi-model endpoint's per-model statistics)."""
    memory, totals = _memory(endpoint, warm)
    stored = store.endpoint(endpoint.name) or {}
    live = endpoint.stats.summary()
    live["requests"] += int(stored.get("requests", 0)) - endpoint.flushed[0]
    live["errors"] += int(stored.get("errors", 0)) - endpoint.flushed[1]
    variants = []
    for variant in endpoint.variants.values():
        counts = variant.counts()
        model_set = endpoint.multi.describe() if endpoint.multi is not None else None
        variants.append(
            {
                "name": variant.name,
                "model": model_set or f"{variant.model['name']}:{variant.model['version']}",
                "model_name": variant.model["name"],
                "model_version": 0 if model_set else variant.model["version"],
                "model_set": model_set,
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
                **memory[variant.name],
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
        "keep_warm": keeps_warm(endpoint),
        "memory": totals,
        "multi_model": None
        if endpoint.multi is None
        else endpoint.multi.view(
            [r for v in endpoint.variants.values() for r in v.replicas.values()]
        ),
    }


def describe(
    store: Store, endpoint: Endpoint, capture_root: Path, warm: Warm | None = None
) -> dict[str, Any]:
    """Everything about one endpoint: its summary, recent events, replicas and capture directory."""
    data = summary(store, endpoint, warm)
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
