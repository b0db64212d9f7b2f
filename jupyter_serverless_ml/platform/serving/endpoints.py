"""The endpoint manager: deploy, shift traffic, roll back, undeploy, invoke.

Desired state (variants, traffic, autoscaling and capture settings) is in the
store, so endpoints survive kernel and platform restarts: on start the manager
brings every endpoint back to its minimum replicas. Runtime state (replicas,
queues, latency rings) lives in :mod:`.router` objects on the event loop.
The manager is a facade: replicas are started and scaled by :mod:`.replicas`,
splits are computed by :mod:`.traffic`, views built by :mod:`.views` and
requests forwarded by :mod:`.invoke`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...options import validate_name
from ...statuses import EndpointStatus
from ..store import Store
from . import inference_code, multi_model, views
from . import traffic as splits
from .autoscale import Policy
from .capture import bound_directory
from .deploy_entries import DeployEntries
from .endpoint_state import (
    CONFIG_DEFAULTS,
    Endpoint,
    check_config,
    parse_policy,
    variant_name,
)
from .invoke import Result, invoke
from .replicas import Replicas
from .router import Unavailable, Variant
from .zygotes import ZygotePool

log = logging.getLogger("jsml.serving")

#: How often request counters are written to the store: a daemon killed with SIGKILL loses
#: at most this much of them.
FLUSH_SECONDS = float(os.environ.get("JSML_SERVING_FLUSH_SECONDS") or 1.0)
#: How often a busy endpoint gets a "stats" event (p50, p95 over the interval).
STATS_EVENT_SECONDS = float(os.environ.get("JSML_SERVING_STATS_SECONDS") or 5.0)

__all__ = ["CONFIG_DEFAULTS", "FLUSH_SECONDS", "Endpoint", "EndpointManager", "Result"]


class EndpointManager:
    """Owns endpoints, their replicas and autoscalers."""

    def __init__(self, home: Path, store: Store) -> None:
        self.home = home
        self.store = store
        self.pool = ZygotePool(home)
        self.entries = DeployEntries(home, store)
        self.endpoints: dict[str, Endpoint] = {}
        self.capture_root = home / "capture"
        self.replicas = Replicas(store, self.pool, self.capture_root)
        self._flusher: asyncio.Task[None] | None = None
        self._stats_marks: dict[str, tuple[float, int]] = {}  # last stats event: time, requests

    @property
    def closing(self) -> bool:
        """Whether the platform is stopping (replicas that exit are not replaced)."""
        return self.replicas.closing

    # -- lookup ----------------------------------------------------------------

    def get(self, name: str) -> Endpoint:
        """The endpoint called ``name``; NotFound names the ones that exist."""
        endpoint = self.endpoints.get(name)
        if endpoint is None or endpoint.status == EndpointStatus.DELETED:
            known = sorted(
                n for n, e in self.endpoints.items() if e.status != EndpointStatus.DELETED
            )
            raise NotFound(
                f"no endpoint {name!r}; endpoints: {', '.join(known) or 'none'} "
                "(deploy one with %deploy MODEL)"
            )
        return endpoint

    def resolve_model(self, name: str, version: int | None) -> dict[str, Any]:
        """A registered model version (the latest when ``version`` is None)."""
        return self.entries.resolve_model(name, version)

    async def serving_python(self, model: dict[str, Any]) -> str:
        """The interpreter that serves ``model`` (see :class:`.deploy_entries.DeployEntries`)."""
        return await self.entries.serving_python(model)

    # -- deploy ----------------------------------------------------------------

    async def deploy(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create an endpoint, or add a variant to one (``endpoint`` set); waits until it serves."""
        if request.get("multi_model"):
            entry, code = await self.entries.multi(request), None
        else:
            entry, code = await self.entries.single(request)
        policy = parse_policy(request)
        config = dict(CONFIG_DEFAULTS)
        config.update({k: request[k] for k in CONFIG_DEFAULTS if request.get(k) is not None})
        check_config(config)
        target = request.get("endpoint")
        if target:
            return await self._add_variant(self.get(str(target)), entry, policy, request)
        default = str(entry["name"]).rstrip("*").rstrip("-_./") or "models"
        name = validate_name(str(request.get("name") or default))
        existing = self.endpoints.get(name)
        if existing is not None and existing.status != EndpointStatus.DELETED:
            raise Conflict(
                f"endpoint {name!r} exists; add a variant with --endpoint {name} --traffic N, "
                f"or %undeploy {name} first"
            )
        first = multi_model.VARIANT if entry.get("multi_model") else variant_name(entry, None)
        variant = Variant(name=first, model=entry, policy=policy)
        endpoint = Endpoint(
            name=name,
            config=config,
            variants={variant.name: variant},
            traffic={variant.name: 100.0},
            history=[],
            created_at=time.time(),
        )
        self._attach_multi(endpoint)
        self.endpoints[name] = endpoint
        self.store.put_endpoint(endpoint.record())
        serves = (
            endpoint.multi.describe() if endpoint.multi else f"{entry['name']}:{entry['version']}"
        )
        self.store.add_endpoint_event(name, "created", f"serving {serves}", variant.name)
        self.store.add_endpoint_event(name, "sandbox", self.pool.isolation.description)
        if code:
            self.store.add_endpoint_event(name, "code", inference_code.describe(code), variant.name)
        try:
            await self.replicas.bring_up(endpoint, variant)
        except BaseException:
            await self.replicas.teardown(endpoint)
            self.store.delete_endpoint(name)
            self.endpoints.pop(name, None)
            raise
        endpoint.status = EndpointStatus.IN_SERVICE.value
        self.store.put_endpoint(endpoint.record())
        endpoint.task = asyncio.create_task(self.replicas.scale_loop(endpoint))
        return self.describe(name)

    async def _add_variant(
        self, endpoint: Endpoint, entry: dict[str, Any], policy: Policy, request: dict[str, Any]
    ) -> dict[str, Any]:
        if endpoint.multi is not None or entry.get("multi_model"):
            raise UsageError(
                f"endpoint {endpoint.name} is a multi-model endpoint or this is one: a variant "
                "cannot be added (register the model: the endpoint serves it by name)"
            )
        weight = splits.new_variant_share(request.get("traffic"))
        name = variant_name(entry, endpoint)
        if name in endpoint.variants:
            raise Conflict(
                f"endpoint {endpoint.name} already serves {entry['name']}:"
                f"{entry['version']} as variant {name}; shift traffic with %traffic"
            )
        variant = Variant(name=name, model=entry, policy=policy)
        endpoint.variants[name] = variant
        endpoint.status = EndpointStatus.UPDATING.value
        try:
            await self.replicas.bring_up(endpoint, variant)
        except BaseException:
            endpoint.variants.pop(name, None)
            endpoint.status = EndpointStatus.IN_SERVICE.value
            await self.replicas.stop_variant(endpoint, variant)
            raise
        self._set_traffic(endpoint, {name: weight}, event=f"added variant {name}")
        endpoint.status = EndpointStatus.IN_SERVICE.value
        self.store.put_endpoint(endpoint.record())
        return self.describe(endpoint.name)

    def _attach_multi(self, endpoint: Endpoint) -> None:
        """Give a multi-model endpoint its runtime state (targets, per-model statistics)."""
        settings = endpoint.config.get("multi_model")
        if settings:
            python = next(iter(endpoint.variants.values())).model["python"]
            endpoint.multi = multi_model.MultiModel(
                settings["source"],
                int(settings["cache_bytes"]),
                python,
                self.store,
                self.serving_python,
            )

    # -- traffic ---------------------------------------------------------------

    def _set_traffic(self, endpoint: Endpoint, weights: dict[str, float], event: str) -> None:
        split = splits.shift(endpoint.name, endpoint.traffic, list(endpoint.variants), weights)
        endpoint.history = splits.remember(endpoint.history, endpoint.traffic)
        self._apply_split(endpoint, split, event)

    def _apply_split(self, endpoint: Endpoint, split: dict[str, float], event: str) -> None:
        """Route by ``split``, record it, and start a replica for any variant that now gets
        traffic but has none."""
        endpoint.traffic = split
        self.store.add_endpoint_event(
            endpoint.name, "traffic", f"{event}: {splits.describe(split)}"
        )
        for variant in endpoint.variants.values():
            if split.get(variant.name, 0) > 0 and variant.live() == 0:
                variant.desired = max(1, variant.policy.min_replicas)
                self.replicas.ensure(endpoint, variant)

    def traffic(self, name: str, weights: dict[str, float]) -> dict[str, Any]:
        """Shift traffic: named variants get their weights, the rest share what is left."""
        endpoint = self.get(name)
        self._set_traffic(endpoint, weights, "traffic shifted")
        self.store.put_endpoint(endpoint.record())
        return self.describe(name)

    def rollback(self, name: str) -> dict[str, Any]:
        """Return to the split before the last change."""
        endpoint = self.get(name)
        split, endpoint.history = splits.roll_back(name, endpoint.history, list(endpoint.variants))
        self._apply_split(endpoint, split, "rolled back")
        self.store.put_endpoint(endpoint.record())
        return self.describe(name)

    # -- undeploy --------------------------------------------------------------

    async def undeploy(self, name: str) -> dict[str, Any]:
        """Stop routing, drain in-flight requests, stop replicas, forget the endpoint."""
        endpoint = self.get(name)
        summary = self.describe(name)
        endpoint.status = EndpointStatus.DELETING.value
        if endpoint.task is not None:
            endpoint.task.cancel()
        await self.replicas.teardown(endpoint)
        endpoint.status = EndpointStatus.DELETED.value
        self._flush(endpoint, final=True)
        self._stats_marks.pop(name, None)
        self.store.delete_endpoint(name)
        self.endpoints.pop(name, None)
        summary["status"] = EndpointStatus.DELETED.value
        return summary

    # -- invocation ------------------------------------------------------------

    async def invoke(
        self,
        name: str,
        route: int,
        content_type: bytes,
        accept: bytes,
        payload: bytes,
        target_variant: str | None = None,
        target_model: str | None = None,
    ) -> Result:
        """Route one request to a replica (of ``target_model`` on a multi-model endpoint)."""
        endpoint = self.get(name)
        if endpoint.status == EndpointStatus.DELETING:
            raise Unavailable(f"endpoint {name} is being undeployed", retry_after=5)
        return await invoke(
            endpoint, route, content_type, accept, payload, target_variant, target_model
        )

    def max_payload(self, name: str) -> int:
        """The largest request body ``name`` accepts (the default for an unknown endpoint)."""
        endpoint = self.endpoints.get(name)
        return int(endpoint.config["max_payload"]) if endpoint else CONFIG_DEFAULTS["max_payload"]

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
                status=EndpointStatus.IN_SERVICE.value,
            )
            self._attach_multi(endpoint)
            self.endpoints[endpoint.name] = endpoint
            self.replicas.restore(endpoint)
            self.store.add_endpoint_event(
                endpoint.name, "restored", "platform restarted: back to minimum replicas"
            )
            self.store.add_endpoint_event(endpoint.name, "sandbox", self.pool.isolation.description)
            endpoint.task = asyncio.create_task(self.replicas.scale_loop(endpoint))
            names.append(endpoint.name)
        self._flusher = asyncio.create_task(self._flush_loop())
        return names

    def _flush(self, endpoint: Endpoint, final: bool = False) -> None:
        """Add the requests counted since the last flush to the store; every
        ``STATS_EVENT_SECONDS`` (and at the end) also record a "stats" event."""
        requests, errors = endpoint.stats.requests, endpoint.stats.errors
        new_requests, new_errors = requests - endpoint.flushed[0], errors - endpoint.flushed[1]
        if new_requests or new_errors:
            self.store.add_endpoint_counts(endpoint.name, new_requests, new_errors)
        now = time.time()
        since, counted = self._stats_marks.setdefault(
            endpoint.name, (now - FLUSH_SECONDS, endpoint.flushed[0])
        )
        endpoint.flushed = (requests, errors)
        if requests > counted and (final or now - since >= STATS_EVENT_SECONDS):
            window = endpoint.stats.summary(since=since)
            self.store.add_endpoint_event(
                endpoint.name,
                "stats",
                f"{requests - counted} requests, p50 {window['p50_ms']} ms, "
                f"p95 {window['p95_ms']} ms",
                None,
                window["p50_ms"],
            )
            self._stats_marks[endpoint.name] = (now, requests)

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
        self.replicas.closing = True
        if self._flusher is not None:
            self._flusher.cancel()
        for endpoint in list(self.endpoints.values()):
            if endpoint.task is not None:
                endpoint.task.cancel()
            self._flush(endpoint, final=True)
            self.replicas.abandon(endpoint)
        self.pool.close()

    # -- views -----------------------------------------------------------------

    def live_usage(self) -> list[dict[str, Any]]:
        """Serving time of the replicas up now (recorded in the store when they stop)."""
        return views.live_usage(self.endpoints.values())

    def summaries(self) -> list[dict[str, Any]]:
        """One row per endpoint."""
        return [
            views.summary(self.store, e, self.replicas.warm)
            for e in self.endpoints.values()
            if e.status != EndpointStatus.DELETED
        ]

    def summary(self, endpoint: Endpoint) -> dict[str, Any]:
        """One endpoint's row."""
        return views.summary(self.store, endpoint, self.replicas.warm)

    def describe(self, name: str) -> dict[str, Any]:
        """Everything about one endpoint, with its recent events."""
        return views.describe(self.store, self.get(name), self.capture_root, self.replicas.warm)
