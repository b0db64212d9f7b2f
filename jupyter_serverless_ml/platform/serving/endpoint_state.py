"""An endpoint's runtime state and settings: the :class:`Endpoint` record the
serving modules share, its configuration defaults and their checks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from ...errors import NotFound, UsageError
from ...statuses import EndpointStatus
from . import traffic
from .autoscale import Policy
from .router import Stats, Variant, weighted_choice

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
    "keep_warm": True,  # a template per variant holds the loaded model (see templates.py)
    "multi_model": None,  # {"source": NAME or PREFIX*, "cache_bytes": N} (see multi_model.py)
    "warmup": [],  # requests run on each new replica before it takes traffic (see warm.py)
}


@dataclass
class Endpoint:
    """An endpoint's runtime state."""

    name: str
    config: dict[str, Any]
    variants: dict[str, Variant]
    traffic: dict[str, float]
    history: list[dict[str, float]]
    created_at: float
    status: str = EndpointStatus.CREATING.value
    stats: Stats = field(default_factory=Stats)
    flushed: tuple[int, int] = (0, 0)
    task: asyncio.Task[None] | None = None
    multi: Any = None  # a multi-model endpoint's MultiModel (targets, per-model stats)

    @property
    def gone(self) -> bool:
        """Whether the endpoint is being (or has been) undeployed."""
        return self.status in (EndpointStatus.DELETING, EndpointStatus.DELETED)

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
            "traffic_history": traffic.kept(self.history),
        }

    def pick(self, target: str | None) -> Variant:
        """The variant to serve a request: ``target`` if named, else drawn by traffic weight."""
        if target:
            variant = self.variants.get(target)
            if variant is None:
                raise NotFound(
                    f"endpoint {self.name} has no variant {target!r}; it has "
                    f"{', '.join(self.variants)}"
                )
            return variant
        live = traffic.routable(self.traffic)
        if len(live) == 1:
            return self.variants[next(iter(live))]
        return self.variants[weighted_choice(live)]


def parse_policy(request: dict[str, Any]) -> Policy:
    """The autoscaling policy a deploy request asks for."""
    try:
        return Policy.from_dict(request)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def check_config(config: dict[str, Any]) -> None:
    """Refuse endpoint settings out of range."""
    if not 0 <= float(config["capture_percent"]) <= 100:
        raise UsageError(f"--capture {config['capture_percent']} must be a percentage (0-100)")
    if config["method"] not in ("predict", "predict_proba"):
        raise UsageError(f"--method {config['method']!r}: use predict or predict_proba")
    for key in ("max_payload", "cold_start_timeout", "max_queue", "request_timeout"):
        if float(config[key]) <= 0:
            raise UsageError(f"{key} must be above 0")
    warmup = config.get("warmup") or []
    if not isinstance(warmup, list) or not all(
        isinstance(r, dict) and isinstance(r.get("body"), str) for r in warmup
    ):
        raise UsageError('warmup must be a list of {"body": "...", "content_type": "..."}')
    if len(warmup) > 100 or sum(len(r["body"]) for r in warmup) > 1 << 20:
        raise UsageError(
            "--warmup holds at most 100 requests of 1 MB in all; keep a few typical ones"
        )


def variant_name(entry: dict[str, Any], endpoint: Endpoint | None) -> str:
    """``v<version>``, or ``<model>-v<version>`` on an endpoint that serves other models."""
    base = f"v{entry['version']}"
    if endpoint is None:
        return base
    others = {v.model["name"] for v in endpoint.variants.values()}
    return base if others == {entry["name"]} else f"{entry['name']}-{base}"


def model_path(uri: str) -> str:
    """The local path of a ``file:`` model URI (other URIs unchanged)."""
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri
