"""What a study's trial host (:mod:`.trial_host`) uses beside its loop: the trial jobs'
supervisor side, status writes, the trash of ended trials' folders, and the parked spare.

The spare: a child forked from the study's zygote ahead of the next trial and placed in
control groups made for it while the current trial runs. Moving a process into a control
group waits for the kernel (an RCU grace period: about 5 ms a controller with cgroup v1
here) and a fork of a zygote that imported a library costs milliseconds too; a trial that
takes the spare pays neither: the spare's groups, made with the trial's limits, become the
job's (renamed to its id, after the job's own empty ones are removed) and it starts at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any

from .. import state
from . import cgroups, jobfiles
from .cgroups import JobGroups
from .limits import JobLimits
from .supervisor import Supervisor


class TrialSupervisor(Supervisor):
    """A trial job's supervisor side, in its study's host: it tells the daemon's tuning service
    of news (``/v1/studies/NAME/nudge/ID``), whose next round reads the job's files and moves
    the study on (the trial's end, the next trial's job) in one store commit.

    Its ``result.json`` is written atomically but not fsynced: what makes a trial's end
    durable is the daemon's commit of it. A machine that goes down before that commit loses
    the trial's files with it (its model was never synced either) and the trial is recorded
    lost, never half done."""

    def __init__(self, job_dir: Path, study: str) -> None:
        super().__init__(job_dir)
        self.study = study

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
        path = f"/v1/studies/{self.study}/nudge/{self.spec['id']}"
        state.nudge(Path(self.spec["home"]), path, timeout=0.5)


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
    """One parked spare as its host sees it (see the module docstring)."""

    def __init__(self, home: Path, name: str, memory: int | None, max_processes: int) -> None:
        self.home = home
        self.name = name
        self.key = (memory, max_processes)
        self.pid = 0
        self.groups: JobGroups | None = None
        self.placed = False
        self.ready = threading.Event()

    def place(self, pid: int) -> None:
        """The zygote forked it: make its groups and move it in, on a thread."""
        self.pid = pid
        threading.Thread(target=self._place, name="jsml-spare", daemon=True).start()

    def _place(self) -> None:
        memory, max_processes = self.key
        try:
            self.groups = cgroups.create(self.home, self.name, memory, max_processes)
            for procs_file in self.groups.procs_files if self.groups else []:
                Path(procs_file).write_text(str(self.pid))
            self.placed = self.pid > 0
        except OSError:
            self.placed = False
        finally:
            self.ready.set()

    def fits(self, limits: JobLimits, key: tuple[int | None, int]) -> bool:
        """Placed, with the trial's limits, in groups where the trial has them."""
        return (
            self.ready.is_set()
            and self.placed
            and key == self.key
            and (self.groups is None) == (limits.groups is None)
        )

    def become(self, limits: JobLimits) -> bool:
        """Make the spare's groups the job's (the job's empty ones removed, the spare's
        renamed to their names); False when that failed part way."""
        if limits.groups is None or self.groups is None:
            return limits.groups is None and self.groups is None
        theirs = self.groups.dirs
        if set(theirs) != set(limits.groups.dirs):
            return False
        try:
            for controller, target in limits.groups.dirs.items():
                os.rmdir(target)
                os.rename(theirs[controller], target)
        except OSError:
            return False
        self.groups = None  # the job's now: its limits remove them when it ends
        return True

    def discard(self, wait: bool = False) -> None:
        """Kill it and remove its groups once it is gone (on a thread unless ``wait``)."""
        if self.pid > 0:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        if wait:
            self._remove()
        else:
            threading.Thread(target=self._remove, name="jsml-spare", daemon=True).start()

    def _remove(self) -> None:
        self.ready.wait(30)
        groups = self.groups
        deadline = time.monotonic() + 5
        while groups is not None and time.monotonic() < deadline:
            groups.kill_all()
            groups.remove()
            if not any(d.exists() for d in groups.dirs.values()):
                return
            time.sleep(0.01)


def process_age() -> float:
    """Seconds since this process started (from /proc; 0 where unknown)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


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


__all__ = ["Spare", "Trash", "TrialSupervisor", "process_age", "write_atomic", "write_status"]
