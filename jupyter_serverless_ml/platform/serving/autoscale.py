"""The autoscaling policy: a pure function from observed load to desired replicas.

Like dask's ``adaptive_core``, no process, clock or socket is involved: the
caller samples the mean number of in-flight requests per interval and calls
:func:`decide` with the samples, the time and the state returned last time.

The model is Knative's: a *stable* window decides scale-down and a short *panic*
window decides scale-up, so a burst adds replicas within one metrics interval
while a lull must last before replicas go away; a variant with no request for
``idle_timeout`` goes to zero when ``min_replicas`` is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

# Defaults, and where they come from (kept in the README's table).
DEFAULTS: dict[str, Any] = {
    "min_replicas": 1,  # Ray Serve min_replicas
    "max_replicas": 4,
    "target_concurrency": 2.0,  # Ray Serve target_ongoing_requests
    "metrics_interval": 2.0,  # Knative autoscaler tick
    "window": 60.0,  # Knative stable window
    "panic_window": 6.0,  # Knative panic window (10% of the stable window)
    "upscale_delay": 0.0,  # Knative scales up at once in panic mode
    "downscale_delay": 30.0,  # Knative scale-down-delay is 0 but the stable window is 60 s
    "idle_timeout": 60.0,  # Knative: stable window of no traffic, then scale to zero
}


@dataclass(frozen=True)
class Policy:
    """Autoscaling settings of an endpoint; every window may be below a second."""

    min_replicas: int = DEFAULTS["min_replicas"]
    max_replicas: int = DEFAULTS["max_replicas"]
    target_concurrency: float = DEFAULTS["target_concurrency"]
    metrics_interval: float = DEFAULTS["metrics_interval"]
    window: float = DEFAULTS["window"]
    panic_window: float = DEFAULTS["panic_window"]
    upscale_delay: float = DEFAULTS["upscale_delay"]
    downscale_delay: float = DEFAULTS["downscale_delay"]
    idle_timeout: float = DEFAULTS["idle_timeout"]

    def __post_init__(self) -> None:
        if self.min_replicas < 0 or self.max_replicas < 1:
            raise ValueError("--min-replicas must be >= 0 and --max-replicas >= 1")
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"--min-replicas {self.min_replicas} is above --max-replicas {self.max_replicas}"
            )
        if self.target_concurrency <= 0:
            raise ValueError("--target-concurrency must be above 0")
        for key in ("metrics_interval", "window", "panic_window"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key} must be above 0")
        for key in ("upscale_delay", "downscale_delay", "idle_timeout"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be 0 or more")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """A policy from a dict holding any subset of the fields (others default)."""
        known = {k: data[k] for k in DEFAULTS if data.get(k) is not None}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in DEFAULTS}


@dataclass(frozen=True)
class State:
    """What :func:`decide` remembers between calls."""

    above_since: float | None = None
    below_since: float | None = None


def _mean(samples: Sequence[tuple[float, float]], since: float) -> float:
    values = [v for t, v in samples if t > since]
    return sum(values) / len(values) if values else 0.0


def decide(
    policy: Policy,
    current: int,
    samples: Sequence[tuple[float, float]],
    now: float,
    last_request: float | None,
    queued: int = 0,
    state: State | None = None,
) -> tuple[int, State, str]:
    """Desired replicas, the next state and a reason.

    ``current`` counts replicas serving or starting. ``samples`` are
    ``(time, mean in-flight requests during the interval ending then)``, oldest
    first; ``queued`` counts requests waiting for a replica; ``last_request`` is
    when the last request arrived (None: never).
    """
    state = state or State()
    idle = queued == 0 and (last_request is None or now - last_request >= policy.idle_timeout)
    floor = policy.min_replicas if policy.min_replicas > 0 or not idle else 0
    if queued and current == 0:
        return max(1, floor), replace(state, above_since=None, below_since=None), "cold start"
    if idle and policy.min_replicas == 0:
        reason = f"idle for {policy.idle_timeout:g}s" if current else "idle"
        return 0, State(), reason
    panic = _mean(samples, now - policy.panic_window)
    stable = _mean(samples, now - policy.window)
    want_up = math.ceil(panic / policy.target_concurrency - 1e-9)
    want_down = math.ceil(stable / policy.target_concurrency - 1e-9)
    desired, reason = current, "steady"
    if want_up > current:
        above = state.above_since if state.above_since is not None else now
        state = replace(state, above_since=above, below_since=None)
        if now - above >= policy.upscale_delay:
            desired = want_up
            reason = f"load {panic:.2f} in flight over {policy.panic_window:g}s"
    elif max(want_down, want_up) < current:
        below = state.below_since if state.below_since is not None else now
        state = replace(state, below_since=below, above_since=None)
        if now - below >= policy.downscale_delay:
            desired = max(want_down, want_up)
            reason = f"load {stable:.2f} in flight over {policy.window:g}s"
    else:
        state = replace(state, above_since=None, below_since=None)
    bounded = min(policy.max_replicas, max(floor, desired))
    if bounded != desired:
        reason = f"{reason}; bounded to [{floor}, {policy.max_replicas}]"
    return bounded, state, reason
