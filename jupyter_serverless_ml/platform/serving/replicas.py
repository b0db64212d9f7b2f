"""Replica lifecycle: starting, loading, losing, draining and replacing the replicas
of an endpoint's variants, and the autoscaling loop that decides how many to run.

Every replica is forked from its model's template (:mod:`.warm`, :mod:`.templates`),
or from its environment's zygote (:mod:`.zygotes`) when the endpoint keeps no
template; before it takes traffic it answers the endpoint's warm-up requests. Its serving
time is recorded in the store's usage ledger when it stops, and each start,
failure, exit and scale change is an endpoint event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ...errors import BackendError
from ..store import Store
from .autoscale import Policy, decide
from .endpoint_state import Endpoint, model_path
from .router import Replica, ReplicaConnection, ReplicaLost, Unavailable, Variant, settle
from .warm import Warm, keeps_warm, warm_up
from .zygotes import ZygotePool

log = logging.getLogger("jsml.serving")

__all__ = ["Replicas"]


class Replicas:
    """Starts and stops the replicas of every endpoint, and scales them."""

    def __init__(self, store: Store, pool: ZygotePool, capture_root: Path) -> None:
        self.store = store
        self.pool = pool
        self.capture_root = capture_root
        self.closing = False
        self.exit_reasons: dict[str, str] = {}  # replica id -> why its process exited
        self.warm = Warm(store, pool)
        self._background: set[asyncio.Task[None]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- bringing variants up and down -----------------------------------------

    async def bring_up(self, endpoint: Endpoint, variant: Variant) -> None:
        """Start the variant's minimum replicas (at least one, to prove the model loads)."""
        variant.kick = functools.partial(self.ensure, endpoint, variant)
        wanted = max(1, variant.policy.min_replicas)
        variant.desired = wanted
        replicas = [self.start(endpoint, variant, "deploy") for _ in range(wanted)]
        results = await asyncio.gather(
            *(r.ready for r in replicas if r.ready), return_exceptions=True
        )
        errors = [
            r if isinstance(r, BaseException) else r.get("error")
            for r in results
            if isinstance(r, BaseException) or not r.get("ok")
        ]
        if errors:
            raise BackendError(f"the model did not start serving: {errors[0]}")
        await asyncio.gather(*(r.boot for r in replicas if r.boot), return_exceptions=True)
        if any(r.state != "Ready" for r in replicas):  # its warm-up failed, or it exited
            raise BackendError(
                f"the model did not start serving: {variant.start_error or 'a replica exited'}"
            )
        variant.last_request = time.monotonic()  # the idle clock starts at deploy

    def restore(self, endpoint: Endpoint) -> None:
        """After a platform restart: start each variant's minimum replicas (none without traffic)."""
        for variant in endpoint.variants.values():
            variant.kick = functools.partial(self.ensure, endpoint, variant)
            minimum = variant.policy.min_replicas if endpoint.traffic.get(variant.name) else 0
            variant.desired = minimum
            variant.last_request = time.monotonic()
            for _ in range(minimum):
                self.start(endpoint, variant, "platform restart")
            if not minimum and keeps_warm(endpoint):
                self.spawn(self.prewarm(endpoint, variant))

    async def teardown(self, endpoint: Endpoint) -> None:
        """Stop every variant of ``endpoint``."""
        for variant in list(endpoint.variants.values()):
            await self.stop_variant(endpoint, variant)

    async def stop_variant(self, endpoint: Endpoint, variant: Variant) -> None:
        """Refuse the variant's queued requests, then drain and stop its replicas."""
        for waiter in list(variant.waiters):
            if not waiter.done():
                waiter.set_exception(Unavailable(f"endpoint {endpoint.name} is being undeployed"))
        variant.waiters.clear()
        replicas = list(variant.replicas.values())
        for replica in replicas:  # a replica still loading is drained once it is up
            if replica.state == "Starting" and replica.ready is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(replica.ready), 10)
        await asyncio.gather(
            *(self.drain(endpoint, r, endpoint.config["drain_timeout"]) for r in replicas)
        )
        self.warm.stop(endpoint.name, variant.name)

    def abandon(self, endpoint: Endpoint) -> None:
        """Record the serving time of every replica and close it (the platform is stopping)."""
        for variant in endpoint.variants.values():
            for replica in list(variant.replicas.values()):
                self.forget(endpoint, variant, replica)  # records its serving time
                if replica.conn is not None:
                    replica.conn.close()
            self.warm.stop(endpoint.name, variant.name)

    # -- one replica -----------------------------------------------------------

    def start(self, endpoint: Endpoint, variant: Variant, reason: str) -> Replica:
        """Begin starting a replica of ``variant``; its ``ready`` future settles when it serves."""
        variant.serial += 1
        loop = asyncio.get_running_loop()
        replica = Replica(
            id=f"{variant.name}-{variant.serial}",
            variant=variant.name,
            started=time.monotonic(),
            ready=loop.create_future(),
        )
        variant.replicas[replica.id] = replica
        replica.boot = self.spawn(self._boot(endpoint, variant, replica, reason))
        return replica

    def _spec(
        self, endpoint: Endpoint, variant: Variant, replica_id: str, reason: str
    ) -> dict[str, Any]:
        """What a forked replica (or the variant's template) is told to serve."""
        model = variant.model
        capture = None
        if endpoint.config["capture_percent"] > 0:
            capture = {
                "directory": str(self.capture_root / endpoint.name),
                "percent": endpoint.config["capture_percent"],
            }
        spec = {
            "model_dir": model_path(model["uri"]),
            "method": endpoint.config["method"],
            "endpoint": endpoint.name,
            "variant": variant.name,
            "replica": replica_id,
            "model": f"{model['name']}:{model['version']}",
            "deployed_model_id": variant.name,
            "capture": capture,
            "code": model.get("code"),
            "probe": reason == "deploy",  # one prediction before the endpoint serves
        }
        if endpoint.multi is not None:
            spec["multi_model"] = {"cache_bytes": endpoint.multi.cache_bytes}
        return spec

    async def prewarm(self, endpoint: Endpoint, variant: Variant) -> None:
        """Start the variant's template before any replica needs it (after a restart)."""
        try:
            await self.warm.ensure(
                endpoint, variant, self._spec(endpoint, variant, f"{variant.name}-template", "")
            )
        except Exception as exc:
            self.store.add_endpoint_event(
                endpoint.name,
                "replica_failed",
                f"the template of {variant.name} failed to start: {exc}",
                variant.name,
            )

    async def _boot(
        self, endpoint: Endpoint, variant: Variant, replica: Replica, reason: str
    ) -> None:
        assert replica.ready is not None
        spec = self._spec(endpoint, variant, replica.id, reason)
        multi = endpoint.multi
        warmup = endpoint.config.get("warmup") or []
        try:
            pid, sock = await self.warm.fork(endpoint, variant, spec)
            replica.pid = pid
            conn = ReplicaConnection(
                on_ready=lambda info: self._ready_or_exit(replica, info),
                on_lost=lambda: self._lost(endpoint, variant, replica),
                on_event=(lambda event: multi.on_event(replica, event)) if multi else None,
            )
            await asyncio.get_running_loop().create_unix_connection(lambda: conn, sock=sock)
            replica.conn = conn
            info = await asyncio.wait_for(
                asyncio.shield(replica.ready), endpoint.config["load_timeout"]
            )
            if not info.get("ok"):
                raise BackendError(str(info.get("error")))
            replica.template = bool(info.get("template"))
            warmed = 0.0
            if warmup and replica.state == "Starting":
                warmed = await warm_up(
                    conn,
                    warmup,
                    float(endpoint.config["request_timeout"]),
                    self._model_header(endpoint) if multi else None,
                )
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            if isinstance(exc, asyncio.TimeoutError):
                message = f"the model did not load within {endpoint.config['load_timeout']:g}s"
            self.forget(endpoint, variant, replica)
            if replica.conn is not None:
                replica.conn.close()
            if replica.pid:
                with contextlib.suppress(OSError):
                    os.kill(replica.pid, signal.SIGKILL)
            variant.start_error = message
            self.store.add_endpoint_event(
                endpoint.name,
                "replica_failed",
                f"replica {replica.id} failed to start: {message}",
                variant.name,
            )
            if not replica.ready.done():
                replica.ready.set_exception(BackendError(message))
            replica.ready.exception()  # retrieved: no "never retrieved" warning
            variant.wake()
            return
        if replica.state != "Starting":  # drained or lost while loading
            return
        replica.state = "Ready"
        replica.ready_at = time.monotonic()
        variant.start_error = None
        seconds = replica.ready_at - replica.started
        self.store.add_endpoint_event(
            endpoint.name,
            "cold_start",
            f"replica {replica.id} (pid {replica.pid}) serving after {seconds * 1000:.0f} ms "
            f"({reason}; "
            + (
                "forked from the model's template"
                if replica.template
                else f"model load {info.get('load_seconds', 0) * 1000:.0f} ms"
            )
            + (f"; warm-up {warmed * 1000:.0f} ms" if warmup else "")
            + ")",
            variant.name,
            seconds,
        )
        self.scale_event(endpoint, variant, reason)
        variant.wake()

    @staticmethod
    def _model_header(endpoint: Endpoint) -> Any:
        """For warm-up: a multi-model target's frame header."""

        async def header(target: str | None) -> dict[str, Any]:
            _, data = await endpoint.multi.header(target)
            return dict(json.loads(data))

        return header

    def _ready_or_exit(self, replica: Replica, info: dict[str, Any]) -> None:
        """A READY frame: the replica's own (it loaded, or could not), or its zygote's exit
        report, which fails the requests in flight with the reason (a 503 that says why)."""
        if info.get("exited"):
            reason = str(info.get("error") or "the process exited")
            self.exit_reasons[replica.id] = reason
            if replica.state == "Ready":
                replica.state = "Exiting"  # no new request goes to it; its socket closes next
            conn = replica.conn
            if conn is not None:
                pending = list(conn.pending.values())
                conn.pending.clear()
                for future in pending:
                    settle(future, ReplicaLost(reason))
        assert replica.ready is not None
        settle(replica.ready, info)

    def forget(self, endpoint: Endpoint, variant: Variant, replica: Replica) -> None:
        """Drop a replica from its variant, recording the time it served."""
        if replica.state != "Gone" and replica.ready_at is not None:
            serving = time.monotonic() - replica.ready_at
            self.store.add_usage(
                "endpoint",
                endpoint.name,
                endpoint.config["instance_type"],
                time.time() - serving,
                time.time(),
            )
        replica.state = "Gone"
        variant.replicas.pop(replica.id, None)
        self.exit_reasons.pop(replica.id, None)

    def _lost(self, endpoint: Endpoint, variant: Variant, replica: Replica) -> None:
        was = replica.state
        reason = self.exit_reasons.get(replica.id)
        self.forget(endpoint, variant, replica)
        if self.closing or was in ("Draining", "Gone") or endpoint.gone:
            return
        if replica.ready is not None and not replica.ready.done():
            replica.ready.set_exception(
                BackendError(
                    f"replica {replica.id} exited while loading the model: "
                    f"{reason or f'see the zygote logs in {self.pool.dir}'}"
                )
            )
            return
        if was == "Starting":
            return  # it failed to load: _boot records why
        self.store.add_endpoint_event(
            endpoint.name,
            "replica_exit",
            f"replica {replica.id} (pid {replica.pid}) exited unexpectedly"
            f"{f' ({reason})' if reason else ''}; replacing it",
            variant.name,
        )
        self.ensure(endpoint, variant)

    def ensure(self, endpoint: Endpoint, variant: Variant) -> None:
        """Start replicas up to the desired count (at least one while requests wait)."""
        if endpoint.gone:
            return
        wanted = max(variant.desired, 1 if variant.waiters else 0)
        if variant.waiters and variant.live() == 0 and variant.desired == 0:
            variant.desired = 1
        if variant.start_error and variant.live() == 0 and variant.waiters:
            error = f"replicas of {variant.name} fail to start: {variant.start_error}"
            for waiter in list(variant.waiters):
                if not waiter.done():
                    waiter.set_exception(Unavailable(error, retry_after=5))
            variant.waiters.clear()
            variant.start_error = None
            return
        for _ in range(wanted - variant.live()):
            self.start(endpoint, variant, "cold start" if variant.waiters else "replacement")

    async def drain(self, endpoint: Endpoint, replica: Replica, timeout: float) -> None:
        """Stop routing to ``replica``, wait up to ``timeout`` for its requests, stop it."""
        replica.state = "Draining"
        deadline = time.monotonic() + timeout
        while replica.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if replica.conn is not None:
            replica.conn.close()
        if replica.pid:
            await asyncio.sleep(0)
            with contextlib.suppress(OSError):
                os.kill(replica.pid, signal.SIGTERM)
        variant = endpoint.variants.get(replica.variant)
        if variant is not None:
            self.forget(endpoint, variant, replica)

    # -- autoscaling -----------------------------------------------------------

    def scale_event(self, endpoint: Endpoint, variant: Variant, reason: str) -> None:
        """Record the variant's replica count and why it changed."""
        self.store.add_endpoint_event(
            endpoint.name,
            "scale",
            f"{variant.name}: {variant.live()} replica(s) ({reason})",
            variant.name,
            variant.live(),
        )

    async def scale_loop(self, endpoint: Endpoint) -> None:
        """Apply the autoscaling policy to every variant, each metrics interval, until undeployed."""
        while not endpoint.gone:
            interval = min(v.policy.metrics_interval for v in endpoint.variants.values())
            await asyncio.sleep(interval)
            for variant in list(endpoint.variants.values()):
                try:
                    await self._autoscale(endpoint, variant)
                except Exception:
                    log.exception("autoscaling %s/%s failed", endpoint.name, variant.name)

    async def _autoscale(self, endpoint: Endpoint, variant: Variant) -> None:
        variant.sample()
        policy = variant.policy
        if endpoint.traffic.get(variant.name, 0) <= 0 and policy.min_replicas > 0:
            policy = Policy.from_dict(dict(policy.to_dict(), min_replicas=0))
        current = variant.live()
        desired, variant.scale_state, reason = decide(
            policy,
            current,
            variant.samples,
            time.monotonic(),
            variant.last_request,
            queued=len(variant.waiters),
            state=variant.scale_state,
        )
        variant.desired = desired
        if desired > current:
            for _ in range(desired - current):
                self.start(endpoint, variant, reason)
        elif desired < current:
            ready = sorted(variant.ready_replicas(), key=lambda r: (r.inflight, -r.started))
            for replica in ready[: current - desired]:
                replica.state = "Draining"
                self.spawn(self.drain(endpoint, replica, endpoint.config["drain_timeout"]))
            self.scale_event(endpoint, variant, reason)
