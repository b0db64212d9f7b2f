"""The router's runtime state: replicas, variants, endpoints and request dispatch.

Everything here runs on the daemon's event loop. A replica is a connected
socket to a forked process speaking ``runtime/frames``; requests are written
to it pipelined and answered in order. A variant picks its least-loaded ready
replica; with none ready, requests wait (bounded in number and time) while a
replica starts. A request whose replica dies is retried once on another.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...runtime import frames
from .autoscale import Policy, State


class ReplicaLost(Exception):
    """The replica's process went away with the request in flight."""


class Unavailable(Exception):
    """No replica could take the request in time (a 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def settle(future: asyncio.Future[Any], outcome: Any) -> None:
    """Resolve ``future`` with a value, or an exception instance, unless it is done."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class ReplicaConnection(asyncio.Protocol):
    """The router's end of a replica's socket."""

    def __init__(
        self,
        on_ready: Callable[[dict[str, Any]], None],
        on_lost: Callable[[], None],
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_ready = on_ready
        self.on_lost = on_lost
        self.on_event = on_event
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.buffer = bytearray()
        self.ids = itertools.count(1)
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        size = frames.HEADER.size
        offset = 0
        while len(buffer) - offset >= size:
            length, request_id, op = frames.HEADER.unpack_from(buffer, offset)
            end = offset + size + length
            if len(buffer) < end:
                break
            body = bytes(buffer[offset + size : end])
            offset = end
            if op == frames.OP_READY:
                self.on_ready(json.loads(body))
                continue
            if op == frames.OP_EVENT:
                if self.on_event is not None:
                    self.on_event(json.loads(body))
                continue
            future = self.pending.pop(request_id, None)
            timer = self.timers.pop(request_id, None)
            if timer is not None:
                timer.cancel()
            if future is not None and not future.done():
                future.set_result((op, body))
        if offset:
            del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ReplicaLost())
        self.pending.clear()
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        self.on_lost()

    def request(
        self,
        op: int,
        body: bytes,
        timeout: float | None = None,
        send: Callable[[bytes], None] | None = None,
    ) -> asyncio.Future[tuple[int, bytes]]:
        """Send a frame; the future resolves to the answer's (op, body).

        After ``timeout`` seconds without an answer it fails with ``TimeoutError``
        (a timer, cheaper per request than ``asyncio.wait_for``). ``send`` writes the
        frame instead of the transport (a batch worker's frame carrying descriptors).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        if self.closed or self.transport is None:
            future.set_exception(ReplicaLost())
            return future
        request_id = next(self.ids)
        self.pending[request_id] = future
        if timeout is not None:
            self.timers[request_id] = loop.call_later(timeout, self._expire, request_id, timeout)
        data = frames.frame(op, request_id, body)
        if send is None:
            self.transport.write(data)
        else:
            try:
                send(data)
            except OSError as exc:
                self.pending.pop(request_id, None)
                future.set_exception(ReplicaLost(f"could not send the request: {exc}"))
        return future

    def _expire(self, request_id: int, timeout: float) -> None:
        self.timers.pop(request_id, None)
        future = self.pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_exception(asyncio.TimeoutError(f"no answer within {timeout:g}s"))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


@dataclass
class Replica:
    """One serving process of a variant."""

    id: str
    variant: str
    started: float  # monotonic time the start was decided
    pid: int | None = None
    conn: ReplicaConnection | None = None
    state: str = "Starting"  # Starting, Ready, Draining, Gone
    inflight: int = 0
    ready_at: float | None = None
    ready: asyncio.Future[dict[str, Any]] | None = None
    models: set[str] = field(default_factory=set)  # a multi-model replica's loaded models
    template: bool = False  # forked from its model's template (no load of its own)
    boot: asyncio.Task[None] | None = None  # starting it: fork, load, warm-up


class Stats:
    """Request counts and a ring of recent latencies."""

    def __init__(self, size: int = 4096) -> None:
        self.requests = 0
        self.errors = 0  # 5xx
        self.client_errors = 0  # 4xx
        self.recent: deque[tuple[float, float, int]] = deque(maxlen=size)  # (time, ms, status)

    def record(self, ms: float, status: int) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        elif status >= 400:
            self.client_errors += 1
        self.recent.append((time.time(), ms, status))

    def summary(self, since: float | None = None) -> dict[str, Any]:
        """Counts, p50/p95/p99 latency (ms) and requests in the last minute."""
        now = time.time()
        window = [r for r in self.recent if since is None or r[0] >= since]
        latencies = sorted(ms for _, ms, _ in window)

        def pct(q: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

        recent_errors = sum(1 for _, _, s in window if s >= 500)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "client_errors": self.client_errors,
            "error_rate": round(recent_errors / len(window), 4) if window else 0.0,
            "p50_ms": pct(0.5),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "requests_last_minute": sum(1 for t, _, _ in self.recent if t >= now - 60),
        }


@dataclass
class Variant:
    """A model version behind an endpoint, with its replicas and autoscaler state."""

    name: str
    model: dict[str, Any]
    policy: Policy
    replicas: dict[str, Replica] = field(default_factory=dict)
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    stats: Stats = field(default_factory=Stats)
    samples: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=4096))
    scale_state: State = field(default_factory=State)
    desired: int = 0
    last_request: float | None = None
    serial: int = 0
    active: int = 0  # requests in flight or queued
    start_error: str | None = None  # why the last replica failed to start
    _area: float = 0.0
    _since: float = field(default_factory=time.monotonic)
    kick: Callable[[], None] = lambda: None

    def _account(self) -> None:
        now = time.monotonic()
        self._area += self.active * (now - self._since)
        self._since = now

    def begin(self) -> None:
        self._account()
        self.active += 1
        self.last_request = time.monotonic()

    def end(self) -> None:
        self._account()
        self.active -= 1

    def sample(self) -> float:
        """Mean requests in flight (or queued) since the last sample."""
        now = time.monotonic()
        self._account()
        span = now - self.samples[-1][0] if self.samples else 0.0
        mean = self._area / span if span > 0 else float(self.active)
        self._area = 0.0
        self.samples.append((now, mean))
        return mean

    def ready_replicas(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.state == "Ready"]

    def counts(self) -> dict[str, int]:
        states = [r.state for r in self.replicas.values()]
        return {
            "ready": states.count("Ready"),
            "starting": states.count("Starting"),
            "draining": states.count("Draining"),
        }

    def live(self) -> int:
        """Replicas serving or starting (what the autoscaler counts)."""
        return sum(1 for r in self.replicas.values() if r.state in ("Ready", "Starting"))

    def wake(self) -> None:
        """A replica became ready: let every waiting request pick one."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def acquire(self, timeout: float, max_queue: int, model: str | None = None) -> Replica:
        """The least-loaded ready replica, waiting for one to start when there is none.

        With ``model`` (a multi-model endpoint) a replica that holds the model is preferred
        while it has fewer requests in flight than the target concurrency."""
        deadline = time.monotonic() + timeout
        while True:
            best: Replica | None = None
            for replica in self.replicas.values():
                if replica.state == "Ready" and (best is None or replica.inflight < best.inflight):
                    best = replica
            if model is not None and best is not None and model not in best.models:
                limit = self.policy.target_concurrency
                for replica in self.replicas.values():
                    if (
                        replica.state == "Ready"
                        and model in replica.models
                        and replica.inflight < limit
                    ):
                        best = replica
                        break
            if best is not None:
                return best
            if len(self.waiters) >= max_queue:
                raise Unavailable(
                    f"{len(self.waiters)} requests already wait for a replica of {self.name} "
                    "(the queue is full); retry shortly",
                    retry_after=1,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(
                    f"no replica of {self.name} became ready within {timeout:g}s "
                    "(cold start still running or failing: see %endpoint)",
                    retry_after=2,
                )
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            self.kick()
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                continue


def weighted_choice(weights: dict[str, float]) -> str:
    """A key picked with probability proportional to its weight (weights sum above 0)."""
    total = sum(weights.values())
    point = random.random() * total
    for key, weight in weights.items():
        point -= weight
        if point < 0:
            return key
    return next(k for k, w in weights.items() if w > 0)
