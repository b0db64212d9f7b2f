"""What a study's trial host (:mod:`.trial_host`) uses beside its loop: the trial jobs'
supervisor side, status writes, the trash of ended trials' folders, and the parked spare.

Control groups: a trial moves itself into its job's groups, writing "0" to each group's file
the host opened for it, before it runs anything of the job's. Moving *another* process
into a cgroup v1 group takes a global lock that waits for an RCU grace period (6-19 ms for a
trial's two groups on a busy machine here) and holds up every fork and exit meanwhile; a
thread moving itself takes none (0.06 ms). The spare: a child forked from the study's zygote
ahead of the next trial, so the fork is off the trial's path too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ...runtime import contract
from .. import state
from . import jobfiles, sandbox
from .cgroups import JobGroups
from .limits import DEFAULT_MAX_DISK
from .supervisor import Supervisor


def channels(config: dict[str, Any]) -> dict[str, tuple[Path, str | None]]:
    """A study's data channels (``host.json``) as (host path, file name or None for a
    directory)."""
    out: dict[str, tuple[Path, str | None]] = {}
    for name, raw in dict(config.get("channels") or {}).items():
        path = Path(raw)
        out[name] = (path, path.name if path.is_file() else None)
    return out


def zygote_command(
    config: dict[str, Any], folder: Path, environ: dict[str, str] | os._Environ[str], fd: str
) -> tuple[list[str], dict[str, str], str]:
    """The study's zygote: its command (``fd``: its socket's descriptor), environment and
    code directory, from the host folder's ``host.json`` (``config``): in the job sandbox
    where jobs have one, else a plain process in a copy of the bundle's code."""
    code = Path(str(config["bundle"])) / "code"
    python = str(config["python"])
    work = folder / "work"
    (work / "trials").mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "jsml_runtime.trial_zygote", fd]
    max_disk = int(config.get("max_disk") or DEFAULT_MAX_DISK)
    if config.get("sandbox"):
        code_dir = f"{contract.ML_ROOT}/code"
        command = sandbox.bwrap_command(
            command,
            ml_dir=work,
            code_dir=code,
            channels=channels(config),
            extra_ro=sandbox.interpreter_paths(python),
            network=bool(config.get("network")),
            masked=sandbox.masked_paths(Path(str(config["home"]))),
            tmp_size=max_disk,
            shm_size=max_disk,
        )
    else:
        own = work / "code"  # a copy: a trial writing into its cwd leaves the bundle
        if not own.is_dir():
            shutil.copytree(code, own, symlinks=True)
        code_dir = str(own)
    env = {k: v for k, v in environ.items() if k in ("PATH", "LANG", "TZ")}
    env.update(PYTHONPATH=code_dir, JSML_CODE_DIR=code_dir, PYTHONUNBUFFERED="1", HOME="/tmp")
    return command, env, code_dir


class TrialSupervisor(Supervisor):
    """A trial job's supervisor side, in its study's host: it tells the daemon's tuning service
    of news (``/v1/studies/NAME/nudge/ID``), whose next round reads the job's files and moves
    the study on (the trial's end, the next trial's job) in one store commit.

    Its ``result.json`` is written atomically but not fsynced: what makes a trial's end
    durable is the daemon's commit of it. A machine that goes down before that commit loses
    the trial's files with it (its model was never synced either) and the trial is recorded
    lost, never half done."""

    def __init__(self, job_dir: Path, study: str, nudger: Nudger | None = None) -> None:
        super().__init__(job_dir)
        self.study = study
        self.nudger = nudger or Nudger(Path(self.spec["home"]))

    def finish(
        self,
        status: str,
        reason: str = "",
        exit_code: int | None = None,
        peak_rss: int | None = None,
        retryable: bool = True,
    ) -> None:
        """As :meth:`.Supervisor.finish` (the same record), without the fsync."""
        write_atomic(
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

    def _nudge(self) -> None:
        self.nudger.post(f"/v1/studies/{self.study}/nudge/{self.spec['id']}")


class Nudger:
    """A host's nudges to the daemon over one kept-alive connection (as
    :func:`..state.nudge`, without a connection and the state files read each time);
    reconnects, reading where the daemon listens again, when the connection has gone."""

    def __init__(self, home: Path, timeout: float = 0.5) -> None:
        self.home = home
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.token = ""

    def post(self, path: str) -> bool:
        """POST ``path``; False when no daemon answered (a hint: the daemon polls too)."""
        for _ in range(2):
            try:
                if self.conn is None:
                    found = state.read_state(self.home)
                    if not found:
                        return False
                    self.token = state.token(self.home)
                    self.conn = http.client.HTTPConnection(
                        "127.0.0.1", int(found["port"]), timeout=self.timeout
                    )
                headers = {"Authorization": f"Bearer {self.token}", "Content-Length": "0"}
                self.conn.request("POST", path, headers=headers)
                response = self.conn.getresponse()
                response.read()
                return response.status < 300
            except (OSError, KeyError, ValueError, http.client.HTTPException):
                self.close()
        return False

    def close(self) -> None:
        """Drop the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Trash:
    """Removes ended trials' folders on a thread of its own. Removing a directory can cost a
    journal commit (1-2 ms each where the file system discards freed blocks) and a trial
    leaves about ten: the host moves the folder here (one rename, outside the sandbox's
    view) and goes on to the next trial."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.pending: queue.Queue[Path] = queue.Queue()
        for entry in os.listdir(folder):  # left by a host that was killed
            self.pending.put(folder / entry)
        self.thread = threading.Thread(target=self._run, name="jsml-trash", daemon=True)
        self.thread.start()

    def discard(self, path: Path) -> None:
        """Move ``path`` aside and remove it soon (at once where it cannot be moved)."""
        target = self.folder / path.name
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return
        except OSError:
            jobfiles.remove_tree(path)
            return
        self.pending.put(target)

    def _run(self) -> None:
        while True:
            path = self.pending.get()
            with contextlib.suppress(OSError):
                jobfiles.remove_tree(path)
            self.pending.task_done()

    def drain(self) -> None:
        """Wait until every folder handed over is removed."""
        self.pending.join()


class Spare:
    """The parked spare as its host sees it: a child of the study's zygote forked ahead of
    the next trial (its pid once the zygote has parked it; 0 before)."""

    def __init__(self) -> None:
        self.pid = 0

    def discard(self) -> None:
        """Kill it (the zygote reaps it)."""
        if self.pid > 0:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)


def group_files(groups: JobGroups | None) -> list[int]:
    """Descriptors a trial writes "0" to, to move itself into its groups (see
    ``jsml_runtime.trial_zygote._join``): each group's ``tasks`` (cgroup v1: the writer's own
    thread, moved without the global lock) or ``cgroup.procs`` (v2). Empty when there are
    no groups, or when one cannot be opened (the host then moves the trial itself)."""
    fds: list[int] = []
    try:
        for directory in groups.dirs.values() if groups else []:
            name = "tasks" if (directory / "tasks").exists() else "cgroup.procs"
            fds.append(os.open(directory / name, os.O_WRONLY | os.O_CLOEXEC))
    except OSError:
        for fd in fds:
            os.close(fd)
        return []
    return fds


def process_age() -> float:
    """Seconds since this process started (from /proc; 0 where unknown)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


def attach(pid: int, procs_files: list[str]) -> None:
    """Move ``pid`` into every group of ``procs_files`` (failures show as a process that is
    not in its groups: see :meth:`Spare._place`)."""
    for path in procs_files:
        with contextlib.suppress(OSError):
            Path(path).write_text(str(pid))


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a reader sees the old file or the new one), mode 0600, without
    an fsync (see :class:`TrialSupervisor`)."""
    temporary = path.with_name(f".{path.name}.host")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    os.replace(temporary, path)


def write_status(sup: Supervisor, status: str, message: str = "") -> None:
    """``status.json`` as :meth:`.Supervisor.set_status` writes it, without its fsync and
    nudge: a hint the daemon reads at its next look (a torn or lost one is ignored)."""
    write_atomic(
        sup.dir / "status.json",
        {
            "status": str(status),
            "ts": time.time(),
            "message": message,
            "attempt": sup.spec["attempt"],
        },
    )


__all__ = [
    "Nudger",
    "Spare",
    "Trash",
    "TrialSupervisor",
    "attach",
    "channels",
    "process_age",
    "write_atomic",
    "write_status",
    "zygote_command",
]
