"""A study's trial host: ``python -m jupyter_serverless_ml.platform.jobs.trial_host FOLDER``.

One per tuning study (see :mod:`.trial_hosts` for the folder), started detached by the
daemon like a supervisor, so running trials outlive a daemon restart. It starts one
zygote (:mod:`jsml_runtime.trial_zygote`) in the study's sandbox (the bubblewrap
sandbox of a job: read-only root, masked platform home and credentials, no network
unless asked, no capabilities, private /tmp) and forks each trial from it. Each trial
is still a recorded job with its own directory: this process is its supervisor,
writing ``status.json``, ``result.json`` and ``job.log`` as
:class:`.supervisor.Supervisor` does, and enforcing its stop requests, run time and
limits (control groups where the machine has them). A trial's ``/opt/ml`` is
``/opt/ml/trials/ID`` in the sandbox (its environment says so, as on SageMaker); the
host never trusts what a trial wrote there: its metrics lines, failure reason and
model are read and copied into the job directory through :mod:`.jobfiles` (no links
followed, sizes capped), and its folder is removed when it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ...runtime import contract
from ...statuses import JobStatus
from .. import state
from . import jobfiles, procs
from .limits import DEFAULT_MAX_DISK, JobLimits
from .supervisor import GRACE_SECONDS, Supervisor
from .trial_support import (
    Nudger,
    Spare,
    Trash,
    TrialSupervisor,
    attach,
    group_files,
    process_age,
    write_status,
    zygote_command,
)
from .trial_support import channels as study_channels

TICK = 0.01
#: a running trial's news (Running, new metric lines) reaches the daemon at most this often,
#: the first time this long after it started: a trial that ends sooner says Running, its
#: metrics and its end in one nudge (one daemon round, one commit); its end is told at once
PROGRESS_NUDGE = 0.1
READY_TIMEOUT = 300.0
IDLE_EXIT = float(os.environ.get("JSML_TRIAL_HOST_IDLE") or 600)
_METRICS_CHUNK = 4 << 20


class Trial:
    """One running trial as its host sees it."""

    def __init__(self, supervisor: Supervisor, folder: Path, limits: JobLimits) -> None:
        self.sup = supervisor
        self.id = str(supervisor.spec["id"])
        self.folder = folder
        self.limits = limits
        self.pid = 0
        self.started = time.monotonic()
        self.metrics_offset = 0
        self.outcome: tuple[str, str] | None = None
        self.deadline: float | None = None
        self.news = False  # Running or metric lines the daemon has not been told of
        self.next_nudge = 0.0
        self.self_join = False  # it moves itself into its groups (see trial_zygote._join)


class TrialHost:
    """The host's loop (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config: dict[str, Any] = json.loads((folder / "host.json").read_text())
        self.home = Path(self.config["home"])
        self.work = folder / "work"
        self.sandboxed = bool(self.config.get("sandbox"))
        self.root = contract.ML_ROOT if self.sandboxed else str(self.work)
        self.trials: dict[str, Trial] = {}
        self.control: socket.socket | None = None
        self.zygote_pid = 0
        self.idle_since = time.monotonic()
        self.trash = Trash(folder / "trash")
        self.nudger = Nudger(self.home)
        self.spare: Spare | None = None

    def log(self, message: str) -> None:
        """A line in host.log (this process's stdout)."""
        print(f"[jsml trial host] {message}", flush=True)

    # -- the zygote -------------------------------------------------------------

    def start_zygote(self, early: tuple[int, socket.socket, str] | None = None) -> None:
        """Start the zygote (sandboxed where jobs are) and wait until it has imported;
        ``early``: the one :mod:`.trial_boot` started already (pid, socket, code dir)."""
        begun = time.monotonic()
        if early is not None:
            self.zygote_pid, mine, self.code_dir = early
        else:
            command, env, self.code_dir = zygote_command(
                self.config, self.folder, os.environ, "{fd}"
            )
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            command = [a.replace("{fd}", str(theirs.fileno())) for a in command]
            zygote = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sys.stdout,
                stderr=subprocess.STDOUT,
                pass_fds=[theirs.fileno()],
                env=env,
                preexec_fn=procs.die_with_parent,
            )
            self.zygote_pid = zygote.pid
            theirs.close()
        self.control = mine
        mine.settimeout(READY_TIMEOUT)
        message = self._recv()
        if message is None or message[0].get("op") != "ready":
            raise RuntimeError("the trial zygote did not start (see host.log)")
        mine.settimeout(None)
        ready = message[0]
        self.log(
            f"zygote ready {time.monotonic() - begun:.3f}s after its start (imports "
            f"{ready.get('seconds', 0):.3f}s), {process_age():.3f}s after the "
            f"host's; failed imports: {ready.get('failed')}"
        )

    def _recv(self) -> tuple[dict[str, Any], list[int]] | None:
        assert self.control is not None
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 1 << 16, 2)
        except (OSError, TimeoutError):
            return None
        if not data:
            return None
        try:
            message = dict(json.loads(data))
        except (ValueError, TypeError):  # the zygote is in the sandbox: never trusted
            message = {}
        return message, fds

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        assert self.control is not None
        socket.send_fds(self.control, [json.dumps(message).encode()], fds or [])

    # -- trials -----------------------------------------------------------------

    def take_queue(self) -> bool:
        """Start every queued trial; True when there was one."""
        took = False
        for entry in sorted(os.listdir(self.folder / "queue")):
            if entry.startswith("."):  # being written (state.write_private's temporary file)
                continue
            path = self.folder / "queue" / entry
            try:
                job_dir = Path(path.read_text().strip())
                path.unlink()
            except (OSError, ValueError):
                continue
            took = True
            try:
                self.start_trial(job_dir)
            except Exception as exc:  # the job must always get a result
                with contextlib.suppress(Exception):
                    Supervisor(job_dir).finish(
                        JobStatus.FAILED, f"the study's trial host could not start it: {exc}"
                    )
        return took

    def start_trial(self, job_dir: Path) -> None:
        """Lay out the trial's folder and ask the zygote to fork it."""
        sup = TrialSupervisor(job_dir, self.folder.name, self.nudger)
        spec = sup.spec
        folder = self.work / "trials" / str(spec["id"])
        jobfiles.remove_tree(folder)
        for sub in ("model", "output/data", "input/data", "checkpoints"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (job_dir / "ml" / "output").mkdir(parents=True, exist_ok=True)
        channels = study_channels(self.config)
        for name, (path, file_name) in channels.items():
            target = folder / "input" / "data" / name
            if self.sandboxed:  # the sandbox binds the channel at /opt/ml/input/data/NAME
                target.symlink_to(f"{self.root}/input/data/{name}")
            elif file_name:
                target.mkdir()
                (target / file_name).symlink_to(path)
            else:
                target.symlink_to(path, target_is_directory=True)
        contract.write_config(
            folder,
            sorted(channels),
            spec["hyperparameters"],
            sup.hosts,
            sup.hosts[0],
            instance_type=str(spec.get("instance_type") or "local"),
        )
        root = f"{self.root}/trials/{spec['id']}"
        env = sup.environment(root, channels)
        env.update(PYTHONPATH=self.code_dir, JSML_CODE_DIR=self.code_dir, HOME="/tmp")
        limits = JobLimits(
            self.home,
            str(spec["id"]),
            folder,
            memory=spec.get("memory"),
            per_instance=spec.get("memory"),
            max_processes=int(spec.get("max_processes") or 4096),
            max_disk=int(spec.get("max_disk") or DEFAULT_MAX_DISK),
        )
        spare = self.take_spare()
        joins = group_files(limits.groups)
        trial = Trial(sup, folder, limits)
        trial.self_join = bool(joins) or limits.groups is None
        sup.say(
            "trial of a tuning study: forked from the study's zygote "
            + ("in its bubblewrap sandbox" if self.sandboxed else "(no sandbox here)")
            + f"; its /opt/ml is {root}"
        )
        sup.say(limits.describe())
        self.trials[trial.id] = trial
        try:
            self._send(
                {
                    "op": "run",
                    "id": trial.id,
                    "env": env,
                    "cwd": self.code_dir,
                    "memory": None if limits.groups else spec.get("memory"),
                    "spare": spare,
                    "go": trial.self_join,  # in its groups by its own move: no wait for go
                },
                [sup.log.fileno(), *joins],
            )
        finally:
            for fd in joins:
                os.close(fd)

    def take_spare(self) -> bool:
        """Whether the next trial takes the parked spare (one parked already)."""
        if self.spare is None or self.spare.pid <= 0:
            return False
        self.spare = None
        return True

    def want_spare(self) -> None:
        """Have a spare forked ahead for the next trial (one at most)."""
        if self.spare is None:
            self.spare = Spare()
            self._send({"op": "spare"})

    def on_spare(self, fds: list[int]) -> None:
        """The zygote parked the spare asked for."""
        pid = _pid_of(fds)
        if self.spare is not None and self.spare.pid == 0 and pid > 0:
            self.spare.pid = pid
        elif pid > 0:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def on_started(self, message: dict[str, Any], fds: list[int]) -> None:
        """The zygote started a trial: learn its pid here; unless it moved itself into its
        groups (and started), put it there and let it go. Then park the next spare."""
        trial = self.trials.get(str(message.get("id")))
        pid = _pid_of(fds)
        if trial is None:
            return
        trial.pid = pid
        if message.get("spare"):
            trial.sup.say("started by the study's spare, forked ahead of it")
        if not (message.get("joined") and trial.self_join):
            if trial.limits.groups and pid > 0:
                attach(pid, trial.limits.groups.procs_files)
            self._send({"op": "go", "id": trial.id})
        self.want_spare()
        trial.started = time.monotonic()
        trial.next_nudge = trial.started + PROGRESS_NUDGE
        trial.news = True
        write_status(trial.sup, JobStatus.RUNNING)

    def pump_metrics(self, trial: Trial) -> None:
        """Copy the trial's complete new metric lines into its job's metrics file (news for
        the daemon: see :meth:`watch`)."""
        try:
            data = jobfiles.read_bytes(
                trial.folder, "output/metrics.jsonl", _METRICS_CHUNK, trial.metrics_offset
            )
        except (OSError, jobfiles.UnsafeJobFile):
            return
        if not data:
            return
        complete = data[: data.rfind(b"\n") + 1]
        if not complete and len(data) >= _METRICS_CHUNK:
            complete = data + b"\n"
        if not complete:
            return
        with open(trial.sup.dir / "ml" / "output" / "metrics.jsonl", "ab") as out:
            out.write(complete)
        trial.metrics_offset += len(complete)
        trial.news = True

    def watch(self, trial: Trial, now: float) -> None:
        """Stop requests, --max-runtime and limits of one running trial."""
        max_runtime = trial.sup.spec.get("max_runtime")
        if trial.news and now >= trial.next_nudge:  # progress, coalesced (PROGRESS_NUDGE)
            trial.news = False
            trial.next_nudge = now + PROGRESS_NUDGE
            trial.sup._nudge()
        if trial.outcome is None and (self.folder / "stop" / trial.id).exists():
            trial.outcome = (JobStatus.STOPPED, "stopped on request")
        elif trial.outcome is None and max_runtime and now - trial.started > max_runtime:
            trial.outcome = (
                JobStatus.FAILED,
                f"exceeded --max-runtime {max_runtime}s (MaxRuntimeExceeded): the job was "
                "stopped; raise --max-runtime or make the job faster",
            )
        if (
            trial.outcome is None
            and trial.pid
            and (hit := trial.limits.check([trial.pid, *procs.descendants(trial.pid)], time.time()))
        ):
            trial.outcome = (JobStatus.FAILED, hit)
            self._signal(trial, signal.SIGKILL)
            trial.deadline = now + 3600
        if trial.outcome is not None and trial.deadline is None:
            trial.sup.say(f"stopping the job: {trial.outcome[1].split(':')[0]}")
            self._signal(trial, signal.SIGTERM)
            trial.deadline = now + GRACE_SECONDS
        if trial.deadline is not None and now >= trial.deadline:
            self._signal(trial, signal.SIGKILL)
            trial.deadline = now + 3600

    def _signal(self, trial: Trial, sig: int) -> None:
        if trial.pid > 0:
            with contextlib.suppress(OSError):
                os.killpg(trial.pid, sig)
            with contextlib.suppress(OSError):
                os.kill(trial.pid, sig)

    def on_exited(self, message: dict[str, Any]) -> None:
        """A trial ended: collect what it left and write its job's result."""
        trial = self.trials.pop(str(message.get("id")), None)
        if trial is None:
            return
        status = int(message.get("status") or 0)
        code = os.waitstatus_to_exitcode(status) if status else 0
        self.pump_metrics(trial)
        sup = trial.sup
        try:
            outcome = trial.outcome
            if outcome is None and code != 0 and (hit := trial.limits.after_exit()):
                outcome = (JobStatus.FAILED, hit)
            if outcome is None and code == 0 and any((trial.folder / "model").iterdir()):
                try:
                    jobfiles.copy_tree(
                        trial.folder / "model", sup.ml / "model", trial.limits.max_disk
                    )
                except (OSError, jobfiles.UnsafeJobFile) as exc:
                    outcome = (JobStatus.FAILED, f"the trial's model was not kept: {exc}")
            if outcome is not None:
                sup.finish(outcome[0], outcome[1], code, retryable=False)
            elif code == 0:
                sup.finish(JobStatus.COMPLETED, "", 0)
            else:
                try:
                    reason = jobfiles.read_text(trial.folder, "output/failure", 16 * 1024) or ""
                except (OSError, jobfiles.UnsafeJobFile) as exc:
                    reason = f"(the job's failure reason was not read: {exc})"
                reason = reason.strip() or (
                    f"the job process was killed by signal {-code}"
                    if code < 0
                    else f"the job process exited with code {code}"
                )
                sup.finish(JobStatus.FAILED, reason, code)
        finally:
            trial.limits.close()
            sup.log.close()
            self.trash.discard(trial.folder)
            with contextlib.suppress(FileNotFoundError):
                (self.folder / "stop" / trial.id).unlink()

    def fail_all(self, reason: str) -> None:
        """The zygote is gone: every running trial failed."""
        for trial_id in list(self.trials):
            trial = self.trials.pop(trial_id)
            with contextlib.suppress(Exception):
                trial.sup.finish(JobStatus.FAILED, reason, retryable=False)
                trial.limits.close()
                self.trash.discard(trial.folder)

    # -- the loop ---------------------------------------------------------------

    def should_exit(self, now: float) -> bool:
        """Idle and closed (or idle for long): unpublish, then look at the queue once more."""
        if self.trials:
            self.idle_since = now
            return False
        closing = (self.folder / "close").exists() or now - self.idle_since > IDLE_EXIT
        if not closing:
            return False
        self.trash.drain()
        if self.spare is not None:  # gone before the host says it left
            self.spare.discard()
            self.spare = None
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "host.pid").unlink()
        if [e for e in os.listdir(self.folder / "queue") if not e.startswith(".")]:
            # a trial came while closing: go on
            self.publish()
            return False
        return True

    def publish(self) -> None:
        """Name this process in host.pid."""
        pid = os.getpid()
        state.write_json(self.folder / "host.pid", {"pid": pid, "start": procs.start_time(pid)})

    def run(self, early: tuple[int, socket.socket, str] | None = None) -> None:
        """Serve trials until closed and idle, or until the zygote dies (``early``: see
        :meth:`start_zygote`)."""
        self.start_zygote(early)
        assert self.control is not None
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        wake_r, wake_w = os.pipe()  # SIGUSR1 (the daemon queued a trial) wakes the loop
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGUSR1, lambda *_: None)
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        while True:
            now = time.monotonic()
            if self.take_queue():
                self.idle_since = now
            for key, _ in selector.select(TICK):
                if key.data == "wake":
                    with contextlib.suppress(OSError):
                        os.read(wake_r, 4096)
                    continue
                message = self._recv()
                if message is None:
                    self.fail_all("the study's trial zygote exited (see its host.log)")
                    return
                body, fds = message
                if body.get("op") == "started":
                    self.on_started(body, fds)
                    continue
                if body.get("op") == "spare":
                    self.on_spare(fds)
                    continue
                for fd in fds:
                    os.close(fd)
                if body.get("op") == "exited":
                    self.on_exited(body)
            for trial in list(self.trials.values()):
                self.pump_metrics(trial)
                self.watch(trial, now)
            if self.should_exit(now):
                return


def _pid_of(fds: list[int]) -> int:
    """The pid of the pidfd among ``fds`` (0 when none); closes them all."""
    pid = 0
    for fd in fds:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
                if line.startswith("Pid:"):
                    pid = int(line.split()[1])
        os.close(fd)
    return pid


def main(argv: list[str] | None = None, early: tuple[int, socket.socket, str] | None = None) -> int:
    """Entry point: one host per folder (the lock), then serve (``early``: the zygote
    :mod:`.trial_boot` started)."""
    folder = Path((argv or sys.argv[1:])[0])
    lock = open(folder / "host.lock", "a")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another host serves this folder
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGUSR1, lambda *_: None)  # a wake-up, before host.pid names us
    host = TrialHost(folder)
    host.publish()
    try:
        host.run(early)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        host.fail_all(f"the study's trial host failed: {type(exc).__name__}: {exc}")
        for entry in os.listdir(folder / "queue"):
            with contextlib.suppress(Exception):
                job_dir = Path((folder / "queue" / entry).read_text().strip())
                (folder / "queue" / entry).unlink()
                Supervisor(job_dir).finish(
                    JobStatus.FAILED, f"the study's trial host failed: {exc}"
                )
    finally:
        if host.spare is not None:
            host.spare.discard()
        with contextlib.suppress(FileNotFoundError):
            (folder / "host.pid").unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
