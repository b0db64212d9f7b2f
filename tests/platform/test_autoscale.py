"""The autoscaling policy as a pure function: no process, clock or socket."""

from __future__ import annotations

import pytest

from jupyter_serverless_ml.platform.serving.autoscale import DEFAULTS, Policy, State, decide

FAST = Policy(
    min_replicas=1,
    max_replicas=5,
    target_concurrency=2,
    metrics_interval=1,
    window=10,
    panic_window=2,
    upscale_delay=0,
    downscale_delay=5,
    idle_timeout=30,
)


def run(
    policy: Policy,
    loads: list[float],
    current: int,
    start: float = 100.0,
    last_request: float | None = 100.0,
) -> list[int]:
    """Feed one sample per second and apply each decision; the replica counts over time."""
    samples: list[tuple[float, float]] = []
    state = State()
    counts = []
    for i, load in enumerate(loads):
        now = start + i
        samples.append((now, load))
        current, state, _ = decide(policy, current, samples, now, last_request or now, 0, state)
        counts.append(current)
    return counts


def test_a_burst_scales_up_within_one_interval() -> None:
    assert run(FAST, [1, 9], current=1) == [1, 3]  # ceil(mean(1, 9) / 2) over the panic window


def test_scale_up_is_bounded_by_max_replicas() -> None:
    assert run(FAST, [100, 100], current=1)[-1] == 5


def test_scale_down_waits_for_the_downscale_delay() -> None:
    counts = run(FAST, [8] * 3 + [0] * 20, current=4, last_request=None)
    first_lower = counts.index(next(c for c in counts if c < 4))
    assert first_lower >= 3 + 5  # the lull lasted downscale_delay before the first step down
    assert counts[-1] == 1  # never below min_replicas


def test_no_decision_flaps_under_steady_load() -> None:
    assert set(run(FAST, [4] * 30, current=2)) == {2}


def test_scale_to_zero_only_when_idle_and_allowed() -> None:
    policy = Policy(**dict(FAST.to_dict(), min_replicas=0, idle_timeout=3))
    replicas, _, reason = decide(policy, 1, [(100.0, 0.0)], now=104.0, last_request=100.0)
    assert (replicas, reason.startswith("idle")) == (0, True)
    replicas, _, _ = decide(policy, 1, [(100.0, 0.0)], now=102.0, last_request=100.0)
    assert replicas == 1  # not idle long enough
    replicas, _, _ = decide(FAST, 1, [(100.0, 0.0)], now=200.0, last_request=100.0)
    assert replicas == 1  # min_replicas 1 never goes to zero


def test_an_idle_variant_at_zero_stays_there_despite_old_samples() -> None:
    policy = Policy(**dict(FAST.to_dict(), min_replicas=0, idle_timeout=1))
    replicas, _, _ = decide(policy, 0, [(99.5, 6.0)], now=100.0, last_request=98.0)
    assert replicas == 0


def test_a_queued_request_at_zero_starts_a_replica_at_once() -> None:
    policy = Policy(**dict(FAST.to_dict(), min_replicas=0, upscale_delay=60))
    replicas, _, reason = decide(policy, 0, [], now=100.0, last_request=100.0, queued=3)
    assert (replicas, reason) == (1, "cold start")


def test_upscale_delay_holds_back_a_short_burst() -> None:
    policy = Policy(**dict(FAST.to_dict(), upscale_delay=3))
    assert run(policy, [8, 8, 8, 8, 8], current=1) == [1, 1, 1, 4, 4]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "above --max-replicas"),
        ({"target_concurrency": 0}, "--target-concurrency"),
        ({"window": 0}, "window must be above 0"),
        ({"idle_timeout": -1}, "idle_timeout"),
    ],
)
def test_bad_policies_are_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(**dict(DEFAULTS, **changes))


def test_defaults_round_trip() -> None:
    assert Policy.from_dict({}).to_dict() == DEFAULTS
    assert Policy.from_dict({"min_replicas": 0, "unrelated": 1}).min_replicas == 0
