"""The Vertex backend's Monitoring part: what Vertex AI bills, at list price in its location.

- Custom jobs: each worker pool's machine (plus its accelerators) x replicas x the
  job's run time (``startTime`` to ``endTime``, or to now while it runs).
- Endpoints: each deployed model's machine x its minimum replicas (what Vertex keeps
  up and bills) x the time since it was deployed.
- Batch prediction jobs: the machine x starting replicas x their run time.

A resource Vertex no longer lists (an undeployed endpoint) keeps its last use
(:mod:`..cost_memory`).

Every item is priced through the same catalog and summary as the local ledger
(:mod:`...catalog.pricing`), in the backend's location (the catalog's default
Vertex region where it has no entry for that location). Vertex keeps no alerts for
this tool, so ``alerts`` is empty.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ...catalog.pricing import price_items, summarize
from ...errors import NotFound
from ...records import AlertRecord
from ..cost_memory import remember
from ..protocol import Monitoring
from .core import LABEL_FILTER, timestamp

NOTE = (
    "Vertex AI custom jobs' and batch prediction jobs' machine-hours and endpoints' "
    "replica-hours, at list prices in {location}"
)


def machine_of(spec: Any) -> str:
    """A MachineSpec as a catalog type: ``n1-standard-8+NVIDIA_TESLA_V100`` per accelerator."""
    machine = str(spec.machine_type)
    accelerator = getattr(spec.accelerator_type, "name", "") or ""
    count = int(spec.accelerator_count or 0)
    if accelerator and accelerator != "ACCELERATOR_TYPE_UNSPECIFIED" and count > 0:
        return "+".join([machine] + [accelerator] * count)
    return machine


class VertexCosts(Monitoring):
    """Mixed into :class:`~.backend.VertexBackend`."""

    if TYPE_CHECKING:  # the backend's own parts
        name: str
        settings: Any

        def client(self, kind: str) -> Any: ...
        def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any: ...
        def _list_jobs(self, name: str | None = None) -> list[Any]: ...
        def _list_endpoints(self, name: str | None = None) -> list[Any]: ...

    def costs(self) -> dict[str, Any]:
        """Everything so far (see :meth:`cost_ledger`)."""
        return self.cost_ledger(0.0)

    def cost_ledger(self, since: float = 0.0) -> dict[str, Any]:
        """Priced items of every labelled job, endpoint and batch job still running or
        ended after ``since`` (epoch seconds), summarised."""
        now = time.time()
        items = self._job_items(now) + self._endpoint_items(now) + self._batch_items(now)
        items = remember(self.name, items, now)  # what the cloud no longer lists stays
        items = [i for i in items if (i.get("ended_at") or now) >= since]
        for item in items:
            item.update(backend=self.name, region=self.settings.location)
        out = summarize(price_items(items))
        out["note"] = NOTE.format(location=self.settings.location)
        return out

    def alerts(self) -> list[AlertRecord]:
        """Vertex AI keeps no alerts for this tool."""
        return []

    def acknowledge_alert(self, alert_id: int) -> AlertRecord:
        raise NotFound(f"no alert {alert_id}: the vertex backend records no alerts")

    # -- items ----------------------------------------------------------------------

    def _job_items(self, now: float) -> list[dict[str, Any]]:
        items = []
        for job in self._list_jobs():
            started, ended = timestamp(job.start_time), timestamp(job.end_time)
            if not started:
                continue
            number = job.name.rsplit("/", 1)[-1]
            for i, pool in enumerate(job.job_spec.worker_pool_specs):
                items.append(
                    {
                        "kind": "training",
                        "resource": f"{job.display_name}-{number}" + (f"/pool{i}" if i else ""),
                        "name": job.display_name,
                        "instance_type": machine_of(pool.machine_spec),
                        "count": int(pool.replica_count or 1),
                        "started_at": started,
                        "ended_at": ended,
                        "seconds": max(0.0, (ended or now) - started),
                    }
                )
        return items

    def _endpoint_items(self, now: float) -> list[dict[str, Any]]:
        items = []
        for endpoint in self._list_endpoints():
            for deployed in endpoint.deployed_models:
                resources = deployed.dedicated_resources
                since = timestamp(deployed.create_time) or timestamp(endpoint.create_time)
                if not since or not resources.machine_spec.machine_type:
                    continue
                items.append(
                    {
                        "kind": "endpoint",
                        "resource": f"{endpoint.display_name}/{deployed.display_name}",
                        "name": endpoint.display_name,
                        "instance_type": machine_of(resources.machine_spec),
                        "count": max(1, int(resources.min_replica_count or 1)),
                        "started_at": since,
                        "ended_at": None,
                        "seconds": max(0.0, now - since),
                    }
                )
        return items

    def _batch_items(self, now: float) -> list[dict[str, Any]]:
        pager = self._call(
            "listing batch prediction jobs",
            self.client("job").list_batch_prediction_jobs,
            request={"parent": self.settings.parent, "filter": LABEL_FILTER, "page_size": 100},
        )
        items = []
        for job in self._call("listing batch prediction jobs", list, pager):
            started, ended = timestamp(job.start_time), timestamp(job.end_time)
            resources = job.dedicated_resources
            if not started or not resources.machine_spec.machine_type:
                continue
            items.append(
                {
                    "kind": "batch",
                    "resource": job.name.rsplit("/", 1)[-1],
                    "name": job.display_name,
                    "instance_type": machine_of(resources.machine_spec),
                    "count": max(1, int(resources.starting_replica_count or 1)),
                    "started_at": started,
                    "ended_at": ended,
                    "seconds": max(0.0, (ended or now) - started),
                }
            )
        return items


__all__ = ["VertexCosts", "machine_of"]
