"""Serving-mode advice: provisioned replicas or serverless, from measured traffic.

A pure policy over request times and durations, like the autoscaler, so it is
tested without processes. *Provisioned* (SageMaker real-time) bills its replicas
for every hour of the window, busy or not; *serverless* (SageMaker Serverless
Inference) bills each request plus the GB-seconds it computes, and has no
replica warm after ``idle_seconds`` without a request, so the next request waits
for a cold start (its measured duration). The cheaper mode is recommended,
unless serverless would cold-start more than ``max_cold_share`` of the requests.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from ...catalog.prices import hourly, serverless_rates

#: how long a serverless endpoint stays warm without requests (SageMaker does not
#: publish it; a few minutes is what is commonly observed)
IDLE_SECONDS = 300.0
MAX_COLD_SHARE = 0.05
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Advice:
    """The comparison and the recommendation."""

    recommend: str
    reason: str
    requests: int
    window_hours: float
    provisioned_usd: float
    serverless_usd: float
    provisioned_usd_month: float
    serverless_usd_month: float
    replicas: int
    instance_type: str
    memory_gb: float
    cold_starts: int
    cold_start_seconds: float
    added_cold_start_seconds: float

    def to_wire(self) -> dict[str, Any]:
        """The advice as JSON."""
        return asdict(self)


def advise(
    traffic: list[tuple[float, float]],
    *,
    instance_type: str,
    replicas: int = 1,
    memory_gb: float = 2.0,
    cold_starts: list[float] | None = None,
    sample_share: float = 1.0,
    window: tuple[float, float] | None = None,
    idle_seconds: float = IDLE_SECONDS,
    max_cold_share: float = MAX_COLD_SHARE,
    region: str | None = None,
) -> Advice:
    """Compare both modes over ``traffic`` (``(time, latency seconds)`` per request,
    ``sample_share`` of all requests captured) in ``window`` (default: first to last)."""
    times = sorted(t for t, _ in traffic)
    start, end = window or ((times[0], times[-1]) if times else (0.0, 0.0))
    hours = max(end - start, 60.0) / 3600
    share = min(max(sample_share, 1e-6), 1.0)
    requests = round(len(times) / share)
    replicas = max(1, replicas)
    provisioned = replicas * hours * hourly(instance_type, "sagemaker", "hosting", region)
    per_gbs, per_request = serverless_rates(region)
    busy = sum(d for _, d in traffic) / share
    serverless = requests * per_request + busy * memory_gb * per_gbs
    colds = sum(1 for a, b in zip([-1e18, *times], times, strict=False) if b - a > idle_seconds)
    colds = round(colds / share) if share < 1 and colds > 1 else colds
    measured = statistics.median(cold_starts) if cold_starts else 0.0
    scale = HOURS_PER_MONTH / hours
    cold_share = colds / requests if requests else 0.0
    if not requests:
        pick, why = (
            "serverless",
            "no traffic was captured: an idle provisioned replica bills anyway",
        )
    elif serverless < provisioned and cold_share <= max_cold_share:
        pick = "serverless"
        why = (
            f"serverless ${serverless:.4f} < provisioned ${provisioned:.4f} for this traffic, "
            f"with {colds} cold start(s) ({cold_share:.1%} of requests)"
        )
    elif serverless < provisioned:
        pick = "provisioned"
        why = (
            f"serverless is cheaper (${serverless:.4f} < ${provisioned:.4f}) but would "
            f"cold-start {cold_share:.1%} of requests (over {max_cold_share:.0%})"
        )
    else:
        pick = "provisioned"
        why = f"provisioned ${provisioned:.4f} <= serverless ${serverless:.4f} for this traffic"
    return Advice(
        recommend=pick,
        reason=why,
        requests=requests,
        window_hours=round(hours, 4),
        provisioned_usd=round(provisioned, 6),
        serverless_usd=round(serverless, 6),
        provisioned_usd_month=round(provisioned * scale, 2),
        serverless_usd_month=round(serverless * scale, 2),
        replicas=replicas,
        instance_type=instance_type,
        memory_gb=memory_gb,
        cold_starts=colds,
        cold_start_seconds=round(measured, 4),
        added_cold_start_seconds=round(colds * measured, 3),
    )


__all__ = ["IDLE_SECONDS", "Advice", "advise"]
