"""The endpoint manager: deploy, scale, route, shift traffic, roll back, undeploy.

Desired state (variants, traffic, autoscaling and capture settings) is in the
store, so endpoints survive kernel and platform restarts: on start the manager
brings every endpoint back to its minimum replicas. Runtime state (replicas,
queues, latency rings) lives in :mod:`.router` objects on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ...errors import BackendError, Conflict, NotFound, UsageError
from ...options import validate_name
from ...runtime import frames
from ..store import Store
from .autoscale import Policy, decide
from .capture import bound_directory
from .router import (
    Replica,
    ReplicaConnection,
    ReplicaLost,
    Stats,
    Unavailable,
    Variant,
    settle,
    weighted_choice,
)
from .zygotes import ZygotePool, modules_for

log = logging.getLogger("jsml.serving")

CONFIG_DEFAULTS: dict[str, Any] = {
    "capture_percent": 100.0,
    "capture_max_bytes": 64 << 20,
    "max_payload": 6 << 20,  # SageMaker real-time inference's limit
    "cold_start_timeout": 30.0,
    "max_queue": 100,
    "request_timeout": 60.0,  # SageMaker's invocation timeout
    "load_timeout": 120.0,
    "method": "predict",
    "instance_type": "ml.m5.large",
    "drain_timeout": 30.0,
}
FLUSH_SECONDS = float(os.environ.get("JSML_SERVING_FLUSH_SECONDS") or 5.0)


@dataclass
class Endpoint:
    """An endpoint's runtime state."""

    name: str
    config: dict[str, Any]
    variants: dict[str, Variant]
    traffic: dict[str, float]
    history: list[dict[str, float]]
    created_at: float
    status: str = "Creating"
    stats: Stats = field(default_factory=Stats)
    flushed: tuple[int, int] = (0, 0)
    task: asyncio.Task[None] | None = None

    def record(self) -> dict[str, Any]:
        """What the store keeps."""
        return {
            "name": self.name,
            "status": self.status,
            "created_at": self.created_at,
            "config": self.config,
            "variants": [
                dict(v.model, variant=v.name, policy=v.policy.to_dict())
                for v in self.variants.values()
            ],
            "traffic": self.traffic,
            "traffic_history": self.history[-20:],
        }

    def pick(self, target: str | None) -> Variant:
        if target:
            variant = self.variants.get(target)
            if variant is None:
                raise NotFound(
                    f"endpoint {self.name} has no variant {target!r}; it has "
                    f"{', '.join(self.variants)}"
                )
            return variant
        live = {k: w for k, w in self.traffic.items() if w > 0}
        if len(live) == 1:
            return self.variants[next(iter(live))]
        return self.variants[weighted_choice(live)]


@dataclass
class Result:
    """One answered invocation."""

    status: int
    content_type: str
    body: bytes
    variant: str
    retry_after: int | None = None


class EndpointManager:
    """Owns endpoints, their replicas and autoscalers."""

    def __init__(self, home: Path, store: Store) -> None:
        self.home = home
        self.store = store
        self.pool = ZygotePool(home)
        self.endpoints: dict[str, Endpoint] = {}
        self.capture_root = home / "capture"
        self._flusher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.closing = False

    def _spawn(self, coroutine: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- lookup ----------------------------------------------------------------

    def get(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None or endpoint.status == "Deleted":
            known = sorted(n for n, e in self.endpoints.items() if e.status != "Deleted")
            raise NotFound(
                f"no endpoint {name!r}; endpoints: {', '.join(known) or 'none'} "
                "(deploy one with %deploy MODEL)"
            )
        return endpoint

    def resolve_model(self, name: str, version: int | None) -> dict[str, Any]:
        model = self.store.model(name, version)
        if model is None:
            versions = [m["version"] for m in self.store.models(name)]
            if versions:
                raise NotFound(
                    f"model {name} has no version {version}; versions: "
                    f"{', '.join(map(str, versions))}"
                )
            known = sorted({m["name"] for m in self.store.models()})
            raise NotFound(
                f"no model {name!r}; registered models: {', '.join(known) or 'none'} "
                "(train one with %%train --name NAME)"
            )
        return model

    async def serving_python(self, model: dict[str, Any]) -> str:
        """The interpreter the model was trained with (its isolated environment, if any)."""
        metadata = model.get("metadata") or {}
        if metadata.get("serving_python"):
            return str(metadata["serving_python"])
        job = self.store.job(model["job_id"]) if model.get("job_id") else None
        if job is None:
            raise BackendError(
                f"model {model['name']}:{model['version']} has no recorded "
                "environment; deploy it from the kernel that holds it"
            )
        spec = job["spec"]
        if spec.get("env") != "isolated":
            return str(spec["python"])
        from ..jobs import envs

        python, _, _ = await asyncio.to_thread(
            envs.ensure,
            self.home / "envs",
            spec["requirements"],
            str(spec["python"]),
            uv=spec.get("uv"),
        )
        return str(python)

    # -- deploy ----------------------------------------------------------------

    async def deploy(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create an endpoint, or add a variant to one (``endpoint`` set); waits until it serves."""
        model_name = str(request.get("model") or "")
        if not model_name:
            raise UsageError("deploy needs a model name (MODEL or MODEL:VERSION)")
        version = request.get("version")
        model = self.resolve_model(model_name, int(version) if version else None)
        python = await self.serving_python(model)
        entry = {
            "name": model["name"],
            "version": model["version"],
            "uri": model["uri"],
            "flavor": model["flavor"],
            "python": python,
            "modules": modules_for(model),
            "class": (model.get("metadata") or {}).get("class"),
        }
        policy = _policy(request)
        config = dict(CONFIG_DEFAULTS)
        config.update({k: request[k] for k in CONFIG_DEFAULTS if request.get(k) is not None})
        _check_config(config)
        target = request.get("endpoint")
        if target:
            return await self._add_variant(self.get(str(target)), entry, policy, request)
        name = validate_name(str(request.get("name") or model["name"]))
        existing = self.endpoints.get(name)
        if existing is not None and existing.status != "Deleted":
            raise Conflict(
                f"endpoint {name!r} exists; add a variant with --endpoint {name} --traffic N, "
                f"or %undeploy {name} first"
            )
        variant = Variant(name=_variant_name(entry, None), model=entry, policy=policy)
        endpoint = Endpoint(
            name=name,
            config=config,
            variants={variant.name: variant},
            traffic={variant.name: 100.0},
            history=[],
            created_at=time.time(),
        )
        self.endpoints[name] = endpoint
        self.store.put_endpoint(endpoint.record())
        self.store.add_endpoint_event(
            name, "created", f"serving {entry['name']}:{entry['version']}", variant.name
        )
        try:
            await self._bring_up(endpoint, variant)
        except BaseException:
            await self._teardown(endpoint)
            self.store.delete_endpoint(name)
            self.endpoints.pop(name, None)
            raise
        endpoint.status = "InService"
        self.store.put_endpoint(endpoint.record())
        endpoint.task = asyncio.create_task(self._scale_loop(endpoint))
        return self.describe(name)

    async def _add_variant(
        self, endpoint: Endpoint, entry: dict[str, Any], policy: Policy, request: dict[str, Any]
    ) -> dict[str, Any]:
        weight = 100.0 if request.get("traffic") is None else float(request["traffic"])
        if not 0 <= weight <= 100:
            raise UsageError(f"--traffic {weight:g} must be between 0 and 100")
        name = _variant_name(entry, endpoint)
        if name in endpoint.variants:
            raise Conflict(
                f"endpoint {endpoint.name} already serves {entry['name']}:"
                f"{entry['version']} as variant {name}; shift traffic with %traffic"
            )
        variant = Variant(name=name, model=entry, policy=policy)
        endpoint.variants[name] = variant
        endpoint.status = "Updating"
        try:
            await self._bring_up(endpoint, variant)
        except BaseException:
            endpoint.variants.pop(name, None)
            endpoint.status = "InService"
            await self._stop_variant(endpoint, variant)
            raise
        self._set_traffic(endpoint, {name: weight}, event=f"added variant {name}")
        endpoint.status = "InService"
        self.store.put_endpoint(endpoint.record())
        return self.describe(endpoint.name)

    async def _bring_up(self, endpoint: Endpoint, variant: Variant) -> None:
        """Start the variant's minimum replicas (at least one, to prove the model loads)."""
        variant.kick = functools.partial(self._ensure, endpoint, variant)
        wanted = max(1, variant.policy.min_replicas)
        variant.desired = wanted
        replicas = [self._start(endpoint, variant, "deploy") for _ in range(wanted)]
        results = await asyncio.gather(
            *(r.ready for r in replicas if r.ready), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise BackendError(f"the model did not start serving: {errors[0]}")
        variant.last_request = time.monotonic()  # the idle clock starts at deploy

    # -- replicas --------------------------------------------------------------

    def _start(self, endpoint: Endpoint, variant: Variant, reason: str) -> Replica:
        variant.serial += 1
        loop = asyncio.get_running_loop()
        replica = Replica(
            id=f"{variant.name}-{variant.serial}",
            variant=variant.name,
            started=time.monotonic(),
            ready=loop.create_future(),
        )
        variant.replicas[replica.id] = replica
        self._spawn(self._boot(endpoint, variant, replica, reason))
        return replica

    async def _boot(
        self, endpoint: Endpoint, variant: Variant, replica: Replica, reason: str
    ) -> None:
        assert replica.ready is not None
        model = variant.model
        capture = None
        if endpoint.config["capture_percent"] > 0:
            capture = {
                "directory": str(self.capture_root / endpoint.name),
                "percent": endpoint.config["capture_percent"],
            }
        spec = {
            "model_dir": _path(model["uri"]),
            "method": endpoint.config["method"],
            "endpoint": endpoint.name,
            "variant": variant.name,
            "replica": replica.id,
            "model": f"{model['name']}:{model['version']}",
            "deployed_model_id": variant.name,
            "capture": capture,
        }
        try:
            pid, sock = await self.pool.fork(model["python"], model["modules"], spec)
            replica.pid = pid
            conn = ReplicaConnection(
                on_ready=functools.partial(settle, replica.ready),
                on_lost=lambda: self._lost(endpoint, variant, replica),
            )
            await asyncio.get_running_loop().create_unix_connection(lambda: conn, sock=sock)
            replica.conn = conn
            info = await asyncio.wait_for(
                asyncio.shield(replica.ready), endpoint.config["load_timeout"]
            )
            if not info.get("ok"):
                raise BackendError(str(info.get("error")))
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            if isinstance(exc, asyncio.TimeoutError):
                message = f"the model did not load within {endpoint.config['load_timeout']:g}s"
            self._forget(endpoint, variant, replica)
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
            f"({reason}; model load {info.get('load_seconds', 0) * 1000:.0f} ms)",
            variant.name,
            seconds,
        )
        self._scale_event(endpoint, variant, reason)
        variant.wake()

    def _forget(self, endpoint: Endpoint, variant: Variant, replica: Replica) -> None:
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

    def _lost(self, endpoint: Endpoint, variant: Variant, replica: Replica) -> None:
        was = replica.state
        self._forget(endpoint, variant, replica)
        if self.closing or was == "Draining" or endpoint.status in ("Deleting", "Deleted"):
            return
        if replica.ready is not None and not replica.ready.done():
            replica.ready.set_exception(
                BackendError(
                    f"replica {replica.id} exited while loading the model; "
                    f"see {self.pool.dir} zygote logs"
                )
            )
            return
        self.store.add_endpoint_event(
            endpoint.name,
            "replica_exit",
            f"replica {replica.id} (pid {replica.pid}) exited unexpectedly; replacing it",
            variant.name,
        )
        self._ensure(endpoint, variant)

    def _ensure(self, endpoint: Endpoint, variant: Variant) -> None:
        """Start replicas up to the desired count (at least one while requests wait)."""
        if endpoint.status in ("Deleting", "Deleted"):
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
            self._start(endpoint, variant, "cold start" if variant.waiters else "replacement")

    async def _drain(self, endpoint: Endpoint, replica: Replica, timeout: float) -> None:
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
            self._forget(endpoint, variant, replica)

    # -- autoscaling -----------------------------------------------------------

    def _scale_event(self, endpoint: Endpoint, variant: Variant, reason: str) -> None:
        self.store.add_endpoint_event(
            endpoint.name,
            "scale",
            f"{variant.name}: {variant.live()} replica(s) ({reason})",
            variant.name,
            variant.live(),
        )

    async def _scale_loop(self, endpoint: Endpoint) -> None:
        while endpoint.status not in ("Deleting", "Deleted"):
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
                self._start(endpoint, variant, reason)
        elif desired < current:
            ready = sorted(variant.ready_replicas(), key=lambda r: (r.inflight, -r.started))
            for replica in ready[: current - desired]:
                replica.state = "Draining"
                self._spawn(self._drain(endpoint, replica, endpoint.config["drain_timeout"]))
            self._scale_event(endpoint, variant, reason)

    # -- invocation ------------------------------------------------------------

    async def invoke(
        self,
        name: str,
        route: int,
        content_type: bytes,
        accept: bytes,
        payload: bytes,
        target_variant: str | None = None,
    ) -> Result:
        """Route one request to a replica and return its answer."""
        endpoint = self.get(name)
        if endpoint.status == "Deleting":
            raise Unavailable(f"endpoint {name} is being undeployed", retry_after=5)
        variant = endpoint.pick(target_variant)
        config = endpoint.config
        body = frames.invoke_body(route, content_type, accept, payload)
        started = time.perf_counter()
        status = 500
        variant.begin()
        try:
            for attempt in (1, 2):
                replica = await variant.acquire(config["cold_start_timeout"], config["max_queue"])
                assert replica.conn is not None
                replica.inflight += 1
                try:
                    _, answer = await replica.conn.request(
                        frames.OP_INVOKE, body, config["request_timeout"]
                    )
                except ReplicaLost:
                    if attempt == 2:
                        raise Unavailable(
                            f"two replicas of {variant.name} exited while serving this request",
                            retry_after=1,
                        ) from None
                    continue
                except asyncio.TimeoutError:
                    status = 504
                    raise Unavailable(
                        f"the model did not answer within {config['request_timeout']:g}s"
                    ) from None
                finally:
                    replica.inflight -= 1
                status, out_type, out = frames.parse_result(answer)
                return Result(status, out_type, out, variant.name)
            raise AssertionError("unreachable")
        except Unavailable:
            status = 503 if status != 504 else 504
            raise
        finally:
            variant.end()
            ms = (time.perf_counter() - started) * 1000
            variant.stats.record(ms, status)
            endpoint.stats.record(ms, status)

    def max_payload(self, name: str) -> int:
        endpoint = self.endpoints.get(name)
        return int(endpoint.config["max_payload"]) if endpoint else CONFIG_DEFAULTS["max_payload"]

    # -- traffic ---------------------------------------------------------------

    def _set_traffic(self, endpoint: Endpoint, weights: dict[str, float], event: str) -> None:
        unknown = [k for k in weights if k not in endpoint.variants]
        if unknown:
            raise UsageError(
                f"endpoint {endpoint.name} has no variant {', '.join(unknown)}; "
                f"its variants: {', '.join(endpoint.variants)}"
            )
        given = sum(weights.values())
        if given > 100 + 1e-9 or any(w < 0 for w in weights.values()):
            raise UsageError(
                f"traffic weights must be 0-100 and sum to at most 100 (got {given:g})"
            )
        rest = [k for k in endpoint.variants if k not in weights]
        share = 100.0 - given
        old = sum(endpoint.traffic.get(k, 0.0) for k in rest)
        new = dict(weights)
        for key in rest:
            new[key] = share * endpoint.traffic.get(key, 0.0) / old if old else share / len(rest)
        if not rest and abs(given - 100) > 1e-9:
            raise UsageError(
                f"traffic weights must sum to 100 when every variant is named (got {given:g})"
            )
        if sum(new.values()) <= 0:
            raise UsageError("at least one variant must get traffic")
        endpoint.history.append(dict(endpoint.traffic))
        self._apply_split(endpoint, {k: round(v, 6) for k, v in new.items()}, event)

    def _apply_split(self, endpoint: Endpoint, split: dict[str, float], event: str) -> None:
        """Route by ``split``, record it, and start a replica for any variant that now gets
        traffic but has none."""
        endpoint.traffic = split
        shown = ", ".join(f"{k}={v:g}%" for k, v in split.items())
        self.store.add_endpoint_event(endpoint.name, "traffic", f"{event}: {shown}")
        for variant in endpoint.variants.values():
            if split.get(variant.name, 0) > 0 and variant.live() == 0:
                variant.desired = max(1, variant.policy.min_replicas)
                self._ensure(endpoint, variant)

    def traffic(self, name: str, weights: dict[str, float]) -> dict[str, Any]:
        """Shift traffic: named variants get their weights, the rest share what is left."""
        endpoint = self.get(name)
        self._set_traffic(endpoint, weights, "traffic shifted")
        self.store.put_endpoint(endpoint.record())
        return self.describe(name)

    def rollback(self, name: str) -> dict[str, Any]:
        """Return to the split before the last change."""
        endpoint = self.get(name)
        if not endpoint.history:
            raise UsageError(f"endpoint {name} has no earlier traffic split to return to")
        previous = endpoint.history.pop()
        self._apply_split(
            endpoint, {k: previous.get(k, 0.0) for k in endpoint.variants}, "rolled back"
        )
        self.store.put_endpoint(endpoint.record())
        return self.describe(name)

    # -- undeploy --------------------------------------------------------------

    async def undeploy(self, name: str) -> dict[str, Any]:
        """Stop routing, drain in-flight requests, stop replicas, forget the endpoint."""
        endpoint = self.get(name)
        summary = self.describe(name)
        endpoint.status = "Deleting"
        if endpoint.task is not None:
            endpoint.task.cancel()
        await self._teardown(endpoint)
        endpoint.status = "Deleted"
        self._flush(endpoint)
        self.store.delete_endpoint(name)
        self.endpoints.pop(name, None)
        summary["status"] = "Deleted"
        return summary

    async def _teardown(self, endpoint: Endpoint) -> None:
        for variant in list(endpoint.variants.values()):
            await self._stop_variant(endpoint, variant)

    async def _stop_variant(self, endpoint: Endpoint, variant: Variant) -> None:
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
            *(self._drain(endpoint, r, endpoint.config["drain_timeout"]) for r in replicas)
        )

    # -- persistence -----------------------------------------------------------

    async def restore(self) -> list[str]:
        """Bring every stored endpoint back to its minimum replicas."""
        names = []
        for record in self.store.endpoint_records():
            config = dict(CONFIG_DEFAULTS, **record["config"])
            variants = {}
            for entry in record["variants"]:
                entry = dict(entry)
                name = entry.pop("variant")
                policy = Policy.from_dict(entry.pop("policy", {}))
                variants[name] = Variant(name=name, model=entry, policy=policy)
            endpoint = Endpoint(
                name=record["name"],
                config=config,
                variants=variants,
                traffic=dict(record["traffic"]),
                history=list(record["traffic_history"]),
                created_at=record["created_at"],
                status="InService",
            )
            self.endpoints[endpoint.name] = endpoint
            for variant in variants.values():
                variant.kick = functools.partial(self._ensure, endpoint, variant)
                minimum = variant.policy.min_replicas if endpoint.traffic.get(variant.name) else 0
                variant.desired = minimum
                variant.last_request = time.monotonic()
                for _ in range(minimum):
                    self._start(endpoint, variant, "platform restart")
            self.store.add_endpoint_event(
                endpoint.name, "restored", "platform restarted: back to minimum replicas"
            )
            endpoint.task = asyncio.create_task(self._scale_loop(endpoint))
            names.append(endpoint.name)
        self._flusher = asyncio.create_task(self._flush_loop())
        return names

    def _flush(self, endpoint: Endpoint) -> None:
        requests, errors = endpoint.stats.requests, endpoint.stats.errors
        new_requests, new_errors = requests - endpoint.flushed[0], errors - endpoint.flushed[1]
        if new_requests or new_errors:
            self.store.add_endpoint_counts(endpoint.name, new_requests, new_errors)
            since = time.time() - FLUSH_SECONDS
            window = endpoint.stats.summary(since=since)
            self.store.add_endpoint_event(
                endpoint.name,
                "stats",
                f"{new_requests} requests, p50 {window['p50_ms']} ms, p95 {window['p95_ms']} ms",
                None,
                window["p50_ms"],
            )
        endpoint.flushed = (requests, errors)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            for endpoint in list(self.endpoints.values()):
                try:
                    self._flush(endpoint)
                    bound_directory(
                        self.capture_root / endpoint.name, int(endpoint.config["capture_max_bytes"])
                    )
                except Exception:
                    log.exception("flushing %s failed", endpoint.name)

    async def close(self) -> None:
        """Stop every replica and zygote (endpoints stay stored for the next start)."""
        self.closing = True
        if self._flusher is not None:
            self._flusher.cancel()
        for endpoint in list(self.endpoints.values()):
            if endpoint.task is not None:
                endpoint.task.cancel()
            self._flush(endpoint)
            for variant in endpoint.variants.values():
                for replica in list(variant.replicas.values()):
                    self._forget(endpoint, variant, replica)  # records its serving time
                    if replica.conn is not None:
                        replica.conn.close()
        self.pool.close()

    # -- views -----------------------------------------------------------------

    def live_usage(self) -> list[dict[str, Any]]:
        """Serving time of the replicas up now (recorded in the store when they stop)."""
        now = time.time()
        rows = []
        for endpoint in self.endpoints.values():
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

    def summaries(self) -> list[dict[str, Any]]:
        """One row per endpoint."""
        return [self.summary(e) for e in self.endpoints.values() if e.status != "Deleted"]

    def summary(self, endpoint: Endpoint) -> dict[str, Any]:
        stored = self.store.endpoint(endpoint.name) or {}
        live = endpoint.stats.summary()
        live["requests"] += int(stored.get("requests", 0)) - endpoint.flushed[0]
        live["errors"] += int(stored.get("errors", 0)) - endpoint.flushed[1]
        variants = []
        for variant in endpoint.variants.values():
            counts = variant.counts()
            variants.append(
                {
                    "name": variant.name,
                    "model": f"{variant.model['name']}:{variant.model['version']}",
                    "model_name": variant.model["name"],
                    "model_version": variant.model["version"],
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
                }
            )
        cold = [e["value"] for e in self.store.endpoint_events(endpoint.name, ["cold_start"], 50)]
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
        }

    def describe(self, name: str) -> dict[str, Any]:
        """Everything about one endpoint, with its recent events."""
        endpoint = self.get(name)
        data = self.summary(endpoint)
        data["events"] = self.store.endpoint_events(name, limit=100)
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
        data["capture_dir"] = str(self.capture_root / name)
        return data


def _policy(request: dict[str, Any]) -> Policy:
    try:
        return Policy.from_dict(request)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _check_config(config: dict[str, Any]) -> None:
    if not 0 <= float(config["capture_percent"]) <= 100:
        raise UsageError(f"--capture {config['capture_percent']} must be a percentage (0-100)")
    if config["method"] not in ("predict", "predict_proba"):
        raise UsageError(f"--method {config['method']!r}: use predict or predict_proba")
    for key in ("max_payload", "cold_start_timeout", "max_queue", "request_timeout"):
        if float(config[key]) <= 0:
            raise UsageError(f"{key} must be above 0")


def _variant_name(entry: dict[str, Any], endpoint: Endpoint | None) -> str:
    base = f"v{entry['version']}"
    if endpoint is None:
        return base
    others = {v.model["name"] for v in endpoint.variants.values()}
    return base if others == {entry["name"]} else f"{entry['name']}-{base}"


def _path(uri: str) -> str:
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri
