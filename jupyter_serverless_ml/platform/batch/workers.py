"""Batch workers: processes forked from the model's zygote that predict one shard at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass
from typing import Any

from ..serving.endpoint_state import model_path
from ..serving.router import ReplicaConnection, ReplicaLost, settle
from ..serving.zygotes import ZygotePool


class BatchFailed(Exception):
    """A shard failed for good; the message says which and why."""


@dataclass
class Worker:
    """A forked batch worker and the router's connection to it."""

    pid: int
    conn: ReplicaConnection

    async def call(self, op: int, body: dict[str, Any]) -> dict[str, Any]:
        """Send one JSON request and return the worker's JSON reply."""
        _, answer = await self.conn.request(op, json.dumps(body).encode())
        return dict(json.loads(answer))

    def close(self) -> None:
        """Close the connection and stop the worker."""
        self.conn.close()
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGTERM)


async def start_worker(pool: ZygotePool, spec: dict[str, Any], label: str) -> Worker:
    """Fork a worker of the batch's model from its zygote and wait until it has loaded the model."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[dict[str, Any]] = loop.create_future()
    fork_spec = {
        "model_dir": model_path(spec["model_uri"]),
        "method": spec["method"],
        "replica": label,
        "model": spec["model"],
    }
    pid, sock = await pool.fork(spec["python"], spec["modules"], fork_spec)
    conn = ReplicaConnection(
        on_ready=lambda info: settle(ready, info),
        on_lost=lambda: settle(ready, ReplicaLost()),
    )
    await loop.create_unix_connection(lambda: conn, sock=sock)
    worker = Worker(pid, conn)
    try:
        info = await asyncio.wait_for(ready, 120)
    except (ReplicaLost, asyncio.TimeoutError):
        worker.close()
        raise BatchFailed(
            f"a batch worker exited while loading the model; see the zygote log under {pool.dir}"
        ) from None
    if not info.get("ok"):
        worker.close()
        raise BatchFailed(str(info.get("error")))
    return worker


__all__ = ["BatchFailed", "Worker", "start_worker"]
