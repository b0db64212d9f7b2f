"""The daemon's job manager: submission, supervision, finalisation and reconciliation.

Desired and observed state are in the store; each running attempt has a
supervisor process (see ``supervisor.py``) that writes its progress to files in
the job directory. :meth:`JobManager.check` folds those files into the store, so
the same code path serves live monitoring and re-adoption after a daemon
restart: a result written while the daemon was down is recorded when it comes
back, and a supervisor that died without a result makes the job lost (retried
when the job allows, else Failed).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ...errors import NotFound, UsageError
from ...options import validate_name
from ...statuses import JOB_ACTIVE, JOB_TERMINAL, JobStatus
from .. import state
from ..registry import ModelRegistry, has_model
from ..store import Store
from . import cgroups, jobfiles, procs, trial_hosts
from .sandbox import SandboxSupport

_REQUIRED = ("name", "bundle", "python")
_METRICS_CHUNK = 4 << 20


def new_job_id(name: str) -> str:
    """``<name>-<yyyymmdd>-<hhmmss>-<4 hex>``, unique and sortable by time."""
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class JobManager:
    """Owns the job directories and the supervisors of the local platform."""

    def __init__(self, home: Path, store: Store, sandbox: SandboxSupport) -> None:
        self.home = home
        self.store = store
        self.sandbox = sandbox
        self.jobs_dir = home / "jobs"
        self.registry = ModelRegistry(home, store)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        package_parent = str(Path(__file__).resolve().parents[3])
        self._supervisor_env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                p for p in (package_parent, os.environ.get("PYTHONPATH")) if p
            ),
        )
        self._uv = _find_uv()
        self.capacity = int(
            os.environ.get("JSML_MAX_CONCURRENT_JOBS") or max(2, os.cpu_count() or 1)
        )
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._queued: set[str] = set()
        self._warned: set[str] = set()

    # -- submission ------------------------------------------------------------

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Validate a job request, record it (acknowledged from here on) and launch it."""
        missing = [k for k in _REQUIRED if not request.get(k)]
        if missing:
            raise UsageError(f"job request lacks {', '.join(missing)}")
        name = validate_name(request["name"])
        bundle = Path(request["bundle"])
        if not (bundle / "manifest.json").is_file():
            raise UsageError(f"bundle {bundle} does not exist or has no manifest; build it first")
        for channel, path in (request.get("channels") or {}).items():
            if not Path(path).exists():
                raise UsageError(f"data channel {channel!r}: {path} does not exist")
            home = self.home.resolve()
            if Path(path).resolve() == home or home in Path(path).resolve().parents:
                raise UsageError(
                    f"data channel {channel!r}: {path} is inside the platform's home {home} "
                    "(its token and store); copy the data elsewhere and pass that path"
                )
        limits = {k: request.get(k) for k in ("max_processes", "max_disk")}
        for key, value in limits.items():
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UsageError(f"{key} must be a positive integer, not {value!r}")
        if self.sandbox.mode == "require" and not self.sandbox.available:
            raise UsageError(
                f"JSML_SANDBOX=require but no sandbox works here ({self.sandbox.reason}); "
                "install bubblewrap (apt-get install bubblewrap) or set JSML_SANDBOX=auto"
            )
        manifest = json.loads((bundle / "manifest.json").read_text())
        job_id = new_job_id(name)
        job_dir = self.jobs_dir / job_id
        job_dir.mkdir(parents=True)
        spec = {
            "bundle": str(bundle),
            "channels": dict(request.get("channels") or {}),
            "hyperparameters": dict(request.get("hyperparameters") or {}),
            "instance_type": request.get("instance_type") or "ml.m5.large",
            "instance_count": int(request.get("instance_count") or 1),
            "num_cpus": int(request.get("num_cpus") or 1),
            "num_gpus": int(request.get("num_gpus") or 0),
            "env": request.get("env") or "kernel",
            "python": request["python"],
            "network": bool(request.get("network")),
            "memory": request.get("memory"),
            "max_runtime": request.get("max_runtime"),
            **limits,
            "retries": int(request.get("retries") or 0),
            "register": request.get("register") is not False,  # tuning trials: only the best
            "trial_host": request.get("trial_host"),  # a study's trial host (trial_hosts.py)
            "requirements": manifest.get("requirements", []),
            "mode": manifest.get("mode"),
            "entry_point": manifest.get("entry_point"),
            "sandbox": self.sandbox.available,
            "sandbox_reason": self.sandbox.reason,
            "uv": self._uv,
        }
        job = {
            "id": job_id,
            "name": name,
            "backend": "local",
            "status": JobStatus.PENDING.value,
            "created_at": time.time(),
            "spec": spec,
            "bundle_hash": manifest["hash"],
            "job_dir": str(job_dir),
        }
        self.store.insert_job(job)
        self.dispatch()
        return self.describe(job_id)

    def dispatch(self) -> list[str]:
        """Start queued jobs (oldest first) while fewer than :attr:`capacity` hold a slot.

        A job holds a slot while it is active and has a supervisor; a Pending job
        without one is queued.
        """
        active = self.store.jobs(status=JOB_ACTIVE, limit=10_000)
        queued = sorted(
            (j for j in active if j["status"] == JobStatus.PENDING and not j["supervisor_pid"]),
            key=lambda j: j["created_at"],
        )
        free = self.capacity - sum(1 for j in active if j["supervisor_pid"])
        started = []
        for job in queued[: max(0, free)]:
            self._queued.discard(job["id"])
            try:
                self.launch(job["id"])
            except OSError as exc:
                self.store.update_job(
                    job["id"],
                    event="could not start",
                    status=JobStatus.FAILED,
                    ended_at=time.time(),
                    failure_reason=f"the platform could not start the job: {exc}; "
                    f"check free space and permissions under {self.home}",
                )
            started.append(job["id"])
        for job in queued[max(0, free) :]:
            if job["id"] in self._queued:
                continue
            self._queued.add(job["id"])
            last = self.store.events(job["id"])[-1:]
            if not (last and last[0]["message"].startswith("queued")):  # said before a restart
                self.store.update_job(
                    job["id"],
                    status=JobStatus.PENDING,
                    event=f"queued: {self.capacity} job(s) running (JSML_MAX_CONCURRENT_JOBS)",
                )
        return started

    def launch(self, job_id: str) -> None:
        """Start a supervisor for the job's current attempt."""
        job = self._get(job_id)
        job_dir = Path(job["job_dir"])
        spec = dict(
            job["spec"], id=job_id, name=job["name"], attempt=job["attempt"], home=str(self.home)
        )
        if spec.get("trial_host"):  # forked from its study's zygote, supervised by its host
            pid, start = trial_hosts.launch(self.home, job, spec, self._supervisor_env)
            self.store.update_job(job_id, supervisor_pid=pid, supervisor_start=start)
            return
        state.write_json(job_dir / "job.json", spec)
        # -S: the supervisor needs only the standard library and this package
        proc = procs.spawn_detached(
            [
                sys.executable,
                "-S",
                "-m",
                "jupyter_serverless_ml.platform.jobs.supervisor",
                str(job_dir),
            ],
            job_dir / "supervisor.log",
            job_dir,
            self._supervisor_env,
        )
        self._children[proc.pid] = proc
        self.store.update_job(
            job_id, supervisor_pid=proc.pid, supervisor_start=procs.start_time(proc.pid)
        )

    # -- queries ---------------------------------------------------------------

    def _get(self, job_id: str) -> dict[str, Any]:
        job = self.store.job(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}; list jobs with %jobs or `jsml jobs`")
        return job

    def resolve(self, ref: str) -> dict[str, Any]:
        """A job by id, or the newest job of that name."""
        job = self.store.job(ref) or self.store.latest_job(ref)
        if job is None:
            raise NotFound(f"no job with id or name {ref!r}; list jobs with %jobs or `jsml jobs`")
        return job

    def describe(self, ref: str) -> dict[str, Any]:
        """The full public view of a job: row, events, latest metrics, model, log size."""
        job = self.resolve(ref)
        job_dir = Path(job["job_dir"])
        model = (
            self.store.model(job["name"], job["model_version"]) if job["model_version"] else None
        )
        job.update(
            events=self.store.events(job["id"]),
            metrics=self.store.latest_metrics([job["id"]])[job["id"]],
            metric_count=self.store.metric_count(job["id"]),
            log_size=_size(job_dir / "job.log"),
            model=model,
        )
        return job

    def read_log(self, job_id: str, offset: int = 0, limit: int = 256 * 1024) -> tuple[str, int]:
        """Log text from byte ``offset`` (at most ``limit`` bytes) and the next offset."""
        path = Path(self._get(job_id)["job_dir"]) / "job.log"
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if offset >= size:
                    return "", offset
                fh.seek(max(0, offset))
                data = fh.read(limit)
        except FileNotFoundError:
            return "", offset
        return data.decode(errors="replace"), offset + len(data)

    # -- control ---------------------------------------------------------------

    def stop(self, ref: str, reason: str | None = None) -> dict[str, Any]:
        """Ask a job to stop (idempotent; a finished job is returned unchanged).

        ``reason`` (e.g. the budget guard's) is shown at once as the stop event and the
        failure reason, and stays the reason once the job is Stopped."""
        job = self.resolve(ref)
        if job["status"] in JOB_TERMINAL:
            return self.describe(job["id"])
        if procs.is_alive(job["supervisor_pid"], job["supervisor_start"]):
            self.store.update_job(
                job["id"],
                event=reason or "stop requested",
                status=JobStatus.STOPPING,
                failure_reason=reason,
            )
            if job["spec"].get("trial_host"):
                trial_hosts.request_stop(job)
            else:
                os.kill(job["supervisor_pid"], signal.SIGTERM)
        else:
            self.store.update_job(
                job["id"],
                event=reason or "stopped before it ran",
                status=JobStatus.STOPPED,
                ended_at=time.time(),
                failure_reason=reason or "stopped on request",
            )
        return self.describe(job["id"])

    # -- monitoring ------------------------------------------------------------

    def active_ids(self) -> list[str]:
        """Ids of jobs not yet in a terminal state."""
        return [j["id"] for j in self.store.jobs(status=JOB_ACTIVE, limit=10_000)]

    def check(self, job_id: str) -> bool:
        """Fold the job directory's files into the store; True when anything changed."""
        with self.store.batched():  # status, metrics and result: one commit
            return self._check(job_id)

    def _check(self, job_id: str) -> bool:
        job = self.store.job(job_id)
        if job is None or job["status"] in JOB_TERMINAL:
            return False
        job_dir = Path(job["job_dir"])
        self._ingest_metrics(job)
        status_file = jobfiles.read_json(job_dir, "status.json") or {}
        phase = status_file.get("status")
        if (
            phase
            and phase != job["status"]
            and job["status"] != JobStatus.STOPPING
            and status_file.get("attempt") == job["attempt"]
        ):
            fields: dict[str, Any] = {"status": phase}
            if phase == JobStatus.RUNNING and not job["started_at"]:
                fields["started_at"] = status_file.get("ts")
            self.store.update_job(job_id, event=status_file.get("message", ""), **fields)
            job.update(fields)  # a result in the same check must not undo started_at
        result = jobfiles.read_json(job_dir, "result.json")
        if result is None and not self._supervisor_alive(job):
            result = jobfiles.read_json(job_dir, "result.json")  # written just before it exited
            if result is None:
                result = {
                    "status": JobStatus.FAILED.value,
                    "reason": (
                        f"lost: the job's supervisor (pid {job['supervisor_pid']}) ended without a result; "
                        "the process was killed or the machine restarted"
                    ),
                    "lost": True,
                }
        if result is not None and result.get("attempt", job["attempt"]) == job["attempt"]:
            self._finalize(job, result)
            self.dispatch()
        fingerprint = (job["status"], phase, _size(job_dir / "job.log"), result is not None)
        changed = self._seen.get(job_id) != fingerprint
        self._seen[job_id] = fingerprint
        return changed or result is not None

    def _supervisor_alive(self, job: dict[str, Any]) -> bool:
        pid = job["supervisor_pid"]
        if pid is None:
            return job["status"] == JobStatus.PENDING  # queued: waits for a slot, not lost
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            del self._children[pid]
            return False
        return procs.is_alive(pid, job["supervisor_start"])

    def _ingest_metrics(self, job: dict[str, Any]) -> None:
        try:
            data = jobfiles.read_bytes(
                Path(job["job_dir"]),
                "ml/output/metrics.jsonl",
                _METRICS_CHUNK,
                job["metrics_offset"],
            )
        except (OSError, jobfiles.UnsafeJobFile) as exc:
            if job["id"] not in self._warned:
                self._warned.add(job["id"])
                self.store.update_job(
                    job["id"], event=f"metrics not read: {exc}", status=job["status"]
                )
            return
        if data is None:
            return
        complete = data[: data.rfind(b"\n") + 1]
        if not complete and len(data) >= _METRICS_CHUNK:  # one line of megabytes: skip it
            complete = data
        if not complete:
            return
        records = []
        for line in complete.splitlines():
            try:
                record = json.loads(line)
                records.append(
                    {
                        "name": str(record["name"]),
                        "value": float(record["value"]),
                        "step": record.get("step"),
                        "ts": record.get("ts"),
                        "host": record.get("host", "algo-1"),
                    }
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line the job wrote by hand that is not a metric
        self.store.add_metrics(job["id"], records, job["metrics_offset"] + len(complete))
        job["metrics_offset"] += len(complete)

    def _finalize(self, job: dict[str, Any], result: dict[str, Any]) -> None:
        status = result["status"]
        reason = result.get("reason") or ""
        if (
            status == JobStatus.FAILED
            and result.get("retryable", True)
            and job["status"] != JobStatus.STOPPING
            and job["attempt"] <= job["spec"]["retries"]
        ):
            self._retry(job, reason)
            return
        if (
            job["status"] == JobStatus.STOPPING
            and status == JobStatus.FAILED
            and result.get("lost")
        ):
            status, reason = JobStatus.STOPPED.value, "stopped on request"
        if job["status"] == JobStatus.STOPPING and status == JobStatus.STOPPED:
            reason = job.get("failure_reason") or reason  # the reason stop() was given
        model = None
        if status == JobStatus.COMPLETED and has_model(job) and job["spec"].get("register", True):
            try:
                model = self.registry.stage_job_model(job)
            except (OSError, jobfiles.UnsafeJobFile) as exc:
                status = JobStatus.FAILED.value
                reason = f"the job's model could not be registered: {exc}"
        self.store.complete_job_with_model(
            job["id"],
            model,
            status=status,
            ended_at=result.get("ended_at") or time.time(),
            failure_reason=reason or None,
            started_at=job["started_at"] or result.get("ended_at"),
        )

    def _retry(self, job: dict[str, Any], reason: str) -> None:
        job_dir = Path(job["job_dir"])
        attempt = job["attempt"]
        for name in ("result.json", "status.json"):
            if (job_dir / name).exists():
                os.replace(job_dir / name, job_dir / f"{name}.attempt-{attempt}")
        failure = job_dir / "ml" / "output" / "failure"
        if failure.exists():
            os.replace(failure, job_dir / f"failure.attempt-{attempt}")
        jobfiles.remove_tree(job_dir / "ml" / "model")
        with open(job_dir / "job.log", "ab") as log:
            log.write(
                f"[jsml] attempt {attempt} failed; retrying "
                f"(attempt {attempt + 1} of {job['spec']['retries'] + 1})\n".encode()
            )
        self.store.update_job(
            job["id"],
            event=f"retry after: {reason.splitlines()[0] if reason else ''}",
            status=JobStatus.PENDING,
            attempt=attempt + 1,
            supervisor_pid=None,
            supervisor_start=None,
        )

    def reconcile(self) -> list[str]:
        """On daemon start: adopt live jobs, settle finished or lost ones, start queued ones."""
        touched = self.active_ids()
        for job_id in touched:
            self.check(job_id)
        self.dispatch()
        cgroups.remove_stale(self.home, set(self.active_ids()))
        return touched


def _find_uv() -> str | None:
    from .envs import EnvironmentBuildFailed, uv_binary

    try:
        return uv_binary()
    except EnvironmentBuildFailed:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def to_public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API returns it (internal bookkeeping columns dropped)."""
    hidden = {"metrics_offset", "supervisor_start"}
    return {k: v for k, v in job.items() if k not in hidden}


__all__ = ["JobManager", "new_job_id", "to_public"]
