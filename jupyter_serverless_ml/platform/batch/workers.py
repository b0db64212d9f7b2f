"""Batch workers: processes forked from the model's zygote that predict one shard at a time.

Workers fork from the model's shared zygote, which in the sandbox sees neither
the batch's input nor its output: the platform passes each input file (opened
read-only) and each part file (created write-only) as descriptors with the
request, over the worker's socket (SCM_RIGHTS). That zygote confines writes
with Landlock, so a descriptor cannot be re-opened for writing through
``/proc/self/fd``. Where Landlock is missing, a batch gets its own sandboxed
zygote that sees its input read-only and reads it by path (still no output
directory: part files are descriptors there too).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import os
import select
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...runtime import batch as runtime_batch
from ...runtime import frames
from ..serving.endpoint_state import model_path
from ..serving.router import ReplicaConnection, ReplicaLost, settle
from ..serving.zygotes import ZygotePool
from . import files


class BatchFailed(Exception):
    """A shard failed for good; the message says which and why."""


@dataclass
class Worker:
    """A forked batch worker and the router's connection to it."""

    pid: int
    conn: ReplicaConnection
    exit_reason: str | None = None  # why its process exited, from its zygote's report
    side: socket.socket | None = field(default=None, repr=False)  # sends frames with fds

    async def call(self, op: int, body: dict[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        """Send one JSON request (with ``fds``, which stay open here) and return the
        worker's JSON reply."""
        send = None
        if fds:
            send = lambda data: self._send_fds(data, list(fds))  # noqa: E731
        _, answer = await self.conn.request(op, json.dumps(body).encode(), send=send)
        return dict(json.loads(answer))

    def _send_fds(self, data: bytes, fds: list[int]) -> None:
        """Write a frame with descriptors attached to its first byte. Only one request is
        in flight on a batch worker, so nothing else is queued on the socket."""
        assert self.side is not None
        transport = self.conn.transport
        if transport is not None and transport.get_write_buffer_size():
            raise RuntimeError("a batch worker's socket has unsent data")
        view = memoryview(data)
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        while view:
            select.select([], [self.side], [], 30)
            try:
                sent = self.side.sendmsg([view], ancillary)
            except BlockingIOError:
                continue
            ancillary = []
            view = view[sent:]

    def close(self) -> None:
        """Close the connection and stop the worker."""
        self.conn.close()
        if self.side is not None:
            self.side.close()
        if self.pid > 0:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)


def shared_zygote(pool: ZygotePool) -> bool:
    """Whether batch workers fork from the model's shared zygote and get their input as
    descriptors (no sandbox, or a sandbox that confines writes), rather than from a zygote
    of their own that sees the input."""
    return pool.shares_descriptors


def sandbox_paths(spec: dict[str, Any], shared: bool) -> tuple[list[str], list[str]]:
    """What a batch job's zygote sees besides the models: nothing in the shared zygote,
    else its input (read-only). Never the output: part files are descriptors."""
    return ([], []) if shared else ([spec["input"]], [])


async def start_worker(
    pool: ZygotePool, spec: dict[str, Any], label: str, shared: bool = True
) -> Worker:
    """Fork a worker of the batch's model from its zygote and wait until it has loaded the model."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[dict[str, Any]] = loop.create_future()
    fork_spec = {
        "model_dir": model_path(spec["model_uri"]),
        "method": spec["method"],
        "replica": label,
        "model": spec["model"],
    }
    readable, writable = sandbox_paths(spec, shared)
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
    worker = Worker(pid, conn, side=socket.socket(fileno=os.dup(sock.fileno())))
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


#: input files per plan request (a message carries at most 253 descriptors)
_FILES_PER_PLAN = 200


async def plan_input(
    worker: Worker, spec: dict[str, Any], inputs: dict[str, int] | None
) -> dict[str, Any]:
    """The worker's plan of the batch's input (files, shards, a timing sample).

    The daemon lists the input files. With ``inputs`` (a dict, filled here), it opens
    each read-only and sends the descriptors, 200 files a request; without, the worker
    reads them by path (its zygote sees the input).
    """
    try:
        listed = runtime_batch.input_files(spec["input"], spec["input_format"])
    except runtime_batch.DataError as exc:
        raise BatchFailed(f"could not read the input: {exc}") from None
    merged: dict[str, Any] = {"ok": True, "files": [], "shards": []}
    for first in range(0, len(listed), _FILES_PER_PLAN):
        group = listed[first : first + _FILES_PER_PLAN]
        fds: list[int] = []
        if inputs is not None:
            for path, _ in group:
                try:
                    inputs[path] = inputs.get(path) or files.open_input(path)
                except OSError as exc:
                    raise BatchFailed(f"could not open the input file {path}: {exc}") from None
                fds.append(inputs[path])
        reply = await worker.call(
            frames.OP_BATCH_PLAN,
            {
                "input": spec["input"],
                "files": [{"path": path, "format": kind} for path, kind in group],
                "chunk_rows": spec["chunk_rows"],
                "input_format": spec["input_format"],
                "csv_header": spec.get("csv_header", "auto"),
                "costs": first == 0,
            },
            fds,
        )
        if not reply.get("ok"):
            raise BatchFailed(f"could not read the input: {reply.get('error')}")
        for shard in reply["shards"]:
            shard["index"] += len(merged["shards"])
        merged["files"] += reply["files"]
        merged["shards"] += reply["shards"]
        for key in ("read_seconds", "predict_seconds"):
            if key in reply:
                merged[key] = reply[key]
    return merged


__all__ = [
    "BatchFailed",
    "Worker",
    "plan_input",
    "sandbox_paths",
    "shared_zygote",
    "start_worker",
]
