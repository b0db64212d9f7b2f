"""Accrual: the platform writes what every resource has used into the ledger while it runs.

Every ``JSML_COST_INTERVAL`` seconds (default 5; 0 turns accrual off) one round
folds running and recently ended jobs, batch jobs and endpoints into ledger rows
(instance-seconds so far; an endpoint's replica-seconds from its recorded replica
stretches plus the replicas up now), and every ``JSML_COST_STORAGE_INTERVAL``
seconds (default 300) the bytes of bundles and models, as GB-months. Rows stay when
the resource is deleted. Then the budget guard (:mod:`.budget`) stops each resource
whose cost reached its ``--max-cost``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

from ...statuses import BATCH_TERMINAL, JOB_ACTIVE, JOB_TERMINAL
from . import budget

log = logging.getLogger("jsml.platform.costs")
MONTH = 30 * 86400


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def endpoint_resource(name: str, created_at: float) -> str:
    """The ledger key of one deployment of endpoint ``name``."""
    return f"{name}@{created_at:.3f}"


def tree_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root``, never following a link."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class CostService:
    """Writes the ledger and enforces budgets for one platform."""

    def __init__(self, platform_: Any) -> None:
        self.platform = platform_
        self.store = platform_.manager.store
        self.interval = _env_seconds("JSML_COST_INTERVAL", 5.0)
        self.storage_interval = _env_seconds("JSML_COST_STORAGE_INTERVAL", 300.0)
        self._storage_at = 0.0
        self._first = True

    async def run(self) -> None:
        """Accrue every interval until cancelled (a failed round is logged, the next retries)."""
        if self.interval <= 0:
            return
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cost accrual round failed")
            await asyncio.sleep(self.interval)

    async def tick(self, now: float | None = None) -> list[dict[str, Any]]:
        """One round: write the ledger, then stop what went over budget (returned)."""
        now = now or time.time()
        rows = self._jobs(now) + self._batches(now) + self._endpoints(now)
        if self.storage_interval and now - self._storage_at >= self.storage_interval:
            rows += await asyncio.to_thread(self._storage, now)
        self.store.ledger_write(rows)
        self._first = False
        return await budget.enforce(self.platform, now)

    # -- what each kind of resource has used ------------------------------------------

    def _open(self, kind: str) -> set[str]:
        return {r["resource"] for r in self.store.ledger(open_only=True) if r["kind"] == kind}

    def _jobs(self, now: float) -> list[dict[str, Any]]:
        jobs = {j["id"]: j for j in self.store.jobs(limit=100_000 if self._first else 50)}
        jobs.update({j["id"]: j for j in self.store.jobs(status=JOB_ACTIVE, limit=10_000)})
        for job_id in self._open("training") - set(jobs):
            job = self.store.job(job_id)
            if job is not None:
                jobs[job_id] = job
        rows = []
        for job in jobs.values():
            if not job.get("started_at"):
                continue
            spec = job.get("spec") or {}
            ended = job.get("ended_at") if job["status"] in JOB_TERMINAL else None
            rows.append(
                {
                    "kind": "training",
                    "resource": job["id"],
                    "name": job["name"],
                    "instance_type": spec.get("instance_type") or "ml.m5.large",
                    "count": int(spec.get("instance_count") or 1),
                    "started_at": job["started_at"],
                    "updated_at": now,
                    "ended_at": ended,
                    "seconds": max(0.0, (ended or now) - job["started_at"]),
                }
            )
        return rows

    def _batches(self, now: float) -> list[dict[str, Any]]:
        batches = {b["id"]: b for b in self.store.batches(limit=100_000 if self._first else 50)}
        for batch_id in self._open("batch") - set(batches):
            batch = self.store.batch(batch_id)
            if batch is not None:
                batches[batch_id] = batch
        rows = []
        for batch in batches.values():
            if not batch.get("started_at"):
                continue
            spec = batch.get("spec") or {}
            ended = batch.get("ended_at") if batch["status"] in BATCH_TERMINAL else None
            rows.append(
                {
                    "kind": "batch",
                    "resource": batch["id"],
                    "name": str(spec.get("model") or batch["id"]).split(":")[0],
                    "instance_type": spec.get("instance_type") or "ml.m5.large",
                    "count": 1,
                    "started_at": batch["started_at"],
                    "updated_at": now,
                    "ended_at": ended,
                    "seconds": max(0.0, (ended or now) - batch["started_at"]),
                }
            )
        return rows

    def _endpoints(self, now: float) -> list[dict[str, Any]]:
        manager = self.platform.endpoints
        live = {e.name: e for e in manager.endpoints.values()}
        usage = manager.live_usage()
        rows = []
        current = set()
        for name, endpoint in live.items():
            resource = endpoint_resource(name, endpoint.created_at)
            current.add(resource)
            stored = self.store.endpoint(name) or {}
            rows.append(
                {
                    "kind": "endpoint",
                    "resource": resource,
                    "name": name,
                    "instance_type": endpoint.config.get("instance_type") or "ml.m5.large",
                    "count": 1,
                    "started_at": endpoint.created_at,
                    "updated_at": now,
                    "ended_at": None,
                    "seconds": self._replica_seconds(name, endpoint.created_at, now, usage),
                    "requests": int(stored.get("requests") or 0),
                }
            )
        for row in self.store.ledger(open_only=True):
            if row["kind"] != "endpoint" or row["resource"] in current:
                continue
            # undeployed since the last round: its replicas' stretches are all recorded now
            seconds = self._replica_seconds(row["name"], row["started_at"], now, [])
            rows.append(dict(row, updated_at=now, ended_at=now, seconds=seconds))
        return rows

    def _replica_seconds(
        self, name: str, created_at: float, now: float, live: list[dict[str, Any]]
    ) -> float:
        recorded = self.store.usage(name=name, since=created_at)
        stretches = [u for u in recorded if u["started_at"] >= created_at - 1]
        stretches += [u for u in live if u["name"] == name]
        return sum(
            max(0.0, min(u["ended_at"], now) - u["started_at"]) * int(u.get("count") or 1)
            for u in stretches
        )

    def _storage(self, now: float) -> list[dict[str, Any]]:
        artifacts = Path(self.platform.manager.home) / "artifacts"
        elapsed = now - self._storage_at if self._storage_at else 0.0
        self._storage_at = now
        sizes = {"bundles": ("bundles", tree_bytes(artifacts / "bundles"))}
        models = artifacts / "models"
        try:
            names = [p.name for p in models.iterdir() if p.is_dir() and not p.is_symlink()]
        except OSError:
            names = []
        for name in names:
            sizes[f"models/{name}"] = (name, tree_bytes(models / name))
        existing = {r["resource"]: r for r in self.store.ledger() if r["kind"] == "storage"}
        rows = []
        for resource, (name, size) in sizes.items():
            row = existing.get(resource) or {"gb_months": 0.0, "started_at": now}
            rows.append(
                {
                    "kind": "storage",
                    "resource": resource,
                    "name": name,
                    "instance_type": "storage",
                    "started_at": row["started_at"],
                    "updated_at": now,
                    "gb_months": float(row["gb_months"]) + size / 1e9 * elapsed / MONTH,
                    "requests": size,  # the bytes stored now
                }
            )
        return rows


_SERVICES: dict[int, CostService] = {}


def service_for(platform_: Any) -> CostService:
    """The cost service of ``platform_`` (one per platform)."""
    found = _SERVICES.get(id(platform_))
    if found is None or found.platform is not platform_:
        found = _SERVICES[id(platform_)] = CostService(platform_)
    return found


__all__ = ["CostService", "endpoint_resource", "service_for", "tree_bytes"]
