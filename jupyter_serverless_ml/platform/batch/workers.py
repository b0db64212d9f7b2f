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
    exit_reason: str | None = None  # why its process exited, from its zygote's report

    async def call(self, op: int, body: dict[str, Any]) -> dict[str, Any]:
        """Send one JSON request and return the worker's JSON reply."""
        _, answer = await self.conn.request(op, json.dumps(body).encode())
        return dict(json.loads(answer))

    def close(self) -> None:
        """Close the connection and stop the worker."""
        self.conn.close()
        if self.pid > 0:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)


def sandbox_paths(spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What a batch job's sandboxed zygote sees besides the models: its input (read-only)
    and its output directory (read-write)."""
    return [spec["input"]], [spec["output"]]


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
    readable, writable = sandbox_paths(spec)
    pid, sock = await pool.fork(spec["python"], spec["modules"], fork_spec, readable, writable)
    worker: Worker

    def on_ready(info: dict[str, Any]) -> None:
        if info.get("exited"):
            worker.exit_reason = str(info.get("error"))
            for future in list(worker.conn.pending.values()):
                settle(future, ReplicaLost(worker.exit_reason))
            worker.conn.pending.clear()
        settle(ready, info)

    conn = ReplicaConnection(on_ready=on_ready, on_lost=lambda: settle(ready, ReplicaLost()))
    worker = Worker(pid, conn)
    await loop.create_unix_connection(lambda: conn, sock=sock)
    try:
        info = await asyncio.wait_for(ready, 120)
    except (ReplicaLost, asyncio.TimeoutError):
        worker.close()
        raise BatchFailed(
            "a batch worker exited while loading the model: "
            f"{worker.exit_reason or f'see the zygote log under {pool.dir}'}"
        ) from None
    if not info.get("ok"):
        worker.close()
        raise BatchFailed(str(info.get("error")))
    return worker


__all__ = ["BatchFailed", "Worker", "sandbox_paths", "start_worker"]
