"""Batch prediction jobs on the local platform.

A job plans its shards in a worker forked from the model's zygote, then
drives ``workers`` forked workers that take shards one at a time, each writing
one part file through a descriptor the daemon created (see ``files.py``; the
daemon checks and renames it). The output directory's ``_manifest.json`` (written atomically)
records every shard's status and row counts, so a rerun on the same output
does only the shards that are missing, and a job interrupted by a platform
restart resumes by itself. Row counts are checked per shard and in total.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections import deque
from pathlib import Path
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...options import validate_name
from ...runtime import csv_input, frames
from ...statuses import BATCH_TERMINAL, BatchStatus
from .. import state
from ..serving.endpoints import EndpointManager
from ..serving.router import ReplicaLost
from ..serving.zygotes import modules_for
from ..store import Store
from . import files, planner
from .workers import (
    BatchFailed,
    Worker,
    plan_input,
    sandbox_paths,
    shared_zygote,
    start_worker,
)

log = logging.getLogger("jsml.serving")
MANIFEST = "_manifest.json"
FORMATS = ("parquet", "csv", "jsonl")
#: Statuses of a batch job that a daemon drives (resumed after a restart).
_LIVE = (BatchStatus.PENDING, BatchStatus.RUNNING)
_IDENTITY = ("model", "method", "format", "chunk_rows", "include_input", "on_error")
_DEFAULTS = {"csv_header": "auto"}  # identity keys older manifests lack
_WRITE_EVERY = 0.25


class BatchManager:
    """Starts, tracks, stops and resumes batch prediction jobs."""

    def __init__(self, home: Path, store: Store, endpoints: EndpointManager) -> None:
        self.home = home
        self.store = store
        self.endpoints = endpoints
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._events: dict[str, asyncio.Event] = {}

    def _update(self, batch_id: str, **fields: Any) -> None:
        """Store new fields and wake whoever waits for news of this batch."""
        self.store.update_batch(batch_id, **fields)
        event = self._events.pop(batch_id, None)
        if event is not None:
            event.set()

    async def watch(self, ref: str, status: str, rows: int, timeout: float) -> dict[str, Any]:
        """The batch as soon as its status or rows done differ from the caller's (long poll)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self._get(ref)
            remaining = deadline - time.monotonic()
            if record["status"] != status or record["rows_done"] != rows or remaining <= 0:
                return self.describe(record["id"])
            event = self._events.setdefault(record["id"], asyncio.Event())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # -- requests --------------------------------------------------------------

    async def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Validate and start a batch job (acknowledged once recorded)."""
        model_name = str(request.get("model") or "")
        if not model_name:
            raise UsageError("batch prediction needs a model (MODEL or MODEL:VERSION)")
        version = request.get("version")
        model = self.endpoints.resolve_model(model_name, int(version) if version else None)
        source = Path(str(request.get("input") or ""))
        if not request.get("input") or not source.exists():
            raise UsageError(
                f"batch input {request.get('input')!r} does not exist; pass a file "
                "or a directory of .parquet, .csv or .jsonl files"
            )
        if not request.get("output"):
            raise UsageError("batch prediction needs --output DIRECTORY")
        output = Path(str(request["output"])).resolve()
        _check_input(source.resolve())
        for what, path in (("input", source.resolve()), ("output", output)):
            home = self.home.resolve()
            if path == home or home in path.parents or path in home.parents:
                raise UsageError(
                    f"the batch {what} {path} is inside (or holds) the platform's home "
                    f"{home}, which batch workers must not see: use another directory"
                )
        spec = {
            "model": f"{model['name']}:{model['version']}",
            "model_uri": model["uri"],
            "input": str(source.resolve()),
            "input_format": request.get("input_format"),
            "output": str(output),
            "workers": int(request.get("workers") or 2),
            "chunk_rows": int(request.get("chunk_rows") or 100_000),
            "format": str(request.get("format") or "parquet"),
            "on_error": str(request.get("on_error") or "fail"),
            "retries": 2 if request.get("retries") is None else int(request["retries"]),
            "method": str(request.get("method") or "predict"),
            "include_input": bool(request.get("include_input")),
            "csv_header": str(request.get("csv_header") or "auto"),
        }
        if spec["format"] not in FORMATS:
            raise UsageError(f"--format {spec['format']!r}: use parquet, csv or jsonl")
        if spec["input_format"] not in (None, *FORMATS):
            raise UsageError(f"--input-format {spec['input_format']!r}: use parquet, csv or jsonl")
        if spec["csv_header"] not in csv_input.CSV_HEADER_MODES:
            raise UsageError(f"--csv-header {spec['csv_header']!r}: use auto, yes or no")
        if spec["on_error"] not in ("fail", "skip"):
            raise UsageError(f"--on-error {spec['on_error']!r}: use fail or skip")
        if spec["method"] not in ("predict", "predict_proba"):
            raise UsageError(f"--method {spec['method']!r}: use predict or predict_proba")
        if not 1 <= spec["workers"] <= 64 or spec["chunk_rows"] < 1 or spec["retries"] < 0:
            raise UsageError("--workers must be 1-64, --chunk-rows at least 1, --retries 0 or more")
        for other in self.store.batches(status=_LIVE):
            if other["spec"]["output"] == spec["output"]:
                raise Conflict(
                    f"batch {other['id']} is writing to {output} now; wait for it or stop it"
                )
        self._check_manifest(spec)
        spec["python"] = await self.endpoints.serving_python(model)
        spec["modules"] = modules_for(model)
        name = validate_name(str(request.get("name") or model["name"]))
        batch_id = f"batch-{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        output.mkdir(parents=True, exist_ok=True)
        self.store.insert_batch(
            {
                "id": batch_id,
                "name": name,
                "status": BatchStatus.PENDING.value,
                "created_at": time.time(),
                "spec": spec,
            }
        )
        self.tasks[batch_id] = asyncio.create_task(self._run(batch_id))
        return self.describe(batch_id)

    def _check_manifest(self, spec: dict[str, Any]) -> None:
        existing = state.read_json(Path(spec["output"]) / MANIFEST)
        if existing is None:
            if Path(spec["output"]).is_dir() and any(Path(spec["output"]).iterdir()):
                raise Conflict(
                    f"{spec['output']} is not empty and holds no batch manifest; "
                    "choose an empty or new --output directory"
                )
            return
        different = [k for k in _IDENTITY if existing.get(k) != spec[k]]
        different += [k for k, v in _DEFAULTS.items() if existing.get(k, v) != spec[k]]
        if existing.get("input") != spec["input"]:
            different.append("input")
        if different:
            raise Conflict(
                f"{spec['output']} holds the results of another batch (its {', '.join(different)} "
                "differ); choose another --output, or delete that directory to start over"
            )

    def _get(self, ref: str) -> dict[str, Any]:
        record = self.store.batch(ref)
        if record is None:
            known = [b["id"] for b in self.store.batches(limit=5)]
            raise NotFound(f"no batch job {ref!r}; recent: {', '.join(known) or 'none'}")
        return record

    def describe(self, ref: str) -> dict[str, Any]:
        """A batch job with its progress and, once planned, its manifest's shards."""
        record = self._get(ref)
        manifest = state.read_json(Path(record["spec"]["output"]) / MANIFEST) or {}
        elapsed = None
        if record["started_at"]:
            elapsed = (record["ended_at"] or time.time()) - record["started_at"]
        done_now = record["rows_done"] - int(record["spec"].get("rows_before", 0))
        record["rate"] = done_now / elapsed if elapsed and done_now > 0 else None
        record["elapsed"] = elapsed
        record["shards"] = manifest.get("shards", [])
        record["manifest"] = str(Path(record["spec"]["output"]) / MANIFEST)
        return record

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """Batch jobs, newest first."""
        return self.store.batches(limit=limit)

    def stop(self, ref: str, reason: str | None = None) -> dict[str, Any]:
        """Stop a running batch job (finished part files stay; a rerun resumes);
        ``reason`` (e.g. the budget guard's) becomes its failure reason."""
        record = self._get(ref)
        task = self.tasks.get(record["id"])
        if record["status"] not in BATCH_TERMINAL:
            if task is not None:
                task.cancel()
            self._update(
                record["id"],
                status=BatchStatus.STOPPED,
                ended_at=time.time(),
                failure_reason=reason or "stopped on request",
            )
        return self.describe(record["id"])

    # -- running ---------------------------------------------------------------

    async def _worker(self, spec: dict[str, Any], label: str) -> Worker:
        shared = shared_zygote(self.endpoints.pool)
        return await start_worker(self.endpoints.pool, spec, label, shared)

    async def _run(self, batch_id: str) -> None:
        record = self._get(batch_id)
        spec = record["spec"]
        workers: list[Worker] = []
        shared = shared_zygote(self.endpoints.pool)
        inputs: dict[str, int] = {}  # input file -> the daemon's read-only descriptor
        try:
            self._update(batch_id, status=BatchStatus.RUNNING, started_at=time.time())
            began = time.perf_counter()
            first = await self._worker(spec, f"{batch_id}-w1")
            workers.append(first)
            forked = time.perf_counter()
            plan = await plan_input(first, spec, inputs if shared else None)
            log.info(
                "batch %s: worker ready in %.3fs, %d shard(s) planned in %.3fs",
                batch_id,
                forked - began,
                len(plan["shards"]),
                time.perf_counter() - forked,
            )
            await self._execute(batch_id, spec, plan, workers, inputs)
        except asyncio.CancelledError:
            raise
        except BatchFailed as exc:
            self._update(
                batch_id, status=BatchStatus.FAILED, ended_at=time.time(), failure_reason=str(exc)
            )
        except Exception as exc:
            log.exception("batch %s failed", batch_id)
            self._update(
                batch_id,
                status=BatchStatus.FAILED,
                ended_at=time.time(),
                failure_reason=f"the platform failed: {type(exc).__name__}: {exc}",
            )
        finally:
            for worker in workers:
                worker.close()
            for fd in inputs.values():
                os.close(fd)
            if not shared:
                self.endpoints.pool.release(spec["python"], *sandbox_paths(spec, shared))
            self.tasks.pop(batch_id, None)

    async def _execute(
        self,
        batch_id: str,
        spec: dict[str, Any],
        plan: dict[str, Any],
        workers: list[Worker],
        inputs: dict[str, int],
    ) -> None:
        output = Path(spec["output"])
        out_dir = files.OutputDir(output)
        try:
            out_dir.sweep()
            await self._shards(batch_id, spec, plan, workers, inputs, out_dir)
        finally:
            out_dir.close()

    async def _shards(
        self,
        batch_id: str,
        spec: dict[str, Any],
        plan: dict[str, Any],
        workers: list[Worker],
        inputs: dict[str, int],
        out_dir: files.OutputDir,
    ) -> None:
        output = out_dir.path
        ext = spec["format"]
        manifest_path = output / MANIFEST
        previous = state.read_json(manifest_path)
        if previous is not None and previous.get("inputs") != plan["files"]:
            raise BatchFailed(
                f"the input changed since {manifest_path} was written (files, "
                "sizes or times differ); delete the output directory to start over"
            )
        planned = planner.plan_shards(
            plan["shards"], (previous or {}).get("shards", []), _part_sizes(output), ext
        )
        shards = planned.shards
        manifest = {key: spec.get(key, _DEFAULTS.get(key)) for key in (*_IDENTITY, *_DEFAULTS)}
        manifest.update(
            input=spec["input"],
            inputs=plan["files"],
            shards=shards,
            batch_id=batch_id,
            status=BatchStatus.RUNNING.value,
        )
        total = planned.rows_total
        done_rows = sum(s["rows_out"] for s in planned.done)
        spec["rows_before"] = done_rows
        self._update(
            batch_id,
            rows_total=total,
            shards_total=len(shards),
            rows_done=done_rows,
            shards_done=len(planned.done),
            spec=json.dumps(spec),
        )
        pending = deque(planned.pending)
        last_write = 0.0
        failure: list[str] = []

        def save(force: bool = False) -> None:
            nonlocal last_write
            now = time.monotonic()
            if not force and now - last_write < _WRITE_EVERY:
                return
            last_write = now
            manifest.update(planner.progress(shards, total), updated_at=time.time())
            state.write_json(manifest_path, manifest)
            self._update(
                batch_id,
                rows_done=manifest["rows_out"],
                rows_failed=manifest["rows_failed"],
                shards_done=manifest["shards_done"],
            )

        save(force=True)
        predict_seconds = plan.get("predict_seconds")
        read_seconds = plan.get("read_seconds", 0.0)
        wanted = planner.workers_to_use(
            spec["workers"], len(pending), len(plan["files"]), predict_seconds, read_seconds
        )
        manifest["workers"] = planner.workers_record(
            spec["workers"], wanted, read_seconds, predict_seconds
        )
        if wanted > len(workers):
            extra = await asyncio.gather(
                *(self._worker(spec, f"{batch_id}-w{i + 1}") for i in range(len(workers), wanted)),
                return_exceptions=True,
            )
            workers.extend(w for w in extra if isinstance(w, Worker))

        async def drive(slot: int) -> None:
            while pending and not failure:
                shard = pending.popleft()
                shard["attempts"] += 1
                began = time.perf_counter()
                part = out_dir.create(shard["part"])
                source = inputs.get(shard["file"])
                fds = [part.fd] if source is None else [source, part.fd]
                try:
                    reply = await workers[slot].call(
                        frames.OP_BATCH_SHARD,
                        {
                            "shard": shard,
                            "output": str(output / shard["part"]),
                            "input_fd": None if source is None else 0,
                            "output_fd": len(fds) - 1,
                            "format": ext,
                            "on_error": spec["on_error"],
                            "include_input": spec["include_input"],
                        },
                        fds,
                    )
                    if reply.get("ok") and planner.count_mismatch(shard, reply) is None:
                        await asyncio.to_thread(
                            out_dir.accept, part, ext, reply["bytes"], reply["rows_out"]
                        )
                except files.PartRefused as refused:
                    reply = {"ok": False, "error": f"the part file was refused: {refused}"}
                except ReplicaLost as lost:
                    reply = {
                        "ok": False,
                        "retryable": True,
                        "error": f"the worker (pid {workers[slot].pid}) exited"
                        + (f": {lost}" if str(lost) else ""),
                    }
                    workers[slot].close()
                    if shard["attempts"] <= spec["retries"]:
                        workers[slot] = await self._worker(spec, f"{batch_id}-w{slot + 1}r")
                finally:
                    os.close(part.fd)
                if not reply.get("ok"):
                    out_dir.discard(part)
                    shard["error"] = reply.get("error")
                    if reply.get("retryable") and shard["attempts"] <= spec["retries"]:
                        pending.append(shard)
                        continue
                    shard["status"] = "failed"
                    failure.append(planner.shard_failure(shard, reply))
                    return
                mismatch = planner.count_mismatch(shard, reply)
                if mismatch is not None:
                    out_dir.discard(part)
                    shard["status"] = "failed"
                    failure.append(mismatch)
                    return
                shard.update(
                    status="done",
                    rows_in=reply["rows_in"],
                    rows_out=reply["rows_out"],
                    rows_failed=reply["rows_failed"],
                    bytes=reply["bytes"],
                    errors=reply["errors"],
                    read_seconds=round(reply.get("read_seconds", 0.0), 4),
                    seconds=round(time.perf_counter() - began, 4),
                )
                shard.pop("error", None)
                save()

        await asyncio.gather(*(drive(i) for i in range(len(workers))))
        if not failure and pending:
            failure.append("no worker could start")
        manifest["status"] = (BatchStatus.FAILED if failure else BatchStatus.COMPLETED).value
        save(force=True)
        if failure:
            raise BatchFailed(
                failure[0] + f" (finished shards are kept in {output}; rerun to do "
                "only the missing ones)"
            )
        if manifest["rows_out"] != total:
            raise BatchFailed(f"{manifest['rows_out']} rows written for {total} input rows")
        self._update(batch_id, status=BatchStatus.COMPLETED, ended_at=time.time())

    # -- lifecycle -------------------------------------------------------------

    async def restore(self) -> list[str]:
        """Resume batch jobs a previous daemon left running."""
        resumed = []
        for record in self.store.batches(status=_LIVE):
            self._update(record["id"], status=BatchStatus.PENDING)
            self.tasks[record["id"]] = asyncio.create_task(self._run(record["id"]))
            resumed.append(record["id"])
        return resumed

    async def close(self) -> None:
        """Stop driving (jobs stay Running in the store and resume with the next daemon)."""
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(BaseException):
                await task


def _part_sizes(output: Path) -> dict[str, int]:
    """The sizes of the part files in ``output``, by name."""
    return {p.name: p.stat().st_size for p in output.glob("part-*") if p.is_file()}


def _check_input(source: Path) -> None:
    """Refuse an input that holds no bytes at all (it would complete with no output)."""
    if source.is_dir():
        files = [p for p in source.iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
    else:
        files = [source]
    if files and sum(p.stat().st_size for p in files) == 0:
        raise UsageError(
            f"batch input {source} is empty (0 bytes): there is nothing to predict; "
            "pass a file with rows (Parquet, CSV or JSONL) or a directory of them"
        )
