"""The platform's pipeline service: runs live in the daemon, so they outlive the kernel.

:meth:`PipelineService.submit` stores the definition and a new run with every step
Pending (acknowledged from then on); :meth:`PipelineService.advance`, called by the
daemon a few times a second, moves every active run on: a step whose upstream steps
all succeeded gets its cache key (:mod:`.hashing`) and is either served from the
cache (the newest run of this pipeline where the same step ran with the same key, its
outputs still there and unchanged) or started (:mod:`.steps`). A step after a failed
or skipped step, or on a condition's other branch, is Skipped. The state is all in
the store, so a restarted daemon simply goes on (its jobs are re-adopted by the job
manager; an interrupted deploy is started again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from ...errors import JsmlError, NotFound, UsageError
from ...statuses import PipelineStatus, StepStatus
from ..jobs.manager import JobManager
from . import views
from .hashing import cache_key, data_hash
from .preflight import preflight
from .spec import PipelineSpec, StepSpec
from .steps import Outcome, StepRunner

log = logging.getLogger("jsml.platform")
ACTIVE = [PipelineStatus.EXECUTING.value, PipelineStatus.STOPPING.value]
DONE = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.STOPPED, StepStatus.SKIPPED}
)
TICK_SECONDS = 0.2


class PipelineService:
    """Pipeline definitions and runs on the local platform."""

    def __init__(
        self, jobs: JobManager, endpoints: Any, batches: Any, platform: Any = None
    ) -> None:
        self.home = jobs.home
        self.store = jobs.store
        self.runner = StepRunner(jobs, endpoints, batches, platform)
        self._specs: dict[str, PipelineSpec] = {}
        self.changed = asyncio.Event()

    # -- requests ------------------------------------------------------------------

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store the pipeline ``body["spec"]`` and start a run of it (``use_cache``: default
        true); returns the run's public view."""
        spec = preflight(PipelineSpec.from_wire(body.get("spec") or {}))
        self._check_output(spec)
        self.store.put_pipeline(spec.name, spec.to_wire())
        return self._start(spec, bool(body.get("use_cache", True)))

    def rerun(self, name: str, use_cache: bool = True) -> dict[str, Any]:
        """Start a new run of the stored pipeline ``name``."""
        stored = self.store.pipeline(name)
        if stored is None:
            raise NotFound(self._unknown(name))
        return self._start(preflight(PipelineSpec.from_wire(stored["spec"])), use_cache)

    def _start(self, spec: PipelineSpec, use_cache: bool) -> dict[str, Any]:
        run_id = f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        now = time.time()
        run = {
            "id": run_id,
            "pipeline": spec.name,
            "status": PipelineStatus.EXECUTING,
            "created_at": now,
            "spec": spec.to_wire(),
            "use_cache": use_cache,
        }
        steps = [{"name": s.name, "kind": s.kind, "status": StepStatus.PENDING} for s in spec.steps]
        self.store.insert_run(run, steps)
        self.store.update_run(run_id, started_at=now)
        self.changed.set()
        return self.describe(run_id)

    def _check_output(self, spec: PipelineSpec) -> None:
        output = Path(spec.output)
        if not spec.output or not output.is_absolute():
            raise UsageError(
                f"pipeline {spec.name}: its output directory must be an absolute path, "
                f"not {spec.output!r}"
            )
        home = self.home.resolve()
        resolved = output.resolve()
        if resolved == home or home in resolved.parents:
            raise UsageError(
                f"pipeline {spec.name}: output {spec.output} is inside the platform's home "
                f"{home}; choose a directory elsewhere (output=...)"
            )
        try:
            resolved.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"pipeline {spec.name}: cannot create output {output}: {exc}") from None

    def _unknown(self, name: str) -> str:
        known = [p["name"] for p in self.store.pipelines()]
        return f"no pipeline {name!r}; pipelines: {', '.join(known) or 'none (define one)'}"

    def _run(self, run_id: str) -> dict[str, Any]:
        run = self.store.run(run_id)
        if run is None:
            raise NotFound(f"no pipeline run {run_id!r}; list runs with %pipeline_runs")
        return run

    def describe(self, run_id: str) -> dict[str, Any]:
        """A run with its steps and edges (see :func:`.views.run_view`)."""
        run = self._run(run_id)
        return views.run_view(run, self.store.run_steps(run_id), self._spec(run))

    async def watch(self, run_id: str, status: str, timeout: float) -> dict[str, Any]:
        """The run as soon as its status or any step's status differs from what the caller
        saw (``status``: the run's status and each step's, as :func:`.views.fingerprint`
        gives them), or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.describe(run_id)
            remaining = deadline - time.monotonic()
            if views.fingerprint(view) != status or remaining <= 0:
                return view
            await asyncio.sleep(min(TICK_SECONDS, remaining))

    def pipelines(self) -> list[dict[str, Any]]:
        """Every pipeline with its steps and its newest run's summary."""
        return [
            views.pipeline_view(p, self.store.runs(p["name"], limit=1)) for p in self.store.pipelines()
        ]

    def pipeline(self, name: str) -> dict[str, Any]:
        """One pipeline's definition and newest run."""
        stored = self.store.pipeline(name)
        if stored is None:
            raise NotFound(self._unknown(name))
        return views.pipeline_view(stored, self.store.runs(name, limit=1))

    def stored_spec(self, name: str) -> dict[str, Any]:
        """The stored definition as sent (steps with their bundle paths): what an export of
        a pipeline no kernel declares any more reads."""
        stored = self.store.pipeline(name)
        if stored is None:
            raise NotFound(self._unknown(name))
        return {"name": name, "spec": stored["spec"], "updated_at": stored["updated_at"]}

    def runs(self, name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Runs (of one pipeline), newest first, with their steps."""
        if name and self.store.pipeline(name) is None:
            raise NotFound(self._unknown(name))
        return [self.describe(r["id"]) for r in self.store.runs(name, limit=limit)]

    def stop(self, run_id: str) -> dict[str, Any]:
        """Stop a run: executing jobs and batches are stopped, pending steps skipped."""
        run = self._run(run_id)
        if run["status"] == PipelineStatus.EXECUTING:
            self.store.update_run(run_id, status=PipelineStatus.STOPPING)
            for row in self.store.run_steps(run_id):
                if row["status"] == StepStatus.EXECUTING:
                    self.runner.stop(row)
            self.changed.set()
        return self.describe(run_id)

    def step_log(self, run_id: str, step: str, offset: int) -> dict[str, Any]:
        """What the platform did for a step, and its job's log from byte ``offset``."""
        self._run(run_id)
        rows = self.store.run_steps(run_id)
        row = next((r for r in rows if r["name"] == step), None)
        if row is None:
            names = ", ".join(r["name"] for r in rows)
            raise NotFound(f"pipeline run {run_id} has no step {step!r}; its steps: {names}")
        text, next_offset = "", offset
        if row.get("job_id") and self.store.job(row["job_id"]) is not None:
            text, next_offset = self.runner.jobs.read_log(row["job_id"], offset)
        return {"notes": row["log"], "text": text, "offset": next_offset, "job_id": row["job_id"]}

    # -- the loop ------------------------------------------------------------------

    async def loop(self) -> None:
        """Advance active runs until cancelled (the daemon runs this beside its monitor)."""
        while True:
            try:
                await self.advance()
            except Exception:  # keep going; the next round retries
                log.exception("pipeline round failed")
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), TICK_SECONDS)

    async def advance(self) -> None:
        """One round over every active run."""
        for run in self.store.runs(limit=10_000, statuses=ACTIVE):
            await self._advance_run(run)

    def _spec(self, run: dict[str, Any]) -> PipelineSpec:
        spec = self._specs.get(run["id"])
        if spec is None:
            spec = self._specs[run["id"]] = PipelineSpec.from_wire(run["spec"])
        return spec

    async def _advance_run(self, run: dict[str, Any]) -> None:
        spec = self._spec(run)
        rows = {r["name"]: r for r in self.store.run_steps(run["id"])}
        stopping = run["status"] == PipelineStatus.STOPPING
        for step in spec.order():
            row = rows[step.name]
            if row["status"] == StepStatus.EXECUTING:
                self._apply(run, step, self.runner.check(run, step, row))
            elif row["status"] == StepStatus.PENDING:
                await self._maybe_start(run, spec, step, rows, stopping)
            rows[step.name] = next(
                r for r in self.store.run_steps(run["id"]) if r["name"] == step.name
            )
        if all(r["status"] in DONE for r in rows.values()):
            self._finish(run, list(rows.values()), stopping)

    async def _maybe_start(
        self,
        run: dict[str, Any],
        spec: PipelineSpec,
        step: StepSpec,
        rows: dict[str, Any],
        stopping: bool,
    ) -> None:
        if stopping:
            self._skip(run, step, "the run was stopped")
            return
        ups = [rows[u] for u in step.upstream()]
        if any(u["status"] not in DONE for u in ups):
            return
        broken = [u["name"] for u in ups if u["status"] != StepStatus.SUCCEEDED]
        if broken:
            self._skip(run, step, f"upstream step {broken[0]} did not succeed")
            return
        for cond, branch in step.when.items():
            result = bool((rows[cond].get("metadata") or {}).get("result"))
            if result != branch:
                self._skip(run, step, f"condition {cond} is {result}")
                return
        try:
            key = self._cache_key(step, rows)
        except JsmlError as exc:
            self._apply(run, step, Outcome(status="Failed", reason=str(exc)))
            return
        now = time.time()
        self.store.update_step(run["id"], step.name, cache_key=key, started_at=now, attempt=1)
        if run["use_cache"] and step.cache and step.kind != "condition":
            hit = self.store.cached_step(spec.name, step.name, key)
            if hit is not None and self.runner.still_valid(step.kind, hit["outputs"]):
                self.store.update_step(
                    run["id"],
                    step.name,
                    log=f"cache hit: outputs of run {hit['run_id']}",
                    status=StepStatus.SUCCEEDED,
                    cached_from=hit["run_id"],
                    job_id=hit["job_id"],
                    batch_id=hit["batch_id"],
                    outputs=hit["outputs"],
                    metadata=hit["metadata"],
                    ended_at=now,
                )
                return
        self.store.update_step(run["id"], step.name, status=StepStatus.EXECUTING)
        try:
            outcome = await self.runner.start(run, spec, step, rows)
        except JsmlError as exc:
            outcome = Outcome(status="Failed", reason=str(exc))
        self._apply(run, step, outcome)

    def _cache_key(self, step: StepSpec, rows: dict[str, Any]) -> str:
        upstream = {u: str((rows[u].get("outputs") or {}).get("hash") or "") for u in step.upstream()}
        data = {name: data_hash(name, path) for name, path in step.data.items()}
        extra = None
        if step.kind == "batch":
            extra = data_hash("input", str(step.config["input"]))
        return cache_key(step, upstream, data, extra)

    def _apply(self, run: dict[str, Any], step: StepSpec, outcome: Outcome) -> None:
        fields = dict(outcome.fields)
        status = outcome.status
        if status == StepStatus.FAILED and step.kind not in ("function", "train", "evaluate"):
            row = next(r for r in self.store.run_steps(run["id"]) if r["name"] == step.name)
            if row["attempt"] <= step.retries and run["status"] == PipelineStatus.EXECUTING:
                self.store.update_step(
                    run["id"],
                    step.name,
                    log=f"attempt {row['attempt']} failed: {outcome.reason}; retrying",
                    status=StepStatus.PENDING,
                    attempt=row["attempt"] + 1,
                )
                return
        if status is not None:
            fields["status"] = status
            if status != StepStatus.PENDING:
                fields["ended_at"] = time.time()
        if outcome.outputs:
            fields["outputs"] = outcome.outputs
        if outcome.metadata:
            fields["metadata"] = outcome.metadata
        if outcome.reason:
            fields["failure_reason"] = outcome.reason
        note = outcome.log or (f"{status}: {outcome.reason}" if outcome.reason else "")
        if fields or note:
            self.store.update_step(run["id"], step.name, log=note, **fields)

    def _skip(self, run: dict[str, Any], step: StepSpec, reason: str) -> None:
        self.store.update_step(
            run["id"],
            step.name,
            log=f"skipped: {reason}",
            status=StepStatus.SKIPPED,
            failure_reason=reason,
            ended_at=time.time(),
        )

    def _finish(self, run: dict[str, Any], rows: list[dict[str, Any]], stopping: bool) -> None:
        failed = [r for r in rows if r["status"] in (StepStatus.FAILED, StepStatus.STOPPED)]
        if stopping:
            status, reason = PipelineStatus.STOPPED, "stopped on request"
        elif failed:
            first = failed[0]
            status = PipelineStatus.FAILED
            reason = f"step {first['name']} {str(first['status']).lower()}: {first['failure_reason']}"
        else:
            status, reason = PipelineStatus.SUCCEEDED, None
        self.store.update_run(run["id"], status=status, ended_at=time.time(), failure_reason=reason)
        self._specs.pop(run["id"], None)


__all__ = ["PipelineService"]
