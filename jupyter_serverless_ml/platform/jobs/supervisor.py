"""The job supervisor: ``python -m jupyter_serverless_ml.platform.jobs.supervisor JOBDIR``.

One per job attempt, started by the daemon in its own session so that it (and
the job) outlive a daemon restart. It prepares the environment and the /opt/ml
layout, runs the job (sandboxed where possible), enforces ``--max-runtime`` and
``--memory``, honours stop requests (SIGTERM), and writes ``result.json``. The
daemon learns everything from files in JOBDIR, so nothing depends on the
daemon being alive:

    job.json      the spec (written by the daemon)
    status.json   {"status": Preparing|Running, ...}
    result.json   {"status": Completed|Failed|Stopped, "reason", "exit_code", ...}
    job.log       the job's stdout and stderr, and [jsml] lines from here
    ml/           the job's /opt/ml
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ...options import format_duration, format_size
from ...runtime import contract
from ...statuses import JobStatus
from .. import state
from . import jobfiles, procs, sandbox
from .limits import DEFAULT_MAX_DISK, DEFAULT_MAX_PROCESSES, JobLimits

_stop_requested = False
_KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED")
GRACE_SECONDS = 5.0


def _on_stop(signum: int, frame: Any) -> None:
    global _stop_requested
    _stop_requested = True


class Supervisor:
    """Runs one attempt of one job (see the module docstring)."""

    def __init__(self, job_dir: Path) -> None:
        self.dir = job_dir
        self.spec: dict[str, Any] = json.loads((job_dir / "job.json").read_text())
        self.ml = job_dir / "ml"
        self.log: IO[bytes] = open(job_dir / "job.log", "ab")  # noqa: SIM115 - the job writes to it

    def say(self, message: str) -> None:
        """Write a ``[jsml]`` line into the job log."""
        self.log.write(f"[jsml] {message}\n".encode())
        self.log.flush()

    def set_status(self, status: str, message: str = "") -> None:
        """Publish a phase change to the daemon (file first, then a nudge)."""
        state.write_json(
            self.dir / "status.json",
            {
                "status": str(status),
                "ts": time.time(),
                "message": message,
                "attempt": self.spec["attempt"],
            },
        )
        self._nudge()

    def _nudge(self) -> None:
        state.nudge(Path(self.spec["home"]), f"/v1/jobs/{self.spec['id']}/nudge", timeout=0.5)

    def finish(
        self,
        status: str,
        reason: str = "",
        exit_code: int | None = None,
        peak_rss: int | None = None,
        retryable: bool = True,
    ) -> None:
        """Write the attempt's result (the one record the daemon trusts) and nudge."""
        state.write_json(
            self.dir / "result.json",
            {
                "status": str(status),
                "reason": reason,
                "exit_code": exit_code,
                "ended_at": time.time(),
                "attempt": self.spec["attempt"],
                "peak_rss": peak_rss,
                "retryable": retryable,
            },
        )
        self.say(f"job {status.lower()}" + (f": {reason.splitlines()[0]}" if reason else ""))
        self._nudge()

    @property
    def hosts(self) -> list[str]:
        """The instances' host names, as SageMaker names them: algo-1 ... algo-N."""
        return [f"algo-{i + 1}" for i in range(int(self.spec["instance_count"]))]

    # -- preparation ---------------------------------------------------------

    def python(self) -> str:
        """The interpreter: the kernel's own, or an isolated uv environment."""
        if self.spec.get("env") != "isolated":
            return str(self.spec["python"])
        from . import envs

        self.set_status(JobStatus.PREPARING, "building the isolated environment")
        python, seconds, hit = envs.ensure(
            Path(self.spec["home"]) / "envs",
            self.spec["requirements"],
            str(self.spec["python"]),
            log=self.say,
            uv=self.spec.get("uv"),
        )
        self.say(
            f"isolated environment {'reused' if hit else 'built'} in {seconds:.2f}s: {python.parent.parent}"
        )
        return str(python)

    def layout(self, sandboxed: bool) -> dict[str, tuple[Path, str | None]]:
        """Create the /opt/ml tree; returns the channels as (host path, file name)."""
        code = Path(self.spec["bundle"]) / "code"
        # an earlier attempt may have left links where the platform writes: start clean
        jobfiles.remove_tree(self.ml / "input")
        for sub in ("model", "output", "output/data", "input/data", "checkpoints"):
            path = self.ml / sub
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()
            path.mkdir(parents=True, exist_ok=True)
        channels: dict[str, tuple[Path, str | None]] = {}
        for name, raw in self.spec["channels"].items():
            path = Path(raw)
            channels[name] = (path, path.name if path.is_file() else None)
        if not sandboxed:
            own = self.ml / "code"  # a copy: a job writing into its cwd must not change the bundle
            if own.is_symlink() or not own.is_dir():
                jobfiles.remove_tree(own)
                shutil.copytree(code, own, symlinks=True)
            for name, (path, file_name) in channels.items():
                target = self.ml / "input" / "data" / name
                if file_name:
                    target.mkdir(parents=True, exist_ok=True)
                    if not (target / file_name).exists():
                        (target / file_name).symlink_to(path)
                elif not target.exists():
                    target.symlink_to(path, target_is_directory=True)
        contract.write_config(
            self.ml,
            sorted(channels),
            self.spec["hyperparameters"],
            self.hosts,
            self.hosts[0],
            instance_type=str(self.spec.get("instance_type") or "local"),
        )
        return channels

    def environment(
        self, root: str, channels: dict[str, tuple[Path, str | None]]
    ) -> dict[str, str]:
        """The job's environment: a clean base plus the container contract."""
        env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV or k.startswith("LC_")}
        env.update(
            contract.job_environment(
                root,
                sorted(channels),
                self.spec["hyperparameters"],
                hosts=self.hosts,
                num_cpus=int(self.spec["num_cpus"]),
                num_gpus=int(self.spec["num_gpus"]),
                channel_files={n: f for n, (_, f) in channels.items() if f},
                job_name=self.spec["id"],
                instance_type=str(self.spec.get("instance_type") or "local"),
            )
        )
        env.update(
            PYTHONPATH=f"{root}/code",
            PYTHONUNBUFFERED="1",
            HOME="/tmp" if root == contract.ML_ROOT else os.environ.get("HOME", "/tmp"),
            WORLD_SIZE=str(len(self.hosts)),
            RANK="0",
            LOCAL_RANK="0",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(_free_port()),
            JSML_ATTEMPT=str(self.spec["attempt"]),
        )
        return env

    # -- running -------------------------------------------------------------

    def run(self) -> None:
        """Prepare, run and watch the job; always ends with result.json."""
        try:
            python = self.python()
        except Exception as exc:
            self.finish(JobStatus.FAILED, f"could not prepare the environment: {exc}")
            return
        if _stop_requested:
            self.finish(JobStatus.STOPPED, "stopped on request", retryable=False)
            return
        sandboxed = bool(self.spec.get("sandbox"))
        channels = self.layout(sandboxed)
        root = contract.ML_ROOT if sandboxed else str(self.ml)
        count = int(self.spec["instance_count"])
        command = (
            [python, "-m", "jsml_runtime.ranks", str(count)]
            if count > 1
            else [python, "-m", "jsml_runtime.runner"]
        )
        limits = self.limits()
        if sandboxed:
            command = sandbox.bwrap_command(
                command,
                ml_dir=self.ml,
                code_dir=Path(self.spec["bundle"]) / "code",
                channels=channels,
                extra_ro=sandbox.interpreter_paths(python),
                network=bool(self.spec.get("network")),
                masked=sandbox.masked_paths(Path(self.spec["home"])),
                tmp_size=limits.max_disk,
                shm_size=limits.memory or limits.max_disk,
            )
            self.say(
                "sandbox: bubblewrap (read-only root, private /tmp, own PID namespace, "
                + ("network allowed)" if self.spec.get("network") else "no network)")
            )
        else:
            self.say(
                f"no sandbox ({self.spec.get('sandbox_reason') or 'disabled'}): "
                "running as a plain process without isolation"
            )
        self.say(limits.describe())
        self.set_status(JobStatus.RUNNING)
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                env=self.environment(root, channels),
                cwd=str(self.ml / "code") if not sandboxed else None,
                preexec_fn=limits.preexec
                if sandboxed
                else _both(procs.die_with_parent, limits.preexec),
            )
        except OSError as exc:
            limits.close()
            self.finish(JobStatus.FAILED, f"could not start the job process: {exc}")
            return
        try:
            self.watch(proc, limits)
        finally:
            limits.close()

    def limits(self) -> JobLimits:
        """The attempt's memory, process and disk limits (control groups where possible)."""
        per_instance = self.spec.get("memory")
        return JobLimits(
            Path(self.spec["home"]),
            str(self.spec["id"]),
            self.ml,
            memory=per_instance * int(self.spec["instance_count"]) if per_instance else None,
            per_instance=per_instance,
            max_processes=int(self.spec.get("max_processes") or DEFAULT_MAX_PROCESSES),
            max_disk=int(self.spec.get("max_disk") or DEFAULT_MAX_DISK),
        )

    def watch(self, proc: subprocess.Popen[bytes], limits: JobLimits) -> None:
        """Wait for the job; stop it on request, on timeout or over a limit."""
        started = time.monotonic()
        max_runtime = self.spec.get("max_runtime")
        outcome: tuple[str, str] | None = None
        deadline: float | None = None
        me = os.getpid()
        interval = 0.05 if limits.memory and not limits.groups else 0.1
        exited = _exit_waiter(proc.pid)
        while (code := proc.poll()) is None:
            now = time.monotonic()
            if outcome is None and _stop_requested:
                outcome = (JobStatus.STOPPED, "stopped on request")
            elif outcome is None and max_runtime and now - started > max_runtime:
                outcome = (
                    JobStatus.FAILED,
                    f"exceeded --max-runtime {format_duration(max_runtime)} "
                    "(MaxRuntimeExceeded): the job was stopped; raise --max-runtime or "
                    "make the job faster",
                )
            if outcome is None and (hit := limits.check(procs.descendants(me), now)):
                outcome = (JobStatus.FAILED, hit)
                self.say(f"killing the job: {hit.split(':')[0]}")
                procs.signal_all(procs.descendants(me), signal.SIGKILL)
                deadline = now + 3600
            if outcome is not None and deadline is None:
                self.say(f"stopping the job: {outcome[1].split(':')[0]}")
                procs.signal_all(procs.descendants(me), signal.SIGTERM)
                deadline = now + GRACE_SECONDS
            if deadline is not None and now >= deadline:
                procs.signal_all(procs.descendants(me), signal.SIGKILL)
                deadline = now + 3600
            exited(interval)
        self.log.flush()
        peak = limits.peak_memory()
        if outcome is None and code != 0 and (hit := limits.after_exit()):
            outcome = (JobStatus.FAILED, hit)
        if outcome is not None:
            self.finish(outcome[0], outcome[1], code, peak, retryable=False)
        elif code == 0:
            self.finish(JobStatus.COMPLETED, "", 0, peak)
        else:
            reason = self.failure_reason()
            if "No space left on device" in reason:
                reason += (
                    f"\n(the sandbox's /tmp holds at most --max-disk {format_size(limits.max_disk)}"
                    "; raise --max-disk, or check free space on the host)"
                )
            if not reason:
                reason = (
                    f"the job process was killed by signal {-code}"
                    if code < 0
                    else f"the job process exited with code {code}"
                )
            self.finish(JobStatus.FAILED, reason, code, peak)

    def failure_reason(self) -> str:
        """What the job wrote to /opt/ml/output/failure (never a link or a special file)."""
        try:
            text = jobfiles.read_text(self.dir, "ml/output/failure", limit=16 * 1024) or ""
        except jobfiles.UnsafeJobFile as exc:
            return f"(the job's failure reason was not read: {exc})"
        except OSError:
            return ""
        return text.strip()


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        first()
        second()

    return run


def _exit_waiter(pid: int) -> Callable[[float], None]:
    """A function that sleeps up to N seconds but returns as soon as ``pid`` exits (pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return time.sleep
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return lambda seconds: (poller.poll(seconds * 1000), None)[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    """Entry point; exits 0 once result.json is written."""
    job_dir = Path((argv or sys.argv[1:])[0])
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGINT, _on_stop)
    supervisor = Supervisor(job_dir)
    try:
        supervisor.run()
    except Exception as exc:  # the daemon must always get a result
        import traceback

        (job_dir / "supervisor.log").write_text(traceback.format_exc())
        supervisor.finish(
            JobStatus.FAILED, f"internal error in the job supervisor: {type(exc).__name__}: {exc}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
