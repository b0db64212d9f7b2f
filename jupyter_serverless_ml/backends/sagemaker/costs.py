"""The SageMaker backend's costs: what SageMaker bills, at list price in the backend's region.

- Training jobs: ``BillableTimeInSeconds`` x instance count once SageMaker reports it
  (managed spot training's billable time already has the saving in it, so no
  discount is applied on top); a running job, its seconds so far.
- Real-time endpoints: the variants' instances x hours since the endpoint was created.
- Serverless endpoints: requests and GB-seconds (memory x ``ModelLatency``) from the
  endpoint's CloudWatch metrics (``AWS/SageMaker`` ``Invocations`` and ``ModelLatency``).
- Batch transform jobs: instance x their run time.

A resource SageMaker no longer lists (an undeployed endpoint) keeps its last use
(:mod:`..cost_memory`).

Prices come from the catalog for the backend's region (the default region's where
the catalog has no entry for it).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ...catalog.pricing import price_items, summarize
from ...errors import JsmlError, NotFound
from ...records import AlertRecord
from ..cost_memory import remember
from .batch import BATCH_INSTANCE

NOTE = (
    "SageMaker jobs' billable seconds, endpoints' instance-hours, serverless requests and "
    "GB-seconds (CloudWatch) and transform jobs' run time, at list prices in {region}"
)


class SageMakerCosts:
    """Mixed into :class:`~.backend.SageMakerBackend`: the Monitoring part's costs."""

    # ``self`` is the backend: its name, region, aws, jobs(), endpoints(), batch_jobs()

    def costs(self) -> dict[str, Any]:
        """Everything so far (see :meth:`cost_ledger`)."""
        return self.cost_ledger(0.0)

    def cost_ledger(self, since: float = 0.0) -> dict[str, Any]:
        """Priced items of every job, endpoint and transform job still running or ended
        after ``since`` (epoch seconds), summarised."""
        me: Any = self
        now = time.time()
        items = self._job_items(now) + self._endpoint_items(now) + self._batch_items(now)
        items = remember(me.name, items, now)  # what the cloud no longer lists stays
        items = [i for i in items if (i.get("ended_at") or now) >= since]
        for item in items:
            item.update(backend=me.name, region=me.region)
        out = summarize(price_items(items))
        out["note"] = NOTE.format(region=me.region)
        return out

    def alerts(self) -> list[AlertRecord]:
        """SageMaker keeps no alerts for this tool."""
        return []

    def acknowledge_alert(self, alert_id: int) -> AlertRecord:
        raise NotFound(f"no alert {alert_id}: the sagemaker backend records no alerts")

    # -- items ----------------------------------------------------------------------

    def _job_items(self, now: float) -> list[dict[str, Any]]:
        me: Any = self
        items = []
        for job in me.jobs(limit=1000):
            if not job.started_at:
                continue
            billed = job.details.get("billed_seconds")
            seconds = float(billed) if billed is not None else None
            if seconds is None:
                if job.ended_at:
                    continue  # ended, and SageMaker has not said what it bills yet
                seconds = max(0.0, now - job.started_at)
            items.append(
                {
                    "kind": "training",
                    "resource": job.id,
                    "name": job.name,
                    "instance_type": job.spec.get("instance_type") or "ml.m5.large",
                    "count": int(job.spec.get("instance_count") or 1),
                    "started_at": job.started_at,
                    "ended_at": job.ended_at,
                    "seconds": seconds,
                }
            )
        return items

    def _endpoint_items(self, now: float) -> list[dict[str, Any]]:
        me: Any = self
        items = []
        for endpoint in me.endpoints():
            if not endpoint.created_at:
                continue
            for variant in endpoint.variants:
                item = {
                    "kind": "endpoint",
                    "resource": f"{endpoint.name}/{variant.name}",
                    "name": endpoint.name,
                    "started_at": endpoint.created_at,
                    "ended_at": None,
                }
                serverless = variant.details.get("serverless")
                if serverless:
                    requests, gb_seconds = self._serverless_use(
                        endpoint.name, variant.name, endpoint.created_at, now, serverless
                    )
                    item.update(
                        serverless=True,
                        instance_type="serverless",
                        seconds=0.0,
                        requests=requests,
                        gb_seconds=gb_seconds,
                    )
                elif variant.details.get("instance_type"):
                    item.update(
                        instance_type=variant.details["instance_type"],
                        count=max(1, variant.replicas),
                        seconds=max(0.0, now - endpoint.created_at),
                    )
                else:
                    continue
                items.append(item)
        return items

    def _serverless_use(
        self, endpoint: str, variant: str, since: float, now: float, config: dict[str, Any]
    ) -> tuple[int, float]:
        """Requests and GB-seconds of a serverless variant from CloudWatch (0 without data)."""
        me: Any = self
        memory_gb = float(config.get("MemorySizeInMB") or 2048) / 1024
        dims = [
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ]
        start = dt.datetime.fromtimestamp(since - 60, dt.timezone.utc)
        end = dt.datetime.fromtimestamp(now + 60, dt.timezone.utc)
        period = max(60, int((now - since) // 60 + 2) * 60)

        def stat(metric: str, statistic: str) -> float:
            try:
                reply = me.aws.call(
                    "cloudwatch",
                    "get_metric_statistics",
                    f"reading {metric} of endpoint {endpoint}",
                    Namespace="AWS/SageMaker",
                    MetricName=metric,
                    Dimensions=dims,
                    StartTime=start,
                    EndTime=end,
                    Period=period,
                    Statistics=[statistic],
                )
            except JsmlError:
                return 0.0
            return sum(float(p.get(statistic) or 0.0) for p in reply.get("Datapoints", []))

        requests = int(stat("Invocations", "Sum"))
        latency_us = stat("ModelLatency", "Sum")  # microseconds, summed over the requests
        return requests, latency_us / 1e6 * memory_gb

    def _batch_items(self, now: float) -> list[dict[str, Any]]:
        me: Any = self
        items = []
        for record in me.batch_jobs(limit=100):
            if not record.started_at:
                continue
            items.append(
                {
                    "kind": "batch",
                    "resource": record.id,
                    "name": str(record.spec.get("model") or record.name or record.id),
                    "instance_type": BATCH_INSTANCE,
                    "count": 1,
                    "started_at": record.started_at,
                    "ended_at": record.ended_at,
                    "seconds": max(0.0, (record.ended_at or now) - record.started_at),
                }
            )
        return items


__all__ = ["SageMakerCosts"]
