"""Serving-mode advice as a pure policy: bursty traffic favours serverless, steady provisioned."""

from __future__ import annotations

import random

import pytest

from jupyter_serverless_ml.catalog.prices import hourly, serverless_rates
from jupyter_serverless_ml.platform.costs.advice import advise

HOUR = 3600.0


def bursty(hours: int = 24, per_burst: int = 50) -> list[tuple[float, float]]:
    """One burst of requests every two hours, 20 ms each."""
    return [(h * HOUR + i * 0.1, 0.02) for h in range(0, hours, 2) for i in range(per_burst)]


def steady(hours: int = 24, per_second: float = 20.0) -> list[tuple[float, float]]:
    """Poisson arrivals all day, 100 ms of compute each."""
    rng = random.Random(1)
    out, t = [], 0.0
    while t < hours * HOUR:
        t += rng.expovariate(per_second)
        out.append((t, 0.1))
    return out


def test_bursty_traffic_goes_serverless_with_numbers_from_the_catalog() -> None:
    traffic = bursty()
    advice = advise(traffic, instance_type="ml.m5.large", memory_gb=2, cold_starts=[0.05, 0.03])
    hours = (traffic[-1][0] - traffic[0][0]) / HOUR
    per_gbs, per_request = serverless_rates()
    assert advice.recommend == "serverless"
    assert advice.provisioned_usd == pytest.approx(
        hours * hourly("ml.m5.large", "sagemaker", "hosting"), rel=1e-4
    )
    assert advice.serverless_usd == pytest.approx(
        600 * per_request + 600 * 0.02 * 2 * per_gbs, rel=1e-4
    )
    assert advice.cold_starts == 12  # one per burst
    assert advice.cold_start_seconds == pytest.approx(0.04)
    assert advice.added_cold_start_seconds == pytest.approx(12 * 0.04)


def test_steady_traffic_goes_provisioned() -> None:
    advice = advise(steady(), instance_type="ml.m5.large", memory_gb=2, cold_starts=[0.04])
    assert advice.recommend == "provisioned"
    assert advice.serverless_usd > advice.provisioned_usd
    assert advice.cold_starts == 1


def test_the_flip_happens_as_traffic_grows_steadier() -> None:
    picks = [
        advise(steady(per_second=rate), instance_type="ml.m5.large").recommend
        for rate in (0.2, 1.0, 5.0, 20.0, 50.0)
    ]
    assert picks[0] == "serverless" and picks[-1] == "provisioned"
    flip = picks.index("provisioned")
    assert set(picks[flip:]) == {"provisioned"}  # once steady enough, it stays provisioned


def test_too_many_cold_starts_make_cheap_serverless_provisioned() -> None:
    sparse = [(i * 600.0, 0.02) for i in range(100)]  # one request every 10 minutes
    advice = advise(sparse, instance_type="ml.m5.large", idle_seconds=300)
    assert advice.serverless_usd < advice.provisioned_usd
    assert advice.recommend == "provisioned" and "cold-start" in advice.reason


def test_sampled_capture_is_scaled_up() -> None:
    full = advise(bursty(), instance_type="ml.m5.large")
    half = advise(bursty()[::2], instance_type="ml.m5.large", sample_share=0.5)
    assert half.requests == full.requests
    assert half.serverless_usd == pytest.approx(full.serverless_usd, rel=1e-6)
