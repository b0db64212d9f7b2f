"""Multi-model endpoints: one endpoint serving every version of a model, or every model
whose name starts with a prefix (``%deploy NAME --multi-model``; ``PREFIX*``).

As SageMaker's multi-model endpoints do, a request names its model (``TargetModel``,
the ``X-Amzn-SageMaker-Target-Model`` header, on the SageMaker route; the same header
or ``POST /endpoints/<name>/models/<model>/invocations`` on ours). The router
resolves the name against the registry (so versions registered after the deploy
are served too), sends the request to a replica that already holds the model
when one is free enough, and keeps per-model counters and latency. Replicas load
models on first use and evict the least recently used past ``--model-cache``
(``runtime/multi_model.py``); their load, eviction and failure notes arrive here.
All models of one endpoint share its environment (one zygote), as an MME's
models share one container.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import NotFound, UsageError
from ...runtime import frames
from ..store import Store
from .endpoint_state import model_path
from .model_sets import describe_set, parse_target
from .router import Replica, Stats
from .zygotes import modules_for

__all__ = ["VARIANT", "ModelStats", "MultiModel", "describe_set", "matching"]

#: the one variant of a multi-model endpoint
VARIANT = "models"
#: how long a resolved "latest version" holds before the registry is asked again
LATEST_SECONDS = 5.0
DEFAULT_CACHE_BYTES = 2 << 30


def matching(store: Store, source: str) -> list[dict[str, Any]]:
    """The registered model versions ``source`` names: every version of a model, or with
    a trailing ``*`` every version of every model whose name starts with the prefix."""
    if source.endswith("*"):
        prefix = source[:-1]
        return [m for m in store.models() if str(m["name"]).startswith(prefix)]
    return list(store.models(source))


@dataclass
class ModelStats:
    """One model's requests and latency, and what the replicas did with it."""

    stats: Stats = field(default_factory=lambda: Stats(1024))
    loads: int = 0
    evictions: int = 0
    load_failures: int = 0
    last_load_ms: float | None = None
    last_error: str | None = None

    def view(self, holders: int) -> dict[str, Any]:
        """The model's row in the endpoint JSON."""
        summary = self.stats.summary()
        return {
            "requests": summary["requests"],
            "errors": summary["errors"],
            "client_errors": summary["client_errors"],
            "p50_ms": summary["p50_ms"],
            "p95_ms": summary["p95_ms"],
            "loads": self.loads,
            "evictions": self.evictions,
            "load_failures": self.load_failures,
            "last_load_ms": self.last_load_ms,
            "last_error": self.last_error,
            "loaded_in_replicas": holders,
        }


class MultiModel:
    """A multi-model endpoint's targets and per-model statistics."""

    def __init__(
        self,
        source: str,
        cache_bytes: int,
        python: str,
        store: Store,
        serving_python: Callable[[dict[str, Any]], Awaitable[str]],
    ) -> None:
        self.source = source
        self.cache_bytes = cache_bytes
        self.python = python
        self.store = store
        self.serving_python = serving_python
        self.models: dict[str, ModelStats] = {}
        # target -> (until, label, header, the frame prefix that carries the header)
        self._headers: dict[str, tuple[float, str, bytes, bytes]] = {}

    def _find(self, target: str) -> tuple[dict[str, Any] | None, bool]:
        """The registered version ``target`` names (None when it names none), and whether
        it named a version (rather than a model's latest)."""
        found = parse_target(self.source, target)
        if found is None:
            return None, False
        name, version = found
        return self.store.model(name, version), version is not None

    async def header(self, target: str | None) -> tuple[str, bytes]:
        """(``name:version``, the JSON header a replica's frame carries) for ``target``."""
        if not target:
            raise UsageError(
                "this is a multi-model endpoint: name the model with the "
                "X-Amzn-SageMaker-Target-Model header (boto3: TargetModel=...) or POST "
                f"/endpoints/<name>/models/<model>/invocations; models: {self.names()}"
            )
        cached = self._headers.get(target)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        model, explicit = self._find(target)
        if model is None:
            raise NotFound(f"this endpoint serves no model {target!r}; models: {self.names()}")
        label = f"{model['name']}:{model['version']}"
        python = await self.serving_python(model)
        if python != self.python:
            raise UsageError(
                f"model {label} was trained with {python}, this endpoint serves models of "
                f"{self.python}; deploy it to an endpoint of its own"
            )
        header = json.dumps({"model": label, "dir": model_path(model["uri"])}).encode()
        until = float("inf") if explicit else time.monotonic() + LATEST_SECONDS
        prefix = frames.MODEL_META.pack(len(header)) + header
        self._headers[target] = (until, label, header, prefix)
        return label, header

    def lookup(self, target: str | None) -> tuple[str, bytes] | None:
        """The hot path: (label, frame prefix) of a target resolved before (one dict
        lookup, nothing parsed); None when :meth:`header` must resolve it first."""
        cached = self._headers.get(target) if target else None
        if cached is None or (cached[0] != float("inf") and cached[0] <= time.monotonic()):
            return None
        return cached[1], cached[3]

    def describe(self) -> str:
        """The model set this endpoint serves now (``fleet:* (20 models)``)."""
        return describe_set(self.source, len(matching(self.store, self.source)))

    def names(self, limit: int = 20) -> str:
        """The targets this endpoint serves now, for messages."""
        found = matching(self.store, self.source)
        shown = [f"{m['name']}:{m['version']}" for m in found[:limit]]
        more = f" and {len(found) - limit} more" if len(found) > limit else ""
        return (", ".join(shown) + more) or "none registered yet"

    def stats_for(self, label: str) -> ModelStats:
        """The statistics of model ``label`` (created on first use)."""
        found = self.models.get(label)
        if found is None:
            found = self.models[label] = ModelStats()
        return found

    def on_event(self, replica: Replica, event: dict[str, Any]) -> None:
        """A replica loaded, evicted or failed to load a model."""
        label = str(event.get("model"))
        stats = self.stats_for(label)
        kind = event.get("event")
        if kind == "load":
            stats.loads += 1
            stats.last_load_ms = round(float(event.get("seconds") or 0) * 1000, 3)
            replica.models.add(label)
        elif kind == "evict":
            stats.evictions += 1
            replica.models.discard(label)
        elif kind == "fail":
            stats.load_failures += 1
            stats.last_error = str(event.get("error"))

    def view(self, replicas: list[Replica]) -> dict[str, Any]:
        """The endpoint JSON's ``multi_model`` object."""
        return {
            "source": self.source,
            "cache_bytes": self.cache_bytes,
            "models": {
                label: stats.view(sum(1 for r in replicas if label in r.models))
                for label, stats in sorted(self.models.items())
            },
        }


async def plan(
    store: Store,
    source: str,
    serving_python: Callable[[dict[str, Any]], Awaitable[str]],
) -> dict[str, Any]:
    """The variant entry of a multi-model endpoint for ``source`` (its models must exist)."""
    found = matching(store, source)
    if not found:
        known = sorted({m["name"] for m in store.models()})
        raise NotFound(
            f"--multi-model {source}: no registered model "
            f"{'starts with ' + repr(source[:-1]) if source.endswith('*') else 'is called ' + repr(source)}"
            f"; registered models: {', '.join(known) or 'none'}"
        )
    latest = max(found, key=lambda m: (m.get("created_at") or 0, m["version"]))
    python = await serving_python(latest)
    modules: list[str] = []
    for model in found:
        for module in modules_for(model):
            if module not in modules:
                modules.append(module)
    return {
        "name": source,
        "version": 0,  # no one version: the set is described by describe_set()
        "uri": latest["uri"],
        "flavor": latest["flavor"],
        "python": python,
        "modules": modules,
        "class": None,
        "multi_model": True,
    }
