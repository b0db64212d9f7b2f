"""The request path: one invocation routed to a ready replica of the chosen variant.

A request waits (bounded by the cold start timeout and the queue limit) for a
replica, and is retried once on another replica if the first exits while
serving it. Latency and status are recorded for the variant and the endpoint.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ...errors import UsageError
from ...runtime import frames
from ...runtime.predict import json_nesting_error
from .endpoint_state import Endpoint
from .router import ReplicaLost, Unavailable


@dataclass
class Result:
    """One answered invocation."""

    status: int
    content_type: str
    body: bytes
    variant: str
    retry_after: int | None = None


async def invoke(
    endpoint: Endpoint,
    route: int,
    content_type: bytes,
    accept: bytes,
    payload: bytes,
    target_variant: str | None = None,
    target_model: str | None = None,
) -> Result:
    """Route one request to a replica of ``endpoint`` and return its answer.

    A JSON body nested too deeply for a replica's decoder is refused here (a 400),
    so no replica ever spends its stack on one. A multi-model endpoint's request
    names its model (``target_model``); it goes to a replica that holds it when one
    is free enough, and is counted for that model too.
    """
    if _is_json(content_type):
        problem = json_nesting_error(payload)
        if problem:
            raise UsageError(problem)
    variant = endpoint.pick(target_variant)
    config = endpoint.config
    op = frames.OP_INVOKE
    label = None
    multi = endpoint.multi
    if multi is not None:
        found = multi.lookup(target_model)
        if found is None:  # first request for this target (or its latest expired)
            await multi.header(target_model)
            found = multi.lookup(target_model)
            assert found is not None
        label, prefix = found
        # one copy of the payload, as for one model: the cached prefix names the model
        content_type, accept = content_type[:255], accept[:255]
        meta = frames.INVOKE_META.pack(route, len(content_type), len(accept))
        body = b"".join((prefix, meta, content_type, accept, payload))
        op = frames.OP_INVOKE_MODEL
    elif target_model:
        raise UsageError(
            f"endpoint {endpoint.name} serves one model; TargetModel is for multi-model "
            "endpoints (%deploy NAME --multi-model)"
        )
    else:
        body = frames.invoke_body(route, content_type, accept, payload)
    started = time.perf_counter()
    status = 500
    variant.begin()
    try:
        for attempt in (1, 2):
            replica = await variant.acquire(
                config["cold_start_timeout"], config["max_queue"], label
            )
            assert replica.conn is not None
            replica.inflight += 1
            try:
                _, answer = await replica.conn.request(op, body, config["request_timeout"])
            except ReplicaLost as lost:
                if attempt == 2:
                    why = f": {lost}" if str(lost) else ""
                    raise Unavailable(
                        f"two replicas of {variant.name} exited while serving this request{why}",
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
        if label is not None:
            multi.stats_for(label).stats.record(ms, status)


def _is_json(content_type: bytes) -> bool:
    """Whether a replica decodes a body of ``content_type`` as JSON (as the replica decides)."""
    kind = content_type.split(b";")[0].strip().lower()
    return kind in (b"", b"application/json", b"application/jsonlines") or kind.endswith(b"+json")


__all__ = ["Result", "invoke"]
