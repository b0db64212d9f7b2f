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
from . import procs, sandbox

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
        for sub in ("model", "output/data", "input/data", "checkpoints"):
            (self.ml / sub).mkdir(parents=True, exist_ok=True)
        channels: dict[str, tuple[Path, str | None]] = {}
        for name, raw in self.spec["channels"].items():
            path = Path(raw)
            channels[name] = (path, path.name if path.is_file() else None)
        if not sandboxed:
            link = self.ml / "code"
            if not link.exists():
                link.symlink_to(code, target_is_directory=True)
            for name, (path, file_name) in channels.items():
                target = self.ml / "input" / "data" / name
                if file_name:
                    target.mkdir(parents=True, exist_ok=True)
                    if not (target / file_name).exists():
                        (target / file_name).symlink_to(path)
                elif not target.exists():
                    target.symlink_to(path, target_is_directory=True)
        contract.write_config(
            self.ml, sorted(channels), self.spec["hyperparameters"], self.hosts, self.hosts[0]
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
        if sandboxed:
            command = sandbox.bwrap_command(
                command,
                ml_dir=self.ml,
                code_dir=Path(self.spec["bundle"]) / "code",
                channels=channels,
                extra_ro=sandbox.interpreter_paths(python),
                network=bool(self.spec.get("network")),
                masked=sandbox.masked_paths(Path(self.spec["home"])),
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
        self.set_status(JobStatus.RUNNING)
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                env=self.environment(root, channels),
                cwd=str(self.ml / "code") if not sandboxed else None,
                preexec_fn=None if sandboxed else procs.die_with_parent,
            )
        except OSError as exc:
            self.finish(JobStatus.FAILED, f"could not start the job process: {exc}")
            return
        self.watch(proc)

    def watch(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for the job; stop it on request, on timeout or over the memory limit."""
        started = time.monotonic()
        max_runtime = self.spec.get("max_runtime")
        per_instance = self.spec.get("memory")
        memory = per_instance * int(self.spec["instance_count"]) if per_instance else None
        outcome: tuple[str, str] | None = None
        deadline: float | None = None
        peak = 0
        me = os.getpid()
        interval = 0.05 if memory else 0.1
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
            if memory and outcome is None:
                rss = procs.rss_bytes(procs.descendants(me))
                peak = max(peak, rss)
                if rss > memory:
                    outcome = (
                        JobStatus.FAILED,
                        f"exceeded --memory {format_size(per_instance)} per instance (resident "
                        f"memory reached {format_size(rss)} for {self.spec['instance_count']} "
                        "instance(s)): the job was killed; raise --memory or process the data "
                        "in chunks",
                    )
                    self.say(f"killing the job: {outcome[1].split(':')[0]}")
                    deadline = now
            if outcome is not None and deadline is None:
                self.say(f"stopping the job: {outcome[1].split(':')[0]}")
                procs.signal_all(procs.descendants(me), signal.SIGTERM)
                deadline = now + GRACE_SECONDS
            if deadline is not None and now >= deadline:
                procs.signal_all(procs.descendants(me), signal.SIGKILL)
                deadline = now + 3600
            exited(interval)
        self.log.flush()
        if outcome is not None:
            self.finish(outcome[0], outcome[1], code, peak or None, retryable=False)
        elif code == 0:
            self.finish(JobStatus.COMPLETED, "", 0, peak or None)
        else:
            failure = self.ml / "output" / "failure"
            reason = failure.read_text(errors="replace").strip() if failure.exists() else ""
            if not reason:
                reason = (
                    f"the job process was killed by signal {-code}"
                    if code < 0
                    else f"the job process exited with code {code}"
                )
            self.finish(JobStatus.FAILED, reason, code, peak or None)


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
