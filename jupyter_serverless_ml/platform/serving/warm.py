"""Keeping replicas warm: each variant's model template, and the warm-up request set.

* :class:`Warm` starts a variant's template (:mod:`.templates`) on first need,
  forks the variant's replicas from it, replaces it when it died, and stops it
  with the variant. An endpoint deployed with ``--no-keep-warm`` (and a
  multi-model endpoint, whose replicas load models on demand) has none: its
  replicas fork from the zygote and load the model themselves.
* :func:`warm_up` sends the endpoint's warm-up requests (``--warmup FILE``) to a
  new replica before it takes traffic; a warm-up request answered with an error
  fails the replica's start with that answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from ...errors import BackendError
from ...runtime import frames
from ..store import Store
from .endpoint_state import Endpoint
from .router import ReplicaConnection, Variant
from .templates import Template, TemplateGone, start_template
from .zygotes import ZygotePool

log = logging.getLogger("jsml.serving")

#: at most this many warm-up requests, of at most this many bytes in all
WARMUP_MAX_REQUESTS = 100
WARMUP_MAX_BYTES = 1 << 20

__all__ = ["WARMUP_MAX_BYTES", "WARMUP_MAX_REQUESTS", "Warm", "keeps_warm", "warm_up"]


def keeps_warm(endpoint: Endpoint) -> bool:
    """Whether the endpoint's variants keep a template (not for multi-model endpoints)."""
    return bool(endpoint.config.get("keep_warm", True)) and not endpoint.config.get("multi_model")


class Warm:
    """The templates of every variant, keyed by (endpoint, variant)."""

    def __init__(self, store: Store, pool: ZygotePool) -> None:
        self.store = store
        self.pool = pool
        self.templates: dict[tuple[str, str], Template] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def get(self, endpoint: Endpoint, variant: Variant) -> Template | None:
        """The variant's template if it runs."""
        template = self.templates.get((endpoint.name, variant.name))
        return template if template is not None and template.alive else None

    async def ensure(
        self, endpoint: Endpoint, variant: Variant, spec: dict[str, Any]
    ) -> Template | None:
        """The variant's live template, started from ``spec`` when there is none (None
        when the endpoint does not keep one)."""
        if not keeps_warm(endpoint):
            return None
        key = (endpoint.name, variant.name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            template = self.templates.get(key)
            if template is not None and template.alive:
                return template
            if template is not None:
                template.close()
                self.store.add_endpoint_event(
                    endpoint.name,
                    "template_exit",
                    f"the template of {variant.name} (pid {template.pid}) exited; starting another",
                    variant.name,
                )
            model = variant.model
            template = await start_template(
                self.pool,
                model["python"],
                model["modules"],
                dict(spec, replica=f"{variant.name}-template", probe=True),
                float(endpoint.config["load_timeout"]),
            )
            if endpoint.gone or variant.name not in endpoint.variants:
                template.close()
                raise BackendError(f"endpoint {endpoint.name} is being undeployed")
            self.templates[key] = template
            memory = template.memory() or {}
            self.store.add_endpoint_event(
                endpoint.name,
                "template",
                f"{variant.name}: model loaded once in {template.load_seconds * 1000:.0f} ms by its "
                f"template (pid {template.pid}, {(memory.get('pss_bytes') or 0) / (1 << 20):.1f} MiB "
                "PSS kept at zero replicas); replicas fork from it",
                variant.name,
                template.load_seconds,
            )
            return template

    async def fork(
        self, endpoint: Endpoint, variant: Variant, spec: dict[str, Any]
    ) -> tuple[int, Any]:
        """A replica of ``spec`` forked from the variant's template (a new template when the
        old one died), or from the zygote when the endpoint keeps none."""
        for attempt in (1, 2):
            template = await self.ensure(endpoint, variant, spec)
            if template is None:
                model = variant.model
                return await self.pool.fork(model["python"], model["modules"], spec)
            try:
                return await template.fork(dict(spec, probe=False))
            except TemplateGone:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stop(self, endpoint_name: str, variant_name: str) -> None:
        """Stop a variant's template (its replicas are drained first)."""
        key = (endpoint_name, variant_name)
        self._locks.pop(key, None)
        template = self.templates.pop(key, None)
        if template is not None:
            template.close()

    def close(self) -> None:
        """Stop every template."""
        for template in self.templates.values():
            template.close()
        self.templates.clear()
        self._locks.clear()


async def warm_up(
    conn: ReplicaConnection, requests: Sequence[dict[str, Any]], timeout: float, directory: Any
) -> float:
    """Send each warm-up request to a new replica, in order; returns the seconds it took.

    ``directory`` maps a multi-model request's ``target_model`` to its model header
    (None for a single-model endpoint). A request answered with a status of 400 or
    more raises BackendError with the answer."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for number, request in enumerate(requests, 1):
        body = frames.invoke_body(
            frames.ROUTE_NATIVE,
            str(request.get("content_type") or "application/json").encode(),
            b"application/json",
            str(request["body"]).encode(),
        )
        op = frames.OP_WARMUP
        if directory is not None:
            header = await directory(request.get("target_model"))
            body = frames.invoke_model_body(json.dumps(dict(header, warmup=True)).encode(), body)
            op = frames.OP_INVOKE_MODEL
        _, answer = await conn.request(op, body, timeout)
        status, _, out = frames.parse_result(answer)
        if status >= 400:
            raise BackendError(
                f"warm-up request {number} was answered {status}: "
                f"{out.decode(errors='replace')[:300]} (fix the --warmup file)"
            )
    return loop.time() - started
